"""The helpers generated code calls (srcdiff/runtime.py), one by one.

An adjoint helper is checked by the identity that defines a vector-Jacobian product:
for its primal operation P at x, a random cotangent u and a random tangent v,

    <u, J v> == <helper(u, ...), v>

where J v is P applied to v for a linear P (exact), or a central difference of P
along v otherwise.  Edge cases the identity cannot reach (ties, zeros, containers,
errors) have their own tests with expected values worked out by hand or by brute
force.  ``test_every_helper_is_tested`` keeps this file in step with
``runtime.__all__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import srcdiff
from srcdiff import runtime

TESTED: dict[str, list[str]] = {}


def covers(*helpers: str) -> Callable:
    """Record that the decorated test exercises ``helpers``."""

    def mark(test: Callable) -> Callable:
        for helper in helpers:
            TESTED.setdefault(helper, []).append(test.__name__)
        return test

    return mark


# ------------------------------------------------------------------ utilities


def _rand(shape: tuple, rng: np.random.Generator) -> Any:
    """Normal entries; shape () gives a Python float."""
    value = rng.normal(size=shape)
    return float(value) if shape == () else value


def _randn_like(x: Any, rng: np.random.Generator) -> Any:
    if isinstance(x, dict):
        return {k: _randn_like(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [_randn_like(v, rng) for v in x]
        return items if isinstance(x, list) else tuple(items)
    return _rand(np.shape(x), rng)


def _combine(x: Any, v: Any, t: float) -> Any:
    """x + t v, leaf by leaf."""
    if isinstance(x, dict):
        return {k: _combine(x[k], v[k], t) for k in x}
    if isinstance(x, (list, tuple)):
        items = [_combine(a, b, t) for a, b in zip(x, v)]
        return items if isinstance(x, list) else tuple(items)
    return x + t * v


def _scale(x: Any, t: float) -> Any:
    if isinstance(x, (list, tuple)):
        items = [_scale(v, t) for v in x]
        return items if isinstance(x, list) else tuple(items)
    return np.multiply(x, t)


def _vdot(a: Any, b: Any) -> float:
    """<a, b> over floats, arrays and containers; None is a zero cotangent."""
    if a is None or b is None:
        return 0.0
    if isinstance(a, dict):
        return sum(_vdot(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"cotangent has {len(a)} entries, the value {len(b)}"
        return sum(_vdot(x, y) for x, y in zip(a, b))
    assert np.shape(a) == np.shape(b), f"shapes differ: {np.shape(a)} vs {np.shape(b)}"
    return float(np.sum(np.multiply(a, b)))


def _assert_like(ct: Any, x: Any) -> None:
    """A cotangent has its value's structure and shapes (None standing for zero)."""
    if ct is None:
        return
    if isinstance(x, dict):
        assert isinstance(ct, dict) and set(ct) <= set(x), f"{ct!r} vs {x!r}"
        for k in ct:
            _assert_like(ct[k], x[k])
    elif isinstance(x, (list, tuple)):
        assert isinstance(ct, (list, tuple)) and len(ct) == len(x), f"{ct!r} vs {x!r}"
        for c, v in zip(ct, x):
            _assert_like(c, v)
    else:
        assert np.shape(ct) == np.shape(x), f"cotangent shape {np.shape(ct)}, value shape {np.shape(x)}"


def assert_vjp(primal: Callable, x: Any, adjoint: Callable, seed: int = 0, *, linear: bool = False,
               eps: float = 1e-6, trials: int = 3) -> None:
    """<u, J v> == <adjoint(u), v> for random u and v (J the Jacobian of ``primal`` at x)."""
    rng = np.random.default_rng(seed)
    out = primal(x)
    for _ in range(trials):
        u = _randn_like(out, rng)
        v = _randn_like(x, rng)
        if linear:
            jv = primal(v)
        else:
            up, down = primal(_combine(x, v, eps)), primal(_combine(x, v, -eps))
            jv = _scale(_combine(up, down, -1.0), 1 / (2 * eps))
        ct = adjoint(u)
        _assert_like(ct, x)
        lhs, rhs = _vdot(u, jv), _vdot(ct, v)
        tol = 1e-10 if linear else 1e-6
        assert abs(lhs - rhs) <= tol * (1 + abs(lhs)), f"<u, Jv> = {lhs!r} but <J^T u, v> = {rhs!r}"


# ---------------------------------------------------------------- unbroadcast


@covers("unbroadcast")
@pytest.mark.parametrize("out_shape, x_shape", [
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((2, 3), (2, 1)),
    ((2, 3), (1, 3)),
    ((2, 3), (1, 1)),
    ((2, 3), (1,)),
    ((2, 3), ()),
    ((3,), ()),
    ((3,), (1,)),
    ((4, 2, 3), (2, 1)),
    ((4, 2, 3), (4, 1, 3)),
    ((4, 2, 3), (1, 1, 1)),
    ((4, 2, 3), (3,)),
    ((1,), ()),
    ((), ()),
])
def test_unbroadcast_is_the_adjoint_of_broadcasting(out_shape, x_shape):
    x = _rand(x_shape, np.random.default_rng(1))
    assert_vjp(lambda v: np.broadcast_to(v, out_shape), x,
               lambda u: runtime.unbroadcast(u, x), linear=True)


@covers("power_term")
def test_power_term_is_zero_where_its_coefficient_is():
    x = np.array([0.0, 0.0, 2.0, 0.5])
    c = np.array([0.0, 2.0, 3.0, -1.5])
    e = np.array([-1.0, 1.0, 2.0, -0.5])
    with np.errstate(all="raise"):  # no warning for the 0 * inf it avoids
        got = runtime.power_term(c, x, e)
    np.testing.assert_allclose(got, [0.0, 0.0, 12.0, -1.5 * 0.5 ** -0.5])


@covers("literal")
def test_literal_is_decided_when_the_code_is_generated():
    import gast

    from srcdiff.passes.simplify import fold

    def folded(text):
        return fold(gast.parse(text).body[0].value).value

    assert folded("literal(2)") is True and folded("literal(-0.5)") is True
    assert folded("literal(y)") is False
    assert runtime.literal(2.0) is False  # at run time: the general form


class _Affine:
    def __init__(self, a):
        self.a = a

    def apply(self, x, b=0.0):
        return self.a * np.sin(x) + b


@covers("method_vjp", "method_jvp")
def test_method_derivatives_of_an_objects_class():
    obj, x = _Affine(2.0), np.array([0.3, -1.2])
    value, pullback = runtime.method_vjp(obj, "apply", (1, "b"))(obj, x, b=0.5)
    np.testing.assert_allclose(value, 2.0 * np.sin(x) + 0.5)
    gx, gb = pullback(np.ones(2))
    np.testing.assert_allclose(gx, 2.0 * np.cos(x))
    assert gb == pytest.approx(2.0)
    value, tangent = runtime.method_jvp(obj, "apply", (1,))(obj, x, np.ones(2))
    np.testing.assert_allclose(tangent, 2.0 * np.cos(x))
    assert runtime.method_vjp(obj, "apply", (1,)) is runtime.method_vjp(_Affine(3.0), "apply", (1,))
    with pytest.raises(srcdiff.NoRuleError, match="not a method defined in Python"):
        runtime.method_vjp(np.ones(2), "cumsum", (1,))


@covers("unbroadcast_to")
@pytest.mark.parametrize("out_shape, x_shape", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 2, 3), (2, 1)),
                                                ((2, 3), ()), ((), ())])
def test_unbroadcast_to_a_shape_is_unbroadcast_to_a_value_of_that_shape(out_shape, x_shape):
    rng = np.random.default_rng(2)
    g, x = _rand(out_shape, rng), _rand(x_shape, rng)
    assert_vjp(lambda v: np.broadcast_to(v, out_shape), x,
               lambda u: runtime.unbroadcast_to(u, x_shape), linear=True)
    np.testing.assert_array_equal(runtime.unbroadcast_to(g, x_shape), runtime.unbroadcast(g, x))


@covers("unbroadcast_to")
def test_unbroadcast_to_a_shape_with_more_axes_of_length_one():
    """x[:] = v with v of shape (1, 1) into 3 entries (NumPy drops the leading 1s of v):
    the cotangent of v is the sum of the entries', in v's shape."""
    got = runtime.unbroadcast_to(np.array([1.0, 2.0, 4.0]), (1, 1))
    assert got.shape == (1, 1) and got[0, 0] == 7.0
    np.testing.assert_array_equal(runtime.unbroadcast_to(np.array([1.0, 2.0]), (1, 2)), [[1.0, 2.0]])


@covers("unbroadcast")
def test_unbroadcast_to_a_python_float_is_a_scalar():
    got = runtime.unbroadcast(np.arange(6.0).reshape(2, 3), 0.5)
    assert np.ndim(got) == 0 and got == 15.0
    assert runtime.unbroadcast(2.5, 0.5) == 2.5


@covers("unbroadcast")
def test_unbroadcast_sums_only_the_size_one_axes():
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(runtime.unbroadcast(g, np.ones((2, 1))), [[3.0], [12.0]])
    np.testing.assert_array_equal(runtime.unbroadcast(g, np.ones((1, 3))), [[3.0, 5.0, 7.0]])
    np.testing.assert_array_equal(runtime.unbroadcast(g, np.ones(3)), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(runtime.unbroadcast(g, np.ones((1, 1))), [[15.0]])


@covers("unbroadcast")
@pytest.mark.parametrize("g_shape, x_shape", [((), (2, 3)), ((1, 3), (2, 3)), ((3,), (2, 3)), ((3,), (1, 3))])
def test_unbroadcast_broadcasts_a_smaller_cotangent_up(g_shape, x_shape):
    """The docstring's other direction: a cotangent smaller than x is broadcast to x."""
    g = _rand(g_shape, np.random.default_rng(2))
    got = runtime.unbroadcast(g, np.ones(x_shape))
    assert np.shape(got) == x_shape
    np.testing.assert_array_equal(got, np.broadcast_to(g, x_shape))


# ----------------------------------------------------------------------- seed


@covers("seed")
@pytest.mark.parametrize("out", [2.5, 3, np.float64(-1.0), np.float32(2.0), np.int64(4)])
def test_seed_of_a_scalar_is_one(out):
    assert runtime.seed(out, "f.py:3") == 1.0


@covers("seed")
@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_seed_of_a_size_one_array_is_ones_of_its_shape(shape):
    got = runtime.seed(np.full(shape, 7.0), "f.py:3")
    assert np.shape(got) == shape
    np.testing.assert_array_equal(got, np.ones(shape))


@covers("seed")
@pytest.mark.parametrize("out, what", [(np.ones(3), "(3,)"), (np.ones((2, 2)), "(2, 2)"),
                                       ([1.0, 2.0], "list")])
def test_seed_of_a_non_scalar_raises(out, what):
    with pytest.raises(srcdiff.NonScalarOutputError) as info:
        runtime.seed(out, "model.py:12")
    message = str(info.value)
    assert what in message
    assert "scalar" in message and "np.sum" in message


@covers("seed")
@pytest.mark.parametrize("out", [1 + 2j, np.complex128(1 - 1j), np.array([2j])])
def test_seed_of_a_complex_result_raises_unless_holomorphic(out):
    with pytest.raises(srcdiff.NonScalarOutputError, match="complex") as info:
        runtime.seed(out, "model.py:12")
    assert "np.real" in info.value.hint
    got = runtime.seed(out, "model.py:12", True)
    np.testing.assert_array_equal(got, np.ones(np.shape(out)))


@covers("real_like")
def test_real_like_keeps_the_real_part_for_a_real_value():
    g = np.array([1 + 2j, -3 + 0.5j])
    got = runtime.real_like(g, np.zeros(2))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [1.0, -3.0])
    assert runtime.real_like(1 + 2j, 0.5) == 1.0 and type(runtime.real_like(1 + 2j, 0.5)) is float


@covers("real_like")
def test_real_like_keeps_a_complex_cotangent_for_a_complex_value():
    g = np.array([1 + 2j, -3 + 0.5j])
    assert runtime.real_like(g, np.zeros(2, complex)) is g
    assert runtime.real_like(2j, 1j) == 2j
    assert runtime.real_like(None, 1.0) is None


@covers("real_like")
def test_real_like_goes_entry_by_entry_in_containers():
    got = runtime.real_like([1 + 1j, None, 2 + 2j], [0.0, 1.0, 1j])
    assert got == [1.0, None, 2 + 2j]
    got = runtime.real_like({"a": 1j, "b": 3 + 1j}, {"a": 1j, "b": 2.0})
    assert got == {"a": 1j, "b": 3.0}
    # a list of real values whose cotangent came back as one array (np.array(list))
    np.testing.assert_array_equal(runtime.real_like(np.array([1 + 1j, 2j]), [1.0, 2.0]), [1.0, 0.0])


# ----------------------------------------------------------------- reductions

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
    a = _rand(shape, np.random.default_rng(3))
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
    a = _rand(shape, np.random.default_rng(4))
    assert_vjp(lambda v: np.mean(v, axis=axis, keepdims=keepdims), a,
               lambda u: runtime.mean_grad(u, a, axis, keepdims), linear=True)


@covers("minmax_grad")
@pytest.mark.parametrize("fn", [np.max, np.min])
@pytest.mark.parametrize("shape, axis, keepdims", _REDUCTIONS)
def test_minmax_grad_away_from_ties(fn, shape, axis, keepdims):
    a = _rand(shape, np.random.default_rng(5))  # distinct entries: max is locally linear
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
    a = _rand(shape, np.random.default_rng(6))
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
    a = _rand(shape, np.random.default_rng(7))
    assert_vjp(lambda v: np.var(v, axis=axis, ddof=ddof, keepdims=keepdims), a,
               lambda u: runtime.var_grad(u, a, axis, ddof, keepdims))


@covers("cumsum_grad")
@pytest.mark.parametrize("shape, axis", [((4,), None), ((4,), 0), ((2, 3), None), ((2, 3), 0),
                                         ((2, 3), 1), ((2, 3), -1), ((2, 3, 2), 1)])
def test_cumsum_grad(shape, axis):
    a = _rand(shape, np.random.default_rng(8))
    assert_vjp(lambda v: np.cumsum(v, axis=axis), a,
               lambda u: runtime.cumsum_grad(u, a, axis), linear=True)


# ----------------------------------------------------------------------- norm

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
    x = _rand(shape, np.random.default_rng(9))  # no zeros, distinct magnitudes
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


# ------------------------------------------------------------ products, linalg

_MATMUL = [
    ((2, 3), (3, 4)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((2, 2, 3), (3, 4)),
    ((2, 2, 3), (3,)),
    ((3,), (2, 3, 4)),
    ((2, 3), (4, 3, 2)),
    ((2, 2, 3), (2, 3, 2)),
    ((1, 2, 3), (4, 3, 2)),
    ((4, 2, 3), (1, 3, 2)),
    ((5, 1, 2, 3), (4, 3, 2)),
]


@covers("matmul_grad_a", "matmul_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", _MATMUL)
def test_matmul_grads(a_shape, b_shape):
    rng = np.random.default_rng(10)
    a, b = _rand(a_shape, rng), _rand(b_shape, rng)
    assert_vjp(lambda v: v @ b, a, lambda u: runtime.matmul_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: a @ v, b, lambda u: runtime.matmul_grad_b(u, a, b), linear=True)


@covers("matmul_grads_sum")
@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize("v_shape, fixed_shape, g_shape", [
    ((3,), (3, 4), (4,)),  # b side: v @ fixed, v a vector
    ((2, 3), (3, 4), (2, 4)),  # b side: a batch of rows
    ((2, 2, 3), (3, 4), (2, 2, 4)),  # batched: one term at a time
])
def test_matmul_grads_sum_is_the_sum_of_the_terms(side, v_shape, fixed_shape, g_shape):
    rng = np.random.default_rng(11)
    fixed = _rand(fixed_shape, rng)
    if side == "a":  # fixed @ v: fixed (4, 3) against v of shape (3,) / (3, 2) / (2, 3, 2)
        fixed = fixed.T
        v_shape = {(3,): (3,), (2, 3): (3, 2), (2, 2, 3): (2, 3, 2)}[v_shape]
        g_shape = np.shape(fixed @ np.ones(v_shape))
    pairs = [(_rand(g_shape, rng), _rand(v_shape, rng)) for _ in range(4)]
    if side == "a":
        want = sum(runtime.matmul_grad_a(g, fixed, v) for g, v in pairs)
        # and against the definition: the gradient of sum_t <g_t, fixed @ v_t>
        eps, probe = 1e-6, _rand(fixed.shape, rng)
        numeric = (sum(np.sum(g * ((fixed + eps * probe) @ v)) for g, v in pairs)
                   - sum(np.sum(g * ((fixed - eps * probe) @ v)) for g, v in pairs)) / (2 * eps)
    else:
        want = sum(runtime.matmul_grad_b(g, v, fixed) for g, v in pairs)
        eps, probe = 1e-6, _rand(fixed.shape, rng)
        numeric = (sum(np.sum(g * (v @ (fixed + eps * probe))) for g, v in pairs)
                   - sum(np.sum(g * (v @ (fixed - eps * probe))) for g, v in pairs)) / (2 * eps)
    got = runtime.matmul_grads_sum(side, pairs, fixed)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.sum(got * probe), numeric, rtol=1e-6)
    none = runtime.matmul_grads_sum(side, [], fixed)
    assert none.shape == fixed.shape and not none.any()


@covers("matmul_grads_sum")
@pytest.mark.parametrize("side", ["a", "b"])
def test_matmul_grads_sum_of_pairs_that_do_not_stack_adds_them_one_by_one(side):
    rng = np.random.default_rng(12)
    fixed = _rand((3, 3), rng)
    grad = runtime.matmul_grad_a if side == "a" else runtime.matmul_grad_b
    term = (lambda g, v: grad(g, fixed, v)) if side == "a" else (lambda g, v: grad(g, v, fixed))
    # a vector and a matrix: neither stacks nor joins side by side
    cases = [[(_rand((2, 3), rng), _rand((2, 3), rng)), (_rand((3,), rng), _rand((3,), rng))],
             [(_rand((3,), rng), _rand((3,), rng)), (_rand((2, 3), rng), _rand((2, 3), rng))]]
    if side == "a":
        cases = [[(g.T, v.T) for g, v in pairs] for pairs in cases]
    for pairs in cases:
        want = sum(term(g, v) for g, v in pairs)
        np.testing.assert_allclose(runtime.matmul_grads_sum(side, list(pairs), fixed), want, rtol=1e-12)


_DOT = [
    ((), ()),
    ((), (3,)),
    ((2, 3), ()),
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3,)),
    ((2, 2, 3), (3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 3), (2, 3, 4)),
    ((2, 2, 3), (4, 3, 5)),
]


@covers("dot_grad_a", "dot_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", _DOT)
def test_dot_grads(a_shape, b_shape):
    rng = np.random.default_rng(11)
    a, b = _rand(a_shape, rng), _rand(b_shape, rng)
    assert_vjp(lambda v: np.dot(v, b), a, lambda u: runtime.dot_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: np.dot(a, v), b, lambda u: runtime.dot_grad_b(u, a, b), linear=True)


_INNER = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (4, 3)),
    ((2, 3), (4, 3)),
    ((2, 2, 3), (4, 3)),
    ((2, 3), (2, 4, 3)),
]


@covers("inner_grad_a", "inner_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", _INNER)
def test_inner_grads(a_shape, b_shape):
    rng = np.random.default_rng(12)
    a, b = _rand(a_shape, rng), _rand(b_shape, rng)
    assert_vjp(lambda v: np.inner(v, b), a, lambda u: runtime.inner_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: np.inner(a, v), b, lambda u: runtime.inner_grad_b(u, a, b), linear=True)


@covers("inner_grad_a", "inner_grad_b")
@pytest.mark.parametrize("a_shape, b_shape, helper", [
    ((), (3,), "inner_grad_a"),
    ((), (3,), "inner_grad_b"),
    ((2, 3), (), "inner_grad_a"),
    ((2, 3), (), "inner_grad_b"),
])
def test_inner_grads_with_a_scalar(a_shape, b_shape, helper):
    rng = np.random.default_rng(13)
    a, b = _rand(a_shape, rng), _rand(b_shape, rng)
    if helper == "inner_grad_a":
        assert_vjp(lambda v: np.inner(v, b), a, lambda u: runtime.inner_grad_a(u, a, b), linear=True)
    else:
        assert_vjp(lambda v: np.inner(a, v), b, lambda u: runtime.inner_grad_b(u, a, b), linear=True)


def _well_conditioned(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=shape) + 3 * np.eye(shape[-1])


@covers("det_grad")
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 2, 2, 2)])
def test_det_grad(shape):
    a = _well_conditioned(shape, np.random.default_rng(14))
    assert_vjp(np.linalg.det, a, lambda u: runtime.det_grad(u, a))


def _singular(shape: tuple, rng: np.random.Generator, rank_drop: int = 1) -> np.ndarray:
    """Normal square matrices whose last ``rank_drop`` columns mix the others."""
    a = rng.normal(size=shape)
    n = shape[-1]
    a[..., n - rank_drop:] = a[..., :n - rank_drop] @ rng.normal(size=(n - rank_drop, rank_drop))
    return a


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
    a = _singular(shape, np.random.default_rng(15), drop)
    assert_vjp(np.linalg.det, a, lambda u: runtime.det_grad(u, a))


@covers("det_grad_tangent")
@pytest.mark.parametrize("shape, drop", [((3, 3), 0), ((3, 3), 1), ((4, 4), 2), ((2, 3, 3), 1), ((1, 1), 0)])
def test_det_grad_tangent_is_the_derivative_of_det_grad(shape, drop):
    rng = np.random.default_rng(16)
    a = _singular(shape, rng, drop) if drop else rng.normal(size=shape)
    g = _rand(shape[:-2], rng)
    t = rng.normal(size=shape)
    eps = 1e-6
    want = (runtime.det_grad(g, a + eps * t) - runtime.det_grad(g, a - eps * t)) / (2 * eps)
    np.testing.assert_allclose(runtime.det_grad_tangent(g, a, t), want, atol=1e-7)
    # symmetric (a Hessian): <s, H t> == <H s, t>
    s = rng.normal(size=shape)
    lhs = np.sum(s * runtime.det_grad_tangent(1.0, a, t))
    np.testing.assert_allclose(lhs, np.sum(runtime.det_grad_tangent(1.0, a, s) * t), rtol=1e-10)


@covers("solve_grad_a", "solve_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2)),
                                              ((2, 3, 3), (2, 3, 1))])
def test_solve_grads(a_shape, b_shape):
    rng = np.random.default_rng(15)
    a, b = _well_conditioned(a_shape, rng), _rand(b_shape, rng)
    out = np.linalg.solve(a, b)
    assert_vjp(lambda v: np.linalg.solve(a, v), b, lambda u: runtime.solve_grad_b(u, a, b), linear=True)
    assert_vjp(lambda v: np.linalg.solve(v, b), a, lambda u: runtime.solve_grad_a(u, a, out))


@covers("solve_grad_a", "solve_grad_b")
def test_solve_grads_batched_matrix_and_vector():
    rng = np.random.default_rng(16)
    a, b = _well_conditioned((2, 3, 3), rng), _rand((3,), rng)
    out = np.linalg.solve(a, b)
    assert_vjp(lambda v: np.linalg.solve(a, v), b, lambda u: runtime.solve_grad_b(u, a, b), linear=True)
    assert_vjp(lambda v: np.linalg.solve(v, b), a, lambda u: runtime.solve_grad_a(u, a, out))


# ------------------------------------------------------------------- indexing

_INDICES = [
    ((5,), 2),
    ((5,), -1),
    ((5,), np.int64(3)),
    ((5,), slice(1, 4)),
    ((5,), slice(None, None, -1)),
    ((5,), slice(4, 0, -2)),
    ((5,), slice(-1, None, -3)),
    ((5,), np.array([0, 2, 2, 4])),
    ((5,), [1, 1, 1]),
    ((5,), np.array([-1, 0, -1])),
    ((5,), np.array([True, False, True, True, False])),
    ((5,), Ellipsis),
    ((5,), None),
    ((3, 4), 1),
    ((3, 4), (1, slice(None))),
    ((3, 4), (slice(None), -1)),
    ((3, 4), (slice(None, None, -1), slice(3, None, -2))),
    ((3, 4), (np.array([0, 1, 1]), np.array([3, 2, 2]))),
    ((3, 4), (Ellipsis, None, slice(1, 3))),
    ((3, 4), np.array([[True, False, True, False]] * 3)),
    ((3, 4), (np.array([True, False, True]), slice(1, 3))),
    ((3, 4), (np.array([0, 0, 2]), slice(1, 3))),
    ((3, 4), (slice(None, None, -1), np.array([1, 1]))),
    ((3, 4), np.array([[0, 1], [1, 1]])),
    ((2, 3, 4), (1, Ellipsis, np.array([0, 0]))),
]


@covers("getitem_grad")
@pytest.mark.parametrize("shape, index", _INDICES)
def test_getitem_grad(shape, index):
    x = _rand(shape, np.random.default_rng(17))
    assert_vjp(lambda v: v[index], x, lambda u: runtime.getitem_grad(u, x, index), linear=True)


@covers("getitem_grad_to")
@pytest.mark.parametrize("shape, index", _INDICES)
def test_getitem_grad_to_a_shape_is_getitem_grad_of_a_value_of_that_shape(shape, index):
    x = _rand(shape, np.random.default_rng(19))
    g = _rand(np.shape(x[index]), np.random.default_rng(20))
    np.testing.assert_array_equal(runtime.getitem_grad_to(g, shape, index), runtime.getitem_grad(g, x, index))
    assert runtime.getitem_grad_to(None, shape, index) is None


@covers("unconcatenate_to")
@pytest.mark.parametrize("shapes, axis", [([(2,), (3,)], 0), ([(2, 3), (2, 1)], 1), ([(2, 2), (1, 2)], 0),
                                          ([(2, 2), (3,)], None)])
def test_unconcatenate_to_shapes_is_the_adjoint_of_concatenate(shapes, axis):
    rng = np.random.default_rng(21)
    parts = [_rand(s, rng) for s in shapes]
    g = _rand(np.shape(np.concatenate(parts, axis=axis)), rng)
    got = runtime.unconcatenate_to(g, shapes, axis)
    # <g, concatenate(parts)> == sum <got_i, parts_i>: the adjoint of a linear map
    assert np.sum(g * np.concatenate(parts, axis=axis)) == pytest.approx(
        sum(np.sum(a * b) for a, b in zip(got, parts)))
    for want, part in zip(runtime.unconcatenate(g, parts, axis), got):
        np.testing.assert_array_equal(want, part)


@covers("getitem_grad")
def test_getitem_grad_sums_repeated_indices():
    got = runtime.getitem_grad(np.array([1.0, 2.0, 3.0]), np.zeros(5), np.array([1, 1, 3]))
    np.testing.assert_array_equal(got, [0.0, 3.0, 0.0, 3.0, 0.0])
    got = runtime.getitem_grad(np.array([1.0, 2.0, 4.0]), np.zeros((2, 2)),
                               (np.array([0, 0, 1]), np.array([1, 1, 0])))
    np.testing.assert_array_equal(got, [[0.0, 3.0], [4.0, 0.0]])


@covers("getitem_grad")
def test_getitem_grad_of_containers():
    arr = np.ones(3)
    assert runtime.getitem_grad(2.0, {"a": arr, "b": 1.0}, "b") == {"b": 2.0}
    assert runtime.getitem_grad(2.0, [1.0, arr, 3.0], 0) == [2.0, None, None]
    assert runtime.getitem_grad(2.0, (1.0, 2.0, 3.0), -1) == [None, None, 2.0]
    assert runtime.getitem_grad([5.0, 6.0], [1.0, 2.0, 3.0], slice(1, 3)) == [None, 5.0, 6.0]
    for x in ({"a": 1.0}, [1.0], (1.0,), arr):
        assert runtime.getitem_grad(None, x, "a" if isinstance(x, dict) else 0) is None


@covers("getitem_grad")
@pytest.mark.parametrize("x, index", [
    ({"w": np.ones((2, 2)), "b": 0.5}, "w"),
    ([0.5, np.ones(3), (1.0, 2.0)], 1),
    ([0.5, np.ones(3), (1.0, 2.0)], -1),
    ((np.ones(2), 0.5, 1.5), slice(0, 2)),
])
def test_getitem_grad_of_containers_is_the_adjoint(x, index):
    assert_vjp(lambda v: v[index], x, lambda u: runtime.getitem_grad(u, x, index), linear=True)


@covers("index_add")
@pytest.mark.parametrize("shape, index", _INDICES)
def test_index_add_is_the_adjoint_of_indexing(shape, index):
    x = _rand(shape, np.random.default_rng(18))

    def adjoint(u: Any) -> np.ndarray:
        acc = np.zeros(shape)
        assert runtime.index_add(acc, index, u) is None
        return acc

    assert_vjp(lambda v: v[index], x, adjoint, linear=True)


@covers("index_add")
def test_index_add_accumulates_in_place():
    acc = np.array([1.0, 1.0, 1.0])
    runtime.index_add(acc, np.array([0, 2, 2]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(acc, [2.0, 1.0, 6.0])
    runtime.index_add(acc, slice(0, 2), 1.0)
    np.testing.assert_array_equal(acc, [3.0, 2.0, 6.0])
    runtime.index_add(acc, np.array([False, True, True]), np.array([1.0, 1.0]))
    np.testing.assert_array_equal(acc, [3.0, 3.0, 7.0])


@covers("add_rows")
@pytest.mark.parametrize("rows", [range(5), range(1, 5), range(0, 5, 2), range(4, -1, -1),
                                  range(-3, 2), range(3, 0, -2), range(0)])
@pytest.mark.parametrize("row_shape", [(), (3,), (2, 3)])
def test_add_rows_adds_what_a_loop_would_add_row_by_row(rows, row_shape):
    rng = np.random.default_rng(len(rows) + len(row_shape))
    acc = rng.normal(size=(5, *row_shape))
    expected = acc.copy()
    grads = [rng.normal(size=row_shape) for _ in rows]
    for t, g in zip(rows, grads):
        expected[t] += g
    collected = grads[::-1]  # as a loop's adjoint collects them: the last row first
    assert runtime.add_rows(acc, rows, collected) is None
    np.testing.assert_allclose(acc, expected, rtol=1e-15)
    assert collected == []


@covers("add_rows")
def test_add_rows_with_cotangents_that_broadcast_to_the_row():
    acc = np.zeros((3, 2))
    runtime.add_rows(acc, range(3), [np.ones(2), np.array([5.0]), 2.0])
    np.testing.assert_array_equal(acc, [[2.0, 2.0], [5.0, 5.0], [1.0, 1.0]])


@covers("take_grad")
@pytest.mark.parametrize("shape, indices, axis", [
    ((5,), np.array([0, 3, 3]), None),
    ((5,), 2, None),
    ((5,), np.array([-1, 0]), 0),
    ((3, 4), np.array([1, 1, 0]), 1),
    ((3, 4), np.array([1, 1, 0]), 0),
    ((3, 4), np.array([2, 2]), -1),
    ((3, 4), np.array([[0, 5], [11, 0]]), None),
    ((3, 4), np.array([[0, 1], [1, 1]]), 1),
    ((3, 4), 3, 1),
    ((2, 3, 4), np.array([[2, 0], [2, 2]]), 1),
])
def test_take_grad(shape, indices, axis):
    a = _rand(shape, np.random.default_rng(19))
    assert_vjp(lambda v: np.take(v, indices, axis=axis), a,
               lambda u: runtime.take_grad(u, a, indices, axis), linear=True)


# -------------------------------------------------------------------- joining


@covers("unconcatenate")
@pytest.mark.parametrize("shapes, axis", [
    ([(2,), (3,)], 0),
    ([(2,), (3,), (1,)], -1),
    ([(1, 3), (2, 3)], 0),
    ([(2, 3), (2, 2)], 1),
    ([(2, 3), (2, 1), (2, 2)], -1),
    ([(2, 3), (1, 3)], None),
    ([(2, 2), (3,)], None),
])
def test_unconcatenate(shapes, axis):
    rng = np.random.default_rng(20)
    arrays = [_rand(s, rng) for s in shapes]
    assert_vjp(lambda vs: np.concatenate(vs, axis=axis), arrays,
               lambda u: runtime.unconcatenate(u, arrays, axis), linear=True)


@covers("unstack")
@pytest.mark.parametrize("shapes, axis", [
    ([(), (), ()], 0),
    ([(3,), (3,)], 0),
    ([(3,), (3,)], 1),
    ([(3,), (3,)], -1),
    ([(2, 3), (2, 3), (2, 3)], 1),
    ([(2, 3), (2, 3)], -2),
])
def test_unstack(shapes, axis):
    rng = np.random.default_rng(21)
    arrays = [_rand(s, rng) for s in shapes]
    assert_vjp(lambda vs: np.stack(vs, axis=axis), arrays,
               lambda u: runtime.unstack(u, axis), linear=True)


@covers("unjoin")
@pytest.mark.parametrize("join, shapes", [
    ("vstack", [(3,), (3,)]),
    ("vstack", [(2, 3), (1, 3), (3,)]),
    ("vstack", [(), ()]),
    ("hstack", [(3,), (2,)]),
    ("hstack", [(), (2,)]),
    ("hstack", [(2, 3), (2, 1)]),
    ("column_stack", [(3,), (3,)]),
    ("column_stack", [(3, 2), (3,)]),
])
def test_unjoin(join, shapes):
    rng = np.random.default_rng(22)
    arrays = [_rand(s, rng) for s in shapes]
    primal = getattr(np, join)
    if join == "vstack":
        args = (0, 2)
    elif join == "hstack":
        args = (0 if np.ndim(arrays[0]) <= 1 else 1, 1)
    else:
        args = (1, 2, True)
    assert_vjp(lambda vs: primal(vs), arrays, lambda u: runtime.unjoin(u, arrays, *args), linear=True)


# ------------------------------------------------------------ element-wise, shape


@covers("clip_grad")
@pytest.mark.parametrize("shape, a_min, a_max", [
    ((3, 4), -0.5, 0.5),
    ((3, 4), None, 0.3),
    ((3, 4), -0.3, None),
    ((2, 3), np.array([-1.0, 0.0, 0.5]), 1.0),
])
def test_clip_grad(shape, a_min, a_max):
    rng = np.random.default_rng(23)
    a = rng.uniform(-2, 2, size=shape)
    low = -np.inf if a_min is None else a_min
    high = np.inf if a_max is None else a_max
    distance = np.minimum(np.abs(a - low), np.abs(a - high))
    assert np.min(distance) > 1e-3  # away from the kinks
    assert_vjp(lambda v: np.clip(v, a_min, a_max), a, lambda u: runtime.clip_grad(u, a, a_min, a_max))


@covers("clip_grad")
def test_clip_grad_passes_inside_and_on_the_bounds():
    a = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    got = runtime.clip_grad(np.full(5, 3.0), a, -1.0, 1.0)
    np.testing.assert_array_equal(got, [0.0, 3.0, 3.0, 3.0, 0.0])


@covers("diag_grad")
@pytest.mark.parametrize("shape, k", [((3,), 0), ((3,), 1), ((3,), -2), ((3, 3), 0), ((3, 4), 1),
                                      ((4, 3), -1), ((3, 4), -2), ((3, 4), 3), ((2, 2), 1)])
def test_diag_grad(shape, k):
    v = _rand(shape, np.random.default_rng(24))
    assert_vjp(lambda w: np.diag(w, k), v, lambda u: runtime.diag_grad(u, v, k), linear=True)


@covers("sort_grad")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((3, 4), None),
                                         ((2, 3, 4), 1)])
def test_sort_grad(shape, axis):
    a = _rand(shape, np.random.default_rng(25))  # distinct entries: no ties
    assert_vjp(lambda v: np.sort(v, axis=axis), a, lambda u: runtime.sort_grad(u, a, axis))


@covers("seq_sum_grad")
@pytest.mark.parametrize("shapes", [[(), (), ()], [(3,), (3,)], [(2, 3), (3,), ()], [(2, 1), (1, 3)]])
def test_seq_sum_grad(shapes):
    rng = np.random.default_rng(26)
    items = [_rand(s, rng) for s in shapes]
    assert_vjp(lambda vs: sum(vs), items, lambda u: runtime.seq_sum_grad(u, items), linear=True)


@covers("seq_sum_grad")
@pytest.mark.parametrize("shape", [(1,), (4,), (3, 2), (2, 3, 2)])
def test_seq_sum_grad_of_an_array_adds_its_rows(shape):
    items = _rand(shape, np.random.default_rng(26))
    got = runtime.seq_sum_grad(np.ones(shape[1:]), items)
    assert isinstance(got, np.ndarray) and got.shape == shape
    assert_vjp(lambda vs: sum(vs), items, lambda u: runtime.seq_sum_grad(u, items), linear=True)


@covers("seq_sum_grad")
def test_seq_sum_grad_of_an_array_with_a_broadcast_start_and_of_an_empty_one():
    # sum(items, start) for items (3, 2) and start (4, 1, 2): rows of shape (2,) added to
    # (4, 1, 2) give (4, 1, 2); each row's cotangent sums g over the broadcast axes
    g = np.arange(8.0).reshape(4, 1, 2)
    got = runtime.seq_sum_grad(g, np.ones((3, 2)))
    np.testing.assert_array_equal(got, np.broadcast_to(g.sum(axis=(0, 1)), (3, 2)))
    np.testing.assert_array_equal(runtime.seq_sum_grad(1.0, np.ones((0, 2))), np.zeros((0, 2)))


@covers("sort_tangent")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((3, 4), None),
                                         ((2, 3, 4), 1)])
def test_sort_tangent_is_the_directional_derivative_of_sort(shape, axis):
    rng = np.random.default_rng(29)
    a, t = _rand(shape, rng), _rand(shape, rng)  # distinct entries: no ties
    eps = 1e-6
    expected = (np.sort(a + eps * t, axis=axis) - np.sort(a - eps * t, axis=axis)) / (2 * eps)
    np.testing.assert_allclose(runtime.sort_tangent(t, a, axis), expected, rtol=1e-6, atol=1e-8)


@covers("sort_tangent", "sort_grad")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), 0), ((3, 4), None)])
def test_sort_tangent_and_sort_grad_are_adjoint(shape, axis):
    a = _rand(shape, np.random.default_rng(30))
    assert_vjp(lambda v: runtime.sort_tangent(v, a, axis), a, lambda u: runtime.sort_grad(u, a, axis),
               linear=True)


# ------------------------------------------------------------------- distinct


def _no_shared_memory(results: tuple, others: tuple = ()) -> None:
    arrays = [r for r in results if isinstance(r, np.ndarray)]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:] + [o for o in others if isinstance(o, np.ndarray)]:
            assert not np.shares_memory(a, b), "two gradients share memory"


@covers("distinct")
def test_distinct_copies_repeated_and_overlapping_results():
    a = np.arange(6.0).reshape(2, 3)
    cases = [(a, a), (a, a[0]), (a[0], a), (a.T, a[1:]), (a, 2.0, a), (a[:, 0], a[:, 1], a.ravel())]
    for results in cases:
        got = runtime.distinct(results)
        assert len(got) == len(results)
        for r, g in zip(results, got):
            np.testing.assert_array_equal(g, r)
        _no_shared_memory(got)
        assert got[0] is results[0]  # the first of a group is kept as it is


@covers("distinct")
def test_distinct_copies_results_that_share_the_callers_cotangent():
    cotangent = np.ones(3)
    got = runtime.distinct((cotangent, cotangent[::-1], np.zeros(2)), cotangent)
    _no_shared_memory(got, (cotangent,))
    np.testing.assert_array_equal(got[0], np.ones(3))


@covers("distinct")
def test_distinct_leaves_independent_results_alone():
    a, b = np.ones(3), np.zeros((2, 2))
    results = (a, b, 1.5, None, np.float64(2.0))
    got = runtime.distinct(results)
    assert all(g is r for g, r in zip(got, results))


@covers("distinct")
def test_distinct_looks_inside_containers():
    a = np.ones(3)
    got = runtime.distinct(({"w": a}, a))
    assert not np.shares_memory(got[0]["w"], got[1])
    got = runtime.distinct(([a, 1.0], (a,)))
    assert not np.shares_memory(got[0][0], got[1][0])


# -------------------------------------------------------- setitem and friends


@covers("setitem")
@pytest.mark.parametrize("index, value", [(1, 9.0), (slice(0, 2), np.array([7.0, 8.0])),
                                          (np.array([True, False, True]), 0.0)])
def test_setitem_copies(index, value):
    x = np.array([1.0, 2.0, 3.0])
    got = runtime.setitem(x, index, value)
    expected = x.copy()
    expected[index] = value
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])  # the old version keeps its value
    assert not np.shares_memory(got, x)


@covers("setitem")
def test_setitem_copies_containers():
    items = [1.0, 2.0]
    assert runtime.setitem(items, 0, 5.0) == [5.0, 2.0] and items == [1.0, 2.0]
    params = {"a": 1.0}
    assert runtime.setitem(params, "b", 2.0) == {"a": 1.0, "b": 2.0} and params == {"a": 1.0}


@covers("setitem_grad_x", "setitem_grad_value")
@pytest.mark.parametrize("shape, index, value_shape", [
    ((5,), 2, ()),
    ((5,), slice(1, 4), (3,)),
    ((5,), slice(1, 4), ()),
    ((5,), slice(None, None, -2), (3,)),
    ((5,), np.array([4, 0]), (2,)),
    ((5,), np.array([True, False, True, False, False]), (2,)),
    ((3, 4), 1, (4,)),
    ((3, 4), 1, ()),
    ((3, 4), (slice(None), 2), (3,)),
    ((3, 4), (slice(None), slice(1, 3)), (2,)),
    ((3, 4), (slice(None), slice(1, 3)), (3, 1)),
    # repeated entries: NumPy keeps the last value written to each
    ((5,), np.array([1, 1, 3]), (3,)),
    ((5,), np.array([1, 1, 3]), ()),
    ((5,), np.array([4, -1, 0, 4]), (4,)),
    ((3, 4), np.array([2, 0, 2]), (3, 4)),
    ((3, 4), np.array([2, 0, 2]), (3, 1)),
    ((3, 4), (np.array([0, 0, 2]), np.array([1, 1, 3])), (3,)),
    ((3, 4), (slice(1, None), np.array([3, 3])), (2, 2)),
    ((2, 3, 4), (np.array([1, 1]), slice(None), np.array([0, 0])), (2, 3)),
    ((2, 3, 4), (np.array([1, 1]), slice(None), np.array([0, 0])), (3,)),
])
def test_setitem_grads_are_the_adjoint_of_setitem(shape, index, value_shape):
    rng = np.random.default_rng(27)
    x, value = _rand(shape, rng), _rand(value_shape, rng)
    assert_vjp(lambda xv: runtime.setitem(xv[0], index, xv[1]), [x, value],
               lambda u: [runtime.setitem_grad_x(u, index), runtime.setitem_grad_value(u, index, value)],
               linear=True)


@covers("setitem_grad_x", "setitem_grad_value")
def test_setitem_grads_of_containers():
    assert runtime.setitem_grad_x([1.0, 2.0, 3.0], 1) == [1.0, None, 3.0]
    assert runtime.setitem_grad_x([1.0, 2.0, 3.0], slice(0, 2)) == [None, None, 3.0]
    assert runtime.setitem_grad_x({"a": 1.0, "b": 2.0}, "a") == {"b": 2.0}
    assert runtime.setitem_grad_value([1.0, 2.0, 3.0], 1, 0.5) == 2.0
    assert runtime.setitem_grad_value({"a": 1.0, "b": 2.0}, "a", 0.5) == 1.0
    assert runtime.setitem_grad_value({"b": 2.0}, "a", 0.5) is None
    assert runtime.setitem_grad_x(None, 0) is None
    assert runtime.setitem_grad_value(None, 0, 1.0) is None


@covers("setitem_grad_value", "last_writes")
def test_setitem_grad_value_of_repeated_entries_by_hand():
    # x[[0, 0, 2]] = value leaves value[1] in x[0] and value[2] in x[2]
    g = np.array([10.0, 20.0, 30.0])
    index = np.array([0, 0, 2])
    np.testing.assert_array_equal(runtime.last_writes((3,), index), [False, True, True])
    np.testing.assert_array_equal(runtime.setitem_grad_value(g, index, np.ones(3)), [0.0, 10.0, 30.0])
    assert runtime.setitem_grad_value(g, index, 1.0) == 40.0  # a scalar written to two entries
    # two-dimensional: x[[1, 1], :] = rows keeps the second row
    g2 = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(runtime.setitem_grad_value(g2, np.array([1, 1]), np.ones((2, 4))),
                                  [[0.0] * 4, [4.0, 5.0, 6.0, 7.0]])


@covers("write_back")
@pytest.mark.parametrize("shape, index, value_shape", [
    ((5,), np.array([1, 1, 3]), (3,)),
    ((5,), np.array([1, 1, 3]), ()),
    ((3, 4), np.array([2, 0, 2]), (3, 1)),
    ((3, 4), (np.array([0, 0, 2]), np.array([1, 1, 3])), (3,)),
    ((3, 4), (slice(1, None), np.array([3, 3])), (2, 2)),
    ((3, 4), 1, (4,)),
])
def test_write_back_is_the_adjoint_of_setitem_grad_value(shape, index, value_shape):
    rng = np.random.default_rng(28)
    like, value = np.zeros(shape), _rand(value_shape, rng)
    assert_vjp(lambda h: runtime.write_back(h, like, index), value,
               lambda u: runtime.setitem_grad_value(u, index, value), linear=True)


@covers("write_back")
def test_write_back_by_hand_and_containers():
    got = runtime.write_back(np.array([1.0, 2.0, 3.0]), np.zeros(4), np.array([3, 3, 0]))
    np.testing.assert_array_equal(got, [3.0, 0.0, 0.0, 2.0])
    assert runtime.write_back(2.0, [1.0, 1.0], 1) == [None, 2.0]
    assert runtime.write_back(None, np.zeros(2), 0) is None


@covers("memory_order")
def test_memory_order():
    a = np.ones((2, 3))
    assert runtime.memory_order(a, "C") == "C" and runtime.memory_order(a, "F") == "F"
    assert runtime.memory_order(a, "f") == "F" and runtime.memory_order(a.T, "C") == "C"
    # "A" and "K" only where C and Fortran order agree, for the input and the result
    assert runtime.memory_order(np.ones((1, 3)), "A", (3, 1)) == "C"
    assert runtime.memory_order(np.ones(4), "K") == "C"
    for arr, order, shape in [(a, "A", None), (a.T, "K", None), (np.ones(6), "A", (2, 3))]:
        with pytest.raises(NotImplementedError, match="order='C' or order='F'"):
            runtime.memory_order(arr, order, shape)
    with pytest.raises(ValueError, match="order must be"):
        runtime.memory_order(a, "X")


@covers("setitem_grad_x")
def test_setitem_grad_x_does_not_change_the_cotangent():
    g = np.array([1.0, 2.0, 3.0])
    got = runtime.setitem_grad_x(g, 0)
    np.testing.assert_array_equal(got, [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])


# -------------------------------------------------------- lists and sequences


@covers("list_append")
def test_list_append_returns_a_new_list_and_keeps_the_old_one():
    items = [1.0]
    got = runtime.list_append(items, 2.0)
    assert got == [1.0, 2.0] and items == [1.0] and got is not items


@covers("list_prefix")
def test_list_prefix_drops_the_last_entry():
    assert runtime.list_prefix([1.0, 2.0, 3.0]) == [1.0, 2.0]
    assert runtime.list_prefix([1.0]) == []
    assert runtime.list_prefix(None) is None


@covers("list_prefix", "list_append")
def test_list_prefix_is_the_adjoint_of_append():
    """append(items, item) is linear in (items, item); its adjoint splits the cotangent
    into the prefix (for items) and the last entry (for item)."""
    rng = np.random.default_rng(28)
    items, item = [_rand((2,), rng), _rand((2,), rng)], _rand((2,), rng)
    assert_vjp(lambda v: np.stack(runtime.list_append(list(v[0]), v[1])), [items, item],
               lambda u: [runtime.list_prefix(list(u)), list(u)[-1]], linear=True)


@covers("sort_value", "sort_value_grad", "sort_value_tangent")
def test_sort_value_sorts_a_new_array_or_list_and_sends_cotangents_back():
    a, lst = np.array([[3.0, 1.0], [0.5, 2.0]]), [3.0, 1.0, 2.0, 1.0]
    np.testing.assert_array_equal(runtime.sort_value(a), [[1.0, 3.0], [0.5, 2.0]])
    np.testing.assert_array_equal(runtime.sort_value(a, axis=0, kind="stable"), [[0.5, 1.0], [3.0, 2.0]])
    assert runtime.sort_value(lst) == [1.0, 1.0, 2.0, 3.0] and lst == [3.0, 1.0, 2.0, 1.0]
    with pytest.raises(TypeError):
        runtime.sort_value(lst, axis=0)
    with pytest.raises(srcdiff.NoRuleError):
        runtime.sort_value((2.0, 1.0))  # (a tuple has no sort)
    # the sorted entry k came from position order[k] (ties in sorted()'s stable order)
    assert runtime.sort_value_grad([10.0, 11.0, 12.0, 13.0], lst) == [13.0, 10.0, 12.0, 11.0]
    assert runtime.sort_value_tangent([10.0, 11.0, 12.0, 13.0], lst) == [11.0, 13.0, 12.0, 10.0]
    assert runtime.sort_value_grad(None, lst) is None and runtime.sort_value_tangent(None, lst) is None
    rng = np.random.default_rng(41)
    x = rng.normal(size=(3, 4))
    for axis in (0, -1):
        assert_vjp(lambda v, axis=axis: runtime.sort_value_tangent(v, x, axis), x,
                   lambda u, axis=axis: runtime.sort_value_grad(u, x, axis), linear=True)
    assert_vjp(lambda v: np.array(runtime.sort_value_tangent(list(v), lst)), np.ones(4),
               lambda u: np.array(runtime.sort_value_grad(list(u), lst)), linear=True)


@covers("array_fill")
def test_array_fill_is_full_like_of_an_array_only():
    a = np.ones((2, 3))
    np.testing.assert_array_equal(runtime.array_fill(a, 2.5), np.full((2, 3), 2.5))
    assert np.all(a == 1.0)
    with pytest.raises(srcdiff.NoRuleError):
        runtime.array_fill([1.0, 2.0], 0.0)


@covers("list_extend", "list_head", "list_tail", "list_pad_to", "list_pad_front")
def test_list_extend_and_the_pieces_of_its_cotangent():
    items = [1.0, 2.0]
    assert runtime.list_extend(items, (3.0, 4.0)) == [1.0, 2.0, 3.0, 4.0] and items == [1.0, 2.0]
    assert runtime.list_extend(None, None) is None
    with pytest.raises(srcdiff.NoRuleError):
        runtime.list_extend(np.ones(2), [1.0])
    g = [5.0, None, 7.0, 8.0]
    assert runtime.list_head(g, items) == [5.0, None] and runtime.list_tail(g, items) == [7.0, 8.0]
    np.testing.assert_array_equal(runtime.list_tail([1.0, None, 3.0], [0.0], np.ones(2)), [0.0, 3.0])
    np.testing.assert_array_equal(runtime.list_tail([1.0], [0.0], np.ones(0)), np.zeros(0))
    assert runtime.list_pad_to([5.0], [0.0, 0.0, 0.0]) == [5.0, None, None]
    assert runtime.list_pad_front([5.0], [0.0, 0.0]) == [None, None, 5.0]
    for helper in (runtime.list_head, runtime.list_tail, runtime.list_pad_to, runtime.list_pad_front):
        assert helper(None, items) is None
    # extend is linear in (items, more): its adjoint is (head, tail) of the cotangent
    rng = np.random.default_rng(42)
    first, more = [_rand((2,), rng), _rand((2,), rng)], [_rand((2,), rng)]
    assert_vjp(lambda v: np.stack(runtime.list_extend(list(v[0]), list(v[1]))), [first, more],
               lambda u: [runtime.list_head(list(u), first), runtime.list_tail(list(u), first)], linear=True)
    full = [_rand((2,), rng) for _ in range(3)]
    assert_vjp(lambda v: np.stack(runtime.list_head(v, [0.0, 0.0])), full,
               lambda u: [np.zeros(2) if e is None else e for e in runtime.list_pad_to(list(u), full)],
               linear=True)
    assert_vjp(lambda v: np.stack(runtime.list_tail(v, [0.0])), full,
               lambda u: [np.zeros(2) if e is None else e for e in runtime.list_pad_front(list(u), [0.0])],
               linear=True)


@covers("list_reversed")
def test_list_reversed_is_a_new_list_and_its_own_adjoint():
    items = [1.0, 2.0, 3.0]
    assert runtime.list_reversed(items) == [3.0, 2.0, 1.0] and items == [1.0, 2.0, 3.0]
    assert runtime.list_reversed(None) is None
    with pytest.raises(srcdiff.NoRuleError):
        runtime.list_reversed(np.ones(3))
    rng = np.random.default_rng(43)
    full = [_rand((2,), rng) for _ in range(3)]
    assert_vjp(lambda v: np.stack(runtime.list_reversed(list(v))), full,
               lambda u: runtime.list_reversed(list(u)), linear=True)


@covers("list_insert", "list_delete", "list_entry", "list_unentry")
@pytest.mark.parametrize("i", [0, 1, 2, 5, -1, -2, -9])
def test_list_insert_puts_the_item_where_python_does(i):
    items = [1.0, 2.0]
    expected = list(items)
    expected.insert(i, 9.0)
    assert runtime.list_insert(items, i, 9.0) == expected and items == [1.0, 2.0]
    g = [10.0, 11.0, 12.0]
    k = expected.index(9.0)
    assert runtime.list_entry(g, items, i) == g[k]
    assert runtime.list_delete(g, items, i) == g[:k] + g[k + 1:]
    assert runtime.list_unentry(5.0, items, i) == [5.0 if j == k else None for j in range(3)]
    assert runtime.list_insert(None, i, None) is None
    for helper in (runtime.list_delete, runtime.list_entry, runtime.list_unentry):
        assert helper(None, items, i) is None
    rng = np.random.default_rng(44)
    first, item = [_rand((2,), rng), _rand((2,), rng)], _rand((2,), rng)
    assert_vjp(lambda v: np.stack(runtime.list_insert(list(v[0]), i, v[1])), [first, item],
               lambda u: [runtime.list_delete(list(u), first, i), runtime.list_entry(list(u), first, i)],
               linear=True)


@covers("cleared")
def test_cleared_is_an_empty_list_or_dict():
    items, table = [1.0], {"a": 1.0}
    assert runtime.cleared(items) == [] and items == [1.0]
    assert runtime.cleared(table) == {} and table == {"a": 1.0}
    with pytest.raises(srcdiff.NoRuleError):
        runtime.cleared(np.ones(2))


@covers("as_sequence")
def test_as_sequence():
    items, pair, steps, arr = [1.0, 2.0], (1.0, 2.0), range(3), np.ones((2, 3))
    for x in (items, pair, steps, arr):
        assert runtime.as_sequence(x) is x
    assert runtime.as_sequence({"a": 1, "b": 2}) == ["a", "b"]
    assert runtime.as_sequence(v for v in (3.0, 4.0)) == [3.0, 4.0]
    assert sorted(runtime.as_sequence({2.0, 1.0})) == [1.0, 2.0]


# ------------------------------------------------- contractions and linear algebra


@covers("einsum_grad")
@pytest.mark.parametrize("subscripts, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->i", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ij", [(3, 3, 2)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,i->", [(3,), (3,)]),
    ("ij,ij->ij", [(2, 3), (1, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 4)]),
    ("ij,j->", [(2, 3), (3,)]),
])
def test_einsum_grad(subscripts, shapes):
    rng = np.random.default_rng(31)
    operands = [_rand(shape, rng) for shape in shapes]
    for i in range(len(operands)):

        def primal(v, i=i):
            return np.einsum(subscripts, *(v if k == i else op for k, op in enumerate(operands)))

        assert_vjp(primal, operands[i], lambda u, i=i: runtime.einsum_grad(u, subscripts, operands, i),
                   linear=True)


@covers("einsum_grad")
def test_einsum_grad_skips_absent_operands():
    a, b = np.ones((2, 3)), np.ones(3)
    got = runtime.einsum_grad(np.array([1.0, 2.0]), "ij,j->i", (a, None, b), 1)
    np.testing.assert_array_equal(got, [3.0, 3.0, 3.0])


@covers("tensordot_grad_a", "tensordot_grad_b")
@pytest.mark.parametrize("a_shape, b_shape, axes", [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3), (3, 4), 1),
    ((2,), (3,), 0),
    ((3, 2, 4), (2, 3, 5), ([1, 0], [0, 1])),
    ((2, 3, 4), (4, 5), ([2], [0])),
    ((2, 3), (4, 3), (1, 1)),
    ((3, 4, 2), (2, 4, 3), ([0, 1], [2, 1])),
    ((2, 3), (2, 3), ([-1, -2], [-1, -2])),
])
def test_tensordot_grads(a_shape, b_shape, axes):
    rng = np.random.default_rng(32)
    a, b = _rand(a_shape, rng), _rand(b_shape, rng)
    assert_vjp(lambda v: np.tensordot(v, b, axes), a, lambda u: runtime.tensordot_grad_a(u, a, b, axes),
               linear=True)
    assert_vjp(lambda v: np.tensordot(a, v, axes), b, lambda u: runtime.tensordot_grad_b(u, a, b, axes),
               linear=True)


@covers("kron_grad_a", "kron_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", [((2,), (3,)), ((2, 2), (3, 1)), ((2, 3), (4,)),
                                              ((3,), (2, 2)), ((1, 2), (2, 1, 3))])
def test_kron_grads(a_shape, b_shape):
    rng = np.random.default_rng(33)
    a, b = _rand(a_shape, rng), _rand(b_shape, rng)
    assert_vjp(lambda v: np.kron(v, b), a, lambda u: runtime.kron_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: np.kron(a, v), b, lambda u: runtime.kron_grad_b(u, a, b), linear=True)


@covers("cross_grad")
@pytest.mark.parametrize("a_shape, b_shape, axes", [
    ((3,), (3,), {}),
    ((2, 3), (3,), {}),
    ((3,), (4, 3), {}),
    ((3, 2), (2, 3), {"axisa": 0, "axisb": -1, "axisc": 0}),
    ((3, 2), (3, 2), {"axis": 0}),
])
def test_cross_grad(a_shape, b_shape, axes):
    rng = np.random.default_rng(34)
    a, b = _rand(a_shape, rng), _rand(b_shape, rng)
    if "axis" in axes:
        ax, bx, cx, axis = None, None, None, axes["axis"]
        kwargs = {"axis": axis}
        ga = lambda u: runtime.cross_grad(u, a, b, axis=axis)  # noqa: E731
        gb = lambda u: -runtime.cross_grad(u, b, a, axis=axis)  # noqa: E731
    else:
        ax, bx, cx = axes.get("axisa", -1), axes.get("axisb", -1), axes.get("axisc", -1)
        kwargs = {"axisa": ax, "axisb": bx, "axisc": cx}
        ga = lambda u: runtime.cross_grad(u, a, b, ax, bx, cx)  # noqa: E731
        # cross(a, b) = -cross(b, a), so b's cotangent is cross_grad with the roles swapped
        gb = lambda u: -runtime.cross_grad(u, b, a, bx, ax, cx)  # noqa: E731
    assert_vjp(lambda v: np.cross(v, b, **kwargs), a, ga, linear=True)
    assert_vjp(lambda v: np.cross(a, v, **kwargs), b, gb, linear=True)


@covers("cross_grad")
def test_cross_grad_of_2_vectors_raises():
    with pytest.raises(NotImplementedError, match="3-vectors"):
        runtime.cross_grad(1.0, np.ones(2), np.ones(2))


def _spd(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    m = rng.normal(size=shape)
    return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])


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
    a = _spd(shape, np.random.default_rng(36))
    out = np.linalg.cholesky(a, upper=upper)
    # any perturbation, not only symmetric ones: NumPy reads one triangle of a
    assert_vjp(lambda v: np.linalg.cholesky(v, upper=upper), a,
               lambda u: runtime.cholesky_grad(u, out, upper))


@covers("eigh_grad")
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_grad(shape, uplo):
    a = _spd(shape, np.random.default_rng(37))  # distinct eigenvalues
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
    a = _spd((3, 3), np.random.default_rng(39))
    out = np.linalg.pinv(a, hermitian=True)
    assert_vjp(lambda v: np.linalg.pinv(v, hermitian=True), a, lambda u: runtime.pinv_grad(u, a, out, True))


@covers("convolve_grad")
@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 4), (1, 3)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_grad(n, m, mode):
    rng = np.random.default_rng(40)
    a, v = _rand((n,), rng), _rand((m,), rng)
    assert_vjp(lambda w: np.convolve(w, v, mode), a, lambda u: runtime.convolve_grad(u, a, v, mode),
               linear=True)
    # convolution is symmetric: v's cotangent is convolve_grad with the roles swapped
    assert_vjp(lambda w: np.convolve(a, w, mode), v, lambda u: runtime.convolve_grad(u, v, a, mode),
               linear=True)


@covers("convolve_grad")
def test_convolve_grad_of_an_unknown_mode_raises():
    with pytest.raises(NotImplementedError, match="mode"):
        runtime.convolve_grad(np.ones(3), np.ones(3), np.ones(1), "circular")


# ------------------------------------------------------------- moving entries


@covers("diagonal_grad")
@pytest.mark.parametrize("shape, offset, axis1, axis2", [
    ((3, 3), 0, 0, 1), ((3, 4), 1, 0, 1), ((4, 3), -1, 0, 1), ((3, 4), 5, 0, 1),
    ((2, 3, 4), 0, 1, 2), ((2, 3, 4), 1, 0, 2), ((2, 3, 4), -1, 2, 0),
])
def test_diagonal_grad(shape, offset, axis1, axis2):
    a = _rand(shape, np.random.default_rng(41))
    assert_vjp(lambda v: np.diagonal(v, offset, axis1, axis2), a,
               lambda u: runtime.diagonal_grad(u, a, offset, axis1, axis2), linear=True)


@covers("tile_grad")
@pytest.mark.parametrize("shape, reps", [((3,), 2), ((2, 3), (2, 1)), ((2, 3), (2, 1, 3)), ((3,), (2, 2)),
                                         ((), 3), ((2, 1), 2)])
def test_tile_grad(shape, reps):
    a = _rand(shape, np.random.default_rng(42))
    assert_vjp(lambda v: np.tile(v, reps), a, lambda u: runtime.tile_grad(u, a, reps), linear=True)


@covers("repeat_grad")
@pytest.mark.parametrize("shape, repeats, axis", [
    ((3,), 2, None), ((2, 3), 2, None), ((2, 3), 3, 1), ((2, 3), 2, -2), ((2, 3), [1, 0, 2], 1),
    ((2, 3), [2, 1], 0), ((2, 3), [1, 2, 0, 1, 1, 3], None), ((3,), np.array([2]), 0),
])
def test_repeat_grad(shape, repeats, axis):
    a = _rand(shape, np.random.default_rng(43))
    assert_vjp(lambda v: np.repeat(v, repeats, axis), a, lambda u: runtime.repeat_grad(u, a, repeats, axis),
               linear=True)


@covers("pad_grad", "pad_grad_value")
@pytest.mark.parametrize("shape, pad_width", [((3,), 2), ((3,), (1, 2)), ((2, 3), ((1, 0), (2, 1))),
                                              ((2, 3), 1), ((2, 3), ((0, 0), (0, 3)))])
def test_pad_grads(shape, pad_width):
    rng = np.random.default_rng(44)
    a = _rand(shape, rng)
    assert_vjp(lambda v: np.pad(v, pad_width), a, lambda u: runtime.pad_grad(u, a, pad_width, "constant"),
               linear=True)
    assert_vjp(lambda c: np.pad(a, pad_width, constant_values=c), 0.5,
               lambda u: runtime.pad_grad_value(u, a, pad_width, "constant", 0.5))


@covers("pad_grad", "pad_grad_value")
def test_pad_grads_of_unsupported_cases_raise():
    with pytest.raises(NotImplementedError, match="constant"):
        runtime.pad_grad(np.ones(5), np.ones(3), 1, "reflect")
    with pytest.raises(NotImplementedError, match="scalar"):
        runtime.pad_grad_value(np.ones(5), np.ones(3), 1, "constant", (0.0, 1.0))


@covers("unsplit")
@pytest.mark.parametrize("shape, sections, axis", [((6,), 3, 0), ((6,), [1, 4], 0), ((2, 6), 2, 1),
                                                   ((5,), 3, 0), ((4, 2), [1, 1, 3], 0), ((2, 3), 3, -1)])
def test_unsplit(shape, sections, axis):
    a = _rand(shape, np.random.default_rng(45))
    assert_vjp(lambda v: np.array_split(v, sections, axis), a,
               lambda u: runtime.unsplit(u, a, sections, axis), linear=True)


@covers("unsplit")
def test_unsplit_fills_none_pieces_with_zeros():
    a = np.ones((2, 4))
    got = runtime.unsplit([None, np.full((2, 2), 3.0)], a, 2, 1)
    np.testing.assert_array_equal(got, [[0.0, 0.0, 3.0, 3.0], [0.0, 0.0, 3.0, 3.0]])
    np.testing.assert_array_equal(runtime.unsplit(None, a, 2, 1), np.zeros((2, 4)))


@covers("meshgrid_grad")
@pytest.mark.parametrize("shapes", [[(3,)], [(3,), (4,)], [(2,), (3,), (4,)], [(2, 2), (3,)]])
@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid_grad(shapes, indexing):
    rng = np.random.default_rng(46)
    xi = [_rand(shape, rng) for shape in shapes]
    for i in range(len(xi)):

        def primal(v, i=i):
            return tuple(np.meshgrid(*(v if k == i else x for k, x in enumerate(xi)), indexing=indexing))

        # affine in xi[i] (the other outputs are constants): central differences are exact
        assert_vjp(primal, xi[i], lambda u, i=i: runtime.meshgrid_grad(u, xi, i, True, indexing))


@covers("meshgrid_grad")
def test_meshgrid_grad_of_a_missing_cotangent_is_zero():
    xi = (np.ones(3), np.ones(2))
    np.testing.assert_array_equal(runtime.meshgrid_grad((None, np.ones((2, 3))), xi, 0), np.zeros(3))
    np.testing.assert_array_equal(runtime.meshgrid_grad(None, xi, 1), np.zeros(2))


# ---------------------------------------------------------- reductions, scans


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
    a = _rand(shape, np.random.default_rng(47))
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
    a = _rand(shape, np.random.default_rng(48))
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
    y = _rand(y_shape, rng)
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
    a = _rand(a_shape, rng)
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
    a = _rand((3, 4), np.random.default_rng(51))
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
    a = _rand(shape, np.random.default_rng(52))  # distinct entries
    assert_vjp(lambda v: np.median(v, axis, keepdims=keepdims), a,
               lambda u: runtime.median_grad(u, a, axis, False, keepdims))


@covers("median_grad")
def test_median_grad_overwrite_input_raises():
    with pytest.raises(NotImplementedError, match="overwrite_input"):
        runtime.median_grad(1.0, np.ones(3), None, True)


# ------------------------------------------------- polynomials, interpolation


@covers("polyval_grad_p")
@pytest.mark.parametrize("p_shape, x_shape", [((3,), ()), ((3,), (4,)), ((1,), (2,)), ((4, 1), (3,)),
                                              ((2, 3), (3,))])
def test_polyval_grad_p(p_shape, x_shape):
    rng = np.random.default_rng(53)
    p, x = _rand(p_shape, rng), _rand(x_shape, rng)
    assert_vjp(lambda q: np.polyval(q, x), p, lambda u: runtime.polyval_grad_p(u, p, x), linear=True)


@covers("interp_grad")
@pytest.mark.parametrize("x, left, right, period", [
    (np.array([0.3, 1.7, 2.2, 0.9]), None, None, None),
    (np.array([-1.0, 0.3, 1.7, 3.5, 4.2]), None, None, None),
    (np.array([-1.0, 0.3, 1.7, 3.5, 4.2]), -2.0, 5.0, None),
    (np.array([-0.8, 0.3, 1.7, 3.5, 7.2]), None, None, 4.0),  # away from the knots mod 4 too
    (1.3, None, None, None),
])
def test_interp_grad(x, left, right, period):
    xp = np.array([0.0, 1.0, 2.5, 3.0]) if period is None else np.array([2.5, 0.1, 1.0, 3.0])
    fp = np.array([1.0, -0.5, 2.0, 0.3])

    def grad(u: Any, part: str) -> Any:
        return runtime.interp_grad(u, x, xp, fp, left, right, period, part)

    def interp(**changed: Any) -> Any:
        args = {"x": x, "xp": xp, "fp": fp, "left": left, "right": right, "period": period, **changed}
        return np.interp(args["x"], args["xp"], args["fp"], args["left"], args["right"], args["period"])

    assert_vjp(lambda v: interp(x=v), x, lambda u: grad(u, "x"))
    assert_vjp(lambda v: interp(fp=v), fp, lambda u: grad(u, "fp"))
    assert_vjp(lambda v: interp(xp=v), xp, lambda u: grad(u, "xp"))
    if left is not None:
        assert_vjp(lambda v: interp(left=v), left, lambda u: grad(u, "left"))
        assert_vjp(lambda v: interp(right=v), right, lambda u: grad(u, "right"))


# ------------------------------------------------------------------ scipy.special


@covers("gammaln_grad", "digamma_grad")
@pytest.mark.parametrize("name", ["gammaln", "digamma"])
def test_special_function_grads(name):
    special = pytest.importorskip("scipy.special")
    x = np.random.default_rng(54).uniform(0.5, 4.0, size=(2, 3))
    fn = getattr(special, name)
    helper = getattr(runtime, f"{name}_grad")
    assert_vjp(fn, x, lambda u: helper(u, x))


@covers("logsumexp_grad")
@pytest.mark.parametrize("shape, axis, b_shape, keepdims", [
    ((4,), None, None, False), ((2, 3), 1, None, False), ((2, 3), 0, None, True),
    ((2, 3), None, (3,), False), ((2, 3), 1, (2, 3), True),
])
def test_logsumexp_grad(shape, axis, b_shape, keepdims):
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(55)
    a = _rand(shape, rng) * 30  # large entries: the shift by the maximum matters
    b = None if b_shape is None else rng.uniform(0.5, 2.0, size=b_shape)

    def grad(u: Any, part: str) -> Any:
        return runtime.logsumexp_grad(u, a, axis, b, keepdims, False, part)

    assert_vjp(lambda v: special.logsumexp(v, axis, b, keepdims), a, lambda u: grad(u, "a"))
    if b is not None:
        assert_vjp(lambda v: special.logsumexp(a, axis, v, keepdims), b, lambda u: grad(u, "b"))


@covers("logsumexp_grad")
def test_logsumexp_grad_return_sign_raises():
    with pytest.raises(NotImplementedError, match="return_sign"):
        runtime.logsumexp_grad(1.0, np.ones(3), return_sign=True)


# ---------------------------------------------------------------------- trees


@covers("tree_add")
def test_tree_add():
    a, b = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    assert runtime.tree_add(None, None) is None
    assert runtime.tree_add(None, 2.0) == 2.0 and runtime.tree_add(2.0, None) == 2.0
    np.testing.assert_array_equal(runtime.tree_add(a, b), [11.0, 22.0])
    np.testing.assert_array_equal(a, [1.0, 2.0])  # inputs untouched
    got = runtime.tree_add({"x": 1.0, "y": a}, {"y": b, "z": 3.0})
    assert set(got) == {"x", "y", "z"} and got["x"] == 1.0 and got["z"] == 3.0
    np.testing.assert_array_equal(got["y"], [11.0, 22.0])
    assert runtime.tree_add([1.0, None, [2.0, None]], [None, 5.0, [1.0, 4.0]]) == [1.0, 5.0, [3.0, 4.0]]
    assert runtime.tree_add({"p": [None, 1.0]}, {"p": [2.0, 2.0]}) == {"p": [2.0, 3.0]}


@covers("tree_add")
def test_tree_add_does_not_mutate_its_arguments():
    first = {"x": 1.0}
    runtime.tree_add(first, {"x": 2.0, "y": 1.0})
    assert first == {"x": 1.0}


@covers("tree_index")
def test_tree_index():
    assert runtime.tree_index(None, 0) is None
    assert runtime.tree_index([1.0, 2.0], 1) == 2.0
    assert runtime.tree_index({"a": 3.0}, "a") == 3.0
    np.testing.assert_array_equal(runtime.tree_index(np.arange(6.0).reshape(2, 3), 1), [3.0, 4.0, 5.0])


@covers("tree_fill")
def test_tree_fill_replaces_none_by_zeros_of_the_leaf():
    like = {"w": np.ones((2, 2)), "b": 0.5, "n": 3, "flag": True, "name": "x",
            "layers": [np.ones(3), (0.5, np.ones(2))]}
    got = runtime.tree_fill({"b": 2.0, "layers": [None, (1.0, None)]}, like)
    assert set(got) == set(like)
    np.testing.assert_array_equal(got["w"], np.zeros((2, 2)))
    assert got["b"] == 2.0
    assert got["n"] is None and got["flag"] is None and got["name"] is None
    assert isinstance(got["layers"], list) and isinstance(got["layers"][1], tuple)
    np.testing.assert_array_equal(got["layers"][0], np.zeros(3))
    assert got["layers"][1][0] == 1.0
    np.testing.assert_array_equal(got["layers"][1][1], np.zeros(2))


@covers("tree_fill")
def test_tree_fill_gives_tuples_where_the_value_has_tuples():
    got = runtime.tree_fill([1.0, 2.0], (0.5, 0.5))
    assert got == (1.0, 2.0) and isinstance(got, tuple)
    got = runtime.tree_fill(None, (0.5, [0.5]))
    assert got == (0.0, [0.0]) and isinstance(got, tuple) and isinstance(got[1], list)


@covers("tree_fill")
def test_tree_fill_stacks_a_list_cotangent_of_an_array():
    got = runtime.tree_fill([np.array([1.0, 2.0]), np.array([3.0, 4.0])], np.ones((2, 2)))
    np.testing.assert_array_equal(got, [[1.0, 2.0], [3.0, 4.0]])


@covers("tree_fill")
def test_tree_fill_stacks_a_list_with_none_entries_as_zeros():
    got = runtime.tree_fill([None, np.array([1.0, 2.0])], np.ones((2, 2)))
    np.testing.assert_array_equal(got, [[0.0, 0.0], [1.0, 2.0]])


@covers("tree_fill")
def test_tree_fill_of_scalar_leaves():
    assert runtime.tree_fill(None, 1.5) == 0.0 and isinstance(runtime.tree_fill(None, 1.5), float)
    assert runtime.tree_fill(None, np.float64(1.5)) == 0.0
    assert runtime.tree_fill(None, 2) is None
    assert runtime.tree_fill(None, np.arange(3)) is None  # integer arrays get no gradient
    zeros = runtime.tree_fill(None, np.ones(3, dtype=np.float32))
    assert zeros.dtype == np.float32 and not zeros.any()
    assert runtime.tree_fill(4.0, 1.5) == 4.0


@covers("zeros_like_tree")
def test_zeros_like_tree():
    like = {"a": np.ones((2, 3)), "b": [1.0, 2, (np.ones(2), True)]}
    got = runtime.zeros_like_tree(like)
    np.testing.assert_array_equal(got["a"], np.zeros((2, 3)))
    assert got["b"][0] == 0.0 and got["b"][1] is None
    assert isinstance(got["b"][2], tuple) and got["b"][2][1] is None
    np.testing.assert_array_equal(got["b"][2][0], np.zeros(2))
    assert runtime.zeros_like_tree(0.5) == 0.0


@covers("zeros_like_value")
def test_zeros_like_value():
    for scalar in (0.5, 3, np.float64(2.0), np.int64(1), True):
        got = runtime.zeros_like_value(scalar)
        assert got == 0.0 and isinstance(got, float)
    got = runtime.zeros_like_value(np.arange(3))
    assert got.dtype.kind == "f" and got.shape == (3,) and not got.any()
    got = runtime.zeros_like_value(np.ones((2, 2), dtype=np.float32))
    assert got.dtype == np.float32 and got.shape == (2, 2) and not got.any()
    got = runtime.zeros_like_value({"a": np.ones(2), "b": (1.0, 2.0)})
    np.testing.assert_array_equal(got["a"], np.zeros(2))
    assert got["b"] == (0.0, 0.0)


# ------------------------------------- forward mode and second derivatives
#
# A tangent helper is checked against a central difference of its primal along a
# random direction; a helper giving second derivatives against a central difference of
# the first-order helper it differentiates (its tangents), or by the vector-Jacobian
# identity with that helper as the primal (its adjoints).


def assert_jvp(primal: Callable, x: Any, tangent: Callable, seed: int = 0, *, eps: float = 1e-6,
               trials: int = 3, rtol: float = 1e-6) -> None:
    """tangent(v) == (primal(x + eps v) - primal(x - eps v)) / (2 eps) for random v."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        v = _randn_like(x, rng)
        up, down = primal(_combine(x, v, eps)), primal(_combine(x, v, -eps))
        expected = _scale(_combine(up, down, -1.0), 1 / (2 * eps))
        got = tangent(v)
        _assert_like(got, expected)
        for a, b in zip(_flat(got), _flat(expected)):
            scale = 1 + np.max(np.abs(b), initial=0.0)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


def _flat(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _flat(item)]
    return [x]


@covers("cholesky_tangent")
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_tangent(shape, upper):
    a = _spd(shape, np.random.default_rng(60))
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
    a = _spd(shape, np.random.default_rng(61))
    out = np.linalg.eigh(a, UPLO=uplo)
    assert_jvp(lambda m: _eigh_signed(m, uplo, out[1]), a, lambda t: runtime.eigh_tangent(t, out, uplo))


@covers("pinv_tangent")
@pytest.mark.parametrize("shape, hermitian", [((3, 3), False), ((4, 2), False), ((2, 4), False),
                                              ((2, 3, 2), False), ((3, 3), True)])
def test_pinv_tangent(shape, hermitian):
    rng = np.random.default_rng(62)
    a = _spd(shape, rng) if hermitian else rng.normal(size=shape)
    out = np.linalg.pinv(a, hermitian=hermitian)
    assert_jvp(lambda m: np.linalg.pinv(m, hermitian=hermitian), a,
               lambda t: runtime.pinv_tangent(t, a, out, hermitian))


@covers("cumprod_tangent")
@pytest.mark.parametrize("shape, axis", [((5,), None), ((5,), 0), ((2, 3), None), ((2, 3), 1), ((3, 4), 0)])
def test_cumprod_tangent(shape, axis):
    a = _rand(shape, np.random.default_rng(63))
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


@covers("pad_tangent")
@pytest.mark.parametrize("shape, pad_width", [((3,), 2), ((2, 3), ((1, 0), (2, 1)))])
def test_pad_tangent(shape, pad_width):
    a = _rand(shape, np.random.default_rng(64))
    x = (a, 0.7)  # the array and the constant it is padded with
    assert_jvp(lambda v: np.pad(v[0], pad_width, constant_values=v[1]), x,
               lambda t: runtime.pad_tangent(t[0], pad_width, "constant", t[1]))
    with pytest.raises(NotImplementedError, match="constant"):
        runtime.pad_tangent(a, 1, "edge", 0.0)


@covers("average_tangent")
@pytest.mark.parametrize("a_shape, w_shape, axis, keepdims", [
    ((2, 3), None, None, False), ((2, 3), (2, 3), None, False), ((2, 3), (3,), 1, False),
    ((2, 3, 4), (4, 2), (2, 0), False), ((2, 3, 2), (2, 2), (0, 2), True),
])
def test_average_tangent(a_shape, w_shape, axis, keepdims):
    rng = np.random.default_rng(65)
    a = _rand(a_shape, rng)
    w = None if w_shape is None else rng.uniform(0.5, 2.0, size=w_shape)
    out = np.average(a, axis, w, keepdims=keepdims)
    assert_jvp(lambda v: np.average(v, axis, w, keepdims=keepdims), a,
               lambda t: runtime.average_tangent(t, a, out, axis, w, False, keepdims, "a"))
    if w is not None:
        assert_jvp(lambda v: np.average(a, axis, v, keepdims=keepdims), w,
                   lambda t: runtime.average_tangent(t, a, out, axis, w, False, keepdims, "weights"))
    with pytest.raises(NotImplementedError, match="returned"):
        runtime.average_tangent(a, a, out, axis, w, True, keepdims, "a")


@covers("logsumexp_tangent")
@pytest.mark.parametrize("shape, axis, b_shape, keepdims", [
    ((4,), None, None, False), ((2, 3), 1, None, False), ((2, 3), 0, None, True),
    ((2, 3), None, (3,), False), ((2, 3), 1, (2, 3), True),
])
def test_logsumexp_tangent(shape, axis, b_shape, keepdims):
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(66)
    a = _rand(shape, rng) * 30  # large entries: exp(a) alone would overflow
    b = None if b_shape is None else rng.uniform(0.5, 2.0, size=b_shape)
    out = special.logsumexp(a, axis, b, keepdims)
    assert_jvp(lambda v: special.logsumexp(v, axis, b, keepdims), a,
               lambda t: runtime.logsumexp_tangent(t, a, out, axis, b, keepdims, False, "a"))
    if b is not None:
        assert_jvp(lambda v: special.logsumexp(a, axis, v, keepdims), b,
                   lambda t: runtime.logsumexp_tangent(t, a, out, axis, b, keepdims, False, "b"))
    with pytest.raises(NotImplementedError, match="return_sign"):
        runtime.logsumexp_tangent(a, a, out, axis, b, keepdims, True)


@covers("interp_tangent")
@pytest.mark.parametrize("x, left, right, period", [
    (np.array([0.3, 1.7, 2.2, 0.9]), None, None, None),
    (np.array([-1.0, 0.3, 1.7, 3.5, 4.2]), None, None, None),
    (np.array([-1.0, 0.3, 1.7, 3.5, 4.2]), -2.0, 5.0, None),
    (np.array([-0.8, 0.3, 1.7, 3.5, 7.2]), None, None, 4.0),
    (1.3, None, None, None),
])
def test_interp_tangent(x, left, right, period):
    xp = np.array([0.0, 1.0, 2.5, 3.0]) if period is None else np.array([2.5, 0.1, 1.0, 3.0])
    fp = np.array([1.0, -0.5, 2.0, 0.3])
    ends = (-2.0 if left is None else left, 5.0 if right is None else right,
            4.0 if period is None else period)
    values = (x, xp, fp) + ends

    def interp(v):
        return np.interp(v[0], v[1], v[2], None if left is None else v[3], None if right is None else v[4],
                         None if period is None else v[5])

    assert_jvp(interp, values, lambda t: runtime.interp_tangent(x, xp, fp, left, right, period, *t))


@covers("interp_tangent")
def test_interp_tangent_needs_two_points():
    with pytest.raises(NotImplementedError, match="two points"):
        runtime.interp_tangent(0.5, np.array([1.0]), np.array([2.0]))


@covers("prod_pairs")
@pytest.mark.parametrize("shape, axis", [((4,), None), ((2, 3), 1), ((2, 3), 0), ((2, 3, 2), (0, 2)),
                                         ((), None)])
def test_prod_pairs_is_the_derivative_of_the_other_entries_products(shape, axis):
    a = _rand(shape, np.random.default_rng(67))
    ones = np.ones(np.shape(np.prod(a, axis=axis)))
    assert_jvp(lambda v: runtime.prod_grad(ones, v, axis), a, lambda w: runtime.prod_pairs(w, a, axis))


@covers("prod_triples")
@pytest.mark.parametrize("shape, axis", [((4,), None), ((2, 3), 1), ((2, 3, 2), (0, 2))])
def test_prod_triples_is_the_derivative_of_prod_pairs(shape, axis):
    rng = np.random.default_rng(85)
    a, w = _rand(shape, rng), _rand(shape, rng)
    assert_jvp(lambda v: runtime.prod_pairs(w, v, axis), a, lambda s: runtime.prod_triples(w, s, a, axis))
    s = _rand(shape, rng)
    np.testing.assert_allclose(runtime.prod_triples(w, s, a, axis), runtime.prod_triples(s, w, a, axis))


@covers("prod_triples")
def test_prod_triples_is_exact_with_zeros():
    a = np.array([0.0, 2.0, 0.0, 3.0, 1.5])
    w, s = np.array([1.0, -1.0, 2.0, 0.5, 1.0]), np.array([0.5, 2.0, -1.0, 1.0, 3.0])
    expected = [sum(w[j] * s[m] * np.prod([a[k] for k in range(5) if k not in (i, j, m)])
                    for j in range(5) for m in range(5) if len({i, j, m}) == 3) for i in range(5)]
    with np.errstate(all="raise"):
        np.testing.assert_allclose(runtime.prod_triples(w, s, a), expected, rtol=1e-14)


@covers("prod_pairs")
def test_prod_pairs_is_exact_with_zeros():
    a = np.array([[0.0, 2.0, 0.0, 3.0], [1.0, 0.0, 4.0, 2.0]])
    w = np.array([[1.0, -1.0, 2.0, 0.5], [3.0, 1.0, -2.0, 1.0]])
    expected = np.zeros_like(a)
    for r in range(2):
        for i in range(4):
            expected[r, i] = sum(w[r, j] * np.prod([a[r, k] for k in range(4) if k not in (i, j)])
                                 for j in range(4) if j != i)
    with np.errstate(all="raise"):
        np.testing.assert_allclose(runtime.prod_pairs(w, a, 1), expected, rtol=1e-14)


_NORMS = [((4,), None, None, False), ((2, 3), None, None, False), ((2, 3), None, 1, False),
          ((2, 3), None, 0, True), ((4,), 3, None, False), ((4,), 1, None, False),
          ((3, 4), "fro", (0, 1), False), ((4,), 1.5, None, False)]


@covers("norm_grad_coef")
@pytest.mark.parametrize("shape, ord, axis, keepdims", _NORMS)
def test_norm_grad_coef_gives_the_partial_derivatives_of_norm_grad(shape, ord, axis, keepdims):
    rng = np.random.default_rng(68)
    x = _rand(shape, rng)
    out = np.linalg.norm(x, ord, axis, keepdims) * 1.3  # any positive value: a partial derivative
    g = _rand(np.shape(out), rng)

    def coef(i, j, x=x, out=out):
        return runtime.norm_grad_coef(g, x, out, ord, axis, keepdims, i, j)

    assert_jvp(lambda v: runtime.norm_grad(g, v, out, ord, axis, keepdims), x, lambda t: coef(1, 0) * t)
    assert_jvp(lambda v: runtime.norm_grad(g, x, v, ord, axis, keepdims), out,
               lambda t: coef(0, 1) * runtime.sum_grad(t, x, axis, keepdims))
    for i, j in [(1, 0), (0, 1), (2, 1)]:  # and each one's derivatives are the next ones
        assert_jvp(lambda v, i=i, j=j: coef(i, j, x=v), x, lambda t, i=i, j=j: coef(i + 1, j) * t)
        assert_jvp(lambda v, i=i, j=j: coef(i, j, out=v), out,
                   lambda t, i=i, j=j: coef(i, j + 1) * runtime.sum_grad(t, x, axis, keepdims))


@covers("norm_grad_coef")
def test_norm_grad_coef_at_a_zero_norm_and_for_matrix_norms():
    x = np.zeros(3)
    assert not runtime.norm_grad_coef(1.0, x, 0.0).any()
    assert not runtime.norm_grad_coef(1.0, x, 0.0, j=1).any()
    x = np.array([1.0, -3.0, 2.0])  # the max norm's gradient only picks the largest entry
    for ord in (np.inf, -np.inf, 0, 1):
        assert not runtime.norm_grad_coef(2.0, x, 3.0, ord, i=1).any()
        assert not runtime.norm_grad_coef(2.0, x, 3.0, ord, i=0, j=1).any()
    with pytest.raises(NotImplementedError, match="ord=2"):
        runtime.norm_grad_coef(1.0, np.ones((2, 2)), 2.0, 2)
    with pytest.raises(NotImplementedError, match="nuc"):
        runtime.norm_grad_coef(1.0, np.ones((2, 2)), 2.0, "nuc")


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


@covers("tree_fill_grad")
@pytest.mark.parametrize("g, like", [
    (np.array([1.0, 2.0]), np.ones(2)),
    ([np.array([1.0, 2.0]), 3.0], [np.ones(2), 0.5]),
    ([np.array([1.0, 2.0]), np.array([3.0, 4.0])], np.ones((2, 2))),  # a list stacked into an array
    ({"a": np.array([1.0]), "b": (2.0, 3.0)}, {"a": np.ones(1), "b": (1.0, 1.0)}),
])
def test_tree_fill_grad_is_the_adjoint_of_tree_fill(g, like):
    assert_vjp(lambda v: runtime.tree_fill(v, like), g, lambda u: runtime.tree_fill_grad(u, g, like),
               linear=True)


@covers("tree_fill_grad")
def test_tree_fill_grad_gives_none_where_the_cotangent_was_none():
    like = {"a": np.ones(2), "b": [1.0, 2.0], "n": 3}
    g = {"a": None, "b": [4.0, None], "extra": 1.0}
    h = runtime.tree_fill(g, like)
    got = runtime.tree_fill_grad(h, g, like)
    assert got == {"a": None, "b": [4.0, None]}
    assert runtime.tree_fill_grad(h, None, like) is None
    assert runtime.tree_fill_grad(None, g, like) is None
    assert runtime.tree_fill_grad(5.0, 2.0, 3) is None  # an integer leaf has no gradient


@covers("list_pad")
def test_list_pad_is_the_adjoint_of_list_prefix():
    g = [np.array([1.0, 2.0]), 3.0]
    assert runtime.list_pad(None) is None
    padded = runtime.list_pad(g)
    assert len(padded) == 3 and padded[2] is None and padded[1] == 3.0
    full = [np.array([1.0, -1.0]), 2.0, np.array([0.5])]
    assert_vjp(lambda v: runtime.list_prefix(v), full, lambda u: runtime.list_pad(u)[:2] + [0.0 * full[2]],
               linear=True)


@covers("rejoin")
@pytest.mark.parametrize("shapes, axis, ndmin, columns, join", [
    ([(3,), (3,)], 0, 2, False, np.vstack), ([(2, 3), (1, 3)], 0, 2, False, np.vstack),
    ([(3,), (2,)], 0, 1, False, np.hstack), ([(2, 3), (2, 1)], 1, 1, False, np.hstack),
    ([(3,), (3, 2)], 1, 2, True, np.column_stack),
])
def test_rejoin_undoes_unjoin(shapes, axis, ndmin, columns, join):
    rng = np.random.default_rng(70)
    arrays = [rng.normal(size=s) for s in shapes]
    joined = join(arrays)
    np.testing.assert_array_equal(runtime.rejoin(arrays, arrays, axis, ndmin, columns), joined)
    pieces = runtime.unjoin(joined, arrays, axis, ndmin, columns)
    np.testing.assert_array_equal(runtime.rejoin(pieces, arrays, axis, ndmin, columns), joined)
    assert_vjp(lambda v: runtime.unjoin(v, arrays, axis, ndmin, columns), joined,
               lambda u: runtime.rejoin(u, arrays, axis, ndmin, columns), linear=True)


@covers("meshgrid_spread")
@pytest.mark.parametrize("shapes, i, indexing", [([(3,), (4,)], 0, "xy"), ([(3,), (4,)], 1, "xy"),
                                                 ([(3,), (4,)], 1, "ij"), ([(2,), (3,), (4,)], 2, "xy")])
def test_meshgrid_spread_is_the_adjoint_of_meshgrid_grad(shapes, i, indexing):
    rng = np.random.default_rng(71)
    xi = [rng.normal(size=s) for s in shapes]
    grids = list(np.meshgrid(*xi, indexing=indexing))
    spread = runtime.meshgrid_spread(xi[i], grids, tuple(xi), i, indexing)
    assert [s is None for s in spread] == [k != i for k in range(len(xi))]
    assert_vjp(lambda g: runtime.meshgrid_grad(g, tuple(xi), i, True, indexing), grids,
               lambda u: [np.zeros_like(grid) if s is None else s for s, grid
                          in zip(runtime.meshgrid_spread(u, grids, tuple(xi), i, indexing), grids)],
               linear=True)
    assert runtime.meshgrid_spread(xi[i], None, tuple(xi), i, indexing) is None


@covers("cumprod_hvp")
@pytest.mark.parametrize("shape, axis", [((5,), None), ((2, 3), None), ((2, 3), 1), ((3, 4), 0)])
def test_cumprod_hvp_is_the_derivative_of_cumprod_grad(shape, axis):
    rng = np.random.default_rng(72)
    a, g = _rand(shape, rng), rng.normal(size=np.shape(np.cumprod(np.ones(shape), axis=axis)))
    assert_jvp(lambda v: runtime.cumprod_grad(g, v, None, axis), a,
               lambda t: runtime.cumprod_hvp(g, a, t, axis))
    # a Hessian: symmetric
    t, s = rng.normal(size=shape), rng.normal(size=shape)
    lhs, rhs = np.sum(runtime.cumprod_hvp(g, a, t, axis) * s), np.sum(t * runtime.cumprod_hvp(g, a, s, axis))
    assert abs(lhs - rhs) < 1e-12


@covers("cumprod_hvp")
def test_cumprod_hvp_is_exact_with_zeros():
    a = np.array([1.5, 0.0, 2.0, 0.0, -1.0])
    g, t = np.array([1.0, -2.0, 0.5, 1.0, 3.0]), np.array([0.5, 1.0, -1.0, 2.0, 1.0])
    with np.errstate(all="raise"):
        got = runtime.cumprod_hvp(g, a, t)
    # the Hessian of sum_j g_j prod_{k <= j} a_k, entry by entry
    n = len(a)

    def entry(i, m):
        if i == m:
            return 0.0
        return sum(g[j] * np.prod([a[k] for k in range(j + 1) if k not in (i, m)])
                   for j in range(max(i, m), n))

    hessian = np.array([[entry(i, m) for m in range(n)] for i in range(n)])
    np.testing.assert_allclose(got, hessian @ t, rtol=1e-14, atol=1e-14)


@covers("diff_grad_adjoint")
@pytest.mark.parametrize("n, axis, prepend, append, part", [
    (1, -1, None, None, "a"), (2, -1, 1.0, np.ones(2), "a"), (1, -1, 1.0, np.ones(2), "prepend"),
    (1, -1, 1.0, np.ones(2), "append"), (1, 0, np.zeros((1, 4)), None, "prepend"),
])
def test_diff_grad_adjoint_is_the_adjoint_of_diff_grad(n, axis, prepend, append, part):
    rng = np.random.default_rng(73)
    a = rng.normal(size=(5,) if axis == -1 else (3, 4))
    out = runtime.diff_tangent(a, n, axis, prepend, append)
    assert_vjp(lambda g: runtime.diff_grad(g, a, n, axis, prepend, append, part), out,
               lambda u: runtime.diff_grad_adjoint(u, a, n, axis, prepend, append, part), linear=True)


_EINSUM_GRADS = [("ij,jk->ik", [(2, 3), (3, 4)], 0), ("ij,jk->ik", [(2, 3), (3, 4)], 1),
                 ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)], 1), ("...i,...i->...", [(2, 1, 3), (4, 3)], 0),
                 ("ii->i", [(3, 3)], 0)]


@covers("einsum_grad_tangent", "einsum_grad_adjoint")
@pytest.mark.parametrize("subscripts, shapes, i", _EINSUM_GRADS)
def test_einsum_grad_second_derivatives(subscripts, shapes, i):
    rng = np.random.default_rng(74)
    ops = [rng.normal(size=s) for s in shapes]
    g = rng.normal(size=np.shape(np.einsum(subscripts, *ops)))
    others = [k for k in range(len(ops)) if k != i]

    def with_others(v):
        return tuple(v[others.index(k)] if k in others else op for k, op in enumerate(ops))

    x = [ops[k] for k in others]
    if x:
        assert_jvp(lambda v: runtime.einsum_grad(g, subscripts, with_others(v), i), x,
                   lambda t: runtime.einsum_grad_tangent(g, subscripts, tuple(ops), i, None, with_others(t)))
        assert_vjp(lambda v: runtime.einsum_grad(g, subscripts, with_others(v), i), x,
                   lambda u: [runtime.einsum_grad_adjoint(u, g, subscripts, tuple(ops), i, "operands")[k]
                              for k in others])
    assert_vjp(lambda v: runtime.einsum_grad(v, subscripts, tuple(ops), i), g,
               lambda u: runtime.einsum_grad_adjoint(u, g, subscripts, tuple(ops), i, "g"), linear=True)
    assert runtime.einsum_grad_adjoint(ops[i], g, subscripts, tuple(ops), i, "operands")[i] is None


@covers("einsum_grad_tangent", "einsum_grad_adjoint")
@pytest.mark.parametrize("i", [0, 1])
def test_einsum_grad_second_derivatives_interleaved(i):
    rng = np.random.default_rng(75)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    g = rng.normal(size=(2, 4))
    other = b if i == 0 else a

    def grad(v):
        first, second = (a, v) if i == 0 else (v, b)
        return runtime.einsum_grad(g, first, ([0, 1], second, [1, 2]), i)

    if i == 0:
        tangent = lambda t: runtime.einsum_grad_tangent(g, a, ([0, 1], b, [1, 2]), 0, None, ([0], t, [0]))  # noqa: E731
        adjoint = lambda u: runtime.einsum_grad_adjoint(u, g, a, ([0, 1], b, [1, 2]), 0, "operands")[1]  # noqa: E731
    else:
        tangent = lambda t: runtime.einsum_grad_tangent(g, a, ([0, 1], b, [1, 2]), 1, t, None)  # noqa: E731
        adjoint = lambda u: runtime.einsum_grad_adjoint(u, g, a, ([0, 1], b, [1, 2]), 1, "subscripts")  # noqa: E731
    assert_jvp(grad, other, tangent)
    assert_vjp(grad, other, adjoint)


def _cholesky_case(shape, upper, seed):
    rng = np.random.default_rng(seed)
    out = np.linalg.cholesky(_spd(shape, rng), upper=upper)
    return out, rng.normal(size=shape)


@covers("cholesky_grad_tangent", "cholesky_grad_adjoint")
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_grad_second_derivatives(shape, upper):
    out, g = _cholesky_case(shape, upper, 76)
    assert_jvp(lambda v: runtime.cholesky_grad(g, v, upper), out,
               lambda s: runtime.cholesky_grad_tangent(s, g, out, upper))
    assert_vjp(lambda v: runtime.cholesky_grad(g, v, upper), out,
               lambda h: runtime.cholesky_grad_adjoint(h, g, out, upper, "out"))
    assert_vjp(lambda v: runtime.cholesky_grad(v, out, upper), g,
               lambda h: runtime.cholesky_grad_adjoint(h, g, out, upper, "g"), linear=True)


@covers("eigh_grad_tangent", "eigh_grad_adjoint")
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_grad_second_derivatives(shape, uplo):
    rng = np.random.default_rng(77)
    out = tuple(np.linalg.eigh(_spd(shape, rng), UPLO=uplo))
    g = (rng.normal(size=shape[:-1]), rng.normal(size=shape))
    assert_jvp(lambda v: runtime.eigh_grad(g, v, uplo), out,
               lambda s: runtime.eigh_grad_tangent(s, g, out, uplo))
    assert_vjp(lambda v: runtime.eigh_grad(g, v, uplo), out,
               lambda h: runtime.eigh_grad_adjoint(h, g, out, uplo, "out"))
    assert_vjp(lambda v: runtime.eigh_grad(v, out, uplo), g,
               lambda h: runtime.eigh_grad_adjoint(h, g, out, uplo, "g"), linear=True)
    # a missing cotangent entry is a zero
    np.testing.assert_allclose(runtime.eigh_grad_tangent(out, (g[0], None), out, uplo),
                               runtime.eigh_grad_tangent(out, (g[0], np.zeros(shape)), out, uplo))


@covers("pinv_grad_tangent", "pinv_grad_adjoint")
@pytest.mark.parametrize("shape, hermitian", [((3, 3), False), ((4, 2), False), ((2, 3, 2), False),
                                              ((3, 3), True)])
@pytest.mark.parametrize("part", ["g", "a", "out"])
def test_pinv_grad_second_derivatives(shape, hermitian, part):
    rng = np.random.default_rng(78)
    a = rng.normal(size=shape)
    x = np.linalg.pinv(a)
    g = rng.normal(size=np.shape(x))
    args = {"g": g, "a": a, "out": x}

    def grad(v):
        moved = {**args, part: v}
        return runtime.pinv_grad(moved["g"], moved["a"], moved["out"], hermitian)

    assert_jvp(grad, args[part], lambda s: runtime.pinv_grad_tangent(s, g, a, x, hermitian, part))
    assert_vjp(grad, args[part], lambda h: runtime.pinv_grad_adjoint(h, g, a, x, hermitian, part))


_AVERAGES = [((2, 3), (2, 3), None, False), ((2, 3), (3,), 1, False), ((2, 3, 4), (4, 2), (2, 0), False),
             ((2, 3, 2), (2, 2), (0, 2), True)]


@covers("average_grad_tangent", "average_grad_adjoint")
@pytest.mark.parametrize("a_shape, w_shape, axis, keepdims", _AVERAGES)
@pytest.mark.parametrize("part", ["a", "weights"])
def test_average_grad_second_derivatives(a_shape, w_shape, axis, keepdims, part):
    rng = np.random.default_rng(79)
    a, w = rng.normal(size=a_shape), rng.uniform(0.5, 2.0, size=w_shape)
    out = np.average(a, axis, w, keepdims=keepdims)
    g = rng.normal(size=np.shape(out))
    args = {"g": g, "a": a, "out": out, "weights": w}

    def grad(wrt, v):
        moved = {**args, wrt: v}
        return runtime.average_grad(moved["g"], moved["a"], moved["out"], axis, moved["weights"], False,
                                    keepdims, part)

    for wrt, key in (("a", "da"), ("out", "dout"), ("weights", "dweights")):
        assert_jvp(lambda v, wrt=wrt: grad(wrt, v), args[wrt],
                   lambda t, key=key: runtime.average_grad_tangent(g, a, out, axis, w, keepdims, part,
                                                                   **{key: t}))
    for wrt in ("g", "a", "out", "weights"):
        assert_vjp(lambda v, wrt=wrt: grad(wrt, v), args[wrt],
                   lambda h, wrt=wrt: runtime.average_grad_adjoint(h, g, a, out, axis, w, keepdims, part,
                                                                   wrt))


@covers("average_grad_tangent", "average_grad_adjoint")
def test_average_grad_second_derivatives_without_weights():
    a = np.arange(6.0).reshape(2, 3)
    g, out = np.ones(2), np.ones(2)
    assert not runtime.average_grad_tangent(g, a, out, 1, None, False, "a", np.ones((2, 3))).any()
    h = np.random.default_rng(80).normal(size=(2, 3))
    np.testing.assert_allclose(runtime.average_grad_adjoint(h, g, a, out, 1), np.mean(h, axis=1))
    assert not runtime.average_grad_adjoint(h, g, a, out, 1, None, False, "a", "a").any()


_LOGSUMEXPS = [((4,), None, None, False), ((2, 3), 1, None, False), ((2, 3), 0, None, True),
               ((2, 3), None, (2, 3), False), ((2, 3), 1, (3,), False)]


@covers("logsumexp_grad_tangent", "logsumexp_grad_adjoint")
@pytest.mark.parametrize("shape, axis, b_shape, keepdims", _LOGSUMEXPS)
@pytest.mark.parametrize("part", ["a", "b"])
def test_logsumexp_grad_second_derivatives(shape, axis, b_shape, keepdims, part):
    special = pytest.importorskip("scipy.special")
    if part == "b" and b_shape is None:
        pytest.skip("no b")
    rng = np.random.default_rng(81)
    a = rng.normal(size=shape)
    b = None if b_shape is None else rng.uniform(0.5, 2.0, size=b_shape)
    g = rng.normal(size=np.shape(special.logsumexp(a, axis, b, keepdims)))
    args = {"g": g, "a": a, "b": b}

    def grad(wrt, v):
        moved = {**args, wrt: v}
        return runtime.logsumexp_grad(moved["g"], moved["a"], axis, moved["b"], keepdims, False, part)

    wrts = ["g", "a"] + ([] if b is None else ["b"])
    for wrt in wrts:
        assert_vjp(lambda v, wrt=wrt: grad(wrt, v), args[wrt],
                   lambda h, wrt=wrt: runtime.logsumexp_grad_adjoint(h, g, a, axis, b, keepdims, part, wrt))
    assert_jvp(lambda v: grad("a", v), a,
               lambda t: runtime.logsumexp_grad_tangent(g, a, axis, b, keepdims, part, t))
    if b is not None:
        assert_jvp(lambda v: grad("b", v), b,
                   lambda t: runtime.logsumexp_grad_tangent(g, a, axis, b, keepdims, part, 0.0, t))


@covers("polyval_grad_p_tangent")
@pytest.mark.parametrize("p_shape, x_shape", [((3,), ()), ((4,), (5,)), ((1,), (2,)), ((2,), (2, 3))])
def test_polyval_grad_p_tangent(p_shape, x_shape):
    rng = np.random.default_rng(82)
    p, x = _rand(p_shape, rng), _rand(x_shape, rng)
    g = _rand(np.shape(np.polyval(p, x)), rng)
    assert_jvp(lambda v: runtime.polyval_grad_p(g, p, v), x,
               lambda t: runtime.polyval_grad_p_tangent(g, p, x, t))


@covers("polygamma_grad")
@pytest.mark.parametrize("n", [0, 1, 2])
def test_polygamma_grad(n):
    special = pytest.importorskip("scipy.special")
    x = np.random.default_rng(83).uniform(0.5, 4.0, size=(2, 3))
    assert_vjp(lambda v: special.polygamma(n, v), x, lambda u: runtime.polygamma_grad(u, n, x))
    np.testing.assert_allclose(runtime.polygamma_grad(1.0, 0, x), runtime.digamma_grad(1.0, x), rtol=1e-15)


@covers("polyder_grad")
@pytest.mark.parametrize("n, m", [(4, 1), (5, 2), (3, 0), (2, 3), (1, 1)])
def test_polyder_grad(n, m):
    p = np.random.default_rng(84).normal(size=n)
    assert_vjp(lambda q: np.polyder(q, m), p, lambda u: runtime.polyder_grad(u, p, m), linear=True)


@covers("zeros_like_value")
def test_zeros_like_value_of_none_is_none():
    assert runtime.zeros_like_value(None) is None
    assert runtime.zeros_like_value((1.0, None)) == (0.0, None)


@covers("unique_grad")
@pytest.mark.parametrize("shape", [(5,), (2, 3)])
def test_unique_grad(shape):
    a = _rand(shape, np.random.default_rng(91))  # distinct entries: unique is the sort
    assert_vjp(lambda v: np.unique(v), a, lambda u: runtime.unique_grad(u, a))


@covers("unique_grad")
def test_unique_grad_splits_a_repeated_value_equally():
    a = np.array([2.0, -1.0, 2.0, 2.0])  # unique: [-1, 2]; 2.0 three times
    np.testing.assert_allclose(runtime.unique_grad(np.array([3.0, 6.0]), a), [2.0, 3.0, 2.0, 2.0])


@covers("unique_tangent")
@pytest.mark.parametrize("shape", [(5,), (2, 3)])
def test_unique_tangent_is_the_directional_derivative_of_unique(shape):
    rng = np.random.default_rng(92)
    a, t = _rand(shape, rng), _rand(shape, rng)
    eps = 1e-6
    expected = (np.unique(a + eps * t) - np.unique(a - eps * t)) / (2 * eps)
    np.testing.assert_allclose(runtime.unique_tangent(t, a), expected, rtol=1e-6, atol=1e-8)


@covers("unique_tangent")
def test_unique_tangent_of_a_repeated_value_is_the_mean_of_its_copies():
    # the mean: along directions that keep the copies equal it is exactly how 2.0 moves
    a = np.array([2.0, -1.0, 2.0, 2.0])
    np.testing.assert_allclose(runtime.unique_tangent(np.array([1.0, 5.0, 2.0, 6.0]), a), [5.0, 3.0])
    t = np.array([4.0, 5.0, 4.0, 4.0])  # a direction that keeps the copies equal
    np.testing.assert_allclose(runtime.unique_tangent(t, a), np.unique(a + t) - np.unique(a))


# ------------------------------------------------------------------- coverage


def test_every_helper_is_tested():
    """Each name in runtime.__all__ has a test here, and each test names a real helper."""
    helpers = set(runtime.__all__)
    assert set(TESTED) - helpers == set(), "tests for helpers runtime no longer has"
    assert helpers - set(TESTED) == set(), "runtime helpers without a test in this file"
    for name in helpers:
        assert callable(getattr(runtime, name)), name
