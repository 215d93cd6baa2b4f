"""Rules for the helpers generated code calls, so a derivative can be differentiated
again (grad of grad, forward over reverse).

Most helpers are linear in the cotangent they spread back (``v`` below): their adjoint
is the primal operation itself, and their tangent is the helper applied to the tangent.
"""

from .. import runtime as rt
from .registry import Case, Fixed, nondifferentiable
from .registry import register_adjoint as rule

nondifferentiable(rt.seed, rt.zeros_like_value, rt.zeros_like_tree)

# identity-like
rule(rt.distinct, "distinct(results)", results="g", seq=("results",),
     tangents={"results": "t"}, cases=[Case(([(3,), (3,)],))])

# unbroadcast sums over broadcast axes; its adjoint broadcasts back (unbroadcast to the
# other shape does exactly that), and it is linear.
rule(rt.unbroadcast, "unbroadcast(v, x)", v="unbroadcast(g, v)", tangents={"v": "unbroadcast(t, x)"},
     cases=[Case(((2, 3), Fixed(1.0 * __import__("numpy").ones(3)))), Case(((3,), Fixed(2.0)))])

rule(rt.sum_grad, "sum_grad(v, a, axis=None, keepdims=False)",
     v="np.sum(g, axis=axis, keepdims=keepdims)", tangents={"v": "sum_grad(t, a, axis, keepdims)"},
     cases=[Case(((), Fixed(__import__("numpy").ones((2, 3))))),
            Case(((2,), Fixed(__import__("numpy").ones((2, 3))), Fixed(1)))])
rule(rt.mean_grad, "mean_grad(v, a, axis=None, keepdims=False)",
     v="np.mean(g, axis=axis, keepdims=keepdims)", tangents={"v": "mean_grad(t, a, axis, keepdims)"},
     cases=[Case(((), Fixed(__import__("numpy").ones((2, 3))))),
            Case(((3,), Fixed(__import__("numpy").ones((2, 3))), Fixed(0)))])
rule(rt.matmul_grad_a, "matmul_grad_a(v, a, b)",
     v="g @ b", b="matmul_grad_b(v, g, b)",
     tangents={"v": "matmul_grad_a(t, a, b)", "b": "matmul_grad_a(v, a, t)"},
     cases=[Case(((2, 4), Fixed(__import__("numpy").ones((2, 3))), (3, 4))),
            Case(((4,), Fixed(__import__("numpy").ones(3)), (3, 4)))])
rule(rt.matmul_grad_b, "matmul_grad_b(v, a, b)",
     v="a @ g", a="matmul_grad_a(v, a, g)",
     tangents={"v": "matmul_grad_b(t, a, b)", "a": "matmul_grad_b(v, t, b)"},
     cases=[Case(((2, 4), (2, 3), Fixed(__import__("numpy").ones((3, 4))))),
            Case(((4,), (3,), Fixed(__import__("numpy").ones((3, 4)))))])
rule(rt.getitem_grad, "getitem_grad(v, x, index)", v="g[index]",
     tangents={"v": "getitem_grad(t, x, index)"},
     cases=[Case(((), Fixed(__import__("numpy").ones(4)), Fixed(2))),
            Case(((2,), Fixed(__import__("numpy").ones(4)), Fixed(__import__("numpy").array([1, 1]))))])
rule(rt.tree_index, "tree_index(v, i)", v="getitem_grad(g, v, i)", tangents={"v": "tree_index(t, i)"},
     cases=[Case(((3,), Fixed(1)))])
rule(rt.clip_grad, "clip_grad(v, a, a_min, a_max)", v="clip_grad(g, a, a_min, a_max)",
     tangents={"v": "clip_grad(t, a, a_min, a_max)"},
     cases=[Case(((4,), Fixed(__import__("numpy").array([-2.0, 0.0, 0.5, 3.0])), Fixed(-1.0), Fixed(1.0)))])
rule(rt.cumsum_grad, "cumsum_grad(v, a, axis=None)",
     v="np.cumsum(np.ravel(g)) if axis is None else np.cumsum(g, axis=axis)",
     tangents={"v": "cumsum_grad(t, a, axis)"},
     cases=[Case(((4,), Fixed(__import__("numpy").ones(4)))),
            Case(((2, 3), Fixed(__import__("numpy").ones((2, 3))), Fixed(1)))])
rule(rt.minmax_grad, "minmax_grad(v, a, out, axis=None, keepdims=False)",
     v="np.sum(g * minmax_grad(np.ones_like(v), a, out, axis, keepdims), axis=axis, keepdims=keepdims)",
     tangents={"v": "minmax_grad(t, a, out, axis, keepdims)"},
     cases=[Case(((), Fixed(__import__("numpy").array([1.0, 3.0, 2.0])), Fixed(3.0)))])
