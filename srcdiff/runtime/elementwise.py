"""Element-wise operations whose derivatives take more than one expression: powers
(:func:`power_term`, and :func:`literal`, with which a rule picks its form for a number
written in the code), ``np.clip``, polynomials and interpolation (``np.polyval``,
``np.polyder``, ``np.interp``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .broadcasting import unbroadcast


def power_term(c: Any, x: Any, e: Any) -> Any:
    """``c * x ** e``, with 0 where ``c == 0``: the derivatives of ``x ** y`` in ``x``
    (``power_term(y, x, y - 1)``, then ``power_term(y * (y - 1), x, y - 2)``, ...), which
    the textbook form makes ``0 * inf`` at ``x == 0``.

    >>> power_term(np.array([0.0, 3.0]), np.array([0.0, 2.0]), np.array([-1.0, 2.0])).tolist()
    [0.0, 12.0]
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(np.equal(c, 0), 0.0, c * np.power(x, e))


def literal(value: Any) -> bool:
    """In a rule template, whether an argument is a number written in the code: the
    choice is made when the code is generated, so this runs only when it could not be
    (and then the general form is taken)."""
    return False


def clip_grad(g: Any, a: Any, a_min: Any, a_max: Any) -> Any:
    """Cotangent of ``a`` in ``np.clip``: passes where ``a`` lies within the bounds."""
    inside = True
    if a_min is not None:
        inside = inside & (a >= a_min)
    if a_max is not None:
        inside = inside & (a <= a_max)
    return np.where(inside, g, 0.0)


def polyval_grad_p(g: Any, p: Any, x: Any) -> Any:
    """Cotangent of ``p`` in ``np.polyval(p, x) = sum_i p[i] x^(N-1-i)``: ``p[i]`` gets
    ``g x^(N-1-i)``, summed back to ``p[i]``'s shape."""
    powers = []
    term = g
    for _ in range(np.shape(p)[0]):
        powers.append(unbroadcast(term, p[0]))
        term = term * x
    return np.stack(powers[::-1])


def interp_grad(g: Any, x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
                period: Any = None, part: str = "x") -> Any:
    """Cotangent of ``part`` (``'x'``, ``'xp'``, ``'fp'``, ``'left'``, ``'right'`` or
    ``'period'``) of ``np.interp(x, xp, fp, left, right, period)``.

    On ``[xp_k, xp_k+1]``, with ``t = (x - xp_k) / (xp_k+1 - xp_k)`` and slope ``s``,
    ``out = (1 - t) fp_k + t fp_k+1``: ``x`` gets ``g s``, ``fp_k`` and ``fp_k+1`` get
    ``g (1 - t)`` and ``g t``, ``xp_k`` and ``xp_k+1`` get ``g s (t - 1)`` and ``-g s t``.
    Left of ``xp_0`` the result is ``left`` (``fp_0`` if None), right of ``xp_-1``
    ``right`` (``fp_-1``).  With ``period``, ``x`` and ``xp`` are taken modulo ``period``
    (``x - floor(x / period) period``) and ``xp`` sorted and extended by a point at each
    end (``-/+ period``), as NumPy does; the cotangents of those points go back to the
    entries they came from, and ``period`` gets each point's cotangent times its
    derivative with respect to ``period``.
    """
    index = None
    if period is not None:
        x_turns = -np.floor(x / period)  # d (x % period) / d period
        x = x % period
        xp_turns = -np.floor(xp / period)
        xp = xp % period
        order = np.argsort(xp)
        index = np.concatenate([order[-1:], order, order[:1]])
        xp = np.concatenate([xp[order[-1:]] - period, xp[order], xp[order[:1]] + period])
        xp_turns = xp_turns[index] + np.concatenate([[-1.0], np.zeros(np.shape(order)[0]), [1.0]])
        fp = fp[index]
        left = right = None
    n = np.shape(xp)[0]
    if n < 2:
        raise NotImplementedError("srcdiff: the gradient of np.interp needs at least two points xp")
    k = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    below, above = x < xp[0], x > xp[-1]
    inside = np.where(below | above, 0.0, g)
    width = xp[k + 1] - xp[k]
    t = (x - xp[k]) / width
    slope = (fp[k + 1] - fp[k]) / width
    if part == "x":
        return inside * slope
    if part == "left":
        return np.sum(np.where(below, g, 0.0))
    if part == "right":
        return np.sum(np.where(above, g, 0.0))
    grad = np.zeros_like(xp, dtype=np.result_type(xp, g, 1.0))
    if part == "fp":
        np.add.at(grad, k, inside * (1 - t))
        np.add.at(grad, k + 1, inside * t)
        if left is None:
            grad[0] += np.sum(np.where(below, g, 0.0))
        if right is None:
            grad[-1] += np.sum(np.where(above, g, 0.0))
    else:
        np.add.at(grad, k, inside * slope * (t - 1))
        np.add.at(grad, k + 1, -inside * slope * t)
    if part == "period":
        return np.sum(inside * slope * x_turns) + np.sum(grad * xp_turns)
    if index is not None:
        own = np.zeros(np.shape(index)[0] - 2, dtype=grad.dtype)
        np.add.at(own, index, grad)
        grad = own
    return grad


def interp_tangent(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None,
                   dx: Any = 0.0, dxp: Any = 0.0, dfp: Any = 0.0, dleft: Any = 0.0, dright: Any = 0.0,
                   dperiod: Any = 0.0) -> Any:
    """Tangent of ``np.interp(x, xp, fp, left, right, period)`` given the tangents of all
    six arguments (zeros for the constant ones).

    On ``[xp_k, xp_k+1]``, with ``t = (x - xp_k) / (xp_k+1 - xp_k)`` and slope ``s``,
    ``out = (1 - t) fp_k + t fp_k+1``, so ``dout = (1 - t) dfp_k + t dfp_k+1 + s (dx -
    (1 - t) dxp_k - t dxp_k+1)``; left of ``xp_0`` it is ``dleft`` (``dfp_0`` if ``left``
    is None), right of ``xp_-1`` ``dright`` (``dfp_-1``).  With ``period``, ``x`` and ``xp``
    are taken modulo ``period`` and ``xp`` extended as NumPy does (see :func:`interp_grad`),
    their tangents with them.
    """
    dxp = np.broadcast_to(dxp, np.shape(xp))
    dfp = np.broadcast_to(dfp, np.shape(fp))
    if period is not None:
        dx = dx - np.floor(x / period) * dperiod  # d (x - floor(x / period) period)
        x = x % period
        dxp = dxp - np.floor(xp / period) * dperiod
        xp = xp % period
        order = np.argsort(xp)
        index = np.concatenate([order[-1:], order, order[:1]])
        xp = np.concatenate([xp[order[-1:]] - period, xp[order], xp[order[:1]] + period])
        ends = np.concatenate([[-1.0], np.zeros(np.shape(order)[0]), [1.0]])
        dxp = dxp[index] + ends * dperiod
        fp, dfp = fp[index], dfp[index]
        left = right = None
    n = np.shape(xp)[0]
    if n < 2:
        raise NotImplementedError("srcdiff: the derivative of np.interp needs at least two points xp")
    k = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    width = xp[k + 1] - xp[k]
    t = (x - xp[k]) / width
    slope = (fp[k + 1] - fp[k]) / width
    inside = (1 - t) * dfp[k] + t * dfp[k + 1] + slope * (dx - (1 - t) * dxp[k] - t * dxp[k + 1])
    d_left = dfp[0] if left is None else dleft
    d_right = dfp[-1] if right is None else dright
    return np.where(x < xp[0], d_left, np.where(x > xp[-1], d_right, inside))


def polyder_grad(g: Any, p: Any, m: int = 1) -> Any:
    """Cotangent of ``p`` in ``np.polyder(p, m)``: the derivative keeps the first ``n - m``
    coefficients, each times the falling factorial ``k (k-1) ... (k-m+1)`` of its power
    ``k = n - 1 - i``, so ``p[i]`` gets ``g[i]`` times that factor, and the last ``m`` none."""
    n = np.shape(p)[0]
    kept = max(n - m, 0)
    powers = np.arange(n - 1, n - 1 - kept, -1)
    factor = np.ones(kept)
    for j in range(m):
        factor = factor * (powers - j)
    return np.concatenate([g * factor, np.zeros(n - kept)])
