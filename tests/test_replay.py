"""jacobian/hessian of functions that draw random numbers: every column sees the draws
of the primal evaluation, and the random state afterwards is as one call leaves it."""

from __future__ import annotations

import random

import numpy as np
import pytest

import srcdiff

from .conftest import make_function

X = np.array([0.3, -0.5, 1.1])


def finite_jacobian(f, x, reset, eps=1e-6):
    """Central differences, with the random state reset before each evaluation."""
    columns = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        reset()
        plus = np.asarray(f(x + e))
        reset()
        minus = np.asarray(f(x - e))
        columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=-1)


GLOBAL = ("def f(x):\n"
          "    return np.sin(x) * np.random.normal(size=x.shape) + x ** 2 * np.random.uniform()\n")
ARGUMENT = ("def f(x, rng):\n"
            "    return np.sin(x) * rng.normal(size=x.shape) + x ** 2 * rng.uniform()\n")
HELD = ("def f(x):\n"
        "    return np.sin(x) * G.normal(size=x.shape) + x ** 2 * G.uniform()\n")
SCALAR_GLOBAL = "def s(x):\n    return np.sum(np.sin(x) * np.random.normal(size=x.shape) * x)\n"
SCALAR_ARGUMENT = "def s(x, rng):\n    return np.sum(np.cos(x) * rng.normal(size=x.shape) * x ** 2)\n"


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_global_numpy_random(mode):
    f = make_function(GLOBAL)
    np.random.seed(0)
    J = srcdiff.jacobian(f, mode=mode)(X)
    after = np.random.get_state()
    np.testing.assert_allclose(J, finite_jacobian(f, X, lambda: np.random.seed(0)), atol=1e-8)
    np.random.seed(0)
    f(X)  # one call of the function
    expected = np.random.get_state()
    assert np.array_equal(after[1], expected[1]) and after[2:] == expected[2:]


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("kind", ["generator", "randomstate"])
def test_jacobian_generator_argument(mode, kind):
    f = make_function(ARGUMENT)
    make = (lambda: np.random.default_rng(3)) if kind == "generator" else (lambda: np.random.RandomState(3))
    rng = make()
    J = srcdiff.jacobian(f, mode=mode)(X, rng)
    np.testing.assert_allclose(J, finite_jacobian(lambda x: f(x, make()), X, lambda: None), atol=1e-8)
    once = make()
    f(X, once)
    assert rng.uniform() == once.uniform()  # advanced exactly as one call advances it


def test_jacobian_global_generator():
    G = np.random.default_rng(5)
    f = make_function(HELD, {"G": G})
    J = srcdiff.jacobian(f)(X)

    def reset():
        G.bit_generator.state = np.random.default_rng(5).bit_generator.state

    once = np.random.default_rng(5)
    make_function(HELD, {"G": once})(X)
    assert G.bit_generator.state == once.bit_generator.state
    np.testing.assert_allclose(J, finite_jacobian(f, X, reset), atol=1e-8)


def test_jacobian_generator_in_a_closure_and_in_a_container_argument():
    f = make_function("def f(x, params):\n    return x * params['rng'].normal(size=x.shape) + x ** 3\n")
    J = srcdiff.jacobian(f)(X, {"rng": np.random.default_rng(7)})
    expected = finite_jacobian(lambda x: f(x, {"rng": np.random.default_rng(7)}), X, lambda: None)
    np.testing.assert_allclose(J, expected, atol=1e-8)


def test_hessian_global_numpy_random():
    s = make_function(SCALAR_GLOBAL)
    np.random.seed(1)
    H = srcdiff.hessian(s)(X)
    after = np.random.get_state()[1].copy()

    def gradient(x):
        np.random.seed(1)
        return srcdiff.grad(s)(x)

    np.testing.assert_allclose(H, finite_jacobian(gradient, X, lambda: None), atol=1e-7)
    np.random.seed(1)
    s(X)
    assert np.array_equal(after, np.random.get_state()[1])


def test_hessian_generator_argument():
    s = make_function(SCALAR_ARGUMENT)
    rng = np.random.default_rng(11)
    H = srcdiff.hessian(s)(X, rng)
    expected = finite_jacobian(lambda x: srcdiff.grad(s)(x, np.random.default_rng(11)), X, lambda: None)
    np.testing.assert_allclose(H, expected, atol=1e-7)
    once = np.random.default_rng(11)
    s(X, once)
    assert rng.bit_generator.state == once.bit_generator.state


def test_hessian_python_random_module():
    """The random module's global state is snapshotted too."""
    s = make_function("def s(x):\n    return np.sum(x ** 3) * random.random()\n", {"random": random})
    random.seed(4)
    H = srcdiff.hessian(s)(X)
    random.seed(4)
    c = random.random()
    np.testing.assert_allclose(H, np.diag(6 * X * c), rtol=1e-12)
    assert random.random() == pytest.approx(_after_one_draw(4))


def _after_one_draw(seed):
    r = random.Random(seed)
    r.random()
    return r.random()


def test_grad_and_hvp_unchanged():
    s = make_function(SCALAR_ARGUMENT)
    g = srcdiff.grad(s)(X, np.random.default_rng(2))
    z = np.random.default_rng(2).normal(size=3)
    np.testing.assert_allclose(g, z * (2 * X * np.cos(X) - X ** 2 * np.sin(X)), rtol=1e-12)


@pytest.mark.parametrize("text", [
    "def f(x):\n    return x * np.random.default_rng().normal(size=x.shape)\n",
    "def f(x):\n    return x * np.random.default_rng(None).normal(size=x.shape)\n",
    "def f(x):\n    return x * np.random.RandomState().normal(size=x.shape)\n",
    "def f(x):\n    return x * SR.random()\n",
    "def f(x):\n    return x * len(os.urandom(2))\n",
])
def test_unreplayable_randomness_is_refused_before_it_runs(text):
    import os

    f = make_function(text, {"SR": random.SystemRandom(), "os": os})
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="random|operating system"):
        srcdiff.jacobian(f)(X)
    with pytest.raises(srcdiff.UnsupportedSyntaxError):
        srcdiff.hessian(make_function(text.replace("return x *", "return np.sum(x) *"),
                                      {"SR": random.SystemRandom(), "os": os}))(X)


def test_seeded_generator_inside_is_fine():
    f = make_function("def f(x):\n    return x * np.random.default_rng(0).normal(size=x.shape)\n")
    z = np.random.default_rng(0).normal(size=3)
    np.testing.assert_allclose(srcdiff.jacobian(f)(X), np.diag(z), rtol=1e-12)
