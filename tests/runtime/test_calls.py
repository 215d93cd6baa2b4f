"""srcdiff/runtime/calls.py: seed, distinct, and the derivatives of methods."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff import runtime

from ._coverage import covers


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
