"""The disk cache, seen from the API layer: the key of a derivative (the user's code
itself, the request, the rules), loading an entry back into a function (its callees'
derivatives are linked by the API like freshly generated ones), and storing one.  The
bytes on disk are :mod:`srcdiff.cache`'s business."""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable
from typing import Any

from . import cache, compile, ir, pipeline
from .passes import resolve
from .rules import registry
from .runtime.calls import RETURN_LOCATIONS

__all__ = ["key", "load", "store"]


def key(fn: Callable, mode: str, wrt: tuple, kinds: dict, optimize: bool, single: bool,
              functional: bool, arg_shapes: dict | None = None) -> str | None:
    if not cache.enabled():
        return None
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    # The key is the code itself, not the text of the file: an entry was made from a
    # definition that compiles to this very code (parse checks that), so the other
    # lambda on the same line, or the function of a file edited since, has another key.
    # Reading the code is much cheaper than finding and checking the definition.
    return cache.key(_fingerprint(code), code.co_filename, code.co_firstlineno, code.co_qualname,
                     mode, wrt, sorted(kinds.items()), optimize, single, functional,
                     sorted((arg_shapes or {}).items()))


def _fingerprint(code: types.CodeType) -> tuple:
    """What a code object computes, the same in every process (marshal's bytes are not:
    they depend on reference counts)."""
    consts = tuple(_fingerprint(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
            code.co_firstlineno, getattr(code, "co_linetable", code.co_lnotab))


def load(fn: Callable, digest: str, mode: str, wrt: tuple) -> pipeline.Generated | None:
    entry = cache.load(digest)
    if entry is None:
        return None
    roots = [root for root, _ in entry["roots"]]
    for root, description in entry["roots"]:
        if pipeline.describe(pipeline.lookup_root(fn, root)[2]) != description:
            return None  # it calls something else now: transform again
    extra = {}
    for alias, (kind, text, callee_wrt) in entry["recipes"].items():
        callee = _resolve_text(fn, text)
        if callee is resolve.MISSING:
            return None
        extra[alias] = ir.CalleeRef(kind, callee, callee_wrt, text)
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    function = compile.build_function(
        entry["code"], entry["text"], entry["name"], helpers={**registry.TEMPLATE_GLOBALS, **extra},
        cells=cells, globals_=fn.__globals__, defaults=fn.__defaults__, kwdefaults=fn.__kwdefaults__)
    RETURN_LOCATIONS[function.__code__] = entry["ret_loc"]
    pipeline.STATS["disk_hits"] += 1
    return pipeline.Generated(function, entry["shown"], mode, wrt, pipeline.guard(fn, roots),
                     entry.get("specialized", False), entry.get("methods", ()), extra)


def _resolve_text(fn: Callable, text: str) -> Any:
    root, *rest = text.split(".")
    value = pipeline.lookup_root(fn, root)[2]
    if value is resolve.MISSING:
        value = getattr(builtins, root, resolve.MISSING)
    for part in rest:
        value = getattr(value, part, resolve.MISSING)
    return value


def store(fn: Callable, digest: str, gen: pipeline.Generated) -> None:
    """Keep the code freshly generated for ``fn`` on disk under ``digest``, with what each
    name it reaches things through is now (``load`` checks they are the same)."""
    if gen.stored is not None:
        roots = [(r, pipeline.describe(pipeline.lookup_root(fn, r)[2])) for r in gen.stored["roots"]]
        cache.store(digest, {**gen.stored, "roots": roots})
