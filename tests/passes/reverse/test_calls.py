"""Calls into the user's own functions and methods, through their pullbacks: helpers of
helpers, tuple results, recursion, a helper made by a closure, a method of ``self``
called in a loop; one derivative of a helper serves all its callers."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

RNG = np.random.default_rng(7)


def vec(*shape):
    return RNG.normal(size=shape)


# ---- helpers and recursion ------------------------------------------------------------

def affine(x, W, b):
    return x @ W + b


def layer(x, W, b):
    return np.tanh(affine(x, W, b))


def two_outputs(x):
    return x * 2.0, np.sum(x)


def mlp(params, x):
    h = layer(x, params["W1"], params["b1"])
    logits = affine(h, params["W2"], params["b2"])
    doubled, total = two_outputs(logits)
    return np.sum(doubled ** 2) + total


def poly_rec(x, n):
    if n == 0:
        return 1.0
    return 1.0 + x * poly_rec(x, n - 1)


def rec_with_loop(x, depth):
    if depth == 0:
        return np.sum(x)
    acc = x
    for _ in range(2):
        acc = np.sin(acc)
    return rec_with_loop(acc * 1.1, depth - 1)


def scale_by(factor):
    def inner(x):
        return x * factor
    return inner


SCALE = scale_by(3.0)


def uses_closure_helper(x):
    return np.sum(SCALE(x) ** 2)


def test_helpers_of_helpers_and_tuple_results():
    params = {"W1": vec(3, 4) * 0.5, "b1": vec(4), "W2": vec(4, 2) * 0.5, "b2": vec(2)}
    check_grad(mlp, params, vec(5, 3), wrt=(0, 1))


def test_recursion():
    check_grad(poly_rec, 0.7, 4)
    x, n = 0.7, 4
    assert srcdiff.grad(poly_rec)(x, n) == pytest.approx(sum(k * x ** (k - 1) for k in range(1, n + 1)))


def test_recursion_with_a_loop():
    check_grad(rec_with_loop, vec(3), 3)


def test_function_from_a_closure():
    check_grad(uses_closure_helper, vec(4))


def test_helper_derivative_is_cached_once_for_all_callers():
    from srcdiff import pipeline

    def caller_a(x):
        return np.sum(affine(x, x, x))

    def caller_b(x):
        return np.sum(affine(x, x, x) * 2)

    x = vec(3, 3)
    srcdiff.grad(caller_a)(x)
    before = pipeline.STATS["transforms"]
    srcdiff.grad(caller_b)(x)
    assert pipeline.STATS["transforms"] == before + 1  # caller_b only; affine's vjp is reused


# ---- methods ------------------------------------------------------------------------

class _Recurrent:
    def __init__(self, steps):
        self.steps = steps

    def step(self, h, w):
        return np.tanh(h * w + 0.1)

    def loss(self, w, h):
        for _ in range(self.steps):
            h = self.step(h, w)  # a method of self, in a loop: its pullback kept per step
        return np.sum(h ** 2)


def test_method_calling_another_method_on_self_in_a_loop():
    model = _Recurrent(3)
    w, h = np.array([0.5, -0.8]), np.array([0.2, 0.4])
    check_grad(model.loss, w, h, wrt=(0, 1), modes=("reverse", "forward"))
    assert "method_vjp(self, 'step', (1, 2))" in srcdiff.source(_Recurrent.loss, wrt=(1, 2))
