"""Functions that move entries around without changing them: their adjoints move the
cotangent back, and their tangents move the tangent as the function moves the values."""

import numpy as np

from ..ir import Method
from .registry import Case, Domain, Fixed
from .registry import register_adjoint as rule

_BACK = "np.reshape(g, np.shape(a))"
_RESHAPED = {"a": "np.reshape(t, np.shape(out))"}
# order="F" reads a (and writes the result) in Fortran index order: the cotangent goes
# back in that same order.  "A" and "K" name C or F by a's memory layout, which srcdiff
# does not keep: the fence refuses them where the call spells the order, and memory_order
# takes them where the two orders agree (and stops elsewhere) in calls it cannot see.
# The tests on order fold away when the call spells it as a literal.
_BACK_IN_ORDER = ("np.reshape(g, np.shape(a)) if order == 'C' else "
                  "np.reshape(g, np.shape(a), order='F') if order == 'F' else "
                  "np.reshape(g, np.shape(a), order=memory_order(a, order, np.shape(out)))")
_RESHAPED_IN_ORDER = {"a": "np.reshape(t, np.shape(out)) if order == 'C' else "
                           "np.reshape(t, np.shape(out), order='F') if order == 'F' else "
                           "np.reshape(t, np.shape(out), order=memory_order(a, order, np.shape(out)))"}
_ORDER_CASES = [Case(((2, 3), Fixed((3, 2))), {"order": Fixed("F")}),
                Case(((2, 3, 2), Fixed((4, 3))), {"order": Fixed("F")}),
                Case(((2, 3), Fixed((3, 2, 1)), Fixed("F"))), Case(((2, 3), Fixed(6), Fixed("C")))]
rule(np.reshape, "reshape(a, shape=None, order='C', newshape=None)", a=_BACK_IN_ORDER,
     tangents=_RESHAPED_IN_ORDER,
     nondiff=("shape", "order", "newshape"), discrete=("shape", "order", "newshape"),
     cases=[Case(((2, 3), Fixed((3, 2)))), Case(((2, 3), Fixed(-1)))] + _ORDER_CASES)
rule(np.ravel, "ravel(a, order='C')", a=_BACK_IN_ORDER, tangents=_RESHAPED_IN_ORDER,
     nondiff=("order",), discrete=("order",),
     cases=[Case(((2, 3),)), Case(((2, 3), Fixed("F"))), Case(((2, 3, 2),), {"order": Fixed("F")})])
rule(np.expand_dims, "expand_dims(a, axis)", a=_BACK, tangents=_RESHAPED,
     nondiff=("axis",), discrete=("axis",),
     cases=[Case(((3,), Fixed(0))), Case(((2, 3), Fixed(-1)))])
rule(np.squeeze, "squeeze(a, axis=None)", a=_BACK, tangents=_RESHAPED,
     nondiff=("axis",), discrete=("axis",),
     cases=[Case(((1, 3, 1),)), Case(((1, 3),), {"axis": Fixed(0)})])
for _fn in (np.atleast_1d, np.atleast_2d, np.atleast_3d):
    rule(_fn, f"{_fn.__name__}(a)", a=_BACK, tangents=_RESHAPED, cases=[Case(((),)), Case(((3,),))])
rule(np.transpose, "transpose(a, axes=None)",
     a="np.transpose(g) if axes is None else np.transpose(g, np.argsort(axes))",
     tangents={"a": "np.transpose(t, axes)"},
     nondiff=("axes",), discrete=("axes",),
     cases=[Case(((2, 3),)), Case(((2, 3, 4), Fixed((1, 2, 0))))])
rule(np.swapaxes, "swapaxes(a, axis1, axis2)", a="np.swapaxes(g, axis1, axis2)",
     tangents={"a": "np.swapaxes(t, axis1, axis2)"}, nondiff=("axis1", "axis2"), discrete=("axis1", "axis2"),
     cases=[Case(((2, 3, 4), Fixed(0), Fixed(2)))])
rule(np.moveaxis, "moveaxis(a, source, destination)", a="np.moveaxis(g, destination, source)",
     tangents={"a": "np.moveaxis(t, source, destination)"},
     nondiff=("source", "destination"), discrete=("source", "destination"),
     cases=[Case(((2, 3, 4), Fixed(0), Fixed(-1)))])
rule(np.broadcast_to, "broadcast_to(array, shape)", array="unbroadcast(g, array)",
     tangents={"array": "np.broadcast_to(t, shape)"},
     nondiff=("shape",), discrete=("shape",),
     cases=[Case(((3,), Fixed((2, 3)))), Case(((2, 1), Fixed((2, 4))))])
rule(np.flip, "flip(m, axis=None)", m="np.flip(g, axis)", tangents={"m": "np.flip(t, axis)"},
     nondiff=("axis",), discrete=("axis",),
     cases=[Case(((4,),)), Case(((2, 3),), {"axis": Fixed(1)})])
rule(np.fliplr, "fliplr(m)", m="np.fliplr(g)", tangents={"m": "np.fliplr(t)"}, cases=[Case(((2, 3),))])
rule(np.flipud, "flipud(m)", m="np.flipud(g)", tangents={"m": "np.flipud(t)"}, cases=[Case(((2, 3),))])
rule(np.roll, "roll(a, shift, axis=None)", a="np.roll(g, np.negative(shift), axis)",
     tangents={"a": "np.roll(t, shift, axis)"},
     nondiff=("shift", "axis"), discrete=("shift", "axis"),
     cases=[Case(((5,), Fixed(2))), Case(((2, 3), Fixed(1)), {"axis": Fixed(1)})])
rule(np.copy, "copy(a, order='K')", a="g", tangents={"a": "t"}, nondiff=("order",), discrete=("order",),
     cases=[Case(((3,),))])
rule(np.tril, "tril(m, k=0)", m="np.tril(g, k)", tangents={"m": "np.tril(t, k)"},
     nondiff=("k",), discrete=("k",),
     cases=[Case(((3, 3),)), Case(((3, 4), Fixed(1)))])
rule(np.triu, "triu(m, k=0)", m="np.triu(g, k)", tangents={"m": "np.triu(t, k)"},
     nondiff=("k",), discrete=("k",),
     cases=[Case(((3, 3),)), Case(((3, 4), Fixed(-1)))])
rule(np.diag, "diag(v, k=0)", v="diag_grad(g, v, k)", tangents={"v": "np.diag(t, k)"},
     nondiff=("k",), discrete=("k",),
     cases=[Case(((3,),)), Case(((3, 3),)), Case(((3, 4), Fixed(1)))])
rule(np.sort, "sort(a, axis=-1)", a="sort_grad(g, a, axis)", tangents={"a": "sort_tangent(t, a, axis)"},
     nondiff=("axis",), discrete=("axis",),
     cases=[Case(((5,),)), Case(((3, 4),), {"axis": Fixed(0)})])

rule(np.diagonal, "diagonal(a, offset=0, axis1=0, axis2=1)",
     a="diagonal_grad(g, a, offset, axis1, axis2)", tangents={"a": "np.diagonal(t, offset, axis1, axis2)"},
     nondiff=("offset", "axis1", "axis2"), discrete=("offset", "axis1", "axis2"),
     cases=[Case(((3, 3),)), Case(((3, 4), Fixed(1))), Case(((4, 3), Fixed(-1))),
            Case(((2, 3, 4),), {"axis1": Fixed(1), "axis2": Fixed(2)}),
            Case(((3, 2, 3), Fixed(0), Fixed(2), Fixed(0)))])
rule(np.tile, "tile(A, reps)", A="tile_grad(g, A, reps)", tangents={"A": "np.tile(t, reps)"},
     nondiff=("reps",), discrete=("reps",),
     cases=[Case(((3,), Fixed(2))), Case(((2, 3), Fixed((2, 1)))), Case(((3,), Fixed((2, 2)))),
            Case(((2, 1, 3), Fixed((2, 1, 2)))), Case(((), Fixed(3)))])
rule(np.repeat, "repeat(a, repeats, axis=None)", a="repeat_grad(g, a, repeats, axis)",
     tangents={"a": "np.repeat(t, repeats, axis)"},
     nondiff=("repeats", "axis"), discrete=("repeats", "axis"),
     cases=[Case(((3,), Fixed(2))), Case(((2, 3), Fixed(2))), Case(((2, 3), Fixed(2), Fixed(1))),
            Case(((3,), Fixed([2, 0, 3]))), Case(((2, 3), Fixed(np.array([1, 0, 3])), Fixed(1))),
            Case(((2, 3), Fixed(np.array([2])), Fixed(0)))])
rule(np.pad, "pad(array, pad_width, mode='constant', constant_values=0)",
     array="pad_grad(g, array, pad_width, mode)",
     constant_values="pad_grad_value(g, array, pad_width, mode, constant_values)",
     tangent="pad_tangent(darray, pad_width, mode, dconstant_values)",
     nondiff=("pad_width", "mode"), discrete=("pad_width", "mode"),
     cases=[Case(((3,), Fixed(2))), Case(((2, 3), Fixed(((1, 0), (2, 1))))),
            Case(((2, 3), Fixed((1, 2)))), Case(((2, 3), Fixed(1)), {"constant_values": ()})])

# Joining: the sequence argument's cotangent is a list, one entry per joined array.
rule(np.concatenate, "concatenate(arrays, axis=0)", arrays="unconcatenate(g, arrays, axis)",
     tangents={"arrays": "np.concatenate(t, axis)"}, seq=("arrays",),
     nondiff=("axis",), discrete=("axis",),
     cases=[Case(([(2,), (3,)],)), Case(([(2, 3), (2, 2)],), {"axis": Fixed(1)}),
            Case(([(2, 3), (1, 3)],), {"axis": Fixed(None)})])
rule(np.stack, "stack(arrays, axis=0)", arrays="unstack(g, axis)", tangents={"arrays": "np.stack(t, axis)"},
     seq=("arrays",),
     nondiff=("axis",), discrete=("axis",),
     cases=[Case(([(), (), ()],)), Case(([(3,), (3,)],), {"axis": Fixed(1)})])
rule(np.vstack, "vstack(tup)", tup="unjoin(g, tup, 0, 2)", tangents={"tup": "np.vstack(t)"}, seq=("tup",),
     cases=[Case(([(3,), (3,)],)), Case(([(2, 3), (1, 3)],))])
rule(np.hstack, "hstack(tup)", tup="unjoin(g, tup, 0 if np.ndim(tup[0]) <= 1 else 1, 1)",
     tangents={"tup": "np.hstack(t)"}, seq=("tup",), cases=[Case(([(3,), (2,)],)), Case(([(2, 3), (2, 1)],))])
rule(np.column_stack, "column_stack(tup)", tup="unjoin(g, tup, 1, 2, True)",
     tangents={"tup": "np.column_stack(t)"}, seq=("tup",),
     cases=[Case(([(3,), (3,)],)), Case(([(3, 2), (3,)],))])
rule(np.array, "array(object, dtype=None)",
     object="unstack(g, 0) if isinstance(object, (list, tuple)) else g",
     tangents={"object": "np.array(t) if isinstance(object, (list, tuple)) else t"},
     seq=("object",), nondiff=("dtype",), discrete=("dtype",),
     cases=[Case(([(), ()],)), Case(([(3,), (3,)],)), Case(((2, 3),))])
rule(np.asarray, "asarray(a, dtype=None)",
     a="unstack(g, 0) if isinstance(a, (list, tuple)) else g",
     tangents={"a": "np.array(t) if isinstance(a, (list, tuple)) else t"},
     seq=("a",), nondiff=("dtype",), discrete=("dtype",), cases=[Case(([(), ()],)), Case(((2, 3),))])

# Methods srcdiff cannot turn into a NumPy function call.
rule(Method("astype"), "astype(self, dtype)",
     self="g if np.issubdtype(dtype, np.inexact) else np.zeros_like(self)",
     nondiff=("dtype",), discrete=("dtype",),
     cases=[Case(((3,), Fixed(np.float64)))])
rule(Method("item"), "item(self)", self="np.zeros_like(self, dtype=float) + g",
     tangents={"self": "np.sum(t)"}, cases=[Case(((1,),))])
# x.copy() of an array, a list or a dict: the copy's cotangent is the original's.
rule(Method("copy"), "copy(self)", self="g", tangents={"self": "t"}, cases=[Case(((3,),)), Case(((2, 3),))])

# Constant arrays whose fill value is differentiated: every entry is that value.
rule(np.full, "full(shape, fill_value, dtype=None)", fill_value="unbroadcast(g, fill_value)",
     tangents={"fill_value": "np.full(shape, t, dtype)"},
     nondiff=("shape", "dtype"), discrete=("shape", "dtype"),
     cases=[Case((Fixed((2, 3)), ())), Case((Fixed((2, 3)), (3,))), Case((Fixed(4), ()))])
rule(np.full_like, "full_like(a, fill_value, dtype=None)", fill_value="unbroadcast(g, fill_value)",
     tangents={"fill_value": "np.full_like(a, t, dtype)"},
     nondiff=("a", "dtype"), discrete=("dtype",),
     cases=[Case((Fixed(np.ones((2, 3))), ())), Case((Fixed(np.ones((2, 3))), (1, 3)))])

# Splitting: the result is a list; its cotangent holds None for pieces that got none.
rule(np.split, "split(ary, indices_or_sections, axis=0)",
     ary="unsplit(g, ary, indices_or_sections, axis)", tangent="np.split(dary, indices_or_sections, axis)",
     tree_out=True,
     nondiff=("indices_or_sections", "axis"), discrete=("indices_or_sections", "axis"),
     cases=[Case(((6,), Fixed(3))), Case(((2, 6), Fixed([1, 4]), Fixed(1))), Case(((4, 3), Fixed(2)))])
rule(np.array_split, "array_split(ary, indices_or_sections, axis=0)",
     ary="unsplit(g, ary, indices_or_sections, axis)",
     tangent="np.array_split(dary, indices_or_sections, axis)", tree_out=True,
     nondiff=("indices_or_sections", "axis"), discrete=("indices_or_sections", "axis"),
     cases=[Case(((7,), Fixed(3))), Case(((3, 5), Fixed(2), Fixed(1))), Case(((5,), Fixed([2, 3])))])
# np.meshgrid(*xi) for one to three inputs (a result tuple, one grid per input).  Each
# grid repeats one input, so the grids' tangents are the grids of the tangents.
rule(np.meshgrid, "meshgrid(x, y=None, z=None, copy=True, sparse=False, indexing='xy')",
     x="meshgrid_grad(g, (x, y, z), 0, copy, indexing)",
     y="meshgrid_grad(g, (x, y, z), 1, copy, indexing)",
     z="meshgrid_grad(g, (x, y, z), 2, copy, indexing)",
     tangent="np.meshgrid(dx, dy, dz, copy=copy, sparse=sparse, indexing=indexing) if z is not None "
             "else np.meshgrid(dx, dy, copy=copy, sparse=sparse, indexing=indexing) if y is not None "
             "else np.meshgrid(dx, copy=copy, sparse=sparse, indexing=indexing)",
     tree_out=True,
     nondiff=("copy", "sparse", "indexing"), discrete=("copy", "sparse", "indexing"),
     cases=[Case(((3,), (4,))), Case(((3,), (4,)), {"indexing": Fixed("ij")}),
            Case(((2,), (3,), (4,))), Case(((2,), (3,), (4,)), {"indexing": Fixed("ij")}),
            Case(((3,), (2,)), {"sparse": Fixed(True)}), Case(((2, 2), ())), Case(((3,),))])

# Evenly spaced values.  linspace(start, stop) is start (1 - w) + stop w with w = k / (num - 1)
# (k / num without the endpoint; w = 0 for the single value of num=1): affine in start and
# stop, and w is linspace(0, 1) itself.  num, endpoint and axis only place the values.
# retstep and dtype are covered at their defaults only (the placeholders _retstep, _dtype):
# a tuple result or an integer dtype is refused.
_W = "np.linspace(0 * start, 0 * stop + 1.0, num, endpoint=endpoint, axis=axis)"
_SPACED = "(start, stop, num=50, endpoint=True, _retstep=False, _dtype=None, axis=0)"
rule(np.linspace, "linspace" + _SPACED,
     start=f"unbroadcast(np.sum(g * (1 - {_W}), axis=axis), start)",
     stop=f"unbroadcast(np.sum(g * {_W}, axis=axis), stop)",
     tangents={"start": "np.linspace(t, 0 * stop, num, endpoint=endpoint, axis=axis)",
               "stop": "np.linspace(0 * start, t, num, endpoint=endpoint, axis=axis)"},
     nondiff=("num", "endpoint", "axis"), discrete=("num", "endpoint", "axis"),
     cases=[Case(((), (), Fixed(5))), Case(((), ()), {"num": Fixed(4), "endpoint": Fixed(False)}),
            Case(((), (), Fixed(1))), Case(((3,), (), Fixed(4))),
            Case(((2, 1), (3,), Fixed(4)), {"axis": Fixed(-1)})])
# arange(start, stop, step) is start + k step, k = 0 .. count - 1: the count moves only
# where it jumps, so stop has derivative zero almost everywhere.  Called with one
# argument, that argument is the stop (its parameter here is start): zero as well.
rule(np.arange, "arange(start, stop=None, step=None, _dtype=None)",
     start="np.sum(g) + 0 * start if stop is not None else 0 * start",
     step="np.sum(g * np.arange(np.size(out)))",
     tangents={"start": "t + 0 * out if stop is not None else 0 * out",
               "step": "t * np.arange(np.size(out))"},
     nondiff=("stop",), domain={"start": Domain(-2.0, 2.0), "stop": Domain(3.5, 6.0),
                                "step": Domain(0.6, 2.0)},
     cases=[Case(((), ())), Case(((), (), ())), Case(((),)), Case(((),), {"stop": Fixed(4.5)})])

# unique values: for distinct entries, the sorted entries (see runtime.unique_grad for
# repeated ones, where each unique value moves by the mean of its copies).  The forms
# returning indices, inverse or counts (a tuple) are refused (no such parameter here).
rule(np.unique, "unique(ar)", ar="unique_grad(g, ar)", tangents={"ar": "unique_tangent(t, ar)"},
     cases=[Case(((5,),)), Case(((2, 3),))])
