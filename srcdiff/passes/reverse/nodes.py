"""The gast the adjoint is built of: small constructors the sweep, loops and calls share,
and which names a block of statements reads from before it.

>>> from srcdiff.emit import to_source
>>> print(to_source(assign("dx", call("unbroadcast", subscript(name("g"), 0), const(None)))).strip())
dx = unbroadcast(g[0], None)
>>> sorted(loads_minus_stores(gast.parse("y = x + 1; x = y * z").body))
['x', 'z']
"""

from __future__ import annotations

from typing import Any

import gast

from ...emit import name, store, walk

__all__ = ["call", "const", "subscript", "assign", "is_call", "is_name", "loads_minus_stores"]


def call(fn: str, *args: gast.expr) -> gast.Call:
    """``fn(*args)``."""
    return gast.Call(func=name(fn), args=list(args), keywords=[])


def const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def subscript(base: gast.expr, i: int) -> gast.expr:
    """``base[i]``."""
    return gast.Subscript(value=base, slice=const(i), ctx=gast.Load())


def assign(target: str | gast.expr, value: gast.expr) -> gast.Assign:
    """``target = value``."""
    target = store(target) if isinstance(target, str) else target
    return gast.Assign(targets=[target], value=value, type_comment=None)


def is_call(expr: gast.expr, *names: str) -> bool:
    """Whether ``expr`` calls one of the functions ``names`` (a builtin's) by its bare name;
    a runtime helper is recognised by the object instead (``emit.calls``)."""
    return (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name)
            and expr.func.id in names)


def is_name(expr: gast.expr, var: str) -> bool:
    """Whether ``expr`` is the name ``var``."""
    return isinstance(expr, gast.Name) and expr.id == var


def loads_minus_stores(nodes: list, stored: set | None = None) -> set:
    """The names ``nodes`` may read before assigning them (what they need from before).

    In order: a read counts unless an earlier statement of the same block assigned
    the name.  Assignments inside a loop or branch do not count after it (the body
    may not run), and a loop body reads what it reads in any iteration.
    """
    stored = set() if stored is None else set(stored)
    exposed: set = set()

    def reads(node: gast.AST) -> None:
        exposed.update(n.id for n in walk(node) if isinstance(n, gast.Name)
                       and isinstance(n.ctx, gast.Load) and n.id not in stored)

    for stmt in nodes:
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            reads(stmt.value)
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(stmt, gast.AugAssign) and isinstance(target, gast.Name):
                    if target.id not in stored:
                        exposed.add(target.id)  # x += e reads x
                elif isinstance(target, (gast.Subscript, gast.Attribute)):
                    reads(target)  # x[i] = e reads x and i
            for target in targets:
                stored.update(n.id for n in walk(target) if isinstance(n, gast.Name)
                              and isinstance(n.ctx, gast.Store))
        elif isinstance(stmt, (gast.For, gast.While)):
            reads(stmt.iter if isinstance(stmt, gast.For) else stmt.test)
            inner = set(stored)
            if isinstance(stmt, gast.For):
                inner.update(n.id for n in walk(stmt.target) if isinstance(n, gast.Name))
            exposed.update(loads_minus_stores(stmt.body, inner))
        elif isinstance(stmt, gast.If):
            reads(stmt.test)
            exposed.update(loads_minus_stores(stmt.body, stored))
            exposed.update(loads_minus_stores(stmt.orelse, stored))
        else:
            reads(stmt)
    return exposed
