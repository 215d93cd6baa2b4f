"""parse: a Python function -> its gast tree, with where it came from.

Reads the file (or notebook cell) the function was defined in, finds the function's
definition there, and keeps what later passes need: the file name and line numbers
(for error messages), the function's globals and closure cells (the namespace its
names resolve in).

The function's code object is the truth: a definition is taken only when it compiles
to that code.  So of two lambdas on one line the right one is found, and a file
edited since the function was defined is reported rather than silently read.

>>> def f(x):
...     return x * 2
>>> src = parse(f)
>>> src.node.name, [a.id for a in src.node.args.args]
('f', ['x'])
"""

from __future__ import annotations
import __future__

import ast
import copy
import functools
import inspect
import linecache
import re
import symtable
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gast

from ..errors import Loc, SourceUnavailableError, UnsupportedSyntaxError

__all__ = ["Source", "parse"]


@dataclass(eq=False)
class Source:
    """A parsed function and the context its code runs in."""

    fn: Callable
    node: gast.FunctionDef
    filename: str
    first_line: int  # line number in the file of lines[0] (node line numbers are the file's)
    indent: int  # columns to add to the node's col_offsets (stripped by dedenting)
    lines: list  # the file's lines, from first_line on
    globals: dict
    cells: dict = field(default_factory=dict)  # closure variable name -> cell

    def loc(self, node: Any) -> Loc:
        """Where ``node`` is in the user's file."""
        lineno = getattr(node, "lineno", None) or 1
        col = (getattr(node, "col_offset", None) or 0) + self.indent
        index = lineno - self.first_line
        text = self.lines[index] if 0 <= index < len(self.lines) else ""
        return Loc(self.filename, lineno, col, text.rstrip("\n"))


def parse(fn: Callable) -> Source:
    """Parse ``fn``'s source; raise SourceUnavailableError when it cannot be read, or
    when the source that can be read is not the code ``fn`` runs."""
    fn = _function(fn)
    code = fn.__code__
    name = fn.__qualname__
    try:
        lines, _ = inspect.findsource(fn)  # not getsourcelines: that follows __wrapped__
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {name} (defined in {code.co_filename})",
            hint="srcdiff needs the function's source: define it in a file or a notebook "
            "cell rather than at an interactive prompt, or in a string passed to exec",
        ) from exc
    filename = code.co_filename
    here = Loc(filename, code.co_firstlineno, 0, _line(lines, code.co_firstlineno).rstrip("\n"))
    found = _locate(fn, filename, "".join(lines))
    if found is None:
        raise SourceUnavailableError(
            f"the source of {name} in {filename} is not the code it runs: the file was "
            "changed after the function was defined",
            here,
            hint="reload the module (importlib.reload) or run the definition again, so that "
            "srcdiff reads the code that runs",
        )
    if found is _UNPARSED:
        raise SourceUnavailableError(
            f"cannot find the definition of {name} in its source",
            here,
            hint="define the function with def on its own lines",
        )
    tree, indent = found
    node = _to_function_def(tree)
    _mangle(node, _owner(code))
    _explicit_super(node, code)
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    return Source(fn, node, filename, 1, indent, lines, fn.__globals__, cells)


def _function(fn: Callable) -> types.FunctionType:
    """The plain Python function whose source is wanted, or a clear error."""
    while isinstance(fn, (staticmethod, classmethod, types.MethodType)):
        fn = fn.__func__
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    wrapped = getattr(fn, "__wrapped__", None)
    if not isinstance(fn, types.FunctionType):
        if wrapped is not None:
            raise SourceUnavailableError(
                f"cannot read the source of {name}: it is a {type(fn).__name__} wrapping "
                f"{getattr(wrapped, '__qualname__', wrapped)!s}, and the wrapper has no Python "
                "source, so srcdiff cannot tell what it does to the value",
                _definition(wrapped),
                hint="differentiate the undecorated function (its __wrapped__) if the decorator "
                "does not change the value, or write the decorator as a Python function",
            )
        raise SourceUnavailableError(
            f"cannot read the source of {name}: it is not a Python function "
            f"({type(fn).__name__})",
            hint="builtins and C extensions have no Python source; register a derivative "
            "rule for them with srcdiff.register_adjoint",
        )
    code = fn.__code__
    if wrapped is not None and code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        inner = getattr(wrapped, "__qualname__", None) or repr(wrapped)
        raise UnsupportedSyntaxError(
            f"{fn.__name__} is a decorator's wrapper ({name}) around {inner}; srcdiff "
            "differentiates the wrapper, since it may change the value, but it takes "
            "*args or **kwargs",
            _definition(fn),
            hint="give the wrapper the parameters of the function it wraps "
            "(def wrapper(x, y): return fn(x, y)), or, if the decorator does not change the "
            "value, differentiate the undecorated function: srcdiff.grad(f.__wrapped__)",
        )
    return fn


def _definition(fn: Any) -> Loc | None:
    """Where ``fn`` is defined, if it is a Python function."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    text = linecache.getline(code.co_filename, code.co_firstlineno).rstrip("\n")
    return Loc(code.co_filename, code.co_firstlineno, len(text) - len(text.lstrip()), text)


def _line(lines: list, lineno: int) -> str:
    return lines[lineno - 1] if 0 < lineno <= len(lines) else ""


_UNPARSED = object()  # the source around the definition does not parse


def _locate(fn: types.FunctionType, filename: str, text: str) -> tuple | object | None:
    """The definition (an ast node) of ``fn`` in ``text`` and the columns its offsets
    lack; None when there are definitions but none compiles to ``fn``'s code (the text
    changed), _UNPARSED when no definition could be parsed out of the text."""
    if _TEXTS.get(filename) == text:
        text = _TEXTS[filename]  # one copy of a file's text for all the keys that hold it
    else:
        _TEXTS[filename] = text
    key = (fn.__code__, filename, text)
    if key not in _LOCATED:
        if len(_LOCATED) > 256:
            _LOCATED.clear()
            _TEXTS.clear()
        _LOCATED[key] = _search(fn, text)
    return _LOCATED[key]


_LOCATED: dict = {}
_TEXTS: dict = {}


def _search(fn: types.FunctionType, text: str) -> tuple | object | None:
    code = fn.__code__
    # First the block of lines at the code's first line, parsed alone: usually the
    # definition is there, and neither the whole file nor its tree need be read.
    for node, indent in _block_candidates(code, text):
        if _compiles_to(node, code, _import_variants(fn, text)):
            return node, indent
    tree = _parse_text(text)
    if tree is not None:
        # Definitions on the code's first line first, then any other of its name in the
        # file (lines may have been added above the function since).
        named = [n for n in ast.walk(tree) if _named(n, code)]
        named.sort(key=lambda n: _first_line(n) != code.co_firstlineno)  # stable sort
        candidates: list = [(node, 0) for node in named]
    else:
        candidates = list(_block_candidates(code, text))
        if not candidates:
            return _UNPARSED
    for node, indent in candidates:
        if _compiles_to(node, code, _import_variants(fn, text if tree is not None else None)):
            return node, indent
    return None


def _block_candidates(code: types.CodeType, text: str) -> Iterator[tuple[ast.AST, int]]:
    """Definitions in the block of lines that starts at ``code``'s first line, for a
    file that does not parse as a whole (a notebook cell with %magics)."""
    lineno = code.co_firstlineno
    lines = text.splitlines(True)
    block = _indented_block(lines, lineno - 1) if code.co_name != "<lambda>" else None
    tree = None if block is None else _parse_block(block)
    if tree is None:  # the tokenizer knows where the block ends (and ends lambdas)
        block = inspect.getblock(lines[lineno - 1:]) if 0 < lineno <= len(lines) else []
        tree = _parse_block(block)
    if tree is not None:
        indent = len(block[0]) - len(block[0].lstrip())
        ast.increment_lineno(tree, lineno - 1)
        for node in ast.walk(tree):
            if _named(node, code):
                yield node, indent
        return
    if code.co_name == "<lambda>" and block:  # a lambda inside a larger expression
        yield from ((node, 0) for node in _lambdas_on_line(block[0], lineno))


def _parse_block(block: list) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent("".join(block)))
    except SyntaxError:
        return None


def _indented_block(lines: list, start: int) -> list | None:
    """The def at ``lines[start]`` (decorators first) up to its last line of code, told
    by indentation alone; None where that is not enough (tabs, a header that does not
    look like one).

    Much cheaper than ``inspect.getblock``, which tokenizes (and, the first time in a
    process, compiles the tokenizer's patterns).  A line less indented inside a string
    or brackets ends the block too early, and the block then does not parse: the
    caller falls back to ``inspect.getblock``.  A block that parses has the lines
    ``getblock`` finds, but for its trailing comments, which leave the tree as it is.
    """
    if not 0 <= start < len(lines) or not lines[start].lstrip(" ").startswith(("@", "def ", "async def ")):
        return None
    margin = _indentation(lines[start])
    header = True  # decorators, until the def line
    end = start  # the block is lines[start:end + 1]
    for i in range(start, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank lines and comments end no block
        indent = _indentation(lines[i])
        if indent is None:
            return None
        if indent > margin:  # the body, or a decorator's or the header's next line
            end = i
            continue
        if not header or indent < margin:
            break  # the first statement after the def
        if stripped.startswith(("def ", "async def ")):
            header = False
        elif not stripped.startswith("@"):
            return None
        end = i
    return None if header else lines[start:end + 1]


def _indentation(line: str) -> int | None:
    """The columns of a line's indentation, None when it holds a tab or a form feed
    (which the tokenizer counts its own way)."""
    text = line.lstrip(" ")
    if text[:1] in ("\t", "\f"):
        return None
    return len(line) - len(text)


def _named(node: ast.AST, code: types.CodeType) -> bool:
    if isinstance(node, ast.Lambda):
        return code.co_name == "<lambda>"
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name


def _first_line(node: ast.AST) -> int:
    """The line a code object of ``node`` starts at (decorators included)."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


@functools.lru_cache(maxsize=32)
def _parse_text(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _lambdas_on_line(line: str, lineno: int) -> Iterator[ast.Lambda]:
    """Each lambda that starts on ``line``, as the longest expression from its keyword."""
    for match in re.finditer(r"\blambda\b", line):
        start = match.start()
        for end in range(len(line.rstrip()), start, -1):
            try:
                expr = ast.parse(line[start:end], mode="eval").body
            except SyntaxError:
                continue
            if isinstance(expr, ast.Lambda):
                ast.increment_lineno(expr, lineno - 1)
                for node in ast.walk(expr):
                    if hasattr(node, "col_offset"):
                        node.col_offset += start
                yield expr
            break


# -- is this definition the code that runs? -------------------------------------------

_FUTURE_FLAGS = functools.reduce(
    lambda acc, feature: acc | getattr(__future__, feature).compiler_flag, __future__.all_feature_names, 0)
_CO_NESTED = 0x10


def _import_variants(fn: types.FunctionType, text: str | None) -> Iterator[frozenset]:
    """Sets of global names to compile as bound by ``import``.

    A call ``np.sum(x)`` compiles differently when ``np`` is imported in the module
    being compiled.  Tried in turn: every module the function reads (usually what its
    file imports), nothing (notebooks compile a cell a statement at a time), what the
    file imports (when it parses; only now read, as the file's symbol table costs more
    than the rest of the search).
    """
    read = {name for inner in _codes(fn.__code__) for name in inner.co_names}
    modules = frozenset(n for n in read if isinstance(fn.__globals__.get(n), types.ModuleType))
    yield modules
    if modules:
        yield frozenset()
    if text is not None:
        imported = frozenset(read & _imported(text))
        if imported not in (modules, frozenset()):
            yield imported


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


@functools.lru_cache(maxsize=32)
def _imported(text: str) -> frozenset:
    """The names a module's own text binds with ``import`` at module level."""
    try:
        table = symtable.symtable(text, "<srcdiff>", "exec")
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(s.get_name() for s in table.get_symbols() if s.is_imported())


def _compiles_to(node: ast.AST, code: types.CodeType, variants: Iterable[frozenset]) -> bool:
    """Whether ``node`` (a def or a lambda) compiles to ``code``, up to line numbers.

    The definition is compiled alone, inside a class when ``code`` was a method (names
    are mangled there) and inside a function that binds ``code``'s free variables (so
    they compile as closure reads, not global ones), after imports of the names in
    one of ``variants``."""
    # Compiling reads the tree and leaves it as it is: only the def's own node is copied,
    # to drop its decorators (they run in the enclosing scope).
    if isinstance(node, ast.Lambda):
        body: list = [ast.Expr(node)]
    else:
        node = copy.copy(node)
        node.decorator_list = []
        body = [node]
    owner = _owner(code)
    if owner is not None:
        cls = ast.parse(f"class {owner}:\n    pass").body[0]
        cls.body = body
        body = [cls]
    free = [n for n in code.co_freevars if not (owner is not None and n == "__class__")]
    if free:
        scope = ast.parse(f"def _srcdiff_scope():\n    {' = '.join(free)} = None").body[0]
        scope.body.extend(body)
        body = [scope]
    want = _shape(code)
    flags = code.co_flags & _FUTURE_FLAGS
    for imported in variants:
        imports = [ast.Import(names=[ast.alias(name=n)]) for n in sorted(imported)]
        module = ast.fix_missing_locations(ast.Module(body=imports + body, type_ignores=[]))
        for optimize in (-1, 0, 1, 2):  # the code may have been compiled with -O or optimize=
            try:
                compiled = compile(module, code.co_filename, "exec", flags=flags, dont_inherit=True,
                                   optimize=optimize)
            except (SyntaxError, ValueError, TypeError):
                return False
            found = _find_code(compiled, code.co_name)
            if found is not None and _shape(found) == want:
                return True
    return False


def _find_code(module: types.CodeType, name: str) -> types.CodeType | None:
    """The outermost code object called ``name`` inside ``module`` (breadth first)."""
    queue = [module]
    while queue:
        current = queue.pop(0)
        for const in current.co_consts:
            if isinstance(const, types.CodeType):
                if const.co_name == name:
                    return const
                queue.append(const)
    return None


def _shape(code: types.CodeType) -> tuple:
    """What ``code`` computes: its bytecode, constants and names, not where it is."""
    return (code.co_code, tuple(_const(c) for c in code.co_consts), code.co_names, code.co_varnames,
            code.co_freevars, code.co_cellvars, code.co_argcount, code.co_posonlyargcount,
            code.co_kwonlyargcount, code.co_flags & ~_CO_NESTED)


def _const(value: Any) -> Any:
    if isinstance(value, types.CodeType):
        return _shape(value)
    if isinstance(value, tuple):
        return ("tuple", tuple(_const(v) for v in value))
    if isinstance(value, frozenset):
        return ("frozenset", tuple(sorted(repr(_const(v)) for v in value)))
    return (type(value).__name__, repr(value))  # repr: 0.0 and -0.0 differ, nan equals nan


def _owner(code: types.CodeType) -> str | None:
    """The innermost class whose body holds ``code`` (``A`` for ``A.m``,
    ``f.<locals>.A.m`` and ``A.m.<locals>.g``): in a qualified name, a function is
    followed by ``<locals>``, a class by what it defines."""
    parts = getattr(code, "co_qualname", "").split(".")
    for part, after in zip(reversed(parts[:-1]), reversed(parts[1:])):
        if part.isidentifier() and after != "<locals>":
            return part
    return None


def _mangle(tree: gast.FunctionDef, owner: str | None) -> None:
    """Rename ``__private`` names as the compiler does in a class body (``self.__w``
    runs as ``self._Model__w``): the generated code is compiled outside the class."""
    prefix = (owner or "").lstrip("_")
    if not prefix:
        return

    def mangled(name: str | None) -> str | None:
        if name and name.startswith("__") and not name.endswith("__") and "." not in name:
            return f"_{prefix}{name}"
        return name

    for node in gast.walk(tree):
        if isinstance(node, gast.Name):
            node.id = mangled(node.id)
        elif isinstance(node, gast.Attribute):
            node.attr = mangled(node.attr)
        elif isinstance(node, gast.keyword):
            node.arg = mangled(node.arg)
        elif isinstance(node, (gast.Global, gast.Nonlocal)):
            node.names = [mangled(n) for n in node.names]
        elif isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and node is not tree:
            node.name = mangled(node.name)


def _explicit_super(tree: gast.FunctionDef, code: types.CodeType) -> None:
    """``super()`` -> ``super(__class__, self)``: the zero-argument form works only in
    code compiled in a class body, and the generated code is not."""
    params = tree.args.posonlyargs + tree.args.args
    if "__class__" not in code.co_freevars or not params:
        return
    for node in gast.walk(tree):
        if (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "super"
                and not node.args and not node.keywords):
            node.args = [gast.Name(id="__class__", ctx=gast.Load(), annotation=None, type_comment=None),
                         gast.Name(id=params[0].id, ctx=gast.Load(), annotation=None, type_comment=None)]
            for arg in node.args:
                gast.copy_location(arg, node)


def _to_function_def(node: ast.AST) -> gast.FunctionDef:
    """``node`` as a fresh gast def without decorators (a lambda becomes ``lambda_``)."""
    tree = gast.ast_to_gast(node)
    if isinstance(tree, gast.Lambda):
        body = gast.Return(value=tree.body)
        gast.copy_location(body, tree.body)
        fdef = gast.FunctionDef(
            name="lambda_", args=tree.args, body=[body], decorator_list=[],
            returns=None, type_comment=None, type_params=[],
        )
        return gast.copy_location(fdef, tree)
    tree.decorator_list = []
    return tree
