"""Non-differentiable declarations, checked: every parameter srcdiff declares to carry no
derivative has a zero central finite difference at random inputs from its domain.

The test walks the registry: the functions declared non-differentiable in every
parameter (rules/nondiff.py, and runtime helpers in rules/helpers.py) and the rules
that name some parameters ``nondiff`` (every rule srcdiff registers with a parameter
that has no template).  A parameter a case gives floats (sampled, or fixed values) is
moved by ``+-h v`` along a random ``v``; the two results must be equal
(piecewise-constant functions are sampled away from their jumps, which random floats
are almost surely).  A non-differentiable parameter no case gives floats must be listed
as ``discrete`` (ints, bools, shapes by nature, or a value tied to another argument):
a reviewed list, never a silent skip.

Then the programs that used to get a silent zero through a whole-function declaration
(enumerate with a start, np.linspace, np.arange with a float start, np.unique,
np.bincount's weights, np.r_/np.c_, np.logspace): each is differentiated exactly, in
both modes and to second order, or refused before it runs.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import srcdiff
from srcdiff.errors import NonDifferentiableError, NoRuleError
from srcdiff.ir import Method
from srcdiff.rules import registry

from ..conftest import make_function

_STEP = 1e-6


def _declared() -> list:
    """(name, fn, params, domain, cases, nondiff, discrete, opaque) of every declaration."""
    items = [(d.name, d.fn, d.params, d.domain, d.cases, d.nondiff, d.discrete, d.opaque)
             for d in registry.declarations()]
    items += [(r.name, r.fn, r.params, r.domain, r.cases, r.nondiff, r.discrete, False)
              for r in registry.rules() if r.nondiff]
    return items


_ALL = _declared()


def _sample(item, case, rng) -> tuple[list, dict, dict, set]:
    """Positional and keyword values of a case, param -> (where, key) of each argument,
    and the parameters it samples (rather than fixes)."""
    _, _, params, domain, _, _, _, _ = item
    places: dict = {}
    sampled: set = set()

    def value(param, spec):
        if isinstance(spec, registry.Fixed):
            return spec.value
        sampled.add(param)
        if isinstance(spec, list):  # a sequence argument: one value per entry
            return [value(param, s) for s in spec]
        return domain[param].sample(rng, tuple(spec))

    args, kwargs = [], {}
    for i, spec in enumerate(case.args):
        args.append(value(params[i], spec))
        places[params[i]] = ("args", i)
    for k, spec in case.kwargs.items():
        kwargs[k] = value(k, spec)
        places[k] = ("kwargs", k)
    return args, kwargs, places, sampled


def _call(fn, args: list, kwargs: dict):
    if isinstance(fn, Method):  # a method of the first argument
        return getattr(args[0], fn.name)(*args[1:], **kwargs)
    return fn(*args, **kwargs)


def _moved(x, rng, step: float):
    """``x`` with each float entry moved by ``step`` along a random direction (None, ints
    and everything else left as they are), in a new value."""
    if isinstance(x, (list, tuple)):
        return type(x)(_moved(item, rng, step) for item in x)
    if not _is_number(x):
        return x
    v = rng.normal(size=np.shape(x))
    return x + step * (float(v) if np.ndim(x) == 0 else v)


def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and np.array_equal(a, b, equal_nan=True)
    return type(a) is type(b) and (a == b or a != a and b != b)


def _is_number(x) -> bool:
    if isinstance(x, (tuple, list)):
        return any(_is_number(item) for item in x)
    return isinstance(x, (float, np.floating)) or isinstance(x, np.ndarray) and x.dtype.kind in "fc"


@pytest.mark.parametrize("item", _ALL, ids=[item[0] for item in _ALL])
def test_declared_nondifferentiable_parameters_have_zero_derivative(item):
    name, fn, params, _, cases, nondiff, discrete, opaque = item
    assert cases, f"{name}: a non-differentiable declaration needs test cases"
    perturbed = set()
    for index, case in enumerate(cases):
        rng = np.random.default_rng(zlib.crc32(f"{name}-{index}".encode()))
        args, kwargs, places, sampled = _sample(item, case, rng)
        out = _call(fn, args, kwargs)
        if opaque:
            assert not _is_number(out), f"{name} is declared opaque but returns numbers: {out!r}"
            continue
        for param, (where, key) in places.items():
            if param not in nondiff:
                continue
            if param in discrete:
                assert param not in sampled, f"{name}: {param} is declared discrete but sampled"
                continue
            if not _is_number((args if where == "args" else kwargs)[key]):
                continue
            perturbed.add(param)
            moved = []
            for sign in (1.0, -1.0):
                a, kw = list(args), dict(kwargs)
                box = a if where == "args" else kw
                box[key] = _moved(box[key], rng, sign * _STEP)
                moved.append(_call(fn, a, kw))
            assert _same(moved[0], moved[1]), (
                f"{name} moves with {param} (case {index}): it is declared non-differentiable "
                f"there, but its finite difference is not zero")
    if not opaque:
        unreviewed = set(nondiff) - perturbed - set(discrete)
        assert not unreviewed, (f"{name}: non-differentiable parameters neither checked by a "
                                f"case nor declared discrete: {sorted(unreviewed)}")


def test_every_own_nondifferentiable_function_is_declared_with_cases():
    declared = {d.fn for d in registry.declarations()}
    missing = [registry.printable_name(fn) for fn in registry.nondifferentiable_functions()
               if fn not in declared and not registry.registered_by_user(fn)]
    assert not missing, f"declared without a signature and test cases: {missing}"


@pytest.fixture
def own_declarations(clean_registry):
    """Undo the declarations a test makes (clean_registry undoes the rest)."""
    saved = dict(registry._DECLARATIONS)
    yield
    registry._DECLARATIONS.clear()
    registry._DECLARATIONS.update(saved)


def test_a_user_declaration_without_a_signature_still_works(own_declarations):
    def step(x):
        return float(x > 0)

    srcdiff.nondifferentiable(step)
    f = make_function("def f(x):\n    return step(x) * x\n", {"step": step})
    assert srcdiff.grad(f)(2.0) == 1.0


def test_a_partial_declaration_refuses_its_other_parameters(own_declarations):
    def scaled_index(x, scale):
        return np.floor(x) * scale

    srcdiff.nondifferentiable(scaled_index, signature="scaled_index(x, scale)", params=("x",))
    f = make_function("def f(x, s):\n    return scaled_index(x, s)\n", {"scaled_index": scaled_index})
    assert srcdiff.grad(f, wrt=0)(1.5, 2.0) == 0.0
    for derivative, extra in ((srcdiff.grad(f, wrt=1), ()), (srcdiff.jvp(f, wrt=1), (1.0,))):
        with pytest.raises(NoRuleError, match="scale"):
            derivative(1.5, 2.0, *extra)


# ------------------------------------------------------------------ the programs

def _fd_grad(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _scalar(f):
    return lambda x: f(float(x))


def _check(src, x, hessian=True, namespace=None):
    """grad against finite differences, jvp against grad, and the Hessian (forward over
    reverse) against finite differences of the gradient."""
    f = make_function(src, namespace)
    scalar = np.ndim(x) == 0
    call = _scalar(f) if scalar else f
    want = _fd_grad(call, x)
    got = srcdiff.grad(f)(x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    v = 1.0 if scalar else np.random.default_rng(0).normal(size=np.shape(x))
    _, tangent = srcdiff.jvp(f)(x, v)
    np.testing.assert_allclose(tangent, np.sum(want * v), rtol=1e-6, atol=1e-7)
    if hessian:
        grad = srcdiff.grad(f)
        hess = srcdiff.hessian(f)(x)
        cols = [_fd_grad(lambda y, i=i: np.reshape(grad(float(y) if scalar else y), -1)[i], x)
                for i in range(np.size(x))]
        np.testing.assert_allclose(np.reshape(hess, (np.size(x),) * 2), np.reshape(cols, (np.size(x), -1)),
                                   rtol=1e-5, atol=1e-5)


X = np.array([0.3, -1.2, 2.1, 0.7])


@pytest.mark.parametrize("src", [
    "def f(x):\n    s = 0.0\n    for i, v in enumerate(x, 1):\n        s = s + i * v * v\n    return s\n",
    "def f(x):\n    s = 0.0\n    for i, v in enumerate(x, start=2):\n"
    "        s = s + i * v * v\n    return s\n",
    "def f(x):\n    s = 0.0\n    for i, v in enumerate(x):\n        s = s + (i + 1) * v * v\n    return s\n",
    "def f(x):\n    return sum(i * v * v for i, v in enumerate(x, 3))\n",
    "def f(x):\n    return np.sum(np.array([i * v * v for i, v in enumerate(x)]))\n",
    "def f(x):\n    s = 0.0\n    for v, w in zip(x, reversed(x)):\n        s = s + v * w * v\n    return s\n",
    "def f(x):\n    s = 0.0\n    for i in range(1, len(x)):\n        s = s + x[i] * x[i - 1]\n    return s\n",
])
def test_enumerate_zip_reversed_range_pass_values_through(src):
    _check(src, X)


@pytest.mark.parametrize("src", [
    "def f(x):\n    s = 0.0\n    for i, v in list(enumerate(x)):\n        s = s + i * v\n    return s\n",
    "def f(x):\n    pairs = enumerate(x)\n    return sum(i * v for i, v in pairs)\n",
])
def test_an_enumerate_object_is_refused_before_it_runs(src):
    ran = []
    f = make_function(src.replace("def f(x):\n", "def f(x):\n    ran.append(1)\n"), {"ran": ran})
    for derivative, extra in ((srcdiff.grad(f), ()), (srcdiff.jvp(f), (X,))):
        with pytest.raises(NonDifferentiableError, match="enumerate") as info:
            derivative(X, *extra)
        assert "for i, v in enumerate" in info.value.hint
    assert ran == []


@pytest.mark.parametrize("src, x", [
    ("def f(a):\n    return np.sum(np.linspace(a, 2.0 * a + 1.0, 5) ** 2)\n", 0.7),
    ("def f(a):\n    return np.sum(np.sin(np.linspace(a, 3.0, 4, endpoint=False)))\n", 0.7),
    ("def f(a):\n    return np.sum(np.linspace(0.0, a, 1) ** 2) + np.sum(np.linspace(a, 1.0, 1))\n", 0.7),
    ("def f(x):\n    return np.sum(np.linspace(x, x ** 2, 3, axis=-1) ** 2)\n", X),
    ("def f(x):\n    return np.sum(np.cos(np.linspace(x[:2], x[2], 4)))\n", X),
    ("def f(a):\n    return np.sum(np.arange(a, a + 3.0) ** 2)\n", 0.7),
    ("def f(a):\n    return np.sum(np.arange(a, 5.5, 0.5 + a * a) ** 2)\n", 0.7),
    ("def f(a):\n    return np.sum(np.arange(2.5 * a) * a)\n", 0.7),
    ("def f(a):\n    return np.sum((10.0 ** np.linspace(a, 2.0 * a, 4)))\n", 0.7),
    ("def f(x):\n    return np.sum(np.unique(x) ** 3)\n", X),
    ("def f(x):\n    return np.sum(np.unique(x) * np.arange(4.0))\n", X),
    ("def f(x):\n    return np.sum(np.bincount(np.array([0, 2, 2, 3]), weights=x) ** 2)\n", X),
    ("def f(x):\n    return np.sum(np.bincount(np.array([1, 1, 0, 1]), x * x, 4) ** 2)\n", X),
])
def test_functions_that_pass_values_through_have_rules(src, x):
    _check(src, x)


def test_unique_of_repeated_values_splits_the_cotangent_equally():
    f = make_function("def f(x):\n    return np.sum(np.unique(x) * np.array([1.0, 4.0]))\n")
    x = np.array([2.0, -1.0, 2.0])  # unique: [-1, 2]
    np.testing.assert_allclose(srcdiff.grad(f)(x), [2.0, 1.0, 2.0])
    # along a direction that keeps the copies equal, the exact derivative
    _, tangent = srcdiff.jvp(f)(x, np.array([1.0, 3.0, 1.0]))
    assert tangent == pytest.approx(3.0 * 1.0 + 1.0 * 4.0)


@pytest.mark.parametrize("src, what", [
    ("def f(x):\n    ran.append(1)\n    return np.sum(np.r_[x, x] ** 2)\n", "np.concatenate"),
    ("def f(x):\n    ran.append(1)\n    return np.sum(np.c_[x, x] ** 2)\n", "np.column_stack"),
    ("def f(x):\n    ran.append(1)\n    return np.sum(np.r_[x[0]:x[1]:5j])\n", "np.concatenate"),
    ("def f(x):\n    ran.append(1)\n    return np.sum(np.mgrid[x[0]:x[1]:5j])\n", "np.meshgrid"),
    ("def f(x):\n    ran.append(1)\n    return np.sum(np.logspace(x[0], x[1], 4))\n", "np.linspace"),
])
def test_functions_without_rules_that_pass_values_through_are_refused(src, what):
    ran = []
    f = make_function(src, {"ran": ran})
    for derivative, extra in ((srcdiff.grad(f), ()), (srcdiff.jvp(f), (X,))):
        with pytest.raises(NonDifferentiableError) as info:
            derivative(X, *extra)
        assert what in info.value.hint
        assert info.value.loc.lineno == 3
    assert ran == []


@pytest.mark.parametrize("src", [
    "def f(a):\n    ran.append(1)\n    return np.sum(np.linspace(a, 2.0, 5, retstep=True)[0])\n",
    "def f(a):\n    ran.append(1)\n    return np.sum(np.linspace(a, 2.0, 5, True, True)[0])\n",
    "def f(a):\n    ran.append(1)\n    return np.sum(np.linspace(a, 9.0, 5, dtype=int))\n",
    "def f(a):\n    ran.append(1)\n    return np.sum(np.arange(a, 9.0, dtype=int))\n",
    "def f(a):\n    ran.append(1)\n    return np.sum(np.unique(np.array([a, 1.0]), return_counts=True)[0])\n",
])
def test_forms_the_rules_do_not_cover_are_refused(src):
    ran = []
    f = make_function(src, {"ran": ran})
    for derivative, extra in ((srcdiff.grad(f), ()), (srcdiff.jvp(f), (1.0,))):
        with pytest.raises(NoRuleError, match="does not accept these arguments"):
            derivative(0.5, *extra)
    assert ran == []


def test_constant_calls_of_these_functions_still_run():
    f = make_function("def f(x):\n    return np.sum(x * np.linspace(0.0, 1.0, 3, retstep=True)[0]"
                      " * np.arange(3) * np.bincount(np.array([0, 1, 2])))\n")
    np.testing.assert_allclose(srcdiff.grad(f)(np.ones(3)), [0.0, 0.5, 2.0])


def test_a_declaration_naming_an_unknown_parameter_is_refused_at_registration(own_declarations):
    from srcdiff.errors import RuleDefinitionError

    with pytest.raises(RuleDefinitionError, match="'n' is not a parameter"):
        srcdiff.nondifferentiable(np.floor, signature="floor(x)", params=("n",))
    with pytest.raises(RuleDefinitionError, match="needs the signature"):
        srcdiff.nondifferentiable(np.floor, params=("x",))
    with pytest.raises(RuleDefinitionError, match="not in nondiff"):
        srcdiff.register_adjoint(np.floor, "floor(x, n=0)", x="0 * g", nondiff=("n",), discrete=("x",))
