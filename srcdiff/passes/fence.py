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

from typing import Any

import gast

from ..errors import UnsupportedSyntaxError
from ..rules import registry
from . import resolve
from .parse import Source, parse

__all__ = ["check", "find_complex", "makes_complex", "complex_dtype", "user_function", "SUPPORTED_STATEMENTS"]

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
            _check_layout_order(source, node)


# Reshapes whose order="A" or "K" picks C or Fortran order by the array's memory layout,
# which srcdiff does not keep (an assignment into an entry makes a C-ordered copy).
_ORDERED = {"reshape", "ravel", "flatten"}


def _check_layout_order(source: Source, call: gast.Call) -> None:
    if not (isinstance(call.func, gast.Attribute) and call.func.attr in _ORDERED):
        return
    orders = [kw.value for kw in call.keywords if kw.arg == "order"]
    orders += [a for a in call.args if isinstance(a, gast.Constant) and isinstance(a.value, str)]
    receiver = call.func.value
    if isinstance(receiver, gast.Name) and receiver.id in ("np", "numpy"):  # np.reshape(a, s, order)
        position = 2 if call.func.attr == "reshape" else 1
        orders += call.args[position:position + 1]
    for order in orders:
        if isinstance(order, gast.Name):  # a global or closure constant holds (the guard checks it)
            value = source.globals.get(order.id)
            if order.id in source.cells:
                try:
                    value = source.cells[order.id].cell_contents
                except ValueError:
                    value = None
            if isinstance(value, str):
                order = gast.Constant(value=value, kind=None)
                gast.copy_location(order, call)
        if not (isinstance(order, gast.Constant) and isinstance(order.value, str)):
            _reject(source, order, f"{call.func.attr} with an order that is not written in the code",
                    "write order='C' or order='F' as a literal")
        if isinstance(order, gast.Constant) and str(order.value).upper() in ("A", "K"):
            _reject(source, order, f"{call.func.attr} with order={order.value!r} (an order that "
                    "follows the array's memory layout)", "write order='C' or order='F'")


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


# ---------------------------------------------------------------------------------------
# Complex numbers: where a function can make one (a complex literal or dtype, a function
# that returns complex values for real inputs, a helper of the user's that does).  The
# complexes pass follows them from there.

# dtype names written as strings: only the unambiguous ones anywhere in a call ('F'
# is also order='F'), the one-letter codes where a dtype is expected.
_COMPLEX_DTYPE_NAMES = frozenset({"complex", "complex64", "complex128", "complex192", "complex256",
                                  "c8", "c16", "c24", "c32", "cfloat", "cdouble", "csingle",
                                  "clongdouble", "clongfloat", "longcomplex", "singlecomplex"})
_COMPLEX_DTYPE_CODES = frozenset({"F", "D", "G"})
_DTYPE_CALLS = frozenset({"astype", "dtype", "view"})
# modules whose every function may return complex values for real inputs
_COMPLEX_MODULES = ("numpy.fft", "numpy.lib.scimath", "numpy.lib._scimath_impl", "scipy.fft",
                    "scipy.fftpack")
_COMPLEX_FUNCTIONS: list = []  # filled on first use: (object) of eig, eigvals, roots, ...


def _complex_functions() -> list:
    if not _COMPLEX_FUNCTIONS:
        import sys

        import numpy as np

        found = [np.linalg.eig, np.linalg.eigvals, np.roots, np.sort_complex, np.emath.sqrt]
        if "scipy" in sys.modules:  # only what is already imported can be called
            try:
                import scipy.linalg
                import scipy.signal

                found += [scipy.linalg.eig, scipy.linalg.eigvals, scipy.signal.hilbert]
            except ImportError:  # pragma: no cover - a partial SciPy
                pass
        _COMPLEX_FUNCTIONS.extend(found)
    return _COMPLEX_FUNCTIONS


def makes_complex(value: Any) -> str | None:
    """What makes ``value`` (an object a function refers to) a source of complex
    numbers, or None: a complex number or array, the complex type or a complex
    dtype, or a function that returns complex values for real inputs."""
    import numpy as np

    if isinstance(value, (complex, np.complexfloating)):
        return f"the complex number {value!r}"
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "c" and not isinstance(value, type):
        return f"a complex array (dtype {dtype})"
    if value is complex or isinstance(value, type) and issubclass(value, np.complexfloating):
        return f"the complex type {getattr(value, '__name__', value)}"
    if isinstance(value, np.dtype) and value.kind == "c":
        return f"the complex dtype {value}"
    module = getattr(value, "__module__", None)
    if callable(value) and isinstance(module, str) and module.startswith(_COMPLEX_MODULES):
        return f"{module}.{getattr(value, '__name__', '?')}, which returns complex values"
    if callable(value) and isinstance(module, str) and module.startswith("numpy.polynomial") \
            and str(getattr(value, "__name__", "")).endswith("roots"):  # polyroots, chebroots, ...
        return f"{module}.{value.__name__}, which may return complex values for real inputs"
    try:
        if any(value is f for f in _complex_functions()):
            return (f"{getattr(value, '__module__', '')}.{getattr(value, '__name__', '?')}, "
                    "which may return complex values for real inputs")
    except TypeError:  # pragma: no cover
        pass
    return None


def complex_dtype(text: str, where_dtype: bool) -> bool:
    """Whether the string ``text`` names a complex dtype (the one-letter codes only where
    a dtype is expected, ``where_dtype``: ``'F'`` is also ``order='F'``)."""
    text = text.strip()
    return text.lower() in _COMPLEX_DTYPE_NAMES or where_dtype and text.lstrip("<>=|") in _COMPLEX_DTYPE_CODES


def find_complex(source: Source, res: Any = None, seen: set | None = None) -> str | None:
    """Where and how the function (or a helper of the user's it calls) can make a
    complex number from real ones, or None.  ``res``: its resolve side table, if made."""

    seen = set() if seen is None else seen
    code = getattr(source.fn, "__code__", None)
    if code in seen:
        return None
    seen.add(code)
    found = _complex_literal(source.node)
    if found is not None:
        return f"{source.loc(found[0])}: {found[1]}"
    res = res if res is not None else resolve.resolve(source)
    for ref, value in res.refs.items():
        what = makes_complex(value)
        if what is not None:
            return f"{source.loc(ref)}: {res.texts.get(ref, '')} is {what}"
    for value in res.refs.values():
        if user_function(value) and value.__code__ not in seen:

            try:
                helper = parse(value)
            except Exception:  # no source: srcdiff refuses the call if it needs its derivative
                seen.add(value.__code__)
                continue
            inner = find_complex(helper, None, seen)
            if inner is not None:
                return inner
    return None


def _complex_literal(fdef: gast.FunctionDef) -> tuple | None:
    """(node, what) of the first complex literal or complex dtype string in ``fdef``."""
    # (a step of 5j in np.r_[a:b:5j] or np.mgrid[...] counts points: not a complex number)
    counts = {id(n.step) for n in gast.walk(fdef) if isinstance(n, gast.Slice) and n.step is not None}
    for node in gast.walk(fdef):
        if isinstance(node, gast.Constant) and isinstance(node.value, complex) and id(node) not in counts:
            return node, f"the complex literal {node.value!r}"
        if isinstance(node, gast.Call):
            name = node.func.attr if isinstance(node.func, gast.Attribute) else None
            dtype_args = [kw.value for kw in node.keywords if kw.arg == "dtype"]
            if name in _DTYPE_CALLS and node.args:
                dtype_args.append(node.args[0])
            strings = [a for a in node.args + [kw.value for kw in node.keywords]
                       if isinstance(a, gast.Constant) and isinstance(a.value, str)]
            for arg in strings:
                if complex_dtype(arg.value, any(arg is d for d in dtype_args)):
                    return arg, f"the complex dtype {arg.value!r}"
    return None


def user_function(value: Any) -> bool:
    import types


    if not isinstance(value, types.FunctionType):
        return False
    module = getattr(value, "__module__", None) or ""
    if module.split(".")[0] in ("numpy", "scipy", "srcdiff"):
        return False
    return registry.lookup(value) is None and not registry.is_nondifferentiable(value)
