"""Functions whose results carry no gradient: shapes, sizes, indices, comparisons,
rounding, constructors of constant arrays.  A function missing from this list and
from the rules is an error when a differentiated value reaches it, never a silent zero.
"""

import builtins
import math
import operator

import numpy as np

from .registry import nondifferentiable

nondifferentiable(
    # constant arrays
    # (np.full and np.full_like are not here: their fill value carries a gradient)
    np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like,
    np.arange, np.linspace, np.logspace, np.eye, np.identity, np.tri,
    # shapes and sizes
    np.shape, np.ndim, np.size, np.result_type,
    # indices and searching
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero,
    np.searchsorted, np.digitize, np.unique, np.bincount, np.count_nonzero,
    # piecewise-constant functions: derivative zero almost everywhere
    np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix,
    np.floor_divide, np.heaviside,
    # predicates and comparisons
    np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.all, np.any, np.equal, np.not_equal, np.less, np.less_equal, np.greater,
    np.greater_equal, np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.signbit,
    builtins.len, builtins.int, builtins.bool, builtins.range, builtins.isinstance,
    builtins.type, builtins.round, builtins.str, builtins.repr, builtins.print,
    builtins.enumerate, builtins.id, builtins.hash, builtins.slice,
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.truth, operator.floordiv, operator.and_, operator.or_,
    operator.xor, operator.invert, operator.is_, operator.is_not, operator.contains,
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite,
    math.isclose, math.factorial, math.comb, math.gcd,
)
