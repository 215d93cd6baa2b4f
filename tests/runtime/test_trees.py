"""srcdiff/runtime/trees.py: cotangents of containers."""

from __future__ import annotations

import numpy as np

from srcdiff import runtime

from ._coverage import covers


@covers("tree_add")
def test_tree_add():
    a, b = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    assert runtime.tree_add(None, None) is None
    assert runtime.tree_add(None, 2.0) == 2.0 and runtime.tree_add(2.0, None) == 2.0
    np.testing.assert_array_equal(runtime.tree_add(a, b), [11.0, 22.0])
    np.testing.assert_array_equal(a, [1.0, 2.0])  # inputs untouched
    got = runtime.tree_add({"x": 1.0, "y": a}, {"y": b, "z": 3.0})
    assert set(got) == {"x", "y", "z"} and got["x"] == 1.0 and got["z"] == 3.0
    np.testing.assert_array_equal(got["y"], [11.0, 22.0])
    assert runtime.tree_add([1.0, None, [2.0, None]], [None, 5.0, [1.0, 4.0]]) == [1.0, 5.0, [3.0, 4.0]]
    assert runtime.tree_add({"p": [None, 1.0]}, {"p": [2.0, 2.0]}) == {"p": [2.0, 3.0]}


@covers("tree_add")
def test_tree_add_does_not_mutate_its_arguments():
    first = {"x": 1.0}
    runtime.tree_add(first, {"x": 2.0, "y": 1.0})
    assert first == {"x": 1.0}


@covers("tree_index")
def test_tree_index():
    assert runtime.tree_index(None, 0) is None
    assert runtime.tree_index([1.0, 2.0], 1) == 2.0
    assert runtime.tree_index({"a": 3.0}, "a") == 3.0
    np.testing.assert_array_equal(runtime.tree_index(np.arange(6.0).reshape(2, 3), 1), [3.0, 4.0, 5.0])


@covers("tree_fill")
def test_tree_fill_replaces_none_by_zeros_of_the_leaf():
    like = {"w": np.ones((2, 2)), "b": 0.5, "n": 3, "flag": True, "name": "x",
            "layers": [np.ones(3), (0.5, np.ones(2))]}
    got = runtime.tree_fill({"b": 2.0, "layers": [None, (1.0, None)]}, like)
    assert set(got) == set(like)
    np.testing.assert_array_equal(got["w"], np.zeros((2, 2)))
    assert got["b"] == 2.0
    assert got["n"] is None and got["flag"] is None and got["name"] is None
    assert isinstance(got["layers"], list) and isinstance(got["layers"][1], tuple)
    np.testing.assert_array_equal(got["layers"][0], np.zeros(3))
    assert got["layers"][1][0] == 1.0
    np.testing.assert_array_equal(got["layers"][1][1], np.zeros(2))


@covers("tree_fill")
def test_tree_fill_gives_tuples_where_the_value_has_tuples():
    got = runtime.tree_fill([1.0, 2.0], (0.5, 0.5))
    assert got == (1.0, 2.0) and isinstance(got, tuple)
    got = runtime.tree_fill(None, (0.5, [0.5]))
    assert got == (0.0, [0.0]) and isinstance(got, tuple) and isinstance(got[1], list)


@covers("tree_fill")
def test_tree_fill_stacks_a_list_cotangent_of_an_array():
    got = runtime.tree_fill([np.array([1.0, 2.0]), np.array([3.0, 4.0])], np.ones((2, 2)))
    np.testing.assert_array_equal(got, [[1.0, 2.0], [3.0, 4.0]])


@covers("tree_fill")
def test_tree_fill_stacks_a_list_with_none_entries_as_zeros():
    got = runtime.tree_fill([None, np.array([1.0, 2.0])], np.ones((2, 2)))
    np.testing.assert_array_equal(got, [[0.0, 0.0], [1.0, 2.0]])


@covers("tree_fill")
def test_tree_fill_of_scalar_leaves():
    assert runtime.tree_fill(None, 1.5) == 0.0 and isinstance(runtime.tree_fill(None, 1.5), float)
    assert runtime.tree_fill(None, np.float64(1.5)) == 0.0
    assert runtime.tree_fill(None, 2) is None
    assert runtime.tree_fill(None, np.arange(3)) is None  # integer arrays get no gradient
    zeros = runtime.tree_fill(None, np.ones(3, dtype=np.float32))
    assert zeros.dtype == np.float32 and not zeros.any()
    assert runtime.tree_fill(4.0, 1.5) == 4.0


@covers("zeros_like_tree")
def test_zeros_like_tree():
    like = {"a": np.ones((2, 3)), "b": [1.0, 2, (np.ones(2), True)]}
    got = runtime.zeros_like_tree(like)
    np.testing.assert_array_equal(got["a"], np.zeros((2, 3)))
    assert got["b"][0] == 0.0 and got["b"][1] is None
    assert isinstance(got["b"][2], tuple) and got["b"][2][1] is None
    np.testing.assert_array_equal(got["b"][2][0], np.zeros(2))
    assert runtime.zeros_like_tree(0.5) == 0.0


@covers("zeros_like_value")
def test_zeros_like_value():
    for scalar in (0.5, 3, np.float64(2.0), np.int64(1), True):
        got = runtime.zeros_like_value(scalar)
        assert got == 0.0 and isinstance(got, float)
    got = runtime.zeros_like_value(np.arange(3))
    assert got.dtype.kind == "f" and got.shape == (3,) and not got.any()
    got = runtime.zeros_like_value(np.ones((2, 2), dtype=np.float32))
    assert got.dtype == np.float32 and got.shape == (2, 2) and not got.any()
    got = runtime.zeros_like_value({"a": np.ones(2), "b": (1.0, 2.0)})
    np.testing.assert_array_equal(got["a"], np.zeros(2))
    assert got["b"] == (0.0, 0.0)


@covers("zeros_like_value")
def test_zeros_like_value_of_none_is_none():
    assert runtime.zeros_like_value(None) is None
    assert runtime.zeros_like_value((1.0, None)) == (0.0, None)
