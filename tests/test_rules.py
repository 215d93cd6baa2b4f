"""Every derivative rule in the registry, checked against central finite differences.

The test walks the registry: for each rule and each of its declared cases it writes a
one-line function calling the primitive, differentiates it with ``srcdiff.vjp``
through the whole pipeline, and compares the pullback of a random cotangent with
finite differences of <f(x), u>.  Inputs come from each parameter's declared domain;
cases cover several shapes, broadcasting included.  A new rule is tested the moment
it is registered.
"""

from __future__ import annotations

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


@pytest.mark.parametrize("item", _ALL, ids=[_id(x) for x in _ALL])
def test_rule_matches_finite_differences(item):
    rule, index, case = item
    seed = zlib.crc32(f"{rule.name}-{index}".encode())
    src, namespace, values, checked = build_case(rule, case, seed)
    assert checked, f"case {index} of {rule.name} differentiates no argument"
    f = make_function(src, namespace)
    out, pullback = srcdiff.vjp(f, wrt=tuple(checked))(*values)
    expected_out = f(*values)
    np.testing.assert_allclose(out, expected_out, rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(seed + 1)
    u = rng.normal(size=np.shape(out))
    u = float(u) if np.ndim(out) == 0 else u
    grads = pullback(u)
    for pos, got in zip(checked, grads):
        want = numerical_grad(f, tuple(values), pos, cotangent=u)
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
