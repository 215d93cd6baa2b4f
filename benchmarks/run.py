"""srcdiff against hand-written NumPy gradients and against the peers that are installed.

For every workload in ``workloads.py``: each system's gradient is checked against the
hand-written one, then timed (median of several interleaved measurements of many
calls each) and reported as a ratio to the hand-written gradient, so 1.00x is as
fast as an expert's NumPy and 2.00x twice as slow.  Also measured for srcdiff: the
time to the first gradient in a fresh process (import, transformation, compilation,
first call), the cost of a gradient relative to the function itself (against the
same ratio for the hand-written gradient), and the peak memory of one gradient call
relative to the hand-written one.

Usage::

    python benchmarks/run.py                 # everything installed (make bench)
    python benchmarks/run.py --quick --no-peers
    python benchmarks/run.py --only rnn --only mlp_small
    python benchmarks/run.py --compile-time  # also transformation time vs function size

Results go to stdout, and to ``benchmarks/output/`` as ``results.json`` and
``ratios.png``.  See ``benchmarks/README.md`` for how to read them.
"""

# ruff: noqa: E402  (the thread settings below must precede the import of NumPy)
from __future__ import annotations

import os

# One thread for BLAS, OpenMP and XLA, set before NumPy or a peer is imported: the
# ratios compare the code each system generates, not how many cores it can borrow
# on a shared machine.  OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as they are.
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()

import argparse
import gc
import importlib.metadata
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from workloads import WORKLOADS, Workload, by_name, variant

import srcdiff

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUTPUT = HERE / "output"

# Columns of the table, in order: the hand-written reference, then each system.
PEERS = ("autograd", "jax", "jax.jit", "torch")
SYSTEMS = ("srcdiff", *PEERS)


@dataclass
class Settings:
    seconds: float  # target length of one measurement (many calls)
    rounds: int  # interleaved measurements per system; the median is reported
    first_runs: int  # fresh processes for the time to first gradient
    jit_budget: float  # seconds jax.jit may spend compiling one workload
    peers: bool


@dataclass
class Result:
    """What one system did on one workload."""

    status: str  # "ok", "fails" (wrong gradient), "error" (raised), "absent"
    detail: str = ""
    times: list[float] = field(default_factory=list)  # seconds per call, one per round
    first_call: float | None = None  # seconds for the first (verifying) call in this process
    number: int = 0  # calls per measurement

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# --- the systems ----------------------------------------------------------------------

def _as_tuple(wrt: int | tuple[int, ...]) -> tuple[int, ...]:
    return wrt if isinstance(wrt, tuple) else (wrt,)


def _build_srcdiff(w: Workload, args: tuple) -> Callable[[], Any]:
    g = srcdiff.grad(w.loss, wrt=w.wrt)
    return lambda: g(*args)


def _build_autograd(w: Workload, args: tuple) -> Callable[[], Any]:
    import autograd
    import autograd.numpy as anp

    g = autograd.grad(variant(w.loss, anp), w.wrt)
    return lambda: g(*args)


def _jax_builder(jit: bool) -> Callable:
    def build(w: Workload, args: tuple) -> Callable[[], Any]:
        import jax
        import jax.numpy as jnp

        g = jax.grad(variant(w.loss, jnp), argnums=w.wrt)
        if jit:
            g = jax.jit(g)
        # arrays moved to JAX once, outside the timed call; floats stay Python floats
        jargs = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
        return lambda: jax.block_until_ready(g(*jargs))

    return build


class _TorchNumpy:
    """The few ``np`` functions the workloads call, on torch tensors."""

    def __init__(self, torch: Any):
        self._torch = torch
        for name in ("sin", "cos", "exp", "log", "sqrt", "tanh", "atan"):
            setattr(self, name, getattr(torch, name))

    def _reduce(self, op: str, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        if axis is None:
            return getattr(x, op)()
        return getattr(self._torch, "amax" if op == "max" else op)(x, dim=axis, keepdim=keepdims)

    def sum(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("sum", x, axis, keepdims)

    def mean(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("mean", x, axis, keepdims)

    def max(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return self._reduce("max", x, axis, keepdims)

    def concatenate(self, arrays: Any, axis: int = 0) -> Any:
        return self._torch.cat(list(arrays), dim=axis)

    def zeros(self, shape: Any) -> Any:
        return self._torch.zeros(shape, dtype=self._torch.float64)


def _build_torch(w: Workload, args: tuple) -> Callable[[], Any]:
    import torch

    f = variant(w.loss, _TorchNumpy(torch))
    wrt = _as_tuple(w.wrt)
    targs = [torch.tensor(a, dtype=torch.float64, requires_grad=i in wrt) for i, a in enumerate(args)]
    inputs = [targs[i] for i in wrt]
    single = not isinstance(w.wrt, tuple)

    def call() -> Any:
        grads = torch.autograd.grad(f(*targs), inputs)
        return grads[0] if single else grads

    return call


BUILDERS: dict[str, Callable] = {
    "srcdiff": _build_srcdiff,
    "autograd": _build_autograd,
    "jax": _jax_builder(jit=False),
    "jax.jit": _jax_builder(jit=True),
    "torch": _build_torch,
}
MODULES = {"autograd": "autograd", "jax": "jax", "jax.jit": "jax", "torch": "torch"}


def load_peers(wanted: bool) -> dict[str, tuple[bool, str]]:
    """For each peer, whether it is measured, and its version or why not."""
    status: dict[str, tuple[bool, str]] = {}
    for peer in PEERS:
        if not wanted:
            status[peer] = (False, "skipped (--no-peers)")
            continue
        try:
            module = __import__(MODULES[peer])
        except ImportError:
            status[peer] = (False, "not installed")
            continue
        status[peer] = (True, importlib.metadata.version(MODULES[peer]))
        if peer == "jax":
            module.config.update("jax_enable_x64", True)  # float64, as NumPy computes
        if peer == "torch":
            module.set_num_threads(1)
    return status


def _to_numpy(g: Any) -> list[np.ndarray]:
    parts = g if isinstance(g, (tuple, list)) else (g,)
    out = []
    for p in parts:
        if hasattr(p, "detach"):  # torch
            p = p.detach().numpy()
        out.append(np.asarray(p, dtype=float))
    return out


def matches(got: Any, ref: Any) -> bool:
    """Whether a gradient equals the hand-written one to floating-point accuracy."""
    got_parts, ref_parts = _to_numpy(got), _to_numpy(ref)
    if len(got_parts) != len(ref_parts):
        return False
    for a, b in zip(got_parts, ref_parts):
        scale = float(np.max(np.abs(b))) if b.size else 1.0
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-7, atol=1e-10 * max(scale, 1.0)):
            return False
    return True


# --- measurements ---------------------------------------------------------------------

def _timer(call: Callable[[], Any]) -> timeit.Timer:
    """A timer of ``call`` with the garbage collector left on, unlike timeit's default:
    code that makes reference cycles then pays for collecting them, as it does in a
    real program, instead of growing the heap for the length of the measurement."""
    return timeit.Timer(call, setup=gc.enable)


def calibrate(call: Callable[[], Any], seconds: float) -> int:
    """How many calls make one measurement of about ``seconds``."""
    number = 1
    while True:
        elapsed = _timer(call).timeit(number)
        if elapsed >= min(0.01, seconds / 4) or number >= 10**6:
            break
        number *= 10 if elapsed < 1e-3 else 2
    return max(1, round(number * seconds / max(elapsed, 1e-9)))


def time_interleaved(calls: dict[str, Callable[[], Any]], settings: Settings) -> dict[str, list[float]]:
    """Seconds per call of each callable, one value per round; the order of the systems
    rotates from round to round so that drift in the machine's speed is shared."""
    numbers = {name: calibrate(call, settings.seconds) for name, call in calls.items()}
    timers = {name: _timer(call) for name, call in calls.items()}
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(settings.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(timers[name].timeit(numbers[name]) / numbers[name])
    return times, numbers


def peak_memory(call: Callable[[], Any]) -> int:
    """Peak bytes allocated (NumPy buffers and Python objects) during one call; the
    smallest of three, as a stray allocation can only add."""
    peaks = []
    for _ in range(3):
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            out = call()
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()
        del out
    return min(peaks)


def page_faults(call: Callable[[], Any], number: int) -> float | None:
    """Minor page faults per call, over ``number`` calls (None where the OS does not
    count them).  A gradient whose temporaries cross malloc's trim or mmap threshold
    hands memory back to the OS on every call and faults it in again on the next: a
    cost that depends on the state of the heap, so the ratios of such a workload
    move from run to run."""
    try:
        import resource
    except ImportError:
        return None
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    _timer(call).timeit(number)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / number


def cyclic_garbage(call: Callable[[], Any]) -> int:
    """Objects one call leaves in reference cycles: only the cyclic garbage collector
    frees them (and what they hold, such as gradient arrays), some calls later."""
    gc.collect()
    gc.disable()
    try:
        call()
        return gc.collect()
    finally:
        gc.enable()


FIRST_GRADIENT = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import srcdiff
t2 = time.perf_counter()
sys.path.insert(0, {here!r})
from workloads import by_name
w = by_name({name!r})
args = w.make_args(np.random.default_rng(0))
t3 = time.perf_counter()
g = srcdiff.grad(w.loss, wrt=w.wrt)
g(*args)
t4 = time.perf_counter()
g(*args)
t5 = time.perf_counter()
print(json.dumps({{"import_numpy": t1 - t0, "import_srcdiff": t2 - t1, "first_gradient": t4 - t3,
                  "second_call": t5 - t4}}))
"""


def first_gradient(name: str, runs: int) -> dict[str, float]:
    """Seconds from ``srcdiff.grad(f)`` to the first gradient in a fresh process, median
    of ``runs`` processes: ``first_gradient`` with an empty on-disk cache
    (transformation, compilation, storing, one call), then ``first_gradient_disk`` in
    a second process that finds the first one's entry (loading, one call)."""
    samples: list[dict] = []
    script = FIRST_GRADIENT.format(here=str(HERE), name=name)
    for _ in range(runs):
        sample: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="srcdiff-bench-cache-") as cache:
            env = {k: v for k, v in os.environ.items() if k != "SRCDIFF_DISABLE_CACHE"}
            env.update(XDG_CACHE_HOME=cache, SRCDIFF_CACHE_DIR=cache)
            for suffix in ("", "_disk"):
                proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                      env=env, cwd=ROOT, timeout=600)
                if proc.returncode != 0:
                    raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
                for key, value in json.loads(proc.stdout.strip().splitlines()[-1]).items():
                    sample[key + suffix] = value
        samples.append(sample)
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


JIT_PROBE = """
import sys, time
import numpy as np
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
sys.path.insert(0, {here!r})
from workloads import by_name, variant
w = by_name({name!r})
args = w.make_args(np.random.default_rng(0))
jargs = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
lowered = jax.jit(jax.grad(variant(w.loss, jnp), argnums=w.wrt)).lower(*jargs)
start = time.perf_counter()
lowered.compile()
print(time.perf_counter() - start)
"""


def jit_compile_time(name: str, budget: float) -> float | None:
    """Seconds XLA takes to compile ``jax.jit(jax.grad(loss))``, or None past ``budget``.

    Measured in a separate process that is killed at the budget: a Python loop is
    unrolled into the traced program, and XLA's compile time can grow much faster
    than the loop's length (100 steps of the mass-spring loop take minutes)."""
    try:
        proc = subprocess.run([sys.executable, "-c", JIT_PROBE.format(here=str(HERE), name=name)],
                              capture_output=True, text=True, cwd=ROOT, timeout=budget)
    except subprocess.TimeoutExpired:
        return None
    try:
        return float(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0.0  # the probe failed: let the in-process attempt report the error


def run_workload(w: Workload, settings: Settings, peers: dict[str, tuple[bool, str]], log: Callable) -> dict:
    """Verify, time and measure every system on one workload."""
    args = w.make_args(np.random.default_rng(0))
    reference = w.hand_grad(*args)
    results: dict[str, Result] = {}
    calls: dict[str, Callable[[], Any]] = {
        "hand": lambda: w.hand_grad(*args),
        "function": lambda: w.loss(*args),
    }
    for system in SYSTEMS:
        if system != "srcdiff" and not peers[system][0]:
            results[system] = Result("absent", peers[system][1])
            continue
        if system == "jax.jit":
            compile_s = jit_compile_time(w.name, settings.jit_budget)
            if compile_s is None:
                results[system] = Result("timeout", f"XLA compilation took over {settings.jit_budget:g} s "
                                                    "(measured in a separate process)")
                continue
        try:
            call = BUILDERS[system](w, args)
            start = time.perf_counter()
            got = call()
            first = time.perf_counter() - start
        except Exception as exc:  # any failure of a system is a result, not a crash
            results[system] = Result("error", f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
            continue
        if not matches(got, reference):
            results[system] = Result("fails", "gradient differs from the hand-written one")
            continue
        results[system] = Result("ok", first_call=first,
                                 detail=f"XLA compilation {compile_s:.2f} s" if system == "jax.jit" else "")
        calls[system] = call
    times, numbers = time_interleaved(calls, settings)
    for system, result in results.items():
        if result.status == "ok":
            result.times, result.number = times[system], numbers[system]

    hand, function = times["hand"], times["function"]
    row: dict[str, Any] = {
        "title": w.title,
        "hand_us": 1e6 * statistics.median(hand),
        "function_us": 1e6 * statistics.median(function),
        "hand_times_s": hand,
        "hand_calls_per_measurement": numbers["hand"],
        "systems": {},
    }
    for system, result in results.items():
        entry: dict[str, Any] = {"status": result.status}
        if result.detail:
            entry["detail"] = result.detail
        if result.status == "ok":
            per_round = [t / h for t, h in zip(result.times, hand)]
            entry.update(
                ratio=statistics.median(per_round),
                ratio_min=min(per_round),
                ratio_max=max(per_round),
                median_us=1e6 * result.median,
                times_s=result.times,
                calls_per_measurement=result.number,
                first_call_in_process_ms=1e3 * result.first_call,
            )
        row["systems"][system] = entry

    row["cost_ratio"] = {"hand": statistics.median(hand) / statistics.median(function)}
    if results["srcdiff"].status == "ok":
        row["cost_ratio"]["srcdiff"] = results["srcdiff"].median / statistics.median(function)
        hand_peak, srcdiff_peak = peak_memory(calls["hand"]), peak_memory(calls["srcdiff"])
        row["peak_bytes"] = {"hand": hand_peak, "srcdiff": srcdiff_peak}
        row["peak_ratio"] = srcdiff_peak / max(hand_peak, 1)
        row["page_faults_per_call"] = {system: page_faults(calls[system], max(1, numbers[system] // 4))
                                       for system in ("hand", "srcdiff")}
        row["cyclic_garbage"] = {"hand": cyclic_garbage(calls["hand"]),
                                 "srcdiff": cyclic_garbage(calls["srcdiff"])}
        try:
            row["first_gradient"] = first_gradient(w.name, settings.first_runs)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            row["first_gradient"] = {"error": str(exc)}
    log(f"  {w.name}: done")
    return row


# --- reporting ------------------------------------------------------------------------

def _cell(entry: dict) -> str:
    status = entry["status"]
    if status == "ok":
        return f"{entry['ratio']:.2f}x"
    return {"absent": "-", "fails": "fails", "error": "error", "timeout": "timeout"}[status]


def table(rows: dict[str, dict]) -> str:
    """The aligned results table."""
    header = ["workload", "hand µs", "srcdiff", "autograd", "jax", "jax.jit", "torch",
              "1st grad ms cold|disk", "less a call", "grad/func sd|hand", "peak mem"]
    lines = []
    for row in rows.values():
        sd = row["systems"]["srcdiff"]
        cost = row["cost_ratio"]
        first = row.get("first_gradient", {})
        lines.append([
            row["title"],
            f"{row['hand_us']:.1f}" if row["hand_us"] < 100 else f"{row['hand_us']:.0f}",
            *(_cell(row["systems"][s]) for s in SYSTEMS),
            (f"{1e3 * first['first_gradient']:.0f} | {1e3 * first['first_gradient_disk']:.1f}"
             if "first_gradient" in first else "-"),
            (f"{1e3 * (first['first_gradient'] - first['second_call']):.0f} | "
             f"{1e3 * (first['first_gradient_disk'] - first['second_call_disk']):.1f}"
             if "first_gradient" in first else "-"),
            f"{cost['srcdiff']:.1f} | {cost['hand']:.1f}" if "srcdiff" in cost else f"- | {cost['hand']:.1f}",
            f"{row['peak_ratio']:.2f}x" if sd["status"] == "ok" else "-",
        ])
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, lines)])


def notes(rows: dict[str, dict]) -> list[str]:
    """The failures and errors behind the table's words."""
    out = []
    for name, row in rows.items():
        for system, entry in row["systems"].items():
            if entry["status"] in ("fails", "error", "timeout"):
                out.append(f"  {name} / {system}: {entry['status']}: {entry.get('detail', '')}")
        faults = row.get("page_faults_per_call", {})
        if faults.get("srcdiff") is not None and faults["srcdiff"] > faults["hand"] + 1:
            out.append(f"  {name} / srcdiff: {faults['srcdiff']:.0f} page faults per call (hand-written: "
                       f"{faults['hand']:.0f}): memory returned to the OS and faulted in again each call")
        garbage = row.get("cyclic_garbage", {}).get("srcdiff", 0)
        if garbage:
            out.append(f"  {name} / srcdiff: each call leaves {garbage} objects in reference cycles "
                       "(freed only by the cyclic garbage collector, with what they hold)")
        if "error" in row.get("first_gradient", {}):
            out.append(f"  {name} / first gradient: {row['first_gradient']['error']}")
    return out


def environment(peers: dict[str, tuple[bool, str]]) -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "srcdiff": srcdiff.__version__,
        "peers": {peer: text for peer, (_, text) in peers.items()},
        "threads_pinned": {var: os.environ[var] for var in THREAD_VARS},
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "openblas_env": {var: os.environ.get(var) for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }
    try:
        from threadpoolctl import threadpool_info

        keys = ("internal_api", "version", "prefix", "architecture", "num_threads", "filepath")
        info["blas"] = [{k: p.get(k) for k in keys} for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    if hasattr(os, "getloadavg"):
        info["load_average_start"] = os.getloadavg()
    return info


def describe(info: dict[str, Any]) -> list[str]:
    blas = info["blas"]
    if isinstance(blas, list):
        blas = "; ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} thread"
            + (", NumPy's)" if "numpy" in (b["filepath"] or "") else ")") for b in blas) or "none"
    env = ", ".join(f"{k}={v}" for k, v in info["openblas_env"].items() if v is not None) or "not set"
    lines = [
        f"Python {info['python']}, NumPy {info['numpy']}, srcdiff {info['srcdiff']} on {info['platform']}, "
        f"{info['cpus']} CPUs",
        f"threads pinned to 1 before importing NumPy: {', '.join(info['threads_pinned'])}; "
        f"XLA_FLAGS={info['xla_flags']}; torch.set_num_threads(1)",
        f"BLAS: {blas}; OPENBLAS_CORETYPE/L2_SIZE: {env} (left as found)",
        "peers: " + ", ".join(f"{k} {v}" for k, v in info["peers"].items()),
    ]
    if "load_average_start" in info:
        lines.append("load average at start: " + " ".join(f"{x:.2f}" for x in info["load_average_start"]))
    return lines


def chart(rows: dict[str, dict], path: Path) -> str | None:
    """A bar chart of each system's ratio to hand-written NumPy; srcdiff first."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return "matplotlib is not installed: no chart"
    systems = [s for s in SYSTEMS if any(r["systems"][s]["status"] == "ok" for r in rows.values())]
    names = list(rows)
    fig = Figure(figsize=(max(7.0, 1.3 * len(names) + 2), 4.8), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(systems), 1)
    colors = {"srcdiff": "#d62728", "autograd": "#8c8c8c", "jax": "#6baed6", "jax.jit": "#2171b5",
              "torch": "#fd8d3c"}
    for k, system in enumerate(systems):
        xs, ys = [], []
        for i, name in enumerate(names):
            entry = rows[name]["systems"][system]
            if entry["status"] == "ok":
                xs.append(i + (k - (len(systems) - 1) / 2) * width)
                ys.append(entry["ratio"])
            else:  # say why there is no bar
                ax.text(i + (k - (len(systems) - 1) / 2) * width, 1.0, entry["status"], rotation=90,
                        ha="center", va="bottom", fontsize=7, color=colors[system])
        bars = ax.bar(xs, ys, width, label=system, color=colors[system])
        if system == "srcdiff":
            ax.bar_label(bars, labels=[f"{y:.2f}" for y in ys], fontsize=7, padding=2)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), [rows[n]["title"] for n in names], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("time / hand-written NumPy (log scale)")
    ax.set_title("Gradient time relative to hand-written NumPy (lower is better, 1 = hand-written)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short measurements, for a smoke run")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this workload (repeatable): " + ", ".join(w.name for w in WORKLOADS))
    parser.add_argument("--no-peers", action="store_true", help="srcdiff and hand-written NumPy only")
    parser.add_argument("--compile-time", action="store_true",
                        help="also measure transformation time against function size (compile_time.py)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write results (%(default)s)")
    args = parser.parse_args(argv)

    if args.quick:
        settings = Settings(seconds=0.02, rounds=3, first_runs=1, jit_budget=20.0, peers=not args.no_peers)
    else:
        settings = Settings(seconds=0.25, rounds=7, first_runs=3, jit_budget=60.0, peers=not args.no_peers)
    try:
        chosen = [by_name(n) for n in args.only] if args.only else list(WORKLOADS)
    except KeyError as exc:
        parser.error(exc.args[0])
    peers = load_peers(settings.peers)
    info = environment(peers)
    for line in describe(info):
        print(line)
    print(f"{'quick' if args.quick else 'full'} run: {settings.rounds} interleaved rounds of "
          f"~{settings.seconds:g} s per system and workload\n", flush=True)

    started = time.perf_counter()
    rows = {w.name: run_workload(w, settings, peers, log=lambda m: print(m, file=sys.stderr, flush=True))
            for w in chosen}
    if hasattr(os, "getloadavg"):
        info["load_average_end"] = os.getloadavg()

    print()
    print(table(rows))
    problems = notes(rows)
    if problems:
        print("\nnotes:")
        print("\n".join(problems))
    imports = [r["first_gradient"]["import_srcdiff"] for r in rows.values() if "import_srcdiff" in
               r.get("first_gradient", {})]
    print("\nratios: median over rounds of (system time / hand-written time in the same round); "
          "lower is better")
    print("1st grad ms: srcdiff.grad(f) to first gradient in a fresh process: cold = transform + compile + "
          "call, disk = a second process loading the on-disk cache + call; less a call: the same "
          "less the time of the process's second call (what srcdiff adds to the first)"
          + (f"; import srcdiff itself: {1e3 * statistics.median(imports):.0f} ms" if imports else ""))
    print("grad/func: gradient time / loss time, srcdiff | hand-written; "
          "peak mem: srcdiff / hand-written peak bytes in one call")

    results: dict[str, Any] = {"environment": info, "settings": settings.__dict__, "workloads": rows}
    if args.compile_time:
        import compile_time

        print("\ntransformation time against function size (compile_time.py)")
        results["compile_time"] = compile_time.measure(
            tuple(s for s in compile_time.SIZES if s <= 500) if args.quick else compile_time.SIZES,
            repeats=1 if args.quick else 3)

    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.json").write_text(json.dumps(results, indent=2, default=str))
    problem = chart(rows, args.output / "ratios.png")
    print(f"\nwrote {args.output / 'results.json'}" + (f"; {problem}" if problem else
                                                         f" and {args.output / 'ratios.png'}"))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
