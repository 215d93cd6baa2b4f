"""Whole random programs: srcdiff's gradients against central finite differences.

Hypothesis draws well-formed straight-line Python/NumPy functions -- float and
float-array parameters whose shapes broadcast against each other, a few statements
that assign fresh or existing names (so SSA renaming matters), tuple unpacking and
augmented assignment, element-wise functions, reductions, transposes and indexing --
writes each as source text, and checks ``srcdiff.grad`` with respect to every
parameter against :func:`srcdiff.testing.numerical_grad`, and ``value_and_grad``'s
value against the plain call.

A program is a small tree of expression and statement objects that can both print
themselves as source and evaluate themselves.  Evaluating does three jobs: it gives
the generator the shape (and aliasing) of every value it can build on, so every
program it writes is valid; it measures how close the arguments are to a kink
(a tie in ``np.maximum``/``np.where``/``np.max``), so the check skips points where the
function is not differentiable; and it cross-checks the generator against Python
running the written source.

New kinds of statement (branches, loops) are added to :data:`STATEMENTS`: each is a
function drawing one statement object with ``lines()`` and ``execute()``.

``SRCDIFF_FUZZ_EXAMPLES`` sets how many programs the fuzz test draws (``make fuzz``
asks for 2000).  A failing program is printed in full, with its arguments.
"""

from __future__ import annotations

import copy
import math
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass
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


# ----------------------------------------------------------------- statements


@dataclass(frozen=True, eq=False)
class Assign:
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
class AugAssign:
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
class Program:
    params: tuple  # ((name, shape), ...); shape () is a Python float
    body: tuple
    result: Expr

    @property
    def source(self) -> str:
        lines = [f"def f({', '.join(name for name, _ in self.params)}):"]
        for stmt in self.body:
            lines += ["    " + line for line in stmt.lines()]
        lines.append(f"    return {self.result.source()}")
        return "\n".join(lines) + "\n"

    def run(self, args: tuple) -> tuple[Any, Trace]:
        trace = Trace()
        env = {name: value for (name, _), value in zip(self.params, args)}
        for stmt in self.body:
            stmt.execute(env, trace)
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


class Builder:
    """Draws one program, statement by statement, knowing every value's shape."""

    def __init__(self, draw: Callable, params: tuple):
        self.draw = draw
        self.params = params
        self.originals = [_dummy(shape) for _, shape in params]
        self.env = {name: value for (name, _), value in zip(params, self.originals)}
        self.body: list = []

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
            return Name(self.choose(names))
        return Const(self.choose([0.5, 2, 1.5, 3.0, 0.25]))

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

    # -- statements

    def target(self) -> str:
        fresh = [n for n in LOCAL_NAMES if n not in self.env]
        if fresh and self.draw(st.integers(0, 2)) > 0:
            return fresh[0]
        return self.choose(sorted(self.env))

    def assign(self) -> Any:
        return Assign((self.target(),), (self.expr(self.draw(st.integers(1, 3))),))

    def unpack(self) -> Any:
        first = self.target()
        second = self.target()
        if second == first:
            second = next((n for n in LOCAL_NAMES if n not in self.env and n != first), None)
            if second is None:
                return self.assign()
        values = (self.expr(self.draw(st.integers(0, 2))), self.expr(self.draw(st.integers(0, 2))))
        return Assign((first, second), values)

    def aliased(self, name: str) -> bool:
        value = self.env[name]
        others = [v for n, v in self.env.items() if n != name] + self.originals
        return any(isinstance(v, np.ndarray) and np.may_share_memory(value, v) for v in others)

    def augassign(self) -> Any:
        names = [n for n, v in self.env.items() if not isinstance(v, np.ndarray) or not self.aliased(n)]
        if not names:
            return self.assign()
        name = self.choose(sorted(names))
        op = self.choose("+-*")
        value = self.expr(self.draw(st.integers(0, 2)))
        current = self.env[name]
        shape = self.shape(value)
        fits = _broadcasts(np.shape(current), shape)
        if fits and isinstance(current, np.ndarray):  # in place: the result keeps current's shape
            fits = np.broadcast_shapes(current.shape, shape) == current.shape
        if not fits:
            value = Const(self.choose([0.5, 2, 1.5]))
        return AugAssign(name, op, value)

    def statement(self) -> Any:
        stmt = STATEMENTS[self.choose(STATEMENT_KINDS)](self)
        with np.errstate(all="ignore"):
            stmt.execute(self.env, Trace())
        self.body.append(stmt)
        return stmt

    def result(self, last: str) -> Expr:
        """np.sum of the last value, plus terms so that every parameter may matter."""
        result: Expr = Call("np.sum", (Name(last),))
        used = {n.id for stmt in self.body for n in _names(stmt)}
        extra = [n for n, _ in self.params if n not in used or self.draw(st.booleans())]
        extra += [n for n in LOCAL_NAMES if n in self.env and n != last and self.draw(st.booleans())]
        for name in extra:
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


def _names(node: Any) -> list:
    """Every Name read inside a statement or expression."""
    if isinstance(node, Name):
        return [node]
    found = []
    for value in vars(node).values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, (Expr, Assign, AugAssign)):
                found += _names(item)
    return found


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
}
# Weighted by repetition: sampled_from shrinks towards the front of the list.
EXPRESSIONS = ["leaf", "binary", "binary", "unary", "unary", "negate", "power", "extremum",
               "where", "reduce", "reduce", "transpose", "index", "index", "math"]

# Statement kinds; a loop or branch statement is one more entry here.
STATEMENTS: dict[str, Callable] = {
    "assign": Builder.assign,
    "unpack": Builder.unpack,
    "augassign": Builder.augassign,
}
STATEMENT_KINDS = ["assign", "assign", "assign", "unpack", "augassign"]


@st.composite
def programs(draw: Callable) -> Program:
    count = draw(st.integers(1, 4))
    shapes = draw(st.lists(st.sampled_from(PARAM_SHAPES), min_size=count, max_size=count))
    if all(s == () for s in shapes):
        shapes[0] = (3,)
    builder = Builder(draw, tuple(zip(PARAM_NAMES, shapes)))
    last = None
    for _ in range(draw(st.integers(2, 12))):
        stmt = builder.statement()
        last = stmt.targets[0] if isinstance(stmt, Assign) else stmt.target
    return Program(builder.params, tuple(builder.body), builder.result(last))


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

    f = make_function(src)
    plain = f(*copy.deepcopy(args))
    np.testing.assert_allclose(plain, value, rtol=1e-12, atol=1e-12,
                               err_msg=f"the generator's evaluation disagrees with Python's\n{src}")
    wrt = tuple(range(len(args)))
    numerical: dict[int, Any] = {}
    for optimize in (True, False):
        call_args = copy.deepcopy(args)
        grads = srcdiff.grad(f, wrt=wrt, optimize=optimize)(*call_args)
        label = "grad" if optimize else "grad(optimize=False)"
        for pos, (before, after) in enumerate(zip(args, call_args)):
            assert _same(before, after), f"{label} changed argument {pos} in place\n{src}"
        assert isinstance(grads, tuple) and len(grads) == len(args), f"{label} returned {grads!r}\n{src}"
        for pos, got in enumerate(grads):
            if pos not in numerical:
                numerical[pos] = numerical_grad(f, args, pos)
            _check_gradient(program, args, f, pos, got, numerical[pos], label)
        if optimize:
            optimized = grads

    out, grads2 = srcdiff.value_and_grad(f, wrt=wrt)(*copy.deepcopy(args))
    np.testing.assert_allclose(out, plain, rtol=1e-12, atol=1e-12,
                               err_msg=f"value_and_grad's value differs from the call\n{src}")
    for got, again in zip(optimized, grads2):
        np.testing.assert_allclose(again, got, rtol=1e-12, atol=1e-12,
                                   err_msg=f"value_and_grad's gradient differs from grad's\n{src}")


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
              "math.exp(", "np.log(", "np.sqrt(", "np.exp(", " ** ", " / ", "(-")


def _reassigns(program: Program) -> bool:
    """Whether the program assigns some name twice (or a parameter), so SSA must rename."""
    seen = [t for s in program.body for t in (s.targets if isinstance(s, Assign) else (s.target,))]
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
    f = make_function(program.source)
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
