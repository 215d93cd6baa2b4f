"""srcdiff/runtime/reductions.py: reductions, scans, differences, averages, medians."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_jvp, assert_vjp, rand

_REDUCTIONS = [
    ((3,), None, False),
    ((2, 3), None, False),
    ((2, 3), None, True),
    ((2, 3), 0, False),
    ((2, 3), 1, False),
    ((2, 3), -1, True),
    ((2, 3, 2), (0, 2), False),
    ((2, 3, 2), (-1, 0), True),
    ((2, 3, 2), 1, True),
]


@covers("sum_grad")
@pytest.mark.parametrize("shape, axis, keepdims", _REDUCTIONS)
def test_sum_grad(shape, axis, keepdims):
    a = rand(shape, np.random.default_rng(3))
    assert_vjp(lambda v: np.sum(v, axis=axis, keepdims=keepdims), a,
               lambda u: runtime.sum_grad(u, a, axis, keepdims), linear=True)


@covers("sum_grad")
def test_sum_grad_is_a_fresh_writable_array():
    g = np.array([1.0, 2.0])
    got = runtime.sum_grad(g, np.ones((2, 3)), 1)
    assert got.flags.writeable and not np.shares_memory(got, g)
    got[0, 0] = 10.0
    np.testing.assert_array_equal(g, [1.0, 2.0])


@covers("sum_grad")
def test_sum_grad_of_a_float():
    got = runtime.sum_grad(2.0, 0.5)
    assert np.shape(got) == () and got == 2.0


@covers("mean_grad")
@pytest.mark.parametrize("shape, axis, keepdims", _REDUCTIONS)
def test_mean_grad(shape, axis, keepdims):
    a = rand(shape, np.random.default_rng(4))
    assert_vjp(lambda v: np.mean(v, axis=axis, keepdims=keepdims), a,
               lambda u: runtime.mean_grad(u, a, axis, keepdims), linear=True)


@covers("minmax_grad")
@pytest.mark.parametrize("fn", [np.max, np.min])
@pytest.mark.parametrize("shape, axis, keepdims", _REDUCTIONS)
def test_minmax_grad_away_from_ties(fn, shape, axis, keepdims):
    a = rand(shape, np.random.default_rng(5))  # distinct entries: max is locally linear
    out = fn(a, axis=axis, keepdims=keepdims)
    assert_vjp(lambda v: fn(v, axis=axis, keepdims=keepdims), a,
               lambda u: runtime.minmax_grad(u, a, out, axis, keepdims))


@covers("minmax_grad")
def test_minmax_grad_shares_ties_equally():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    g = np.array([1.0, 2.0])
    got = runtime.minmax_grad(g, a, np.max(a, axis=1), 1)
    np.testing.assert_array_equal(got, [[0.0, 0.5, 0.5], [1.0, 1.0, 0.0]])
    b = np.array([4.0, 1.0, 1.0, 1.0])
    got = runtime.minmax_grad(3.0, b, np.min(b))
    np.testing.assert_allclose(got, [0.0, 1.0, 1.0, 1.0], rtol=1e-15)


def _prod_others(a: np.ndarray, axis: Any) -> np.ndarray:
    """d prod / d a by brute force: the product of the slice with the entry set to 1."""
    axes = tuple(range(a.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(ax % a.ndim for ax in axes)
    out = np.empty_like(a)
    for idx in np.ndindex(a.shape):
        others = a.copy()
        others[idx] = 1.0
        in_slice = tuple(slice(None) if d in axes else idx[d] for d in range(a.ndim))
        out[idx] = np.prod(others[in_slice])
    return out


@covers("prod_grad")
@pytest.mark.parametrize("shape, axis, keepdims", _REDUCTIONS)
def test_prod_grad(shape, axis, keepdims):
    a = rand(shape, np.random.default_rng(6))
    assert_vjp(lambda v: np.prod(v, axis=axis, keepdims=keepdims), a,
               lambda u: runtime.prod_grad(u, a, axis, keepdims))


@covers("prod_grad")
@pytest.mark.parametrize("a, axis", [
    (np.array([2.0, 0.0, 3.0, 4.0]), None),
    (np.array([0.0, 2.0, 0.0, 3.0]), None),
    (np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]), 1),
    (np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]), 0),
    (np.array([[0.0, 5.0], [2.0, 0.0], [0.0, 0.0]]), None),
    (np.array([[[0.0, 2.0], [3.0, 1.0]], [[4.0, 0.0], [2.0, 2.0]]]), (0, 2)),
])
def test_prod_grad_is_exact_with_zeros(a, axis):
    g = np.full(np.shape(np.prod(a, axis=axis)), 1.5)
    with np.errstate(all="raise"):  # no division by the zero entries
        got = runtime.prod_grad(g, a, axis)
    np.testing.assert_array_equal(got, 1.5 * _prod_others(a, axis))


@covers("prod_grad")
def test_prod_grad_of_a_scalar():
    assert runtime.prod_grad(2.0, np.float64(3.0)) == 2.0


@covers("var_grad")
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("shape, axis, keepdims", _REDUCTIONS)
def test_var_grad(shape, axis, keepdims, ddof):
    a = rand(shape, np.random.default_rng(7))
    assert_vjp(lambda v: np.var(v, axis=axis, ddof=ddof, keepdims=keepdims), a,
               lambda u: runtime.var_grad(u, a, axis, ddof, keepdims))


@covers("cumsum_grad")
@pytest.mark.parametrize("shape, axis", [((4,), None), ((4,), 0), ((2, 3), None), ((2, 3), 0),
                                         ((2, 3), 1), ((2, 3), -1), ((2, 3, 2), 1)])
def test_cumsum_grad(shape, axis):
    a = rand(shape, np.random.default_rng(8))
    assert_vjp(lambda v: np.cumsum(v, axis=axis), a,
               lambda u: runtime.cumsum_grad(u, a, axis), linear=True)


_NORMS = [
    ((4,), None, None, False),
    ((4,), 2, None, False),
    ((2, 3), None, None, False),
    ((2, 3), "fro", None, False),
    ((2, 3), None, (0, 1), False),
    ((2, 3), None, 1, False),
    ((2, 3), None, 0, True),
    ((2, 3), 2, -1, False),
    ((4,), 1, None, False),
    ((4,), 3, None, False),
    ((4,), 0.5, None, False),
    ((4,), -1, None, False),
    ((4,), np.inf, None, False),
    ((4,), -np.inf, None, False),
    ((2, 3), 1, 1, False),
    ((2, 3), 3, 0, True),
    ((2, 3), np.inf, 1, False),
]


@covers("norm_grad")
@pytest.mark.parametrize("shape, order, axis, keepdims", _NORMS)
def test_norm_grad(shape, order, axis, keepdims):
    x = rand(shape, np.random.default_rng(9))  # no zeros, distinct magnitudes
    out = np.linalg.norm(x, ord=order, axis=axis, keepdims=keepdims)
    assert_vjp(lambda v: np.linalg.norm(v, ord=order, axis=axis, keepdims=keepdims), x,
               lambda u: runtime.norm_grad(u, x, out, order, axis, keepdims))


@covers("norm_grad")
@pytest.mark.parametrize("order", [None, 2, 1, 3, np.inf])
def test_norm_grad_of_a_zero_vector_is_zero(order):
    x = np.zeros(4)
    with np.errstate(all="raise"):
        got = runtime.norm_grad(1.0, x, np.linalg.norm(x, ord=order), order)
    np.testing.assert_array_equal(got, np.zeros(4))


@covers("norm_grad")
def test_norm_grad_of_a_zero_row_is_zero():
    x = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    out = np.linalg.norm(x, axis=1)
    with np.errstate(all="raise"):
        got = runtime.norm_grad(np.array([1.0, 2.0]), x, out, None, 1)
    np.testing.assert_allclose(got, [[0.0, 0.0, 0.0], [1.2, 1.6, 0.0]], rtol=1e-15)


@covers("norm_grad")
@pytest.mark.parametrize("order", [2, 1, np.inf, -2, "nuc"])
def test_norm_grad_of_matrix_norms_other_than_frobenius_raises(order):
    x = np.arange(1.0, 7.0).reshape(2, 3)
    with pytest.raises(NotImplementedError, match="ord="):
        runtime.norm_grad(1.0, x, np.linalg.norm(x, ord=order), order)


@covers("norm_grad")
def test_norm_grad_of_the_zero_norm_is_zero():
    x = np.array([1.0, -2.0, 3.0])
    got = runtime.norm_grad(1.0, x, np.linalg.norm(x, ord=0), 0)
    np.testing.assert_array_equal(got, np.zeros(3))


def _cumprod_grad_brute_force(g: np.ndarray, a: np.ndarray) -> np.ndarray:
    """d sum_j g_j cumprod(a)_j / d a_i = sum_{j >= i} g_j prod_{k <= j, k != i} a_k."""
    out = np.zeros_like(a)
    for i in range(a.size):
        for j in range(i, a.size):
            out[i] += g[j] * np.prod(np.delete(a[: j + 1], i))
    return out


@covers("cumprod_grad")
@pytest.mark.parametrize("shape, axis", [((5,), None), ((5,), 0), ((2, 3), None), ((2, 3), 0), ((2, 3), 1),
                                         ((2, 3, 2), -1)])
def test_cumprod_grad(shape, axis):
    a = rand(shape, np.random.default_rng(47))
    out = np.cumprod(a, axis=axis)
    assert_vjp(lambda v: np.cumprod(v, axis=axis), a, lambda u: runtime.cumprod_grad(u, a, out, axis))


@covers("cumprod_grad")
@pytest.mark.parametrize("a", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0], [2.0, 3.0, 0.0],
                               [2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 1.5]])
def test_cumprod_grad_is_exact_with_zeros(a):
    a = np.array(a)
    g = np.arange(1.0, a.size + 1)
    with np.errstate(all="raise"):
        got = runtime.cumprod_grad(g, a, np.cumprod(a), 0)
    np.testing.assert_allclose(got, _cumprod_grad_brute_force(g, a), rtol=1e-14, atol=0)


@covers("diff_grad")
@pytest.mark.parametrize("shape, n, axis, prepend, append", [
    ((5,), 1, -1, None, None),
    ((5,), 2, -1, None, None),
    ((5,), 0, -1, None, None),
    ((2, 5), 1, 1, None, None),
    ((4, 3), 2, 0, None, None),
    ((5,), 1, -1, 0.5, None),
    ((5,), 1, -1, None, 0.5),
    ((2, 5), 2, -1, np.array([[1.0], [2.0]]), 0.5),
    ((4, 3), 1, 0, np.ones((2, 3)), np.ones((1, 3))),
])
def test_diff_grad(shape, n, axis, prepend, append):
    a = rand(shape, np.random.default_rng(48))
    kwargs = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}

    def grad(u: Any, part: str) -> Any:
        return runtime.diff_grad(u, a, n, axis, prepend, append, part)

    # affine in each part (the others are constants): central differences are exact
    assert_vjp(lambda v: np.diff(v, n, axis, **kwargs), a, lambda u: grad(u, "a"))
    if prepend is not None:
        assert_vjp(lambda p: np.diff(a, n, axis, **{**kwargs, "prepend": p}), prepend,
                   lambda u: grad(u, "prepend"))
    if append is not None:
        assert_vjp(lambda p: np.diff(a, n, axis, **{**kwargs, "append": p}), append,
                   lambda u: grad(u, "append"))


@covers("trapezoid_grad")
@pytest.mark.parametrize("y_shape, x_shape, axis", [
    ((5,), None, -1), ((5,), (5,), -1), ((2, 5), (5,), -1), ((4, 3), (4, 3), 0), ((2, 5), None, 1),
    ((4, 3), (4,), 0),
])
def test_trapezoid_grad(y_shape, x_shape, axis):
    rng = np.random.default_rng(49)
    y = rand(y_shape, rng)
    x = None if x_shape is None else np.cumsum(rng.uniform(0.5, 1.5, size=x_shape), axis=axis if
                                               len(x_shape) > 1 else 0)
    dx = 0.7

    def grad(u: Any, part: str) -> Any:
        return runtime.trapezoid_grad(u, y, x, dx, axis, part)

    assert_vjp(lambda v: np.trapezoid(v, x, dx, axis), y, lambda u: grad(u, "y"), linear=True)
    if x is None:
        assert_vjp(lambda d: np.trapezoid(y, None, d, axis), dx, lambda u: grad(u, "dx"), linear=True)
    else:
        assert_vjp(lambda v: np.trapezoid(y, v, dx, axis), x, lambda u: grad(u, "x"), linear=True)
        assert grad(np.ones(np.shape(np.trapezoid(y, x, dx, axis))), "dx") == 0.0


@covers("average_grad")
@pytest.mark.parametrize("a_shape, w_shape, axis, keepdims", [
    ((2, 3), None, None, False),
    ((2, 3), None, 1, True),
    ((2, 3), (2, 3), None, False),
    ((2, 3), (3,), 1, False),
    ((2, 3), (2,), 0, True),
    ((2, 3, 4), (2, 4), (0, 2), False),
    ((2, 3, 4), (4, 2), (2, 0), False),
    ((2, 3, 4), (2, 3, 4), 1, True),
])
def test_average_grad(a_shape, w_shape, axis, keepdims):
    rng = np.random.default_rng(50)
    a = rand(a_shape, rng)
    w = None if w_shape is None else rng.uniform(0.5, 2.0, size=w_shape)
    out = np.average(a, axis, w, keepdims=keepdims)

    def grad(u: Any, part: str) -> Any:
        return runtime.average_grad(u, a, out, axis, w, False, keepdims, part)

    assert_vjp(lambda v: np.average(v, axis, w, keepdims=keepdims), a, lambda u: grad(u, "a"), linear=True)
    if w is not None:
        assert_vjp(lambda v: np.average(a, axis, v, keepdims=keepdims), w, lambda u: grad(u, "weights"))


@covers("average_grad")
def test_average_grad_returned_raises():
    with pytest.raises(NotImplementedError, match="returned"):
        runtime.average_grad(1.0, np.ones(3), 1.0, None, np.ones(3), True)


@covers("nanmean_grad")
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (1, True), (-1, False)])
def test_nanmean_grad(axis, keepdims):
    a = rand((3, 4), np.random.default_rng(51))
    a[0, 1] = a[2, 3] = a[2, 0] = np.nan
    got = runtime.nanmean_grad(np.ones(np.shape(np.nanmean(a, axis, keepdims=keepdims))), a, axis, keepdims)
    assert not np.isnan(got).any() and np.all(got[np.isnan(a)] == 0.0)
    # differences around a keep its NaNs where they are
    assert_vjp(lambda v: np.nanmean(v, axis, keepdims=keepdims), a,
               lambda u: runtime.nanmean_grad(u, a, axis, keepdims))


@covers("median_grad")
@pytest.mark.parametrize("shape, axis, keepdims", [
    ((5,), None, False), ((4,), None, False), ((3, 4), 0, False), ((3, 4), 1, True), ((3, 4), None, False),
    ((2, 3, 4), (0, 2), False), ((), None, False),
])
def test_median_grad(shape, axis, keepdims):
    a = rand(shape, np.random.default_rng(52))  # distinct entries
    assert_vjp(lambda v: np.median(v, axis, keepdims=keepdims), a,
               lambda u: runtime.median_grad(u, a, axis, False, keepdims))


@covers("median_grad")
def test_median_grad_overwrite_input_raises():
    with pytest.raises(NotImplementedError, match="overwrite_input"):
        runtime.median_grad(1.0, np.ones(3), None, True)


@covers("cumprod_tangent")
@pytest.mark.parametrize("shape, axis", [((5,), None), ((5,), 0), ((2, 3), None), ((2, 3), 1), ((3, 4), 0)])
def test_cumprod_tangent(shape, axis):
    a = rand(shape, np.random.default_rng(63))
    assert_jvp(lambda v: np.cumprod(v, axis=axis), a, lambda t: runtime.cumprod_tangent(t, a, axis))


@covers("cumprod_tangent")
def test_cumprod_tangent_is_exact_with_zeros():
    a = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    t = np.array([1.0, 2.0, -1.0, 0.5, 3.0])
    with np.errstate(all="raise"):  # nothing divided by a zero entry
        got = runtime.cumprod_tangent(t, a)
    # d/de prod_{k <= j} (a_k + e t_k) = sum_{i <= j} t_i prod_{k <= j, k != i} a_k
    expected = [sum(t[i] * np.prod([a[k] for k in range(j + 1) if k != i]) for i in range(j + 1))
                for j in range(5)]
    np.testing.assert_allclose(got, expected, rtol=1e-15)


@covers("diff_tangent")
def test_diff_tangent_is_np_diff_with_none_for_absent_ends():
    a = np.array([1.0, 4.0, 2.0, 7.0])
    np.testing.assert_array_equal(runtime.diff_tangent(a), np.diff(a))
    np.testing.assert_array_equal(runtime.diff_tangent(a, 2, -1, 1.0, None), np.diff(a, 2, prepend=1.0))
    np.testing.assert_array_equal(runtime.diff_tangent(a, 1, 0, None, np.ones(2)),
                                  np.diff(a, append=np.ones(2)))
    m = np.arange(12.0).reshape(3, 4) ** 2
    np.testing.assert_array_equal(runtime.diff_tangent(m, 1, 0, np.zeros((1, 4)), 2.0),
                                  np.diff(m, axis=0, prepend=np.zeros((1, 4)), append=2.0))


@covers("average_tangent")
@pytest.mark.parametrize("a_shape, w_shape, axis, keepdims", [
    ((2, 3), None, None, False), ((2, 3), (2, 3), None, False), ((2, 3), (3,), 1, False),
    ((2, 3, 4), (4, 2), (2, 0), False), ((2, 3, 2), (2, 2), (0, 2), True),
])
def test_average_tangent(a_shape, w_shape, axis, keepdims):
    rng = np.random.default_rng(65)
    a = rand(a_shape, rng)
    w = None if w_shape is None else rng.uniform(0.5, 2.0, size=w_shape)
    out = np.average(a, axis, w, keepdims=keepdims)
    assert_jvp(lambda v: np.average(v, axis, w, keepdims=keepdims), a,
               lambda t: runtime.average_tangent(t, a, out, axis, w, False, keepdims, "a"))
    if w is not None:
        assert_jvp(lambda v: np.average(a, axis, v, keepdims=keepdims), w,
                   lambda t: runtime.average_tangent(t, a, out, axis, w, False, keepdims, "weights"))
    with pytest.raises(NotImplementedError, match="returned"):
        runtime.average_tangent(a, a, out, axis, w, True, keepdims, "a")
