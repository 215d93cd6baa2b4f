"""jumps: gast -> gast; ``break``, ``continue`` and early ``return`` become flags.

After this pass the only jump left is one ``if FLAG: break`` at the end of a loop
body, and the function returns once, at its end.  A branch that always jumps takes
the rest of its block into its other branch; otherwise the rest is guarded by the
flag.  Flags are ordinary variables, so SSA and activity analysis treat them like any
other value, and the adjoint replays the same path from stored conditions.

>>> import ast, gast
>>> from srcdiff.names import Namer
>>> tree = gast.parse('''
... def f(x, n):
...     for i in range(n):
...         if x > 10:
...             break
...         x = x * 2
...     return x
... ''').body[0]
>>> print(ast.unparse(gast.gast_to_ast(lower(tree, Namer(["x", "n", "i"])))))
def f(x, n):
    _brk0 = False
    for i in range(n):
        if x > 10:
            _brk0 = True
        else:
            x = x * 2
        if _brk0:
            break
    return x
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gast

from ..names import Namer

__all__ = ["lower", "has_jumps"]


def _name(id_: str, store: bool = False) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None,
                     type_comment=None)


def _set(flag: str, value: object, like: gast.AST) -> gast.Assign:
    node = gast.Assign(targets=[_name(flag, True)], value=gast.Constant(value=value, kind=None),
                       type_comment=None)
    return gast.copy_location(node, like)


def _any(flags: list[str]) -> gast.expr:
    if len(flags) == 1:
        return _name(flags[0])
    return gast.BoolOp(op=gast.Or(), values=[_name(f) for f in flags])


def _not_any(flags: list[str]) -> gast.expr:
    return gast.UnaryOp(op=gast.Not(), operand=_any(flags))


@dataclass
class _Loop:
    brk: str
    cont: str
    used_brk: bool = False
    used_cont: bool = False


def has_jumps(fdef: gast.FunctionDef) -> bool:
    """Whether the function needs this pass at all."""
    for node in gast.walk(fdef):
        if isinstance(node, (gast.Break, gast.Continue)):
            return True
    return any(isinstance(n, gast.Return) for stmt in fdef.body[:-1] for n in gast.walk(stmt)) or (
        bool(fdef.body) and not isinstance(fdef.body[-1], gast.Return)
        and any(isinstance(n, gast.Return) for n in gast.walk(fdef.body[-1])))


def lower(fdef: gast.FunctionDef, namer: Namer) -> gast.FunctionDef:
    """Remove jumps from ``fdef`` (a new tree; the input is not modified)."""
    if not has_jumps(fdef):
        return fdef
    fdef = copy.deepcopy(fdef)
    state = {"ret": None, "retval": None}

    def ret_flags() -> tuple[str, str]:
        if state["ret"] is None:
            state["ret"] = namer.temp("_ret")
            state["retval"] = namer.temp("_retval")
        return state["ret"], state["retval"]

    def block(stmts: list, loop: _Loop | None, top: bool) -> tuple[list, list, bool]:
        """Lower a statement list: (new statements, flags that may stop it, always stops)."""
        out: list = []
        for idx, stmt in enumerate(stmts):
            rest = stmts[idx + 1:]
            if isinstance(stmt, gast.Break):
                loop.used_brk = True
                out.append(_set(loop.brk, True, stmt))
                return out, [loop.brk], True
            if isinstance(stmt, gast.Continue):
                loop.used_cont = True
                out.append(_set(loop.cont, True, stmt))
                return out, [loop.cont], True
            if isinstance(stmt, gast.Return):
                if top and not rest:
                    out.append(stmt)
                    return out, [], True
                ret, retval = ret_flags()
                value = stmt.value if stmt.value is not None else gast.Constant(value=None, kind=None)
                out.append(gast.copy_location(
                    gast.Assign(targets=[_name(retval, True)], value=value, type_comment=None), stmt))
                out.append(_set(ret, True, stmt))
                return out, [ret], True
            if isinstance(stmt, gast.If):
                body, f1, a1 = block(stmt.body, loop, False)
                orelse, f2, a2 = block(stmt.orelse, loop, False)
                flags = _merge(f1, f2)
                if a1 and a2:
                    out.append(_if(stmt, body, orelse))
                    return out, flags, True
                if (a1 or a2) and rest:
                    more, f3, a3 = block(rest, loop, False)
                    if a1:
                        orelse = orelse + more
                    else:
                        body = body + more
                    out.append(_if(stmt, body, orelse))
                    return out, _merge(flags, f3), (a1 and (a2 or a3)) or (a2 and (a1 or a3))
                out.append(_if(stmt, body, orelse))
                if flags and rest:
                    more, f3, a3 = block(rest, loop, False)
                    guard = gast.copy_location(gast.If(test=_not_any(flags), body=more, orelse=[]), rest[0])
                    out.append(guard)
                    return out, _merge(flags, f3), False
                if a1 or a2:
                    return out, flags, False
                continue
            if isinstance(stmt, (gast.For, gast.While)):
                inner = _Loop(namer.temp("_brk"), namer.temp("_cont"))
                body, flags, _ = block(stmt.body, inner, False)
                stops = [f for f in flags if f not in (inner.brk, inner.cont)]
                checks = ([inner.brk] if inner.used_brk else []) + stops
                if inner.used_cont:
                    body = [_set(inner.cont, False, stmt)] + body
                if checks:
                    brk = gast.If(test=_any(checks), body=[gast.Break()], orelse=[])
                    body = body + [gast.copy_location(brk, stmt)]
                new = copy.copy(stmt)
                new.body = body
                if inner.used_brk:
                    out.append(_set(inner.brk, False, stmt))
                out.append(new)
                if stops and rest:
                    more, f3, _ = block(rest, loop, False)
                    guard = gast.copy_location(gast.If(test=_not_any(stops), body=more, orelse=[]), rest[0])
                    out.append(guard)
                    return out, _merge(stops, f3), False
                if stops:
                    return out, stops, False
                continue
            out.append(stmt)
        return out, [], False

    body, _, _ = block(fdef.body, None, True)
    if state["ret"] is not None:
        ret, retval = state["ret"], state["retval"]
        first = fdef.body[0] if fdef.body else fdef
        prologue = [_set(ret, False, first), _set(retval, None, first)]
        if body and isinstance(body[-1], gast.Return):
            last = body.pop()
            value = last.value if last.value is not None else gast.Constant(value=None, kind=None)
            body.append(gast.copy_location(
                gast.Assign(targets=[_name(retval, True)], value=value, type_comment=None), last))
        end = gast.Return(value=_name(retval))
        gast.copy_location(end, body[-1] if body else fdef)
        body = prologue + body + [end]
    fdef.body = body
    return fdef


def _if(like: gast.If, body: list, orelse: list) -> gast.If:
    node = gast.If(test=like.test, body=body or [gast.Pass()], orelse=orelse)
    return gast.copy_location(node, like)


def _merge(a: list, b: list) -> list:
    return a + [f for f in b if f not in a]
