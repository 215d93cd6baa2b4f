"""Whole random programs: srcdiff's gradients against central finite differences.

Hypothesis draws well-formed Python/NumPy functions -- float and float-array parameters
whose shapes broadcast against each other, statements that assign fresh or existing
names (so SSA renaming matters), tuple unpacking and augmented assignment, element-wise
functions, reductions, transposes and indexing; ``if``/``else`` on a reduced value
against a constant; ``for i in range(N)`` and counted ``while`` loops whose bodies
carry values from one pass to the next and may ``break`` or ``continue``; and calls of a
module-level helper function -- writes each as source text, and checks
``srcdiff.grad`` with respect to every parameter against
:func:`srcdiff.testing.numerical_grad`, ``value_and_grad``'s value against the plain
call, and ``srcdiff.jvp`` (forward mode) against the reverse-mode gradient.

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

from .conftest import make_function

FUZZ_EXAMPLES = int(os.environ.get("SRCDIFF_FUZZ_EXAMPLES", "40"))
RTOL, ATOL = 1e-4, 1e-6
MIN_GAP = 1e-3  # how far every kink (tie) must be from the evaluation point
MAX_MAGNITUDE = 1e3  # larger intermediate values make finite differences unreliable

PARAM_NAMES = ("x", "y", "z", "w")
LOCAL_NAMES = ("a", "b", "c", "d", "e", "h", "k", "m")
PARAM_SHAPES = ((), (3,), (2, 3), (2, 1), (1, 3))
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
          "**": operator.pow}


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
        return eval(f"_v[{self.index}]", {"_v": self.operand.evaluate(env, trace)})


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
        env[self.target] = BINARY[self.op](env[self.target], self.value.evaluate(env, trace))
        trace.value(env[self.target])


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
    """``for i in range(count):``; the body may read ``i`` (an int)."""

    var: str
    count: int
    body: tuple

    def lines(self) -> list[str]:
        return [f"for {self.var} in range({self.count}):", *_indented(self.body)]

    def execute(self, env: dict, trace: Trace) -> None:
        for i in range(self.count):
            env[self.var] = i
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


@dataclass(frozen=True, eq=False)
class Program:
    params: tuple  # ((name, shape), ...); shape () is a Python float
    body: tuple
    result: Expr
    name: str = "f"
    helper: Program | None = None  # a module-level function that ``body`` calls

    @property
    def source(self) -> str:
        lines = [*self.helper.source.splitlines(), "", ""] if self.helper else []
        lines.append(f"def {self.name}({', '.join(name for name, _ in self.params)}):")
        lines += _indented(self.body)
        lines.append(f"    return {self.result.source()}")
        return "\n".join(lines) + "\n"

    def run(self, args: tuple, trace: Trace | None = None) -> tuple[Any, Trace]:
        trace = Trace() if trace is None else trace
        env = {name: value for (name, _), value in zip(self.params, args)}
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


def _dummy(shape: tuple) -> Any:
    return 0.5 if shape == () else np.linspace(0.3, 0.7, math.prod(shape)).reshape(shape)


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

    ``a += e`` works in place, so it is only written where no other name can share
    ``a``'s memory on any path: :attr:`owned` holds the names whose value was made fresh
    (not a name, view or helper result) on every path, and inside a loop no name updated
    in place may later become shared.  Before the first branch or loop, the stand-in
    values' memory tells exactly, as in straight-line code.
    """

    def __init__(self, draw: Callable, params: tuple, helper: Program | None = None,
                 is_helper: bool = False):
        self.draw = draw
        self.params = params
        self.helper = helper  # the helper the program may call
        self.max_depth = 1 if is_helper else 2  # of nested branches and loops
        self.originals = [_dummy(shape) for _, shape in params]
        self.env = {name: value for (name, _), value in zip(params, self.originals)}
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

    def value(self, expr: Expr) -> Any:
        with np.errstate(all="ignore"):
            return expr.evaluate(self.env, Trace())

    def shape(self, expr: Expr) -> tuple:
        return np.shape(self.value(expr))

    def choose(self, options: Any) -> Any:
        return self.draw(st.sampled_from(list(options)))

    # -- expressions

    def leaf(self, fits: tuple | None = None) -> Expr:
        """A name, or a constant; with ``fits``, one that broadcasts with that shape."""
        names = [n for n in self.env if fits is None or _broadcasts(np.shape(self.env[n]), fits)]
        if names and self.draw(st.integers(0, 4)) > 0:
            name = self.choose(names)
            if name in self.fixed:  # a loop's int as a float factor: no int arrays
                return BinOp("*", Const(self.choose([0.5, 1.0])), Name(name))
            return Name(name)
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
        names = [n for n in self.env if np.ndim(self.env[n]) >= min_ndim]
        return Name(self.choose(names)) if names else None

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
        operand = self.expr(depth)
        fn = self.choose(["sum", "mean", "max"])
        kink = "max" if fn == "max" else None
        ndim = np.ndim(self.value(operand))
        if ndim == 0:
            return Call(f"np.{fn}", (operand,), kink=kink)
        axis = self.choose([None, *range(-ndim, ndim)])
        kwargs = () if axis is None else (("axis", axis),)
        if self.draw(st.booleans()):  # the method spelling, x.sum(axis=0)
            return Call(fn, (operand,), kwargs, method=True, kink=kink)
        if axis is not None and self.draw(st.booleans()):
            kwargs += (("keepdims", True),)
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
        return Index(operand, self.choose(options))

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
                names = [n for n in self.env if np.shape(self.env[n]) == shape and n not in self.fixed]
                if not names:
                    return self.leaf()
                arg = Name(self.choose(names))
            args.append(arg)
        return HelperCall(self.helper, tuple(args))

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
            stmt.execute(self.env, Trace())
        for target, value in zip(stmt.targets, stmt.values):
            shared = _roots(value)
            self.disown(shared)
            if shared:
                self.disown({target})
            else:
                self.owned.add(target)
            for loop in self.loops:
                if loop.jumped:
                    loop.after_jump.add(target)
            self.assigned.append(target)
        return stmt

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
        if fits and (isinstance(current, np.ndarray) or name in self.pinned):
            # in place (or inside a branch or loop): the result keeps current's shape
            fits = np.broadcast_shapes(np.shape(current), shape) == np.shape(current)
        if not fits:
            value = Const(self.choose([0.5, 2, 1.5]))
        for loop in self.loops:
            loop.updated.add(name)
        stmt = AugAssign(name, op, value)
        with np.errstate(all="ignore"):
            stmt.execute(self.env, Trace())
        return stmt

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

    def loop_body(self, var: str, start: int, can_continue: bool) -> tuple:
        """Draw a loop body reading the int ``var``; then forget what may not have run."""
        self.straight = False
        before, owned = dict(self.env), set(self.owned)
        loop = Loop(can_continue)
        self.loops.append(loop)
        self.env[var] = start
        self.fixed.add(var)
        body = self.nested(self.draw(st.integers(1, 3)))
        self.fixed.discard(var)
        del self.env[var]
        self.loops.pop()
        for name in loop.after_jump - set(before):
            self.env.pop(name, None)
        self.owned = ((owned - loop.disowned)
                      | (self.owned - loop.disowned - loop.after_jump)) & set(self.env)
        return body

    def for_loop(self) -> Stmt:
        var = LOOP_VARIABLES[len(self.loops)]
        return For(var, self.draw(st.integers(1, 4)), self.loop_body(var, 0, True))

    def while_loop(self) -> Stmt:
        counter = COUNTERS[len(self.loops)]
        step_first = self.draw(st.booleans())
        count = self.draw(st.integers(1, 4))
        return While(counter, count, self.loop_body(counter, int(step_first), step_first), step_first)

    def jump(self) -> Stmt:
        """``if <cond>: break`` (or ``continue``) in the innermost loop."""
        loop = self.loops[-1]
        kind = self.choose(["break", "continue"] if loop.can_continue else ["break"])
        loop.jumped = True
        return If(self.condition(), (Jump(kind),))

    def statement(self) -> Stmt:
        kinds = [k for k in STATEMENT_KINDS if self.allows(k)]
        return STATEMENTS[self.choose(kinds)](self)

    def allows(self, kind: str) -> bool:
        if kind == "while" and self.loops and not DRAW_WHILE_INSIDE_LOOPS:
            return False
        if kind in ("if", "for", "while"):
            return self.depth < self.max_depth
        if kind == "jump":
            return bool(self.loops)
        return True

    def result(self, body: tuple) -> Expr:
        """np.sum of the last value assigned, plus terms so that every parameter may matter."""
        last = next((n for n in reversed(self.assigned) if n in self.env), self.params[0][0])
        result: Expr = Call("np.sum", (Name(last),))
        used = {n.id for stmt in body for n in _names(stmt)}
        extra = [n for n, _ in self.params if n not in used or self.draw(st.booleans())]
        extra += [n for n in LOCAL_NAMES if n in self.env and n != last and self.draw(st.booleans())]
        for name in extra:
            if name == last:
                continue
            form = self.draw(st.integers(0, 2))
            operand = Name(name)
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
            if isinstance(item, (Expr, Stmt)) and key != "helper":
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
}
# Weighted by repetition: sampled_from shrinks towards the front of the list.
EXPRESSIONS = ["leaf", "binary", "binary", "unary", "unary", "negate", "power", "extremum",
               "where", "reduce", "reduce", "transpose", "index", "index", "math", "call", "call"]

STATEMENTS: dict[str, Callable] = {
    "assign": Builder.assign,
    "unpack": Builder.unpack,
    "augassign": Builder.augassign,
    "if": Builder.branch,
    "for": Builder.for_loop,
    "while": Builder.while_loop,
    "jump": Builder.jump,  # if <cond>: break / continue; only inside a loop
}
STATEMENT_KINDS = ["assign", "assign", "assign", "unpack", "augassign", "if", "for", "jump", "while"]
# Steering away from open srcdiff bugs, so the fuzz test can find others; each switch names
# the strict-xfail regression test at the bottom of this file that pins its bug.
DRAW_WHILE_INSIDE_LOOPS = True  # False while test_regression_while_inside_a_loop_unoptimized fails
LOOP_VARIABLES = ("i", "j")  # by how many loops enclose the new one
COUNTERS = ("n", "p")


def helpers(draw: Callable, shapes: list) -> Program:
    """A module-level helper of one or two parameters, shaped like some of ``shapes``."""
    count = draw(st.integers(1, 2))
    params = tuple(zip(("u", "v"), (draw(st.sampled_from(shapes)) for _ in range(count))))
    builder = Builder(draw, params, is_helper=True)
    body = builder.block(draw(st.integers(0, 3)))
    result = builder.expr(draw(st.integers(1, 3)))
    return Program(params, body, result, name="helper")


@st.composite
def programs(draw: Callable) -> Program:
    count = draw(st.integers(1, 4))
    shapes = draw(st.lists(st.sampled_from(PARAM_SHAPES), min_size=count, max_size=count))
    if all(s == () for s in shapes):
        shapes[0] = (3,)
    helper = helpers(draw, shapes) if draw(st.booleans()) else None
    builder = Builder(draw, tuple(zip(PARAM_NAMES, shapes)), helper)
    body = builder.block(draw(st.integers(2, 12)))
    called = any(isinstance(n, HelperCall) for stmt in body for n in _walk(stmt))
    return Program(builder.params, body, builder.result(body), helper=helper if called else None)


def arguments(program: Program, seed: int) -> tuple:
    """Arguments for the program's parameters, uniform in [-2, 2]."""
    rng = np.random.default_rng(seed)
    args = []
    for _, shape in program.params:
        value = rng.uniform(-2.0, 2.0, size=shape)
        args.append(float(value) if shape == () else value)
    return tuple(args)


# ---------------------------------------------------------------------- check


def _event(text: str) -> None:
    if currently_in_test_context():  # check_program also runs outside Hypothesis
        event(text)


def _close(got: Any, want: Any) -> np.ndarray:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return np.abs(got - want) <= ATOL + RTOL * np.abs(want)


def _same(a: Any, b: Any) -> bool:
    return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))


def _check_gradient(program: Program, args: tuple, f: Callable, pos: int, got: Any, want: Any,
                    label: str) -> None:
    """One gradient against finite differences ``want``; rejects if those are unreliable."""
    src = program.source
    arg = args[pos]
    name = program.params[pos][0]
    assert np.shape(got) == np.shape(arg), (
        f"{label}: gradient of {name} has shape {np.shape(got)}, {name} has {np.shape(arg)}\n{src}")
    assert np.all(np.isfinite(got)), f"{label}: gradient of {name} is not finite: {got!r}\n{src}"
    if isinstance(arg, float):  # "a float for a float" (a NumPy float64 is a float)
        assert isinstance(got, float), (
            f"{label}: gradient of the float {name} is {type(got).__name__} {got!r}\n{src}")
    ok = _close(got, want)
    if ok.all():
        return
    # Before blaming srcdiff, make sure finite differences agree with themselves.
    err = np.abs(np.asarray(got, dtype=np.float64) - want)
    for eps in (1e-5, 1e-7):
        spread = np.abs(numerical_grad(f, args, pos, eps=eps) - want)
        if np.any(10 * spread[~ok] >= err[~ok]):
            _event("rejected: finite differences unstable")
            reject()
    raise AssertionError(
        f"{label}: gradient of {name} is wrong:\n  srcdiff            {got!r}\n"
        f"  finite differences {want!r}\nargs = {args!r}\n{src}")


def _run(label: str, src: str, derivative: Callable, *args: Any) -> Any:
    """Call a derivative; an exception it raises fails the check with the program's source.

    (Raised from here, not from srcdiff's generated code, whose pseudo-filename changes
    on every compile: Hypothesis would take each replay for a different failure.)
    """
    try:
        return derivative(*args)
    except Exception as exc:
        error = f"{label} raised {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}\n{src}"
    raise AssertionError(error)  # outside ``except``: no chained context either


def check_program(program: Program, args: tuple) -> None:
    """The whole check of one program at one point; rejects points it cannot judge."""
    src = program.source
    if currently_in_test_context():
        note(src)
        note(f"args = {args!r}")
    with np.errstate(all="raise"):
        try:
            value, trace = program.run(copy.deepcopy(args))
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

    f = make_function(src, name="f")
    plain = f(*copy.deepcopy(args))
    np.testing.assert_allclose(plain, value, rtol=1e-12, atol=1e-12,
                               err_msg=f"the generator's evaluation disagrees with Python's\n{src}")
    wrt = tuple(range(len(args)))
    numerical: dict[int, Any] = {}
    for optimize in (True, False):
        call_args = copy.deepcopy(args)
        label = "grad" if optimize else "grad(optimize=False)"
        grads = _run(label, src, srcdiff.grad(f, wrt=wrt, optimize=optimize), *call_args)
        for pos, (before, after) in enumerate(zip(args, call_args)):
            assert _same(before, after), f"{label} changed argument {pos} in place\n{src}"
        assert isinstance(grads, tuple) and len(grads) == len(args), f"{label} returned {grads!r}\n{src}"
        for pos, got in enumerate(grads):
            if pos not in numerical:
                numerical[pos] = numerical_grad(f, args, pos)
            _check_gradient(program, args, f, pos, got, numerical[pos], label)
        if optimize:
            optimized = grads

    out, grads2 = _run("value_and_grad", src, srcdiff.value_and_grad(f, wrt=wrt), *copy.deepcopy(args))
    np.testing.assert_allclose(out, plain, rtol=1e-12, atol=1e-12,
                               err_msg=f"value_and_grad's value differs from the call\n{src}")
    for got, again in zip(optimized, grads2):
        np.testing.assert_allclose(again, got, rtol=1e-12, atol=1e-12,
                                   err_msg=f"value_and_grad's gradient differs from grad's\n{src}")
    _check_forward(program, args, f, plain, optimized)


def _tangents(args: tuple) -> tuple:
    """A random direction for every argument, shaped like it (a float for a float)."""
    rng = np.random.default_rng(len(args))
    return tuple(float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a))
                 for a in args)


def _check_forward(program: Program, args: tuple, f: Callable, plain: Any, grads: tuple) -> None:
    """Forward mode against reverse mode: the output's tangent is ``sum(vdot(grad, tangent))``."""
    src = program.source
    tangents = _tangents(args)
    terms = [np.asarray(g, dtype=np.float64) * t for g, t in zip(grads, tangents)]
    want = sum(float(np.sum(t)) for t in terms)
    scale = sum(float(np.sum(np.abs(t))) for t in terms)  # what the sum may cancel
    for optimize in (True, False):
        label = "jvp" if optimize else "jvp(optimize=False)"
        call_args = copy.deepcopy(args)
        forward = srcdiff.jvp(f, wrt=tuple(range(len(args))), optimize=optimize)
        out, tangent = _run(label, src, forward, *call_args, *copy.deepcopy(tangents))
        for pos, (before, after) in enumerate(zip(args, call_args)):
            assert _same(before, after), f"{label} changed argument {pos} in place\n{src}"
        np.testing.assert_allclose(out, plain, rtol=1e-12, atol=1e-12,
                                   err_msg=f"{label}'s value differs from the call\n{src}")
        assert np.ndim(tangent) == 0, f"{label}: the output's tangent has shape {np.shape(tangent)}\n{src}"
        assert abs(float(tangent) - want) <= 1e-9 * scale + 1e-12, (
            f"{label}: the output's tangent is wrong:\n  jvp              {float(tangent)!r}\n"
            f"  grad . tangents  {want!r}\nargs = {args!r}\ntangents = {tangents!r}\n{src}")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(program=programs(), seed=st.integers(0, 2**32 - 1))
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


# ------------------------------------------------------- the generator itself


CONSTRUCTS = ("+=", "-=", "*=", ", ", "np.where(", "np.maximum(", "np.minimum(", "np.max(", "np.mean(",
              ".sum(", ".max(", "keepdims=True", ".T", "[0]", "[1:]", "[::-1]", "[:, ", "math.sin(",
              "math.exp(", "np.log(", "np.sqrt(", "np.exp(", " ** ", " / ", "(-", "if ", "else:",
              "for ", "while ", "break", "continue", "def helper(")


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
    args = arguments(program, seed)
    f = make_function(program.source, name="f")
    with np.errstate(all="ignore"):
        value, _ = program.run(copy.deepcopy(args))
        plain = f(*copy.deepcopy(args))
    assume(np.all(np.isfinite(value)))
    assert np.ndim(plain) == 0
    np.testing.assert_allclose(plain, value, rtol=1e-12, err_msg=program.source)


# ------------------------------------------------------- srcdiff bugs found here
# Minimal programs found wrong by the fuzz test or by test_runtime.py.  Open bugs are
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
