"""forward: SSA IR + activity -> gast of the Jacobian-vector product (forward mode).

Each statement that computes a differentiated value is followed by the statement
computing its tangent, from the rule's tangent templates (the primal arguments, ``out``
for the result, ``t`` for an argument's tangent).  Branches and loops carry tangents
alongside their values through the same joins; nothing is saved, since tangents move
forward with the values.

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
>>> print(to_source(differentiate(fn, act, ("x",), Namer(["x", "y", "_t0", "_t1"]))).rstrip())
def jvp_f(x, y, *, x_dot):
    _t0 = np.sin(x)
    _t0_dot = x_dot * np.cos(x)
    _t1 = _t0 * y
    _t1_dot = _t0_dot * y
    return (_t1, _t1_dot)
"""

from __future__ import annotations

import copy
from typing import Any

import gast

from .. import ir
from ..emit import Hooks, atom_expr, block_nodes, literal_expr, name, store, value_expr, walk
from ..errors import NoRuleError
from ..names import Namer
from ..rules import registry
from .activity import Activity
from .simplify import fold

__all__ = ["differentiate"]


def _call(fn: str, *args: gast.expr) -> gast.Call:
    return gast.Call(func=name(fn), args=list(args), keywords=[])


class _Forward(Hooks):
    def __init__(self, act: Activity, namer: Namer):
        self.act = act
        self.namer = namer
        self.dots: dict[str, str] = {}
        self.globals: dict[str, Any] = {}
        self.derivative_names: dict = {}

    def has_tangent(self, var: str) -> bool:
        return var in self.act.active

    def dot(self, var: str) -> str:
        if var not in self.dots:
            self.dots[var] = self.namer.fresh(var + "_dot")
        return self.dots[var]

    def tangent(self, atom: Any) -> gast.expr | None:
        """The tangent of an atom, or None where it has none (a constant)."""
        if isinstance(atom, ir.Var):
            return name(self.dot(atom.id)) if self.has_tangent(atom.id) else None
        if isinstance(atom, (ir.Tup, ir.Lst)):
            if not any(self.has_tangent(v) for v in ir.atom_vars(atom)):
                return None
            items = [self.tangent_or_zero(a) for a in atom.items]
            kind = gast.Tuple if isinstance(atom, ir.Tup) else gast.List
            return kind(elts=items, ctx=gast.Load())
        return None

    def tangent_or_zero(self, atom: Any) -> gast.expr:
        t = self.tangent(atom)
        if t is not None:
            return t
        if isinstance(atom, ir.Const) and isinstance(atom.value, (int, float)):
            return gast.Constant(value=0.0, kind=None)
        if isinstance(atom, ir.Var) and self.act.shapes.get(atom.id) == 0:
            return gast.Constant(value=0.0, kind=None)
        return _call("zeros_like_value", atom_expr(atom))

    # ---- statements --------------------------------------------------------------
    def rewrite_assign(self, stmt: ir.Assign) -> list | None:
        if not self.has_tangent(stmt.target):
            return None
        cls = self.act.classes[stmt.target]
        target = store(self.dot(stmt.target))
        primal = gast.Assign(targets=[store(stmt.target)], value=value_expr(stmt.value), type_comment=None)
        if cls.kind in ("copy", "display"):
            return [primal, gast.Assign(targets=[target], value=self.tangent_or_zero(stmt.value),
                                        type_comment=None)]
        if cls.kind == "user":
            return self.user_call(stmt)
        if cls.kind == "method":
            return self.method_call(stmt)
        assert cls.kind == "rule", cls.kind  # activity analysis rejected the rest
        return [primal, gast.Assign(targets=[target], value=self.rule_tangent(stmt, cls), type_comment=None)]

    def rule_tangent(self, stmt: ir.Assign, cls: Any) -> gast.expr:
        rule = cls.rule
        mapping: dict[str, gast.expr] = {"out": name(stmt.target)}
        for param, atom in cls.bound.items():
            if isinstance(atom, registry.Default):
                mapping[param] = literal_expr(atom.value)
            else:
                mapping[param] = atom_expr(atom)
        active = [p for p, a in cls.bound.items() if not isinstance(a, registry.Default)
                  and (p in rule.adjoints or p in rule.tangents or p not in rule.nondiff)
                  and any(self.has_tangent(v) for v in ir.atom_vars(a))]
        if rule.tangent is not None:
            for param, atom in cls.bound.items():
                default = isinstance(atom, registry.Default)
                zero = gast.Constant(value=0.0, kind=None)
                mapping["d" + param] = zero if default else self.tangent_or_zero(atom)
            return fold(registry.instantiate(rule.tangent, mapping))
        terms = []
        for param in active:
            template = rule.tangents.get(param)
            if template is None:
                raise NoRuleError(
                    f"no forward-mode (tangent) rule for {rule.name} with respect to {param!r}",
                    stmt.loc,
                    hint=f"give it one: srcdiff.define_tangents({rule.name}, {param}=\"<tangent of "
                    f"the result in terms of t (the tangent of {param}), out and the arguments>\")",
                )
            term = registry.instantiate(template, {**mapping, "t": self.tangent(cls.bound[param])})
            terms.append(fold(term))
        total = terms[0]
        for term in terms[1:]:
            total = gast.BinOp(left=total, op=gast.Add(), right=term)
        if registry.is_elementwise(rule.fn) and self._may_be_smaller(total, cls, active):
            # the tangents may all be smaller than the result, which an argument without
            # one broadcast (s + np.ones(3) for a float s): spread them to its shape
            total = _call("unbroadcast", total, name(stmt.target))
        return total

    def _may_be_smaller(self, total: gast.expr, cls: Any, active: list) -> bool:
        """Whether an argument without a tangent may broadcast the result beyond the
        tangent ``total``: one that ``total`` does not read, that is not a number and
        not certainly of the shape of an argument with a tangent."""
        read = {n.id for n in walk(total) if isinstance(n, gast.Name)}
        shaped = [v for p in active for v in ir.atom_vars(cls.bound[p])]
        for param, atom in cls.bound.items():
            if param in active or isinstance(atom, registry.Default):
                continue
            if isinstance(atom, ir.Const) and (atom.value is None or isinstance(atom.value, (int, float))):
                continue
            if isinstance(atom, ir.Var) and (self.act.shapes.get(atom.id) == 0 or any(
                    self.act.same_shape(atom.id, v) for v in shaped)):
                continue
            root = atom_expr(atom)
            while isinstance(root, gast.Attribute):
                root = root.value
            if isinstance(root, gast.Name) and root.id in read:
                continue
            return True
        return False

    def user_call(self, stmt: ir.Assign) -> list:
        """A call to the user's own function: call its jvp (generated and cached on its own)."""
        call, callee = stmt.value, stmt.value.fn.value
        wrt, tangents = self._tangent_arguments(call)
        key = (callee, tuple(wrt))
        alias = self.derivative_names.get(key)
        if alias is None:
            alias = self.namer.fresh("jvp_" + getattr(callee, "__name__", "fn"))
            self.derivative_names[key] = alias
            self.globals[alias] = ir.CalleeRef("jvp", callee, tuple(wrt), stmt.value.fn.text)
        expr = value_expr(call)
        expr.func = name(alias)
        expr.args = list(expr.args) + tangents
        pair = gast.Tuple(elts=[store(stmt.target), store(self.dot(stmt.target))], ctx=gast.Store())
        return [gast.Assign(targets=[pair], value=expr, type_comment=None)]

    def _tangent_arguments(self, call: ir.Call, first: int = 0) -> tuple[list, list]:
        """The positions (or keywords) of the call's arguments that have a tangent, and
        their tangents."""
        pairs = [(i, a) for i, a in enumerate(call.args) if i >= first] + list(call.kwargs)
        moving = [(k, self.tangent(a)) for k, a in pairs if self.tangent(a) is not None]
        return [k for k, _ in moving], [t for _, t in moving]

    def method_call(self, stmt: ir.Assign) -> list:
        """``obj.method(args)``: the jvp of the method of ``obj``'s class (method_jvp)."""
        call = stmt.value
        wrt, tangents = self._tangent_arguments(call, first=1)  # not the receiver
        const = lambda v: gast.Constant(value=v, kind=None)  # noqa: E731
        derivative = _call("method_jvp", atom_expr(call.args[0]), const(call.fn.name),
                           gast.Tuple(elts=[const(w) for w in wrt], ctx=gast.Load()))
        expr = gast.Call(func=derivative, args=[atom_expr(a) for a in call.args] + tangents,
                         keywords=[gast.keyword(arg=k, value=atom_expr(a)) for k, a in call.kwargs])
        pair = gast.Tuple(elts=[store(stmt.target), store(self.dot(stmt.target))], ctx=gast.Store())
        return [gast.Assign(targets=[pair], value=expr, type_comment=None)]

    def phis(self, stmt: Any, which: int) -> list:
        pairs = [(p.target, p.sources[which]) for p in stmt.phis]
        for p in stmt.phis:
            if self.has_tangent(p.target):
                pairs.append((self.dot(p.target), self.tangent_or_zero(p.sources[which])))
        return pairs

    def exits(self, loop: ir.Loop) -> list:
        pairs = list(loop.exits)
        for x, h in loop.exits:
            if self.has_tangent(x):
                pairs.append((self.dot(x), self.dot(h)))
        return pairs


def differentiate(fn: ir.Function, act: Activity, wrt: tuple, namer: Namer,
                  globals_out: dict | None = None) -> gast.FunctionDef:
    """The JVP of ``fn`` w.r.t. ``wrt``: ``jvp_f(*args, *, x_dot, ...)`` -> (out, out_dot)."""
    fwd = _Forward(act, namer)
    for p in wrt:
        fwd.dots[p] = namer.fresh(p + "_dot")
    ret = fn.body[-1]
    body = block_nodes(fn.body[:-1], fwd)
    out = atom_expr(ret.value)
    out_dot = fwd.tangent_or_zero(ret.value)
    body.append(gast.Return(value=gast.Tuple(elts=[out, out_dot], ctx=gast.Load())))
    args = copy.deepcopy(fn.args_node)
    for p in wrt:
        dot = gast.Name(id=fwd.dots[p], ctx=gast.Param(), annotation=None, type_comment=None)
        args.kwonlyargs.append(dot)
        args.kw_defaults.append(None)
    if globals_out is not None:
        globals_out.update(fwd.globals)
    return gast.FunctionDef(name=f"jvp_{fn.name}", args=args, body=body, decorator_list=[],
                            returns=None, type_comment=None, type_params=[])
