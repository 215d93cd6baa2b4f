"""Linear algebra: ``np.linalg.det``, ``solve``, ``slogdet``, ``cholesky``, ``eigh`` and
``pinv`` (their adjoints, and the tangents longer than an expression).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .broadcasting import unbroadcast
from .support import inverse_gaps, one_triangle, swap_last, symmetric_of


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
    return h @ swap_last(x)


def slogdet_grad(g: Any, a: Any) -> Any:
    """Cotangent of ``a`` in ``(sign, logabsdet) = np.linalg.slogdet(a)``.

    ``d log|det A| = tr(inv(A) dA)``, so ``logabsdet``'s cotangent ``gl`` gives
    ``gl inv(A)^T``.  The sign is piecewise constant and takes no cotangent; a None
    entry of ``g`` is a zero.
    """
    gl = None if g is None else g[1]
    if gl is None:
        return np.zeros_like(a)
    return np.expand_dims(np.expand_dims(gl, -1), -1) * swap_last(np.linalg.inv(a))


def cholesky_grad(g: Any, out: Any, upper: bool = False) -> Any:
    """Cotangent of ``a`` in ``L = np.linalg.cholesky(a)`` (``U = L^T`` when ``upper``).

    From ``dL = L Phi(L^-1 dA L^-T)``, with ``Phi`` keeping the lower triangle and halving
    the diagonal (Murray 2016, "Differentiation of the Cholesky decomposition"), the
    gradient for a symmetric perturbation is ``P = L^-T Phi(L^T G) L^-1``.  NumPy reads
    only the lower triangle of ``a`` (the upper one when ``upper``), so entries of the
    other triangle get a zero cotangent.
    """
    low, g_low = (swap_last(out), swap_last(g)) if upper else (out, g)
    n = np.shape(low)[-1]
    phi = np.tril(swap_last(low) @ g_low)
    phi = phi - 0.5 * phi * np.eye(n, like=phi)
    left = np.linalg.solve(swap_last(low), phi)  # L^-T Phi
    p = swap_last(np.linalg.solve(swap_last(low), swap_last(left)))  # (L^-T Phi) L^-1
    return one_triangle(p, upper)


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
    low = swap_last(out) if upper else out
    s = symmetric_of(t, upper)
    inner = np.linalg.solve(low, swap_last(np.linalg.solve(low, s)))  # L^-1 S L^-T (S symmetric)
    phi = np.tril(inner) - 0.5 * inner * np.eye(np.shape(inner)[-1], like=inner)
    d_low = low @ phi
    return swap_last(d_low) if upper else d_low


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
        inner = inner + f * (swap_last(v) @ gv)
    return one_triangle(v @ inner @ swap_last(v), str(UPLO).upper() == "U")


def eigh_tangent(t: Any, out: Any, UPLO: str = "L") -> tuple:
    """Tangent ``(dw, dV)`` of ``(w, V) = np.linalg.eigh(a, UPLO)`` along ``t``, for distinct
    eigenvalues: with ``K = V^T S V`` (``S`` the symmetric perturbation NumPy sees, read
    from the ``UPLO`` triangle of ``t``), ``dw = diag(K)`` and ``dV = V (F o K)``,
    ``F_ij = 1 / (w_j - w_i)`` off the diagonal and 0 on it."""
    w, v = out
    k = swap_last(v) @ symmetric_of(t, str(UPLO).upper() == "U") @ v
    return np.diagonal(k, axis1=-2, axis2=-1).copy(), v @ (inverse_gaps(w) * k)


def pinv_grad(g: Any, a: Any, out: Any, hermitian: bool = False) -> Any:
    """Cotangent of ``a`` in ``X = np.linalg.pinv(a)``, for ``a`` of full rank.

    From ``dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X`` (Golub and
    Pereyra 1973): ``-X^T G X^T + (I - A X) G^T X X^T + X^T X G^T (I - X A)``.  With
    ``hermitian``, NumPy reads only the lower triangle of ``a``.
    """
    if hermitian:
        a = np.tril(a) + swap_last(np.tril(a, -1))
    xt, gt = swap_last(out), swap_last(g)
    m = gt @ (out @ xt)
    n = (xt @ out) @ gt
    grad = -xt @ g @ xt + (m - a @ (out @ m)) + (n - (n @ out) @ a)
    return one_triangle(grad, False) if hermitian else grad


def pinv_tangent(t: Any, a: Any, out: Any, hermitian: bool = False) -> Any:
    """Tangent of ``X = np.linalg.pinv(a)`` along ``t``, for ``a`` of full rank (Golub and
    Pereyra 1973): ``dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X``.  With
    ``hermitian`` NumPy reads the lower triangle of ``a`` only (and of ``t``)."""
    if hermitian:
        a, t = symmetric_of(a), symmetric_of(t)
    x, xt, tt = out, swap_last(out), swap_last(t)
    return -x @ t @ x + x @ xt @ (tt - tt @ a @ x) + (tt - x @ a @ tt) @ xt @ x
