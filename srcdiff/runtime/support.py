"""What the runtime helpers share: small utilities of axes, shapes and triangles.  Not
helpers themselves (generated code never calls them, and they are not in
``runtime.__all__``); the standalone writer copies them with the helpers that use them."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["swap_last", "axes_of", "expand_reduced", "average_weights", "stacked_or_none", "inverse_gaps",
           "one_triangle", "symmetric_of", "lifted_shapes", "is_float_like"]


def swap_last(x: Any) -> Any:
    return np.swapaxes(x, -1, -2)


def axes_of(axis: Any, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis))
    return (axis % ndim,)


def expand_reduced(g: Any, ndim: int, axis: Any, keepdims: bool) -> Any:
    """Reinsert the reduced axes into a reduction's cotangent."""
    if keepdims or axis is None and np.ndim(g) == 0:
        return g
    return np.expand_dims(g, axes_of(axis, ndim))


def average_weights(weights: Any, a: Any, axis: Any) -> tuple:
    """``np.average``'s weights laid out to broadcast against ``a`` (as NumPy does: weights
    along the averaged axes, in their given order), and how to lay a cotangent of that
    shape back out as ``weights``' own."""
    if np.shape(weights) == np.shape(a):
        return weights, lambda gw: gw
    ndim = np.ndim(a)
    axes = [k % ndim for k in ((axis,) if isinstance(axis, (int, np.integer)) else axis)]
    order = np.argsort(axes)
    ordered = np.transpose(weights, order)
    shape = [n if k in axes else 1 for k, n in enumerate(np.shape(a))]
    back_order = np.argsort(order)

    def back(gw: Any) -> Any:
        return np.transpose(np.reshape(gw, np.shape(ordered)), back_order)

    return np.reshape(ordered, shape), back


def stacked_or_none(arrays: list) -> Any:
    """``np.stack(arrays)`` for arrays of one shape, made by one concatenation (np.stack
    expands each array first: several times slower for many small ones); None when
    they are not arrays of one shape, of one axis at least."""
    try:
        shapes = {a.shape for a in arrays}
    except AttributeError:
        return None
    if len(shapes) != 1:
        return None
    shape = shapes.pop()
    if not shape:
        return None
    return np.concatenate(arrays).reshape(len(arrays), *shape)


def inverse_gaps(w: Any) -> Any:
    """``F_ij = 1 / (w_j - w_i)`` off the diagonal, 0 on it (eigenvalues ``w`` distinct)."""
    eye = np.eye(np.shape(w)[-1], like=w)
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    return np.where(eye == 1, 0.0, 1.0 / np.where(eye == 1, 1.0, gaps))


def one_triangle(p: Any, upper: bool) -> Any:
    """The gradient with respect to a matrix of which only one triangle is read (the other
    taken as its mirror image), from ``p``, the gradient for a symmetric perturbation: an
    off-diagonal entry that is read moves both ``p_ij`` and ``p_ji``; the other triangle
    is not read and gets nothing."""
    both = p + swap_last(p)
    diagonal = p * np.eye(np.shape(p)[-1], like=p)
    return (np.triu(both, 1) if upper else np.tril(both, -1)) + diagonal


def symmetric_of(t: Any, upper: bool = False) -> Any:
    """The symmetric matrix a function reading one triangle of its argument sees in ``t``:
    the lower (``upper``: upper) triangle mirrored.  The adjoint of :func:`one_triangle`."""
    if upper:
        return np.triu(t) + swap_last(np.triu(t, 1))
    return np.tril(t) + swap_last(np.tril(t, -1))


def lifted_shapes(arrays: Any, ndmin: int, columns: bool) -> list:
    shapes = []
    for a in arrays:
        shape = np.shape(a)
        if columns and len(shape) < 2:
            shape = (shape[0] if shape else 1, 1)
        while len(shape) < ndmin:
            shape = (1,) + shape
        shapes.append(shape)
    return shapes


def is_float_like(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return dtype.kind in "fc"
    return isinstance(x, (float, complex))
