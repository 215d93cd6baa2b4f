"""Gates: a derivative's short way into the code made for calls like the last one.
Calls of other kinds, shapes, dtypes, counts or keywords take the general way and get
the same answers; a helper rebound since still counts."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff

from .conftest import make_function


def test_float_and_array_calls_in_turn_use_their_own_derivatives():
    f = make_function("def turns(x):\n    return np.sum(np.sin(x))\n")
    d = srcdiff.grad(f)
    for _ in range(3):
        assert d(0.5) == pytest.approx(np.cos(0.5))
        assert isinstance(d(0.5), float)
        np.testing.assert_allclose(d(np.array([0.5, 1.0])), np.cos([0.5, 1.0]))
        np.testing.assert_allclose(d(np.array([[0.5], [1.0]])), np.cos([[0.5], [1.0]]))


def test_calls_unlike_the_last_one_take_the_general_way_and_stay_right():
    """A derivative's short way serves calls like the last one it was made for; calls
    with other counts, keywords, kinds or dtypes must give the same answers as ever."""
    f = make_function("def gated(x, y, scale=2.0):\n    return scale * np.sum(np.sin(x) * y)\n")
    d = srcdiff.grad(f, wrt=(0, 1))
    x, y = np.array([0.3, 0.9]), np.array([1.5, -0.5])

    def expected(x, y, scale=2.0):
        return scale * np.cos(x) * y, scale * np.sin(x)

    calls = [((x, y), {}), ((x, y, 3.0), {}), ((x,), {"y": y}), ((x, y), {"scale": 0.5}),
             ((0.4, 1.1), {}), ((x.astype(np.float32), y.astype(np.float32)), {}),
             ((x[:1], y[:1]), {}), ((x, y), {})]
    for _ in range(2):
        for args, kwargs in calls:
            got = d(*args, **kwargs)
            for g, e in zip(got, expected(*args, **kwargs)):
                np.testing.assert_allclose(g, e, rtol=1e-6)
    with pytest.raises(TypeError):
        d(x)  # y missing: the function's own error, not a wrong answer
    with pytest.raises(TypeError):
        d(x, y, 1.0, 2.0)


def test_a_keyword_named_like_a_gate_parameter_reaches_the_function():
    f = make_function("def named(self, a0):\n    return np.sum(self * a0)\n")
    d = srcdiff.grad(f)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(d(x, 3.0 * x), 3.0 * x)
    np.testing.assert_allclose(d(x, a0=2.0 * x), 2.0 * x)
    np.testing.assert_allclose(d(self=x, a0=x), x)


def test_the_short_way_sees_a_rebound_helper():
    source = "def helper(x):\n    return x * x\n\ndef outer(x):\n    return np.sum(helper(x))\n"
    outer = make_function(source, name="outer")
    d = srcdiff.grad(outer)
    x = np.array([0.5, 2.0])
    np.testing.assert_allclose(d(x), 2 * x)
    cube = make_function("def helper(x):\n    return x * x * x\n")
    outer.__globals__["helper"] = cube
    np.testing.assert_allclose(d(x), 3 * x * x)


def test_parameters_named_like_the_gate_globals_or_builtins_are_fine():
    f = make_function("def clash(function, type, UNSET=1.0):\n"
                      "    return np.sum(function * type) * UNSET\n")
    d = srcdiff.grad(f, wrt=(0, 1))
    a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    for _ in range(2):
        ga, gb = d(a, b)
        np.testing.assert_allclose(ga, b)
        np.testing.assert_allclose(gb, a)
        ga, gb = d(type=b, function=a, UNSET=2.0)
        np.testing.assert_allclose(ga, 2.0 * b)


def test_every_argument_by_keyword_and_a_missing_one():
    f = make_function("def kw(x, y, z=3.0):\n    return np.sum(x * y) * z\n")
    d = srcdiff.grad(f, wrt=(0, 1))
    x, y = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    d(x, y)
    gx, gy = d(y=y, x=x)
    np.testing.assert_allclose(gx, 3.0 * y)
    gx, gy = d(x, z=2.0, y=y)
    np.testing.assert_allclose(gy, 2.0 * x)
    with pytest.raises(TypeError):
        d(y=y)
    with pytest.raises(TypeError):
        d(x, y, w=1.0)
