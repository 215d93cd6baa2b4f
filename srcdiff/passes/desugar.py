"""desugar: gast -> gast; operators, methods, subscripts and compound assignments
become plain calls and single-target assignments.

Every call it introduces is to an object srcdiff chooses itself (``operator.mul``,
``np.sum``); those nodes are added to the resolution side table as ``Prim`` entries.

>>> import ast, gast
>>> from srcdiff.names import Namer
>>> from srcdiff.passes.parse import parse
>>> from srcdiff.passes.resolve import resolve
>>> def f(x, y):
...     a, b = x.T, y
...     a += b * 2
...     return a.sum(axis=0)
>>> src = parse(f)
>>> tree, _ = desugar(src.node, resolve(src), Namer(["x", "y", "a", "b"]))
>>> print(ast.unparse(gast.gast_to_ast(tree)))
def f(x, y):
    _t0 = np.transpose(x)
    _t1 = y
    a = _t0
    b = _t1
    a = operator.add(a, operator.mul(b, 2))
    return np.sum(a, axis=0)
"""

from __future__ import annotations

import copy
import operator
from typing import Any

import gast
import numpy as np

from ..ir import Attr, Prim
from ..names import Namer
from .resolve import Resolution, local_names

__all__ = ["desugar", "METHODS", "ATTRIBUTES"]

_BINOPS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod,
    gast.Pow: operator.pow, gast.MatMult: operator.matmul, gast.BitAnd: operator.and_,
    gast.BitOr: operator.or_, gast.BitXor: operator.xor, gast.LShift: operator.lshift,
    gast.RShift: operator.rshift,
}
_UNARYOPS = {
    gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
    gast.Invert: operator.invert,
}
_COMPARE = {
    gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
    gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Is: operator.is_,
    gast.IsNot: operator.is_not,
}

# Array methods that are NumPy functions of the receiver.
METHODS: dict[str, Any] = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "std": np.std, "var": np.var, "cumsum": np.cumsum, "argmax": np.argmax,
    "argmin": np.argmin, "argsort": np.argsort, "any": np.any, "all": np.all,
    "nonzero": np.nonzero, "ravel": np.ravel, "flatten": np.ravel, "squeeze": np.squeeze,
    "swapaxes": np.swapaxes, "clip": np.clip, "dot": np.dot, "round": np.round,
    "trace": np.trace, "reshape": np.reshape, "transpose": np.transpose,
}
_VARARG_METHODS = {"reshape", "transpose"}  # x.reshape(2, 3) == np.reshape(x, (2, 3))

# Attributes of arrays that are NumPy functions of the array.
ATTRIBUTES: dict[str, Any] = {
    "T": np.transpose, "shape": np.shape, "ndim": np.ndim, "size": np.size, "real": np.real,
}


def _name_of(fn: Any) -> str:
    from ..rules.registry import printable_name

    return printable_name(fn)


def desugar(fdef: gast.FunctionDef, res: Resolution, namer: Namer) -> tuple[gast.FunctionDef, Resolution]:
    """Return the desugared function and the resolution table extended with its calls."""
    refs = dict(res.refs)
    texts = dict(res.texts)

    def prim(fn: Any, args: list, keywords: list | None = None, like: gast.AST | None = None) -> gast.Call:
        func = gast.Name(id=_name_of(fn) if not isinstance(fn, Attr) else f".{fn.name}",
                         ctx=gast.Load(), annotation=None, type_comment=None)
        refs[func] = Prim(fn)
        texts[func] = func.id
        call = gast.Call(func=func, args=args, keywords=keywords or [])
        if like is not None:
            gast.copy_location(call, like)
            gast.copy_location(func, like)
        return call

    class Expressions(gast.NodeTransformer):
        def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
            self.generic_visit(node)
            return prim(_BINOPS[type(node.op)], [node.left, node.right], like=node)

        def visit_UnaryOp(self, node: gast.UnaryOp) -> gast.expr:
            self.generic_visit(node)
            operand = node.operand
            if (isinstance(node.op, gast.USub) and isinstance(operand, gast.Constant)
                    and isinstance(operand.value, (int, float, complex))
                    and not isinstance(operand.value, bool)):
                return gast.copy_location(gast.Constant(value=-operand.value, kind=None), node)
            return prim(_UNARYOPS[type(node.op)], [node.operand], like=node)

        def visit_Compare(self, node: gast.Compare) -> gast.expr:
            self.generic_visit(node)
            parts = []
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                if isinstance(op, gast.In):
                    parts.append(prim(operator.contains, [right, left], like=node))
                elif isinstance(op, gast.NotIn):
                    inner = prim(operator.contains, [right, left], like=node)
                    parts.append(prim(operator.not_, [inner], like=node))
                else:
                    parts.append(prim(_COMPARE[type(op)], [left, right], like=node))
                left = right
            if len(parts) == 1:
                return parts[0]
            return gast.copy_location(gast.BoolOp(op=gast.And(), values=parts), node)

        def visit_Subscript(self, node: gast.Subscript) -> gast.expr:
            self.generic_visit(node)
            return prim(operator.getitem, [node.value, node.slice], like=node)

        def visit_Attribute(self, node: gast.Attribute) -> gast.expr:
            if node in refs:
                return node
            self.generic_visit(node)
            fn = ATTRIBUTES.get(node.attr)
            return prim(fn if fn is not None else Attr(node.attr), [node.value], like=node)

        def visit_Call(self, node: gast.Call) -> gast.expr:
            func = node.func
            if isinstance(func, gast.Attribute) and func not in refs:
                receiver = self.visit(func.value)
                args = [self.visit(a) for a in node.args]
                for kw in node.keywords:
                    kw.value = self.visit(kw.value)
                fn = METHODS.get(func.attr)
                if fn is None:
                    func.value = receiver
                    node.args = args
                    return node
                if func.attr in _VARARG_METHODS:
                    if len(args) > 1:
                        args = [gast.Tuple(elts=args, ctx=gast.Load())]
                return prim(fn, [receiver, *args], node.keywords, like=node)
            self.generic_visit(node)
            return node

    exprs = Expressions()

    def expr(node: gast.expr) -> gast.expr:
        return exprs.visit(node)

    def assign(target: gast.expr, value: gast.expr, like: gast.AST) -> list[gast.stmt]:
        """Statements binding ``target`` (a name or nested tuple of names) to ``value``."""
        if isinstance(target, gast.Name):
            return [gast.copy_location(gast.Assign(targets=[target], value=value, type_comment=None), like)]
        elts = target.elts
        out: list[gast.stmt] = []
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
            temps = []
            for v in value.elts:
                name = namer.temp()
                temps.append(name)
                out += assign(_store(name), v, like)
            for t, name in zip(elts, temps):
                out += assign(t, _load(name), like)
            return out
        name = namer.temp()
        out += assign(_store(name), value, like)
        for i, t in enumerate(elts):
            index = gast.Constant(value=i, kind=None)
            out += assign(t, prim(operator.getitem, [_load(name), index], like=like), like)
        return out

    body: list[gast.stmt] = []
    for stmt in fdef.body:
        if isinstance(stmt, gast.Pass):
            continue
        if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant):
            continue  # docstring
        if isinstance(stmt, gast.AugAssign):
            load = copy.deepcopy(stmt.target)
            load.ctx = gast.Load()
            value = gast.copy_location(gast.BinOp(left=load, op=stmt.op, right=stmt.value), stmt)
            body += assign(stmt.target, expr(value), stmt)
        elif isinstance(stmt, gast.AnnAssign):
            body += assign(stmt.target, expr(stmt.value), stmt)
        elif isinstance(stmt, gast.Assign):
            value = expr(stmt.value)
            first, *rest = stmt.targets
            body += assign(first, value, stmt)
            for target in rest:
                body += assign(target, _load_of(first), stmt)
        else:
            body.append(exprs.visit(stmt))
    new = copy.copy(fdef)
    new.body = body
    return new, Resolution(res.locals | frozenset(local_names(new)), refs, texts)


def _store(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def _load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _load_of(target: gast.expr) -> gast.expr:
    node = copy.deepcopy(target)
    for n in gast.walk(node):
        if hasattr(n, "ctx"):
            n.ctx = gast.Load()
    return node
