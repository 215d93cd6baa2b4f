"""Checking derivatives against central finite differences.

:func:`check_grad` compares srcdiff's gradient of a user's function with a numerical
one (float64, central differences) and reports the worst error and where it is.
:func:`numerical_grad` is the finite-difference gradient itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .api import grad, hvp, jvp

__all__ = ["check_grad", "numerical_grad", "GradCheck"]


def _leaves(x: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(x, dict):
        return [leaf for k in x for leaf in _leaves(x[k], f"{path}[{k!r}]")]
    if isinstance(x, (list, tuple)):
        return [leaf for i, v in enumerate(x) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, x)]


def _replace(x: Any, path_values: dict, path: str = "") -> Any:
    if isinstance(x, dict):
        return {k: _replace(v, path_values, f"{path}[{k!r}]") for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [_replace(v, path_values, f"{path}[{i}]") for i, v in enumerate(x)]
        return type(x)(items) if isinstance(x, tuple) else items
    return path_values.get(path, x)


def numerical_grad(fn: Callable[..., Any], args: tuple, argnum: int, eps: float = 1e-6,
                   cotangent: Any = None) -> Any:
    """Central-difference gradient of ``sum(fn(*args) * cotangent)`` w.r.t. ``args[argnum]``.

    The result has the structure of ``args[argnum]`` (float, array, or container).
    """

    def scalar(*a: Any) -> float:
        out = fn(*a)
        if cotangent is None:
            return float(np.sum(out))
        return float(_inner(out, cotangent))

    target = args[argnum]
    grads = {}
    for path, leaf in _leaves(target):
        if not isinstance(leaf, (float, np.floating, np.ndarray)) or (
                isinstance(leaf, np.ndarray) and leaf.dtype.kind != "f"):
            grads[path] = None
            continue
        base = np.array(leaf, dtype=np.float64)
        g = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[idx] += eps
            minus[idx] -= eps
            up = _with_leaf(args, argnum, target, path, plus, leaf)
            down = _with_leaf(args, argnum, target, path, minus, leaf)
            g[idx] = (scalar(*up) - scalar(*down)) / (2 * eps)
        grads[path] = float(g) if not isinstance(leaf, np.ndarray) else g
    if list(grads) == [""]:
        return grads[""]
    return _replace(target, grads)


def _with_leaf(args: tuple, argnum: int, target: Any, path: str, value: np.ndarray, leaf: Any) -> tuple:
    value = float(value) if not isinstance(leaf, np.ndarray) else value
    new = _replace(target, {path: value}) if path else value
    return args[:argnum] + (new,) + args[argnum + 1:]


def _inner(a: Any, b: Any) -> float:
    if a is None or b is None:  # a None value or cotangent: nothing to pair
        return 0.0
    if isinstance(a, (list, tuple)):
        return sum(_inner(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return sum(_inner(a[k], b[k]) for k in a)
    # (the real part: for a complex result, the gradient of Re(sum(cotangent * fn)))
    return float(np.real(np.sum(np.asarray(a) * np.asarray(b))))


@dataclass
class GradCheck:
    """The outcome of :func:`check_grad`."""

    ok: bool
    worst_abs: float
    worst_rel: float
    where: str

    def __bool__(self) -> bool:
        return self.ok


def check_grad(fn: Callable[..., Any], *args: Any, wrt: Any = 0, modes: tuple = ("reverse",),
               order: int = 1, rtol: float = 1e-5, atol: float = 1e-6, eps: float = 1e-6,
               raise_on_error: bool = True) -> GradCheck:
    """Compare srcdiff's derivatives of ``fn`` at ``args`` with central finite differences.

    ``modes``: ``"reverse"`` checks ``srcdiff.grad`` entry by entry; ``"forward"`` checks
    ``srcdiff.jvp`` along a random direction per argument.  ``order=2`` also checks
    second derivatives: ``srcdiff.hvp`` against finite differences of the gradient.
    Raises AssertionError naming the argument and entry that is off (unless
    ``raise_on_error=False``); returns a :class:`GradCheck` with the worst errors.

    >>> import numpy as np
    >>> check_grad(lambda x: np.sum(np.sin(x) * x), np.linspace(0.1, 1.0, 4),
    ...            modes=("forward", "reverse"), order=2).ok
    True
    """

    positions = _positions(fn, wrt)
    worst = GradCheck(True, 0.0, 0.0, "")

    def compare(got: Any, expected: Any, what: str) -> None:
        for (path, e), (_, a) in zip(_leaves(expected), _leaves(got)):
            if e is None:
                continue
            a_arr = np.asarray(a, dtype=np.float64)
            e_arr = np.asarray(e, dtype=np.float64)
            if a_arr.shape != e_arr.shape:
                raise AssertionError(f"{what}{path} has shape {a_arr.shape}, expected {e_arr.shape}")
            err = np.abs(a_arr - e_arr)
            rel = err / np.maximum(np.abs(e_arr), 1e-12)
            # not (err <= tol): a NaN on one side only is a mismatch too
            with np.errstate(invalid="ignore"):
                bad = ~(err <= atol + rtol * np.abs(e_arr)) & ~(np.isnan(a_arr) & np.isnan(e_arr))
            if err.size and err.max() >= worst.worst_abs:
                worst.worst_abs = float(err.max())
                worst.where = f"{what}{path}"
            if rel.size:
                worst.worst_rel = max(worst.worst_rel, float(np.where(err > atol, rel, 0).max()))
            if bad.any():
                worst.ok = False
                idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
                idx = tuple(int(i) for i in idx)
                worst.where = f"{what}{path} entry {idx}"
                if raise_on_error:
                    raise AssertionError(
                        f"mismatch in {worst.where}: srcdiff {a_arr[idx]!r}, finite "
                        f"differences {e_arr[idx]!r} (max abs error {err.max():.3g})")

    if "reverse" in modes:
        got = grad(fn, wrt=tuple(positions))(*copy.deepcopy(args))
        for pos, g in zip(positions, got):
            compare(g, numerical_grad(fn, args, pos, eps), f"argument {pos}")
    rng = np.random.default_rng(0)
    if "forward" in modes:
        for pos in positions:
            v = _direction(args[pos], rng)
            _, tangent = jvp(fn, wrt=pos)(*copy.deepcopy(args), v)
            plus = args[:pos] + (_step(args[pos], v, eps),) + args[pos + 1:]
            minus = args[:pos] + (_step(args[pos], v, -eps),) + args[pos + 1:]
            expected = _difference(fn(*plus), fn(*minus), 2 * eps)
            compare(tangent, expected, f"jvp along a random direction of argument {pos}")
    if order >= 2:
        for pos in positions:
            v = _direction(args[pos], rng)
            got = hvp(fn, wrt=pos)(*copy.deepcopy(args), v)
            g = grad(fn, wrt=pos)
            plus = args[:pos] + (_step(args[pos], v, 1e-4),) + args[pos + 1:]
            minus = args[:pos] + (_step(args[pos], v, -1e-4),) + args[pos + 1:]
            expected = _difference(g(*plus), g(*minus), 2e-4)  # leaf by leaf, for containers
            old = (rtol, atol)
            rtol, atol = max(rtol, 1e-4), max(atol, 1e-5)  # differences of a gradient: looser
            compare(got, expected, f"Hessian-vector product of argument {pos}")
            rtol, atol = old
    return worst


def _map(leaf: Callable, x: Any, *others: Any) -> Any:
    """``leaf`` applied to the leaves of ``x`` (and the matching leaves of ``others``),
    keeping ``x``'s structure of dicts, lists and tuples."""
    if isinstance(x, dict):
        return {k: _map(leaf, x[k], *(o[k] for o in others)) for k in x}
    if isinstance(x, (list, tuple)):
        items = [_map(leaf, *parts) for parts in zip(x, *others)]
        return tuple(items) if isinstance(x, tuple) else items
    return leaf(x, *others)


def _difference(a: Any, b: Any, scale: float) -> Any:
    """``(a - b) / scale`` leaf by leaf, keeping the structure of ``a``."""
    return _map(lambda x, y: None if x is None else
                (np.asarray(x, dtype=float) - np.asarray(y, dtype=float)) / scale, a, b)


def _direction(x: Any, rng: np.random.Generator) -> Any:
    """A random direction with the structure of ``x`` (zeros at non-float leaves)."""
    def leaf(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return rng.normal(size=v.shape) if v.dtype.kind == "f" else np.zeros(v.shape)
        return float(rng.normal()) if isinstance(v, float) else 0.0

    return _map(leaf, x)


def _step(x: Any, v: Any, eps: float) -> Any:
    """``x + eps * v`` leaf by leaf."""
    return _map(lambda a, b: a + eps * b if isinstance(a, (float, np.ndarray))
                and np.asarray(a).dtype.kind == "f" else a, x, v)


def _positions(fn: Callable, wrt: Any) -> list[int]:
    import inspect

    entries = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    names = list(inspect.signature(fn).parameters)
    return [e if isinstance(e, int) else names.index(e) for e in entries]
