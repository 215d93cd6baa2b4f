"""Whole programs with branches, loops, lists and builtins, checked against central
finite differences (srcdiff.testing.check_grad).  Calls into helpers are tested in
tests/passes/reverse/test_calls.py, what loops save in tests/passes/reverse/test_loops.py."""

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


def test_check_grad_forward_mode_with_containers():
    def l2(p):
        return np.sum(p[0] ** 2) + np.sum(p[1] * p[0])

    assert check_grad(l2, [vec(2), vec(2)], modes=("forward", "reverse"))
