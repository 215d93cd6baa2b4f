"""spread: gast -> gast; the cotangent of a full reduction stays a scalar where it can.

The adjoint of ``s = np.sum(a)`` spreads the scalar ``ds`` over ``a``'s shape
(``sum_grad``; ``mean_grad`` divides by the count as well).  That array is all one
number, and usually the next rule only multiplies it by an array of ``a``'s shape
(``da = d_t0 * x`` for ``_t0 = x * x``), which broadcasting does for free.  Where
every read of the spread cotangent is such an element-wise operation with an array
of that shape (possibly through scalar arithmetic and copies first, ``dg = d_t0``
then ``dg = dg + dh * h``), the pass keeps the scalar and the array is never made: one
allocation and one pass over memory fewer, and often a primal value (``_t0``, read
only for its shape) becomes dead.

Shape classes come from activity analysis: two names of one class certainly have
the same shape.

>>> import gast
>>> from srcdiff.emit import to_source
>>> tree = gast.parse('''
... def grad_f(x):
...     _t0 = x * x
...     d_t0 = mean_grad(1.0, _t0, None, False)
...     dx = d_t0 * 2 * x
...     return dx
... ''').body[0]
>>> print(to_source(keep_scalars(tree, {"x": 1, "_t0": 1})).strip())
def grad_f(x):
    _t0 = x * x
    d_t0 = 1.0 / np.size(x)
    dx = d_t0 * 2 * x
    return dx
"""

from __future__ import annotations

import math
from typing import Any

import gast

from .. import runtime
from ..emit import helper_called, walk
from .activity import SCALAR

__all__ = ["keep_scalars"]

_SPREADS = {runtime.sum_grad: False, runtime.mean_grad: True}  # helper -> divides by the count
_SPREAD_NAMES = frozenset(helper.__name__ for helper in _SPREADS)  # (a quick first look)


def _load(ident: str) -> gast.Name:
    return gast.Name(id=ident, ctx=gast.Load(), annotation=None, type_comment=None)


def _is_number(node: Any) -> bool:
    return (isinstance(node, gast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool))


def _axis(node: Any) -> bool:
    """Whether ``node`` is a literal axis: an int, or a tuple of ints."""
    if isinstance(node, gast.Tuple):
        return all(_axis(e) for e in node.elts)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        node = node.operand
    return isinstance(node, gast.Constant) and type(node.value) is int


def _spread(value: Any) -> tuple | None:
    """(g, a, axis, keepdims, divides) for ``sum_grad(g, a, axis, keepdims)`` or
    ``mean_grad(...)`` with a literal axis (or None) and keepdims."""
    helper = helper_called(value)
    if helper not in _SPREADS or value.keywords or len(value.args) != 4:
        return None
    g, a, axis, keepdims = value.args
    if not (isinstance(a, gast.Name) and isinstance(keepdims, gast.Constant)
            and isinstance(keepdims.value, bool)):
        return None
    if isinstance(axis, gast.Constant) and axis.value is None:
        axis = None
    elif not _axis(axis):
        return None
    return g, a.id, axis, keepdims.value, _SPREADS[helper]


_ELEMENTWISE = (gast.Mult, gast.Div, gast.Add, gast.Sub)


def _materialised(node: gast.AST, parents: dict, cls: int, shapes: dict, loads: dict | None = None,
                  updates: dict | None = None, seen: set | None = None) -> bool:
    """Whether every value computed from the read ``node`` (a scalar standing for an
    array of shape class ``cls``) meets an array of that class before it is used
    (through copies ``a = b`` too, given ``loads`` and the augmented assignments
    ``updates`` of the names)."""
    while True:
        parent = parents.get(node)
        if (loads is not None and isinstance(parent, gast.Assign) and parent.value is node
                and len(parent.targets) == 1 and isinstance(parent.targets[0], gast.Name)):
            # every read of the copy is checked, whichever definition it sees; an
            # update ``copy += e`` must broadcast it to the class too
            copy = parent.targets[0].id
            seen = set() if seen is None else seen
            if copy in seen:
                return True
            seen.add(copy)
            return (all(isinstance(u.op, _ELEMENTWISE) and _covers(u.value, cls, shapes)
                        for u in updates.get(copy, ()))
                    and all(_materialised(n, parents, cls, shapes, loads, updates, seen)
                            for n in loads.get(copy, ())))
        if isinstance(parent, gast.UnaryOp) and isinstance(parent.op, (gast.USub, gast.UAdd)):
            node = parent
            continue
        if not (isinstance(parent, gast.BinOp)
                and isinstance(parent.op, _ELEMENTWISE)):
            return False
        other = parent.right if parent.left is node else parent.left
        if isinstance(parent.op, gast.Div) and parent.left is not node:
            return False  # other / spread: fine too, but rare; not worth the case
        if _is_number(other):
            node = parent  # still one number standing for the whole array
            continue
        return _covers(other, cls, shapes)


def _covers(expr: Any, cls: Any, shapes: dict) -> bool:
    """Whether ``expr`` certainly has a shape that an array of class ``cls``
    broadcasts to: a name of that class, or element-wise arithmetic with one such
    operand (broadcasting takes in every operand's shape)."""
    if isinstance(expr, gast.Name):
        return shapes.get(expr.id) == cls
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, (gast.USub, gast.UAdd)):
        return _covers(expr.operand, cls, shapes)
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, _ELEMENTWISE):
        return _covers(expr.left, cls, shapes) or _covers(expr.right, cls, shapes)
    return False


def keep_scalars(fdef: gast.FunctionDef, shapes: dict, used: list | None = None) -> gast.FunctionDef:
    """Replace a full reduction's spread cotangent by its scalar where every read of it
    meets an array of the reduced value's shape class (``shapes``: name -> class).  A
    known shape's size is written as a number, and noted in ``used``."""
    if not any(isinstance(node, gast.Name) and node.id in _SPREAD_NAMES for node in walk(fdef)):
        return fdef
    stores: dict[str, int] = {}
    loads: dict[str, list] = {}
    updates: dict[str, list] = {}
    parents: dict = {}
    for node in walk(fdef):
        for field in node._fields:
            value = getattr(node, field, None)
            for child in value if type(value) is list else (value,):
                if isinstance(child, gast.AST):
                    parents[child] = node
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                loads.setdefault(node.id, []).append(node)
            else:
                stores[node.id] = stores.get(node.id, 0) + 1
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            updates.setdefault(node.target.id, []).append(node)
    # a name of each class that is defined whenever the adjoint runs: a parameter or a
    # top-level primal assignment, first one first
    representative: dict[int, str] = {}
    top = [a.id for a in fdef.args.args] + [
        s.targets[0].id for s in fdef.body
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)]
    for ident in top:
        if ident in shapes and stores.get(ident, 0) <= 1:
            representative.setdefault(shapes[ident], ident)
    for node in walk(fdef):
        if not (isinstance(node, gast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], gast.Name)):
            continue
        spread = _spread(node.value)
        if spread is None:
            continue
        g, reduced, axis, keepdims, divides = spread
        target = node.targets[0].id
        cls = shapes.get(reduced)
        if cls is None or stores.get(target) != 1 or (cls == SCALAR and axis is not None):
            continue
        if cls != SCALAR and not all(_materialised(n, parents, cls, shapes, loads, updates)
                                     for n in loads.get(target, [])):
            continue
        if cls == SCALAR:
            node.value = g
            continue
        if isinstance(cls, tuple) and divides:  # a shape known when the code was made
            size = gast.Constant(value=math.prod(cls), kind=None)
            if used is not None:
                used.append(True)
        else:  # (a sum's spread reads no size)
            size = _np("size", _load(representative.get(cls, reduced)))
        if axis is None and not keepdims:
            node.value = gast.BinOp(left=g, op=gast.Div(), right=size) if divides else g
            continue
        # the reduced axes put back (as length 1), so that the cotangent broadcasts
        spread_g = g if keepdims or axis is None else _np("expand_dims", g, axis)
        if divides:  # the count of averaged entries: size(a) / size(g)
            spread_g = gast.BinOp(left=spread_g, op=gast.Mult(),
                                  right=gast.BinOp(left=_np("size", g), op=gast.Div(), right=size))
        node.value = spread_g
    return fdef


def _np(attr: str, *args: gast.expr) -> gast.Call:
    return gast.Call(func=gast.Attribute(value=_load("np"), attr=attr, ctx=gast.Load()),
                     args=list(args), keywords=[])
