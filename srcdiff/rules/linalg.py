"""Products and linear algebra."""

from __future__ import annotations  # (so np.random.Generator annotations do not import numpy.random)

import numpy as np

from .registry import Case, Domain, Fixed
from .registry import register_adjoint as rule


class _SymmetricPositiveDefinite(Domain):
    """``R R^T + n I`` for ``R`` uniform in [low, high] (a stack of them for a stacked
    shape): well-conditioned positive-definite matrices, as cholesky needs."""

    def sample(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        r = rng.uniform(self.low, self.high, size=shape)
        return r @ np.swapaxes(r, -1, -2) + shape[-1] * np.eye(shape[-1])


class WellConditioned(Domain):
    """``R + n I`` for ``R`` uniform in [low, high]: well-conditioned, not symmetric (so a
    transposition error cannot hide), invertible matrices (a stack for a stacked shape)."""

    def sample(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=shape) + shape[-1] * np.eye(shape[-1])


_SPD = _SymmetricPositiveDefinite(-1.0, 1.0)

_PRODUCT_CASES = [
    Case(((2, 3), (3, 4))),
    Case(((3,), (3, 4))),
    Case(((2, 3), (3,))),
    Case(((3,), (3,))),
    Case(((2, 2, 3), (3, 4))),
]
rule(np.matmul, "matmul(x, y)", x="matmul_grad_a(g, x, y)", y="matmul_grad_b(g, x, y)",
     tangents={"x": "t @ y", "y": "x @ t"},
     cases=_PRODUCT_CASES + [Case(((2, 2, 3), (2, 3, 2)))])
rule(np.dot, "dot(a, b)", a="dot_grad_a(g, a, b)", b="dot_grad_b(g, a, b)",
     tangents={"a": "np.dot(t, b)", "b": "np.dot(a, t)"},
     cases=_PRODUCT_CASES + [Case(((), (3,))), Case(((2, 3), ())), Case(((2, 3), (2, 3, 4)))])
rule(np.outer, "outer(a, b)",
     a="np.reshape(np.dot(g, np.ravel(b)), np.shape(a))",
     b="np.reshape(np.dot(np.ravel(a), g), np.shape(b))",
     tangents={"a": "np.outer(t, b)", "b": "np.outer(a, t)"},
     cases=[Case(((3,), (4,))), Case(((2, 2), (3,)))])
rule(np.inner, "inner(a, b)", a="inner_grad_a(g, a, b)", b="inner_grad_b(g, a, b)",
     tangents={"a": "np.inner(t, b)", "b": "np.inner(a, t)"},
     cases=[Case(((3,), (3,))), Case(((2, 3), (3,))), Case(((2, 3), (4, 3)))])
# d inv(A) = -inv(A) dA inv(A)
rule(np.linalg.inv, "inv(a)",
     a="-np.swapaxes(out, -1, -2) @ g @ np.swapaxes(out, -1, -2)", tangents={"a": "-out @ t @ out"},
     cases=[Case(((3, 3),)), Case(((2, 3, 3),))], domain=Domain(-1.0, 1.0))
# d det(A) = tr(adj(A) dA): the cofactor matrix (det(A) inv(A)^T where A is invertible),
# computed from the SVD so that it is exact at singular matrices too (the tangent as well).
rule(np.linalg.det, "det(a)", a="det_grad(g, a)",
     tangents={"a": "np.sum(det_grad(1.0, a) * t, axis=(-2, -1))"},
     cases=[Case(((3, 3),)), Case(((2, 2, 2),)), Case(((1, 1),)), Case(((2, 3, 3),))])
# d solve(A, b) = -A^-1 dA x: rhs_matmul multiplies a stack of vectors x as well as of
# matrices, and solve_grad_b(y, A^T) solves A z = y for either.
rule(np.linalg.solve, "solve(a, b)", a="solve_grad_a(g, a, out)", b="solve_grad_b(g, a, b)",
     tangents={"a": "-solve_grad_b(rhs_matmul(t, out, a), np.swapaxes(a, -1, -2))",
               "b": "np.linalg.solve(a, t)"},
     cases=[Case(((3, 3), (3,))), Case(((3, 3), (3, 2))), Case(((2, 3, 3), (3,))), Case(((2, 3, 3), (3, 2))),
            Case(((3, 3), (2, 3, 2)))])

# np.einsum(subscripts, *operands), for one to three operands: each operand's cotangent
# is another einsum, of g with the other operands, and its tangent the product with
# that operand replaced by its tangent.  In the interleaved form
# np.einsum(x, [0, 1], y, [1, 2]) the operands bind to subscripts and b.  The None
# tests on absent operands fold away when the call leaves them out.
_EINSUM = ("np.einsum({}, {}, {}, {}) if c is not None else np.einsum({}, {}, {}) if b is not None "
           "else np.einsum({}, {})")
rule(np.einsum, "einsum(subscripts, a, b=None, c=None)",
     subscripts="einsum_grad(g, subscripts, (a, b, c), 0)",
     a="einsum_grad(g, subscripts, (a, b, c), 0)",
     b="einsum_grad(g, subscripts, (a, b, c), 1)",
     c="einsum_grad(g, subscripts, (a, b, c), 2)",
     tangents={"subscripts": _EINSUM.format("t", "a", "b", "c", "t", "a", "b", "t", "a"),
               "a": _EINSUM.format("subscripts", "t", "b", "c", "subscripts", "t", "b", "subscripts", "t"),
               "b": _EINSUM.format("subscripts", "a", "t", "c", "subscripts", "a", "t", "subscripts", "a"),
               "c": "np.einsum(subscripts, a, b, t)"},
     cases=[Case((Fixed("ij,jk->ik"), (2, 3), (3, 4))),
            Case((Fixed("ij,jk"), (2, 3), (3, 4))),
            Case((Fixed("i,i"), (3,), (3,))),
            Case((Fixed("i,j->ij"), (2,), (3,))),
            Case((Fixed(",i->i"), (), (3,))),
            Case((Fixed("ij->"), (2, 3))),
            Case((Fixed("ij->j"), (2, 3))),
            Case((Fixed("ba"), (2, 3))),
            Case((Fixed("ii->i"), (3, 3))),
            Case((Fixed("ii"), (3, 3))),
            Case((Fixed("iij,jk->ik"), (2, 2, 3), (3, 2))),
            Case((Fixed("...ij,...jk->...ik"), (2, 2, 3), (2, 3, 2))),
            Case((Fixed("...i,...i->..."), (2, 3), (3,))),
            Case((Fixed("...i,...i"), (2, 1, 3), (4, 3))),
            Case((Fixed("ij,jk,kl->il"), (2, 3), (3, 2), (2, 4))),
            Case((Fixed("i,ij,j"), (2,), (2, 3), (3,))),
            Case(((2, 3), Fixed([0, 1]), (3, 4), Fixed([1, 2]))),
            Case(((2, 3), Fixed([1, 0]), Fixed([0]))),
            Case(((2, 3, 3), Fixed([Ellipsis, 1, 1]), Fixed([Ellipsis, 1])))])
rule(np.tensordot, "tensordot(a, b, axes=2)",
     a="tensordot_grad_a(g, a, b, axes)", b="tensordot_grad_b(g, a, b, axes)",
     tangents={"a": "np.tensordot(t, b, axes)", "b": "np.tensordot(a, t, axes)"},
     nondiff=("axes",), discrete=("axes",),
     cases=[Case(((2, 3, 4), (3, 4, 2))),
            Case(((2, 3), (3, 4), Fixed(1))),
            Case(((2, 3), (4,), Fixed(0))),
            Case(((2, 3, 4), (4, 2, 3), Fixed(([1, 2], [2, 0])))),
            Case(((3, 4), (4, 3), Fixed(([0, 1], [1, 0])))),
            Case(((2, 3), (3, 2)), {"axes": Fixed((1, 0))}),
            Case(((2, 3, 4), (4, 3)), {"axes": Fixed(([-1], [0]))})])
# vdot flattens both arguments (and conjugates the first: real arguments here).
rule(np.vdot, "vdot(a, b)",
     a="np.reshape(g * b, np.shape(a))", b="np.reshape(g * a, np.shape(b))",
     tangents={"a": "np.vdot(t, b)", "b": "np.vdot(a, t)"},
     cases=[Case(((3,), (3,))), Case(((2, 3), (3, 2)))])
rule(np.kron, "kron(a, b)", a="kron_grad_a(g, a, b)", b="kron_grad_b(g, a, b)",
     tangents={"a": "np.kron(t, b)", "b": "np.kron(a, t)"},
     cases=[Case(((2,), (3,))), Case(((2, 3), (2, 2))), Case(((3,), (2, 2))),
            Case(((2, 2), (3,))), Case(((), (3,)))])
# b x a = -(a x b), so b's cotangent is a's with the arguments swapped, negated.
rule(np.cross, "cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None)",
     a="cross_grad(g, a, b, axisa, axisb, axisc, axis)",
     b="-cross_grad(g, b, a, axisb, axisa, axisc, axis)",
     tangents={"a": "np.cross(t, b, axisa, axisb, axisc, axis)",
               "b": "np.cross(a, t, axisa, axisb, axisc, axis)"},
     nondiff=("axisa", "axisb", "axisc", "axis"), discrete=("axisa", "axisb", "axisc", "axis"),
     cases=[Case(((3,), (3,))), Case(((2, 3), (3,))), Case(((4, 3), (4, 3))),
            Case(((3, 2), (3, 2)), {"axis": Fixed(0)}),
            Case(((3, 2), (2, 3)), {"axisa": Fixed(0), "axisc": Fixed(0)})])
# d log|det A| = tr(A^-1 dA); the sign is piecewise constant.
rule(np.linalg.slogdet, "slogdet(a)", a="slogdet_grad(g, a)", tree_out=True,
     tangent="(0.0 * out[0], np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1))",
     cases=[Case(((3, 3),)), Case(((2, 3, 3),))])
rule(np.linalg.cholesky, "cholesky(a, upper=False)", a="cholesky_grad(g, out, upper)",
     tangents={"a": "cholesky_tangent(t, out, upper)"}, domain=_SPD,
     nondiff=("upper",), discrete=("upper",),
     cases=[Case(((3, 3),)), Case(((2, 3, 3),)), Case(((3, 3),), {"upper": Fixed(True)})])
# Random (non-symmetric) inputs: eigh reads one triangle, so finite differences of the
# other are zero, as the rule's cotangent is.
rule(np.linalg.eigh, "eigh(a, UPLO='L')", a="eigh_grad(g, out, UPLO)", tree_out=True,
     tangent="eigh_tangent(da, out, UPLO)",
     nondiff=("UPLO",), discrete=("UPLO",),
     cases=[Case(((3, 3),)), Case(((2, 3, 3),)), Case(((3, 3), Fixed("U")))])
# rcond and rtol cut off small singular values: the result is piecewise constant in them.
_RTOL = np.lib.NumpyVersion(np.__version__) >= "2.0.0"  # (NumPy 1 has no rtol)
rule(np.linalg.pinv, "pinv(a, rcond=None, hermitian=False, rtol=None)",
     a="pinv_grad(g, a, out, hermitian)", tangents={"a": "pinv_tangent(t, a, out, hermitian)"},
     nondiff=("rcond", "hermitian", "rtol"), discrete=("hermitian",) if _RTOL else ("hermitian", "rtol"),
     cases=[Case(((3, 3),)), Case(((4, 2),)), Case(((2, 4),)), Case(((2, 3, 2),)),
            Case(((3, 3),), {"hermitian": Fixed(True)}), Case(((3, 3),), {"rcond": Fixed(1e-3)})]
     + ([Case(((3, 3),), {"rtol": Fixed(1e-3)})] if _RTOL else []))
rule(np.convolve, "convolve(a, v, mode='full')",
     a="convolve_grad(g, a, v, mode)", v="convolve_grad(g, v, a, mode)",
     tangents={"a": "np.convolve(t, v, mode)", "v": "np.convolve(a, t, mode)"},
     nondiff=("mode",), discrete=("mode",),
     cases=[Case(((5,), (3,))), Case(((2,), (6,))),
            Case(((5,), (3,), Fixed("same"))), Case(((3,), (5,), Fixed("same"))),
            Case(((6,), (4,), Fixed("same"))), Case(((5,), (2,), Fixed("same"))),
            Case(((6,), (4,), Fixed("valid"))), Case(((4,), (4,), Fixed("valid"))),
            Case(((2,), (5,), Fixed("valid")))])
