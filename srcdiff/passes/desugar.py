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

from .. import runtime
from ..ir import Attr, Prim
from ..names import Namer
from ..rules.registry import printable_name
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
    "conj": np.conjugate, "conjugate": np.conjugate,
}
_VARARG_METHODS = {"reshape", "transpose"}  # x.reshape(2, 3) == np.reshape(x, (2, 3))

# Attributes of arrays that are NumPy functions of the array.
ATTRIBUTES: dict[str, Any] = {
    "T": np.transpose, "shape": np.shape, "ndim": np.ndim, "size": np.size, "real": np.real,
    "imag": np.imag,
}


def _name_of(fn: Any) -> str:
    return printable_name(fn)


def desugar(fdef: gast.FunctionDef, res: Resolution, namer: Namer) -> tuple[gast.FunctionDef, Resolution]:
    """Return the desugared function and the resolution table extended with its calls."""
    lowering = _Desugar(res, namer)
    new = copy.copy(fdef)
    new.body = lowering.block(fdef.body)
    return new, Resolution(res.locals | frozenset(local_names(new)), lowering.refs, lowering.texts)


class _Desugar(gast.NodeTransformer):
    """One function's desugaring: a method per kind of expression it rewrites
    (``visit_*``, as a NodeTransformer) and per kind of statement (``lower_*``, each
    returning the statements that replace it).  The calls it makes are recorded in
    ``refs`` and ``texts``, the function's resolution tables extended."""

    def __init__(self, res: Resolution, namer: Namer) -> None:
        self.res = res
        self.namer = namer
        self.refs = dict(res.refs)
        self.texts = dict(res.texts)
        # per statement being lowered, outermost first: statements to run before it
        # (the loop a comprehension in it becomes)
        self.pending: list[list] = []

    def prim(self, fn: Any, args: list, keywords: list | None = None,
             like: gast.AST | None = None) -> gast.Call:
        """A call of ``fn``, an object srcdiff chooses, recorded as a ``Prim``."""
        func = gast.Name(id=_name_of(fn) if not isinstance(fn, Attr) else f".{fn.name}",
                         ctx=gast.Load(), annotation=None, type_comment=None)
        self.refs[func] = Prim(fn)
        self.texts[func] = func.id
        call = gast.Call(func=func, args=args, keywords=keywords or [])
        if like is not None:
            gast.copy_location(call, like)
            gast.copy_location(func, like)
        return call

    # --- expressions ---------------------------------------------------------------

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        return self.prim(_BINOPS[type(node.op)], [node.left, node.right], like=node)

    def visit_UnaryOp(self, node: gast.UnaryOp) -> gast.expr:
        self.generic_visit(node)
        operand = node.operand
        if (isinstance(node.op, gast.USub) and isinstance(operand, gast.Constant)
                and isinstance(operand.value, (int, float, complex))
                and not isinstance(operand.value, bool)):
            return gast.copy_location(gast.Constant(value=-operand.value, kind=None), node)
        return self.prim(_UNARYOPS[type(node.op)], [node.operand], like=node)

    def visit_Compare(self, node: gast.Compare) -> gast.expr:
        self.generic_visit(node)
        parts = []
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, gast.In):
                parts.append(self.prim(operator.contains, [right, left], like=node))
            elif isinstance(op, gast.NotIn):
                inner = self.prim(operator.contains, [right, left], like=node)
                parts.append(self.prim(operator.not_, [inner], like=node))
            else:
                parts.append(self.prim(_COMPARE[type(op)], [left, right], like=node))
            left = right
        if len(parts) == 1:
            return parts[0]
        return gast.copy_location(gast.BoolOp(op=gast.And(), values=parts), node)

    def visit_Subscript(self, node: gast.Subscript) -> gast.expr:
        self.generic_visit(node)
        return self.prim(operator.getitem, [node.value, node.slice], like=node)

    def visit_Attribute(self, node: gast.Attribute) -> gast.expr:
        if node in self.refs:
            return node
        self.generic_visit(node)
        fn = ATTRIBUTES.get(node.attr)
        return self.prim(fn if fn is not None else Attr(node.attr), [node.value], like=node)

    def _kept(self, node: gast.expr) -> gast.expr:
        return node  # srcdiff does not look inside: the user's code is kept as it is

    visit_DictComp = visit_SetComp = visit_Lambda = visit_JoinedStr = _kept

    def visit_ListComp(self, node: gast.ListComp) -> gast.expr:
        return self.comprehension(node)

    def visit_GeneratorExp(self, node: gast.GeneratorExp) -> gast.expr:
        return self.comprehension(node)

    def visit_Call(self, node: gast.Call) -> gast.expr:
        func = node.func
        if isinstance(func, gast.Attribute) and func not in self.refs:
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
            return self.prim(fn, [receiver, *args], node.keywords, like=node)
        self.generic_visit(node)
        return node

    def comprehension(self, node: gast.expr) -> gast.expr:
        """``[elt for t in it if c]`` -> a loop appending to a fresh list."""
        result = self.namer.temp("_list")
        renames: dict[str, str] = {}
        for gen in node.generators:
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.namer.fresh(n.id)
        memo: dict = {}
        original = node
        node = copy.deepcopy(node, memo)
        for n in gast.walk(original):  # the copies name the same globals
            if n in self.refs and id(n) in memo:
                self.refs[memo[id(n)]] = self.refs[n]
                self.texts[memo[id(n)]] = self.texts[n]
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and n.id in renames and n not in self.refs:
                n.id = renames[n.id]
        append = gast.Expr(value=gast.Call(
            func=gast.Attribute(value=_load(result), attr="append", ctx=gast.Load()),
            args=[node.elt], keywords=[]))
        inner: list = [gast.copy_location(append, node)]
        for gen in reversed(node.generators):
            for cond in reversed(gen.ifs):
                inner = [gast.copy_location(gast.If(test=cond, body=inner, orelse=[]), node)]
            loop = gast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[], type_comment=None)
            inner = [gast.copy_location(loop, node)]
        init = gast.copy_location(
            gast.Assign(targets=[_store(result)], value=gast.List(elts=[], ctx=gast.Load()),
                        type_comment=None), node)
        self.pending[-1].extend(self.block([init] + inner))
        return _load(result)

    # --- assignments ---------------------------------------------------------------

    def assign(self, target: gast.expr, value: gast.expr, like: gast.AST) -> list[gast.stmt]:
        """Statements binding ``target`` (a name, an item, or nested tuple of those) to
        ``value``."""
        if isinstance(target, gast.Name):
            return [gast.copy_location(gast.Assign(targets=[target], value=value, type_comment=None), like)]
        if isinstance(target, gast.Subscript):
            return self.assign_item(target, value, like)
        return self.unpack(target.elts, value, like)

    def assign_item(self, target: gast.Subscript, value: gast.expr, like: gast.AST) -> list[gast.stmt]:
        """x[i] = v  ->  x = setitem(x, i, v): a new version of x, so values the adjoint
        reads are never overwritten (copy-on-write)."""
        base = target.value
        index = self.visit(target.slice)
        call = self.prim(runtime.setitem, [_load_of(base), index, value], like=like)
        return self.assign(_store(base.id), call, like)

    def unpack(self, elts: list, value: gast.expr, like: gast.AST) -> list[gast.stmt]:
        """``a, b = value``: through temporaries, item by item."""
        out: list[gast.stmt] = []
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
            temps = []
            for v in value.elts:
                name = self.namer.temp()
                temps.append(name)
                out += self.assign(_store(name), v, like)
            for t, name in zip(elts, temps):
                out += self.assign(t, _load(name), like)
            return out
        name = self.namer.temp()
        out += self.assign(_store(name), value, like)
        for i, t in enumerate(elts):
            index = gast.Constant(value=i, kind=None)
            out += self.assign(t, self.prim(operator.getitem, [_load(name), index], like=like), like)
        return out

    # --- statements ----------------------------------------------------------------

    def block(self, stmts: list) -> list:
        """Desugar a statement list (recursively)."""
        out: list = []
        for stmt in stmts:
            self.pending.append([])
            lowered = self.statement(stmt)
            out += self.pending.pop() + lowered
        return out

    def statement(self, stmt: gast.stmt) -> list:
        """The statements that replace ``stmt``; one the ``lower_*`` methods do not name
        keeps its place, with its expressions desugared."""
        lower = getattr(self, f"lower_{type(stmt).__name__}", None)
        return [self.visit(stmt)] if lower is None else lower(stmt)

    def lower_Pass(self, stmt: gast.Pass) -> list:
        return []

    def lower_Expr(self, stmt: gast.Expr) -> list:
        if isinstance(stmt.value, gast.Constant):
            return []  # docstring
        if _functional_form(stmt.value, self.res.locals):
            # y.sort(), lst.extend(more), ...  ->  y = sort_value(y), lst = list_extend(lst,
            # more): a new value, marked as a write into the receiver (effects refuses it
            # when another name that may share the receiver is read afterwards)
            call = stmt.value
            receiver = call.func.value
            helper = _FUNCTIONAL[call.func.attr][0]
            keywords = [gast.keyword(arg=k.arg, value=self.visit(k.value)) for k in call.keywords]
            value = self.prim(helper, [_load_of(receiver), *(self.visit(a) for a in call.args)], keywords,
                              like=stmt)
            self.refs[value.func] = Prim(helper, inplace=True)
            return self.assign(_store(receiver.id), value, stmt)
        if _is_append(stmt.value) and stmt.value.func.value not in self.refs:
            # (an append to a global list is left as it is: the effects pass looks at it)
            lst = stmt.value.func.value
            call = self.prim(runtime.list_append, [_load_of(lst), self.visit(stmt.value.args[0])], like=stmt)
            return self.assign(_store(lst.id), call, stmt)
        return [self.visit(stmt)]

    def lower_AugAssign(self, stmt: gast.AugAssign) -> list:
        load = _load_of(stmt.target)
        value = self.visit(gast.copy_location(gast.BinOp(left=load, op=stmt.op, right=stmt.value), stmt))
        if isinstance(stmt.target, gast.Name):  # in place on an array (effects checks who sees it)
            self.refs[value.func] = Prim(self.refs[value.func].value, inplace=True)
        return self.assign(stmt.target, value, stmt)

    def lower_AnnAssign(self, stmt: gast.AnnAssign) -> list:
        return self.assign(stmt.target, self.visit(stmt.value), stmt)

    def lower_Assign(self, stmt: gast.Assign) -> list:
        value = self.visit(stmt.value)
        first, *rest = stmt.targets
        out = self.assign(first, value, stmt)
        for target in rest:
            out += self.assign(target, _load_of(first), stmt)
        return out

    def lower_If(self, stmt: gast.If) -> list:
        new = gast.If(test=self.visit(stmt.test), body=self.block(stmt.body), orelse=self.block(stmt.orelse))
        return [gast.copy_location(new, stmt)]

    def lower_While(self, stmt: gast.While) -> list:
        new = gast.While(test=self.visit(stmt.test), body=self.block(stmt.body), orelse=[])
        return [gast.copy_location(new, stmt)]

    def lower_Assert(self, stmt: gast.Assert) -> list:
        return [stmt]  # kept as the user wrote it: it has no derivative

    def lower_For(self, stmt: gast.For) -> list:
        """Every for loop becomes ``for k in range(...)`` reading its items by index."""
        it, target = stmt.iter, stmt.target
        if self.callee(it) is range and isinstance(target, gast.Name):
            loop = gast.For(target=target, iter=self.visit(it), body=self.block(stmt.body), orelse=[],
                            type_comment=None)
            return [gast.copy_location(loop, stmt)]
        k = self.namer.temp("_k")
        pre: list = []
        length, head = self.indexed(it, target, _load(k), pre, stmt)
        loop = gast.For(target=_store(k), iter=self.prim(range, [length]), body=head + self.block(stmt.body),
                        orelse=[], type_comment=None)
        return pre + [gast.copy_location(loop, stmt)]

    # --- what a for loop iterates over ---------------------------------------------

    def callee(self, node: gast.expr) -> Any:
        """The object ``node`` calls, if it is a call the resolution knows."""
        return self.refs.get(node.func) if isinstance(node, gast.Call) else None

    def indexed(self, it: gast.expr, target: gast.expr, k: gast.expr, pre: list, like: gast.AST) -> tuple:
        """(length, statements binding ``target`` to item ``k``) of iterating ``it``;
        statements computing what they read once, before the loop, go on ``pre``."""
        callee = self.callee(it)
        if (callee is enumerate and len(it.args) in (1, 2) and isinstance(target, (gast.Tuple, gast.List))
                and len(target.elts) == 2):
            return self.indexed_enumerate(it, target, k, pre, like)
        if callee is zip and isinstance(target, (gast.Tuple, gast.List)) and len(target.elts) == len(it.args):
            return self.indexed_zip(it, target, k, pre, like)
        if callee is reversed and len(it.args) == 1:
            return self.indexed_reversed(it, target, k, pre, like)
        if (isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and not it.args
                and it.func.attr in ("items", "values", "keys") and it.func not in self.refs):
            return self.indexed_mapping(it, target, k, pre, like)
        seq = self.temp_of(self.prim(runtime.as_sequence, [self.visit(it)], like=like), pre, like)
        return self.prim(len, [seq]), self.assign(target, self.item(seq, k, like), like)

    def indexed_enumerate(self, it: gast.Call, target: gast.expr, k: gast.expr, pre: list,
                          like: gast.AST) -> tuple:
        """``for i, x in enumerate(xs, start)``: ``i`` is ``k`` (+ start)."""
        first, rest = target.elts
        start = next((kw.value for kw in it.keywords if kw.arg == "start"),
                     it.args[1] if len(it.args) == 2 else None)
        count = k if start is None else self.visit(gast.BinOp(left=k, op=gast.Add(), right=start))
        length, head = self.indexed(it.args[0], rest, k, pre, like)
        return length, self.assign(first, count, like) + head

    def indexed_zip(self, it: gast.Call, target: gast.expr, k: gast.expr, pre: list, like: gast.AST) -> tuple:
        """``for a, b in zip(as_, bs)``: item ``k`` of each, as long as the shortest."""
        lengths, head = [], []
        for arg, t in zip(it.args, target.elts):
            n, h = self.indexed(arg, t, k, pre, like)
            lengths.append(n)
            head += h
        return (lengths[0] if len(lengths) == 1 else self.prim(min, lengths)), head

    def indexed_reversed(self, it: gast.Call, target: gast.expr, k: gast.expr, pre: list,
                         like: gast.AST) -> tuple:
        """``for x in reversed(xs)``: item ``n - 1 - k``."""
        seq = self.temp_of(self.prim(runtime.as_sequence, [self.visit(it.args[0])], like=like), pre, like)
        n = self.temp_of(self.prim(len, [seq]), pre, like, "_n")
        back = self.prim(operator.sub, [self.prim(operator.sub, [n, gast.Constant(value=1, kind=None)]), k])
        return n, self.assign(target, self.item(seq, back, like), like)

    def indexed_mapping(self, it: gast.Call, target: gast.expr, k: gast.expr, pre: list,
                        like: gast.AST) -> tuple:
        """``for key, value in d.items()`` (``.keys()``, ``.values()``): through the list
        of its keys, taken before the loop."""
        mapping = self.temp_of(self.visit(it.func.value), pre, like)
        keys = self.temp_of(self.prim(list, [mapping]), pre, like, "_keys")
        key = self.item(keys, k, like)
        if it.func.attr == "keys":
            return self.prim(len, [keys]), self.assign(target, key, like)
        if it.func.attr == "values":
            return self.prim(len, [keys]), self.assign(target, self.item(mapping, key, like), like)
        kname = self.namer.temp("_key")
        head = self.assign(_store(kname), key, like)
        pair = gast.Tuple(elts=[_load(kname), self.item(mapping, _load(kname), like)], ctx=gast.Load())
        return self.prim(len, [keys]), head + self.assign(target, pair, like)

    def temp_of(self, node: gast.expr, pre: list, like: gast.AST, prefix: str = "_seq") -> gast.expr:
        """A fresh name bound to ``node`` by a statement on ``pre``, read."""
        name = self.namer.temp(prefix)
        pre.extend(self.assign(_store(name), node, like))
        return _load(name)

    def item(self, seq: gast.expr, index: gast.expr, like: gast.AST) -> gast.expr:
        return self.prim(operator.getitem, [seq, index], like=like)


# Methods that change their receiver, spelled as a new value: (helper, number of
# positional arguments allowed, keywords allowed).  The others (pop, remove, put, ...) stay
# refused by the effects pass.
_FUNCTIONAL: dict[str, tuple] = {
    "sort": (runtime.sort_value, (0, 1, 2), {"axis", "kind"}),  # (y.sort(axis, kind) for an array)
    "fill": (runtime.array_fill, (1,), set()),
    "extend": (runtime.list_extend, (1,), set()),
    "reverse": (runtime.list_reversed, (0,), set()),
    "insert": (runtime.list_insert, (2,), set()),
    "clear": (runtime.cleared, (0,), set()),
}


def _functional_form(node: gast.expr, local: frozenset) -> bool:
    """Whether ``node`` is ``name.method(...)`` with ``name`` a local variable and
    ``method`` one of those :data:`_FUNCTIONAL` spells as a new value."""
    if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
            and isinstance(node.func.value, gast.Name) and node.func.value.id in local):
        return False
    form = _FUNCTIONAL.get(node.func.attr)
    return (form is not None and len(node.args) in form[1]
            and not any(isinstance(a, gast.Starred) for a in node.args)
            and all(k.arg in form[2] for k in node.keywords))


def _is_append(node: gast.expr) -> bool:
    return (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
            and node.func.attr == "append" and isinstance(node.func.value, gast.Name)
            and len(node.args) == 1 and not node.keywords)


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
