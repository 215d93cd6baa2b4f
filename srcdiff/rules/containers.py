"""Lists built inside a differentiated function, and iteration over containers."""

import numpy as np

from .. import runtime
from ..ir import Method
from .registry import Case, Fixed, nondifferentiable
from .registry import register_adjoint as rule

# items.append(item): the cotangent of the grown list is split into the old list's and
# the appended item's.
rule(runtime.list_append, "list_append(items, item)",
     items="list_prefix(g)", item="tree_index(g, -1)", tangent="list_append(ditems, ditem)",
     tree_out=True, sparse=True,
     cases=[Case(([(3,), (3,)], (3,))), Case(([()], ()))])
rule(runtime.as_sequence, "as_sequence(x)", x="g", tangents={"x": "t"}, cases=[Case(((3, 2),))])

# x[index] = value, as a new version of x (copy-on-write): the overwritten entries of the
# old x get no cotangent; value gets what reached the entries it was written to (where an
# index repeats, only the last value written there, as NumPy keeps only that one).
rule(runtime.setitem, "setitem(x, index, value)",
     x="setitem_grad_x(g, index)", value="setitem_grad_value(g, index, value)",
     tangent="setitem(dx, index, dvalue)",
     nondiff=("index",), discrete=("index",),
     cases=[Case(((4,), Fixed(1), ())), Case(((3, 4), Fixed((slice(None), 2)), (3,))),
            Case(((3, 4), Fixed(np.array([0, 2])), (4,))), Case(((5,), Fixed(slice(1, 3)), (2,))),
            # repeated entries: NumPy keeps the last value written to each
            Case(((4,), Fixed(np.array([0, 0, 2])), (3,))), Case(((4,), Fixed(np.array([0, 0, 2])), ())),
            Case(((4,), Fixed(np.array([3, -1, 0])), (3,))),
            Case(((3, 4), Fixed((np.array([0, 0]), np.array([1, 1]))), (2,))),
            Case(((3, 4), Fixed((slice(1, None), np.array([2, 0, 2]))), (2, 3))),
            Case(((3, 4), Fixed(np.array([1, 1])), (2, 1))),
            Case(((2, 3, 4), Fixed((np.array([1, 1]), slice(None), np.array([0, 0]))), (3,))),
            Case(((3, 4), Fixed(np.array([[True, False, True, False]] * 3)), ()))])

# x = stack.pop(): only in forward mode (tangents are popped from the tangent list in
# step), which is what differentiating a generated gradient that saved values needs.
# A reverse-mode rule would have to undo the mutation; there is none, so grad of such
# code reports it instead of guessing.
rule(Method("pop"), "pop(self)", tangents={"self": "t.pop()"}, reverse=False, cases=())

# A method that changes its receiver, as a new value (desugar spells y.sort() as
# y = sort_value(y), marked as a write into y, which the effects pass checks like y += v).
# sort: the cotangent goes back to where each entry came from (the order is locally
# constant); for a list, in sorted()'s stable order.
rule(runtime.sort_value, "sort_value(a, axis=-1, kind=None)", a="sort_value_grad(g, a, axis)",
     tangents={"a": "sort_value_tangent(t, a, axis)"}, tree_out=True, sparse=True,
     nondiff=("axis", "kind"), discrete=("axis", "kind"),
     cases=[Case(((5,),)), Case(((3, 4),), {"axis": Fixed(0)}), Case(((5,),), {"kind": Fixed("stable")}),
            Case(([(), (), ()],))])
# fill: every entry is the value, whose cotangent is the sum of the array's.
rule(runtime.array_fill, "array_fill(a, value)", value="unbroadcast(g, value)",
     tangents={"value": "array_fill(a, t)"},
     nondiff=("a",),
     cases=[Case((Fixed(np.ones((2, 3))), ())), Case((Fixed(np.ones(4)), ()))])
# extend: the grown list's cotangent is split into the old list's and the added entries'.
rule(runtime.list_extend, "list_extend(items, more)", items="list_head(g, items)",
     more="list_tail(g, items, more)", tangent="list_extend(ditems, dmore)", tree_out=True, sparse=True,
     cases=[Case(([(3,), ()], [(), (2,)])), Case(([()], (3,))), Case(([()], [])), Case(([], [()]))])
rule(runtime.list_reversed, "list_reversed(items)", items="list_reversed(g)",
     tangents={"items": "list_reversed(t)"}, tree_out=True, sparse=True,
     cases=[Case(([(3,), (), ()],)), Case(([(2,)],))])
# insert: the entry put in gets its own cotangent, the others theirs.
rule(runtime.list_insert, "list_insert(items, i, item)", items="list_delete(g, items, i)",
     item="list_entry(g, items, i)", tangent="list_insert(ditems, i, ditem)", tree_out=True, sparse=True,
     nondiff=("i",), discrete=("i",),
     cases=[Case(([(3,), ()], Fixed(1), ())), Case(([(), ()], Fixed(-1), (2,))),
            Case(([()], Fixed(5), ())), Case(([(), ()], Fixed(-7), ())), Case(([], Fixed(0), ()))])
# clear: an empty container carries no derivative (only x's type is read, like
# np.empty_like's a).
nondifferentiable(runtime.cleared, signature="cleared(x)", discrete=("x",),
                  cases=[Case((Fixed([np.ones(3), 2.0]),)), Case((Fixed({"a": 1.0}),))])
