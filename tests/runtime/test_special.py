"""srcdiff/runtime/special.py: the helpers of scipy.special."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from srcdiff import runtime

from ._coverage import covers
from .conftest import assert_jvp, assert_vjp, rand


@covers("gammaln_grad", "digamma_grad")
@pytest.mark.parametrize("name", ["gammaln", "digamma"])
def test_special_function_grads(name):
    special = pytest.importorskip("scipy.special")
    x = np.random.default_rng(54).uniform(0.5, 4.0, size=(2, 3))
    fn = getattr(special, name)
    helper = getattr(runtime, f"{name}_grad")
    assert_vjp(fn, x, lambda u: helper(u, x))


@covers("logsumexp_grad")
@pytest.mark.parametrize("shape, axis, b_shape, keepdims", [
    ((4,), None, None, False), ((2, 3), 1, None, False), ((2, 3), 0, None, True),
    ((2, 3), None, (3,), False), ((2, 3), 1, (2, 3), True),
])
def test_logsumexp_grad(shape, axis, b_shape, keepdims):
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(55)
    a = rand(shape, rng) * 30  # large entries: the shift by the maximum matters
    b = None if b_shape is None else rng.uniform(0.5, 2.0, size=b_shape)

    def grad(u: Any, part: str) -> Any:
        return runtime.logsumexp_grad(u, a, axis, b, keepdims, False, part)

    assert_vjp(lambda v: special.logsumexp(v, axis, b, keepdims), a, lambda u: grad(u, "a"))
    if b is not None:
        assert_vjp(lambda v: special.logsumexp(a, axis, v, keepdims), b, lambda u: grad(u, "b"))


@covers("logsumexp_grad")
def test_logsumexp_grad_return_sign_raises():
    with pytest.raises(NotImplementedError, match="return_sign"):
        runtime.logsumexp_grad(1.0, np.ones(3), return_sign=True)


@covers("logsumexp_tangent")
@pytest.mark.parametrize("shape, axis, b_shape, keepdims", [
    ((4,), None, None, False), ((2, 3), 1, None, False), ((2, 3), 0, None, True),
    ((2, 3), None, (3,), False), ((2, 3), 1, (2, 3), True),
])
def test_logsumexp_tangent(shape, axis, b_shape, keepdims):
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(66)
    a = rand(shape, rng) * 30  # large entries: exp(a) alone would overflow
    b = None if b_shape is None else rng.uniform(0.5, 2.0, size=b_shape)
    out = special.logsumexp(a, axis, b, keepdims)
    assert_jvp(lambda v: special.logsumexp(v, axis, b, keepdims), a,
               lambda t: runtime.logsumexp_tangent(t, a, out, axis, b, keepdims, False, "a"))
    if b is not None:
        assert_jvp(lambda v: special.logsumexp(a, axis, v, keepdims), b,
                   lambda t: runtime.logsumexp_tangent(t, a, out, axis, b, keepdims, False, "b"))
    with pytest.raises(NotImplementedError, match="return_sign"):
        runtime.logsumexp_tangent(a, a, out, axis, b, keepdims, True)


@covers("polygamma_grad")
@pytest.mark.parametrize("n", [0, 1, 2])
def test_polygamma_grad(n):
    special = pytest.importorskip("scipy.special")
    x = np.random.default_rng(83).uniform(0.5, 4.0, size=(2, 3))
    assert_vjp(lambda v: special.polygamma(n, v), x, lambda u: runtime.polygamma_grad(u, n, x))
    np.testing.assert_allclose(runtime.polygamma_grad(1.0, 0, x), runtime.digamma_grad(1.0, x), rtol=1e-15)
