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


def complex_values(d: Draw) -> None:
    """Complex intermediates of a real function: ``1j * x``, ``np.exp(1j * x)``,
    ``np.abs``, ``np.real``/``np.imag``, ``np.conj``, ``np.vdot``."""
    x, zc = d.name("x"), d.name("zc")
    d.line(f"{x} = {d.vec(3)}")
    form = d.int(0, 3)
    if form == 0:
        d.line(f"{zc} = 1j * {x}")
    elif form == 1:
        d.line(f"{zc} = np.exp(1j * {x})")
    elif form == 2:
        d.line(f"{zc} = {x} + 1j * {d.vec(3)}")
    else:
        d.line(f"{zc} = np.exp(1j * {x}) * {x}")
    read = d.int(0, 5)
    if read == 0:
        d.line(f"{d.target} = np.sum(np.abs({zc}))", lambda env: distance(env[zc]))
    elif read == 1:
        d.result(f"np.sum(np.real({zc} * {zc}))")
    elif read == 2:
        d.result(f"np.real(np.vdot({zc}, {zc} * {x}))")
    elif read == 3:
        d.result(f"np.sum(np.imag({zc}) * {x}) + np.sum({zc}.real)")
    elif read == 4:
        d.result(f"np.sum(np.real({zc} * np.conj({zc})))")
    else:
        d.line(f"{d.target} = np.abs({zc} + 2.0)", lambda env: distance(env[zc] + 2.0))


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
    "complex": ("1j * ",),
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
