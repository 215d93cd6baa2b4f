"""Lists, and the methods that change their receiver, spelled as new values.

In generated code ``items.append(x)`` becomes ``items = list_append(items, x)`` and
``y.sort()`` becomes ``y = sort_value(y)``, so every earlier version keeps its value;
here are those helpers and the ones their adjoints and tangents need.  Also the
cotangents of builtin ``sum`` over a sequence's items, and what ``for`` iterates
(:func:`as_sequence`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import NoRuleError
from .broadcasting import unbroadcast, unbroadcast_to
from .shapes import sort_grad, sort_tangent


def seq_sum_grad(g: Any, items: Any) -> Any:
    """Cotangents of the items of builtin ``sum(items)``: ``g`` for each, unbroadcast.

    ``items`` a list or tuple gives a list; an array, whose items ``sum`` adds are its
    rows along the first axis, gives an array of its shape (each row's cotangent).

    >>> seq_sum_grad(np.array([1.0, 2.0]), np.ones((3, 2))).tolist()
    [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]
    """
    if isinstance(items, (list, tuple)):
        return [unbroadcast(g, item) for item in items]
    shape = np.shape(items)
    if shape[0] == 0:
        return np.zeros(shape, dtype=np.result_type(items, 1.0))
    row = unbroadcast_to(g, shape[1:])
    return np.array(np.broadcast_to(row, shape))  # writable, not a read-only view


def list_append(items: list, item: Any) -> list:
    """``items.append(item)`` as a new list: how generated code spells an append.

    Every version of a growing list stays as it was, so the adjoint of ``ys[-1]`` read
    before a later append still reads the entry it read then (the effects pass refuses
    an append that another live name holding the list would see).
    """
    return [*items, item]


def list_prefix(g: Any) -> Any:
    """The cotangent of a list before its last append: all but the last entry."""
    return None if g is None else g[:-1]


# -- a method that changes its receiver, as a new value (``y.sort()`` -> ``y = sort_value(y)``)
# Every helper here checks its receiver's kind (what the method exists on), so a user's
# object with a method of the same name fails as it would in Python rather than being
# taken for an array or list.  A None cotangent (zero) gives None.


def _stable_order(items: list) -> list:
    """The positions of ``items`` in the order ``sorted(items)`` puts them (stable)."""
    return sorted(range(len(items)), key=items.__getitem__)


def _require(x: Any, kinds: tuple, method: str) -> None:
    if not isinstance(x, kinds):
        raise NoRuleError(
            f"srcdiff runs .{method}() of {' and '.join(k.__name__ for k in kinds)} only, on a new "
            f"value; this receiver is a {type(x).__name__}",
            hint=f"call the method through its class ({type(x).__name__}.{method}(obj, ...)) and "
            "return the changed object, or compute a new value instead of changing one in place")


def sort_value(a: Any, axis: Any = -1, kind: Any = None) -> Any:
    """``a.sort(...)`` as a new value: ``np.sort`` for an array, ``sorted`` for a list.

    >>> sort_value([3.0, 1.0, 2.0]), sort_value(np.array([3.0, 1.0])).tolist()
    ([1.0, 2.0, 3.0], [1.0, 3.0])
    """
    if isinstance(a, list):
        if axis != -1 or kind is not None:
            raise TypeError("list.sort() takes no axis= or kind= argument")
        return sorted(a)
    if not hasattr(a, "ndim"):
        _require(a, (list, np.ndarray), "sort")
    return np.sort(a, axis=axis, kind=kind)


def sort_value_grad(g: Any, a: Any, axis: Any = -1) -> Any:
    """Cotangent of ``a`` in ``sort_value(a)``: ``g`` sent back to where each entry came from."""
    if g is None:
        return None
    if isinstance(a, list):
        out = [None] * len(a)
        for k, i in enumerate(_stable_order(a)):
            out[i] = g[k]
        return out
    return sort_grad(g, a, axis)


def sort_value_tangent(t: Any, a: Any, axis: Any = -1) -> Any:
    """Tangent of ``sort_value(a)`` given ``a``'s: ``t`` in the sorted order."""
    if t is None:
        return None
    if isinstance(a, list):
        return [t[i] for i in _stable_order(a)]
    return sort_tangent(t, a, axis)


def array_fill(a: Any, value: Any) -> Any:
    """``a.fill(value)`` as a new array: ``np.full_like(a, value)`` (an array's method only)."""
    if not hasattr(a, "ndim"):
        _require(a, (np.ndarray,), "fill")
    return np.full_like(a, value)


def list_extend(items: Any, more: Any) -> Any:
    """``items.extend(more)`` as a new list.

    >>> list_extend([1.0], (2.0, 3.0))
    [1.0, 2.0, 3.0]
    """
    if items is None and more is None:
        return None  # (zero cotangents of both: a zero)
    _require(items, (list,), "extend")
    return [*items, *more]


def list_head(g: Any, like: Any) -> Any:
    """The first ``len(like)`` entries of ``g``: the cotangent of ``items`` in ``list_extend``."""
    return None if g is None else list(g[:len(like)])


def list_tail(g: Any, like: Any, more: Any = None) -> Any:
    """``g`` after its first ``len(like)`` entries: the cotangent of ``more`` in
    ``list_extend``; stacked into an array (zeros for None) where ``more`` is an array.

    >>> list_tail([1.0, None, 3.0], [0.0]), list_tail([1.0, None], [], np.ones(2)).tolist()
    ([None, 3.0], [1.0, 0.0])
    """
    if g is None:
        return None
    tail = list(g[len(like):])
    if more is None or isinstance(more, (list, tuple)) or not hasattr(more, "ndim"):
        return tail
    if not tail:
        return np.zeros_like(more, dtype=np.result_type(more, 1.0))
    return np.stack([np.zeros_like(more[k], dtype=np.result_type(more, 1.0)) if x is None else x
                     for k, x in enumerate(tail)])


def list_pad_to(g: Any, like: Any) -> Any:
    """``g`` with None (zero) entries appended up to ``len(like)``: adjoint of ``list_head``."""
    return None if g is None else list(g) + [None] * (len(like) - len(g))


def list_pad_front(g: Any, like: Any) -> Any:
    """``g`` after ``len(like)`` None (zero) entries: adjoint of ``list_tail``."""
    return None if g is None else [None] * len(like) + list(g)


def list_reversed(items: Any) -> Any:
    """``items.reverse()`` as a new list (its own adjoint and tangent)."""
    if items is None:
        return None
    _require(items, (list,), "reverse")
    return items[::-1]


def _insert_position(n: int, i: Any) -> int:
    """Where ``list.insert(i, v)`` puts ``v`` in a list of length ``n``."""
    i = int(i)
    return min(i, n) if i >= 0 else max(n + i, 0)


def list_insert(items: Any, i: Any, item: Any) -> Any:
    """``items.insert(i, item)`` as a new list.

    >>> list_insert([1.0, 2.0], -1, 9.0), list_insert([1.0], 5, 9.0)
    ([1.0, 9.0, 2.0], [1.0, 9.0])
    """
    if items is None and item is None:
        return None
    _require(items, (list,), "insert")
    k = _insert_position(len(items), i)
    return [*items[:k], item, *items[k:]]


def list_delete(g: Any, like: Any, i: Any) -> Any:
    """``g`` without the entry ``list_insert(like, i, ...)`` put in: cotangent of ``items``."""
    if g is None:
        return None
    k = _insert_position(len(like), i)
    return [*g[:k], *g[k + 1:]]


def list_entry(g: Any, like: Any, i: Any) -> Any:
    """The entry of ``g`` that ``list_insert(like, i, ...)`` put in: cotangent of ``item``."""
    return None if g is None else g[_insert_position(len(like), i)]


def list_unentry(g: Any, like: Any, i: Any) -> Any:
    """A list of len(like) + 1 None (zero) entries holding ``g`` where ``list_insert(like,
    i, ...)`` puts its item: the adjoint of ``list_entry``."""
    return None if g is None else list_insert([None] * len(like), i, g)


def cleared(x: Any) -> Any:
    """``x.clear()`` as a new value: an empty list or dict."""
    _require(x, (list, dict), "clear")
    return type(x)()


def as_sequence(x: Any) -> Any:
    """What ``for item in x`` iterates, as something indexable: arrays, lists, tuples and
    ranges as they are, anything else (dicts, sets, generators) as a list."""
    if isinstance(x, (list, tuple, range)) or getattr(x, "ndim", 0) >= 1:
        return x
    return list(x)
