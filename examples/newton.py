"""Newton's method with srcdiff's Hessians, against plain gradient descent.

The problem is L2-regularised logistic regression on scikit-learn's breast-cancer data
(569 tumours, 30 standardised features, no download), written as ordinary NumPy in
:func:`loss`.  Three optimisers start from zero weights:

* gradient descent with the step ``1 / L`` (``L`` bounds the curvature), gradients from
  ``srcdiff.grad``;
* Newton's method, each step solving ``H p = -g`` with the full Hessian from
  ``srcdiff.hessian`` (forward mode over the generated reverse-mode gradient);
* truncated Newton (Newton-CG), solving the same system by conjugate gradients with
  Hessian-vector products from ``srcdiff.hvp``, never forming ``H``.

Newton's methods reach the minimum to machine precision in about ten steps; gradient
descent is still far from it after hundreds.  Both Newton steps take a backtracking
line search, so a step never increases the loss.  The loss curves, as the distance to the
minimum on a log scale, are saved to ``examples/output/newton_loss.png``.

Usage::

    python examples/newton.py                     # defaults
    python examples/newton.py --iterations 30 --reg 1e-2 --quiet

Needs the ``examples`` extra: ``pip install 'srcdiff[examples]'``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_breast_cancer

import srcdiff

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output"


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """The breast-cancer features, standardised, with a column of ones for the bias, and
    the labels as -1 / +1."""
    data = load_breast_cancer()
    x = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    x = np.hstack([x, np.ones((len(x), 1))])
    return x, 2.0 * data.target - 1.0


def loss(w: np.ndarray, x: np.ndarray, y: np.ndarray, reg: float) -> float:
    """Mean logistic loss ``log(1 + exp(-y x.w))`` plus ``reg / 2 |w|^2``.

    ``np.logaddexp(0, -m)`` is ``log(1 + exp(-m))`` without overflow for large margins.
    This is the function srcdiff differentiates, once for the gradient and twice for the
    Hessian.
    """
    margins = y * (x @ w)
    return np.mean(np.logaddexp(0.0, -margins)) + 0.5 * reg * np.sum(w * w)


grad = srcdiff.grad(loss)
hessian = srcdiff.hessian(loss)
hvp = srcdiff.hvp(loss)

Problem = tuple[np.ndarray, np.ndarray, float]


def _backtrack(w: np.ndarray, step: np.ndarray, slope: float, value: float, problem: Problem) -> np.ndarray:
    """``w + t step`` for the first ``t`` in 1, 1/2, 1/4, ... that decreases the loss enough
    (the Armijo condition, with ``slope`` the directional derivative along ``step``)."""
    t = 1.0
    while t > 1e-10 and loss(w + t * step, *problem) > value + 1e-4 * t * slope:
        t *= 0.5
    return w + t * step


def gradient_descent(w: np.ndarray, problem: Problem, iterations: int, lr: float) -> tuple[np.ndarray, list]:
    """Fixed-step gradient descent; returns the weights and the loss before each step and
    after the last."""
    history = [loss(w, *problem)]
    for _ in range(iterations):
        w = w - lr * grad(w, *problem)
        history.append(loss(w, *problem))
    return w, history


def newton(w: np.ndarray, problem: Problem, iterations: int) -> tuple[np.ndarray, list]:
    """Newton's method with the Hessian from srcdiff and a backtracking line search."""
    history = [loss(w, *problem)]
    for _ in range(iterations):
        g = grad(w, *problem)
        step = -np.linalg.solve(hessian(w, *problem), g)
        w = _backtrack(w, step, float(g @ step), history[-1], problem)
        history.append(loss(w, *problem))
    return w, history


def conjugate_gradient(apply: Callable[[np.ndarray], np.ndarray], b: np.ndarray, iterations: int,
                       tol: float = 1e-10) -> np.ndarray:
    """Approximately solve ``A p = b`` for a symmetric positive-definite ``A`` given only as
    ``apply(v) = A v``."""
    p = np.zeros_like(b)
    r = b.copy()
    d = r.copy()
    rr = float(r @ r)
    for _ in range(iterations):
        if rr <= tol * tol:
            break
        ad = apply(d)
        alpha = rr / float(d @ ad)
        p = p + alpha * d
        r = r - alpha * ad
        rr, rr_old = float(r @ r), rr
        d = r + (rr / rr_old) * d
    return p


def newton_cg(w: np.ndarray, problem: Problem, iterations: int,
              cg_iterations: int = 10) -> tuple[np.ndarray, list]:
    """Truncated Newton: each step solves ``H p = -g`` by conjugate gradients with
    Hessian-vector products from srcdiff (``H`` itself is never formed)."""
    history = [loss(w, *problem)]
    for _ in range(iterations):
        g = grad(w, *problem)
        step = conjugate_gradient(lambda v, w=w: hvp(w, *problem, v), -g, cg_iterations)
        w = _backtrack(w, step, float(g @ step), history[-1], problem)
        history.append(loss(w, *problem))
    return w, history


def lipschitz_step(x: np.ndarray, reg: float) -> float:
    """``1 / L`` for ``L = |X|_2^2 / (4 n) + reg``, a bound on the loss's curvature (the
    logistic function's slope is at most 1/4): gradient descent's safe step."""
    return 1.0 / (np.linalg.norm(x, 2) ** 2 / (4 * len(x)) + reg)


def save_plot(histories: dict[str, list], best: float, path: Path) -> None:
    """Plot each method's loss minus ``best`` per iteration, log scale, to a PNG."""
    fig = Figure(figsize=(6, 4), layout="constrained")  # a bare Figure renders with Agg
    ax = fig.add_subplot()
    for name, history in histories.items():
        gap = np.maximum(np.asarray(history) - best, 1e-16)
        ax.plot(np.arange(len(history)), gap, marker=".", label=name)
    ax.set_xlabel("iteration")
    ax.set_xscale("symlog", linthresh=10)  # linear for Newton's few steps, log for the long tail
    ax.set_ylabel("loss - minimum")
    ax.set_yscale("log")
    ax.set_title("Logistic regression (breast cancer): Newton vs GD")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=15,
                        help="Newton and Newton-CG steps (default: 15)")
    parser.add_argument("--gd-iterations", type=int, default=None,
                        help="gradient-descent steps (default: 20 times --iterations)")
    parser.add_argument("--cg-iterations", type=int, default=10,
                        help="conjugate-gradient steps per Newton-CG step (default: 10)")
    parser.add_argument("--reg", type=float, default=1e-3, help="L2 regularisation (default: 1e-3)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="directory for the PNG (default: examples/output)")
    parser.add_argument("--quiet", action="store_true", help="only the summary, no per-iteration table")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, list]:
    """Run the three optimisers with the options in ``argv``; returns each one's loss history."""
    args = parse_args(argv)
    x, y = load_data()
    problem = (x, y, args.reg)
    w0 = np.zeros(x.shape[1])
    gd_iterations = args.gd_iterations if args.gd_iterations is not None else 20 * args.iterations
    histories, seconds = {}, {}
    runs = {
        "gradient descent": lambda: gradient_descent(w0, problem, gd_iterations, lipschitz_step(x, args.reg)),
        "Newton (srcdiff.hessian)": lambda: newton(w0, problem, args.iterations),
        "Newton-CG (srcdiff.hvp)": lambda: newton_cg(w0, problem, args.iterations, args.cg_iterations),
    }
    for name, run in runs.items():
        start = time.perf_counter()
        _, histories[name] = run()
        seconds[name] = time.perf_counter() - start

    best = min(min(h) for h in histories.values())
    if not args.quiet:
        names = list(histories)
        print("iteration  " + "  ".join(f"{name:>26}" for name in names))
        for i in range(args.iterations + 1):
            print(f"{i:9d}  " + "  ".join(f"{histories[name][i]:26.12f}" for name in names))
        print()
    for name, history in histories.items():
        print(f"{name:>26}: {len(history) - 1:4d} iterations, loss {history[-1]:.12f} "
              f"({history[-1] - best:.1e} above the best), {seconds[name]:.2f} s")
    same = min(len(histories["gradient descent"]), args.iterations + 1) - 1
    print(f"after {same} iterations: gradient descent {histories['gradient descent'][same]:.6f}, "
          f"Newton {histories['Newton (srcdiff.hessian)'][same]:.6f}")
    png = args.output / "newton_loss.png"
    save_plot(histories, best, png)
    print(f"loss curves saved to {png}")
    return histories


if __name__ == "__main__":
    main()
