"""srcdiff/runtime/second_order_linalg.py: the derivatives of the helpers of det,
einsum, cholesky, eigh and pinv."""

from __future__ import annotations

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_jvp, assert_vjp, rand, singular, spd


@covers("det_grad_tangent")
@pytest.mark.parametrize("shape, drop", [((3, 3), 0), ((3, 3), 1), ((4, 4), 2), ((2, 3, 3), 1), ((1, 1), 0)])
def test_det_grad_tangent_is_the_derivative_of_det_grad(shape, drop):
    rng = np.random.default_rng(16)
    a = singular(shape, rng, drop) if drop else rng.normal(size=shape)
    g = rand(shape[:-2], rng)
    t = rng.normal(size=shape)
    eps = 1e-6
    want = (runtime.det_grad(g, a + eps * t) - runtime.det_grad(g, a - eps * t)) / (2 * eps)
    np.testing.assert_allclose(runtime.det_grad_tangent(g, a, t), want, atol=1e-7)
    # symmetric (a Hessian): <s, H t> == <H s, t>
    s = rng.normal(size=shape)
    lhs = np.sum(s * runtime.det_grad_tangent(1.0, a, t))
    np.testing.assert_allclose(lhs, np.sum(runtime.det_grad_tangent(1.0, a, s) * t), rtol=1e-10)


_EINSUM_GRADS = [("ij,jk->ik", [(2, 3), (3, 4)], 0), ("ij,jk->ik", [(2, 3), (3, 4)], 1),
                 ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)], 1), ("...i,...i->...", [(2, 1, 3), (4, 3)], 0),
                 ("ii->i", [(3, 3)], 0)]


@covers("einsum_grad_tangent", "einsum_grad_adjoint")
@pytest.mark.parametrize("subscripts, shapes, i", _EINSUM_GRADS)
def test_einsum_grad_second_derivatives(subscripts, shapes, i):
    rng = np.random.default_rng(74)
    ops = [rng.normal(size=s) for s in shapes]
    g = rng.normal(size=np.shape(np.einsum(subscripts, *ops)))
    others = [k for k in range(len(ops)) if k != i]

    def with_others(v):
        return tuple(v[others.index(k)] if k in others else op for k, op in enumerate(ops))

    x = [ops[k] for k in others]
    if x:
        assert_jvp(lambda v: runtime.einsum_grad(g, subscripts, with_others(v), i), x,
                   lambda t: runtime.einsum_grad_tangent(g, subscripts, tuple(ops), i, None, with_others(t)))
        assert_vjp(lambda v: runtime.einsum_grad(g, subscripts, with_others(v), i), x,
                   lambda u: [runtime.einsum_grad_adjoint(u, g, subscripts, tuple(ops), i, "operands")[k]
                              for k in others])
    assert_vjp(lambda v: runtime.einsum_grad(v, subscripts, tuple(ops), i), g,
               lambda u: runtime.einsum_grad_adjoint(u, g, subscripts, tuple(ops), i, "g"), linear=True)
    assert runtime.einsum_grad_adjoint(ops[i], g, subscripts, tuple(ops), i, "operands")[i] is None


@covers("einsum_grad_tangent", "einsum_grad_adjoint")
@pytest.mark.parametrize("i", [0, 1])
def test_einsum_grad_second_derivatives_interleaved(i):
    rng = np.random.default_rng(75)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    g = rng.normal(size=(2, 4))
    other = b if i == 0 else a

    def grad(v):
        first, second = (a, v) if i == 0 else (v, b)
        return runtime.einsum_grad(g, first, ([0, 1], second, [1, 2]), i)

    if i == 0:
        tangent = lambda t: runtime.einsum_grad_tangent(g, a, ([0, 1], b, [1, 2]), 0, None, ([0], t, [0]))  # noqa: E731
        adjoint = lambda u: runtime.einsum_grad_adjoint(u, g, a, ([0, 1], b, [1, 2]), 0, "operands")[1]  # noqa: E731
    else:
        tangent = lambda t: runtime.einsum_grad_tangent(g, a, ([0, 1], b, [1, 2]), 1, t, None)  # noqa: E731
        adjoint = lambda u: runtime.einsum_grad_adjoint(u, g, a, ([0, 1], b, [1, 2]), 1, "subscripts")  # noqa: E731
    assert_jvp(grad, other, tangent)
    assert_vjp(grad, other, adjoint)


def _cholesky_case(shape, upper, seed):
    rng = np.random.default_rng(seed)
    out = np.linalg.cholesky(spd(shape, rng), upper=upper)
    return out, rng.normal(size=shape)


@covers("cholesky_grad_tangent", "cholesky_grad_adjoint")
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_grad_second_derivatives(shape, upper):
    out, g = _cholesky_case(shape, upper, 76)
    assert_jvp(lambda v: runtime.cholesky_grad(g, v, upper), out,
               lambda s: runtime.cholesky_grad_tangent(s, g, out, upper))
    assert_vjp(lambda v: runtime.cholesky_grad(g, v, upper), out,
               lambda h: runtime.cholesky_grad_adjoint(h, g, out, upper, "out"))
    assert_vjp(lambda v: runtime.cholesky_grad(v, out, upper), g,
               lambda h: runtime.cholesky_grad_adjoint(h, g, out, upper, "g"), linear=True)


@covers("eigh_grad_tangent", "eigh_grad_adjoint")
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_grad_second_derivatives(shape, uplo):
    rng = np.random.default_rng(77)
    out = tuple(np.linalg.eigh(spd(shape, rng), UPLO=uplo))
    g = (rng.normal(size=shape[:-1]), rng.normal(size=shape))
    assert_jvp(lambda v: runtime.eigh_grad(g, v, uplo), out,
               lambda s: runtime.eigh_grad_tangent(s, g, out, uplo))
    assert_vjp(lambda v: runtime.eigh_grad(g, v, uplo), out,
               lambda h: runtime.eigh_grad_adjoint(h, g, out, uplo, "out"))
    assert_vjp(lambda v: runtime.eigh_grad(v, out, uplo), g,
               lambda h: runtime.eigh_grad_adjoint(h, g, out, uplo, "g"), linear=True)
    # a missing cotangent entry is a zero
    np.testing.assert_allclose(runtime.eigh_grad_tangent(out, (g[0], None), out, uplo),
                               runtime.eigh_grad_tangent(out, (g[0], np.zeros(shape)), out, uplo))


@covers("pinv_grad_tangent", "pinv_grad_adjoint")
@pytest.mark.parametrize("shape, hermitian", [((3, 3), False), ((4, 2), False), ((2, 3, 2), False),
                                              ((3, 3), True)])
@pytest.mark.parametrize("part", ["g", "a", "out"])
def test_pinv_grad_second_derivatives(shape, hermitian, part):
    rng = np.random.default_rng(78)
    a = rng.normal(size=shape)
    x = np.linalg.pinv(a)
    g = rng.normal(size=np.shape(x))
    args = {"g": g, "a": a, "out": x}

    def grad(v):
        moved = {**args, part: v}
        return runtime.pinv_grad(moved["g"], moved["a"], moved["out"], hermitian)

    assert_jvp(grad, args[part], lambda s: runtime.pinv_grad_tangent(s, g, a, x, hermitian, part))
    assert_vjp(grad, args[part], lambda h: runtime.pinv_grad_adjoint(h, g, a, x, hermitian, part))
