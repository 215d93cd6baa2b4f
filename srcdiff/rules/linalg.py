"""Products and linear algebra."""

import numpy as np

from .registry import Case, Domain
from .registry import register_adjoint as rule

_PRODUCT_CASES = [
    Case(((2, 3), (3, 4))),
    Case(((3,), (3, 4))),
    Case(((2, 3), (3,))),
    Case(((3,), (3,))),
    Case(((2, 2, 3), (3, 4))),
]
rule(np.matmul, "matmul(x, y)", x="matmul_grad_a(g, x, y)", y="matmul_grad_b(g, x, y)",
     cases=_PRODUCT_CASES + [Case(((2, 2, 3), (2, 3, 2)))])
rule(np.dot, "dot(a, b)", a="dot_grad_a(g, a, b)", b="dot_grad_b(g, a, b)",
     cases=_PRODUCT_CASES + [Case(((), (3,))), Case(((2, 3), ())), Case(((2, 3), (2, 3, 4)))])
rule(np.outer, "outer(a, b)",
     a="np.reshape(np.dot(g, np.ravel(b)), np.shape(a))",
     b="np.reshape(np.dot(np.ravel(a), g), np.shape(b))",
     cases=[Case(((3,), (4,))), Case(((2, 2), (3,)))])
rule(np.inner, "inner(a, b)", a="inner_grad_a(g, a, b)", b="inner_grad_b(g, a, b)",
     cases=[Case(((3,), (3,))), Case(((2, 3), (3,))), Case(((2, 3), (4, 3)))])
# d inv(A) = -inv(A) dA inv(A)
rule(np.linalg.inv, "inv(a)",
     a="-np.swapaxes(out, -1, -2) @ g @ np.swapaxes(out, -1, -2)",
     cases=[Case(((3, 3),)), Case(((2, 3, 3),))], domain=Domain(-1.0, 1.0))
# d det(A) = det(A) tr(inv(A) dA)
rule(np.linalg.det, "det(a)", a="det_grad(g, a, out)",
     cases=[Case(((3, 3),)), Case(((2, 2, 2),))])
rule(np.linalg.solve, "solve(a, b)", a="solve_grad_a(g, a, out)", b="solve_grad_b(g, a)",
     cases=[Case(((3, 3), (3,))), Case(((3, 3), (3, 2)))])
