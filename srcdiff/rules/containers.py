"""Lists built inside a differentiated function, and iteration over containers."""

from .. import runtime
from .registry import Case, register_adjoint as rule

# items.append(item): the cotangent of the grown list is split into the old list's and
# the appended item's.
rule(runtime.list_append, "list_append(items, item)",
     items="list_prefix(g)", item="tree_index(g, -1)",
     tree_out=True, sparse=True,
     cases=[Case(([(3,), (3,)], (3,))), Case(([()], ()))])
rule(runtime.as_sequence, "as_sequence(x)", x="g", cases=[Case(((3, 2),))])
