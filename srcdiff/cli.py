"""The ``srcdiff`` command line: print generated derivative code, or check it numerically.

    srcdiff show model.py:loss --wrt W,b            the generated gradient source
    srcdiff show pkg.model:loss --after ssa         the program after one pipeline pass
    srcdiff show model.py:loss --output grad.py     a standalone module that needs only NumPy
    srcdiff check model.py:loss --args "np.random.rand(3), 2.0"

Exit status: 0 on success; 1 on a srcdiff error, a bad target or a failed check; 2 on a
usage error.  Errors print as ``srcdiff: ...`` without a traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib.util
import inspect
import itertools
import math
import os
import pathlib
import re
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

import gast
import numpy as np

from . import api, cache, ir, pipeline
from .emit import format_ir, to_source
from .errors import SrcdiffError
from .graph import to_dot
from .standalone import standalone
from .testing import check_grad
from .version import __version__

__all__ = ["main", "build_parser", "load_target", "parse_wrt", "Target"]

# The kinds ``show --kind`` offers, each one api.source accepts: a new kind is one more entry.
KINDS = ("grad", "value_and_grad", "vjp", "jvp", "hessian", "hvp")
PASSES = pipeline.PASSES

_QUALNAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_MISSING = object()
_counter = itertools.count()


class CliError(Exception):
    """A bad target or option value: printed as one line, exit status 1."""


@dataclasses.dataclass(frozen=True)
class Target:
    """The function a TARGET names, the module it lives in, and how to refer to both."""

    fn: Callable
    module: types.ModuleType
    where: str  # the module as the user named it: a file path or a dotted name
    import_name: str  # how a standalone file would import that module
    first: int  # the default wrt: 1 for a method (skipping self or cls), else 0


def load_target(spec: str) -> Target:
    """Import the function ``spec`` names: ``FILE.py:FUNC``, ``MODULE:FUNC`` or ``...:Class.method``.

    A file is imported from its path (under its own name if ``import`` would find that
    very file, else a fresh one) with its directory first on sys.path, so its sibling
    imports work; a dotted module with importlib, the current directory on sys.path.  A
    method resolves to its underlying function, ``self`` included.
    """
    where, sep, qualname = spec.rpartition(":")
    if not sep or not where or not _QUALNAME.fullmatch(qualname):
        raise CliError(f"bad target {spec!r}: expected FILE.py:FUNC, MODULE:FUNC or FILE.py:Class.method")
    if where.endswith(".py") or "/" in where or os.sep in where:
        full = os.path.abspath(where)
        if not os.path.isfile(full):
            raise CliError(f"no such file: {where}")
        directory, stem = os.path.dirname(full), os.path.basename(full).removesuffix(".py")
        module, import_name = _guarded_import(where, directory, lambda: _exec_file(stem, full)), stem
    elif _QUALNAME.fullmatch(where):
        module = _guarded_import(where, os.getcwd(), lambda: importlib.import_module(where))
        import_name = where
    else:
        raise CliError(f"bad target {spec!r}: {where!r} is neither a .py file nor a module name")
    owner = obj = module
    for part in qualname.split("."):
        owner, obj = obj, getattr(obj, part, _MISSING)
        if obj is _MISSING:
            known = [n for n, v in getattr(owner, "__dict__", {}).items()
                     if callable(v) or isinstance(v, (staticmethod, classmethod))]
            close = difflib.get_close_matches(part, known, n=3)
            raise CliError(f"{where} has no function {qualname!r}"
                           + (f" (did you mean {', '.join(close)}?)" if close else ""))
    if not callable(obj) or isinstance(obj, type):
        raise CliError(f"{qualname} in {where} is a {type(obj).__name__}, not a function")
    is_method = isinstance(owner, type) and not isinstance(inspect.getattr_static(owner, part), staticmethod)
    return Target(getattr(obj, "__func__", obj), module, where, import_name, int(is_method))


def _guarded_import(what: str, directory: str, load: Callable[[], types.ModuleType]) -> types.ModuleType:
    """Run ``load`` with ``directory`` first on sys.path; its failures become CliErrors."""
    sys.path.insert(0, directory)
    try:
        return load()
    except (SrcdiffError, CliError):
        raise
    except Exception as exc:
        raise CliError(f"cannot import {what}: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(directory)


def _exec_file(stem: str, path: str) -> types.ModuleType:
    name = f"_srcdiff_target_{re.sub(r'[^0-9A-Za-z_]', '_', stem)}_{next(_counter)}"
    if stem.isidentifier() and stem not in sys.modules:
        found = importlib.util.find_spec(stem)
        if found is not None and found.origin and os.path.samefile(found.origin, path):
            name = stem  # so that error hints and sibling imports see the file's own name
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {path}: not a Python source file")
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def parse_wrt(text: str) -> int | str | tuple:
    """Parse ``--wrt``: comma-separated parameter positions and/or names.

    One entry gives a single wrt (one gradient), several a tuple (a tuple of gradients).

    >>> parse_wrt("0"), parse_wrt("W"), parse_wrt("0, b")
    (0, 'W', (0, 'b'))
    """
    entries: list[int | str] = []
    for item in (part.strip() for part in text.split(",")):
        if re.fullmatch(r"[0-9]+", item):
            entries.append(int(item))
        elif item.isidentifier():
            entries.append(item)
        else:
            raise argparse.ArgumentTypeError(
                f"bad entry {item!r} in {text!r}: give parameter positions and/or names, e.g. 0,1 or W,b")
    return entries[0] if len(entries) == 1 else tuple(entries)


# ---------------------------------------------------------------- show


def _show(args: argparse.Namespace) -> int:
    target = load_target(args.target)
    options = {"kind": args.kind, "wrt": target.first if args.wrt is None else args.wrt,
               "optimize": args.optimize}
    if args.after is None:
        if args.output is None:
            _print_code(api.source(target.fn, **options), args.color)
            return 0
        module = standalone(target, api.Derivative(target.fn, args.kind, options["wrt"], args.optimize),
                            args.kind)
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(module)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror}") from exc
        print(f"wrote {args.output}")
        return 0
    captured: list[str] = []

    def observe(stage: str, program: Any) -> None:
        if stage == args.after:
            captured.append(_describe(program).rstrip("\n"))

    try:
        api.watch(target.fn, observe, **options)
    finally:  # on an error in a later stage, still show the program the stage produced
        if captured:
            _print_code("\n\n".join(captured), args.color)
    if not captured:
        why = ("--no-optimize skips it" if not args.optimize
               else "it runs only for some functions and arguments")
        raise CliError(f"pass {args.after!r} did not run ({why})")
    return 0


def _describe(program: Any) -> str:
    """A pass's output as text: source for trees and IR, one line per field for analyses."""
    if isinstance(program, str):
        return program
    if isinstance(program, ir.Function):
        return format_ir(program)
    if isinstance(program, gast.AST):
        return to_source(program)
    if isinstance(getattr(program, "node", None), gast.AST):  # parse.Source
        return to_source(program.node)
    if hasattr(program, "refs") and hasattr(program, "texts"):  # resolve.Resolution
        refs = sorted({f"{program.texts.get(node, '?')} -> {_object_name(obj)}"
                       for node, obj in program.refs.items()})
        return "\n".join([f"locals: {', '.join(sorted(program.locals))}", *refs])
    if dataclasses.is_dataclass(program):
        return "\n".join(f"{f.name}: {_brief(getattr(program, f.name))}" for f in dataclasses.fields(program))
    return repr(program)


def _object_name(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(obj, types.ModuleType) or not name:
        return f"module {name}" if name else repr(obj)
    return f"{getattr(obj, '__module__', None) or type(obj).__module__}.{name}"


def _brief(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {getattr(v, 'kind', v)}" for k, v in value.items()) + "}"
    return repr(value)


def _print_code(text: str, color: str) -> None:
    text = text.rstrip("\n") + "\n"
    if color == "always" or (color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")):
        try:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # pygments is optional: plain text without it
            pass
        else:
            text = highlight(text, PythonLexer(), TerminalFormatter())
    sys.stdout.write(text)


# ---------------------------------------------------------------- check


def _check(args: argparse.Namespace) -> int:
    target = load_target(args.target)
    try:  # the user's own expression, in the target's namespace: evaluating it is the point
        values = eval(args.args, {**vars(target.module), "np": np, "math": math})
    except Exception as exc:
        raise CliError(f"cannot evaluate --args: {type(exc).__name__}: {exc}") from exc
    values = values if isinstance(values, tuple) else (values,)
    signature = inspect.signature(target.fn)
    try:
        signature.bind(*values)
    except TypeError as exc:
        raise CliError(f"--args does not fit {target.fn.__name__}{signature}: {exc}") from exc
    wrt = target.first if args.wrt is None else args.wrt
    params = list(signature.parameters)
    rows = [("argument", "shape", "max abs error", "max rel error", "result")]
    failures = []
    for entry in wrt if isinstance(wrt, tuple) else (wrt,):
        if isinstance(entry, int) and entry >= len(values):
            raise CliError(f"--wrt {entry}: --args gives {len(values)} argument(s), none for it")
        try:  # srcdiff's gradient against srcdiff.testing.numerical_grad's, for this argument
            result = check_grad(target.fn, *values, wrt=entry, rtol=args.rtol, atol=args.atol, eps=args.eps,
                                raise_on_error=False)
        except SrcdiffError:
            raise
        except Exception as exc:
            raise CliError(f"checking {entry!r} raised {type(exc).__name__}: {exc}") from exc
        name = params[entry] if isinstance(entry, int) else entry
        if not result.ok:
            # check_grad's where can hold NumPy scalars' reprs (np.int64(2)): show plain numbers
            failures.append(f"{name} at " + re.sub(r"np\.\w+\((-?\d+)\)", r"\1", result.where))
        value = values[params.index(name)]
        shape = str(np.shape(value)) if isinstance(value, np.ndarray) else type(value).__name__
        rows.append((name, shape, f"{result.worst_abs:.2e}", f"{result.worst_rel:.2e}",
                     "ok" if result.ok else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) if i in (2, 3) else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    if failures:
        print(f"gradient MISMATCH (rtol={args.rtol:g}, atol={args.atol:g}), worst: {'; '.join(failures)}")
        return 1
    print("gradient matches finite differences")
    return 0


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``srcdiff`` command."""
    parser = argparse.ArgumentParser(
        prog="srcdiff", description="Source-transformation automatic differentiation for Python and NumPy.")
    parser.add_argument("--version", action="version", version=f"srcdiff {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("target", metavar="TARGET", help="FILE.py:FUNC, MODULE:FUNC or FILE.py:Class.method")
    common.add_argument("--wrt", type=parse_wrt, metavar="0,b",
                        help="parameter positions and/or names, comma-separated (default: the first "
                             "parameter; for a method, the first after self)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = commands.add_parser("show", parents=[common], help="print the generated derivative source")
    show.add_argument("--kind", choices=KINDS, default="grad", help="which derivative (default: grad)")
    show.add_argument("--no-optimize", dest="optimize", action="store_false", help="skip the simplify pass")
    show.add_argument("--after", choices=PASSES, metavar="PASS",
                      help=f"print the program after this pipeline pass instead: {', '.join(PASSES)}")
    show.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="highlight with pygments if installed (default: auto, on a terminal)")
    show.add_argument("--output", metavar="FILE", help="write a standalone module that needs only NumPy")
    show.set_defaults(run=_show)

    check = commands.add_parser("check", parents=[common],
                                help="compare the gradient with central finite differences")
    check.add_argument("--args", required=True, metavar="EXPR",
                       help="the argument(s) as a Python expression, with np, math and the target's "
                            "module-level names available, e.g. 'np.random.rand(3), 2.0'")
    check.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default: 1e-5)")
    check.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (default: 1e-6)")
    check.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default: 1e-6)")
    check.set_defaults(run=_check)

    graph = commands.add_parser("graph", parents=[common],
                                help="the program as a Graphviz DOT computational graph")
    graph.add_argument("--adjoint", action="store_true", help="add the adjoint (reverse sweep) nodes")
    graph.add_argument("--format", choices=("dot", "svg", "png"), default="dot",
                       help="dot text (default), or render with Graphviz's dot program")
    graph.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    graph.set_defaults(run=_graph)

    cache_cmd = commands.add_parser("cache", help="the on-disk cache of generated derivatives")
    cache_cmd.add_argument("action", choices=("info", "clear"), help="info: where, how many, how large; "
                           "clear: remove every entry")
    cache_cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    cache_cmd.set_defaults(run=_cache)
    return parser


def _graph(args: argparse.Namespace) -> int:
    """``srcdiff graph``: DOT text, or SVG/PNG rendered by Graphviz when it is installed."""
    import shutil
    import subprocess


    target = load_target(args.target)
    text = to_dot(target.fn, wrt=target.first if args.wrt is None else args.wrt, adjoint=args.adjoint)
    if args.format == "dot":
        if args.output:
            pathlib.Path(args.output).write_text(text)
        else:
            print(text, end="")
        return 0
    dot = shutil.which("dot")
    if dot is None:
        raise CliError(f"--format {args.format} needs Graphviz's dot program, which is not installed; "
                       "install Graphviz (e.g. apt-get install graphviz, brew install graphviz), or use "
                       "--format dot and render it elsewhere")
    if not args.output:
        raise CliError(f"--format {args.format} writes a file: give --output FILE")
    subprocess.run([dot, f"-T{args.format}", "-o", args.output], input=text, text=True, check=True)
    return 0


def _cache(args: argparse.Namespace) -> int:
    """``srcdiff cache info|clear``."""

    if args.action == "clear":
        print(f"removed {cache.clear()} entries from {cache.cache_dir()}")
        return 0
    info = cache.info()
    state = "" if info["enabled"] else " (disabled by SRCDIFF_DISABLE_CACHE)"
    print(f"path:    {info['path']}{state}")
    print(f"entries: {info['entries']}")
    print(f"size:    {info['bytes'] / 1024:.1f} KiB")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``srcdiff`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", None) and getattr(args, "after", None):
        parser.error("--output and --after cannot be combined")
    try:
        return args.run(args)
    except (SrcdiffError, CliError) as err:
        if args.debug:
            traceback.print_exc()
        print(f"srcdiff: {err}", file=sys.stderr)
        return 1
