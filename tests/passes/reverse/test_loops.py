"""What loops save for their adjoint, and the loop's adjoint: nothing for a loop whose
adjoint reads nothing, one value per step where it reads one, only the shape of a value
read only for its shape, small values of a known shape in the rows of one array, no
value an iteration computes alike from values from outside the loop; rows and matrix
products added up once after the loop; second derivatives through loops that save.
Each program is checked against central finite differences (srcdiff.testing.check_grad).
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

from ...conftest import make_function
from ...test_control_flow import rnn

RNG = np.random.default_rng(7)


def vec(*shape):
    return RNG.normal(size=shape)


# ---- what is saved for the adjoint ------------------------------------------------------

def loop_needs_nothing(x, n):
    for _ in range(n):
        x = x * 2.0 + 1.0
    return np.sum(x)


def test_loop_whose_adjoint_reads_nothing_saves_nothing():
    src = srcdiff.source(loop_needs_nothing)
    assert ".append(" not in src and "_stack" not in src
    check_grad(loop_needs_nothing, vec(3), 4)
    assert np.allclose(srcdiff.grad(loop_needs_nothing)(vec(3), 4), 16.0)


def rnn_plain(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h)


def test_rnn_saves_one_hidden_state_per_step():
    src = srcdiff.source(rnn_plain, wrt=(1,))
    appends = [line.strip() for line in src.splitlines() if "_stack" in line and ".append(" in line]
    assert len(appends) == 1, src
    saved = appends[0][appends[0].index("(") + 1:-1]
    # the hidden state at the start of the step, and the step's input row (a view)
    assert saved.count(",") <= 1, src
    check_grad(rnn_plain, vec(3), vec(3, 3) * 0.5, vec(5, 3), wrt=(0, 1, 2))


def test_rnn_weight_gradient_is_one_product_after_the_loop():
    """The per-step products h_t^T g_t are collected and summed in one matrix product."""
    src = srcdiff.source(rnn_plain, wrt=(1,))
    assert "dW = matmul_grads_sum('b', " in src and "zeros" not in src, src
    for h, W, xs in [(vec(3), vec(3, 3) * 0.5, vec(5, 3)), (vec(2, 3), vec(3, 3) * 0.5, vec(4, 2, 3))]:
        check_grad(rnn_plain, h, W, xs, wrt=(0, 1, 2))
    check_grad(rnn_plain, vec(3), vec(3, 3) * 0.5, vec(0, 3), wrt=(1,))  # no step at all


def rnn_left(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h * h)


def rnn_shared(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ W)  # W twice: two collections, one adjoint
    return np.sum(h)


@pytest.mark.parametrize("fn", [rnn_left, rnn_shared])
def test_loop_products_of_a_matrix_from_outside(fn):
    src = srcdiff.source(fn, wrt=(1,))
    assert "matmul_grads_sum" in src, src
    check_grad(fn, vec(3), vec(3, 3) * 0.5, vec(4, 3), wrt=(0, 1, 2))
    check_grad(fn, vec(3), vec(3, 3) * 0.5, vec(4, 3), wrt=(1,), modes=("reverse", "forward"), order=2)


def test_generated_loop_code_is_plain_python():
    src = srcdiff.source(rnn_plain, wrt=(1,))
    assert "for t in reversed(" in src
    assert ".pop()" in src


def test_vjp_pullback_can_be_called_twice_after_a_loop():
    out, pullback = srcdiff.vjp(rnn_plain, wrt=1)(vec(3), vec(3, 3) * 0.5, vec(4, 3))
    first = pullback(1.0)
    second = pullback(1.0)
    np.testing.assert_allclose(first, second)


# ---- values read only for their shape, with the shapes known --------------------------

CHAIN = """
def chain(k, x, target):
    end = np.zeros(1)
    for _ in range(5):
        f = k * (x[1:] - x[:-1] - 1.0)
        a = np.concatenate((f, end)) - np.concatenate((end, f))
        x = x + 0.1 * a * x
    return np.sum((x - target) ** 2)
"""


def test_a_loop_keeps_no_value_it_reads_only_for_its_shape():
    """``np.concatenate``'s adjoint reads only its inputs' shapes: with the shapes known,
    nothing is saved for them; with other shapes the gradients are still right."""
    f = make_function(CHAIN)
    rng = np.random.default_rng(4)
    d = srcdiff.grad(f, wrt=(0, 1))
    for n in (6, 9):  # the first shapes, then code for any shapes
        args = (rng.normal(size=n - 1), rng.normal(size=n), rng.normal(size=n))
        check_grad(f, *args, wrt=(0, 1))
        expected = srcdiff.grad(f, wrt=(0, 1))(*args)
        for got, want in zip(d(*args), expected):
            np.testing.assert_allclose(got, want, rtol=1e-12)
        if n == 6:
            saves = [line.strip() for line in d.source.splitlines()
                     if ".append(" in line or "_kept" in line and "] = " in line]
            assert saves and not any(s.endswith((" f", "f)")) or "f," in s for s in saves), saves
            assert "unconcatenate(" not in d.source and "[1:6]" in d.source, d.source  # pieces: slices


def test_values_read_for_their_shape_in_a_loop_keep_only_the_shape():
    f = make_function(
        "def rows(x, w):\n"
        "    for _ in range(3):\n"
        "        h = np.tanh(x * w)\n"
        "        x = np.concatenate((h[:1], np.sin(h)))[1:]\n"
        "    return np.sum(x)\n")
    d = srcdiff.grad(f, wrt=1)
    rng = np.random.default_rng(5)
    for shape in ((4,), (3, 2), (5,)):
        x, w = rng.normal(size=shape), rng.normal(size=shape)
        check_grad(f, x, w, wrt=1)
        np.testing.assert_allclose(d(x, w), srcdiff.grad(f, wrt=1)(x, w), rtol=1e-12)
    assert ".shape" in d.source and "unconcatenate_to" in d.source


# --- a loop keeps small values of a known shape in rows of one array -------------------

ROWS = {
    "springs": """
def f(k, x, steps):
    for _ in range(steps):
        f = k * (x[1:] - x[:-1] - 1.0)
        x = x + 0.1 * np.concatenate((f, np.zeros(1))) - 0.1 * np.concatenate((np.zeros(1), f))
    return np.sum(x * x)
""",
    "mask": """
def f(k, x, steps):
    for _ in range(steps):
        x = np.where(x > 0, x, 0.5 * x) + np.sin(x) * np.sum(k)
    return np.sum(x * x) + np.sum(k)
""",
    "two_values": """
def f(k, x, steps):
    for t in range(1, steps + 1, 2):
        a = np.tanh(x * t)
        b = a * x[1:-1].sum()
        x = b + a * np.mean(k)
    return np.sum(x)
""",
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_loop_keeps_small_values_in_rows_and_the_gradients_are_right(name):
    f = make_function(ROWS[name])
    d = srcdiff.grad(f, wrt=(0, 1))
    rng = np.random.default_rng(7)
    for n, steps in ((6, 5), (9, 4), (6, 0)):  # the first shapes, others, no iteration
        k = rng.uniform(0.5, 1.5, n - 1)
        x = rng.normal(size=n)
        check_grad(f, k, x, steps, wrt=(0, 1))
        expected = srcdiff.grad(f, wrt=(0, 1))(k, x, steps=steps)  # code for any shapes
        for got, want in zip(d(k, x, steps), expected):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
        if n == 6 and steps == 5:
            assert "_kept" in d.source and "np.empty((len(" in d.source, d.source


def test_a_loop_with_an_early_exit_or_large_values_keeps_a_list():
    early = make_function("""
def f(x):
    for i in range(10):
        x = np.sin(x) * 1.5
        if np.sum(x) > 3.0:
            break
    return np.sum(x)
""")
    d = srcdiff.grad(early)
    x = np.full(4, 0.5)
    check_grad(early, x)
    d(x)
    assert "_kept" not in d.source and ".append(" in d.source
    large = make_function("""
def f(x):
    for i in range(3):
        x = np.sin(x) * 1.5
    return np.sum(x)
""")
    d = srcdiff.grad(large)
    x = np.full(100, 0.5)
    check_grad(large, x)
    d(x)
    assert "_kept" not in d.source


# ---- a loop's cotangents of the rows it reads, added after the loop --------------------

def rows_every(x, w):
    s = 0.0
    for t in range(x.shape[0]):
        s = s + np.sum(np.tanh(x[t] * w))
    return s


def rows_twice(x, w):
    s = 0.0
    for t in range(x.shape[0]):
        s = s + np.sum(x[t] * w) * np.sum(np.sin(x[t]))
    return s


def rows_some(x, w):
    s = 0.0
    for t in range(1, x.shape[0], 2):
        s = s + np.sum(np.cos(x[t]) * w)
    return s


def rows_negative(x, w):
    s = 0.0
    for t in range(-2, 2):
        s = s + np.sum(x[t] * x[t] * w)
    return s


def rows_in_a_branch(x, w):
    s = 0.0
    for t in range(x.shape[0]):
        if t % 2 == 0:
            s = s + np.sum(x[t] * w)
        else:
            s = s - np.sum(np.exp(x[t]) * w)
    return s


def rows_early_exit(x, w):
    s = 0.0
    for t in range(x.shape[0]):
        s = s + np.sum(np.sin(x[t] * w))
        if s > 1.0:
            break
    return s


def rows_nested(x, w):
    s = 0.0
    for i in range(2):
        for t in range(x.shape[0]):
            s = s + np.sum(x[t] * w) * (i + 1.0)
    return s


def rows_scalar_entries(x, w):
    s = 0.0
    for t in range(x.shape[0]):
        s = s + np.sin(x[t, 0]) * w[0]
    return s


@pytest.mark.parametrize("fn", [rows_every, rows_twice, rows_some, rows_negative, rows_in_a_branch,
                                rows_early_exit, rows_nested, rows_scalar_entries])
def test_row_cotangents_added_after_the_loop(fn):
    x, w = vec(5, 3), vec(3) * 0.3
    check_grad(fn, x, w, wrt=(0, 1))
    d = srcdiff.grad(fn, wrt=(0, 1))
    d(x, w)
    if fn in (rows_every, rows_some, rows_negative):
        assert "add_rows(" in d.source
    check_grad(fn, vec(4, 3), w, wrt=(0, 1))  # other shapes


# ---- values a loop computes alike every iteration are not saved ------------------------

def invariant_damping(p, v, k, steps):
    for _ in range(steps):
        a = -k * p - 0.1 * v * np.abs(v)
        v = v + 0.01 * a
        p = p + 0.01 * v
    return np.sum(p * p)


def invariant_chain(x, w, steps):
    s = 0.0
    for _ in range(steps):
        c = w / (1.0 + w * w)
        e = np.exp(-c)
        s = s + np.sum(np.sin(x * e) * c)
        x = x * 0.9 + c
    return s


def invariant_in_nested_loops(x, w, steps):
    s = 0.0
    for i in range(steps):
        for t in range(i):
            c = np.tanh(w)
            s = s + np.sum(c * x * (t + 1.0))
    return s


def invariant_read_for_its_shape(x, w, steps):
    s = 0.0
    it = 0
    while it < steps:
        c = np.log(w)  # broadcast against x's rows: its adjoint reads only its shape
        x = np.tanh(x + c)
        s = s + np.sum(x)
        it += 1
    return s


def test_a_loop_invariant_kept_as_its_shape():
    x, w = vec(2, 3), np.abs(vec(3)) + 0.5
    check_grad(invariant_read_for_its_shape, x, w, 3, wrt=(0, 1))
    got = srcdiff.grad(invariant_read_for_its_shape, wrt=(0, 1))(x, w, steps=3)  # any shapes
    want = srcdiff.grad(invariant_read_for_its_shape, wrt=(0, 1))(x, w, 3)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("fn", [invariant_damping, invariant_chain, invariant_in_nested_loops])
@pytest.mark.parametrize("steps", [0, 1, 4])
def test_loop_invariant_values_read_after_the_loop(fn, steps):
    args = (vec(3), vec(3), np.abs(vec(3)) + 0.5)[: 2 if fn is not invariant_damping else 3]
    args = (*args, steps)
    wrt = tuple(range(len(args) - 1))
    check_grad(fn, *args, wrt=wrt)
    for kind in ("grad", "value_and_grad", "vjp"):
        d = getattr(srcdiff, kind)(fn, wrt=wrt)
        out = d(*args)
        if kind == "vjp":
            out = out[1](1.0)
        elif kind == "value_and_grad":
            assert out[0] == pytest.approx(fn(*args), rel=1e-12)
            out = out[1]
        for got, want in zip(out, srcdiff.grad(fn, wrt=wrt)(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    if fn is invariant_damping:
        d = srcdiff.grad(fn, wrt=wrt)
        d(*args)
        forward = d.source.split("# Grad of")[0]
        saves = [line for line in forward.splitlines() if ".append(" in line or "] = " in line]
        assert not any("_t1" in line or "-k" in line for line in saves), saves


# ---- second derivatives through loops that save values -----------------------------------

def power_saved(x, n):
    y = 1.0
    for _ in range(n):
        y = y * x
    return y


def test_hvp_through_a_loop_that_saves_values():
    assert srcdiff.hvp(power_saved)(1.5, 4, 1.0) == pytest.approx(12 * 1.5 ** 2)
    check_grad(rnn, vec(3), vec(3, 3) * 0.4, vec(2, 3), vec(4, 2), wrt=(1,), modes=("forward",), order=2)


def test_grad_of_grad_through_a_loop_that_saves_values():
    second = srcdiff.grad(srcdiff.grad(power_saved))
    first = srcdiff.grad(power_saved)
    eps = 1e-6
    assert second(1.5, 3) == pytest.approx((first(1.5 + eps, 3) - first(1.5 - eps, 3)) / (2 * eps), rel=1e-6)
    check_grad(power_saved, 1.5, 3, modes=("reverse",), order=2)
