"""The public derivative transformations: grad, value_and_grad, vjp, source.

Each returns a :class:`Derivative`: a callable with the signature of the function it
differentiates.  The derivative code is generated on the first call (when the kinds
of the differentiated arguments — array, float, or container — are known), compiled
once, and cached: in the returned object for the common path, and in a process-wide
table keyed by the function, so asking again for the same derivative is free.
"""

from __future__ import annotations

import builtins
import inspect
import os
import random
import threading
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gast
import numpy as np

from . import pipeline
from .errors import ArgumentError, NoRuleError, UnsupportedSyntaxError
from .passes import fence
from .rules import registry

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "derivative", "jacobian", "hessian", "hvp",
           "source", "Derivative"]

_CACHE: weakref.WeakKeyDictionary[Callable, dict] = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()
# The process-wide table keeps the most recently used derivatives: at most
# SRCDIFF_CACHE_SIZE of them (default 512), the least recently used going first.  A
# Derivative object keeps the code of its own calls whatever the table holds.
_RECENT: OrderedDict[tuple, weakref.ref] = OrderedDict()


def _cache_size() -> int:
    try:
        return max(1, int(os.environ.get("SRCDIFF_CACHE_SIZE", "512")))
    except ValueError:
        return 512


def _remember(target: Callable, key: tuple) -> None:
    """Mark (target, key) as just used, and drop the least recently used entries."""
    entry = (id(target), key)
    _RECENT.pop(entry, None)
    _RECENT[entry] = weakref.ref(target)
    limit = _cache_size()
    while len(_RECENT) > limit:
        (_, old_key), ref = _RECENT.popitem(last=False)
        old = ref()
        if old is not None:
            per_fn = _CACHE.get(old)
            if per_fn is not None:
                per_fn.pop(old_key, None)
_VERSION = registry._version  # a one-element list, bumped by every rule registration


def _underlying(fn: Callable) -> Callable:
    while isinstance(fn, (staticmethod, classmethod)):
        fn = fn.__func__
    return getattr(fn, "__func__", fn)


def _wrt_spec(fn: Callable, wrt: Any) -> tuple[tuple, bool]:
    """Normalise ``wrt`` to ((position or None, name), ...) and whether it was a tuple."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    params = list(sig.parameters.values()) if sig is not None else []
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params) and hasattr(fn, "__code__"):
        from .passes import fence, parse

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


def _kind(value: Any, name: str, fn: Callable) -> str:
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


_F64 = np.dtype(np.float64)


# Complex numbers.  Code is made for the arguments that hold complex values (the
# complexes pass follows them); these types can hold none, whatever they are:
_REAL_ATOMS = frozenset({float, int, bool, str, bytes, type(None), slice, type(Ellipsis), range,
                         np.random.Generator, np.random.RandomState})


def _complex_in(value: Any, seen: set | None = None) -> str | None:
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
                     if (inner := _complex_in(v, seen)) is not None), None)
    if t in _REAL_ATOMS:
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
        return None  # (what a function makes is fence.check_complex's side)
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
        found = _complex_in(inner, seen)
        if found is not None:
            return where + found
    return None


def _complex_params(fn: Callable, args: tuple, kwargs: dict, names: tuple | None) -> frozenset:
    """The parameters whose arguments are complex numbers or arrays; ArgumentError for
    a complex number inside a container or an object."""
    found = set()
    for i, value in enumerate(args):
        t = type(value)
        if t is float or t is np.ndarray and value.dtype.kind == "f":
            continue
        where = _complex_in(value)
        if where is not None:
            name = names[i] if names is not None and i < len(names) else None
            if where or name is None:
                _complex_error(fn, name or f"#{i}", where)
            found.add(name)
    for name, value in kwargs.items():
        where = _complex_in(value)
        if where is not None:
            if where:
                _complex_error(fn, name, where)
            found.add(name)
    return frozenset(found)


def _innermost(fn: Callable) -> Callable:
    """The user's function under derivatives of it."""
    while isinstance(fn, Derivative):
        fn = fn._fn
    return _underlying(fn)


def _refuse_complex_wrt(fn: Callable, names: tuple, targets: list, what: str) -> None:
    """Raise ArgumentError for a complex argument ``what`` (jacobian, hessian) does not take."""
    for name, target in zip(names, targets):
        if _complex_in(target) is not None:
            raise ArgumentError(
                f"{what} with respect to the complex argument {name!r} is not supported",
                pipeline.function_loc(_innermost(fn)),
                hint="use grad, vjp or jvp (their convention for complex arguments is in "
                "docs/supported-python.md, Complex numbers), or pass the real and imaginary "
                "parts as two float arguments")


def _real_args(args: tuple) -> bool:
    """Whether no positional argument holds a complex number (quick for floats and float
    arrays)."""
    for value in args:
        t = type(value)
        if not (t is float or t is np.ndarray and value.dtype.kind == "f") and _complex_in(value) is not None:
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


def _real_terms(ref: str, value: Any, env: dict, prefix: str, budget: list) -> list | None:
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
    if t in _REAL_ATOMS or isinstance(value, np.generic) and not isinstance(value, np.complexfloating) \
            or isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
        env[key] = t
        return [f"type({ref}) is {key}"]
    if t in (tuple, list):
        env[key] = t
        terms = [f"type({ref}) is {key}", f"len({ref}) == {len(value)}"]
        for i, inner in enumerate(value):
            more = _real_terms(f"{ref}[{i}]", inner, env, prefix, budget)
            if more is None:
                return None
            terms += more
        return terms
    return None


def _shape_terms(names: tuple, arg_shapes: dict, count: int, ref: Callable[[int], str],
                 env: dict) -> list[str]:
    """The terms of a check that ``count`` positional arguments (the parameters
    ``names``; argument i read as ``ref(i)``) are the float64 arrays of the shapes, and
    the floats, ``arg_shapes`` says; the shapes go into ``env``."""
    env.update(ndarray=np.ndarray, f64=_F64)
    terms = []
    for i, name in enumerate(names[:count]):
        shape = arg_shapes.get(name)
        if shape == "float":
            terms.append(f"type({ref(i)}) is float")
        elif shape is not None:
            env[f"s{i}"] = shape
            terms.append(f"type({ref(i)}) is ndarray and {ref(i)}.dtype is f64 and {ref(i)}.shape == s{i}")
    return terms


def _shape_check(names: tuple, arg_shapes: dict, count: int) -> Callable[[tuple], bool]:
    """A check that ``count`` positional arguments are what ``arg_shapes`` says (see
    _shape_terms): one boolean expression, as it runs on every call."""
    env: dict[str, Any] = {}
    terms = [f"len(a) == {count}", *_shape_terms(names, arg_shapes, count, lambda i: f"a[{i}]", env)]
    check = eval(f"lambda a: {' and '.join(terms)}", env)
    check.names, check.shapes = names, arg_shapes
    return check


_UNSET = object()  # an argument not passed, to a gate


def _gate(count: int, positions: tuple, args: tuple, gen: pipeline.Generated,
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
        real = _real_terms(var(i), args[i], env, "real", [16])
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
        terms += _shape_terms(check.names, check.shapes, count, var, env)
    if parts is not None and not set(parts[1]) & set(env):
        terms += parts[0]
        env.update(parts[1])
    else:
        env["current"] = gen.current
        terms.append("current()")
    env.update(ndarray=np.ndarray, UNSET=_UNSET)
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


def _fast_kinds(args: tuple, positions: tuple) -> tuple | None:
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


def _check_methods(fn: Callable, methods: tuple, args: tuple, kwargs: dict) -> None:
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


class Derivative:
    """A derivative of a Python function, generated by srcdiff.

    Call it like the original function.  ``.source`` is the generated Python source.
    Once called, a derivative has a class of its own (a subclass of ``Derivative``),
    whose ``__call__`` is compiled for calls like the last one that needed new code:
    it checks the arguments' types (and shapes) and that nothing the code was made
    from has changed, and sends any other call the general way.
    """

    def __init__(self, fn: Callable, mode: str, wrt: Any, optimize: bool):
        self._bound = None
        # how __get__ binds, when the derivative is a class attribute: like the function
        self._binding = ("static" if isinstance(fn, staticmethod)
                         else "class" if isinstance(fn, classmethod) else "instance")
        if inspect.ismethod(fn):
            # a bound method (of an instance, or a classmethod of its class): differentiate
            # its function, with what it is bound to passed first
            self._bound = fn.__self__
        elif isinstance(fn, Derivative) and fn._bound is not None:
            self._bound = fn._bound  # a derivative of a bound method: bound the same way
        self._fn = _underlying(fn)
        self._mode = mode
        self._wrt, self._single = _wrt_spec(fn if self._bound is not None else self._fn, wrt)
        if self._bound is not None:
            self._wrt = tuple((None if p is None else p + 1, n) for p, n in self._wrt)
        self._names = tuple(n for _, n in self._wrt)
        self._positions = tuple(p for p, _ in self._wrt)
        self._all_positional = all(p is not None for p in self._positions)
        self._fast = self._all_positional and self._bound is None and mode != "jvp"
        self._optimize = optimize
        self._table: dict = {}  # kinds -> (function, its guard, its shape check or None)
        self._shapes_seen: dict = {}  # kinds -> the first argument shapes seen with them
        self._last: Any = None
        self._defaults = {}
        # the positional parameters' names; None when any number is accepted (or unknown)
        self._positional: tuple | None = None
        try:
            params = list(inspect.signature(self._fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        else:
            if not any(p.kind == p.VAR_POSITIONAL for p in params):
                self._positional = tuple(p.name for p in params
                                         if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in params:
            if p.default is not p.empty:
                self._defaults[p.name] = p.default
        # the parameters, when all take a value by position or by name: a gate takes them
        self._plain = tuple(p.name for p in params) if params and mode in ("grad", "value_and_grad", "vjp") \
            and all(p.kind == p.POSITIONAL_OR_KEYWORD for p in params) else None
        for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
            try:
                setattr(self, attr, getattr(fn, attr))
            except (AttributeError, TypeError):
                pass
        try:
            sig = inspect.signature(fn)
            if mode == "vjp_apply":  # the cotangent comes as the keyword argument dout
                dout = inspect.Parameter("dout", inspect.Parameter.KEYWORD_ONLY)
                sig = sig.replace(parameters=[*sig.parameters.values(), dout])
            self.__signature__ = sig
        except (TypeError, ValueError):
            pass
        self.__name__ = f"{mode}_{getattr(fn, '__name__', 'fn')}"

    def __repr__(self) -> str:
        return f"<srcdiff {self._mode} of {getattr(self._fn, '__qualname__', self._fn)} wrt {self._names}>"

    def _spec(self, args: tuple, kwargs: dict | None = None) -> tuple:
        """The kinds of the differentiated arguments, then ``("complex", names)`` when
        arguments hold complex values: what the code is made for."""
        kwargs = kwargs or {}
        if not kwargs and self._all_positional:
            fast = _fast_kinds(args, self._positions)
            if fast is not None and _real_args(args):
                return fast
        kinds = []
        for pos, name in self._wrt:
            if pos is not None and pos < len(args):
                value = args[pos]
            elif name in kwargs:
                value = kwargs[name]
            elif name in self._defaults:
                value = self._defaults[name]
            else:
                kinds.append("array")  # the call itself will report the missing argument
                continue
            kinds.append(_kind(value, name, self._fn))
        found = _complex_params(self._fn, args, kwargs, self._positional)
        return tuple(kinds) + (("complex", found),) if found else tuple(kinds)

    def _kinds(self, spec: tuple) -> dict:
        """Parameter -> kind, for the pipeline (``"complex"`` for complex arguments)."""
        kinds = dict(zip(self._names, spec))
        if len(spec) > len(self._names):  # (a complex number gets a complex gradient)
            kinds.update({n: "complex_float" if kinds.get(n) == "float" else "complex" for n in spec[-1][1]})
        return kinds

    def _takes_positional(self, count: int, kwargs: dict) -> bool:
        """Whether the function accepts ``count`` positional arguments besides ``kwargs``
        (True when its signature cannot be read)."""
        positional = self._positional
        if positional is None:
            return True
        if self._bound is not None and isinstance(self._fn, Derivative):
            count -= 1  # its signature is the bound method's, without the instance
        if count > len(positional):
            return False
        return all(n in self._defaults or n in kwargs for n in positional[count:])

    def _target(self, args: tuple | None, kwargs: dict | None) -> Callable:
        """The Python function to transform: the user's, or, when differentiating a
        derivative, the code srcdiff generated for it (without updates in place)."""
        if not isinstance(self._fn, Derivative):
            return self._fn
        inner = self._fn
        if args is None:
            spec = tuple(pipeline.guess_kinds(inner._fn).get(n, "array") for n in inner._names)
        else:
            spec = inner._spec(*inner._split(args, kwargs))
        return inner._generated(spec, functional=True).function

    def _generated(self, spec: tuple, args: tuple | None = None, kwargs: dict | None = None,
                   functional: bool = False) -> pipeline.Generated:
        target = self._target(args, kwargs)
        if not hasattr(target, "__code__"):
            from .passes.parse import parse

            parse(target)  # raises SourceUnavailableError with a hint
        version = _VERSION[0]
        arg_shapes = None if functional else self._arg_shapes(spec, args, kwargs)
        key = (self._mode, self._names, self._single, spec, self._optimize, version, functional)
        # code made for these shapes, or else code that holds for any
        special = key + (tuple(arg_shapes.items()),) if arg_shapes else None
        with _LOCK:
            per_fn = _CACHE.setdefault(target, {})
            gen = per_fn.get(special) if special else None
            if gen is None or not gen.current():
                gen = per_fn.get(key)
            if gen is None or not gen.current():
                gen = pipeline.transform(
                    target, mode=self._mode, wrt=self._names,
                    kinds=self._kinds(spec), optimize=self._optimize,
                    single=self._single, functional=functional, arg_shapes=arg_shapes,
                )
                per_fn[special if gen.specialized else key] = gen
            _remember(target, special if gen.specialized else key)
        if gen.methods and args is not None:
            _check_methods(target, gen.methods, args, kwargs or {})
        if not functional and not isinstance(self._fn, Derivative):
            check = _shape_check(self._positional, arg_shapes, len(args)) if gen.specialized else None
            self._table[spec] = (gen.function, gen.current, check)
            self._remember_hot(args, kwargs, gen, check)
        self._last = gen
        return gen

    def _remember_hot(self, args: tuple | None, kwargs: dict | None, gen: pipeline.Generated,
                      check: Callable | None) -> None:
        """Make the next calls like this one (the differentiated arguments passed by
        position, as floats or float arrays) take a short way: this derivative's own
        class gets a ``__call__`` that checks only what this code needs (see _gate)."""
        if not self._fast or args is None or kwargs or max(self._positions) >= len(args):
            return
        gate = _gate(len(args), self._positions, args, gen, check, self._plain)
        if gate is None:
            return
        cls = type(self)
        if cls is Derivative:  # a class of its own, to hold its gate
            cls = self.__class__ = type("Derivative", (Derivative,), {"__module__": __name__,
                                                                     "__qualname__": "Derivative"})
        cls.__call__ = gate

    def _arg_shapes(self, spec: tuple, args: tuple | None, kwargs: dict | None) -> dict | None:
        """The shape of each array argument (``"float"`` for a float) when all are passed
        by position: what the derivative may be specialised to.  Only the first shapes
        seen with these kinds are; once others come, one function serves all shapes
        (None)."""
        names = self._positional
        if args is None or kwargs or names is None:
            return None
        found = {}
        for name, value in zip(names, args):
            kind = type(value)
            if kind is float:
                found[name] = "float"
            elif kind is np.ndarray and value.dtype is _F64:
                found[name] = value.shape  # (a float64 array: see _shape_check)
        if not found:
            return None
        signature = (tuple(found.items()), len(args))
        if self._shapes_seen.setdefault(spec, signature) != signature:
            return None
        return found

    def _split(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The function's own arguments (for jvp, without the trailing tangents)."""
        if self._mode == "jvp":
            return args[: len(args) - len(self._wrt)], kwargs
        return args, kwargs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._dispatch(args, kwargs)

    def _dispatch(self, args: tuple, kwargs: dict) -> Any:
        # Calls like the last one go through the gate _remember_hot gives this
        # derivative's class; others come here: the table maps the kinds of the
        # differentiated arguments to (function, check, shape check).
        if self._fast and not kwargs:
            kinds = _fast_kinds(args, self._positions)
            if kinds is not None:
                entry = self._table.get(kinds)
                if entry is not None and entry[1]() and (entry[2] is None or entry[2](args)) \
                        and _real_args(args):
                    return entry[0](*args)
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        if self._bound is not None:
            args = (self._bound,) + args
        tangents: tuple = ()
        if self._mode == "jvp":
            split = len(args) - len(self._wrt)
            if split < 0 or not self._takes_positional(split, kwargs):
                name = getattr(self._fn, "__name__", "fn")
                raise ArgumentError(
                    f"jvp of {name} takes the function's arguments followed by {len(self._wrt)} "
                    f"tangent(s), one per wrt entry {self._names}; it got {len(args)} positional "
                    f"argument(s), which do not split that way",
                    pipeline.function_loc(self._fn),
                    hint=f"call it as jvp({name})(*args, " + ", ".join(f"{n}_dot" for n in self._names)
                    + "): one tangent of the same shape per differentiated argument")
            args, tangents = args[:split], args[split:]
            for (_, name), tangent in zip(self._wrt, tangents):
                if type(tangent) is not float and _complex_in(tangent) is not None:
                    value = args[self._positional.index(name)] if self._positional and \
                        name in self._positional and self._positional.index(name) < len(args) \
                        else kwargs.get(name)
                    if _complex_in(value) is None:
                        raise ArgumentError(
                            f"the tangent of the real argument {name!r} is complex",
                            pipeline.function_loc(self._fn),
                            hint=f"a real argument moves along the real axis only: pass a real "
                            f"tangent, or pass {name} as a complex value")
        spec = self._spec(args, kwargs)
        entry = self._table.get(spec)
        if entry is None or not entry[1]() or entry[2] is not None and (kwargs or not entry[2](args)):
            gen = self._generated(spec, args, kwargs)
            function = gen.function
        else:
            function = entry[0]
        if tangents:
            kwargs = dict(kwargs)
            kwargs.update(zip(function.__code__.co_varnames[
                function.__code__.co_argcount: function.__code__.co_argcount
                + function.__code__.co_kwonlyargcount][-len(tangents):], tangents))
        return function(*args, **kwargs)

    @property
    def source(self) -> str:
        """The generated source, made for the arguments of the call that needed it last:
        their kinds, and the shapes of float64 arrays when the code depends on them
        (see docs/performance.md, Shapes).  Before any call, for the kinds the
        function's code suggests (a parameter indexed with a string, or unpacked, is
        taken for a container; any other for an array), for any shapes."""
        if self._last is None:
            base = self._fn
            while isinstance(base, Derivative):
                base = base._fn
            guess = pipeline.guess_kinds(base)
            self._generated(tuple(guess.get(n, "array") for n in self._names))
        return self._last.source

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Used as a class attribute, bind as the function would: to the instance, to the
        class for a classmethod, not at all for a staticmethod."""
        import functools

        if self._binding == "static":
            return self
        if self._binding == "class":
            return functools.partial(self, objtype if objtype is not None else type(obj))
        if obj is None:
            return self
        return functools.partial(self, obj)


def _transformation(mode: str) -> Callable:
    def make(fn: Callable | None = None, *, wrt: Any = 0, optimize: bool = True) -> Any:
        if fn is None:
            return lambda f: Derivative(f, mode, wrt, optimize)
        return Derivative(fn, mode, wrt, optimize)

    return make


def grad(fn: Callable | None = None, *, wrt: Any = 0, optimize: bool = True) -> Any:
    """The gradient of ``fn``'s scalar result with respect to the argument(s) ``wrt``.

    ``wrt`` is a position, a parameter name, or a tuple of those (then a tuple of
    gradients is returned, in that order).  Each gradient has its argument's
    structure: a float for a float, an array of the same shape for an array, the same
    dict/list/tuple nesting for containers.  Use as ``@grad``, ``@grad(wrt=...)`` or
    ``grad(f, wrt=...)``.  For a complex argument ``z = x + iy`` the gradient is
    ``df/dx - i df/dy`` (``f'(z)`` for a holomorphic ``f``), as in autograd and JAX; see
    docs/supported-python.md, Complex numbers.

    >>> import numpy as np, srcdiff
    >>> def f(x):
    ...     return np.sum(x ** 2)
    >>> srcdiff.grad(f)(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    return _transformation("grad")(fn, wrt=wrt, optimize=optimize)


def value_and_grad(fn: Callable | None = None, *, wrt: Any = 0, optimize: bool = True) -> Any:
    """Like :func:`grad`, but the derivative returns ``(value, gradient(s))``.

    >>> import srcdiff
    >>> srcdiff.value_and_grad(lambda x: x * x)(3.0)
    (9.0, 6.0)
    """
    return _transformation("value_and_grad")(fn, wrt=wrt, optimize=optimize)


def jvp(fn: Callable, *, wrt: Any = 0, optimize: bool = True) -> Derivative:
    """Jacobian-vector products (forward mode): ``jvp(fn)(*args, *tangents)`` returns
    ``(out, out_tangent)``, with one tangent per ``wrt`` entry, shaped like its argument.

    >>> import numpy as np, srcdiff
    >>> srcdiff.jvp(lambda x: np.sin(x) * 2)(np.zeros(2), np.array([1.0, 3.0]))
    (array([0., 0.]), array([2., 6.]))
    """
    return Derivative(fn, "jvp", wrt, optimize)


def vjp(fn: Callable, *, wrt: Any = 0, optimize: bool = True) -> Derivative:
    """Vector-Jacobian products: ``vjp(fn)(*args)`` returns ``(out, pullback)``.

    ``pullback(cotangent)`` returns the gradient(s) of ``sum(out * cotangent)`` with
    respect to ``wrt``; ``cotangent`` has ``out``'s structure (a tuple for a tuple).

    >>> import numpy as np, srcdiff
    >>> out, pullback = srcdiff.vjp(lambda x: 2 * x)(np.ones(2))
    >>> pullback(np.array([1.0, 3.0]))
    array([2., 6.])
    """
    return Derivative(fn, "vjp", wrt, optimize)


def derivative(fn: Callable, *, wrt: Any = 0) -> Callable:
    """``d out / d args[wrt]`` for a float argument, in forward mode.

    >>> import math, srcdiff
    >>> srcdiff.derivative(lambda x: x ** 3)(2.0)
    12.0
    """
    forward = jvp(fn, wrt=wrt)

    def call(*args: Any, **kwargs: Any) -> Any:
        return forward(*args, *([1.0] * len(forward._wrt)), **kwargs)[1]

    return _Wrapper(call, forward, "derivative")


class _Wrapper:
    """A transformation built from generated derivatives (derivative, jacobian, hessian)."""

    def __init__(self, call: Callable, base: Derivative, kind: str):
        self._call = call
        self._base = base
        self.__name__ = f"{kind}_{getattr(base._fn, '__name__', 'fn')}"
        self.__doc__ = f"The {kind} of {getattr(base._fn, '__qualname__', 'a function')}, by srcdiff."

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    @property
    def source(self) -> str:
        """The generated source this transformation runs."""
        return self._base.source


def _basis(x: Any):
    """Each unit perturbation of ``x`` (a float or an array), in C order."""
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        yield 1.0
        return
    for i in range(np.size(x)):
        e = np.zeros(np.shape(x))
        e.flat[i] = 1.0
        yield e


# Randomness.  A Jacobian or Hessian evaluates the function once per column; each
# evaluation must see the draws the first one saw, or the columns mix realisations.  So
# every random state the function can draw from is snapshotted before the first
# evaluation and put back before each of the others; afterwards it is left as one call
# of the function leaves it.

_STATE_TYPES = (np.random.Generator, np.random.RandomState, random.Random)
# constructors that seed themselves from the operating system when given no seed
_SELF_SEEDING = (np.random.default_rng, np.random.RandomState, np.random.SeedSequence, np.random.MT19937,
                 np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64, random.Random)
_STATIC_STATES: dict = {}  # code -> (states reached through names, refusal or None)


def _states_in(value: Any, found: dict, seen: set, depth: int = 0) -> None:
    """Add to ``found`` (id -> object) every random state ``value`` holds or is."""
    if depth > 6 or id(value) in seen:
        return
    t = type(value)
    if t is np.ndarray or t in _REAL_ATOMS and t not in (np.random.Generator, np.random.RandomState):
        return
    seen.add(id(value))
    if isinstance(value, _STATE_TYPES):
        found[id(value)] = value
    elif isinstance(value, types.MethodType):
        _states_in(value.__self__, found, seen, depth + 1)
    elif isinstance(value, types.BuiltinMethodType) and isinstance(getattr(value, "__self__", None),
                                                                   _STATE_TYPES):
        found[id(value.__self__)] = value.__self__  # np.random.normal: the global RandomState's
    elif isinstance(value, dict):
        for v in value.values():
            _states_in(v, found, seen, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _states_in(v, found, seen, depth + 1)
    elif hasattr(value, "__dict__") and not isinstance(value, (types.ModuleType, type, types.FunctionType)):
        for v in vars(value).values():
            _states_in(v, found, seen, depth + 1)


_SCANNED: dict = {}  # code -> (ref texts and nodes, its source) of a function, read once


def _scan(fn: Callable) -> tuple | None:
    """The global and closure references of ``fn``'s source (text, node) and the source,
    read once per code object; raise where it makes a generator without a seed."""
    code = fn.__code__
    if code in _SCANNED:
        return _SCANNED[code]
    from .passes import parse, resolve
    try:
        source = parse.parse(fn)
    except Exception:  # no source: only the states it is given, and the global ones
        _SCANNED[code] = None
        return None
    res = resolve.resolve(source)
    for node in gast.walk(source.node):
        if isinstance(node, gast.Call) and any(res.refs.get(node.func) is c for c in _SELF_SEEDING):
            if not node.args and not node.keywords or any(
                    isinstance(a, gast.Constant) and a.value is None for a in node.args[:1]):
                raise UnsupportedSyntaxError(
                    f"{res.texts[node.func]}() without a seed draws a new seed from the operating "
                    "system on every call: the columns of a Jacobian or Hessian would each see "
                    "other random numbers", source.loc(node),
                    hint="seed it (np.random.default_rng(0)), or create the generator outside "
                    "the function and pass it in as an argument")
    _SCANNED[code] = ([(res.texts.get(ref, ""), ref) for ref in res.refs], source)
    return _SCANNED[code]


def _current(fn: Callable, text: str) -> Any:
    """What the global or closure expression ``text`` (``np.random.normal``) of ``fn``
    is now, or None."""
    root, *rest = text.split(".")
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    try:
        value = cells[root].cell_contents if root in cells else fn.__globals__.get(
            root, getattr(builtins, root, None))
        for part in rest:
            value = getattr(value, part)
    except (ValueError, AttributeError):
        return None
    return value


def _static_states(fn: Callable, found: dict, seen: set) -> bool:
    """Add the random states ``fn`` (and the user's helpers it calls) refers to by name;
    raise where it draws from a source that cannot be snapshotted.  True when it may draw
    from the global states: it calls something that is neither one of srcdiff's rules or
    declarations nor a function of the user's (np.random.normal, a library's function)."""
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    scanned = _scan(fn)
    if scanned is None:
        return True  # (no source: it may draw from anything)
    refs, source = scanned
    global_states = False
    for text, node in refs:
        value = _current(fn, text)
        module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        owner = getattr(value, "__self__", None)
        if isinstance(value, random.SystemRandom) or isinstance(owner, random.SystemRandom) \
                or value is os.urandom or str(module).split(".")[0] in ("secrets", "uuid"):
            raise UnsupportedSyntaxError(
                f"{text} draws from the operating system's randomness, which "
                "cannot be replayed: the columns of a Jacobian or Hessian would each see other "
                "random numbers", source.loc(node),
                hint="draw from a seeded np.random.Generator passed in as an argument")
        try:
            known = registry.lookup(value) is not None or registry.is_nondifferentiable(value)
        except TypeError:
            known = False
        if known or isinstance(value, types.ModuleType):
            continue  # (a function with a rule holds no random state and draws none)
        if fence._user_function(value):
            global_states |= _static_states(value, found, seen)
        else:
            _states_in(value, found, set())
            global_states |= callable(value) and not isinstance(value, type)
    for default in (*(getattr(fn, "__defaults__", None) or ()),
                    *(getattr(fn, "__kwdefaults__", None) or {}).values()):
        _states_in(default, found, set())
    return global_states


def _snapshot(state: Any) -> Any:
    if isinstance(state, np.random.Generator):
        return state.bit_generator.state
    return state.get_state() if isinstance(state, np.random.RandomState) else state.getstate()


def _restore(state: Any, saved: Any) -> None:
    if isinstance(state, np.random.Generator):
        state.bit_generator.state = saved
    elif isinstance(state, np.random.RandomState):
        state.set_state(saved)
    else:
        state.setstate(saved)


def _same(a: Any, b: Any) -> bool:
    if type(a) is tuple and type(b) is tuple:  # random's state: 625 ints, compared in C
        try:
            return bool(a == b)
        except ValueError:  # an array inside (np.random's state): entry by entry below
            pass
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b


class _Replay:
    """The random states a function draws from, put back before each evaluation after
    the first (see :meth:`rewind`), and left as the first evaluation left them."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict):
        base = fn
        found: dict = {}
        while isinstance(base, Derivative):
            if base._bound is not None:
                _states_in(base._bound, found, set())
            base = base._fn
        if _static_states(base, found, set()):  # (reading them costs tens of microseconds)
            found.update({id(np.random.mtrand._rand): np.random.mtrand._rand, id(random._inst): random._inst})
        seen: set = set()
        for value in (*args, *kwargs.values()):
            _states_in(value, found, seen)
        self.states = list(found.values())
        self.before = [_snapshot(s) for s in self.states]
        self.after: list | None = None

    def rewind(self) -> None:
        """Before an evaluation: the states as the first one found them."""
        if self.after is None:  # the first evaluation just ran: which states did it move?
            after = [_snapshot(s) for s in self.states]
            moved = [i for i, (a, b) in enumerate(zip(self.before, after)) if not _same(a, b)]
            self.states = [self.states[i] for i in moved]
            self.before = [self.before[i] for i in moved]
            self.after = [after[i] for i in moved]
        for state, saved in zip(self.states, self.before):
            _restore(state, saved)

    def finish(self) -> None:
        """After the last evaluation: the states as one evaluation leaves them."""
        if self.after is not None:
            for state, saved in zip(self.states, self.after):
                _restore(state, saved)


def jacobian(fn: Callable, *, wrt: Any = 0, mode: str = "auto") -> Callable:
    """The Jacobian ``d out / d args[wrt]``, of shape ``out.shape + arg.shape``.

    ``mode="forward"`` builds it a column at a time with jvp, ``"reverse"`` a row at a
    time with vjp; ``"auto"`` takes forward when the argument has fewer entries than
    the result.  A tuple ``wrt`` gives a tuple of Jacobians.

    >>> import numpy as np, srcdiff
    >>> srcdiff.jacobian(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    return _jacobian(fn, wrt, mode, "the Jacobian")


def _jacobian(fn: Callable, wrt: Any, mode: str, what: str) -> Callable:
    if mode not in ("auto", "forward", "reverse"):
        raise ArgumentError(f"unknown jacobian mode {mode!r}", hint="use 'auto', 'forward' or 'reverse'")
    forward = jvp(fn, wrt=wrt)
    backward = vjp(fn, wrt=wrt)
    single = not isinstance(wrt, (tuple, list))

    def call(*args: Any, **kwargs: Any) -> Any:
        shift = 0 if forward._bound is None else 1  # positions count the bound instance
        targets = [args[p - shift] if p is not None and p - shift < len(args) else kwargs[n]
                   for p, n in forward._wrt]
        _refuse_complex_wrt(fn, forward._names, targets, what)
        for (_, name), target in zip(forward._wrt, targets):
            if isinstance(target, (dict, list, tuple)):
                raise ArgumentError(
                    f"jacobian needs a float or an array for {name!r}, not a {type(target).__name__}",
                    pipeline.function_loc(fn),
                    hint="take the Jacobian with respect to each array, or use jvp/vjp, which "
                    "accept containers")
        replay = _Replay(fn, args, kwargs)  # each evaluation sees the same random draws
        try:
            return evaluate(replay, targets, *args, **kwargs)
        finally:
            replay.finish()

    def evaluate(replay: _Replay, targets: list, *args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        out_shape = np.shape(out)
        # (a complex result of real arguments: its columns, in forward mode, are complex)
        use_forward = mode == "forward" or np.iscomplexobj(out) or (
            mode == "auto" and sum(np.size(t) for t in targets) <= np.size(out))
        results = []
        if use_forward:
            for k, target in enumerate(targets):
                columns = []
                for e in _basis(target):
                    tangents = [e if j == k else _zero(t) for j, t in enumerate(targets)]
                    replay.rewind()
                    column = np.asarray(forward(*args, *tangents, **kwargs)[1])
                    columns.append(column if column.dtype.kind == "c" else column.astype(float))
                stacked = np.stack(columns, axis=-1) if columns else np.zeros(out_shape + (0,))
                results.append(np.reshape(stacked, out_shape + np.shape(target)))
        else:
            replay.rewind()
            _, pullback = backward(*args, **kwargs)
            rows: list = [[] for _ in targets]
            for e in _basis(out):
                grads = pullback(e)
                grads = (grads,) if single else grads
                for k, g in enumerate(grads):
                    rows[k].append(np.asarray(g, dtype=float))
            results = [np.reshape(np.stack(r), out_shape + np.shape(t)) for r, t in zip(rows, targets)]
        return results[0] if single else tuple(results)

    return _Wrapper(call, forward, "jacobian")


def _zero(x: Any) -> Any:
    return 0.0 if np.ndim(x) == 0 and not isinstance(x, np.ndarray) else np.zeros(np.shape(x))


def hessian(fn: Callable, *, wrt: Any = 0) -> Callable:
    """The Hessian of a scalar function, shape ``arg.shape + arg.shape``: forward mode
    over the reverse-mode gradient (a jvp of the generated gradient per column).

    >>> import numpy as np, srcdiff
    >>> srcdiff.hessian(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return _Wrapper(_jacobian(grad(fn, wrt=wrt), wrt, "forward", "the Hessian"), jvp(grad(fn, wrt=wrt), wrt=wrt),
                    "hessian")


def hvp(fn: Callable, *, wrt: Any = 0) -> Callable:
    """Hessian-vector products without forming the Hessian: ``hvp(fn)(*args, v)`` is the
    jvp of the generated gradient in the direction ``v``.

    >>> import numpy as np, srcdiff
    >>> srcdiff.hvp(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    forward = jvp(grad(fn, wrt=wrt), wrt=wrt)

    def call(*args: Any, **kwargs: Any) -> Any:
        return forward(*args, **kwargs)[1]

    return _Wrapper(call, forward, "hvp")


_KINDS = ("grad", "value_and_grad", "vjp", "jvp", "hessian", "hvp")


def source(fn: Callable, *, kind: str = "grad", wrt: Any = 0, optimize: bool = True) -> str:
    """The generated Python source of a derivative of ``fn``.

    ``kind`` is ``"grad"``, ``"value_and_grad"``, ``"vjp"``, ``"jvp"``, or ``"hessian"``
    / ``"hvp"`` (the forward-mode code run over the generated gradient).
    """
    if kind not in _KINDS:
        raise ArgumentError(f"unknown kind {kind!r}", hint=f"use one of {', '.join(_KINDS)}")
    if kind in ("hessian", "hvp"):
        return Derivative(grad(fn, wrt=wrt, optimize=optimize), "jvp", wrt, optimize).source
    return Derivative(fn, kind, wrt, optimize).source
