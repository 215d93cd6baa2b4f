"""The spread pass keeps a full reduction's cotangent a scalar only where every read
of it meets an array of the reduced shape: through copies that are assigned again,
through element-wise expressions, and never where a copy is updated with something
smaller, or returned as it is."""

from __future__ import annotations

import gast
import numpy as np
import pytest

import srcdiff
from srcdiff.emit import to_source
from srcdiff.passes.spread import keep_scalars
from srcdiff.testing import check_grad

from ..conftest import make_function

KEPT = {
    # the sum's cotangent reaches dg by a copy, then dg is assigned again from an
    # expression with an array of x's shape in it
    "copy_reassigned": """
def f(x):
    g = np.sqrt(x * x + 1.0)
    h = np.sin(x) / g
    return np.sum(h * h + g)
""",
    "through_scalar_arithmetic": """
def f(x):
    y = np.tanh(x) * 3.0
    return np.sum(-y / 2.0 + x * x)
""",
    "mean": """
def f(x):
    a = np.exp(-x * x)
    return np.mean(a + np.cos(x) * a)
""",
}


@pytest.mark.parametrize("name", sorted(KEPT))
@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_spread_cotangent_stays_a_scalar_and_the_gradient_is_right(name, shape):
    fn = make_function(KEPT[name])
    x = np.random.default_rng(len(name)).uniform(-1.5, 1.5, shape)
    check_grad(fn, x)
    source = srcdiff.grad(fn).source
    assert "sum_grad" not in source and "mean_grad" not in source
    assert srcdiff.grad(fn)(x).shape == shape


def _kept(params: str, tail: str, shapes: dict) -> str:
    """keep_scalars on ``grad_f(params)``: the spread cotangent ``d_t0`` of
    ``np.sum(x * x)``, then ``tail``."""
    code = (f"def grad_f({params}):\n    _t0 = x * x\n    d_t0 = sum_grad(1.0, _t0, None, False)\n"
            + "".join(f"    {line}\n" for line in tail.strip().splitlines()))
    tree = gast.parse(code).body[0]
    return to_source(keep_scalars(tree, shapes)).strip()


def test_a_copy_updated_with_something_smaller_keeps_the_array():
    tail = "dg = d_t0\ndg += s\ndx = dg * x\nreturn dx"
    # dg += s: s may be a scalar, and dg then still stands for the whole array
    assert "sum_grad" in _kept("x, s", tail, {"x": 1, "_t0": 1})
    # with s of x's class, dg meets the array in the update itself
    assert "sum_grad" not in _kept("x, s", tail, {"x": 1, "_t0": 1, "s": 1})


def test_a_copy_returned_as_it_is_keeps_the_array():
    tail = "dg = d_t0\ndg = dg * 2.0\nreturn dg"
    assert "sum_grad" in _kept("x", tail, {"x": 1, "_t0": 1})


def test_copies_in_a_cycle_are_followed_once():
    tail = "a = d_t0\nfor i in range(n):\n    b = a\n    a = b\ndx = a * x\nreturn dx"
    assert "sum_grad" not in _kept("x, n", tail, {"x": 1, "_t0": 1})
