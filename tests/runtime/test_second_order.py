"""srcdiff/runtime/second_order.py: the derivatives of the helpers of reductions,
containers, shapes, logsumexp and polynomials."""

from __future__ import annotations

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_jvp, assert_vjp, rand


@covers("prod_pairs")
@pytest.mark.parametrize("shape, axis", [((4,), None), ((2, 3), 1), ((2, 3), 0), ((2, 3, 2), (0, 2)),
                                         ((), None)])
def test_prod_pairs_is_the_derivative_of_the_other_entries_products(shape, axis):
    a = rand(shape, np.random.default_rng(67))
    ones = np.ones(np.shape(np.prod(a, axis=axis)))
    assert_jvp(lambda v: runtime.prod_grad(ones, v, axis), a, lambda w: runtime.prod_pairs(w, a, axis))


@covers("prod_triples")
@pytest.mark.parametrize("shape, axis", [((4,), None), ((2, 3), 1), ((2, 3, 2), (0, 2))])
def test_prod_triples_is_the_derivative_of_prod_pairs(shape, axis):
    rng = np.random.default_rng(85)
    a, w = rand(shape, rng), rand(shape, rng)
    assert_jvp(lambda v: runtime.prod_pairs(w, v, axis), a, lambda s: runtime.prod_triples(w, s, a, axis))
    s = rand(shape, rng)
    np.testing.assert_allclose(runtime.prod_triples(w, s, a, axis), runtime.prod_triples(s, w, a, axis))


@covers("prod_triples")
def test_prod_triples_is_exact_with_zeros():
    a = np.array([0.0, 2.0, 0.0, 3.0, 1.5])
    w, s = np.array([1.0, -1.0, 2.0, 0.5, 1.0]), np.array([0.5, 2.0, -1.0, 1.0, 3.0])
    expected = [sum(w[j] * s[m] * np.prod([a[k] for k in range(5) if k not in (i, j, m)])
                    for j in range(5) for m in range(5) if len({i, j, m}) == 3) for i in range(5)]
    with np.errstate(all="raise"):
        np.testing.assert_allclose(runtime.prod_triples(w, s, a), expected, rtol=1e-14)


@covers("prod_pairs")
def test_prod_pairs_is_exact_with_zeros():
    a = np.array([[0.0, 2.0, 0.0, 3.0], [1.0, 0.0, 4.0, 2.0]])
    w = np.array([[1.0, -1.0, 2.0, 0.5], [3.0, 1.0, -2.0, 1.0]])
    expected = np.zeros_like(a)
    for r in range(2):
        for i in range(4):
            expected[r, i] = sum(w[r, j] * np.prod([a[r, k] for k in range(4) if k not in (i, j)])
                                 for j in range(4) if j != i)
    with np.errstate(all="raise"):
        np.testing.assert_allclose(runtime.prod_pairs(w, a, 1), expected, rtol=1e-14)


_NORMS = [((4,), None, None, False), ((2, 3), None, None, False), ((2, 3), None, 1, False),
          ((2, 3), None, 0, True), ((4,), 3, None, False), ((4,), 1, None, False),
          ((3, 4), "fro", (0, 1), False), ((4,), 1.5, None, False)]


@covers("norm_grad_coef")
@pytest.mark.parametrize("shape, ord, axis, keepdims", _NORMS)
def test_norm_grad_coef_gives_the_partial_derivatives_of_norm_grad(shape, ord, axis, keepdims):
    rng = np.random.default_rng(68)
    x = rand(shape, rng)
    out = np.linalg.norm(x, ord, axis, keepdims) * 1.3  # any positive value: a partial derivative
    g = rand(np.shape(out), rng)

    def coef(i, j, x=x, out=out):
        return runtime.norm_grad_coef(g, x, out, ord, axis, keepdims, i, j)

    assert_jvp(lambda v: runtime.norm_grad(g, v, out, ord, axis, keepdims), x, lambda t: coef(1, 0) * t)
    assert_jvp(lambda v: runtime.norm_grad(g, x, v, ord, axis, keepdims), out,
               lambda t: coef(0, 1) * runtime.sum_grad(t, x, axis, keepdims))
    for i, j in [(1, 0), (0, 1), (2, 1)]:  # and each one's derivatives are the next ones
        assert_jvp(lambda v, i=i, j=j: coef(i, j, x=v), x, lambda t, i=i, j=j: coef(i + 1, j) * t)
        assert_jvp(lambda v, i=i, j=j: coef(i, j, out=v), out,
                   lambda t, i=i, j=j: coef(i, j + 1) * runtime.sum_grad(t, x, axis, keepdims))


@covers("norm_grad_coef")
def test_norm_grad_coef_at_a_zero_norm_and_for_matrix_norms():
    x = np.zeros(3)
    assert not runtime.norm_grad_coef(1.0, x, 0.0).any()
    assert not runtime.norm_grad_coef(1.0, x, 0.0, j=1).any()
    x = np.array([1.0, -3.0, 2.0])  # the max norm's gradient only picks the largest entry
    for ord in (np.inf, -np.inf, 0, 1):
        assert not runtime.norm_grad_coef(2.0, x, 3.0, ord, i=1).any()
        assert not runtime.norm_grad_coef(2.0, x, 3.0, ord, i=0, j=1).any()
    with pytest.raises(NotImplementedError, match="ord=2"):
        runtime.norm_grad_coef(1.0, np.ones((2, 2)), 2.0, 2)
    with pytest.raises(NotImplementedError, match="nuc"):
        runtime.norm_grad_coef(1.0, np.ones((2, 2)), 2.0, "nuc")


@covers("tree_fill_grad")
@pytest.mark.parametrize("g, like", [
    (np.array([1.0, 2.0]), np.ones(2)),
    ([np.array([1.0, 2.0]), 3.0], [np.ones(2), 0.5]),
    ([np.array([1.0, 2.0]), np.array([3.0, 4.0])], np.ones((2, 2))),  # a list stacked into an array
    ({"a": np.array([1.0]), "b": (2.0, 3.0)}, {"a": np.ones(1), "b": (1.0, 1.0)}),
])
def test_tree_fill_grad_is_the_adjoint_of_tree_fill(g, like):
    assert_vjp(lambda v: runtime.tree_fill(v, like), g, lambda u: runtime.tree_fill_grad(u, g, like),
               linear=True)


@covers("tree_fill_grad")
def test_tree_fill_grad_gives_none_where_the_cotangent_was_none():
    like = {"a": np.ones(2), "b": [1.0, 2.0], "n": 3}
    g = {"a": None, "b": [4.0, None], "extra": 1.0}
    h = runtime.tree_fill(g, like)
    got = runtime.tree_fill_grad(h, g, like)
    assert got == {"a": None, "b": [4.0, None]}
    assert runtime.tree_fill_grad(h, None, like) is None
    assert runtime.tree_fill_grad(None, g, like) is None
    assert runtime.tree_fill_grad(5.0, 2.0, 3) is None  # an integer leaf has no gradient


@covers("list_pad")
def test_list_pad_is_the_adjoint_of_list_prefix():
    g = [np.array([1.0, 2.0]), 3.0]
    assert runtime.list_pad(None) is None
    padded = runtime.list_pad(g)
    assert len(padded) == 3 and padded[2] is None and padded[1] == 3.0
    full = [np.array([1.0, -1.0]), 2.0, np.array([0.5])]
    assert_vjp(lambda v: runtime.list_prefix(v), full, lambda u: runtime.list_pad(u)[:2] + [0.0 * full[2]],
               linear=True)


@covers("rejoin")
@pytest.mark.parametrize("shapes, axis, ndmin, columns, join", [
    ([(3,), (3,)], 0, 2, False, np.vstack), ([(2, 3), (1, 3)], 0, 2, False, np.vstack),
    ([(3,), (2,)], 0, 1, False, np.hstack), ([(2, 3), (2, 1)], 1, 1, False, np.hstack),
    ([(3,), (3, 2)], 1, 2, True, np.column_stack),
])
def test_rejoin_undoes_unjoin(shapes, axis, ndmin, columns, join):
    rng = np.random.default_rng(70)
    arrays = [rng.normal(size=s) for s in shapes]
    joined = join(arrays)
    np.testing.assert_array_equal(runtime.rejoin(arrays, arrays, axis, ndmin, columns), joined)
    pieces = runtime.unjoin(joined, arrays, axis, ndmin, columns)
    np.testing.assert_array_equal(runtime.rejoin(pieces, arrays, axis, ndmin, columns), joined)
    assert_vjp(lambda v: runtime.unjoin(v, arrays, axis, ndmin, columns), joined,
               lambda u: runtime.rejoin(u, arrays, axis, ndmin, columns), linear=True)


@covers("meshgrid_spread")
@pytest.mark.parametrize("shapes, i, indexing", [([(3,), (4,)], 0, "xy"), ([(3,), (4,)], 1, "xy"),
                                                 ([(3,), (4,)], 1, "ij"), ([(2,), (3,), (4,)], 2, "xy")])
def test_meshgrid_spread_is_the_adjoint_of_meshgrid_grad(shapes, i, indexing):
    rng = np.random.default_rng(71)
    xi = [rng.normal(size=s) for s in shapes]
    grids = list(np.meshgrid(*xi, indexing=indexing))
    spread = runtime.meshgrid_spread(xi[i], grids, tuple(xi), i, indexing)
    assert [s is None for s in spread] == [k != i for k in range(len(xi))]
    assert_vjp(lambda g: runtime.meshgrid_grad(g, tuple(xi), i, True, indexing), grids,
               lambda u: [np.zeros_like(grid) if s is None else s for s, grid
                          in zip(runtime.meshgrid_spread(u, grids, tuple(xi), i, indexing), grids)],
               linear=True)
    assert runtime.meshgrid_spread(xi[i], None, tuple(xi), i, indexing) is None


@covers("cumprod_hvp")
@pytest.mark.parametrize("shape, axis", [((5,), None), ((2, 3), None), ((2, 3), 1), ((3, 4), 0)])
def test_cumprod_hvp_is_the_derivative_of_cumprod_grad(shape, axis):
    rng = np.random.default_rng(72)
    a, g = rand(shape, rng), rng.normal(size=np.shape(np.cumprod(np.ones(shape), axis=axis)))
    assert_jvp(lambda v: runtime.cumprod_grad(g, v, None, axis), a,
               lambda t: runtime.cumprod_hvp(g, a, t, axis))
    # a Hessian: symmetric
    t, s = rng.normal(size=shape), rng.normal(size=shape)
    lhs, rhs = np.sum(runtime.cumprod_hvp(g, a, t, axis) * s), np.sum(t * runtime.cumprod_hvp(g, a, s, axis))
    assert abs(lhs - rhs) < 1e-12


@covers("cumprod_hvp")
def test_cumprod_hvp_is_exact_with_zeros():
    a = np.array([1.5, 0.0, 2.0, 0.0, -1.0])
    g, t = np.array([1.0, -2.0, 0.5, 1.0, 3.0]), np.array([0.5, 1.0, -1.0, 2.0, 1.0])
    with np.errstate(all="raise"):
        got = runtime.cumprod_hvp(g, a, t)
    # the Hessian of sum_j g_j prod_{k <= j} a_k, entry by entry
    n = len(a)

    def entry(i, m):
        if i == m:
            return 0.0
        return sum(g[j] * np.prod([a[k] for k in range(j + 1) if k not in (i, m)])
                   for j in range(max(i, m), n))

    hessian = np.array([[entry(i, m) for m in range(n)] for i in range(n)])
    np.testing.assert_allclose(got, hessian @ t, rtol=1e-14, atol=1e-14)


@covers("diff_grad_adjoint")
@pytest.mark.parametrize("n, axis, prepend, append, part", [
    (1, -1, None, None, "a"), (2, -1, 1.0, np.ones(2), "a"), (1, -1, 1.0, np.ones(2), "prepend"),
    (1, -1, 1.0, np.ones(2), "append"), (1, 0, np.zeros((1, 4)), None, "prepend"),
])
def test_diff_grad_adjoint_is_the_adjoint_of_diff_grad(n, axis, prepend, append, part):
    rng = np.random.default_rng(73)
    a = rng.normal(size=(5,) if axis == -1 else (3, 4))
    out = runtime.diff_tangent(a, n, axis, prepend, append)
    assert_vjp(lambda g: runtime.diff_grad(g, a, n, axis, prepend, append, part), out,
               lambda u: runtime.diff_grad_adjoint(u, a, n, axis, prepend, append, part), linear=True)


_AVERAGES = [((2, 3), (2, 3), None, False), ((2, 3), (3,), 1, False), ((2, 3, 4), (4, 2), (2, 0), False),
             ((2, 3, 2), (2, 2), (0, 2), True)]


@covers("average_grad_tangent", "average_grad_adjoint")
@pytest.mark.parametrize("a_shape, w_shape, axis, keepdims", _AVERAGES)
@pytest.mark.parametrize("part", ["a", "weights"])
def test_average_grad_second_derivatives(a_shape, w_shape, axis, keepdims, part):
    rng = np.random.default_rng(79)
    a, w = rng.normal(size=a_shape), rng.uniform(0.5, 2.0, size=w_shape)
    out = np.average(a, axis, w, keepdims=keepdims)
    g = rng.normal(size=np.shape(out))
    args = {"g": g, "a": a, "out": out, "weights": w}

    def grad(wrt, v):
        moved = {**args, wrt: v}
        return runtime.average_grad(moved["g"], moved["a"], moved["out"], axis, moved["weights"], False,
                                    keepdims, part)

    for wrt, key in (("a", "da"), ("out", "dout"), ("weights", "dweights")):
        assert_jvp(lambda v, wrt=wrt: grad(wrt, v), args[wrt],
                   lambda t, key=key: runtime.average_grad_tangent(g, a, out, axis, w, keepdims, part,
                                                                   **{key: t}))
    for wrt in ("g", "a", "out", "weights"):
        assert_vjp(lambda v, wrt=wrt: grad(wrt, v), args[wrt],
                   lambda h, wrt=wrt: runtime.average_grad_adjoint(h, g, a, out, axis, w, keepdims, part,
                                                                   wrt))


@covers("average_grad_tangent", "average_grad_adjoint")
def test_average_grad_second_derivatives_without_weights():
    a = np.arange(6.0).reshape(2, 3)
    g, out = np.ones(2), np.ones(2)
    assert not runtime.average_grad_tangent(g, a, out, 1, None, False, "a", np.ones((2, 3))).any()
    h = np.random.default_rng(80).normal(size=(2, 3))
    np.testing.assert_allclose(runtime.average_grad_adjoint(h, g, a, out, 1), np.mean(h, axis=1))
    assert not runtime.average_grad_adjoint(h, g, a, out, 1, None, False, "a", "a").any()


_LOGSUMEXPS = [((4,), None, None, False), ((2, 3), 1, None, False), ((2, 3), 0, None, True),
               ((2, 3), None, (2, 3), False), ((2, 3), 1, (3,), False)]


@covers("logsumexp_grad_tangent", "logsumexp_grad_adjoint")
@pytest.mark.parametrize("shape, axis, b_shape, keepdims", _LOGSUMEXPS)
@pytest.mark.parametrize("part", ["a", "b"])
def test_logsumexp_grad_second_derivatives(shape, axis, b_shape, keepdims, part):
    special = pytest.importorskip("scipy.special")
    if part == "b" and b_shape is None:
        pytest.skip("no b")
    rng = np.random.default_rng(81)
    a = rng.normal(size=shape)
    b = None if b_shape is None else rng.uniform(0.5, 2.0, size=b_shape)
    g = rng.normal(size=np.shape(special.logsumexp(a, axis, b, keepdims)))
    args = {"g": g, "a": a, "b": b}

    def grad(wrt, v):
        moved = {**args, wrt: v}
        return runtime.logsumexp_grad(moved["g"], moved["a"], axis, moved["b"], keepdims, False, part)

    wrts = ["g", "a"] + ([] if b is None else ["b"])
    for wrt in wrts:
        assert_vjp(lambda v, wrt=wrt: grad(wrt, v), args[wrt],
                   lambda h, wrt=wrt: runtime.logsumexp_grad_adjoint(h, g, a, axis, b, keepdims, part, wrt))
    assert_jvp(lambda v: grad("a", v), a,
               lambda t: runtime.logsumexp_grad_tangent(g, a, axis, b, keepdims, part, t))
    if b is not None:
        assert_jvp(lambda v: grad("b", v), b,
                   lambda t: runtime.logsumexp_grad_tangent(g, a, axis, b, keepdims, part, 0.0, t))


@covers("polyval_grad_p_tangent")
@pytest.mark.parametrize("p_shape, x_shape", [((3,), ()), ((4,), (5,)), ((1,), (2,)), ((2,), (2, 3))])
def test_polyval_grad_p_tangent(p_shape, x_shape):
    rng = np.random.default_rng(82)
    p, x = rand(p_shape, rng), rand(x_shape, rng)
    g = rand(np.shape(np.polyval(p, x)), rng)
    assert_jvp(lambda v: runtime.polyval_grad_p(g, p, v), x,
               lambda t: runtime.polyval_grad_p_tangent(g, p, x, t))
