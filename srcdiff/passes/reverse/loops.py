"""What loops save for their adjoint, and the loop's adjoint itself.

A loop's adjoint runs its iterations backwards.  The values the adjoint of an
iteration reads, and only those, are appended to a plain list by the primal loop
(``_stack``) and popped by the adjoint loop; code that will be differentiated again
reads the list by index instead, and a pullback (which may run more than once) through
an iterator.  A loop-carried value whose next value is read too is not stored twice:
the next value of iteration k is the header value of iteration k + 1.  A branch in a
loop pushes what its adjoint reads when it ends.  Less is kept where it can be: only
the shape of a value read only for its shape, nothing for a value every iteration
computes alike from values from outside the loop, and small values of one known shape
in the rows of one array made for all iterations.  A ``while`` loop, or one that may
break, counts its iterations; adjoints from outside the loop that its body adds to
start at zero before it, and a sum of matrix products or of rows is added once after it.

>>> import numpy as np
>>> import srcdiff.rules
>>> from srcdiff.emit import to_source
>>> from srcdiff.names import Namer
>>> from srcdiff.pipeline import lower_to_ir
>>> from srcdiff.passes.activity import analyze
>>> from srcdiff.passes.reverse import differentiate
>>> def f(x, n):
...     for i in range(n):
...         x = np.sin(x)
...     return x
>>> fn = lower_to_ir(f)
>>> act = analyze(fn, ("x",), {"x": "array", "n": "float"})
>>> tree = differentiate(fn, act, ("x",), "grad", Namer(["x", "n", "i", "_t0", "x_1", "x_2", "x_3"]))
>>> print(to_source(tree).rstrip())
def grad_f(x, n):
    _t0 = range(n)
    x_1 = x
    _stack0 = []
    for i in _t0:
        x_2 = np.sin(x_1)
        _stack0.append(x_1)
        x_1 = x_2
    x_3 = x_1
    dx_3 = seed(x_3, '<doctest...>:4')
    _dx_1 = dx_3
    for i in reversed(_t0):
        x_1 = _stack0.pop()
        dx_2 = _dx_1
        # Grad of: x = np.sin(x)
        dx_1 = dx_2 * np.cos(x_1)
        _dx_1 = dx_1
    dx = _dx_1
    return dx
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from ... import ir, runtime
from ...emit import atom_expr, calls, name, store, walk
from ..activity import elementwise
from .nodes import assign, call, const, is_name, loads_minus_stores

__all__ = ["LoopAdjoint"]

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


class LoopAdjoint:
    """The adjoint builder's loops (a mixin of the sweep's builder, whose ``act``,
    ``namer``, ``names``, ``out``, ``depth``, ``destructive``, ``functional``,
    ``user_calls`` and adjoint methods it uses); also the hooks that add the saves to
    the primal."""

    def __init__(self) -> None:
        self.loops: dict[int, _Saved] = {}
        self.branch_saves: dict[tuple, tuple] = {}  # (id(if), which) -> (stack, names)
        self.loop_stack: list = []  # enclosing loops while walking backwards

    def loop(self, loop: ir.Loop) -> None:
        if not self.active_in(loop.body, loop.phis):
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
                self.emit(assign(carry, name(self.names[exit_name])))
            elif exit_name is None and not self.destructive \
                    and not isinstance(self.zero(phi.target), gast.Constant):
                # A pullback may restore the header under its own name in the loop below,
                # which makes the name local to it: it reads a copy the primal keeps.
                last = self.namer.fresh(phi.target + "_last")
                saved.after.append(assign(last, name(phi.target)))
                self.emit(assign(carry, call("zeros_like_value", name(last))))
            else:
                self.emit(assign(carry, self.zero(exit_name or phi.target)))

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
            ends.append(assign(carries[phi.target],
                                name(header_adj) if header_adj else self.zero(phi.target)))
        self.names = {k: v for k, v in self.names.items() if k not in region}
        self.loop_stack.pop()

        # What the body's adjoint reads from the primal iteration is saved.
        needed = loads_minus_stores(body + ends) & (region | self._child_names(loop.test_body + loop.body))
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
                saved.trips = call("len", atom_expr(loop.iter))
                saved.names = [n for n in saved.names if n not in saved.rows]
                self.used.append(True)
        pre, post = [], []
        for nxt, header in shifts:
            last = header
            if not self.destructive:
                # The pullback restores ``header`` itself, so it cannot also read the
                # primal's final value under that name: the primal keeps a copy.
                last = self.namer.fresh(header + "_last")
                saved.after.append(assign(last, name(header)))
            pre.append(assign(nxt, name(last)))
            post.append(assign(nxt, name(header)))
        if saved.names:
            saved.used = True
            body = self._restore(saved.stack, saved.names) + body
        if saved.rows:
            body = [gast.AugAssign(target=store(saved.index), op=gast.Sub(), value=const(1))] + [
                assign(var, gast.Subscript(value=name(rows), slice=name(saved.index), ctx=gast.Load()))
                for var, rows in saved.rows.items()] + body
        if loop.breaks or loop.kind == "while":
            saved.counter = self.namer.temp("_n")
        if self.functional and saved.used:
            self.emit(assign(_top(saved.stack), call("len", name(saved.stack))))
        elif not self.destructive and saved.used:
            self.emit(assign(_reader(saved.stack), call("reversed", name(saved.stack))))
        for stmt in pre:
            self.emit(stmt)
        for products in [*saved.products.values(), *saved.row_adds.values()]:
            self.emit(assign(products, gast.List(elts=[], ctx=gast.Load())))
        body = body + ends + post
        if loop.kind == "for":
            iterable = atom_expr(loop.iter)
            if saved.counter:
                iterable = gast.Subscript(value=iterable, slice=gast.Slice(
                    lower=None, upper=name(saved.counter), step=None), ctx=gast.Load())
            self.emit(gast.For(target=store(loop.target), iter=call("reversed", iterable),
                               body=body or [gast.Pass()], orelse=[], type_comment=None))
        else:
            self.emit(gast.For(target=store(self.namer.temp("_")),
                               iter=call("range", name(saved.counter)),
                               body=body or [gast.Pass()], orelse=[], type_comment=None))
        for adjoint, row_grads in saved.row_adds.items():
            self.emit(gast.Expr(value=call("add_rows", name(adjoint), atom_expr(loop.iter),
                                            name(row_grads))))
        used = {n.id for stmt in body for n in walk(stmt) if isinstance(n, gast.Name)} \
            if saved.products else set()
        for (var, side), products in saved.products.items():
            total = call("matmul_grads_sum", const(side), name(products), name(var))
            adjoint = self.names[var]
            if adjoint not in used and sum(s == var for s, _ in saved.products) == 1:
                # nothing else adds to it: no zeros to start from
                self.out.remove(saved.zeroed[var])
                self.emit(assign(adjoint, total))
            else:
                self.emit(gast.AugAssign(target=store(adjoint), op=gast.Add(), value=total))
        for phi in carried:
            self.contribute(phi.sources[0], name(carries[phi.target]))

    def defer_product(self, var: str, expr: gast.expr) -> bool:
        """In a loop, ``dW += matmul_grad_b(g, h, W)`` for a ``W`` from outside: collect
        ``(g, h)`` and add all the products after the loop, in one matrix product."""
        if self.functional or not self.loop_stack \
                or not calls(expr, runtime.matmul_grad_a, runtime.matmul_grad_b):
            return False
        saved = self.loop_stack[-1]
        if var not in saved.zeroed or len(expr.args) != 3 or expr.keywords:
            return False
        side = expr.func.id[-1]
        g, a, b = expr.args
        fixed, other = (a, b) if side == "a" else (b, a)
        if not is_name(fixed, var):
            return False
        key = (var, side)
        if key not in saved.products:
            saved.products[key] = self.namer.temp("_products")
        self.emit(_append(saved.products[key], gast.Tuple(elts=[g, other], ctx=gast.Load())))
        return True

    def defer_row(self, var: str, current: str, index: gast.Name, g: gast.expr) -> bool:
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

    def save_branches(self, stmt: ir.If, branches: list) -> list:
        """The adjoints of ``stmt``'s two branches, ``branches``, each starting with the
        restore of the values it reads from its primal, when in a loop."""
        if not self.loop_stack:
            return branches
        # Values defined in a branch and read by its adjoint are pushed when the
        # branch ends and popped when its adjoint starts.
        branches = list(branches)
        saved = self.loop_stack[-1]
        for which, block in enumerate((stmt.body, stmt.orelse)):
            needed = sorted(loads_minus_stores(branches[which])
                            & (ir.defined_names(block) | self._child_names(block)))
            if needed:
                saved.used = True
                self.branch_saves[(id(stmt), which)] = (saved.stack, needed)
                branches[which] = self._restore(saved.stack, needed) + branches[which]
        return branches

    def _restore(self, stack: str, names: list) -> list:
        before = []
        if self.functional:
            # Code that will be differentiated again reads the list by index, from the
            # end (getitem has a reverse rule; pop, which changes the list, has not).
            top = _top(stack)
            before.append(assign(top, gast.BinOp(left=name(top), op=gast.Sub(), right=const(1))))
            source: gast.expr = gast.Subscript(value=name(stack), slice=name(top), ctx=gast.Load())
        elif self.destructive:
            source = gast.Call(func=gast.Attribute(value=name(stack), attr="pop", ctx=gast.Load()),
                               args=[], keywords=[])
        else:
            source = call("next", name(_reader(stack)))
        target: gast.expr = store(names[0]) if len(names) == 1 else gast.Tuple(
            elts=[store(n) for n in names], ctx=gast.Store())
        return before + [gast.Assign(targets=[target], value=source, type_comment=None)]

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
                    elif isinstance(arg, gast.Tuple) and calls(node, runtime.unconcatenate) and i == 1:
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
            if len(uses) == loads.get(var) and all(_reads_shape(site, i, j, self.act.kinds.get(var))
                                                   for site, i, j in uses):
                found.add(var)
        for site in {id(site): site for var in found for site, _, _ in reads[var]}.values():
            if _to_shapes(site, found, self.act.kinds, self.act.shapes):
                self.used.append(True)
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
            out.append(assign(info.stack, gast.List(elts=[], ctx=gast.Load())))
        if info.counter:
            out.append(assign(info.counter, const(0)))
        if info.rows:
            out.append(assign(info.index, const(0)))
        return out

    def end_of_iteration(self, loop: ir.Loop) -> list:
        info = self.loops.get(id(loop))
        if info is None:
            return []
        out = [_push(info.stack, info.names, info.shapes)] if info.names else []
        if info.rows:
            # the rows are made in the first iteration, of the values' own dtype
            first = [assign(rows, gast.Call(
                func=gast.Attribute(value=name("np"), attr="empty", ctx=gast.Load()),
                args=[gast.Tuple(elts=[info.trips, *map(const, self.act.shapes[var])], ctx=gast.Load()),
                      gast.Attribute(value=name(var), attr="dtype", ctx=gast.Load())], keywords=[]))
                for var, rows in info.rows.items()]
            out.append(gast.If(test=gast.Compare(left=name(info.index), ops=[gast.Eq()],
                                                 comparators=[const(0)]),
                               body=first, orelse=[]))
            out += [gast.Assign(targets=[gast.Subscript(value=name(rows), slice=name(info.index),
                                                        ctx=gast.Store())],
                                value=name(var), type_comment=None)
                    for var, rows in info.rows.items()]
            out.append(gast.AugAssign(target=store(info.index), op=gast.Add(), value=const(1)))
        return out

    def after_phis(self, loop: ir.Loop) -> list:
        info = self.loops.get(id(loop))
        if info is None or not info.counter:
            return []
        return [gast.AugAssign(target=store(info.counter), op=gast.Add(), value=const(1))]

    def after_loop(self, loop: ir.Loop) -> list:
        info = self.loops.get(id(loop))
        return list(info.after) if info is not None else []

    def end_of_branch(self, stmt: ir.If, which: int) -> list:
        entry = self.branch_saves.get((id(stmt), which))
        if entry is None:
            return []
        return [_push(*entry)]


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
              and (elementwise(value.callee) or value.callee in (operator.matmul, np.matmul))
              and all(fixed(a) for a in value.args)):
            found.add(stmt.target)
    return found


def _reads_shape(site: gast.Call, position: int, item: int | None, kind: str | None) -> bool:
    """Whether argument ``position`` (entry ``item`` of it) of the call ``site`` is read only
    for its shape."""
    if calls(site, runtime.unbroadcast):
        return position == 1 and item is None and len(site.args) == 2
    if calls(site, runtime.getitem_grad):  # an array's: a container's cotangent is another
        return position == 1 and item is None and kind == "array" and len(site.args) == 3
    if calls(site, runtime.unconcatenate):
        return position == 1 and item is not None and kind == "array" and not site.keywords
    return False


def _to_shapes(site: gast.Call, shaped: set, kinds: dict, classes: dict) -> bool:
    """Rewrite a call of ``_reads_shape`` to its form taking shapes: the names in
    ``shaped`` hold shapes now, or have shapes known already (``classes``); anything
    else is asked for its shape.  Whether a known shape was written in."""
    literal = []

    def shape(node: gast.expr) -> gast.expr:
        known = classes.get(node.id) if isinstance(node, gast.Name) else None
        if isinstance(known, tuple):
            literal.append(node.id)
            return gast.Tuple(elts=[const(n) for n in known], ctx=gast.Load())
        if isinstance(node, gast.Name) and node.id in shaped:
            if kinds.get(node.id) == "float":
                return gast.Tuple(elts=[], ctx=gast.Load())
            return node
        return gast.Call(func=gast.Attribute(value=name("np"), attr="shape", ctx=gast.Load()),
                         args=[node], keywords=[])

    site.func = name(site.func.id + "_to")
    if calls(site, runtime.unconcatenate_to):
        site.args[1] = gast.Tuple(elts=[shape(item) for item in site.args[1].elts], ctx=gast.Load())
    else:
        site.args[1] = shape(site.args[1])
    return bool(literal)


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
            if fn is np.real or fn is np.imag:
                return False  # (of a Python number, a Python number)
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
