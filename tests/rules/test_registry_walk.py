"""Every derivative rule in the registry, checked against central finite differences.

The test walks the registry: for each rule and each of its declared cases it writes a
one-line function calling the primitive, differentiates it with ``srcdiff.vjp``
through the whole pipeline, and compares the pullback of a random cotangent with
finite differences of <f(x), u>.  Inputs come from each parameter's declared domain;
cases cover several shapes, broadcasting included.  A new rule is tested the moment
it is registered.

Forward mode the same way: ``srcdiff.jvp`` of the same function against a central
difference along a random direction, and forward against reverse mode, <J v, u> ==
<v, J^T u>.  Every parameter with an adjoint needs a tangent (the last test lists those
without).  The rules for srcdiff's own helpers (rules/helpers.py) are in the registry
too, so second derivatives are checked here as well.  A None in a result (a list entry
with no value) has no derivative and is skipped.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import zlib

import gast
import numpy as np
import pytest

import srcdiff
from srcdiff.ir import Method
from srcdiff.rules import registry
from srcdiff.testing import numerical_grad

from ..conftest import make_function

_ALL = [(rule, i, case) for rule in registry.rules() for i, case in enumerate(rule.cases)]


def _id(item) -> str:
    rule, i, _ = item
    return f"{rule.name}-{i}"


def build_case(rule, case, seed: int):
    """The test function's source, its namespace, argument values, and which to check."""
    rng = np.random.default_rng(seed)
    namespace: dict = {}
    if "." not in rule.name and not isinstance(rule.fn, Method):
        namespace[rule.name] = rule.fn  # a helper of srcdiff's own, e.g. list_append
    elif not isinstance(rule.fn, Method):  # reached through its module: import the root
        root = rule.name.split(".")[0]  # (np, math and operator come from make_function)
        if importlib.util.find_spec(root) is not None:
            namespace[root] = importlib.import_module(root)
    values: list = []
    params: list[str] = []
    checked: list[int] = []

    def arg_text(param: str, spec) -> str:
        if isinstance(spec, registry.Fixed):
            name = f"c{len(namespace)}"
            namespace[name] = spec.value
            return name
        if isinstance(spec, list):
            return "[" + ", ".join(arg_text(param, s) for s in spec) + "]"
        name = f"a{len(values)}"
        values.append(rule.domain[param].sample(rng, tuple(spec)))
        params.append(name)
        if param in rule.adjoints:
            checked.append(len(values) - 1)
        return name

    positional = [arg_text(rule.params[i], spec) for i, spec in enumerate(case.args)]
    keywords = [f"{k}={arg_text(k, v)}" for k, v in case.kwargs.items()]
    if isinstance(rule.fn, Method):
        receiver, *rest = positional
        call = f"{receiver}.{rule.fn.name}({', '.join(rest + keywords)})"
    else:
        call = f"{rule.name}({', '.join(positional + keywords)})"
    src = f"def f({', '.join(params)}):\n    return {call}\n"
    return src, namespace, values, checked


def _leaves(x) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def _assert_same_values(got, want, src: str) -> None:
    """The derivative's primal result is the function's (None where it is None)."""
    assert len(_leaves(got)) == len(_leaves(want)), src
    for a, b in zip(_leaves(got), _leaves(want)):
        if b is None:
            assert a is None, src
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=src)


def _random_like(rng, out):
    """A random cotangent with ``out``'s structure (a list or tuple for a list or tuple;
    None, no value, for None)."""
    if out is None:
        return None
    if isinstance(out, (list, tuple)):
        items = [_random_like(rng, item) for item in out]
        return items if isinstance(out, list) else tuple(items)
    u = rng.normal(size=np.shape(out))
    return float(u) if np.ndim(out) == 0 else u


def _cotangents(rng, out, tree_out: bool) -> list:
    """Pairs (cotangent to pull back, the same with zeros for None): one random
    cotangent, and for a rule declaring a container result (``tree_out``) also each
    variant with one entry None, a zero cotangent such rules must accept."""
    u = _random_like(rng, out)
    pairs = [(u, u)]
    if tree_out and isinstance(out, (list, tuple)):  # (some rules return a container or an array)
        for k in range(len(out)):
            if u[k] is None:
                continue
            sparse, dense = list(u), list(u)
            sparse[k], dense[k] = None, np.zeros_like(u[k])
            pairs.append((type(u)(sparse), type(u)(dense)))
    return pairs


@pytest.mark.parametrize("item", _ALL, ids=[_id(x) for x in _ALL])
def test_rule_matches_finite_differences(item):
    rule, index, case = item
    seed = zlib.crc32(f"{rule.name}-{index}".encode())
    src, namespace, values, checked = build_case(rule, case, seed)
    assert checked, f"case {index} of {rule.name} differentiates no argument"
    f = make_function(src, namespace)
    out, pullback = srcdiff.vjp(f, wrt=tuple(checked))(*values)
    _assert_same_values(out, f(*values), src)
    rng = np.random.default_rng(seed + 1)
    for u, dense in _cotangents(rng, out, rule.tree_out):
        grads = pullback(u)
        for pos, got in zip(checked, grads):
            want = numerical_grad(f, tuple(values), pos, cotangent=dense)
            assert np.shape(got) == np.shape(values[pos]), (
                f"{rule.name}: gradient of argument {pos} has shape {np.shape(got)}, "
                f"argument has {np.shape(values[pos])}\n{src}")
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=src)


def test_every_adjoint_template_is_exercised():
    """Each differentiable parameter of each rule is checked by at least one case."""
    missing = []
    for rule in registry.rules():
        covered = set()
        for case in rule.cases:
            for pos, spec in enumerate(case.args):
                if not isinstance(spec, registry.Fixed):
                    covered.add(rule.params[pos])
            for k, spec in case.kwargs.items():
                if not isinstance(spec, registry.Fixed):
                    covered.add(k)
        missing += [f"{rule.name}:{p}" for p in rule.adjoints if p not in covered]
    assert not missing, f"adjoint templates no case exercises: {missing}"


def test_every_template_parses():
    """srcdiff's own rules are parsed when first used, not at import: this parses them all."""
    for rule in registry.rules():
        assert rule.adjoints.keys() == rule.sources.keys()
        assert rule.tangents.keys() == rule.tangent_sources.keys() - {"*"}
        assert (rule.tangent is None) == ("*" not in rule.tangent_sources)


@pytest.mark.usefixtures("clean_registry")
def test_srcdiffs_own_rules_are_parsed_when_first_used():
    def fresh(x):
        return x

    with registry.own_rules():
        rule = registry.register_adjoint(fresh, "fresh(x)", x="g * unknown_name")
    assert rule.sources == {"x": "g * unknown_name"}
    assert not registry.registered_by_user(fresh)
    with pytest.raises(srcdiff.RuleDefinitionError, match="unknown_name"):
        _ = rule.adjoints
    with pytest.raises(srcdiff.RuleDefinitionError, match="unknown_name"):
        registry.register_adjoint(fresh, "fresh(x)", x="g * unknown_name")  # the user's: at once


# The parameters of srcdiff's rules that move the result smoothly but have no template:
# a differentiated value reaching one is refused (test below), never a silent zero.
_REFUSED = {("np.linalg.norm", "ord"), ("norm_grad", "ord"), ("norm_grad_coef", "ord"),
            ("np.var", "ddof"), ("np.std", "ddof"), ("var_grad", "ddof")}


def test_srcdiffs_rules_declare_every_parameter():
    """Each parameter of each of srcdiff's rules has a template or is declared nondiff
    (a placeholder like ``_out`` is covered at its default only), but for _REFUSED."""
    undeclared = [(rule.name, p) for rule in registry.rules() if not registry.registered_by_user(rule.fn)
                  for p in rule.params
                  if p not in rule.sources and p not in rule.declared_tangents and p not in rule.nondiff
                  and not p.startswith("_")]
    assert set(undeclared) <= _REFUSED, f"neither a template nor nondiff: {set(undeclared) - _REFUSED}"
    declared = {(rule.name, p) for rule in registry.rules() for p in rule.nondiff}
    assert not declared & _REFUSED


@pytest.mark.parametrize("src, param", [
    ("def f(x, p):\n    return np.linalg.norm(x, ord=p)\n", "ord"),
    ("def f(x, p):\n    return np.var(x, ddof=p)\n", "ddof"),
])
def test_a_differentiated_parameter_without_a_template_is_refused(src, param):
    f = make_function(src)
    x = np.array([0.5, -1.0, 2.0])
    assert srcdiff.grad(f)(x, 1.0).shape == (3,)  # a constant p: fine
    for derivative, extra in ((srcdiff.grad(f, wrt=(0, 1)), ()), (srcdiff.jvp(f, wrt=1), (1.0,))):
        with pytest.raises(srcdiff.NoRuleError, match=repr(param)):
            derivative(x, 1.0, *extra)


@pytest.mark.usefixtures("clean_registry")
def test_srcdiffs_own_rules_are_as_strict_as_the_users():
    """Who registers a rule does not change what it refuses: a parameter without a
    template and not declared nondiff is an error when a differentiated value reaches it."""
    def scale(x, k):
        return x * k

    with registry.own_rules():
        registry.register_adjoint(scale, "scale(x, k)", x="g * k", tangents={"x": "t * k"})
    f = make_function("def f(x, k):\n    return scale(x, k)\n", {"scale": scale})
    assert srcdiff.grad(f)(2.0, 3.0) == 3.0
    for derivative, extra in ((srcdiff.grad(f, wrt=1), ()), (srcdiff.jvp(f, wrt=1), (1.0,))):
        with pytest.raises(srcdiff.NoRuleError, match="'k'"):
            derivative(2.0, 3.0, *extra)


def test_an_elementwise_tangent_is_written_from_the_adjoint():
    """``g`` becomes ``t`` and ``unbroadcast(e, x)`` becomes ``e``."""
    import operator

    assert registry.lookup(np.sin).tangent_sources == {"x": "t * np.cos(x)"}
    mul = registry.lookup(operator.mul)
    assert mul.tangent_sources == {"x": "t * y", "y": "t * x"}
    assert {p: ast.unparse(gast.gast_to_ast(t)) for p, t in mul.tangents.items()} == mul.tangent_sources


@pytest.mark.usefixtures("clean_registry")
def test_define_tangents_replaces_a_parsed_tangent():
    def fresh(x):
        return x

    rule = srcdiff.register_adjoint(fresh, "fresh(x)", x="g * 2.0", tangents={"x": "t * 2.0"})
    assert ast.unparse(gast.gast_to_ast(rule.tangents["x"])) == "t * 2.0"
    srcdiff.define_tangents(fresh, x="2.0 * t")
    assert ast.unparse(gast.gast_to_ast(rule.tangents["x"])) == "2.0 * t"
    assert rule.tangent is None
    srcdiff.define_tangents(fresh, tangent="2.0 * dx")
    assert ast.unparse(gast.gast_to_ast(rule.tangent)) == "2.0 * dx"


# ---- forward mode: each rule's tangent -------------------------------------------------


def _combine(x, v, step: float):
    """``x + step v`` leaf by leaf (Python floats stay floats, None stays None)."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return type(x)(_combine(a, b, step) for a, b in zip(x, v))
    return x + step * v


def _vdot(a, b) -> float:
    """Re <a, b> over floats, arrays and (nested) lists/tuples of them; None is a zero.
    (The real part: a complex result's cotangent pairs with it that way.)"""
    return float(np.real(sum(np.sum(np.multiply(x, y)) for x, y in zip(_leaves(a), _leaves(b))
                             if x is not None and y is not None)))


def _tangent_case(rule, index, case):
    """The case's function, argument values, checked positions, and random tangents."""
    seed = zlib.crc32(f"{rule.name}-{index}-tangent".encode())
    src, namespace, values, checked = build_case(rule, case, seed)
    assert checked, f"case {index} of {rule.name} differentiates no argument"
    f = make_function(src, namespace)
    rng = np.random.default_rng(seed + 1)
    tangents = [_random_like(rng, values[p]) for p in checked]
    return src, f, values, checked, tangents, rng


def _shifted(values: list, checked: list, tangents: list, step: float) -> list:
    moved = list(values)
    for pos, t in zip(checked, tangents):
        moved[pos] = _combine(values[pos], t, step)
    return moved


@pytest.mark.parametrize("item", _ALL, ids=[_id(x) for x in _ALL])
def test_rule_tangent_matches_finite_differences(item):
    """srcdiff.jvp of the one-line function against a central difference along a random
    direction (every differentiated argument moved at once)."""
    rule, index, case = item
    src, f, values, checked, tangents, _ = _tangent_case(rule, index, case)
    out, out_dot = srcdiff.jvp(f, wrt=tuple(checked))(*values, *tangents)
    _assert_same_values(out, f(*values), src)
    eps = 1e-6
    up, down = f(*_shifted(values, checked, tangents, eps)), f(*_shifted(values, checked, tangents, -eps))
    assert len(_leaves(out_dot)) == len(_leaves(out)), src
    for got, hi, lo in zip(_leaves(out_dot), _leaves(up), _leaves(down)):
        if hi is None:  # no value, no tangent
            assert got is None or not np.any(got), src
            continue
        hi, lo = np.asarray(hi), np.asarray(lo)
        exact = np.result_type(hi, lo, float)  # (float, or complex for a complex result)
        want = (hi.astype(exact) - lo.astype(exact)) / (2 * eps)
        assert np.shape(got) == np.shape(want), (
            f"{rule.name}: tangent has shape {np.shape(got)}, result has {np.shape(want)}\n{src}")
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=src)


@pytest.mark.parametrize("item", _ALL, ids=[_id(x) for x in _ALL])
def test_rule_tangent_agrees_with_its_adjoint(item):
    """Forward and reverse mode give the same Jacobian: <J v, u> == <v, J^T u> for a
    random tangent v and a random cotangent u."""
    rule, index, case = item
    src, f, values, checked, tangents, rng = _tangent_case(rule, index, case)
    out, out_dot = srcdiff.jvp(f, wrt=tuple(checked))(*values, *tangents)
    u = _random_like(rng, out)
    _, pullback = srcdiff.vjp(f, wrt=tuple(checked))(*values)
    grads = pullback(u)
    lhs, rhs = _vdot(out_dot, u), _vdot(tangents, grads)
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs) + abs(rhs)), (
        f"<J v, u> = {lhs!r}, <v, J^T u> = {rhs!r}\n{src}")


def test_every_differentiable_parameter_has_a_tangent():
    """Forward mode (jvp, hessian, hvp) works through every rule: each parameter with an
    adjoint template has a tangent template, or the rule one joint tangent."""
    missing = [f"{rule.name}:{p}" for rule in registry.rules()
               if rule.tangent is None and not registry.registered_by_user(rule.fn)
               for p in rule.adjoints if p not in rule.tangents]
    assert not missing, f"differentiable parameters without a tangent rule: {missing}"
