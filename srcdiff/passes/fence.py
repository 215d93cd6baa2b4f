"""fence: gast -> gast, unchanged; rejects what srcdiff does not support.

Runs before anything else looks at the function, so an unsupported construct is
reported once, at its own line, with what to write instead.

>>> import gast
>>> from srcdiff.passes.parse import parse
>>> def f(x):
...     with open("log") as fh:
...         return x
>>> check(parse(f))
Traceback (most recent call last):
...
srcdiff.errors.UnsupportedSyntaxError: ...: srcdiff does not support a with statement
...
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from .parse import Source

__all__ = ["check", "SUPPORTED_STATEMENTS"]

# Statements the later passes handle.
SUPPORTED_STATEMENTS = (
    gast.If,
    gast.For,
    gast.While,
    gast.Break,
    gast.Continue,
    gast.Assign,
    gast.AugAssign,
    gast.AnnAssign,
    gast.Expr,
    gast.Return,
    gast.Pass,
    gast.Assert,
)


# What to say about the rest: (what it is, what to write instead).
_REJECTED: dict[type, tuple[str, str]] = {
    gast.Try: ("a try statement", "move error handling outside the differentiated function"),
    gast.With: ("a with statement", "move the with block outside the differentiated function"),
    gast.AsyncWith: ("an async with statement", "differentiate a synchronous function"),
    gast.AsyncFor: ("an async for loop", "differentiate a synchronous function"),
    gast.AsyncFunctionDef: ("an async function", "differentiate a synchronous function"),
    gast.FunctionDef: ("a function defined inside the function",
                       "define the helper at module level and call it"),
    gast.ClassDef: ("a class defined inside the function", "define the class at module level"),
    gast.Global: ("a global statement", "pass the value in as an argument and return the "
                  "new value instead of assigning a global"),
    gast.Nonlocal: ("a nonlocal statement", "return the new value instead of assigning "
                    "a variable of the enclosing function"),
    gast.Delete: ("a del statement", "let the name go out of scope instead"),
    gast.Import: ("an import inside the function", "import at module level"),
    gast.ImportFrom: ("an import inside the function", "import at module level"),
    gast.Raise: ("a raise statement", "check inputs before calling the differentiated function"),
}

_REJECTED_EXPRESSIONS: dict[type, tuple[str, str]] = {
    gast.Yield: ("yield (a generator)", "return a list or an array of the values instead"),
    gast.YieldFrom: ("yield from (a generator)", "return a list or an array instead"),
    gast.Await: ("await", "differentiate a synchronous function"),
    gast.NamedExpr: ("an assignment expression (:=)", "assign the value in its own statement"),
}


def _reject(source: Source, node: gast.AST, what: str, hint: str) -> None:
    raise UnsupportedSyntaxError(f"srcdiff does not support {what}", source.loc(node), hint)


def check(source: Source) -> Source:
    """Raise UnsupportedSyntaxError at the first unsupported construct; else return ``source``."""
    fdef = source.node
    if isinstance(fdef, gast.AsyncFunctionDef):
        _reject(source, fdef, "an async function", "differentiate a synchronous function")
    args = fdef.args
    if args.vararg is not None or args.kwarg is not None:
        _reject(source, fdef, "*args or **kwargs parameters",
                "name each parameter, or pass a tuple/dict as one parameter")
    for stmt in fdef.body:
        _check_stmt(source, stmt)
    return source


def _check_stmt(source: Source, stmt: gast.stmt) -> None:
    if type(stmt) in _REJECTED:
        _reject(source, stmt, *_REJECTED[type(stmt)])
    if not isinstance(stmt, SUPPORTED_STATEMENTS):
        _reject(source, stmt, f"the {type(stmt).__name__} statement",
                "rewrite it with assignments and calls")
    if isinstance(stmt, (gast.For, gast.While)) and stmt.orelse:
        _reject(source, stmt.orelse[0], "an else clause on a loop",
                "set a flag before break and test it after the loop")
    if isinstance(stmt, gast.For):
        _check_target(source, stmt.target)
    if isinstance(stmt, (gast.If, gast.For, gast.While)):
        _check_expressions(source, stmt.test if not isinstance(stmt, gast.For) else stmt.iter)
        for inner in stmt.body + stmt.orelse:
            _check_stmt(source, inner)
        return
    if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
        for target in targets:
            _check_target(source, target)
        if isinstance(stmt, gast.AnnAssign) and stmt.value is None:
            _reject(source, stmt, "a bare annotation without a value", "assign a value")
    _check_expressions(source, stmt)


def _check_expressions(source: Source, stmt: gast.AST) -> None:
    for node in gast.walk(stmt):
        if type(node) in _REJECTED_EXPRESSIONS:
            _reject(source, node, *_REJECTED_EXPRESSIONS[type(node)])
        if isinstance(node, gast.Call):
            if isinstance(node.func, gast.Name) and node.func.id in ("eval", "exec", "compile"):
                _reject(source, node, f"{node.func.id}() (code built at run time)",
                        "write the code in the function itself")
            for arg in node.args:
                if isinstance(arg, gast.Starred):
                    _reject(source, arg, "*-unpacking in a call",
                            "pass the arguments one by one")
            for kw in node.keywords:
                if kw.arg is None:
                    _reject(source, kw.value, "**-unpacking in a call",
                            "pass the keyword arguments one by one")
                elif kw.arg == "out":
                    _reject(source, kw.value, "the out= argument (writing into an existing array)",
                            "assign the result to a new name instead")


def _check_target(source: Source, target: gast.expr) -> None:
    if isinstance(target, gast.Name):
        return
    if isinstance(target, (gast.Tuple, gast.List)):
        for elt in target.elts:
            if isinstance(elt, gast.Starred):
                _reject(source, elt, "starred assignment (a, *rest = ...)",
                        "index the sequence explicitly")
            _check_target(source, elt)
        return
    if isinstance(target, gast.Subscript):
        if isinstance(target.value, gast.Name):
            return
        _reject(source, target, "assignment into an entry of an entry (a[i][j] = ...)",
                "index once: a[i, j] = ... for arrays, or rebuild the inner list")
    if isinstance(target, gast.Attribute):
        _reject(source, target, "assignment to an attribute (obj.attr = ...)",
                "return the new value instead of storing it on an object")
    _reject(source, target, "this assignment target", "assign to a plain name")
