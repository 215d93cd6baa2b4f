"""propagate_copies: a copy is read through only where its source still holds the
same value (checked on the code, then on gradients)."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.passes.simplify import propagate_copies
from srcdiff.testing import check_grad

from ...conftest import make_function
from .conftest import lines_after


def test_a_copy_is_read_through_until_its_source_is_assigned_again():
    code = """
def f(x):
    db = x * 2
    db = db + x
    d_t5 = db
    dz = d_t5 * x
    db = x
    return (dz, db)
"""
    body = lines_after(code, propagate_copies)
    assert "dz = db * x" in body and "d_t5 = db" not in body
    code = """
def f(x):
    db = x * 2
    db = db + x
    d_t5 = db
    db = x
    dz = d_t5 * x
    return (dz, db)
"""
    assert "d_t5 = db" in lines_after(code, propagate_copies)


def test_a_copy_read_in_a_loop_that_assigns_its_source_stays():
    code = """
def f(x, n):
    db = x * 2
    db = db + x
    d_t5 = db
    for i in range(n):
        db = db * d_t5
    return db
"""
    assert "d_t5 = db" in lines_after(code, propagate_copies)


def test_a_copy_of_a_copy_is_not_read_through_past_the_next_assignment():
    # y_2 = _t1 = x_1 (old), then x_1 is assigned: y_2 must keep the old value
    code = """
def f(x):
    x_1 = x
    for i in range(2):
        _t0 = 0.5 + x_1
        _t1 = x_1
        x_2 = _t0
        y_2 = _t1
        x_1 = x_2
        y_1 = y_2
    return (x_1, y_1)
"""
    body = "\n".join(lines_after(code, propagate_copies))
    assert "y_1 = x_1" not in body


def test_a_swap_in_a_loop_keeps_the_old_value():
    f = make_function("""
def f(layers, x, y):
    for i in range(2):
        x, y = (0.5 + x), x
    x = 0.5
    return np.sum(x) + np.sum(np.tanh(layers[0])) + np.sum(np.tanh(y))
""")
    args = ([0.5], np.array([-0.9, -1.8, 0.3]), np.array([1.2, 1.6, 0.4]))
    value, grad = srcdiff.value_and_grad(f, wrt=1)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    check_grad(f, *args, wrt=1)
