"""folding: gast expr -> gast expr; constant folding and algebraic identities on one
expression, applied to each instantiated rule template (``g * 1`` -> ``g``;
``x ** (2 - 1)`` -> ``x``; ``a if None is None else b`` -> ``a``).

>>> import gast

from ... import runtime
from ...emit import calls
>>> from srcdiff.emit import to_source
>>> expr = gast.parse("g * y * x ** (2 - 1) if None is None else 0").body[0].value
>>> print(to_source(fold(expr)).strip())
g * y * x

A piece of a cotangent split at shapes written in the code is a slice of it:

>>> expr = gast.parse("unconcatenate_to(-g, ((2, 3), (4, 3)), 0)[1]").body[0].value
>>> print(to_source(fold(expr)).strip())
-g[2:6]
"""

from __future__ import annotations

import operator
from typing import Any

import gast

from ... import runtime
from ...emit import calls

__all__ = ["fold", "number", "number_node", "piece", "Transformer"]

_ARITH = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
          gast.Div: operator.truediv, gast.Pow: operator.pow}
_CMP = {gast.Is: operator.is_, gast.IsNot: operator.is_not, gast.Eq: operator.eq,
        gast.NotEq: operator.ne}


def _is_const(node: Any, *values: Any) -> bool:
    if not isinstance(node, gast.Constant):
        return False
    if not values:
        return True
    return any(type(node.value) is type(v) and node.value == v for v in values) or any(
        isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        and isinstance(v, (int, float)) and node.value == v for v in values
    )


def number(node: Any) -> Any:
    """The int or float a node writes (a literal, or a negated one); None otherwise."""
    if (isinstance(node, gast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = number(node.operand)
        return None if inner is None else -inner
    return None


def number_node(value: Any) -> gast.expr:
    """The expression that writes the number ``value`` (negated when below zero)."""
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


class Transformer(gast.NodeTransformer):
    """NodeTransformer cut down to what the rewrites here do, for speed (fold runs on
    every instantiated rule template and every generated statement): a visit returns a
    node, never None or a list."""

    _visitors: dict = {}  # node class -> visit_ method

    def __init_subclass__(cls) -> None:
        # (NodeVisitor's own visit_Constant only looks for the visit_Num of old Pythons)
        cls._visitors = {getattr(gast, name.removeprefix("visit_")): method
                         for klass in reversed(cls.__mro__) if issubclass(klass, Transformer)
                         for name, method in vars(klass).items() if name.startswith("visit_")}

    def visit(self, node: gast.AST) -> gast.AST:
        method = self._visitors.get(type(node))
        return self.generic_visit(node) if method is None else method(self, node)

    def generic_visit(self, node: gast.AST) -> gast.AST:
        # (nodes without fields, contexts and operators, have no visit_ method here)
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                value[:] = [self.visit(v) if isinstance(v, gast.AST) else v for v in value]
            elif isinstance(value, gast.AST) and value._fields:
                setattr(node, field, self.visit(value))
        return node


class _Folder(Transformer):
    def visit_Subscript(self, node: gast.Subscript) -> gast.expr:
        self.generic_visit(node)
        cut = piece(node)
        return node if cut is None else cut

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        left, right = number(node.left), number(node.right)
        op = type(node.op)
        if left is not None and right is not None and op in _ARITH:
            try:
                return number_node(_ARITH[op](left, right))
            except (ZeroDivisionError, OverflowError):
                return node
        if op is gast.Mult:
            if right == 1:
                return node.left
            if left == 1:
                return node.right
        if op is gast.Pow and right == 1:
            return node.left
        if op is gast.Div and right == 1:
            return node.left
        if op in (gast.Add, gast.Sub) and right == 0 and not isinstance(right, bool):
            return node.left
        if op is gast.Add and isinstance(node.right, gast.UnaryOp) and isinstance(node.right.op, gast.USub):
            return gast.BinOp(left=node.left, op=gast.Sub(), right=node.right.operand)  # a + -b -> a - b
        return node

    def visit_UnaryOp(self, node: gast.UnaryOp) -> gast.expr:
        self.generic_visit(node)
        if isinstance(node.op, gast.Not) and _is_const(node.operand):
            return gast.Constant(value=not node.operand.value, kind=None)
        inner = node.operand
        if (isinstance(node.op, gast.USub) and isinstance(inner, gast.UnaryOp)
                and isinstance(inner.op, gast.USub)):
            return node.operand.operand
        return node

    def visit_Compare(self, node: gast.Compare) -> gast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1 and type(node.ops[0]) in (gast.Is, gast.IsNot):
            # a tuple or list display is never None: (1, 0, 2) is None -> False
            left, right = node.left, node.comparators[0]
            if (isinstance(left, (gast.Tuple, gast.List)) and _is_const(right, None)
                    or isinstance(right, (gast.Tuple, gast.List)) and _is_const(left, None)):
                return gast.Constant(value=isinstance(node.ops[0], gast.IsNot), kind=None)
        if len(node.ops) == 1 and type(node.ops[0]) in _CMP:
            left, right = node.left, node.comparators[0]
            if _is_const(left) and _is_const(right):
                return gast.Constant(value=bool(_CMP[type(node.ops[0])](left.value, right.value)), kind=None)
        return node

    def visit_BoolOp(self, node: gast.BoolOp) -> gast.expr:
        self.generic_visit(node)
        is_and = isinstance(node.op, gast.And)
        kept = []
        for value in node.values:
            if _is_const(value):
                if bool(value.value) != is_and:  # False in and / True in or decides
                    return gast.Constant(value=value.value, kind=None)
                continue
            kept.append(value)
        if not kept:
            return gast.Constant(value=is_and, kind=None)
        if len(kept) == 1:
            return kept[0]
        node.values = kept
        return node

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        self.generic_visit(node)
        if _is_const(node.test):
            return node.body if node.test.value else node.orelse
        return node

    def visit_Call(self, node: gast.Call) -> gast.expr:
        self.generic_visit(node)
        func = node.func
        if (calls(node, runtime.unbroadcast) and node.args
                and isinstance(node.args[0], gast.UnaryOp) and isinstance(node.args[0].op, gast.USub)):
            # negate after summing: the sum is the smaller array
            node.args[0] = node.args[0].operand
            return gast.UnaryOp(op=gast.USub(), operand=node)
        if calls(node, runtime.literal) and len(node.args) == 1:
            return gast.Constant(value=number(node.args[0]) is not None, kind=None)
        if isinstance(func, gast.Name) and func.id == "isinstance" and len(node.args) == 2:
            value, types = node.args
            if isinstance(value, (gast.List, gast.Tuple)) and isinstance(types, gast.Tuple):
                names = {t.id for t in types.elts if isinstance(t, gast.Name)}
                if names == {"list", "tuple"}:
                    return gast.Constant(value=True, kind=None)
        return node


def piece(node: gast.Subscript) -> gast.expr | None:
    """``unconcatenate_to(g, ((1,), (15,)), 0)[1]``, one piece of a cotangent split at
    shapes written in the code, is the slice ``g[1:16]`` (negated after slicing, the
    smaller array, when ``g`` is negated); None for any other subscript."""
    call, index = node.value, node.slice
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)
            and calls(call, runtime.unconcatenate_to) and len(call.args) == 3 and not call.keywords
            and isinstance(index, gast.Constant) and type(index.value) is int):
        return None
    g, shapes, axis = call.args
    shapes = _literal_shapes(shapes)
    axis = number(axis)
    if shapes is None or type(axis) is not int or not 0 <= index.value < len(shapes):
        return None
    rank = len(shapes[0])
    if not (-rank <= axis < rank) or any(len(shape) != rank for shape in shapes):
        return None
    axis %= rank
    start = sum(shape[axis] for shape in shapes[:index.value])
    cut = gast.Slice(lower=gast.Constant(value=start, kind=None),
                     upper=gast.Constant(value=start + shapes[index.value][axis], kind=None), step=None)
    where: gast.expr = cut if axis == 0 else gast.Tuple(
        elts=[gast.Slice(lower=None, upper=None, step=None)] * axis + [cut], ctx=gast.Load())
    negated = isinstance(g, gast.UnaryOp) and isinstance(g.op, gast.USub)
    sliced = gast.Subscript(value=g.operand if negated else g, slice=where, ctx=gast.Load())
    return gast.UnaryOp(op=gast.USub(), operand=sliced) if negated else sliced


def _literal_shapes(node: gast.expr) -> list | None:
    """The shapes of a tuple or list display of tuples of int literals."""
    if not isinstance(node, (gast.Tuple, gast.List)) or not node.elts:
        return None
    shapes = []
    for item in node.elts:
        if not isinstance(item, gast.Tuple) or not item.elts:
            return None
        shape = tuple(number(e) for e in item.elts)
        if not all(type(n) is int and n >= 0 for n in shape):
            return None
        shapes.append(shape)
    return shapes


def fold(expr: gast.expr) -> gast.expr:
    """Fold constants and drop identities in one expression."""
    return _Folder().visit(expr)
