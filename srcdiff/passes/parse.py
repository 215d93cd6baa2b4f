"""parse: a Python function -> its gast tree, with where it came from.

Reads the function's source (``inspect.getsourcelines``), parses it with gast, and keeps
what later passes need: the file name and line offset (for error messages), the
function's globals and closure cells (the namespace its names resolve in).

>>> def f(x):
...     return x * 2
>>> src = parse(f)
>>> src.node.name, [a.id for a in src.node.args.args]
('f', ['x'])
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gast

from ..errors import Loc, SourceUnavailableError

__all__ = ["Source", "parse"]


@dataclass(eq=False)
class Source:
    """A parsed function and the context its code runs in."""

    fn: Callable
    node: gast.FunctionDef
    filename: str
    first_line: int  # line number in the file of the snippet's first line
    indent: int  # columns stripped by dedenting
    lines: list  # the snippet's lines, as in the file
    globals: dict
    cells: dict = field(default_factory=dict)  # closure variable name -> cell

    def loc(self, node: Any) -> Loc:
        """Where ``node`` is in the user's file."""
        lineno = getattr(node, "lineno", None) or 1
        col = (getattr(node, "col_offset", None) or 0) + self.indent
        index = lineno - 1
        text = self.lines[index] if 0 <= index < len(self.lines) else ""
        return Loc(self.filename, lineno + self.first_line - 1, col, text.rstrip("\n"))


def _unwrap(fn: Callable) -> Callable:
    while True:
        if isinstance(fn, (staticmethod, classmethod)):
            fn = fn.__func__
            continue
        inner = getattr(fn, "__wrapped__", None)
        if inner is None or inner is fn:
            return fn
        fn = inner


def parse(fn: Callable) -> Source:
    """Parse ``fn``'s source; raise SourceUnavailableError when it cannot be read."""
    fn = _unwrap(fn)
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
    if code is None:
        raise SourceUnavailableError(
            f"cannot read the source of {name}: it is not a Python function "
            f"({type(fn).__name__})",
            hint="builtins and C extensions have no Python source; register a derivative "
            "rule for them with srcdiff.register_adjoint",
        )
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {name} (defined in {code.co_filename})",
            hint="srcdiff needs the function's source: define it in a file or a notebook "
            "cell rather than at an interactive prompt, or in a string passed to exec",
        ) from exc
    first_line = max(first_line, 1)
    snippet = "".join(lines)
    dedented = textwrap.dedent(snippet)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    filename = code.co_filename
    try:
        module = gast.parse(dedented)
    except SyntaxError:
        # A lambda or def cut out of a larger expression: retry on the first line.
        try:
            module = gast.parse(dedented.splitlines()[0].strip().rstrip(",)"))
        except SyntaxError as exc:
            raise SourceUnavailableError(
                f"cannot parse the source of {name}",
                Loc(filename, first_line, 0, lines[0].rstrip("\n")),
                hint="define the function with def on its own lines",
            ) from exc
    node = _find(module, fn, code)
    if node is None:
        raise SourceUnavailableError(
            f"cannot find the definition of {name} in its source",
            Loc(filename, first_line, 0, lines[0].rstrip("\n")),
            hint="define the function with def on its own lines",
        )
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    return Source(fn, node, filename, first_line, indent, lines, fn.__globals__, cells)


def _find(module: gast.Module, fn: Callable, code: Any) -> gast.FunctionDef | None:
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    for node in gast.walk(module):
        if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef)) and node.name == code.co_name:
            node.decorator_list = []
            return node
    for node in gast.walk(module):
        if isinstance(node, gast.Lambda):
            args = node.args
            names = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
            if names == params:
                body = gast.Return(value=node.body)
                gast.copy_location(body, node.body)
                fdef = gast.FunctionDef(
                    name="lambda_", args=node.args, body=[body], decorator_list=[],
                    returns=None, type_comment=None, type_params=[],
                )
                gast.copy_location(fdef, node)
                return fdef
    return None
