"""Reading and writing entries: the cotangents of ``x[index]``, ``np.take`` and of an
assignment ``x[index] = value`` (spelled :func:`setitem`, a new value), and the in-place
accumulation of indexed cotangents into an adjoint array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .broadcasting import unbroadcast
from .support import stacked_or_none


def _is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        p is None or p is Ellipsis or isinstance(p, (int, slice, np.integer)) for p in parts
    )


def getitem_grad(g: Any, x: Any, index: Any) -> Any:
    """Cotangent of ``x`` in ``x[index]``.

    Arrays: zeros with ``g`` added at ``index`` (``np.add.at`` when an integer array
    index can repeat an entry, so repeats sum).  Containers: a container with ``g`` at
    ``index`` and None (zero) elsewhere.
    """
    if isinstance(x, dict):
        return None if g is None else {index: g}
    if isinstance(x, (list, tuple)):
        if g is None:
            return None
        grad = [None] * len(x)
        grad[index] = g
        return grad
    if g is None:
        return None
    out = np.zeros_like(x, dtype=np.result_type(x, g, 1.0))
    if _is_basic_index(index) or getattr(index, "dtype", None) == np.bool_:
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def getitem_grad_to(g: Any, shape: tuple, index: Any) -> Any:
    """``getitem_grad`` for an array given its shape rather than the array: what a
    loop's adjoint uses where the primal iteration kept only the shape.

    >>> getitem_grad_to(np.ones(2), (4,), slice(1, 3)).tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    if g is None:
        return None
    out = np.zeros(shape, dtype=np.result_type(g, 1.0))
    if _is_basic_index(index) or getattr(index, "dtype", None) == np.bool_:
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def index_add(acc: Any, index: Any, g: Any) -> None:
    """``acc[index] += g`` in place, summing repeated integer indices (``np.add.at``).

    Generated code calls it to accumulate an indexed read's cotangent into an adjoint
    array it created itself, instead of adding a fresh array of zeros each time.
    """
    if _is_basic_index(index) or getattr(index, "dtype", None) == np.bool_:
        acc[index] += g
    else:
        np.add.at(acc, index, g)


def add_rows(acc: Any, rows: range, grads: list) -> None:
    """``acc[t] += g`` for each row ``t`` of ``rows`` and its ``g`` in ``grads``, which a
    loop's adjoint collected walking ``rows`` backwards (the last row's first): one
    stacked addition after the loop instead of an indexed update per iteration.
    Empties ``grads``, the generated code's own list.

    >>> acc = np.zeros((3, 2))
    >>> add_rows(acc, range(1, 3), [np.full(2, 2.0), np.ones(2)])
    >>> acc.tolist()
    [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    """
    if not grads:
        return
    grads.reverse()
    stacked = stacked_or_none(grads)
    if stacked is None:  # numbers, or cotangents of different shapes (broadcast to the row)
        for t, g in zip(rows, grads):
            acc[t] += g
        grads.clear()
        return
    grads.clear()
    # rows counting up from 0 or more are a slice; negative ones may name a row twice
    index_add(acc, slice(rows.start, rows.stop, rows.step) if rows.step > 0 and rows.start >= 0
              else np.asarray(rows), stacked)


def take_grad(g: Any, a: Any, indices: Any, axis: Any = None) -> Any:
    """Cotangent of ``np.take``: ``g`` added back at the taken indices (repeats sum)."""
    out = np.zeros_like(a, dtype=np.result_type(a, g))
    if axis is None:
        flat = np.reshape(out, -1)
        np.add.at(flat, indices, g)
        return out
    axis = axis % np.ndim(a)
    k = np.ndim(indices)
    moved = np.moveaxis(out, axis, 0)  # a view: adding into it adds into out
    np.add.at(moved, indices, np.moveaxis(g, list(range(axis, axis + k)), list(range(k))))
    return out


def setitem(x: Any, index: Any, value: Any) -> Any:
    """``x`` with ``x[index] = value``, as a new array (or container): how generated code
    spells an assignment into an entry, so every earlier version keeps its value."""
    out = x.copy()
    out[index] = value
    return out


def setitem_grad_x(g: Any, index: Any) -> Any:
    """Cotangent of ``x`` in ``setitem(x, index, value)``: the overwritten entries get none."""
    if g is None:
        return None
    out = g.copy()
    if isinstance(out, dict):
        out.pop(index, None)
    elif isinstance(out, list):
        if isinstance(index, slice):
            out[index] = [None] * len(out[index])
        else:
            out[index] = None
    else:
        out[index] = 0.0
    return out


def setitem_grad_value(g: Any, index: Any, value: Any) -> Any:
    """Cotangent of ``value`` in ``setitem(x, index, value)``: what reached the entries it
    was written to (summed back over broadcasting).

    Where an integer array index names an entry more than once, NumPy keeps the last of
    the values written there; the earlier ones get no cotangent.

    >>> setitem_grad_value(np.array([1.0, 2.0, 3.0]), np.array([0, 0, 2]), np.ones(3)).tolist()
    [0.0, 1.0, 3.0]
    """
    if g is None:
        return None
    if isinstance(g, dict):
        return g.get(index)
    if isinstance(g, list):
        return g[index]
    part = g[index]
    if not _cannot_repeat(index):
        part = np.where(last_writes(np.shape(g), index), part, 0.0)
    return unbroadcast(part, value)


def _cannot_repeat(index: Any) -> bool:
    """Whether ``index`` names each entry at most once: basic indices and a boolean mask."""
    return _is_basic_index(index) or getattr(index, "dtype", None) == np.bool_


def last_writes(shape: tuple, index: Any) -> Any:
    """For ``x[index] = value`` on an array of ``shape``: a boolean array shaped like
    ``x[index]``, True where that element of the (broadcast) value is the one NumPy leaves
    in its entry (the last one written there).  Found by writing the elements' positions
    with the same index, so it follows NumPy's own order of writes.

    >>> last_writes((3,), np.array([0, 2, 0])).tolist()
    [False, True, True]
    """
    written = np.zeros(shape, dtype=np.intp)
    picked_shape = np.shape(written[index])
    order = np.reshape(np.arange(int(np.prod(picked_shape, dtype=np.intp)), dtype=np.intp), picked_shape)
    written[index] = order
    return written[index] == order


def write_back(h: Any, like: Any, index: Any) -> Any:
    """Zeros shaped like ``like`` with ``h`` written at ``index`` (``h`` broadcast, the last
    write winning where an index repeats): the adjoint of ``setitem_grad_value``, which
    reads the entries that the last writes reached.  For a container ``like``, a container
    with ``h`` at ``index`` and None (zero) elsewhere.

    >>> write_back(np.array([1.0, 2.0, 3.0]), np.zeros(3), np.array([0, 0, 2])).tolist()
    [2.0, 0.0, 3.0]
    """
    if h is None or isinstance(like, (dict, list, tuple)):
        return getitem_grad(h, like, index)
    out = np.zeros_like(like, dtype=np.result_type(like, h, 1.0))
    out[index] = h
    return out
