"""Undoing NumPy broadcasting: a cotangent summed (or broadcast) back to its value's shape.

The adjoint of an operation that broadcasts its arguments sums its cotangent back with
:func:`unbroadcast`; most runtime modules build on this one.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def unbroadcast(g: Any, x: Any) -> Any:
    """``g`` summed (or broadcast) to the shape of ``x``: undoes NumPy broadcasting.

    >>> unbroadcast(np.ones((2, 3)), np.ones(3)).tolist()
    [2.0, 2.0, 2.0]
    >>> unbroadcast(np.ones((2, 3)), np.ones((2, 1))).tolist()
    [[3.0], [3.0]]
    """
    try:
        shape = x.shape
        if g.shape == shape:  # the common case, first and short
            return g
    except AttributeError:
        shape = getattr(x, "shape", None)
        if shape is None:
            shape = np.shape(x)  # Python scalars, lists
    return unbroadcast_to(g, shape)


def unbroadcast_to(g: Any, shape: tuple) -> Any:
    """``unbroadcast`` given the shape rather than the value: what a loop's adjoint
    uses where the primal iteration kept only a value's shape.

    >>> unbroadcast_to(np.ones((2, 3)), (1, 3)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    gshape = getattr(g, "shape", ())
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = g.sum(axis=0) if extra == 1 else g.sum(axis=tuple(range(extra)))
        gshape = gshape[extra:]
    elif extra < 0 and np.ndim(g):  # fewer axes than the target: leading axes of length 1
        g = np.reshape(g, (1,) * -extra + tuple(gshape))
        gshape = g.shape
    if len(gshape) == len(shape):
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and gshape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
            gshape = g.shape
    if gshape != shape:
        g = np.array(np.broadcast_to(g, shape))  # a writable array, not a read-only view
    return g
