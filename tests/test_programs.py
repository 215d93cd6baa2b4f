"""Whole random programs: srcdiff's gradients against central finite differences.

Hypothesis draws well-formed Python/NumPy functions -- float and float-array parameters
(1-D and 2-D), and container parameters: a dict ``params`` of arrays and a list or tuple
``layers``; statements that assign fresh or existing names (so SSA renaming matters),
tuple unpacking, augmented assignment and assignment into entries (``a[1:] = e``,
``a[i] += e``, after ``a = np.zeros(...)`` or a copy); element-wise functions,
reductions with ``axis=``/``keepdims=``, transposes and indexing; matrix products
(``a @ b``, ``np.dot``, ``a.T @ b``), ``np.stack``/``np.concatenate``, ReLU and leaky
ReLU, softmax and log-sum-exp; ``if``/``else`` on a reduced value against a constant;
``for i in range(N)``, ``for layer in layers``, ``for row in x`` and counted ``while``
loops whose bodies carry values from one pass to the next and may ``break`` or
``continue``, or build a list with ``.append`` that is stacked after the loop; and calls
of a module-level helper function -- writes each as source text, and checks
``srcdiff.grad`` with respect to every parameter against
:func:`srcdiff.testing.numerical_grad` (entry by entry for a container, whose gradient
must be a container of the same structure), ``value_and_grad``'s value against the
plain call, and ``srcdiff.jvp`` (forward mode) against the reverse-mode gradient.

A program is a small tree of expression and statement objects that can both print
themselves as source and evaluate themselves.  Evaluating does three jobs: it gives
the generator the shape (and aliasing) of every value it can build on, so every
program it writes is valid; it measures how close the arguments are to a kink
(a tie in ``np.maximum``/``np.where``/``np.max``, or a branch or loop exit condition
at its threshold), so the check skips points where the function is not
differentiable; and it cross-checks the generator against Python running the written
source.

New kinds of statement are added to :data:`STATEMENTS`: each is a builder method
drawing one statement object with ``lines()`` and ``execute()``; :class:`Builder` says
what a branch or loop body must respect so that every path stays valid.

``SRCDIFF_FUZZ_EXAMPLES`` sets how many programs the fuzz test draws (``make fuzz``
asks for 2000).  A failing program is printed in full, with its arguments.
"""

from __future__ import annotations

import copy
import math
import operator
import os
import traceback
from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import (
    HealthCheck,
    Phase,
    assume,
    currently_in_test_context,
    event,
    given,
    note,
    reject,
    settings,
)
from hypothesis import strategies as st

import srcdiff
from srcdiff.rules import registry
from srcdiff.testing import numerical_grad

from . import fuzz_grammar
from .conftest import make_function
from .fuzz_grammar import RNG_SEED, Snippet

FUZZ_EXAMPLES = int(os.environ.get("SRCDIFF_FUZZ_EXAMPLES", "40"))
# The construct families of fuzz_grammar.py the fuzz test mixes in: "all", "" (none) or names,
# comma-separated ("views,inplace"); SRCDIFF_FUZZ_FAMILIES overrides it for a campaign.
DEFAULT_FAMILIES = "all"
FAMILIES = fuzz_grammar.parse_families(os.environ.get("SRCDIFF_FUZZ_FAMILIES", DEFAULT_FAMILIES))
# One program in HESSIAN_EVERY also has its Hessian and Jacobian checked (SRCDIFF_FUZZ_HESSIAN_EVERY).
HESSIAN_EVERY = int(os.environ.get("SRCDIFF_FUZZ_HESSIAN_EVERY", "4"))
RTOL, ATOL = 1e-4, 1e-6
MIN_GAP = 1e-3  # how far every kink (tie) must be from the evaluation point
MAX_MAGNITUDE = 1e3  # larger intermediate values make finite differences unreliable

PARAM_NAMES = ("x", "y", "z", "w")
LOCAL_NAMES = ("a", "b", "c", "d", "e", "h", "k", "m")
PARAM_SHAPES = ((), (3,), (2, 3), (2, 1), (1, 3), (3, 3), (3, 2))
MAX_STATEMENTS = 14  # keeps programs with loops and branches quick to transform


# ---------------------------------------------------------------- expressions


class Trace:
    """What evaluating a program saw: the closest kink and the largest value."""

    def __init__(self) -> None:
        self.gap = math.inf
        self.magnitude = 0.0

    def kink(self, distance: Any) -> None:
        if np.size(distance):
            self.gap = min(self.gap, float(np.min(distance)))

    def value(self, value: Any) -> None:
        if isinstance(value, (dict, list, tuple)):  # a container: its entries are traced
            return
        if np.size(value):
            self.magnitude = max(self.magnitude, float(np.max(np.abs(value))))


_NAMESPACE = {"np": np, "math": math}


class Expr:
    """An expression: prints itself as source and evaluates itself."""

    def source(self) -> str:
        raise NotImplementedError

    def compute(self, env: dict, trace: Trace) -> Any:
        raise NotImplementedError

    def evaluate(self, env: dict, trace: Trace) -> Any:
        value = self.compute(env, trace)
        trace.value(value)
        return value


@dataclass(frozen=True, eq=False)
class Name(Expr):
    id: str

    def source(self) -> str:
        return self.id

    def compute(self, env: dict, trace: Trace) -> Any:
        return env[self.id]


@dataclass(frozen=True, eq=False)
class Const(Expr):
    value: float | int

    def source(self) -> str:
        return repr(self.value)

    def compute(self, env: dict, trace: Trace) -> Any:
        return self.value


BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "**": operator.pow, "@": operator.matmul}


@dataclass(frozen=True, eq=False)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr

    def source(self) -> str:
        return f"({self.left.source()} {self.op} {self.right.source()})"

    def compute(self, env: dict, trace: Trace) -> Any:
        return BINARY[self.op](self.left.evaluate(env, trace), self.right.evaluate(env, trace))


@dataclass(frozen=True, eq=False)
class Neg(Expr):
    operand: Expr

    def source(self) -> str:
        return f"(-{self.operand.source()})"

    def compute(self, env: dict, trace: Trace) -> Any:
        return -self.operand.evaluate(env, trace)


def _extreme_gap(a: Any, axis: Any, largest: bool) -> float:
    """Distance between the extreme and the runner-up in every reduced slice."""
    a = np.asarray(a, dtype=np.float64)
    if axis is None:
        a, axis = a.reshape(-1), 0
    if a.ndim == 0 or a.shape[axis] < 2:
        return math.inf
    s = np.sort(a, axis=axis)
    if largest:
        return float(np.min(np.take(s, -1, axis) - np.take(s, -2, axis)))
    return float(np.min(np.take(s, 1, axis) - np.take(s, 0, axis)))


@dataclass(frozen=True, eq=False)
class Call(Expr):
    """``func(*args, **kwargs)``; ``method=True`` writes ``args[0].func(...)`` instead.

    ``kink`` says where the function is not differentiable: ``"pair"`` where its two
    arguments tie (maximum, minimum), ``"max"``/``"min"`` where a reduction's extreme
    ties with the runner-up.
    """

    func: str
    args: tuple
    kwargs: tuple = ()  # (name, Python value) pairs
    method: bool = False
    kink: str | None = None

    def source(self) -> str:
        kwargs = [f"{k}={v!r}" for k, v in self.kwargs]
        if self.method:
            receiver, *rest = self.args
            inner = ", ".join([a.source() for a in rest] + kwargs)
            return f"{receiver.source()}.{self.func}({inner})"
        inner = ", ".join([a.source() for a in self.args] + kwargs)
        return f"{self.func}({inner})"

    def compute(self, env: dict, trace: Trace) -> Any:
        args = [a.evaluate(env, trace) for a in self.args]
        kwargs = dict(self.kwargs)
        if self.kink == "pair":
            trace.kink(np.abs(args[0] - args[1]))
        elif self.kink in ("max", "min"):
            trace.kink(_extreme_gap(args[0], kwargs.get("axis"), self.kink == "max"))
        if self.method:
            return getattr(args[0], self.func)(*args[1:], **kwargs)
        return eval(self.func, _NAMESPACE)(*args, **kwargs)


@dataclass(frozen=True, eq=False)
class Where(Expr):
    """``np.where(left > right, x, y)``: a kink where ``left`` and ``right`` tie."""

    left: Expr
    right: Expr
    x: Expr
    y: Expr

    def source(self) -> str:
        return (f"np.where({self.left.source()} > {self.right.source()}, "
                f"{self.x.source()}, {self.y.source()})")

    def compute(self, env: dict, trace: Trace) -> Any:
        left, right = self.left.evaluate(env, trace), self.right.evaluate(env, trace)
        trace.kink(np.abs(left - right))
        return np.where(left > right, self.x.evaluate(env, trace), self.y.evaluate(env, trace))


@dataclass(frozen=True, eq=False)
class Transpose(Expr):
    operand: Expr

    def source(self) -> str:
        return f"{self.operand.source()}.T"

    def compute(self, env: dict, trace: Trace) -> Any:
        return self.operand.evaluate(env, trace).T


@dataclass(frozen=True, eq=False)
class Index(Expr):
    operand: Expr
    index: str  # source text of the subscript, e.g. "1:" or ":, ::-1"

    def source(self) -> str:
        return f"{self.operand.source()}[{self.index}]"

    def compute(self, env: dict, trace: Trace) -> Any:
        # env as locals: the subscript may read a loop's counter, x[i]
        return eval(f"_v[{self.index}]", {"_v": self.operand.evaluate(env, trace)}, env)


@dataclass(frozen=True, eq=False)
class ListOf(Expr):
    """``[e1, e2]`` (or ``[]``): a list display, for np.stack and np.concatenate."""

    items: tuple

    def source(self) -> str:
        return f"[{', '.join(item.source() for item in self.items)}]"

    def compute(self, env: dict, trace: Trace) -> Any:
        return [item.evaluate(env, trace) for item in self.items]


@dataclass(frozen=True, eq=False)
class Compare(Expr):
    """``left > threshold``: a branch condition.  Where ``left`` ties with the threshold
    the program jumps, so the distance between them is a kink."""

    left: Expr
    op: str
    threshold: float

    def source(self) -> str:
        return f"{self.left.source()} {self.op} {self.threshold!r}"

    def compute(self, env: dict, trace: Trace) -> Any:
        left = self.left.evaluate(env, trace)
        trace.kink(np.abs(left - self.threshold))
        return bool(left > self.threshold) if self.op == ">" else bool(left < self.threshold)


@dataclass(frozen=True, eq=False)
class HelperCall(Expr):
    """``helper(a, b)``: a call of the program's module-level helper function."""

    helper: Program
    args: tuple

    def source(self) -> str:
        return f"{self.helper.name}({', '.join(a.source() for a in self.args)})"

    def compute(self, env: dict, trace: Trace) -> Any:
        args = tuple(a.evaluate(env, trace) for a in self.args)
        return self.helper.run(args, trace)[0]


# ----------------------------------------------------------------- statements


class Stmt:
    """A statement: prints itself as lines of source and executes itself on ``env``."""

    def lines(self) -> list[str]:
        raise NotImplementedError

    def execute(self, env: dict, trace: Trace) -> None:
        raise NotImplementedError


def _indented(block: tuple) -> list[str]:
    return ["    " + line for stmt in block for line in stmt.lines()]


def _execute(block: tuple, env: dict, trace: Trace) -> None:
    for stmt in block:
        stmt.execute(env, trace)


@dataclass(frozen=True, eq=False)
class Assign(Stmt):
    """``a = e`` or, with several targets, ``a, b = e1, e2``."""

    targets: tuple
    values: tuple

    def lines(self) -> list[str]:
        lhs = ", ".join(self.targets)
        rhs = ", ".join(v.source() for v in self.values)
        return [f"{lhs} = {rhs}"]

    def execute(self, env: dict, trace: Trace) -> None:
        results = [v.evaluate(env, trace) for v in self.values]
        env.update(zip(self.targets, results))


@dataclass(frozen=True, eq=False)
class AugAssign(Stmt):
    """``a += e``.  The generator only writes it where no other name shares ``a``'s
    memory and ``e`` broadcasts to ``a``'s shape, so in-place and out-of-place agree."""

    target: str
    op: str
    value: Expr

    def lines(self) -> list[str]:
        return [f"{self.target} {self.op}= {self.value.source()}"]

    def execute(self, env: dict, trace: Trace) -> None:
        current = env[self.target]
        result = BINARY[self.op](current, self.value.evaluate(env, trace))
        if isinstance(current, np.ndarray):  # in place: an array (0-d too) keeps its shape
            result = np.array(np.broadcast_to(result, current.shape), dtype=current.dtype)
        env[self.target] = result
        trace.value(env[self.target])


@dataclass(frozen=True, eq=False)
class SetItem(Stmt):
    """``a[1:] = e`` or ``a[i] += e``.  Written, like ``a += e``, only where no other name
    (nor a list entry) shares ``a``'s memory, with ``e`` broadcasting to the entries' shape."""

    target: str
    index: str
    value: Expr
    op: str = ""  # "" for plain assignment, or one of BINARY's operators

    def lines(self) -> list[str]:
        return [f"{self.target}[{self.index}] {self.op}= {self.value.source()}"]

    def execute(self, env: dict, trace: Trace) -> None:
        value = self.value.evaluate(env, trace)
        exec(f"_v[{self.index}] {self.op}= _x", {"_v": env[self.target], "_x": value}, env)
        trace.value(env[self.target])


@dataclass(frozen=True, eq=False)
class Append(Stmt):
    """``hs.append(e)``: the list ``hs`` is built in a loop and stacked after it."""

    target: str
    value: Expr

    def lines(self) -> list[str]:
        return [f"{self.target}.append({self.value.source()})"]

    def execute(self, env: dict, trace: Trace) -> None:
        env[self.target].append(self.value.evaluate(env, trace))


@dataclass(frozen=True, eq=False)
class Seq(Stmt):
    """Statements drawn together: ``a = np.zeros(3)`` then ``a[0] = e``, or ``hs = []``,
    a loop appending to ``hs``, and ``s = np.stack(hs)``."""

    body: tuple

    def lines(self) -> list[str]:
        return [line for stmt in self.body for line in stmt.lines()]

    def execute(self, env: dict, trace: Trace) -> None:
        _execute(self.body, env, trace)


@dataclass(frozen=True, eq=False)
class If(Stmt):
    cond: Compare
    body: tuple
    orelse: tuple = ()

    def lines(self) -> list[str]:
        lines = [f"if {self.cond.source()}:", *_indented(self.body)]
        return lines + (["else:", *_indented(self.orelse)] if self.orelse else [])

    def execute(self, env: dict, trace: Trace) -> None:
        _execute(self.body if self.cond.evaluate(env, trace) else self.orelse, env, trace)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass(frozen=True, eq=False)
class Jump(Stmt):
    """``break`` or ``continue``; executing it raises, and the enclosing loop catches."""

    kind: str

    def lines(self) -> list[str]:
        return [self.kind]

    def execute(self, env: dict, trace: Trace) -> None:
        raise _Break() if self.kind == "break" else _Continue()


def _iterate(body: tuple, env: dict, trace: Trace) -> bool:
    """One pass through a loop body; False after a ``break``."""
    try:
        _execute(body, env, trace)
    except _Continue:
        pass
    except _Break:
        return False
    return True


@dataclass(frozen=True, eq=False)
class For(Stmt):
    """``for i in range(count):``; the body may read ``i`` (an int).  With ``iterable``,
    ``for layer in layers:`` over a list parameter or ``for row in x:`` over an array's
    rows instead."""

    var: str
    count: int
    body: tuple
    iterable: str | None = None

    def lines(self) -> list[str]:
        items = self.iterable or f"range({self.count})"
        return [f"for {self.var} in {items}:", *_indented(self.body)]

    def execute(self, env: dict, trace: Trace) -> None:
        for item in (env[self.iterable] if self.iterable else range(self.count)):
            env[self.var] = item
            if not _iterate(self.body, env, trace):
                break


@dataclass(frozen=True, eq=False)
class While(Stmt):
    """``n = 0`` then ``while n < count:`` with ``n += 1`` first or last in the body
    (first whenever the body may ``continue``, or the loop would never end)."""

    counter: str
    count: int
    body: tuple
    step_first: bool

    def lines(self) -> list[str]:
        step = [f"    {self.counter} += 1"]
        body = _indented(self.body)
        return [f"{self.counter} = 0", f"while {self.counter} < {self.count}:",
                *(step + body if self.step_first else body + step)]

    def execute(self, env: dict, trace: Trace) -> None:
        env[self.counter] = 0
        while env[self.counter] < self.count:
            if self.step_first:
                env[self.counter] += 1
            if not _iterate(self.body, env, trace):
                break
            if not self.step_first:
                env[self.counter] += 1


@dataclass(frozen=True)
class Container:
    """A parameter that holds arrays: a dict (``params["w"]``), a list or a tuple
    (``layers[0]``, ``for layer in layers:``).  Its gradient has the same structure."""

    kind: str  # "dict", "list" or "tuple"
    keys: tuple  # the dict's keys; 0, 1, ... for a list or tuple
    shapes: tuple  # of the leaves, in order; () is a Python float

    def build(self, leaves: list) -> Any:
        if self.kind == "dict":
            return dict(zip(self.keys, leaves))
        return list(leaves) if self.kind == "list" else tuple(leaves)

    def entry(self, name: str, key: Any) -> Index:
        return Index(Name(name), f'"{key}"' if self.kind == "dict" else str(key))


@dataclass(frozen=True, eq=False)
class Program:
    params: tuple  # ((name, shape or Container), ...); shape () is a Python float
    body: tuple
    result: Expr
    name: str = "f"
    helper: Program | None = None  # a module-level function that ``body`` calls
    rng: bool = False  # the function takes a NumPy Generator ``rng`` last (passed by keyword)

    @property
    def source(self) -> str:
        lines = [*self.helper.source.splitlines(), "", ""] if self.helper else []
        defs = dict(d for stmt in self.body for node in _walk(stmt) if isinstance(node, Snippet)
                    for d in node.defs)
        for text in defs.values():
            lines += [*text.splitlines(), "", ""]
        names = [name for name, _ in self.params] + (["rng"] if self.rng else [])
        lines.append(f"def {self.name}({', '.join(names)}):")
        lines += _indented(self.body)
        lines.append(f"    return {self.result.source()}")
        return "\n".join(lines) + "\n"

    def run(self, args: tuple, trace: Trace | None = None, extra: dict | None = None) -> tuple[Any, Trace]:
        trace = Trace() if trace is None else trace
        env = {name: value for (name, _), value in zip(self.params, args)}
        env.update(extra or {})
        if self.helper is not None:  # for snippets, which run as source
            env[self.helper.name] = lambda *a: self.helper.run(a, trace)[0]
        _execute(self.body, env, trace)
        return self.result.evaluate(env, trace), trace

    def __repr__(self) -> str:
        return "Program(\n" + self.source + ")"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how Hypothesis prints it
        printer.text(repr(self))


# ------------------------------------------------------------------ generator


def _broadcasts(*shapes: tuple) -> bool:
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    return True


def _dummy(spec: Any) -> Any:
    if isinstance(spec, Container):
        return spec.build([_dummy(shape) for shape in spec.shapes])
    return 0.5 if spec == () else np.linspace(0.3, 0.7, math.prod(spec)).reshape(spec)


def _leaves_of(value: Any) -> list:
    """The arrays and floats inside a parameter's value (itself, unless a container)."""
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _roots(expr: Expr) -> set:
    """The names whose memory ``expr``'s value may share (a name, a view of one, or what
    a helper returns, which may be one of its arguments)."""
    if isinstance(expr, Name):
        return {expr.id}
    if isinstance(expr, (Transpose, Index)):
        return _roots(expr.operand)
    if isinstance(expr, HelperCall):
        return set().union(*map(_roots, expr.args))
    return set()


@dataclass
class Loop:
    """What the builder knows about a loop whose body it is drawing."""

    can_continue: bool
    var: str = ""  # the loop variable or counter
    last: int | None = None  # the largest value an int ``var`` takes in the body
    can_jump: bool = True  # False where the body ends with an append every pass must reach
    jumped: bool = False  # a break or continue is drawn already: what follows may not run
    after_jump: set = field(default_factory=set)  # names assigned after one
    disowned: set = field(default_factory=set)  # names that lose sole ownership in the body
    updated: set = field(default_factory=set)  # names updated in place in the body


class Builder:
    """Draws one program, statement by statement, knowing every value's shape.

    A branch or loop body is drawn as if it ran once, in order, on the values before it.
    So that this is enough to know every shape on every path: inside a branch or loop,
    every name that existed before it keeps its shape (:attr:`pinned`); after a branch,
    names that only one side defines (or the sides define with different shapes) are
    forgotten, and so are names that a loop assigns only after a ``break``/``continue``.

    ``a += e`` and ``a[i] = e`` work in place, so they are only written where no other
    name can share ``a``'s memory on any path: :attr:`owned` holds the names whose value
    was made fresh (not a name, view or helper result) on every path, and inside a loop
    no name updated in place may later become shared (nor be appended to a list).
    Before the first branch or loop, the stand-in values' memory tells exactly, as in
    straight-line code.

    Container parameters live apart from :attr:`env` (in :attr:`containers`), since only
    their entries are values; so do the lists a loop appends to (:attr:`lists`).
    """

    def __init__(self, draw: Callable, params: tuple, helper: Program | None = None,
                 is_helper: bool = False, families: tuple = (), rng_mode: str = "global"):
        self.draw = draw
        self.families = () if is_helper else families  # of fuzz_grammar's snippets
        self.rng_mode = rng_mode  # "global" (NumPy's state) or "generator" (an ``rng`` argument)
        self.snippets = 0
        self.params = params
        self.helper = helper  # the helper the program may call
        self.max_depth = 1 if is_helper else 2  # of nested branches and loops
        values = [_dummy(spec) for _, spec in params]
        self.originals = [leaf for value in values for leaf in _leaves_of(value)]
        self.env = {name: value for (name, spec), value in zip(params, values)
                    if not isinstance(spec, Container)}
        self.containers = {name: value for (name, spec), value in zip(params, values)
                           if isinstance(spec, Container)}
        self.arguments = {name: value for (name, _), value in zip(params, values)}
        self.lists: dict = {}  # list name -> stand-in list, as the loop that built it left it
        if helper is not None:  # for snippets, which run as source
            self.lists[helper.name] = lambda *a: helper.run(a)[0]
        if rng_mode == "generator":  # not a value expressions may use: kept with the lists
            self.lists["rng"] = np.random.default_rng(RNG_SEED)
        self.ever_shared: set = set()  # names that were ever assigned a name or view, and those names
        self.owned: set = set()
        self.pinned: dict = {}  # name -> shape it must keep
        self.fixed: set = set()  # loop variables and counters: read, never assigned
        self.loops: list[Loop] = []
        self.depth = 0
        self.straight = True  # no branch or loop yet
        self.prefer: list = []  # targets to draw first (an else side defining what if did)
        self.assigned: list = []
        self.drawn = 0  # statements drawn so far, at any depth

    # -- facts about expressions, found by evaluating them on stand-in values

    def scope(self) -> ChainMap:
        """What the program's code sees: assignments go to :attr:`env`."""
        return ChainMap(self.env, self.lists, self.containers)

    def value(self, expr: Expr) -> Any:
        with np.errstate(all="ignore"):
            return expr.evaluate(self.scope(), Trace())

    def shape(self, expr: Expr) -> tuple:
        return np.shape(self.value(expr))

    def choose(self, options: Any) -> Any:
        return self.draw(st.sampled_from(list(options)))

    # -- expressions

    def named(self, ints: bool = False) -> list:
        """(expression, stand-in value) for every name, and every entry of a container
        parameter (``params["w"]``); loops' int counters only with ``ints``."""
        found = [(Name(n), v) for n, v in self.env.items() if ints or not isinstance(v, int)]
        for name, spec in self.params:
            if isinstance(spec, Container):
                leaves = _leaves_of(self.containers[name])
                found += [(spec.entry(name, key), leaf) for key, leaf in zip(spec.keys, leaves)]
                if spec.kind != "dict" and len(set(spec.shapes)) == 1:  # layers[i] in a loop
                    found += [(Index(Name(name), loop.var), leaves[0]) for loop in self.loops
                              if loop.last is not None and loop.last < len(leaves)]
        return found

    def pick(self, options: list) -> Expr:
        """One of ``named()``'s expressions."""
        return options[self.draw(st.integers(0, len(options) - 1))][0]

    def leaf(self, fits: tuple | None = None) -> Expr:
        """A name, or a constant; with ``fits``, one that broadcasts with that shape."""
        options = [(e, v) for e, v in self.named(ints=True) if fits is None or _broadcasts(np.shape(v), fits)]
        if options and self.draw(st.integers(0, 4)) > 0:
            expr = self.pick(options)
            if isinstance(self.value(expr), int):  # a loop's int as a float factor: no int arrays
                return BinOp("*", Const(self.choose([0.5, 1.0, 2.0])), expr)
            return expr
        # Floats only: an int could make np.where return an int array, which ``*= 1.5``
        # cannot update in place (and which an int on one path only would hide).
        return Const(self.choose([0.5, 2.0, 1.5, 3.0, 0.25]))

    def fitting(self, depth: int, fits: tuple) -> Expr:
        expr = self.expr(depth)
        return expr if _broadcasts(self.shape(expr), fits) else self.leaf(fits)

    def array_operand(self, depth: int, min_ndim: int = 1) -> Expr | None:
        expr = self.expr(depth)
        if np.ndim(self.value(expr)) >= min_ndim:
            return expr
        options = [(e, v) for e, v in self.named() if np.ndim(v) >= min_ndim]
        return self.pick(options) if options else None

    def bounded(self, depth: int) -> Expr:
        return Call(self.choose(["np.tanh", "np.sin", "np.cos"]), (self.expr(depth),))

    def positive(self, depth: int) -> Expr:
        """An expression bounded away from zero whatever its operand."""
        e = self.expr(depth)
        form = self.draw(st.integers(0, 4))
        if form == 0:
            return BinOp("+", Const(1.0), BinOp("*", e, e))
        if form == 1:
            return Call("np.exp", (Call("np.tanh", (e,)),))
        if form == 2:
            return BinOp("+", Const(2), Call("np.cos", (e,)))
        if form == 3:
            return Call("np.sqrt", (BinOp("+", Const(1), BinOp("*", e, e)),))
        return Call("np.exp", (Call("np.sin", (e,)),))

    def expr(self, depth: int) -> Expr:
        if depth <= 0:
            return self.leaf()
        kind = self.choose(EXPRESSIONS)
        return EXPRESSION_BUILDERS[kind](self, depth - 1)

    def binary(self, depth: int) -> Expr:
        op = self.choose("+-*/")
        left = self.expr(depth)
        if op == "/":
            right = self.positive(depth)
            if not _broadcasts(self.shape(left), self.shape(right)):
                leaf = self.leaf(self.shape(left))
                right = BinOp("+", Const(1.0), BinOp("*", leaf, leaf))
            return BinOp(op, left, right)
        return BinOp(op, left, self.fitting(depth, self.shape(left)))

    def negate(self, depth: int) -> Expr:
        return Neg(self.expr(depth))

    def unary(self, depth: int) -> Expr:
        fn = self.choose(["np.sin", "np.cos", "np.tanh", "np.exp", "np.log", "np.sqrt"])
        if fn == "np.exp":
            return Call(fn, (self.bounded(depth),))
        if fn in ("np.log", "np.sqrt"):
            return Call(fn, (self.positive(depth),))
        return Call(fn, (self.expr(depth),))

    def power(self, depth: int) -> Expr:
        form = self.draw(st.integers(0, 2))
        if form == 0:
            return BinOp("**", self.expr(depth), Const(self.choose([2, 3])))
        base = self.positive(depth)
        if form == 1:
            return BinOp("**", base, Const(self.choose([0.5, 1.5, -1.0, 2.5])))
        exponent = self.bounded(depth)
        if not _broadcasts(self.shape(base), self.shape(exponent)):
            exponent = Const(1.5)
        return BinOp("**", base, exponent)

    def extremum(self, depth: int) -> Expr:
        left = self.expr(depth)
        fn = self.choose(["np.maximum", "np.minimum"])
        return Call(fn, (left, self.fitting(depth, self.shape(left))), kink="pair")

    def where(self, depth: int) -> Expr:
        x = self.expr(depth)
        y = self.fitting(depth, self.shape(x))
        out = np.broadcast_shapes(self.shape(x), self.shape(y))
        left = self.fitting(depth, out)
        right = self.leaf(np.broadcast_shapes(out, self.shape(left)))
        return Where(left, right, x, y)

    def reduce(self, depth: int) -> Expr:
        # 2-D operands more often than drawing them at random would give: axis= matters there
        operand = self.array_operand(depth, 2) if self.draw(st.booleans()) else None
        operand = operand or self.expr(depth)
        fn = self.choose(["sum", "mean", "max", "min", "var", "prod"])
        kink = fn if fn in ("max", "min") else None
        ndim = np.ndim(self.value(operand))
        if ndim == 0:
            return Call(f"np.{fn}", (operand,), kink=kink)
        axis = self.choose([None, *range(-ndim, ndim)])
        kwargs = () if axis is None else (("axis", axis),)
        if axis is not None and self.draw(st.booleans()):
            kwargs += (("keepdims", True),)
        if self.draw(st.booleans()):  # the method spelling, x.sum(axis=0)
            return Call(fn, (operand,), kwargs, method=True, kink=kink)
        return Call(f"np.{fn}", (operand,), kwargs, kink=kink)

    def transpose(self, depth: int) -> Expr:
        operand = self.array_operand(depth)
        return self.leaf() if operand is None else Transpose(operand)

    def index(self, depth: int) -> Expr:
        operand = self.array_operand(depth)
        if operand is None:
            return self.leaf()
        shape = self.shape(operand)
        options = ["0", "-1", "::-1"]
        if shape[0] >= 2:
            options += ["1:", ":-1", "::2"]
        if len(shape) >= 2:
            options += [":, 0", ":, ::-1", "..., -1"]
            if shape[1] >= 2:
                options += [":, 1:", "-1, :2"]
        options += self.counters(shape)
        return Index(operand, self.choose(options))

    def counters(self, shape: tuple) -> list:
        """Subscripts by a loop's counter, ``i`` or ``:, i``, that stay inside ``shape``."""
        found = []
        for loop in self.loops:
            if loop.last is not None and shape and loop.last < shape[0]:
                found.append(loop.var)
            if loop.last is not None and len(shape) >= 2 and loop.last < shape[1]:
                found.append(f":, {loop.var}")
        return found

    def math_call(self, depth: int) -> Expr:
        operand = self.expr(depth)
        if np.ndim(self.value(operand)) > 0:
            operand = Call(self.choose(["np.sum", "np.mean"]), (operand,))
        fn = self.choose(["math.sin", "math.cos", "math.tanh", "math.exp", "math.log", "math.sqrt"])
        if fn == "math.exp":
            operand = Call("math.tanh", (operand,))
        elif fn in ("math.log", "math.sqrt"):
            operand = BinOp("+", Const(1.0), BinOp("*", operand, operand))
        return Call(fn, (operand,))

    def helper_call(self, depth: int) -> Expr:
        """A call of the helper, with arguments of exactly the shapes it was drawn for."""
        if self.helper is None:
            return self.leaf()
        args = []
        for _, shape in self.helper.params:
            arg = self.expr(depth)
            if self.shape(arg) != shape:
                options = [(e, v) for e, v in self.named() if np.shape(v) == shape]
                if not options:
                    return self.leaf()
                arg = self.pick(options)
            args.append(arg)
        return HelperCall(self.helper, tuple(args))

    def matmul(self, depth: int) -> Expr:
        """``a @ b``, ``np.dot(a, b)`` or ``a.T @ b`` of 1-D and 2-D values that fit,
        usually squashed by ``np.tanh`` or halved so that products of products stay small."""
        left = self.array_operand(depth)
        if left is None or np.ndim(self.value(left)) > 2:
            return self.leaf()
        form = self.choose(["@", "np.dot", ".T @"])
        if form == ".T @":
            left = Transpose(left)
        inner = self.shape(left)[-1]

        def fits(value: Any) -> bool:
            return np.ndim(value) in (1, 2) and np.shape(value)[0] == inner

        right = self.expr(depth)
        if not fits(self.value(right)):
            options = [(e, v) for e, v in self.named() if fits(v)]
            if options:
                right = self.pick(options)
            else:  # a @ a.T fits whatever a is
                right = left if np.ndim(self.value(left)) == 1 else Transpose(left)
        product = Call("np.dot", (left, right)) if form == "np.dot" else BinOp("@", left, right)
        scale = self.draw(st.integers(0, 3))
        if scale <= 1:
            return Call("np.tanh", (product,))
        return BinOp("*", Const(0.5), product) if scale == 2 else product

    def stack(self, depth: int) -> Expr:
        """``np.stack([a, b])`` or ``np.concatenate([a, b])`` of two values of one shape."""
        first = self.expr(depth)
        shape = self.shape(first)
        second = self.expr(depth)
        if self.shape(second) != shape:
            options = [(e, v) for e, v in self.named() if np.shape(v) == shape]
            second = self.pick(options) if options else Call("np.sin", (first,))
        items = ListOf((first, second))
        if shape and self.draw(st.booleans()):
            axis = self.choose([0, -1])
            return Call("np.concatenate", (items,), (("axis", axis),) if axis else ())
        axis = self.choose([0, -1])
        return Call("np.stack", (items,), (("axis", axis),) if axis else ())

    def activation(self, depth: int) -> Expr:
        """ReLU ``np.maximum(v, 0.0)`` or leaky ReLU ``np.where(v > 0.0, v, 0.01 * v)``."""
        v = self.expr(depth)
        if self.draw(st.booleans()):
            return Call("np.maximum", (v, Const(0.0)), kink="pair")
        return Where(v, Const(0.0), v, BinOp("*", Const(0.01), v))

    def softmax(self, depth: int) -> Expr:
        """``np.exp(v - np.max(v))``, alone, normalised (softmax) or logged (log-sum-exp),
        over the whole value or its last axis (``keepdims=True``)."""
        v = self.array_operand(depth)
        if v is None:
            return self.leaf()
        kwargs = (("axis", -1), ("keepdims", True)) if self.draw(st.booleans()) else ()
        top = Call("np.max", (v,), kwargs, kink="max")
        e = Call("np.exp", (BinOp("-", v, top),))
        form = self.draw(st.integers(0, 2))
        if form == 0:
            return e
        if form == 1:
            return BinOp("/", e, Call("np.sum", (e,), kwargs))
        return BinOp("+", top, Call("np.log", (Call("np.sum", (e,), kwargs),)))

    def condition(self) -> Compare:
        """``np.sum(e) > 0.3`` and the like: a reduction of some value against a constant."""
        operand = self.expr(self.draw(st.integers(0, 2)))
        fn = self.choose(["np.sum", "np.mean", "np.max", "np.min"])
        kink = {"np.max": "max", "np.min": "min"}.get(fn)
        threshold = self.choose([0.3, 0.0, -0.5, 1.0, -1.5, 2.5])
        return Compare(Call(fn, (operand,), kink=kink), self.choose("><"), threshold)

    # -- simple statements

    def target(self) -> str:
        if self.prefer and self.draw(st.booleans()):
            return self.prefer.pop(0)
        fresh = [n for n in LOCAL_NAMES if n not in self.env]
        if fresh and self.draw(st.integers(0, 2)) > 0:
            return fresh[0]
        return self.choose(sorted(set(self.env) - self.fixed))

    def fit(self, target: str, value: Expr) -> Expr:
        """``value``, changed so that assigning it to ``target`` keeps what must hold."""
        want = self.pinned.get(target)
        if want is not None and self.shape(value) != want:
            # Combine with the current value, which has the shape to keep.
            have = self.shape(value)
            if _broadcasts(have, want) and np.broadcast_shapes(have, want) == want:
                value = BinOp(self.choose("+*"), value, Name(target))
            else:
                value = BinOp("+", Name(target), Call("np.mean", (value,)))
        updated = set().union(*(loop.updated for loop in self.loops))
        if (_roots(value) | {target}) & updated and _roots(value):
            value = BinOp("*", Const(1.0), value)  # a copy: in-place updates stay unshared
        return value

    def bind(self, stmt: Assign) -> Assign:
        """Run an assignment on the stand-in values and note what it changes."""
        with np.errstate(all="ignore"):
            stmt.execute(self.scope(), Trace())
        for target, value in zip(stmt.targets, stmt.values):
            shared = _roots(value)
            if shared:
                self.ever_shared |= shared | {target}
            self.disown(shared)
            if shared:
                self.disown({target})
            else:
                self.owned.add(target)
            self.assigned_now(target)
        return stmt

    def assigned_now(self, target: str) -> None:
        """Note ``target`` assigned (after a jump in a loop, it may be left unset)."""
        for loop in self.loops:
            if loop.jumped:
                loop.after_jump.add(target)
        self.assigned.append(target)

    def disown(self, names: set) -> None:
        self.owned -= names
        for loop in self.loops:
            loop.disowned |= names

    def assign(self) -> Stmt:
        target = self.target()
        return self.bind(Assign((target,), (self.fit(target, self.expr(self.draw(st.integers(1, 3)))),)))

    def unpack(self) -> Stmt:
        first = self.target()
        second = self.target()
        if second == first:
            second = next((n for n in LOCAL_NAMES if n not in self.env and n != first), None)
            if second is None:
                return self.assign()
        values = (self.fit(first, self.expr(self.draw(st.integers(0, 2)))),
                  self.fit(second, self.expr(self.draw(st.integers(0, 2)))))
        return self.bind(Assign((first, second), values))

    def aliased(self, name: str) -> bool:
        value = self.env[name]
        others = [v for n, v in self.env.items() if n != name] + self.originals
        return any(isinstance(v, np.ndarray) and np.may_share_memory(value, v) for v in others)

    def augassign(self) -> Stmt:
        names = [n for n in self.env
                 if n in self.owned or (self.straight and n not in self.fixed and not self.aliased(n))]
        if not names:
            return self.assign()
        name = self.choose(sorted(names))
        op = self.choose("+-*")
        value = self.expr(self.draw(st.integers(0, 2)))
        current = self.env[name]
        shape = self.shape(value)
        fits = _broadcasts(np.shape(current), shape)
        if fits and (isinstance(current, np.ndarray) or name in self.pinned or not self.straight):
            # in place (or inside a branch or loop, or after one, where a float on one path
            # may be a 0-d array on another): the result keeps current's shape
            fits = np.broadcast_shapes(np.shape(current), shape) == np.shape(current)
        if not fits:
            value = Const(self.choose([0.5, 2, 1.5]))
        for loop in self.loops:
            loop.updated.add(name)
        stmt = AugAssign(name, op, value)
        with np.errstate(all="ignore"):
            stmt.execute(self.scope(), Trace())
        return stmt

    def updatable(self) -> list:
        """The names ``a += e`` or ``a[i] = e`` may update in place."""
        return sorted(n for n in self.env if n not in self.fixed and (
            n in self.owned or (self.straight and not self.aliased(n))))

    def shared(self) -> list:
        """Arrays other names share, that ``a[i] = e`` may write through (straight code
        only, where the stand-ins tell; never into an argument's memory)."""
        if not (DRAW_WRITES_THROUGH_ALIASES and self.straight):
            return []
        return sorted(n for n, v in self.env.items() if isinstance(v, np.ndarray) and v.ndim >= 1
                      and self.aliased(n) and not any(np.may_share_memory(v, o) for o in self.originals
                                                      if isinstance(o, np.ndarray)))

    def entry(self, name: str) -> Stmt:
        """``a[i] = e`` (or a slice) for an array ``a`` that no other name shares."""
        shape = np.shape(self.env[name])
        options = ["0", "-1"]
        if shape[0] >= 2:  # a stepped slice, or (no draw more) an index naming entry 1 twice,
            # which keeps the last value written to it
            options += ["1:", ":-1", "::2" if shape[0] % 2 else "[1, 0, 1]"]
        if len(shape) >= 2:
            options += [":, 0", "..., -1", "0, -1"]
            if shape[1] >= 2:
                options += [":, 1:"]
        counters = self.counters(shape)
        index = self.choose(counters if counters and self.draw(st.booleans()) else options)
        want = np.shape(eval(f"_v[{index}]", {"_v": self.env[name]}, self.scope()))
        op = self.choose(["", "", "+", "*"])
        value = self.fitting(self.draw(st.integers(0, 2)), want)
        out = np.broadcast_shapes(self.shape(value), want)
        extra = len(out) - len(want)  # a plain assignment drops leading 1s of the value
        if out[extra:] != want or any(n != 1 for n in out[:extra]) or ((op or not want) and extra):
            value = Call("np.mean", (value,))
        for loop in self.loops:
            loop.updated.add(name)
        stmt = SetItem(name, index, value, op)
        with np.errstate(all="ignore"):
            stmt.execute(self.scope(), Trace())
        return stmt

    def setitem(self) -> Stmt:
        """``a[i] = e`` on an array nothing else shares, or a fresh one made for it first."""
        names = [n for n in self.updatable() if isinstance(self.env[n], np.ndarray)
                 and self.env[n].ndim >= 1 and (DRAW_WRITES_AFTER_REBINDING or n not in self.ever_shared)]
        names = self.shared() or names
        if names and self.draw(st.booleans()):
            return self.entry(self.choose(names))
        return self.fill()

    def fill(self) -> Stmt:
        """``a = np.zeros(shape)`` or ``a = x.copy()``, then entries of ``a`` assigned."""
        target = self.target()
        if target in self.ever_shared and not DRAW_WRITES_AFTER_REBINDING:
            fresh_names = [n for n in LOCAL_NAMES if n not in self.env and n not in self.ever_shared]
            if not fresh_names:
                return self.assign()
            target = fresh_names[0]
        shapes = [np.shape(v) for _, v in self.named() if np.ndim(v) >= 1]
        shape = self.pinned[target] if target in self.pinned else self.choose(shapes or [(3,)])
        if shape == ():  # a float must stay a float
            return self.assign()
        sources = [(e, v) for e, v in self.named() if np.shape(v) == shape]
        if sources and self.draw(st.booleans()):
            source = self.pick(sources)
            method = self.draw(st.booleans())
            fresh = Call("copy", (source,), method=True) if method else Call("np.copy", (source,))
        else:
            fresh = Call("np.zeros", (Const(shape),))
        stmts = [self.bind(Assign((target,), (fresh,)))]
        stmts += [self.entry(target) for _ in range(self.draw(st.integers(1, 2)))]
        return Seq(tuple(stmts))

    # -- branches and loops

    def block(self, count: int) -> tuple:
        """Up to ``count`` statements: fewer once the program has :data:`MAX_STATEMENTS`."""
        stmts = []
        for _ in range(count):
            if self.drawn >= MAX_STATEMENTS and stmts:
                break
            self.drawn += 1
            stmts.append(self.statement())
        return tuple(stmts)

    def nested(self, count: int) -> tuple:
        """A branch or loop body: every name that exists now keeps its shape in it."""
        pinned = self.pinned
        self.pinned = {n: np.shape(v) for n, v in self.env.items()}
        self.depth += 1
        body = self.block(count)
        self.depth -= 1
        self.pinned = pinned
        return body

    def branch(self) -> Stmt:
        self.straight = False
        cond = self.condition()
        before, owned = dict(self.env), set(self.owned)
        body = self.nested(self.draw(st.integers(1, 3)))
        then_env, then_owned = self.env, self.owned
        self.env, self.owned = dict(before), set(owned)
        orelse: tuple = ()
        if self.draw(st.integers(0, 2)) > 0:
            self.prefer = [n for n in then_env if n not in before]  # define them on both sides
            orelse = self.nested(self.draw(st.integers(1, 3)))
            self.prefer = []
        # Keep the names both sides define with one shape; the stand-in values of either
        # side serve, since only shapes matter from here on.
        self.env = {n: v for n, v in then_env.items()
                    if n in self.env and np.shape(self.env[n]) == np.shape(v)}
        self.owned = then_owned & self.owned & set(self.env)
        return If(cond, body, orelse)

    def loop_body(self, loop: Loop, start: Any, collect: str | None = None) -> tuple:
        """Draw a loop body reading ``loop.var`` (``start`` stands for it); then forget
        what may not have run.  With ``collect``, the body appends a value to that list,
        first thing (then it may break) or last thing (then it may not)."""
        self.straight = False
        before, owned = dict(self.env), set(self.owned)
        self.loops.append(loop)
        self.env[loop.var] = start
        self.fixed.add(loop.var)
        first = collect is not None and self.draw(st.booleans())
        loop.can_jump = collect is None or first
        head = (self.append(collect),) if first else ()
        body = head + self.nested(self.draw(st.integers(1, 3)))
        if collect is not None and not first:
            body += (self.append(collect),)
        self.fixed.discard(loop.var)
        del self.env[loop.var]
        self.loops.pop()
        for name in loop.after_jump - set(before):
            self.env.pop(name, None)
        self.owned = ((owned - loop.disowned)
                      | (self.owned - loop.disowned - loop.after_jump)) & set(self.env)
        return body

    def append(self, name: str) -> Stmt:
        """``hs.append(e)``; the stand-in list holds one ``e`` (the loop fills in the rest)."""
        value = self.expr(self.draw(st.integers(0, 2)))
        if _roots(value):
            if _roots(value) & set().union(*(loop.updated for loop in self.loops)):
                value = BinOp("*", Const(1.0), value)  # a copy: in-place updates stay unshared
            self.disown(_roots(value))  # the list shares it now
        self.lists[name] = [self.value(value)]
        return Append(name, value)

    def for_loop(self) -> Stmt:
        var = LOOP_VARIABLES[len(self.loops)]
        count = self.draw(st.integers(1, 4))
        return For(var, count, self.loop_body(Loop(True, var, count - 1), 0))

    def while_loop(self) -> Stmt:
        counter = COUNTERS[len(self.loops)]
        step_first = self.draw(st.booleans())
        count = self.draw(st.integers(1, 4))
        last = count if step_first else count - 1
        body = self.loop_body(Loop(step_first, counter, last), int(step_first))
        return While(counter, count, body, step_first)

    def iterables(self) -> list:
        """What ``for v in ...:`` may run over: a list or tuple parameter of one shape, or
        an array parameter not assigned yet (so the loop cannot change what it runs over)."""
        found = []
        for name, spec in self.params:
            if isinstance(spec, Container):
                if spec.kind != "dict" and len(set(spec.shapes)) == 1:
                    found.append(name)
            elif spec != () and self.env.get(name) is self.arguments[name]:
                found.append(name)
        return found

    def for_each(self) -> Stmt:
        """``for layer in layers:`` or ``for row in x:``."""
        iterables = self.iterables()
        iterable = self.choose(iterables + [n for n in iterables if n in self.containers])
        value = self.containers.get(iterable, self.env.get(iterable))
        base = "layer" if iterable in self.containers else "row"
        var = base + "_1" * len(self.loops)
        body = self.loop_body(Loop(True, var), value[0])
        return For(var, len(value), body, iterable=iterable)

    def collect(self) -> Stmt:
        """``hs = []``, a loop appending to ``hs``, and ``s = np.stack(hs)`` (or
        ``np.concatenate``), reduced over the loop's passes if it may break early."""
        name = LIST_NAMES[len(self.loops)]
        var = LOOP_VARIABLES[len(self.loops)]
        count = self.draw(st.integers(1, 4))
        loop = Loop(True, var, count - 1)
        body = self.loop_body(loop, 0, collect=name)
        self.lists[name] = self.lists[name] * count
        item = np.shape(self.lists[name][0])
        fn = self.choose(["np.stack", "np.concatenate"]) if item else "np.stack"
        joined: Expr = Call(fn, (Name(name),))
        if loop.jumped:  # fewer passes after a break: only a reduction keeps the shape
            how = self.choose(["sum", "mean", "max"])
            joined = Call(f"np.{how}", (joined,), (("axis", 0),), kink="max" if how == "max" else None)
        target = self.target()
        stmts = (Assign((name,), (ListOf(()),)), For(var, count, body),
                 self.bind(Assign((target,), (self.fit(target, joined),))))
        return Seq(stmts)

    def snippet(self) -> Stmt:
        """One of fuzz_grammar's snippets, its result assigned to a fresh name; its
        temporaries are private to it (forgotten here)."""
        target = next(n for n in LOCAL_NAMES if n not in self.env)
        self.snippets += 1
        stmt = fuzz_grammar.draw_snippet(self, self.families, self.snippets, target)
        before = set(self.env)
        with np.errstate(all="ignore"):
            stmt.execute(self.scope(), Trace())
        for name in set(self.env) - before - {target}:
            del self.env[name]
        self.owned.add(target)
        self.assigned_now(target)
        return stmt

    def jump(self) -> Stmt:
        """``if <cond>: break`` (or ``continue``) in the innermost loop."""
        loop = self.loops[-1]
        kind = self.choose(["break", "continue"] if loop.can_continue else ["break"])
        loop.jumped = True
        return If(self.condition(), (Jump(kind),))

    def statement(self) -> Stmt:
        kinds = [k for k in STATEMENT_KINDS + ["snippet"] * SNIPPET_WEIGHT if self.allows(k)]
        return STATEMENTS[self.choose(kinds)](self)

    def allows(self, kind: str) -> bool:
        if kind == "snippet":
            return bool(self.families) and any(n not in self.env for n in LOCAL_NAMES)
        if kind == "while" and self.loops and not DRAW_WHILE_INSIDE_LOOPS:
            return False
        if kind in ("if", "for", "while", "collect", "for_each"):
            return self.depth < self.max_depth and (kind != "for_each" or bool(self.iterables()))
        if kind == "jump":
            return bool(self.loops) and self.loops[-1].can_jump
        return True

    def result(self, body: tuple) -> Expr:
        """np.sum of the last value assigned, plus terms so that every parameter may matter."""
        arrays = [n for n, spec in self.params if not isinstance(spec, Container)]
        last = next((n for n in reversed(self.assigned) if n in self.env), arrays[0])
        result: Expr = Call("np.sum", (Name(last),))
        used = {n.id for stmt in body for n in _names(stmt)}
        extra: list[Expr] = []
        for name, spec in self.params:
            if isinstance(spec, Container):  # each entry, where the body may read none
                extra += [spec.entry(name, key) for key in spec.keys
                          if name not in used or self.draw(st.booleans())]
            elif name != last and (name not in used or self.draw(st.booleans())):
                extra.append(Name(name))
        extra += [Name(n) for n in LOCAL_NAMES if n in self.env and n != last and self.draw(st.booleans())]
        for operand in extra:
            form = self.draw(st.integers(0, 2))
            if form == 0:
                term: Expr = Call("np.sum", (Call("np.tanh", (operand,)),))
            elif form == 1:
                term = Call("np.mean", (BinOp("*", operand, operand),))
            else:
                term = BinOp("*", Const(0.5), Call("np.sum", (operand,)))
            result = BinOp("+", result, term)
        return result


def _walk(node: Any) -> list:
    """Every expression and statement inside a statement or expression, ``node`` first
    (not entering the helper a call calls)."""
    found = [node]
    for key, value in vars(node).items():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, (Expr, Stmt, Snippet)) and key != "helper":
                found += _walk(item)
    return found


def _names(node: Any) -> list:
    """Every Name read inside a statement or expression."""
    return [n for n in _walk(node) if isinstance(n, Name)]


EXPRESSION_BUILDERS: dict[str, Callable] = {
    "leaf": lambda b, depth: b.leaf(),
    "binary": Builder.binary,
    "negate": Builder.negate,
    "unary": Builder.unary,
    "power": Builder.power,
    "extremum": Builder.extremum,
    "where": Builder.where,
    "reduce": Builder.reduce,
    "transpose": Builder.transpose,
    "index": Builder.index,
    "math": Builder.math_call,
    "call": Builder.helper_call,
    "matmul": Builder.matmul,
    "stack": Builder.stack,
    "activation": Builder.activation,
    "softmax": Builder.softmax,
}
# Weighted by repetition: sampled_from shrinks towards the front of the list.
EXPRESSIONS = ["leaf", "binary", "binary", "unary", "unary", "negate", "power", "extremum",
               "where", "reduce", "reduce", "transpose", "index", "index", "math", "call", "call",
               "matmul", "matmul", "stack", "activation", "softmax"]

STATEMENTS: dict[str, Callable] = {
    "assign": Builder.assign,
    "unpack": Builder.unpack,
    "augassign": Builder.augassign,
    "if": Builder.branch,
    "for": Builder.for_loop,
    "while": Builder.while_loop,
    "jump": Builder.jump,  # if <cond>: break / continue; only inside a loop
    "setitem": Builder.setitem,  # a[i] = e, after a = np.zeros(...) or a = x.copy() if need be
    "collect": Builder.collect,  # hs = []; a loop with hs.append(e); s = np.stack(hs)
    "for_each": Builder.for_each,  # for layer in layers: / for row in x:
    "snippet": Builder.snippet,  # one of fuzz_grammar's constructs, where families are on
}
SNIPPET_WEIGHT = 4  # against STATEMENT_KINDS' 12 entries
STATEMENT_KINDS = ["assign", "assign", "assign", "unpack", "augassign", "if", "for", "jump", "while",
                   "setitem", "collect", "for_each"]
# Steering away from open srcdiff bugs, so the fuzz test can find others; each switch names
# the strict-xfail regression test at the bottom of this file that pins its bug.
DRAW_WHILE_INSIDE_LOOPS = True  # False while test_regression_while_inside_a_loop_unoptimized fails
# srcdiff rejects a write through an alias that is read afterwards (UnsupportedSyntaxError).
DRAW_WRITES_THROUGH_ALIASES = True
# Writes into a name that once held another name's array, after rebinding it to a fresh one; the
# fence took it for an alias (test_regression_write_into_a_rebound_name, fixed): False steers away.
DRAW_WRITES_AFTER_REBINDING = True
LOOP_VARIABLES = ("i", "j")  # by how many loops enclose the new one
COUNTERS = ("n", "p")
LIST_NAMES = ("hs", "gs")


def helpers(draw: Callable, shapes: list) -> Program:
    """A module-level helper of one or two parameters, shaped like some of ``shapes``."""
    count = draw(st.integers(1, 2))
    params = tuple(zip(("u", "v"), (draw(st.sampled_from(shapes)) for _ in range(count))))
    builder = Builder(draw, params, is_helper=True)
    body = builder.block(draw(st.integers(0, 3)))
    result = builder.expr(draw(st.integers(1, 3)))
    return Program(params, body, result, name="helper")


def containers(draw: Callable) -> list:
    """Maybe a dict parameter ``params`` ({"w": 2-D, "b": 1-D, maybe "s": float}) and a
    list or tuple parameter ``layers`` (of one shape, half the time)."""
    found = []
    if draw(st.integers(0, 2)) == 0:
        keys = ("w", "b", "s")[:draw(st.integers(2, 3))]
        shapes = (draw(st.sampled_from([(3, 3), (2, 3), (3, 2), (3,)])),
                  draw(st.sampled_from([(3,), (2,), (1, 3), ()])), ())[:len(keys)]
        found.append(("params", Container("dict", keys, shapes)))
    if draw(st.integers(0, 2)) == 0:
        count = draw(st.integers(1, 3))
        if draw(st.integers(0, 2)) > 0:
            shapes = (draw(st.sampled_from([(3, 3), (3,), (2, 3), ()])),) * count
        else:
            shapes = tuple(draw(st.lists(st.sampled_from(PARAM_SHAPES), min_size=count, max_size=count)))
        found.append(("layers", Container(draw(st.sampled_from(["list", "tuple"])), tuple(range(count)),
                                          shapes)))
    return found


@st.composite
def programs(draw: Callable, families: tuple = ()) -> Program:
    count = draw(st.integers(1, 4))
    shapes = draw(st.lists(st.sampled_from(PARAM_SHAPES), min_size=count, max_size=count))
    if all(s == () for s in shapes):
        shapes[0] = (3,)
    helper = helpers(draw, shapes) if draw(st.booleans()) else None
    params = list(zip(PARAM_NAMES, shapes))
    for param in containers(draw):
        params.insert(draw(st.integers(0, len(params))), param)
    rng_mode = draw(st.sampled_from(["global", "generator"])) if "random" in families else "global"
    builder = Builder(draw, tuple(params), helper, families=families, rng_mode=rng_mode)
    body = builder.block(draw(st.integers(2, 12)))
    result = builder.result(body)
    called = "helper(" in "\n".join(_indented(body) + [result.source()])
    return Program(builder.params, body, result, helper=helper if called else None,
                   rng=rng_mode == "generator")


def arguments(program: Program, seed: int) -> tuple:
    """Arguments for the program's parameters, uniform in [-2, 2]."""
    rng = np.random.default_rng(seed)

    def leaf(shape: tuple) -> Any:
        value = rng.uniform(-2.0, 2.0, size=shape)
        return float(value) if shape == () else value

    return tuple(spec.build([leaf(shape) for shape in spec.shapes]) if isinstance(spec, Container)
                 else leaf(spec) for _, spec in program.params)


# ---------------------------------------------------------------------- check


def _event(text: str) -> None:
    if currently_in_test_context():  # check_program also runs outside Hypothesis
        event(text)


def _close(got: Any, want: Any) -> np.ndarray:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return np.abs(got - want) <= ATOL + RTOL * np.abs(want)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (dict, list, tuple)):
        return _structure(a) == _structure(b) and all(
            _same(x, y) for (_, x), (_, y) in zip(_flatten(a), _flatten(b)))
    return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))


def _structure(value: Any) -> Any:
    """A container's kind and keys, nested; ``"leaf"`` for anything else."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _structure(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_structure(v) for v in value))
    return "leaf"


def _flatten(value: Any, path: str = "") -> list:
    """(path, leaf) for every leaf of a container, ``params["w"]`` as ``['w']``."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _flatten(v, f"{path}[{k!r}]")]
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _flatten(v, f"{path}[{i}]")]
    return [(path, value)]


def _check_gradient(program: Program, args: tuple, f: Callable, pos: int, got: Any, want: Any,
                    label: str) -> None:
    """One gradient against finite differences ``want``, leaf by leaf for a container;
    rejects if those are unreliable."""
    src = program.source
    arg = args[pos]
    name = program.params[pos][0]
    assert _structure(got) == _structure(arg), (
        f"{label}: gradient of {name} is {got!r}, not a value of {name}'s structure\n{src}")
    leaves = [(name + path, a, g, w) for (path, a), (_, g), (_, w)
              in zip(_flatten(arg), _flatten(got), _flatten(want))]
    bad = []
    for what, a, g, w in leaves:
        assert np.shape(g) == np.shape(a), (
            f"{label}: gradient of {what} has shape {np.shape(g)}, {what} has {np.shape(a)}\n{src}")
        assert not np.iscomplexobj(g), f"{label}: gradient of the real {what} is complex: {g!r}\n{src}"
        assert np.all(np.isfinite(g)), f"{label}: gradient of {what} is not finite: {g!r}\n{src}"
        if isinstance(a, float):  # "a float for a float" (a NumPy float64 is a float)
            assert isinstance(g, float), (
                f"{label}: gradient of the float {what} is {type(g).__name__} {g!r}\n{src}")
        bad.append(~_close(g, w))
    if not any(b.any() for b in bad):
        return
    # Before blaming srcdiff, make sure finite differences agree with themselves.
    errors = [np.abs(np.asarray(g, dtype=np.float64) - w) for _, _, g, w in leaves]
    for eps in (1e-5, 1e-7):
        other = _flatten(numerical_grad(f, args, pos, eps=eps))
        for (_, again), (_, _, _, w), err, off in zip(other, leaves, errors, bad):
            if np.any(10 * np.abs(again - w)[off] >= err[off]):
                _event("rejected: finite differences unstable")
                reject()
    what, _, g, w = next(leaf for leaf, off in zip(leaves, bad) if off.any())
    raise AssertionError(
        f"{label}: gradient of {what} is wrong:\n  srcdiff            {g!r}\n"
        f"  finite differences {w!r}\nargs = {args!r}\n{src}")


class Refused:
    """What a derivative call gives back when srcdiff refused the program before running it."""

    def __init__(self, error: Exception):
        self.error = error


def _reset() -> None:
    """NumPy's global random state, as every call of the program starts from it."""
    np.random.seed(RNG_SEED)


def _extra(program: Program) -> dict:
    """The keyword arguments every call passes: a fresh Generator for ``rng``."""
    return {"rng": np.random.default_rng(RNG_SEED)} if program.rng else {}


def _ran_user_code(error: BaseException) -> bool:
    """Whether ``error`` came out of the user's function or generated code (both are
    compiled under file names that start with ``<srcdiff``), not out of the compiler."""
    return any(frame.filename.startswith("<srcdiff") for frame in traceback.extract_tb(error.__traceback__))


def _run(label: str, src: str, derivative: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a derivative from the reset random state; an exception it raises fails the
    check with the program's source, except a srcdiff error raised before any of the
    program (or its derivative's code) ran: that is a refusal, :class:`Refused`.

    (Raised from here, not from srcdiff's generated code, whose pseudo-filename changes
    on every compile: Hypothesis would take each replay for a different failure.)
    """
    try:
        _reset()
        return derivative(*args, **kwargs)
    except srcdiff.errors.SrcdiffError as exc:
        if not _ran_user_code(exc):
            _event(f"refused: {label}: {type(exc).__name__}")
            return Refused(exc)
        error = (f"{label} raised {type(exc).__name__} while running (not before): {exc}\n"
                 f"{traceback.format_exc(limit=-3)}\n{src}")
    except Exception as exc:
        error = f"{label} raised {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}\n{src}"
    raise AssertionError(error)  # outside ``except``: no chained context either


def _unchanged(label: str, src: str, args: tuple, call_args: tuple) -> None:
    for pos, (before, after) in enumerate(zip(args, call_args)):
        assert _same(before, after), f"{label} changed argument {pos} in place\n{src}"


def check_program(program: Program, args: tuple) -> None:
    """The whole check of one program at one point; rejects points it cannot judge.

    Every derivative is right or a srcdiff error raised before the program runs; its
    arguments are unchanged after it; a real program has real derivatives.
    """
    src = program.source
    if currently_in_test_context():
        note(src)
        note(f"args = {args!r}")
    with np.errstate(all="raise"):
        try:
            _reset()
            value, trace = program.run(copy.deepcopy(args), extra=_extra(program))
        except (FloatingPointError, OverflowError, ZeroDivisionError, ValueError):
            _event("rejected: floating-point error")
            reject()
    if not np.all(np.isfinite(value)):
        _event("rejected: non-finite value")
        reject()
    if trace.gap <= MIN_GAP:
        _event("rejected: near a kink")
        reject()
    if trace.magnitude >= MAX_MAGNITUDE:
        _event("rejected: large intermediate value")
        reject()

    user = make_function(src, name="f")

    def f(*a: Any) -> Any:  # the program from the reset random state: what differences see
        _reset()
        return user(*a, **_extra(program))

    plain = _run("the program itself", src, f, *copy.deepcopy(args))  # a generator bug if it raises
    np.testing.assert_allclose(plain, value, rtol=1e-12, atol=1e-12,
                               err_msg=f"the generator's evaluation disagrees with Python's\n{src}")
    assert not np.iscomplexobj(plain), f"the program's value is complex: {plain!r}\n{src}"
    wrt = tuple(range(len(args)))
    numerical = {pos: numerical_grad(f, args, pos) for pos in wrt}
    optimized: Any = None
    for optimize in (True, False):
        call_args = copy.deepcopy(args)
        label = "grad" if optimize else "grad(optimize=False)"
        derivative = srcdiff.grad(user, wrt=wrt, optimize=optimize)
        grads = _run(label, src, derivative, *call_args, **_extra(program))
        _unchanged(label, src, args, call_args)
        if isinstance(grads, Refused):
            continue
        assert isinstance(grads, tuple) and len(grads) == len(args), f"{label} returned {grads!r}\n{src}"
        for pos, got in enumerate(grads):
            _check_gradient(program, args, f, pos, got, numerical[pos], label)
        if optimize:
            optimized = grads

    call_args = copy.deepcopy(args)
    both = _run("value_and_grad", src, srcdiff.value_and_grad(user, wrt=wrt), *call_args, **_extra(program))
    _unchanged("value_and_grad", src, args, call_args)
    if not isinstance(both, Refused):
        out, grads2 = both
        np.testing.assert_allclose(out, plain, rtol=1e-12, atol=1e-12,
                                   err_msg=f"value_and_grad's value differs from the call\n{src}")
        for pos, got in enumerate(grads2):
            if optimized is None:
                _check_gradient(program, args, f, pos, got, numerical[pos], "value_and_grad")
                continue
            again = optimized[pos]
            assert _structure(again) == _structure(got), f"value_and_grad returned {grads2!r}\n{src}"
            for (_, g), (_, a) in zip(_flatten(again), _flatten(got)):
                np.testing.assert_allclose(a, g, rtol=1e-12, atol=1e-12,
                                           err_msg=f"value_and_grad's gradient differs from grad's\n{src}")
    # Passed by keyword, the last argument gets code made for any shapes (positional
    # calls get code made for these shapes): the same gradients, to rounding.
    last = program.params[-1][0]
    general = srcdiff.grad(user, wrt=wrt)
    call_args = copy.deepcopy(args)
    grads3 = _run("grad for any shapes", src, lambda *a: general(*a[:-1], **{last: a[-1]}, **_extra(program)),
                  *call_args)
    _unchanged("grad for any shapes", src, args, call_args)
    if not isinstance(grads3, Refused):
        for pos, got in enumerate(grads3):
            if optimized is None:
                _check_gradient(program, args, f, pos, got, numerical[pos], "grad for any shapes")
                continue
            for (_, g), (_, a) in zip(_flatten(optimized[pos]), _flatten(got)):
                np.testing.assert_allclose(a, g, rtol=1e-9, atol=1e-12,
                                           err_msg=f"code for any shapes differs from code for these\n{src}")
    _check_forward(program, args, user, plain, optimized, numerical)
    if _second_order_sampled(program, args):
        _check_second_order(program, args, user, f, numerical)


def _second_order_sampled(program: Program, args: tuple) -> bool:
    """One program in :data:`HESSIAN_EVERY` (by its arguments, so a replay agrees), and
    only programs of floats and arrays (a Jacobian is of one of those)."""
    if HESSIAN_EVERY <= 0 or any(isinstance(spec, Container) for _, spec in program.params):
        return False
    leaves = [np.asarray(a, dtype=np.float64).ravel() for a in args]
    return int(abs(np.sum(np.concatenate(leaves))) * 1e6) % HESSIAN_EVERY == 0


def _check_second_order(program: Program, args: tuple, user: Callable, f: Callable, numerical: dict) -> None:
    """For one argument: ``srcdiff.jacobian`` against finite differences, and
    ``srcdiff.hessian`` against central differences of the (checked) gradient."""
    src = program.source
    pos = int(abs(np.sum(np.asarray(args[0], dtype=np.float64))) * 1e3) % len(args)
    name = program.params[pos][0]
    call_args = copy.deepcopy(args)
    jac = _run("jacobian", src, srcdiff.jacobian(user, wrt=pos), *call_args, **_extra(program))
    _unchanged("jacobian", src, args, call_args)
    if not isinstance(jac, Refused):
        assert not np.iscomplexobj(jac), f"jacobian of {name} is complex: {jac!r}\n{src}"
        assert np.shape(jac) == np.shape(args[pos]), f"jacobian of {name} has shape {np.shape(jac)}\n{src}"
        if not np.all(_close(jac, numerical[pos])):
            raise AssertionError(f"jacobian of {name} is wrong:\n  srcdiff            {jac!r}\n"
                                 f"  finite differences {numerical[pos]!r}\nargs = {args!r}\n{src}")
    call_args = copy.deepcopy(args)
    hess = _run("hessian", src, srcdiff.hessian(user, wrt=pos), *call_args, **_extra(program))
    _unchanged("hessian", src, args, call_args)
    if isinstance(hess, Refused):
        return
    assert not np.iscomplexobj(hess), f"hessian of {name} is complex: {hess!r}\n{src}"
    shape = np.shape(args[pos])
    assert np.shape(hess) == shape + shape, f"hessian of {name} has shape {np.shape(hess)}\n{src}"
    gradient = srcdiff.grad(user, wrt=pos)

    def g(*a: Any) -> Any:
        _reset()
        return gradient(*a, **_extra(program))

    def differences(eps: float) -> np.ndarray:
        columns = []
        for idx in np.ndindex(shape):
            cotangent = np.zeros(shape)
            cotangent[idx] = 1.0
            columns.append(numerical_grad(g, args, pos, eps=eps, cotangent=cotangent))
        return np.reshape(np.stack([np.asarray(c, dtype=np.float64) for c in columns]), shape + shape)

    try:
        want = differences(1e-5)
    except srcdiff.errors.SrcdiffError:  # grad refused: nothing to difference
        return
    if np.all(_close(hess, want)):
        return
    err = np.abs(np.asarray(hess, dtype=np.float64) - want)
    for eps in (1e-4, 1e-6):
        if np.any(10 * np.abs(differences(eps) - want) >= err):
            _event("rejected: finite differences of the gradient unstable")
            reject()
    raise AssertionError(f"hessian of {name} is wrong:\n  srcdiff                      {hess!r}\n"
                         f"  differences of the gradient  {want!r}\nargs = {args!r}\n{src}")


def _tangents(args: tuple) -> tuple:
    """A random direction for every argument, shaped like it (a float for a float, a
    container of such for a container)."""
    rng = np.random.default_rng(len(args))

    def like(a: Any) -> Any:
        if isinstance(a, dict):
            return {k: like(v) for k, v in a.items()}
        if isinstance(a, (list, tuple)):
            return type(a)(like(v) for v in a)
        return float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a))

    return tuple(like(a) for a in args)


def _check_forward(program: Program, args: tuple, f: Callable, plain: Any, grads: tuple | None,
                   numerical: dict | None = None) -> None:
    """Forward mode against reverse mode: the output's tangent is ``sum(vdot(grad, tangent))``
    (against finite differences, more loosely, where reverse mode was refused)."""
    src = program.source
    tangents = _tangents(args)
    exact = grads is not None
    if not exact:
        grads = tuple(numerical[pos] for pos in range(len(args)))
    terms = [np.asarray(g, dtype=np.float64) * t for grad, tangent in zip(grads, tangents)
             for (_, g), (_, t) in zip(_flatten(grad), _flatten(tangent))]
    want = sum(float(np.sum(t)) for t in terms)
    scale = sum(float(np.sum(np.abs(t))) for t in terms)  # what the sum may cancel
    tolerance = 1e-9 * scale + 1e-12 if exact else RTOL * scale + ATOL * len(terms)
    for optimize in (True, False):
        label = "jvp" if optimize else "jvp(optimize=False)"
        call_args = copy.deepcopy(args)
        forward = srcdiff.jvp(f, wrt=tuple(range(len(args))), optimize=optimize)
        both = _run(label, src, forward, *call_args, *copy.deepcopy(tangents), **_extra(program))
        _unchanged(label, src, args, call_args)
        if isinstance(both, Refused):
            continue
        out, tangent = both
        np.testing.assert_allclose(out, plain, rtol=1e-12, atol=1e-12,
                                   err_msg=f"{label}'s value differs from the call\n{src}")
        assert not np.iscomplexobj(tangent), f"{label}: the output's tangent is complex: {tangent!r}\n{src}"
        assert np.ndim(tangent) == 0, f"{label}: the output's tangent has shape {np.shape(tangent)}\n{src}"
        assert abs(float(tangent) - want) <= tolerance, (
            f"{label}: the output's tangent is wrong:\n  jvp              {float(tangent)!r}\n"
            f"  grad . tangents  {want!r}\nargs = {args!r}\ntangents = {tangents!r}\n{src}")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(program=programs(FAMILIES), seed=st.integers(0, 2**32 - 1))
def test_fuzz_random_programs_match_finite_differences(program, seed):
    check_program(program, arguments(program, seed))


def test_check_program_catches_a_wrong_rule(monkeypatch):
    """The checker can fail: with np.tanh's adjoint deliberately wrong, it raises."""
    program = Program(
        params=(("x", (3,)), ("y", ())),
        body=(Assign(("a",), (BinOp("*", Call("np.tanh", (Name("x"),)), Name("y")),)),),
        result=Call("np.sum", (Name("a"),)),
    )
    args = (np.array([0.3, -0.5, 1.1]), 0.7)
    check_program(program, args)  # right as registered
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))
    srcdiff.register_adjoint(np.tanh, "tanh(x)", x="g * (1 - out)")
    with pytest.raises(AssertionError, match="gradient of x is wrong"):
        check_program(program, args)


def test_check_program_checks_each_entry_of_a_container(monkeypatch):
    """A dict parameter's gradient is checked entry by entry, and the failure names it."""
    spec = Container("dict", ("w", "b"), ((3,), ()))
    program = Program(
        params=(("params", spec),),
        body=(Assign(("a",), (BinOp("*", Call("np.tanh", (spec.entry("params", "w"),)),
                                    spec.entry("params", "b")),)),),
        result=Call("np.sum", (Name("a"),)),
    )
    args = ({"w": np.array([0.3, -0.5, 1.1]), "b": 0.7},)
    check_program(program, args)
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))
    srcdiff.register_adjoint(np.tanh, "tanh(x)", x="g * (1 - out)")
    with pytest.raises(AssertionError, match=r"gradient of params\['w'\] is wrong"):
        check_program(program, args)


# ------------------------------------------------------- the generator itself


CONSTRUCTS = ("+=", "-=", "*=", ", ", "np.where(", "np.maximum(", "np.minimum(", "np.max(", "np.mean(",
              ".sum(", ".max(", "keepdims=True", ".T", "[0]", "[1:]", "[::-1]", "[:, ", "math.sin(",
              "math.exp(", "np.log(", "np.sqrt(", "np.exp(", " ** ", " / ", "(-", "if ", "else:",
              "for ", "while ", "break", "continue", "def helper(",
              # matrix products, containers, building arrays, model-like patterns
              " @ ", "np.dot(", ".T @ ", 'params["', "layers[", "for layer in layers:", "for row in ",
              "np.stack(", "np.concatenate(", "hs = []", ".append(", "np.zeros(", "np.copy(",
              ".copy()", "] = ", "[i] = ", "] += ", "[[1, 0, 1]]", "layers[i]", "axis=0", "axis=-1", ".mean(",
              "np.min(",
              "np.var(", ".prod(",
              ", 0.0)", "(0.01 * ", "- np.max(", "np.log(np.sum(")


def _reassigns(program: Program) -> bool:
    """Whether the program assigns some name twice (or a parameter), so SSA must rename."""
    seen = [t for s in program.body for node in _walk(s)
            for t in (node.targets if isinstance(node, Assign) else
                      (node.target,) if isinstance(node, AugAssign) else ())]
    return len(seen) != len(set(seen)) or any(t in dict(program.params) for t in seen)


def test_generator_reaches_every_construct():
    """Every construct the fuzz test claims to cover turns up within a few hundred programs."""
    seen: set = set()

    @settings(max_examples=300, database=None, derandomize=True, phases=[Phase.generate],
              deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(programs())
    def collect(program):
        seen.update(c for c in CONSTRUCTS if c in program.source)
        if _reassigns(program):
            seen.add("reassignment")

    collect()
    assert set(CONSTRUCTS) | {"reassignment"} == seen


@given(program=programs(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_generated_programs_run(program, seed):
    """Python runs every generated program and agrees with the generator's evaluation."""
    _assert_python_agrees(program, arguments(program, seed))


def _assert_python_agrees(program: Program, args: tuple) -> None:
    """Python's run of the program's source gives the generator's own value (a real
    scalar), from the same random state."""
    f = make_function(program.source, name="f")
    with np.errstate(all="ignore"):
        _reset()
        value, _ = program.run(copy.deepcopy(args), extra=_extra(program))
        _reset()
        plain = f(*copy.deepcopy(args), **_extra(program))
    assume(np.all(np.isfinite(value)))
    assert np.ndim(plain) == 0 and not np.iscomplexobj(plain), program.source
    np.testing.assert_allclose(plain, value, rtol=1e-12, err_msg=program.source)


# ------------------------------------------------------- srcdiff bugs found here
# Minimal programs found wrong by the fuzz test or by the runtime tests.  Open bugs are
# strict expected failures, so a fix shows up as an unexpected pass (then drop the
# mark); fixed ones stay as plain regression tests.


@pytest.mark.parametrize("body", ["np.sum(x)", "np.where(x > 0, x, 0.0)", "np.sum(np.reshape(x, (1,)))"])
def test_regression_float_parameter_gets_a_float_gradient(body):
    f = make_function(f"def f(x):\n    return {body}\n")
    got = srcdiff.grad(f)(0.7)
    assert got == 1.0
    assert isinstance(got, float), f"{type(got).__name__} {got!r}"


def _assert_matches_finite_differences(src: str, args: tuple, wrt: int) -> None:
    f = make_function(src)
    got = srcdiff.grad(f, wrt=wrt)(*args)
    want = numerical_grad(f, args, wrt)
    assert np.shape(got) == np.shape(want), f"shape {np.shape(got)}, expected {np.shape(want)}\n{src}"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=src)


def test_regression_inner_with_a_scalar():
    src = "def f(s, x):\n    return np.sum(np.inner(s, x))\n"
    _assert_matches_finite_differences(src, (1.5, np.array([1.0, 2.0, 3.0])), 0)


def test_regression_norm_ord_zero():
    src = "def f(x):\n    return np.linalg.norm(x, ord=0)\n"
    _assert_matches_finite_differences(src, (np.array([1.0, -2.0, 3.0]),), 0)


def test_regression_solve_batched_matrix_vector():
    src = "def f(a, b):\n    return np.sum(np.linalg.solve(a, b))\n"
    a = np.array([[[3.0, 1.0, 0.0], [0.5, 2.5, 0.2], [0.1, 0.0, 4.0]],
                  [[2.0, 0.3, 0.1], [0.0, 3.0, 1.0], [1.0, 0.0, 2.5]]])
    _assert_matches_finite_differences(src, (a, np.array([1.0, 2.0, 3.0])), 1)


def test_regression_container_gradient_shares_memory_with_another_gradient():
    f = make_function("def f(p, x):\n    a = p['w'] + x\n    return np.sum(a)\n")
    gp, gx = srcdiff.grad(f, wrt=(0, 1))({"w": np.ones(3)}, np.ones(3))
    np.testing.assert_array_equal(gp["w"], np.ones(3))
    np.testing.assert_array_equal(gx, np.ones(3))
    assert not np.shares_memory(gp["w"], gx)


def _assert_all_modes_agree(src: str, args: tuple) -> None:
    """grad and jvp, optimized or not, against finite differences."""
    f = make_function(src, name="f")
    wrt = tuple(range(len(args)))
    want = [numerical_grad(f, args, pos) for pos in wrt]
    tangents = _tangents(args)
    for optimize in (True, False):
        got = srcdiff.grad(f, wrt=wrt, optimize=optimize)(*args)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=src)
        _, tangent = srcdiff.jvp(f, wrt=wrt, optimize=optimize)(*args, *tangents)
        np.testing.assert_allclose(tangent, sum(np.vdot(w, t) for w, t in zip(want, tangents)),
                                   rtol=RTOL, atol=ATOL, err_msg=src)


def test_regression_while_inside_a_loop_unoptimized():
    src = ("def f(x):\n"
           "    for i in range(1):\n"
           "        while x < 1.0:\n"
           "            x = x * 2.0\n"
           "    return x\n")
    _assert_all_modes_agree(src, (0.3,))


def test_regression_helper_loop_reassigning_a_parameter():
    """Was: the helper's pullback read 'u_1' before assigning it (UnboundLocalError)."""
    src = ("def helper(u):\n"
           "    for i in range(1):\n"
           "        v = u\n"
           "        u = u + i\n"
           "    return v\n"
           "\n"
           "\n"
           "def f(x):\n"
           "    return helper(x)\n")
    _assert_all_modes_agree(src, (0.4,))


def test_regression_jvp_where_broadcasts_a_scalar_branch():
    _assert_all_modes_agree("def f(s):\n    return np.sum(np.where(False, np.ones(3), s))\n", (0.7,))


def test_regression_inner_loop_header_read_after_an_outer_iteration():
    """The adjoint of an inner loop starts from the inner header's last value, which the
    outer loop must save for each of its iterations (its read came before a pop of the
    same name, which a loads-minus-stores count missed): NaN from a stale value."""
    src = ("def f(x):\n"
           "    x = x[0]\n"
           "    n = 0\n"
           "    while n < 1:\n"
           "        x, a = x, (0.5 + x)\n"
           "        n += 1\n"
           "    n = 0\n"
           "    while n < 2:\n"
           "        for j in range(1):\n"
           "            a = np.sqrt((1.0 + (x * x)))\n"
           "        a -= a\n"
           "        x = 0.5\n"
           "        n += 1\n"
           "    return np.sum(np.tanh(a))\n")
    _assert_matches_finite_differences(src, (np.array([0.54784675, -0.92085314, -1.8361059]),), 0)
    src2 = src.replace("a -= a", "a = a * 0.5")
    _assert_matches_finite_differences(src2, (np.array([0.5, -0.9, 1.8]),), 0)


def test_regression_copy_method():
    """Was: no rule for the method .copy() (np.copy had one), a NoRuleError."""
    _assert_all_modes_agree("def f(x):\n    return np.sum(x.copy())\n", (np.array([0.5, -1.0, 1.5]),))


def _assert_rejected_or_right(src: str) -> None:
    """A write into an array another name shares is an UnsupportedSyntaxError, or gives
    Python's value and gradient."""
    f = make_function(src)
    try:
        value, grad = srcdiff.value_and_grad(f)(0.7)
    except srcdiff.UnsupportedSyntaxError:
        return
    assert (value, grad) == (f(0.7), pytest.approx(numerical_grad(f, (0.7,), 0))), src


@pytest.mark.parametrize("write", ["b = a\n    a[0] = x", "b = a[:2]\n    a[0] = x",
                                   "hs = [a]\n    b = hs[0]\n    a[0] = x"])
def test_regression_write_through_an_alias(write):
    """Was: the derivative's copy on write left b with the old values (value 0.0 and
    gradient 0.0 where Python gives 0.7 and 1.0); now the fence rejects it."""
    src = f"def f(x):\n    a = np.zeros(3)\n    {write}\n    return np.sum(b)\n"
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="this write also changes"):
        srcdiff.grad(make_function(src))(0.7)
    _assert_rejected_or_right(src)


@pytest.mark.parametrize("write", ["b, c = a, 1.0\n    a[0] = x", "b = c = a\n    a[0] = x",
                                   "b = a\n    a[:] += x"])
def test_regression_write_through_an_alias_unpacked_chained_or_augmented(write):
    """Was: the fence missed these aliases (value 0.0 and gradient 0.0, not Python's)."""
    src = f"def f(x):\n    a = np.zeros(3)\n    {write}\n    return np.sum(b)\n"
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="this write also changes"):
        srcdiff.grad(make_function(src))(0.7)


def test_regression_write_through_an_alias_missed():
    """Was: the fence could not tell an array (updated in place by a += x) from a float
    (rebound), and the derivative rebound: value 0.0 and gradient 0.0, not Python's."""
    _assert_rejected_or_right("def f(x):\n    a = np.zeros(3)\n    b = a\n    a += x\n    return np.sum(b)\n")


def test_regression_write_through_a_row_view():
    """Was: the fence missed a row of a 2-D array, a[0], as a view: value 0.0 and
    gradient 0.0, not Python's 0.7 and 1.0."""
    _assert_rejected_or_right("def f(x):\n    a = np.zeros((2, 3))\n    b = a[0]\n    a[0, 1] = x\n"
                              "    return np.sum(b)\n")


def test_regression_write_into_a_rebound_name():
    """Was: UnsupportedSyntaxError (x = np.zeros(3) rebinds x to a fresh array first)."""
    src = "def f(y):\n    x = y\n    x = np.zeros(3)\n    x[0] = 0.5\n    return np.sum(x * y)\n"
    _assert_all_modes_agree(src, (np.array([1.0, 2.0, 3.0]),))


def test_regression_entry_broadcast_with_extra_dims():
    """NumPy drops the leading 1s of an assigned value that has more dimensions than the
    entries, and broadcasts the rest.  Was: reverse mode handled either alone, not both
    (ValueError from runtime.unbroadcast_to for h of shape (1, 1))."""
    src = "def f(h):\n    k = np.zeros(3)\n    k[:] = h\n    return np.sum(k)\n"
    _assert_all_modes_agree(src, (np.array([[0.7]]),))


def test_regression_one_times_an_int_stays_a_float():
    """Was: simplify folded 1.0 * n to n, an int, so b was an int array and b[0] = z
    truncated z: value 0 and gradient 0.0 (optimize=False and jvp were right)."""
    src = "def f(z, n):\n    b = np.array([1.0 * n])\n    b[0] = z\n    return np.sum(b * b)\n"
    f = make_function(src)
    assert srcdiff.value_and_grad(f)(0.5, 0) == (0.25, 1.0)


def test_regression_an_alias_made_in_one_branch_allows_writes_in_the_other():
    """Was: UnsupportedSyntaxError (``a = w`` in the ``if`` branch was taken to hold in
    the ``else`` branch, whose ``a`` is a fresh array)."""
    src = ("def f(w, s):\n    a = np.zeros(3)\n    b = w\n    if s > 0.0:\n        a = w\n"
           "        w = w * 2.0\n    else:\n        a[0] = s\n    return np.sum(a * b) + np.sum(w)\n")
    for s in (0.5, -0.5):
        _assert_all_modes_agree(src, (np.array([1.0, 2.0, 3.0]), s))


def test_regression_an_alias_made_in_a_branch_is_still_seen_after_it():
    src = ("def f(x, s):\n    a = np.zeros(3)\n    b = np.ones(3)\n    if s > 0.0:\n        b = a\n"
           "    a[0] = x\n    return np.sum(b)\n")
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="this write also changes"):
        srcdiff.grad(make_function(src))(0.7, 1.0)


# ------------------------------------------------ fuzz_grammar's construct families
# Drawn by the fuzz test where SRCDIFF_FUZZ_FAMILIES (or DEFAULT_FAMILIES) names them; the
# generator itself is tested here whatever the setting.


@pytest.mark.parametrize("family", list(fuzz_grammar.FAMILIES))
def test_family_programs_run_and_show_their_constructs(family):
    """Python runs every program of the family, agrees with the generator's evaluation,
    and the family's main constructs turn up within thirty programs."""
    seen: set = set()
    wanted = fuzz_grammar.CONSTRUCTS[family]

    @settings(max_examples=30, database=None, derandomize=True, phases=[Phase.generate],
              deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.filter_too_much])
    @given(program=programs((family,)), seed=st.integers(0, 2**32 - 1))
    def run(program, seed):
        seen.update(c for c in wanted if c in program.source)
        _assert_python_agrees(program, arguments(program, seed))

    run()
    assert set(wanted) == seen, f"never drawn: {sorted(set(wanted) - seen)}"


def test_families_parse():
    assert fuzz_grammar.parse_families("all") == tuple(fuzz_grammar.FAMILIES)
    assert fuzz_grammar.parse_families("") == ()
    assert fuzz_grammar.parse_families("views, lists") == ("views", "lists")
    with pytest.raises(ValueError, match="unknown fuzz families"):
        fuzz_grammar.parse_families("viewz")


def test_regression_a_generator_method_is_refused_only_when_it_runs():
    """Was: a method of a Generator argument on a differentiated value was found to have
    no rule only when the derivative reached the call (NoRuleError while running)."""
    ran = []
    src = ("def f(x, rng):\n    ran.append(1)\n    a = np.sum(np.sin(x))\n"
           "    r = rng.normal(a, 1.0, size=3)\n    return np.sum(r * r)\n")
    f = make_function(src, {"ran": ran})
    with pytest.raises(srcdiff.NoRuleError):
        srcdiff.grad(f)(np.array([0.5, 1.0]), np.random.default_rng(0))
    assert not ran  # refused before the function ran


def test_regression_vjp_of_nested_loops_reads_each_inner_loops_last_value():
    """Found by the fuzz campaign: vjp (and so jacobian in reverse mode) kept the inner
    loop's last header value once, after the outer loop, and every outer iteration's
    pullback read that one (grad, which pops it per iteration, was right)."""
    src = ("def f(y):\n    for k in range(2):\n        for j in range(3):\n"
           "            y = np.exp(y - np.max(y))\n    return np.sum(y * y)\n")
    f = make_function(src)
    y = np.array([1.82497458, 0.62469871, -0.24516725])
    expected = numerical_grad(f, (y.copy(),), 0)
    out, pullback = srcdiff.vjp(f)(y)
    np.testing.assert_allclose(pullback(1.0), expected, rtol=1e-6)
    np.testing.assert_allclose(srcdiff.jacobian(f, mode="reverse")(y), expected, rtol=1e-6)


@pytest.mark.parametrize("body", ["np.sign(z)", "np.linalg.norm(z)", "np.maximum(z, 0.5)", "np.fft.fft(z)"])
def test_regression_a_refusal_inside_a_helper_comes_before_running(body):
    """Found by the fuzz campaign (complex family): a function refused for a complex value
    that carries a derivative is refused before the program runs when the program calls
    it, but inside a helper only when the helper is first called, after the program's
    own statements (here, an append) have run."""
    ran = []
    src = (f"def unit(z):\n    return {body}\n\n\ndef f(x):\n    ran.append(1)\n"
           "    return np.sum(np.real(unit(x * (1 + 1j))))\n")
    f = make_function(src, {"ran": ran}, name="f")
    x = np.array([0.3, -0.7, 1.2])
    with pytest.raises(srcdiff.errors.SrcdiffError):
        srcdiff.grad(f)(x)
    with pytest.raises(srcdiff.errors.SrcdiffError):
        srcdiff.jvp(f)(x, np.ones(3))
    assert not ran  # refused before the function ran


@pytest.mark.parametrize("write", ["z[0] = x[1] * 1j", "z[1:] += 1j * x[:2]", "z[0] *= 1j"])
@pytest.mark.parametrize("make", ["x + 1j", "x.astype(complex)"])
def test_regression_jvp_of_a_complex_entry_write(make, write):
    """Found by the fuzz campaign (complex family): z's tangent is real (its imaginary part
    is constant), and a complex value written into an entry of z has a complex tangent;
    jvp (optimized or not) kept only its real part.  grad is right."""
    src = f"def f(x):\n    z = {make}\n    {write}\n    return np.sum(np.imag(z)) + np.sum(np.real(z) ** 2)\n"
    _assert_all_modes_agree(src, (np.array([0.3, -0.6, 0.8]),))


@pytest.mark.parametrize("make, read", [("complex(0.5, t)", "np.imag(c)"), ("t * (1 + 1j)", "np.real(c)"),
                                        ("t * (1 + 1j)", "c.imag"), ("t * 2.0", "np.real(c)"),
                                        ("t * 2.0", "c.real")])
def test_regression_real_part_of_a_python_number_in_a_loop(make, read):
    """Found by the fuzz campaign (complex family): grad raised AttributeError ('float' object
    has no attribute 'shape') from its own code, for real and complex Python numbers alike.
    (A Python complex stays one through arithmetic with NumPy floats, ``acc * x[i]``.)"""
    src = (f"def f(t):\n    y = 0.0\n    for i in range(2):\n        c = {make}\n        y = y + {read}\n"
           "    return y\n")
    _assert_all_modes_agree(src, (0.7,))
