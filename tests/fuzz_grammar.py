"""Construct families for the random-program fuzzer (tests/test_programs.py).

Each family draws one *snippet*: a few lines of source that build fresh arrays or lists
from the program's values (any expression the main grammar draws), work on them with
the construct under test -- views and aliases written through, in-place operators,
mutating methods, lists growing in loops, iteration helpers, ``order="F"``, builtins,
complex intermediates, random draws, array constructors -- and assign one float or
array to a fresh name of the program, which the statements after it may read.

A snippet is evaluated by running its own source (``exec``) on the generator's values,
so views and aliases behave exactly as in Python; its temporaries are private to it
(numbered names, ``m3``, ``ys3``, ``i3``), never the caller's arguments.  Where a
construct is not differentiable (a sort's or max's ties, a mask's threshold, ``abs``
at zero) a *probe* measures, before the lines run, how far the point is from the kink.

Families are named in :data:`FAMILIES`; ``SRCDIFF_FUZZ_FAMILIES`` (see
test_programs.py) picks which the fuzz test draws.
"""

# ruff: noqa: E501  (templates of source lines read best one to a line)
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

RNG_SEED = 20261207  # the global NumPy state, and a Generator argument, start here before every call
NUMBERS = (0.5, -1.0, 1.5, 2.0, -0.25, 0.75, -1.5, 0.3)


def gap(values: Any) -> float:
    """The smallest distance between two entries (a sort's or a max's tie)."""
    flat = np.sort(np.real(np.ravel(np.asarray(values, dtype=np.complex128))))
    return float(np.min(np.diff(flat))) if flat.size >= 2 else math.inf


def distance(values: Any) -> float:
    """How close any entry is to zero."""
    return float(np.min(np.abs(values))) if np.size(values) else math.inf


@dataclass(frozen=True, eq=False)
class Snippet:
    """Lines of source run as one statement.  ``pieces`` are (source block, probe): the
    probe (or None) maps the values before the block runs to its distance from a kink."""

    pieces: tuple
    names: tuple  # the names it assigns (temporaries and the result)
    defs: tuple = ()  # (name, source) of module-level helpers it calls

    def lines(self) -> list[str]:
        return [line for block, _ in self.pieces for line in block.splitlines()]

    def namespace(self) -> dict:
        ns: dict = {"np": np, "math": math}
        for _, text in self.defs:
            exec(text, ns)
        return ns

    def execute(self, env: Any, trace: Any) -> None:
        ns = self.namespace()
        for block, probe in self.pieces:
            if probe is not None:
                trace.kink(probe(env))
            exec(block, ns, env)
            for name in self.names:
                value = env.get(name) if isinstance(env, Mapping) else None
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, (float, complex, np.ndarray, np.generic)):
                        trace.value(np.abs(item))


HELPER_DEFS = {
    "push": "def push(items, value):\n    items.append(value * 2.0)\n",
    "write_first": "def write_first(arr, value):\n    arr[0] = value\n",
    "scale_in": "def scale_in(arr, factor):\n    arr *= factor\n",
    "same": "def same(arr):\n    return arr\n",
    "grow": "def grow(items, value):\n    items.append(value)\n    return items\n",
}


class Draw:
    """One snippet being drawn: ``builder`` draws the program's expressions."""

    def __init__(self, builder: Any, number: int, target: str):
        self.b = builder
        self.k = number
        self.target = target
        self.pieces: list = []
        self.temps: list = []
        self.defs: dict = {}

    # -- drawing

    def choose(self, options: Any) -> Any:
        return self.b.choose(options)

    def int(self, low: int, high: int) -> int:
        return self.b.draw(st.integers(low, high))

    def coin(self) -> bool:
        return self.b.draw(st.booleans())

    def name(self, base: str) -> str:
        name = f"{base}{self.k}"
        if name not in self.temps:
            self.temps.append(name)
        return name

    def line(self, text: str, probe: Callable | None = None) -> None:
        self.pieces.append((text, probe))

    def helper(self, name: str) -> str:
        self.defs[name] = HELPER_DEFS[name]
        return name

    def numbers(self, count: int) -> str:
        return "[" + ", ".join(repr(self.choose(NUMBERS)) for _ in range(count)) + "]"

    # -- values made from the program's values

    def expr(self) -> tuple[str, Any]:
        e = self.b.expr(self.int(0, 2))
        return e.source(), self.b.value(e)

    def scalar(self) -> str:
        src, value = self.expr()
        if np.ndim(value) == 0:
            return src
        return self.choose(["np.sum(np.tanh({}))", "np.mean({})", "np.sum(np.sin({}))"]).format(src)

    def vec(self, n: int) -> str:
        """The source of a fresh 1-D array of ``n`` entries."""
        src, value = self.expr()
        if np.shape(value) == (n,):
            return self.choose(["np.tanh({})", "{} * 1.0", "np.array({})", "{}.copy()", "{} + 0.0",
                                "np.sin({})"]).format(src)
        s = f"np.sum({src})" if np.ndim(value) else src
        form = self.choose(["{s} * np.array({c})", "np.tanh({s}) + np.array({c})",
                            "np.array({c}) * np.cos({s})"])
        return form.format(s=s, c=self.numbers(n))

    def mat(self, rows: int, cols: int) -> str:
        """The source of a fresh ``rows`` x ``cols`` array."""
        src, value = self.expr()
        shape = np.shape(value)
        if shape == (rows, cols):
            return self.choose(["np.tanh({})", "{} * 1.0", "np.array({})", "{}.copy()"]).format(src)
        if shape == (cols,):
            return f"np.outer(np.array({self.numbers(rows)}), {src})"
        if shape == (rows,):
            return f"np.outer({src}, np.array({self.numbers(cols)}))"
        s = f"np.sum({src})" if np.ndim(value) else src
        rows_src = ", ".join(self.numbers(cols) for _ in range(rows))
        return self.choose(["{s} * np.array([{c}])", "np.tanh({s}) + np.array([{c}])"]).format(s=s, c=rows_src)

    def reads(self, *names: str) -> str:
        """A float that depends on every entry of each array ``names``."""
        terms = [self.choose(["np.sum(np.sin({}))", "np.sum({0} * {0})", "0.5 * np.sum({})",
                              "np.sum(np.tanh({}))"]).format(n) for n in names]
        return " + ".join(terms)

    def result(self, text: str) -> None:
        self.line(f"{self.target} = {text}")

    def snippet(self) -> Snippet:
        return Snippet(tuple(self.pieces), tuple(self.temps) + (self.target,), tuple(self.defs.items()))


# ------------------------------------------------------------------- families


def views(d: Draw) -> None:
    """A view or alias of a fresh array, a write into one name, reads of the other."""
    kind = d.choose(["2d", "1d", "rows", "loop"])
    s = d.scalar()
    if kind == "2d":
        rows, cols = d.int(2, 3), 3
        a, b = d.name("m"), d.name("v")
        d.line(f"{a} = {d.mat(rows, cols)}")
        view = d.choose([f"{a}[0]", f"{a}[1:]", f"{a}.T", f"{a}.reshape(-1)", f"{a}.reshape({cols}, {rows})",
                         f"{a}.ravel()", f"{a}[None]", a, f"{a}[:, 1]", f"{a}[::-1]", f"np.reshape({a}, (-1,))",
                         f"{a}[-1, :2]", f"np.transpose({a})", f"{a}[...]"])
        d.line(f"{b} = {view}")
        if d.coin():
            d.line(f"{d.name('pre')} = np.sum({b} * {b})")
        for _ in range(d.int(1, 2)):
            if d.coin():
                d.line(d.choose([f"{a}[0, 0] = {s}", f"{a}[0, 0] += {s}", f"{a} *= {s}", f"{a}[-1] -= {s}",
                                 f"{a}[:, 0] = {d.vec(rows)}", f"{a} += {s}", f"{a} /= (1.0 + {s} * {s})",
                                 f"{a} **= 2", f"{a}[1] = {a}[0] * {s}"]))
            else:
                d.line(d.choose([f"{b}[...] = {b} * {s}", f"{b} *= {s}", f"{b} += 1.0", f"{b}[0] = {s}",
                                 f"{b} -= {s}", f"{b}[-1] += {s}", f"{b} **= 2"]))
        read = d.reads(a, b)
        if "pre" + str(d.k) in d.temps:
            read += f" + pre{d.k}"
        d.result(read if d.int(0, 2) else f"np.tanh({b}) * {s}")
    elif kind == "1d":
        n = d.int(2, 3)
        y, z = d.name("y"), d.name("z")
        d.line(f"{y} = {d.vec(n)}")
        d.line(f"{z} = " + d.choose([y, f"{y}[1:]", f"{y}[::-1]", f"{y}[None]", f"{y}[:2]",
                                     f"{y}.reshape(1, {n})", f"{y}[:]"]))
        for _ in range(d.int(1, 2)):
            d.line(d.choose([f"{y} *= 3.0", f"{z}[0] = {s}", f"{y} += {s}", f"{z} += 1.0", f"{y}[1] -= {s}",
                             f"{z} *= {s}", f"{y}[:] = {d.vec(n)}"]))
        d.result(d.reads(y, z) if d.coin() else d.reads(z, y))
    elif kind == "rows":
        cols = 3
        m, r0, r1 = d.name("m"), d.name("r"), d.name("q")
        d.line(f"{m} = {d.mat(2, cols)}")
        d.line(f"{r0}, {r1} = {m}")
        for _ in range(d.int(1, 2)):
            d.line(d.choose([f"{r0} += 1.0", f"{r1}[0] = {s}", f"{r1} *= {s}", f"{m}[0, 1] = {s}",
                             f"{m} *= 0.5", f"{r0}[:] = {r1} * {s}"]))
        d.result(d.reads(m, r0, r1))
    else:
        rows, cols = d.int(1, 3), 3
        m, row = d.name("m"), d.name("row")
        d.line(f"{m} = {d.mat(rows, cols)}")
        body = d.choose([f"{row}[0] = {row}[0] * {s}", f"{row} *= 0.5", f"{row} += {d.vec(cols)}",
                         f"{row}[1:] -= {s}", f"{row}[:] = np.tanh({row})"])
        d.line(f"for {row} in {m}:\n    {body}")
        d.result(d.reads(m, row))


def inplace(d: Draw) -> None:
    """In-place operators on arrays and floats, and on entries: slices, repeated fancy
    indices, boolean masks, 2-D index pairs."""
    kind = d.choose(["arrays", "floats", "subscript", "fancy", "mask", "pairs"])
    s = d.scalar()
    y = d.name("y")
    if kind == "arrays":
        d.line(f"{y} = {d.vec(3)}")
        if d.coin():
            d.line(f"{d.name('z')} = {y}")
        for _ in range(d.int(1, 3)):
            op = d.choose(["+", "-", "*", "/", "**"])
            if op == "/":
                d.line(f"{y} /= (1.0 + {d.vec(3)} ** 2)")
            elif op == "**":
                d.line(f"{y} **= {d.choose(['2', '2.0', '3'])}")
            else:
                d.line(f"{y} {op}= {d.choose([s, d.vec(3)])}")
        d.result(d.reads(*([y] + [t for t in d.temps if t.startswith("z")])))
    elif kind == "floats":
        t = d.name("t")
        d.line(f"{t} = {s}")
        for _ in range(d.int(1, 3)):
            other = d.scalar()
            d.line(d.choose([f"{t} += {other}", f"{t} -= {other}", f"{t} *= {other}",
                             f"{t} /= (1.0 + {other} * {other})", f"{t} **= 2", f"{t} *= 0.5"]))
        d.result(t)
    elif kind == "subscript":
        n = 3
        d.line(f"{y} = {d.vec(n)}")
        i = d.name("i")
        d.line(d.choose([f"{y}[0] += {s}", f"{y}[-1] -= {s}", f"{y}[1:] *= {s}", f"{y}[::2] /= (1.0 + {s} ** 2)",
                         f"for {i} in range(1, {n}):\n    {y}[{i}] += 0.5 * {y}[{i} - 1]",
                         f"for {i} in range({n}):\n    {y}[{i}] *= {s}",
                         f"for {i} in range({n} - 1):\n    {y}[{i} + 1] -= {y}[{i}] * {s}"]))
        d.result(d.reads(y))
    elif kind == "fancy":
        d.line(f"{y} = {d.vec(3)}")
        idx = d.choose(["np.array([0, 0, 2])", "[0, 2]", "np.array([2, 0, 2])", "[1, 1]", "np.array([1, 1, 1])"])
        count = idx.count(",") + 1
        v = d.choose([s, d.vec(count)])
        d.line(d.choose([f"{y}[{idx}] += {v}", f"{y}[{idx}] -= {v}", f"{y}[{idx}] = {v}", f"{y}[{idx}] *= {v}"]))
        d.result(d.reads(y))
    elif kind == "mask":
        d.line(f"{y} = {d.vec(3)}")
        form = d.int(0, 3)
        if form == 0:
            d.line(f"{y}[{y} > 0.0] *= 2.0", lambda env: distance(env[y]))
        elif form == 1:
            d.line(f"{y}[np.array([True, False, True])] = {s}")
        elif form == 2:
            d.line(f"{y}[{y} < 0.5] += {s}", lambda env: distance(env[y] - 0.5))
        else:
            d.line(f"{y}[np.array([False, True, True])] -= {d.vec(2)}")
        d.result(d.reads(y))
    else:
        m = d.name("m")
        d.line(f"{m} = {d.mat(2, 3)}")
        d.line(d.choose([f"{m}[[0, 1], [2, 0]] += {d.vec(2)}", f"{m}[np.array([0, 1, 1]), np.array([2, 0, 0])] += {s}",
                         f"{m}[[0, 0], [1, 1]] = {d.vec(2)}", f"{m}[np.array([1, 0]), 1] -= {s}",
                         f"{m}[[1, 1], [0, 0]] *= {s}"]))
        d.result(d.reads(m))


def mutators(d: Draw) -> None:
    """Mutating methods as statements, ufuncs with ``out=``, list methods, and helpers
    that append to a list or write into an array they were given, or return it."""
    kind = d.choose(["sort", "fill", "put", "add_at", "copyto", "out", "list", "helper"])
    s = d.scalar()
    y = d.name("y")
    weights = "np.array([1.0, -2.0, 3.0])"
    if kind not in ("list", "helper"):
        d.line(f"{y} = {d.vec(3)}")
        if d.int(0, 2) == 0:
            d.line(f"{d.name('z')} = {y}")
    if kind == "sort":
        d.line(f"{y}.sort()", lambda env: gap(env[y]))
    elif kind == "fill":
        d.line(f"{y}.fill({s})")
        if d.coin():
            d.line(f"{y}[0] += {d.scalar()}")
    elif kind == "put":
        d.line(d.choose([f"{y}.put([0, 2], {d.vec(2)})", f"{y}.put(np.array([1, 1]), {d.vec(2)})",
                         f"np.put({y}, [0], {s})"]))
    elif kind == "add_at":
        d.line(d.choose([f"np.add.at({y}, np.array([0, 0, 2]), {d.vec(3)})", f"np.add.at({y}, [1, 1], {s})",
                         f"np.multiply.at({y}, [0, 0], {s})", f"np.subtract.at({y}, [2, 0, 2], {d.vec(3)})"]))
    elif kind == "copyto":
        d.line(d.choose([f"np.copyto({y}, {d.vec(3)})", f"np.copyto({y}, {s})",
                         f"np.copyto({y}, {d.vec(3)}, where=np.array([True, False, True]))"]))
    elif kind == "out":
        out = d.name("o")
        form = d.int(0, 3)
        if form == 0:
            d.line(f"np.multiply({y}, {d.vec(3)}, out={y})")
        elif form == 1:
            d.line(f"np.add({y}, {s}, out={y})")
        elif form == 2:
            d.line(f"{out} = np.zeros(3)")
            d.line(f"np.tanh({d.vec(3)}, out={out})")
            d.result(d.reads(y, out))
            return
        else:
            d.line(f"np.sin({y}, out={y})")
    elif kind == "list":
        items = d.name("ys")
        length = 2
        d.line(f"{items} = [{s}, {d.scalar()}]")
        for _ in range(d.int(1, 3)):
            ops = ["append", "extend", "insert", "reverse", "sort", "clear"] + (["pop", "pop0"] if length > 1 else [])
            op = d.choose(ops)
            if op == "append":
                d.line(f"{items}.append({d.scalar()})")
                length += 1
            elif op == "extend":
                d.line(f"{items}.extend([{d.scalar()}, {s}])")
                length += 2
            elif op == "insert":
                d.line(f"{items}.insert({d.choose([0, 1, -1])}, {d.scalar()})")
                length += 1
            elif op == "reverse":
                d.line(f"{items}.reverse()")
            elif op == "sort":
                d.line(f"{items}.sort()", lambda env: gap(env[items]))
            elif op == "clear":
                d.line(f"{items}.clear()\n{items}.append({d.scalar()})")
                length = 1
            elif op == "pop":
                d.line(f"{items}.pop()")
                length -= 1
            else:
                t = d.name("t")
                d.line(f"{t} = {items}.pop(0)")
                length -= 1
                d.result(f"{t} + {items}[-1] + np.sum(np.array({items}) * np.arange(1.0, {length + 1}.0))")
                return
        d.result(f"{items}[-1] + np.sum(np.array({items}) * np.arange(1.0, {length + 1}.0)) + {items}[0] * 0.5")
        return
    else:
        form = d.int(0, 4)
        if form == 0:
            items = d.name("ys")
            d.line(f"{items} = [{s}]")
            d.line(f"{d.helper('push')}({items}, {d.scalar()})")
            d.result(f"{items}[-1] + np.sum(np.array({items}) * np.array([1.0, 3.0]))")
        elif form == 4:
            items, more = d.name("ys"), d.name("zs")
            d.line(f"{items} = [{s}]")
            d.line(f"{more} = {d.helper('grow')}({items}, {d.scalar()})")
            d.line(f"{more}.append({d.scalar()})")
            d.result(f"np.sum(np.array({items}) * np.array([1.0, 3.0, -2.0]))")
        else:
            d.line(f"{y} = {d.vec(3)}")
            if form == 1:
                d.line(f"{d.helper('write_first')}({y}, {s})")
            elif form == 2:
                d.line(f"{d.helper('scale_in')}({y}, {s})")
            else:
                z = d.name("z")
                d.line(f"{z} = {d.helper('same')}({y})")
                d.line(d.choose([f"{z}[0] = {s}", f"{z} *= {s}"]))
            d.result(d.reads(y))
        return
    d.result(f"np.sum({y} * {weights})" + "".join(f" + {d.reads(t)}" for t in d.temps if t.startswith("z")))


def lists(d: Draw) -> None:
    """Lists growing in loops read at negative indices and slices, a list made with
    ``[0.0] * 4`` written entry by entry, concatenation and repetition."""
    kind = d.choose(["product", "rnn", "prealloc", "concat"])
    i = d.name("i")
    ys = d.name("ys")
    if kind == "product":
        n = d.int(2, 3)
        x = d.name("x")
        d.line(f"{x} = {d.vec(n)}")
        d.line(f"{ys} = [{d.scalar()}]")
        d.line(f"for {i} in range({n}):\n    {ys}.append({ys}[-1] * {x}[{i}])")
        d.result(d.choose([f"{ys}[-2] + {ys}[-1]", f"np.sum(np.array({ys}[-2:]))", f"{ys}[-1] * {ys}[1]",
                           f"np.sum(np.array({ys}[1:]) * {x})"]))
    elif kind == "rnn":
        steps = d.int(1, 3)
        w, xs = d.name("W"), d.name("X")
        d.line(f"{w} = 0.5 * {d.mat(3, 3)}")
        d.line(f"{xs} = {d.mat(steps, 3)}")
        d.line(f"{ys} = [{d.vec(3)}]")
        d.line(f"for {i} in range({steps}):\n    {ys}.append(np.tanh({w} @ {ys}[-1] + {xs}[{i}]))")
        d.result(d.choose([f"np.sum({ys}[-1]) + np.sum(np.stack({ys}[-2:]))", f"np.sum({ys}[-2] * {ys}[-1])",
                           f"np.tanh({ys}[-1])"]))
    elif kind == "prealloc":
        x = d.name("x")
        d.line(f"{x} = {d.vec(3)}")
        d.line(f"{ys} = [0.0] * 4")
        d.line(f"{ys}[0] = {d.scalar()}")
        d.line(f"for {i} in range(1, 4):\n    {ys}[{i}] = {ys}[{i} - 1] * {x}[{i} - 1]")
        d.result(d.choose([f"{ys}[-1] + 0.5 * {ys}[2]", f"np.sum(np.array({ys}))", f"{ys}[3] - {ys}[-3]"]))
    else:
        xs, zs = d.name("xs"), d.name("zs")
        if d.coin():  # floats
            d.line(f"{xs} = [{d.scalar()}, {d.scalar()}]")
            d.line(f"{ys} = [{d.scalar()}]")
        else:  # arrays
            d.line(f"{xs} = [{d.vec(3)}, {d.vec(3)}]")
            d.line(f"{ys} = [{d.vec(3)}]")
        d.line(f"{zs} = " + d.choose([f"{xs} + {ys}", f"{xs} * 2", f"{ys} + {xs} * 2", f"2 * {ys} + {xs}"]))
        if d.coin():
            d.line(f"{xs}[0] = {xs}[0] * 3.0")
        d.result(d.choose([f"np.sum({zs}[-1]) + np.sum(np.stack({zs}) ** 2)",
                           f"np.sum(np.array({zs}[1:]) * 2.0) + np.sum({zs}[0])"]))


def iteration(d: Draw) -> None:
    """``enumerate`` (with a start, or in a list), ``zip``, ``reversed``, ``range`` with steps."""
    acc = d.name("acc")
    k, v, u = d.name("k"), d.name("v"), d.name("u")
    x = d.name("x")
    rows = d.choose([3, 2])
    d.line(f"{x} = {d.vec(3) if rows == 3 else d.mat(2, 3)}")
    d.line(f"{acc} = {d.scalar()}")
    kind = d.choose(["enumerate", "list_enumerate", "zip", "reversed", "range", "enumerate_zip"])
    if kind == "enumerate":
        head, body = f"for {k}, {v} in enumerate({x}, {d.choose([1, 2, -1])}):", f"{acc} = {acc} + {k} * np.sum(np.sin({v}))"
    elif kind == "list_enumerate":
        head, body = f"for {k}, {v} in list(enumerate({x})):", f"{acc} = {acc} * 0.5 + {k} * np.sum({v})"
    elif kind == "zip":
        other = d.name("y")
        d.line(f"{other} = {d.vec(d.int(2, 4))}")
        head, body = f"for {u}, {v} in zip({x}, {other}):", f"{acc} = {acc} + np.sum({u} * {v})"
    elif kind == "reversed":
        items = d.choose([x, f"list({x})", f"[{d.scalar()}, {d.scalar()}]"])
        head, body = f"for {v} in reversed({items}):", f"{acc} = {acc} * 0.5 + np.sum(np.tanh({v}))"
    elif kind == "range":
        if rows == 3 or d.coin():
            row = f"{x}[{k}]" if rows == 3 else f"{x}[..., {k}]"
            steps = ["range(0, 3, 2)", "range(2, -1, -1)", "range(1, 3, 2)", "range(2, 0, -2)", "range(-1, -4, -1)"]
        else:
            row = f"{x}[{k}]"
            steps = ["range(0, 2, 2)", "range(1, -1, -1)", "range(1, 2, 2)", "range(-1, -3, -1)"]
        head, body = f"for {k} in {d.choose(steps)}:", f"{acc} = {acc} * np.cos({acc}) + np.sum({row})"
    else:
        other = d.name("y")
        d.line(f"{other} = {d.vec(3)}")
        head, body = (f"for {k}, ({u}, {v}) in enumerate(zip({x}, {other})):",
                      f"{acc} = {acc} + ({k} + 1) * np.sum({u} * {v})")
    d.line(f"{head}\n    {body}")
    d.result(acc)


def order(d: Draw) -> None:
    """``np.reshape``/``ravel``/``flatten``/``.reshape`` with ``order="F"``."""
    a, b = d.name("m"), d.name("v")
    d.line(f"{a} = {d.mat(2, 3)}")
    form, shape = d.choose([(f'np.reshape({a}, (3, 2), order="F")', (3, 2)), (f'np.ravel({a}, order="F")', (6,)),
                            (f'{a}.flatten(order="F")', (6,)), (f'{a}.reshape((3, 2), order="F")', (3, 2)),
                            (f'{a}.ravel(order="F")', (6,)), (f'np.reshape({a}, (-1,), order="F")', (6,)),
                            (f'{a}.reshape(3, 2, order="F")', (3, 2))])
    d.line(f"{b} = {form}")
    weights = "np.array([1.0, -2.0, 3.0, 0.5, 4.0, -1.5])"
    d.result(d.choose([f"np.sum({b} * {weights}.reshape({shape}))", f"np.sum({b}[0] * {b}[1]) + {b}[-1, ...].sum()",
                       f"np.tanh({b})"]))


def builtins(d: Draw) -> None:
    """Builtin ``sum``, ``max``, ``min`` over arrays and lists."""
    x = d.name("x")
    kind = d.choose(["sum", "sum2d", "sum_list", "max", "min", "pair"])
    if kind == "sum":
        d.line(f"{x} = {d.vec(3)}")
        d.result(d.choose([f"sum({x})", f"sum({x} * {x})", f"sum({x}, {d.scalar()})"]))
    elif kind == "sum2d":
        d.line(f"{x} = {d.mat(2, 3)}")
        d.result(d.choose([f"np.sum(sum({x}) * np.array([1.0, 2.0, 3.0]))", f"np.tanh(sum({x}))"]))
    elif kind == "sum_list":
        d.line(f"{x} = [{d.scalar()}, {d.scalar()}, {d.scalar()}]")
        text = d.choose([f"sum({x})", f"sum({x}, 1.5)", f"max({x}) - min({x})"])
        d.line(f"{d.target} = {text}", lambda env: gap(env[x]))
    elif kind in ("max", "min"):
        d.line(f"{x} = {d.choose([d.vec(3), 'np.sin(' + d.vec(3) + ')'])}")
        d.line(f"{d.target} = {kind}({x}) * {d.scalar()}", lambda env: gap(env[x]))
    else:
        a, b = d.name("s"), d.name("t")
        d.line(f"{a} = {d.scalar()}")
        d.line(f"{b} = {d.scalar()}")
        d.line(f"{d.target} = {d.choose(['max', 'min'])}({a}, {b}) + {a}", lambda env: abs(env[a] - env[b]))


# -- complex intermediates of a real function

# Complex constants of moderate size, as a program writes them.
COMPLEX_NUMBERS = ("1j", "(0.5 - 2j)", "(1 + 1j)", "-0.5j", "(2 - 0.5j)", "complex(0.3, -1.2)", "(-1 + 0.25j)")

# Module-level helpers and constants that make or take complex values.
COMPLEX_DEFS = {
    "rotate": "def rotate(v, angle):\n    return v * np.exp(1j * angle)\n",
    "phasor": "def phasor(v):\n    return np.exp(1j * v) / (1.0 + 1j * v)\n",
    "cmix": "def cmix(a, b):\n    return a * (0.5 - 2j) + np.conj(b) * 1j\n",
    "energy": "def energy(z):\n    return np.real(np.vdot(z, z))\n",
    "horner": ("def horner(z, c):\n    acc = c\n    for k in range(2):\n        acc = acc * z + c\n"
               "    return acc\n"),
    "twist": "def twist(z, s):\n    if s > 0.0:\n        return z * 1j\n    return np.conj(z) * 0.5\n",
    "unit": "def unit(z):\n    return np.sign(z)\n",
    "CMAT": "CMAT = np.array([[1.0 + 0.5j, -0.5j, 0.25], [0.5 - 1.0j, 1j, 1.5 + 0j]])\n",
    "CSQ": ("CSQ = np.array([[2.0 + 0.5j, 0.3, -0.2j], [0.1j, 1.5 - 0.5j, 0.4], "
            "[-0.3, 0.2 + 0.2j, 2.5]])\n"),
    "CVEC": "CVEC = np.array([0.5 + 1j, -1j, 2.0 - 0.5j])\n",
}

# Constructs that found srcdiff bugs, each pinned by a regression test at the bottom of
# test_programs.py: a switch set to False steers a campaign away from one while its bug
# is open, so that the campaign can find others.
# A function refused for complex values inside a helper (refused before the program runs).
DRAW_REFUSALS_IN_HELPERS = True
# Writes of complex values into entries of a complex array whose tangent is real (jvp).
DRAW_COMPLEX_ENTRY_WRITES = True
# np.real, np.imag, .real, .imag of a Python number inside a loop (grad's saved values).
DRAW_PARTS_OF_PYTHON_NUMBERS = True


def cut(values: Any) -> float:
    """How close any entry is to the branch cut of ``np.angle``, ``np.log``, ``np.sqrt``
    and powers: zero and the negative real axis."""
    z = np.asarray(values, dtype=np.complex128)
    if not z.size:
        return math.inf
    return float(np.min(np.where(z.real < 0.0, np.abs(z.imag), np.abs(z))))


def outer_cut(values: Any) -> float:
    """How close any entry is to the branch cuts of ``np.arctanh`` (``np.arcsin``): the
    real axis beyond -1 and 1.  (``np.arcsinh``'s and ``np.arctan``'s are those of
    ``1j * values``.)"""
    z = np.asarray(values, dtype=np.complex128)
    if not z.size:
        return math.inf
    ends = np.minimum(np.abs(z - 1.0), np.abs(z + 1.0))
    return float(np.min(np.where(np.abs(z.real) >= 1.0, np.abs(z.imag), ends)))


class ComplexDraw:
    """Draws for the complex family, around one :class:`Draw`: ``x`` is a fresh real
    array of three entries and ``s`` a fresh real float, both made from the program's
    values, that the complex values are built from."""

    def __init__(self, d: Draw):
        self.d = d
        self.x = d.name("x")
        d.line(f"{self.x} = {d.vec(3)}")
        self.s = d.name("s")
        d.line(f"{self.s} = {d.scalar()}")

    def number(self) -> str:
        return self.d.choose(COMPLEX_NUMBERS)

    def define(self, name: str) -> str:
        self.d.defs[name] = COMPLEX_DEFS[name]
        return name

    def measured(self, text: str, measure: Callable) -> Callable:
        """A probe: ``measure`` of the value of the source ``text`` before the block runs."""
        defs = self.d.defs

        def probe(env: Any) -> float:
            ns: dict = {"np": np, "math": math}
            for source in defs.values():
                exec(source, ns)
            return measure(eval(text, ns, env))

        return probe

    def start(self, z: str) -> None:
        """``z`` = a fresh complex array of three entries, made from ``x`` (and ``s``)."""
        d, x, s = self.d, self.x, self.s
        form = d.int(0, 9)
        if form == 9:  # entries written one by one into a complex array
            d.line(f"{z} = np.zeros(3, dtype=complex)")
            d.line(f"{z}[0] = {s} * {self.number()}")
            d.line(f"{z}[1:] = {x}[1:] + 1j * {x}[:2]")
            return
        d.line(f"{z} = " + [f"1j * {x}", f"{x} * {self.number()}", f"np.exp(1j * {x})",
                            f"{x} + 1j * {d.vec(3)}", f"np.exp(1j * {x}) / (1.0 + 1j * {x})",
                            f"{x} * np.exp(1j * {s})", f"{x}.astype(complex) * {self.number()}",
                            f"np.cos({x}) + 1j * np.sin({x})", f"({s} + 1j) * np.tanh({x})"][form])

    def step(self, z: str) -> None:
        """One update of the complex array ``z`` (its shape kept)."""
        d, x, s = self.d, self.x, self.s
        # (line, source of the value to probe, measure); a value near zero or a branch cut
        # is a kink of what follows
        probed = [(f"{z} = np.where({x} > 0.0, {z}, {z} * 1j)", x, distance),
                  (f"{z} = ({z} + 2.0) ** 1.5", f"{z} + 2.0", cut),
                  (f"{z} = np.sqrt({z} * {z} + 3.0)", f"{z} * {z} + 3.0", cut),
                  (f"{z} = {z} / np.abs({z})", z, distance),
                  (f"{z} = 1.0 / ({z} + 3.0) + np.reciprocal({z} - 2j)", f"({z} + 3.0) * ({z} - 2j)", distance),
                  (f"{z} = np.exp(1j * np.angle({z} + 1.0)) * {z}", f"{z} + 1.0", cut),
                  (f"{z} = np.arcsinh(0.5 * {z})", f"0.5j * {z}", outer_cut),
                  (f"{z} = np.arctan(0.5 * {z}) + {z}", f"0.5j * {z}", outer_cut),
                  (f"{z} = np.arctanh(0.5 * {z})", f"0.5 * {z}", outer_cut),
                  (f"{z} = {z} ** np.tanh({s})", z, cut),
                  (f"{z} = np.log(1.0 - 0.5j * {z})", f"1.0 - 0.5j * {z}", cut)]
        plain = [f"{z} = {z} * {self.number()}", f"{z} = {z} + {self.number()}", f"{z} = {z} / (1.0 + 1j * {x})",
                 f"{z} = {z} * np.exp(1j * {x})", f"{z} = np.conj({z}) * {self.number()}",
                 f"{z} = np.conjugate({z}) + 0.5 * {z}", f"{z} = {z} * {z}", f"{z} = np.sin(0.5 * {z}) + {z} ** 2",
                 f"{z} = {z} * np.sqrt(3.0 + 1j * {x})", f"{z} = {z} + np.log(2.0 + 1j * {x})",
                 f"{z} *= {self.number()}", f"{z} += {x} * {s}",
                 f"{z} = np.real({z}) - 2j * np.imag({z})",
                 f"{z} = np.log({z} * np.conj({z}) + 1.0) + np.cumsum({z}) * 0.5",
                 f"{z} = {z} * (2.0 + 1j * {x}) ** np.tanh({s})", f"{z} = {z} * 2.0 ** (1j * {x})",
                 f"{z} = {z} + (1.0 + {x} ** 2) ** (0.5 + 1j)", f"{z} = {z} / (np.exp(1j * {x}) + 2.0)",
                 f"{z} = np.square({z}) - np.cosh(0.5 * {z})", f"{z} = np.exp(0.5 * np.tanh({x}) * {z})",
                 f"{z} = np.concatenate([{z}[1:], np.conj({z}[:1])])",
                 f"{z} = np.sum(np.stack([{z}, 1j * {z}[::-1]]), axis=0)",
                 f"{z} = {z} * np.abs({z} + 3.0) ** 2", f"{z} = {z} * np.expm1(0.5j * {x}) + np.log1p({z} * np.conj({z}))",
                 f"{z} = np.real({z}) * {z} + np.imag({z}) * {x}", f"{z} = {z}.astype(complex) * np.tanh({x})"]
        if DRAW_COMPLEX_ENTRY_WRITES:
            plain += [f"{z}[0] = {z}[1] * 1j", f"{z}[1:] += np.diff({z}) * 1j"]
        form = d.int(0, len(probed) + len(plain) - 1)
        if form < len(probed):
            line, value, measure = probed[form]
            d.line(line, self.measured(value, measure))
        else:
            d.line(plain[form - len(probed)])

    def read(self, z: str, real: str | None) -> tuple[str, Callable | None]:
        """A real value read from the complex ``z`` (a float, or an array of ``z``'s
        shape), and its probe; ``real`` is a real array of ``z``'s shape, or None."""
        d = self.d
        measured = [(f"np.sum(np.abs({z}))", z, distance), (f"np.abs(np.sum({z}) + 3.0)", f"np.sum({z}) + 3.0", distance),
                    (f"np.sum(np.angle({z}))", z, cut), (f"np.angle(np.sum({z}) + 3.0)", f"np.sum({z}) + 3.0", cut),
                    (f"np.sum(abs({z} - 1j))", f"{z} - 1j", distance)]
        plain = [f"np.sum(np.real({z}))", f"np.real(np.sum({z}))", f"np.sum(np.imag({z}))", f"np.imag(np.mean({z}))",
                 f"np.sum({z}.real)", f"np.sum(np.abs({z}) ** 2)", f"np.abs(np.sum({z})) ** 2",
                 f"np.real(np.vdot({z}, {z}))", f"np.imag(np.vdot({z}, {z} * {self.number()}))",
                 f"np.real({z})", f"np.abs({z}) ** 2", f"np.real({z} * np.conj({z}))", f"sum(np.real({z}))",
                 f"np.real(sum({z}))", f"np.real(np.prod({z}))", f"np.sum({z}.imag)"]
        if real is not None:
            plain += [f"np.real(np.vdot({real}, {z}))", f"np.imag({z}) * {real}"]
        form = d.int(0, len(measured) + len(plain) - 1)
        if form < len(measured):
            text, arg, measure = measured[form]
            return text, self.measured(arg, measure)
        return plain[form - len(measured)], None

    def result(self, *zs: str, real: str | None = None) -> None:
        """The snippet's result: one or two real reads of the complex arrays ``zs``
        (summed whole where they read arrays that may differ in shape)."""
        chosen = [self.d.choose(zs) for _ in range(self.d.int(1, 2))]
        reads = [self.read(z, real) for z in chosen]
        texts = [text if len(set(chosen)) == 1 else f"np.sum({text})" for text, _ in reads]
        probes = [p for _, p in reads if p is not None]
        probe = (lambda env: min(p(env) for p in probes)) if probes else None
        self.d.line(f"{self.d.target} = " + " + ".join(texts), probe)

    def numpy(self, c: str) -> str:
        """``c``, whose parts ``np.real``, ``.imag`` may read: a complex float ``c`` may be a
        Python complex (so is ``c * x[0]``); ``x[0] * c`` is a NumPy one."""
        return c if DRAW_PARTS_OF_PYTHON_NUMBERS else f"({self.x}[0] * {c})"

    def scalar_read(self, c: str) -> tuple[str, Callable | None]:
        """A real float read from the complex scalar ``c``, and its probe."""
        form = self.d.int(0, 9)
        if form == 0:
            return f"abs({c})", self.measured(c, distance)
        if form == 1:
            return f"np.angle({c} + 3.0)", self.measured(f"{c} + 3.0", cut)
        part = self.numpy(c)
        return [f"abs({c}) ** 2", f"{part}.real", f"np.real({part})", f"np.imag({part}) * {self.s}",
                f"np.abs({c}) ** 2", f"np.real({c} * np.conj({c}))", f"{part}.imag", f"np.imag({part})"][form - 2], None


def complex_elementwise(c: ComplexDraw) -> None:
    z = c.d.name("zc")
    c.start(z)
    for _ in range(c.d.int(0, 3)):
        c.step(z)
    c.result(z, real=c.x)


def complex_matrix(c: ComplexDraw) -> None:
    """Products of complex arrays: a complex constant matrix (written in the function or
    global) or a real matrix of the program's values with complex ones."""
    d, x = c.d, c.x
    z, m, w = d.name("zc"), d.name("M"), d.name("w")
    c.start(z)
    form = d.int(0, 3)
    if form == 0:
        d.line(f"{m} = np.array([[{c.number()}, 0.5, -1j], [1.0, {c.number()}, 0.25 + 0.5j]])")
    elif form == 1:
        m = c.define("CMAT")
    elif form == 2:
        d.line(f"{m} = {d.mat(2, 3)} * {c.number()}")
    else:
        d.line(f"{m} = np.exp(1j * np.tanh({d.mat(2, 3)}))")
    d.line(f"{w} = " + d.choose([f"{m} @ {z}", f"np.dot({m}, {z})", f"np.matmul({m}, {z})", f"{z} @ {m}.T",
                                 f'np.einsum("ij,j->i", {m}, {z})', f"{m} @ ({z} * {x})",
                                 f"np.tensordot({m}, {z}, axes=1)", f"np.sum({m} * {z}, axis=1)",
                                 f"np.mean({m}.T * np.conj({z})[:, None], axis=0)"]))
    kind = d.int(0, 3)
    if kind == 0:  # a square complex system, constant or made from the program's values
        v, a = d.name("v"), d.name("A")
        if d.coin():
            a = c.define("CSQ")
        else:
            d.line(f"{a} = {c.define('CSQ')} + 0.2 * np.outer(np.tanh({x}), np.exp(1j * {x}))")
        d.line(f"{v} = " + d.choose([f"np.linalg.solve({a}, {z})", f"np.linalg.inv({a}) @ {z}",
                                     f"{a} @ {z} + {c.define('CVEC')}", f"np.inner({a}, {z})",
                                     f"np.linalg.solve({a}.T, {x})"]))
        c.result(w, v)
    elif kind == 1:  # a complex matrix from two vectors
        p = d.name("P")
        d.line(f"{p} = " + d.choose([f"np.outer({z}, {x})", f"np.outer({w}, np.conj({z}))",
                                     f"{m}.T @ {m} * {z}", f"np.kron({w}, {z}).reshape(2, 3)",
                                     f"np.stack([{z}, np.conj({z}) * {x}])"]))
        d.result(d.choose([f"np.real(np.trace({p}))", f"np.sum(np.abs({p}) ** 2)", f"np.imag(np.sum({p} @ {z}))",
                           f"np.real(np.sum({p}, axis=0))", f"np.imag(np.mean({p}.T, axis=1))",
                           f"np.sum(np.abs({p}[:, 1:]) ** 2, axis=0)[0]", f"np.real(np.vdot({p}, {p} * 1j + 0.5))"]))
    else:
        c.result(w)


def complex_loop(c: ComplexDraw) -> None:
    """A loop accumulating a complex value (a float, entries of an array or a list),
    maybe branching (or breaking) on a real quantity of it; the probe replays the loop
    to see how close each test comes."""
    d, x, s = c.d, c.x, c.s
    acc, i, z = d.name("acc"), d.name("i"), d.name("zc")
    c.start(z)
    kind = d.choose(["scalar", "scalar", "array", "list"] if DRAW_COMPLEX_ENTRY_WRITES else ["scalar", "scalar", "list"])
    if kind == "list":  # a list of complex values, joined after the loop
        items = d.name("zs")
        d.line(f"{items} = []")
        d.line(f"for {i} in range(3):\n    {items}.append({d.choose([f'{x}[{i}] * np.exp(1j * {x}[{i}])', f'{z}[{i}] * {c.number()}'])})")
        w = d.name("w")
        d.line(f"{w} = {d.choose([f'np.array({items})', f'np.stack({items})'])}")
        c.result(w, real=x)
        return
    if kind == "array":  # entries of a complex array written from the ones before
        head = d.choose([f"for {i} in range(1, 3):", f"for {i} in range(3):"])
        first = head.endswith("range(1, 3):")
        previous = f"{z}[{i} - 1]"
        bodies = [f"{z}[{i}] = {z}[{i}] + {previous} * {c.number()} * 0.5", f"{z}[{i}] *= np.conj({previous})",
                  f"{z} = {z} * np.exp(1j * {x}[{i}])", f"{z}[{i}] = {z}[{i}] / (1.0 + 1j * {x}[{i}]) + {previous}",
                  f"{z} = np.conj({z}) * 0.5 + {z}[{i}]", f"{z}[{i}:] += 1j * {x}[{i}]"]
        body = [d.choose(bodies if first else bodies[2:] + [f"{z}[{i}] = {z}[{i}] * {z}[{i}] * 0.5 + {x}[{i}]"])
                for _ in range(d.int(1, 2))]
        d.line("\n".join([head] + ["    " + line for line in body]))
        c.result(z, real=x)
        return
    r = d.name("r")
    d.line(f"{acc} = " + d.choose(["0j", "complex(0.0, 0.0)", "1.0 + 0j", f"{s} + 0j", f"np.exp(1j * {s})",
                                   f"{s} * (0.5 + 1j)"]))
    head = d.choose(["for", "for", "each", "while"])
    if head == "each":
        v = d.name("v")
        lines = [f"for {v} in {z}:"]
        bodies = [f"{acc} = {acc} * 0.5 + {v} * {v}", f"{acc} += {v} * np.conj({v})", f"{acc} = {acc} * 1j + {v}",
                  f"{acc} = {acc} + np.exp(1j * np.real({v}))"]
    else:
        if head == "for":
            lines = [f"for {i} in range(3):"]
        else:
            lines = [f"{i} = 0", f"while {i} < 3:"]
        bodies = [f"{acc} = {acc} * {c.number()} * 0.5 + {x}[{i}]", f"{acc} = {acc} * np.exp(1j * {x}[{i}])",
                  f"{acc} += {z}[{i}] * np.conj({z}[{i}])", f"{acc} = {acc} + {x}[{i}] / (1.0 + 1j * {x}[{i}])",
                  f"{acc} -= 0.5j * {x}[{i}] * {acc}", f"{acc} = {acc} + {z}[{i}] ** 2",
                  f"{acc} = {c.define('rotate')}({acc}, {x}[{i}]) + 0.5"]
    body = [d.choose(bodies) for _ in range(d.int(1, 2))]
    real = d.coin()
    if real:  # a real value accumulated alongside, from the complex one
        d.line(f"{r} = 0.0")
        body.append(d.choose([f"{r} = {r} + np.real({acc} * np.conj({acc}))", f"{r} += np.imag({c.numpy(acc)}) * 0.5",
                              f"{r} = {r} * 0.5 + {c.numpy(acc)}.real"]))
    test = None
    form = d.int(0, 3)
    if form == 0:  # a branch on a real quantity of the accumulated value
        test = d.choose([f"np.real({acc})", f"np.imag({acc})", f"np.abs({acc}) ** 2"])
        body = [f"if {test} > 0.5:", f"    {acc} = {acc} * {c.number()}", "else:", f"    {acc} = {acc} + 0.5j"] + body
    elif form == 1 and head != "while":  # an early exit
        test = d.choose([f"np.abs({acc}) ** 2", f"np.real({acc} * np.conj({acc}))", f"np.imag({acc})"])
        body = body + [f"if {test} > 0.5:", "    break"]
    if head == "while":
        body.append(f"{i} += 1")
    block = "\n".join(lines + ["    " + line for line in body])
    probe = None
    if test is not None:
        watched = block.replace(f"if {test} > 0.5:", f"_seen.append({test})\n    if {test} > 0.5:")
        probe = _replay(d, watched, 0.5)
    d.line(block, probe)
    text, read_probe = c.scalar_read(acc)
    d.line(f"{d.target} = {text}" + (f" + {r}" if real else ""), read_probe)


def _replay(d: Draw, block: str, threshold: float) -> Callable:
    """A probe that runs ``block`` (which appends each tested value to ``_seen``) on a
    copy of the values and measures how close a test came to ``threshold``."""
    defs = d.defs

    def probe(env: Any) -> float:
        ns: dict = {"np": np, "math": math}
        for source in defs.values():
            exec(source, ns)
        scope = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in env.items()}
        scope["_seen"] = seen = []
        exec(block, ns, scope)
        return float(np.min(np.abs(np.array(seen) - threshold))) if seen else math.inf

    return probe


def complex_branch(c: ComplexDraw) -> None:
    """``if``/``else`` on a real quantity, each side making a complex value its own way."""
    d, x, s = c.d, c.x, c.s
    z = d.name("zc")
    c.start(z)
    test = d.choose([f"np.real(np.sum({z}))", f"np.sum(np.abs({z}) ** 2)", f"np.imag({z}[0])", s,
                     f"np.angle({z}[1] + 3.0)"])
    threshold = d.choose([0.5, 0.0, -0.25, 1.5])
    sides = [f"{z} = {z} * {c.number()}", f"{z} = {z} / (1.0 + 1j * {x})", f"{z} = np.conj({z})",
             f"{z} = {z} * np.exp(1j * {x})", f"{z} = {z} + {x} * {s}", f"{z} = {z} ** 2 * 0.5"]
    block = f"if {test} > {threshold!r}:\n    {d.choose(sides)}\nelse:\n    {d.choose(sides)}"
    d.line(block, c.measured(f"{test} - {threshold!r}", distance))
    if d.coin():
        c.step(z)
    c.result(z, real=x)


def complex_helper(c: ComplexDraw) -> None:
    """Module-level helpers that make, mix or reduce complex values."""
    d, x, s = c.d, c.x, c.s
    z, w = d.name("zc"), d.name("w")
    c.start(z)
    form = d.int(0, 5)
    if form == 0:
        d.line(f"{w} = {c.define('rotate')}({d.choose([x, z])}, {s})")
    elif form == 1:
        d.line(f"{w} = {c.define('phasor')}({x}) * {z}")
    elif form == 2:
        d.line(f"{w} = {c.define('cmix')}({z}, {d.choose([z, x, f'np.exp(1j * {x})'])})")
    elif form == 3:
        d.line(f"{w} = {c.define('horner')}({z} * 0.5, {c.number()})")
    elif form == 4:
        d.line(f"{w} = {c.define('twist')}({z}, {s})", lambda env: distance(env[s]))
    else:
        d.line(f"{w} = {z} * {c.define('energy')}({z} * 0.5)")
    if d.coin():
        c.step(w)
    c.result(w, z, real=x)


def complex_scalar(c: ComplexDraw) -> None:
    """A complex float: a literal times a real one, ``complex(a, b)``, ``np.exp(1j * s)``."""
    d, s = c.d, c.s
    t, k = d.name("t"), d.name("c")
    d.line(f"{t} = {d.scalar()}")
    d.line(f"{k} = " + d.choose([f"{s} * (0.5 + 1j)", f"np.exp(1j * {s})", f"{s} + 1j * {t}", f"complex({s}, {t})",
                                 f"complex(0.5, -1.0) * {s} + 1j", f"({s} + 1j) / (1.0 + 1j * {t})",
                                 f"complex({t}, 0.5)"]))
    for _ in range(d.int(0, 2)):
        d.line(d.choose([f"{k} = {k} * {k} * 0.5 + 1j", f"{k} = {k} * np.exp(1j * {t})", f"{k} = np.conj({k}) * 2j",
                         f"{k} = np.sqrt({k} * np.conj({k}) + 1.0) * {k}", f"{k} = {k} / (2.0 + 1j * {t})",
                         f"{k} *= {c.number()}"]))
    text, probe = c.scalar_read(k)
    d.line(f"{d.target} = {text}", probe)


def complex_refused(c: ComplexDraw) -> None:
    """Functions srcdiff has no complex rule for, given a complex value that carries a
    derivative: it must refuse them before running (or, if not, be right)."""
    d, x = c.d, c.x
    z = d.name("zc")
    c.start(z)
    form = d.int(0, 9)
    if form == 0:
        number = c.number()
        d.line(f"{d.target} = np.real(np.sum(np.maximum({z}, {number})))",
               c.measured(f"np.real({z}) - np.real({number})", distance))
    elif form == 1:
        d.line(f"{d.target} = np.sum(np.real(np.sign({z}) * {x}))", lambda env: distance(env[z]))
    elif form == 2:
        d.line(f"{d.target} = np.linalg.norm({z})", lambda env: distance(np.linalg.norm(env[z])))
    elif form == 3:
        d.line(f"{d.target} = np.real(np.sort({z}) @ np.array([1.0, 2.0, 3.0]))", lambda env: gap(env[z]))
    elif form == 4:
        d.line(f"{d.target} = np.var({z})")
    elif form == 5:
        d.line(f"{d.target} = np.real(np.linalg.det(np.outer({z}, {x}) + {c.define('CSQ')}))")
    elif form == 6:
        d.line(f"{d.target} = np.real(np.sum({z}.conj() * {z} * {c.number()}))")
    elif form == 7 and DRAW_REFUSALS_IN_HELPERS:  # inside a helper
        d.line(f"{d.target} = np.sum(np.real({c.define('unit')}({z}) * {x}))", lambda env: distance(env[z]))
    elif form in (7, 8):  # on one side of a branch only
        d.line(f"if {c.s} > 0.0:\n    {d.target} = np.linalg.norm({z})\nelse:\n    {d.target} = np.real(np.sum({z}))",
               lambda env: min(distance(env[c.s]), distance(np.linalg.norm(env[z]))))
    else:  # a function with no rule at all
        d.line(f"{d.target} = np.sum(np.abs(np.fft.fft({x} * {c.number()})) ** 2)")


COMPLEX_KINDS = {"elementwise": complex_elementwise, "matrix": complex_matrix, "loop": complex_loop,
                 "branch": complex_branch, "helper": complex_helper, "scalar": complex_scalar,
                 "refused": complex_refused}


def complex_values(d: Draw) -> None:
    """Complex intermediates of a real function, made from real values (``1j * x``,
    ``np.exp(1j * x)``, ``complex(a, b)``, complex constants and helpers), worked on
    (arithmetic, ``np.conj``, division by ``1 + 1j * x``, products with complex matrices,
    loops, branches on real quantities), and read back as real values (``np.real``,
    ``np.imag``, ``.real``, ``np.abs(...) ** 2``, ``np.angle``, ``np.vdot``); now and then
    a function srcdiff must refuse for complex values.  Arguments of ``np.abs`` and
    ``np.angle`` are probed for how close they come to zero (and the negative real axis)."""
    kind = d.choose(["elementwise", "elementwise", "matrix", "loop", "loop", "branch", "helper", "scalar",
                     "refused"])
    COMPLEX_KINDS[kind](ComplexDraw(d))


def random_draws(d: Draw) -> None:
    """Random draws: NumPy's global state (seeded in the function or not) or the
    program's Generator argument ``rng``; the check resets both before every call."""
    n = 3
    x, r = d.name("x"), d.name("r")
    d.line(f"{x} = {d.vec(n)}")
    s = d.scalar()
    if d.b.rng_mode == "generator":
        draws = [f"rng.normal(size={n})", f"rng.standard_normal({n})", f"rng.uniform(-1.0, 1.0, size={n})",
                 f"rng.random({n})", f"rng.normal({s}, 1.0, size={n})", f"rng.normal(0.0, 1.0 + {s} ** 2, size={n})"]
        picks = [f"rng.permutation({n})", f"rng.integers(0, {n}, size=2)", f"rng.choice({n}, size=2)"]
    else:
        if d.coin():
            d.line(f"np.random.seed({d.int(0, 9)})")
        draws = [f"np.random.normal(size={n})", f"np.random.randn({n})", f"np.random.rand({n})",
                 f"np.random.uniform(-1.0, 1.0, size={n})", f"np.random.normal({s}, 1.0, size={n})",
                 f"np.random.normal(0.0, 1.0 + {s} ** 2, size={n})", f"np.random.standard_normal({n})",
                 f"np.random.random({n})"]
        picks = [f"np.random.permutation({n})", f"np.random.choice({n}, size=2)", f"np.random.randint(0, {n}, size=2)"]
    form = d.int(0, 2)
    if form == 0:
        d.line(f"{r} = {d.choose(draws)}")
        d.result(d.choose([f"np.sum({x} * {r})", f"np.sum({r} * {r}) + np.sum({x})", f"np.tanh({x} + {r})"]))
    elif form == 1:
        d.line(f"{r} = {d.choose(picks)}")
        d.result(f"np.sum({x}[{r}] * np.arange(1.0, {r}.size + 1.0))")
    else:
        d.line(f"{r} = {d.choose(draws[:4])} > 0.5")
        d.result(f"np.sum({x} * {r})")


def constructors(d: Draw) -> None:
    """``np.linspace(a, b, n)``, ``np.arange(a, a + 3.0)`` with a float ``a``,
    ``np.bincount(idx, weights=x)``, ``np.unique(x)``."""
    v = d.name("v")
    kind = d.choose(["linspace", "arange", "bincount", "unique"])
    if kind == "linspace":
        d.line(f"{v} = " + d.choose([f"np.linspace({d.scalar()}, {d.scalar()}, {d.int(2, 4)})",
                                     f"np.linspace(0.0, {d.scalar()}, 4)",
                                     f"np.linspace({d.scalar()}, 1.0, 3, endpoint=False)"]))
        d.result(d.reads(v))
    elif kind == "arange":
        a = d.name("a")
        d.line(f"{a} = {d.scalar()}")
        d.line(f"{v} = np.arange({a}, {a} + 3.0)")
        d.result(f"np.sum(np.sin({v})) + {v}[-1] * {a}")
    elif kind == "bincount":
        d.line(f"{v} = np.bincount({d.choose(['np.array([0, 2, 2])', 'np.array([1, 0, 1])', '[2, 2, 2]'])}, "
               f"weights={d.vec(3)}{d.choose(['', ', minlength=4'])})")
        d.result(f"np.sum({v} * np.arange(1.0, {v}.size + 1.0)) + np.sum({v} ** 2)")
    else:
        x = d.name("x")
        d.line(f"{x} = {d.vec(3)}")
        d.line(f"{v} = np.unique({x})", lambda env: gap(env[x]))
        d.result(f"np.sum({v} * np.arange(1.0, {v}.size + 1.0)) + {v}[0]")


FAMILIES: dict[str, Callable] = {
    "views": views,
    "inplace": inplace,
    "mutators": mutators,
    "lists": lists,
    "iteration": iteration,
    "order": order,
    "builtins": builtins,
    "complex": complex_values,
    "random": random_draws,
    "constructors": constructors,
}

# What each family's programs show in their source (the generator test looks for them).
CONSTRUCTS = {
    "views": (".T", "[0]", "for row"),
    "inplace": ("/= ", "] += ", "-= "),
    "mutators": (".sort()", "np.copyto(", ".append("),
    "lists": ("[-1]", "[0.0] * 4"),
    "iteration": ("enumerate(", "zip("),
    "order": ('order="F"',),
    "builtins": ("sum(",),
    "complex": ("1j * ", "np.exp(1j * ", "/ (1.0 + 1j * ", "complex(", "np.conj", "np.real(", "np.imag(",
                "np.abs(", "np.vdot(", " @ "),
    "random": ("np.random.",),
    "constructors": ("np.linspace(", "np.unique("),
}


def parse_families(spec: str) -> tuple:
    """``"all"``, ``""`` or comma-separated family names."""
    spec = spec.strip()
    if spec == "all":
        return tuple(FAMILIES)
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown fuzz families {unknown}; known: {', '.join(FAMILIES)}")
    return names


def draw_snippet(builder: Any, families: tuple, number: int, target: str) -> Snippet:
    family = builder.choose(families)
    d = Draw(builder, number, target)
    FAMILIES[family](d)
    return d.snippet()
