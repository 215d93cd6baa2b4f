"""Reductions: the cotangent of a reduced result is spread back over the input.

A reduction's tangent is written through its adjoint with a cotangent of ones: for
``out = r(a)`` reducing over some axes, ``J t`` is the sum over those axes of
``(J^T 1) * t``, which reuses the adjoint's handling of ties and zeros.
"""

from __future__ import annotations  # (so np.random.Generator annotations do not import numpy.random)

from dataclasses import dataclass

import numpy as np

from .registry import POSITIVE, REAL, Case, Domain, Fixed
from .registry import register_adjoint as rule


@dataclass(frozen=True)
class _Sprinkled(Domain):
    """Samples of ``REAL`` with a quarter of the entries (at least one) set to ``value``:
    zeros for the exact-at-zero rules, NaNs for the NaN-ignoring ones."""

    value: float = 0.0

    def sample(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        x = REAL.sample(rng, shape)
        flat = np.reshape(x, -1)
        flat[rng.choice(flat.size, size=max(1, flat.size // 4), replace=False)] = self.value
        return x


WITH_ZEROS = _Sprinkled(REAL.low, REAL.high, value=0.0)
_WITH_NANS = _Sprinkled(REAL.low, REAL.high, value=np.nan)

_REDUCE_CASES = [
    Case(((3,),)),
    Case(((2, 3),)),
    Case(((2, 3),), {"axis": Fixed(0)}),
    Case(((2, 3, 2),), {"axis": Fixed(-1), "keepdims": Fixed(True)}),
    Case(((2, 3, 2),), {"axis": Fixed((0, 2))}),
]

_THROUGH_ADJOINT = "np.sum({} * t, axis=axis, keepdims=keepdims)"
# How a reduction reduces (its axes, the result's dtype, keeping the reduced axes) carries
# no derivative.  ddof and a norm's ord do move the result smoothly (var / (N - ddof),
# (sum |x|^p)^(1/p)) and have no templates: a differentiated ddof or ord is refused.
_HOW = ("axis", "dtype", "keepdims")

rule(np.sum, "sum(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="sum_grad(g, a, axis, keepdims)", tangents={"a": "np.sum(t, axis=axis, keepdims=keepdims)"},
     nondiff=_HOW, discrete=_HOW,
     cases=_REDUCE_CASES)
rule(np.mean, "mean(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="mean_grad(g, a, axis, keepdims)", tangents={"a": "np.mean(t, axis=axis, keepdims=keepdims)"},
     nondiff=_HOW, discrete=_HOW,
     cases=_REDUCE_CASES)
rule(np.prod, "prod(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="prod_grad(g, a, axis, keepdims)",
     tangents={"a": _THROUGH_ADJOINT.format("prod_grad(np.ones_like(out), a, axis, keepdims)")},
     nondiff=_HOW, discrete=_HOW,
     cases=_REDUCE_CASES)
for _fn in (np.max, np.min, np.amax, np.amin):
    rule(_fn, f"{_fn.__name__}(a, axis=None, _out=None, keepdims=False)",
         a="minmax_grad(g, a, out, axis, keepdims)",
         tangents={"a": _THROUGH_ADJOINT.format("minmax_grad(np.ones_like(out), a, out, axis, keepdims)")},
         nondiff=("axis", "keepdims"), discrete=("axis", "keepdims"), cases=_REDUCE_CASES)
rule(np.var, "var(a, axis=None, dtype=None, _out=None, ddof=0, keepdims=False)",
     a="var_grad(g, a, axis, ddof, keepdims)",
     tangents={"a": _THROUGH_ADJOINT.format("var_grad(np.ones_like(out), a, axis, ddof, keepdims)")},
     nondiff=_HOW, discrete=_HOW,
     cases=_REDUCE_CASES + [Case(((4, 3),), {"axis": Fixed(0), "ddof": Fixed(1)})])
# d std = d var / (2 std).  Where the variance is 0, std (a norm of a - mean) has a kink
# and its cotangent is zero, the subgradient, as for np.linalg.norm at 0 (not 0/0 = NaN).
rule(np.std, "std(a, axis=None, dtype=None, _out=None, ddof=0, keepdims=False)",
     a="var_grad(g / (2 * np.where(out == 0, 1.0, out)), a, axis, ddof, keepdims)",
     tangents={"a": _THROUGH_ADJOINT.format("var_grad(0.5 / out, a, axis, ddof, keepdims)")},
     nondiff=_HOW, discrete=_HOW,
     cases=_REDUCE_CASES + [Case(((4, 3),), {"axis": Fixed(0), "ddof": Fixed(1)})])
rule(np.cumsum, "cumsum(a, axis=None, dtype=None)", a="cumsum_grad(g, a, axis)",
     tangents={"a": "np.cumsum(t, axis=axis)"},
     nondiff=("axis", "dtype"), discrete=("axis", "dtype"),
     cases=[Case(((4,),)), Case(((2, 3),)), Case(((2, 3),), {"axis": Fixed(1)})])
rule(np.linalg.norm, "norm(x, ord=None, axis=None, keepdims=False)",
     x="norm_grad(g, x, out, ord, axis, keepdims)",
     tangents={"x": _THROUGH_ADJOINT.format("norm_grad(np.ones_like(out), x, out, ord, axis, keepdims)")},
     nondiff=("axis", "keepdims"), discrete=("axis", "keepdims"),
     cases=[
         Case(((4,),)),
         Case(((2, 3),)),
         Case(((2, 3),), {"axis": Fixed(1)}),
         Case(((2, 3),), {"axis": Fixed(0), "keepdims": Fixed(True)}),
         Case(((4,),), {"ord": Fixed(1)}),
         Case(((4,),), {"ord": Fixed(3)}),
         Case(((4,),), {"ord": Fixed(np.inf)}),
     ])
rule(np.trace, "trace(a)", a="g * np.eye(np.shape(a)[0], np.shape(a)[1])", tangents={"a": "np.trace(t)"},
     cases=[Case(((3, 3),)), Case(((2, 3),))])
# Exact where entries are zero (no division by them), so the cases sample some zeros.
rule(np.cumprod, "cumprod(a, axis=None, dtype=None)", a="cumprod_grad(g, a, out, axis)",
     tangents={"a": "cumprod_tangent(t, a, axis)"}, domain=WITH_ZEROS,
     nondiff=("axis", "dtype"), discrete=("axis", "dtype"),
     cases=[Case(((4,),)), Case(((8,),)), Case(((2, 3),)), Case(((2, 3),), {"axis": Fixed(1)}),
            Case(((3, 4),), {"axis": Fixed(0)})])
rule(np.diff, "diff(a, n=1, axis=-1, prepend=None, append=None)",
     a="diff_grad(g, a, n, axis, prepend, append, 'a')",
     prepend="diff_grad(g, a, n, axis, prepend, append, 'prepend')",
     append="diff_grad(g, a, n, axis, prepend, append, 'append')",
     tangent="diff_tangent(da, n, axis, None if prepend is None else dprepend, "
             "None if append is None else dappend)",
     nondiff=("n", "axis"), discrete=("n", "axis"),
     cases=[Case(((5,),)), Case(((5,), Fixed(2))), Case(((3, 4),), {"axis": Fixed(0)}),
            Case(((3, 4), Fixed(3), Fixed(1))), Case(((4,),), {"prepend": (), "append": (2,)}),
            Case(((3, 4),), {"axis": Fixed(0), "prepend": (1, 4)}),
            Case(((4,), Fixed(2)), {"prepend": ()})])
for _name in ("trapezoid", "trapz"):  # NumPy 2 renamed trapz, then removed it
    if hasattr(np, _name):  # (bilinear in y and the spacing: x, or dx when x is None)
        rule(getattr(np, _name), f"{_name}(y, x=None, dx=1.0, axis=-1)",
             y="trapezoid_grad(g, y, x, dx, axis, 'y')",
             x="trapezoid_grad(g, y, x, dx, axis, 'x')",
             dx="trapezoid_grad(g, y, x, dx, axis, 'dx')",
             tangents={"y": f"np.{_name}(t, x, dx, axis)", "x": f"np.{_name}(y, t, axis=axis)",
                       "dx": f"np.{_name}(y, None, t, axis) * (x is None)"},
             nondiff=("axis",), discrete=("axis",),
             cases=[Case(((5,),)), Case(((5,), (5,))), Case(((2, 5),), {"dx": ()}),
                    Case(((2, 5), (5,))), Case(((3, 4), (3, 4)), {"axis": Fixed(0)}),
                    Case(((4, 3),), {"axis": Fixed(0), "dx": ()})])
rule(np.average, "average(a, axis=None, weights=None, returned=False, keepdims=False)",
     a="average_grad(g, a, out, axis, weights, returned, keepdims, 'a')",
     weights="average_grad(g, a, out, axis, weights, returned, keepdims, 'weights')",
     tangents={"a": "average_tangent(t, a, out, axis, weights, returned, keepdims, 'a')",
               "weights": "average_tangent(t, a, out, axis, weights, returned, keepdims, 'weights')"},
     domain={"weights": POSITIVE},
     nondiff=("axis", "returned", "keepdims"), discrete=("axis", "returned", "keepdims"),
     cases=[Case(((2, 3),)), Case(((2, 3), Fixed(1))), Case(((2, 3),), {"weights": (2, 3)}),
            Case(((2, 3), Fixed(1), (3,))),
            Case(((2, 3, 2),), {"axis": Fixed(0), "weights": (2,), "keepdims": Fixed(True)}),
            Case(((2, 3, 4),), {"axis": Fixed((2, 0)), "weights": (4, 2)})])
# NaN entries are left out of the result, so they get a zero cotangent.
rule(np.nansum, "nansum(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="np.where(np.isnan(a), 0.0, sum_grad(g, a, axis, keepdims))",
     tangents={"a": "np.sum(np.where(np.isnan(a), 0.0, t), axis=axis, keepdims=keepdims)"},
     domain=_WITH_NANS, nondiff=_HOW, discrete=_HOW, cases=_REDUCE_CASES)
rule(np.nanmean, "nanmean(a, axis=None, dtype=None, _out=None, keepdims=False)",
     a="nanmean_grad(g, a, axis, keepdims)",
     tangents={"a": "np.nanmean(np.where(np.isnan(a), np.nan, t), axis=axis, keepdims=keepdims)"},
     domain=_WITH_NANS,
     nondiff=_HOW, discrete=_HOW,
     cases=_REDUCE_CASES[:3] + [Case(((2, 3, 4),), {"axis": Fixed(-1), "keepdims": Fixed(True)}),
                                Case(((2, 3, 2),), {"axis": Fixed((0, 2))})])
rule(np.median, "median(a, axis=None, _out=None, overwrite_input=False, keepdims=False)",
     a="median_grad(g, a, axis, overwrite_input, keepdims)",
     tangents={"a": _THROUGH_ADJOINT.format("median_grad(np.ones_like(out), a, axis, overwrite_input, "
                                            "keepdims)")},
     nondiff=("axis", "overwrite_input", "keepdims"), discrete=("axis", "overwrite_input", "keepdims"),
     cases=[Case(((5,),)), Case(((4,),)), Case(((3, 4),), {"axis": Fixed(0)}),
            Case(((3, 4),), {"axis": Fixed(1), "keepdims": Fixed(True)}),
            Case(((2, 3, 4),), {"axis": Fixed((0, 2))})])

# bincount(x, weights)[j] sums the weights of the entries of x equal to j: each weight's
# cotangent is its bin's.  x (integers) and minlength only choose the bins.
rule(np.bincount, "bincount(x, weights=None, minlength=0)", weights="g[x]",
     tangents={"weights": "np.bincount(x, weights=t, minlength=minlength)"},
     nondiff=("x", "minlength"), discrete=("x", "minlength"),
     cases=[Case((Fixed(np.array([0, 2, 2, 4])), (4,))),
            Case((Fixed(np.array([1, 1, 0])), (3,)), {"minlength": Fixed(5)})])
