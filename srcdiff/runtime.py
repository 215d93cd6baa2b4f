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
    a_lead = np.ndim(a) - 1
    b_lead = np.ndim(b) - 1
    g_axes = list(range(a_lead, a_lead + b_lead))
    return np.tensordot(g, b, axes=(g_axes, list(range(b_lead))))


def inner_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``np.inner(a, b)``."""
    lead = list(range(np.ndim(a) - 1))
    return np.tensordot(g, a, axes=(lead, lead))


def det_grad(g: Any, a: Any, out: Any) -> Any:
    """Cotangent of ``np.linalg.det``: ``g det(A) inv(A)^T``."""
    scale = np.expand_dims(np.expand_dims(g * out, -1), -1)
    return scale * np.swapaxes(np.linalg.inv(a), -1, -2)


def solve_grad_b(g: Any, a: Any) -> Any:
    """Cotangent of ``b`` in ``x = np.linalg.solve(a, b)``: ``solve(a^T, g)``."""
    return np.linalg.solve(np.swapaxes(a, -1, -2), g)


def solve_grad_a(g: Any, a: Any, out: Any) -> Any:
    """Cotangent of ``a`` in ``x = np.linalg.solve(a, b)``: ``-solve(a^T, g) x^T``."""
    gb = solve_grad_b(g, a)
    if np.ndim(out) == 1:
        return -np.multiply.outer(gb, out)
    return -gb @ np.swapaxes(out, -1, -2)


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
    out = list(results)
    for i, r in enumerate(out):
        if not hasattr(r, "copy") or isinstance(r, (list, dict, tuple)):
            continue
        if any(_same_memory(r, prev) for prev in out[:i]) or any(_same_memory(r, o) for o in others):
            out[i] = r.copy()
    return tuple(out)


def sort_tangent(t: Any, a: Any, axis: Any = -1) -> Any:
    """Tangent of ``np.sort(a, axis)``: the tangent entries in the sorted order."""
    if axis is None:
        return np.ravel(t)[np.argsort(a, axis=None)]
    return np.take_along_axis(t, np.argsort(a, axis=axis), axis=axis)
