"""activity: IR -> side tables; which values need derivatives.

A value is *varied* when it depends on a differentiated argument, *useful* when the
result depends on it, and *active* when both: only active values get adjoints.  A
statement whose result is active but which srcdiff cannot differentiate (a call with
no rule, an expression it does not look inside) is reported here, at its line.

The analysis also records each value's *kind*: ``tree`` for containers (a dict/list/
tuple argument, an entry read from one, a tuple display) whose cotangents are sparse
containers, ``array`` for everything else.

>>> import numpy as np
>>> import srcdiff.rules
>>> from srcdiff.pipeline import lower_to_ir
>>> def f(x, n):
...     k = np.argmax(x)
...     y = x * n
...     return np.sum(y) + k
>>> act = analyze(lower_to_ir(f), ("x",), {"x": "array"})
>>> sorted(act.active)
['_t0', '_t1', 'x', 'y']
"""

from __future__ import annotations

import functools
import math
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from .. import ir, runtime
from ..emit import callee_text
from ..errors import NonDifferentiableError, NoRuleError, SourceUnavailableError
from ..rules import registry
from ..rules.registry import printable_name
from . import invariance, shapes
from .parse import parse
from .resolve import MISSING

__all__ = ["Activity", "analyze", "classify", "Classified"]


@dataclass(frozen=True, eq=False)
class Classified:
    """What the reverse pass needs to know about one assignment's right-hand side."""

    kind: str  # copy | display | rule | nondiff | unknown | raw
    rule: Any = None
    bound: dict = field(default_factory=dict)  # param -> atom, for rules
    flows: tuple = ()  # names whose derivative flows to the result


def _callee_object(call: ir.Call) -> Any:
    fn = call.fn
    if isinstance(fn, (ir.Method, ir.Attr)):
        return fn
    return fn.value


def classify(value: Any, override: Any = None) -> Classified:
    """Classify an IR right-hand side by how derivatives flow through it (by the rule
    ``override`` instead of the registry's, where given: a rule for complex values)."""
    if isinstance(value, ir.Raw):
        return Classified("raw", flows=tuple(value.uses))
    if isinstance(value, (ir.Tup, ir.Lst)):
        return Classified("display", flows=tuple(ir.atom_vars(value)))
    if not isinstance(value, ir.Call):
        return Classified("copy", flows=tuple(ir.atom_vars(value)))
    obj = _callee_object(value)
    if obj is MISSING:
        return Classified("unknown", flows=tuple(ir.expr_uses(value)))
    rule = override if override is not None else registry.lookup(obj)
    if (rule is not None and value.args and isinstance(value.args[0], ir.Ref)
            and registry.receiver_refusal(value.args[0].value) is not None):
        return Classified("unknown", flows=tuple(ir.expr_uses(value)))  # np.r_[x, y]
    if rule is not None:
        bound = rule.bind(value.args, value.kwargs)
        if bound is None:
            return Classified("unbound", rule=rule, flows=tuple(ir.expr_uses(value)))
        # through every parameter not declared nondiff (the sweeps refuse a differentiated
        # one that has no template)
        flows = []
        for param in rule.params:
            atom = bound[param]
            if param not in rule.nondiff and not isinstance(atom, registry.Default):
                flows += ir.atom_vars(atom)
        return Classified("rule", rule, bound, tuple(flows))
    if registry.is_nondifferentiable(obj):
        return Classified("nondiff")
    if is_user_function(obj):
        return Classified("user", flows=tuple(ir.expr_uses(value)))
    if isinstance(obj, ir.Method) and value.args:
        # obj.method(args): the method of obj's class, found when the code runs and
        # differentiated with respect to the arguments (obj itself must not be active)
        return Classified("method", flows=tuple(ir.expr_uses(value)))
    return Classified("unknown", flows=tuple(ir.expr_uses(value)))


@functools.lru_cache(maxsize=1024)
def _returns_tuple(code: Any, fn: Callable) -> bool:

    try:
        node = parse(fn).node
    except Exception:  # no source: the call is reported elsewhere
        return False
    return any(isinstance(n, gast.Return) and isinstance(n.value, (gast.Tuple, gast.List))
               for n in gast.walk(node))


def returns_tuple(fn: Callable) -> bool:
    """Whether ``fn`` (a user function) returns a tuple or list display anywhere."""
    code = getattr(fn, "__code__", None)
    return code is not None and _returns_tuple(code, fn)


def is_user_function(obj: Any) -> bool:
    """A Python function srcdiff can differentiate by transforming its source too."""
    if ir.generated_derivative(obj) is not None:
        return True  # its generated code has source: differentiated the same way
    if not isinstance(obj, types.FunctionType) or (obj.__module__ or "").startswith("srcdiff."):
        return False
    return True


@dataclass(frozen=True, eq=False)
class Activity:
    varied: frozenset
    useful: frozenset
    active: frozenset
    kinds: dict  # name -> "array" | "float" | "tree"
    classes: dict  # target name -> Classified
    shapes: dict = field(default_factory=dict)  # name -> shape class: equal classes, equal shapes
    # whether ``shapes`` holds facts true only for the argument shapes given to analyze
    specialized: bool = False

    def same_shape(self, a: str, b: str) -> bool:
        ca, cb = self.shapes.get(a), self.shapes.get(b)
        return ca is not None and ca == cb


def _kind_of(value: Any, cls: Classified, kinds: dict, lists: set) -> str:
    if cls.kind == "display":
        return "tree"
    if cls.kind == "copy" and isinstance(value, ir.Var):
        return kinds.get(value.id, "array")
    if cls.kind == "rule" and cls.rule.tree_out:
        return "tree"
    if cls.kind == "user":
        callee = value.fn.value
        made = ir.generated_derivative(callee)
        if made is not None:
            mode, single = made
            return "tree" if mode in ("vjp_apply", "value_and_grad", "vjp", "jvp") or not single else "array"
        return "tree" if returns_tuple(callee) else "array"
    if isinstance(value, ir.Call) and value.args:
        obj = _callee_object(value)
        first = value.args[0]
        if obj in (operator.add, operator.mul) and any(
                isinstance(a, (ir.Lst, ir.Tup)) or isinstance(a, ir.Var) and a.id in lists
                for a in value.args):
            return "tree"  # xs + ys, [0.0] * n: a list (not ys[i] * x, an entry's product)
        passes_through = (obj in (operator.getitem, runtime.as_sequence, runtime.setitem)
                          or obj == ir.Method("copy"))
        if passes_through and isinstance(first, ir.Var):
            if kinds.get(first.id) == "tree":
                return "tree"
    return "array"


def _edges(fn: ir.Function, classes: dict, rules: dict) -> list:
    """(target, names its derivative depends on, statement) for every definition."""
    edges = []
    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Assign):
            cls = classify(stmt.value, rules.get(stmt.target))
            classes[stmt.target] = cls
            edges.append((stmt.target, tuple(cls.flows), stmt))
        elif isinstance(stmt, (ir.If, ir.Loop)):
            for phi in stmt.phis:
                sources = tuple(n for s in phi.sources for n in ir.atom_vars(s))
                edges.append((phi.target, sources, phi))
            if isinstance(stmt, ir.Loop):
                edges += [(x, (h,), None) for x, h in stmt.exits]
    return edges


def analyze(fn: ir.Function, wrt: tuple, param_kinds: dict, arg_shapes: dict | None = None,
            rules: dict | None = None) -> Activity:
    """Compute varied/useful/active names and kinds for ``fn`` differentiated in ``wrt``;
    with ``arg_shapes`` (parameter -> shape, or ``"float"``), shape classes for those
    argument shapes.  ``rules``: target -> the rule its statement is differentiated by,
    where not the registry's (the complexes pass's rules for complex values)."""
    classes: dict[str, Classified] = {}
    edges = _edges(fn, classes, rules or {})
    kinds = {p.name: param_kinds.get(p.name, "array") for p in fn.params}
    lists = _lists(fn)

    varied = set(wrt)
    changed = True
    while changed:  # loops feed values back: iterate to a fixed point
        changed = False
        for target, sources, stmt in edges:
            if target not in varied and any(n in varied for n in sources):
                varied.add(target)
                changed = True
            if isinstance(stmt, ir.Assign):
                kind = _kind_of(stmt.value, classes[target], kinds, lists)
            else:
                kind = "tree" if any(kinds.get(n) == "tree" for n in sources) else "array"
            if kinds.get(target) != kind and kinds.get(target) != "tree":
                kinds[target] = kind
                changed = True

    ret = fn.body[-1]
    useful = set(ir.atom_vars(ret.value))
    changed = True
    while changed:
        changed = False
        for target, sources, _ in reversed(edges):
            if target in useful:
                new = set(sources) - useful
                if new:
                    useful |= new
                    changed = True
    # a max that only shifts a logsumexp or softmax changes no result: a constant
    active = varied & useful - invariance.shift_invariant(fn)

    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Assign) and stmt.target in active:
            _check_differentiable(stmt, classes[stmt.target], active)
            if stmt.target in lists and isinstance(stmt.value, ir.Call) \
                    and stmt.value.callee in (operator.add, operator.mul):
                raise NonDifferentiableError(
                    "srcdiff does not differentiate joining or repeating lists (xs + ys, xs * n) "
                    "that hold differentiated values", stmt.loc,
                    hint="build the list with append in a loop, or join arrays with np.concatenate "
                    "or np.tile")
    classes_of_shapes = shape_classes(fn, kinds)
    specialized = False
    if arg_shapes:
        special = shape_classes(fn, kinds, arg_shapes)
        specialized = _merges(special, classes_of_shapes)
        classes_of_shapes = special
    return Activity(frozenset(varied), frozenset(useful), frozenset(active), kinds, classes,
                    classes_of_shapes, specialized)


# Calls whose result is a list when their first argument is one (appends, entries
# assigned, and the list methods desugar spells as new values: lst.extend(more), ...).
_LIST_VALUES = (runtime.list_append, runtime.setitem, runtime.list_extend, runtime.list_reversed,
                runtime.list_insert, runtime.sort_value, runtime.cleared)


def _lists(fn: ir.Function) -> set:
    """Names certainly holding a list or tuple: displays, appends, entries assigned, and
    lists joined or repeated (``xs + ys``, ``[0.0] * n``)."""
    lists: set = set()

    def listy(atom: Any) -> bool:
        return isinstance(atom, (ir.Lst, ir.Tup)) or isinstance(atom, ir.Var) and atom.id in lists

    for _ in range(2):  # (a loop's join reads a list made further down its body)
        for stmt in ir.walk(fn.body):
            if isinstance(stmt, ir.Assign):
                value = stmt.value
                if isinstance(value, (ir.Lst, ir.Tup)) or isinstance(value, ir.Var) and listy(value):
                    lists.add(stmt.target)
                elif isinstance(value, ir.Call) and value.args:
                    callee = value.callee
                    if (callee in _LIST_VALUES and listy(value.args[0])
                            or callee is operator.getitem and listy(value.args[0])
                            and isinstance(value.args[1], ir.Slc)  # lst[::-1], lst[1:]
                            or callee in (operator.add, operator.mul) and any(map(listy, value.args))):
                        lists.add(stmt.target)
            elif isinstance(stmt, (ir.If, ir.Loop)):
                lists.update(phi.target for phi in stmt.phis if any(map(listy, phi.sources)))
                lists.update(x for x, h in getattr(stmt, "exits", ()) if h in lists)
    return lists


def _merges(special: dict, generic: dict) -> bool:
    """Whether ``special`` puts in one class values ``generic`` does not (or knows a
    scalar ``generic`` does not): code made from it then holds for those shapes only."""
    seen: dict = {}
    for name, cls in special.items():
        other = generic.get(name)
        if cls == SCALAR and other != SCALAR or seen.setdefault(cls, other) != other:
            return True
    return False


_ELEMENTWISE = {operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
                operator.mod, operator.neg, operator.pos, abs,
                # comparisons: not differentiable, but their result has the broadcast shape
                operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne}
# Reductions whose result is a scalar when called without axis or keepdims.
_FULL_REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std}
SCALAR = 0  # the shape class of Python floats and numeric literals


def elementwise(obj: Any) -> bool:
    try:
        if obj in _ELEMENTWISE:
            return True
    except TypeError:
        return False
    if isinstance(obj, np.ufunc):
        return obj is not np.matmul and obj.nout == 1
    return getattr(obj, "__module__", None) == "math" or getattr(obj, "__self__", None) is math


def _scalar_result(call: ir.Call) -> bool:
    """Whether a call certainly returns a scalar: math functions, float(), and full
    reductions (no axis, no keepdims)."""
    obj = call.callee
    if obj is float or getattr(obj, "__module__", None) == "math":
        return True
    try:
        full = obj in _FULL_REDUCTIONS
    except TypeError:
        return False
    return full and len(call.args) == 1 and all(
        k == "axis" and isinstance(a, ir.Const) and a.value is None for k, a in call.kwargs)


def shape_classes(fn: ir.Function, kinds: dict, arg_shapes: dict | None = None) -> dict:
    """Which values certainly have the same shape (side table name -> class).

    Elementwise operations keep the shape of their array operands when those share a
    class (a number, literal or global, never changes a shape); copies and joins of
    one class keep it.  Everything else gets a class of its own, unless its shape is
    known: with ``arg_shapes`` (parameter -> shape tuple, or ``"float"``) the class of
    a value whose shape follows from the parameters' is that shape tuple
    (:mod:`.shapes`).  The reverse pass drops ``unbroadcast`` where an argument's
    class is the result's.
    """
    arg_shapes = arg_shapes or {}
    split: set = set()  # loop headers whose class turned out to differ from their init
    while True:
        counter = iter(range(1, 1 << 62))
        classes: dict[str, Any] = {}
        ints: set = set()  # loop counters (desugar makes every for loop one over a range)
        sizes: set = set()  # names holding an array's shape (a tuple of ints)

        def of(atom: Any, classes: dict = classes) -> Any:
            if isinstance(atom, ir.Var):
                return classes.get(atom.id)
            if isinstance(atom, (ir.Const, ir.Ref)) and shapes.is_number(atom.value):
                return SCALAR
            return None

        def shape_of(atom: Any) -> tuple | None:
            cls = of(atom)
            return () if cls == SCALAR else cls if isinstance(cls, tuple) else None

        for p in fn.params:
            given = arg_shapes.get(p.name)
            if kinds.get(p.name) == "float" or given == "float":
                classes[p.name] = SCALAR
            else:
                classes[p.name] = given if isinstance(given, tuple) else next(counter)
        loops = []
        for stmt in ir.walk(fn.body):
            if isinstance(stmt, ir.Assign):
                classes[stmt.target] = _class(stmt.value, of, shape_of, ints, sizes)
                if classes[stmt.target] is None:
                    classes[stmt.target] = next(counter)
                if isinstance(stmt.value, ir.Call) and (stmt.value.callee is np.shape
                                                        or stmt.value.callee == ir.Attr("shape")):
                    sizes.add(stmt.target)
            elif isinstance(stmt, ir.If):
                for phi in stmt.phis:
                    a, b = (of(src) for src in phi.sources)
                    classes[phi.target] = a if a is not None and a == b else next(counter)
            elif isinstance(stmt, ir.Loop):
                loops.append(stmt)
                for phi in stmt.phis:
                    init = of(phi.sources[0])
                    fresh = phi.target in split or init is None
                    classes[phi.target] = next(counter) if fresh else init
                for x, h in stmt.exits:
                    classes[x] = classes[h]
                if stmt.target:  # an int: desugar makes every for loop one over a range
                    classes[stmt.target] = SCALAR
                    ints.add(stmt.target)
        wrong = {phi.target for loop in loops for phi in loop.phis
                 if phi.target not in split and of(phi.sources[1]) != classes[phi.target]}
        if not wrong:
            return classes
        split |= wrong


_COUNTS = {len, np.size, np.ndim, int}


def _counts(call: ir.Call, sizes: set) -> bool:
    """Whether a call certainly returns a Python int: ``len(x)``, ``x.size``,
    ``x.shape[0]``."""
    callee = call.callee
    if isinstance(callee, ir.Attr):
        return callee.name in ("size", "ndim")
    if callee is operator.getitem:
        base, index = call.args
        return (isinstance(base, ir.Var) and base.id in sizes and isinstance(index, ir.Const)
                and isinstance(index.value, int))
    try:
        return callee in _COUNTS and len(call.args) == 1 and not call.kwargs
    except TypeError:
        return False


def _class(value: Any, of: Any, shape_of: Any, ints: set, sizes: set) -> Any:
    """The shape class of an assignment's value (None: a class of its own)."""
    if isinstance(value, ir.Var):
        return of(value)
    if not isinstance(value, ir.Call):
        return None
    if _scalar_result(value):
        return SCALAR
    callee = value.callee
    if _counts(value, sizes):
        return SCALAR
    if elementwise(callee) and not value.kwargs:
        found = {of(a) for a in value.args if not isinstance(a, ir.Const)}
        if not found or found == {SCALAR}:
            return SCALAR
        found.discard(SCALAR)  # a number never changes a shape
        if len(found) == 1 and None not in found:
            return found.pop()
        if all(c == SCALAR or isinstance(c, tuple) for c in found):
            return shapes.broadcast([shape_of(a) for a in value.args])
        return None
    known = shapes.result_shape(value, shape_of, ints)
    if known is not None:
        return known
    try:
        like = callee in shapes.LIKE or callee == ir.Method("copy")
    except TypeError:
        return None
    return of(value.args[0]) if like and len(value.args) == 1 and not value.kwargs else None


def _check_differentiable(stmt: ir.Assign, cls: Classified, active: set) -> None:

    which = [n for n in cls.flows if n in active]
    if cls.kind == "user":

        callee = stmt.value.fn.value
        if ir.generated_derivative(callee) is not None:
            return
        try:
            parse(callee)
        except SourceUnavailableError as exc:
            name = getattr(callee, "__qualname__", "the function")
            params = _parameters(callee)
            raise NoRuleError(
                f"cannot differentiate the call to {name}: its source is not available "
                f"({exc.message})",
                stmt.loc,
                hint=f'define it in a file, or register a rule: srcdiff.register_adjoint({name}, '
                f'"{getattr(callee, "__name__", "f")}({", ".join(params)})", '
                f'{params[0]}="<cotangent of {params[0]} in terms of g, out and the arguments>")',
            ) from exc
        return
    if cls.kind == "method":
        receiver = stmt.value.args[0]
        if not any(n in active for n in ir.atom_vars(receiver)):
            return  # differentiated through the method's source, found at run time
        cls = Classified("unknown", flows=cls.flows)
    if cls.kind == "raw":
        import ast

        import gast

        node = stmt.value.node
        what = type(node).__name__
        text = ast.unparse(gast.gast_to_ast(node))
        hint = _RAW_HINTS.get(what, "rewrite it with plain assignments and NumPy calls")
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Call):
            inner = ast.unparse(gast.gast_to_ast(node.func))
            hint = (f"make the function once, outside (at module level): d = {inner}, and call "
                    "d(...) here; srcdiff differentiates a call of a function it can name")
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            hint = (f"{node.func.id} is a local variable or a parameter holding a function, which "
                    "srcdiff cannot know before the call: define the function at module level (or in "
                    "the enclosing function) and call it by its name")
        raise NonDifferentiableError(
            f"srcdiff cannot differentiate through this expression ({what}: {text}), "
            f"which reads the differentiated value {which[0]!r}",
            stmt.loc,
            hint=hint,
        )
    if cls.kind in ("unknown", "unbound"):
        call = stmt.value
        obj = _callee_object(call)
        text = callee_text(call.fn)
        if cls.kind == "unbound":
            raise NoRuleError(
                f"the derivative rule of {text} does not accept these arguments "
                f"(rule signature: {cls.rule.name}{_sig(cls.rule)})",
                stmt.loc,
                hint="pass the arguments the rule's signature names",
            )
        if obj is MISSING:
            raise NoRuleError(f"{text} is not defined", stmt.loc,
                              hint="define it before calling the derivative")
        receiver = call.args[0] if call.args and isinstance(call.args[0], ir.Ref) else None
        refused = registry.refusal(obj) or (receiver and registry.receiver_refusal(receiver.value))
        if refused:
            what = f"{receiver.text}[...]" if receiver and not registry.refusal(obj) else text
            raise NonDifferentiableError(
                f"srcdiff does not differentiate {what}, which reads the differentiated value "
                f"{(which or ['?'])[0]!r}", stmt.loc, hint=refused)
        if isinstance(obj, ir.Method):
            raise NoRuleError(
                f"no derivative rule for the method {text}() on a differentiated value",
                stmt.loc,
                hint=f'register one: srcdiff.register_adjoint(srcdiff.Method("{obj.name}"), '
                f'"{obj.name}(self)", self="<cotangent of self in terms of g, out and self>")',
            )
        if isinstance(obj, ir.Attr):
            raise NoRuleError(
                f"no derivative rule for reading the attribute {text} of a differentiated value",
                stmt.loc,
                hint="read array data with indexing or NumPy functions",
            )
        name = printable_name(obj)
        params = _parameters(obj)
        call = f"{getattr(obj, '__name__', 'f')}({', '.join(params)})"
        templates = ", ".join(f'{p}="<cotangent of {p} in terms of g, out, {", ".join(params)}>"'
                              for p in params[:2])
        raise NoRuleError(
            f"no derivative rule for {name}, called on a differentiated value",
            stmt.loc,
            hint=f'register one: srcdiff.register_adjoint({name}, "{call}", {templates}), '
            f"or mark it with srcdiff.nondifferentiable({name}) if its result carries no gradient",
        )


def _parameters(obj: Any) -> list[str]:
    import inspect

    try:
        params = [p.name for p in inspect.signature(obj).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return params or ["x"]


def _sig(rule: Any) -> str:
    parts = [p if p not in rule.defaults else f"{p}={rule.defaults[p]!r}" for p in rule.params]
    return "(" + ", ".join(parts) + ")"


_RAW_HINTS = {
    "ListComp": "build the list with np.stack/np.array over array operations, or vectorise",
    "GeneratorExp": "use np.sum over an array expression instead of a generator",
    "IfExp": "use np.where(cond, a, b) to select between values",
    "BoolOp": "combine conditions with np.logical_and/np.logical_or, or use np.where",
    "Lambda": "define the function at module level",
    "Dict": "pass the values separately or return them as a tuple",
    "DictComp": "pass the values separately or return them as a tuple",
}
