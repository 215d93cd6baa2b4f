"""Forward-mode (tangent) rules of the primitives that are not element-wise.

Element-wise rules get theirs from their adjoint templates (registry._is_elementwise);
the rest are written here.  A reduction's tangent is written through its adjoint with
a cotangent of ones: for ``out = r(a)`` reducing over some axes, ``J t`` is the sum over
those axes of ``(J^T 1) * t``, which reuses the adjoint's handling of ties and zeros.
"""

import builtins
import operator
from typing import Any

import numpy as np

from .. import runtime
from ..ir import Method
from .registry import define_tangents as tangent

# products
tangent(operator.matmul, x="t @ y", y="x @ t")
tangent(np.matmul, x="t @ y", y="x @ t")
tangent(np.dot, a="np.dot(t, b)", b="np.dot(a, t)")
tangent(np.outer, a="np.outer(t, b)", b="np.outer(a, t)")
tangent(np.inner, a="np.inner(t, b)", b="np.inner(a, t)")
tangent(np.linalg.inv, a="-out @ t @ out")
tangent(np.linalg.det, a="np.sum(det_grad(1.0, a) * t, axis=(-2, -1))")  # exact where a is singular
# d solve(A, b) = -A^-1 dA x: rhs_matmul multiplies a stack of vectors x as well as of
# matrices, and solve_grad_b(y, A^T) solves A z = y for either.
tangent(np.linalg.solve, a="-solve_grad_b(rhs_matmul(t, out, a), np.swapaxes(a, -1, -2))",
        b="np.linalg.solve(a, t)")
tangent(np.trace, a="np.trace(t)")

# reductions
tangent(np.sum, a="np.sum(t, axis=axis, keepdims=keepdims)")
tangent(np.mean, a="np.mean(t, axis=axis, keepdims=keepdims)")
_THROUGH_ADJOINT = "np.sum({} * t, axis=axis, keepdims=keepdims)"
tangent(np.prod, a=_THROUGH_ADJOINT.format("prod_grad(np.ones_like(out), a, axis, keepdims)"))
for _fn in (np.max, np.min, np.amax, np.amin):
    tangent(_fn, a=_THROUGH_ADJOINT.format("minmax_grad(np.ones_like(out), a, out, axis, keepdims)"))
tangent(np.var, a=_THROUGH_ADJOINT.format("var_grad(np.ones_like(out), a, axis, ddof, keepdims)"))
tangent(np.std, a=_THROUGH_ADJOINT.format("var_grad(0.5 / out, a, axis, ddof, keepdims)"))
tangent(np.cumsum, a="np.cumsum(t, axis=axis)")
tangent(np.linalg.norm,
        x=_THROUGH_ADJOINT.format("norm_grad(np.ones_like(out), x, out, ord, axis, keepdims)"))

# shapes: the same function moves the tangent as it moves the values
_RESHAPE = "np.reshape(t, np.shape(out))"
for _fn in (np.reshape, np.ravel, np.expand_dims, np.squeeze, np.atleast_1d, np.atleast_2d,
            np.atleast_3d):
    tangent(_fn, a=_RESHAPE)
# (order as in the adjoints, rules/shape.py)
_RESHAPE_IN_ORDER = ("np.reshape(t, np.shape(out)) if order == 'C' else "
                     "np.reshape(t, np.shape(out), order='F') if order == 'F' else "
                     "np.reshape(t, np.shape(out), order=memory_order(a, order, np.shape(out)))")
tangent(np.reshape, a=_RESHAPE_IN_ORDER)
tangent(np.ravel, a=_RESHAPE_IN_ORDER)
tangent(np.transpose, a="np.transpose(t, axes)")
tangent(np.swapaxes, a="np.swapaxes(t, axis1, axis2)")
tangent(np.moveaxis, a="np.moveaxis(t, source, destination)")
tangent(np.broadcast_to, array="np.broadcast_to(t, shape)")
tangent(np.flip, m="np.flip(t, axis)")
tangent(np.fliplr, m="np.fliplr(t)")
tangent(np.flipud, m="np.flipud(t)")
tangent(np.roll, a="np.roll(t, shift, axis)")
tangent(np.copy, a="t")
tangent(np.tril, m="np.tril(t, k)")
tangent(np.triu, m="np.triu(t, k)")
tangent(np.diag, v="np.diag(t, k)")
tangent(np.sort, a="sort_tangent(t, a, axis)")
tangent(np.concatenate, arrays="np.concatenate(t, axis)")
tangent(np.stack, arrays="np.stack(t, axis)")
tangent(np.vstack, tup="np.vstack(t)")
tangent(np.hstack, tup="np.hstack(t)")
tangent(np.column_stack, tup="np.column_stack(t)")
tangent(np.array, object="np.array(t) if isinstance(object, (list, tuple)) else t")
tangent(np.asarray, a="np.array(t) if isinstance(a, (list, tuple)) else t")
tangent(Method("item"), self="np.sum(t)")

# indexing and containers
tangent(operator.getitem, x="t[index]")
tangent(np.take, a="np.take(t, indices, axis=axis)")
tangent(builtins.sum, items="sum(t)", start="t")
tangent(runtime.as_sequence, x="t")
tangent(runtime.list_append, tangent="list_append(ditems, ditem)")
tangent(runtime.setitem, tangent="setitem(dx, index, dvalue)")

# element-wise, but not a ufunc (so not derived from the adjoint)
tangent(np.sinc, x="t * np.where(x == 0, 0.0, (np.cos(np.pi * x) - out) / np.where(x == 0, 1.0, x))")
tangent(np.polyval, p="np.polyval(t, x)", x="t * np.polyval(np.polyder(p), x)")
tangent(np.interp,
        tangent="interp_tangent(x, xp, fp, left, right, period, dx, dxp, dfp, dleft, dright, dperiod)")

# multilinear products: the product with one factor replaced by its tangent.  einsum's
# operands are subscripts (in the interleaved form op0, sublist0, op1, ...), a, b and c;
# the None tests on absent operands fold away when the call leaves them out.
_EINSUM = ("np.einsum({}, {}, {}, {}) if c is not None else np.einsum({}, {}, {}) if b is not None "
           "else np.einsum({}, {})")
tangent(np.einsum,
        subscripts=_EINSUM.format("t", "a", "b", "c", "t", "a", "b", "t", "a"),
        a=_EINSUM.format("subscripts", "t", "b", "c", "subscripts", "t", "b", "subscripts", "t"),
        b=_EINSUM.format("subscripts", "a", "t", "c", "subscripts", "a", "t", "subscripts", "a"),
        c="np.einsum(subscripts, a, b, t)")
tangent(np.tensordot, a="np.tensordot(t, b, axes)", b="np.tensordot(a, t, axes)")
tangent(np.vdot, a="np.vdot(t, b)", b="np.vdot(a, t)")
tangent(np.kron, a="np.kron(t, b)", b="np.kron(a, t)")
tangent(np.cross, a="np.cross(t, b, axisa, axisb, axisc, axis)",
        b="np.cross(a, t, axisa, axisb, axisc, axis)")
tangent(np.convolve, a="np.convolve(t, v, mode)", v="np.convolve(a, t, mode)")

# linear algebra.  d log|det A| = tr(A^-1 dA); the sign is piecewise constant.
tangent(np.linalg.slogdet,
        tangent="(0.0 * out[0], np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1))")
tangent(np.linalg.cholesky, a="cholesky_tangent(t, out, upper)")
tangent(np.linalg.eigh, tangent="eigh_tangent(da, out, UPLO)")
tangent(np.linalg.pinv, a="pinv_tangent(t, a, out, hermitian)")

# reductions and scans
tangent(np.cumprod, a="cumprod_tangent(t, a, axis)")
tangent(np.diff, tangent="diff_tangent(da, n, axis, None if prepend is None else dprepend, "
                         "None if append is None else dappend)")
for _name in ("trapezoid", "trapz"):
    if hasattr(np, _name):  # bilinear in y and the spacing (x, or dx when x is None)
        tangent(getattr(np, _name), y=f"np.{_name}(t, x, dx, axis)", x=f"np.{_name}(y, t, axis=axis)",
                dx=f"np.{_name}(y, None, t, axis) * (x is None)")
tangent(np.average, a="average_tangent(t, a, out, axis, weights, returned, keepdims, 'a')",
        weights="average_tangent(t, a, out, axis, weights, returned, keepdims, 'weights')")
tangent(np.nansum, a="np.sum(np.where(np.isnan(a), 0.0, t), axis=axis, keepdims=keepdims)")
tangent(np.nanmean, a="np.nanmean(np.where(np.isnan(a), np.nan, t), axis=axis, keepdims=keepdims)")
tangent(np.median, a=_THROUGH_ADJOINT.format(
    "median_grad(np.ones_like(out), a, axis, overwrite_input, keepdims)"))

# moving entries around
tangent(np.diagonal, a="np.diagonal(t, offset, axis1, axis2)")
tangent(np.tile, A="np.tile(t, reps)")
tangent(np.repeat, a="np.repeat(t, repeats, axis)")
tangent(np.pad, tangent="pad_tangent(darray, pad_width, mode, dconstant_values)")
tangent(np.split, tangent="np.split(dary, indices_or_sections, axis)")
tangent(np.array_split, tangent="np.array_split(dary, indices_or_sections, axis)")
# Each grid repeats one input, so the grids' tangents are the grids of the tangents.
tangent(np.meshgrid, tangent="np.meshgrid(dx, dy, dz, copy=copy, sparse=sparse, indexing=indexing) "
                             "if z is not None else np.meshgrid(dx, dy, copy=copy, sparse=sparse, "
                             "indexing=indexing) if y is not None else np.meshgrid(dx, copy=copy, "
                             "sparse=sparse, indexing=indexing)")


def register_scipy(special: Any) -> None:
    """Tangents of the scipy.special rules (registered once SciPy is in use)."""
    tangent(special.logsumexp,
            a="logsumexp_tangent(t, a, out, axis, b, keepdims, return_sign, 'a')",
            b="logsumexp_tangent(t, a, out, axis, b, keepdims, return_sign, 'b')")
    # softmax and log_softmax have symmetric and I - 1 s^T Jacobians (see special.py).
    tangent(special.softmax, x="out * (t - np.sum(t * out, axis=axis, keepdims=True))")
    tangent(special.log_softmax, x="t - np.sum(np.exp(out) * t, axis=axis, keepdims=True)")
