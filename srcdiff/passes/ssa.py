"""ssa: IR -> IR where every name is assigned exactly once.

A name assigned again (or a parameter assigned to) gets a fresh version, ``x_1``,
``x_2``, and every later read refers to the current version.  Keeping each value
under its own name is what lets the adjoint read any primal value it needs directly,
with no tape.

>>> from srcdiff import ir
>>> from srcdiff.emit import format_ir
>>> from srcdiff.names import Namer
>>> from srcdiff.errors import Loc
>>> import operator
>>> loc = Loc("f.py", 1)
>>> mul = ir.Prim(operator.mul)
>>> fn = ir.Function("f", (ir.Param("x"),), [
...     ir.Assign("x", ir.Call(mul, (ir.Var("x"), ir.Var("x"))), loc),
...     ir.Assign("x", ir.Call(mul, (ir.Var("x"), ir.Const(3))), loc),
...     ir.Return(ir.Var("x"), loc)], loc)
>>> print(format_ir(rename(fn, Namer(["x"]))))
def f(x):
    x_1 = x * x
    x_2 = x_1 * 3
    return x_2
"""

from __future__ import annotations

from typing import Any

from .. import ir
from ..names import Namer

__all__ = ["rename"]


def _rename_atom(atom: Any, current: dict) -> Any:
    if isinstance(atom, ir.Var):
        return ir.Var(current.get(atom.id, atom.id))
    if isinstance(atom, ir.Tup):
        return ir.Tup(tuple(_rename_atom(a, current) for a in atom.items))
    if isinstance(atom, ir.Lst):
        return ir.Lst(tuple(_rename_atom(a, current) for a in atom.items))
    if isinstance(atom, ir.Slc):
        return ir.Slc(*(_rename_atom(p, current) for p in (atom.lower, atom.upper, atom.step)))
    return atom


def _rename_raw(raw: ir.Raw, current: dict) -> ir.Raw:
    import copy

    import gast

    if all(current.get(u, u) == u for u in raw.uses):
        return raw
    node = copy.deepcopy(raw.node)
    for n in gast.walk(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in raw.uses:
            n.id = current.get(n.id, n.id)
    return ir.Raw(node, tuple(current.get(u, u) for u in raw.uses))


def rename_value(value: Any, current: dict) -> Any:
    if isinstance(value, ir.Call):
        return ir.Call(
            value.fn,
            tuple(_rename_atom(a, current) for a in value.args),
            tuple((k, _rename_atom(a, current)) for k, a in value.kwargs),
        )
    if isinstance(value, ir.Raw):
        return _rename_raw(value, current)
    return _rename_atom(value, current)


def rename(fn: ir.Function, namer: Namer) -> ir.Function:
    """Give every assignment its own name."""
    assigned: set[str] = {p.name for p in fn.params}
    current: dict[str, str] = {}
    body = []
    for stmt in fn.body:
        if isinstance(stmt, ir.Assign):
            value = rename_value(stmt.value, current)
            target = stmt.target
            if target in assigned:
                new = namer.fresh(target)
                current[target] = new
                target = new
            else:
                current[target] = target
            assigned.add(target)
            body.append(ir.Assign(target, value, stmt.loc))
        elif isinstance(stmt, ir.Effect):
            body.append(ir.Effect(rename_value(stmt.value, current), stmt.loc))
        else:
            body.append(ir.Return(_rename_atom(stmt.value, current), stmt.loc))
    return ir.Function(fn.name, fn.params, body, fn.loc, fn.args_node, dict(fn.meta))
