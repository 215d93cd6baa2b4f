"""Float unwrapping: ``float(...)`` around a gradient goes where the value is certainly a
Python float already, and only there."""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

from ...conftest import make_function


def _unwrapped(code: str, floats: set) -> str:
    import gast

    from srcdiff.emit import to_source
    from srcdiff.passes.simplify import unwrap_floats

    tree = unwrap_floats(gast.parse(code).body[0], floats)
    return to_source(tree).strip().splitlines()[-1].strip()


@pytest.mark.parametrize("body, kept", [
    ("dx = math.sin(x) * 2 + y", False),
    ("dx = -(x * x) / 3", False),
    ("dx = x ** 2", False),
    ("dx = x ** 0.5", True),  # a negative x gives a complex number
    ("dx = math.floor(x)", True),  # an int
    ("dx = n * 2.0", True),  # n is not known to be a float
    ("dx = 2 * 3", True),
    ("dx = np.sin(x)", True),  # a NumPy scalar
    ("dx = x\n    for i in range(3):\n        dx = dx * y", False),
    ("dx = x\n    for dx in range(3):\n        pass", True),
    ("dx = x\n    dx += n", True),
    ("dx = x\n    dx += 2", False),
])
def test_float_calls_go_only_where_the_value_is_certainly_a_float(body, kept):
    code = f"def g(x, y, n):\n    {body}\n    return float(dx)\n"
    assert (_unwrapped(code, {"x", "y"}) == "return float(dx)") == kept


def test_gradients_of_float_functions_are_floats_without_conversions():
    f = make_function("""
def f(x, y, n):
    a = math.sin(x) * y + n
    return a * a / (1.0 + x * x)
""")
    d = srcdiff.grad(f, wrt=(0, 1))
    gx, gy = d(0.3, 0.8, 2.0)
    assert "float(" not in d.source
    assert type(gx) is float and type(gy) is float
    check_grad(f, 0.3, 0.8, 2.0, wrt=(0, 1))
    # other kinds of arguments get code that converts: still Python floats
    for args in [(np.float64(0.3), 0.8, 2.0), (0.3, np.float64(0.8), 2), (0.3, 0.8, 2)]:
        gx, gy = d(*args)
        assert type(gx) is float and type(gy) is float
        assert gy == pytest.approx(math.sin(args[0]) * 2 * (math.sin(args[0]) * args[1] + args[2])
                                   / (1.0 + args[0] ** 2))
