"""fold: a piece of a cotangent split at shapes written in the code becomes a slice,
and stays a split where the piece is not known."""

from __future__ import annotations

import gast
import numpy as np
import pytest

from srcdiff.emit import to_source


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
