"""srcdiff.testing: check_grad catches wrong gradients; numerical_grad is right.

To see check_grad fail, a test registers a deliberately wrong rule for a function
object created in that test; the registry is restored afterwards, so no other test
(nor the registry-driven rule test) sees it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import srcdiff
from srcdiff.rules import registry
from srcdiff.testing import GradCheck, check_grad, numerical_grad

from .conftest import make_function


@pytest.fixture
def wrong_sin(monkeypatch):
    """A fresh primitive equal to np.sin whose registered adjoint is off (sin, not cos)."""
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))

    def wsin(x):
        return np.sin(x)

    srcdiff.register_adjoint(wsin, "wsin(x)", x="g * np.sin(x)")
    return wsin


# ----------------------------------------------------------------- check_grad


def test_check_grad_passes_on_a_correct_function():
    f = make_function("def f(x, y):\n    return np.sum(np.sin(x) * y) + np.sum(y ** 2)\n")
    x = np.linspace(0.1, 1.0, 4)
    result = check_grad(f, x, 1.5, wrt=(0, 1))
    assert isinstance(result, GradCheck)
    assert result.ok and bool(result)
    assert result.worst_abs < 1e-6


def test_check_grad_passes_on_containers():
    f = make_function("def f(p, x):\n    return np.sum(np.tanh(p['w'] * x) + p['b'])\n")
    params = {"w": np.array([0.5, -1.0]), "b": 0.3}
    assert check_grad(f, params, np.array([1.0, 2.0])).ok


def _entry(*index: int) -> str:
    """The regex of how a message names an entry: ``entry (2,)``, ``entry (1, 0)``."""
    return re.escape(f"entry {tuple(index)}")


def _worst(x: np.ndarray) -> tuple:
    """Where the wrong rule (sin for cos) is furthest off."""
    return np.unravel_index(int(np.argmax(np.abs(np.cos(x) - np.sin(x)))), np.shape(x))


def test_check_grad_names_the_wrong_argument_and_entry(wrong_sin):
    f = make_function("def f(x):\n    return np.sum(wsin(x))\n", {"wsin": wrong_sin})
    x = np.array([0.7, 0.9, -0.6, 0.8])
    assert _worst(x) == (2,)
    with pytest.raises(AssertionError) as info:
        check_grad(f, x)
    message = str(info.value)
    assert re.search("argument 0 " + _entry(2), message), message
    assert "srcdiff" in message and "finite differences" in message


def test_check_grad_names_the_second_argument(wrong_sin):
    f = make_function("def f(x, y):\n    return np.sum(x * y) + np.sum(wsin(y))\n", {"wsin": wrong_sin})
    x, y = np.ones((2, 2)), np.array([[0.7, 0.8], [-0.5, 0.9]])
    assert _worst(y) == (1, 0)
    with pytest.raises(AssertionError, match="argument 1 " + _entry(1, 0)):
        check_grad(f, x, y, wrt=(0, 1))
    assert check_grad(f, x, y, wrt=0).ok  # x's gradient is right


def test_check_grad_names_a_container_entry(wrong_sin):
    f = make_function("def f(p):\n    return np.sum(wsin(p['w'])) + p['b']\n", {"wsin": wrong_sin})
    params = {"b": 0.5, "w": np.array([0.8, -0.4])}
    assert _worst(params["w"]) == (1,)
    with pytest.raises(AssertionError, match=r"argument 0\['w'\] " + _entry(1)):
        check_grad(f, params)


def test_check_grad_prints_the_entry_as_a_plain_tuple(wrong_sin):
    """Not as (np.int64(2),), which is how NumPy 2 prints np.unravel_index's result."""
    f = make_function("def f(x):\n    return np.sum(wsin(x))\n", {"wsin": wrong_sin})
    with pytest.raises(AssertionError) as info:
        check_grad(f, np.array([0.7, 0.9, -0.6]))
    assert "argument 0 entry (2,)" in str(info.value)


def test_check_grad_of_a_float_argument(wrong_sin):
    f = make_function("def f(x):\n    return wsin(x) * 2.0\n", {"wsin": wrong_sin})
    with pytest.raises(AssertionError, match="argument 0"):
        check_grad(f, 1.0)


def test_check_grad_by_parameter_name(wrong_sin):
    f = make_function("def f(x, y):\n    return np.sum(wsin(y) * x)\n", {"wsin": wrong_sin})
    x, y = np.array([1.0, 2.0]), np.array([0.9, 1.1])
    assert check_grad(f, x, y, wrt="x").ok
    with pytest.raises(AssertionError, match="argument 1"):
        check_grad(f, x, y, wrt="y")


def test_check_grad_can_report_instead_of_raising(wrong_sin):
    f = make_function("def f(x):\n    return np.sum(wsin(x))\n", {"wsin": wrong_sin})
    x = np.array([0.9, -0.3])
    assert _worst(x) == (1,)
    result = check_grad(f, x, raise_on_error=False)
    assert not result.ok and not bool(result)
    assert re.search("argument 0 " + _entry(1), result.where), result.where
    worst = abs(np.sin(-0.3) - np.cos(-0.3))
    assert result.worst_abs == pytest.approx(worst, rel=1e-6)


def test_check_grad_reports_a_gradient_of_the_wrong_shape(monkeypatch):
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))

    def double(x):
        return 2 * x

    srcdiff.register_adjoint(double, "double(x)", x="2 * np.sum(g)")  # a scalar, not x's shape
    f = make_function("def f(x):\n    return np.sum(double(x))\n", {"double": double})
    with pytest.raises(AssertionError, match="shape"):
        check_grad(f, np.ones(3))


def test_check_grad_respects_its_tolerances(monkeypatch):
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))

    def almost(x):
        return x

    srcdiff.register_adjoint(almost, "almost(x)", x="g * (1 + 1e-4)")  # off by 1e-4 relative
    f = make_function("def f(x):\n    return np.sum(almost(x))\n", {"almost": almost})
    assert check_grad(f, np.ones(3), rtol=1e-3).ok
    with pytest.raises(AssertionError):
        check_grad(f, np.ones(3), rtol=1e-6, atol=1e-9)


def test_the_registry_fixture_restores_the_rules(monkeypatch):
    """The wrong rules above live only as long as their test."""
    before = registry.rules()
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))

    def temporary(x):
        return x

    srcdiff.register_adjoint(temporary, "temporary(x)", x="g")
    assert registry.lookup(temporary) is not None
    monkeypatch.undo()
    assert registry.lookup(temporary) is None
    assert registry.rules() == before


# ------------------------------------------------------------- numerical_grad


def test_numerical_grad_of_a_float():
    got = numerical_grad(lambda x: x ** 3, (2.0,), 0)
    assert isinstance(got, float)
    assert got == pytest.approx(12.0, rel=1e-8)


def test_numerical_grad_of_an_array():
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    got = numerical_grad(lambda a: np.sum(a ** 2 * np.array([1.0, 2.0, 3.0])), (x,), 0)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, 2 * x * np.array([1.0, 2.0, 3.0]), rtol=1e-7, atol=1e-8)


def test_numerical_grad_of_a_dict():
    params = {"w": np.array([1.0, 2.0]), "b": 0.5, "n": 3}

    def f(p):
        return p["b"] * np.sum(p["w"] ** 2) + p["n"]

    got = numerical_grad(f, (params,), 0)
    assert set(got) == {"w", "b", "n"}
    np.testing.assert_allclose(got["w"], 2 * 0.5 * params["w"], rtol=1e-7)
    assert isinstance(got["b"], float) and got["b"] == pytest.approx(5.0, rel=1e-7)
    assert got["n"] is None  # integer leaves have no gradient


def test_numerical_grad_of_nested_lists_and_tuples():
    value = [np.array([1.0, 2.0]), (3.0, np.array([[0.5]]))]

    def f(v):
        return np.sum(v[0] * v[1][0]) + np.sum(np.sin(v[1][1]))

    got = numerical_grad(f, (value,), 0)
    assert isinstance(got, list) and isinstance(got[1], tuple)
    np.testing.assert_allclose(got[0], [3.0, 3.0], rtol=1e-7)
    assert got[1][0] == pytest.approx(3.0, rel=1e-7)
    np.testing.assert_allclose(got[1][1], np.cos([[0.5]]), rtol=1e-7)


def test_numerical_grad_picks_the_argument_and_leaves_the_inputs_alone():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    got = numerical_grad(lambda a, b: np.sum(a * b ** 2), (x, y), 1)
    np.testing.assert_allclose(got, 2 * x * y, rtol=1e-7)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    np.testing.assert_array_equal(y, [3.0, 4.0])


def test_numerical_grad_with_a_cotangent():
    x = np.array([0.3, -0.7])
    u = np.array([[1.0, 2.0], [3.0, 4.0]])
    got = numerical_grad(lambda a: np.outer(a, a), (x,), 0, cotangent=u)
    # d/dx sum(u * outer(x, x)) = (u + u^T) x
    np.testing.assert_allclose(got, (u + u.T) @ x, rtol=1e-7)


def test_numerical_grad_sums_a_non_scalar_output():
    x = np.array([0.2, 0.4])
    got = numerical_grad(np.sin, (x,), 0)
    np.testing.assert_allclose(got, np.cos(x), rtol=1e-7)
