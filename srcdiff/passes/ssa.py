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


def _exposed(stmts: list, defined: set) -> set:
    """Names ``stmts`` may read before assigning them (upward-exposed reads)."""
    defined = set(defined)
    out: set = set()
    for stmt in stmts:
        if isinstance(stmt, (ir.Assign, ir.Effect)):
            out |= set(ir.expr_uses(stmt.value)) - defined
            if isinstance(stmt, ir.Assign):
                defined.add(stmt.target)
        elif isinstance(stmt, ir.Return):
            out |= set(ir.atom_vars(stmt.value)) - defined
        elif isinstance(stmt, ir.If):
            out |= set(ir.atom_vars(stmt.test)) - defined
            out |= _exposed(stmt.body, defined) | _exposed(stmt.orelse, defined)
            defined |= ir.defined_names(stmt.body) & ir.defined_names(stmt.orelse)
        elif isinstance(stmt, ir.Loop):
            out |= (ir.read_names([stmt]) - ir.defined_names([stmt])) - defined
            inner = set(defined) | ({stmt.target} if stmt.target else set())
            out |= _exposed(stmt.test_body + stmt.body, inner)
    return out


def rename(fn: ir.Function, namer: Namer) -> ir.Function:
    """Give every assignment its own name; joins become phis."""
    taken: set[str] = {p.name for p in fn.params}

    def new_name(base: str) -> str:
        if base not in taken:
            taken.add(base)
            return base
        name = namer.fresh(base)
        taken.add(name)
        return name

    def block(stmts: list, current: dict, live_after: set) -> list:
        # What is read after each branch or loop (only those need it): one running set,
        # copied at branches and loops, so a long block costs linear time.
        live_at: dict[int, set] = {}
        running = set(live_after)
        for i in range(len(stmts) - 1, -1, -1):
            if isinstance(stmts[i], (ir.If, ir.Loop)):
                live_at[i] = set(running)
            running |= ir.read_names([stmts[i]])
        return [one(stmt, current, live_at.get(i, set())) for i, stmt in enumerate(stmts)]

    def one(stmt: Any, current: dict, live: set) -> Any:
        if isinstance(stmt, ir.Assign):
            value = rename_value(stmt.value, current)
            target = new_name(stmt.target)
            current[stmt.target] = target
            return ir.Assign(target, value, stmt.loc)
        if isinstance(stmt, ir.Effect):
            return ir.Effect(rename_value(stmt.value, current), stmt.loc)
        if isinstance(stmt, ir.Return):
            return ir.Return(_rename_atom(stmt.value, current), stmt.loc)
        if isinstance(stmt, ir.If):
            return branch(stmt, current, live)
        return loop(stmt, current, live)

    def branch(stmt: ir.If, current: dict, live: set) -> ir.If:
        test = _rename_atom(stmt.test, current)
        then, other = dict(current), dict(current)
        body = block(stmt.body, then, live)
        orelse = block(stmt.orelse, other, live)
        phis = []
        changed = ir.defined_names(stmt.body) | ir.defined_names(stmt.orelse)
        for var in sorted(changed & live):
            a, b = then.get(var), other.get(var)
            if a == b:
                continue
            target = new_name(var)
            phis.append(ir.Phi(target, (_var_or_none(a), _var_or_none(b))))
            current[var] = target
        return ir.If(test, body, orelse, stmt.loc, phis)

    def loop(stmt: ir.Loop, current: dict, live: set) -> ir.Loop:
        assigned = ir.defined_names(stmt.test_body + stmt.body)
        entry = {stmt.target} if stmt.target else set()
        exposed = _exposed(stmt.test_body + stmt.body, entry)
        carried = sorted((assigned - entry) & (exposed | live | set(
            n for b in stmt.breaks for n in ir.atom_vars(b))))
        iterable = _rename_atom(stmt.iter, current) if stmt.iter is not None else None
        inner = dict(current)
        headers = {}
        for var in carried:
            headers[var] = new_name(var)
            inner[var] = headers[var]
        target = None
        if stmt.target:
            target = new_name(stmt.target)
            inner[stmt.target] = target
        body_live = live | ir.read_names(stmt.test_body + stmt.body) | set(carried)
        test_body = block(stmt.test_body, inner, body_live)
        test = _rename_atom(stmt.test, inner) if stmt.test is not None else None
        body = block(stmt.body, inner, body_live)
        breaks = tuple(_rename_atom(b, inner) for b in stmt.breaks)
        phis = [ir.Phi(headers[v], (_var_or_none(current.get(v)), ir.Var(inner[v]))) for v in carried]
        exits = []
        for var in carried:
            if var in live:
                name = new_name(var)
                exits.append((name, headers[var]))
                current[var] = name
        return ir.Loop(stmt.kind, body, stmt.loc, target=target, iter=iterable, test_body=test_body,
                       test=test, phis=phis, exits=exits, breaks=breaks)

    body = block(fn.body, {p.name: p.name for p in fn.params}, set())
    return ir.Function(fn.name, fn.params, body, fn.loc, fn.args_node, dict(fn.meta))


def _var_or_none(name: str | None) -> Any:
    return ir.Const(None) if name is None else ir.Var(name)
