"""Complex values: which rules hold for them as written, and the rules that change.

srcdiff follows the convention of autograd and JAX: the cotangent of a complex value
``z = x + iy`` is ``dL/dx - i dL/dy`` (so ``grad`` of a real function of ``z`` is that
too, and gradient descent steps along its conjugate).  With it, the adjoint of a
holomorphic function is the expression written for real values, ``g * f'(z)``, with no
conjugate anywhere: every rule in :data:`HOLOMORPHIC` holds for complex values as it is
(the rule test checks each one along the real and the imaginary axis).  The functions
that are not holomorphic get complex rules of their own (:func:`complex_rule`);
``np.real``, ``np.imag``, ``np.conjugate`` and ``np.angle`` are written for both kinds of
values.  Any other rule refuses a complex argument (the ``complexes`` pass says where).

Where a real value meets complex ones (``x * 1j``), its cotangent is complex; only the
real part is a direction the real value can move in, so the pass wraps the adjoints of
such a statement in ``real_like(adjoint, argument)`` (:func:`projected`).
"""

from __future__ import annotations

import ast
import dataclasses
import operator

import numpy as np

from .. import runtime as rt
from ..ir import Method
from .registry import Case, Rule, lookup, parse_signature, printable_name
from .registry import register_adjoint as rule

__all__ = ["HOLOMORPHIC", "NOT_CONSTANT", "complex_rule", "holds_for_complex", "projected", "NON_HOLOMORPHIC"]

# complex(re, im) = re + i im: linear, and the cotangent of each part is that of the
# result seen along its axis (its real part, for a real part that is real)
rule(complex, "complex(real=0, imag=0)", real="real_like(g, real)", imag="real_like(1j * g, imag)",
     tangents={"real": "t + 0j", "imag": "1j * t"}, cases=[Case(((),)), Case(((), ()))])

# real_like is linear in its cotangent and keeps or drops its imaginary part as the
# value it stands for is complex or real: its adjoint and its tangent are itself.
rule(rt.real_like, "real_like(v, like)", v="real_like(g, like)", tangents={"v": "real_like(t, like)"},
     nondiff=("like",))

# Functions whose rules hold for complex arguments as written: holomorphic (or
# complex-linear) functions whose templates use no comparison, absolute value or sign of
# a complex value; and the runtime helpers their adjoints call (linear in the cotangent),
# so that derivatives of derivatives hold too.
HOLOMORPHIC: frozenset = frozenset({
    # element-wise
    np.negative, np.positive, np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan,
    np.sinh, np.cosh, np.tanh, np.arccosh, np.arctanh, np.exp, np.exp2, np.expm1, np.log,
    np.log2, np.log10, np.log1p, np.sqrt, np.square, np.reciprocal, np.add, np.subtract,
    np.multiply, np.divide, np.conjugate, np.real, np.imag, np.angle, np.where,
    operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pos,
    # products and linear algebra
    np.matmul, operator.matmul, np.dot, np.outer, np.inner, np.tensordot, np.einsum, np.kron,
    np.linalg.inv, np.linalg.solve, np.trace,
    # reductions and scans
    np.sum, np.mean, np.prod, np.cumsum, np.diff, np.nansum, sum,
    # shapes, joins and indexing
    np.reshape, np.ravel, np.expand_dims, np.squeeze, np.transpose, np.swapaxes, np.moveaxis,
    np.broadcast_to, np.flip, np.fliplr, np.flipud, np.roll, np.tril, np.triu, np.diag,
    np.diagonal, np.tile, np.repeat, np.concatenate, np.stack, np.vstack, np.hstack,
    np.column_stack, np.array, np.asarray, np.atleast_1d, np.atleast_2d, np.atleast_3d,
    np.split, np.array_split, np.take, np.copy, np.full, np.full_like, np.linspace,
    np.meshgrid, operator.getitem, rt.setitem, complex,
    # containers
    rt.as_sequence, rt.list_append, rt.list_extend, rt.list_reversed, rt.list_insert,
    rt.array_fill,
    # the helpers of the adjoints above
    rt.real_like, rt.unbroadcast, rt.sum_grad, rt.mean_grad, rt.cumsum_grad, rt.getitem_grad,
    rt.take_grad, rt.setitem_grad_x, rt.setitem_grad_value, rt.write_back, rt.matmul_grad_a,
    rt.matmul_grad_b, rt.dot_grad_a, rt.dot_grad_b, rt.inner_grad_a, rt.inner_grad_b,
    rt.tensordot_grad_a, rt.tensordot_grad_b, rt.kron_grad_a, rt.kron_grad_b, rt.einsum_grad,
    rt.solve_grad_a, rt.solve_grad_b, rt.rhs_matmul, rt.rhs_outer, rt.diag_grad,
    rt.diagonal_grad, rt.tile_grad, rt.repeat_grad, rt.unconcatenate, rt.unstack, rt.unjoin,
    rt.rejoin, rt.unsplit, rt.meshgrid_grad, rt.meshgrid_spread, rt.tree_index, rt.tree_add,
    rt.tree_fill, rt.tree_fill_grad, rt.seq_sum_grad, rt.distinct, rt.power_term,
    rt.prod_grad, rt.prod_pairs, rt.list_head, rt.list_tail, rt.list_prefix, rt.list_pad,
    rt.list_pad_to, rt.list_pad_front, rt.list_delete, rt.list_entry, rt.list_unentry,
})
_METHODS_FOR_COMPLEX = frozenset({"copy", "astype", "item", "pop"})

# Functions declared non-differentiable because they are constant between jumps for real
# values, but not for complex ones: a complex argument that carries a derivative is refused.
NOT_CONSTANT: frozenset = frozenset({np.sign})

# The functions that are not holomorphic for complex arguments: a complex result of a
# function that passes through one of them has no complex derivative f'(z).
NON_HOLOMORPHIC: frozenset = frozenset({np.abs, abs, np.real, np.imag, np.conjugate, np.angle, np.vdot})


def _variant(fn: object, signature: str, tangents: dict, **adjoints: str) -> Rule:
    """A rule for complex arguments: not in the registry (the real rule stays there)."""
    params, defaults = parse_signature(signature)
    return Rule(fn=fn, name=printable_name(fn), params=params, defaults=defaults, sources=adjoints,
                domain={}, cases=(), _tangent_texts=tangents)


# |z|: d|z| = Re(conj(z) dz) / |z|, so the cotangent is g conj(z) / |z| (0 at z = 0, as
# the real rule's sign(0)).
_ABS = dict(x="g * np.conjugate(x) / (out + (out == 0))")
_ABS_TANGENT = {"x": "np.real(np.conjugate(x) * t) / (out + (out == 0))"}
# x ** y in y: out log(x), with the principal logarithm of a complex (or negative) base
_LOG_BASE = "unbroadcast(g * out * np.log(np.where(x == 0, 1.0, x) + 0j), y)"
_LOG_BASE_TANGENT = "t * out * np.log(np.where(x == 0, 1.0, x) + 0j)"

_COMPLEX: dict = {}


def _complex_rules() -> dict:
    if not _COMPLEX:
        power = lookup(np.power)
        pow_sources = {"x": power.sources["x"], "y": _LOG_BASE}
        pow_tangents = {"x": power.tangent_sources["x"], "y": _LOG_BASE_TANGENT}
        _COMPLEX.update({
            np.abs: _variant(np.abs, "absolute(x)", _ABS_TANGENT, **_ABS),
            abs: _variant(abs, "abs(x)", _ABS_TANGENT, **_ABS),
            np.vdot: _variant(np.vdot, "vdot(a, b)", {"a": "np.vdot(t, b)", "b": "np.vdot(a, t)"},
                              a="np.reshape(np.conjugate(g * b), np.shape(a))",
                              b="np.reshape(g * np.conjugate(a), np.shape(b))"),
            np.arcsinh: _variant(np.arcsinh, "arcsinh(x)", {"x": "t / np.sqrt(x * x + 1)"},
                                 x="g / np.sqrt(x * x + 1)"),
            # a complex array whose tangent is real (z = x + 1j): an entry written with a
            # complex tangent makes the tangent complex (NumPy would drop its imaginary part)
            rt.setitem: dataclasses.replace(lookup(rt.setitem), _tangent_texts={
                "*": "setitem(dx + np.zeros_like(x), index, dvalue)"}),
            np.power: _variant(np.power, "power(x, y)", pow_tangents, **pow_sources),
            operator.pow: _variant(operator.pow, "pow(x, y)", pow_tangents, **pow_sources),
        })
    return _COMPLEX


def complex_rule(fn: object) -> Rule | None:
    """The rule of ``fn`` for complex arguments, where it differs from its real rule."""
    try:
        return _complex_rules().get(fn)
    except TypeError:  # unhashable
        return None


def holds_for_complex(fn: object) -> bool:
    """Whether ``fn``'s rule holds for complex arguments (as written, or as
    :func:`complex_rule` gives it)."""

    if isinstance(fn, Method):
        return fn.name in _METHODS_FOR_COMPLEX
    try:
        return fn in HOLOMORPHIC or complex_rule(fn) is not None
    except TypeError:
        return False


_PROJECTED: dict = {}


def projected(base: Rule, params: frozenset, result: bool) -> Rule:
    """``base`` for a statement with complex values: the adjoints of ``params`` (the
    arguments that may be real) wrapped in ``real_like(adjoint, param)``; with
    ``result`` (a result that may be real: ``np.full_like(x, z)``, ``z.astype(float)``),
    the cotangent ``g`` read as ``real_like(g, out)`` and each tangent wrapped in
    ``real_like(tangent, out)``, as NumPy drops the imaginary part of such a result."""
    key = (id(base), params, result)
    found = _PROJECTED.get(key)
    if found is not None and found[0] is base:
        return found[1]
    sources = {}
    for p, text in base.sources.items():
        if result:
            text = _real_cotangent(text)
        sources[p] = f"real_like({text}, {p})" if p in params else text
    tangents = dict(base.tangent_sources)
    if result:
        tangents = {p: f"real_like({text}, out)" for p, text in tangents.items()}
    made = dataclasses.replace(base, sources=sources, _tangent_texts=tangents)
    _PROJECTED[key] = (base, made)
    return made


class _RealCotangent(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id == "g":
            return ast.Call(func=ast.Name(id="real_like", ctx=ast.Load()),
                            args=[node, ast.Name(id="out", ctx=ast.Load())], keywords=[])
        return node


def _real_cotangent(text: str) -> str:
    """The template ``text`` with ``real_like(g, out)`` for ``g``."""
    return ast.unparse(_RealCotangent().visit(ast.parse(text, mode="eval")).body)
