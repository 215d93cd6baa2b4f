"""Second derivatives of the helpers of products and linear algebra: ``np.linalg.det``,
``np.einsum``, ``cholesky``, ``eigh`` and ``pinv`` (the rules of those helpers call them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .products import einsum_grad
from .support import inverse_gaps, one_triangle, swap_last, symmetric_of


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
    m = swap_last(u) @ t @ swap_last(vt)
    p = _products_of_pairs(s)
    on_diagonal = p @ np.expand_dims(np.diagonal(m, axis1=-2, axis2=-1), -1)  # (..., n, 1)
    dcof = on_diagonal * np.eye(np.shape(s)[-1]) - swap_last(m) * p
    scale = np.expand_dims(np.expand_dims(g * sign, -1), -1)
    return scale * (u @ dcof @ vt)


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
    low, g_low = (swap_last(out), swap_last(g)) if upper else (out, g)
    phi = np.tril(swap_last(low) @ g_low)
    phi = phi - 0.5 * phi * np.eye(np.shape(low)[-1], like=phi)
    p = swap_last(np.linalg.solve(swap_last(low), swap_last(np.linalg.solve(swap_last(low), phi))))
    return low, g_low, p


def _right_inverse_t(x: Any, low: Any) -> Any:
    """``x L^-T``."""
    return swap_last(np.linalg.solve(low, swap_last(x)))


def cholesky_grad_tangent(s: Any, g: Any, out: Any, upper: bool = False) -> Any:
    """Tangent of ``cholesky_grad(g, out, upper)`` along ``s``, the tangent of ``out`` (``g``
    held fixed).  With ``P = L^-T W L^-1``, ``W = Phi(L^T G)``: ``dP = -L^-T S^T P - P S L^-1
    + L^-T Phi(S^T G) L^-1``, read back into one triangle as ``cholesky_grad`` does."""
    low, g_low, p = _cholesky_lower(g, out, upper)
    s_low = swap_last(s) if upper else s
    w = np.tril(swap_last(s_low) @ g_low)
    w = w - 0.5 * w * np.eye(np.shape(low)[-1], like=w)
    lt_inv_w = np.linalg.solve(swap_last(low), w)  # L^-T Phi(S^T G)
    dp = (-np.linalg.solve(swap_last(low), swap_last(s_low) @ p)
          - swap_last(np.linalg.solve(swap_last(low), swap_last(p @ s_low)))
          + swap_last(np.linalg.solve(swap_last(low), swap_last(lt_inv_w))))
    return one_triangle(dp, upper)


def cholesky_grad_adjoint(h: Any, g: Any, out: Any, upper: bool = False, part: str = "g") -> Any:
    """Cotangent of ``part`` (``'g'`` or ``'out'``) in ``cholesky_grad(g, out, upper)`` given
    ``h``.  With ``Hs`` the symmetric matrix ``h`` reads (the adjoint of keeping one
    triangle) and ``Z = Phi(L^-1 Hs L^-T)``: ``G`` gets ``L Z`` and ``L`` gets
    ``G Z^T - (P + P^T) Hs L^-T`` (transposed back when ``upper``)."""
    low, g_low, p = _cholesky_lower(g, out, upper)
    hs = symmetric_of(h, upper)
    inner = np.linalg.solve(low, swap_last(np.linalg.solve(low, hs)))  # L^-1 Hs L^-T
    z = np.tril(inner) - 0.5 * inner * np.eye(np.shape(low)[-1], like=inner)
    if part == "g":
        grad = low @ z
    else:
        grad = g_low @ swap_last(z) - _right_inverse_t((p + swap_last(p)) @ hs, low)
    return swap_last(grad) if upper else grad


def _eigh_parts(g: Any, out: Any) -> tuple:
    w, v = out
    gw, gv = (None, None) if g is None else g
    gw = np.zeros_like(w) if gw is None else gw
    gv = np.zeros_like(v) if gv is None else gv
    return w, v, gw, gv, inverse_gaps(w)


def eigh_grad_tangent(s: Any, g: Any, out: Any, UPLO: str = "L") -> Any:
    """Tangent of ``eigh_grad(g, out, UPLO)`` along ``s = (dw, dV)``, the tangent of
    ``out = (w, V)`` (``g`` held fixed): with ``M = diag(gw) + F o (V^T gv)``,
    ``d(V M V^T) = dV M V^T + V M dV^T + V dM V^T``, where ``dM = dF o (V^T gv) + F o (dV^T
    gv)`` and ``dF_ij = -F_ij^2 (dw_j - dw_i)``."""
    w, v, gw, gv, f = _eigh_parts(g, out)
    dw, dv = s
    eye = np.eye(np.shape(v)[-1], like=v)
    m = np.expand_dims(gw, -2) * eye + f * (swap_last(v) @ gv)
    df = -f * f * (np.expand_dims(dw, -2) - np.expand_dims(dw, -1))
    dm = df * (swap_last(v) @ gv) + f * (swap_last(dv) @ gv)
    dp = dv @ m @ swap_last(v) + v @ m @ swap_last(dv) + v @ dm @ swap_last(v)
    return one_triangle(dp, str(UPLO).upper() == "U")


def eigh_grad_adjoint(h: Any, g: Any, out: Any, UPLO: str = "L", part: str = "g") -> tuple:
    """Cotangent of ``part`` (``'g'`` or ``'out'``) in ``eigh_grad(g, out, UPLO)`` given
    ``h``, as a pair for the pair ``(w, V)``.  With ``Hs`` the symmetric matrix ``h`` reads,
    ``K = V^T Hs V`` and ``Q = V^T gv``: ``g`` gets ``(diag(K), V (F o K))``; ``out`` gets
    ``w``: row sums minus column sums of ``R = K o Q o F^2``, and ``V``:
    ``Hs V (M + M^T) + gv (F o K)^T``."""
    w, v, gw, gv, f = _eigh_parts(g, out)
    hs = symmetric_of(h, str(UPLO).upper() == "U")
    k = swap_last(v) @ hs @ v
    if part == "g":
        return np.diagonal(k, axis1=-2, axis2=-1).copy(), v @ (f * k)
    eye = np.eye(np.shape(v)[-1], like=v)
    q = swap_last(v) @ gv
    m = np.expand_dims(gw, -2) * eye + f * q
    r = k * q * f * f
    return np.sum(r, axis=-1) - np.sum(r, axis=-2), hs @ v @ (m + swap_last(m)) + gv @ swap_last(f * k)


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
        a = symmetric_of(a)
    mats = {"G": g, "Gt": swap_last(g), "A": a, "X": out, "Xt": swap_last(out)}
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
        s = symmetric_of(s)
    total = 0.0
    for sign, left, right, transposed in _pinv_terms(g, a, out, hermitian, part):
        total = total + sign * _chain(left + [swap_last(s) if transposed else s] + right)
    return one_triangle(total, False) if hermitian else total


def pinv_grad_adjoint(h: Any, g: Any, a: Any, out: Any, hermitian: bool = False, part: str = "a") -> Any:
    """Cotangent of ``part`` (``'g'``, ``'a'`` or ``'out'``) in ``pinv_grad(g, a, out,
    hermitian)`` given ``h``: each product ``L dV R`` contributes ``L^T h R^T`` (transposed
    where ``dV`` appears transposed)."""
    if hermitian:
        h = symmetric_of(h)
    total = 0.0
    for sign, left, right, transposed in _pinv_terms(g, a, out, hermitian, part):
        core = _chain([swap_last(m) for m in reversed(left)] + [h] + [swap_last(m) for m in reversed(right)])
        total = total + sign * (swap_last(core) if transposed else core)
    return one_triangle(total, False) if hermitian and part == "a" else total
