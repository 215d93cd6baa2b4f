"""unbroadcast: an adjoint template's ``unbroadcast`` calls removed where shapes decide them.

A rule's adjoint returns its argument's cotangent through ``unbroadcast(e, x)``:
``e``, of the result's shape, summed over the axes broadcasting added to ``x``.
Where the shape analysis (:func:`srcdiff.passes.activity.shape_classes`) shows that ``x`` has the
result's shape, that is ``e`` itself; where it knows both shapes, it is a sum over
axes written out.  Anything else keeps the call, which decides when the code runs.

The reverse pass applies it to each adjoint template as it instantiates it, not to
the finished function: the shape that decides is that of the template's statement's
result, and what the sweep builds next depends on the simpler form (which values a
loop saves, where a name read only by a dropped ``unbroadcast`` need not be kept; the
matrix products and rows a loop adds up after it; temporaries for shared cotangents).

>>> import ast
>>> from srcdiff.passes.activity import Activity
>>> shapes = {"out": (32, 10), "h": (32, 10), "b": (10,), "c": 7}  # (7: a class, shape unknown)
>>> act = Activity(frozenset(), frozenset(), frozenset(), {}, {}, shapes=shapes)
>>> show = lambda e: print(ast.unparse(gast.gast_to_ast(e)))
>>> template = lambda x: gast.parse(f"unbroadcast(g * w, {x})").body[0].value
>>> used = []
>>> show(drop(template("h"), act, "out", used))  # the result's shape
g * w
>>> show(drop(template("b"), act, "out", used))  # both shapes known
(g * w).sum(axis=0)
>>> show(drop(template("c"), act, "out", used))  # decided when the code runs
unbroadcast(g * w, c)
>>> used  # the sum over axis 0 holds for these shapes only
[True]
"""

from __future__ import annotations

from typing import Any

import gast

from .. import runtime
from ..emit import calls, walk
from .activity import Activity

__all__ = ["drop"]


def drop(expr: gast.expr, act: Activity, target: str, used: list) -> gast.expr:
    """``expr``, an adjoint of the statement assigning ``target``, with each
    ``unbroadcast(e, x)`` replaced by ``e`` where ``x`` has ``target``'s shape, and by
    the sum over the broadcast axes where both shapes are known (which makes the code
    hold for these shapes only: an entry appended to ``used``)."""
    if not any(isinstance(node, gast.Name) and node.id == "unbroadcast" for node in walk(expr)):
        return expr  # (most templates: no walk that rebuilds the tree)
    return _Unbroadcast(act, target, used).visit(expr)


class _Unbroadcast(gast.NodeTransformer):
    """``drop`` for one statement's ``target``."""

    def __init__(self, act: Activity, target: str, used: list):
        self.act, self.target, self.used = act, target, used

    def visit_Call(self, node: gast.Call) -> gast.expr:
        self.generic_visit(node)
        if (calls(node, runtime.unbroadcast)
                and len(node.args) == 2 and isinstance(node.args[1], gast.Name)):
            act, target = self.act, self.target
            if act.same_shape(node.args[1].id, target):
                return node.args[0]
            summed = _summed(node.args[0], act.shapes.get(target), act.shapes.get(node.args[1].id))
            if summed is not None:
                self.used.append(True)
                return summed
        return node


def _summed(g: gast.expr, shape: Any, to: Any) -> gast.expr | None:
    """``g`` (of ``shape``) summed over the axes broadcasting added to ``to``, when both
    shapes are known (tuples) and ``to`` broadcasts to ``shape``; None otherwise.

    >>> import ast
    >>> from srcdiff.emit import name
    >>> print(ast.unparse(gast.gast_to_ast(_summed(name("g"), (32, 10), (10,)))))
    g.sum(axis=0)
    >>> print(ast.unparse(gast.gast_to_ast(_summed(name("g"), (4, 3, 5), (3, 1)))))
    g.sum(axis=2, keepdims=True).sum(axis=0)
    """
    if not isinstance(shape, tuple) or not isinstance(to, tuple) or len(to) > len(shape):
        return None
    extra = len(shape) - len(to)
    if any(t not in (1, n) for n, t in zip(shape[extra:], to)):
        return None
    kept = tuple(extra + i for i, (n, t) in enumerate(zip(shape[extra:], to)) if t == 1 and n != 1)

    def total(value: gast.expr, axes: tuple, keepdims: bool) -> gast.expr:
        axis = _const(axes[0]) if len(axes) == 1 else gast.Tuple(elts=[_const(a) for a in axes],
                                                                  ctx=gast.Load())
        keywords = [gast.keyword(arg="axis", value=axis)]
        if keepdims:
            keywords.append(gast.keyword(arg="keepdims", value=_const(True)))
        method = gast.Attribute(value=value, attr="sum", ctx=gast.Load())
        return gast.Call(func=method, args=[], keywords=keywords)

    if kept:
        g = total(g, kept, True)
    if extra:
        g = total(g, tuple(range(extra)), False)
    return g


def _const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)
