"""reverse: SSA IR + activity -> gast of the derivative (primal sweep, then adjoint sweep).

The primal statements are emitted as they are; then, walking the statements
backwards, each active assignment's rule templates are instantiated with the
statement's own names (the primal arguments, ``out`` for its result, ``g`` for the
result's adjoint) and accumulated into the arguments' adjoints.  The first
contribution to an adjoint is assigned, later ones are added, so nothing is
initialised to zero in straight-line code.

Control flow needs no tape.  A branch's adjoint takes the branch the primal took (the
condition is a value like any other).  A loop's adjoint runs its iterations backwards;
the values the adjoint of an iteration reads, and only those, are appended to a plain
list by the primal loop and popped by the adjoint loop.  A loop-carried value whose
next value is read too is not stored twice: the next value of iteration k is the
header value of iteration k + 1.

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
import math
import operator
import os
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from .. import ir, runtime
from ..emit import Hooks, atom_expr, block_nodes, comment, name, store, value_expr, walk
from ..names import Namer
from ..rules import registry
from . import unbroadcast
from .activity import SCALAR, Activity, _elementwise
from .simplify import _number, fold

__all__ = ["differentiate", "MODES"]

MODES = ("grad", "value_and_grad", "vjp", "vjp_apply")


def _call(fn: str, *args: gast.expr) -> gast.Call:
    return gast.Call(func=name(fn), args=list(args), keywords=[])


def _const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _index(base: gast.expr, i: int) -> gast.expr:
    return gast.Subscript(value=base, slice=_const(i), ctx=gast.Load())


def _assign(target: str | gast.expr, value: gast.expr) -> gast.Assign:
    target = store(target) if isinstance(target, str) else target
    return gast.Assign(targets=[target], value=value, type_comment=None)


def _loads_minus_stores(nodes: list, stored: set | None = None) -> set:
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
            exposed.update(_loads_minus_stores(stmt.body, inner))
        elif isinstance(stmt, gast.If):
            reads(stmt.test)
            exposed.update(_loads_minus_stores(stmt.body, stored))
            exposed.update(_loads_minus_stores(stmt.orelse, stored))
        else:
            reads(stmt)
    return exposed


_SMALL_ROW = 32  # numbers: up to this many, a loop keeps a value in a row (see loop)


@dataclass
class _Saved:
    """What one loop keeps for its adjoint."""

    stack: str
    names: list = field(default_factory=list)  # saved once per iteration
    counter: str | None = None
    used: bool = False  # the stack holds anything (iteration or branch records)
    after: list = field(default_factory=list)  # primal statements after the loop
    zeroed: dict = field(default_factory=dict)  # outside adjoint -> its zeros, before the loop
    products: dict = field(default_factory=dict)  # (var, side) -> list of deferred products
    shapes: set = field(default_factory=set)  # saved names of which only the shape is kept
    rows: dict = field(default_factory=dict)  # saved name -> an array holding it, a row per iteration
    index: str | None = None  # the row of the iteration, with rows
    trips: gast.expr | None = None  # the iteration count, with rows
    loop: Any = None  # the IR loop
    depth: int = 0  # how many branches the loop is in
    row_adds: dict = field(default_factory=dict)  # adjoint -> list of its rows' cotangents


class _Reverse(Hooks):
    """Builds the adjoint of one function; also the hooks that add saves to its primal."""

    def __init__(self, act: Activity, namer: Namer, destructive: bool, functional: bool = False):
        self.act = act
        self.namer = namer
        self.destructive = destructive  # pop saved values (grad) or read them (vjp)
        self.names: dict[str, str] = {}  # primal name -> adjoint name, where one exists
        self.adjoint_names: dict[str, str] = {}  # stable adjoint name of each primal name
        self.out: list = []
        self.loops: dict[int, _Saved] = {}
        self.branch_saves: dict[tuple, tuple] = {}  # (id(if), which) -> (stack, names)
        self.loop_stack: list = []  # enclosing loops while walking backwards
        self.depth = 0  # branches entered while walking backwards
        self.counters: set = set()  # the counters of for loops (ints: range's items)
        self.user_calls: dict[int, tuple] = {}  # id(assign) -> (derivative name, pullback name)
        self.globals: dict[str, Any] = {}  # names the generated code needs besides the helpers
        self.derivative_names: dict = {}
        self.recipes: dict[str, tuple] = {}  # alias -> how to make its derivative again
        self.owned: set[str] = set()  # adjoint arrays this code created and nothing aliases
        self.functional = functional  # no updates in place (the code will be differentiated)

    # ---- adjoint variables -------------------------------------------------------
    def emit(self, stmt: gast.stmt) -> None:
        self.out.append(stmt)

    def adjoint_name(self, var: str) -> str:
        if var not in self.adjoint_names:
            self.adjoint_names[var] = self.namer.fresh("d" + var)
        return self.adjoint_names[var]

    def bind(self, expr: gast.expr, prefix: str = "_g") -> gast.expr:
        if isinstance(expr, gast.Name):
            return expr
        tmp = self.namer.temp(prefix)
        self.emit(_assign(tmp, expr))
        return name(tmp)

    def contribute(self, atom: Any, expr: gast.expr, maybe_none: bool = False) -> None:
        """Add ``expr`` to the adjoint of every active variable in ``atom``."""
        if isinstance(atom, ir.Var):
            if atom.id in self.act.active:
                self.add(atom.id, expr, maybe_none)
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

    def add(self, var: str, expr: gast.expr, maybe_none: bool = False) -> None:
        tree = self.act.kinds.get(var) == "tree"
        if maybe_none and not tree:
            expr = _call("tree_fill", expr, name(var))
        current = self.names.get(var)
        if current is None:
            new = self.adjoint_name(var)
            self.names[var] = new
            self.emit(_assign(new, expr))
            if not tree and _is_call(expr, "getitem_grad", "zeros_like_value"):
                self.owned.add(var)
            else:
                self.owned.discard(var)
            return
        if tree:
            self.emit(_assign(current, _call("tree_add", name(current), expr)))
        elif self.functional:
            self.emit(_assign(current, fold(gast.BinOp(left=name(current), op=gast.Add(), right=expr))))
        elif var in self.owned and _is_call(expr, "getitem_grad") and _names(expr.args[1], var):
            # scatter the entries into the adjoint array in place
            g, index = expr.args[0], expr.args[2]
            if isinstance(index, gast.Name) and index.id in self.counters:  # an int: d[t] += g
                if self._defer_row(var, current, index, g):
                    return
                self.emit(gast.AugAssign(target=gast.Subscript(value=name(current), slice=index,
                                                               ctx=gast.Store()),
                                         op=gast.Add(), value=g))
            elif _basic_literal(index) is not None:  # a slice written out: d[1:] += g
                self.emit(gast.AugAssign(target=gast.Subscript(value=name(current),
                                                               slice=_basic_literal(index),
                                                               ctx=gast.Store()),
                                         op=gast.Add(), value=g))
            else:
                self.emit(gast.Expr(value=_call("index_add", name(current), index, g)))
        elif var in self.owned and self._defer(var, expr):
            return
        elif var in self.owned:
            if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
                self.emit(gast.AugAssign(target=store(current), op=gast.Sub(), value=expr.operand))
            else:
                self.emit(gast.AugAssign(target=store(current), op=gast.Add(), value=expr))
        else:
            self.emit(_assign(current, fold(gast.BinOp(left=name(current), op=gast.Add(), right=expr))))
            self.owned.add(var)

    def _defer(self, var: str, expr: gast.expr) -> bool:
        """In a loop, ``dW += matmul_grad_b(g, h, W)`` for a ``W`` from outside: collect
        ``(g, h)`` and add all the products after the loop, in one matrix product."""
        if self.functional or not self.loop_stack or not _is_call(expr, "matmul_grad_a", "matmul_grad_b"):
            return False
        saved = self.loop_stack[-1]
        if var not in saved.zeroed or len(expr.args) != 3 or expr.keywords:
            return False
        side = expr.func.id[-1]
        g, a, b = expr.args
        fixed, other = (a, b) if side == "a" else (b, a)
        if not _names(fixed, var):
            return False
        key = (var, side)
        if key not in saved.products:
            saved.products[key] = self.namer.temp("_products")
        self.emit(_append(saved.products[key], gast.Tuple(elts=[g, other], ctx=gast.Load())))
        return True

    def _defer_row(self, var: str, current: str, index: gast.Name, g: gast.expr) -> bool:
        """In a loop over a range without an early exit, ``d[t] += g`` for a ``d`` from
        outside: collect ``g`` once per iteration and add all rows after the loop in
        one operation (``add_rows``), instead of an indexed update per iteration."""
        if self.functional or not self.destructive or not self.loop_stack:
            return False
        saved = self.loop_stack[-1]
        loop = saved.loop
        if (loop.kind != "for" or loop.breaks or index.id != loop.target or var not in saved.zeroed
                or not isinstance(loop.iter, ir.Var) or self.depth != saved.depth
                or current in saved.row_adds):  # (once per iteration: a second is added now)
            return False
        saved.row_adds[current] = self.namer.temp("_row_grads")
        self.emit(_append(saved.row_adds[current], g))
        return True

    def zeros(self, var: str) -> gast.stmt:
        """Start ``var``'s adjoint at zero (an array this code owns)."""
        self.names[var] = self.adjoint_name(var)
        self.owned.add(var)
        return _assign(self.names[var], self.zero(var))

    def zero(self, var: str) -> gast.expr:
        if self.act.shapes.get(var) == SCALAR and self.act.kinds.get(var) != "tree":
            return _const(0.0)
        return _call("zeros_like_value", name(var))

    # ---- statements --------------------------------------------------------------
    def block(self, stmts: list) -> list:
        """The adjoint of a statement list (walked backwards), as gast statements."""
        saved, self.out = self.out, []
        last_line = None
        for stmt in reversed(stmts):
            if isinstance(stmt, ir.Assign):
                if stmt.target not in self.act.active or stmt.target not in self.names:
                    continue
                if stmt.loc.text and stmt.loc.lineno != last_line:
                    self.emit(comment("Grad of: " + stmt.loc.text.strip()))
                    last_line = stmt.loc.lineno
                self.assignment(stmt)
            elif isinstance(stmt, ir.If):
                self.branch(stmt)
                last_line = None
            elif isinstance(stmt, ir.Loop):
                self.loop(stmt)
                last_line = None
        result, self.out = self.out, saved
        return result

    def assignment(self, stmt: ir.Assign) -> None:
        g = name(self.names[stmt.target])
        cls = self.act.classes[stmt.target]
        value = stmt.value
        if cls.kind == "copy":
            self.contribute(value, g)
            return
        if cls.kind == "display":
            for i, item in enumerate(value.items):
                self.contribute(item, _call("tree_index", g, _const(i)), True)
            return
        if cls.kind == "user":
            self.user_call(stmt, g)
            return
        if cls.kind == "method":
            self.method_call(stmt, g)
            return
        assert cls.kind == "rule", cls.kind  # activity analysis rejected the rest
        rule = cls.rule
        if not rule.reverse:
            from ..errors import NoRuleError

            raise NoRuleError(f"{rule.name} has a forward-mode rule only, and no reverse-mode one",
                              stmt.loc, hint="differentiate this code in forward mode (jvp, hvp, hessian)")
        mapping: dict[str, gast.expr] = {"g": g, "out": name(stmt.target)}
        for param, atom in cls.bound.items():
            if isinstance(atom, registry._DEFAULT):
                from ..emit import _const as const_expr

                mapping[param] = const_expr(atom.value)
            else:
                mapping[param] = atom_expr(atom)
        sparse = rule.sparse or (rule.fn in (operator.getitem, runtime.setitem)
                                 and self._is_tree(value.args[0]))
        if rule.strict:
            for param, atom in cls.bound.items():
                if (param not in rule.adjoints and param not in rule.nondiff
                        and not isinstance(atom, registry._DEFAULT)
                        and any(v in self.act.active for v in ir.atom_vars(atom))):
                    from ..errors import NoRuleError

                    raise NoRuleError(
                        f"the rule of {rule.name} has no adjoint for its parameter {param!r}, which "
                        "depends on a differentiated value",
                        stmt.loc, hint=f'give it one in register_adjoint ({param}="<cotangent of '
                        f'{param} in terms of g, out and the arguments>"), or, if {param} carries no '
                        f'gradient, declare it: nondiff=("{param}",)')
        contributions: list = []  # (atom, expr); one per variable, so x * x gives one sum
        for param, template in rule.adjoints.items():
            atom = cls.bound[param]
            if isinstance(atom, registry._DEFAULT):
                continue
            if not any(v in self.act.active for v in ir.atom_vars(atom)):
                continue
            expr = fold(registry.instantiate(template, mapping))
            expr = unbroadcast.drop(expr, self.act, stmt.target)
            same = next((i for i, (a, _) in enumerate(contributions)
                         if isinstance(atom, ir.Var) and isinstance(a, ir.Var) and a.id == atom.id), None)
            if same is None or sparse:
                contributions.append((atom, expr))
                continue
            first = contributions[same][1]
            if gast.dump(first) == gast.dump(expr):  # x * x: g * x twice, computed once
                first = self.bind(first)
                expr = name(first.id)
            contributions[same] = (atom, fold(gast.BinOp(left=first, op=gast.Add(), right=expr)))
        for atom, expr in contributions:
            self.contribute(atom, expr, maybe_none=sparse)

    def user_call(self, stmt: ir.Assign, g: gast.expr) -> None:
        """A call to the user's own function: the primal calls its vjp (generated and
        cached on its own) and keeps the pullback; the adjoint calls the pullback."""
        from ..api import vjp

        call, callee = stmt.value, stmt.value.fn.value
        wrt, atoms = self._active_arguments(call)
        if self.functional:
            # Code that will be differentiated again calls the callee as it is, and in
            # the adjoint a generated function of (arguments, cotangent) -> gradients,
            # which has source and so a derivative of its own.
            from ..api import Derivative

            key = (callee, tuple(wrt), "apply")
            alias = self.derivative_names.get(key)
            if alias is None:
                alias = self.namer.fresh("vjp_apply_" + getattr(callee, "__name__", "fn"))
                self.derivative_names[key] = alias
                self.globals[alias] = Derivative(callee, "vjp_apply", tuple(wrt), True)
                self.recipes[alias] = ("vjp_apply", stmt.value.fn.text, tuple(wrt))
            if self.act.kinds.get(stmt.target) == "tree":
                g = _call("tree_fill", g, name(stmt.target))
            apply = value_expr(call)
            apply.func = name(alias)
            apply.keywords = list(apply.keywords) + [gast.keyword(arg="dout", value=g)]
            grads = self.bind(apply)
            for i, atom in enumerate(atoms):
                self.contribute(atom, _index(grads, i))
            return
        key = (callee, tuple(wrt))
        alias = self.derivative_names.get(key)
        if alias is None:
            alias = self.namer.fresh("vjp_" + getattr(callee, "__name__", "fn"))
            self.derivative_names[key] = alias
            self.globals[alias] = vjp(callee, wrt=tuple(wrt))
            self.recipes[alias] = ("vjp", stmt.value.fn.text, tuple(wrt))
        self._through_pullback(stmt, alias, g, atoms)

    def _through_pullback(self, stmt: ir.Assign, derivative: str | gast.expr, g: gast.expr,
                          atoms: list) -> None:
        """The primal calls ``derivative`` (a vjp) and keeps its pullback; the adjoint
        gives the pullback ``g`` and adds what it returns to ``atoms``' adjoints."""
        pullback = self.namer.temp("_pullback")
        self.user_calls[id(stmt)] = (derivative, pullback)
        if self.act.kinds.get(stmt.target) == "tree":
            g = _call("tree_fill", g, name(stmt.target))
        grads = self.bind(_call(pullback, g))
        for i, atom in enumerate(atoms):
            self.contribute(atom, _index(grads, i))

    def _active_arguments(self, call: ir.Call, first: int = 0) -> tuple[list, list]:
        """The positions (or keywords) of the call's differentiated arguments, and those
        arguments."""
        pairs = [(i, a) for i, a in enumerate(call.args) if i >= first] + list(call.kwargs)
        active = [(k, a) for k, a in pairs if any(v in self.act.active for v in ir.atom_vars(a))]
        return [k for k, _ in active], [a for _, a in active]

    def method_call(self, stmt: ir.Assign, g: gast.expr) -> None:
        """``obj.method(args)`` with ``obj`` not differentiated: the primal calls the vjp
        of the method of ``obj``'s class, found when the code runs (method_vjp), and
        keeps the pullback; the adjoint calls the pullback."""
        from ..errors import NoRuleError

        call = stmt.value
        if self.functional:
            raise NoRuleError(
                f"the method call .{call.fn.name}() cannot be differentiated twice in reverse mode",
                stmt.loc, hint="call the class's function directly: Class.method(obj, ...)")
        wrt, atoms = self._active_arguments(call, first=1)  # the receiver is not differentiated
        derivative = _call("method_vjp", atom_expr(call.args[0]), _const(call.fn.name),
                           gast.Tuple(elts=[_const(w) for w in wrt], ctx=gast.Load()))
        self._through_pullback(stmt, derivative, g, atoms)

    def rewrite_assign(self, stmt: ir.Assign) -> list | None:
        entry = self.user_calls.get(id(stmt))
        if entry is None:
            return None
        alias, pullback = entry
        if isinstance(alias, gast.expr):  # obj.method(args): method_vjp(obj, ...)(obj, args)
            call = gast.Call(func=alias, args=[atom_expr(a) for a in stmt.value.args],
                             keywords=[gast.keyword(arg=k, value=atom_expr(a)) for k, a in stmt.value.kwargs])
        else:
            call = value_expr(stmt.value)
            call.func = name(alias)
        target = gast.Tuple(elts=[store(stmt.target), store(pullback)], ctx=gast.Store())
        return [gast.Assign(targets=[target], value=call, type_comment=None)]

    def _is_tree(self, atom: Any) -> bool:
        return isinstance(atom, ir.Var) and self.act.kinds.get(atom.id) == "tree"

    def _active_in(self, stmts: list, phis: list) -> bool:
        if any(p.target in self.act.active for p in phis):
            return True
        return any(isinstance(s, ir.Assign) and s.target in self.act.active for s in ir.walk(stmts)) or any(
            p.target in self.act.active for s in ir.walk(stmts) if isinstance(s, (ir.If, ir.Loop))
            for p in s.phis)

    def branch(self, stmt: ir.If) -> None:
        if not self._active_in(stmt.body + stmt.orelse, stmt.phis):
            return
        before = dict(self.names)
        owned_before = set(self.owned)
        owned_after = []
        results = []
        for which, block in enumerate((stmt.body, stmt.orelse)):
            self.names = dict(before)
            self.owned = set(owned_before)
            self.out, outer = [], self.out
            self.depth += 1
            for phi in stmt.phis:
                if phi.target in self.names:
                    self.contribute(phi.sources[which], name(self.names[phi.target]))
            seeds = self.out
            self.out = outer
            code = seeds + self.block(block)
            self.depth -= 1
            results.append((code, self.names, ir.defined_names(block)))
            owned_after.append(self.owned)
        local = results[0][2] | results[1][2] | {p.target for p in stmt.phis}
        merged = {k: v for k, v in before.items() if k not in {p.target for p in stmt.phis}}
        for i, (_, names, _) in enumerate(results):
            other = results[1 - i][1]
            for var, adj in names.items():
                if var in local or var in before:
                    continue
                merged[var] = adj
                if var not in other:
                    results[1 - i][0].append(_assign(adj, self.zero(var)))
                    owned_after[1 - i].add(var)
        self.names = merged
        self.owned = owned_after[0] & owned_after[1]
        branches = [code for code, _, _ in results]
        if self.loop_stack:
            # Values defined in a branch and read by its adjoint are pushed when the
            # branch ends and popped when its adjoint starts.
            saved = self.loop_stack[-1]
            for which, block in enumerate((stmt.body, stmt.orelse)):
                needed = sorted(_loads_minus_stores(branches[which])
                                & (ir.defined_names(block) | self._child_names(block)))
                if needed:
                    saved.used = True
                    self.branch_saves[(id(stmt), which)] = (saved.stack, needed)
                    branches[which] = self._restore(saved.stack, needed) + branches[which]
        self.emit(gast.If(test=atom_expr(stmt.test), body=branches[0] or [gast.Pass()],
                          orelse=branches[1]))

    def _restore(self, stack: str, names: list) -> list:
        before = []
        if self.functional:
            # Code that will be differentiated again reads the list by index, from the
            # end (getitem has a reverse rule; pop, which changes the list, has not).
            top = _top(stack)
            before.append(_assign(top, gast.BinOp(left=name(top), op=gast.Sub(), right=_const(1))))
            source: gast.expr = gast.Subscript(value=name(stack), slice=name(top), ctx=gast.Load())
        elif self.destructive:
            source = gast.Call(func=gast.Attribute(value=name(stack), attr="pop", ctx=gast.Load()),
                               args=[], keywords=[])
        else:
            source = _call("next", name(_reader(stack)))
        target: gast.expr = store(names[0]) if len(names) == 1 else gast.Tuple(
            elts=[store(n) for n in names], ctx=gast.Store())
        return before + [gast.Assign(targets=[target], value=source, type_comment=None)]

    def loop(self, loop: ir.Loop) -> None:
        if not self._active_in(loop.body, loop.phis):
            return
        saved = _Saved(stack=self.namer.temp("_stack"), loop=loop, depth=self.depth)
        self.loops[id(loop)] = saved
        exits = {h: x for x, h in loop.exits}
        carried = [p for p in loop.phis if p.target in self.act.active]
        region = ir.defined_names(loop.test_body + loop.body) | {p.target for p in loop.phis}
        if loop.target:
            region.add(loop.target)

        # Adjoints of values from outside the loop that the body adds to accumulate
        # across iterations: they start at zero.
        outside = (ir.read_names(loop.body + loop.test_body) - region) & self.act.active
        outside |= {n for p in loop.phis for n in ir.atom_vars(p.sources[1])} & self.act.active - region
        for var in sorted(outside):
            if var not in self.names:
                saved.zeroed[var] = self.zeros(var)
                self.emit(saved.zeroed[var])

        carries = {}
        for phi in carried:
            carry = self.namer.fresh("_d" + phi.target)
            carries[phi.target] = carry
            exit_name = exits.get(phi.target)
            if exit_name is not None and exit_name in self.names:
                self.emit(_assign(carry, name(self.names[exit_name])))
            elif exit_name is None and not self.destructive \
                    and not isinstance(self.zero(phi.target), gast.Constant):
                # A pullback may restore the header under its own name in the loop below,
                # which makes the name local to it: it reads a copy the primal keeps.
                last = self.namer.fresh(phi.target + "_last")
                saved.after.append(_assign(last, name(phi.target)))
                self.emit(_assign(carry, _call("zeros_like_value", name(last))))
            else:
                self.emit(_assign(carry, self.zero(exit_name or phi.target)))

        # The body's adjoint, one iteration.
        self.loop_stack.append(saved)
        outer_names = {k: v for k, v in self.names.items() if k not in region}
        self.names = dict(outer_names)
        self.out, outer_out = [], self.out
        for phi in carried:
            self.contribute(phi.sources[1], name(carries[phi.target]))
        seeds = self.out
        self.out = outer_out
        body = seeds + self.block(loop.body)
        ends = []
        for phi in carried:
            header_adj = self.names.get(phi.target)
            ends.append(_assign(carries[phi.target],
                                name(header_adj) if header_adj else self.zero(phi.target)))
        self.names = {k: v for k, v in self.names.items() if k not in region}
        self.loop_stack.pop()

        # What the body's adjoint reads from the primal iteration is saved.
        needed = _loads_minus_stores(body + ends) & (region | self._child_names(loop.test_body + loop.body))
        needed.discard(loop.target)
        shifts = []
        for phi in loop.phis:
            nxt = phi.sources[1]
            if (isinstance(nxt, ir.Var) and nxt.id in needed and phi.target in needed
                    and nxt.id in ir.defined_names(loop.body)):
                needed.discard(nxt.id)  # it is the next iteration's header value
                shifts.append((nxt.id, phi.target))
        if not self.functional:
            shifted = {n for pair in shifts for n in pair}
            # values that certainly have a .shape (NumPy results), or are Python floats
            known = {n for n in needed if isinstance(self.act.shapes.get(n), tuple)}
            plain = {n for n in needed - shifted if self.act.kinds.get(n) == "float" or n in known
                     or self.act.kinds.get(n) == "array" and _numpy_result(loop.body, n)}
            for var in self._shape_only(body + ends, plain):
                if self.act.kinds.get(var) == "float" or var in known:
                    needed.discard(var)  # a Python float (shape ()), or a shape known now
                else:
                    saved.shapes.add(var)
        if not self.loop_stack:
            # A value every iteration computes alike from values from outside the loop
            # (``-k`` for a ``k`` the loop does not change) is left in its name by the
            # primal's last iteration: the adjoint reads it there, nothing is saved.
            # (In a nested loop, an outer iteration in which it did not run would leave
            # the name unbound for the outer loop's save.)
            # (A name kept as its shape is read as one: that stays.)
            needed -= _invariants(loop, region) - saved.shapes
        saved.names = sorted(needed)
        if (not self.functional and self.destructive and not self.loop_stack and loop.kind == "for"
                and not loop.breaks and isinstance(loop.iter, ir.Var)):
            # A small value of one known shape every iteration goes into a row of one
            # array made for all iterations, not into a list of arrays: an array of a
            # few numbers is mostly its header (about 100 bytes).  Writing a row costs
            # more time than an append, so larger values stay in the list.
            for var in saved.names:
                shape = self.act.shapes.get(var)
                if (var not in saved.shapes and isinstance(shape, tuple) and shape
                        and math.prod(shape) <= _SMALL_ROW):
                    saved.rows[var] = self.namer.temp("_kept")
            if saved.rows:
                saved.index = self.namer.temp("_i")
                saved.trips = _call("len", atom_expr(loop.iter))
                saved.names = [n for n in saved.names if n not in saved.rows]
                self.act.used_shapes()
        pre, post = [], []
        for nxt, header in shifts:
            last = header
            if not self.destructive:
                # The pullback restores ``header`` itself, so it cannot also read the
                # primal's final value under that name: the primal keeps a copy.
                last = self.namer.fresh(header + "_last")
                saved.after.append(_assign(last, name(header)))
            pre.append(_assign(nxt, name(last)))
            post.append(_assign(nxt, name(header)))
        if saved.names:
            saved.used = True
            body = self._restore(saved.stack, saved.names) + body
        if saved.rows:
            body = [gast.AugAssign(target=store(saved.index), op=gast.Sub(), value=_const(1))] + [
                _assign(var, gast.Subscript(value=name(rows), slice=name(saved.index), ctx=gast.Load()))
                for var, rows in saved.rows.items()] + body
        if loop.breaks or loop.kind == "while":
            saved.counter = self.namer.temp("_n")
        if self.functional and saved.used:
            self.emit(_assign(_top(saved.stack), _call("len", name(saved.stack))))
        elif not self.destructive and saved.used:
            self.emit(_assign(_reader(saved.stack), _call("reversed", name(saved.stack))))
        for stmt in pre:
            self.emit(stmt)
        for products in [*saved.products.values(), *saved.row_adds.values()]:
            self.emit(_assign(products, gast.List(elts=[], ctx=gast.Load())))
        body = body + ends + post
        if loop.kind == "for":
            iterable = atom_expr(loop.iter)
            if saved.counter:
                iterable = gast.Subscript(value=iterable, slice=gast.Slice(
                    lower=None, upper=name(saved.counter), step=None), ctx=gast.Load())
            self.emit(gast.For(target=store(loop.target), iter=_call("reversed", iterable),
                               body=body or [gast.Pass()], orelse=[], type_comment=None))
        else:
            self.emit(gast.For(target=store(self.namer.temp("_")),
                               iter=_call("range", name(saved.counter)),
                               body=body or [gast.Pass()], orelse=[], type_comment=None))
        for adjoint, row_grads in saved.row_adds.items():
            self.emit(gast.Expr(value=_call("add_rows", name(adjoint), atom_expr(loop.iter),
                                            name(row_grads))))
        used = {n.id for stmt in body for n in walk(stmt) if isinstance(n, gast.Name)} \
            if saved.products else set()
        for (var, side), products in saved.products.items():
            total = _call("matmul_grads_sum", _const(side), name(products), name(var))
            adjoint = self.names[var]
            if adjoint not in used and sum(s == var for s, _ in saved.products) == 1:
                # nothing else adds to it: no zeros to start from
                self.out.remove(saved.zeroed[var])
                self.emit(_assign(adjoint, total))
            else:
                self.emit(gast.AugAssign(target=store(adjoint), op=gast.Add(), value=total))
        for phi in carried:
            self.contribute(phi.sources[0], name(carries[phi.target]))

    def _shape_only(self, stmts: list, names: set) -> set:
        """The names in ``names`` that ``stmts`` read only for their shape: as ``x`` in
        ``unbroadcast(g, x)`` or ``getitem_grad(g, x, index)``, or in the inputs of
        ``unconcatenate(g, (a, b), axis)``.  Those calls become their ``_to`` forms,
        which take shapes, and the loop keeps the shape, not the array."""
        reads: dict[str, list] = {}  # name -> [(call, argument position, item or None)]
        for stmt in stmts:
            for node in walk(stmt):
                if not isinstance(node, gast.Call):
                    continue
                for i, arg in enumerate(node.args):
                    if isinstance(arg, gast.Name) and arg.id in names:
                        reads.setdefault(arg.id, []).append((node, i, None))
                    elif isinstance(arg, gast.Tuple) and _is_call(node, "unconcatenate") and i == 1:
                        for j, item in enumerate(arg.elts):
                            if isinstance(item, gast.Name) and item.id in names:
                                reads.setdefault(item.id, []).append((node, i, j))
        loads = {}
        for stmt in stmts:
            for node in walk(stmt):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id in names:
                    loads[node.id] = loads.get(node.id, 0) + 1
        found = set()
        for var, uses in reads.items():
            if len(uses) == loads.get(var) and all(_reads_shape(call, i, j, self.act.kinds.get(var))
                                                   for call, i, j in uses):
                found.add(var)
        for call in {id(call): call for var in found for call, _, _ in reads[var]}.values():
            if _to_shapes(call, found, self.act.kinds, self.act.shapes):
                self.act.used_shapes()
        return found

    def _child_names(self, stmts: list) -> set:
        """Names the primal of ``stmts`` defines besides the IR's own: the stacks and
        counters of nested loops, the pullbacks of calls to user functions."""
        names = set()
        for stmt in ir.walk(stmts):
            if id(stmt) in self.user_calls:
                names.add(self.user_calls[id(stmt)][1])
            if isinstance(stmt, ir.Loop) and id(stmt) in self.loops:
                info = self.loops[id(stmt)]
                names.add(info.stack)
                if info.counter:
                    names.add(info.counter)
                # (and what the primal keeps after it: an inner loop's last header value,
                # read by the pullback of each outer iteration, is saved by the outer loop)
                names.update(t.id for a in info.after if isinstance(a, gast.Assign)
                             for t in a.targets if isinstance(t, gast.Name))
        return names

    # ---- hooks: the saves in the primal ------------------------------------------
    def before_loop(self, loop: ir.Loop) -> list:
        info = self.loops.get(id(loop))
        if info is None:
            return []
        out = []
        if info.used:
            out.append(_assign(info.stack, gast.List(elts=[], ctx=gast.Load())))
        if info.counter:
            out.append(_assign(info.counter, _const(0)))
        if info.rows:
            out.append(_assign(info.index, _const(0)))
        return out

    def end_of_iteration(self, loop: ir.Loop) -> list:
        info = self.loops.get(id(loop))
        if info is None:
            return []
        out = [_push(info.stack, info.names, info.shapes)] if info.names else []
        if info.rows:
            # the rows are made in the first iteration, of the values' own dtype
            first = [_assign(rows, gast.Call(
                func=gast.Attribute(value=name("np"), attr="empty", ctx=gast.Load()),
                args=[gast.Tuple(elts=[info.trips, *map(_const, self.act.shapes[var])], ctx=gast.Load()),
                      gast.Attribute(value=name(var), attr="dtype", ctx=gast.Load())], keywords=[]))
                for var, rows in info.rows.items()]
            out.append(gast.If(test=gast.Compare(left=name(info.index), ops=[gast.Eq()],
                                                 comparators=[_const(0)]),
                               body=first, orelse=[]))
            out += [gast.Assign(targets=[gast.Subscript(value=name(rows), slice=name(info.index),
                                                        ctx=gast.Store())],
                                value=name(var), type_comment=None)
                    for var, rows in info.rows.items()]
            out.append(gast.AugAssign(target=store(info.index), op=gast.Add(), value=_const(1)))
        return out

    def after_phis(self, loop: ir.Loop) -> list:
        info = self.loops.get(id(loop))
        if info is None or not info.counter:
            return []
        return [gast.AugAssign(target=store(info.counter), op=gast.Add(), value=_const(1))]

    def after_loop(self, loop: ir.Loop) -> list:
        info = self.loops.get(id(loop))
        return list(info.after) if info is not None else []

    def end_of_branch(self, stmt: ir.If, which: int) -> list:
        entry = self.branch_saves.get((id(stmt), which))
        if entry is None:
            return []
        return [_push(*entry)]


def _basic_literal(index: gast.expr) -> gast.expr | None:
    """An index written with literals only (ints, ``slice(1, None, None)``, a tuple of
    those) as a subscript's index (``1:``); None for any other."""
    if isinstance(index, gast.Tuple):
        parts = [_basic_literal(e) for e in index.elts]
        if not parts or any(p is None or isinstance(p, gast.Tuple) for p in parts):
            return None
        return gast.Tuple(elts=parts, ctx=gast.Load())
    if type(_number(index)) is int:
        return index
    if (_is_call(index, "slice") and not index.keywords and 1 <= len(index.args) <= 3
            and all(isinstance(a, gast.Constant) and a.value is None or type(_number(a)) is int
                    for a in index.args)):
        none = gast.Constant(value=None, kind=None)
        args = [none, index.args[0]] if len(index.args) == 1 else list(index.args)
        lower, upper, step = (args + [none] * 3)[:3]
        bound = lambda c: None if isinstance(c, gast.Constant) and c.value is None else c  # noqa: E731
        return gast.Slice(lower=bound(lower), upper=bound(upper), step=bound(step))
    return None


def _invariants(loop: ir.Loop, region: set) -> set:
    """The names the loop's body assigns, at its top level, the same value in every
    iteration: an element-wise operation or a matrix product of constants, globals,
    values from outside the loop and such names before them."""
    found: set = set()

    def fixed(atom: Any) -> bool:
        if isinstance(atom, ir.Var):
            return atom.id not in region or atom.id in found
        return isinstance(atom, (ir.Const, ir.Ref))

    for stmt in loop.body:
        if not isinstance(stmt, ir.Assign):
            continue
        value = stmt.value
        if isinstance(value, ir.Var) and fixed(value):
            found.add(stmt.target)
        elif (isinstance(value, ir.Call) and not value.kwargs
              and not isinstance(value.fn, (ir.Method, ir.Attr))
              and (_elementwise(value.callee) or value.callee in (operator.matmul, np.matmul))
              and all(fixed(a) for a in value.args)):
            found.add(stmt.target)
    return found


def _is_call(expr: gast.expr, *names: str) -> bool:
    return (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name)
            and expr.func.id in names)


def _reads_shape(call: gast.Call, position: int, item: int | None, kind: str | None) -> bool:
    """Whether argument ``position`` (entry ``item`` of it) of ``call`` is read only
    for its shape."""
    if _is_call(call, "unbroadcast"):
        return position == 1 and item is None and len(call.args) == 2
    if _is_call(call, "getitem_grad"):  # an array's: a container's cotangent is another
        return position == 1 and item is None and kind == "array" and len(call.args) == 3
    if _is_call(call, "unconcatenate"):
        return position == 1 and item is not None and kind == "array" and not call.keywords
    return False


def _to_shapes(call: gast.Call, shaped: set, kinds: dict, classes: dict) -> bool:
    """Rewrite a call of ``_reads_shape`` to its form taking shapes: the names in
    ``shaped`` hold shapes now, or have shapes known already (``classes``); anything
    else is asked for its shape.  Whether a known shape was written in."""
    literal = []

    def shape(node: gast.expr) -> gast.expr:
        known = classes.get(node.id) if isinstance(node, gast.Name) else None
        if isinstance(known, tuple):
            literal.append(node.id)
            return gast.Tuple(elts=[_const(n) for n in known], ctx=gast.Load())
        if isinstance(node, gast.Name) and node.id in shaped:
            if kinds.get(node.id) == "float":
                return gast.Tuple(elts=[], ctx=gast.Load())
            return node
        return gast.Call(func=gast.Attribute(value=name("np"), attr="shape", ctx=gast.Load()),
                         args=[node], keywords=[])

    call.func = name(call.func.id + "_to")
    if call.func.id == "unconcatenate_to":
        call.args[1] = gast.Tuple(elts=[shape(item) for item in call.args[1].elts], ctx=gast.Load())
    else:
        call.args[1] = shape(call.args[1])
    return bool(literal)


def _names(expr: gast.expr, var: str) -> bool:
    return isinstance(expr, gast.Name) and expr.id == var


def _top(stack: str) -> str:
    return stack.replace("_stack", "_top", 1)


def _reader(stack: str) -> str:
    return stack.replace("_stack", "_saved", 1)


def _numpy_result(stmts: list, var: str) -> bool:
    """Whether ``var`` is made by a NumPy function or ``@``: an array or a NumPy scalar,
    which has a ``.shape`` (an operator's result may be a Python float)."""
    for stmt in ir.walk(stmts):
        if isinstance(stmt, ir.Assign) and stmt.target == var and isinstance(stmt.value, ir.Call):
            fn = stmt.value.callee
            return (isinstance(fn, np.ufunc) or fn is operator.matmul
                    or (getattr(fn, "__module__", None) or "").startswith("numpy"))
    return False


def _push(stack: str, names: list, shapes: set = frozenset()) -> gast.stmt:
    items = [gast.Attribute(value=name(n), attr="shape", ctx=gast.Load()) if n in shapes else name(n)
             for n in names]
    return _append(stack, items[0] if len(items) == 1 else gast.Tuple(elts=items, ctx=gast.Load()))


def _append(list_name: str, value: gast.expr) -> gast.stmt:
    """``list_name.append(value)``."""
    return gast.Expr(value=gast.Call(func=gast.Attribute(value=name(list_name), attr="append",
                                                         ctx=gast.Load()),
                                     args=[value], keywords=[]))


def differentiate(
    fn: ir.Function, act: Activity, wrt: tuple, mode: str, namer: Namer, single: bool = True,
    globals_out: dict | None = None, functional: bool = False, seed_holomorphic: bool | None = None,
    real_params: frozenset = frozenset(), complex_scalars: frozenset = frozenset(),
) -> gast.FunctionDef:
    """Build the derivative function of ``fn`` with respect to the parameters ``wrt``.

    ``seed_holomorphic``: None for a real result; else the result may be complex, and
    the seed checks it, accepting a complex one when this is True (a holomorphic
    function of complex arguments).  ``real_params``: the real parameters of code with
    complex values, whose gradients keep their real part; ``complex_scalars``: the
    parameters that are complex numbers, whose gradients are too."""
    ret = fn.body[-1]
    rev = _Reverse(act, namer, destructive=mode != "vjp", functional=functional)
    rev.counters = {s.target for s in ir.walk(fn.body) if isinstance(s, ir.Loop) and s.kind == "for"
                    and s.target}
    out_atom = ret.value
    out_expr = atom_expr(out_atom)
    extra_primal = []
    if not isinstance(out_expr, gast.Name) and mode != "grad":
        tmp = namer.temp("_out")
        extra_primal.append(_assign(tmp, out_expr))
        out_expr = name(tmp)

    seed_code: list = []
    rev.out = seed_code
    if mode in ("vjp", "vjp_apply"):
        cotangent = namer.fresh("dout")
        rev.contribute(out_atom, name(cotangent))
    else:
        where = f"{os.path.basename(ret.loc.filename)}:{ret.loc.lineno}"
        seed = _call("seed", out_expr, _const(where))
        if seed_holomorphic is not None:
            seed.args.append(_const(seed_holomorphic))
        elif isinstance(out_atom, ir.Var) and act.shapes.get(out_atom.id) == SCALAR:
            seed = _const(1.0)  # certainly a real scalar: no check needed
        seed_name = namer.fresh("d" + out_atom.id if isinstance(out_atom, ir.Var) else "dout")
        rev.emit(_assign(seed_name, seed))
        if isinstance(out_atom, ir.Var) and out_atom.id in act.active:
            rev.names[out_atom.id] = seed_name
    adjoint = seed_code + rev.block(fn.body[:-1])
    primal = block_nodes(fn.body[:-1], rev) + extra_primal
    if globals_out is not None:
        globals_out.update(rev.globals)
        globals_out.setdefault("__recipes__", {}).update(rev.recipes)

    grads = [_final_gradient(p, act, rev, p in real_params) for p in wrt]
    grads = [_call("complex", g) if p in complex_scalars else g for p, g in zip(wrt, grads)]
    result: gast.expr = grads[0] if single else gast.Tuple(elts=grads, ctx=gast.Load())
    if mode == "grad":
        body = primal + adjoint + [gast.Return(value=result)]
    elif mode == "value_and_grad":
        pair = gast.Tuple(elts=[out_expr, result], ctx=gast.Load())
        body = primal + adjoint + [gast.Return(value=pair)]
    elif mode == "vjp_apply":
        # (arguments, *, dout) -> gradients: a vjp as one function, so it can itself be
        # differentiated (derivatives of code that calls the user's functions)
        body = primal + adjoint + [gast.Return(value=gast.Tuple(elts=grads, ctx=gast.Load()))]
        args = copy.deepcopy(fn.args_node)
        args.kwonlyargs.append(gast.Name(id=cotangent, ctx=gast.Param(), annotation=None, type_comment=None))
        args.kw_defaults.append(None)
        return gast.FunctionDef(name=f"vjp_apply_{fn.name}", args=args, body=body, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
    else:
        pullback_name = namer.fresh("pullback")
        arg = gast.Name(id=cotangent, ctx=gast.Param(), annotation=None, type_comment=None)
        args = gast.arguments(args=[arg], posonlyargs=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
        pullback = gast.FunctionDef(
            name=pullback_name, args=args, body=adjoint + [gast.Return(value=result)],
            decorator_list=[], returns=None, type_comment=None, type_params=[],
        )
        pair = gast.Tuple(elts=[out_expr, name(pullback_name)], ctx=gast.Load())
        body = primal + [pullback, gast.Return(value=pair)]

    return gast.FunctionDef(
        name=f"{mode}_{fn.name}", args=copy.deepcopy(fn.args_node), body=body,
        decorator_list=[], returns=None, type_comment=None, type_params=[],
    )


def _final_gradient(param: str, act: Activity, rev: _Reverse, real: bool = False) -> gast.expr:
    kind = act.kinds.get(param, "array")
    current = rev.names.get(param)
    if current is not None:
        value = _call("real_like", name(current), name(param)) if real else name(current)
        if kind == "tree":
            return _call("tree_fill", value, name(param))
        if kind == "float":
            return _call("float", value)  # a float for a float, not a 0-d array
        return value
    if kind == "float":
        return _const(0.0)
    if kind == "tree":
        return _call("zeros_like_tree", name(param))
    return gast.Call(func=gast.Attribute(value=name("np"), attr="zeros_like", ctx=gast.Load()),
                     args=[name(param)], keywords=[])
