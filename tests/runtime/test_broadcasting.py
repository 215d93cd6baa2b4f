"""srcdiff/runtime/broadcasting.py: unbroadcast, the adjoint of broadcasting."""

from __future__ import annotations

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_vjp, rand


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
    x = rand(x_shape, np.random.default_rng(1))
    assert_vjp(lambda v: np.broadcast_to(v, out_shape), x,
               lambda u: runtime.unbroadcast(u, x), linear=True)


@covers("unbroadcast_to")
@pytest.mark.parametrize("out_shape, x_shape", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 2, 3), (2, 1)),
                                                ((2, 3), ()), ((), ())])
def test_unbroadcast_to_a_shape_is_unbroadcast_to_a_value_of_that_shape(out_shape, x_shape):
    rng = np.random.default_rng(2)
    g, x = rand(out_shape, rng), rand(x_shape, rng)
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
    g = rand(g_shape, np.random.default_rng(2))
    got = runtime.unbroadcast(g, np.ones(x_shape))
    assert np.shape(got) == x_shape
    np.testing.assert_array_equal(got, np.broadcast_to(g, x_shape))
