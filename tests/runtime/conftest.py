"""Checks shared by the tests of srcdiff/runtime/.

An adjoint helper is checked by the identity that defines a vector-Jacobian product:
for its primal operation P at x, a random cotangent u and a random tangent v,

    <u, J v> == <helper(u, ...), v>

where J v is P applied to v for a linear P (exact), or a central difference of P
along v otherwise (``assert_vjp``).  Edge cases the identity cannot reach (ties, zeros,
containers, errors) have their own tests with expected values worked out by hand or by
brute force.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def rand(shape: tuple, rng: np.random.Generator) -> Any:
    """Normal entries; shape () gives a Python float."""
    value = rng.normal(size=shape)
    return float(value) if shape == () else value


def _randn_like(x: Any, rng: np.random.Generator) -> Any:
    if isinstance(x, dict):
        return {k: _randn_like(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [_randn_like(v, rng) for v in x]
        return items if isinstance(x, list) else tuple(items)
    return rand(np.shape(x), rng)


def _combine(x: Any, v: Any, t: float) -> Any:
    """x + t v, leaf by leaf."""
    if isinstance(x, dict):
        return {k: _combine(x[k], v[k], t) for k in x}
    if isinstance(x, (list, tuple)):
        items = [_combine(a, b, t) for a, b in zip(x, v)]
        return items if isinstance(x, list) else tuple(items)
    return x + t * v


def _scale(x: Any, t: float) -> Any:
    if isinstance(x, (list, tuple)):
        items = [_scale(v, t) for v in x]
        return items if isinstance(x, list) else tuple(items)
    return np.multiply(x, t)


def _vdot(a: Any, b: Any) -> float:
    """<a, b> over floats, arrays and containers; None is a zero cotangent."""
    if a is None or b is None:
        return 0.0
    if isinstance(a, dict):
        return sum(_vdot(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"cotangent has {len(a)} entries, the value {len(b)}"
        return sum(_vdot(x, y) for x, y in zip(a, b))
    assert np.shape(a) == np.shape(b), f"shapes differ: {np.shape(a)} vs {np.shape(b)}"
    return float(np.sum(np.multiply(a, b)))


def _assert_like(ct: Any, x: Any) -> None:
    """A cotangent has its value's structure and shapes (None standing for zero)."""
    if ct is None:
        return
    if isinstance(x, dict):
        assert isinstance(ct, dict) and set(ct) <= set(x), f"{ct!r} vs {x!r}"
        for k in ct:
            _assert_like(ct[k], x[k])
    elif isinstance(x, (list, tuple)):
        assert isinstance(ct, (list, tuple)) and len(ct) == len(x), f"{ct!r} vs {x!r}"
        for c, v in zip(ct, x):
            _assert_like(c, v)
    else:
        assert np.shape(ct) == np.shape(x), f"cotangent shape {np.shape(ct)}, value shape {np.shape(x)}"


def assert_vjp(primal: Callable, x: Any, adjoint: Callable, seed: int = 0, *, linear: bool = False,
               eps: float = 1e-6, trials: int = 3) -> None:
    """<u, J v> == <adjoint(u), v> for random u and v (J the Jacobian of ``primal`` at x)."""
    rng = np.random.default_rng(seed)
    out = primal(x)
    for _ in range(trials):
        u = _randn_like(out, rng)
        v = _randn_like(x, rng)
        if linear:
            jv = primal(v)
        else:
            up, down = primal(_combine(x, v, eps)), primal(_combine(x, v, -eps))
            jv = _scale(_combine(up, down, -1.0), 1 / (2 * eps))
        ct = adjoint(u)
        _assert_like(ct, x)
        lhs, rhs = _vdot(u, jv), _vdot(ct, v)
        tol = 1e-10 if linear else 1e-6
        assert abs(lhs - rhs) <= tol * (1 + abs(lhs)), f"<u, Jv> = {lhs!r} but <J^T u, v> = {rhs!r}"


def singular(shape: tuple, rng: np.random.Generator, rank_drop: int = 1) -> np.ndarray:
    """Normal square matrices whose last ``rank_drop`` columns mix the others."""
    a = rng.normal(size=shape)
    n = shape[-1]
    a[..., n - rank_drop:] = a[..., :n - rank_drop] @ rng.normal(size=(n - rank_drop, rank_drop))
    return a


def spd(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    m = rng.normal(size=shape)
    return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])


# A tangent helper is checked against a central difference of its primal along a
# random direction; a helper giving second derivatives against a central difference of
# the first-order helper it differentiates (its tangents), or by the vector-Jacobian
# identity with that helper as the primal (its adjoints).


def assert_jvp(primal: Callable, x: Any, tangent: Callable, seed: int = 0, *, eps: float = 1e-6,
               trials: int = 3, rtol: float = 1e-6) -> None:
    """tangent(v) == (primal(x + eps v) - primal(x - eps v)) / (2 eps) for random v."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        v = _randn_like(x, rng)
        up, down = primal(_combine(x, v, eps)), primal(_combine(x, v, -eps))
        expected = _scale(_combine(up, down, -1.0), 1 / (2 * eps))
        got = tangent(v)
        _assert_like(got, expected)
        for a, b in zip(_flat(got), _flat(expected)):
            scale = 1 + np.max(np.abs(b), initial=0.0)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


def _flat(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _flat(item)]
    return [x]
