"""How srcdiff's transformation time grows with the size of the function.

Generates synthetic functions of 10 ... 2000 statements (straight-line code, and the
same statements inside a ``for`` loop), writes each to its own file so ``inspect``
can read it, and times making its gradient for an 8-element array (parse through
compile, with ``srcdiff.api.watch``, which never answers from a cache).  The
pipeline's observer splits the time by stage.

Per-statement time should stay flat for a transformation that is linear in the size
of the program; the script flags growth between 100 and 2000 statements.

Usage::

    python benchmarks/compile_time.py [--quick] [--sizes 10,100,1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from srcdiff import api

SIZES = (10, 50, 100, 500, 1000, 2000)
# Per-statement time at the largest size over that at 100 statements above this is flagged.
SUPERLINEAR_THRESHOLD = 1.5
# A size whose first transformation takes longer than this (seconds) is not repeated.
SLOW = 2.0

_counter = itertools.count()


def _statement(i: int) -> str:
    """Statement ``i`` of a generated function: 2-4 operations on earlier values."""
    p, q = f"v{i - 1}", f"v{i // 2}"
    patterns = (
        f"v{i} = np.sin({p}) * x",
        f"v{i} = {p} * {q} + 1.0",
        f"v{i} = np.tanh({p}) - {q}",
        f"v{i} = np.exp(-{p} * {p}) + {q}",
        f"v{i} = {p} / (1.0 + {q} * {q})",
    )
    return patterns[i % len(patterns)]


def generate(n: int, loop: bool = False) -> str:
    """The source of ``f(x)``: ``n`` statements, straight-line or in a 3-trip loop."""
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x * 0.5"]
    body = [_statement(i) for i in range(1, n)]
    if loop:
        lines.append("    for _ in range(3):")
        lines += ["        " + s for s in body]
        lines.append(f"        v0 = v{n - 1} * 0.5")  # the loop-carried value
        lines.append("    return np.sum(v0)")
    else:
        lines += ["    " + s for s in body]
        lines.append(f"    return np.sum(v{n - 1})")
    return "\n".join(lines) + "\n"


def _load(source: str, directory: Path):
    name = f"_srcdiff_bench_gen_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def time_transform(n: int, loop: bool, directory: Path) -> tuple[float, dict[str, float]]:
    """Seconds to make the gradient of a fresh ``n``-statement function for an array
    argument (what its first ``grad(f)(x)`` spends before running it), and the seconds
    spent up to the end of each stage (from the pipeline's observer)."""
    fn = _load(generate(n, loop), directory)
    x = np.linspace(0.1, 0.9, 8)
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    api.watch(fn, lambda name, _program: marks.append((name, time.perf_counter())), (x,))
    total = time.perf_counter() - start
    passes: dict[str, float] = {}
    last = start
    for name, t in marks:
        passes[name] = passes.get(name, 0.0) + t - last
        last = t
    passes["(after names)"] = start + total - last
    return total, passes


def measure(sizes=SIZES, repeats: int = 3, loops=(False, True), out=print) -> dict:
    """Time every size (median of ``repeats`` fresh functions) and print a table."""
    results: dict = {"sizes": list(sizes), "repeats": repeats, "slow_seconds": SLOW,
                     "straight": {}, "loop": {}}
    saved = os.environ.get("SRCDIFF_DISABLE_CACHE")
    os.environ["SRCDIFF_DISABLE_CACHE"] = "1"  # time the transformation, not the disk cache
    try:
        with tempfile.TemporaryDirectory(prefix="srcdiff-compile-time-") as tmp:
            _measure_all(results, sizes, repeats, loops, Path(tmp), out)
    finally:
        if saved is None:
            del os.environ["SRCDIFF_DISABLE_CACHE"]
        else:
            os.environ["SRCDIFF_DISABLE_CACHE"] = saved
    return results


def _measure_all(results: dict, sizes, repeats: int, loops, tmp: Path, out) -> None:
    sys.dont_write_bytecode = True  # the generated modules are imported once
    for loop in loops:
        kind = "loop" if loop else "straight"
        out("\nthe same statements in a 3-trip for loop" if loop else "\nstraight-line function")
        out(f"{'statements':>10} {'transform ms':>13} {'µs/statement':>13}   slowest passes")
        for n in sizes:
            runs = [time_transform(n, loop, tmp)]
            while len(runs) < repeats and runs[0][0] < SLOW:  # one run of a slow size is enough
                runs.append(time_transform(n, loop, tmp))
            total = statistics.median(t for t, _ in runs)
            passes = {name: statistics.median(p.get(name, 0.0) for _, p in runs) for name in runs[0][1]}
            top = sorted(passes.items(), key=lambda kv: -kv[1])[:3]
            share = ", ".join(f"{name} {100 * t / total:.0f}%" for name, t in top)
            results[kind][n] = {"seconds": total, "per_statement_us": 1e6 * total / n, "passes": passes}
            out(f"{n:>10} {1e3 * total:>13.1f} {1e6 * total / n:>13.1f}   {share}")
        results[kind]["growth"] = _growth(results[kind], sizes, out)


def _growth(rows: dict, sizes, out) -> dict | None:
    """Per-statement time at the largest size over that at 100 statements, and the
    exponent of a power law through the two points (1.0 = linear)."""
    small = 100 if 100 in rows else min(sizes)
    large = max(sizes)
    if small == large:
        return None
    ratio = rows[large]["per_statement_us"] / rows[small]["per_statement_us"]
    exponent = math.log(rows[large]["seconds"] / rows[small]["seconds"]) / math.log(large / small)
    flag = "SUPER-LINEAR" if ratio > SUPERLINEAR_THRESHOLD else "about linear"
    out(f"per-statement time at {large} / at {small}: {ratio:.2f}x "
        f"(time ~ n^{exponent:.2f}): {flag} (flagged above {SUPERLINEAR_THRESHOLD}x)")
    return {"small": small, "large": large, "ratio": ratio, "exponent": exponent,
            "superlinear": ratio > SUPERLINEAR_THRESHOLD}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 500, one function each")
    parser.add_argument("--sizes", help="comma-separated statement counts (default: %(default)s)",
                        default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=None, help="fresh functions per size (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if args.quick:
        sizes = tuple(s for s in sizes if s <= 500) or sizes
    repeats = args.repeats or (1 if args.quick else 3)
    results = measure(sizes, repeats)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
