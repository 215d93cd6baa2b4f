"""Complex numbers: the cotangent of a real value that meets complex ones (:func:`real_like`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def real_like(g: Any, like: Any) -> Any:
    """``g``, the cotangent of the real value ``like``, without an imaginary part: where
    a real value meets complex ones, the part of the cotangent along the imaginary axis
    is not a direction the real value can move in.  Containers entry by entry; ``g``
    itself where ``like`` is complex.

    >>> real_like(np.array([1 + 2j, 3 - 1j]), np.zeros(2)).tolist()
    [1.0, 3.0]
    >>> real_like(1 + 2j, 0.5 + 0j)
    (1+2j)
    """
    if g is None:
        return None
    if isinstance(like, dict):
        return {k: real_like(v, like.get(k)) for k, v in g.items()} if isinstance(g, dict) else g
    if isinstance(like, (list, tuple)):
        if isinstance(g, (list, tuple)) and len(g) == len(like):
            parts = [real_like(v, w) for v, w in zip(g, like)]
            return tuple(parts) if isinstance(g, tuple) else parts
        return g if any(_is_complex(w) for w in like) else _real_part(g)
    return g if _is_complex(like) else _real_part(g)


def _is_complex(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_is_complex(v) for v in value)
    if isinstance(value, dict):
        return any(_is_complex(v) for v in value.values())
    return isinstance(value, (complex, np.complexfloating)) or getattr(
        getattr(value, "dtype", None), "kind", None) == "c"


def _real_part(g: Any) -> Any:
    if isinstance(g, (list, tuple)):
        parts = [_real_part(v) for v in g]
        return tuple(parts) if isinstance(g, tuple) else parts
    if isinstance(g, dict):
        return {k: _real_part(v) for k, v in g.items()}
    if isinstance(g, complex):
        return g.real
    return np.real(g) if _is_complex(g) else g
