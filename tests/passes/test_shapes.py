"""Derivatives specialised to the shapes of their arguments.

The shape rules (``srcdiff.passes.shapes``) are checked against NumPy itself on
random shapes; the specialised derivatives against finite differences, including
after the shapes (or a global number's type) change between calls.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srcdiff
from srcdiff import ir
from srcdiff.passes.shapes import result_shape
from srcdiff.testing import check_grad

from ..conftest import make_function

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


def _shape_of(known: dict):
    def shape_of(atom):
        if isinstance(atom, ir.Var):
            return known.get(atom.id)
        if isinstance(atom, ir.Const) and isinstance(atom.value, (int, float)):
            return ()
        return None

    return shape_of


def _call(fn, *args, **kwargs) -> ir.Call:
    def atom(a):
        if isinstance(a, str):
            return ir.Var(a)
        if isinstance(a, tuple):
            return ir.Tup(tuple(atom(i) for i in a))
        if isinstance(a, slice):
            return ir.Slc(ir.Const(a.start), ir.Const(a.stop), ir.Const(a.step))
        return ir.Const(a)

    callee = ir.Prim(fn) if fn in (operator.getitem, operator.matmul) else fn
    if not isinstance(callee, (ir.Prim, ir.Method, ir.Attr)):
        callee = ir.Ref(None, fn, getattr(fn, "__name__", "f"))
    return ir.Call(callee, tuple(atom(a) for a in args), tuple((k, atom(v)) for k, v in kwargs.items()))


def _numpy_shape(make):
    try:
        return np.shape(make())
    except (ValueError, IndexError, TypeError, np.exceptions.AxisError):
        return None


def _agrees(known, call, make, ints=frozenset()):
    """The rule's shape is NumPy's, or the rule says it does not know."""
    found = result_shape(call, _shape_of(known), set(ints))
    if found is not None:
        assert found == _numpy_shape(make), (call, known)
    return found


@SETTINGS
@given(a=shapes, b=shapes)
def test_matrix_product_shapes_are_numpys(a, b):
    x, y = np.ones(a), np.ones(b)
    for fn in (operator.matmul, np.matmul, np.dot):
        _agrees({"a": a, "b": b}, _call(fn, "a", "b"), lambda fn=fn: fn(x, y))


@SETTINGS
@given(shape=shapes.filter(len), data=st.data())
def test_indexing_shapes_are_numpys(shape, data):
    part = st.one_of(st.integers(-5, 5), st.none(), st.just(Ellipsis),
                     st.builds(slice, st.integers(-5, 5) | st.none(), st.integers(-5, 5) | st.none(),
                               st.sampled_from([None, 1, 2, -1])))
    index = data.draw(st.one_of(part, st.lists(part, max_size=4).map(tuple)))
    x = np.ones(shape)
    _agrees({"x": shape}, _call(operator.getitem, "x", index), lambda: x[index])


def test_a_loop_counter_index_drops_an_axis_but_a_slice_from_it_is_unknown():
    counter = ir.Call(ir.Prim(operator.getitem), (ir.Var("x"), ir.Var("t")))
    assert result_shape(counter, _shape_of({"x": (5, 3)}), {"t"}) == (3,)
    rest = ir.Slc(ir.Var("t"), ir.Const(None), ir.Const(None))
    tail = ir.Call(ir.Prim(operator.getitem), (ir.Var("x"), rest))
    assert result_shape(tail, _shape_of({"x": (5, 3)}), {"t"}) is None
    assert result_shape(counter, _shape_of({"x": (5, 3)}), set()) is None  # t unknown


@SETTINGS
@given(shape=shapes, data=st.data())
def test_reduction_shapes_are_numpys(shape, data):
    axes = st.lists(st.integers(-4, 3), max_size=2, unique=True).map(tuple)
    axis = data.draw(st.none() | st.integers(-4, 3) | axes)
    keepdims = data.draw(st.booleans())
    x = np.ones(shape)
    for fn in (np.sum, np.mean, np.max, np.std):
        _agrees({"x": shape}, _call(fn, "x", axis=axis, keepdims=keepdims),
                lambda fn=fn: fn(x, axis=axis, keepdims=keepdims))
    for method in ("sum", "mean", "max", "var"):
        _agrees({"x": shape}, _call(ir.Method(method), "x", axis=axis, keepdims=keepdims),
                lambda method=method: getattr(x, method)(axis=axis, keepdims=keepdims))


@SETTINGS
@given(shape=shapes, new=st.lists(st.integers(-1, 6), max_size=3).map(tuple), axis=st.integers(-4, 4))
def test_reshape_transpose_and_expand_shapes_are_numpys(shape, new, axis):
    x = np.ones(shape)
    _agrees({"x": shape}, _call(np.reshape, "x", new), lambda: np.reshape(x, new))
    _agrees({"x": shape}, _call(ir.Method("reshape"), "x", *new),
            lambda: x.reshape(*new) if new else x.reshape(()))
    _agrees({"x": shape}, _call(ir.Attr("T"), "x"), lambda: x.T)
    _agrees({"x": shape}, _call(np.transpose, "x"), lambda: np.transpose(x))
    _agrees({"x": shape}, _call(np.expand_dims, "x", axis), lambda: np.expand_dims(x, axis))


@SETTINGS
@given(a=shapes, b=shapes, axis=st.integers(-3, 3))
def test_join_and_broadcast_shapes_are_numpys(a, b, axis):
    x, y = np.ones(a), np.ones(b)
    known = {"a": a, "b": b}
    for fn in (np.concatenate, np.stack):
        _agrees(known, _call(fn, ("a", "b"), axis=axis), lambda fn=fn: fn((x, y), axis=axis))
    _agrees(known, _call(np.where, "a", "b", 0.0), lambda: np.where(x, y, 0.0))
    _agrees(known, _call(np.outer, "a", "b"), lambda: np.outer(x, y))
    _agrees(known, _call(np.zeros, b), lambda: np.zeros(b))
    _agrees(known, _call(np.ones_like, "a"), lambda: np.ones_like(x))


def test_what_depends_on_the_data_or_on_unknown_arguments_is_unknown():
    known = _shape_of({"x": (4, 3)})
    mask = ir.Call(ir.Prim(operator.getitem), (ir.Var("x"), ir.Var("m")))
    assert result_shape(mask, known, set()) is None
    assert result_shape(_call(np.sum, "x", axis="k"), known, set()) is None
    assert result_shape(_call(np.sum, "x", axis=1, dtype=np.float32), known, set()) is None
    assert result_shape(_call(np.unique, "x"), known, set()) is None


# ---- specialised derivatives ------------------------------------------------------


def test_specialised_code_has_no_unbroadcast_and_writes_products_out():
    f = make_function(
        "def mlp(W, b, x, y):\n"
        "    h = np.tanh(x @ W + b)\n"
        "    return np.mean((h - y) ** 2)\n")
    rng = np.random.default_rng(0)
    W, b, x, y = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    d = srcdiff.grad(f, wrt=(0, 1))
    check_grad(f, W, b, x, y, wrt=(0, 1))
    d(W, b, x, y)
    assert "unbroadcast" not in d.source and "matmul_grad" not in d.source
    assert "x.T @ d_t1" in d.source and "d_t1.sum(axis=0)" in d.source


@pytest.mark.parametrize("shapes", [
    [((3,), (3,)), ((3,), (4, 3)), ((3,), (3,))],  # broadcast only on the second call
    [((4, 3), (4, 3)), ((4, 1), (4, 3)), ((1, 3), (2, 4, 3))],
    [((2,), ()), ((2,), (2,)), ((5,), ())],
])
def test_other_shapes_after_the_first_call_get_correct_gradients(shapes):
    f = make_function("def f(x, y):\n    return np.sum(np.sin(x * y) + x)\n")
    d = srcdiff.grad(f)
    rng = np.random.default_rng(1)
    for xs, ys in shapes:
        x, y = rng.normal(size=xs), rng.normal(size=ys)
        expected = np.cos(x * y) * y + 1.0
        if expected.ndim > x.ndim:
            expected = expected.sum(axis=tuple(range(expected.ndim - x.ndim)))
        for axis, n in enumerate(x.shape):
            if n == 1 and expected.shape[axis] != 1:
                expected = expected.sum(axis=axis, keepdims=True)
        np.testing.assert_allclose(d(x, y), expected, rtol=1e-12)


def test_a_float_argument_that_becomes_an_array_gets_correct_gradients():
    f = make_function("def f(x, s):\n    return np.sum(x * s)\n")
    d = srcdiff.grad(f, wrt=(0, 1))
    x = np.arange(3.0)
    dx, ds = d(x, 2.0)
    np.testing.assert_allclose(dx, [2.0, 2.0, 2.0])
    assert ds == pytest.approx(3.0)
    s = np.array([[1.0], [2.0]])
    dx, ds = d(x, s)
    np.testing.assert_allclose(dx, [3.0, 3.0, 3.0])
    np.testing.assert_allclose(ds, [[3.0], [3.0]])


def test_a_global_number_that_becomes_an_array_gets_correct_gradients():
    ns: dict = {"SCALE": 0.5}
    f = make_function("def f(x):\n    return np.sum(SCALE * x)\n", ns)
    f.__globals__["SCALE"] = 0.5
    d = srcdiff.grad(f)
    x = np.ones(3)
    np.testing.assert_allclose(d(x), [0.5] * 3)
    f.__globals__["SCALE"] = 0.25  # another number: the same code
    np.testing.assert_allclose(d(x), [0.25] * 3)
    f.__globals__["SCALE"] = np.array([[1.0], [2.0]])  # now it broadcasts x
    np.testing.assert_allclose(d(x), [3.0] * 3)


def test_a_loop_over_rows_is_specialised_and_correct():
    f = make_function(
        "def rnn(W, xs, h):\n"
        "    for t in range(xs.shape[0]):\n"
        "        h = np.tanh(h @ W + xs[t])\n"
        "    return np.sum(h)\n")
    rng = np.random.default_rng(2)
    W, xs, h = rng.normal(size=(4, 4)) / 2, rng.normal(size=(6, 4)), rng.normal(size=4)
    d = srcdiff.grad(f)
    check_grad(f, W, xs, h)
    d(W, xs, h)
    assert "unbroadcast" not in d.source and "matmul_grad_a" not in d.source
    # a batch of hidden states: other shapes, still right
    check_grad(f, W, xs[:, None, :] * np.ones((1, 3, 1)), rng.normal(size=(3, 4)))
    np.testing.assert_allclose(d(W, xs, h), srcdiff.grad(f)(W, xs, h))


def test_arguments_by_keyword_get_code_for_any_shape():
    f = make_function("def f(x, y):\n    return np.sum(x * y)\n")
    d = srcdiff.grad(f)
    np.testing.assert_allclose(d(np.ones(3), y=np.full((2, 3), 2.0)), [4.0] * 3)
    np.testing.assert_allclose(d(np.ones(3), np.full(3, 2.0)), [2.0] * 3)


@pytest.mark.parametrize("src, shapes", [
    # no two values share a shape, but the code sums over the axes b broadcast a along
    ("def f(a, b):\n    return np.sum(a * b)\n", [((3, 1), (1, 4)), ((3, 4), (3, 4)), ((3, 1), (1, 4))]),
    # the mean's count written as a number
    ("def f(a, b):\n    return np.mean(a * a) + np.sum(b)\n", [((3,), (2,)), ((5,), (2,)), ((3,), (2,))]),
    # a matrix product written out for these ranks
    ("def f(a, b):\n    return np.sum(np.tanh(a @ b))\n", [((3, 2), (2,)), ((3, 2), (2, 4)), ((2,), (2, 4))]),
])
def test_code_with_a_known_shape_written_in_is_used_for_that_shape_only(src, shapes):
    f = make_function(src)
    d = srcdiff.grad(f, wrt=(0, 1))
    rng = np.random.default_rng(9)
    for a_shape, b_shape in shapes:
        a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
        want = srcdiff.grad(f, wrt=(0, 1), optimize=False)(a, b)
        for got, expected in zip(d(a, b), want):
            np.testing.assert_allclose(got, expected, rtol=1e-12)
        check_grad(f, a, b, wrt=(0, 1))


def test_a_shape_written_in_the_function_makes_code_for_any_arguments():
    """Was: AttributeError.  Called with a keyword argument (so with no argument shapes),
    a sum's axes known from ``np.zeros((2, 3))`` and ``np.ones(3)`` alone marked the
    code as made for the argument shapes, and the derivative looked for those shapes."""
    f = make_function("def f(x, y):\n"
                      "    return np.sum(np.tanh(np.zeros((2, 3)) + np.ones(3) * x) * y)\n")
    d = srcdiff.grad(f)
    y = np.array([1.0, 2.0, 3.0])
    assert d(0.5, y=y) == pytest.approx(2 * 6.0 * (1 - np.tanh(0.5) ** 2))
    assert ".sum(axis=0)" in d.source
    check_grad(f, 0.5, y)
