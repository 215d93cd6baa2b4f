"""propagate_constants: constants read as constants, folded in turn, but not in the
user's own arithmetic."""

from __future__ import annotations

from srcdiff.passes.simplify import propagate_constants

from .conftest import lines_after


def test_constants_made_by_folding_are_read_as_constants_in_turn():
    code = """
def f(x):
    df = 0.25
    d_t0 = -df
    d_t1 = d_t0 * 2
    dx = d_t1 * x
    return dx
"""
    assert lines_after(code, propagate_constants)[-2:] == ["dx = -0.5 * x", "return dx"]
    # the user's own statements read constants but are not folded
    code = "def f(n):\n    a = 1.0\n    b = a * n\n    return b\n"
    assert lines_after(code, lambda t: propagate_constants(t, frozenset({"b"})))[1] == "b = 1.0 * n"
