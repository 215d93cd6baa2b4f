"""compile: derivative source -> a Python function, registered in linecache.

The derivative is compiled inside a small factory function whose parameters are the
names the generated code takes from srcdiff (``np``, ``unbroadcast``, ...) and the
user's closure variables; the function is then rebuilt around real cells, so the
user's closure variables stay live and the helpers are fast closure reads.  The
source is registered in :mod:`linecache` under a readable pseudo-file name, so
tracebacks and ``pdb`` show the generated lines.
"""

from __future__ import annotations

import linecache
import os
import types
from typing import Any

import gast

from .emit import name, names, statements, store, to_source

__all__ = ["compile_function", "build_function"]

_FACTORY = "_srcdiff_factory"

def free_loads(fdef: gast.FunctionDef) -> set[str]:
    """The names ``fdef`` reads and binds nowhere (assignment, parameter or def)."""
    loads = set()
    bound = set()
    for node in names(fdef):
        if isinstance(node.ctx, gast.Load):
            loads.add(node.id)
        else:
            bound.add(node.id)
    for node in statements([fdef]):  # the defs: statements, found in statement lists only
        if isinstance(node, gast.FunctionDef):
            bound.add(node.name)
    return loads - bound


def compile_function(
    fdef: gast.FunctionDef,
    *,
    helpers: dict[str, Any],
    cells: dict[str, Any],
    globals_: dict,
    defaults: tuple | None,
    kwdefaults: dict | None,
    label: str,
) -> tuple[types.FunctionType, str, types.CodeType, str]:
    """Compile ``fdef``; return the function, its source (without the factory), and the
    compiled module and its text (what the disk cache keeps)."""
    free = free_loads(fdef)
    closure_names = sorted(n for n in free if n in helpers or n in cells)
    args = gast.arguments(
        args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in closure_names],
        posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[],
    )
    # The generated function must not evaluate the user's defaults again: they are
    # attached from the user's function below.
    inner_args = fdef.args
    fdef.args = _without_defaults(inner_args)
    factory = gast.FunctionDef(
        name=_FACTORY, args=args, body=[fdef, gast.Return(value=name(fdef.name))],
        decorator_list=[], returns=None, type_comment=None, type_params=[],
    )
    module = gast.Module(body=[factory], type_ignores=[])
    text = to_source(module)
    fdef.args = inner_args
    lines = text.splitlines(True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"    def {fdef.name}("))
    inner = lines[start:-1]
    if fdef.args.defaults or any(d is not None for d in fdef.args.kw_defaults) or not all(
            line.startswith("    ") or not line.strip() for line in inner) or any(
            line.lstrip().startswith("def ") for line in inner[1:]):  # unparse spaces nested defs
        shown = to_source(gast.Module(body=[fdef], type_ignores=[]))
    else:  # the factory's inner function, dedented: no second unparse
        shown = "".join(line[4:] for line in inner)
    import hashlib

    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    filename = f"<srcdiff {label} {digest}>"
    code = compile(text, filename, "exec")
    fn = build_function(code, text, fdef.name, helpers=helpers, cells=cells, globals_=globals_,
                        defaults=defaults, kwdefaults=kwdefaults)
    return fn, shown, code, text


def build_function(code: types.CodeType, text: str, name_: str, *, helpers: dict, cells: dict,
                   globals_: dict, defaults: tuple | None, kwdefaults: dict | None) -> types.FunctionType:
    """The derivative function from the compiled module ``code`` (fresh or from the disk
    cache), with its source registered in linecache."""
    filename = code.co_filename
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(
        c for c in factory_code.co_consts
        if isinstance(c, types.CodeType) and c.co_name == name_
    )
    closure = []
    for var in inner.co_freevars:
        if var in cells:
            closure.append(cells[var])
        else:
            closure.append(types.CellType(helpers[var]))
    fn = types.FunctionType(inner, globals_, name_, defaults, tuple(closure) or None)
    if kwdefaults:
        fn.__kwdefaults__ = dict(kwdefaults)
    return fn


def _without_defaults(args: gast.arguments) -> gast.arguments:
    return gast.arguments(
        args=args.args, posonlyargs=args.posonlyargs, vararg=args.vararg,
        kwonlyargs=args.kwonlyargs, kw_defaults=[None] * len(args.kwonlyargs),
        kwarg=args.kwarg, defaults=[],
    )


def label_for(mode: str, fn_name: str, filename: str, lineno: int) -> str:
    return f"{mode} of {fn_name} ({os.path.basename(filename)}:{lineno})"


__all__ += ["label_for", "store"]
