"""srcdiff/runtime/products.py: @, np.dot, np.inner, np.einsum, np.tensordot, np.kron,
np.cross and np.convolve."""

from __future__ import annotations

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_vjp, rand

_MATMUL = [
    ((2, 3), (3, 4)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((2, 2, 3), (3, 4)),
    ((2, 2, 3), (3,)),
    ((3,), (2, 3, 4)),
    ((2, 3), (4, 3, 2)),
    ((2, 2, 3), (2, 3, 2)),
    ((1, 2, 3), (4, 3, 2)),
    ((4, 2, 3), (1, 3, 2)),
    ((5, 1, 2, 3), (4, 3, 2)),
]


@covers("matmul_grad_a", "matmul_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", _MATMUL)
def test_matmul_grads(a_shape, b_shape):
    rng = np.random.default_rng(10)
    a, b = rand(a_shape, rng), rand(b_shape, rng)
    assert_vjp(lambda v: v @ b, a, lambda u: runtime.matmul_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: a @ v, b, lambda u: runtime.matmul_grad_b(u, a, b), linear=True)


@covers("matmul_grads_sum")
@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize("v_shape, fixed_shape, g_shape", [
    ((3,), (3, 4), (4,)),  # b side: v @ fixed, v a vector
    ((2, 3), (3, 4), (2, 4)),  # b side: a batch of rows
    ((2, 2, 3), (3, 4), (2, 2, 4)),  # batched: one term at a time
])
def test_matmul_grads_sum_is_the_sum_of_the_terms(side, v_shape, fixed_shape, g_shape):
    rng = np.random.default_rng(11)
    fixed = rand(fixed_shape, rng)
    if side == "a":  # fixed @ v: fixed (4, 3) against v of shape (3,) / (3, 2) / (2, 3, 2)
        fixed = fixed.T
        v_shape = {(3,): (3,), (2, 3): (3, 2), (2, 2, 3): (2, 3, 2)}[v_shape]
        g_shape = np.shape(fixed @ np.ones(v_shape))
    pairs = [(rand(g_shape, rng), rand(v_shape, rng)) for _ in range(4)]
    if side == "a":
        want = sum(runtime.matmul_grad_a(g, fixed, v) for g, v in pairs)
        # and against the definition: the gradient of sum_t <g_t, fixed @ v_t>
        eps, probe = 1e-6, rand(fixed.shape, rng)
        numeric = (sum(np.sum(g * ((fixed + eps * probe) @ v)) for g, v in pairs)
                   - sum(np.sum(g * ((fixed - eps * probe) @ v)) for g, v in pairs)) / (2 * eps)
    else:
        want = sum(runtime.matmul_grad_b(g, v, fixed) for g, v in pairs)
        eps, probe = 1e-6, rand(fixed.shape, rng)
        numeric = (sum(np.sum(g * (v @ (fixed + eps * probe))) for g, v in pairs)
                   - sum(np.sum(g * (v @ (fixed - eps * probe))) for g, v in pairs)) / (2 * eps)
    got = runtime.matmul_grads_sum(side, pairs, fixed)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.sum(got * probe), numeric, rtol=1e-6)
    none = runtime.matmul_grads_sum(side, [], fixed)
    assert none.shape == fixed.shape and not none.any()


@covers("matmul_grads_sum")
@pytest.mark.parametrize("side", ["a", "b"])
def test_matmul_grads_sum_of_pairs_that_do_not_stack_adds_them_one_by_one(side):
    rng = np.random.default_rng(12)
    fixed = rand((3, 3), rng)
    grad = runtime.matmul_grad_a if side == "a" else runtime.matmul_grad_b
    term = (lambda g, v: grad(g, fixed, v)) if side == "a" else (lambda g, v: grad(g, v, fixed))
    # a vector and a matrix: neither stacks nor joins side by side
    cases = [[(rand((2, 3), rng), rand((2, 3), rng)), (rand((3,), rng), rand((3,), rng))],
             [(rand((3,), rng), rand((3,), rng)), (rand((2, 3), rng), rand((2, 3), rng))]]
    if side == "a":
        cases = [[(g.T, v.T) for g, v in pairs] for pairs in cases]
    for pairs in cases:
        want = sum(term(g, v) for g, v in pairs)
        np.testing.assert_allclose(runtime.matmul_grads_sum(side, list(pairs), fixed), want, rtol=1e-12)


_DOT = [
    ((), ()),
    ((), (3,)),
    ((2, 3), ()),
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3,)),
    ((2, 2, 3), (3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 3), (2, 3, 4)),
    ((2, 2, 3), (4, 3, 5)),
]


@covers("dot_grad_a", "dot_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", _DOT)
def test_dot_grads(a_shape, b_shape):
    rng = np.random.default_rng(11)
    a, b = rand(a_shape, rng), rand(b_shape, rng)
    assert_vjp(lambda v: np.dot(v, b), a, lambda u: runtime.dot_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: np.dot(a, v), b, lambda u: runtime.dot_grad_b(u, a, b), linear=True)


_INNER = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (4, 3)),
    ((2, 3), (4, 3)),
    ((2, 2, 3), (4, 3)),
    ((2, 3), (2, 4, 3)),
]


@covers("inner_grad_a", "inner_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", _INNER)
def test_inner_grads(a_shape, b_shape):
    rng = np.random.default_rng(12)
    a, b = rand(a_shape, rng), rand(b_shape, rng)
    assert_vjp(lambda v: np.inner(v, b), a, lambda u: runtime.inner_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: np.inner(a, v), b, lambda u: runtime.inner_grad_b(u, a, b), linear=True)


@covers("inner_grad_a", "inner_grad_b")
@pytest.mark.parametrize("a_shape, b_shape, helper", [
    ((), (3,), "inner_grad_a"),
    ((), (3,), "inner_grad_b"),
    ((2, 3), (), "inner_grad_a"),
    ((2, 3), (), "inner_grad_b"),
])
def test_inner_grads_with_a_scalar(a_shape, b_shape, helper):
    rng = np.random.default_rng(13)
    a, b = rand(a_shape, rng), rand(b_shape, rng)
    if helper == "inner_grad_a":
        assert_vjp(lambda v: np.inner(v, b), a, lambda u: runtime.inner_grad_a(u, a, b), linear=True)
    else:
        assert_vjp(lambda v: np.inner(a, v), b, lambda u: runtime.inner_grad_b(u, a, b), linear=True)


@covers("einsum_grad")
@pytest.mark.parametrize("subscripts, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->i", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ij", [(3, 3, 2)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,i->", [(3,), (3,)]),
    ("ij,ij->ij", [(2, 3), (1, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 4)]),
    ("ij,j->", [(2, 3), (3,)]),
])
def test_einsum_grad(subscripts, shapes):
    rng = np.random.default_rng(31)
    operands = [rand(shape, rng) for shape in shapes]
    for i in range(len(operands)):

        def primal(v, i=i):
            return np.einsum(subscripts, *(v if k == i else op for k, op in enumerate(operands)))

        assert_vjp(primal, operands[i], lambda u, i=i: runtime.einsum_grad(u, subscripts, operands, i),
                   linear=True)


@covers("einsum_grad")
def test_einsum_grad_skips_absent_operands():
    a, b = np.ones((2, 3)), np.ones(3)
    got = runtime.einsum_grad(np.array([1.0, 2.0]), "ij,j->i", (a, None, b), 1)
    np.testing.assert_array_equal(got, [3.0, 3.0, 3.0])


@covers("tensordot_grad_a", "tensordot_grad_b")
@pytest.mark.parametrize("a_shape, b_shape, axes", [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3), (3, 4), 1),
    ((2,), (3,), 0),
    ((3, 2, 4), (2, 3, 5), ([1, 0], [0, 1])),
    ((2, 3, 4), (4, 5), ([2], [0])),
    ((2, 3), (4, 3), (1, 1)),
    ((3, 4, 2), (2, 4, 3), ([0, 1], [2, 1])),
    ((2, 3), (2, 3), ([-1, -2], [-1, -2])),
])
def test_tensordot_grads(a_shape, b_shape, axes):
    rng = np.random.default_rng(32)
    a, b = rand(a_shape, rng), rand(b_shape, rng)
    assert_vjp(lambda v: np.tensordot(v, b, axes), a, lambda u: runtime.tensordot_grad_a(u, a, b, axes),
               linear=True)
    assert_vjp(lambda v: np.tensordot(a, v, axes), b, lambda u: runtime.tensordot_grad_b(u, a, b, axes),
               linear=True)


@covers("kron_grad_a", "kron_grad_b")
@pytest.mark.parametrize("a_shape, b_shape", [((2,), (3,)), ((2, 2), (3, 1)), ((2, 3), (4,)),
                                              ((3,), (2, 2)), ((1, 2), (2, 1, 3))])
def test_kron_grads(a_shape, b_shape):
    rng = np.random.default_rng(33)
    a, b = rand(a_shape, rng), rand(b_shape, rng)
    assert_vjp(lambda v: np.kron(v, b), a, lambda u: runtime.kron_grad_a(u, a, b), linear=True)
    assert_vjp(lambda v: np.kron(a, v), b, lambda u: runtime.kron_grad_b(u, a, b), linear=True)


@covers("cross_grad")
@pytest.mark.parametrize("a_shape, b_shape, axes", [
    ((3,), (3,), {}),
    ((2, 3), (3,), {}),
    ((3,), (4, 3), {}),
    ((3, 2), (2, 3), {"axisa": 0, "axisb": -1, "axisc": 0}),
    ((3, 2), (3, 2), {"axis": 0}),
])
def test_cross_grad(a_shape, b_shape, axes):
    rng = np.random.default_rng(34)
    a, b = rand(a_shape, rng), rand(b_shape, rng)
    if "axis" in axes:
        ax, bx, cx, axis = None, None, None, axes["axis"]
        kwargs = {"axis": axis}
        ga = lambda u: runtime.cross_grad(u, a, b, axis=axis)  # noqa: E731
        gb = lambda u: -runtime.cross_grad(u, b, a, axis=axis)  # noqa: E731
    else:
        ax, bx, cx = axes.get("axisa", -1), axes.get("axisb", -1), axes.get("axisc", -1)
        kwargs = {"axisa": ax, "axisb": bx, "axisc": cx}
        ga = lambda u: runtime.cross_grad(u, a, b, ax, bx, cx)  # noqa: E731
        # cross(a, b) = -cross(b, a), so b's cotangent is cross_grad with the roles swapped
        gb = lambda u: -runtime.cross_grad(u, b, a, bx, ax, cx)  # noqa: E731
    assert_vjp(lambda v: np.cross(v, b, **kwargs), a, ga, linear=True)
    assert_vjp(lambda v: np.cross(a, v, **kwargs), b, gb, linear=True)


@covers("cross_grad")
def test_cross_grad_of_2_vectors_raises():
    with pytest.raises(NotImplementedError, match="3-vectors"):
        runtime.cross_grad(1.0, np.ones(2), np.ones(2))


@covers("convolve_grad")
@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 4), (1, 3)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_grad(n, m, mode):
    rng = np.random.default_rng(40)
    a, v = rand((n,), rng), rand((m,), rng)
    assert_vjp(lambda w: np.convolve(w, v, mode), a, lambda u: runtime.convolve_grad(u, a, v, mode),
               linear=True)
    # convolution is symmetric: v's cotangent is convolve_grad with the roles swapped
    assert_vjp(lambda w: np.convolve(a, w, mode), v, lambda u: runtime.convolve_grad(u, v, a, mode),
               linear=True)


@covers("convolve_grad")
def test_convolve_grad_of_an_unknown_mode_raises():
    with pytest.raises(NotImplementedError, match="mode"):
        runtime.convolve_grad(np.ones(3), np.ones(3), np.ones(1), "circular")
