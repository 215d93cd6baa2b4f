"""srcdiff/runtime/linalg.py: det, solve, slogdet, cholesky, eigh and pinv."""

from __future__ import annotations

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_jvp, assert_vjp, rand, singular, spd


def _well_conditioned(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=shape) + 3 * np.eye(shape[-1])


@covers("det_grad")
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 2, 2, 2)])
def test_det_grad(shape):
    a = _well_conditioned(shape, np.random.default_rng(14))
    assert_vjp(np.linalg.det, a, lambda u: runtime.det_grad(u, a))


@covers("det_grad")
def test_det_grad_at_singular_matrices_by_hand():
    # cof([[a, b], [c, d]]) = [[d, -c], [-b, a]], whatever the determinant
    np.testing.assert_allclose(runtime.det_grad(2.0, np.array([[1.0, 2.0], [2.0, 4.0]])),
                               [[8.0, -4.0], [-4.0, 2.0]], atol=1e-14)
    np.testing.assert_allclose(runtime.det_grad(1.0, np.zeros((3, 3))), np.zeros((3, 3)))
    np.testing.assert_allclose(runtime.det_grad(np.array([1.0, 3.0]), np.array([[[2.0]], [[0.0]]])),
                               [[[1.0]], [[3.0]]])


@covers("det_grad")
@pytest.mark.parametrize("shape, drop", [((3, 3), 1), ((4, 4), 2), ((2, 3, 3), 1), ((2, 2), 1)])
def test_det_grad_at_singular_matrices(shape, drop):
    a = singular(shape, np.random.default_rng(15), drop)
    assert_vjp(np.linalg.det, a, lambda u: runtime.det_grad(u, a))


@covers("solve_grad_a", "solve_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2)),
                                              ((2, 3, 3), (2, 3, 1))])
def test_solve_grads(a_shape, b_shape):
    rng = np.random.default_rng(15)
    a, b = _well_conditioned(a_shape, rng), rand(b_shape, rng)
    out = np.linalg.solve(a, b)
    assert_vjp(lambda v: np.linalg.solve(a, v), b, lambda u: runtime.solve_grad_b(u, a, b), linear=True)
    assert_vjp(lambda v: np.linalg.solve(v, b), a, lambda u: runtime.solve_grad_a(u, a, out))


@covers("solve_grad_a", "solve_grad_b")
def test_solve_grads_batched_matrix_and_vector():
    rng = np.random.default_rng(16)
    a, b = _well_conditioned((2, 3, 3), rng), rand((3,), rng)
    out = np.linalg.solve(a, b)
    assert_vjp(lambda v: np.linalg.solve(a, v), b, lambda u: runtime.solve_grad_b(u, a, b), linear=True)
    assert_vjp(lambda v: np.linalg.solve(v, b), a, lambda u: runtime.solve_grad_a(u, a, out))


@covers("slogdet_grad")
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_slogdet_grad(shape):
    a = _well_conditioned(shape, np.random.default_rng(35))
    a[..., 0, :] *= -1  # a negative determinant too
    assert_vjp(lambda v: np.linalg.slogdet(v)[1], a, lambda u: runtime.slogdet_grad((None, u), a))
    assert_vjp(lambda v: np.linalg.slogdet(v)[1], a, lambda u: runtime.slogdet_grad((np.ones_like(u), u), a))
    np.testing.assert_array_equal(runtime.slogdet_grad(None, a), np.zeros(shape))
    np.testing.assert_array_equal(runtime.slogdet_grad((1.0, None), a), np.zeros(shape))


@covers("cholesky_grad")
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_grad(shape, upper):
    a = spd(shape, np.random.default_rng(36))
    out = np.linalg.cholesky(a, upper=upper)
    # any perturbation, not only symmetric ones: NumPy reads one triangle of a
    assert_vjp(lambda v: np.linalg.cholesky(v, upper=upper), a,
               lambda u: runtime.cholesky_grad(u, out, upper))


@covers("eigh_grad")
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_grad(shape, uplo):
    a = spd(shape, np.random.default_rng(37))  # distinct eigenvalues
    out = np.linalg.eigh(a, UPLO=uplo)
    w, vecs = out

    def primal(m):
        # eigenvectors are defined up to sign: look at their squares, which are not
        values, vectors = np.linalg.eigh(m, UPLO=uplo)
        return values, vectors * vectors

    assert_vjp(primal, a, lambda u: runtime.eigh_grad((u[0], 2 * vecs * u[1]), out, uplo))
    assert_vjp(lambda m: np.linalg.eigh(m, UPLO=uplo)[0], a,
               lambda u: runtime.eigh_grad((u, None), out, uplo))
    np.testing.assert_array_equal(runtime.eigh_grad(None, out, uplo), np.zeros(shape))


@covers("pinv_grad")
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_pinv_grad(shape):
    a = np.random.default_rng(38).normal(size=shape)
    out = np.linalg.pinv(a)
    assert_vjp(np.linalg.pinv, a, lambda u: runtime.pinv_grad(u, a, out))


@covers("pinv_grad")
def test_pinv_grad_hermitian():
    a = spd((3, 3), np.random.default_rng(39))
    out = np.linalg.pinv(a, hermitian=True)
    assert_vjp(lambda v: np.linalg.pinv(v, hermitian=True), a, lambda u: runtime.pinv_grad(u, a, out, True))


@covers("cholesky_tangent")
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_tangent(shape, upper):
    a = spd(shape, np.random.default_rng(60))
    out = np.linalg.cholesky(a, upper=upper)
    # any direction, not only symmetric ones: NumPy reads one triangle of a
    assert_jvp(lambda m: np.linalg.cholesky(m, upper=upper), a,
               lambda t: runtime.cholesky_tangent(t, out, upper))


def _eigh_signed(m: np.ndarray, uplo: str, like: np.ndarray) -> tuple:
    """eigh with each eigenvector's sign chosen to match ``like`` (they are defined up to sign)."""
    w, v = np.linalg.eigh(m, UPLO=uplo)
    return w, v * np.sign(np.sum(v * like, axis=-2, keepdims=True))


@covers("eigh_tangent")
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_tangent(shape, uplo):
    a = spd(shape, np.random.default_rng(61))
    out = np.linalg.eigh(a, UPLO=uplo)
    assert_jvp(lambda m: _eigh_signed(m, uplo, out[1]), a, lambda t: runtime.eigh_tangent(t, out, uplo))


@covers("pinv_tangent")
@pytest.mark.parametrize("shape, hermitian", [((3, 3), False), ((4, 2), False), ((2, 4), False),
                                              ((2, 3, 2), False), ((3, 3), True)])
def test_pinv_tangent(shape, hermitian):
    rng = np.random.default_rng(62)
    a = spd(shape, rng) if hermitian else rng.normal(size=shape)
    out = np.linalg.pinv(a, hermitian=hermitian)
    assert_jvp(lambda m: np.linalg.pinv(m, hermitian=hermitian), a,
               lambda t: runtime.pinv_tangent(t, a, out, hermitian))


@covers("rhs_matmul", "rhs_outer")
@pytest.mark.parametrize("a_shape, x_shape", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3)),
                                              ((3, 3), (2, 3, 2))])
def test_rhs_matmul_and_rhs_outer(a_shape, x_shape):
    rng = np.random.default_rng(69)
    a, m, x = np.ones(a_shape), rng.normal(size=a_shape), rng.normal(size=x_shape)
    vectors = len(x_shape) == len(a_shape) - 1
    expected = np.einsum("...ij,...j->...i", m, x) if vectors else m @ x
    np.testing.assert_allclose(runtime.rhs_matmul(m, x, a), expected, rtol=1e-14)
    # rhs_outer is the adjoint of rhs_matmul in its matrix (summed over a batch m lacks)
    assert_vjp(lambda v: runtime.rhs_matmul(v, x, a), m,
               lambda u: runtime.unbroadcast(runtime.rhs_outer(u, x, a), m), linear=True)
