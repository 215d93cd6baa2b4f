"""Rules of the runtime helpers (``srcdiff.runtime``) that generated code calls, so a
derivative can be differentiated again (grad of grad, forward over reverse).

Most helpers are linear in the cotangent they spread back (``v`` below): their adjoint
is the primal operation itself, and their tangent is the helper applied to the tangent.
Where a helper also reads primal values that carry derivatives (``det_grad`` reads the
matrix and its determinant, ``cholesky_grad`` the factor), those parameters get rules
too: the second derivatives of the primitive.  A parameter a helper reads only for its
shape, or through a locally constant choice (a mask of ties, a sort order, the side of a
bound), gets none and is declared ``nondiff``.  A differentiated value reaching any other
parameter without a template is refused (``var_grad``'s ``ddof`` and ``norm_grad``'s
``ord``, as in the rules of ``np.var`` and ``np.linalg.norm``); a helper whose second
derivative is not written, like ``interp_grad``, has no rule at all, so differentiating
through it stops with a "no derivative rule" error instead of giving a wrong value.
Some of the helpers the rules below call have rules in turn (``prod_pairs``,
``norm_grad_coef``, ``rhs_matmul``, ...), so derivatives of every order work through
them; the others (``cholesky_grad_tangent``, ...) stop third derivatives with that same
error.

A helper's own parameter called ``g`` (or ``out``) is spelled ``v`` (or ``res``, ``x``,
``d``, ``low``) in its rule, since ``g``, ``t`` and ``out`` are the templates'
placeholders.
"""

from __future__ import annotations  # (so np.random.Generator annotations do not import numpy.random)

import numpy as np

from .. import runtime as rt
from .linalg import WellConditioned
from .reductions import WITH_ZEROS
from .registry import POSITIVE, Case, Domain, Fixed, nondifferentiable
from .registry import register_adjoint as rule


class _Ascending(Domain):
    """Increasing along the last axis, in steps of at least 0.3: distinct eigenvalues."""

    def sample(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return self.low + np.cumsum(rng.uniform(0.3, 1.0, size=shape), axis=-1)


def _ones(*shape: int) -> Fixed:
    return Fixed(np.ones(shape))


def _values(*shape: int) -> Fixed:
    """Fixed distinct values (no ties) in a scrambled order, for helpers that read an order
    or a median.  (Scrambled by sorting sin(0), sin(1), ..., which are distinct, rather than
    by np.random: importing srcdiff does not import numpy.random.)"""
    order = np.argsort(np.sin(np.arange(np.prod(shape, dtype=int))))
    return Fixed(np.reshape(order, shape) * 0.5 - 1.0)


_WELL = WellConditioned(-1.0, 1.0)


class _RankDeficient(Domain):
    """Square matrices uniform in [low, high] with the last column replaced by a mix of
    the others: rank n - 1, singular.  In a stack, the matrices after the first are
    singular and the first is not, so one case covers both.  (1 x 1: uniform.)"""

    def sample(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        r = rng.uniform(self.low, self.high, size=shape)
        if shape[-1] > 1:
            mixed = r[..., :-1] @ rng.uniform(self.low, self.high, size=shape[-1] - 1)
            singular = np.arange(int(np.prod(shape[:-2], dtype=int))).reshape(shape[:-2]) > 0 \
                if len(shape) > 2 else True
            r[..., -1] = np.where(np.expand_dims(singular, -1), mixed, r[..., -1])
        return r


_RANK_DEFICIENT = _RankDeficient(-1.0, 1.0)
_TRAPEZOID = "np.trapezoid" if hasattr(np, "trapezoid") else "np.trapz"

nondifferentiable(rt.seed, signature="seed(out, where, holomorphic=False)", discrete=("where", "holomorphic"),
                  cases=[Case(((), Fixed("f"))), Case(((1,), Fixed("f")))])
nondifferentiable(rt.zeros_like_value, rt.zeros_like_tree, signature="f(x)")

# ---- identity-like and broadcasting ---------------------------------------------------------

rule(rt.distinct, "distinct(results)", results="g", seq=("results",),
     tangents={"results": "t"}, cases=[Case(([(3,), (3,)],))])

# unbroadcast sums over broadcast axes; its adjoint broadcasts back (unbroadcast to the
# other shape does exactly that), and it is linear.
rule(rt.unbroadcast, "unbroadcast(v, x)", v="unbroadcast(g, v)", tangents={"v": "unbroadcast(t, x)"},
     nondiff=("x",),
     cases=[Case(((2, 3), _ones(3))), Case(((3,), Fixed(2.0)))])

# power_term(c, x, e) = c x^e (0 where c == 0): in c, x^e; in x, power_term(c e, x, e - 1);
# in e (for x > 0), c x^e log x.
rule(rt.power_term, "power_term(c, x, e)",
     c="unbroadcast(g * power_term(1.0, x, e), c)",
     x="unbroadcast(g * power_term(c * e, x, e - 1), x)",
     e="unbroadcast(g * np.where(x > 0, power_term(c, x, e) * np.log(np.where(x > 0, x, 1.0)), 0.0), e)",
     tangents={"c": "t * power_term(1.0, x, e)", "x": "t * power_term(c * e, x, e - 1)",
               "e": "t * np.where(x > 0, power_term(c, x, e) * np.log(np.where(x > 0, x, 1.0)), 0.0)"},
     domain={"x": POSITIVE}, cases=[Case(((3,), (3,), (3,))), Case(((2, 3), (3,), ()))])
nondifferentiable(rt.literal, signature="literal(value)")

# ---- reductions ------------------------------------------------------------------------------

rule(rt.sum_grad, "sum_grad(v, a, axis=None, keepdims=False)",
     v="np.sum(g, axis=axis, keepdims=keepdims)", tangents={"v": "sum_grad(t, a, axis, keepdims)"},
     nondiff=("a", "axis", "keepdims"), discrete=("axis", "keepdims"),
     cases=[Case(((), _ones(2, 3))), Case(((2,), _ones(2, 3), Fixed(1)))])
rule(rt.mean_grad, "mean_grad(v, a, axis=None, keepdims=False)",
     v="np.mean(g, axis=axis, keepdims=keepdims)", tangents={"v": "mean_grad(t, a, axis, keepdims)"},
     nondiff=("a", "axis", "keepdims"), discrete=("axis", "keepdims"),
     cases=[Case(((), _ones(2, 3))), Case(((3,), _ones(2, 3), Fixed(0)))])
# a and out (the extreme of a) choose the tied entries: locally constant together, and
# discrete, as the test cannot move one without the other.
rule(rt.minmax_grad, "minmax_grad(v, a, out, axis=None, keepdims=False)",
     v="np.sum(g * minmax_grad(np.ones_like(v), a, out, axis, keepdims), axis=axis, keepdims=keepdims)",
     tangents={"v": "minmax_grad(t, a, out, axis, keepdims)"},
     nondiff=("a", "out", "axis", "keepdims"), discrete=("a", "out", "axis", "keepdims"),
     cases=[Case(((), Fixed(np.array([1.0, 3.0, 2.0])), Fixed(3.0)))])
# prod_grad(v, a) = v * (product of the other entries): bilinear in v and that product,
# whose derivative is the Hessian of np.prod (prod_pairs, exact with zeros; symmetric).
rule(rt.prod_grad, "prod_grad(v, a, axis=None, keepdims=False)",
     v="np.sum(g * prod_grad(np.ones_like(v), a, axis, keepdims), axis=axis, keepdims=keepdims)",
     a="prod_pairs(g * sum_grad(v, a, axis, keepdims), a, axis)",
     tangents={"v": "prod_grad(t, a, axis, keepdims)",
               "a": "sum_grad(v, a, axis, keepdims) * prod_pairs(t, a, axis)"},
     domain={"a": WITH_ZEROS},
     nondiff=("axis", "keepdims"), discrete=("axis", "keepdims"),
     cases=[Case(((), (4,))), Case(((2,), (2, 3), Fixed(1))), Case(((), (2, 3))),
            Case(((2, 1, 2), (2, 3, 2), Fixed(1), Fixed(True))),
            Case(((3,), (2, 3, 2)), {"axis": Fixed((0, 2))})])
rule(rt.prod_pairs, "prod_pairs(w, a, axis=None)",
     w="prod_pairs(g, a, axis)", a="prod_triples(w, g, a, axis)",
     tangents={"w": "prod_pairs(t, a, axis)", "a": "prod_triples(w, t, a, axis)"},
     domain={"a": WITH_ZEROS},
     nondiff=("axis",), discrete=("axis",),
     cases=[Case(((4,), (4,))), Case(((2, 3), (2, 3), Fixed(1))),
            Case(((2, 3, 2), (2, 3, 2), Fixed((0, 2))))])
# var_grad(v, a) = v * 2 (a - mean a) / (N - ddof): bilinear, and centring is symmetric.
rule(rt.var_grad, "var_grad(v, a, axis=None, ddof=0, keepdims=False)",
     v="np.sum(g * var_grad(np.ones_like(v), a, axis, ddof, keepdims), axis=axis, keepdims=keepdims)",
     a="var_grad(np.ones_like(v), g * sum_grad(v, a, axis, keepdims), axis, ddof, keepdims)",
     tangents={"v": "var_grad(t, a, axis, ddof, keepdims)", "a": "var_grad(v, t, axis, ddof, keepdims)"},
     nondiff=("axis", "keepdims"), discrete=("axis", "keepdims"),
     cases=[Case(((), (4,))), Case(((2,), (2, 3), Fixed(1))), Case(((3,), (4, 3), Fixed(0), Fixed(1))),
            Case(((2, 1, 2), (2, 3, 2), Fixed(1), Fixed(0), Fixed(True))),
            Case(((3,), (2, 3, 2)), {"axis": Fixed((0, 2))})])
rule(rt.cumsum_grad, "cumsum_grad(v, a, axis=None)",
     v="np.cumsum(np.ravel(g)) if axis is None else np.cumsum(g, axis=axis)",
     tangents={"v": "cumsum_grad(t, a, axis)"},
     nondiff=("a", "axis"), discrete=("axis",),
     cases=[Case(((4,), _ones(4))), Case(((2, 3), _ones(2, 3), Fixed(1)))])
# cumprod_grad reads res = np.cumprod(a, axis) only to save recomputing it (None recomputes
# it): its derivative is taken through a, exactly (cumprod_hvp is the Hessian, symmetric),
# and res is nondiff (and discrete: the test cannot move it apart from a).
rule(rt.cumprod_grad, "cumprod_grad(v, a, res=None, axis=None)",
     v="cumprod_tangent(g, a, axis)", a="cumprod_hvp(v, a, g, axis)",
     tangents={"v": "cumprod_grad(t, a, res, axis)", "a": "cumprod_hvp(v, a, t, axis)"},
     domain={"a": WITH_ZEROS},
     doc="res must be np.cumprod(a, axis) or None; its derivative is taken through a",
     nondiff=("res", "axis"), discrete=("res", "axis"),
     cases=[Case(((4,), (4,))), Case(((6,), (2, 3))), Case(((8,), (8,))),
            Case(((2, 3), (2, 3), Fixed(None), Fixed(1))), Case(((3, 4), (3, 4)), {"axis": Fixed(0)})])
rule(rt.nanmean_grad, "nanmean_grad(v, a, axis=None, keepdims=False)",
     v="np.nanmean(np.where(np.isnan(a), np.nan, g), axis=axis, keepdims=keepdims)",
     tangents={"v": "nanmean_grad(t, a, axis, keepdims)"},
     nondiff=("a", "axis", "keepdims"), discrete=("axis", "keepdims"),
     cases=[Case(((), Fixed(np.array([[1.0, np.nan, 2.0], [0.5, 3.0, np.nan]])))),
            Case(((2,), Fixed(np.array([[1.0, np.nan, 2.0], [0.5, 3.0, np.nan]])), Fixed(1))),
            Case(((1, 3), Fixed(np.array([[1.0, np.nan, 2.0], [0.5, 3.0, 1.0]])), Fixed(0), Fixed(True)))])
rule(rt.median_grad, "median_grad(v, a, axis=None, overwrite_input=False, keepdims=False)",
     v="np.sum(g * median_grad(np.ones_like(v), a, axis, overwrite_input, keepdims), axis=axis, "
       "keepdims=keepdims)",
     tangents={"v": "median_grad(t, a, axis, overwrite_input, keepdims)"},
     nondiff=("a", "axis", "overwrite_input", "keepdims"), discrete=("axis", "overwrite_input", "keepdims"),
     cases=[Case(((), _values(5))), Case(((4,), _values(3, 4), Fixed(0))),
            Case(((3, 1), _values(3, 4)), {"axis": Fixed(1), "keepdims": Fixed(True)})])
# norm_grad(v, x, n) = v sign(x) |x|^(p-1) / n^(p-1): linear in v; norm_grad_coef gives its
# derivatives of any order in x (a diagonal) and in the norm n, each with the same rule.
_NORM_CASES = [Case(((), (4,), ())), Case(((), (2, 3), ())),
               Case(((2,), (2, 3), (2,), Fixed(None), Fixed(1))),
               Case(((1, 3), (2, 3), (1, 3)), {"axis": Fixed(0), "keepdims": Fixed(True)}),
               Case(((), (4,), (), Fixed(3))), Case(((), (4,), (), Fixed(1)))]
rule(rt.norm_grad, "norm_grad(v, x, n, ord=None, axis=None, keepdims=False)",
     v="np.sum(g * norm_grad(np.ones_like(v), x, n, ord, axis, keepdims), axis=axis, keepdims=keepdims)",
     x="norm_grad_coef(v, x, n, ord, axis, keepdims, 1, 0) * g",
     n="np.sum(norm_grad_coef(v, x, n, ord, axis, keepdims, 0, 1) * g, axis=axis, keepdims=keepdims)",
     tangents={"v": "norm_grad(t, x, n, ord, axis, keepdims)",
               "x": "norm_grad_coef(v, x, n, ord, axis, keepdims, 1, 0) * t",
               "n": "norm_grad_coef(v, x, n, ord, axis, keepdims, 0, 1) * sum_grad(t, x, axis, keepdims)"},
     domain={"n": POSITIVE},
     nondiff=("axis", "keepdims"), discrete=("axis", "keepdims"),
     cases=_NORM_CASES + [Case(((), Fixed(np.array([1.0, -3.0, 2.0])), Fixed(3.0), Fixed(np.inf)))])
rule(rt.norm_grad_coef, "norm_grad_coef(v, x, n, ord=None, axis=None, keepdims=False, i=1, j=0)",
     v="np.sum(g * norm_grad_coef(np.ones_like(v), x, n, ord, axis, keepdims, i, j), axis=axis, "
       "keepdims=keepdims)",
     x="norm_grad_coef(v, x, n, ord, axis, keepdims, i + 1, j) * g",
     n="np.sum(norm_grad_coef(v, x, n, ord, axis, keepdims, i, j + 1) * g, axis=axis, keepdims=keepdims)",
     tangents={"v": "norm_grad_coef(t, x, n, ord, axis, keepdims, i, j)",
               "x": "norm_grad_coef(v, x, n, ord, axis, keepdims, i + 1, j) * t",
               "n": "norm_grad_coef(v, x, n, ord, axis, keepdims, i, j + 1) "
                    "* sum_grad(t, x, axis, keepdims)"},
     domain={"x": Domain(0.5, 2.0, signed=True), "n": POSITIVE},
     nondiff=("axis", "keepdims", "i", "j"), discrete=("axis", "keepdims", "i", "j"),
     cases=_NORM_CASES + [Case(((), (4,), (), Fixed(3), Fixed(None), Fixed(False), Fixed(2), Fixed(1))),
                          Case(((), (4,), (), Fixed(2.5), Fixed(None), Fixed(False), Fixed(0), Fixed(2)))])

# ---- products --------------------------------------------------------------------------------

# matmul_grad_a(v, a, b) = v b^T is the adjoint of (da -> da @ b): bilinear in v and b.
rule(rt.matmul_grad_a, "matmul_grad_a(v, a, b)",
     v="g @ b", b="matmul_grad_b(v, g, b)",
     tangents={"v": "matmul_grad_a(t, a, b)", "b": "matmul_grad_a(v, a, t)"},
     nondiff=("a",),
     cases=[Case(((2, 4), _ones(2, 3), (3, 4))), Case(((4,), _ones(3), (3, 4)))])
rule(rt.matmul_grad_b, "matmul_grad_b(v, a, b)",
     v="a @ g", a="matmul_grad_a(v, a, g)",
     tangents={"v": "matmul_grad_b(t, a, b)", "a": "matmul_grad_b(v, t, b)"},
     nondiff=("b",),
     cases=[Case(((2, 4), (2, 3), _ones(3, 4))), Case(((4,), (3,), _ones(3, 4)))])
rule(rt.dot_grad_a, "dot_grad_a(v, a, b)", v="np.dot(g, b)", b="dot_grad_b(v, g, b)",
     tangents={"v": "dot_grad_a(t, a, b)", "b": "dot_grad_a(v, a, t)"},
     nondiff=("a",),
     cases=[Case(((2, 4), _ones(2, 3), (3, 4))), Case(((), _ones(3), (3,))), Case(((3,), Fixed(2.0), (3,))),
            Case(((2, 2, 4), _ones(2, 3), (2, 3, 4))), Case(((2, 3), _ones(2, 3), ()))])
rule(rt.dot_grad_b, "dot_grad_b(v, a, b)", v="np.dot(a, g)", a="dot_grad_a(v, a, g)",
     tangents={"v": "dot_grad_b(t, a, b)", "a": "dot_grad_b(v, t, b)"},
     nondiff=("b",),
     cases=[Case(((2, 4), (2, 3), _ones(3, 4))), Case(((), (3,), _ones(3))), Case(((3,), (3,), Fixed(2.0))),
            Case(((2, 2, 4), (2, 3), _ones(2, 3, 4))), Case(((2, 3), (), _ones(2, 3)))])
rule(rt.inner_grad_a, "inner_grad_a(v, a, b)", v="np.inner(g, b)", b="inner_grad_b(v, g, b)",
     tangents={"v": "inner_grad_a(t, a, b)", "b": "inner_grad_a(v, a, t)"},
     nondiff=("a",),
     cases=[Case(((), _ones(3), (3,))), Case(((2,), _ones(2, 3), (3,))), Case(((2, 4), _ones(2, 3), (4, 3))),
            Case(((3,), Fixed(2.0), (3,)))])
rule(rt.inner_grad_b, "inner_grad_b(v, a, b)", v="np.inner(a, g)", a="inner_grad_a(v, a, g)",
     tangents={"v": "inner_grad_b(t, a, b)", "a": "inner_grad_b(v, t, b)"},
     nondiff=("b",),
     cases=[Case(((), (3,), _ones(3))), Case(((2,), (2, 3), _ones(3))), Case(((2, 4), (2, 3), _ones(4, 3))),
            Case(((3,), (3,), Fixed(2.0)))])
rule(rt.tensordot_grad_a, "tensordot_grad_a(v, a, b, axes=2)",
     v="np.tensordot(g, b, axes)", b="tensordot_grad_b(v, g, b, axes)",
     tangents={"v": "tensordot_grad_a(t, a, b, axes)", "b": "tensordot_grad_a(v, a, t, axes)"},
     nondiff=("a", "axes"), discrete=("axes",),
     cases=[Case(((2, 2), _ones(2, 3, 4), (3, 4, 2))), Case(((2, 4), _ones(2, 3), (3, 4), Fixed(1))),
            Case(((2, 3, 4), _ones(2, 3), (4,), Fixed(0))),
            Case(((2, 2), _ones(2, 3, 4), (4, 2, 3), Fixed(([1, 2], [2, 0]))))])
rule(rt.tensordot_grad_b, "tensordot_grad_b(v, a, b, axes=2)",
     v="np.tensordot(a, g, axes)", a="tensordot_grad_a(v, a, g, axes)",
     tangents={"v": "tensordot_grad_b(t, a, b, axes)", "a": "tensordot_grad_b(v, t, b, axes)"},
     nondiff=("b", "axes"), discrete=("axes",),
     cases=[Case(((2, 2), (2, 3, 4), _ones(3, 4, 2))), Case(((2, 4), (2, 3), _ones(3, 4), Fixed(1))),
            Case(((2, 3, 4), (2, 3), _ones(4), Fixed(0))),
            Case(((2, 2), (2, 3, 4), _ones(4, 2, 3), Fixed(([1, 2], [2, 0]))))])
rule(rt.kron_grad_a, "kron_grad_a(v, a, b)", v="np.kron(g, b)", b="kron_grad_b(v, g, b)",
     tangents={"v": "kron_grad_a(t, a, b)", "b": "kron_grad_a(v, a, t)"},
     nondiff=("a",),
     cases=[Case(((6,), _ones(2), (3,))), Case(((4, 6), _ones(2, 3), (2, 2))),
            Case(((2, 6), _ones(3), (2, 2)))])
rule(rt.kron_grad_b, "kron_grad_b(v, a, b)", v="np.kron(a, g)", a="kron_grad_a(v, a, g)",
     tangents={"v": "kron_grad_b(t, a, b)", "a": "kron_grad_b(v, t, b)"},
     nondiff=("b",),
     cases=[Case(((6,), (2,), _ones(3))), Case(((4, 6), (2, 3), _ones(2, 2))),
            Case(((2, 6), (3,), _ones(2, 2)))])
# cross_grad(v, x, other) is the adjoint of (dx -> cross(dx, other)), linear in other.
rule(rt.cross_grad, "cross_grad(v, x, other, axisx=-1, axisother=-1, axisc=-1, axis=None)",
     v="np.cross(g, other, axisx, axisother, axisc, axis)",
     other="-cross_grad(v, other, g, axisother, axisx, axisc, axis)",
     tangents={"v": "cross_grad(t, x, other, axisx, axisother, axisc, axis)",
               "other": "cross_grad(v, x, t, axisx, axisother, axisc, axis)"},
     nondiff=("x", "axisx", "axisother", "axisc", "axis"), discrete=("axisx", "axisother", "axisc", "axis"),
     cases=[Case(((3,), _ones(3), (3,))), Case(((4, 3), _ones(4, 3), (4, 3))),
            Case(((2, 3), _ones(2, 3), (3,))),
            Case(((3, 2), _ones(3, 2), (3, 2)), {"axis": Fixed(0)})])
rule(rt.convolve_grad, "convolve_grad(v, a, w, mode='full')",
     v="np.convolve(g, w, mode)", w="convolve_grad(v, w, g, mode)",
     tangents={"v": "convolve_grad(t, a, w, mode)", "w": "convolve_grad(v, a, t, mode)"},
     nondiff=("a", "mode"), discrete=("mode",),
     cases=[Case(((7,), _ones(5), (3,))), Case(((5,), _ones(5), (3,), Fixed("same"))),
            Case(((3,), _ones(5), (3,), Fixed("valid"))), Case(((5,), _ones(3), (5,), Fixed("same"))),
            Case(((4,), _ones(2), (5,), Fixed("valid")))])
# einsum_grad is linear in v and in each operand but operand i (whose shape alone it reads).
rule(rt.einsum_grad, "einsum_grad(v, subscripts, operands, i)",
     v="einsum_grad_adjoint(g, v, subscripts, operands, i, 'g')",
     subscripts="einsum_grad_adjoint(g, v, subscripts, operands, i, 'subscripts')",
     operands="einsum_grad_adjoint(g, v, subscripts, operands, i, 'operands')",
     tangents={"v": "einsum_grad(t, subscripts, operands, i)",
               "subscripts": "einsum_grad_tangent(v, subscripts, operands, i, t, None)",
               "operands": "einsum_grad_tangent(v, subscripts, operands, i, None, t)"},
     seq=("operands",), sparse=True,
     nondiff=("i",), discrete=("i",),
     cases=[Case(((2, 4), Fixed("ij,jk->ik"), [(2, 3), (3, 4), Fixed(None)], Fixed(0))),
            Case(((2, 4), Fixed("ij,jk->ik"), [(2, 3), (3, 4), Fixed(None)], Fixed(1))),
            Case(((2, 2), Fixed("ij,jk,kl->il"), [(2, 3), (3, 2), (2, 2)], Fixed(1))),
            Case(((3,), Fixed("ii->i"), [(3, 3), Fixed(None), Fixed(None)], Fixed(0))),
            Case(((2, 4), Fixed("...i,...i->..."), [(2, 1, 3), (4, 3), Fixed(None)], Fixed(0))),
            Case(((2, 4), (2, 3), [Fixed([0, 1]), (3, 4), Fixed([1, 2])], Fixed(0))),
            Case(((2, 4), (2, 3), [Fixed([0, 1]), (3, 4), Fixed([1, 2])], Fixed(1)))])

# ---- linear algebra --------------------------------------------------------------------------

# det_grad(v, a) = v cof(a) is linear in v; its derivative in a is v times the Hessian of
# det (det_grad_tangent), symmetric, so that is its adjoint as well.  Sampled at singular
# matrices as well as at invertible ones.
rule(rt.det_grad, "det_grad(v, a)",
     v="np.sum(g * det_grad(np.ones_like(v), a), axis=(-2, -1))", a="det_grad_tangent(v, a, g)",
     tangents={"v": "det_grad(t, a)", "a": "det_grad_tangent(v, a, t)"},
     domain={"a": _RANK_DEFICIENT},
     cases=[Case(((), (3, 3))), Case(((2,), (2, 3, 3))), Case(((), (4, 4))), Case(((), (1, 1))),
            Case(((), (2, 2)))])
rule(rt.slogdet_grad, "slogdet_grad(v, a)",
     v="(None, np.sum(g * np.swapaxes(np.linalg.inv(a), -1, -2), axis=(-2, -1)))",
     a="-np.swapaxes(np.linalg.inv(a), -1, -2) @ np.swapaxes(g, -1, -2) @ slogdet_grad(v, a)",
     tangents={"v": "slogdet_grad(t, a)",
               "a": "-slogdet_grad(v, a) @ np.swapaxes(np.linalg.solve(a, t), -1, -2)"},
     seq=("v",), sparse=True, domain={"a": _WELL},
     cases=[Case(([Fixed(None), ()], (3, 3))), Case(([(2,), (2,)], (2, 3, 3)))])
# solve_grad_b(v, a) = solve(A^T, v) =: K and solve_grad_a(v, a, x) = -K x^T (summed back
# over broadcasting).  dK = -solve(A^T, dA^T K); rhs_matmul/rhs_outer multiply stacks of
# right-hand-side vectors as well as of matrices, and solve_grad_b(y, A^T) solves A z = y.
rule(rt.solve_grad_b, "solve_grad_b(v, a, b=None)",
     v="solve_grad_b(np.broadcast_to(g, np.shape(v)), np.swapaxes(a, -1, -2))",
     a="solve_grad_a(v, a, solve_grad_b(np.broadcast_to(g, np.shape(v)), np.swapaxes(a, -1, -2)))",
     tangents={"v": "solve_grad_b(t, a, b)",
               "a": "-solve_grad_b(rhs_matmul(np.swapaxes(t, -1, -2), solve_grad_b(v, a), a), a, b)"},
     domain={"a": _WELL},
     nondiff=("b",),
     cases=[Case(((3,), (3, 3), _ones(3))), Case(((3, 2), (3, 3), _ones(3, 2))),
            Case(((2, 3), (2, 3, 3), _ones(3))),
            Case(((2, 3, 2), (3, 3), _ones(2, 3, 2))), Case(((2, 3), (2, 3, 3)))])
rule(rt.solve_grad_a, "solve_grad_a(v, a, x)",
     v="-solve_grad_b(rhs_matmul(g, x, a), np.swapaxes(a, -1, -2))",
     a="-solve_grad_a(v, a, solve_grad_b(rhs_matmul(g, x, a), np.swapaxes(a, -1, -2)))",
     x="-rhs_matmul(np.swapaxes(g, -1, -2), solve_grad_b(v, a), a)",
     tangents={"v": "solve_grad_a(t, a, x)", "x": "solve_grad_a(v, a, t)",
               "a": "-solve_grad_a(rhs_matmul(np.swapaxes(t, -1, -2), solve_grad_b(v, a), a), a, x)"},
     domain={"a": _WELL},
     cases=[Case(((3,), (3, 3), (3,))), Case(((3, 2), (3, 3), (3, 2))), Case(((2, 3), (2, 3, 3), (2, 3))),
            Case(((2, 3, 2), (3, 3), (2, 3, 2)))])
rule(rt.rhs_matmul, "rhs_matmul(m, x, a)",
     m="unbroadcast(rhs_outer(g, x, a), m)", x="unbroadcast(rhs_matmul(np.swapaxes(m, -1, -2), g, a), x)",
     tangents={"m": "rhs_matmul(t, x, a)", "x": "rhs_matmul(m, t, a)"},
     nondiff=("a",),
     cases=[Case(((3, 3), (3,), _ones(3, 3))), Case(((3, 3), (3, 2), _ones(3, 3))),
            Case(((2, 3, 3), (2, 3), _ones(2, 3, 3))), Case(((3, 3), (2, 3, 2), _ones(3, 3)))])
rule(rt.rhs_outer, "rhs_outer(h, x, a)",
     h="unbroadcast(rhs_matmul(g, x, a), h)", x="unbroadcast(rhs_matmul(np.swapaxes(g, -1, -2), h, a), x)",
     tangents={"h": "rhs_outer(t, x, a)", "x": "rhs_outer(h, t, a)"},
     nondiff=("a",),
     cases=[Case(((3,), (3,), _ones(3, 3))), Case(((3, 2), (3, 2), _ones(3, 3))),
            Case(((2, 3), (2, 3), _ones(2, 3, 3)))])
# The factor passed to cholesky_grad and the eigen-decomposition passed to eigh_grad are
# sampled as general matrices: the formulas hold for any (the factor need not be
# triangular, the eigenvectors need not be orthogonal), so the tests cover more.
rule(rt.cholesky_grad, "cholesky_grad(v, low, upper=False)",
     v="cholesky_grad_adjoint(g, v, low, upper, 'g')", low="cholesky_grad_adjoint(g, v, low, upper, 'out')",
     tangents={"v": "cholesky_grad(t, low, upper)", "low": "cholesky_grad_tangent(t, v, low, upper)"},
     domain={"low": _WELL},
     nondiff=("upper",), discrete=("upper",),
     cases=[Case(((3, 3), (3, 3))), Case(((2, 3, 3), (2, 3, 3))), Case(((3, 3), (3, 3), Fixed(True)))])
rule(rt.eigh_grad, "eigh_grad(v, res, UPLO='L')",
     v="eigh_grad_adjoint(g, v, res, UPLO, 'g')", res="eigh_grad_adjoint(g, v, res, UPLO, 'out')",
     tangents={"v": "eigh_grad(t, res, UPLO)", "res": "eigh_grad_tangent(t, v, res, UPLO)"},
     seq=("v", "res"), domain={"res": _Ascending(-2.0, -2.0)},
     nondiff=("UPLO",), discrete=("UPLO",),
     cases=[Case(([(3,), (3, 3)], [(3,), (3, 3)])), Case(([Fixed(None), (3, 3)], [(3,), (3, 3)], Fixed("U"))),
            Case(([(3,), Fixed(None)], [(3,), (3, 3)])), Case(([(2, 3), (2, 3, 3)], [(2, 3), (2, 3, 3)]))])
rule(rt.pinv_grad, "pinv_grad(v, a, x, hermitian=False)",
     v="pinv_grad_adjoint(g, v, a, x, hermitian, 'g')", a="pinv_grad_adjoint(g, v, a, x, hermitian, 'a')",
     x="pinv_grad_adjoint(g, v, a, x, hermitian, 'out')",
     tangents={"v": "pinv_grad(t, a, x, hermitian)", "a": "pinv_grad_tangent(t, v, a, x, hermitian, 'a')",
               "x": "pinv_grad_tangent(t, v, a, x, hermitian, 'out')"},
     nondiff=("hermitian",), discrete=("hermitian",),
     cases=[Case(((3, 4), (4, 3), (3, 4))), Case(((2, 3, 2), (2, 2, 3), (2, 3, 2))),
            Case(((3, 3), (3, 3), (3, 3), Fixed(True)))])

# ---- moving entries around -------------------------------------------------------------------

rule(rt.getitem_grad, "getitem_grad(v, x, index)", v="g[index]",
     tangents={"v": "getitem_grad(t, x, index)"}, tree_out=True,
     nondiff=("x", "index"), discrete=("index",),
     cases=[Case(((), _ones(4), Fixed(2))), Case(((2,), _ones(4), Fixed(np.array([1, 1]))))])
rule(rt.take_grad, "take_grad(v, a, indices, axis=None)", v="np.take(g, indices, axis=axis)",
     tangents={"v": "take_grad(t, a, indices, axis)"},
     nondiff=("a", "indices", "axis"), discrete=("indices", "axis"),
     cases=[Case(((3,), _ones(5), Fixed(np.array([0, 3, 3])))),
            Case(((3, 3), _ones(3, 4), Fixed(np.array([1, 1, 0])), Fixed(1)))])
rule(rt.clip_grad, "clip_grad(v, a, a_min, a_max)", v="clip_grad(g, a, a_min, a_max)",
     tangents={"v": "clip_grad(t, a, a_min, a_max)"},
     nondiff=("a", "a_min", "a_max"),
     cases=[Case(((4,), Fixed(np.array([-2.0, 0.0, 0.5, 3.0])), Fixed(-1.0), Fixed(1.0)))])
rule(rt.diag_grad, "diag_grad(v, x, k=0)", v="np.diag(g, k)", tangents={"v": "diag_grad(t, x, k)"},
     nondiff=("x", "k"), discrete=("k",),
     cases=[Case(((3, 3), _ones(3))), Case(((3,), _ones(3, 3))), Case(((4, 4), _ones(3), Fixed(1))),
            Case(((3,), _ones(3, 4), Fixed(1)))])
rule(rt.diagonal_grad, "diagonal_grad(v, a, offset=0, axis1=0, axis2=1)",
     v="np.diagonal(g, offset, axis1, axis2)", tangents={"v": "diagonal_grad(t, a, offset, axis1, axis2)"},
     nondiff=("a", "offset", "axis1", "axis2"), discrete=("offset", "axis1", "axis2"),
     cases=[Case(((3,), _ones(3, 3))), Case(((3,), _ones(3, 4), Fixed(1))),
            Case(((2, 3), _ones(2, 3, 4)), {"axis1": Fixed(1), "axis2": Fixed(2)})])
# The order (or the median's place) is locally constant: only the cotangent moves.
rule(rt.sort_grad, "sort_grad(v, a, axis=-1)", v="sort_tangent(g, a, axis)",
     tangents={"v": "sort_grad(t, a, axis)"},
     nondiff=("a", "axis"), discrete=("axis",),
     cases=[Case(((5,), _values(5))), Case(((3, 4), _values(3, 4), Fixed(0))),
            Case(((6,), _values(2, 3), Fixed(None)))])
rule(rt.sort_tangent, "sort_tangent(v, a, axis=-1)", v="sort_grad(g, a, axis)",
     tangents={"v": "sort_tangent(t, a, axis)"},
     nondiff=("a", "axis"), discrete=("axis",),
     cases=[Case(((5,), _values(5))), Case(((3, 4), _values(3, 4), Fixed(0))),
            Case(((2, 3), _values(2, 3), Fixed(None)))])
rule(rt.tile_grad, "tile_grad(v, A, reps)", v="np.tile(g, reps)", tangents={"v": "tile_grad(t, A, reps)"},
     nondiff=("A", "reps"), discrete=("reps",),
     cases=[Case(((6,), _ones(3), Fixed(2))), Case(((4, 3), _ones(2, 3), Fixed((2, 1)))),
            Case(((2, 6), _ones(3), Fixed((2, 2)))), Case(((3,), Fixed(1.0), Fixed(3)))])
rule(rt.repeat_grad, "repeat_grad(v, a, repeats, axis=None)", v="np.repeat(g, repeats, axis)",
     tangents={"v": "repeat_grad(t, a, repeats, axis)"},
     nondiff=("a", "repeats", "axis"), discrete=("repeats", "axis"),
     cases=[Case(((6,), _ones(3), Fixed(2))), Case(((2, 6), _ones(2, 3), Fixed(2), Fixed(1))),
            Case(((5,), _ones(3), Fixed([2, 0, 3])))])
rule(rt.pad_grad, "pad_grad(v, array, pad_width, mode='constant')", v="np.pad(g, pad_width, mode)",
     tangents={"v": "pad_grad(t, array, pad_width, mode)"},
     nondiff=("array", "pad_width", "mode"), discrete=("pad_width", "mode"),
     cases=[Case(((7,), _ones(3), Fixed(2))), Case(((3, 6), _ones(2, 3), Fixed(((1, 0), (2, 1)))))])
rule(rt.pad_grad_value, "pad_grad_value(v, array, pad_width, mode, constant_values)",
     v="np.pad(np.zeros_like(array, dtype=float), pad_width, mode, constant_values=g)",
     tangents={"v": "pad_grad_value(t, array, pad_width, mode, constant_values)"},
     nondiff=("array", "pad_width", "mode", "constant_values"), discrete=("pad_width", "mode"),
     cases=[Case(((7,), _ones(3), Fixed(2), Fixed("constant"), Fixed(0.0))),
            Case(((3, 6), _ones(2, 3), Fixed(((1, 0), (2, 1))), Fixed("constant"), Fixed(1.0)))])
rule(rt.pad_tangent, "pad_tangent(t0, pad_width, mode='constant', dvalue=0.0)",
     t0="pad_grad(g, t0, pad_width, mode)", dvalue="pad_grad_value(g, t0, pad_width, mode, dvalue)",
     tangent="pad_tangent(dt0, pad_width, mode, ddvalue)",
     nondiff=("pad_width", "mode"), discrete=("pad_width", "mode"),
     cases=[Case(((3,), Fixed(2))), Case(((2, 3), Fixed(((1, 0), (2, 1))), Fixed("constant"), ()))])
rule(rt.diff_grad, "diff_grad(v, a, n=1, axis=-1, prepend=None, append=None, part='a')",
     v="diff_grad_adjoint(g, a, n, axis, prepend, append, part)",
     tangents={"v": "diff_grad(t, a, n, axis, prepend, append, part)"},
     nondiff=("a", "n", "axis", "prepend", "append", "part"), discrete=("n", "axis", "part"),
     cases=[Case(((4,), _ones(5))), Case(((3,), _ones(5), Fixed(2))),
            Case(((2, 4), _ones(3, 4), Fixed(1), Fixed(0))),
            Case(((6,), _ones(4)), {"prepend": Fixed(1.0), "append": _ones(2)}),
            Case(((6,), _ones(4)), {"prepend": Fixed(1.0), "append": _ones(2), "part": Fixed("prepend")}),
            Case(((6,), _ones(4)), {"prepend": Fixed(1.0), "append": _ones(2), "part": Fixed("append")})])
rule(rt.diff_grad_adjoint, "diff_grad_adjoint(h, a, n=1, axis=-1, prepend=None, append=None, part='a')",
     h="diff_grad(g, a, n, axis, prepend, append, part)",
     tangents={"h": "diff_grad_adjoint(t, a, n, axis, prepend, append, part)"},
     nondiff=("a", "n", "axis", "prepend", "append", "part"), discrete=("n", "axis", "part"),
     cases=[Case(((5,), _ones(5))), Case(((4,), _ones(4)), {"prepend": Fixed(1.0), "append": _ones(2)}),
            Case(((), _ones(4)), {"prepend": Fixed(1.0), "part": Fixed("prepend")}),
            Case(((3, 4), _ones(3, 4), Fixed(2), Fixed(0)))])
rule(rt.diff_tangent, "diff_tangent(a, n=1, axis=-1, prepend=None, append=None)",
     a="diff_grad(g, a, n, axis, prepend, append, 'a')",
     prepend="diff_grad(g, a, n, axis, prepend, append, 'prepend')",
     append="diff_grad(g, a, n, axis, prepend, append, 'append')",
     tangent="diff_tangent(da, n, axis, None if prepend is None else dprepend, "
             "None if append is None else dappend)",
     nondiff=("n", "axis"), discrete=("n", "axis"),
     cases=[Case(((5,),)), Case(((4,),), {"prepend": (), "append": (2,)}),
            Case(((3, 4), Fixed(2), Fixed(0)))])
# trapezoid_grad is trilinear in v, y and the spacing d (diff(x), or dx when x is None):
# each part's cotangent is a partial derivative of <v, trapezoid(y, d)>.
rule(rt.trapezoid_grad, "trapezoid_grad(v, y, x=None, dx=1.0, axis=-1, part='y')",
     v=f"{_TRAPEZOID}(g, x, dx, axis) if part == 'y' else {_TRAPEZOID}(y, g, axis=axis) if part == 'x' "
       f"else {_TRAPEZOID}(y, x, g, axis) * (x is None)",
     y="np.zeros_like(y, dtype=float) if part == 'y' else trapezoid_grad(v, y, g, dx, axis, 'y') "
       "if part == 'x' else trapezoid_grad(v, y, None, g, axis, 'y') * (x is None)",
     x="trapezoid_grad(v, g, x, dx, axis, 'x') if part == 'y' else np.zeros_like(x, dtype=float)",
     dx="trapezoid_grad(v, g, x, dx, axis, 'dx') if part == 'y' else zeros_like_value(dx)",
     tangents={"v": "trapezoid_grad(t, y, x, dx, axis, part)",
               "y": "np.zeros_like(out) if part == 'y' else trapezoid_grad(v, t, x, dx, axis, part)",
               "x": "trapezoid_grad(v, y, t, dx, axis, part) if part == 'y' else np.zeros_like(out)",
               "dx": "trapezoid_grad(v, y, x, t, axis, part) * (x is None) if part == 'y' "
                     "else np.zeros_like(out)"},
     nondiff=("axis", "part"), discrete=("axis", "part"),
     cases=[Case(((), (5,))), Case(((2,), (2, 5), (5,))), Case(((2,), (2, 5)), {"dx": ()}),
            Case(((4,), (3, 4), (3, 4)), {"axis": Fixed(0)}), Case(((2,), (2, 5), (5,), ())),
            Case(((2,), (2, 5), (5,)), {"part": Fixed("x")}),
            Case(((4,), (3, 4), (3, 4)), {"axis": Fixed(0), "part": Fixed("x")}),
            Case(((2,), (2, 5)), {"dx": (), "part": Fixed("dx")})])
rule(rt.average_grad, "average_grad(v, a, res, axis=None, weights=None, returned=False, keepdims=False, "
     "part='a')",
     v="average_grad_adjoint(g, v, a, res, axis, weights, keepdims, part, 'g')",
     a="average_grad_adjoint(g, v, a, res, axis, weights, keepdims, part, 'a')",
     res="average_grad_adjoint(g, v, a, res, axis, weights, keepdims, part, 'out')",
     weights="average_grad_adjoint(g, v, a, res, axis, weights, keepdims, part, 'weights')",
     tangents={"v": "average_grad(t, a, res, axis, weights, returned, keepdims, part)",
               "a": "average_grad_tangent(v, a, res, axis, weights, keepdims, part, t, 0.0, 0.0)",
               "res": "average_grad_tangent(v, a, res, axis, weights, keepdims, part, 0.0, t, 0.0)",
               "weights": "average_grad_tangent(v, a, res, axis, weights, keepdims, part, 0.0, 0.0, t)"},
     domain={"weights": POSITIVE},
     nondiff=("axis", "returned", "keepdims", "part"), discrete=("axis", "returned", "keepdims", "part"),
     cases=[Case(((), (2, 3), (), Fixed(None), (2, 3))),
            Case(((), (2, 3), (), Fixed(None), (2, 3)), {"part": Fixed("weights")}),
            Case(((2,), (2, 3), (2,), Fixed(1), (3,))),
            Case(((2,), (2, 3), (2,), Fixed(1), (3,)), {"part": Fixed("weights")}),
            Case(((3,), (2, 3, 4), (3,), Fixed((2, 0)), (4, 2))),
            Case(((3,), (2, 3, 4), (3,), Fixed((2, 0)), (4, 2)), {"part": Fixed("weights")}),
            Case(((1, 3, 1), (2, 3, 2), (1, 3, 1), Fixed((0, 2)), (2, 2)), {"keepdims": Fixed(True)}),
            Case(((1, 3, 1), (2, 3, 2), (1, 3, 1), Fixed((0, 2)), (2, 2)),
                 {"keepdims": Fixed(True), "part": Fixed("weights")}),
            Case(((2,), (2, 3), (2,), Fixed(1)))])
rule(rt.polyval_grad_p, "polyval_grad_p(v, p, x)",
     v="unbroadcast(np.polyval(g, x), v)", x="unbroadcast(v * np.polyval(np.polyder(g), x), x)",
     tangents={"v": "polyval_grad_p(t, p, x)", "x": "polyval_grad_p_tangent(v, p, x, t)"},
     nondiff=("p",),
     cases=[Case(((), _ones(3), ())), Case(((5,), _ones(4), (5,))), Case(((2, 3), _ones(1), (2, 3)))])
rule(rt.polyder_grad, "polyder_grad(v, p, m=1)", v="np.polyder(g, m)",
     tangents={"v": "polyder_grad(t, p, m)"},
     nondiff=("p", "m"), discrete=("m",),
     cases=[Case(((3,), _ones(4))), Case(((3,), _ones(5), Fixed(2))), Case(((0,), _ones(2), Fixed(3)))])

# ---- containers ------------------------------------------------------------------------------
# The helpers that return a container when given one (getitem_grad of a tuple, tree_add of
# lists, ...) declare tree_out, so the derivative of generated code accumulates their
# results with tree_add (which adds arrays too) rather than with +, which would join lists.

rule(rt.tree_index, "tree_index(v, i)", v="getitem_grad(g, v, i)", tangents={"v": "tree_index(t, i)"},
     tree_out=True,
     nondiff=("i",), discrete=("i",),
     cases=[Case(((3,), Fixed(1)))])
rule(rt.tree_add, "tree_add(a, b)", a="g", b="g", tangent="tree_add(da, db)", tree_out=True, sparse=True,
     cases=[Case(((3,), (3,))), Case(([(3,), ()], [(3,), ()])),
            Case(([(3,), Fixed(None)], [Fixed(None), ()]))])
rule(rt.tree_fill, "tree_fill(v, like)", v="tree_fill_grad(g, v, like)", tangents={"v": "tree_fill(t, like)"},
     tree_out=True, sparse=True,
     nondiff=("like",),
     cases=[Case(((3,), _ones(3))), Case(([(3,), Fixed(None)], Fixed([np.ones(3), 2.0]))),
            Case(([(2,), (2,)], _ones(2, 2))), Case(((), Fixed(1.0)))])
rule(rt.tree_fill_grad, "tree_fill_grad(h, v, like)", h="tree_fill(g, like)",
     tangents={"h": "tree_fill_grad(t, v, like)"}, tree_out=True, sparse=True,
     nondiff=("v", "like"),
     cases=[Case(((3,), _ones(3), _ones(3))),
            Case(([(3,), ()], Fixed([np.ones(3), None]), Fixed([np.ones(3), 2.0]))),
            Case(((2, 2), Fixed([np.ones(2), np.ones(2)]), _ones(2, 2)))])
rule(rt.list_prefix, "list_prefix(v)", v="list_pad(g)", tangents={"v": "list_prefix(t)"},
     tree_out=True, sparse=True, cases=[Case(([(3,), (3,), ()],))])
rule(rt.list_pad, "list_pad(v)", v="list_prefix(g)", tangents={"v": "list_pad(t)"},
     tree_out=True, sparse=True, cases=[Case(([(3,), ()],))])
# The helpers of the methods spelled as new values (rules/containers.py): each pair is
# linear in the cotangent and the other's adjoint, so derivatives of every order work.
rule(rt.sort_value_grad, "sort_value_grad(v, a, axis=-1)", v="sort_value_tangent(g, a, axis)",
     tangents={"v": "sort_value_grad(t, a, axis)"}, tree_out=True, sparse=True,
     nondiff=("a", "axis"), discrete=("axis",),
     cases=[Case(((5,), _values(5))), Case(((3, 4), _values(3, 4), Fixed(0))),
            Case(([(), (3,), ()], Fixed([2.0, 0.5, 1.0])))])
rule(rt.sort_value_tangent, "sort_value_tangent(v, a, axis=-1)", v="sort_value_grad(g, a, axis)",
     tangents={"v": "sort_value_tangent(t, a, axis)"}, tree_out=True, sparse=True,
     nondiff=("a", "axis"), discrete=("axis",),
     cases=[Case(((5,), _values(5))), Case(((3, 4), _values(3, 4), Fixed(0))),
            Case(([(), (3,), ()], Fixed([2.0, 0.5, 1.0])))])
rule(rt.list_head, "list_head(v, like)", v="list_pad_to(g, v)", tangents={"v": "list_head(t, like)"},
     tree_out=True, sparse=True, nondiff=("like",), cases=[Case(([(3,), (), ()], Fixed([1.0, 2.0])))])
rule(rt.list_tail, "list_tail(v, like, more=None)", v="list_pad_front(g, like)",
     tangents={"v": "list_tail(t, like, more)"}, tree_out=True, sparse=True,
     nondiff=("like", "more"),
     cases=[Case(([(3,), (), ()], Fixed([1.0]))), Case(([(), (), ()], Fixed([1.0]), _ones(2)))])
rule(rt.list_pad_to, "list_pad_to(v, like)", v="list_head(g, v)", tangents={"v": "list_pad_to(t, like)"},
     tree_out=True, sparse=True, nondiff=("like",), cases=[Case(([(3,), ()], Fixed([1.0, 2.0, 3.0])))])
rule(rt.list_pad_front, "list_pad_front(v, like)", v="list_tail(g, like)",
     tangents={"v": "list_pad_front(t, like)"}, tree_out=True, sparse=True,
     nondiff=("like",),
     cases=[Case(([(3,), ()], Fixed([1.0])))])
rule(rt.list_delete, "list_delete(v, like, i)", v="list_insert(g, i, None)",
     tangents={"v": "list_delete(t, like, i)"}, tree_out=True, sparse=True,
     nondiff=("like", "i"), discrete=("i",),
     cases=[Case(([(3,), (), ()], Fixed([1.0, 2.0]), Fixed(1))),
            Case(([(), ()], Fixed([1.0]), Fixed(-3)))])
rule(rt.list_entry, "list_entry(v, like, i)", v="list_unentry(g, like, i)",
     tangents={"v": "list_entry(t, like, i)"}, tree_out=True, sparse=True,
     nondiff=("like", "i"), discrete=("i",),
     cases=[Case(([(3,), (), ()], Fixed([1.0, 2.0]), Fixed(-1))),
            Case(([(), (2,)], Fixed([1.0]), Fixed(4)))])
rule(rt.list_unentry, "list_unentry(v, like, i)", v="list_entry(g, like, i)",
     tangents={"v": "list_unentry(t, like, i)"}, tree_out=True, sparse=True,
     nondiff=("like", "i"), discrete=("i",),
     cases=[Case(((3,), Fixed([1.0, 2.0]), Fixed(0))), Case(((), Fixed([1.0]), Fixed(-1)))])
rule(rt.setitem_grad_x, "setitem_grad_x(v, index)", v="setitem_grad_x(g, index)",
     tangents={"v": "setitem_grad_x(t, index)"}, tree_out=True, sparse=True,
     nondiff=("index",), discrete=("index",),
     cases=[Case(((4,), Fixed(1))), Case(((3, 4), Fixed((slice(None), 2)))),
            Case(((5,), Fixed(np.array([0, 2])))),
            Case(([(3,), ()], Fixed(0)))])
# setitem_grad_value reads the entries the last writes reached (an index may repeat);
# write_back writes there (the last write winning again): each is the other's adjoint.
_REPEATS = Fixed(np.array([0, 2, 0]))
rule(rt.setitem_grad_value, "setitem_grad_value(v, index, value)", v="write_back(g, v, index)",
     tangents={"v": "setitem_grad_value(t, index, value)"}, tree_out=True, sparse=True,
     nondiff=("index", "value"), discrete=("index",),
     cases=[Case(((4,), Fixed(1), Fixed(0.0))), Case(((3, 4), Fixed((slice(None), 2)), _ones(3))),
            Case(((3, 4), Fixed(np.array([0, 2])), _ones(4))),
            Case(((3, 4), Fixed(np.array([0, 2])), Fixed(1.0))),
            Case(((4,), _REPEATS, _ones(3))), Case(((4,), _REPEATS, Fixed(1.0))),
            Case(((3, 4), Fixed((np.array([1, 1]), np.array([2, 2]))), _ones(2))),
            Case(((3, 4), Fixed((slice(None), np.array([3, 0, 3]))), _ones(3, 3))),
            Case(((3, 4), _REPEATS, _ones(3, 1))),
            Case(([(3,), ()], Fixed(1), Fixed(2.0)))])
rule(rt.write_back, "write_back(h, like, index)", h="setitem_grad_value(g, index, h)",
     tangents={"h": "write_back(t, like, index)"}, tree_out=True, sparse=True,
     nondiff=("like", "index"), discrete=("index",),
     cases=[Case(((3,), _ones(4), _REPEATS)), Case(((), _ones(4), _REPEATS)),
            Case(((2,), _ones(3, 4), Fixed((np.array([1, 1]), np.array([2, 2]))))),
            Case(((3, 1), _ones(3, 4), _REPEATS)), Case(((4,), _ones(3, 4), Fixed(1))),
            Case(((), Fixed([1.0, 2.0]), Fixed(1)))])
# which element of an assigned value NumPy keeps, and which order a reshape reads in: flags
nondifferentiable(rt.last_writes, signature="last_writes(shape, index)", discrete=("shape", "index"),
                  cases=[Case((Fixed((3,)), Fixed(np.array([0, 0, 2])))),
                         Case((Fixed((2, 3)), Fixed((np.array([0, 0]), np.array([1, 1])))))])
nondifferentiable(rt.memory_order, signature="memory_order(a, order='C', shape=None)",
                  discrete=("order", "shape"), opaque=True,
                  cases=[Case(((2, 3),), {"order": Fixed("F")}), Case(((4,),), {"order": Fixed("A")})])
rule(rt.seq_sum_grad, "seq_sum_grad(v, items)", v="unbroadcast(sum(tree_fill(g, out)), v)",
     tangents={"v": "seq_sum_grad(t, items)"}, tree_out=True,
     nondiff=("items",),
     cases=[Case(((3,), Fixed([np.ones(3), np.ones(3)]))),
            Case(((2, 3), Fixed([np.ones(3), np.ones((2, 3)), 1.0]))),
            Case(((3,), _ones(4, 3))), Case(((2, 3), _ones(4, 3))), Case(((), _ones(2))),
            Case(((), _ones(1)))])
rule(rt.unconcatenate, "unconcatenate(v, arrays, axis=0)", v="np.concatenate(tree_fill(g, out), axis)",
     tangents={"v": "unconcatenate(t, arrays, axis)"}, tree_out=True,
     nondiff=("arrays", "axis"), discrete=("axis",),
     cases=[Case(((5,), Fixed([np.ones(2), np.ones(3)]))),
            Case(((2, 5), Fixed([np.ones((2, 3)), np.ones((2, 2))]), Fixed(1))),
            Case(((9,), Fixed([np.ones((2, 3)), np.ones((1, 3))]), Fixed(None)))])
rule(rt.unstack, "unstack(v, axis=0)", v="np.stack(tree_fill(g, out), axis)",
     tangents={"v": "unstack(t, axis)"},
     tree_out=True, nondiff=("axis",), discrete=("axis",), cases=[Case(((3, 2),)), Case(((2, 3), Fixed(1)))])
rule(rt.unjoin, "unjoin(v, arrays, axis, ndmin, columns=False)",
     v="rejoin(tree_fill(g, out), arrays, axis, ndmin, columns)",
     tangents={"v": "unjoin(t, arrays, axis, ndmin, columns)"}, tree_out=True,
     nondiff=("arrays", "axis", "ndmin", "columns"), discrete=("axis", "ndmin", "columns"),
     cases=[Case(((2, 3), Fixed([np.ones(3), np.ones(3)]), Fixed(0), Fixed(2))),
            Case(((5,), Fixed([np.ones(3), np.ones(2)]), Fixed(0), Fixed(1))),
            Case(((2, 4), Fixed([np.ones((2, 3)), np.ones((2, 1))]), Fixed(1), Fixed(1))),
            Case(((3, 3), Fixed([np.ones(3), np.ones((3, 2))]), Fixed(1), Fixed(2), Fixed(True)))])
rule(rt.rejoin, "rejoin(pieces, arrays, axis, ndmin, columns=False)",
     pieces="unjoin(g, arrays, axis, ndmin, columns)",
     tangents={"pieces": "rejoin(t, arrays, axis, ndmin, columns)"},
     seq=("pieces",),
     nondiff=("arrays", "axis", "ndmin", "columns"), discrete=("axis", "ndmin", "columns"),
     cases=[Case(([(3,), (3,)], Fixed([np.ones(3), np.ones(3)]), Fixed(0), Fixed(2))),
            Case(([(3,), (3, 2)], Fixed([np.ones(3), np.ones((3, 2))]), Fixed(1), Fixed(2), Fixed(True)))])
rule(rt.unsplit, "unsplit(v, ary, indices_or_sections, axis=0)",
     v="np.array_split(g, indices_or_sections, axis)",
     tangents={"v": "unsplit(t, ary, indices_or_sections, axis)"},
     seq=("v",),
     nondiff=("ary", "indices_or_sections", "axis"), discrete=("indices_or_sections", "axis"),
     cases=[Case(([(2,), (2,), (2,)], _ones(6), Fixed(3))),
            Case(([(2, 1), (2, 3), (2, 2)], _ones(2, 6), Fixed([1, 4]), Fixed(1))),
            Case(([(3,), Fixed(None)], _ones(5), Fixed(2)))])
_GRID_INPUTS = Fixed((np.ones(3), np.ones(4), None))
rule(rt.meshgrid_grad, "meshgrid_grad(v, xi, i, copy=True, indexing='xy')",
     v="meshgrid_spread(g, v, xi, i, indexing)", tangents={"v": "meshgrid_grad(t, xi, i, copy, indexing)"},
     seq=("v",), sparse=True,
     nondiff=("xi", "i", "copy", "indexing"), discrete=("i", "copy", "indexing"),
     cases=[Case(([(4, 3), (4, 3)], _GRID_INPUTS, Fixed(0))),
            Case(([(4, 3), (4, 3)], _GRID_INPUTS, Fixed(1))),
            Case(([(3, 4), Fixed(None)], _GRID_INPUTS, Fixed(0), Fixed(True), Fixed("ij"))),
            Case(([(3, 4, 2), (3, 4, 2), (3, 4, 2)], Fixed((np.ones(4), np.ones(3), np.ones(2))), Fixed(2)))])
rule(rt.meshgrid_spread, "meshgrid_spread(h, v, xi, i, indexing='xy')",
     h="meshgrid_grad(g, xi, i, True, indexing)", tangents={"h": "meshgrid_spread(t, v, xi, i, indexing)"},
     tree_out=True,
     nondiff=("v", "xi", "i", "indexing"), discrete=("i", "indexing"),
     cases=[Case(((3,), Fixed([np.ones((4, 3)), np.ones((4, 3))]), _GRID_INPUTS, Fixed(0))),
            Case(((4,), Fixed([np.ones((3, 4)), np.ones((3, 4))]), _GRID_INPUTS, Fixed(1), Fixed("ij")))])

# ---- sets ----------------------------------------------------------------------------------

# np.unique: linear in the cotangent (tangent), each the other's adjoint; the grouping of
# equal entries of ar is locally constant.
rule(rt.unique_grad, "unique_grad(v, ar)", v="unique_tangent(g, ar)",
     tangents={"v": "unique_grad(t, ar)"}, nondiff=("ar",),
     cases=[Case(((4,), (4,))), Case(((6,), (2, 3)))])
rule(rt.unique_tangent, "unique_tangent(v, ar)", v="unique_grad(g, ar)",
     tangents={"v": "unique_tangent(t, ar)"}, nondiff=("ar",),
     cases=[Case(((4,), (4,))), Case(((2, 3), (2, 3)))])
