"""Results written into arrays the generated code made and reads no more.

Each case is checked three ways: the gradient against finite differences, the
arguments left untouched, and whether the pass wrote in place (or, where it must
not, did not)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

from ..conftest import make_function

REUSED = {  # source, arguments, a fragment of the generated code written in place
    "mlp": ("""
def f(W, b, x):
    h = np.tanh(x @ W + b)
    return np.sum(h * h)
""", lambda r: (r.normal(size=(3, 4)), r.normal(size=4), r.normal(size=(5, 3))), "out=_t0"),
    "chain": ("""
def f(x):
    a = np.sin(x) * x
    b = np.exp(-a) + x * x
    return np.sum(np.sqrt(b + 1.0) * a)
""", lambda r: (r.normal(size=(4, 3)),), "out="),
    "scaled_mean": ("""
def f(x, y):
    d = x @ y - 1.0
    return np.sum(d * d) / x.shape[0]
""", lambda r: (r.normal(size=(4, 3)), r.normal(size=(3, 2))), "out="),
    "tanh_layer_backward": ("""
def f(W1, b1, W2, x, y):
    h = np.tanh(x @ W1 + b1)
    return np.mean((h @ W2 - y) ** 2)
""", lambda r: (r.normal(size=(3, 4)), r.normal(size=4), r.normal(size=(4, 2)), r.normal(size=(5, 3)),
                r.normal(size=(5, 2))), "np.subtract(1, np.multiply(h, h, out=h), out=h)"),
    "logistic": ("""
def f(x, w):
    s = 1.0 / (1.0 + np.exp(-(x * w)))
    return np.sum(s * (1.0 - s) + s)
""", lambda r: (r.normal(size=(4, 3)), r.normal(size=(4, 3))), "out="),
}

KEPT = {  # where writing in place would be wrong
    "view_read_later": """
def f(x):
    a = np.sin(x) * 2.0
    b = a.T
    c = a + 1.0
    return np.sum(b * c.T)
""",
    "returned_with_value": """
def f(x):
    a = x * 2.0
    c = a + 1.0
    return np.sum(c * a)
""",
    "broadcast_result": """
def f(x, y):
    a = x * 2.0
    c = a + y
    return np.sum(np.sin(c))
""",
    "an_argument": """
def f(x):
    c = x + 1.0
    return np.sum(np.sin(c))
""",
}


def _rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("name", sorted(REUSED))
def test_written_in_place_with_exact_gradients_and_untouched_arguments(name):
    src, make, fragment = REUSED[name]
    f = make_function(src)
    args = make(_rng())
    before = copy.deepcopy(args)
    wrt = tuple(range(len(args)))
    d = srcdiff.grad(f, wrt=wrt)
    got = d(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    assert fragment in d.source, d.source
    check_grad(f, *args, wrt=wrt)
    again = d(*args)  # the second call runs the same code on the same arguments
    pairs = zip(got, again) if isinstance(got, tuple) else [(got, again)]
    for g1, g2 in pairs:
        np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("name", sorted(KEPT))
def test_not_written_in_place_where_the_array_is_read_again(name):
    f = make_function(KEPT[name])
    rng = _rng()
    args = (rng.normal(size=(3, 4)),) if "y" not in KEPT[name].split(")")[0] else (
        rng.normal(size=(3, 4)), rng.normal(size=(2, 3, 4)))
    before = copy.deepcopy(args)
    d = srcdiff.grad(f)
    d(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    check_grad(f, *args)
    forbidden = "out=x)" if name == "an_argument" else "c = np.add(a,"
    assert forbidden not in d.source, d.source


def test_float32_arguments_after_float64_ones_get_code_for_them():
    src, make, _ = REUSED["mlp"]
    f = make_function(src)
    args = make(_rng())
    d = srcdiff.grad(f, wrt=(0, 1))
    want = d(*args)
    single = tuple(a.astype(np.float32) for a in args)
    got = d(*single)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    for g, w in zip(d(*args), want):
        np.testing.assert_array_equal(g, w)


def test_an_array_read_twice_in_one_statement_is_not_written_by_either_read():
    """``(1.0 - a) * a``: writing ``1.0 - a`` into ``a`` would change the second read."""
    import gast

    from srcdiff.emit import to_source
    from srcdiff.passes.inplace import reuse

    src = "def grad_f(x):\n    a = x * 2.0\n    c = (1.0 - a) * a\n    d = np.sin(c) + 1.0\n    return d\n"
    tree = reuse(gast.parse(src).body[0], {"x": (3,)}, {"x"})
    text = to_source(tree)
    assert "out=a" not in text and "out=c" in text, text  # c is read once: it can take d
    namespace = {"np": np}
    exec(compile(text, "<inplace>", "exec"), namespace)
    x = np.array([0.1, 0.5, 2.0])
    a = x * 2.0
    np.testing.assert_array_equal(namespace["grad_f"](x), np.sin((1.0 - a) * a) + 1.0)
