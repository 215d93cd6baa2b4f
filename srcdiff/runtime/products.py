"""Products: ``@``, ``np.dot``, ``np.inner``, ``np.einsum``, ``np.tensordot``, ``np.kron``,
``np.cross`` and ``np.convolve``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .broadcasting import unbroadcast
from .support import stacked_or_none, swap_last


def matmul_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``a @ b``, for every combination of 1-D, 2-D and batched."""
    a_nd, b_nd = a.ndim, b.ndim
    if b_nd == 2:
        if a_nd == 2:
            return g @ b.T
        if a_nd == 1:
            return b @ g
    elif b_nd == 1:
        if a_nd == 1:
            return g * b
        if a_nd == 2:
            return np.multiply.outer(g, b)
    if b_nd == 1:
        ga = np.multiply.outer(g, b)
    elif a_nd == 1:
        ga = (np.expand_dims(g, -2) @ swap_last(b))[..., 0, :]
    else:
        ga = g @ swap_last(b)
    return unbroadcast(ga, a)


def matmul_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``a @ b``, for every combination of 1-D, 2-D and batched."""
    a_nd, b_nd = a.ndim, b.ndim
    if a_nd == 2:
        if b_nd == 2:
            return a.T @ g
        if b_nd == 1:
            return g @ a
    elif a_nd == 1:
        if b_nd == 2:
            return np.multiply.outer(a, g)
        if b_nd == 1:
            return g * a
    if a_nd == 1:
        gb = np.moveaxis(np.multiply.outer(a, g), 0, -2)
    elif b_nd == 1:
        gb = (swap_last(a) @ np.expand_dims(g, -1))[..., 0]
    else:
        gb = swap_last(a) @ g
    return unbroadcast(gb, b)


def matmul_grads_sum(side: str, pairs: list, fixed: Any) -> Any:
    """The sum of ``matmul_grad_a(g, fixed, v)`` (``side="a"``) or ``matmul_grad_b(g, v,
    fixed)`` (``side="b"``) over ``pairs`` of (g, v): the cotangent of a matrix that
    every iteration of a loop multiplies.

    A loop's adjoint collects the pairs instead of adding one outer product per
    iteration; where every ``v`` is a vector (or every one a matrix) of one shape, the
    sum is one matrix product of the stacked pairs.  Zeros when there are none.

    >>> w = np.ones((2, 3))
    >>> pairs = [(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0])),
    ...          (np.array([0.0, 1.0, 0.0]), np.array([2.0, 1.0]))]
    >>> matmul_grads_sum("b", pairs, w).tolist()
    [[1.0, 4.0, 3.0], [0.0, 1.0, 0.0]]
    """
    if not pairs:
        return np.zeros(np.shape(fixed), np.result_type(fixed, 1.0))
    g0, v0 = pairs[0]
    rank = np.ndim(v0)
    if np.ndim(fixed) == 2 and rank in (1, 2) and np.ndim(g0) == rank:
        # The list is the generated code's own, read once: emptied here, so that each
        # list of arrays is freed as soon as it is stacked, not after the product.
        gs = [g for g, _ in pairs]
        vs = [v for _, v in pairs]
        pairs.clear()
        if rank == 1:  # vectors of one shape each: rows of two matrices
            v = stacked_or_none(vs)
            if v is not None:
                del vs
                g = stacked_or_none(gs)
                if g is not None:
                    del gs
                    return v.T @ g if side == "b" else g.T @ v  # sum of outer products
                vs = list(v)
        else:  # matrices: side by side (each pair's rows, or columns, agree)
            try:
                if side == "b":  # sum of v_t^T g_t
                    v = np.concatenate(vs)
                    g = np.concatenate(gs)
                    del gs, vs
                    return v.T @ g
                g = np.concatenate(gs, axis=1)  # sum of g_t v_t^T
                v = np.concatenate(vs, axis=1)
                del gs, vs
                return g @ v.T
            except ValueError:
                pass
        pairs = list(zip(gs, vs))
    grad = matmul_grad_a if side == "a" else matmul_grad_b
    total = None
    for g, v in pairs:
        term = grad(g, fixed, v) if side == "a" else grad(g, v, fixed)
        total = term if total is None else total + term
    return total


def dot_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``np.dot(a, b)``."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 0 or b_nd == 0:
        return unbroadcast(g * b, a)
    if b_nd <= 2:
        return matmul_grad_a(g, a, b)
    # out[i.., j.., l] = sum_k a[i.., k] b[j.., k, l]
    g_axes = list(range(a_nd - 1, np.ndim(g)))
    b_axes = [i for i in range(b_nd) if i != b_nd - 2]
    return np.tensordot(g, b, axes=(g_axes, b_axes))


def dot_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``np.dot(a, b)``."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 0 or b_nd == 0:
        return unbroadcast(g * a, b)
    if b_nd <= 2:
        return matmul_grad_b(g, a, b)
    lead = list(range(a_nd - 1))
    gb = np.tensordot(a, g, axes=(lead, lead))  # shape (k, j.., l)
    return np.moveaxis(gb, 0, -2)


def inner_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``np.inner(a, b)`` (sums over the last axes)."""
    if np.ndim(a) == 0:
        return np.sum(g * b)
    if np.ndim(b) == 0:
        return g * b
    a_lead = np.ndim(a) - 1
    b_lead = np.ndim(b) - 1
    g_axes = list(range(a_lead, a_lead + b_lead))
    return np.tensordot(g, b, axes=(g_axes, list(range(b_lead))))


def inner_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``np.inner(a, b)``."""
    if np.ndim(b) == 0:
        return np.sum(g * a)
    if np.ndim(a) == 0:
        return g * a
    lead = list(range(np.ndim(a) - 1))
    return np.tensordot(g, a, axes=(lead, lead))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_labels(subscripts: Any, ndims: list) -> tuple[list, str]:
    """The labels of each operand of ``np.einsum(subscripts, ...)`` and of its result, as
    plain letters: ``...`` spelled out as fresh letters (right-aligned, so broadcasting
    lines up as in NumPy) and an implicit result written out (the ellipsis, then the
    labels used exactly once, in alphabetical order)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(inputs)} operands, got {len(ndims)}")
    free = [c for c in _LETTERS if c not in spec]
    width = max((nd - len(s) + 3 for s, nd in zip(inputs, ndims) if "..." in s), default=0)
    ellipsis = "".join(free[:width])
    labels = []
    for s, nd in zip(inputs, ndims):
        if "..." in s:
            own = nd - len(s) + 3
            s = s.replace("...", ellipsis[width - own:])
        labels.append(s)
    if arrow:
        result = rhs.replace("...", ellipsis)
    else:
        named = lhs.replace("...", "").replace(",", "")
        result = ellipsis + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    return labels, result


def _einsum_sublists(args: list) -> tuple[str, list]:
    """The interleaved call ``np.einsum(op0, sublist0, op1, sublist1, ..., [sublistout])``
    as a subscripts string and its operands (integer labels as NumPy spells them:
    0-25 as A-Z, 26-51 as a-z)."""

    def spell(sublist: Any) -> str:
        return "".join("..." if k is Ellipsis else chr(ord("A") + k) if k < 26 else chr(ord("a") + k - 26)
                       for k in sublist)

    pairs, out = (args[:-1], args[-1]) if len(args) % 2 else (args, None)
    subscripts = ",".join(spell(s) for s in pairs[1::2])
    return subscripts + ("" if out is None else "->" + spell(out)), list(pairs[0::2])


def einsum_grad(g: Any, subscripts: Any, operands: tuple, i: int) -> Any:
    """Cotangent of operand ``i`` of ``np.einsum(subscripts, *operands)`` (None operands
    are absent ones).  In the interleaved form ``np.einsum(op0, sublist0, op1, ...)``,
    ``subscripts`` is ``op0`` and ``operands`` the arguments after it; ``i`` still
    counts operands (``op1`` is operand 1).

    The result is a sum of products, one factor per operand, so operand ``i``'s cotangent
    is the einsum of ``g`` with the *other* operands, written out to operand ``i``'s
    labels.  A label repeated within operand ``i`` (``'ii->i'`` reads a diagonal) gets an
    identity matrix joining its copies, so the cotangent lands on that diagonal only.  A
    label of operand ``i`` found nowhere else was summed over within ``i`` alone, so the
    cotangent is constant along it; an axis of size 1 that broadcast is summed back.
    """
    operands = [op for op in operands if op is not None]
    if not isinstance(subscripts, str):
        subscripts, operands = _einsum_sublists([subscripts] + operands)
    labels, result = _einsum_labels(subscripts, [np.ndim(op) for op in operands])
    x, shape = operands[i], np.shape(operands[i])
    fresh = iter(c for c in _LETTERS if c not in "".join(labels) + result)
    specs = [result] + [s for k, s in enumerate(labels) if k != i]
    args = [g] + [op for k, op in enumerate(operands) if k != i]
    wanted = ""
    for axis, c in enumerate(labels[i]):
        if c in wanted:
            twin = next(fresh)
            specs.append(c + twin)
            args.append(np.eye(shape[axis], like=x))
            c = twin
        wanted += c
    present = "".join(c for c in wanted if c in "".join(specs))
    grad = np.einsum(",".join(specs) + "->" + present, *args)
    grad = np.expand_dims(grad, tuple(k for k, c in enumerate(wanted) if c not in present))
    summed = tuple(k for k, n in enumerate(shape) if n == 1 and np.shape(grad)[k] != 1)
    if summed:
        grad = np.sum(grad, axis=summed, keepdims=True)
    return grad if np.shape(grad) == shape else np.broadcast_to(grad, shape).copy()


def _tensordot_axes(axes: Any, a_nd: int, b_nd: int) -> tuple[list, list]:
    """``np.tensordot``'s ``axes`` as two lists of paired, non-negative axes."""
    if isinstance(axes, (int, np.integer)):
        return list(range(a_nd - axes, a_nd)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    return [k % a_nd for k in a_axes], [k % b_nd for k in b_axes]


def tensordot_grad_a(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """Cotangent of ``a`` in ``np.tensordot(a, b, axes)``: ``g`` (axes: ``a``'s free axes,
    then ``b``'s) contracted with ``b`` over ``b``'s free axes, which leaves ``a``'s free
    axes and ``b``'s contracted ones (in ``b``'s order); those are put back in ``a``'s."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    a_axes, b_axes = _tensordot_axes(axes, a_nd, b_nd)
    a_free = [k for k in range(a_nd) if k not in a_axes]
    b_free = [k for k in range(b_nd) if k not in b_axes]
    ga = np.tensordot(g, b, axes=(list(range(len(a_free), len(a_free) + len(b_free))), b_free))
    order = a_free + [a_axes[b_axes.index(k)] for k in sorted(b_axes)]
    return np.transpose(ga, np.argsort(order))


def tensordot_grad_b(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """Cotangent of ``b`` in ``np.tensordot(a, b, axes)``: ``a`` contracted with ``g`` over
    ``a``'s free axes, axes then put back in ``b``'s order."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    a_axes, b_axes = _tensordot_axes(axes, a_nd, b_nd)
    a_free = [k for k in range(a_nd) if k not in a_axes]
    b_free = [k for k in range(b_nd) if k not in b_axes]
    gb = np.tensordot(a, g, axes=(a_free, list(range(len(a_free)))))
    order = [b_axes[a_axes.index(k)] for k in sorted(a_axes)] + b_free
    return np.transpose(gb, np.argsort(order))


def _kron_grid(g: Any, a: Any, b: Any) -> tuple:
    """``g`` of ``np.kron(a, b)`` viewed with axes (i0, j0, i1, j1, ...): the result's
    entry ``[i * nb + j]`` along each axis is ``a[i] b[j]`` (the shorter shape padded
    with leading 1s), so it is ``grid[i, j]``."""
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + np.shape(a)
    sb = (1,) * (nd - np.ndim(b)) + np.shape(b)
    return np.reshape(g, [n for pair in zip(sa, sb) for n in pair]), sa, sb, nd


def kron_grad_a(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``a`` in ``np.kron(a, b)``: the grid of ``g`` contracted with ``b``."""
    grid, _, sb, nd = _kron_grid(g, a, b)
    ga = np.tensordot(grid, np.reshape(b, sb), axes=(list(range(1, 2 * nd, 2)), list(range(nd))))
    return np.reshape(ga, np.shape(a))


def kron_grad_b(g: Any, a: Any, b: Any) -> Any:
    """Cotangent of ``b`` in ``np.kron(a, b)``: the grid of ``g`` contracted with ``a``."""
    grid, sa, _, nd = _kron_grid(g, a, b)
    gb = np.tensordot(grid, np.reshape(a, sa), axes=(list(range(0, 2 * nd, 2)), list(range(nd))))
    return np.reshape(gb, np.shape(b))


def cross_grad(g: Any, x: Any, other: Any, axisx: int = -1, axisother: int = -1,
               axisc: int = -1, axis: Any = None) -> Any:
    """Cotangent of ``x`` in ``np.cross(x, other, axisx, axisother, axisc, axis)`` for
    3-vectors: ``<g, dx x other> = <dx, other x g>`` (the triple product is cyclic),
    summed back over broadcasting.  (The cotangent of ``b`` in ``cross(a, b)`` is
    ``g x a = -cross_grad(g, b, a, ...)``.)"""
    if axis is not None:
        axisx = axisother = axisc = axis
    xm, om = np.moveaxis(x, axisx, -1), np.moveaxis(other, axisother, -1)
    if np.shape(xm)[-1] != 3 or np.shape(om)[-1] != 3:
        raise NotImplementedError(
            "srcdiff: the gradient of np.cross is supported for 3-vectors only; pad 2-vectors "
            "with a zero third component"
        )
    gx = np.cross(om, np.moveaxis(g, axisc, -1))
    return np.moveaxis(unbroadcast(gx, xm), -1, axisx)


def convolve_grad(g: Any, a: Any, v: Any, mode: str = "full") -> Any:
    """Cotangent of ``a`` in ``np.convolve(a, v, mode)`` (of ``v``: swap them, convolution
    is symmetric).

    ``full[k] = sum_i a[i] v[k - i]``, so ``a``'s cotangent is the valid correlation of the
    full-length cotangent with ``v``.  ``'same'`` and ``'valid'`` keep a slice of the full
    result (starting at ``(min(n, m) - 1) // 2`` and ``min(n, m) - 1``): their cotangent is
    zero-padded back to full length first.
    """
    n, m = np.size(a), np.size(v)
    starts = {"full": 0, "same": (min(n, m) - 1) // 2, "valid": min(n, m) - 1}
    if mode not in starts:
        raise NotImplementedError(f"srcdiff: np.convolve mode {mode!r}; use 'full', 'same' or 'valid'")
    start = starts[mode]
    g_full = np.pad(g, (start, n + m - 1 - start - np.size(g)))
    return np.reshape(np.correlate(g_full, np.reshape(v, -1), "valid"), np.shape(a))
