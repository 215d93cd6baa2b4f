"""The ``srcdiff`` command line: print generated derivative code, or check it numerically.

    srcdiff show model.py:loss --wrt W,b            the generated gradient source
    srcdiff show pkg.model:loss --after ssa         the program after one pipeline pass
    srcdiff show model.py:loss --output grad.py     a standalone module that needs only NumPy
    srcdiff check model.py:loss --args "np.random.rand(3), 2.0"

Exit status: 0 on success, 1 on a srcdiff error, a bad target or a failed check, 2 on
a usage error.  Errors are printed as ``srcdiff: ...`` without a traceback (``--debug``
shows it).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import itertools
import math
import os
import re
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

import gast
import numpy as np

from . import api, ir, pipeline, runtime
from .emit import format_ir, to_source
from .errors import SrcdiffError
from .rules.registry import TEMPLATE_GLOBALS
from .testing import numerical_grad

__all__ = ["main", "load_target", "parse_wrt", "Target"]

# The derivative kinds ``show --kind`` offers: each is a ``kind`` that api.source accepts.
KINDS = ("grad", "value_and_grad", "vjp")
PASSES = tuple(getattr(pipeline, "PASSES", (
    "parse", "resolve", "desugar", "anf", "ssa", "activity", "reverse", "simplify", "emit")))

_QUALNAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_counter = itertools.count()
_MISSING = object()


class CliError(Exception):
    """A bad target or bad option value: reported as one line, exit status 1."""


@dataclasses.dataclass(frozen=True)
class Target:
    """The function a TARGET names, the module it lives in, and how to refer to both."""

    fn: Callable
    module: types.ModuleType
    where: str  # the module as the user named it: a file path or a dotted name
    import_name: str  # how a standalone file would import the module
    first: int  # the default wrt: 1 for a method (skip self/cls), else 0


def load_target(spec: str) -> Target:
    """Import the function ``spec`` names: ``FILE.py:FUNC``, ``MODULE:FUNC`` or ``...:Class.method``.

    A file is imported from its path (its own name if ``import`` would find it, else a
    fresh one), with its directory first on sys.path so its sibling imports work; a
    dotted module with importlib, the current directory first on sys.path.  A method
    resolves to its underlying function, ``self`` included.
    """
    where, sep, qualname = spec.rpartition(":")
    if not sep or not where or not _QUALNAME.fullmatch(qualname):
        raise CliError(f"bad target {spec!r}: expected FILE.py:FUNC, MODULE:FUNC or FILE.py:Class.method")
    if where.endswith(".py") or "/" in where or os.sep in where:
        module, import_name = _import_file(where)
    elif _QUALNAME.fullmatch(where):
        module, import_name = _import_module(where), where
    else:
        raise CliError(f"bad target {spec!r}: {where!r} is neither a .py file nor a module name")
    owner: Any = module
    obj: Any = module
    for part in qualname.split("."):
        owner, obj = obj, getattr(obj, part, _MISSING)
        if obj is _MISSING:
            known = [n for n, v in getattr(owner, "__dict__", {}).items() if callable(v) or isinstance(v, (staticmethod, classmethod))]
            close = difflib.get_close_matches(part, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise CliError(f"{where} has no function {qualname!r}{hint}")
    if not callable(obj) or isinstance(obj, type):
        raise CliError(f"{qualname} in {where} is a {type(obj).__name__}, not a function")
    is_method = isinstance(owner, type) and not isinstance(inspect.getattr_static(owner, part), staticmethod)
    return Target(getattr(obj, "__func__", obj), module, where, import_name, int(is_method))


def _import_file(path: str) -> tuple[types.ModuleType, str]:
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise CliError(f"no such file: {path}")
    directory, stem = os.path.split(full)
    stem = stem[:-3] if stem.endswith(".py") else stem
    sys.path.insert(0, directory)
    try:
        name = _module_name(stem, full)
        spec = importlib.util.spec_from_file_location(name, full)
        if spec is None or spec.loader is None:
            raise CliError(f"cannot import {path}: not a Python source file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except SrcdiffError:
            raise
        except Exception as exc:
            del sys.modules[name]
            raise CliError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(directory)
    return module, stem


def _module_name(stem: str, path: str) -> str:
    """The file's own name when ``import stem`` would load this very file, else a fresh one."""
    if stem.isidentifier() and stem not in sys.modules:
        try:
            found = importlib.util.find_spec(stem)
        except (ImportError, ValueError):
            found = None
        if found is not None and found.origin and os.path.samefile(found.origin, path):
            return stem
    return f"_srcdiff_target_{re.sub(r'[^0-9A-Za-z_]', '_', stem)}_{next(_counter)}"


def _import_module(name: str) -> types.ModuleType:
    added = os.getcwd() not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except SrcdiffError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise CliError(f"no module named {name!r}") from exc
        raise CliError(f"cannot import {name}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise CliError(f"cannot import {name}: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(os.getcwd())


def parse_wrt(text: str) -> int | str | tuple:
    """Parse ``--wrt``: comma-separated parameter positions and/or names.

    One entry gives a single wrt, several a tuple (a tuple of gradients).

    >>> parse_wrt("0"), parse_wrt("W"), parse_wrt("0, b")
    (0, 'W', (0, 'b'))
    """
    entries: list[int | str] = []
    for item in text.split(","):
        item = item.strip()
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
    wrt = target.first if args.wrt is None else args.wrt
    if args.after is None:
        text = api.source(target.fn, kind=args.kind, wrt=wrt, optimize=args.optimize)
        if args.output is None:
            _print_code(text, args.color)
        else:
            try:
                with open(args.output, "w", encoding="utf-8") as fh:
                    fh.write(standalone(target, text, args.kind))
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror}") from exc
            print(f"wrote {args.output}")
        return 0
    captured: list[str] = []
    previous = pipeline.HOOKS["after"]

    def hook(pass_name: str, program: Any) -> None:
        if pass_name == args.after:
            captured.append(_describe(program).rstrip("\n"))
        if previous is not None:
            previous(pass_name, program)

    pipeline.HOOKS["after"] = hook
    try:
        api.source(target.fn, kind=args.kind, wrt=wrt, optimize=args.optimize)
    finally:
        pipeline.HOOKS["after"] = previous
        if captured:
            _print_code("\n\n".join(captured), args.color)
    if not captured:
        why = "--no-optimize skips it" if args.after == "simplify" and not args.optimize else (
            "the derivative may have come from the cache")
        raise CliError(f"pass {args.after!r} did not run ({why})")
    return 0


def _describe(program: Any) -> str:
    """A pass's output as text: source for trees and IR, fields for analyses."""
    if isinstance(program, str):
        return program
    if isinstance(program, ir.Function):
        return format_ir(program)
    if isinstance(program, gast.AST):
        return to_source(program)
    if isinstance(getattr(program, "node", None), gast.AST):  # parse.Source
        return to_source(program.node)
    if hasattr(program, "refs") and hasattr(program, "texts"):  # resolve.Resolution
        lines = {f"{program.texts.get(node, '?')} -> {_object_name(obj)}" for node, obj in program.refs.items()}
        return "\n".join([f"locals: {', '.join(sorted(program.locals))}", *sorted(lines)])
    if dataclasses.is_dataclass(program):
        return "\n".join(f"{f.name}: {_brief(getattr(program, f.name))}" for f in dataclasses.fields(program))
    return repr(program)


def _object_name(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    module = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", "")
    return f"{module}.{name}" if name else repr(obj)


def _brief(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {getattr(v, 'kind', v)}" for k, v in value.items()) + "}"
    return repr(value)


def _print_code(text: str, color: str) -> None:
    text = text.rstrip("\n") + "\n"
    wanted = color == "always" or (color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    if wanted:
        try:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # pygments is optional: plain text without it
            pass
        else:
            text = highlight(text, PythonLexer(), TerminalFormatter())
    sys.stdout.write(text)


# ---------------------------------------------------------------- show --output


def standalone(target: Target, text: str, kind: str) -> str:
    """A module holding the generated function ``text`` and everything it reads.

    srcdiff's runtime helpers are copied in (with the private helpers they call); the
    user's module-level names become imports, or ``NAME = value`` for literals.
    """
    tree = ast.parse(text)
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    code = target.fn.__code__
    cells = dict(zip(code.co_freevars, target.fn.__closure__ or ()))
    helpers, imports, needs, constants = [], [], [], []
    for name in sorted(loads - bound - {"np", "math"}):
        if name in TEMPLATE_GLOBALS and getattr(TEMPLATE_GLOBALS[name], "__module__", "") == runtime.__name__:
            helpers.append(name)
            continue
        if name in TEMPLATE_GLOBALS:
            value, where = TEMPLATE_GLOBALS[name], "srcdiff"
        elif name in cells:
            value, where = cells[name].cell_contents, f"{code.co_name}'s closure"
        elif name in target.fn.__globals__:
            value, where = target.fn.__globals__[name], target.where
        else:
            if not hasattr(builtins, name):
                needs.append(f"# needs: {name} (not found in module {target.where})")
            continue
        line = _import_line(name, value, target, where)
        (imports if line.startswith("import ") else constants if " = " in line else needs).append(line)
    header = (f'"""{kind} of {code.co_name} ({os.path.basename(code.co_filename)}:{code.co_firstlineno}), '
              f"generated by srcdiff.\n\nStandalone: needs NumPy{' and the names below' if needs else ''}, "
              'not srcdiff.\n"""\n\nfrom __future__ import annotations\n\nimport math\nfrom typing import Any\n\n'
              "import numpy as np")
    top = "\n\n".join([header] + ["\n".join(group) for group in (imports, needs, constants) if group])
    parts = [top, text.rstrip("\n")]
    if helpers:
        parts.append("# srcdiff runtime helpers the code above calls, copied from srcdiff/runtime.py.")
        parts.extend(_runtime_sources(helpers))
    return "\n\n\n".join(parts) + "\n"


def _import_line(name: str, value: Any, target: Target, where: str) -> str:
    """How a standalone module gets ``name``: an import, a literal, or an import it needs."""
    if isinstance(value, types.ModuleType):
        return f"import {value.__name__}" + ("" if name == value.__name__ else f" as {name}")
    if type(value) in (bool, int, float, complex, str, bytes, type(None)):
        try:
            if ast.literal_eval(repr(value)) == value:
                return f"{name} = {value!r}  # from {where}"
        except (ValueError, SyntaxError):  # nan, inf: imported instead
            pass
    home, own = getattr(value, "__module__", None), getattr(value, "__name__", None)
    if home in (None, "__main__", target.module.__name__) or not own or getattr(value, "__qualname__", own) != own:
        home, own = target.import_name, name  # defined in (or only reachable through) the target's module
    return f"# needs: {name} from module {where}\nfrom {home} import {own}{'' if own == name else f' as {name}'}"


def _runtime_sources(names: Sequence[str]) -> list[str]:
    """The source of each runtime helper in ``names`` and of the runtime functions they call."""
    found: dict[str, types.FunctionType] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        fn = getattr(runtime, name, None)
        if name in found or not isinstance(fn, types.FunctionType) or fn.__module__ != runtime.__name__:
            continue
        found[name] = fn
        todo += [n.id for n in ast.walk(ast.parse(inspect.getsource(fn))) if isinstance(n, ast.Name)]
    sources, stand_ins = [], {}
    for fn in sorted(found.values(), key=lambda f: f.__code__.co_firstlineno):
        source = inspect.getsource(fn).rstrip("\n")
        for match in re.finditer(r"^[ \t]*from \.(\w+) import ([\w, ]+)$", source, re.M):
            for imported in (s.strip() for s in match.group(2).split(",")):
                stand_ins[imported] = getattr(importlib.import_module(f"srcdiff.{match.group(1)}"), imported)
        sources.append(re.sub(r"^[ \t]*from \.\w+ import [\w, ]+\n", "", source, flags=re.M))
    for name, obj in sorted(stand_ins.items()):
        base = next(b for b in obj.__mro__ if b.__module__ == "builtins").__name__
        sources.append(
            f"class {name}({base}):\n"
            f'    """Stand-in for srcdiff\'s {name}, so that this module does not need srcdiff."""\n\n'
            f'    def __init__(self, message, loc=None, hint=""):\n'
            f'        super().__init__(f"{{message}}\\nhint: {{hint}}" if hint else message)')
    return sources


# ---------------------------------------------------------------- check


def _check(args: argparse.Namespace) -> int:
    target = load_target(args.target)
    namespace = {**vars(target.module), "np": np, "math": math}
    try:
        values = eval(args.args, namespace)  # noqa: S307 - evaluating the user's own expression is the point
    except Exception as exc:
        raise CliError(f"cannot evaluate --args: {type(exc).__name__}: {exc}") from exc
    values = values if isinstance(values, tuple) else (values,)
    try:
        inspect.signature(target.fn).bind(*values)
    except TypeError as exc:
        raise CliError(f"--args does not fit {target.fn.__name__}{inspect.signature(target.fn)}: {exc}") from exc
    wrt = target.first if args.wrt is None else args.wrt
    entries = list(wrt) if isinstance(wrt, tuple) else [wrt]
    params = list(inspect.signature(target.fn).parameters)
    positions = [e if isinstance(e, int) else params.index(e) if e in params else -1 for e in entries]
    got = _run("srcdiff's gradient", lambda: api.grad(target.fn, wrt=tuple(entries))(*copy.deepcopy(values)))
    rows = [("argument", "shape", "max abs error", "max rel error", "result")]
    ok = True
    for entry, pos, gradient in zip(entries, positions, got):
        if not 0 <= pos < len(values):
            raise CliError(f"--wrt {entry!r}: --args gives {len(values)} argument(s), none for it")
        expected = _run("finite differences", lambda p=pos: numerical_grad(target.fn, values, p, args.eps))
        abs_err, rel_err, passed = _compare(gradient, expected, args.rtol, args.atol)
        ok &= passed
        rows.append((params[pos] if pos < len(params) else str(pos), _shape(values[pos]),
                     f"{abs_err:.2e}", f"{rel_err:.2e}", "ok" if passed else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) if i in (2, 3) else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    print("gradient matches finite differences" if ok else
          f"gradient MISMATCH (rtol={args.rtol:g}, atol={args.atol:g})")
    return 0 if ok else 1


def _run(what: str, compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except SrcdiffError:
        raise
    except Exception as exc:
        raise CliError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def _leaves(x: Any, path: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        return {p: v for k in x for p, v in _leaves(x[k], f"{path}[{k!r}]").items()}
    if isinstance(x, (list, tuple)):
        return {p: v for i, item in enumerate(x) for p, v in _leaves(item, f"{path}[{i}]").items()}
    return {path: x}


def _compare(got: Any, expected: Any, rtol: float, atol: float) -> tuple[float, float, bool]:
    """Worst absolute and relative error of ``got`` against ``expected``, and whether all pass."""
    worst_abs, worst_rel, ok = 0.0, 0.0, True
    got_leaves = _leaves(got)
    for path, e in _leaves(expected).items():
        if e is None:
            continue
        e = np.asarray(e, dtype=np.float64)
        a = got_leaves.get(path)
        a = np.zeros_like(e) if a is None else np.asarray(a, dtype=np.float64)
        if a.shape != e.shape:
            return float("inf"), float("inf"), False
        err = np.abs(a - e)
        if err.size:
            worst_abs = max(worst_abs, float(err.max()))
            worst_rel = max(worst_rel, float((err / np.maximum(np.abs(e), atol)).max()))
            ok &= bool(np.all(err <= atol + rtol * np.abs(e)))
    return worst_abs, worst_rel, ok


def _shape(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return f"{type(value).__name__} of {len(_leaves(value))}"
    return str(np.shape(value)) if isinstance(value, np.ndarray) else "scalar"


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``srcdiff`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="srcdiff", description="Source-transformation automatic differentiation for Python and NumPy.")
    parser.add_argument("--version", action="version", version=f"srcdiff {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("target", metavar="TARGET",
                        help="FILE.py:FUNC, MODULE:FUNC or FILE.py:Class.method")
    common.add_argument("--wrt", type=parse_wrt, metavar="0,b",
                        help="parameter positions and/or names, comma-separated (default: the first; "
                             "for a method, the first after self)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = commands.add_parser("show", parents=[common], help="print the generated derivative source")
    show.add_argument("--kind", choices=KINDS, default="grad", help="which derivative (default: grad)")
    show.add_argument("--no-optimize", dest="optimize", action="store_false", help="skip the simplify pass")
    show.add_argument("--after", choices=PASSES, metavar="PASS",
                      help=f"print the program after this pipeline pass: {', '.join(PASSES)}")
    show.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="highlight with pygments (default: auto, when writing to a terminal)")
    show.add_argument("--output", metavar="FILE", help="write a standalone module that needs only NumPy")
    show.set_defaults(run=_show)

    check = commands.add_parser("check", parents=[common],
                                help="compare the gradient with central finite differences")
    check.add_argument("--args", required=True, metavar="EXPR",
                       help="a Python expression giving the argument(s), with np and math available")
    check.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default: 1e-5)")
    check.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (default: 1e-6)")
    check.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default: 1e-6)")
    check.set_defaults(run=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``srcdiff`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", None) and args.after:
        parser.error("--output and --after cannot be combined")
    try:
        return args.run(args)
    except (SrcdiffError, CliError) as err:
        if args.debug:
            traceback.print_exc()
        print(f"srcdiff: {err}", file=sys.stderr)
        return 1
