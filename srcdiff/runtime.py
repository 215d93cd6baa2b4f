"""The few helpers generated code calls.

Generated derivatives are plain NumPy; where an adjoint needs more than one expression
(undoing broadcasting, spreading a reduction's cotangent back over its input, scattering
an index's cotangent), it calls one of these.  They operate on whatever array objects
they are given through ``np.*`` functions and never convert with ``np.asarray``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "unbroadcast",
    "seed",
    "sum_grad",
    "mean_grad",
    "minmax_grad",
    "prod_grad",
    "var_grad",
    "cumsum_grad",
    "matmul_grad_a",
    "matmul_grad_b",
    "dot_grad_a",
    "dot_grad_b",
    "getitem_grad",
    "unconcatenate",
    "unstack",
    "clip_grad",
    "norm_grad",
    "inner_grad_a",
    "inner_grad_b",
    "det_grad",
    "solve_grad_a",
    "solve_grad_b",
    "unjoin",
    "diag_grad",
    "sort_grad",
    "take_grad",
    "tree_add",
    "tree_fill",
    "tree_index",
    "seq_sum_grad",
    "list_append",
    "list_prefix",
    "as_sequence",
    "zeros_like_value",
    "setitem",
    "index_add",
    "distinct",
    "sort_tangent",
    "setitem_grad_x",
    "setitem_grad_value",
    "zeros_like_tree",
    "einsum_grad",
    "tensordot_grad_a",
    "tensordot_grad_b",
    "kron_grad_a",
    "kron_grad_b",
    "cross_grad",
    "slogdet_grad",
    "cholesky_grad",
    "eigh_grad",
    "pinv_grad",
    "convolve_grad",
    "diagonal_grad",
    "tile_grad",
    "repeat_grad",
    "pad_grad",
    "pad_grad_value",
    "unsplit",
    "meshgrid_grad",
    "cumprod_grad",
    "diff_grad",
    "trapezoid_grad",
    "average_grad",
    "nanmean_grad",
    "median_grad",
    "polyval_grad_p",
    "interp_grad",
    "gammaln_grad",
    "digamma_grad",
    "logsumexp_grad",
]


def unbroadcast(g: Any, x: Any) -> Any:
    """``g`` summed (or broadcast) to the shape of ``x``: undoes NumPy broadcasting.

    >>> unbroadcast(np.ones((2, 3)), np.ones(3)).tolist()
    [2.0, 2.0, 2.0]
    >>> unbroadcast(np.ones((2, 3)), np.ones((2, 1))).tolist()
    [[3.0], [3.0]]
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)  # Python scalars, lists
    gshape = getattr(g, "shape", ())
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = g.sum(axis=0) if extra == 1 else g.sum(axis=tuple(range(extra)))
        gshape = gshape[extra:]
    if len(gshape) == len(shape):
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and gshape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
            gshape = g.shape
    if gshape != shape:
        g = np.broadcast_to(g, shape)
    return g


def seed(out: Any, where: str) -> Any:
    """The cotangent 1 for a scalar result; raises if the result is not a scalar."""
    if isinstance(out, (float, int, np.number, np.bool_)):
        return 1.0
    size = getattr(out, "size", None)
    if size == 1:
        return np.ones_like(out)
    import sys

    from .compile import RETURN_LOCATIONS
    from .errors import NonScalarOutputError

    shape = getattr(out, "shape", None)
    what = f"an array of shape {shape}" if shape is not None else f"a {type(out).__name__}"
    loc = RETURN_LOCATIONS.get(sys._getframe(1).f_code)
    raise NonScalarOutputError(
        f"grad needs a scalar result, but the function returned {what}"
        + ("" if loc else f" ({where})"),
        loc,
        hint="reduce it to a scalar (e.g. np.sum), or use srcdiff.vjp for a "
        "vector-Jacobian product",
    )


def _axes(axis: Any, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis))
    return (axis % ndim,)


def _expand(g: Any, ndim: int, axis: Any, keepdims: bool) -> Any:
    """Reinsert the reduced axes into a reduction's cotangent."""
    if keepdims or axis is None and np.ndim(g) == 0:
        return g
    return np.expand_dims(g, _axes(axis, ndim))


def sum_grad(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.sum(a, axis, keepdims=keepdims)`` spread over ``a``'s shape.

    The result is a fresh writable array (not a broadcast view), so it can be handed
    to the user or updated in place.
    """
    if axis is None and not keepdims:
        return np.full_like(a, g, dtype=float) if _int_like(a) else np.full_like(a, g)
    out = np.empty_like(a, dtype=np.result_type(a, g, 1.0))
    out[...] = _expand(g, np.ndim(a), axis, keepdims)
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
    for ax in _axes(axis, len(shape)):
        count *= shape[ax]
    return sum_grad(g / count, a, axis, keepdims)


def minmax_grad(g: Any, a: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.max``/``np.min``: shared equally among the tied extremes."""
    ndim = np.ndim(a)
    g = _expand(g, ndim, axis, keepdims)
    out = _expand(out, ndim, axis, keepdims)
    mask = a == out
    return g * mask / np.sum(mask, axis=axis, keepdims=True)


def prod_grad(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.prod``, exact when entries are zero.

    Each entry's partial derivative is the product of all the *other* entries, taken
    as (product of those before it) x (product of those after it), so there is no
    division by the entry itself.
    """
    ndim = np.ndim(a)
    axes = _axes(axis, ndim)
    g = _expand(g, ndim, axis, keepdims)
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
    for ax in _axes(axis, len(shape)):
        count *= shape[ax]
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return _expand(g, len(shape), axis, keepdims) * (2.0 / (count - ddof)) * centered


def cumsum_grad(g: Any, a: Any, axis: Any = None) -> Any:
    """Cotangent of ``np.cumsum``: a cumulative sum taken from the end."""
    if axis is None:
        return np.reshape(np.flip(np.cumsum(np.flip(np.ravel(g)))), np.shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def _swap(x: Any) -> Any:
    return np.swapaxes(x, -1, -2)


def matmul_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``a @ b``, for every combination of 1-D, 2-D and batched."""
    a_nd, b_nd = a.ndim, b.ndim
    if b_nd == 2:
        if a_nd == 2:
            return g @ b.T
        if a_nd == 1:
            return b @ g
    elif b_nd == 1:
        if a_nd == 1:
            return g * b
        if a_nd == 2:
            return np.multiply.outer(g, b)
    if b_nd == 1:
        ga = np.multiply.outer(g, b)
    elif a_nd == 1:
        ga = (np.expand_dims(g, -2) @ _swap(b))[..., 0, :]
    else:
        ga = g @ _swap(b)
    return unbroadcast(ga, a)


def matmul_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``a @ b``, for every combination of 1-D, 2-D and batched."""
    a_nd, b_nd = a.ndim, b.ndim
    if a_nd == 2:
        if b_nd == 2:
            return a.T @ g
        if b_nd == 1:
            return g @ a
    elif a_nd == 1:
        if b_nd == 2:
            return np.multiply.outer(a, g)
        if b_nd == 1:
            return g * a
    if a_nd == 1:
        gb = np.moveaxis(np.multiply.outer(a, g), 0, -2)
    elif b_nd == 1:
        gb = (_swap(a) @ np.expand_dims(g, -1))[..., 0]
    else:
        gb = _swap(a) @ g
    return unbroadcast(gb, b)


def dot_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``np.dot(a, b)``."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 0 or b_nd == 0:
        return unbroadcast(g * b, a)
    if b_nd <= 2:
        return matmul_grad_a(g, a, b)
    # out[i.., j.., l] = sum_k a[i.., k] b[j.., k, l]
    g_axes = list(range(a_nd - 1, np.ndim(g)))
    b_axes = [i for i in range(b_nd) if i != b_nd - 2]
    return np.tensordot(g, b, axes=(g_axes, b_axes))


def dot_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``np.dot(a, b)``."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 0 or b_nd == 0:
        return unbroadcast(g * a, b)
    if b_nd <= 2:
        return matmul_grad_b(g, a, b)
    lead = list(range(a_nd - 1))
    gb = np.tensordot(a, g, axes=(lead, lead))  # shape (k, j.., l)
    return np.moveaxis(gb, 0, -2)


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


def index_add(acc: Any, index: Any, g: Any) -> None:
    """``acc[index] += g`` in place, summing repeated integer indices (``np.add.at``).

    Generated code calls it to accumulate an indexed read's cotangent into an adjoint
    array it created itself, instead of adding a fresh array of zeros each time.
    """
    if _is_basic_index(index) or getattr(index, "dtype", None) == np.bool_:
        acc[index] += g
    else:
        np.add.at(acc, index, g)


def unconcatenate(g: Any, arrays: Any, axis: Any = 0) -> list:
    """Cotangents of the inputs of ``np.concatenate(arrays, axis)``."""
    if axis is None:
        sizes = np.cumsum([np.size(a) for a in arrays])[:-1]
        return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, sizes), arrays)]
    ends = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return np.split(g, ends, axis=axis)


def unstack(g: Any, axis: int = 0) -> list:
    """Cotangents of the inputs of ``np.stack(arrays, axis)``: the slices along ``axis``."""
    return list(np.moveaxis(g, axis, 0))


def clip_grad(g: Any, a: Any, a_min: Any, a_max: Any) -> Any:
    """Cotangent of ``a`` in ``np.clip``: passes where ``a`` lies within the bounds."""
    inside = True
    if a_min is not None:
        inside = inside & (a >= a_min)
    if a_max is not None:
        inside = inside & (a <= a_max)
    return np.where(inside, g, 0.0)


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
        g_full = _expand(g, ndim, axis, keepdims)
        out_full = _expand(out, ndim, axis, keepdims)
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


def tree_add(a: Any, b: Any) -> Any:
    """Sum of two cotangents that may be None (zero) or containers of cotangents."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        merged = dict(a)
        for k, v in b.items():
            merged[k] = tree_add(merged.get(k), v)
        return merged
    if isinstance(a, (list, tuple)):
        return [tree_add(x, y) for x, y in zip(a, b)]
    return a + b


def tree_index(g: Any, i: Any) -> Any:
    """``g[i]`` for a container cotangent that may be None (zero)."""
    return None if g is None else g[i]


def zeros_like_tree(x: Any) -> Any:
    """A zero cotangent with the structure of ``x`` (None at non-float leaves)."""
    return tree_fill(None, x)


def tree_fill(g: Any, like: Any) -> Any:
    """``g`` with every None replaced by zeros shaped like the matching leaf of ``like``,
    and tuples where ``like`` has tuples: the gradient in the argument's structure."""
    if isinstance(like, dict):
        g = g or {}
        return {k: tree_fill(g.get(k), v) for k, v in like.items()}
    if isinstance(like, (list, tuple)):
        g = g if g is not None else [None] * len(like)
        filled = [tree_fill(x, v) for x, v in zip(g, like)]
        return tuple(filled) if isinstance(like, tuple) else filled
    if isinstance(like, (bool, np.bool_, int, np.integer)) or not _is_float_like(like):
        return None  # no gradient at a non-float leaf
    if g is not None:
        if isinstance(g, (list, tuple)) and not isinstance(like, (list, tuple)):
            return np.stack(g)
        return g
    if isinstance(like, (float, np.floating)):
        return 0.0
    return np.zeros_like(like)


def _is_float_like(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return dtype.kind in "fc"
    return isinstance(x, float)


def seq_sum_grad(g: Any, items: Any) -> list:
    """Cotangents of the items of builtin ``sum(items)``: ``g`` for each, unbroadcast."""
    return [unbroadcast(g, item) for item in items]



def inner_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``np.inner(a, b)`` (sums over the last axes)."""
    if np.ndim(a) == 0:
        return np.sum(g * b)
    if np.ndim(b) == 0:
        return g * b
    a_lead = np.ndim(a) - 1
    b_lead = np.ndim(b) - 1
    g_axes = list(range(a_lead, a_lead + b_lead))
    return np.tensordot(g, b, axes=(g_axes, list(range(b_lead))))


def inner_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``np.inner(a, b)``."""
    if np.ndim(b) == 0:
        return np.sum(g * a)
    if np.ndim(a) == 0:
        return g * a
    lead = list(range(np.ndim(a) - 1))
    return np.tensordot(g, a, axes=(lead, lead))


def det_grad(g: Any, a: Any, out: Any) -> Any:
    """Cotangent of ``np.linalg.det``: ``g det(A) inv(A)^T``."""
    scale = np.expand_dims(np.expand_dims(g * out, -1), -1)
    return scale * np.swapaxes(np.linalg.inv(a), -1, -2)


def solve_grad_b(g: Any, a: Any, b: Any = None) -> Any:
    """Cotangent of ``b`` in ``x = np.linalg.solve(a, b)``: ``solve(a^T, g)``, summed
    back over the batch when one right-hand side vector served a stack of matrices."""
    a_t = np.swapaxes(a, -1, -2)
    vector = np.ndim(g) == np.ndim(a) - 1 if b is None else np.ndim(b) == 1
    if vector:
        if np.ndim(g) == 1:
            return np.linalg.solve(a_t, g)
        gb = np.linalg.solve(a_t, g[..., None])[..., 0]
    else:
        gb = np.linalg.solve(a_t, g)
    return gb if b is None else unbroadcast(gb, b)


def solve_grad_a(g: Any, a: Any, out: Any) -> Any:
    """Cotangent of ``a`` in ``x = np.linalg.solve(a, b)``: ``-solve(a^T, g) x^T``."""
    a_t = np.swapaxes(a, -1, -2)
    if np.ndim(out) == np.ndim(a) - 1:  # vector right-hand sides
        gb = np.linalg.solve(a_t, g[..., None])
        return unbroadcast(-gb * out[..., None, :], a)
    gb = np.linalg.solve(a_t, g)
    return unbroadcast(-gb @ np.swapaxes(out, -1, -2), a)


def unjoin(g: Any, arrays: Any, axis: int, ndmin: int, columns: bool = False) -> list:
    """Cotangents of the inputs of ``vstack``/``hstack``/``column_stack``.

    Each input was raised to ``ndmin`` dimensions (1-D inputs of ``column_stack``
    become columns) before joining along ``axis``.
    """
    lifted = []
    for a in arrays:
        shape = np.shape(a)
        if columns and len(shape) < 2:
            shape = (shape[0] if shape else 1, 1)
        while len(shape) < ndmin:
            shape = (1,) + shape
        lifted.append(np.empty(shape))
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


def list_append(items: list, item: Any) -> list:
    """``items.append(item)``, returning the list: how generated code spells an append."""
    items.append(item)
    return items


def list_prefix(g: Any) -> Any:
    """The cotangent of a list before its last append: all but the last entry."""
    return None if g is None else g[:-1]


def as_sequence(x: Any) -> Any:
    """What ``for item in x`` iterates, as something indexable: arrays, lists, tuples and
    ranges as they are, anything else (dicts, sets, generators) as a list."""
    if isinstance(x, (list, tuple, range)) or getattr(x, "ndim", 0) >= 1:
        return x
    return list(x)


def zeros_like_value(x: Any) -> Any:
    """A zero cotangent for ``x``: 0.0 for a scalar, zeros for an array, a container of
    zeros for a container."""
    if isinstance(x, (float, int, np.number, np.bool_)):
        return 0.0
    if isinstance(x, (list, tuple, dict)):
        return tree_fill(None, x)
    return np.zeros_like(x, dtype=np.result_type(x, 1.0))


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
    was written to (summed back over broadcasting)."""
    if g is None:
        return None
    if isinstance(g, dict):
        return g.get(index)
    if isinstance(g, list):
        return g[index]
    return unbroadcast(g[index], value)


def _same_memory(a: Any, b: Any) -> bool:
    if a is b:
        return True
    base_a, base_b = getattr(a, "base", None), getattr(b, "base", None)
    return (base_a is not None and (base_a is b or base_a is base_b)) or base_b is a


def distinct(results: tuple, *others: Any) -> tuple:
    """``results`` with any entry that is (a view of) an earlier entry, or of one of
    ``others`` (the caller's cotangent), replaced by a copy: gradients handed to the
    user never share memory with each other or with the caller's arrays."""
    seen: list = list(others)

    def fix(r: Any) -> Any:
        if isinstance(r, dict):
            return {k: fix(v) for k, v in r.items()}
        if isinstance(r, (list, tuple)):
            items = [fix(v) for v in r]
            return tuple(items) if isinstance(r, tuple) else items
        if getattr(r, "shape", None) is None or not hasattr(r, "copy"):
            return r
        if any(_same_memory(r, prev) for prev in seen):
            r = r.copy()
        seen.append(r)
        return r

    return tuple(fix(r) for r in results)


def sort_tangent(t: Any, a: Any, axis: Any = -1) -> Any:
    """Tangent of ``np.sort(a, axis)``: the tangent entries in the sorted order."""
    if axis is None:
        return np.ravel(t)[np.argsort(a, axis=None)]
    return np.take_along_axis(t, np.argsort(a, axis=axis), axis=axis)


# ---- products and linear algebra ------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_labels(subscripts: Any, ndims: list) -> tuple[list, str]:
    """The labels of each operand of ``np.einsum(subscripts, ...)`` and of its result, as
    plain letters: ``...`` spelled out as fresh letters (right-aligned, so broadcasting
    lines up as in NumPy) and an implicit result written out (the ellipsis, then the
    labels used exactly once, in alphabetical order)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(inputs)} operands, got {len(ndims)}")
    free = [c for c in _LETTERS if c not in spec]
    width = max((nd - len(s) + 3 for s, nd in zip(inputs, ndims) if "..." in s), default=0)
    ellipsis = "".join(free[:width])
    labels = []
    for s, nd in zip(inputs, ndims):
        if "..." in s:
            own = nd - len(s) + 3
            s = s.replace("...", ellipsis[width - own:])
        labels.append(s)
    if arrow:
        result = rhs.replace("...", ellipsis)
    else:
        named = lhs.replace("...", "").replace(",", "")
        result = ellipsis + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    return labels, result


def _einsum_sublists(args: list) -> tuple[str, list]:
    """The interleaved call ``np.einsum(op0, sublist0, op1, sublist1, ..., [sublistout])``
    as a subscripts string and its operands (integer labels as NumPy spells them:
    0-25 as A-Z, 26-51 as a-z)."""

    def spell(sublist: Any) -> str:
        return "".join("..." if k is Ellipsis else chr(ord("A") + k) if k < 26 else chr(ord("a") + k - 26)
                       for k in sublist)

    pairs, out = (args[:-1], args[-1]) if len(args) % 2 else (args, None)
    subscripts = ",".join(spell(s) for s in pairs[1::2])
    return subscripts + ("" if out is None else "->" + spell(out)), list(pairs[0::2])


def einsum_grad(g: Any, subscripts: Any, operands: tuple, i: int) -> Any:
    """Cotangent of operand ``i`` of ``np.einsum(subscripts, *operands)`` (None operands
    are absent ones).  In the interleaved form ``np.einsum(op0, sublist0, op1, ...)``,
    ``subscripts`` is ``op0`` and ``operands`` the arguments after it; ``i`` still
    counts operands (``op1`` is operand 1).

    The result is a sum of products, one factor per operand, so operand ``i``'s cotangent
    is the einsum of ``g`` with the *other* operands, written out to operand ``i``'s
    labels.  A label repeated within operand ``i`` (``'ii->i'`` reads a diagonal) gets an
    identity matrix joining its copies, so the cotangent lands on that diagonal only.  A
    label of operand ``i`` found nowhere else was summed over within ``i`` alone, so the
    cotangent is constant along it; an axis of size 1 that broadcast is summed back.
    """
    operands = [op for op in operands if op is not None]
    if not isinstance(subscripts, str):
        subscripts, operands = _einsum_sublists([subscripts] + operands)
    labels, result = _einsum_labels(subscripts, [np.ndim(op) for op in operands])
    x, shape = operands[i], np.shape(operands[i])
    fresh = iter(c for c in _LETTERS if c not in "".join(labels) + result)
    specs = [result] + [s for k, s in enumerate(labels) if k != i]
    args = [g] + [op for k, op in enumerate(operands) if k != i]
    wanted = ""
    for axis, c in enumerate(labels[i]):
        if c in wanted:
            twin = next(fresh)
            specs.append(c + twin)
            args.append(np.eye(shape[axis], like=x))
            c = twin
        wanted += c
    present = "".join(c for c in wanted if c in "".join(specs))
    grad = np.einsum(",".join(specs) + "->" + present, *args)
    grad = np.expand_dims(grad, tuple(k for k, c in enumerate(wanted) if c not in present))
    summed = tuple(k for k, n in enumerate(shape) if n == 1 and np.shape(grad)[k] != 1)
    if summed:
        grad = np.sum(grad, axis=summed, keepdims=True)
    return grad if np.shape(grad) == shape else np.broadcast_to(grad, shape).copy()


def _tensordot_axes(axes: Any, a_nd: int, b_nd: int) -> tuple[list, list]:
    """``np.tensordot``'s ``axes`` as two lists of paired, non-negative axes."""
    if isinstance(axes, (int, np.integer)):
        return list(range(a_nd - axes, a_nd)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    return [k % a_nd for k in a_axes], [k % b_nd for k in b_axes]


def tensordot_grad_a(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """Cotangent of ``a`` in ``np.tensordot(a, b, axes)``: ``g`` (axes: ``a``'s free axes,
    then ``b``'s) contracted with ``b`` over ``b``'s free axes, which leaves ``a``'s free
    axes and ``b``'s contracted ones (in ``b``'s order); those are put back in ``a``'s."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    a_axes, b_axes = _tensordot_axes(axes, a_nd, b_nd)
    a_free = [k for k in range(a_nd) if k not in a_axes]
    b_free = [k for k in range(b_nd) if k not in b_axes]
    ga = np.tensordot(g, b, axes=(list(range(len(a_free), len(a_free) + len(b_free))), b_free))
    order = a_free + [a_axes[b_axes.index(k)] for k in sorted(b_axes)]
    return np.transpose(ga, np.argsort(order))


def tensordot_grad_b(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """Cotangent of ``b`` in ``np.tensordot(a, b, axes)``: ``a`` contracted with ``g`` over
    ``a``'s free axes, axes then put back in ``b``'s order."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    a_axes, b_axes = _tensordot_axes(axes, a_nd, b_nd)
    a_free = [k for k in range(a_nd) if k not in a_axes]
    b_free = [k for k in range(b_nd) if k not in b_axes]
    gb = np.tensordot(a, g, axes=(a_free, list(range(len(a_free)))))
    order = [b_axes[a_axes.index(k)] for k in sorted(a_axes)] + b_free
    return np.transpose(gb, np.argsort(order))


def _kron_grid(g: Any, a: Any, b: Any) -> tuple:
    """``g`` of ``np.kron(a, b)`` viewed with axes (i0, j0, i1, j1, ...): the result's
    entry ``[i * nb + j]`` along each axis is ``a[i] b[j]`` (the shorter shape padded
    with leading 1s), so it is ``grid[i, j]``."""
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + np.shape(a)
    sb = (1,) * (nd - np.ndim(b)) + np.shape(b)
    return np.reshape(g, [n for pair in zip(sa, sb) for n in pair]), sa, sb, nd


def kron_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``np.kron(a, b)``: the grid of ``g`` contracted with ``b``."""
    grid, _, sb, nd = _kron_grid(g, a, b)
    ga = np.tensordot(grid, np.reshape(b, sb), axes=(list(range(1, 2 * nd, 2)), list(range(nd))))
    return np.reshape(ga, np.shape(a))


def kron_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``np.kron(a, b)``: the grid of ``g`` contracted with ``a``."""
    grid, sa, _, nd = _kron_grid(g, a, b)
    gb = np.tensordot(grid, np.reshape(a, sa), axes=(list(range(0, 2 * nd, 2)), list(range(nd))))
    return np.reshape(gb, np.shape(b))


def cross_grad(g: Any, x: Any, other: Any, axisx: int = -1, axisother: int = -1,
               axisc: int = -1, axis: Any = None) -> Any:
    """Cotangent of ``x`` in ``np.cross(x, other, axisx, axisother, axisc, axis)`` for
    3-vectors: ``<g, dx x other> = <dx, other x g>`` (the triple product is cyclic),
    summed back over broadcasting.  (The cotangent of ``b`` in ``cross(a, b)`` is
    ``g x a = -cross_grad(g, b, a, ...)``.)"""
    if axis is not None:
        axisx = axisother = axisc = axis
    xm, om = np.moveaxis(x, axisx, -1), np.moveaxis(other, axisother, -1)
    if np.shape(xm)[-1] != 3 or np.shape(om)[-1] != 3:
        raise NotImplementedError(
            "srcdiff: the gradient of np.cross is supported for 3-vectors only; pad 2-vectors "
            "with a zero third component"
        )
    gx = np.cross(om, np.moveaxis(g, axisc, -1))
    return np.moveaxis(unbroadcast(gx, xm), -1, axisx)


def slogdet_grad(g: Any, a: Any) -> Any:
    """Cotangent of ``a`` in ``(sign, logabsdet) = np.linalg.slogdet(a)``.

    ``d log|det A| = tr(inv(A) dA)``, so ``logabsdet``'s cotangent ``gl`` gives
    ``gl inv(A)^T``.  The sign is piecewise constant and takes no cotangent; a None
    entry of ``g`` is a zero.
    """
    gl = None if g is None else g[1]
    if gl is None:
        return np.zeros_like(a)
    return np.expand_dims(np.expand_dims(gl, -1), -1) * _swap(np.linalg.inv(a))


def _one_triangle(p: Any, upper: bool) -> Any:
    """The gradient with respect to a matrix of which only one triangle is read (the other
    taken as its mirror image), from ``p``, the gradient for a symmetric perturbation: an
    off-diagonal entry that is read moves both ``p_ij`` and ``p_ji``; the other triangle
    is not read and gets nothing."""
    both = p + _swap(p)
    diagonal = p * np.eye(np.shape(p)[-1], like=p)
    return (np.triu(both, 1) if upper else np.tril(both, -1)) + diagonal


def cholesky_grad(g: Any, out: Any, upper: bool = False) -> Any:
    """Cotangent of ``a`` in ``L = np.linalg.cholesky(a)`` (``U = L^T`` when ``upper``).

    From ``dL = L Phi(L^-1 dA L^-T)``, with ``Phi`` keeping the lower triangle and halving
    the diagonal (Murray 2016, "Differentiation of the Cholesky decomposition"), the
    gradient for a symmetric perturbation is ``P = L^-T Phi(L^T G) L^-1``.  NumPy reads
    only the lower triangle of ``a`` (the upper one when ``upper``), so entries of the
    other triangle get a zero cotangent.
    """
    low, g_low = (_swap(out), _swap(g)) if upper else (out, g)
    n = np.shape(low)[-1]
    phi = np.tril(_swap(low) @ g_low)
    phi = phi - 0.5 * phi * np.eye(n, like=phi)
    left = np.linalg.solve(_swap(low), phi)  # L^-T Phi
    p = _swap(np.linalg.solve(_swap(low), _swap(left)))  # (L^-T Phi) L^-1
    return _one_triangle(p, upper)


def eigh_grad(g: Any, out: Any, UPLO: str = "L") -> Any:
    """Cotangent of ``a`` in ``(w, v) = np.linalg.eigh(a, UPLO)``, for distinct eigenvalues.

    With ``A = V diag(w) V^T``: ``dw = diag(V^T dA V)`` and ``dV = V (F o (V^T dA V))``,
    where ``F_ij = 1 / (w_j - w_i)`` off the diagonal and 0 on it, so the gradient for a
    symmetric perturbation is ``P = V (diag(gw) + F o (V^T gv)) V^T``.  NumPy reads only
    the ``UPLO`` triangle of ``a``; the other triangle gets a zero cotangent.  A None
    entry of ``g`` is a zero.
    """
    w, v = out
    gw, gv = (None, None) if g is None else g
    eye = np.eye(np.shape(v)[-1], like=v)
    inner = np.zeros_like(v)
    if gw is not None:
        inner = inner + np.expand_dims(gw, -2) * eye
    if gv is not None:
        gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1)  # w_j - w_i
        f = np.where(eye == 1, 0.0, 1.0 / np.where(eye == 1, 1.0, gaps))
        inner = inner + f * (_swap(v) @ gv)
    return _one_triangle(v @ inner @ _swap(v), str(UPLO).upper() == "U")


def pinv_grad(g: Any, a: Any, out: Any, hermitian: bool = False) -> Any:
    """Cotangent of ``a`` in ``X = np.linalg.pinv(a)``, for ``a`` of full rank.

    From ``dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X`` (Golub and
    Pereyra 1973): ``-X^T G X^T + (I - A X) G^T X X^T + X^T X G^T (I - X A)``.  With
    ``hermitian``, NumPy reads only the lower triangle of ``a``.
    """
    if hermitian:
        a = np.tril(a) + _swap(np.tril(a, -1))
    xt, gt = _swap(out), _swap(g)
    m = gt @ (out @ xt)
    n = (xt @ out) @ gt
    grad = -xt @ g @ xt + (m - a @ (out @ m)) + (n - (n @ out) @ a)
    return _one_triangle(grad, False) if hermitian else grad


def convolve_grad(g: Any, a: Any, v: Any, mode: str = "full") -> Any:
    """Cotangent of ``a`` in ``np.convolve(a, v, mode)`` (of ``v``: swap them, convolution
    is symmetric).

    ``full[k] = sum_i a[i] v[k - i]``, so ``a``'s cotangent is the valid correlation of the
    full-length cotangent with ``v``.  ``'same'`` and ``'valid'`` keep a slice of the full
    result (starting at ``(min(n, m) - 1) // 2`` and ``min(n, m) - 1``): their cotangent is
    zero-padded back to full length first.
    """
    n, m = np.size(a), np.size(v)
    starts = {"full": 0, "same": (min(n, m) - 1) // 2, "valid": min(n, m) - 1}
    if mode not in starts:
        raise NotImplementedError(f"srcdiff: np.convolve mode {mode!r}; use 'full', 'same' or 'valid'")
    start = starts[mode]
    g_full = np.pad(g, (start, n + m - 1 - start - np.size(g)))
    return np.reshape(np.correlate(g_full, np.reshape(v, -1), "valid"), np.shape(a))


# ---- moving entries around ------------------------------------------------------------


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


# ---- reductions and scans ---------------------------------------------------------------


def cumprod_grad(g: Any, a: Any, out: Any, axis: Any = None) -> Any:
    """Cotangent of ``np.cumprod(a, axis)``, exact where ``a`` has zeros.

    ``d out_j / d a_i`` is the product of ``a_k`` over ``k <= j, k != i`` (for ``j >= i``).
    Before the first zero ``z`` of a slice that is ``out_j / a_i``, so those entries get
    the reverse cumulative sum of ``g out`` (over ``j < z``) divided by ``a_i``; the zero
    itself gets ``prod(a_k, k < z) * sum(g_j prod(a_k, z < k <= j), j >= z)``; entries after
    it get nothing (every product through them holds the factor ``a_z = 0``).
    """
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


def _average_weights(weights: Any, a: Any, axis: Any) -> tuple:
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
    w, back = _average_weights(weights, a, axis)
    g = _expand(g, ndim, axis, keepdims)
    total = np.sum(w, axis=axis, keepdims=True)
    if part == "a":
        return unbroadcast(g * w / total, a)
    return back(unbroadcast(g * (a - _expand(out, ndim, axis, keepdims)) / total, w))


def nanmean_grad(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Cotangent of ``np.nanmean``: ``g`` over the number of non-NaN entries averaged, at
    the non-NaN entries; NaN entries were left out and get zero."""
    present = ~np.isnan(a)
    count = np.sum(present, axis=axis, keepdims=True)
    return np.where(present, _expand(g, np.ndim(a), axis, keepdims) / count, 0.0)


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
    axes = list(_axes(axis, ndim))
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


# ---- polynomials and interpolation ------------------------------------------------------


def polyval_grad_p(g: Any, p: Any, x: Any) -> Any:
    """Cotangent of ``p`` in ``np.polyval(p, x) = sum_i p[i] x^(N-1-i)``: ``p[i]`` gets
    ``g x^(N-1-i)``, summed back to ``p[i]``'s shape."""
    powers = []
    term = g
    for _ in range(np.shape(p)[0]):
        powers.append(unbroadcast(term, p[0]))
        term = term * x
    return np.stack(powers[::-1])


def interp_grad(g: Any, x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
                period: Any = None, part: str = "x") -> Any:
    """Cotangent of ``part`` (``'x'``, ``'xp'``, ``'fp'``, ``'left'``, ``'right'`` or
    ``'period'``) of ``np.interp(x, xp, fp, left, right, period)``.

    On ``[xp_k, xp_k+1]``, with ``t = (x - xp_k) / (xp_k+1 - xp_k)`` and slope ``s``,
    ``out = (1 - t) fp_k + t fp_k+1``: ``x`` gets ``g s``, ``fp_k`` and ``fp_k+1`` get
    ``g (1 - t)`` and ``g t``, ``xp_k`` and ``xp_k+1`` get ``g s (t - 1)`` and ``-g s t``.
    Left of ``xp_0`` the result is ``left`` (``fp_0`` if None), right of ``xp_-1``
    ``right`` (``fp_-1``).  With ``period``, ``x`` and ``xp`` are taken modulo ``period``
    (``x - floor(x / period) period``) and ``xp`` sorted and extended by a point at each
    end (``-/+ period``), as NumPy does; the cotangents of those points go back to the
    entries they came from, and ``period`` gets each point's cotangent times its
    derivative with respect to ``period``.
    """
    index = None
    if period is not None:
        x_turns = -np.floor(x / period)  # d (x % period) / d period
        x = x % period
        xp_turns = -np.floor(xp / period)
        xp = xp % period
        order = np.argsort(xp)
        index = np.concatenate([order[-1:], order, order[:1]])
        xp = np.concatenate([xp[order[-1:]] - period, xp[order], xp[order[:1]] + period])
        xp_turns = xp_turns[index] + np.concatenate([[-1.0], np.zeros(np.shape(order)[0]), [1.0]])
        fp = fp[index]
        left = right = None
    n = np.shape(xp)[0]
    if n < 2:
        raise NotImplementedError("srcdiff: the gradient of np.interp needs at least two points xp")
    k = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    below, above = x < xp[0], x > xp[-1]
    inside = np.where(below | above, 0.0, g)
    width = xp[k + 1] - xp[k]
    t = (x - xp[k]) / width
    slope = (fp[k + 1] - fp[k]) / width
    if part == "x":
        return inside * slope
    if part == "left":
        return np.sum(np.where(below, g, 0.0))
    if part == "right":
        return np.sum(np.where(above, g, 0.0))
    grad = np.zeros_like(xp, dtype=np.result_type(xp, g, 1.0))
    if part == "fp":
        np.add.at(grad, k, inside * (1 - t))
        np.add.at(grad, k + 1, inside * t)
        if left is None:
            grad[0] += np.sum(np.where(below, g, 0.0))
        if right is None:
            grad[-1] += np.sum(np.where(above, g, 0.0))
    else:
        np.add.at(grad, k, inside * slope * (t - 1))
        np.add.at(grad, k + 1, -inside * slope * t)
    if part == "period":
        return np.sum(inside * slope * x_turns) + np.sum(grad * xp_turns)
    if index is not None:
        own = np.zeros(np.shape(index)[0] - 2, dtype=grad.dtype)
        np.add.at(own, index, grad)
        grad = own
    return grad


# ---- scipy.special (imported only when these run: SciPy is optional) -------------------


def gammaln_grad(g: Any, x: Any) -> Any:
    """Cotangent of ``scipy.special.gammaln``: ``g digamma(x)``."""
    from scipy import special

    return g * special.digamma(x)


def digamma_grad(g: Any, x: Any) -> Any:
    """Cotangent of ``scipy.special.digamma``: ``g polygamma(1, x)`` (the trigamma)."""
    from scipy import special

    return g * special.polygamma(1, x)


def logsumexp_grad(g: Any, a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
                   return_sign: bool = False, part: str = "a") -> Any:
    """Cotangent of ``part`` (``'a'`` or ``'b'``) of ``scipy.special.logsumexp(a, axis, b,
    keepdims)`` = ``log sum(b e^a)``, for a positive sum.

    ``a`` gets ``g`` times the softmax ``b e^a / sum(b e^a)``, and ``b`` gets
    ``g e^a / sum(b e^a)``, both computed after subtracting the (finite) maximum of ``a``
    so the exponentials cannot overflow.
    """
    if return_sign:
        raise NotImplementedError(
            "srcdiff: the gradient of logsumexp(..., return_sign=True) is not supported"
        )
    shift = np.max(a, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    e = np.exp(a - shift)
    total = np.sum(e if b is None else b * e, axis=axis, keepdims=True)
    g = _expand(g, np.ndim(total), axis, keepdims)
    if part == "a":
        return unbroadcast(g * (e if b is None else b * e) / total, a)
    return unbroadcast(g * e / total, b)
