"""Forward-mode (tangent) rules of the primitives that are not element-wise.

Element-wise rules get theirs from their adjoint templates (registry._is_elementwise);
the rest are written here.  A reduction's tangent is written through its adjoint with
a cotangent of ones: for ``out = r(a)`` reducing over some axes, ``J t`` is the sum over
those axes of ``(J^T 1) * t``, which reuses the adjoint's handling of ties and zeros.
"""

import builtins
import operator

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
tangent(np.linalg.det, a="out * np.trace(np.linalg.solve(a, t), axis1=-2, axis2=-1)")
tangent(np.linalg.solve, a="-np.linalg.solve(a, t @ out)", b="np.linalg.solve(a, t)")
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
