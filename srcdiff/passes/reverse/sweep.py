"""The adjoint sweep: statements walked backwards, branches, contributions to adjoints.

The primal statements are emitted as they are; then, walking the statements
backwards, each active assignment's rule templates are instantiated with the
statement's own names (the primal arguments, ``out`` for its result, ``g`` for the
result's adjoint), their ``unbroadcast`` calls dropped where shapes decide them
(:mod:`srcdiff.passes.unbroadcast`), and accumulated into the arguments' adjoints.
The first contribution to an adjoint is assigned, later ones are added (in place, to
an array this code made), so nothing is initialised to zero in straight-line code.  A
branch's adjoint takes the branch the primal took; an adjoint only one branch made
starts at zero in the other.

The builder has two more parts, mixed in: :mod:`.loops` (what loops save and
restore, the loop's adjoint) and :mod:`.calls` (calls into the user's functions and
methods).  :mod:`srcdiff.passes.reverse` shows an example.
"""

from __future__ import annotations

import copy
import operator
import os
from typing import Any

import gast

from ... import ir, runtime
from ...emit import Hooks, atom_expr, block_nodes, calls, comment, literal_expr, name, store
from ...errors import NoRuleError
from ...names import Namer
from ...rules import registry
from .. import unbroadcast
from ..activity import SCALAR, Activity
from ..simplify import fold, number
from .calls import CallAdjoint
from .loops import LoopAdjoint
from .nodes import assign, call, const, is_call, is_name, subscript

__all__ = ["differentiate", "MODES"]

MODES = ("grad", "value_and_grad", "vjp", "vjp_apply")


class _Reverse(LoopAdjoint, CallAdjoint, Hooks):
    """Builds the adjoint of one function; also the hooks that add saves to its primal."""

    def __init__(self, act: Activity, namer: Namer, destructive: bool, functional: bool = False,
                 used: list | None = None):
        LoopAdjoint.__init__(self)
        CallAdjoint.__init__(self)
        self.act = act
        # where the code depends on a known (tuple) shape, an entry (see pipeline: then the
        # code holds for the argument shapes it was made for only)
        self.used = used if used is not None else []
        self.namer = namer
        self.destructive = destructive  # pop saved values (grad) or read them (vjp)
        self.names: dict[str, str] = {}  # primal name -> adjoint name, where one exists
        self.adjoint_names: dict[str, str] = {}  # stable adjoint name of each primal name
        self.out: list = []
        self.depth = 0  # branches entered while walking backwards
        self.counters: set = set()  # the counters of for loops (ints: range's items)
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
        self.emit(assign(tmp, expr))
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
                        self.contribute(item, call("tree_index", base, const(i)), True)
                    else:
                        self.contribute(item, subscript(base, i))

    def add(self, var: str, expr: gast.expr, maybe_none: bool = False) -> None:
        tree = self.act.kinds.get(var) == "tree"
        if maybe_none and not tree:
            expr = call("tree_fill", expr, name(var))
        current = self.names.get(var)
        if current is None:
            new = self.adjoint_name(var)
            self.names[var] = new
            self.emit(assign(new, expr))
            if not tree and calls(expr, runtime.getitem_grad, runtime.zeros_like_value):
                self.owned.add(var)
            else:
                self.owned.discard(var)
            return
        if tree:
            self.emit(assign(current, call("tree_add", name(current), expr)))
        elif self.functional:
            self.emit(assign(current, fold(gast.BinOp(left=name(current), op=gast.Add(), right=expr))))
        elif var in self.owned and calls(expr, runtime.getitem_grad) and is_name(expr.args[1], var):
            # scatter the entries into the adjoint array in place
            g, index = expr.args[0], expr.args[2]
            if isinstance(index, gast.Name) and index.id in self.counters:  # an int: d[t] += g
                if self.defer_row(var, current, index, g):
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
                self.emit(gast.Expr(value=call("index_add", name(current), index, g)))
        elif var in self.owned and self.defer_product(var, expr):
            return
        elif var in self.owned:
            if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
                self.emit(gast.AugAssign(target=store(current), op=gast.Sub(), value=expr.operand))
            else:
                self.emit(gast.AugAssign(target=store(current), op=gast.Add(), value=expr))
        else:
            self.emit(assign(current, fold(gast.BinOp(left=name(current), op=gast.Add(), right=expr))))
            self.owned.add(var)

    def zeros(self, var: str) -> gast.stmt:
        """Start ``var``'s adjoint at zero (an array this code owns)."""
        self.names[var] = self.adjoint_name(var)
        self.owned.add(var)
        return assign(self.names[var], self.zero(var))

    def zero(self, var: str) -> gast.expr:
        if self.act.shapes.get(var) == SCALAR and self.act.kinds.get(var) != "tree":
            return const(0.0)
        return call("zeros_like_value", name(var))

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
                self.contribute(item, call("tree_index", g, const(i)), True)
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
            raise NoRuleError(f"{rule.name} has a forward-mode rule only, and no reverse-mode one",
                              stmt.loc, hint="differentiate this code in forward mode (jvp, hvp, hessian)")
        mapping: dict[str, gast.expr] = {"g": g, "out": name(stmt.target)}
        for param, atom in cls.bound.items():
            if isinstance(atom, registry.Default):
                mapping[param] = literal_expr(atom.value)
            else:
                mapping[param] = atom_expr(atom)
        sparse = rule.sparse or (rule.fn in (operator.getitem, runtime.setitem)
                                 and self._is_tree(value.args[0]))
        for param, atom in cls.bound.items():
            if (param not in rule.adjoints and param not in rule.nondiff
                    and not isinstance(atom, registry.Default)
                    and any(v in self.act.active for v in ir.atom_vars(atom))):
                raise NoRuleError(
                    f"the rule of {rule.name} has no adjoint for its parameter {param!r}, which "
                    "depends on a differentiated value",
                    stmt.loc, hint=f'give it one in register_adjoint ({param}="<cotangent of '
                    f'{param} in terms of g, out and the arguments>"), or, if {param} carries no '
                    f'gradient, declare it: nondiff=("{param}",)')
        contributions: list = []  # (atom, expr); one per variable, so x * x gives one sum
        for param, template in rule.adjoints.items():
            atom = cls.bound[param]
            if isinstance(atom, registry.Default):
                continue
            if not any(v in self.act.active for v in ir.atom_vars(atom)):
                continue
            expr = fold(registry.instantiate(template, mapping))
            expr = unbroadcast.drop(expr, self.act, stmt.target, self.used)
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

    def _is_tree(self, atom: Any) -> bool:
        return isinstance(atom, ir.Var) and self.act.kinds.get(atom.id) == "tree"

    def active_in(self, stmts: list, phis: list) -> bool:
        """Whether ``stmts`` or the joins ``phis`` assign anything that needs an adjoint."""
        if any(p.target in self.act.active for p in phis):
            return True
        return any(isinstance(s, ir.Assign) and s.target in self.act.active for s in ir.walk(stmts)) or any(
            p.target in self.act.active for s in ir.walk(stmts) if isinstance(s, (ir.If, ir.Loop))
            for p in s.phis)

    def branch(self, stmt: ir.If) -> None:
        if not self.active_in(stmt.body + stmt.orelse, stmt.phis):
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
                    results[1 - i][0].append(assign(adj, self.zero(var)))
                    owned_after[1 - i].add(var)
        self.names = merged
        self.owned = owned_after[0] & owned_after[1]
        branches = self.save_branches(stmt, [code for code, _, _ in results])
        self.emit(gast.If(test=atom_expr(stmt.test), body=branches[0] or [gast.Pass()],
                          orelse=branches[1]))


def _basic_literal(index: gast.expr) -> gast.expr | None:
    """An index written with literals only (ints, ``slice(1, None, None)``, a tuple of
    those) as a subscript's index (``1:``); None for any other."""
    if isinstance(index, gast.Tuple):
        parts = [_basic_literal(e) for e in index.elts]
        if not parts or any(p is None or isinstance(p, gast.Tuple) for p in parts):
            return None
        return gast.Tuple(elts=parts, ctx=gast.Load())
    if type(number(index)) is int:
        return index
    if (is_call(index, "slice") and not index.keywords and 1 <= len(index.args) <= 3
            and all(isinstance(a, gast.Constant) and a.value is None or type(number(a)) is int
                    for a in index.args)):
        none = gast.Constant(value=None, kind=None)
        args = [none, index.args[0]] if len(index.args) == 1 else list(index.args)
        lower, upper, step = (args + [none] * 3)[:3]
        bound = lambda c: None if isinstance(c, gast.Constant) and c.value is None else c  # noqa: E731
        return gast.Slice(lower=bound(lower), upper=bound(upper), step=bound(step))
    return None


def differentiate(
    fn: ir.Function, act: Activity, wrt: tuple, mode: str, namer: Namer, single: bool = True,
    globals_out: dict | None = None, functional: bool = False, seed_holomorphic: bool | None = None,
    real_params: frozenset = frozenset(), complex_scalars: frozenset = frozenset(),
    used: list | None = None,
) -> gast.FunctionDef:
    """Build the derivative function of ``fn`` with respect to the parameters ``wrt``.

    ``seed_holomorphic``: None for a real result; else the result may be complex, and
    the seed checks it, accepting a complex one when this is True (a holomorphic
    function of complex arguments).  ``real_params``: the real parameters of code with
    complex values, whose gradients keep their real part; ``complex_scalars``: the
    parameters that are complex numbers, whose gradients are too."""
    ret = fn.body[-1]
    rev = _Reverse(act, namer, destructive=mode != "vjp", functional=functional, used=used)
    rev.counters = {s.target for s in ir.walk(fn.body) if isinstance(s, ir.Loop) and s.kind == "for"
                    and s.target}
    out_atom = ret.value
    out_expr = atom_expr(out_atom)
    extra_primal = []
    if not isinstance(out_expr, gast.Name) and mode != "grad":
        tmp = namer.temp("_out")
        extra_primal.append(assign(tmp, out_expr))
        out_expr = name(tmp)

    seed_code: list = []
    rev.out = seed_code
    if mode in ("vjp", "vjp_apply"):
        cotangent = namer.fresh("dout")
        rev.contribute(out_atom, name(cotangent))
    else:
        where = f"{os.path.basename(ret.loc.filename)}:{ret.loc.lineno}"
        seed = call("seed", out_expr, const(where))
        if seed_holomorphic is not None:
            seed.args.append(const(seed_holomorphic))
        elif isinstance(out_atom, ir.Var) and act.shapes.get(out_atom.id) == SCALAR:
            seed = const(1.0)  # certainly a real scalar: no check needed
        seed_name = namer.fresh("d" + out_atom.id if isinstance(out_atom, ir.Var) else "dout")
        rev.emit(assign(seed_name, seed))
        if isinstance(out_atom, ir.Var) and out_atom.id in act.active:
            rev.names[out_atom.id] = seed_name
    adjoint = seed_code + rev.block(fn.body[:-1])
    primal = block_nodes(fn.body[:-1], rev) + extra_primal
    if globals_out is not None:
        globals_out.update(rev.globals)

    grads = [_final_gradient(p, act, rev, p in real_params) for p in wrt]
    grads = [call("complex", g) if p in complex_scalars else g for p, g in zip(wrt, grads)]
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
        value = call("real_like", name(current), name(param)) if real else name(current)
        if kind == "tree":
            return call("tree_fill", value, name(param))
        if kind == "float":
            return call("float", value)  # a float for a float, not a 0-d array
        return value
    if kind == "float":
        return const(0.0)
    if kind == "tree":
        return call("zeros_like_tree", name(param))
    return gast.Call(func=gast.Attribute(value=name("np"), attr="zeros_like", ctx=gast.Load()),
                     args=[name(param)], keywords=[])
