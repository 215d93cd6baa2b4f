"""Functions whose results carry no gradient: shapes, sizes, indices, comparisons,
rounding, constructors of constant arrays.  A function missing from this list and
from the rules is an error when a differentiated value reaches it, never a silent zero.

Each declaration spells how the function is called, so the registry test can check
that every float parameter declared here really has a zero derivative (the result does
not move under a small perturbation; piecewise-constant functions are sampled away from
their jumps, which random floats are almost surely).  ``discrete`` lists, for review,
the parameters that take ints, bools, shapes or dtypes by nature and are not perturbed;
``opaque`` marks results that are not numbers (strings, types, identities).

Functions that pass values through (``np.linspace``, ``np.arange``, ``np.unique``,
``np.bincount``'s weights, ``enumerate``) are not here: they have rules.
"""

import builtins
import io
import math
import operator

import numpy as np

from .registry import POSITIVE, Case, Domain, Fixed, nondifferentiable, refuse, refuse_receiver


def _declare(*fns, signature, **how):
    nondifferentiable(*fns, signature=signature, **how)


_A = np.ones((2, 3))  # an array whose shape a constructor copies
_SHAPE = (Case((Fixed(3),)), Case((Fixed((2, 3)),)))

# constant arrays
# (np.full and np.full_like are not here: their fill value carries a gradient)
_declare(np.zeros, np.ones, np.empty, signature="f(shape, dtype=float)", discrete=("shape", "dtype"),
         cases=_SHAPE)
_declare(np.zeros_like, np.ones_like, signature="f(a, dtype=None)", discrete=("dtype",))
# (np.empty_like's entries are whatever memory held: only a's shape and dtype are read)
_declare(np.empty_like, signature="f(a, dtype=None)", discrete=("a", "dtype"),
         cases=[Case((Fixed(_A),))])
_declare(np.eye, np.identity, np.tri, signature="f(N)", discrete=("N",), cases=[Case((Fixed(3),))])

# shapes and sizes
_declare(np.shape, np.ndim, np.size, np.result_type, signature="f(a)")

# indices and searching
_declare(np.argmax, np.argmin, np.argsort, signature="f(a, axis=None)",
         cases=[Case(((5,),)), Case(((2, 3),), {"axis": Fixed(1)})], discrete=("axis",))
_declare(np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, signature="f(a)",
         cases=[Case(((3,),)), Case(((2, 3),))])


class _Sorted(Domain):
    """Increasing samples: the bins of np.searchsorted and np.digitize."""

    def sample(self, rng, shape):
        return np.sort(super().sample(rng, shape), axis=None).reshape(shape)


_SORTED = _Sorted(-2.0, 2.0)
_declare(np.searchsorted, signature="f(a, v)", domain={"a": _SORTED},
         cases=[Case(((5,), ())), Case(((5,), (3,)))])
_declare(np.digitize, signature="f(x, bins)", domain={"bins": _SORTED},
         cases=[Case(((), (5,))), Case(((3,), (5,)))])

# piecewise-constant functions: derivative zero almost everywhere
_declare(np.sign, np.floor, np.ceil, np.rint, np.trunc, np.fix, signature="f(x)")
_declare(np.round, np.around, signature="f(a, decimals=0)", discrete=("decimals",),
         cases=[Case(((3,),)), Case(((2, 3), Fixed(1)))])
_declare(np.floor_divide, signature="f(x1, x2)", domain={"x2": POSITIVE})
_declare(np.heaviside, signature="f(x1, x2)")  # x2 matters only where x1 == 0

# predicates and comparisons
_declare(np.isnan, np.isinf, np.isfinite, np.signbit, np.all, np.any, np.logical_not,
         signature="f(x)")
_declare(np.isclose, np.allclose, np.array_equal, np.equal, np.not_equal, np.less,
         np.less_equal, np.greater, np.greater_equal, np.logical_and, np.logical_or,
         np.logical_xor, signature="f(a, b)")
_declare(builtins.len, signature="f(obj)", cases=[Case(((3,),)), Case(((2, 3),))])
_declare(builtins.int, builtins.bool, builtins.round, math.floor, math.ceil, math.trunc,
         math.isnan, math.isinf, math.isfinite, signature="f(x)", cases=[Case(((),))])
_declare(builtins.isinstance, signature="f(obj, cls)", cases=[Case(((), Fixed(float)))],
         discrete=("cls",))
_declare(builtins.type, signature="f(obj)", cases=[Case(((),)), Case(((3,),))])
_declare(builtins.str, builtins.repr, builtins.id, builtins.hash, signature="f(obj)",
         cases=[Case(((),))], opaque=True)
_declare(builtins.print, signature="f(value, file=None)", opaque=True,
         cases=[Case(((),), {"file": Fixed(io.StringIO())})],
         discrete=("file",))
_declare(builtins.range, builtins.slice, signature="f(start, stop=None, step=None)",
         discrete=("start", "stop", "step"), cases=[Case((Fixed(1), Fixed(4)))])
_declare(math.isclose, signature="f(a, b)", cases=[Case(((), ()))])
_declare(operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
         operator.is_, operator.is_not, signature="f(a, b)")
_declare(operator.floordiv, signature="f(a, b)", domain={"b": POSITIVE})
_declare(operator.not_, operator.truth, signature="f(a)", cases=[Case(((),))])
_declare(operator.contains, signature="f(a, b)", cases=[Case(((3,), ()))])
_declare(operator.and_, operator.or_, operator.xor, signature="f(a, b)", discrete=("a", "b"),
         cases=[Case((Fixed(6), Fixed(3)))])
_declare(operator.invert, signature="f(a)", discrete=("a",), cases=[Case((Fixed(6),))])
_declare(math.factorial, signature="f(n)", discrete=("n",), cases=[Case((Fixed(4),))])
_declare(math.comb, math.gcd, signature="f(a, b)", discrete=("a", "b"),
         cases=[Case((Fixed(6), Fixed(4)))])

# Functions and objects that pass values through but have no rule: a differentiated
# value reaching them is refused, with what to write instead.
refuse(np.logspace, "write base ** np.linspace(start, stop, num), which srcdiff differentiates")
refuse(builtins.enumerate, "iterate it directly: for i, v in enumerate(x, start) (or a "
       "comprehension over it); to index, write range(len(x)) and x[i]")
refuse_receiver(type(np.r_).__mro__[1],  # AxisConcatenator: np.r_ and np.c_
                "join arrays with np.concatenate([x, y]) (np.r_) or np.column_stack([x, y]) (np.c_)")
refuse_receiver(type(np.mgrid).__mro__[1],  # nd_grid: np.mgrid and np.ogrid
                "build the grid with np.linspace and np.meshgrid")
refuse_receiver(type(np.s_), "index with the values themselves (x[i]), not with np.s_/np.index_exp")
