"""Second derivatives: the derivatives of the helpers of reductions, containers, shapes,
``scipy.special.logsumexp`` and polynomials, where one expression is not enough (the
rules of those helpers call them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .broadcasting import unbroadcast
from .reductions import diff_tangent
from .support import average_weights, axes_of, expand_reduced, is_float_like, lifted_shapes
from .trees import zeros_like_value


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
    axes = list(axes_of(axis, ndim))
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
    return expand_reduced(g, ndim, axis, keepdims), expand_reduced(out, ndim, axis, keepdims)


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


def _average_parts(g: Any, a: Any, out: Any, axis: Any, weights: Any, keepdims: bool) -> tuple:
    ndim = np.ndim(a)
    w, back = average_weights(weights, a, axis)
    return (w, back, expand_reduced(g, ndim, axis, keepdims), expand_reduced(out, ndim, axis, keepdims),
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
    dw, _ = average_weights(np.broadcast_to(dweights, np.shape(weights)), a, axis)
    dtotal = np.sum(dw, axis=axis, keepdims=True)
    if part == "a":
        return unbroadcast(g_full * (dw / total - w * dtotal / (total * total)), a)
    d_out = expand_reduced(np.broadcast_to(dout, np.shape(out)), np.ndim(a), axis, keepdims)
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
    laid, _ = average_weights(h, a, axis)
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
    return expand_reduced(g, np.ndim(total), axis, keepdims), q, q if b is None else b * q


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
    if isinstance(like, (bool, np.bool_, int, np.integer)) or not is_float_like(like):
        return None
    if isinstance(g, (list, tuple)):
        return list(h)
    return h


def list_pad(g: Any) -> Any:
    """Cotangent of a list given that of the list without its last entry (see
    :func:`list_prefix`): ``g`` with a None (zero) appended."""
    return None if g is None else list(g) + [None]


def rejoin(pieces: Any, arrays: Any, axis: int, ndmin: int, columns: bool = False) -> Any:
    """``vstack``/``hstack``/``column_stack`` of ``pieces`` shaped like ``arrays``, spelled as
    :func:`unjoin` describes it (each raised to ``ndmin`` dimensions, joined along
    ``axis``): the inverse, and the adjoint, of :func:`unjoin`."""
    shapes = lifted_shapes(arrays, ndmin, columns)
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
