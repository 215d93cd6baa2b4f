"""Lists built inside a differentiated function, and iteration over containers."""

import numpy as np

from .. import runtime
from ..ir import Method
from .registry import Case, Fixed
from .registry import register_adjoint as rule

# items.append(item): the cotangent of the grown list is split into the old list's and
# the appended item's.
rule(runtime.list_append, "list_append(items, item)",
     items="list_prefix(g)", item="tree_index(g, -1)",
     tree_out=True, sparse=True,
     cases=[Case(([(3,), (3,)], (3,))), Case(([()], ()))])
rule(runtime.as_sequence, "as_sequence(x)", x="g", cases=[Case(((3, 2),))])

# x[index] = value, as a new version of x (copy-on-write): the overwritten entries of the
# old x get no cotangent; value gets what reached the entries it was written to (where an
# index repeats, only the last value written there, as NumPy keeps only that one).
rule(runtime.setitem, "setitem(x, index, value)",
     x="setitem_grad_x(g, index)", value="setitem_grad_value(g, index, value)",
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
