"""``order="F"`` in reshape, ravel and flatten: the cotangent goes back in Fortran index
order; the orders that depend on memory layout ("A", "K") are refused before the code
runs.

Every expected value comes from central finite differences of the function (or of its
gradient), or from a formula written in the test.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad, numerical_grad

# ---- order="F" ----------------------------------------------------------------------------------

_W6 = np.arange(1.0, 7.0)


def reshape_f(x):
    return np.sum(np.sin(np.reshape(x, (3, 2), order="F")) * _W6.reshape(3, 2))


def reshape_method_f(x):
    return np.sum(np.reshape(x, (2, 3)).reshape(3, 2, order="F") ** 3 * _W6.reshape(3, 2))


def ravel_f(a):
    return np.sum(np.ravel(a, order="F") ** 2 * _W6) + np.ravel(a, "F")[1] * a[0, 2]


def flatten_f(a):
    return np.sum(np.tanh(a.flatten(order="F")) * _W6) + np.sum(a.ravel(order="F")[:2] ** 3)


def reshape_f_then_c(x):
    m = np.reshape(x, (2, 3), order="F")
    return np.sum(np.ravel(m) * _W6 * np.ravel(m, order="F"))


_A23 = np.array([[0.3, -0.5, 0.9], [1.1, -0.2, 0.6]])
_ORDER = [(reshape_f, np.linspace(-0.5, 0.8, 6)), (reshape_method_f, np.linspace(-0.5, 0.8, 6)),
          (ravel_f, _A23), (flatten_f, _A23), (reshape_f_then_c, np.linspace(-0.5, 0.8, 6))]


def test_reshape_f_by_hand():
    # reshape(x, (3, 2), order="F")[i, j] = x[i + 3 j]; weight W[i, j] = 1 + 2 i + j
    x = np.linspace(-0.5, 0.8, 6)
    weights = np.array([1 + 2 * (k % 3) + k // 3 for k in range(6)], dtype=float)
    np.testing.assert_allclose(srcdiff.grad(reshape_f)(x), np.cos(x) * weights)
    _, tangent = srcdiff.jvp(reshape_f)(x, np.eye(6)[4])
    np.testing.assert_allclose(tangent, np.cos(x[4]) * weights[4])


@pytest.mark.parametrize("fn, x", _ORDER, ids=[f.__name__ for f, _ in _ORDER])
def test_order_f_both_modes_and_second_order(fn, x):
    check_grad(fn, x, modes=("reverse", "forward"), order=2)


def test_order_f_hessian():
    x = np.linspace(-0.5, 0.8, 6)
    hess = srcdiff.hessian(reshape_f_then_c)(x)
    g = srcdiff.grad(reshape_f_then_c)
    cols = [numerical_grad(lambda x, k=k: g(x)[k], (x,), 0, eps=1e-5) for k in range(6)]
    np.testing.assert_allclose(hess, np.array(cols), rtol=1e-5, atol=1e-6)


def ravel_a(a):
    return np.sum(np.ravel(a, order="A") * _W6)


def flatten_k(a):
    return np.sum(a.flatten("K") * _W6)


def reshape_a(x):
    return np.sum(x.reshape((2, 3), order="a") ** 2)


@pytest.mark.parametrize("fn", [ravel_a, flatten_k, reshape_a])
def test_layout_orders_are_refused_before_running(fn):
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="order=.*memory layout") as info:
        srcdiff.grad(fn)(np.ones((2, 3)) * np.nan)  # (NaN: a run would show in the result)
    assert f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno + 1}" in str(info.value)
    assert "order='C' or order='F'" in str(info.value)
