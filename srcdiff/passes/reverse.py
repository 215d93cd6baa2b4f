"""reverse: SSA IR + activity -> gast of the derivative (primal sweep, then adjoint sweep).

The primal statements are emitted unchanged; then, walking the statements backwards,
each active assignment's rule templates are instantiated with the statement's own
names (the primal arguments, ``out`` for its result, ``g`` for the result's adjoint)
and accumulated into the arguments' adjoints.  The first contribution to an adjoint
is assigned, later ones are added, so nothing is initialised to zero.

>>> import numpy as np
>>> import srcdiff.rules
>>> from srcdiff.emit import to_source
>>> from srcdiff.names import Namer
>>> from srcdiff.pipeline import lower_to_ir
>>> from srcdiff.passes.activity import analyze
>>> def f(x, y):
...     return np.sin(x) * y
>>> fn = lower_to_ir(f)
>>> act = analyze(fn, ("x",), {"x": "array"})
>>> tree = differentiate(fn, act, ("x",), "grad", Namer(["x", "y", "_t0", "_t1"]))
>>> print(to_source(tree).rstrip())
def grad_f(x, y):
    _t0 = np.sin(x)
    _t1 = _t0 * y
    d_t1 = seed(_t1, '<doctest...>:2')
    # Grad of: return np.sin(x) * y
    d_t0 = unbroadcast(d_t1 * y, _t0)
    dx = d_t0 * np.cos(x)
    return dx
"""

from __future__ import annotations

import copy
import os
from typing import Any

import gast

from .. import ir
from ..emit import atom_expr, comment, name, stmt_nodes, store
from ..names import Namer
from ..rules import registry
from .activity import Activity
from .simplify import fold

__all__ = ["differentiate", "MODES"]

MODES = ("grad", "value_and_grad", "vjp")


def _call(fn: str, *args: gast.expr) -> gast.Call:
    return gast.Call(func=name(fn), args=list(args), keywords=[])


def _const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _index(base: gast.expr, i: int) -> gast.expr:
    return gast.Subscript(value=base, slice=_const(i), ctx=gast.Load())


class _Adjoints:
    """The adjoint variables of one derivative and the statements that build them."""

    def __init__(self, act: Activity, namer: Namer):
        self.act = act
        self.namer = namer
        self.names: dict[str, str] = {}  # primal name -> adjoint name
        self.maybe_none: set[str] = set()
        self.out: list = []

    def emit(self, stmt: gast.stmt) -> None:
        self.out.append(stmt)

    def bind(self, expr: gast.expr, prefix: str = "_g") -> gast.expr:
        if isinstance(expr, gast.Name):
            return expr
        tmp = self.namer.temp(prefix)
        self.emit(gast.Assign(targets=[store(tmp)], value=expr, type_comment=None))
        return name(tmp)

    def contribute(self, atom: Any, expr: gast.expr, maybe_none: bool = False) -> None:
        """Add ``expr`` to the adjoint of every active variable in ``atom``."""
        if isinstance(atom, ir.Var):
            if atom.id in self.act.active:
                self._add(atom.id, expr, maybe_none)
        elif isinstance(atom, (ir.Tup, ir.Lst)):
            if not any(v in self.act.active for v in ir.atom_vars(atom)):
                return
            base = self.bind(expr)
            for i, item in enumerate(atom.items):
                if any(v in self.act.active for v in ir.atom_vars(item)):
                    if maybe_none:
                        self.contribute(item, _call("tree_index", base, _const(i)), True)
                    else:
                        self.contribute(item, _index(base, i))

    def _add(self, var: str, expr: gast.expr, maybe_none: bool) -> None:
        tree = self.act.kinds.get(var) == "tree"
        if maybe_none and not tree:
            expr = _call("tree_fill", expr, name(var))
        current = self.names.get(var)
        if current is None:
            new = self.namer.fresh("d" + var if not var.startswith("_") else "d" + var)
            self.names[var] = new
            self.emit(gast.Assign(targets=[store(new)], value=expr, type_comment=None))
            if maybe_none and tree:
                self.maybe_none.add(var)
            return
        if tree:
            total = _call("tree_add", name(current), expr)
        else:
            total = gast.BinOp(left=name(current), op=gast.Add(), right=expr)
        self.emit(gast.Assign(targets=[store(current)], value=total, type_comment=None))


def _adjoint_of(stmt: ir.Assign, act: Activity, adj: _Adjoints) -> None:
    """Emit the adjoint statements of one active assignment."""
    g = name(adj.names[stmt.target])
    cls = act.classes[stmt.target]
    value = stmt.value
    if cls.kind == "copy":
        adj.contribute(value, g, stmt.target in adj.maybe_none)
        return
    if cls.kind == "display":
        for i, item in enumerate(value.items):
            adj.contribute(item, _call("tree_index", g, _const(i)), True)
        return
    assert cls.kind == "rule", cls.kind  # activity analysis rejected the rest
    rule = cls.rule
    mapping: dict[str, gast.expr] = {"g": g, "out": name(stmt.target)}
    for param, atom in cls.bound.items():
        if isinstance(atom, registry._DEFAULT):
            mapping[param] = _value_const(atom.value)
        else:
            mapping[param] = atom_expr(atom)
    from_tree = rule.fn is __import__("operator").getitem and _is_tree(value.args[0], act)
    for param, template in rule.adjoints.items():
        atom = cls.bound[param]
        if isinstance(atom, registry._DEFAULT):
            continue
        if not any(v in act.active for v in ir.atom_vars(atom)):
            continue
        expr = fold(registry.instantiate(template, mapping))
        adj.contribute(atom, expr, maybe_none=from_tree)


def _is_tree(atom: Any, act: Activity) -> bool:
    return isinstance(atom, ir.Var) and act.kinds.get(atom.id) == "tree"


def _value_const(value: Any) -> gast.expr:
    from ..emit import _const as const_expr

    return const_expr(value)


def differentiate(
    fn: ir.Function, act: Activity, wrt: tuple, mode: str, namer: Namer, single: bool = True
) -> gast.FunctionDef:
    """Build the derivative function of ``fn`` with respect to the parameters ``wrt``."""
    ret = fn.body[-1]
    primal: list = []
    for stmt in fn.body[:-1]:
        primal += stmt_nodes(stmt)
    adj = _Adjoints(act, namer)
    out_atom = ret.value
    out_expr = atom_expr(out_atom)
    if not isinstance(out_expr, gast.Name) and mode != "grad":
        tmp = namer.temp("_out")
        primal.append(gast.Assign(targets=[store(tmp)], value=out_expr, type_comment=None))
        out_expr = name(tmp)

    if mode == "vjp":
        cotangent = namer.fresh("dout")
        adj.contribute(out_atom, name(cotangent))
    else:
        where = f"{os.path.basename(ret.loc.filename)}:{ret.loc.lineno}"
        seed = _call("seed", out_expr, _const(where))
        seed_name = namer.fresh("d" + out_atom.id if isinstance(out_atom, ir.Var) else "dout")
        adj.emit(gast.Assign(targets=[store(seed_name)], value=seed, type_comment=None))
        if isinstance(out_atom, ir.Var) and out_atom.id in act.active:
            adj.names[out_atom.id] = seed_name

    last_line = None
    for stmt in reversed(fn.body[:-1]):
        if not isinstance(stmt, ir.Assign) or stmt.target not in act.active:
            continue
        if stmt.target not in adj.names:
            continue
        if stmt.loc.text and stmt.loc.lineno != last_line:
            adj.emit(comment("Grad of: " + stmt.loc.text.strip()))
            last_line = stmt.loc.lineno
        _adjoint_of(stmt, act, adj)

    grads = [_final_gradient(p, act, adj) for p in wrt]
    result: gast.expr = grads[0] if single else gast.Tuple(elts=grads, ctx=gast.Load())
    if mode == "grad":
        body = primal + adj.out + [gast.Return(value=result)]
    elif mode == "value_and_grad":
        pair = gast.Tuple(elts=[out_expr, result], ctx=gast.Load())
        body = primal + adj.out + [gast.Return(value=pair)]
    else:
        pullback_name = namer.fresh("pullback")
        arg = gast.Name(id=cotangent, ctx=gast.Param(), annotation=None, type_comment=None)
        args = gast.arguments(args=[arg], posonlyargs=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
        pullback = gast.FunctionDef(
            name=pullback_name, args=args, body=adj.out + [gast.Return(value=result)],
            decorator_list=[], returns=None, type_comment=None, type_params=[],
        )
        pair = gast.Tuple(elts=[out_expr, name(pullback_name)], ctx=gast.Load())
        body = primal + [pullback, gast.Return(value=pair)]

    fdef = gast.FunctionDef(
        name=f"{mode}_{fn.name}", args=copy.deepcopy(fn.args_node), body=body,
        decorator_list=[], returns=None, type_comment=None, type_params=[],
    )
    return fdef


def _final_gradient(param: str, act: Activity, adj: _Adjoints) -> gast.expr:
    kind = act.kinds.get(param, "array")
    current = adj.names.get(param)
    if current is not None:
        if kind == "tree":
            return _call("tree_fill", name(current), name(param))
        return name(current)
    if kind == "float":
        return _const(0.0)
    if kind == "tree":
        return _call("zeros_like_tree", name(param))
    return gast.Call(func=gast.Attribute(value=name("np"), attr="zeros_like", ctx=gast.Load()),
                     args=[name(param)], keywords=[])
