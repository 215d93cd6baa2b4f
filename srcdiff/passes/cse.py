"""cse: IR -> IR; a pure call computed again with the same arguments reuses the first.

Only calls to functions with a derivative rule or declared non-differentiable (NumPy,
math, operators) count as pure, and only a value computed earlier in the same block or
an enclosing one is reused (it is then certainly computed on every path that reaches
the repeat).  The repeat becomes a copy, which later passes remove.

>>> from srcdiff.emit import format_ir
>>> from srcdiff.pipeline import lower_to_ir
>>> def f(x, i):
...     return x[i] * x[i]
>>> print(format_ir(eliminate(lower_to_ir(f))))
def f(x, i):
    _t0 = x[i]
    _t1 = _t0
    _t2 = _t0 * _t1
    return _t2
"""

from __future__ import annotations

import builtins
from typing import Any

from .. import ir
from ..rules import registry

__all__ = ["eliminate"]

_IMPURE = {builtins.print, builtins.id}


def _key(atom: Any) -> Any:
    if isinstance(atom, ir.Var):
        return ("v", atom.id)
    if isinstance(atom, ir.Const):
        try:
            hash(atom.value)
        except TypeError:
            return None
        return ("c", type(atom.value).__name__, atom.value)
    if isinstance(atom, ir.Ref):
        return ("r", atom.text)
    if isinstance(atom, (ir.Tup, ir.Lst, ir.Slc)):
        parts = (atom.lower, atom.upper, atom.step) if isinstance(atom, ir.Slc) else atom.items
        keys = tuple(_key(p) for p in parts)
        return None if None in keys else (type(atom).__name__, keys)
    return None


def _call_key(value: Any) -> Any:
    if not isinstance(value, ir.Call) or isinstance(value.fn, ir.Method):
        return None
    obj = value.callee
    try:
        pure = (registry.lookup(obj) is not None or registry.is_nondifferentiable(obj)) and obj not in _IMPURE
    except TypeError:
        return None
    if not pure or isinstance(obj, ir.Attr):
        return None
    args = tuple(_key(a) for a in value.args)
    kwargs = tuple((k, _key(a)) for k, a in value.kwargs)
    if None in args or any(k is None for _, k in kwargs):
        return None
    callee = ("attr", obj.name) if isinstance(obj, ir.Attr) else id(obj)
    return (callee, args, kwargs)


def eliminate(fn: ir.Function) -> ir.Function:
    """Replace repeated pure calls by copies of their first result."""

    def block(stmts: list, available: dict) -> list:
        available = dict(available)
        out = []
        for stmt in stmts:
            if isinstance(stmt, ir.Assign):
                key = _call_key(stmt.value)
                if key is not None and key in available:
                    stmt = ir.Assign(stmt.target, ir.Var(available[key]), stmt.loc)
                elif key is not None:
                    available[key] = stmt.target
            elif isinstance(stmt, ir.If):
                stmt = ir.If(stmt.test, block(stmt.body, available), block(stmt.orelse, available),
                             stmt.loc, stmt.phis)
            elif isinstance(stmt, ir.Loop):
                stmt = ir.Loop(stmt.kind, block(stmt.body, available), stmt.loc, target=stmt.target,
                               iter=stmt.iter, test_body=block(stmt.test_body, available), test=stmt.test,
                               phis=stmt.phis, exits=stmt.exits, breaks=stmt.breaks)
            out.append(stmt)
        return out

    return ir.Function(fn.name, fn.params, block(fn.body, {}), fn.loc, fn.args_node, dict(fn.meta))
