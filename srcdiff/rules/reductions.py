"""Reductions: the cotangent of a reduced result is spread back over the input."""

import numpy as np

from .registry import Case, Fixed
from .registry import register_adjoint as rule

_REDUCE_CASES = [
    Case(((3,),)),
    Case(((2, 3),)),
    Case(((2, 3),), {"axis": Fixed(0)}),
    Case(((2, 3, 2),), {"axis": Fixed(-1), "keepdims": Fixed(True)}),
    Case(((2, 3, 2),), {"axis": Fixed((0, 2))}),
]

rule(np.sum, "sum(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="sum_grad(g, a, axis, keepdims)", cases=_REDUCE_CASES)
rule(np.mean, "mean(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="mean_grad(g, a, axis, keepdims)", cases=_REDUCE_CASES)
rule(np.prod, "prod(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="prod_grad(g, a, axis, keepdims)", cases=_REDUCE_CASES)
for _fn in (np.max, np.min, np.amax, np.amin):
    rule(_fn, f"{_fn.__name__}(a, axis=None, _out=None, keepdims=False)",
         a="minmax_grad(g, a, out, axis, keepdims)", cases=_REDUCE_CASES)
rule(np.var, "var(a, axis=None, dtype=None, _out=None, ddof=0, keepdims=False)",
     a="var_grad(g, a, axis, ddof, keepdims)",
     cases=_REDUCE_CASES + [Case(((4, 3),), {"axis": Fixed(0), "ddof": Fixed(1)})])
# d std = d var / (2 std)
rule(np.std, "std(a, axis=None, dtype=None, _out=None, ddof=0, keepdims=False)",
     a="var_grad(g / (2 * out), a, axis, ddof, keepdims)",
     cases=_REDUCE_CASES + [Case(((4, 3),), {"axis": Fixed(0), "ddof": Fixed(1)})])
rule(np.cumsum, "cumsum(a, axis=None, dtype=None)", a="cumsum_grad(g, a, axis)",
     cases=[Case(((4,),)), Case(((2, 3),)), Case(((2, 3),), {"axis": Fixed(1)})])
rule(np.linalg.norm, "norm(x, ord=None, axis=None, keepdims=False)",
     x="norm_grad(g, x, out, ord, axis, keepdims)",
     cases=[
         Case(((4,),)),
         Case(((2, 3),)),
         Case(((2, 3),), {"axis": Fixed(1)}),
         Case(((2, 3),), {"axis": Fixed(0), "keepdims": Fixed(True)}),
         Case(((4,),), {"ord": Fixed(1)}),
         Case(((4,),), {"ord": Fixed(3)}),
         Case(((4,),), {"ord": Fixed(np.inf)}),
     ])
rule(np.trace, "trace(a)", a="g * np.eye(*np.shape(a))",
     cases=[Case(((3, 3),)), Case(((2, 3),))])
