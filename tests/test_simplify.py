"""The whole-function simplifications: each rewrite where it is right, and not where
it would change what the code computes (checked on the code, then on gradients)."""

from __future__ import annotations

import gast
import numpy as np
import pytest

import srcdiff
from srcdiff.emit import to_source
from srcdiff.passes.simplify import inline_temporaries, propagate_constants, propagate_copies
from srcdiff.testing import check_grad

from .conftest import make_function


def _pure(expr: gast.expr) -> bool:
    return not any(isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == "log"
                   for n in gast.walk(expr))


def _body(code: str, rewrite) -> list[str]:
    tree = rewrite(gast.parse(code).body[0])
    return [line.strip() for line in to_source(tree).strip().splitlines()[1:]]


def _inlined(code: str) -> list[str]:
    return _body(code, lambda t: inline_temporaries(t, _pure))


def test_a_chain_of_temporaries_becomes_one_expression():
    code = """
def f(a, b):
    _t0 = math.sin(a)
    _t1 = -b
    _t2 = _t1 * 0.5
    c = _t0 * math.exp(_t2)
    return c
"""
    assert _inlined(code) == ["c = math.sin(a) * math.exp(-b * 0.5)", "return c"]


def test_a_cotangent_moves_past_plain_assignments_to_its_read():
    code = """
def f(a, b):
    d_t0 = a * a
    c = a + 1
    d = b * c
    e = d_t0 * d
    return e
"""
    assert _inlined(code) == ["c = a + 1", "d = b * c", "e = a * a * d", "return e"]
    # a value of the function moves to the next statement only
    assert len(_inlined(code.replace("d_t0", "_t0"))) == 5


@pytest.mark.parametrize("code", [
    # read twice
    "def f(a):\n    _t0 = a * a\n    b = _t0 + _t0\n    return b\n",
    # read after an assignment of what it reads, an update, or an impure statement
    "def f(a):\n    d_t0 = a * a\n    a = a + 1\n    c = d_t0 * a\n    return c\n",
    "def f(a, b):\n    d_t0 = a * a\n    b += a\n    c = d_t0 * b\n    return c\n",
    "def f(a):\n    d_t0 = a * a\n    b = log(a)\n    c = d_t0 * b\n    return c\n",
    "def f(a):\n    d_t0 = a * a\n    b = np.add(a, 1, out=a)\n    c = d_t0 * b\n    return c\n",
    # read too far on
    "def f(a):\n    d_t0 = a * a\n" + "".join(f"    b{i} = a + {i}\n" for i in range(8))
    + "    c = d_t0 * b7\n    return c\n",
    # a user's name, not a temporary
    "def f(a):\n    t = a * a\n    b = t + 1\n    return b\n",
    # written in place: the order of the two statements matters
    "def f(a):\n    _t0 = a * a\n    b = np.add(a, _t0, out=a)\n    return b\n",
    "def f(a):\n    _t0 = np.negative(a, out=a)\n    b = _t0 + 1\n    return b\n",
    # the reader is not pure
    "def f(a):\n    _t0 = a * a\n    b = log(a) + _t0\n    return b\n",
    # inside a comprehension or a lambda, which runs it another number of times
    "def f(a):\n    _t0 = a * a\n    b = [_t0 for i in range(3)]\n    return b\n",
    "def f(a):\n    _t0 = a * a\n    b = lambda: _t0\n    return b\n",
    # a loop: its body runs again
    "def f(a):\n    _t0 = a * a\n    for i in range(3):\n        a = a + _t0\n    return a\n",
    # random draws keep their order
    "def f(a):\n    _t0 = np.random.normal()\n    b = np.random.uniform() + _t0\n    return b\n",
    # a call does not go into another call's arguments
    "def f(a):\n    _t0 = np.sum(a)\n    b = np.exp(_t0)\n    return b\n",
    # the next statement is another adjoint's
    "def f(a):\n    _t0 = a * a\n    '#srcdiff# Grad of: x'\n    b = _t0 + 1\n    return b\n",
])
def test_a_temporary_stays_where_moving_it_could_change_the_result_or_read_badly(code):
    before = [line.strip() for line in code.strip().splitlines()[1:]]
    assert len(_inlined(code)) == len(before)


def test_constants_made_by_folding_are_read_as_constants_in_turn():
    code = """
def f(x):
    df = 0.25
    d_t0 = -df
    d_t1 = d_t0 * 2
    dx = d_t1 * x
    return dx
"""
    assert _body(code, propagate_constants)[-2:] == ["dx = -0.5 * x", "return dx"]
    # the user's own statements read constants but are not folded
    code = "def f(n):\n    a = 1.0\n    b = a * n\n    return b\n"
    assert _body(code, lambda t: propagate_constants(t, frozenset({"b"})))[1] == "b = 1.0 * n"


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
    body = _body(code, propagate_copies)
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
    assert "d_t5 = db" in _body(code, propagate_copies)


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
    assert "d_t5 = db" in _body(code, propagate_copies)


SCALAR = """
def f(x, y):
    a = math.sin(x) * y + math.cos(y)
    b = math.exp(-a * 0.5) + x * y
    c = math.sqrt(b * b + y * y + 1.0)
    return (c + x) ** 2 - b / c + math.atan(y) * a
"""


@pytest.mark.parametrize("kind", ["grad", "value_and_grad"])
def test_simplified_scalar_code_gives_the_exact_gradient(kind):
    f = make_function(SCALAR)
    check_grad(f, 0.4, 0.9, wrt=(0, 1))
    d = getattr(srcdiff, kind)(f, wrt=(0, 1))
    out = d(0.4, 0.9)
    grads = out[1] if kind == "value_and_grad" else out
    assert all(type(g) is float for g in grads)
    # the forward pass reads like the function: an operation per statement no more
    forward = d.source.split("# Grad of")[0].strip().splitlines()[1:]
    assert len(forward) <= (8 if kind == "grad" else 12), forward


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
    body = "\n".join(_body(code, propagate_copies))
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


@pytest.mark.parametrize("shapes, axis", [
    (((1,), (15,)), 0), (((2, 3), (2, 1), (2, 2)), 1), (((2, 3), (4, 3)), 0),
    (((3, 1, 2), (3, 2, 2)), -2), (((2,), (0,), (3,)), 0),
])
@pytest.mark.parametrize("negated", [False, True])
def test_a_piece_of_a_split_cotangent_is_a_slice(shapes, axis, negated):
    from srcdiff import runtime
    from srcdiff.passes.simplify import fold

    whole = list(shapes[0])
    whole[axis] = sum(s[axis] for s in shapes)
    g = np.random.default_rng(3).normal(size=whole)
    for i in range(len(shapes)):
        text = f"unconcatenate_to({'-' if negated else ''}g, {shapes!r}, {axis})[{i}]"
        folded = to_source(fold(gast.parse(text).body[0].value)).strip()
        assert "unconcatenate_to" not in folded, folded
        got = eval(folded, {"g": g})
        want = runtime.unconcatenate_to(-g if negated else g, shapes, axis)[i]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("text", [
    "unconcatenate_to(g, shapes, 0)[1]",  # shapes not written in the code
    "unconcatenate_to(g, ((1,), (2,)), 0)[2]",  # no such piece
    "unconcatenate_to(g, ((1,), (2,)), None)[0]",  # flattened
    "unconcatenate_to(g, ((1,), (2, 2)), 0)[0]",  # ranks differ
    "unconcatenate_to(g, ((1,), (2,)), 0)[i]",
])
def test_a_split_cotangent_stays_a_split_where_the_piece_is_not_known(text):
    from srcdiff.passes.simplify import fold

    assert "unconcatenate_to" in to_source(fold(gast.parse(text).body[0].value))


def test_an_index_written_with_literals_adds_in_place_and_gradients_are_right():
    f = make_function("""
def f(x, w):
    y = x[1:] * w[:-1] + x[:-1] * x[1:]
    z = x[0, ...] * 2.0 if x.ndim > 1 else x[-1] * 3.0
    return np.sum(y * y) + np.sum(z)
""")
    for shape in [(5,), (4, 3)]:
        x = np.random.default_rng(1).normal(size=shape)
        w = np.random.default_rng(2).normal(size=shape)
        check_grad(f, x, w, wrt=(0, 1))
    d = srcdiff.grad(f, wrt=(0, 1))
    d(np.ones(5), np.ones(5))
    assert "[1:] += " in d.source and "index_add" not in d.source, d.source
