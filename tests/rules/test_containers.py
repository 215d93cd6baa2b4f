"""Assignment through an index that repeats an entry (the rule of ``setitem``): NumPy
keeps the last value written, and ``y[idx] += v`` adds once per distinct entry; in both
modes, to second order.

Every expected value comes from central finite differences of the function (or of its
gradient), or from a formula written in the test.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad, numerical_grad

# ---- assignment through repeated indices ------------------------------------------------------

IDX = np.array([0, 0, 2])
ROWS = np.array([0, 0])
COLS = np.array([1, 1])


def scatter_add(x, v):
    y = x.copy()
    y[IDX] += v
    return np.sum(y ** 2)


def scatter_set(x, v):
    y = x.copy()
    y[IDX] = v * np.array([1.0, 2.0, 3.0])
    return np.sum(y ** 2 * np.array([1.0, 2.0, 3.0]))


def scatter_mul(x, v):
    y = x.copy()
    y[IDX] *= v
    return np.sum(np.sin(y) * y)


def scatter_sub(x, v):
    y = x * 1.0
    y[IDX] -= v * x[1]
    return np.sum(y ** 3)


def scatter_pairs(a, v):
    b = a.copy()
    b[(ROWS, COLS)] += v
    return np.sum(b ** 2) + b[0, 1] * v


def scatter_vector_value(x, w):
    y = x.copy()
    y[np.array([2, 0, 2, -3])] = w ** 2
    return np.sum(np.cos(y) * np.arange(1.0, 4.0))


def scatter_mask(x, v):
    y = x.copy()
    y[x > 0] += v
    y[np.array([True, False, True])] *= v
    return np.sum(y ** 2)


def scatter_mixed(a, v):
    b = a.copy()
    b[1:, np.array([2, 0, 2])] += v
    b[np.array([0, 0]), 1:3] = v * np.array([[1.0, 2.0], [3.0, 4.0]])
    return np.sum(np.tanh(b) * b)


def scatter_rows(a, w):
    b = a.copy()
    b[np.array([1, 1, 0])] = w  # each row of w written to a row of b, the last winning
    return np.sum(b ** 2 * np.arange(1.0, 13.0).reshape(3, 4))


def scatter_in_loops(x, v):
    y = x.copy()
    for k in range(3):
        y[np.array([0, 0, 2])] += v * k * y[1]
    i = 0
    while i < 2:
        y[[2, 2]] *= v
        y[[1, 1]] = y[[0, 2]] * v
        i += 1
    return np.sum(y ** 3)


_X = np.array([0.3, -0.7, 1.1])
_A = np.array([[0.2, -0.5, 0.9, 0.4], [1.1, -0.3, 0.6, -0.8], [0.7, 0.1, -1.2, 0.5]])
_SCATTER = [
    (scatter_add, (_X, 0.4)),
    (scatter_set, (_X, 0.4)),
    (scatter_mul, (_X, 0.8)),
    (scatter_sub, (_X, 0.4)),
    (scatter_pairs, (_A[:, :2].copy(), 0.4)),
    (scatter_vector_value, (_X, np.array([0.5, -0.3, 0.9, 1.2]))),
    (scatter_mask, (_X, 0.6)),
    (scatter_mixed, (_A, 0.4)),
    (scatter_rows, (_A, np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [-0.1, -0.2, -0.3, -0.4]]))),
    (scatter_in_loops, (_X, 0.8)),
]


def test_scatter_add_with_a_repeated_index_by_hand():
    # y = [x0 + v, x1, x2 + v] (y[0] gets v once): d/dx = 2y, d/dv = 2 (y0 + y2)
    gx, gv = srcdiff.grad(scatter_add, wrt=(0, 1))(_X, 0.4)
    y = np.array([0.7, -0.7, 1.5])
    np.testing.assert_allclose(gx, 2 * y)
    np.testing.assert_allclose(gv, 2 * (y[0] + y[2]))


def test_scatter_set_keeps_the_last_value_by_hand():
    # y = [2v, x1, 3v]: f = 4v^2 + 2 x1^2 + 27 v^2
    gx, gv = srcdiff.grad(scatter_set, wrt=(0, 1))(_X, 0.4)
    np.testing.assert_allclose(gx, [0.0, 4 * _X[1], 0.0])
    np.testing.assert_allclose(gv, 62 * 0.4)


@pytest.mark.parametrize("fn, args", _SCATTER, ids=[f.__name__ for f, _ in _SCATTER])
def test_scatter_both_modes_and_second_order(fn, args):
    check_grad(fn, *args, wrt=(0, 1), modes=("reverse", "forward"), order=2)


@pytest.mark.parametrize("fn, args", _SCATTER[:4] + _SCATTER[5:6] + _SCATTER[-1:],
                         ids=[f.__name__ for f, _ in _SCATTER[:4] + _SCATTER[5:6] + _SCATTER[-1:]])
def test_scatter_hessian_and_grad_of_grad(fn, args):
    x, v = args
    rng = np.random.default_rng(3)
    w = rng.normal(size=np.shape(x))

    def first(x, v):
        return fn(x, v)

    grad_x = srcdiff.grad(first, wrt=0)

    def projected(x, v):
        return np.sum(grad_x(x, v) * w)

    got = srcdiff.grad(projected, wrt=0)(x, v)  # reverse over reverse
    want = numerical_grad(lambda x: np.sum(grad_x(x, v) * w), (x,), 0, eps=1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    hess = srcdiff.hessian(fn, wrt=0)(x, v)  # forward over reverse
    cols = [numerical_grad(lambda x, k=k: grad_x(x, v)[k], (x,), 0, eps=1e-5) for k in range(np.size(x))]
    np.testing.assert_allclose(hess, np.array(cols), rtol=1e-5, atol=1e-6)
