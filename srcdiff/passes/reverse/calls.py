"""Calls into the user's own functions and methods: through their pullbacks.

A function without a rule but with source is differentiated too, on its own: the
primal calls its vjp, which returns the result and a pullback, and the adjoint gives
the pullback the result's cotangent and adds what it returns to the arguments'
adjoints.  A method of an argument's class is found when the code runs
(``method_vjp``).  Code that will itself be differentiated again keeps the primal
call as it is and calls, in the adjoint, a generated function of the arguments and
the cotangent (``vjp_apply_...``), which has source and so a derivative of its own.

>>> import srcdiff.rules
>>> from srcdiff.emit import to_source
>>> from srcdiff.names import Namer
>>> from srcdiff.pipeline import lower_to_ir
>>> from srcdiff.passes.activity import analyze
>>> from srcdiff.passes.reverse import differentiate
>>> def cube(x):
...     return x * x * x
>>> cube.__module__ = "geometry"  # (what srcdiff's own modules define is not user code)
>>> def f(x):
...     return cube(x)
>>> fn = lower_to_ir(f)
>>> act = analyze(fn, ("x",), {"x": "float"})
>>> tree = differentiate(fn, act, ("x",), "grad", Namer(["x", "_t0"]))
>>> print(to_source(tree).rstrip())
def grad_f(x):
    _t0, _pullback0 = vjp_cube(x)
    d_t0 = seed(_t0, '<doctest...>:2')
    # Grad of: return cube(x)
    _g0 = _pullback0(d_t0)
    dx = _g0[0]
    return float(dx)
"""

from __future__ import annotations

from typing import Any

import gast

from ... import ir
from ...emit import atom_expr, name, store, value_expr
from ...errors import NoRuleError
from .nodes import call, const, subscript

__all__ = ["CallAdjoint"]


class CallAdjoint:
    """The adjoint builder's calls of user functions and methods (a mixin of the sweep's
    builder, whose ``act``, ``namer``, ``functional``, ``bind`` and ``contribute`` it
    uses); also the hook that makes the primal keep each call's pullback."""

    def __init__(self) -> None:
        self.user_calls: dict[int, tuple] = {}  # id(assign) -> (derivative name, pullback name)
        self.globals: dict[str, Any] = {}  # names the generated code needs besides the helpers
        self.derivative_names: dict = {}

    def user_call(self, stmt: ir.Assign, g: gast.expr) -> None:
        """A call to the user's own function: the primal calls its vjp (generated and
        cached on its own) and keeps the pullback; the adjoint calls the pullback."""
        site, callee = stmt.value, stmt.value.fn.value
        wrt, atoms = self._active_arguments(site)
        if self.functional:
            # Code that will be differentiated again calls the callee as it is, and in
            # the adjoint a generated function of (arguments, cotangent) -> gradients,
            # which has source and so a derivative of its own.
            key = (callee, tuple(wrt), "apply")
            alias = self.derivative_names.get(key)
            if alias is None:
                alias = self.namer.fresh("vjp_apply_" + getattr(callee, "__name__", "fn"))
                self.derivative_names[key] = alias
                self.globals[alias] = ir.CalleeRef("vjp_apply", callee, tuple(wrt), stmt.value.fn.text)
            if self.act.kinds.get(stmt.target) == "tree":
                g = call("tree_fill", g, name(stmt.target))
            apply = value_expr(site)
            apply.func = name(alias)
            apply.keywords = list(apply.keywords) + [gast.keyword(arg="dout", value=g)]
            grads = self.bind(apply)
            for i, atom in enumerate(atoms):
                self.contribute(atom, subscript(grads, i))
            return
        key = (callee, tuple(wrt))
        alias = self.derivative_names.get(key)
        if alias is None:
            alias = self.namer.fresh("vjp_" + getattr(callee, "__name__", "fn"))
            self.derivative_names[key] = alias
            self.globals[alias] = ir.CalleeRef("vjp", callee, tuple(wrt), stmt.value.fn.text)
        self._through_pullback(stmt, alias, g, atoms)

    def method_call(self, stmt: ir.Assign, g: gast.expr) -> None:
        """``obj.method(args)`` with ``obj`` not differentiated: the primal calls the vjp
        of the method of ``obj``'s class, found when the code runs (method_vjp), and
        keeps the pullback; the adjoint calls the pullback."""
        site = stmt.value
        if self.functional:
            raise NoRuleError(
                f"the method call .{site.fn.name}() cannot be differentiated twice in reverse mode",
                stmt.loc, hint="call the class's function directly: Class.method(obj, ...)")
        wrt, atoms = self._active_arguments(site, first=1)  # the receiver is not differentiated
        derivative = call("method_vjp", atom_expr(site.args[0]), const(site.fn.name),
                          gast.Tuple(elts=[const(w) for w in wrt], ctx=gast.Load()))
        self._through_pullback(stmt, derivative, g, atoms)

    def _through_pullback(self, stmt: ir.Assign, derivative: str | gast.expr, g: gast.expr,
                          atoms: list) -> None:
        """The primal calls ``derivative`` (a vjp) and keeps its pullback; the adjoint
        gives the pullback ``g`` and adds what it returns to ``atoms``' adjoints."""
        pullback = self.namer.temp("_pullback")
        self.user_calls[id(stmt)] = (derivative, pullback)
        if self.act.kinds.get(stmt.target) == "tree":
            g = call("tree_fill", g, name(stmt.target))
        grads = self.bind(call(pullback, g))
        for i, atom in enumerate(atoms):
            self.contribute(atom, subscript(grads, i))

    def _active_arguments(self, site: ir.Call, first: int = 0) -> tuple[list, list]:
        """The positions (or keywords) of the call's differentiated arguments, and those
        arguments."""
        pairs = [(i, a) for i, a in enumerate(site.args) if i >= first] + list(site.kwargs)
        active = [(k, a) for k, a in pairs if any(v in self.act.active for v in ir.atom_vars(a))]
        return [k for k, _ in active], [a for _, a in active]

    # ---- hook: the primal keeps the pullback ------------------------------------------
    def rewrite_assign(self, stmt: ir.Assign) -> list | None:
        entry = self.user_calls.get(id(stmt))
        if entry is None:
            return None
        alias, pullback = entry
        if isinstance(alias, gast.expr):  # obj.method(args): method_vjp(obj, ...)(obj, args)
            value = gast.Call(func=alias, args=[atom_expr(a) for a in stmt.value.args],
                              keywords=[gast.keyword(arg=k, value=atom_expr(a))
                                        for k, a in stmt.value.kwargs])
        else:
            value = value_expr(stmt.value)
            value.func = name(alias)
        target = gast.Tuple(elts=[store(stmt.target), store(pullback)], ctx=gast.Store())
        return [gast.Assign(targets=[target], value=value, type_comment=None)]
