"""Reductions and scans: a reduction's cotangent spread back over its input (``np.sum``,
``np.mean``, ``np.max``, ``np.prod``, ``np.var``, ``np.linalg.norm``, ``np.average``,
``np.median``, ...), cumulative sums and products, differences, ``np.trapezoid``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .broadcasting import unbroadcast
from .support import average_weights, axes_of, expand_reduced
from .trees import zeros_like_value


def sum_grad(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.sum(a, axis, keepdims=keepdims)`` spread over ``a``'s shape.

    The result is a fresh writable array (not a broadcast view), so it can be handed
    to the user or updated in place.
    """
    if axis is None and not keepdims:
        return np.full_like(a, g, dtype=float) if _int_like(a) else np.full_like(a, g)
    out = np.empty_like(a, dtype=np.result_type(a, g, 1.0))
    out[...] = expand_reduced(g, np.ndim(a), axis, keepdims)
    return out


def _int_like(a: Any) -> bool:
    dtype = getattr(a, "dtype", None)
    return dtype is None or dtype.kind not in "fc"


def mean_grad(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.mean``: the sum's, divided by the number of averaged entries."""
    shape = np.shape(a)
    if axis is None and not keepdims:
        return sum_grad(g / np.size(a), a)
    count = 1
    for ax in axes_of(axis, len(shape)):
        count *= shape[ax]
    return sum_grad(g / count, a, axis, keepdims)


def minmax_grad(g: Any, a: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.max``/``np.min``: shared equally among the tied extremes."""
    ndim = np.ndim(a)
    g = expand_reduced(g, ndim, axis, keepdims)
    out = expand_reduced(out, ndim, axis, keepdims)
    mask = a == out
    # divide on the reduced shape, then one product over the whole array
    return mask * (g / np.sum(mask, axis=axis, keepdims=True))


def prod_grad(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.prod``, exact when entries are zero.

    Each entry's partial derivative is the product of all the *other* entries, taken
    as (product of those before it) x (product of those after it), so there is no
    division by the entry itself.
    """
    ndim = np.ndim(a)
    axes = axes_of(axis, ndim)
    g = expand_reduced(g, ndim, axis, keepdims)
    rest = [i for i in range(ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes)) if ndim else np.reshape(a, ())
    lead = np.shape(moved)[: len(rest)]
    flat = np.reshape(moved, lead + (-1,))
    ones = np.ones_like(flat[..., :1])
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(
        np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1
    )
    others = np.reshape(before * after, np.shape(moved))
    inverse = np.argsort(rest + list(axes)) if ndim else []
    others = np.transpose(others, inverse) if ndim else np.reshape(others, ())
    return g * others


def var_grad(g: Any, a: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Cotangent of ``np.var``: ``2 (a - mean) / (N - ddof)`` times the cotangent."""
    shape = np.shape(a)
    count = 1
    for ax in axes_of(axis, len(shape)):
        count *= shape[ax]
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return expand_reduced(g, len(shape), axis, keepdims) * (2.0 / (count - ddof)) * centered


def cumsum_grad(g: Any, a: Any, axis: Any = None) -> Any:
    """Cotangent of ``np.cumsum``: a cumulative sum taken from the end."""
    if axis is None:
        return np.reshape(np.flip(np.cumsum(np.flip(np.ravel(g)))), np.shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def norm_grad(
    g: Any, x: Any, out: Any, ord: Any = None, axis: Any = None, keepdims: bool = False
) -> Any:
    """Cotangent of ``np.linalg.norm`` for the 2-norm/Frobenius norm and vector p-norms.

    At a zero norm the cotangent is zero (the subgradient at the kink).  Matrix norms
    other than Frobenius are not supported and raise.
    """
    ndim = np.ndim(x)
    vector = ndim == 1 or isinstance(axis, int) or (isinstance(axis, tuple) and len(axis) == 1)
    if ord not in (None, "fro") and not (vector and ord != "nuc"):
        raise NotImplementedError(
            f"srcdiff: the gradient of np.linalg.norm with ord={ord!r} on matrices is not "
            "supported; use ord=None (Frobenius) or compute the norm explicitly"
        )
    if axis is None:
        g_full, out_full = g, out
    else:
        g_full = expand_reduced(g, ndim, axis, keepdims)
        out_full = expand_reduced(out, ndim, axis, keepdims)
    if ord == 0:
        return g_full * np.zeros_like(x)  # the count of nonzero entries is piecewise constant
    safe = np.where(out_full == 0, 1.0, out_full)
    if ord in (None, "fro", 2):
        return g_full * x / safe
    if ord == np.inf or ord == -np.inf:
        mag = np.abs(x)
        mask = mag == out_full
        return g_full * np.sign(x) * mask / np.sum(mask, axis=axis, keepdims=True)
    p = float(ord)
    # d ||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1)
    return g_full * np.sign(x) * (np.abs(x) / safe) ** (p - 1)


def cumprod_grad(g: Any, a: Any, out: Any = None, axis: Any = None) -> Any:
    """Cotangent of ``np.cumprod(a, axis)``, exact where ``a`` has zeros.

    ``d out_j / d a_i`` is the product of ``a_k`` over ``k <= j, k != i`` (for ``j >= i``).
    Before the first zero ``z`` of a slice that is ``out_j / a_i``, so those entries get
    the reverse cumulative sum of ``g out`` (over ``j < z``) divided by ``a_i``; the zero
    itself gets ``prod(a_k, k < z) * sum(g_j prod(a_k, z < k <= j), j >= z)``; entries after
    it get nothing (every product through them holds the factor ``a_z = 0``).  ``out`` must
    be ``np.cumprod(a, axis)`` (it saves computing it again); None computes it.
    """
    if out is None:
        out = np.cumprod(a, axis=axis)
    if axis is None:
        flat = cumprod_grad(np.reshape(g, -1), np.reshape(a, -1), np.reshape(out, -1), 0)
        return np.reshape(flat, np.shape(a))
    a, g, out = (np.moveaxis(t, axis, -1) for t in (a, g, out))
    n = np.shape(a)[-1]
    index = np.arange(n)
    zero = a == 0
    first = np.expand_dims(np.where(np.any(zero, axis=-1), np.argmax(zero, axis=-1), n), -1)
    before = index < first
    safe = np.where(before, a, 1.0)
    tail = np.flip(np.cumsum(np.flip(np.where(before, g * out, 0.0), -1), axis=-1), -1)
    grad = np.where(before, tail / safe, 0.0)
    after = np.cumprod(np.where(index > first, a, 1.0), axis=-1)
    at_zero = np.prod(safe, axis=-1, keepdims=True) * np.sum(
        np.where(index >= first, g * after, 0.0), axis=-1, keepdims=True)
    grad = np.where(index == first, at_zero, grad)
    return np.moveaxis(grad, -1, axis)


def cumprod_tangent(t: Any, a: Any, axis: Any = None) -> Any:
    """Tangent of ``np.cumprod(a, axis)`` along ``t``, exact where ``a`` has zeros.

    The running product is carried with its tangent, as a dual number ``(p, dp)``:
    ``(p, dp) * (a_j, t_j) = (p a_j, dp a_j + p t_j)``, so nothing is divided by an entry.
    """
    if axis is None:
        return cumprod_tangent(np.reshape(t, -1), np.reshape(a, -1), 0)
    a_m, t_m = np.moveaxis(a, axis, 0), np.moveaxis(t, axis, 0)
    p = np.ones_like(a_m[0], dtype=np.result_type(a_m, t_m, 1.0))
    dp = np.zeros_like(p)
    steps = []
    for j in range(np.shape(a_m)[0]):
        dp = dp * a_m[j] + p * t_m[j]
        p = p * a_m[j]
        steps.append(dp)
    return np.moveaxis(np.stack(steps), 0, axis)


def diff_grad(g: Any, a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None,
              part: str = "a") -> Any:
    """Cotangent of ``part`` (``'a'``, ``'prepend'`` or ``'append'``) of
    ``np.diff(a, n, axis, prepend=prepend, append=append)``.

    A first difference ``y = x[1:] - x[:-1]`` has adjoint ``-diff(gy, prepend=0,
    append=0)``; ``n`` differences take it ``n`` times.  That is the cotangent of
    ``[prepend, a, append]`` joined along ``axis``, cut back into its parts (a scalar
    ``prepend``/``append`` was one slice, broadcast).
    """
    if n == 0:
        return g if part == "a" else zeros_like_value(prepend if part == "prepend" else append)
    for _ in range(n):
        g = -np.diff(g, axis=axis, prepend=0, append=0)
    axis = axis % np.ndim(g)
    lead = 0 if prepend is None else 1 if np.ndim(prepend) == 0 else np.shape(prepend)[axis]
    size = np.shape(a)[axis]
    bounds = {"prepend": (0, lead), "a": (lead, lead + size), "append": (lead + size, None)}
    start, stop = bounds[part]
    piece = g[(slice(None),) * axis + (slice(start, stop),)]
    if part == "a":
        return piece
    return unbroadcast(piece, prepend if part == "prepend" else append)


def diff_tangent(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """``np.diff(a, n, axis, prepend=prepend, append=append)``, where None means no
    ``prepend``/``append`` (NumPy would prepend a None).  ``np.diff`` is linear in all
    three, so this is also its tangent, applied to the tangents."""
    extra = {}
    if prepend is not None:
        extra["prepend"] = prepend
    if append is not None:
        extra["append"] = append
    return np.diff(a, n, axis, **extra)


def trapezoid_grad(g: Any, y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1,
                   part: str = "y") -> Any:
    """Cotangent of ``part`` (``'y'``, ``'x'`` or ``'dx'``) of ``np.trapezoid(y, x, dx, axis)``.

    The result is ``sum_i d_i (y_i + y_{i+1}) / 2`` with ``d = diff(x)`` (or ``dx``), so
    ``y_i`` gets ``g (d_{i-1} + d_i) / 2``, ``d_i`` gets ``g (y_i + y_{i+1}) / 2``, and
    ``x`` gets the adjoint of the difference, ``-diff(gd, prepend=0, append=0)``.
    ``dx`` takes no cotangent when ``x`` is given.
    """
    nd = np.ndim(y)
    axis = axis % nd
    g = np.expand_dims(g, axis)
    lo = (slice(None),) * axis + (slice(None, -1),)
    hi = (slice(None),) * axis + (slice(1, None),)
    if x is None:
        d = dx
    elif np.ndim(x) == 1:
        d = np.reshape(np.diff(x), [-1 if k == axis else 1 for k in range(nd)])
    else:
        d = np.diff(x, axis=axis)
    if part == "y":
        half = np.broadcast_to(g * d / 2.0, np.shape(y[lo]))
        before = [(0, 0)] * nd
        after = [(0, 0)] * nd
        before[axis], after[axis] = (1, 0), (0, 1)
        return np.pad(half, before) + np.pad(half, after)
    gd = g * (y[lo] + y[hi]) / 2.0
    if part == "dx":
        return zeros_like_value(dx) if x is not None else unbroadcast(gd, dx)
    if np.ndim(x) == 1:
        gd = np.sum(gd, axis=tuple(k for k in range(nd) if k != axis))
        return -np.diff(gd, prepend=0, append=0)
    return -np.diff(unbroadcast(gd, d), axis=axis, prepend=0, append=0)


def average_grad(g: Any, a: Any, out: Any, axis: Any = None, weights: Any = None,
                 returned: bool = False, keepdims: bool = False, part: str = "a") -> Any:
    """Cotangent of ``part`` (``'a'`` or ``'weights'``) of ``np.average``.

    ``out = sum(w a) / sum(w)`` over ``axis``, so ``a`` gets ``g w / sum(w)`` and ``w``
    gets ``g (a - out) / sum(w)``; without weights it is ``np.mean``'s cotangent.
    """
    if returned:
        raise NotImplementedError(
            "srcdiff: the gradient of np.average(..., returned=True) is not supported; "
            "compute the sum of the weights separately"
        )
    if weights is None:
        return mean_grad(g, a, axis, keepdims)
    ndim = np.ndim(a)
    w, back = average_weights(weights, a, axis)
    g = expand_reduced(g, ndim, axis, keepdims)
    total = np.sum(w, axis=axis, keepdims=True)
    if part == "a":
        return unbroadcast(g * w / total, a)
    return back(unbroadcast(g * (a - expand_reduced(out, ndim, axis, keepdims)) / total, w))


def average_tangent(t: Any, a: Any, out: Any, axis: Any = None, weights: Any = None,
                    returned: bool = False, keepdims: bool = False, part: str = "a") -> Any:
    """Tangent of ``np.average(a, axis, weights, keepdims=keepdims)`` along ``t`` in
    ``part`` (``'a'`` or ``'weights'``): the average of ``t`` for ``a`` (it is linear in
    ``a``); ``sum(t (a - out)) / sum(w)`` for the weights."""
    if returned:
        raise NotImplementedError(
            "srcdiff: the derivative of np.average(..., returned=True) is not supported; "
            "compute the sum of the weights separately"
        )
    if part == "a":
        return np.average(t, axis=axis, weights=weights, keepdims=keepdims)
    w, _ = average_weights(weights, a, axis)
    tw, _ = average_weights(t, a, axis)
    centered = a - expand_reduced(out, np.ndim(a), axis, keepdims)
    return np.sum(tw * centered / np.sum(w, axis=axis, keepdims=True), axis=axis, keepdims=keepdims)


def nanmean_grad(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.nanmean``: ``g`` over the number of non-NaN entries averaged, at
    the non-NaN entries; NaN entries were left out and get zero."""
    present = ~np.isnan(a)
    count = np.sum(present, axis=axis, keepdims=True)
    return np.where(present, expand_reduced(g, np.ndim(a), axis, keepdims) / count, 0.0)


def median_grad(g: Any, a: Any, axis: Any = None, overwrite_input: bool = False,
                keepdims: bool = False) -> Any:
    """Cotangent of ``np.median``: the median is the mean of the middle one or two entries
    of each sorted slice, so each of those gets ``g / 2`` (the same entry twice for an odd
    count) and the rest get nothing."""
    if overwrite_input:
        raise NotImplementedError(
            "srcdiff: the gradient of np.median(..., overwrite_input=True) is not supported: "
            "the input it needs is overwritten"
        )
    ndim = np.ndim(a)
    if ndim == 0:
        return g
    axes = list(axes_of(axis, ndim))
    rest = [k for k in range(ndim) if k not in axes]
    moved = np.transpose(a, rest + axes)
    lead = np.shape(moved)[: len(rest)]
    flat = np.reshape(moved, lead + (-1,))
    n = np.shape(flat)[-1]
    middle = np.zeros(n)
    middle[(n - 1) // 2] += 0.5
    middle[n // 2] += 0.5
    grad = np.zeros_like(flat, dtype=np.result_type(flat, g, 1.0))
    np.put_along_axis(grad, np.argsort(flat, axis=-1), np.reshape(g, lead + (1,)) * middle, axis=-1)
    return np.transpose(np.reshape(grad, np.shape(moved)), np.argsort(rest + axes))
