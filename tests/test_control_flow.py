"""Whole programs with branches, loops, helpers and containers, checked against central
finite differences (srcdiff.testing.check_grad)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

RNG = np.random.default_rng(7)


def vec(*shape):
    return RNG.normal(size=shape)


# ---- branches -------------------------------------------------------------------------

def huber(x, delta):
    if abs(x) <= delta:
        return 0.5 * x * x
    return delta * (abs(x) - 0.5 * delta)


def piecewise(x):
    if x < -1.0:
        y = -x
    elif x < 1.0:
        y = x * x
    else:
        y = 2.0 * x - 1.0
    return y * math.exp(0.1 * x)


def conditional_expression(x, y):
    z = x * y if np.sum(x) > 0 else x - y
    w = z if np.max(z) > 10.0 else np.sin(z)
    return np.sum(w * w)


def short_circuit(x, a):
    y = (a > 0 and x * a) or x
    z = a < 0 or np.sum(x) * a
    return y ** 2 + z


def branch_only_one_side(x, flag):
    y = x * 3.0
    if flag:
        y = y * x
    return np.sum(y)


@pytest.mark.parametrize("x", [0.3, -0.7, 2.5, -3.0])
def test_huber_both_branches(x):
    check_grad(huber, x, 1.0)
    expected = x if abs(x) <= 1.0 else math.copysign(1.0, x)
    assert srcdiff.grad(huber)(x, 1.0) == pytest.approx(expected)


@pytest.mark.parametrize("x", [-2.0, -0.5, 0.5, 3.0])
def test_elif_chain(x):
    check_grad(piecewise, x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_conditional_expression(sign):
    check_grad(conditional_expression, sign * np.abs(vec(3)), vec(3), wrt=(0, 1))


@pytest.mark.parametrize("a", [2.0, -1.5])
def test_and_or_short_circuit(a):
    check_grad(short_circuit, 0.8, a, wrt=(0, 1))


@pytest.mark.parametrize("flag", [True, False])
def test_variable_changed_in_one_branch(flag):
    check_grad(branch_only_one_side, vec(3), flag)


# ---- loops ----------------------------------------------------------------------------

def power_loop(x, n):
    y = 1.0
    for _ in range(n):
        y = y * x
    return y


def range_forms(x):
    s = 0.0
    for i in range(2, 9, 3):
        s = s + x[i] * i
    for j in range(len(x) - 1, -1, -2):
        s = s + np.sin(x[j])
    return s


def rnn(h, W, U, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
    return np.sum(h ** 2)


def rows(X, w):
    total = 0.0
    for row in X:
        total = total + np.dot(row, w) ** 2
    return total


def enumerate_zip(xs, ys):
    acc = 0.0
    for i, (a, b) in enumerate(zip(xs, ys)):
        acc = acc + (i + 1) * a * b
    return acc


def list_params(params, x):
    for W, b in params:
        x = np.tanh(x @ W + b)
    return np.sum(x)


def dict_loop(params, x):
    s = 0.0
    for name in ["a", "b"]:
        s = s + np.sum(params[name] * x)
    for _key, value in params.items():
        s = s + np.sum(value ** 2)
    return s


def while_until(x):
    y = x
    steps = 0
    while np.sum(y * y) < 50.0:
        y = y * 1.5 + 0.1
        steps += 1
    return np.sum(y) + steps


def nested_loops(A, v):
    out = 0.0
    for i in range(A.shape[0]):
        row = 0.0
        for j in range(A.shape[1]):
            row = row + A[i, j] * v[j]
        out = out + row * row
    return out


def loop_with_branch(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0:
            t = x[i] ** 2
            s = s + t
        else:
            s = s - np.sin(x[i])
    return s


def break_continue(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] < -1.0:
            continue
        s = s + x[i] * s + x[i]
        if s > 5.0:
            break
    return s


def early_return_nested(x, limit):
    total = 0.0
    for i in range(len(x)):
        for j in range(3):
            total = total + x[i] * (j + 1)
            if total > limit:
                return total * total
    return total


def ode_euler(y0, k, dt, t_end):
    y = y0
    t = 0.0
    while t < t_end:
        y = y + dt * (-k * y + np.sin(y))
        t = t + dt
    return np.sum(y)


def test_power_loop():
    check_grad(power_loop, 1.3, 5)
    assert srcdiff.grad(power_loop)(1.3, 5) == pytest.approx(5 * 1.3 ** 4)
    assert srcdiff.grad(power_loop)(1.3, 0) == 0.0


def test_range_with_start_stop_step():
    check_grad(range_forms, vec(9))


def test_rnn_all_arguments():
    check_grad(rnn, vec(4), vec(4, 4) * 0.4, vec(3, 4), vec(6, 3), wrt=(0, 1, 2, 3))


def test_iterating_rows_of_an_array():
    check_grad(rows, vec(5, 3), vec(3), wrt=(0, 1))


def test_enumerate_and_zip():
    check_grad(enumerate_zip, vec(4), vec(4), wrt=(0, 1))


def test_loop_over_list_of_tuples_parameter():
    params = [(vec(3, 4) * 0.5, vec(4)), (vec(4, 2) * 0.5, vec(2))]
    check_grad(list_params, params, vec(2, 3), wrt=(0, 1))
    g = srcdiff.grad(list_params)(params, vec(2, 3))
    assert isinstance(g, list) and all(isinstance(t, tuple) for t in g)


def test_dict_read_in_loops():
    params = {"a": vec(3), "b": vec(3), "c": vec(2)}
    check_grad(dict_loop, params, vec(3), wrt=(0, 1))


def test_while_with_data_dependent_condition():
    check_grad(while_until, np.array([0.5, 1.0, -0.2]))


def test_nested_loops():
    check_grad(nested_loops, vec(3, 4), vec(4), wrt=(0, 1))


def test_branch_inside_loop():
    check_grad(loop_with_branch, np.array([0.5, -0.3, 1.2, -2.0, 0.7]))


def test_break_and_continue():
    check_grad(break_continue, np.array([0.5, -2.0, 1.0, 0.8, 1.5, 2.0]))
    check_grad(break_continue, np.array([0.1, 0.2, -3.0, 0.1]))


@pytest.mark.parametrize("limit", [2.0, 100.0])
def test_early_return_from_nested_loop(limit):
    check_grad(early_return_nested, np.array([0.3, 0.6, 0.9]), limit)


def test_ode_integrated_until_a_time():
    check_grad(ode_euler, np.array([1.0, 0.5]), 0.7, 0.05, 1.0, wrt=(0, 1))


# ---- helpers and recursion ------------------------------------------------------------

def affine(x, W, b):
    return x @ W + b


def layer(x, W, b):
    return np.tanh(affine(x, W, b))


def two_outputs(x):
    return x * 2.0, np.sum(x)


def mlp(params, x):
    h = layer(x, params["W1"], params["b1"])
    logits = affine(h, params["W2"], params["b2"])
    doubled, total = two_outputs(logits)
    return np.sum(doubled ** 2) + total


def poly_rec(x, n):
    if n == 0:
        return 1.0
    return 1.0 + x * poly_rec(x, n - 1)


def rec_with_loop(x, depth):
    if depth == 0:
        return np.sum(x)
    acc = x
    for _ in range(2):
        acc = np.sin(acc)
    return rec_with_loop(acc * 1.1, depth - 1)


def scale_by(factor):
    def inner(x):
        return x * factor
    return inner


SCALE = scale_by(3.0)


def uses_closure_helper(x):
    return np.sum(SCALE(x) ** 2)


def test_helpers_of_helpers_and_tuple_results():
    params = {"W1": vec(3, 4) * 0.5, "b1": vec(4), "W2": vec(4, 2) * 0.5, "b2": vec(2)}
    check_grad(mlp, params, vec(5, 3), wrt=(0, 1))


def test_recursion():
    check_grad(poly_rec, 0.7, 4)
    x, n = 0.7, 4
    assert srcdiff.grad(poly_rec)(x, n) == pytest.approx(sum(k * x ** (k - 1) for k in range(1, n + 1)))


def test_recursion_with_a_loop():
    check_grad(rec_with_loop, vec(3), 3)


def test_function_from_a_closure():
    check_grad(uses_closure_helper, vec(4))


def test_helper_derivative_is_cached_once_for_all_callers():
    from srcdiff import pipeline

    def caller_a(x):
        return np.sum(affine(x, x, x))

    def caller_b(x):
        return np.sum(affine(x, x, x) * 2)

    x = vec(3, 3)
    srcdiff.grad(caller_a)(x)
    before = pipeline.STATS["transforms"]
    srcdiff.grad(caller_b)(x)
    assert pipeline.STATS["transforms"] == before + 1  # caller_b only; affine's vjp is reused


# ---- lists, reassignment, builtins ----------------------------------------------------

def build_list(x):
    out = []
    for i in range(3):
        out.append(x * (i + 1))
    return np.sum(np.stack(out) ** 2)


def comprehension(x):
    squares = [x[i] ** 2 for i in range(len(x)) if i != 1]
    return sum(squares) + np.sum(np.array([np.sin(v) for v in x]))


def builtins_mix(x, xs):
    best = max(x, 0.5)
    total = sum([v * v for v in xs])
    return min(best * total, 100.0) + float(len(xs)) + abs(x - 2.0)


def many_reassignments(x):
    y = x
    y = y + 1
    y = y * y
    y += x
    y -= 0.5
    y *= 2.0
    y /= 3.0
    y **= 2
    return np.sum(y)


def test_append_then_stack():
    check_grad(build_list, vec(3))


def test_comprehensions():
    check_grad(comprehension, vec(4))


def test_builtins():
    check_grad(builtins_mix, 1.3, [0.5, -0.2, 1.1], wrt=(0, 1))


def test_many_reassignments():
    check_grad(many_reassignments, vec(3))


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


def test_check_grad_forward_mode_with_containers():
    def l2(p):
        return np.sum(p[0] ** 2) + np.sum(p[1] * p[0])

    assert check_grad(l2, [vec(2), vec(2)], modes=("forward", "reverse"))


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
