"""The simplifications together, on whole programs: gradients stay exact and the
code reads like the function."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

from ...conftest import make_function

SCALAR = """
def f(x, y):
    a = math.sin(x) * y + math.cos(y)
    b = math.exp(-a * 0.5) + x * y
    c = math.sqrt(b * b + y * y + 1.0)
    return (c + x) ** 2 - b / c + math.atan(y) * a
"""


@pytest.mark.parametrize("kind", ["grad", "value_and_grad"])
def test_simplified_scalar_code_gives_the_exact_gradient(kind):
    f = make_function(SCALAR)
    check_grad(f, 0.4, 0.9, wrt=(0, 1))
    d = getattr(srcdiff, kind)(f, wrt=(0, 1))
    out = d(0.4, 0.9)
    grads = out[1] if kind == "value_and_grad" else out
    assert all(type(g) is float for g in grads)
    # the forward pass reads like the function: an operation per statement no more
    forward = d.source.split("# Grad of")[0].strip().splitlines()[1:]
    assert len(forward) <= (8 if kind == "grad" else 12), forward


def test_an_index_written_with_literals_adds_in_place_and_gradients_are_right():
    f = make_function("""
def f(x, w):
    y = x[1:] * w[:-1] + x[:-1] * x[1:]
    z = x[0, ...] * 2.0 if x.ndim > 1 else x[-1] * 3.0
    return np.sum(y * y) + np.sum(z)
""")
    for shape in [(5,), (4, 3)]:
        x = np.random.default_rng(1).normal(size=shape)
        w = np.random.default_rng(2).normal(size=shape)
        check_grad(f, x, w, wrt=(0, 1))
    d = srcdiff.grad(f, wrt=(0, 1))
    d(np.ones(5), np.ones(5))
    assert "[1:] += " in d.source and "index_add" not in d.source, d.source
