"""Cotangents of containers (dicts, lists, tuples, nested): sums, entries, zeros, and the
gradient laid out in the argument's structure.  None stands for a zero cotangent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .support import is_float_like


def tree_add(a: Any, b: Any) -> Any:
    """Sum of two cotangents that may be None (zero) or containers of cotangents."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        merged = dict(a)
        for k, v in b.items():
            merged[k] = tree_add(merged.get(k), v)
        return merged
    if isinstance(a, (list, tuple)):
        return [tree_add(x, y) for x, y in zip(a, b)]
    return a + b


def tree_index(g: Any, i: Any) -> Any:
    """``g[i]`` for a container cotangent that may be None (zero)."""
    return None if g is None else g[i]


def zeros_like_tree(x: Any) -> Any:
    """A zero cotangent with the structure of ``x`` (None at non-float leaves)."""
    return tree_fill(None, x)


def tree_fill(g: Any, like: Any) -> Any:
    """``g`` with every None replaced by zeros shaped like the matching leaf of ``like``,
    and tuples where ``like`` has tuples: the gradient in the argument's structure."""
    if isinstance(like, dict):
        g = g or {}
        return {k: tree_fill(g.get(k), v) for k, v in like.items()}
    if isinstance(like, (list, tuple)):
        g = g if g is not None else [None] * len(like)
        filled = [tree_fill(x, v) for x, v in zip(g, like)]
        return tuple(filled) if isinstance(like, tuple) else filled
    if isinstance(like, (bool, np.bool_, int, np.integer)) or not is_float_like(like):
        return None  # no gradient at a non-float leaf
    if g is not None:
        if isinstance(g, (list, tuple)) and not isinstance(like, (list, tuple)):
            return np.stack([np.zeros_like(like[k]) if x is None else x for k, x in enumerate(g)])
        if type(like) is float and type(g) is not float and np.ndim(g) == 0:
            return float(g)  # a float for a float
        return g
    if isinstance(like, (float, np.floating)):
        return 0.0
    return np.zeros_like(like)


def zeros_like_value(x: Any) -> Any:
    """A zero cotangent for ``x``: 0.0 for a scalar, zeros for an array, a container of
    zeros for a container, None (no value, no derivative) for None."""
    if x is None or isinstance(x, (range, str, bytes, slice)):
        return None  # saved loop bookkeeping: no derivative
    if isinstance(x, (float, int, np.number, np.bool_)):
        return 0.0
    if isinstance(x, (list, tuple, dict)):
        return tree_fill(None, x)
    return np.zeros_like(x, dtype=np.result_type(x, 1.0))
