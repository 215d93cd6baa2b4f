"""Where generated code meets its callers and callees.

The seed cotangent of a gradient's result (:func:`seed`), gradients handed back that
share no memory (:func:`distinct`), and the derivative of a method whose class is known
only when the code runs (:func:`method_vjp`, :func:`method_jvp`).
"""

from __future__ import annotations

import inspect
import sys
import types
import weakref
from typing import Any

import numpy as np

from ..errors import NonScalarOutputError, NoRuleError

_METHOD_DERIVATIVES: dict = {}
# How a derivative of a method is made: the API layer puts its vjp and jvp here when it
# is imported (the runtime imports nothing above it).
DERIVATIVES: dict = {}
# Generated code object -> where the user's function returns, for errors raised from
# inside the generated code (a non-scalar result for grad); filled by the pipeline, and
# an entry goes with its code.
RETURN_LOCATIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Why grad refuses a complex result, and what to do (the pipeline says so too, where the
# result is certainly complex).
COMPLEX_RESULT = ("its gradient is defined only for a function that is holomorphic in complex "
                  "arguments (f'(z)), and this one is not, or its arguments are real")
COMPLEX_RESULT_HINT = ("differentiate a real quantity (np.real(f), np.abs(f) ** 2), or use srcdiff.jvp "
                       "(a complex result of real arguments) or srcdiff.vjp with a complex cotangent")


def method_vjp(obj: Any, name: str, wrt: tuple) -> Any:
    """The vjp of the method ``name`` of ``obj``'s class, with respect to the parameter
    positions ``wrt`` (``obj`` is position 0): how generated code differentiates
    ``obj.name(...)``, whose class is known only when it runs."""
    return _method_derivative("vjp", obj, name, wrt)


def method_jvp(obj: Any, name: str, wrt: tuple) -> Any:
    """The jvp of the method ``name`` of ``obj``'s class (see :func:`method_vjp`)."""
    return _method_derivative("jvp", obj, name, wrt)


def _method_derivative(mode: str, obj: Any, name: str, wrt: tuple) -> Any:
    fn = inspect.getattr_static(type(obj), name, None)
    key = (mode, fn, wrt)
    found = _METHOD_DERIVATIVES.get(key)
    if found is None:
        if not isinstance(fn, types.FunctionType):
            raise NoRuleError(
                f"cannot differentiate the call of .{name}() on a {type(obj).__name__}: it is not "
                "a method defined in Python on its class",
                hint=f"call the function it runs directly, with the instance first "
                f"({type(obj).__name__}.{name}(obj, ...)), or register a rule for it")
        if len(_METHOD_DERIVATIVES) >= 1024:  # (bounded: the oldest go first)
            del _METHOD_DERIVATIVES[next(iter(_METHOD_DERIVATIVES))]
        found = _METHOD_DERIVATIVES[key] = DERIVATIVES[mode](fn, wrt=wrt)
    return found


def seed(out: Any, where: str, holomorphic: bool = False) -> Any:
    """The cotangent 1 for a scalar result; raises if the result is not a scalar, or is
    complex where the gradient of a complex result is not defined (``holomorphic``: the
    function is holomorphic in complex arguments, and its gradient is ``f'(z)``)."""
    if isinstance(out, (float, int, np.floating, np.integer, np.bool_)):
        return 1.0
    size = getattr(out, "size", None)
    if size == 1 and out.dtype.kind == "f":
        return np.ones_like(out)
    complex_out = isinstance(out, (complex, np.complexfloating)) or getattr(
        getattr(out, "dtype", None), "kind", None) == "c"
    if complex_out and not holomorphic:
        loc = RETURN_LOCATIONS.get(sys._getframe(1).f_code)
        raise NonScalarOutputError(
            "grad needs a real result, but the function returned a complex number"
            + ("" if loc else f" ({where})") + "; " + COMPLEX_RESULT, loc, hint=COMPLEX_RESULT_HINT)
    if isinstance(out, complex):
        return 1.0
    if size == 1:
        return np.ones_like(out)
    shape = getattr(out, "shape", None)
    what = f"an array of shape {shape}" if shape is not None else f"a {type(out).__name__}"
    loc = RETURN_LOCATIONS.get(sys._getframe(1).f_code)
    raise NonScalarOutputError(
        f"grad needs a scalar result, but the function returned {what}"
        + ("" if loc else f" ({where})"),
        loc,
        hint="reduce it to a scalar (e.g. np.sum), or use srcdiff.vjp for a "
        "vector-Jacobian product",
    )


def _same_memory(a: Any, b: Any) -> bool:
    if a is b:
        return True
    base_a, base_b = getattr(a, "base", None), getattr(b, "base", None)
    return (base_a is not None and (base_a is b or base_a is base_b)) or base_b is a


def distinct(results: tuple, *others: Any) -> tuple:
    """``results`` with any entry that is (a view of) an earlier entry, or of one of
    ``others`` (the caller's cotangent), replaced by a copy: gradients handed to the
    user never share memory with each other or with the caller's arrays."""
    seen: list = list(others)
    return tuple(_distinct_leaves(r, seen) for r in results)


def _distinct_leaves(r: Any, seen: list) -> Any:
    # a module-level recursion: a nested closure calling itself would be a reference
    # cycle, keeping every gradient alive until the cyclic garbage collector runs
    if isinstance(r, dict):
        return {k: _distinct_leaves(v, seen) for k, v in r.items()}
    if isinstance(r, (list, tuple)):
        items = [_distinct_leaves(v, seen) for v in r]
        return tuple(items) if isinstance(r, tuple) else items
    if getattr(r, "shape", None) is None or not hasattr(r, "copy"):
        return r
    if any(_same_memory(r, prev) for prev in seen):
        r = r.copy()
    seen.append(r)
    return r
