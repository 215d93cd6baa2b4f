"""The hoist pass: a loop's product of each row by a fixed matrix is made in one product
before the loop, where that gives the same rows (every row read, the matrix unchanged, no
early exit, rows of a matrix); the gradients stay right either way."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

from ..conftest import make_function

RNN = """
def rnn(W, U, h, xs):
    for t in range({count}):
        h = np.tanh(h @ W + xs[t] @ U)
    return np.sum(h * h)
"""


@pytest.mark.parametrize("count", ["xs.shape[0]", "len(xs)"])
@pytest.mark.parametrize("batch", [False, True])
def test_a_loops_row_products_are_made_in_one_product(count, batch):
    f = make_function(RNN.format(count=count))
    rng = np.random.default_rng(6)
    W, U = rng.normal(size=(4, 4)) / 2, rng.normal(size=(3, 4))
    xs = rng.normal(size=(5, 2, 3) if batch else (5, 3))
    h = rng.normal(size=(2, 4) if batch else 4)
    d = srcdiff.grad(f, wrt=(0, 1, 2, 3))
    got = d(W, U, h, xs)
    assert "xs @ U" in d.source and "@ U\n" not in d.source.split("for t")[1].split("\n\n")[0]
    check_grad(f, W, U, h, xs, wrt=(0, 1, 2, 3))
    again = srcdiff.grad(f, wrt=(0, 1, 2, 3), optimize=False)(W, U, h, xs)
    for a, b in zip(got, again):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("body, args", [
    # the loop does not go over every row of xs
    ("for t in range(3):\n        h = np.tanh(h @ W + xs[t] @ U)", None),
    # U changes in the loop
    ("for t in range(xs.shape[0]):\n        h = np.tanh(h @ W + xs[t] @ U)\n        U = U * 0.9", None),
    # an early exit
    ("for t in range(xs.shape[0]):\n        h = np.tanh(h @ W + xs[t] @ U)\n"
     "        if np.sum(h) > 100.0:\n            break", None),
    # a 1-D xs: xs[t] @ U is no product of matrices
    ("for t in range(xs.shape[0]):\n        h = np.tanh(h @ W + xs[t] * U[0])", "flat"),
])
def test_row_products_stay_in_the_loop_where_batching_would_change_them(body, args):
    f = make_function(f"def rnn(W, U, h, xs):\n    {body}\n    return np.sum(h * h)\n")
    rng = np.random.default_rng(8)
    W, U, h = rng.normal(size=(4, 4)) / 2, rng.normal(size=(3, 4)), rng.normal(size=4)
    xs = rng.normal(size=5) if args == "flat" else rng.normal(size=(5, 3))
    d = srcdiff.grad(f, wrt=(0, 1))
    d(W, U, h, xs)
    assert "_rows" not in d.source
    check_grad(f, W, U, h, xs, wrt=(0, 1))
