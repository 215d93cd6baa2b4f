"""anf: desugared gast -> IR in A-normal form.

Nested calls are hoisted into temporaries, so each statement performs one operation
on atoms (names, constants, global references, and tuple/list/slice displays of
atoms).  Expressions srcdiff does not look inside (comprehensions, lambdas, boolean
operators) become ``Raw`` values that record which locals they read.

>>> from srcdiff.emit import format_ir
>>> from srcdiff.names import Namer
>>> from srcdiff.passes.parse import parse
>>> from srcdiff.passes.resolve import resolve
>>> from srcdiff.passes.desugar import desugar
>>> import numpy as np
>>> def f(x, W):
...     return np.sum(np.tanh(x @ W) ** 2)
>>> src = parse(f); namer = Namer(["x", "W"])
>>> tree, res = desugar(src.node, resolve(src), namer)
>>> print(format_ir(lower(src, tree, res, namer)))
def f(x, W):
    _t0 = x @ W
    _t1 = np.tanh(_t0)
    _t2 = _t1 ** 2
    _t3 = np.sum(_t2)
    return _t3
"""

from __future__ import annotations

import operator
from typing import Any

import gast

from .. import ir
from ..names import Namer
from .parse import Source
from .resolve import Resolution

__all__ = ["lower"]

_not = operator.not_


def lower(source: Source, fdef: gast.FunctionDef, res: Resolution, namer: Namer) -> ir.Function:
    """Lower the desugared function body to IR statements."""
    blocks: list[list] = [[]]

    def emit(stmt: Any) -> None:
        blocks[-1].append(stmt)

    def capture(fn: Any, *args: Any) -> tuple[list, Any]:
        """Run ``fn`` collecting the statements it emits into a fresh block."""
        blocks.append([])
        result = fn(*args)
        return blocks.pop(), result

    def ref(node: gast.expr) -> Any:
        value = res.refs[node]
        if isinstance(value, ir.Prim):
            return value
        return ir.Ref(node, value, res.texts[node])

    def uses_of(node: gast.AST) -> tuple:
        names = []
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in res.locals:
                if n not in res.refs and n.id not in names:
                    names.append(n.id)
        return tuple(names)

    def value(node: gast.expr, loc_node: gast.AST) -> Any:
        """Lower an expression to an IR expression (a Call, a Raw, or an atom)."""
        if isinstance(node, gast.Call):
            func = node.func
            if func in res.refs:
                fn = ref(func)
                args = [atom(a, loc_node) for a in node.args]
            elif isinstance(func, gast.Attribute):
                fn = ir.Method(func.attr)
                args = [atom(func.value, loc_node)] + [atom(a, loc_node) for a in node.args]
            else:
                return ir.Raw(node, uses_of(node))
            kwargs = tuple((kw.arg, atom(kw.value, loc_node)) for kw in node.keywords)
            if isinstance(fn, ir.Prim) and isinstance(fn.value, ir.Attr):
                fn = fn.value
            return ir.Call(fn, tuple(args), kwargs)
        if isinstance(node, gast.IfExp):
            return conditional(node, loc_node)
        if isinstance(node, gast.BoolOp):
            return boolean(node, loc_node)
        structural = _atom_or_none(node)
        if structural is not None:
            return structural
        return ir.Raw(node, uses_of(node))

    def conditional(node: gast.IfExp, loc_node: gast.AST) -> ir.Var:
        """``a if c else b`` evaluates only the branch taken: an If assigning a temporary."""
        test = atom(node.test, loc_node)
        name = namer.temp()
        loc = source.loc(node)
        body, a = capture(value, node.body, loc_node)
        body.append(ir.Assign(name, a, loc))
        orelse, b = capture(value, node.orelse, loc_node)
        orelse.append(ir.Assign(name, b, loc))
        emit(ir.If(test, body, orelse, loc))
        return ir.Var(name)

    def boolean(node: gast.BoolOp, loc_node: gast.AST) -> ir.Var:
        """``a and b`` / ``a or b`` with Python's short-circuit: later operands only run
        when needed, and the result is the deciding operand."""
        name = namer.temp()
        loc = source.loc(node)
        first = value(node.values[0], loc_node)
        emit(ir.Assign(name, first, loc))
        for operand in node.values[1:]:
            test: Any = ir.Var(name)
            if isinstance(node.op, gast.Or):
                negated = namer.temp()
                emit(ir.Assign(negated, ir.Call(ir.Prim(_not), (ir.Var(name),)), loc))
                test = ir.Var(negated)
            body, v = capture(value, operand, loc_node)
            body.append(ir.Assign(name, v, loc))
            emit(ir.If(test, body, [], loc))
        return ir.Var(name)

    def _atom_or_none(node: gast.expr) -> Any:
        if node in res.refs:
            return ref(node)
        if isinstance(node, gast.Name):
            return ir.Var(node.id)
        if isinstance(node, gast.Constant):
            return ir.Const(node.value)
        if isinstance(node, gast.Tuple):
            return ir.Tup(tuple(atom(e, node) for e in node.elts))
        if isinstance(node, gast.List):
            return ir.Lst(tuple(atom(e, node) for e in node.elts))
        if isinstance(node, gast.Slice):
            parts = [None if p is None else atom(p, node) for p in (node.lower, node.upper, node.step)]
            return ir.Slc(*[ir.Const(None) if p is None else p for p in parts])
        return None

    def atom(node: gast.expr, loc_node: gast.AST) -> Any:
        structural = _atom_or_none(node)
        if structural is not None:
            if isinstance(structural, ir.Prim):  # a bare srcdiff primitive used as a value
                return ir.Const(structural.value)
            return structural
        rhs = value(node, loc_node)
        if isinstance(rhs, ir.Var):
            return rhs
        name = namer.temp()
        emit(ir.Assign(name, rhs, source.loc(node)))
        return ir.Var(name)

    def loop_breaks(body: list) -> tuple[list, tuple]:
        """Split off the trailing ``if FLAG: break`` the jumps pass leaves in a loop body."""
        if body and isinstance(body[-1], gast.If) and len(body[-1].body) == 1 \
                and isinstance(body[-1].body[0], gast.Break) and not body[-1].orelse:
            test = body[-1].test
            names = test.values if isinstance(test, gast.BoolOp) else [test]
            return body[:-1], tuple(ir.Var(n.id) for n in names)
        return body, ()

    def statement(stmt: gast.stmt) -> None:
        loc = source.loc(stmt)
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0].id
            emit(ir.Assign(target, value(stmt.value, stmt), loc))
        elif isinstance(stmt, gast.Return):
            ret = ir.Const(None) if stmt.value is None else atom(stmt.value, stmt)
            emit(ir.Return(ret, loc))
        elif isinstance(stmt, gast.Expr):
            emit(ir.Effect(value(stmt.value, stmt), loc))
        elif isinstance(stmt, gast.If):
            test = atom(stmt.test, stmt)
            body, _ = capture(block, stmt.body)
            orelse, _ = capture(block, stmt.orelse)
            emit(ir.If(test, body, orelse, loc))
        elif isinstance(stmt, gast.For):
            iterable = atom(stmt.iter, stmt)
            stmts, breaks = loop_breaks(stmt.body)
            body, _ = capture(block, stmts)
            emit(ir.Loop("for", body, loc, target=stmt.target.id, iter=iterable, breaks=breaks))
        elif isinstance(stmt, gast.While):
            test_body, test = capture(atom, stmt.test, stmt)
            stmts, breaks = loop_breaks(stmt.body)
            body, _ = capture(block, stmts)
            emit(ir.Loop("while", body, loc, test_body=test_body, test=test, breaks=breaks))
        elif isinstance(stmt, gast.Pass):
            pass
        else:  # assert: kept as it is, reads locals but has no adjoint
            emit(ir.Effect(ir.Raw(stmt, uses_of(stmt)), loc))

    def block(stmts: list) -> None:
        for stmt in stmts:
            statement(stmt)

    block(fdef.body)
    body = blocks[0]
    if not body or not isinstance(body[-1], ir.Return):
        body.append(ir.Return(ir.Const(None), source.loc(fdef)))
    args = fdef.args
    params = tuple(
        [ir.Param(a.id) for a in args.posonlyargs + args.args]
        + [ir.Param(a.id, "keyword") for a in args.kwonlyargs]
    )
    return ir.Function(fdef.name, params, body, source.loc(fdef), args_node=args)
