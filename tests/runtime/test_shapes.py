"""srcdiff/runtime/shapes.py: reshapes, joins and splits, padding, meshgrid, sort, unique."""

from __future__ import annotations

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_jvp, assert_vjp, rand


@covers("unconcatenate_to")
@pytest.mark.parametrize("shapes, axis", [([(2,), (3,)], 0), ([(2, 3), (2, 1)], 1), ([(2, 2), (1, 2)], 0),
                                          ([(2, 2), (3,)], None)])
def test_unconcatenate_to_shapes_is_the_adjoint_of_concatenate(shapes, axis):
    rng = np.random.default_rng(21)
    parts = [rand(s, rng) for s in shapes]
    g = rand(np.shape(np.concatenate(parts, axis=axis)), rng)
    got = runtime.unconcatenate_to(g, shapes, axis)
    # <g, concatenate(parts)> == sum <got_i, parts_i>: the adjoint of a linear map
    assert np.sum(g * np.concatenate(parts, axis=axis)) == pytest.approx(
        sum(np.sum(a * b) for a, b in zip(got, parts)))
    for want, part in zip(runtime.unconcatenate(g, parts, axis), got):
        np.testing.assert_array_equal(want, part)


@covers("unconcatenate")
@pytest.mark.parametrize("shapes, axis", [
    ([(2,), (3,)], 0),
    ([(2,), (3,), (1,)], -1),
    ([(1, 3), (2, 3)], 0),
    ([(2, 3), (2, 2)], 1),
    ([(2, 3), (2, 1), (2, 2)], -1),
    ([(2, 3), (1, 3)], None),
    ([(2, 2), (3,)], None),
])
def test_unconcatenate(shapes, axis):
    rng = np.random.default_rng(20)
    arrays = [rand(s, rng) for s in shapes]
    assert_vjp(lambda vs: np.concatenate(vs, axis=axis), arrays,
               lambda u: runtime.unconcatenate(u, arrays, axis), linear=True)


@covers("unstack")
@pytest.mark.parametrize("shapes, axis", [
    ([(), (), ()], 0),
    ([(3,), (3,)], 0),
    ([(3,), (3,)], 1),
    ([(3,), (3,)], -1),
    ([(2, 3), (2, 3), (2, 3)], 1),
    ([(2, 3), (2, 3)], -2),
])
def test_unstack(shapes, axis):
    rng = np.random.default_rng(21)
    arrays = [rand(s, rng) for s in shapes]
    assert_vjp(lambda vs: np.stack(vs, axis=axis), arrays,
               lambda u: runtime.unstack(u, axis), linear=True)


@covers("unjoin")
@pytest.mark.parametrize("join, shapes", [
    ("vstack", [(3,), (3,)]),
    ("vstack", [(2, 3), (1, 3), (3,)]),
    ("vstack", [(), ()]),
    ("hstack", [(3,), (2,)]),
    ("hstack", [(), (2,)]),
    ("hstack", [(2, 3), (2, 1)]),
    ("column_stack", [(3,), (3,)]),
    ("column_stack", [(3, 2), (3,)]),
])
def test_unjoin(join, shapes):
    rng = np.random.default_rng(22)
    arrays = [rand(s, rng) for s in shapes]
    primal = getattr(np, join)
    if join == "vstack":
        args = (0, 2)
    elif join == "hstack":
        args = (0 if np.ndim(arrays[0]) <= 1 else 1, 1)
    else:
        args = (1, 2, True)
    assert_vjp(lambda vs: primal(vs), arrays, lambda u: runtime.unjoin(u, arrays, *args), linear=True)


@covers("diag_grad")
@pytest.mark.parametrize("shape, k", [((3,), 0), ((3,), 1), ((3,), -2), ((3, 3), 0), ((3, 4), 1),
                                      ((4, 3), -1), ((3, 4), -2), ((3, 4), 3), ((2, 2), 1)])
def test_diag_grad(shape, k):
    v = rand(shape, np.random.default_rng(24))
    assert_vjp(lambda w: np.diag(w, k), v, lambda u: runtime.diag_grad(u, v, k), linear=True)


@covers("sort_grad")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((3, 4), None),
                                         ((2, 3, 4), 1)])
def test_sort_grad(shape, axis):
    a = rand(shape, np.random.default_rng(25))  # distinct entries: no ties
    assert_vjp(lambda v: np.sort(v, axis=axis), a, lambda u: runtime.sort_grad(u, a, axis))


@covers("sort_tangent")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((3, 4), None),
                                         ((2, 3, 4), 1)])
def test_sort_tangent_is_the_directional_derivative_of_sort(shape, axis):
    rng = np.random.default_rng(29)
    a, t = rand(shape, rng), rand(shape, rng)  # distinct entries: no ties
    eps = 1e-6
    expected = (np.sort(a + eps * t, axis=axis) - np.sort(a - eps * t, axis=axis)) / (2 * eps)
    np.testing.assert_allclose(runtime.sort_tangent(t, a, axis), expected, rtol=1e-6, atol=1e-8)


@covers("sort_tangent", "sort_grad")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), 0), ((3, 4), None)])
def test_sort_tangent_and_sort_grad_are_adjoint(shape, axis):
    a = rand(shape, np.random.default_rng(30))
    assert_vjp(lambda v: runtime.sort_tangent(v, a, axis), a, lambda u: runtime.sort_grad(u, a, axis),
               linear=True)


@covers("memory_order")
def test_memory_order():
    a = np.ones((2, 3))
    assert runtime.memory_order(a, "C") == "C" and runtime.memory_order(a, "F") == "F"
    assert runtime.memory_order(a, "f") == "F" and runtime.memory_order(a.T, "C") == "C"
    # "A" and "K" only where C and Fortran order agree, for the input and the result
    assert runtime.memory_order(np.ones((1, 3)), "A", (3, 1)) == "C"
    assert runtime.memory_order(np.ones(4), "K") == "C"
    for arr, order, shape in [(a, "A", None), (a.T, "K", None), (np.ones(6), "A", (2, 3))]:
        with pytest.raises(NotImplementedError, match="order='C' or order='F'"):
            runtime.memory_order(arr, order, shape)
    with pytest.raises(ValueError, match="order must be"):
        runtime.memory_order(a, "X")


@covers("diagonal_grad")
@pytest.mark.parametrize("shape, offset, axis1, axis2", [
    ((3, 3), 0, 0, 1), ((3, 4), 1, 0, 1), ((4, 3), -1, 0, 1), ((3, 4), 5, 0, 1),
    ((2, 3, 4), 0, 1, 2), ((2, 3, 4), 1, 0, 2), ((2, 3, 4), -1, 2, 0),
])
def test_diagonal_grad(shape, offset, axis1, axis2):
    a = rand(shape, np.random.default_rng(41))
    assert_vjp(lambda v: np.diagonal(v, offset, axis1, axis2), a,
               lambda u: runtime.diagonal_grad(u, a, offset, axis1, axis2), linear=True)


@covers("tile_grad")
@pytest.mark.parametrize("shape, reps", [((3,), 2), ((2, 3), (2, 1)), ((2, 3), (2, 1, 3)), ((3,), (2, 2)),
                                         ((), 3), ((2, 1), 2)])
def test_tile_grad(shape, reps):
    a = rand(shape, np.random.default_rng(42))
    assert_vjp(lambda v: np.tile(v, reps), a, lambda u: runtime.tile_grad(u, a, reps), linear=True)


@covers("repeat_grad")
@pytest.mark.parametrize("shape, repeats, axis", [
    ((3,), 2, None), ((2, 3), 2, None), ((2, 3), 3, 1), ((2, 3), 2, -2), ((2, 3), [1, 0, 2], 1),
    ((2, 3), [2, 1], 0), ((2, 3), [1, 2, 0, 1, 1, 3], None), ((3,), np.array([2]), 0),
])
def test_repeat_grad(shape, repeats, axis):
    a = rand(shape, np.random.default_rng(43))
    assert_vjp(lambda v: np.repeat(v, repeats, axis), a, lambda u: runtime.repeat_grad(u, a, repeats, axis),
               linear=True)


@covers("pad_grad", "pad_grad_value")
@pytest.mark.parametrize("shape, pad_width", [((3,), 2), ((3,), (1, 2)), ((2, 3), ((1, 0), (2, 1))),
                                              ((2, 3), 1), ((2, 3), ((0, 0), (0, 3)))])
def test_pad_grads(shape, pad_width):
    rng = np.random.default_rng(44)
    a = rand(shape, rng)
    assert_vjp(lambda v: np.pad(v, pad_width), a, lambda u: runtime.pad_grad(u, a, pad_width, "constant"),
               linear=True)
    assert_vjp(lambda c: np.pad(a, pad_width, constant_values=c), 0.5,
               lambda u: runtime.pad_grad_value(u, a, pad_width, "constant", 0.5))


@covers("pad_grad", "pad_grad_value")
def test_pad_grads_of_unsupported_cases_raise():
    with pytest.raises(NotImplementedError, match="constant"):
        runtime.pad_grad(np.ones(5), np.ones(3), 1, "reflect")
    with pytest.raises(NotImplementedError, match="scalar"):
        runtime.pad_grad_value(np.ones(5), np.ones(3), 1, "constant", (0.0, 1.0))


@covers("unsplit")
@pytest.mark.parametrize("shape, sections, axis", [((6,), 3, 0), ((6,), [1, 4], 0), ((2, 6), 2, 1),
                                                   ((5,), 3, 0), ((4, 2), [1, 1, 3], 0), ((2, 3), 3, -1)])
def test_unsplit(shape, sections, axis):
    a = rand(shape, np.random.default_rng(45))
    assert_vjp(lambda v: np.array_split(v, sections, axis), a,
               lambda u: runtime.unsplit(u, a, sections, axis), linear=True)


@covers("unsplit")
def test_unsplit_fills_none_pieces_with_zeros():
    a = np.ones((2, 4))
    got = runtime.unsplit([None, np.full((2, 2), 3.0)], a, 2, 1)
    np.testing.assert_array_equal(got, [[0.0, 0.0, 3.0, 3.0], [0.0, 0.0, 3.0, 3.0]])
    np.testing.assert_array_equal(runtime.unsplit(None, a, 2, 1), np.zeros((2, 4)))


@covers("meshgrid_grad")
@pytest.mark.parametrize("shapes", [[(3,)], [(3,), (4,)], [(2,), (3,), (4,)], [(2, 2), (3,)]])
@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid_grad(shapes, indexing):
    rng = np.random.default_rng(46)
    xi = [rand(shape, rng) for shape in shapes]
    for i in range(len(xi)):

        def primal(v, i=i):
            return tuple(np.meshgrid(*(v if k == i else x for k, x in enumerate(xi)), indexing=indexing))

        # affine in xi[i] (the other outputs are constants): central differences are exact
        assert_vjp(primal, xi[i], lambda u, i=i: runtime.meshgrid_grad(u, xi, i, True, indexing))


@covers("meshgrid_grad")
def test_meshgrid_grad_of_a_missing_cotangent_is_zero():
    xi = (np.ones(3), np.ones(2))
    np.testing.assert_array_equal(runtime.meshgrid_grad((None, np.ones((2, 3))), xi, 0), np.zeros(3))
    np.testing.assert_array_equal(runtime.meshgrid_grad(None, xi, 1), np.zeros(2))


@covers("pad_tangent")
@pytest.mark.parametrize("shape, pad_width", [((3,), 2), ((2, 3), ((1, 0), (2, 1)))])
def test_pad_tangent(shape, pad_width):
    a = rand(shape, np.random.default_rng(64))
    x = (a, 0.7)  # the array and the constant it is padded with
    assert_jvp(lambda v: np.pad(v[0], pad_width, constant_values=v[1]), x,
               lambda t: runtime.pad_tangent(t[0], pad_width, "constant", t[1]))
    with pytest.raises(NotImplementedError, match="constant"):
        runtime.pad_tangent(a, 1, "edge", 0.0)


@covers("unique_grad")
@pytest.mark.parametrize("shape", [(5,), (2, 3)])
def test_unique_grad(shape):
    a = rand(shape, np.random.default_rng(91))  # distinct entries: unique is the sort
    assert_vjp(lambda v: np.unique(v), a, lambda u: runtime.unique_grad(u, a))


@covers("unique_grad")
def test_unique_grad_splits_a_repeated_value_equally():
    a = np.array([2.0, -1.0, 2.0, 2.0])  # unique: [-1, 2]; 2.0 three times
    np.testing.assert_allclose(runtime.unique_grad(np.array([3.0, 6.0]), a), [2.0, 3.0, 2.0, 2.0])


@covers("unique_tangent")
@pytest.mark.parametrize("shape", [(5,), (2, 3)])
def test_unique_tangent_is_the_directional_derivative_of_unique(shape):
    rng = np.random.default_rng(92)
    a, t = rand(shape, rng), rand(shape, rng)
    eps = 1e-6
    expected = (np.unique(a + eps * t) - np.unique(a - eps * t)) / (2 * eps)
    np.testing.assert_allclose(runtime.unique_tangent(t, a), expected, rtol=1e-6, atol=1e-8)


@covers("unique_tangent")
def test_unique_tangent_of_a_repeated_value_is_the_mean_of_its_copies():
    # the mean: along directions that keep the copies equal it is exactly how 2.0 moves
    a = np.array([2.0, -1.0, 2.0, 2.0])
    np.testing.assert_allclose(runtime.unique_tangent(np.array([1.0, 5.0, 2.0, 6.0]), a), [5.0, 3.0])
    t = np.array([4.0, 5.0, 4.0, 4.0])  # a direction that keeps the copies equal
    np.testing.assert_allclose(runtime.unique_tangent(t, a), np.unique(a + t) - np.unique(a))
