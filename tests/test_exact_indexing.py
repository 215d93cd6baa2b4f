"""Exact derivatives where NumPy's semantics are easy to get subtly wrong.

Assignment through an index that repeats an entry (NumPy keeps the last value written;
``y[idx] += v`` adds once per distinct entry), ``order="F"`` in reshape and ravel, the
builtin ``sum`` over an array (which adds up the first axis), and ``np.linalg.det`` at a
singular matrix (where its gradient, the transposed adjugate, is finite).  Every expected
value comes from central finite differences of the function (or of its gradient), or
from a formula written in the test.
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
