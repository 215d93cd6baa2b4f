"""emit: IR and gast -> Python source text.

IR statements are turned back into gast (operators printed as operators, indexing as
subscripts, methods as methods), and gast is printed with the standard library's
``ast.unparse`` after ``gast.gast_to_ast``.  Comments cannot live in an AST, so a
comment is carried as a marked string statement and turned into ``# ...`` after
printing.

>>> import gast
>>> print(to_source(gast.Module(body=[comment("Grad of: y = x * 2")], type_ignores=[])))
# Grad of: y = x * 2
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

import gast

from . import ir
from .rules.registry import TEMPLATE_GLOBALS, printable_name
from .trees import clone, loaded_names, name, names, statements, store, walk  # noqa: F401

__all__ = ["atom_expr", "value_expr", "literal_expr", "stmt_nodes", "format_ir", "to_source", "comment",
           "name", "store", "helper_called", "calls"]

_COMMENT = "#srcdiff# "
_COMMENT_LINE = re.compile(r"^(\s*)((?:\'\'\'|\"\"\"|\'|\")#srcdiff# .*?(?:\'\'\'|\"\"\"|\'|\"))$", re.M)

_BINOPS = {
    operator.add: gast.Add, operator.sub: gast.Sub, operator.mul: gast.Mult,
    operator.truediv: gast.Div, operator.floordiv: gast.FloorDiv, operator.mod: gast.Mod,
    operator.pow: gast.Pow, operator.matmul: gast.MatMult, operator.and_: gast.BitAnd,
    operator.or_: gast.BitOr, operator.xor: gast.BitXor, operator.lshift: gast.LShift,
    operator.rshift: gast.RShift,
}
_UNARY = {operator.neg: gast.USub, operator.pos: gast.UAdd, operator.not_: gast.Not,
          operator.invert: gast.Invert}
_COMPARE = {operator.lt: gast.Lt, operator.le: gast.LtE, operator.gt: gast.Gt,
            operator.ge: gast.GtE, operator.eq: gast.Eq, operator.ne: gast.NotEq,
            operator.is_: gast.Is, operator.is_not: gast.IsNot}


def comment(text: str) -> gast.Expr:
    """A statement that prints as ``# text``."""
    return gast.Expr(value=gast.Constant(value=_COMMENT + text, kind=None))


def _dotted(text: str) -> gast.expr:
    parts = text.split(".")
    node: gast.expr = name(parts[0])
    for part in parts[1:]:
        node = gast.Attribute(value=node, attr=part, ctx=gast.Load())
    return node


def atom_expr(atom: Any, in_index: bool = False) -> gast.expr:
    """The gast expression of an IR atom."""
    if isinstance(atom, ir.Var):
        return name(atom.id)
    if isinstance(atom, ir.Const):
        return literal_expr(atom.value)
    if isinstance(atom, ir.Ref):
        return _dotted(atom.text) if _is_dotted(atom.text) else name(atom.text)
    if isinstance(atom, ir.Tup):
        return gast.Tuple(elts=[atom_expr(a, in_index) for a in atom.items], ctx=gast.Load())
    if isinstance(atom, ir.Lst):
        return gast.List(elts=[atom_expr(a) for a in atom.items], ctx=gast.Load())
    if isinstance(atom, ir.Slc):
        parts = [None if isinstance(p, ir.Const) and p.value is None else atom_expr(p)
                 for p in (atom.lower, atom.upper, atom.step)]
        if in_index:
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        return gast.Call(func=name("slice"), args=[p or literal_expr(None) for p in parts], keywords=[])
    raise TypeError(f"not an atom: {atom!r}")  # pragma: no cover - internal invariant


def _is_dotted(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def literal_expr(value: Any) -> gast.expr:
    if value is Ellipsis or isinstance(value, (int, float, complex, str, bytes, bool, type(None))):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
        return gast.Constant(value=value, kind=None)

    return _dotted(printable_name(value))


def helper_called(node: Any) -> Any:
    """The runtime helper (or other template global) ``node`` calls, if it is a call of
    one by its bare name, else None: how the passes over generated code recognise a
    helper, by the object (the names of template globals are reserved there)."""
    if type(node) is gast.Call and type(node.func) is gast.Name:
        return TEMPLATE_GLOBALS.get(node.func.id)
    return None


def calls(node: Any, *helpers: Any) -> bool:
    """Whether ``node`` calls one of the runtime ``helpers`` (see :func:`helper_called`)."""
    found = helper_called(node)
    return found is not None and any(found is helper for helper in helpers)


def callee_text(fn: Any) -> str:
    if isinstance(fn, ir.Ref):
        return fn.text
    if isinstance(fn, ir.Prim):
        return printable_name(fn.value)
    if isinstance(fn, ir.Method):
        return f".{fn.name}"
    return f".{fn.name}"


def value_expr(value: Any) -> gast.expr:
    """The gast expression of an IR right-hand side."""
    if isinstance(value, ir.Raw):
        return value.node
    if not isinstance(value, ir.Call):
        return atom_expr(value)
    fn, args = value.fn, value.args
    keywords = [gast.keyword(arg=k, value=atom_expr(a)) for k, a in value.kwargs]
    if isinstance(fn, ir.Method):
        func = gast.Attribute(value=atom_expr(args[0]), attr=fn.name, ctx=gast.Load())
        return gast.Call(func=func, args=[atom_expr(a) for a in args[1:]], keywords=keywords)
    if isinstance(fn, ir.Attr):
        return gast.Attribute(value=atom_expr(args[0]), attr=fn.name, ctx=gast.Load())
    if isinstance(fn, ir.Prim) and not keywords:
        op = fn.value
        if op in _BINOPS and len(args) == 2:
            return gast.BinOp(left=atom_expr(args[0]), op=_BINOPS[op](), right=atom_expr(args[1]))
        if op in _UNARY and len(args) == 1:
            return gast.UnaryOp(op=_UNARY[op](), operand=atom_expr(args[0]))
        if op in _COMPARE and len(args) == 2:
            return gast.Compare(left=atom_expr(args[0]), ops=[_COMPARE[op]()],
                                comparators=[atom_expr(args[1])])
        if op is operator.contains and len(args) == 2:
            return gast.Compare(left=atom_expr(args[1]), ops=[gast.In()],
                                comparators=[atom_expr(args[0])])
        if op is operator.getitem and len(args) == 2:
            return gast.Subscript(value=atom_expr(args[0]), slice=atom_expr(args[1], True),
                                  ctx=gast.Load())
    func = atom_expr(fn) if isinstance(fn, ir.Ref) else _dotted(callee_text(fn))
    return gast.Call(func=func, args=[atom_expr(a) for a in args], keywords=keywords)


def phi_assign(targets: list, sources: list) -> list:
    """Assign each source (an atom, or an expression) to its target as if at once (a
    loop may swap two values)."""
    def expr(s: Any) -> gast.expr:
        return s if isinstance(s, gast.AST) else atom_expr(s)

    def reads_of(s: Any) -> set:
        if isinstance(s, gast.AST):
            return {n.id for n in gast.walk(s) if isinstance(n, gast.Name)}
        return set(ir.atom_vars(s))

    pairs = [(t, s) for t, s in zip(targets, sources)
             if not (isinstance(s, ir.Var) and s.id == t)
             and not (isinstance(s, gast.Name) and s.id == t)]
    if not pairs:
        return []
    reads = {n for _, s in pairs for n in reads_of(s)}
    if len(pairs) > 1 and reads & {t for t, _ in pairs}:
        lhs = gast.Tuple(elts=[store(t) for t, _ in pairs], ctx=gast.Store())
        rhs = gast.Tuple(elts=[expr(s) for _, s in pairs], ctx=gast.Load())
        return [gast.Assign(targets=[lhs], value=rhs, type_comment=None)]
    return [gast.Assign(targets=[store(t)], value=expr(s), type_comment=None) for t, s in pairs]


class Hooks:
    """Extra primal statements the reverse pass adds (saving values for the adjoint).

    The default adds nothing, which prints the IR as it is.
    """

    def before_loop(self, loop: Any) -> list:
        return []

    def after_loop(self, loop: Any) -> list:
        return []

    def rewrite_assign(self, stmt: Any) -> list | None:
        return None

    def phis(self, stmt: Any, which: int) -> list:
        """(target, source) pairs to assign at a join: which = 0/1 for the branches of
        an If, 0 (before) / 1 (end of an iteration) for a loop."""
        return [(p.target, p.sources[which]) for p in stmt.phis]

    def exits(self, loop: Any) -> list:
        return list(loop.exits)

    def end_of_iteration(self, loop: Any) -> list:
        return []

    def after_phis(self, loop: Any) -> list:
        return []

    def end_of_branch(self, stmt: Any, which: int) -> list:
        return []


def _inline_test(test_body: list, test: Any, others: tuple = ()) -> gast.expr | None:
    """The while-loop test as one expression, when its statements only feed the test
    (``others``: atoms read elsewhere, by the loop's phis and breaks)."""
    defs = {}
    for stmt in test_body:
        if not isinstance(stmt, ir.Assign) or isinstance(stmt.value, ir.Raw):
            return None
        defs[stmt.target] = stmt.value
    uses: dict = {}
    for stmt in test_body:
        for n in ir.expr_uses(stmt.value):
            uses[n] = uses.get(n, 0) + 1
    for atom in (test, *others):
        for n in ir.atom_vars(atom):
            uses[n] = uses.get(n, 0) + 1
    if any(uses.get(n, 0) != 1 for n in defs):
        return None

    class Inline(gast.NodeTransformer):
        def visit_Name(self, node: gast.Name) -> gast.expr:
            if isinstance(node.ctx, gast.Load) and node.id in defs:
                return self.visit(value_expr(defs[node.id]))
            return node

    return Inline().visit(atom_expr(test))


def stmt_nodes(stmt: Any, hooks: Hooks | None = None) -> list:
    """The gast statements of one IR statement."""
    hooks = hooks or Hooks()
    if isinstance(stmt, ir.Assign):
        rewritten = hooks.rewrite_assign(stmt)
        if rewritten is not None:
            return rewritten
        return [gast.Assign(targets=[store(stmt.target)], value=value_expr(stmt.value),
                            type_comment=None)]
    if isinstance(stmt, ir.Effect):
        if isinstance(stmt.value, ir.Raw) and isinstance(stmt.value.node, gast.stmt):
            return [stmt.value.node]
        return [gast.Expr(value=value_expr(stmt.value))]
    if isinstance(stmt, ir.Return):
        return [gast.Return(value=atom_expr(stmt.value))]
    if isinstance(stmt, ir.If):
        branches = []
        for which, block in enumerate((stmt.body, stmt.orelse)):
            nodes = block_nodes(block, hooks)
            pairs = hooks.phis(stmt, which)
            nodes += phi_assign([t for t, _ in pairs], [s for _, s in pairs])
            nodes += hooks.end_of_branch(stmt, which)
            branches.append(nodes)
        return [gast.If(test=atom_expr(stmt.test), body=branches[0] or [gast.Pass()],
                        orelse=branches[1])]
    if isinstance(stmt, ir.Loop):
        return _loop_nodes(stmt, hooks)
    raise TypeError(f"not a statement: {stmt!r}")  # pragma: no cover - internal invariant


def _loop_nodes(loop: ir.Loop, hooks: Hooks) -> list:
    before, after = hooks.phis(loop, 0), hooks.phis(loop, 1)
    out = phi_assign([t for t, _ in before], [s for _, s in before])
    out += hooks.before_loop(loop)
    body = block_nodes(loop.body, hooks)
    body += hooks.end_of_iteration(loop)
    body += phi_assign([t for t, _ in after], [s for _, s in after])
    body += hooks.after_phis(loop)
    if loop.breaks:
        test = atom_expr(loop.breaks[0]) if len(loop.breaks) == 1 else gast.BoolOp(
            op=gast.Or(), values=[atom_expr(b) for b in loop.breaks])
        body.append(gast.If(test=test, body=[gast.Break()], orelse=[]))
    if loop.kind == "for":
        out.append(gast.For(target=store(loop.target), iter=atom_expr(loop.iter), body=body or [gast.Pass()],
                            orelse=[], type_comment=None))
    else:
        inline = _inline_test(loop.test_body, loop.test,
                              tuple(src for phi in loop.phis for src in phi.sources) + tuple(loop.breaks))
        if inline is not None:
            out.append(gast.While(test=inline, body=body or [gast.Pass()], orelse=[]))
        else:
            stop = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=atom_expr(loop.test)),
                           body=[gast.Break()], orelse=[])
            pre = block_nodes(loop.test_body, hooks)
            out.append(gast.While(test=gast.Constant(value=True, kind=None), body=pre + [stop] + body,
                                  orelse=[]))
    out += [gast.Assign(targets=[store(x)], value=name(h), type_comment=None) for x, h in hooks.exits(loop)]
    out += hooks.after_loop(loop)
    return out


def block_nodes(stmts: list, hooks: Hooks | None = None) -> list:
    return [node for stmt in stmts for node in stmt_nodes(stmt, hooks)]


def statement_text(stmt: Any) -> str:
    """One IR statement as a line of Python, for comments and debugging."""
    return to_source(gast.Module(body=stmt_nodes(stmt), type_ignores=[])).strip()


def function_node(fn: ir.Function, body: list) -> gast.FunctionDef:
    args = fn.args_node or gast.arguments(
        args=[gast.Name(id=p.name, ctx=gast.Param(), annotation=None, type_comment=None)
              for p in fn.params],
        posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[],
    )
    return gast.FunctionDef(name=fn.name, args=args, body=body, decorator_list=[],
                            returns=None, type_comment=None, type_params=[])


def format_ir(fn: ir.Function) -> str:
    """The IR function printed as Python source."""
    body = block_nodes(fn.body)
    return to_source(gast.Module(body=[function_node(fn, body)], type_ignores=[])).rstrip()


def to_source(tree: gast.AST) -> str:
    """Print a gast tree as Python source, turning comment markers into comments."""
    node = gast.gast_to_ast(tree)
    _number_statements(node)
    text = ast.unparse(node)

    def _comment(match: re.Match) -> str:
        literal = ast.literal_eval(match.group(2))
        return match.group(1) + "# " + literal[len(_COMMENT):]

    return _COMMENT_LINE.sub(_comment, text) + "\n"


# The statements ast.unparse reads the line number of (to find ``# type: ignore``
# comments for that line).
_LINE_READ = (ast.Assign, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.FunctionDef,
              ast.AsyncFunctionDef)


def _number_statements(tree: ast.AST) -> None:
    """Give each statement of ``_LINE_READ`` without a line number its enclosing one's,
    as ``ast.fix_missing_locations`` would: unparse reads nothing else of a location,
    and fixing every node (expressions are most of them) costs more than the unparse."""
    todo = [(tree, getattr(tree, "lineno", 1))]
    while todo:
        node, lineno = todo.pop()
        if isinstance(node, _LINE_READ) and not hasattr(node, "lineno"):
            node.lineno = lineno
        lineno = getattr(node, "lineno", lineno)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, field, None)
            if type(block) is list:  # (an expression's body is not)
                todo.extend((stmt, lineno) for stmt in block)
