"""``scipy.special``: ``gammaln``, ``digamma``, ``polygamma`` and ``logsumexp``.

SciPy is optional: the helpers that need it import it when they run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .broadcasting import unbroadcast
from .support import expand_reduced


def gammaln_grad(g: Any, x: Any) -> Any:
    """Cotangent of ``scipy.special.gammaln``: ``g digamma(x)``."""
    from scipy import special

    return g * special.digamma(x)


def digamma_grad(g: Any, x: Any) -> Any:
    """Cotangent of ``scipy.special.digamma``: ``g polygamma(1, x)`` (the trigamma)."""
    from scipy import special

    return g * special.polygamma(1, x)


def polygamma_grad(g: Any, n: Any, x: Any) -> Any:
    """Cotangent of ``x`` in ``scipy.special.polygamma(n, x)``: ``g polygamma(n + 1, x)``
    (``digamma`` is ``polygamma(0, .)``)."""
    from scipy import special

    return g * special.polygamma(n + 1, x)


def logsumexp_grad(g: Any, a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
                   return_sign: bool = False, part: str = "a") -> Any:
    """Cotangent of ``part`` (``'a'`` or ``'b'``) of ``scipy.special.logsumexp(a, axis, b,
    keepdims)`` = ``log sum(b e^a)``, for a positive sum.

    ``a`` gets ``g`` times the softmax ``b e^a / sum(b e^a)``, and ``b`` gets
    ``g e^a / sum(b e^a)``, both computed after subtracting the (finite) maximum of ``a``
    so the exponentials cannot overflow.
    """
    if return_sign:
        raise NotImplementedError(
            "srcdiff: the gradient of logsumexp(..., return_sign=True) is not supported"
        )
    shift = np.max(a, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    e = np.exp(a - shift)
    total = np.sum(e if b is None else b * e, axis=axis, keepdims=True)
    g = expand_reduced(g, np.ndim(total), axis, keepdims)
    if part == "a":
        return unbroadcast(g * (e if b is None else b * e) / total, a)
    return unbroadcast(g * e / total, b)


def logsumexp_tangent(t: Any, a: Any, out: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
                      return_sign: bool = False, part: str = "a") -> Any:
    """Tangent of ``out = scipy.special.logsumexp(a, axis, b, keepdims)`` along ``t`` in
    ``part`` (``'a'`` or ``'b'``): with ``e = exp(a - out) = e^a / sum(b e^a)`` (at most
    ``1 / b``: nothing overflows), ``sum(e b t)`` for ``a`` and ``sum(e t)`` for ``b``."""
    if return_sign:
        raise NotImplementedError(
            "srcdiff: the derivative of logsumexp(..., return_sign=True) is not supported"
        )
    ndim = max(np.ndim(a), np.ndim(b)) if b is not None else np.ndim(a)
    e = np.exp(a - expand_reduced(out, ndim, axis, keepdims))
    weighted = t if part == "b" or b is None else b * t
    return np.sum(e * weighted, axis=axis, keepdims=keepdims)
