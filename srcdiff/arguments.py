"""The arguments of a derivative's call, read before any code is made: which
parameters ``wrt`` names, the kind of each differentiated argument (float, array,
container), which hold complex values, and the methods of arguments the code will
differentiate through."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import pipeline
from .errors import ArgumentError, NoRuleError
from .passes import fence, parse

__all__ = ["underlying", "wrt_spec", "kind_of", "complex_in", "complex_params", "real_args",
           "fast_kinds", "check_methods", "REAL_ATOMS", "F64"]


def underlying(fn: Callable) -> Callable:
    while isinstance(fn, (staticmethod, classmethod)):
        fn = fn.__func__
    return getattr(fn, "__func__", fn)


def wrt_spec(fn: Callable, wrt: Any) -> tuple[tuple, bool]:
    """Normalise ``wrt`` to ((position or None, name), ...) and whether it was a tuple."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    params = list(sig.parameters.values()) if sig is not None else []
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params) and hasattr(fn, "__code__"):

        fence.check(parse.parse(fn))  # reports *args/**kwargs at the definition
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [p.name for p in params]
    single = not isinstance(wrt, (tuple, list))
    entries = [wrt] if single else list(wrt)
    if not entries:
        raise ArgumentError("wrt is empty", pipeline.function_loc(fn),
                            hint="name at least one parameter to differentiate with respect to")
    spec = []
    for entry in entries:
        if isinstance(entry, bool) or not isinstance(entry, (int, str)):
            raise ArgumentError(
                f"wrt entries must be parameter positions (int) or names (str), not {entry!r}",
                pipeline.function_loc(fn), hint="for example wrt=0, wrt='W' or wrt=(0, 'b')")
        if isinstance(entry, int):
            if not 0 <= entry < len(positional):
                raise ArgumentError(
                    f"wrt={entry} but {getattr(fn, '__name__', fn)} has "
                    f"{len(positional)} positional parameter(s): {[p.name for p in positional]}",
                    pipeline.function_loc(fn), hint="count positions from 0, or name the parameter")
            spec.append((entry, positional[entry].name))
        else:
            if sig is not None and entry not in names:
                raise ArgumentError(
                    f"wrt={entry!r} names no parameter of {getattr(fn, '__name__', fn)}; "
                    f"its parameters are {names}",
                    pipeline.function_loc(fn), hint="use one of the parameter names")
            pos = next((i for i, p in enumerate(positional) if p.name == entry), None)
            spec.append((pos, entry))
    return tuple(spec), single


def _leaf_kind(x: Any) -> str:
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return "ok" if dtype.kind in "fc" else "int"
    if isinstance(x, (bool, int, np.integer, np.bool_)):
        return "int"
    if isinstance(x, (float, complex)):
        return "ok"
    return "other"


def kind_of(value: Any, name: str, fn: Callable) -> str:
    t = type(value)
    if t is np.ndarray:
        if value.dtype.kind in "fc":
            return "array"
    elif t is float:
        return "float"
    elif t in (dict, list, tuple):
        return "tree"
    leaf = _leaf_kind(value)
    if leaf == "ok":
        return "float" if np.ndim(value) == 0 and not isinstance(value, np.ndarray) else "array"
    if leaf == "int":
        what = (f"an integer array (dtype {value.dtype})" if hasattr(value, "dtype")
                and getattr(value, "ndim", 0) else f"an integer ({type(value).__name__} {value!r})")
        raise ArgumentError(
            f"argument {name!r} is {what}; srcdiff differentiates with respect to floating-point "
            "values only",
            pipeline.function_loc(fn),
            hint=f"pass a float (e.g. {name}=float({name}) or {name}.astype(float)), "
            f"or leave {name!r} out of wrt",
        )
    raise ArgumentError(
        f"argument {name!r} is a {type(value).__name__}, which srcdiff cannot differentiate "
        "with respect to",
        pipeline.function_loc(fn),
        hint="differentiate with respect to floats, float arrays, or dicts/lists/tuples of them",
    )


F64 = np.dtype(np.float64)


# Complex numbers.  Code is made for the arguments that hold complex values (the
# complexes pass follows them); these types can hold none, whatever they are:
REAL_ATOMS = frozenset({float, int, bool, str, bytes, type(None), slice, type(Ellipsis), range,
                         np.random.Generator, np.random.RandomState})


def complex_in(value: Any, seen: set | None = None) -> str | None:
    """Where in ``value`` a complex number is (``""`` for ``value`` itself, ``"['w']"``
    or ``".W"`` inside a container or an object), or None when there is none.  A float
    array costs a type and a dtype check."""
    t = type(value)
    if t is np.ndarray:
        kind = value.dtype.kind
        if kind == "c":
            return ""
        if kind != "O":
            return None
        return next((f"[{i}]{inner}" for i, v in enumerate(value.flat)
                     if (inner := complex_in(v, seen)) is not None), None)
    if t in REAL_ATOMS:
        return None
    if t is complex or isinstance(value, (complex, np.complexfloating)):
        return ""
    if isinstance(value, np.generic):
        return None
    dtype = getattr(value, "dtype", None)  # another array type (Dask, CuPy)
    if isinstance(dtype, np.dtype):
        return "" if dtype.kind == "c" else None
    if isinstance(value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                          types.MethodType)):
        return None  # (what a function makes is the complexes pass's side)
    seen = set() if seen is None else seen
    if id(value) in seen:
        return None
    seen.add(id(value))
    if isinstance(value, dict):
        items: Any = ((f"[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    elif hasattr(value, "__dict__") or hasattr(type(value), "__slots__"):
        names = list(getattr(value, "__dict__", {}))
        names += [n for c in type(value).__mro__ for n in getattr(c, "__slots__", ())
                  if isinstance(n, str) and n not in names]
        items = ((f".{n}", getattr(value, n, None)) for n in names)
    else:
        return None
    for where, inner in items:
        found = complex_in(inner, seen)
        if found is not None:
            return where + found
    return None


def complex_params(fn: Callable, args: tuple, kwargs: dict, names: tuple | None) -> frozenset:
    """The parameters whose arguments are complex numbers or arrays; ArgumentError for
    a complex number inside a container or an object."""
    found = set()
    for i, value in enumerate(args):
        t = type(value)
        if t is float or t is np.ndarray and value.dtype.kind == "f":
            continue
        where = complex_in(value)
        if where is not None:
            name = names[i] if names is not None and i < len(names) else None
            if where or name is None:
                _complex_error(fn, name or f"#{i}", where)
            found.add(name)
    for name, value in kwargs.items():
        where = complex_in(value)
        if where is not None:
            if where:
                _complex_error(fn, name, where)
            found.add(name)
    return frozenset(found)


def real_args(args: tuple) -> bool:
    """Whether no positional argument holds a complex number (quick for floats and float
    arrays)."""
    for value in args:
        t = type(value)
        if not (t is float or t is np.ndarray and value.dtype.kind == "f") and complex_in(value) is not None:
            return False
    return True


def _complex_error(fn: Callable, name: str, where: str) -> None:
    what = f"{name}{where}"
    raise ArgumentError(
        f"argument {what} is a complex number inside a container or an object; srcdiff takes "
        "complex numbers and arrays as arguments of their own only",
        pipeline.function_loc(fn),
        hint=f"pass {what} as an argument of its own, or its real and imaginary parts "
        f"({what}.real and {what}.imag) as two float arguments")


def fast_kinds(args: tuple, positions: tuple) -> tuple | None:
    """The kinds of the positional arguments at ``positions`` when each is a Python float
    or a float ndarray (the common case, kept short); None otherwise."""
    kinds = []
    try:
        for i in positions:
            value = args[i]
            t = type(value)
            if t is float:
                kinds.append("float")
            elif t is np.ndarray and value.dtype.kind == "f":
                kinds.append("array")
            else:
                return None
    except IndexError:
        return None
    return tuple(kinds)


def check_methods(fn: Callable, methods: tuple, args: tuple, kwargs: dict) -> None:
    """Before the code runs: each method it differentiates through on an argument
    (``rng.normal(mu, ...)``) is defined in Python on the argument's class, so srcdiff
    can read it; else the call is refused now, at its line."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        return
    for param, name, loc in methods:
        if param not in bound:
            continue
        obj = bound[param]
        method = inspect.getattr_static(type(obj), name, None)
        if not isinstance(method, types.FunctionType):
            raise NoRuleError(
                f"cannot differentiate the call of .{name}() on a {type(obj).__name__}: it is not "
                "a method defined in Python on its class", loc,
                hint=f"call the function it runs directly, with the instance first "
                f"({type(obj).__name__}.{name}(obj, ...)), or register a rule for it")
