"""The pipeline: every stage, listed once, top to bottom (:data:`PASSES` is this list).

    parse        function -> Source         read and parse the source (file, lines, namespace)
    fence        Source -> Source           reject unsupported syntax, with file:line and a hint
    jumps        gast -> gast               break/continue/early return -> flags, one exit
    resolve      Source -> Resolution       bind global/closure references to their objects
    desugar      gast -> gast               operators, methods, subscripts, unpacking -> calls
    anf          gast -> ir.Function        one operation per statement
    ssa          ir -> ir                   every name assigned once; joins become phis
    effects      ir -> Effects              who writes which storage; refuse a write another
                                            live name would see (srcdiff never writes in place)
    cse          ir -> ir                   a repeated pure call reuses the first result
    reserved     ir -> ir                   refuse names the generated code needs for itself
    hoist        ir -> ir                   a loop's row products made in one (shapes known)
    complexes    ir -> Complexity           which values may be complex; the rule of each
                                            statement that meets one
    activity     ir -> Activity             which values need derivatives (side tables)
    callees      ir -> ir                   refuse, before anything runs, a differentiated call
                                            srcdiff cannot follow (complex values, helpers)
    reverse      ir + Activity -> gast      primal sweep, then adjoint sweep from the rules
    forward      ir + Activity -> gast      tangents computed alongside the values (jvp)
    spread       gast -> gast               a full reduction's cotangent stays a scalar
    products     gast -> gast               matrix-product cotangents written out, ranks known
    simplify     gast -> gast               constant folding, copy propagation, dead code
    inplace      gast -> gast               results written into arrays read no more (out=)
    results      gast -> gast               gradients returned share no memory
    floats       gast -> gast               Python-float arguments computed with math
    temporaries  gast -> gast               a temporary read once is written where it is read
    emit         gast -> str                ast.unparse, then compile(): the function
    names        str -> str                 every name the generated code reads is defined

``transform(fn, ..., observe=f)`` calls ``f(stage, program)`` after each stage that runs
(``reverse`` or ``forward``, never both; the optimising stages only when optimising).
"""

from __future__ import annotations

import builtins
import gc
import math
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from . import ir, rules
from .compile import compile_function, free_loads, label_for
from .emit import walk
from .errors import Loc, NonScalarOutputError, SrcdiffError, UnsupportedSyntaxError
from .names import Namer
from .passes import (
    activity,
    anf,
    complexes,
    cse,
    desugar,
    effects,
    fence,
    forward,
    hoist,
    inplace,
    jumps,
    parse,
    products,
    resolve,
    results,
    reverse,
    shapes,
    simplify,
    spread,
    ssa,
)
from .rules import registry
from .runtime.calls import COMPLEX_RESULT, COMPLEX_RESULT_HINT, RETURN_LOCATIONS

__all__ = ["Generated", "transform", "lower_to_ir", "STATS", "PASSES"]

# The stages, in order: the names an observer of transform is called with.
PASSES = ("parse", "fence", "jumps", "resolve", "desugar", "anf", "ssa", "effects", "cse", "reserved",
          "hoist", "complexes", "activity", "callees", "reverse", "forward", "spread", "products",
          "simplify", "inplace", "results", "floats", "temporaries", "emit", "names")

# Counters tests read to tell a cache hit from a new transformation.
STATS = {"transforms": 0, "disk_hits": 0}

Observer = Callable[[str, Any], None]


def _stepper(observe: Observer | None) -> Callable[[str, Any], Any]:
    """``step(stage, program)``: shows the program to ``observe``, and returns it."""
    if observe is None:
        return lambda stage, program: program

    def step(stage: str, program: Any) -> Any:
        observe(stage, program)
        return program

    return step


@dataclass(eq=False)
class Generated:
    """A compiled derivative and its source."""

    function: Callable
    source: str
    mode: str
    wrt: tuple
    current: Callable[[], bool] = lambda: True  # false once what it was built from changed
    specialized: bool = False  # made for the argument shapes given to transform only
    # (parameter, method name, where): methods of arguments the code differentiates
    # through, found on the argument's class when it runs (the API checks them first)
    methods: tuple = ()
    # alias -> ir.CalleeRef: the derivatives of user functions the code calls, which the
    # API layer makes and links into the function (its closure cells hold the refs)
    links: dict = field(default_factory=dict)
    # what the disk cache keeps of freshly generated code (None for code loaded from it)
    stored: dict | None = None


def _roots(res: resolve.Resolution) -> list[str]:
    """The global or closure names through which the function reaches what it calls."""
    roots: list[str] = []
    for node, value in res.refs.items():
        if isinstance(value, ir.Prim) or not callable(value) and not isinstance(value, types.ModuleType) \
                and not shapes.is_number(value):
            continue
        root = res.texts.get(node, "").split(".")[0]
        if root and root not in roots:
            roots.append(root)
    return roots


def lookup_root(fn: Callable, root: str) -> tuple:
    """(where, key, current object) of a root name: a closure cell or the globals."""
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    if root in cells:
        try:
            return cells[root], None, cells[root].cell_contents
        except ValueError:
            return cells[root], None, resolve.MISSING
    return fn.__globals__, root, fn.__globals__.get(root, resolve.MISSING)


def describe(obj: Any) -> str:
    """What an object is, in words that survive a new process (for the disk cache)."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if shapes.is_number(obj):
        return f"number {type(obj).__name__}"  # its type is what the derivative assumed
    return f"{type(obj).__name__} {getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"


def guard(fn: Callable, roots: list[str]) -> Callable[[], bool]:
    """A check that the function's code and every callable it calls by name are still
    what the derivative was built from (a redefined helper, a rebound closure variable
    or global, a new function body must not be served a stale derivative)."""
    code = fn.__code__
    checks = [lookup_root(fn, root) for root in roots]

    # One boolean expression, no loop: the check runs on every call of a derivative.
    # It also checks that no rule was registered since (the registry's version).
    env: dict[str, Any] = {"fn": fn, "code": code, "MISSING": resolve.MISSING, "cell": _cell,
                           "version": registry.version_cell, "built": registry.version_cell[0]}
    terms = ["version[0] == built", "fn.__code__ is code"]
    for i, (where, key, value) in enumerate(checks):
        env[f"w{i}"], env[f"v{i}"], env[f"k{i}"] = where, value, key
        read = f"cell(w{i})" if key is None else f"w{i}.get(k{i}, MISSING)"
        if shapes.is_number(value):  # a global number may change, but must stay a number
            env[f"v{i}"] = type(value)
            terms.append(f"type({read}) is v{i}")
        else:
            terms.append(f"{read} is v{i}")
    check = eval(f"lambda: {' and '.join(terms)}", env)
    check.parts = (terms, env)  # for a gate that inlines the terms (api.Derivative)
    return check


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell (the variable was deleted)
        return resolve.MISSING


def _quiet(stage: str, program: Any) -> Any:
    return program


def _lower(fn: Callable, step: Callable[[str, Any], Any] = _quiet
           ) -> tuple[parse.Source, ir.Function, Namer, resolve.Resolution]:
    """parse through ssa (``step``: shows each stage to an observer)."""
    source = step("parse", parse.parse(fn))
    step("fence", fence.check(source))
    used = {n.id for n in walk(source.node) if isinstance(n, gast.Name)}
    namer = Namer(used | set(registry.TEMPLATE_GLOBALS) | {"np", "math"})
    tree = step("jumps", jumps.lower(source.node, namer))
    res = resolve.resolve(source, tree)
    step("resolve", res)
    tree, res = desugar.desugar(tree, res, namer)
    step("desugar", tree)
    program = step("anf", anf.lower(source, tree, res, namer))
    program = step("ssa", ssa.rename(program, namer))
    return source, program, namer, res


def _front(fn: Callable, kinds: dict, step: Callable[[str, Any], Any]
           ) -> tuple[parse.Source, ir.Function, Namer, resolve.Resolution]:
    source, program, namer, res = _lower(fn, step)
    floats = frozenset(p for p, kind in (kinds or {}).items() if kind == "float")
    step("effects", effects.analyze(program, summarize, floats))
    program = step("cse", cse.eliminate(program))
    _check_reserved(source, res)
    step("reserved", program)
    return source, program, namer, res


# Keyed by code objects, weakly: an entry goes with its function's code.
_SUMMARIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code -> effects.Summary, once known
# code -> the srcdiff error its analysis raised (it is refused when differentiated)
_REFUSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ASSUMED: dict = {}  # code -> the Summary assumed for a call inside its own analysis (while it runs)


def summarize(fn: Callable) -> effects.Summary | None:
    """What a call of the user function ``fn`` may write and share (None: unknown, as
    for a function srcdiff cannot read; such a call runs as it is, or is refused)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    if code in _SUMMARIES:
        return _SUMMARIES[code]
    if code in _ASSUMED:  # a recursive call: what the analysis has found so far
        return _ASSUMED[code]
    params = frozenset(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    _ASSUMED[code] = effects.Summary(frozenset(), params)
    try:
        for _ in range(len(params) + 1):  # the writes grow until they hold for the recursive calls
            try:
                summary = lower_effects(fn).summary
            except SrcdiffError as exc:
                summary = None  # reported where a differentiated value reaches a call of it
                _REFUSED[code] = exc
                break
            if summary.writes <= _ASSUMED[code].writes:
                break
            _ASSUMED[code] = effects.Summary(_ASSUMED[code].writes | summary.writes, params)
    finally:
        del _ASSUMED[code]
    _SUMMARIES[code] = summary
    return summary


def lower_effects(fn: Callable) -> effects.Effects:
    """The effects analysis of ``fn`` (parse through ssa, then effects)."""
    return effects.analyze(_lower(fn)[1], summarize)


def guess_kinds(fn: Callable) -> dict:
    """Parameter kinds as the code suggests them, for showing source before a call:
    ``tree`` for a parameter read with a string key, unpacked, or iterated in pairs."""
    return _guess(parse.parse(fn).node)


def _guess(node: gast.FunctionDef) -> dict:
    kinds: dict = {}
    for n in walk(node):
        target = None
        if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name):
            if isinstance(n.slice, gast.Constant) and isinstance(n.slice.value, str):
                target = n.value.id
        elif isinstance(n, gast.Attribute) and n.attr in ("items", "values", "keys"):
            if isinstance(n.value, gast.Name):
                target = n.value.id
        elif isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Tuple):
            if isinstance(n.value, gast.Name):
                target = n.value.id
        elif isinstance(n, gast.For) and isinstance(n.target, gast.Tuple) and isinstance(n.iter, gast.Name):
            target = n.iter.id
        if target is not None:
            kinds[target] = "tree"
    return kinds


def lower_to_ir(fn: Callable) -> ir.Function:
    """The SSA IR of ``fn`` (parse through ssa, then cse), for inspection and tests; the
    effects analysis, which may refuse it, is ``effects.analyze`` of it, or of
    ``lower_effects``."""
    return cse.eliminate(_lower(fn)[1])


def _check_reserved(source: parse.Source, res: resolve.Resolution) -> None:
    """Generated code names NumPy ``np`` and math ``math``; the user's must agree."""
    for reserved, module in (("np", np), ("math", math)):
        if reserved in res.locals:
            raise UnsupportedSyntaxError(
                f"the function assigns the name {reserved!r}, which derivative code uses "
                f"for the {module.__name__} module",
                source.loc(source.node),
                hint=f"rename the local variable {reserved!r}",
            )
        for node, value in res.refs.items():
            root = res.texts.get(node, "").split(".")[0]
            if root == reserved and isinstance(value, types.ModuleType) and value is not module:
                raise UnsupportedSyntaxError(
                    f"the global name {reserved!r} is {value.__name__}, but derivative code "
                    f"uses it for the {module.__name__} module",
                    source.loc(node),
                    hint=f"import {module.__name__} as {reserved} in this module, or use another name",
                )


def _purity(source: parse.Source) -> Callable[[gast.expr], bool]:
    helpers = registry.TEMPLATE_GLOBALS

    def lookup(node: gast.expr) -> Any:
        if isinstance(node, gast.Name):
            if node.id in helpers:
                return helpers[node.id]
            if node.id in source.cells:
                try:
                    return source.cells[node.id].cell_contents
                except ValueError:
                    return None
            if node.id in source.globals:
                return source.globals[node.id]
            return getattr(builtins, node.id, None)
        if isinstance(node, gast.Attribute):
            base = lookup(node.value)
            if isinstance(base, (types.ModuleType, type)):
                return getattr(base, node.attr, None)
        return None

    impure = {helpers["seed"]}
    safe_builtins = {isinstance, len, float, tuple, list, slice}

    def is_pure(expr: gast.expr) -> bool:
        for node in walk(expr):
            if isinstance(node, (gast.Lambda, gast.ListComp, gast.GeneratorExp, gast.DictComp,
                                 gast.SetComp, gast.Yield, gast.Await)):
                return False
            if isinstance(node, gast.Call):
                obj = lookup(node.func)
                if obj is None or obj in impure:
                    return False
                try:
                    known = (registry.lookup(obj) is not None or registry.is_nondifferentiable(obj)
                             or obj in safe_builtins or obj in helpers.values())
                except TypeError:
                    known = False
                if not known:
                    return False
        return True

    return is_pure


def transform(
    fn: Callable, *, mode: str, wrt: tuple, kinds: dict, optimize: bool = True, single: bool = True,
    functional: bool = False, arg_shapes: dict | None = None, observe: Observer | None = None,
) -> Generated:
    """Run the whole pipeline: the derivative of ``fn`` in ``mode`` w.r.t. parameters ``wrt``.
    With ``arg_shapes`` (parameter -> shape tuple or ``"float"``), the code may be
    specialised to those shapes: ``specialized`` on the result says whether it was.
    ``observe(stage, program)`` is called after each stage of :data:`PASSES` that runs."""
    # The passes make many small trees and free them all at the end; the cyclic garbage
    # collector would scan them over and over (more, the bigger the function), so it
    # waits until the transformation is done.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _transform(fn, mode, wrt, kinds, optimize, single, functional, arg_shapes,
                          _stepper(observe))
    finally:
        if enabled:
            gc.enable()


def _transform(fn: Callable, mode: str, wrt: tuple, kinds: dict, optimize: bool, single: bool,
               functional: bool, arg_shapes: dict | None, step: Callable[[str, Any], Any]) -> Generated:
    STATS["transforms"] += 1
    # the parameters holding complex values (the code is made for them; they are arrays)
    complex_params = frozenset(p for p, kind in kinds.items() if kind in ("complex", "complex_float"))
    complex_scalars = frozenset(p for p, kind in kinds.items() if kind == "complex_float")
    kinds = {p: "array" if p in complex_params else kind for p, kind in kinds.items()
             if p not in complex_params or p in wrt}
    # (a complex number, like a float, has no storage: z += 1 rebinds it)
    source, program, namer, res = _front(fn, {**kinds, **dict.fromkeys(complex_scalars, "float")}, step)
    kinds = {**_guess(source.node), **kinds}  # containers among the other arguments too
    # (made for the shapes of the arguments: specialised code, checked on every call)
    batched = bool(optimize and arg_shapes) and hoist.hoist_products(program, arg_shapes, namer)
    step("hoist", program)
    cplx = step("complexes", complexes.analyze(program, complex_params))
    act = step("activity", activity.analyze(program, wrt, kinds, arg_shapes, cplx.rules))
    complexes.check(program, act, cplx)
    _check_callees(program, act, cplx)
    step("callees", program)
    methods = _argument_methods(program, act)
    # an entry for each place the code depends on a known (tuple) shape, appended by the
    # stages that write one in (a literal size, the axes of a sum): then the code holds
    # for the argument shapes it was made for only
    used: list = []
    specialized = act.specialized or batched
    extra: dict = {}
    if mode == "jvp":
        tree = step("forward", forward.differentiate(program, act, wrt, namer, extra))
    else:
        out = program.body[-1].value
        seed = None  # (a real result: the seed is 1)
        if isinstance(out, ir.Var) and out.id in cplx.maybe:
            # a complex result has a gradient (f'(z)) where the function is holomorphic in
            # complex arguments, and only there
            seed = bool(set(wrt) <= complex_params and not any(t in act.active for t in cplx.breaks))
            if not seed and out.id in cplx.certain and mode in ("grad", "value_and_grad"):
                raise NonScalarOutputError(
                    "grad needs a real result, but this function's is complex; " + COMPLEX_RESULT,
                    program.body[-1].loc, hint=COMPLEX_RESULT_HINT)
        tree = step("reverse", reverse.differentiate(
            program, act, wrt, mode, namer, single, extra, functional=functional, seed_holomorphic=seed,
            real_params=frozenset(wrt) - complex_params if cplx.maybe else frozenset(),
            complex_scalars=complex_scalars, used=used))
    # the derivatives of user functions the code calls: made and linked by the API layer
    links = {alias: ref for alias, ref in extra.items() if isinstance(ref, ir.CalleeRef)}
    recipes = {alias: (ref.kind, ref.text, ref.wrt) for alias, ref in links.items()}
    if optimize:
        tree = step("spread", spread.keep_scalars(tree, act.shapes, used))
        tree = step("products", products.write_products(tree, act.shapes, used))
        tree = step("simplify", simplify.simplify(tree, _purity(source), frozenset(act.kinds)))
        float64 = {p for p, shape in (arg_shapes or {}).items()
                   if shape == "float" or isinstance(shape, tuple)}
        if not cplx.maybe:  # (it reuses float64 buffers: a complex value would not fit)
            tree = step("inplace", inplace.reuse(tree, act.shapes, float64, used))
    if mode not in ("jvp", "vjp_apply"):
        tree = step("results", results.separate_results(tree, mode))
    floats = {p for p, shape in (arg_shapes or {}).items() if shape == "float"}
    if optimize and floats and not cplx.maybe:
        # (code without float(...) holds while those arguments are Python floats)
        tree = step("floats", simplify.unwrap_floats(tree, floats, used))
    # code with a known shape (or a float64 array reused) written into it holds for
    # those argument shapes only; without argument shapes, a known shape is one written
    # in the function (np.zeros((3, 2))), true for any arguments
    specialized = specialized or bool(arg_shapes and used)
    if optimize:
        tree = step("temporaries", simplify.inline_temporaries(tree, _purity(source)))
    code = source.fn.__code__
    label = label_for(mode, program.name, source.filename, code.co_firstlineno)
    function, shown, module_code, text = compile_function(
        tree,
        helpers={**registry.TEMPLATE_GLOBALS, **extra},
        cells=source.cells,
        globals_=source.globals,
        defaults=getattr(source.fn, "__defaults__", None),
        kwdefaults=getattr(source.fn, "__kwdefaults__", None),
        label=label,
    )
    step("emit", shown)
    _check_names(tree, source, {**registry.TEMPLATE_GLOBALS, **extra})
    step("names", shown)
    roots = _roots(res)
    ret_loc = program.body[-1].loc
    RETURN_LOCATIONS[function.__code__] = ret_loc
    stored = {
        "code": module_code, "text": text, "shown": shown, "name": function.__name__,
        "recipes": recipes, "ret_loc": ret_loc, "specialized": specialized, "methods": methods,
        "roots": roots,  # (names: the disk cache adds what each is, only when it keeps them)
    }
    return Generated(function, shown, mode, wrt, guard(source.fn, roots), specialized, methods, links, stored)


def _argument_methods(program: ir.Function, act: activity.Activity) -> tuple:
    """(parameter, method, where) of each call ``param.method(...)`` on differentiated
    values: the generated code differentiates it through the method's source, found on
    the argument's class when the call runs."""
    params = {p.name for p in program.params}
    return tuple((stmt.value.args[0].id, stmt.value.fn.name, stmt.loc) for stmt in ir.walk(program.body)
                 if isinstance(stmt, ir.Assign) and stmt.target in act.active
                 and act.classes[stmt.target].kind == "method"
                 and isinstance(stmt.value.args[0], ir.Var) and stmt.value.args[0].id in params)


def _check_callees(program: ir.Function, act: activity.Activity, cplx: complexes.Complexity,
                   seen: frozenset = frozenset()) -> None:
    """A helper that a differentiated value reaches is transformed when the derivative
    runs; if srcdiff refuses it (for what it does, or for the complex values it is
    given), say so now, before anything runs."""
    for stmt in ir.walk(program.body):
        if (isinstance(stmt, ir.Assign) and stmt.target in act.active
                and act.classes[stmt.target].kind == "user"):
            callee = stmt.value.callee
            code = getattr(callee, "__code__", None)
            summarize(callee)
            if code in _REFUSED:
                raise _REFUSED[code]
            if cplx.maybe and code is not None and code not in seen \
                    and ir.generated_derivative(callee) is None:
                _check_complex_callee(stmt.value, act, cplx, seen | {code})


def _check_complex_callee(call: ir.Call, act: activity.Activity, cplx: complexes.Complexity,
                          seen: frozenset) -> None:
    """Refuse now what the helper ``call`` calls would be refused for when it runs with
    the complex values this call may give it (the complexes pass's check, on the helper)."""
    callee = call.callee
    code = callee.__code__
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    given = list(zip(names, call.args)) + [(k, a) for k, a in call.kwargs if k in names]
    complex_params = frozenset(n for n, a in given if cplx.may_be_complex(a))
    wrt = tuple(n for n, a in given if any(v in act.active for v in ir.atom_vars(a)))
    if not complex_params or not wrt:
        return
    try:
        source, inner, _, _ = _lower(callee)
    except SrcdiffError:
        return  # (reported when the helper's derivative is made)
    inner_cplx = complexes.analyze(inner, complex_params)
    inner_act = activity.analyze(inner, wrt, _guess(source.node), None, inner_cplx.rules)
    complexes.check(inner, inner_act, inner_cplx)
    _check_callees(inner, inner_act, inner_cplx, seen)


def _check_names(tree: gast.FunctionDef, source: parse.Source, helpers: dict) -> None:
    """Every name the generated code reads is defined: srcdiff never emits code that
    would fail with NameError when it runs.  (Names the user's own code reads are the
    user's: those behave as in the original function.)"""

    user = {n.id for n in walk(source.node) if isinstance(n, gast.Name)}
    known = set(helpers) | set(source.cells) | set(source.globals) | set(dir(builtins)) | user
    missing = sorted(free_loads(tree) - known)
    if missing:  # pragma: no cover - an internal error, reported rather than run
        raise SrcdiffError(
            f"internal error: the generated derivative reads undefined name(s) {missing}",
            source.loc(source.node), hint="please report this with the function's source")


def function_loc(fn: Callable) -> Loc | None:
    """Where ``fn`` is defined, for errors about how it was called."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    import linecache

    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return Loc(code.co_filename, code.co_firstlineno, 0, line.rstrip("\n"))


_ = rules  # the rules package registers every built-in rule on import
