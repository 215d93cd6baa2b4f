"""srcdiff/runtime/elementwise.py: powers, literal, np.clip, polynomials, np.interp."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_jvp, assert_vjp, rand


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


@covers("polyval_grad_p")
@pytest.mark.parametrize("p_shape, x_shape", [((3,), ()), ((3,), (4,)), ((1,), (2,)), ((4, 1), (3,)),
                                              ((2, 3), (3,))])
def test_polyval_grad_p(p_shape, x_shape):
    rng = np.random.default_rng(53)
    p, x = rand(p_shape, rng), rand(x_shape, rng)
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


@covers("polyder_grad")
@pytest.mark.parametrize("n, m", [(4, 1), (5, 2), (3, 0), (2, 3), (1, 1)])
def test_polyder_grad(n, m):
    p = np.random.default_rng(84).normal(size=n)
    assert_vjp(lambda q: np.polyder(q, m), p, lambda u: runtime.polyder_grad(u, p, m), linear=True)
