"""Gates: the short way into generated code for calls like the last one.  A gate is one
boolean expression over the arguments (their types, dtypes and, for code made for
them, shapes; that nothing the code was built from changed) in a ``__call__`` made for
the derivative's own class; any other call goes the general way."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import pipeline
from .arguments import F64, REAL_ATOMS

__all__ = ["gate", "shape_check", "real_terms", "shape_terms", "UNSET"]


def real_terms(ref: str, value: Any, env: dict, prefix: str, budget: list) -> list | None:
    """Terms of a gate's check that the argument read as ``ref`` is like ``value``
    (same types, same array dtypes), so holds no complex number; None when that is
    not cheap to check (the call then goes the general way, which looks inside)."""
    budget[0] -= 1
    if budget[0] < 0:
        return None
    t = type(value)
    key = f"{prefix}_{len(env)}"
    if t is np.ndarray:
        if value.dtype.kind in "cO":
            return None
        env[key] = value.dtype
        return [f"type({ref}) is ndarray and {ref}.dtype is {key}"]
    if t in REAL_ATOMS or isinstance(value, np.generic) and not isinstance(value, np.complexfloating) \
            or isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
        env[key] = t
        return [f"type({ref}) is {key}"]
    if t in (tuple, list):
        env[key] = t
        terms = [f"type({ref}) is {key}", f"len({ref}) == {len(value)}"]
        for i, inner in enumerate(value):
            more = real_terms(f"{ref}[{i}]", inner, env, prefix, budget)
            if more is None:
                return None
            terms += more
        return terms
    return None


def shape_terms(names: tuple, arg_shapes: dict, count: int, ref: Callable[[int], str],
                 env: dict) -> list[str]:
    """The terms of a check that ``count`` positional arguments (the parameters
    ``names``; argument i read as ``ref(i)``) are the float64 arrays of the shapes, and
    the floats, ``arg_shapes`` says; the shapes go into ``env``."""
    env.update(ndarray=np.ndarray, f64=F64)
    terms = []
    for i, name in enumerate(names[:count]):
        shape = arg_shapes.get(name)
        if shape == "float":
            terms.append(f"type({ref(i)}) is float")
        elif shape is not None:
            env[f"s{i}"] = shape
            terms.append(f"type({ref(i)}) is ndarray and {ref(i)}.dtype is f64 and {ref(i)}.shape == s{i}")
    return terms


def shape_check(names: tuple, arg_shapes: dict, count: int) -> Callable[[tuple], bool]:
    """A check that ``count`` positional arguments are what ``arg_shapes`` says (see
    shape_terms): one boolean expression, as it runs on every call."""
    env: dict[str, Any] = {}
    terms = [f"len(a) == {count}", *shape_terms(names, arg_shapes, count, lambda i: f"a[{i}]", env)]
    check = eval(f"lambda a: {' and '.join(terms)}", env)
    check.names, check.shapes = names, arg_shapes
    return check


UNSET = object()  # an argument not passed, to a gate


def gate(count: int, positions: tuple, args: tuple, gen: pipeline.Generated,
          check: Callable | None, params: tuple | None = None) -> Callable | None:
    """A ``__call__`` for calls like ``args`` (``count`` positional arguments, the
    differentiated ones at ``positions`` floats or float arrays): one boolean
    expression checks their types (and shapes, for code made for them) and that
    nothing the code was built from changed, then calls the generated function; any
    other call goes the general way.  None where the arguments are not so simple.

    ``params``, the function's parameters when all are plain positional-or-keyword
    ones, become the gate's own, so that keywords bind to them as they would to the
    function: then the gate takes no ``**kwargs`` (a dict made on every call)."""
    env: dict[str, Any] = {"function": gen.function}
    terms = []
    parts = getattr(gen.current, "parts", None)
    used = {"function", "ndarray", "f64", "UNSET", "type", "len", "tuple", "zip", "dict"}
    used |= set(parts[1]) if parts is not None else {"current"}
    used |= {f"dt{p}" for p in positions} | {f"s{i}" for i in range(count)}
    if params is not None and (len(params) < count or set(params) & used
                               or any(p.startswith(("_srcdiff", "real_")) for p in params)):
        params = None
    var = (lambda i: params[i]) if params is not None else (lambda i: f"a{i}")
    # an argument the shape check covers has its type and dtype checked there
    covered = {i for i, n in enumerate(check.names[:count]) if n in check.shapes} if check else set()
    # the other arguments are checked to hold no complex number: their types and dtypes
    # are the ones of this call's (a float array, or a short tuple of arrays, costs a
    # type and a dtype check); any other call goes the general way, which looks inside
    for i in range(count):
        if i in covered or i in positions:
            continue
        real = real_terms(var(i), args[i], env, "real", [16])
        if real is None:
            return None
        terms += real
    for p in positions:
        if p in covered:
            continue
        value = args[p]
        if type(value) is float:
            terms.append(f"type({var(p)}) is float")
        elif type(value) is np.ndarray and value.dtype.kind == "f":
            env[f"dt{p}"] = value.dtype
            terms.append(f"type({var(p)}) is ndarray and {var(p)}.dtype is dt{p}")
        else:
            return None
    if check is not None:
        terms += shape_terms(check.names, check.shapes, count, var, env)
    if parts is not None and not set(parts[1]) & set(env):
        terms += parts[0]
        env.update(parts[1])
    else:
        env["current"] = gen.current
        terms.append("current()")
    env.update(ndarray=np.ndarray, UNSET=UNSET)
    passed = ", ".join(var(i) for i in range(count))
    if params is None:
        # positional-only parameters with a default, so that a call with other
        # arguments (fewer, more, keywords) reaches the general way without an error
        # of its own
        last = count - 1
        if last not in positions:
            terms.insert(0, f"a{last} is not UNSET")
        params_text = ", ".join(f"a{i}=UNSET" for i in range(count))
        source = (f"def __call__(self, {params_text}, /, *rest, **kwargs):\n"
                  f"    if {' and '.join(terms)} and not rest and not kwargs:\n"
                  f"        return function({passed})\n"
                  f"    args = tuple(a for a in ({passed},) if a is not UNSET) + rest\n"
                  f"    return self._dispatch(args, kwargs)\n")
    else:
        terms = ([f"{var(i)} is not UNSET" for i in range(count) if i not in positions] + terms
                 + [f"{var(i)} is UNSET" for i in range(count, len(params))])
        every = ", ".join(params)
        source = (f"def __call__(_srcdiff_self, {', '.join(f'{n}=UNSET' for n in params)}, *_srcdiff_rest):\n"
                  f"    if {' and '.join(terms)} and not _srcdiff_rest:\n"
                  f"        return function({passed})\n"
                  f"    _srcdiff_values = ({every},)\n"
                  f"    _srcdiff_n = 0  # passed by position: up to the first one not passed\n"
                  f"    while _srcdiff_n < {len(params)} and _srcdiff_values[_srcdiff_n] is not UNSET:\n"
                  f"        _srcdiff_n += 1\n"
                  f"    return _srcdiff_self._dispatch(\n"
                  f"        _srcdiff_values[:_srcdiff_n] + _srcdiff_rest,\n"
                  f"        {{_srcdiff_k: _srcdiff_v for _srcdiff_k, _srcdiff_v in "
                  f"zip({params!r}[_srcdiff_n:], _srcdiff_values[_srcdiff_n:]) "
                  f"if _srcdiff_v is not UNSET}})\n")
    exec(compile(source, "<srcdiff gate>", "exec"), env)
    return env["__call__"]
