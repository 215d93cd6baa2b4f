"""The few helpers generated code calls.

Generated derivatives are plain NumPy; where an adjoint needs more than one expression
(undoing broadcasting, spreading a reduction's cotangent back over its input, scattering
an index's cotangent), it calls one of these.  They operate on whatever array objects
they are given through ``np.*`` functions and never convert with ``np.asarray``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "unbroadcast",
    "unbroadcast_to",
    "det_grad_tangent",
    "memory_order",
    "last_writes",
    "write_back",
    "getitem_grad_to",
    "unconcatenate_to",
    "power_term",
    "literal",
    "method_vjp",
    "method_jvp",
    "seed",
    "real_like",
    "sum_grad",
    "mean_grad",
    "minmax_grad",
    "prod_grad",
    "var_grad",
    "cumsum_grad",
    "matmul_grad_a",
    "matmul_grad_b",
    "matmul_grads_sum",
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
    "sort_value",
    "sort_value_grad",
    "sort_value_tangent",
    "array_fill",
    "list_extend",
    "list_head",
    "list_tail",
    "list_pad_to",
    "list_pad_front",
    "list_reversed",
    "list_insert",
    "list_delete",
    "list_entry",
    "list_unentry",
    "cleared",
    "as_sequence",
    "zeros_like_value",
    "setitem",
    "index_add",
    "add_rows",
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
    "cholesky_tangent",
    "eigh_tangent",
    "pinv_tangent",
    "cumprod_tangent",
    "diff_tangent",
    "pad_tangent",
    "average_tangent",
    "logsumexp_tangent",
    "interp_tangent",
    "prod_pairs",
    "prod_triples",
    "norm_grad_coef",
    "rhs_matmul",
    "rhs_outer",
    "tree_fill_grad",
    "list_pad",
    "rejoin",
    "meshgrid_spread",
    "cumprod_hvp",
    "diff_grad_adjoint",
    "einsum_grad_tangent",
    "einsum_grad_adjoint",
    "cholesky_grad_tangent",
    "cholesky_grad_adjoint",
    "eigh_grad_tangent",
    "eigh_grad_adjoint",
    "pinv_grad_tangent",
    "pinv_grad_adjoint",
    "average_grad_tangent",
    "average_grad_adjoint",
    "logsumexp_grad_tangent",
    "logsumexp_grad_adjoint",
    "polyval_grad_p_tangent",
    "polygamma_grad",
    "polyder_grad",
    "unique_grad",
    "unique_tangent",
]


def unbroadcast(g: Any, x: Any) -> Any:
    """``g`` summed (or broadcast) to the shape of ``x``: undoes NumPy broadcasting.

    >>> unbroadcast(np.ones((2, 3)), np.ones(3)).tolist()
    [2.0, 2.0, 2.0]
    >>> unbroadcast(np.ones((2, 3)), np.ones((2, 1))).tolist()
    [[3.0], [3.0]]
    """
    try:
        shape = x.shape
        if g.shape == shape:  # the common case, first and short
            return g
    except AttributeError:
        shape = getattr(x, "shape", None)
        if shape is None:
            shape = np.shape(x)  # Python scalars, lists
    return unbroadcast_to(g, shape)


def unbroadcast_to(g: Any, shape: tuple) -> Any:
    """``unbroadcast`` given the shape rather than the value: what a loop's adjoint
    uses where the primal iteration kept only a value's shape.

    >>> unbroadcast_to(np.ones((2, 3)), (1, 3)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    gshape = getattr(g, "shape", ())
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = g.sum(axis=0) if extra == 1 else g.sum(axis=tuple(range(extra)))
        gshape = gshape[extra:]
    elif extra < 0 and np.ndim(g):  # fewer axes than the target: leading axes of length 1
        g = np.reshape(g, (1,) * -extra + tuple(gshape))
        gshape = g.shape
    if len(gshape) == len(shape):
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and gshape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
            gshape = g.shape
    if gshape != shape:
        g = np.array(np.broadcast_to(g, shape))  # a writable array, not a read-only view
    return g


def power_term(c: Any, x: Any, e: Any) -> Any:
    """``c * x ** e``, with 0 where ``c == 0``: the derivatives of ``x ** y`` in ``x``
    (``power_term(y, x, y - 1)``, then ``power_term(y * (y - 1), x, y - 2)``, ...), which
    the textbook form makes ``0 * inf`` at ``x == 0``.

    >>> power_term(np.array([0.0, 3.0]), np.array([0.0, 2.0]), np.array([-1.0, 2.0])).tolist()
    [0.0, 12.0]
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(np.equal(c, 0), 0.0, c * np.power(x, e))


def literal(value: Any) -> bool:
    """In a rule template, whether an argument is a number written in the code: the
    choice is made when the code is generated, so this runs only when it could not be
    (and then the general form is taken)."""
    return False


_METHOD_DERIVATIVES: dict = {}


def method_vjp(obj: Any, name: str, wrt: tuple) -> Any:
    """The vjp of the method ``name`` of ``obj``'s class, with respect to the parameter
    positions ``wrt`` (``obj`` is position 0): how generated code differentiates
    ``obj.name(...)``, whose class is known only when it runs."""
    return _method_derivative("vjp", obj, name, wrt)


def method_jvp(obj: Any, name: str, wrt: tuple) -> Any:
    """The jvp of the method ``name`` of ``obj``'s class (see :func:`method_vjp`)."""
    return _method_derivative("jvp", obj, name, wrt)


def _method_derivative(mode: str, obj: Any, name: str, wrt: tuple) -> Any:
    import inspect
    import types

    fn = inspect.getattr_static(type(obj), name, None)
    key = (mode, fn, wrt)
    found = _METHOD_DERIVATIVES.get(key)
    if found is None:
        from . import api
        from .errors import NoRuleError

        if not isinstance(fn, types.FunctionType):
            raise NoRuleError(
                f"cannot differentiate the call of .{name}() on a {type(obj).__name__}: it is not "
                "a method defined in Python on its class",
                hint=f"call the function it runs directly, with the instance first "
                f"({type(obj).__name__}.{name}(obj, ...)), or register a rule for it")
        found = _METHOD_DERIVATIVES[key] = getattr(api, mode)(fn, wrt=wrt)
    return found


def seed(out: Any, where: str, holomorphic: bool = False) -> Any:
    """The cotangent 1 for a scalar result; raises if the result is not a scalar, or is
    complex where the gradient of a complex result is not defined (``holomorphic``: the
    function is holomorphic in complex arguments, and its gradient is ``f'(z)``)."""
    if isinstance(out, (float, int, np.floating, np.integer, np.bool_)):
        return 1.0
    size = getattr(out, "size", None)
    if size == 1 and out.dtype.kind == "f":
        return np.ones_like(out)
    complex_out = isinstance(out, (complex, np.complexfloating)) or getattr(
        getattr(out, "dtype", None), "kind", None) == "c"
    if complex_out and not holomorphic:
        import sys

        from .compile import RETURN_LOCATIONS
        from .errors import NonScalarOutputError

        loc = RETURN_LOCATIONS.get(sys._getframe(1).f_code)
        raise NonScalarOutputError(
            "grad needs a real result, but the function returned a complex number"
            + ("" if loc else f" ({where})") + "; its gradient is defined only for a function "
            "that is holomorphic in complex arguments (f'(z)), and this one is not, or its "
            "arguments are real",
            loc,
            hint="differentiate a real quantity (np.real(f), np.abs(f) ** 2), or use srcdiff.jvp "
            "(a complex result of real arguments) or srcdiff.vjp with a complex cotangent",
        )
    if isinstance(out, complex):
        return 1.0
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


def real_like(g: Any, like: Any) -> Any:
    """``g``, the cotangent of the real value ``like``, without an imaginary part: where
    a real value meets complex ones, the part of the cotangent along the imaginary axis
    is not a direction the real value can move in.  Containers entry by entry; ``g``
    itself where ``like`` is complex.

    >>> real_like(np.array([1 + 2j, 3 - 1j]), np.zeros(2)).tolist()
    [1.0, 3.0]
    >>> real_like(1 + 2j, 0.5 + 0j)
    (1+2j)
    """
    if g is None:
        return None
    if isinstance(like, dict):
        return {k: real_like(v, like.get(k)) for k, v in g.items()} if isinstance(g, dict) else g
    if isinstance(like, (list, tuple)):
        if isinstance(g, (list, tuple)) and len(g) == len(like):
            parts = [real_like(v, w) for v, w in zip(g, like)]
            return tuple(parts) if isinstance(g, tuple) else parts
        return g if any(_is_complex(w) for w in like) else _real_part(g)
    return g if _is_complex(like) else _real_part(g)


def _is_complex(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_is_complex(v) for v in value)
    if isinstance(value, dict):
        return any(_is_complex(v) for v in value.values())
    return isinstance(value, (complex, np.complexfloating)) or getattr(
        getattr(value, "dtype", None), "kind", None) == "c"


def _real_part(g: Any) -> Any:
    if isinstance(g, (list, tuple)):
        parts = [_real_part(v) for v in g]
        return tuple(parts) if isinstance(g, tuple) else parts
    if isinstance(g, dict):
        return {k: _real_part(v) for k, v in g.items()}
    if isinstance(g, complex):
        return g.real
    return np.real(g) if _is_complex(g) else g


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
    # divide on the reduced shape, then one product over the whole array
    return mask * (g / np.sum(mask, axis=axis, keepdims=True))


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


def matmul_grads_sum(side: str, pairs: list, fixed: Any) -> Any:
    """The sum of ``matmul_grad_a(g, fixed, v)`` (``side="a"``) or ``matmul_grad_b(g, v,
    fixed)`` (``side="b"``) over ``pairs`` of (g, v): the cotangent of a matrix that
    every iteration of a loop multiplies.

    A loop's adjoint collects the pairs instead of adding one outer product per
    iteration; where every ``v`` is a vector (or every one a matrix) of one shape, the
    sum is one matrix product of the stacked pairs.  Zeros when there are none.

    >>> w = np.ones((2, 3))
    >>> pairs = [(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0])),
    ...          (np.array([0.0, 1.0, 0.0]), np.array([2.0, 1.0]))]
    >>> matmul_grads_sum("b", pairs, w).tolist()
    [[1.0, 4.0, 3.0], [0.0, 1.0, 0.0]]
    """
    if not pairs:
        return np.zeros(np.shape(fixed), np.result_type(fixed, 1.0))
    g0, v0 = pairs[0]
    rank = np.ndim(v0)
    if np.ndim(fixed) == 2 and rank in (1, 2) and np.ndim(g0) == rank:
        # The list is the generated code's own, read once: emptied here, so that each
        # list of arrays is freed as soon as it is stacked, not after the product.
        gs = [g for g, _ in pairs]
        vs = [v for _, v in pairs]
        pairs.clear()
        if rank == 1:  # vectors of one shape each: rows of two matrices
            v = _stacked(vs)
            if v is not None:
                del vs
                g = _stacked(gs)
                if g is not None:
                    del gs
                    return v.T @ g if side == "b" else g.T @ v  # sum of outer products
                vs = list(v)
        else:  # matrices: side by side (each pair's rows, or columns, agree)
            try:
                if side == "b":  # sum of v_t^T g_t
                    v = np.concatenate(vs)
                    g = np.concatenate(gs)
                    del gs, vs
                    return v.T @ g
                g = np.concatenate(gs, axis=1)  # sum of g_t v_t^T
                v = np.concatenate(vs, axis=1)
                del gs, vs
                return g @ v.T
            except ValueError:
                pass
        pairs = list(zip(gs, vs))
    grad = matmul_grad_a if side == "a" else matmul_grad_b
    total = None
    for g, v in pairs:
        term = grad(g, fixed, v) if side == "a" else grad(g, v, fixed)
        total = term if total is None else total + term
    return total


def _stacked(arrays: list) -> Any:
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
    stacked = _stacked(grads)
    if stacked is None:  # numbers, or cotangents of different shapes (broadcast to the row)
        for t, g in zip(rows, grads):
            acc[t] += g
        grads.clear()
        return
    grads.clear()
    # rows counting up from 0 or more are a slice; negative ones may name a row twice
    index_add(acc, slice(rows.start, rows.stop, rows.step) if rows.step > 0 and rows.start >= 0
              else np.asarray(rows), stacked)


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
            return np.stack([np.zeros_like(like[k]) if x is None else x for k, x in enumerate(g)])
        if type(like) is float and type(g) is not float and np.ndim(g) == 0:
            return float(g)  # a float for a float
        return g
    if isinstance(like, (float, np.floating)):
        return 0.0
    return np.zeros_like(like)


def _is_float_like(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return dtype.kind in "fc"
    return isinstance(x, (float, complex))


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


def det_grad(g: Any, a: Any) -> Any:
    """Cotangent of ``a`` in ``np.linalg.det(a)``: ``g`` times the cofactor matrix of
    ``a`` (the transposed adjugate, ``det(A) inv(A)^T`` where ``A`` is invertible, and
    finite where it is not).  From the SVD ``A = U S V^T``: ``cof(A) = det(U) det(V)
    U diag(c) V^T`` with ``c_i`` the product of the singular values but ``s_i``.

    >>> det_grad(1.0, np.array([[1.0, 2.0], [2.0, 4.0]])).round(12).tolist()
    [[4.0, -2.0], [-2.0, 1.0]]
    """
    u, s, vt = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vt)  # +-1
    scale = np.expand_dims(np.expand_dims(g * sign, -1), -1)
    return scale * (u * np.expand_dims(_products_of_others(s), -2)) @ vt


def _products_of_others(s: Any) -> Any:
    """``prod_{j != i} s_j`` along the last axis, without dividing (exact with zeros):
    the product of the entries before ``i`` times the product of those after it."""
    ones = np.ones_like(s[..., :1])
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(s, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return before * after


def _products_of_pairs(s: Any) -> Any:
    """``P[..., i, j] = prod_{l != i, j} s_l`` for ``i != j``, and 0 on the diagonal."""
    n = np.shape(s)[-1]
    i, j, k = np.ogrid[:n, :n, :n]
    keep = (k != i) & (k != j)
    p = np.prod(np.where(keep, np.expand_dims(np.expand_dims(s, -2), -2), 1.0), axis=-1)
    return p * (1.0 - np.eye(n))


def det_grad_tangent(g: Any, a: Any, t: Any) -> Any:
    """Derivative of ``det_grad(g, a)`` along ``t`` (``g`` fixed): ``g`` times the Hessian
    of the determinant applied to ``t``, exact at singular matrices too.  It is
    symmetric, so it is also ``det_grad``'s adjoint in ``a``.

    With ``A = U S V^T`` and ``M = U^T t V``, ``d cof(A) = det(U) det(V) U d cof(S) V^T``,
    where ``d cof(S)[i, j] = -M[j, i] P[i, j]`` off the diagonal and
    ``sum_k P[i, k] M[k, k]`` on it, ``P[i, j]`` the product of the singular values but
    ``s_i`` and ``s_j`` (the polynomial limit of ``det(S) (tr(S^-1 M) S^-1 - S^-1 M^T S^-1)``).
    """
    u, s, vt = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    m = _swap(u) @ t @ _swap(vt)
    p = _products_of_pairs(s)
    on_diagonal = p @ np.expand_dims(np.diagonal(m, axis1=-2, axis2=-1), -1)  # (..., n, 1)
    dcof = on_diagonal * np.eye(np.shape(s)[-1]) - _swap(m) * p
    scale = np.expand_dims(np.expand_dims(g * sign, -1), -1)
    return scale * (u @ dcof @ vt)


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
    lifted = [np.broadcast_to(0.0, shape) for shape in _lifted_shapes(arrays, ndmin, columns)]
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
        from .errors import NoRuleError

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


def zeros_like_value(x: Any) -> Any:
    """A zero cotangent for ``x``: 0.0 for a scalar, zeros for an array, a container of
    zeros for a container, None (no value, no derivative) for None."""
    if x is None or isinstance(x, (range, str, bytes, slice)):
        return None  # saved loop bookkeeping: no derivative
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
    return tuple(_distinct_leaves(r, seen) for r in results)


def _distinct_leaves(r: Any, seen: list) -> Any:
    # a module-level recursion: a nested closure calling itself would be a reference
    # cycle, keeping every gradient alive until the cyclic garbage collector runs
    if isinstance(r, dict):
        return {k: _distinct_leaves(v, seen) for k, v in r.items()}
    if isinstance(r, (list, tuple)):
        items = [_distinct_leaves(v, seen) for v in r]
        return tuple(items) if isinstance(r, tuple) else items
    if getattr(r, "shape", None) is None or not hasattr(r, "copy"):
        return r
    if any(_same_memory(r, prev) for prev in seen):
        r = r.copy()
    seen.append(r)
    return r


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


# ---- forward mode: tangents longer than an expression -----------------------------------


def _symmetric(t: Any, upper: bool = False) -> Any:
    """The symmetric matrix a function reading one triangle of its argument sees in ``t``:
    the lower (``upper``: upper) triangle mirrored.  The adjoint of :func:`_one_triangle`."""
    if upper:
        return np.triu(t) + _swap(np.triu(t, 1))
    return np.tril(t) + _swap(np.tril(t, -1))


def _inverse_gaps(w: Any) -> Any:
    """``F_ij = 1 / (w_j - w_i)`` off the diagonal, 0 on it (eigenvalues ``w`` distinct)."""
    eye = np.eye(np.shape(w)[-1], like=w)
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    return np.where(eye == 1, 0.0, 1.0 / np.where(eye == 1, 1.0, gaps))


def cholesky_tangent(t: Any, out: Any, upper: bool = False) -> Any:
    """Tangent of ``L = np.linalg.cholesky(a, upper)`` along ``t``: ``dL = L Phi(L^-1 S L^-T)``,
    where ``S`` is the symmetric perturbation NumPy sees (the lower triangle of ``t``
    mirrored; the upper one when ``upper``) and ``Phi`` keeps the lower triangle and halves
    the diagonal.  With ``upper`` the result is ``U = L^T``, so its tangent is ``dL^T``.

    >>> a = np.array([[4.0, 2.0], [2.0, 3.0]])
    >>> t = np.array([[1.0, 0.0], [0.5, 0.0]])
    >>> eps = 1e-7
    >>> fd = (np.linalg.cholesky(a + eps * t) - np.linalg.cholesky(a - eps * t)) / (2 * eps)
    >>> bool(np.allclose(cholesky_tangent(t, np.linalg.cholesky(a)), fd))
    True
    """
    low = _swap(out) if upper else out
    s = _symmetric(t, upper)
    inner = np.linalg.solve(low, _swap(np.linalg.solve(low, s)))  # L^-1 S L^-T (S symmetric)
    phi = np.tril(inner) - 0.5 * inner * np.eye(np.shape(inner)[-1], like=inner)
    d_low = low @ phi
    return _swap(d_low) if upper else d_low


def eigh_tangent(t: Any, out: Any, UPLO: str = "L") -> tuple:
    """Tangent ``(dw, dV)`` of ``(w, V) = np.linalg.eigh(a, UPLO)`` along ``t``, for distinct
    eigenvalues: with ``K = V^T S V`` (``S`` the symmetric perturbation NumPy sees, read
    from the ``UPLO`` triangle of ``t``), ``dw = diag(K)`` and ``dV = V (F o K)``,
    ``F_ij = 1 / (w_j - w_i)`` off the diagonal and 0 on it."""
    w, v = out
    k = _swap(v) @ _symmetric(t, str(UPLO).upper() == "U") @ v
    return np.diagonal(k, axis1=-2, axis2=-1).copy(), v @ (_inverse_gaps(w) * k)


def pinv_tangent(t: Any, a: Any, out: Any, hermitian: bool = False) -> Any:
    """Tangent of ``X = np.linalg.pinv(a)`` along ``t``, for ``a`` of full rank (Golub and
    Pereyra 1973): ``dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X``.  With
    ``hermitian`` NumPy reads the lower triangle of ``a`` only (and of ``t``)."""
    if hermitian:
        a, t = _symmetric(a), _symmetric(t)
    x, xt, tt = out, _swap(out), _swap(t)
    return -x @ t @ x + x @ xt @ (tt - tt @ a @ x) + (tt - x @ a @ tt) @ xt @ x


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


def pad_tangent(t: Any, pad_width: Any, mode: Any = "constant", dvalue: Any = 0.0) -> Any:
    """Tangent of ``np.pad(array, pad_width, mode='constant', constant_values=c)``: the
    tangent of ``array`` padded with the tangent of ``c`` (it is linear in both)."""
    _check_pad_mode(mode)
    return np.pad(t, pad_width, constant_values=dvalue)


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
    w, _ = _average_weights(weights, a, axis)
    tw, _ = _average_weights(t, a, axis)
    centered = a - _expand(out, np.ndim(a), axis, keepdims)
    return np.sum(tw * centered / np.sum(w, axis=axis, keepdims=True), axis=axis, keepdims=keepdims)


def logsumexp_tangent(t: Any, a: Any, out: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
                      return_sign: bool = False, part: str = "a") -> Any:
    """Tangent of ``out = scipy.special.logsumexp(a, axis, b, keepdims)`` along ``t`` in
    ``part`` (``'a'`` or ``'b'``): with ``e = exp(a - out) = e^a / sum(b e^a)`` (at most
    ``1 / b``: nothing overflows), ``sum(e b t)`` for ``a`` and ``sum(e t)`` for ``b``."""
    if return_sign:
        raise NotImplementedError(
            "srcdiff: the derivative of logsumexp(..., return_sign=True) is not supported"
        )
    ndim = max(np.ndim(a), np.ndim(b)) if b is not None else np.ndim(a)
    e = np.exp(a - _expand(out, ndim, axis, keepdims))
    weighted = t if part == "b" or b is None else b * t
    return np.sum(e * weighted, axis=axis, keepdims=keepdims)


def interp_tangent(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None,
                   dx: Any = 0.0, dxp: Any = 0.0, dfp: Any = 0.0, dleft: Any = 0.0, dright: Any = 0.0,
                   dperiod: Any = 0.0) -> Any:
    """Tangent of ``np.interp(x, xp, fp, left, right, period)`` given the tangents of all
    six arguments (zeros for the constant ones).

    On ``[xp_k, xp_k+1]``, with ``t = (x - xp_k) / (xp_k+1 - xp_k)`` and slope ``s``,
    ``out = (1 - t) fp_k + t fp_k+1``, so ``dout = (1 - t) dfp_k + t dfp_k+1 + s (dx -
    (1 - t) dxp_k - t dxp_k+1)``; left of ``xp_0`` it is ``dleft`` (``dfp_0`` if ``left``
    is None), right of ``xp_-1`` ``dright`` (``dfp_-1``).  With ``period``, ``x`` and ``xp``
    are taken modulo ``period`` and ``xp`` extended as NumPy does (see :func:`interp_grad`),
    their tangents with them.
    """
    dxp = np.broadcast_to(dxp, np.shape(xp))
    dfp = np.broadcast_to(dfp, np.shape(fp))
    if period is not None:
        dx = dx - np.floor(x / period) * dperiod  # d (x - floor(x / period) period)
        x = x % period
        dxp = dxp - np.floor(xp / period) * dperiod
        xp = xp % period
        order = np.argsort(xp)
        index = np.concatenate([order[-1:], order, order[:1]])
        xp = np.concatenate([xp[order[-1:]] - period, xp[order], xp[order[:1]] + period])
        ends = np.concatenate([[-1.0], np.zeros(np.shape(order)[0]), [1.0]])
        dxp = dxp[index] + ends * dperiod
        fp, dfp = fp[index], dfp[index]
        left = right = None
    n = np.shape(xp)[0]
    if n < 2:
        raise NotImplementedError("srcdiff: the derivative of np.interp needs at least two points xp")
    k = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    width = xp[k + 1] - xp[k]
    t = (x - xp[k]) / width
    slope = (fp[k + 1] - fp[k]) / width
    inside = (1 - t) * dfp[k] + t * dfp[k + 1] + slope * (dx - (1 - t) * dxp[k] - t * dxp[k + 1])
    d_left = dfp[0] if left is None else dleft
    d_right = dfp[-1] if right is None else dright
    return np.where(x < xp[0], d_left, np.where(x > xp[-1], d_right, inside))


# ---- second derivatives: rules for the helpers above, where one expression is not enough --


def _others_derivative(a: Any, axis: Any, directions: list) -> Any:
    """For each entry ``i`` of ``a``, the mixed derivative along all of ``directions`` (arrays
    shaped like ``a``) of the product of the *other* entries of its slice along ``axis``.

    Prefix and suffix products are carried as truncated multi-dual numbers, one component
    per subset of the directions (``p``, ``dp/dw``, ``dp/ds``, ``d2p/dw ds``, ...), so the
    result is exact where ``a`` has zeros: nothing is divided.
    """
    ndim = np.ndim(a)
    if ndim == 0:  # the product of no other entries is the constant 1
        return np.zeros_like(a * sum(directions), dtype=float)
    axes = list(_axes(axis, ndim))
    rest = [i for i in range(ndim) if i not in axes]
    order = rest + axes
    moved = [np.transpose(np.broadcast_to(x, np.shape(a)), order) for x in [a] + list(directions)]
    lead = np.shape(moved[0])[: len(rest)]
    flat = [np.reshape(x, lead + (-1,)) for x in moved]
    n, k = np.shape(flat[0])[-1], len(directions)
    subsets = range(1 << k)  # bit d set: differentiated along direction d

    def times(p: list, j: int) -> list:
        """The multi-dual ``p`` times ``a_j + sum_d e_d w_d[j]`` (each e_d squares to 0)."""
        return [p[m] * flat[0][..., j] + sum(p[m ^ (1 << d)] * flat[d + 1][..., j]
                                             for d in range(k) if m & (1 << d))
                for m in subsets]

    def scan(indices: Any) -> dict:
        one = np.ones_like(flat[0][..., 0], dtype=np.result_type(*flat, 1.0))
        p = [one] + [np.zeros_like(one) for _ in range(1, 1 << k)]
        seen = {}
        for j in indices:
            seen[j] = p
            p = times(p, j)
        return seen

    pre, suf = scan(range(n)), scan(range(n - 1, -1, -1))
    full = (1 << k) - 1
    mixed = [sum(pre[j][m] * suf[j][full ^ m] for m in subsets) for j in range(n)]
    return np.transpose(np.reshape(np.stack(mixed, axis=-1), np.shape(moved[0])), np.argsort(order))


def prod_pairs(w: Any, a: Any, axis: Any = None) -> Any:
    """For each entry ``i`` of ``a``, ``sum_j w_j prod_{k != i, j} a_k`` over the other
    entries ``j`` of its slice along ``axis``: the derivative along ``w`` of the products of
    the *other* entries (``d prod / d a_i``), i.e. the Hessian of ``np.prod`` applied to
    ``w`` (it is symmetric).  Exact where ``a`` has zeros (see :func:`_others_derivative`).
    """
    return _others_derivative(a, axis, [w])


def prod_triples(w: Any, s: Any, a: Any, axis: Any = None) -> Any:
    """The derivative of :func:`prod_pairs` ``(w, a, axis)`` along ``s`` (a change of ``a``):
    for each entry ``i``, ``sum w_j s_m prod_{k != i, j, m} a_k`` over distinct ``j``, ``m``
    other than ``i``.  Symmetric in ``w``, ``s`` and the entry, so it is also the adjoint."""
    return _others_derivative(a, axis, [w, s])


def _norm_power(x: Any, ord: Any, axis: Any) -> float | None:
    """The ``p`` of the vector p-norm (2 for Frobenius) whose gradient :func:`norm_grad`
    computes, or None where that gradient is locally constant (``inf``, ``-inf``, 0, 1)."""
    ndim = np.ndim(x)
    vector = ndim == 1 or isinstance(axis, int) or (isinstance(axis, tuple) and len(axis) == 1)
    if ord not in (None, "fro") and not (vector and ord != "nuc"):
        raise NotImplementedError(
            f"srcdiff: the derivative of np.linalg.norm with ord={ord!r} on matrices is not "
            "supported; use ord=None (Frobenius) or compute the norm explicitly"
        )
    if ord in (None, "fro"):
        return 2.0
    if ord in (0, 1, np.inf, -np.inf):
        return None
    return float(ord)


def _norm_parts(g: Any, x: Any, out: Any, axis: Any, keepdims: bool) -> tuple:
    if axis is None:
        return g, out
    ndim = np.ndim(x)
    return _expand(g, ndim, axis, keepdims), _expand(out, ndim, axis, keepdims)


def norm_grad_coef(g: Any, x: Any, out: Any, ord: Any = None, axis: Any = None, keepdims: bool = False,
                   i: int = 1, j: int = 0) -> Any:
    """The ``i``-th derivative in ``x`` and ``j``-th in ``out`` of ``norm_grad(g, x, out, ord,
    axis, keepdims)``, taking ``x`` and ``out`` as independent (``g`` held fixed), entry by
    entry as an array of ``x``'s shape (multiply by the tangent of ``x``, or by the expanded
    tangent of ``out``).  For the p-norm gradient ``g sign(x) |x|^(p-1) out^(1-p)`` it is
    ``g (p-1)(p-2)...(p-i) (1-p)(-p)...(2-p-j) sign(x)^(i+1) |x|^(p-1-i) out^(1-p-j)``;
    zero at a zero norm and for the locally constant gradients (``ord`` 0, 1, inf)."""
    p = _norm_power(x, ord, axis)
    g_full, out_full = _norm_parts(g, x, out, axis, keepdims)
    factor = 1.0
    for k in range(i):
        factor *= (p - 1 - k) if p is not None else 0.0
    for k in range(j):
        factor *= (1 - p - k) if p is not None else 0.0
    if p is None or factor == 0.0:
        return np.zeros_like(x * g_full, dtype=float)
    safe = np.where(out_full == 0, 1.0, out_full)
    magnitude = np.abs(x) ** (p - 1 - i) * (np.sign(x) if i % 2 == 0 else 1.0)
    return np.where(out_full == 0, 0.0, g_full * factor * magnitude * safe ** (1 - p - j))


def _vectors(x: Any, a: Any) -> bool:
    """Whether ``x``, shaped like ``np.linalg.solve(a, b)``'s result, is a stack of vectors."""
    return np.ndim(x) == np.ndim(a) - 1


def rhs_matmul(m: Any, x: Any, a: Any) -> Any:
    """``m x`` for right-hand side(s) ``x`` of a linear system with matrix ``a`` (shaped like
    ``np.linalg.solve(a, b)``'s result): a matrix product for a stack of matrices, a
    matrix-vector product for a stack of vectors (``x.ndim == a.ndim - 1``)."""
    if _vectors(x, a):
        return (m @ np.expand_dims(x, -1))[..., 0]
    return m @ x


def rhs_outer(h: Any, x: Any, a: Any) -> Any:
    """``h x^T`` for right-hand sides ``h`` and ``x`` of a system with matrix ``a`` (see
    :func:`rhs_matmul`): an outer product for vectors; summed over the columns for
    matrices.  The adjoint of :func:`rhs_matmul` with respect to its matrix."""
    if _vectors(x, a):
        return np.expand_dims(h, -1) * np.expand_dims(x, -2)
    return h @ _swap(x)


def tree_fill_grad(h: Any, g: Any, like: Any) -> Any:
    """Cotangent of ``g`` in ``tree_fill(g, like)``: ``h`` where ``g`` has values, None where
    ``g`` is None (a constant zero there), and a list of slices where ``g`` was a list that
    ``tree_fill`` stacked into an array.  ``tree_fill(h, like)`` is its adjoint in turn."""
    if g is None or h is None:
        return None
    if isinstance(like, dict):
        return {k: tree_fill_grad(h[k], v, like[k]) for k, v in g.items() if k in like}
    if isinstance(like, (list, tuple)):
        return [tree_fill_grad(hk, gk, lk) for hk, gk, lk in zip(h, g, like)]
    if isinstance(like, (bool, np.bool_, int, np.integer)) or not _is_float_like(like):
        return None
    if isinstance(g, (list, tuple)):
        return list(h)
    return h


def list_pad(g: Any) -> Any:
    """Cotangent of a list given that of the list without its last entry (see
    :func:`list_prefix`): ``g`` with a None (zero) appended."""
    return None if g is None else list(g) + [None]


def _lifted_shapes(arrays: Any, ndmin: int, columns: bool) -> list:
    shapes = []
    for a in arrays:
        shape = np.shape(a)
        if columns and len(shape) < 2:
            shape = (shape[0] if shape else 1, 1)
        while len(shape) < ndmin:
            shape = (1,) + shape
        shapes.append(shape)
    return shapes


def rejoin(pieces: Any, arrays: Any, axis: int, ndmin: int, columns: bool = False) -> Any:
    """``vstack``/``hstack``/``column_stack`` of ``pieces`` shaped like ``arrays``, spelled as
    :func:`unjoin` describes it (each raised to ``ndmin`` dimensions, joined along
    ``axis``): the inverse, and the adjoint, of :func:`unjoin`."""
    shapes = _lifted_shapes(arrays, ndmin, columns)
    return np.concatenate([np.reshape(p, s) for p, s in zip(pieces, shapes)], axis=axis)


def meshgrid_spread(h: Any, g: Any, xi: tuple, i: int, indexing: str = "xy") -> Any:
    """Cotangent of ``g`` in ``meshgrid_grad(g, xi, i, ...)``: ``h`` (shaped like input
    ``i``) laid along grid ``i``'s axis and broadcast to that grid's shape; None for the
    other grids (and for a grid ``g`` holds as None)."""
    if g is None or g[i] is None:
        return None
    xi = [x for x in xi if x is not None]
    axis = 1 - i if indexing == "xy" and len(xi) > 1 and i < 2 else i
    shape = [np.size(xi[i]) if k == axis else 1 for k in range(np.ndim(g[i]))]
    spread = np.broadcast_to(np.reshape(h, shape), np.shape(g[i])).copy()
    return [spread if k == i else None for k in range(len(g))]


def cumprod_hvp(g: Any, a: Any, t: Any, axis: Any = None) -> Any:
    """The Hessian of ``sum(g * np.cumprod(a, axis))`` with respect to ``a``, applied to
    ``t``: the tangent of :func:`cumprod_grad` along ``t``, exact where ``a`` has zeros.

    ``cumprod_grad`` is ``P_i S_i``, with ``P_i`` the product of the entries before ``i``
    and ``S_i = g_i + a_{i+1} S_{i+1}`` (no division); both are carried with their tangents
    (dual numbers).  The Hessian is symmetric, so this is also the adjoint.
    """
    if axis is None:
        flat = cumprod_hvp(np.reshape(g, -1), np.reshape(a, -1), np.reshape(t, -1), 0)
        return np.reshape(flat, np.shape(a))
    a_m, g_m, t_m = (np.moveaxis(x, axis, 0) for x in (a, g, t))
    n = np.shape(a_m)[0]
    p = np.ones_like(a_m[0], dtype=np.result_type(a_m, g_m, t_m, 1.0))
    dp = np.zeros_like(p)
    pre, dpre = [], []
    for j in range(n):
        pre.append(p)
        dpre.append(dp)
        dp = dp * a_m[j] + p * t_m[j]
        p = p * a_m[j]
    s, ds = g_m[n - 1] + 0.0 * p, 0.0 * p
    result = [None] * n
    for j in range(n - 1, -1, -1):
        result[j] = dpre[j] * s + pre[j] * ds
        if j:
            s, ds = g_m[j - 1] + a_m[j] * s, a_m[j] * ds + t_m[j] * s
    return np.moveaxis(np.stack(result), 0, axis)


def diff_grad_adjoint(h: Any, a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None,
                      part: str = "a") -> Any:
    """Cotangent of ``g`` in ``diff_grad(g, a, n, axis, prepend, append, part)``: ``np.diff`` of
    ``h`` put in place of ``part`` (zeros for the other parts), since ``diff_grad`` is the
    adjoint of that linear map."""
    parts = {"a": np.zeros_like(a, dtype=float),
             "prepend": None if prepend is None else zeros_like_value(prepend),
             "append": None if append is None else zeros_like_value(append)}
    parts[part] = h
    return diff_tangent(parts["a"], n, axis, parts["prepend"], parts["append"])


def _einsum_operands(subscripts: Any, operands: Any) -> tuple[list, list]:
    """``np.einsum``'s arguments as a list, and the positions in it of the operands (in the
    interleaved form ``op0, sublist0, op1, ...`` the even positions)."""
    args = [subscripts] + [op for op in operands if op is not None]
    if isinstance(subscripts, str):
        return args, list(range(1, len(args)))
    return args, list(range(0, len(args) - len(args) % 2, 2))


def einsum_grad_tangent(g: Any, subscripts: Any, operands: Any, i: int, dsubscripts: Any = None,
                        doperands: Any = None) -> Any:
    """Tangent of ``einsum_grad(g, subscripts, operands, i)`` along the tangents of the
    operands (``dsubscripts`` for ``subscripts`` when that is operand 0 of the interleaved
    form; None entries: no tangent): it is linear in each operand other than operand ``i``,
    whose values it does not read, so each term is ``einsum_grad`` with one operand
    replaced by its tangent."""
    args, positions = _einsum_operands(subscripts, operands)
    dargs = [dsubscripts] + list(doperands if doperands is not None else [None] * len(operands))
    total = None
    for k, j in enumerate(positions):
        if k == i or dargs[j] is None:
            continue
        moved = list(args)
        moved[j] = dargs[j]
        term = einsum_grad(g, moved[0], tuple(moved[1:]), i)
        total = term if total is None else total + term
    return np.zeros_like(args[positions[i]], dtype=float) if total is None else total


def einsum_grad_adjoint(h: Any, g: Any, subscripts: Any, operands: Any, i: int, part: str = "g") -> Any:
    """Cotangent of ``part`` (``'g'``, ``'subscripts'`` or ``'operands'``) in
    ``einsum_grad(g, subscripts, operands, i)`` given ``h`` (shaped like operand ``i``).

    ``einsum_grad`` is the adjoint of operand ``i``'s place in the einsum, so ``g`` gets the
    einsum with ``h`` for operand ``i``, and each other operand ``k`` gets ``einsum_grad``
    of ``g`` with respect to ``k`` in that same einsum.  ``'operands'`` gives a list with
    None at the entries that are not operands (sublists, absent ones) and at operand ``i``.
    """
    args, positions = _einsum_operands(subscripts, operands)
    moved = list(args)
    moved[positions[i]] = h
    if part == "g":
        return np.einsum(*moved)
    grads: list = [None] * len(args)
    for k, j in enumerate(positions):
        if k != i:
            grads[j] = einsum_grad(g, moved[0], tuple(moved[1:]), k)
    if part == "subscripts":
        return np.zeros_like(subscripts, dtype=float) if grads[0] is None else grads[0]
    return grads[1:] + [None] * (len(operands) - len(args) + 1)


def _cholesky_lower(g: Any, out: Any, upper: bool) -> tuple:
    """``L``, ``G`` and ``P = L^-T Phi(L^T G) L^-1`` of :func:`cholesky_grad`, in lower form."""
    low, g_low = (_swap(out), _swap(g)) if upper else (out, g)
    phi = np.tril(_swap(low) @ g_low)
    phi = phi - 0.5 * phi * np.eye(np.shape(low)[-1], like=phi)
    p = _swap(np.linalg.solve(_swap(low), _swap(np.linalg.solve(_swap(low), phi))))
    return low, g_low, p


def _right_inverse_t(x: Any, low: Any) -> Any:
    """``x L^-T``."""
    return _swap(np.linalg.solve(low, _swap(x)))


def cholesky_grad_tangent(s: Any, g: Any, out: Any, upper: bool = False) -> Any:
    """Tangent of ``cholesky_grad(g, out, upper)`` along ``s``, the tangent of ``out`` (``g``
    held fixed).  With ``P = L^-T W L^-1``, ``W = Phi(L^T G)``: ``dP = -L^-T S^T P - P S L^-1
    + L^-T Phi(S^T G) L^-1``, read back into one triangle as ``cholesky_grad`` does."""
    low, g_low, p = _cholesky_lower(g, out, upper)
    s_low = _swap(s) if upper else s
    w = np.tril(_swap(s_low) @ g_low)
    w = w - 0.5 * w * np.eye(np.shape(low)[-1], like=w)
    lt_inv_w = np.linalg.solve(_swap(low), w)  # L^-T Phi(S^T G)
    dp = (-np.linalg.solve(_swap(low), _swap(s_low) @ p)
          - _swap(np.linalg.solve(_swap(low), _swap(p @ s_low)))
          + _swap(np.linalg.solve(_swap(low), _swap(lt_inv_w))))
    return _one_triangle(dp, upper)


def cholesky_grad_adjoint(h: Any, g: Any, out: Any, upper: bool = False, part: str = "g") -> Any:
    """Cotangent of ``part`` (``'g'`` or ``'out'``) in ``cholesky_grad(g, out, upper)`` given
    ``h``.  With ``Hs`` the symmetric matrix ``h`` reads (the adjoint of keeping one
    triangle) and ``Z = Phi(L^-1 Hs L^-T)``: ``G`` gets ``L Z`` and ``L`` gets
    ``G Z^T - (P + P^T) Hs L^-T`` (transposed back when ``upper``)."""
    low, g_low, p = _cholesky_lower(g, out, upper)
    hs = _symmetric(h, upper)
    inner = np.linalg.solve(low, _swap(np.linalg.solve(low, hs)))  # L^-1 Hs L^-T
    z = np.tril(inner) - 0.5 * inner * np.eye(np.shape(low)[-1], like=inner)
    if part == "g":
        grad = low @ z
    else:
        grad = g_low @ _swap(z) - _right_inverse_t((p + _swap(p)) @ hs, low)
    return _swap(grad) if upper else grad


def _eigh_parts(g: Any, out: Any) -> tuple:
    w, v = out
    gw, gv = (None, None) if g is None else g
    gw = np.zeros_like(w) if gw is None else gw
    gv = np.zeros_like(v) if gv is None else gv
    return w, v, gw, gv, _inverse_gaps(w)


def eigh_grad_tangent(s: Any, g: Any, out: Any, UPLO: str = "L") -> Any:
    """Tangent of ``eigh_grad(g, out, UPLO)`` along ``s = (dw, dV)``, the tangent of
    ``out = (w, V)`` (``g`` held fixed): with ``M = diag(gw) + F o (V^T gv)``,
    ``d(V M V^T) = dV M V^T + V M dV^T + V dM V^T``, where ``dM = dF o (V^T gv) + F o (dV^T
    gv)`` and ``dF_ij = -F_ij^2 (dw_j - dw_i)``."""
    w, v, gw, gv, f = _eigh_parts(g, out)
    dw, dv = s
    eye = np.eye(np.shape(v)[-1], like=v)
    m = np.expand_dims(gw, -2) * eye + f * (_swap(v) @ gv)
    df = -f * f * (np.expand_dims(dw, -2) - np.expand_dims(dw, -1))
    dm = df * (_swap(v) @ gv) + f * (_swap(dv) @ gv)
    dp = dv @ m @ _swap(v) + v @ m @ _swap(dv) + v @ dm @ _swap(v)
    return _one_triangle(dp, str(UPLO).upper() == "U")


def eigh_grad_adjoint(h: Any, g: Any, out: Any, UPLO: str = "L", part: str = "g") -> tuple:
    """Cotangent of ``part`` (``'g'`` or ``'out'``) in ``eigh_grad(g, out, UPLO)`` given
    ``h``, as a pair for the pair ``(w, V)``.  With ``Hs`` the symmetric matrix ``h`` reads,
    ``K = V^T Hs V`` and ``Q = V^T gv``: ``g`` gets ``(diag(K), V (F o K))``; ``out`` gets
    ``w``: row sums minus column sums of ``R = K o Q o F^2``, and ``V``:
    ``Hs V (M + M^T) + gv (F o K)^T``."""
    w, v, gw, gv, f = _eigh_parts(g, out)
    hs = _symmetric(h, str(UPLO).upper() == "U")
    k = _swap(v) @ hs @ v
    if part == "g":
        return np.diagonal(k, axis1=-2, axis2=-1).copy(), v @ (f * k)
    eye = np.eye(np.shape(v)[-1], like=v)
    q = _swap(v) @ gv
    m = np.expand_dims(gw, -2) * eye + f * q
    r = k * q * f * f
    return np.sum(r, axis=-1) - np.sum(r, axis=-2), hs @ v @ (m + _swap(m)) + gv @ _swap(f * k)


# pinv_grad is a sum of products of G, A, X and their transposes (see pinv_grad):
#   -X^T G X^T + G^T X X^T - A X G^T X X^T + X^T X G^T - X^T X G^T X A
_PINV_TERMS = ((-1, ("Xt", "G", "Xt")), (1, ("Gt", "X", "Xt")), (-1, ("A", "X", "Gt", "X", "Xt")),
               (1, ("Xt", "X", "Gt")), (-1, ("Xt", "X", "Gt", "X", "A")))


def _chain(mats: list) -> Any:
    product = mats[0]
    for m in mats[1:]:
        product = product @ m
    return product


def _pinv_terms(g: Any, a: Any, out: Any, hermitian: bool, part: str) -> tuple:
    """The factors of pinv_grad and, for each place ``part`` (``'g'``, ``'a'`` or ``'out'``)
    appears in it, the factors to its left and right and whether it is transposed there."""
    if hermitian:
        a = _symmetric(a)
    mats = {"G": g, "Gt": _swap(g), "A": a, "X": out, "Xt": _swap(out)}
    name = {"g": "G", "a": "A", "out": "X"}[part]
    places = []
    for sign, names in _PINV_TERMS:
        for k, factor in enumerate(names):
            if factor.rstrip("t") == name:
                places.append((sign, [mats[n] for n in names[:k]], [mats[n] for n in names[k + 1:]],
                               factor.endswith("t")))
    return places


def pinv_grad_tangent(s: Any, g: Any, a: Any, out: Any, hermitian: bool = False, part: str = "a") -> Any:
    """Tangent of ``pinv_grad(g, a, out, hermitian)`` along ``s``, the tangent of ``part``
    (``'g'``, ``'a'`` or ``'out'``), the others held fixed: the product rule over the
    products of :func:`pinv_grad`."""
    if hermitian and part == "a":
        s = _symmetric(s)
    total = 0.0
    for sign, left, right, transposed in _pinv_terms(g, a, out, hermitian, part):
        total = total + sign * _chain(left + [_swap(s) if transposed else s] + right)
    return _one_triangle(total, False) if hermitian else total


def pinv_grad_adjoint(h: Any, g: Any, a: Any, out: Any, hermitian: bool = False, part: str = "a") -> Any:
    """Cotangent of ``part`` (``'g'``, ``'a'`` or ``'out'``) in ``pinv_grad(g, a, out,
    hermitian)`` given ``h``: each product ``L dV R`` contributes ``L^T h R^T`` (transposed
    where ``dV`` appears transposed)."""
    if hermitian:
        h = _symmetric(h)
    total = 0.0
    for sign, left, right, transposed in _pinv_terms(g, a, out, hermitian, part):
        core = _chain([_swap(m) for m in reversed(left)] + [h] + [_swap(m) for m in reversed(right)])
        total = total + sign * (_swap(core) if transposed else core)
    return _one_triangle(total, False) if hermitian and part == "a" else total


def _average_parts(g: Any, a: Any, out: Any, axis: Any, weights: Any, keepdims: bool) -> tuple:
    ndim = np.ndim(a)
    w, back = _average_weights(weights, a, axis)
    return (w, back, _expand(g, ndim, axis, keepdims), _expand(out, ndim, axis, keepdims),
            np.sum(w, axis=axis, keepdims=True))


def average_grad_tangent(g: Any, a: Any, out: Any, axis: Any = None, weights: Any = None,
                         keepdims: bool = False, part: str = "a", da: Any = 0.0, dout: Any = 0.0,
                         dweights: Any = 0.0) -> Any:
    """Tangent of ``average_grad(g, a, out, axis, weights, keepdims=keepdims, part=part)``
    along the tangents of ``a``, ``out`` and ``weights`` (``g`` held fixed).  With ``W`` the
    sum of the weights ``w``: ``a``'s cotangent ``g w / W`` moves by ``g (dw / W - w sum(dw)
    / W^2)``; the weights' ``g (a - out) / W`` by ``g (da - dout) / W - g (a - out) sum(dw)
    / W^2``."""
    if weights is None:  # np.mean's cotangent: it reads neither a nor out
        return np.zeros_like(a, dtype=float)
    w, back, g_full, out_full, total = _average_parts(g, a, out, axis, weights, keepdims)
    dw, _ = _average_weights(np.broadcast_to(dweights, np.shape(weights)), a, axis)
    dtotal = np.sum(dw, axis=axis, keepdims=True)
    if part == "a":
        return unbroadcast(g_full * (dw / total - w * dtotal / (total * total)), a)
    d_out = _expand(np.broadcast_to(dout, np.shape(out)), np.ndim(a), axis, keepdims)
    moved = g_full * (da - d_out) / total - g_full * (a - out_full) * dtotal / (total * total)
    return back(unbroadcast(moved, w))


def average_grad_adjoint(h: Any, g: Any, a: Any, out: Any, axis: Any = None, weights: Any = None,
                         keepdims: bool = False, part: str = "a", wrt: str = "g") -> Any:
    """Cotangent of ``wrt`` (``'g'``, ``'a'``, ``'out'`` or ``'weights'``) in
    ``average_grad(g, a, out, axis, weights, keepdims=keepdims, part=part)`` given ``h``
    (shaped like ``part``): the transposes of the maps in :func:`average_grad_tangent`."""
    if weights is None:
        if wrt == "g":
            return np.mean(h, axis=axis, keepdims=keepdims)
        return zeros_like_value(a if wrt == "a" else out)
    w, back, g_full, out_full, total = _average_parts(g, a, out, axis, weights, keepdims)
    if part == "a":
        full = np.broadcast_to(h, np.shape(g_full * w / total))
        if wrt == "g":
            return np.sum(full * w / total, axis=axis, keepdims=keepdims)
        if wrt == "weights":
            spread = (g_full * full / total
                      - np.sum(g_full * full * w, axis=axis, keepdims=True) / (total * total))
            return back(unbroadcast(spread, w))
        return zeros_like_value(a if wrt == "a" else out)
    laid, _ = _average_weights(h, a, axis)
    centered = a - out_full
    full = np.broadcast_to(laid, np.shape(g_full * centered / total))
    if wrt == "g":
        return np.sum(full * centered / total, axis=axis, keepdims=keepdims)
    if wrt == "a":
        return unbroadcast(g_full * full / total, a)
    if wrt == "out":
        return -np.sum(g_full * full / total, axis=axis, keepdims=keepdims)
    spread = np.broadcast_to(-np.sum(g_full * full * centered, axis=axis, keepdims=True) / (total * total),
                             np.shape(full))
    return back(unbroadcast(spread, w))


def _logsumexp_parts(g: Any, a: Any, axis: Any, b: Any, keepdims: bool) -> tuple:
    """``G`` (the cotangent, expanded), ``q = e^a / S`` and ``p = b q`` (the softmax), with
    ``S = sum(b e^a)``."""
    shift = np.max(a, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    e = np.exp(a - shift)
    total = np.sum(e if b is None else b * e, axis=axis, keepdims=True)
    q = e / total
    return _expand(g, np.ndim(total), axis, keepdims), q, q if b is None else b * q


def logsumexp_grad_tangent(g: Any, a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
                           part: str = "a", da: Any = 0.0, db: Any = 0.0) -> Any:
    """Tangent of ``logsumexp_grad(g, a, axis, b, keepdims, part=part)`` along the tangents
    of ``a`` and ``b`` (``g`` held fixed).  ``a`` gets ``G p`` and ``b`` gets ``G q``; with
    sums over ``axis``, ``dp = p da - p sum(p da) + q db - p sum(q db)`` and ``dq = q da -
    q sum(p da) - q sum(q db)``."""
    g_full, q, p = _logsumexp_parts(g, a, axis, b, keepdims)
    sp = np.sum(p * da, axis=axis, keepdims=True)
    sq = np.sum(q * db, axis=axis, keepdims=True)
    if part == "a":
        return unbroadcast(g_full * (p * da - p * sp + q * db - p * sq), a)
    return unbroadcast(g_full * (q * da - q * sp - q * sq), b)


def logsumexp_grad_adjoint(h: Any, g: Any, a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
                           part: str = "a", wrt: str = "g") -> Any:
    """Cotangent of ``wrt`` (``'g'``, ``'a'`` or ``'b'``) in ``logsumexp_grad(g, a, axis, b,
    keepdims, part=part)`` given ``h`` (shaped like ``part``): the transposes of the maps in
    :func:`logsumexp_grad_tangent`."""
    g_full, q, p = _logsumexp_parts(g, a, axis, b, keepdims)
    own = p if part == "a" else q
    full = np.broadcast_to(h, np.shape(g_full * own))
    if wrt == "g":
        return np.sum(full * own, axis=axis, keepdims=keepdims)
    s = np.sum(g_full * own * full, axis=axis, keepdims=True)
    if wrt == "a":
        return unbroadcast(g_full * own * full - p * s, a)
    if part == "a":
        return unbroadcast(g_full * q * full - q * s, b)
    return unbroadcast(-q * s, b)


def polyval_grad_p_tangent(g: Any, p: Any, x: Any, t: Any) -> Any:
    """Tangent of ``polyval_grad_p(g, p, x)`` along ``t``, the tangent of ``x``: entry ``i``
    is ``g x^(N-1-i)`` summed back to ``p[i]``'s shape, so it moves by ``(N-1-i) g t
    x^(N-2-i)`` (and the last entry, ``g``, not at all)."""
    n = np.shape(p)[0]
    entries = [unbroadcast(0.0 * g * t, p[0])]
    term = g * t
    for k in range(n - 1):  # entry n - 2 - k holds (k + 1) g t x^k
        entries.append(unbroadcast((k + 1) * term, p[0]))
        term = term * x
    return np.stack(entries[::-1])


def polygamma_grad(g: Any, n: Any, x: Any) -> Any:
    """Cotangent of ``x`` in ``scipy.special.polygamma(n, x)``: ``g polygamma(n + 1, x)``
    (``digamma`` is ``polygamma(0, .)``)."""
    from scipy import special

    return g * special.polygamma(n + 1, x)


def polyder_grad(g: Any, p: Any, m: int = 1) -> Any:
    """Cotangent of ``p`` in ``np.polyder(p, m)``: the derivative keeps the first ``n - m``
    coefficients, each times the falling factorial ``k (k-1) ... (k-m+1)`` of its power
    ``k = n - 1 - i``, so ``p[i]`` gets ``g[i]`` times that factor, and the last ``m`` none."""
    n = np.shape(p)[0]
    kept = max(n - m, 0)
    powers = np.arange(n - 1, n - 1 - kept, -1)
    factor = np.ones(kept)
    for j in range(m):
        factor = factor * (powers - j)
    return np.concatenate([g * factor, np.zeros(n - kept)])


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
