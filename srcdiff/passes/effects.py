"""effects: SSA IR -> Effects; which storage each statement writes, which names share it.

srcdiff's primal code never writes into an array in place: ``y[i] = v`` becomes
``y = setitem(y, i, v)`` (a new array), ``y += v`` becomes ``y = y + v``, and
``ys.append(v)`` a new list.  That is exact as long as no *other* name still refers to
the storage written (a view ``b = a[0]``, a copy of the reference ``z = y``, a row of a
loop ``for row in Y``, an element of a list) and is read afterwards: in Python that
name sees the write, in srcdiff's code it would not.  This pass finds, for every write,
the names that may share its storage (may-alias is alias) and refuses the program when
one of them is read after the write.  Writes that srcdiff cannot express as a new value
(``np.add.at``, ``np.copyto``, ``lst.pop()``) are refused outright; ``y.sort()``,
``y.fill(c)``, ``lst.extend(more)``, ``lst.reverse()``, ``lst.insert(i, v)`` and
``lst.clear()`` on a local name are spelled by desugar as new values marked as writes
(``y = sort_value(y)``), checked like ``y += v``.

A function's *summary* says which of its parameters it may write into and which its
result may share; a call to a user function that writes into its argument is a write
at the call site.

>>> import numpy as np
>>> from srcdiff.pipeline import lower_to_ir
>>> def f(a):
...     a = a * 1.0
...     b = a[0]
...     a[0, 0] = 5.0
...     return np.sum(b)
>>> analyze(lower_to_ir(f))
Traceback (most recent call last):
    ...
srcdiff.errors.UnsupportedSyntaxError: ...:4:5: this write also changes the value made at line 3 (b = a[0])...
    a[0, 0] = 5.0
    ^
hint: copy where the view is made (b = a[0].copy()), or before writing (a = a.copy())
>>> def g(a):
...     b = a * 2.0
...     b[0] = 1.0
...     return np.sum(b)
>>> sorted(analyze(lower_to_ir(g)).summary.writes)
[]
"""

from __future__ import annotations

import builtins
import math
import operator
import random
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ir, runtime
from ..errors import UnsupportedSyntaxError
from ..rules import registry

__all__ = ["Effects", "Summary", "analyze", "MUTATING_METHODS"]

# Methods that change their receiver: refused, but for the pops of srcdiff's own code.
MUTATING_METHODS = frozenset({
    "sort", "fill", "put", "partition", "resize", "itemset", "setfield", "setflags", "byteswap",
    "append", "extend", "insert", "remove", "pop", "clear", "reverse", "update", "setdefault",
    "popitem", "discard", "shuffle", "__setitem__", "__delitem__",
    *(f"__i{op}__" for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
                              "and", "or", "xor", "lshift", "rshift")),
})

# Functions that write into an argument.
_MUTATING_FUNCTIONS = {
    np.copyto: "np.copyto(dst, src) writes into dst: assign dst = src * 1.0 (or np.broadcast_to)",
    np.put: "np.put writes into its array: build a new one (y = y.copy(); y[idx] = v)",
    np.place: "np.place writes into its array: use y = np.where(mask, values, y)",
    np.putmask: "np.putmask writes into its array: use y = np.where(mask, values, y)",
    np.fill_diagonal: "np.fill_diagonal writes into its array: add a diagonal matrix instead",
    np.random.shuffle: "shuffling in place: take x[rng.permutation(len(x))] instead",
    random.shuffle: "shuffling in place: take x[rng.permutation(len(x))] instead",
    operator.setitem: "write y[i] = v instead",
    operator.delitem: "build the list without the entry instead",
    builtins.setattr: "srcdiff does not follow attributes set at run time",
    builtins.delattr: "srcdiff does not follow attributes set at run time",
}
_MUTATING_FUNCTIONS.update({getattr(operator, f"i{op}"): f"write x {sym}= y, or x = x {sym} y"
                            for op, sym in (("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"),
                                            ("pow", "**"), ("matmul", "@"), ("floordiv", "//"),
                                            ("mod", "%"))})

# Results that may share storage with the first argument (views, or the same object).
_VIEWS = {
    operator.getitem, np.transpose, np.reshape, np.ravel, np.squeeze, np.swapaxes, np.moveaxis,
    np.rollaxis, np.expand_dims, np.broadcast_to, np.asarray, np.asanyarray, np.ascontiguousarray,
    np.asfortranarray, np.atleast_1d, np.atleast_2d, np.atleast_3d, np.diagonal, np.real, np.imag,
    np.require, np.flip, np.fliplr, np.flipud, np.rot90, runtime.as_sequence, runtime.setitem,
    runtime.list_append, builtins.iter, builtins.next, operator.pos,
}
# Results that are new containers holding (views of) the arguments.
_CONTAINERS_OF_VIEWS = {
    builtins.list, builtins.tuple, builtins.dict, builtins.sorted, builtins.zip, builtins.enumerate,
    builtins.reversed, builtins.filter, builtins.map, np.split, np.array_split, np.hsplit, np.vsplit,
    np.dsplit, np.broadcast_arrays, np.meshgrid, np.nditer,
}


@dataclass(frozen=True)
class Summary:
    """What a call of the function may do to its arguments' storage."""

    writes: frozenset  # parameter names whose storage it may write into
    returns: frozenset  # parameter names whose storage its result may share
    stores: bool = True  # whether its result may have storage at all (False: a number)


@dataclass(frozen=True, eq=False)
class Effects:
    roots: dict  # name -> frozenset of storage ids
    contents: dict  # storage id -> frozenset of storage ids held inside it (containers)
    summary: Summary


Summarize = Callable[[Any], "Summary | None"]


def analyze(fn: ir.Function, summarize: Summarize | None = None, floats: frozenset = frozenset()) -> Effects:
    """The storage analysis of ``fn``; raises a srcdiff error for a write that another
    live name would see, or a write srcdiff cannot express as a new value.  ``floats``
    are parameters known to be Python floats (no storage: ``x += 1`` rebinds them)."""
    summarize = summarize or (lambda callee: None)
    order = _Order(fn)
    roots: dict[str, frozenset] = {p.name: frozenset() if p.name in floats else frozenset({"p:" + p.name})
                                   for p in fn.params}
    contents: dict[str, frozenset] = {}
    containers: set = set()  # storage certainly a list, tuple or dict (not an array)
    writes: list = []  # (stmt, written atom, storage, receiver exempt)

    _check_globals_written(order)
    ref_reads = _global_reads(fn)

    def of(atom: Any) -> frozenset:
        if isinstance(atom, ir.Var):
            return roots.get(atom.id, frozenset())
        if isinstance(atom, ir.Ref):
            value = atom.value
            if isinstance(value, (types.ModuleType, types.FunctionType, type, int, float, complex, str,
                                  bool, type(None))) or callable(value):
                return frozenset()
            return frozenset({"g:" + atom.text})
        if isinstance(atom, (ir.Tup, ir.Lst)):  # (a display passed to a call: a new list)
            return frozenset({"lit"}).union(*(of(a) for a in atom.items))
        return frozenset()

    def reach(ids: frozenset) -> frozenset:
        seen = set(ids)
        todo = list(ids)
        while todo:
            for inner in contents.get(todo.pop(), ()):
                if inner not in seen:
                    seen.add(inner)
                    todo.append(inner)
        return frozenset(seen)

    def hold(container: frozenset, items: frozenset) -> bool:
        changed = False
        for c in container:
            old = contents.get(c, frozenset())
            if not items <= old:
                contents[c] = old | items
                changed = True
        return changed

    def assign(stmt: ir.Assign) -> frozenset:
        target, value = stmt.target, stmt.value
        fresh = frozenset({"n:" + target})
        if isinstance(value, ir.Var):
            return of(value)
        if isinstance(value, (ir.Tup, ir.Lst)):
            containers.update(fresh)
            hold(fresh, reach(of(value)))
            return fresh
        if isinstance(value, (ir.Const, ir.Slc)):
            return frozenset()
        if isinstance(value, ir.Ref):
            return of(value)
        uses = frozenset().union(*(roots.get(n, frozenset()) for n in ir.expr_uses(value)))
        if isinstance(value, ir.Raw):
            return fresh | reach(uses)
        return _call(stmt, value, fresh, uses)

    def _call(stmt: Any, call: ir.Call, fresh: frozenset, uses: frozenset) -> frozenset:
        obj = call.callee
        first = of(call.args[0]) if call.args else frozenset()
        if isinstance(obj, ir.Method):
            if call.args and isinstance(call.args[0], ir.Ref):  # a method of a global: np.add.at
                _check_function(stmt, ir.Call(call.fn, call.args[1:], call.kwargs),
                                getattr(call.args[0].value, obj.name, None))
            if obj.name == "append" and isinstance(stmt, ir.Effect) and isinstance(call.args[0], ir.Ref):
                # history.append(v) into a global list: run as it is (a log the caller reads),
                # as long as the function itself never reads that list
                if call.args[0].text in ref_reads:
                    _refuse_method(stmt, obj.name)
                return frozenset()
            if obj.name in MUTATING_METHODS:
                # Only srcdiff's own code (differentiated again) pops the lists it saved
                # values in: pop has a rule for that, run on the very list.  In the user's
                # code a change in place would break what later passes assume of a name.
                if registry.lookup(obj) is None or not stmt.loc.filename.startswith("<srcdiff "):
                    _refuse_method(stmt, obj.name)
                writes.append((stmt, call.args[0], first, True))
            if obj.name in ("copy", "tolist", "sum", "mean", "dot", "__len__", "__contains__"):
                return fresh | (reach(first) - first if obj.name == "copy" else frozenset())
            return fresh | reach(uses)  # a method may return (part of) its receiver or arguments
        if isinstance(obj, ir.Attr):
            return first | reach(first)
        _check_function(stmt, call, obj)
        if (obj is runtime.setitem or obj is runtime.list_append) and isinstance(call.fn, ir.Prim):
            # (y[i] = v and ys.append(v) in the user's code; a call of setitem written in
            # srcdiff's own code, differentiated again, makes a new value and writes nothing)
            writes.append((stmt, call.args[0], first, False))
            if len(call.args) > 1:
                hold(first, reach(of(call.args[-1])))
            return first
        if isinstance(call.fn, ir.Prim) and call.fn.inplace and first:
            # x op= y, y.sort(), lst.extend(more), ...: in place on an array or list (a
            # number has no storage: it is rebound)
            writes.append((stmt, call.args[0], first, False))
            if obj is runtime.list_extend and len(call.args) > 1:
                more = of(call.args[1])  # the list now holds more's entries (rows of an array)
                held = frozenset().union(*(contents.get(c, frozenset()) for c in more & containers))
                hold(first, reach(more - containers) | reach(held))
            elif obj is runtime.list_insert and len(call.args) > 2:
                hold(first, reach(of(call.args[2])))
            return first
        if _elementwise(obj) and not any(of(a) for a in (*call.args, *(v for _, v in call.kwargs))):
            return frozenset()  # numbers in, a number out (a display or a global array has storage)
        if _known(obj, _TO_NUMBER) and len(call.args) == 1 and all(
                k == "axis" and isinstance(v, ir.Const) and v.value is None for k, v in call.kwargs):
            return frozenset()  # a full reduction: a number
        if obj is operator.getitem:
            arrays = first - containers  # a view of an array; an entry of a container
            held = frozenset().union(*(contents.get(c, frozenset()) for c in first & containers))
            return fresh | reach(arrays) | reach(held)
        if _known(obj, _VIEWS) or obj is np.array and any(
                k == "copy" and not (isinstance(v, ir.Const) and v.value is True) for k, v in call.kwargs):
            return first | fresh  # (np.array(x, copy=False) may be x itself)
        if _known(obj, _CONTAINERS_OF_VIEWS) or (obj in (operator.add, operator.mul) and any(
                isinstance(a, (ir.Lst, ir.Tup)) or of(a) & containers for a in call.args)):
            # (a list built from others: + and * of lists hold the same entries)
            containers.update(fresh)
            direct = frozenset().union(*(of(a) for a in call.args)) & containers
            hold(fresh, reach(uses) - direct if obj in (operator.add, operator.mul) else reach(uses))
            return fresh
        if _is_user(obj):
            summary = summarize(obj)
            if summary is None:
                return fresh | reach(uses)
            bound = _bind(obj, call)
            for param in summary.writes:
                if param in bound:
                    written = of(bound[param])
                    if written:
                        writes.append((stmt, bound[param], written, False))
            shared = [reach(of(bound[p])) for p in summary.returns if p in bound]
            return (fresh if summary.stores else frozenset()).union(*shared)
        if _pure(obj):
            return fresh
        return fresh | reach(uses)  # an unknown callable may return what it was given

    def visit(stmts: list) -> bool:
        changed = False
        for stmt in stmts:
            if isinstance(stmt, ir.Assign):
                new = assign(stmt)
                if not new <= roots.get(stmt.target, frozenset()):
                    roots[stmt.target] = roots.get(stmt.target, frozenset()) | new
                    changed = True
            elif isinstance(stmt, ir.Effect) and isinstance(stmt.value, ir.Call):
                uses = frozenset().union(*(roots.get(n, frozenset()) for n in ir.expr_uses(stmt.value)))
                _call(stmt, stmt.value, frozenset(), uses)
            elif isinstance(stmt, (ir.If, ir.Loop)):
                if isinstance(stmt, ir.Loop):
                    changed |= visit(stmt.test_body)
                    for phi in stmt.phis:
                        changed |= _join(phi.target, [phi.sources[0]])
                changed |= visit(stmt.body)
                if isinstance(stmt, ir.If):
                    changed |= visit(stmt.orelse)
                for phi in stmt.phis:
                    changed |= _join(phi.target, phi.sources)
                for exit_name, header in getattr(stmt, "exits", ()):
                    changed |= _join(exit_name, [ir.Var(header)])
        return changed

    def _join(target: str, sources: Any) -> bool:
        new = frozenset().union(*(of(s) for s in sources))
        old = roots.get(target, frozenset())
        if new <= old:
            return False
        roots[target] = old | new
        return True

    def size() -> int:
        return len(containers) + sum(map(len, contents.values()))

    while True:  # loops feed storage back: iterate to a fixed point (the sets only grow)
        writes.clear()
        before = size()
        if not visit(fn.body) and size() == before:
            break
    sharers: dict = {}  # storage id -> the names that may see it
    for name, ids in roots.items():
        for sid in reach(ids):
            sharers.setdefault(sid, []).append(name)
    for stmt, written, storage, exempt in writes:
        _check_write(stmt, written, storage, exempt, sharers, order)

    param_writes = frozenset(p.name for p in fn.params
                             if any("p:" + p.name in storage for _, _, storage, _ in writes))
    ret = fn.body[-1]
    shared = reach(of(ret.value)) if isinstance(ret, ir.Return) else frozenset()
    returns = frozenset(p.name for p in fn.params if "p:" + p.name in shared)
    frozen = {name: frozenset(ids) for name, ids in contents.items()}
    return Effects(dict(roots), frozen, Summary(param_writes, returns, bool(shared)))


def _check_write(stmt: Any, written: Any, storage: frozenset, exempt: bool, sharers: dict,
                 order: _Order) -> None:
    """Refuse ``stmt`` if a name other than its result that may share ``storage`` is read
    after it (the receiver itself too, unless the write runs as it is: ``exempt``)."""
    result = stmt.target if isinstance(stmt, ir.Assign) else None
    receiver = written.id if isinstance(written, ir.Var) else None
    shared = sorted(s[2:] for s in storage if s.startswith("g:"))
    if shared:  # every other function sees a global (or closure) array as Python leaves it
        raise UnsupportedSyntaxError(
            f"this writes into {shared[0]}, a global or closure value: srcdiff writes into a copy, "
            "so other code reading it would not see the change", stmt.loc,
            hint=f"pass {shared[0]} in as an argument and return the new value, or write into a "
            f"local copy (g = {shared[0]}.copy())")
    if receiver and receiver.startswith("_stack") and stmt.loc.filename.startswith("<srcdiff "):
        # the lists in which srcdiff's own code keeps a loop's values (differentiated again
        # for a second derivative): a new one per outer iteration, stored in the outer
        # loop's list once it is full; one allocation site stands for all of them here
        return
    names = {name for sid in storage for name in sharers.get(sid, ())}
    for name in sorted(names, key=lambda n: order.def_pos.get(n, -1)):
        if name == result or (exempt and name == receiver) or not order.defined_before(name, stmt) \
                or not order.maybe_read_after(name, stmt):
            continue
        read = order.read_after(name, stmt)
        if read is None:
            continue
        made = order.definition(name)
        if name == receiver and isinstance(stmt.value, ir.Call) and _is_user(stmt.value.callee):
            callee = stmt.value.callee.__qualname__
            message = (f"{callee} writes into an argument that is read afterwards (line {read.lineno}): "
                       f"srcdiff runs {callee} on a copy, so the caller would not see the change")
            hint = f"make {callee} return the new value and assign it (x = {callee}(x, ...))"
        else:
            if made is None:
                what = f"the parameter {name!r}"
            elif isinstance(made, ir.Assign):
                what = f"the value made at line {made.loc.lineno} ({made.loc.text.strip()})"
            else:
                kind = "loop" if isinstance(made, ir.Loop) else "if"
                what = f"a value of the {kind} at line {made.loc.lineno}"
            message = (f"this write also changes {what}, read afterwards at line {read.lineno}; "
                       "srcdiff writes into a copy, so that value would not change")
            hint = "copy where the view is made (b = a[0].copy()), or before writing (a = a.copy())"
        raise UnsupportedSyntaxError(message, stmt.loc, hint=hint)


def _global_reads(fn: ir.Function) -> set:
    """The texts of the global values the function reads, but as the receiver of an
    append statement."""
    texts = set()

    def atoms(atom: Any) -> None:
        if isinstance(atom, ir.Ref):
            texts.add(atom.text)
        elif isinstance(atom, (ir.Tup, ir.Lst)):
            for item in atom.items:
                atoms(item)
        elif isinstance(atom, ir.Slc):
            for part in (atom.lower, atom.upper, atom.step):
                atoms(part)

    for stmt in ir.walk(fn.body):
        value = getattr(stmt, "value", None)
        if isinstance(value, ir.Call):
            args = value.args
            if isinstance(stmt, ir.Effect) and value.fn == ir.Method("append"):
                args = args[1:]
            for a in (*args, *(v for _, v in value.kwargs)):
                atoms(a)
        elif value is not None and not isinstance(value, ir.Raw):
            atoms(value)
        for part in (getattr(stmt, "test", None), getattr(stmt, "iter", None)):
            atoms(part)
        for phi in getattr(stmt, "phis", ()):
            for source in phi.sources:
                atoms(source)
    return texts


def _check_globals_written(order: _Order) -> None:
    """``G[i] = v`` for a global (or closure) ``G`` reads ``G`` before the function
    assigns it: srcdiff would write into a local copy that no other code sees."""
    for name, pos, _, _, _, _ in order.reads:
        if order.def_pos.get(name, -1) >= pos:
            stmt = order.definition(name)
            raise UnsupportedSyntaxError(
                f"this writes into {name}, a global or closure value: srcdiff writes into a copy, "
                "so other code reading it would not see the change", stmt.loc,
                hint=f"pass {name} in as an argument and return the new value, or write into a "
                f"local copy (g = {name}.copy())")


def _refuse_method(stmt: Any, name: str) -> None:
    hints = {
        "sort": "write y = np.sort(y) (or sorted(lst) for a list)",
        "fill": "write y = np.full_like(y, value)",
        "put": "write y = y.copy(); y[idx] = values",
        "append": "append to a list held in a local variable (lst.append(v) as a statement)",
        "extend": "build a new list: lst = lst + list(items), or append in a loop",
        "insert": "build a new list: lst = lst[:i] + [v] + lst[i:]",
        "reverse": "write lst = lst[::-1]",
        "clear": "start a new list: lst = []",
        "pop": "read lst[-1] and build lst = lst[:-1]",
        "remove": "build a new list without the entry",
        "shuffle": "take x[rng.permutation(len(x))] instead",
        "update": "build a new dict: d = {**d, **other}",
    }
    raise UnsupportedSyntaxError(
        f".{name}() changes its receiver in place, which srcdiff cannot differentiate",
        stmt.loc,
        hint=hints.get(name, "compute a new value and assign it to a name instead of changing one in place"),
    )


def _check_function(stmt: Any, call: ir.Call, obj: Any) -> None:
    hint = None
    try:
        hint = _MUTATING_FUNCTIONS.get(obj)
    except TypeError:
        return
    if hint is None and getattr(obj, "__name__", None) in ("at", "shuffle") \
            and isinstance(getattr(obj, "__self__", None), (np.ufunc, np.random.Generator,
                                                            np.random.RandomState)):
        hint = ("ufunc.at writes into its first argument: for np.add.at(y, idx, v) write "
                "y = y + np.bincount(idx, weights=v, minlength=len(y)) or a loop of y[i] = y[i] + v[k]"
                if obj.__name__ == "at" else "take x[rng.permutation(len(x))] instead")
    if hint is None and isinstance(obj, np.ufunc) and (len(call.args) > obj.nin
                                                       or any(k == "out" for k, _ in call.kwargs)):
        hint = "drop out= and assign the result to a name"
    if hint is None and getattr(obj, "__name__", None) in MUTATING_METHODS \
            and getattr(obj, "__objclass__", None) in (list, dict, set, np.ndarray):
        hint = f"call it on a local value, or compute a new value instead of {obj.__name__}"
    if hint is not None:
        owner = getattr(obj, "__self__", None)
        name = (f"np.{owner.__name__}.{obj.__name__}" if isinstance(owner, np.ufunc)
                else registry.printable_name(obj))
        raise UnsupportedSyntaxError(f"{name} writes into an existing array or list, which srcdiff "
                                     "cannot differentiate", stmt.loc, hint=hint)


def _elementwise(obj: Any) -> bool:
    """An operator, ufunc or math function: given numbers, it returns a number."""
    try:
        if obj in _NUMBER_FUNCTIONS:
            return True
    except TypeError:
        return False
    if isinstance(obj, np.ufunc):
        return obj.nout == 1
    return getattr(obj, "__module__", None) == "math" or getattr(obj, "__self__", None) is math


_NUMBER_FUNCTIONS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, operator.mod,
                     operator.floordiv, operator.neg, operator.pos, operator.abs, abs, float, int, round, pow,
                     operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
                     operator.not_, operator.truth}


# Functions of one argument whose result is a number (without axis=).
_TO_NUMBER = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.std, np.var, np.median,
              np.linalg.norm, np.linalg.det, np.trace, np.size, np.ndim, np.count_nonzero, np.argmax,
              np.argmin, np.all, np.any, builtins.len, builtins.sum, builtins.float, builtins.int,
              builtins.bool, math.fsum}


def _known(obj: Any, table: set) -> bool:
    try:
        return obj in table
    except TypeError:
        return False


def _pure(obj: Any) -> bool:
    """A callable whose result is new storage (or no storage): every rule and every
    non-differentiable function srcdiff declares, but the views."""
    try:
        return registry.lookup(obj) is not None or registry.is_nondifferentiable(obj) \
            or isinstance(obj, np.ufunc)
    except TypeError:
        return False


def _is_user(obj: Any) -> bool:
    return isinstance(obj, types.FunctionType) and not (obj.__module__ or "").startswith("srcdiff.")


def _bind(fn: Any, call: ir.Call) -> dict:
    """Parameter name -> argument atom of a call to a user function."""
    code = fn.__code__
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    bound = dict(zip(names, call.args))
    bound.update((k, a) for k, a in call.kwargs if k in names)
    return bound


class _Order:
    """Program order and loop nesting of the statements, for "read after" questions."""

    def __init__(self, fn: ir.Function):
        self.position: dict[int, int] = {}  # id(stmt) -> its position
        self.end: dict[int, int] = {}  # id(compound stmt) -> position after its last statement
        self.parents: dict[int, list] = {}  # id(stmt) -> enclosing (stmt, branch) pairs, outermost first
        self.defs: dict[str, Any] = {}  # name -> defining statement (Assign, If, Loop)
        self.def_pos: dict[str, int] = {p.name: -1 for p in fn.params}
        self.reads: list = []  # (name, position, parents, phi branch or None, loc, phi target or None)
        self.counter = 0
        self._walk(fn.body, [])
        # a join whose result nothing reads (a temporary of a branch) reads nothing
        used = {name for name, *_, via in self.reads if via is None}
        changed = True
        while changed:
            changed = False
            for name, *_, via in self.reads:
                if via in used and name not in used:
                    used.add(name)
                    changed = True
        self.reads = [r for r in self.reads if r[-1] is None or r[-1] in used]
        self.reads_of: dict[str, list] = {}
        self.last_read: dict[str, int] = {}
        for read in self.reads:
            self.reads_of.setdefault(read[0], []).append(read)
            self.last_read[read[0]] = max(self.last_read.get(read[0], -1), read[1])

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _read(self, atoms: Any, pos: int, parents: list, loc: Any, branch: Any = None,
              via: Any = None) -> None:
        for atom in atoms:
            for name in ir.atom_vars(atom) if not isinstance(atom, str) else [atom]:
                self.reads.append((name, pos, parents, branch, loc, via))

    def _walk(self, stmts: list, parents: list) -> None:
        for stmt in stmts:
            pos = self._next()
            self.position[id(stmt)] = pos
            self.parents[id(stmt)] = parents
            if isinstance(stmt, ir.Assign):
                self.defs[stmt.target] = stmt
                self.def_pos[stmt.target] = pos
                self._read(ir.expr_uses(stmt.value), pos, parents, stmt.loc)
            elif isinstance(stmt, (ir.Effect, ir.Return)):
                self._read(ir.expr_uses(stmt.value) if isinstance(stmt, ir.Effect)
                           else ir.atom_vars(stmt.value), pos, parents, stmt.loc)
            elif isinstance(stmt, ir.If):
                self._read([stmt.test], pos, parents, stmt.loc)
                self._walk(stmt.body, parents + [(stmt, 0)])
                self._walk(stmt.orelse, parents + [(stmt, 1)])
                end = self._next()
                self.end[id(stmt)] = end
                for phi in stmt.phis:
                    self.defs[phi.target] = stmt
                    self.def_pos[phi.target] = end
                    for which, source in enumerate(phi.sources):
                        self._read([source], end, parents, stmt.loc, branch=(stmt, which), via=phi.target)
            elif isinstance(stmt, ir.Loop):
                inner = parents + [(stmt, 0)]
                for phi in stmt.phis:
                    self.defs[phi.target] = stmt
                    self.def_pos[phi.target] = pos
                    self._read([phi.sources[0]], pos, parents, stmt.loc, via=phi.target)
                if stmt.target:
                    self.defs[stmt.target] = stmt
                    self.def_pos[stmt.target] = pos
                self._read([a for a in (stmt.iter,) if a is not None], pos, parents, stmt.loc)
                self._walk(stmt.test_body, inner)
                self._read([a for a in (stmt.test,) if a is not None], self._next(), inner, stmt.loc)
                self._walk(stmt.body, inner)
                end = self._next()
                for phi in stmt.phis:
                    self._read([phi.sources[1]], end, inner, stmt.loc, via=phi.target)
                self._read(list(stmt.breaks), end, inner, stmt.loc)
                self.end[id(stmt)] = self._next()
                for exit_name, _ in stmt.exits:  # (the header's latest value: not an old one)
                    self.defs[exit_name] = stmt
                    self.def_pos[exit_name] = self.end[id(stmt)]

    def definition(self, name: str) -> Any:
        return self.defs.get(name)

    def defined_before(self, name: str, stmt: Any) -> bool:
        return self.def_pos.get(name, 1 << 60) < self.position[id(stmt)]

    def maybe_read_after(self, name: str, stmt: Any) -> bool:
        """A quick test: False when ``name`` is certainly not read after ``stmt`` (its
        last read comes before ``stmt``, or before the outermost loop around it)."""
        loops = [s for s, _ in self.parents[id(stmt)] if isinstance(s, ir.Loop)]
        start = self.position[id(loops[0])] if loops else self.position[id(stmt)]
        return self.last_read.get(name, -1) >= start

    def read_after(self, name: str, stmt: Any) -> Any:
        """Where ``name`` is read after ``stmt`` runs (a Loc), or None."""
        pos = self.position[id(stmt)]
        parents = self.parents[id(stmt)]
        branches = {id(s): which for s, which in parents if isinstance(s, ir.If)}
        loops = [s for s, _ in parents if isinstance(s, ir.Loop)]
        def_pos = self.def_pos.get(name, -1)
        for _, read_pos, read_parents, branch, loc, _ in self.reads_of.get(name, ()):
            if branch is not None and id(branch[0]) in branches and branches[id(branch[0])] != branch[1]:
                continue  # a join's source from the branch not taken
            if read_pos > pos and not self._exclusive(parents, read_parents):
                return loc
            # a later iteration of an enclosing loop reads what was made outside it
            for loop in loops:
                start, end = self.position[id(loop)], self.end[id(loop)]
                if start < read_pos < end and not start <= def_pos < end:
                    return loc
        return None

    @staticmethod
    def _exclusive(a: list, b: list) -> bool:
        """Whether two statements lie in different branches of one if."""
        other = {id(s): which for s, which in b if isinstance(s, ir.If)}
        return any(id(s) in other and other[id(s)] != which for s, which in a if isinstance(s, ir.If))
