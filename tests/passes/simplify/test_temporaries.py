"""inline_temporaries: a temporary goes into its one reader where that is right, and
stays where moving it could change the result or read badly."""

from __future__ import annotations

import gast
import pytest

from srcdiff.passes.simplify import inline_temporaries

from .conftest import lines_after


def _pure(expr: gast.expr) -> bool:
    return not any(isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == "log"
                   for n in gast.walk(expr))


def _inlined(code: str) -> list[str]:
    return lines_after(code, lambda t: inline_temporaries(t, _pure))


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
