"""srcdiff/runtime/indexing.py: getitem, np.take, setitem and indexed accumulation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_vjp, rand

_INDICES = [
    ((5,), 2),
    ((5,), -1),
    ((5,), np.int64(3)),
    ((5,), slice(1, 4)),
    ((5,), slice(None, None, -1)),
    ((5,), slice(4, 0, -2)),
    ((5,), slice(-1, None, -3)),
    ((5,), np.array([0, 2, 2, 4])),
    ((5,), [1, 1, 1]),
    ((5,), np.array([-1, 0, -1])),
    ((5,), np.array([True, False, True, True, False])),
    ((5,), Ellipsis),
    ((5,), None),
    ((3, 4), 1),
    ((3, 4), (1, slice(None))),
    ((3, 4), (slice(None), -1)),
    ((3, 4), (slice(None, None, -1), slice(3, None, -2))),
    ((3, 4), (np.array([0, 1, 1]), np.array([3, 2, 2]))),
    ((3, 4), (Ellipsis, None, slice(1, 3))),
    ((3, 4), np.array([[True, False, True, False]] * 3)),
    ((3, 4), (np.array([True, False, True]), slice(1, 3))),
    ((3, 4), (np.array([0, 0, 2]), slice(1, 3))),
    ((3, 4), (slice(None, None, -1), np.array([1, 1]))),
    ((3, 4), np.array([[0, 1], [1, 1]])),
    ((2, 3, 4), (1, Ellipsis, np.array([0, 0]))),
]


@covers("getitem_grad")
@pytest.mark.parametrize("shape, index", _INDICES)
def test_getitem_grad(shape, index):
    x = rand(shape, np.random.default_rng(17))
    assert_vjp(lambda v: v[index], x, lambda u: runtime.getitem_grad(u, x, index), linear=True)


@covers("getitem_grad_to")
@pytest.mark.parametrize("shape, index", _INDICES)
def test_getitem_grad_to_a_shape_is_getitem_grad_of_a_value_of_that_shape(shape, index):
    x = rand(shape, np.random.default_rng(19))
    g = rand(np.shape(x[index]), np.random.default_rng(20))
    np.testing.assert_array_equal(runtime.getitem_grad_to(g, shape, index), runtime.getitem_grad(g, x, index))
    assert runtime.getitem_grad_to(None, shape, index) is None


@covers("getitem_grad")
def test_getitem_grad_sums_repeated_indices():
    got = runtime.getitem_grad(np.array([1.0, 2.0, 3.0]), np.zeros(5), np.array([1, 1, 3]))
    np.testing.assert_array_equal(got, [0.0, 3.0, 0.0, 3.0, 0.0])
    got = runtime.getitem_grad(np.array([1.0, 2.0, 4.0]), np.zeros((2, 2)),
                               (np.array([0, 0, 1]), np.array([1, 1, 0])))
    np.testing.assert_array_equal(got, [[0.0, 3.0], [4.0, 0.0]])


@covers("getitem_grad")
def test_getitem_grad_of_containers():
    arr = np.ones(3)
    assert runtime.getitem_grad(2.0, {"a": arr, "b": 1.0}, "b") == {"b": 2.0}
    assert runtime.getitem_grad(2.0, [1.0, arr, 3.0], 0) == [2.0, None, None]
    assert runtime.getitem_grad(2.0, (1.0, 2.0, 3.0), -1) == [None, None, 2.0]
    assert runtime.getitem_grad([5.0, 6.0], [1.0, 2.0, 3.0], slice(1, 3)) == [None, 5.0, 6.0]
    for x in ({"a": 1.0}, [1.0], (1.0,), arr):
        assert runtime.getitem_grad(None, x, "a" if isinstance(x, dict) else 0) is None


@covers("getitem_grad")
@pytest.mark.parametrize("x, index", [
    ({"w": np.ones((2, 2)), "b": 0.5}, "w"),
    ([0.5, np.ones(3), (1.0, 2.0)], 1),
    ([0.5, np.ones(3), (1.0, 2.0)], -1),
    ((np.ones(2), 0.5, 1.5), slice(0, 2)),
])
def test_getitem_grad_of_containers_is_the_adjoint(x, index):
    assert_vjp(lambda v: v[index], x, lambda u: runtime.getitem_grad(u, x, index), linear=True)


@covers("index_add")
@pytest.mark.parametrize("shape, index", _INDICES)
def test_index_add_is_the_adjoint_of_indexing(shape, index):
    x = rand(shape, np.random.default_rng(18))

    def adjoint(u: Any) -> np.ndarray:
        acc = np.zeros(shape)
        assert runtime.index_add(acc, index, u) is None
        return acc

    assert_vjp(lambda v: v[index], x, adjoint, linear=True)


@covers("index_add")
def test_index_add_accumulates_in_place():
    acc = np.array([1.0, 1.0, 1.0])
    runtime.index_add(acc, np.array([0, 2, 2]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(acc, [2.0, 1.0, 6.0])
    runtime.index_add(acc, slice(0, 2), 1.0)
    np.testing.assert_array_equal(acc, [3.0, 2.0, 6.0])
    runtime.index_add(acc, np.array([False, True, True]), np.array([1.0, 1.0]))
    np.testing.assert_array_equal(acc, [3.0, 3.0, 7.0])


@covers("add_rows")
@pytest.mark.parametrize("rows", [range(5), range(1, 5), range(0, 5, 2), range(4, -1, -1),
                                  range(-3, 2), range(3, 0, -2), range(0)])
@pytest.mark.parametrize("row_shape", [(), (3,), (2, 3)])
def test_add_rows_adds_what_a_loop_would_add_row_by_row(rows, row_shape):
    rng = np.random.default_rng(len(rows) + len(row_shape))
    acc = rng.normal(size=(5, *row_shape))
    expected = acc.copy()
    grads = [rng.normal(size=row_shape) for _ in rows]
    for t, g in zip(rows, grads):
        expected[t] += g
    collected = grads[::-1]  # as a loop's adjoint collects them: the last row first
    assert runtime.add_rows(acc, rows, collected) is None
    np.testing.assert_allclose(acc, expected, rtol=1e-15)
    assert collected == []


@covers("add_rows")
def test_add_rows_with_cotangents_that_broadcast_to_the_row():
    acc = np.zeros((3, 2))
    runtime.add_rows(acc, range(3), [np.ones(2), np.array([5.0]), 2.0])
    np.testing.assert_array_equal(acc, [[2.0, 2.0], [5.0, 5.0], [1.0, 1.0]])


@covers("take_grad")
@pytest.mark.parametrize("shape, indices, axis", [
    ((5,), np.array([0, 3, 3]), None),
    ((5,), 2, None),
    ((5,), np.array([-1, 0]), 0),
    ((3, 4), np.array([1, 1, 0]), 1),
    ((3, 4), np.array([1, 1, 0]), 0),
    ((3, 4), np.array([2, 2]), -1),
    ((3, 4), np.array([[0, 5], [11, 0]]), None),
    ((3, 4), np.array([[0, 1], [1, 1]]), 1),
    ((3, 4), 3, 1),
    ((2, 3, 4), np.array([[2, 0], [2, 2]]), 1),
])
def test_take_grad(shape, indices, axis):
    a = rand(shape, np.random.default_rng(19))
    assert_vjp(lambda v: np.take(v, indices, axis=axis), a,
               lambda u: runtime.take_grad(u, a, indices, axis), linear=True)


@covers("setitem")
@pytest.mark.parametrize("index, value", [(1, 9.0), (slice(0, 2), np.array([7.0, 8.0])),
                                          (np.array([True, False, True]), 0.0)])
def test_setitem_copies(index, value):
    x = np.array([1.0, 2.0, 3.0])
    got = runtime.setitem(x, index, value)
    expected = x.copy()
    expected[index] = value
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])  # the old version keeps its value
    assert not np.shares_memory(got, x)


@covers("setitem")
def test_setitem_copies_containers():
    items = [1.0, 2.0]
    assert runtime.setitem(items, 0, 5.0) == [5.0, 2.0] and items == [1.0, 2.0]
    params = {"a": 1.0}
    assert runtime.setitem(params, "b", 2.0) == {"a": 1.0, "b": 2.0} and params == {"a": 1.0}


@covers("setitem_grad_x", "setitem_grad_value")
@pytest.mark.parametrize("shape, index, value_shape", [
    ((5,), 2, ()),
    ((5,), slice(1, 4), (3,)),
    ((5,), slice(1, 4), ()),
    ((5,), slice(None, None, -2), (3,)),
    ((5,), np.array([4, 0]), (2,)),
    ((5,), np.array([True, False, True, False, False]), (2,)),
    ((3, 4), 1, (4,)),
    ((3, 4), 1, ()),
    ((3, 4), (slice(None), 2), (3,)),
    ((3, 4), (slice(None), slice(1, 3)), (2,)),
    ((3, 4), (slice(None), slice(1, 3)), (3, 1)),
    # repeated entries: NumPy keeps the last value written to each
    ((5,), np.array([1, 1, 3]), (3,)),
    ((5,), np.array([1, 1, 3]), ()),
    ((5,), np.array([4, -1, 0, 4]), (4,)),
    ((3, 4), np.array([2, 0, 2]), (3, 4)),
    ((3, 4), np.array([2, 0, 2]), (3, 1)),
    ((3, 4), (np.array([0, 0, 2]), np.array([1, 1, 3])), (3,)),
    ((3, 4), (slice(1, None), np.array([3, 3])), (2, 2)),
    ((2, 3, 4), (np.array([1, 1]), slice(None), np.array([0, 0])), (2, 3)),
    ((2, 3, 4), (np.array([1, 1]), slice(None), np.array([0, 0])), (3,)),
])
def test_setitem_grads_are_the_adjoint_of_setitem(shape, index, value_shape):
    rng = np.random.default_rng(27)
    x, value = rand(shape, rng), rand(value_shape, rng)
    assert_vjp(lambda xv: runtime.setitem(xv[0], index, xv[1]), [x, value],
               lambda u: [runtime.setitem_grad_x(u, index), runtime.setitem_grad_value(u, index, value)],
               linear=True)


@covers("setitem_grad_x", "setitem_grad_value")
def test_setitem_grads_of_containers():
    assert runtime.setitem_grad_x([1.0, 2.0, 3.0], 1) == [1.0, None, 3.0]
    assert runtime.setitem_grad_x([1.0, 2.0, 3.0], slice(0, 2)) == [None, None, 3.0]
    assert runtime.setitem_grad_x({"a": 1.0, "b": 2.0}, "a") == {"b": 2.0}
    assert runtime.setitem_grad_value([1.0, 2.0, 3.0], 1, 0.5) == 2.0
    assert runtime.setitem_grad_value({"a": 1.0, "b": 2.0}, "a", 0.5) == 1.0
    assert runtime.setitem_grad_value({"b": 2.0}, "a", 0.5) is None
    assert runtime.setitem_grad_x(None, 0) is None
    assert runtime.setitem_grad_value(None, 0, 1.0) is None


@covers("setitem_grad_value", "last_writes")
def test_setitem_grad_value_of_repeated_entries_by_hand():
    # x[[0, 0, 2]] = value leaves value[1] in x[0] and value[2] in x[2]
    g = np.array([10.0, 20.0, 30.0])
    index = np.array([0, 0, 2])
    np.testing.assert_array_equal(runtime.last_writes((3,), index), [False, True, True])
    np.testing.assert_array_equal(runtime.setitem_grad_value(g, index, np.ones(3)), [0.0, 10.0, 30.0])
    assert runtime.setitem_grad_value(g, index, 1.0) == 40.0  # a scalar written to two entries
    # two-dimensional: x[[1, 1], :] = rows keeps the second row
    g2 = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(runtime.setitem_grad_value(g2, np.array([1, 1]), np.ones((2, 4))),
                                  [[0.0] * 4, [4.0, 5.0, 6.0, 7.0]])


@covers("write_back")
@pytest.mark.parametrize("shape, index, value_shape", [
    ((5,), np.array([1, 1, 3]), (3,)),
    ((5,), np.array([1, 1, 3]), ()),
    ((3, 4), np.array([2, 0, 2]), (3, 1)),
    ((3, 4), (np.array([0, 0, 2]), np.array([1, 1, 3])), (3,)),
    ((3, 4), (slice(1, None), np.array([3, 3])), (2, 2)),
    ((3, 4), 1, (4,)),
])
def test_write_back_is_the_adjoint_of_setitem_grad_value(shape, index, value_shape):
    rng = np.random.default_rng(28)
    like, value = np.zeros(shape), rand(value_shape, rng)
    assert_vjp(lambda h: runtime.write_back(h, like, index), value,
               lambda u: runtime.setitem_grad_value(u, index, value), linear=True)


@covers("write_back")
def test_write_back_by_hand_and_containers():
    got = runtime.write_back(np.array([1.0, 2.0, 3.0]), np.zeros(4), np.array([3, 3, 0]))
    np.testing.assert_array_equal(got, [3.0, 0.0, 0.0, 2.0])
    assert runtime.write_back(2.0, [1.0, 1.0], 1) == [None, 2.0]
    assert runtime.write_back(None, np.zeros(2), 0) is None


@covers("setitem_grad_x")
def test_setitem_grad_x_does_not_change_the_cotangent():
    g = np.array([1.0, 2.0, 3.0])
    got = runtime.setitem_grad_x(g, 0)
    np.testing.assert_array_equal(got, [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
