"""srcdiff/runtime/containers.py: lists, builtin sum over items, methods as new values."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_vjp, rand


@covers("seq_sum_grad")
@pytest.mark.parametrize("shapes", [[(), (), ()], [(3,), (3,)], [(2, 3), (3,), ()], [(2, 1), (1, 3)]])
def test_seq_sum_grad(shapes):
    rng = np.random.default_rng(26)
    items = [rand(s, rng) for s in shapes]
    assert_vjp(lambda vs: sum(vs), items, lambda u: runtime.seq_sum_grad(u, items), linear=True)


@covers("seq_sum_grad")
@pytest.mark.parametrize("shape", [(1,), (4,), (3, 2), (2, 3, 2)])
def test_seq_sum_grad_of_an_array_adds_its_rows(shape):
    items = rand(shape, np.random.default_rng(26))
    got = runtime.seq_sum_grad(np.ones(shape[1:]), items)
    assert isinstance(got, np.ndarray) and got.shape == shape
    assert_vjp(lambda vs: sum(vs), items, lambda u: runtime.seq_sum_grad(u, items), linear=True)


@covers("seq_sum_grad")
def test_seq_sum_grad_of_an_array_with_a_broadcast_start_and_of_an_empty_one():
    # sum(items, start) for items (3, 2) and start (4, 1, 2): rows of shape (2,) added to
    # (4, 1, 2) give (4, 1, 2); each row's cotangent sums g over the broadcast axes
    g = np.arange(8.0).reshape(4, 1, 2)
    got = runtime.seq_sum_grad(g, np.ones((3, 2)))
    np.testing.assert_array_equal(got, np.broadcast_to(g.sum(axis=(0, 1)), (3, 2)))
    np.testing.assert_array_equal(runtime.seq_sum_grad(1.0, np.ones((0, 2))), np.zeros((0, 2)))


@covers("list_append")
def test_list_append_returns_a_new_list_and_keeps_the_old_one():
    items = [1.0]
    got = runtime.list_append(items, 2.0)
    assert got == [1.0, 2.0] and items == [1.0] and got is not items


@covers("list_prefix")
def test_list_prefix_drops_the_last_entry():
    assert runtime.list_prefix([1.0, 2.0, 3.0]) == [1.0, 2.0]
    assert runtime.list_prefix([1.0]) == []
    assert runtime.list_prefix(None) is None


@covers("list_prefix", "list_append")
def test_list_prefix_is_the_adjoint_of_append():
    """append(items, item) is linear in (items, item); its adjoint splits the cotangent
    into the prefix (for items) and the last entry (for item)."""
    rng = np.random.default_rng(28)
    items, item = [rand((2,), rng), rand((2,), rng)], rand((2,), rng)
    assert_vjp(lambda v: np.stack(runtime.list_append(list(v[0]), v[1])), [items, item],
               lambda u: [runtime.list_prefix(list(u)), list(u)[-1]], linear=True)


@covers("sort_value", "sort_value_grad", "sort_value_tangent")
def test_sort_value_sorts_a_new_array_or_list_and_sends_cotangents_back():
    a, lst = np.array([[3.0, 1.0], [0.5, 2.0]]), [3.0, 1.0, 2.0, 1.0]
    np.testing.assert_array_equal(runtime.sort_value(a), [[1.0, 3.0], [0.5, 2.0]])
    np.testing.assert_array_equal(runtime.sort_value(a, axis=0, kind="stable"), [[0.5, 1.0], [3.0, 2.0]])
    assert runtime.sort_value(lst) == [1.0, 1.0, 2.0, 3.0] and lst == [3.0, 1.0, 2.0, 1.0]
    with pytest.raises(TypeError):
        runtime.sort_value(lst, axis=0)
    with pytest.raises(srcdiff.NoRuleError):
        runtime.sort_value((2.0, 1.0))  # (a tuple has no sort)
    # the sorted entry k came from position order[k] (ties in sorted()'s stable order)
    assert runtime.sort_value_grad([10.0, 11.0, 12.0, 13.0], lst) == [13.0, 10.0, 12.0, 11.0]
    assert runtime.sort_value_tangent([10.0, 11.0, 12.0, 13.0], lst) == [11.0, 13.0, 12.0, 10.0]
    assert runtime.sort_value_grad(None, lst) is None and runtime.sort_value_tangent(None, lst) is None
    rng = np.random.default_rng(41)
    x = rng.normal(size=(3, 4))
    for axis in (0, -1):
        assert_vjp(lambda v, axis=axis: runtime.sort_value_tangent(v, x, axis), x,
                   lambda u, axis=axis: runtime.sort_value_grad(u, x, axis), linear=True)
    assert_vjp(lambda v: np.array(runtime.sort_value_tangent(list(v), lst)), np.ones(4),
               lambda u: np.array(runtime.sort_value_grad(list(u), lst)), linear=True)


@covers("array_fill")
def test_array_fill_is_full_like_of_an_array_only():
    a = np.ones((2, 3))
    np.testing.assert_array_equal(runtime.array_fill(a, 2.5), np.full((2, 3), 2.5))
    assert np.all(a == 1.0)
    with pytest.raises(srcdiff.NoRuleError):
        runtime.array_fill([1.0, 2.0], 0.0)


@covers("list_extend", "list_head", "list_tail", "list_pad_to", "list_pad_front")
def test_list_extend_and_the_pieces_of_its_cotangent():
    items = [1.0, 2.0]
    assert runtime.list_extend(items, (3.0, 4.0)) == [1.0, 2.0, 3.0, 4.0] and items == [1.0, 2.0]
    assert runtime.list_extend(None, None) is None
    with pytest.raises(srcdiff.NoRuleError):
        runtime.list_extend(np.ones(2), [1.0])
    g = [5.0, None, 7.0, 8.0]
    assert runtime.list_head(g, items) == [5.0, None] and runtime.list_tail(g, items) == [7.0, 8.0]
    np.testing.assert_array_equal(runtime.list_tail([1.0, None, 3.0], [0.0], np.ones(2)), [0.0, 3.0])
    np.testing.assert_array_equal(runtime.list_tail([1.0], [0.0], np.ones(0)), np.zeros(0))
    assert runtime.list_pad_to([5.0], [0.0, 0.0, 0.0]) == [5.0, None, None]
    assert runtime.list_pad_front([5.0], [0.0, 0.0]) == [None, None, 5.0]
    for helper in (runtime.list_head, runtime.list_tail, runtime.list_pad_to, runtime.list_pad_front):
        assert helper(None, items) is None
    # extend is linear in (items, more): its adjoint is (head, tail) of the cotangent
    rng = np.random.default_rng(42)
    first, more = [rand((2,), rng), rand((2,), rng)], [rand((2,), rng)]
    assert_vjp(lambda v: np.stack(runtime.list_extend(list(v[0]), list(v[1]))), [first, more],
               lambda u: [runtime.list_head(list(u), first), runtime.list_tail(list(u), first)], linear=True)
    full = [rand((2,), rng) for _ in range(3)]
    assert_vjp(lambda v: np.stack(runtime.list_head(v, [0.0, 0.0])), full,
               lambda u: [np.zeros(2) if e is None else e for e in runtime.list_pad_to(list(u), full)],
               linear=True)
    assert_vjp(lambda v: np.stack(runtime.list_tail(v, [0.0])), full,
               lambda u: [np.zeros(2) if e is None else e for e in runtime.list_pad_front(list(u), [0.0])],
               linear=True)


@covers("list_reversed")
def test_list_reversed_is_a_new_list_and_its_own_adjoint():
    items = [1.0, 2.0, 3.0]
    assert runtime.list_reversed(items) == [3.0, 2.0, 1.0] and items == [1.0, 2.0, 3.0]
    assert runtime.list_reversed(None) is None
    with pytest.raises(srcdiff.NoRuleError):
        runtime.list_reversed(np.ones(3))
    rng = np.random.default_rng(43)
    full = [rand((2,), rng) for _ in range(3)]
    assert_vjp(lambda v: np.stack(runtime.list_reversed(list(v))), full,
               lambda u: runtime.list_reversed(list(u)), linear=True)


@covers("list_insert", "list_delete", "list_entry", "list_unentry")
@pytest.mark.parametrize("i", [0, 1, 2, 5, -1, -2, -9])
def test_list_insert_puts_the_item_where_python_does(i):
    items = [1.0, 2.0]
    expected = list(items)
    expected.insert(i, 9.0)
    assert runtime.list_insert(items, i, 9.0) == expected and items == [1.0, 2.0]
    g = [10.0, 11.0, 12.0]
    k = expected.index(9.0)
    assert runtime.list_entry(g, items, i) == g[k]
    assert runtime.list_delete(g, items, i) == g[:k] + g[k + 1:]
    assert runtime.list_unentry(5.0, items, i) == [5.0 if j == k else None for j in range(3)]
    assert runtime.list_insert(None, i, None) is None
    for helper in (runtime.list_delete, runtime.list_entry, runtime.list_unentry):
        assert helper(None, items, i) is None
    rng = np.random.default_rng(44)
    first, item = [rand((2,), rng), rand((2,), rng)], rand((2,), rng)
    assert_vjp(lambda v: np.stack(runtime.list_insert(list(v[0]), i, v[1])), [first, item],
               lambda u: [runtime.list_delete(list(u), first, i), runtime.list_entry(list(u), first, i)],
               linear=True)


@covers("cleared")
def test_cleared_is_an_empty_list_or_dict():
    items, table = [1.0], {"a": 1.0}
    assert runtime.cleared(items) == [] and items == [1.0]
    assert runtime.cleared(table) == {} and table == {"a": 1.0}
    with pytest.raises(srcdiff.NoRuleError):
        runtime.cleared(np.ones(2))


@covers("as_sequence")
def test_as_sequence():
    items, pair, steps, arr = [1.0, 2.0], (1.0, 2.0), range(3), np.ones((2, 3))
    for x in (items, pair, steps, arr):
        assert runtime.as_sequence(x) is x
    assert runtime.as_sequence({"a": 1, "b": 2}) == ["a", "b"]
    assert runtime.as_sequence(v for v in (3.0, 4.0)) == [3.0, 4.0]
    assert sorted(runtime.as_sequence({2.0, 1.0})) == [1.0, 2.0]
