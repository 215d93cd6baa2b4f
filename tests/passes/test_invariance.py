"""A max subtracted before exp (logsumexp, softmax, log-softmax) is a constant to
differentiate: the gradients are right, and no code differentiates np.max; where the
result does depend on the max, it is differentiated as usual."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.passes.invariance import shift_invariant
from srcdiff.pipeline import lower_to_ir
from srcdiff.testing import check_grad

from ..conftest import make_function

INVARIANT = {
    "logsumexp_rows": """
def f(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=1)) + m[:, 0])
""",
    "logsumexp_kept": """
def f(x):
    m = x.max(axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)) + m
    return np.sum(lse * np.arange(x.shape[0])[:, None])
""",
    "logsumexp_full": """
def f(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))
""",
    "logsumexp_squeeze": """
def f(x):
    m = np.amax(x, axis=0, keepdims=True)
    return np.sum(np.squeeze(m, axis=0) + np.log(np.sum(np.exp(x - m), axis=0)))
""",
    "softmax": """
def f(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(p * np.cos(np.arange(x.shape[1])))
""",
    "log_softmax_xent": """
def f(x):
    s = x - np.max(x, axis=-1, keepdims=True)
    logp = s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))
    return -np.mean(logp[:, 0])
""",
}

DEPENDENT = {  # the result depends on the max: differentiated through np.max
    "added_twice": """
def f(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=1)) + 2 * m[:, 0])
""",
    "log_used_alone": """
def f(x):
    m = np.max(x, axis=1, keepdims=True)
    l = np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    return np.sum(l + m) + np.sum(l)
""",
    "other_axis": """
def f(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=0)))
""",
    "not_added_back": """
def f(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=1)))
""",
    "reversed_shift": """
def f(x):
    m = np.max(x, axis=1, keepdims=True)
    e = np.exp(m - x)
    return np.sum(e / np.sum(e, axis=1, keepdims=True))
""",
    "exp_used_elsewhere": """
def f(x):
    m = np.max(x, axis=1, keepdims=True)
    e = np.exp(x - m)
    return np.sum(e / np.sum(e, axis=1, keepdims=True)) + np.sum(e)
""",
}


def _x():
    return np.random.default_rng(3).normal(0.0, 2.0, (4, 5))


@pytest.mark.parametrize("name", sorted(INVARIANT))
def test_shift_invariant_forms_have_exact_gradients_without_the_max(name):
    f = make_function(INVARIANT[name])
    assert shift_invariant(lower_to_ir(f)), name
    check_grad(f, _x(), modes=("reverse", "forward"))
    d = srcdiff.grad(f)
    d(_x())
    assert "minmax_grad" not in d.source


@pytest.mark.parametrize("name", ["logsumexp_rows", "softmax", "log_softmax_xent"])
def test_second_derivatives_of_shift_invariant_forms(name):
    check_grad(make_function(INVARIANT[name]), _x()[:2, :3], order=2)


@pytest.mark.parametrize("name", sorted(DEPENDENT))
def test_forms_that_depend_on_the_max_are_differentiated_through_it(name):
    f = make_function(DEPENDENT[name])
    assert not shift_invariant(lower_to_ir(f)), name
    check_grad(f, _x())
    d = srcdiff.grad(f)
    d(_x())
    assert "minmax_grad" in d.source
