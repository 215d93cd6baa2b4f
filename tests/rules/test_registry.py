"""The two ways users extend srcdiff: ``register_adjoint`` for a function srcdiff cannot
read (checked against finite differences) and ``nondifferentiable``; a malformed rule is
refused when it is registered, with nothing half-registered.  Rules are registered on
functions defined in the test and removed again afterwards, so nothing leaks into the
global registry."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.rules import registry
from srcdiff.testing import numerical_grad

from ..conftest import check_points_at, sourceless

# -- malformed rules -------------------------------------------------------------------


def _fresh_function():
    def fresh(x):
        return x * 2.0

    return fresh


@pytest.mark.usefixtures("clean_registry")
@pytest.mark.parametrize(
    "signature, templates, words",
    [
        ("fresh(x)", {"x": "g * unknown_name(x)"}, ["unknown_name"]),
        ("fresh(x)", {"x": "g * (x +"}, ["does not parse"]),
        ("fresh(x)", {"x": "y = g"}, ["single expression"]),
        ("fresh(x)", {"y": "g"}, ["'y'"]),
        ("fresh(x, scale=1.0)", {"x": "g * scale * z"}, ["'z'"]),
        ("not a call", {"x": "g"}, ["not a call"]),
        ("fresh(x + 1)", {"x": "g"}, ["plain names"]),
    ],
    ids=["unknown-name", "bad-syntax", "statement", "param-not-in-signature", "unknown-name-2",
         "signature-not-a-call", "signature-not-names"],
)
def test_malformed_rule_is_rejected_at_registration(signature, templates, words):
    fn = _fresh_function()
    version = registry.version()
    with pytest.raises(srcdiff.RuleDefinitionError) as info:
        srcdiff.register_adjoint(fn, signature, **templates)
    for word in words:
        assert word in str(info.value)
    assert registry.lookup(fn) is None  # nothing half-registered
    assert registry.version() == version


@pytest.mark.usefixtures("clean_registry")
@pytest.mark.parametrize(
    "tangents, words",
    [
        ({"tangents": {"x": "t * unknown_name"}}, ["unknown_name"]),
        ({"tangents": {"x": "t *"}}, ["does not parse"]),
        ({"tangent": "dx * unknown_name"}, ["unknown_name"]),
    ],
    ids=["tangent-unknown-name", "tangent-bad-syntax", "joint-tangent-unknown-name"],
)
def test_malformed_tangent_is_rejected_at_registration(tangents, words):
    fn = _fresh_function()
    version = registry.version()
    with pytest.raises(srcdiff.RuleDefinitionError) as info:
        srcdiff.register_adjoint(fn, "fresh(x)", x="g * 2.0", **tangents)
    for word in words:
        assert word in str(info.value)
    assert registry.lookup(fn) is None
    assert registry.version() == version
    srcdiff.register_adjoint(fn, "fresh(x)", x="g * 2.0")
    with pytest.raises(srcdiff.RuleDefinitionError) as info:
        srcdiff.define_tangents(fn, **tangents.get("tangents", {}), tangent=tangents.get("tangent"))
    for word in words:
        assert word in str(info.value)


@pytest.mark.usefixtures("clean_registry")
def test_malformed_rule_error_unknown_name_has_a_hint():
    with pytest.raises(srcdiff.RuleDefinitionError) as info:
        srcdiff.register_adjoint(_fresh_function(), "fresh(x)", x="g * unknown_name(x)")
    assert info.value.hint


@pytest.mark.usefixtures("clean_registry")
def test_malformed_rule_error_has_a_hint():
    for templates in ({"x": "g * (x +"}, {"y": "g"}):
        with pytest.raises(srcdiff.RuleDefinitionError) as info:
            srcdiff.register_adjoint(_fresh_function(), "fresh(x)", **templates)
        assert info.value.hint, f"no hint in: {info.value}"


@pytest.mark.usefixtures("clean_registry")
def test_malformed_rule_error_points_at_the_registration():
    def register():
        srcdiff.register_adjoint(_fresh_function(), "fresh(x)", x="g * unknown_name")  # <- here

    with pytest.raises(srcdiff.RuleDefinitionError) as info:
        register()
    check_points_at(info.value, register, "# <- here")


# -- user rules ------------------------------------------------------------------------


def _softplus_without_source():
    return sourceless(
        "def softplus(x):\n    return np.log1p(np.exp(x))\n", "softplus", module="user_rules")


@pytest.mark.usefixtures("clean_registry")
def test_register_adjoint_for_function_without_source():
    softplus = _softplus_without_source()
    rule = srcdiff.register_adjoint(softplus, "softplus(x)", x="g / (1 + np.exp(-x))")
    assert registry.lookup(softplus) is rule

    def loss(w, x):
        return np.sum(softplus(x @ w) ** 2)

    rng = np.random.default_rng(0)
    w = rng.normal(size=3)
    x = rng.normal(size=(4, 3))
    got = srcdiff.grad(loss)(w, x)
    np.testing.assert_allclose(got, numerical_grad(loss, (w, x), 0), rtol=1e-6, atol=1e-8)
    z = x @ w
    want = x.T @ (2 * np.log1p(np.exp(z)) / (1 + np.exp(-z)))
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.usefixtures("clean_registry")
def test_register_adjoint_two_parameters_and_defaults():
    scaled = sourceless("def scaled(a, b, k=2.0):\n    return k * a * b\n", "scaled")
    srcdiff.register_adjoint(scaled, "scaled(a, b, k=2.0)", a="g * k * b", b="unbroadcast(g * k * a, b)")

    def loss(a, b):
        return np.sum(scaled(a, b) + scaled(a, b, 3.0))

    a = np.array([1.0, -2.0, 0.5])
    b = 1.5
    ga, gb = srcdiff.grad(loss, wrt=(0, 1))(a, b)
    np.testing.assert_allclose(ga, numerical_grad(loss, (a, b), 0), rtol=1e-6)
    np.testing.assert_allclose(gb, numerical_grad(loss, (a, b), 1), rtol=1e-6)
    np.testing.assert_allclose(ga, 5.0 * b * np.ones(3))
    np.testing.assert_allclose(gb, 5.0 * np.sum(a))


@pytest.mark.usefixtures("clean_registry")
def test_user_rule_with_a_declared_nondifferentiable_parameter():
    scaled = sourceless("def scaled(a, b):\n    return a * b\n", "scaled")
    srcdiff.register_adjoint(scaled, "scaled(a, b)", a="g * b", nondiff=("b",))

    def loss(a, b):
        return np.sum(scaled(a, b))

    a, b = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    ga, gb = srcdiff.grad(loss, wrt=(0, 1))(a, b)  # b declared: its gradient is zero
    np.testing.assert_allclose(ga, b)
    np.testing.assert_allclose(gb, [0.0, 0.0])
    with pytest.raises(srcdiff.RuleDefinitionError, match="nondiff names 'c'"):
        srcdiff.register_adjoint(scaled, "scaled(a, b)", a="g * b", nondiff=("c",))


@pytest.mark.usefixtures("clean_registry")
def test_nondifferentiable_function_carries_no_gradient():
    stop = sourceless("def stop(v):\n    return v * 1.0\n", "stop")
    srcdiff.nondifferentiable(stop)

    def f(x):
        return np.sum(x * stop(x))

    x = np.array([1.0, -2.0, 3.0])
    # d/dx sum(x * c) with c = stop(x) held constant is c = x, not 2x.
    np.testing.assert_allclose(srcdiff.grad(f)(x), x)


@pytest.mark.usefixtures("clean_registry")
def test_nondifferentiable_on_a_function_with_source():
    def stop(v):
        return v * 1.0

    srcdiff.nondifferentiable(stop)

    def f(x):
        return np.sum(np.sin(x) * stop(x))

    x = np.array([0.5, 1.0])
    np.testing.assert_allclose(srcdiff.grad(f)(x), np.cos(x) * x)
