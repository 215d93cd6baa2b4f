"""The builtin ``sum``: over an array it adds up the first axis; over a list or tuple,
with or without ``start``, its items; in both modes, to second order.

Every expected value comes from central finite differences of the function (or of its
gradient), or from a formula written in the test.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad, numerical_grad

# ---- builtin sum ------------------------------------------------------------------------------


def sum_vector(x):
    return sum(x ** 2)


def sum_rows(a):
    return np.sum(sum(a ** 2) * np.arange(1.0, 4.0))


def sum_rows_start(a):
    total = sum(np.sin(a), np.array([0.5, -1.0, 2.0]))
    return np.sum(total ** 2)


def sum_list_of_floats(x):
    return sum([x[0] ** 2, x[1] * x[2], np.sin(x[0])], 1.5 * x[2])


def sum_list_of_arrays(a):
    parts = [a[0] * a[1], np.cos(a[1]), a[0] ** 3]
    return np.sum(sum(parts, start=a[1]) * np.arange(1.0, 4.0))


def sum_tuple_start(x):
    return sum((x[0] * x[1], x[2] ** 2), start=x[1] ** 2)


def sum_3d(c):
    return np.sum(sum(c) ** 2)


_A23 = np.array([[0.3, -0.5, 0.9], [1.1, -0.2, 0.6]])
_X3 = np.array([0.4, -0.9, 1.3])
_SUMS = [(sum_vector, np.array([0.7])), (sum_vector, _X3), (sum_rows, _A23),
         (sum_rows_start, _A23), (sum_list_of_floats, _X3), (sum_list_of_arrays, _A23),
         (sum_tuple_start, _X3), (sum_3d, np.linspace(-1.0, 1.0, 12).reshape(2, 3, 2))]


def test_builtin_sum_by_hand():
    # sum(a ** 2) adds the rows: its gradient is 2 a, row i weighted by the column's weight
    np.testing.assert_allclose(srcdiff.grad(sum_rows)(_A23), 2 * _A23 * np.array([1.0, 2.0, 3.0]))
    got = srcdiff.grad(sum_vector)(np.array([0.7]))
    assert np.shape(got) == (1,)
    np.testing.assert_allclose(got, [1.4])


@pytest.mark.parametrize("fn, x", _SUMS, ids=[f"{f.__name__}-{np.shape(x)}" for f, x in _SUMS])
def test_builtin_sum_both_modes_and_second_order(fn, x):
    check_grad(fn, x, modes=("reverse", "forward"), order=2)


@pytest.mark.parametrize("fn, x", [(sum_vector, _X3), (sum_list_of_floats, _X3), (sum_tuple_start, _X3)])
def test_builtin_sum_hessian_and_grad_of_grad(fn, x):
    g = srcdiff.grad(fn)
    w = np.array([0.3, -1.1, 0.8])

    def projected(x):
        return np.sum(g(x) * w)

    want = numerical_grad(projected, (x,), 0, eps=1e-5)
    np.testing.assert_allclose(srcdiff.grad(projected)(x), want, rtol=1e-5, atol=1e-6)
    cols = [numerical_grad(lambda x, k=k: g(x)[k], (x,), 0, eps=1e-5) for k in range(3)]
    np.testing.assert_allclose(srcdiff.hessian(fn)(x), np.array(cols), rtol=1e-5, atol=1e-6)
