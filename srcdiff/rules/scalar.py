"""``math`` functions and builtins on Python floats."""

import builtins
import math

import numpy as np

from .registry import ABOVE_ONE, NONZERO, POSITIVE, UNIT, Case, Domain
from .registry import register_adjoint as rule

_FLOAT = [Case(((),))]

rule(math.sin, "sin(x)", x="g * math.cos(x)", cases=_FLOAT)
rule(math.cos, "cos(x)", x="-g * math.sin(x)", cases=_FLOAT)
rule(math.tan, "tan(x)", x="g / math.cos(x) ** 2", domain=Domain(-1.2, 1.2), cases=_FLOAT)
# The forms below avoid cancellation and overflow as their np.* versions do (elementwise.py).
rule(math.asin, "asin(x)", x="g / math.sqrt((1 - x) * (1 + x))", domain=UNIT, cases=_FLOAT)
rule(math.acos, "acos(x)", x="-g / math.sqrt((1 - x) * (1 + x))", domain=UNIT, cases=_FLOAT)
rule(math.atan, "atan(x)", x="g / (1 + x * x)", cases=_FLOAT)
rule(
    math.atan2, "atan2(y, x)",
    y="g * (x / math.hypot(x, y)) / math.hypot(x, y)",
    x="-g * (y / math.hypot(x, y)) / math.hypot(x, y)",
    domain=NONZERO, cases=[Case(((), ()))],
)
rule(math.sinh, "sinh(x)", x="g * math.cosh(x)", cases=_FLOAT)
rule(math.cosh, "cosh(x)", x="g * math.sinh(x)", cases=_FLOAT)
rule(math.tanh, "tanh(x)", x="g * (1 - out * out)", cases=_FLOAT)
rule(math.asinh, "asinh(x)", x="g / math.hypot(x, 1.0)", cases=_FLOAT)
rule(math.acosh, "acosh(x)", x="g / (math.sqrt(x - 1) * math.sqrt(x + 1))", domain=ABOVE_ONE,
     cases=_FLOAT)
rule(math.atanh, "atanh(x)", x="g / ((1 - x) * (1 + x))", domain=UNIT, cases=_FLOAT)
rule(math.exp, "exp(x)", x="g * out", cases=_FLOAT)
rule(math.expm1, "expm1(x)", x="g * math.exp(x)", cases=_FLOAT)
rule(
    math.log, "log(x, base=None)",
    x="g / x if base is None else g / (x * math.log(base))",
    base="-g * out / (base * math.log(base))",
    domain={"x": POSITIVE, "base": ABOVE_ONE},
    cases=[Case(((),)), Case(((), ()))],
)
rule(math.log1p, "log1p(x)", x="g / (1 + x)", domain=POSITIVE, cases=_FLOAT)
rule(math.log2, "log2(x)", x="g / (x * math.log(2))", domain=POSITIVE, cases=_FLOAT)
rule(math.log10, "log10(x)", x="g / (x * math.log(10))", domain=POSITIVE, cases=_FLOAT)
rule(math.sqrt, "sqrt(x)", x="g / (2 * out)", domain=POSITIVE, cases=_FLOAT)
rule(
    math.pow, "pow(x, y)",
    x="g * y * math.pow(x, y - 1)", y="g * out * math.log(x)",
    domain={"x": POSITIVE}, cases=[Case(((), ()))],
)
rule(
    math.hypot, "hypot(x, y)",
    # Zero at x = y = 0 (the subgradient at the kink), as for np.hypot.
    x="g * x / (out if out else 1.0)", y="g * y / (out if out else 1.0)",
    domain=NONZERO, cases=[Case(((), ()))],
)
rule(math.fabs, "fabs(x)", x="g * math.copysign(1.0, x)", domain=NONZERO, cases=_FLOAT)
rule(math.erf, "erf(x)", x="g * 2 / math.sqrt(math.pi) * math.exp(-x * x)", cases=_FLOAT)
rule(math.erfc, "erfc(x)", x="-g * 2 / math.sqrt(math.pi) * math.exp(-x * x)", cases=_FLOAT)
rule(math.degrees, "degrees(x)", x="g * (180 / math.pi)", cases=_FLOAT)
rule(math.radians, "radians(x)", x="g * (math.pi / 180)", cases=_FLOAT)
rule(
    math.copysign, "copysign(x, y)", x="g * math.copysign(1.0, x) * math.copysign(1.0, y)",
    domain=NONZERO, nondiff=("y",), cases=[Case(((), ()))],
)

# Builtins.  abs works on floats and arrays alike (it calls __abs__).
rule(builtins.abs, "abs(x)", x="g * np.sign(x)", domain=NONZERO)
rule(builtins.float, "float(x)", x="g", cases=_FLOAT)
rule(
    builtins.max, "max(a, b)",
    # Ties share the cotangent equally (the subgradient in the middle).
    a="g * (1.0 if a > b else 0.5 if a == b else 0.0)",
    b="g * (1.0 if b > a else 0.5 if a == b else 0.0)",
    cases=[Case(((), ()))],
)
rule(
    builtins.min, "min(a, b)",
    a="g * (1.0 if a < b else 0.5 if a == b else 0.0)",
    b="g * (1.0 if b < a else 0.5 if a == b else 0.0)",
    cases=[Case(((), ()))],
)
rule(
    builtins.sum, "sum(items, start=0)",
    items="seq_sum_grad(g, items)", start="unbroadcast(g, start)",
    tangents={"items": "sum(t)", "start": "t"},
    seq=("items",),
    # an array's items are its rows along the first axis
    cases=[Case(([(), (), ()],)), Case(([(3,), (3,)],)), Case(([(3,), (3,)], (3,))),
           Case(((1,),)), Case(((4,),)), Case(((3, 2),)), Case(((2, 3, 2),)), Case(((3, 2), (2,))),
           Case(((3, 2), (4, 1, 2))), Case(((3,), ())), Case(([(), (2,), ()], (2, 2)))],
)
rule(builtins.pow, "pow(x, y)", x="g * y * x ** (y - 1)", y="g * out * math.log(x)",
     domain={"x": POSITIVE}, cases=[Case(((), ()))])

# Casts to NumPy float scalars pass the cotangent through.
rule(np.float64, "float64(x)", x="g", cases=_FLOAT)
