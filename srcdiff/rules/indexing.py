"""Reading entries by index: ``x[i]``, ``x[1:3, ::-1]``, ``x[idx]``, ``x[mask]``."""

import operator

import numpy as np

from .registry import Case, Fixed
from .registry import register_adjoint as rule

rule(
    operator.getitem, "getitem(x, index)",
    # Repeated integer indices sum their cotangents (np.add.at), like JAX and unlike
    # plain assignment, which would keep only the last one.
    x="getitem_grad(g, x, index)",
    tangents={"x": "t[index]"},
    nondiff=("index",), discrete=("index",),
    cases=[
        Case(((5,), Fixed(2))),
        Case(((5,), Fixed(-1))),
        Case(((5,), Fixed(slice(1, 4)))),
        Case(((5,), Fixed(slice(None, None, -1)))),
        Case(((5,), Fixed(slice(4, 0, -2)))),
        Case(((5,), Fixed(np.array([0, 2, 2, 4])))),
        Case(((5,), Fixed(np.array([True, False, True, True, False])))),
        Case(((3, 4), Fixed((1, slice(None))))),
        Case(((3, 4), Fixed((slice(None), -1)))),
        Case(((3, 4), Fixed((np.array([0, 1, 1]), np.array([3, 2, 2]))))),
        Case(((3, 4), Fixed((Ellipsis, None, slice(1, 3))))),
        Case(((3, 4), Fixed(np.array([[True, False, True, False]] * 3)))),
    ],
)
rule(np.take, "take(a, indices, axis=None)", a="take_grad(g, a, indices, axis)",
     tangents={"a": "np.take(t, indices, axis=axis)"},
     nondiff=("indices", "axis"), discrete=("indices", "axis"),
     cases=[Case(((5,), Fixed(np.array([0, 3, 3])))),
            Case(((3, 4), Fixed(np.array([1, 1, 0]))), {"axis": Fixed(1)})])
