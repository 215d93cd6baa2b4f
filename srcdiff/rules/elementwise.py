"""NumPy element-wise functions (ufuncs and their friends)."""

from __future__ import annotations  # (so np.random.Generator annotations do not import numpy.random)

import numpy as np

from .registry import ABOVE_ONE, NONZERO, POSITIVE, UNIT, Case, Domain, Fixed
from .registry import register_adjoint as rule


class _Increasing(Domain):
    """Strictly increasing samples along the last axis: ``low`` plus cumulative steps
    uniform in [0.3, 1] (the interpolation points of np.interp)."""

    def sample(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return self.low + np.cumsum(rng.uniform(0.3, 1.0, size=shape), axis=-1)


# Unary: the cotangent times the scalar derivative, evaluated element-wise.
rule(np.negative, "negative(x)", x="-g")
rule(np.positive, "positive(x)", x="g")
rule(np.sin, "sin(x)", x="g * np.cos(x)")
rule(np.cos, "cos(x)", x="-g * np.sin(x)")
rule(np.tan, "tan(x)", x="g / np.cos(x) ** 2", domain=Domain(-1.2, 1.2))
# (1 - x) (1 + x), not 1 - x * x: near |x| = 1 the rounding of x * x would dominate 1 - x^2.
rule(np.arcsin, "arcsin(x)", x="g / np.sqrt((1 - x) * (1 + x))", domain=UNIT)
rule(np.arccos, "arccos(x)", x="-g / np.sqrt((1 - x) * (1 + x))", domain=UNIT)
rule(np.arctan, "arctan(x)", x="g / (1 + x * x)")
rule(np.sinh, "sinh(x)", x="g * np.cosh(x)")
rule(np.cosh, "cosh(x)", x="g * np.sinh(x)")
rule(np.tanh, "tanh(x)", x="g * (1 - out * out)")
# hypot(x, 1) = sqrt(x^2 + 1) without overflowing x * x for |x| > 1e154.
rule(np.arcsinh, "arcsinh(x)", x="g / np.hypot(x, 1.0)")
# sqrt(x - 1) sqrt(x + 1): no cancellation near x = 1, no overflow of x * x.
rule(np.arccosh, "arccosh(x)", x="g / (np.sqrt(x - 1) * np.sqrt(x + 1))", domain=ABOVE_ONE)
rule(np.arctanh, "arctanh(x)", x="g / ((1 - x) * (1 + x))", domain=UNIT)
rule(np.exp, "exp(x)", x="g * out")
rule(np.exp2, "exp2(x)", x="g * out * np.log(2)")
# exp(x), not out + 1: for x < 0 that cancels (all digits lost from x = -37 on).
rule(np.expm1, "expm1(x)", x="g * np.exp(x)")
rule(np.log, "log(x)", x="g / x", domain=POSITIVE)
rule(np.log2, "log2(x)", x="g / (x * np.log(2))", domain=POSITIVE)
rule(np.log10, "log10(x)", x="g / (x * np.log(10))", domain=POSITIVE)
rule(np.log1p, "log1p(x)", x="g / (1 + x)", domain=POSITIVE)
rule(np.sqrt, "sqrt(x)", x="g / (2 * out)", domain=POSITIVE)
rule(np.cbrt, "cbrt(x)", x="g / (3 * out * out)", domain=NONZERO)
rule(np.square, "square(x)", x="2 * g * x")
rule(np.reciprocal, "reciprocal(x)", x="-g * out * out", domain=NONZERO)
rule(np.abs, "abs(x)", x="g * np.sign(x)", domain=NONZERO)
rule(np.fabs, "fabs(x)", x="g * np.sign(x)", domain=NONZERO)
rule(np.deg2rad, "deg2rad(x)", x="g * (np.pi / 180)")
rule(np.rad2deg, "rad2deg(x)", x="g * (180 / np.pi)")
rule(np.sinc, "sinc(x)",
     # d/dx sin(pi x)/(pi x) = (cos(pi x) - sinc(x)) / x.  Near 0 the two terms cancel (at
     # x = 1e-8 not one digit is left), so for |pi x| < 0.2 the Taylor series
     # -(pi^2 x / 3) (1 - u/10 + u^2/280 - u^3/15120 + u^4/1330560), u = (pi x)^2, is used
     # instead: the first term left out is below 1e-15 of the sum; 0 at x = 0.
     x="g * np.where(np.abs(x) < 0.064,"
       " -(np.pi ** 2 / 3) * x * np.polyval([1 / 1330560, -1 / 15120, 1 / 280, -1 / 10, 1.0],"
       " (np.pi * x) ** 2),"
       " (np.cos(np.pi * x) - out) / np.where(np.abs(x) < 0.064, 1.0, x))",
     # (not a ufunc, so its tangent is not written from its adjoint)
     tangents={"x": "t * np.where(x == 0, 0.0, (np.cos(np.pi * x) - out) / np.where(x == 0, 1.0, x))"},
     domain=NONZERO)
# Written for real and complex values alike (see rules/complexes.py for the convention:
# the cotangent of z = x + iy is dL/dx - i dL/dy).
rule(np.real, "real(val)", val="g", tangents={"val": "np.real(t)"})
rule(np.imag, "imag(val)", val="real_like(-1j * g, val)", tangents={"val": "np.imag(t)"})
rule(np.conjugate, "conjugate(x)", x="np.conjugate(g)")
# angle(z) = atan2(y, x): d angle = Im(conj(z) dz) / |z|^2; 0 for a real z (and at z = 0)
rule(np.angle, "angle(z, deg=False)",
     z="real_like(g * np.conjugate(1j * z) / (np.real(z * np.conjugate(z)) + (z == 0)), z)"
       " * (180 / np.pi if deg else 1.0)",
     tangents={"z": "np.imag(np.conjugate(z) * t) / (np.real(z * np.conjugate(z)) + (z == 0))"
                    " * (180 / np.pi if deg else 1.0)"},
     domain=NONZERO, nondiff=("deg",), discrete=("deg",))

# Binary, broadcasting: each cotangent is summed back to its argument's shape.
rule(np.add, "add(x, y)", x="unbroadcast(g, x)", y="unbroadcast(g, y)")
rule(np.subtract, "subtract(x, y)", x="unbroadcast(g, x)", y="unbroadcast(-g, y)")
rule(np.multiply, "multiply(x, y)", x="unbroadcast(g * y, x)", y="unbroadcast(g * x, y)")
rule(
    np.divide, "divide(x, y)",
    x="unbroadcast(g / y, x)", y="unbroadcast(-g * out / y, y)",
    domain={"y": NONZERO},
)
rule(
    np.power, "power(x, y)",
    # y x^(y-1), as written for an exponent in the code (x ** 2 -> 2 * x); else with 0
    # where y == 0 (the textbook form is 0 * inf at x == 0)
    x="unbroadcast(g * y * x ** (y - 1) if literal(y) and y != 0 else g * power_term(y, x, y - 1), x)",
    y="unbroadcast(g * out * np.log(np.where(x > 0, x, 1.0)), y)",
    domain={"x": POSITIVE},
)
rule(
    np.float_power, "float_power(x, y)",
    x="unbroadcast(g * y * np.float_power(x, y - 1), x)",
    y="unbroadcast(g * out * np.log(np.where(x > 0, x, 1.0)), y)",
    domain={"x": POSITIVE},
)
# Where the arguments tie, each gets half the cotangent (the mean of the one-sided
# derivatives), so maximum(x, x) has derivative 1 as it should.
rule(
    np.maximum, "maximum(x, y)",
    x="unbroadcast(g * np.where(x == y, 0.5, x > y), x)",
    y="unbroadcast(g * np.where(x == y, 0.5, y > x), y)",
)
rule(
    np.minimum, "minimum(x, y)",
    x="unbroadcast(g * np.where(x == y, 0.5, x < y), x)",
    y="unbroadcast(g * np.where(x == y, 0.5, y < x), y)",
)
# fmax and fmin ignore a NaN: the result, and so the cotangent, is the other argument's
# (the first one's when both are NaN, as NumPy returns it).
rule(
    np.fmax, "fmax(x, y)",
    x="unbroadcast(g * np.where(x == y, 0.5, (x > y) | np.isnan(y)), x)",
    y="unbroadcast(g * np.where(x == y, 0.5, (y > x) | np.isnan(x) & ~np.isnan(y)), y)",
)
rule(
    np.fmin, "fmin(x, y)",
    x="unbroadcast(g * np.where(x == y, 0.5, (x < y) | np.isnan(y)), x)",
    y="unbroadcast(g * np.where(x == y, 0.5, (y < x) | np.isnan(x) & ~np.isnan(y)), y)",
)
# x / (x^2 + y^2) as (x / r) / r with r = hypot(x, y): x * x + y * y underflows to 0
# below 1e-154 (giving 0/0) and overflows above 1e154, where the derivative is finite.
rule(
    np.arctan2, "arctan2(y, x)",
    y="unbroadcast(g * (x / np.hypot(x, y)) / np.hypot(x, y), y)",
    x="unbroadcast(-g * (y / np.hypot(x, y)) / np.hypot(x, y), x)",
    domain=NONZERO,
)
# At x = y = 0 the cotangent is zero, the subgradient at the kink, as for np.linalg.norm.
rule(
    np.hypot, "hypot(x, y)",
    x="unbroadcast(g * x / np.where(out == 0, 1.0, out), x)",
    y="unbroadcast(g * y / np.where(out == 0, 1.0, out), y)",
    domain=NONZERO,
)
rule(
    np.logaddexp, "logaddexp(x, y)",
    x="unbroadcast(g * np.exp(x - out), x)", y="unbroadcast(g * np.exp(y - out), y)",
)
rule(
    np.logaddexp2, "logaddexp2(x, y)",
    x="unbroadcast(g * np.exp2(x - out), x)", y="unbroadcast(g * np.exp2(y - out), y)",
)
rule(
    np.mod, "mod(x, y)",
    x="unbroadcast(g, x)", y="unbroadcast(-g * np.floor_divide(x, y), y)",
    domain={"x": Domain(0.1, 0.9), "y": Domain(1.5, 2.5)},
)
rule(
    np.where, "where(condition, x, y)",
    x="unbroadcast(np.where(condition, g, 0.0), x)",
    y="unbroadcast(np.where(condition, 0.0, g), y)",
    nondiff=("condition",), discrete=("condition",),
    cases=[
        Case((Fixed(np.array([True, False, True])), (3,), (3,))),
        Case((Fixed(np.array([[True], [False]])), (2, 3), ())),
    ],
)
rule(
    np.clip, "clip(a, a_min=None, a_max=None)",
    a="clip_grad(g, a, a_min, a_max)",
    a_min="unbroadcast(np.where(a < a_min, g, 0.0), a_min)",
    a_max="unbroadcast(np.where(a > a_max, g, 0.0), a_max)",
    cases=[Case(((3, 4), (), ())), Case(((2, 3), (3,), ()))],
    domain={"a": Domain(-2.0, 2.0), "a_min": Domain(-1.0, -0.1), "a_max": Domain(0.1, 1.0)},
)

# Polynomials and interpolation: element-wise in x.
rule(np.polyval, "polyval(p, x)",
     p="polyval_grad_p(g, p, x)", x="g * np.polyval(np.polyder(p), x)",
     tangents={"p": "np.polyval(t, x)", "x": "t * np.polyval(np.polyder(p), x)"},
     cases=[Case(((3,), ())), Case(((4,), (5,))), Case(((1,), (2, 3))), Case(((3,), (2, 3)))])
# (np.polyder is not element-wise, but linear: polyval's adjoint calls it, so polyval's
# second derivatives need its rule.)
rule(np.polyder, "polyder(p, m=1)", p="polyder_grad(g, p, m)", tangents={"p": "np.polyder(t, m)"},
     nondiff=("m",), discrete=("m",),
     cases=[Case(((4,),)), Case(((5,), Fixed(2))), Case(((3,), Fixed(0))), Case(((2,), Fixed(3)))])
# Some x fall left and right of the points xp, where the result is constant.
rule(np.interp, "interp(x, xp, fp, left=None, right=None, period=None)",
     x="interp_grad(g, x, xp, fp, left, right, period, 'x')",
     xp="interp_grad(g, x, xp, fp, left, right, period, 'xp')",
     fp="interp_grad(g, x, xp, fp, left, right, period, 'fp')",
     left="interp_grad(g, x, xp, fp, left, right, period, 'left')",
     right="interp_grad(g, x, xp, fp, left, right, period, 'right')",
     period="interp_grad(g, x, xp, fp, left, right, period, 'period')",
     tangent="interp_tangent(x, xp, fp, left, right, period, dx, dxp, dfp, dleft, dright, dperiod)",
     domain={"x": Domain(-0.5, 4.0), "xp": _Increasing(0.0, 0.0), "period": Domain(2.5, 3.5)},
     cases=[Case(((8,), (5,), (5,))), Case(((8,), (5,), (5,)), {"left": (), "right": ()}),
            Case(((), (4,), (4,))), Case(((2, 3), Fixed(np.array([0.0, 1.0, 2.5, 3.0])), (4,))),
            Case(((8,), (5,), (5,)), {"period": Fixed(3.0)}),
            Case(((8,), (5,), (5,)), {"period": ()})])
