"""srcdiff/runtime/complexes.py: real_like."""

from __future__ import annotations

import numpy as np

from srcdiff import runtime

from ._coverage import covers


@covers("real_like")
def test_real_like_keeps_the_real_part_for_a_real_value():
    g = np.array([1 + 2j, -3 + 0.5j])
    got = runtime.real_like(g, np.zeros(2))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [1.0, -3.0])
    assert runtime.real_like(1 + 2j, 0.5) == 1.0 and type(runtime.real_like(1 + 2j, 0.5)) is float


@covers("real_like")
def test_real_like_keeps_a_complex_cotangent_for_a_complex_value():
    g = np.array([1 + 2j, -3 + 0.5j])
    assert runtime.real_like(g, np.zeros(2, complex)) is g
    assert runtime.real_like(2j, 1j) == 2j
    assert runtime.real_like(None, 1.0) is None


@covers("real_like")
def test_real_like_goes_entry_by_entry_in_containers():
    got = runtime.real_like([1 + 1j, None, 2 + 2j], [0.0, 1.0, 1j])
    assert got == [1.0, None, 2 + 2j]
    got = runtime.real_like({"a": 1j, "b": 3 + 1j}, {"a": 1j, "b": 2.0})
    assert got == {"a": 1j, "b": 3.0}
    # a list of real values whose cotangent came back as one array (np.array(list))
    np.testing.assert_array_equal(runtime.real_like(np.array([1 + 1j, 2j]), [1.0, 2.0]), [1.0, 0.0])
