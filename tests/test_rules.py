"""Every derivative rule in the registry, checked against central finite differences.

The test walks the registry: for each rule and each of its declared cases it writes a
one-line function calling the primitive, differentiates it with ``srcdiff.vjp``
through the whole pipeline, and compares the pullback of a random cotangent with
finite differences of <f(x), u>.  Inputs come from each parameter's declared domain;
cases cover several shapes, broadcasting included.  A new rule is tested the moment
it is registered.
"""

from __future__ import annotations

import importlib
import importlib.util
import zlib

import numpy as np
import pytest

import srcdiff
from srcdiff.ir import Method
from srcdiff.rules import registry
from srcdiff.testing import numerical_grad

from .conftest import make_function

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


def _random_like(rng, out):
    """A random cotangent with ``out``'s structure (a list or tuple for a list or tuple)."""
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
    if tree_out:
        for k in range(len(out)):
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
    expected_out = f(*values)
    if isinstance(expected_out, (list, tuple)):
        assert len(out) == len(expected_out)
        for got, want in zip(out, expected_out):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_allclose(out, expected_out, rtol=1e-12, atol=1e-12)
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
