"""Python's arithmetic operators (desugaring turns ``a * b`` into ``operator.mul(a, b)``)."""

import operator

from .registry import NONZERO, POSITIVE, Case, Domain
from .registry import register_adjoint as rule

rule(operator.add, "add(x, y)", x="unbroadcast(g, x)", y="unbroadcast(g, y)")
rule(operator.sub, "sub(x, y)", x="unbroadcast(g, x)", y="unbroadcast(-g, y)")
rule(operator.mul, "mul(x, y)", x="unbroadcast(g * y, x)", y="unbroadcast(g * x, y)")
rule(
    operator.truediv, "truediv(x, y)",
    x="unbroadcast(g / y, x)",
    y="unbroadcast(-g * out / y, y)",
    domain={"y": NONZERO},
)
rule(
    operator.pow, "pow(x, y)",
    # y x^(y-1), as written for an exponent in the code (x ** 2 -> 2 * x); else with 0
    # where y == 0 (the textbook form is 0 * inf at x == 0)
    x="unbroadcast(g * y * x ** (y - 1) if literal(y) and y != 0 else g * power_term(y, x, y - 1), x)",
    # d/dy x**y = x**y log x; where x <= 0 the real derivative does not exist: use 0.
    y="unbroadcast(g * out * np.log(np.where(x > 0, x, 1.0)), y)",
    domain={"x": POSITIVE},
)
rule(
    operator.mod, "mod(x, y)",
    x="unbroadcast(g, x)",
    y="unbroadcast(-g * np.floor_divide(x, y), y)",
    domain={"x": Domain(0.1, 0.9), "y": Domain(1.5, 2.5)},
)
rule(operator.neg, "neg(x)", x="-g")
rule(operator.pos, "pos(x)", x="g")
rule(
    operator.matmul, "matmul(x, y)",
    x="matmul_grad_a(g, x, y)",
    y="matmul_grad_b(g, x, y)",
    tangents={"x": "t @ y", "y": "x @ t"},
    cases=[
        Case(((2, 3), (3, 4))),
        Case(((3,), (3, 4))),
        Case(((2, 3), (3,))),
        Case(((3,), (3,))),
        Case(((2, 2, 3), (3, 4))),
        Case(((2, 2, 3), (2, 3, 2))),
        Case(((3,), (2, 3, 4))),
    ],
)

