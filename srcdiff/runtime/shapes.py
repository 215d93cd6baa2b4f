"""Moving entries around: reshapes, joins and splits, diagonals, tiles and repeats, padding,
``np.meshgrid``, sorting and ``np.unique``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .indexing import take_grad
from .support import lifted_shapes
from .trees import zeros_like_value


def memory_order(a: Any, order: Any = "C", shape: Any = None) -> str:
    """The index order, "C" or "F", in which ``np.reshape(a, shape, order)`` or
    ``np.ravel(a, order)`` reads ``a`` and writes its result: what their derivatives must
    move the cotangent back in.

    ``"A"`` and ``"K"`` pick an order from ``a``'s memory layout, which srcdiff does not
    keep (a copy-on-write assignment makes a C-ordered copy): they are taken only where
    C and Fortran order agree, for ``a`` and for the result ``shape`` alike (at most one
    axis longer than 1), and refused elsewhere.

    >>> memory_order(np.ones((2, 3)), "F"), memory_order(np.ones((1, 3)), "A", (3,))
    ('F', 'C')
    """
    key = "C" if order is None else str(order).upper()
    if key in ("C", "F"):
        return key
    if key not in ("A", "K"):
        raise ValueError(f"order must be one of 'C', 'F', 'A' or 'K', not {order!r}")
    shapes = [np.shape(a)] + ([] if shape is None else [tuple(shape)])
    if all(sum(n > 1 for n in s) <= 1 for s in shapes):
        return "C"
    raise NotImplementedError(
        f"srcdiff: the derivative of a reshape or ravel with order={order!r} depends on the "
        f"memory layout of the array (shape {np.shape(a)}), which srcdiff does not keep; "
        "write order='C' or order='F'"
    )


def unconcatenate(g: Any, arrays: Any, axis: Any = 0) -> list:
    """Cotangents of the inputs of ``np.concatenate(arrays, axis)``: slices of ``g``."""
    return unconcatenate_to(g, [np.shape(a) for a in arrays], axis)


def unconcatenate_to(g: Any, shapes: Any, axis: Any = 0) -> list:
    """``unconcatenate`` given the inputs' shapes rather than the inputs.

    >>> [p.tolist() for p in unconcatenate_to(np.arange(5.0), [(2,), (3,)])]
    [[0.0, 1.0], [2.0, 3.0, 4.0]]
    """
    if axis is None:
        out, start = [], 0
        flat = np.ravel(g)
        for shape in shapes:
            n = math.prod(shape)
            out.append(np.reshape(flat[start:start + n], shape))
            start += n
        return out
    index = [slice(None)] * np.ndim(g)
    out, start = [], 0
    for shape in shapes:
        n = shape[axis]
        index[axis] = slice(start, start + n)
        out.append(g[tuple(index)])
        start += n
    return out


def unstack(g: Any, axis: int = 0) -> list:
    """Cotangents of the inputs of ``np.stack(arrays, axis)``: the slices along ``axis``."""
    return list(np.moveaxis(g, axis, 0))


def unjoin(g: Any, arrays: Any, axis: int, ndmin: int, columns: bool = False) -> list:
    """Cotangents of the inputs of ``vstack``/``hstack``/``column_stack``.

    Each input was raised to ``ndmin`` dimensions (1-D inputs of ``column_stack``
    become columns) before joining along ``axis``.
    """
    lifted = [np.broadcast_to(0.0, shape) for shape in lifted_shapes(arrays, ndmin, columns)]
    parts = unconcatenate(g, lifted, axis)
    return [np.reshape(p, np.shape(a)) for p, a in zip(parts, arrays)]


def diag_grad(g: Any, v: Any, k: int = 0) -> Any:
    """Cotangent of ``np.diag(v, k)``: the diagonal read back, or written back."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    out = np.zeros_like(v, dtype=np.result_type(v, g))
    rows, cols = np.shape(v)
    i = np.arange(max(0, -k), min(rows, cols - k))
    out[i, i + k] = g
    return out


def sort_grad(g: Any, a: Any, axis: Any = -1) -> Any:
    """Cotangent of ``np.sort``: each entry goes back to where it was sorted from."""
    if axis is None:
        order = np.argsort(a, axis=None)
        out = np.zeros(np.size(a), dtype=np.result_type(a, g))
        out[order] = g
        return np.reshape(out, np.shape(a))
    order = np.argsort(a, axis=axis)
    out = np.zeros_like(a, dtype=np.result_type(a, g))
    np.put_along_axis(out, order, g, axis=axis)
    return out


def sort_tangent(t: Any, a: Any, axis: Any = -1) -> Any:
    """Tangent of ``np.sort(a, axis)``: the tangent entries in the sorted order."""
    if axis is None:
        return np.ravel(t)[np.argsort(a, axis=None)]
    return np.take_along_axis(t, np.argsort(a, axis=axis), axis=axis)


def diagonal_grad(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Cotangent of ``np.diagonal(a, offset, axis1, axis2)``: zeros with ``g`` written back
    on the diagonal (``np.diagonal`` puts the diagonal on the last axis)."""
    out = np.zeros_like(a, dtype=np.result_type(a, g, 1.0))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a view: writing into it writes out
    rows, cols = np.shape(view)[-2:]
    i = np.arange(max(0, -offset), min(rows, cols - offset))
    view[..., i, i + offset] = g
    return out


def tile_grad(g: Any, A: Any, reps: Any) -> Any:
    """Cotangent of ``np.tile(A, reps)``: along each axis the result is ``reps`` copies of
    ``A`` (shapes padded with leading 1s), so ``g`` seen with axes (copy0, n0, copy1,
    n1, ...) summed over the copies."""
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    shape = np.shape(A)
    d = max(len(shape), len(reps))
    padded = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    grid = np.reshape(g, [k for pair in zip(reps, padded) for k in pair])
    return np.reshape(np.sum(grid, axis=tuple(range(0, 2 * d, 2))), shape)


def repeat_grad(g: Any, a: Any, repeats: Any, axis: Any = None) -> Any:
    """Cotangent of ``np.repeat(a, repeats, axis)``: the copies of each entry summed back.

    One count for all entries: ``g`` reshaped to (entries, copies) and summed; counts per
    entry: ``np.repeat`` is ``np.take`` with each index repeated, so :func:`take_grad`.
    """
    n = np.size(a) if axis is None else np.shape(a)[axis]
    if np.size(repeats) == 1:
        r = int(np.reshape(repeats, -1)[0])
        if axis is None:
            return np.reshape(np.sum(np.reshape(g, (n, r)), axis=1), np.shape(a))
        axis = axis % np.ndim(a)
        shape = np.shape(a)
        return np.sum(np.reshape(g, shape[:axis] + (n, r) + shape[axis + 1:]), axis=axis + 1)
    return take_grad(g, a, np.repeat(np.arange(n), repeats), axis)


def _pad_pairs(pad_width: Any, ndim: int) -> list:
    """``np.pad``'s ``pad_width`` (an int, a pair, or a pair per axis) as a pair per axis."""
    return [tuple(int(k) for k in pair) for pair in np.broadcast_to(pad_width, (ndim, 2))]


def _check_pad_mode(mode: Any) -> None:
    if mode != "constant":
        raise NotImplementedError(
            f"srcdiff: the gradient of np.pad is supported for mode='constant' only, not {mode!r}"
        )


def pad_grad(g: Any, array: Any, pad_width: Any, mode: Any = "constant") -> Any:
    """Cotangent of ``array`` in ``np.pad(array, pad_width, mode='constant')``: the entries
    of ``g`` that came from ``array``, i.e. ``g`` with the padding cut off.  Other modes
    copy ``array``'s entries into the padding and are not supported."""
    _check_pad_mode(mode)
    pairs = _pad_pairs(pad_width, np.ndim(array))
    return g[tuple(slice(before, n - after) for (before, after), n in zip(pairs, np.shape(g)))]


def pad_grad_value(g: Any, array: Any, pad_width: Any, mode: Any, constant_values: Any) -> Any:
    """Cotangent of a scalar ``constant_values`` in ``np.pad``: ``g`` summed over the
    padding (all of ``g`` less the part that came from ``array``)."""
    _check_pad_mode(mode)
    if np.ndim(constant_values) != 0:
        raise NotImplementedError(
            "srcdiff: the gradient of np.pad's constant_values is supported for a scalar only"
        )
    return np.sum(g) - np.sum(pad_grad(g, array, pad_width, mode))


def pad_tangent(t: Any, pad_width: Any, mode: Any = "constant", dvalue: Any = 0.0) -> Any:
    """Tangent of ``np.pad(array, pad_width, mode='constant', constant_values=c)``: the
    tangent of ``array`` padded with the tangent of ``c`` (it is linear in both)."""
    _check_pad_mode(mode)
    return np.pad(t, pad_width, constant_values=dvalue)


def unsplit(g: Any, ary: Any, indices_or_sections: Any, axis: int = 0) -> Any:
    """Cotangent of ``ary`` in ``np.split``/``np.array_split(ary, indices_or_sections,
    axis)``: the pieces' cotangents joined back along ``axis``, a None piece (a zero
    cotangent) as zeros shaped like that piece."""
    if g is None:
        return np.zeros_like(ary)
    pieces = np.array_split(ary, indices_or_sections, axis)  # views, for their shapes
    return np.concatenate([np.zeros_like(p) if gp is None else gp for gp, p in zip(g, pieces)],
                          axis=axis)


def meshgrid_grad(g: Any, xi: tuple, i: int, copy: Any = True, indexing: str = "xy") -> Any:
    """Cotangent of input ``i`` of ``np.meshgrid(*xi, indexing=indexing)`` (None inputs
    are absent ones): output ``i`` repeats ``xi[i]`` (flattened) along every axis but
    axis ``i`` (with ``'xy'``, axes 0 and 1 swap roles), so its cotangent is summed over
    the others.  A None entry of ``g`` is a zero."""
    if not isinstance(copy, (bool, np.bool_)):
        raise NotImplementedError("srcdiff: the gradient of np.meshgrid supports up to three inputs")
    xi = [x for x in xi if x is not None]
    gi = None if g is None else g[i]
    if gi is None:
        return zeros_like_value(xi[i])
    axis = 1 - i if indexing == "xy" and len(xi) > 1 and i < 2 else i
    others = tuple(k for k in range(np.ndim(gi)) if k != axis)
    return np.reshape(np.sum(gi, axis=others), np.shape(xi[i]))


# np.unique's values.  With distinct entries, unique(x) is sort(x.ravel()); where entries
# repeat, the derivative of the (shorter) result is defined only along perturbations that
# keep them equal, and there each unique value moves by the mean of its copies' moves:
# unique_tangent takes that mean, unique_grad splits a value's cotangent equally among
# its copies (its adjoint, so forward and reverse mode agree).


def _unique_groups(ar: Any) -> tuple:
    _, inverse, counts = np.unique(ar, return_inverse=True, return_counts=True)
    return np.reshape(inverse, -1), counts


def unique_grad(g: Any, ar: Any) -> Any:
    """Cotangent of ``ar`` in ``np.unique(ar)``: each unique value's cotangent shared
    equally by the entries equal to it.

    >>> unique_grad(np.array([1.0, 2.0]), np.array([5.0, 3.0, 5.0])).tolist()
    [1.0, 1.0, 1.0]
    """
    inverse, counts = _unique_groups(ar)
    return np.reshape((g / counts)[inverse], np.shape(ar))


def unique_tangent(t: Any, ar: Any) -> Any:
    """Tangent of ``np.unique(ar)``: for each unique value, the mean tangent of the
    entries equal to it.

    >>> unique_tangent(np.array([1.0, 2.0, 3.0]), np.array([5.0, 3.0, 5.0])).tolist()
    [2.0, 2.0]
    """
    inverse, counts = _unique_groups(ar)
    return np.bincount(inverse, weights=np.reshape(t, -1), minlength=np.size(counts)) / counts
