"""shapes: the concrete shape of a call's result, from the shapes of its arguments.

When a derivative is specialised to the shapes its arguments had on the first call,
the activity pass knows the shape of each parameter and works out the shapes of the
values computed from them with :func:`result_shape`.  Only operations whose result
shape follows from the argument shapes alone are covered (broadcasting, matrix
products, basic indexing, reductions over a literal axis, reshapes to a literal
shape, joins); anything else, or anything that depends on the data (a boolean mask),
is unknown (``None``).  A wrong answer here would drop an ``unbroadcast`` the
gradient needs, so every rule errs towards ``None``.

>>> import operator
>>> from srcdiff import ir
>>> known = {"h": (64,), "W": (64, 32), "xs": (50, 16)}
>>> shape_of = lambda atom: known.get(atom.id)
>>> call = ir.Call(ir.Prim(operator.matmul), (ir.Var("h"), ir.Var("W")))
>>> result_shape(call, shape_of, set())
(32,)
>>> row = ir.Call(ir.Prim(operator.getitem), (ir.Var("xs"), ir.Var("t")))
>>> result_shape(row, shape_of, {"t"})
(16,)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ir

__all__ = ["result_shape", "is_number", "broadcast", "expanded", "literal", "literal_arguments", "LIKE"]

Shape = tuple

_REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std,
               np.nansum, np.nanmean}
_REDUCING_METHODS = {"sum", "mean", "prod", "max", "min", "var", "std"}
_REDUCTION_ARGS = ("axis", "dtype", "out", "keepdims")
LIKE = {np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.copy}
_MAKERS = {np.zeros, np.ones, np.empty, np.full}
_BROADCASTING = {np.where, np.clip}


def is_number(value: Any) -> bool:
    """A number whose shape is () and never changes: what a global constant may be."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def literal(atom: Any, ints: frozenset | set = frozenset()) -> Any:
    """The Python value of an atom written with literals; ``_NO`` when it is not one.
    In an index, ``0`` stands for a name in ``ints`` (a loop's integer counter): any
    integer in range selects the same shape."""
    if isinstance(atom, ir.Const):
        return atom.value
    if isinstance(atom, ir.Var):
        return 0 if atom.id in ints else _NO
    if isinstance(atom, ir.Tup):
        items = tuple(literal(a, ints) for a in atom.items)
        return _NO if any(i is _NO for i in items) else items
    if isinstance(atom, ir.Slc):
        # a slice's bounds must be literals: x[t:] has a shape that depends on t
        parts = [literal(p) for p in (atom.lower, atom.upper, atom.step)]
        if any(p is _NO for p in parts) or any(isinstance(p, int) and p == 0 for p in parts[2:]):
            return _NO
        return slice(*parts)
    return _NO


class _No:
    pass


_NO = _No()


def _index_shape(shape: Shape, index: Any) -> Shape | None:
    """Basic indexing (integers, slices, None, Ellipsis): index a zero-strided view of
    that shape, which costs nothing whatever the shape."""
    parts = index if isinstance(index, tuple) else (index,)
    if not all(p is None or p is Ellipsis or isinstance(p, slice)
               or (isinstance(p, int) and not isinstance(p, bool)) for p in parts):
        return None
    try:
        return np.broadcast_to(np.empty((), np.int8), shape)[index].shape
    except (IndexError, ValueError, TypeError):
        return None


def _axes(axis: Any, ndim: int) -> tuple | None:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(a, int) and not isinstance(a, bool) and -ndim <= a < ndim for a in axes):
        return None
    normal = {a % ndim for a in axes}
    return tuple(sorted(normal)) if len(normal) == len(axes) else None  # NumPy rejects repeats


def reduced_shape(shape: Shape, axis: Any, keepdims: Any) -> Shape | None:
    axes = _axes(axis, len(shape))
    if axes is None or not isinstance(keepdims, bool):
        return None
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def matmul_shape(a: Shape, b: Shape) -> Shape | None:
    if not a or not b:
        return None
    if len(a) == 1 and len(b) == 1:
        return () if a == b else None
    if len(a) == 1:
        return b[:-2] + b[-1:] if a[0] == b[-2] else None
    if len(b) == 1:
        return a[:-1] if a[-1] == b[0] else None
    if a[-1] != b[-2]:
        return None
    try:
        batch = np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        return None
    return tuple(batch) + (a[-2], b[-1])


def _reshaped(shape: Shape, new: Any) -> Shape | None:
    new = new if isinstance(new, tuple) else (new,)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= -1 for n in new):
        return None
    size = math.prod(shape)
    if new.count(-1) > 1:
        return None
    if -1 in new:
        rest = math.prod(n for n in new if n != -1)
        if rest == 0 or size % rest:
            return None
        new = tuple(size // rest if n == -1 else n for n in new)
    return new if math.prod(new) == size else None


def _joined(shapes: list, axis: Any, stack: bool) -> Shape | None:
    if not shapes or not isinstance(axis, int) or isinstance(axis, bool):
        return None
    first = shapes[0]
    if stack:
        if any(s != first for s in shapes) or not -len(first) - 1 <= axis <= len(first):
            return None
        axis %= len(first) + 1
        return first[:axis] + (len(shapes),) + first[axis:]
    if not first or not -len(first) <= axis < len(first):
        return None
    axis %= len(first)
    if any(len(s) != len(first) or s[:axis] + s[axis + 1:] != first[:axis] + first[axis + 1:]
           for s in shapes):
        return None
    return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]


def literal_arguments(call: ir.Call, names: tuple) -> dict | None:
    """The call's arguments after the first, by ``names``, as literals (None when one
    is not a literal or is not among ``names``)."""
    values = {}
    for name, atom in zip(names, call.args[1:]):
        values[name] = literal(atom)
    if len(call.args) - 1 > len(names):
        return None
    for name, atom in call.kwargs:
        if name not in names:
            return None
        values[name] = literal(atom)
    return None if any(v is _NO for v in values.values()) else values


def result_shape(call: ir.Call, shape_of: Callable[[Any], Shape | None], ints: set) -> Shape | None:
    """The shape of ``call``'s result, given ``shape_of(atom)`` (None: unknown; a Python
    number's shape is ()) and the names certainly holding Python integers."""
    try:
        return _result_shape(call, shape_of, ints)
    except (TypeError, ValueError):  # an unhashable callee, literals of an unexpected type
        return None


def _result_shape(call: ir.Call, shape_of: Callable, ints: set) -> Shape | None:
    fn, args = call.fn, call.args
    if not args:
        return _made(call)
    first = shape_of(args[0])
    if isinstance(fn, ir.Method):
        if first is None:
            return None
        if fn.name in _REDUCING_METHODS:
            return _reduction(first, literal_arguments(call, _REDUCTION_ARGS))
        if fn.name == "reshape":
            shape = tuple(literal(a) for a in args[1:])
            return _reshaped(first, shape[0] if len(shape) == 1 else shape) if shape else None
        if fn.name == "transpose" and len(args) == 1 and not call.kwargs:
            return first[::-1]
        if fn.name == "copy" and len(args) == 1:
            return first
        return None
    if isinstance(fn, ir.Attr):
        return first[::-1] if fn.name == "T" and first is not None else None
    obj = fn.value
    if obj is operator.matmul or obj is np.matmul or obj is np.dot:
        second = shape_of(args[1]) if len(args) == 2 else None
        if first is None or second is None or call.kwargs:
            return None
        if obj is np.dot and (len(first) > 2 or len(second) > 2):
            return None  # dot of N-d arrays is not matmul's product
        return matmul_shape(first, second)
    if obj is operator.getitem:
        index = literal(args[1], ints)
        return None if first is None or index is _NO else _index_shape(first, index)
    if obj in _REDUCTIONS:
        return None if first is None else _reduction(first, literal_arguments(call, _REDUCTION_ARGS))
    if obj in LIKE:
        return first if len(args) <= 2 and not call.kwargs else None
    if obj is np.transpose and len(args) == 1 and not call.kwargs:
        return None if first is None else first[::-1]
    if obj is np.reshape and len(args) == 2 and not call.kwargs:
        new = literal(args[1])
        return None if first is None or new is _NO else _reshaped(first, new)
    if obj is np.expand_dims and len(args) == 2 and not call.kwargs:
        return expanded(first, literal(args[1]))
    if obj is np.outer and len(args) == 2 and not call.kwargs:
        second = shape_of(args[1])
        return None if first is None or second is None else (math.prod(first), math.prod(second))
    if obj in (np.concatenate, np.stack) and isinstance(args[0], (ir.Tup, ir.Lst)):
        parts = [shape_of(a) for a in args[0].items]
        found = literal_arguments(call, ("axis",))
        if any(p is None for p in parts) or found is None:
            return None
        return _joined(parts, found.get("axis", 0), obj is np.stack)
    if obj in _MAKERS:
        return _made(call)
    if obj in _BROADCASTING and not call.kwargs:
        return broadcast([shape_of(a) for a in args])
    return None


def broadcast(shapes: list) -> Shape | None:
    """The shape operands of these shapes broadcast to (None: one is unknown, or they
    do not broadcast)."""
    if any(s is None for s in shapes):
        return None
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def expanded(shape: Shape | None, axis: Any) -> Shape | None:
    """``np.expand_dims``'s result shape for a literal int ``axis``."""
    if shape is None or type(axis) is not int or not -len(shape) - 1 <= axis <= len(shape):
        return None
    axis %= len(shape) + 1
    return shape[:axis] + (1,) + shape[axis:]


def _reduction(shape: Shape, found: dict | None) -> Shape | None:
    """A reduction's result, given its literal arguments (``literal_arguments``)."""
    if found is None or found.get("dtype") is not None or found.get("out") is not None:
        return None
    return reduced_shape(shape, found.get("axis"), found.get("keepdims", False))


def _made(call: ir.Call) -> Shape | None:
    """``np.zeros((2, 3))`` and the like: the shape written as a literal."""
    fn = call.fn
    if isinstance(fn, (ir.Method, ir.Attr)) or fn.value not in _MAKERS or not call.args:
        return None
    shape = literal(call.args[0])
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool)
                                               and n >= 0 for n in shape):
        return None
    return shape
