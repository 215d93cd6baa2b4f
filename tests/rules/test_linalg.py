"""``np.linalg.det`` at a singular matrix, where its gradient, the transposed adjugate,
is finite: the cofactor matrix, in both modes and to second order, alone and in a stack
with invertible matrices.

Every expected value comes from central finite differences of the function (or of its
gradient), or from a formula written in the test.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad, numerical_grad

# ---- np.linalg.det at singular matrices --------------------------------------------------------


def det_plain(a):
    return np.linalg.det(a)


def det_weighted(a):
    return np.sum(np.linalg.det(a) * np.arange(1.0, 1.0 + np.size(a) // 9))


def det_squared(a):
    return np.linalg.det(a) ** 2 + np.linalg.det(a @ a.T)


_SINGULAR2 = np.array([[1.0, 2.0], [2.0, 4.0]])
_RANK2 = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
_RANK2[2] = _RANK2[0] + 3.0 * _RANK2[1]
_RANK1 = np.outer([1.0, -2.0, 0.5], [0.3, 1.2, -0.7])


def _cofactors(a):
    """The cofactor matrix from its definition: signed minors."""
    n = a.shape[0]
    return np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                      for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("a", [_SINGULAR2, _RANK2, _RANK1, np.zeros((3, 3))],
                         ids=["2x2", "rank2", "rank1", "zero"])
def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix(a):
    np.testing.assert_allclose(srcdiff.grad(det_plain)(a), _cofactors(a), atol=1e-12)
    t = np.arange(1.0, 1.0 + a.size).reshape(a.shape) / 10
    _, tangent = srcdiff.jvp(det_plain)(a, t)
    np.testing.assert_allclose(tangent, np.sum(_cofactors(a) * t), atol=1e-12)


def test_det_gradient_of_a_stack_mixing_singular_and_invertible():
    stack = np.stack([_RANK2, _RANK2 + np.eye(3), _RANK1])
    want = np.stack([_cofactors(m) * k for k, m in enumerate(stack, 1)])
    np.testing.assert_allclose(srcdiff.grad(det_weighted)(stack), want, atol=1e-12)
    check_grad(det_weighted, stack, modes=("reverse", "forward"))


@pytest.mark.parametrize("a", [_SINGULAR2, _RANK2, _RANK1, _RANK2 + np.eye(3)],
                         ids=["2x2", "rank2", "rank1", "invertible"])
def test_det_second_order_at_singular_matrices(a):
    check_grad(det_plain, a, modes=("reverse", "forward"), order=2)
    check_grad(det_squared, a, modes=("reverse", "forward"), order=2)
    g = srcdiff.grad(det_plain)
    w = np.linspace(-1.0, 1.0, a.size).reshape(a.shape)

    def projected(a):
        return np.sum(g(a) * w)

    # det is a polynomial: finite differences of the (exact) cofactor matrix are exact
    want = numerical_grad(lambda a: np.sum(_cofactors(a) * w), (a,), 0, eps=1e-4)
    np.testing.assert_allclose(srcdiff.grad(projected)(a), want, atol=1e-7)
    hess = srcdiff.hessian(det_plain)(a)
    n = a.shape[0]
    cols = [numerical_grad(lambda a, k=k: _cofactors(a).ravel()[k], (a,), 0, eps=1e-4) for k in range(n * n)]
    np.testing.assert_allclose(hess.reshape(n * n, n * n), np.array(cols).reshape(n * n, n * n), atol=1e-7)
