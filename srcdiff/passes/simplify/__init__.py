"""simplify: gast -> gast; cleans up generated code without changing what it computes.

One module per transform:

* ``folding``: constant folding and algebraic identities on one expression, applied to
  each instantiated rule template (``g * 1`` -> ``g``; ``x ** (2 - 1)`` -> ``x``;
  ``a if None is None else b`` -> ``a``).
* ``constants``: a name assigned a constant once is read as that constant.
* ``copies``: ``a = b`` with both names assigned once: uses of ``a`` read ``b`` and the
  copy goes.
* ``dead_code``: assignments to names nobody reads, when the right-hand side has no
  side effects.
* ``temporaries``: a temporary read once, in the next statement (a cotangent: or a few
  plain assignments on), is replaced by its expression there (``_t0 = -a`` then ``b =
  math.exp(_t0)`` -> ``b = math.exp(-a)``), when all are pure.
* ``floats``: ``float(v)`` goes where ``v`` is certainly a Python float (in code made
  for float arguments).

(``statements`` holds what the whole-function transforms share.)  :func:`simplify` runs
copies, constants and dead code in order; the pipeline runs the temporaries and floats
later, after the results are made distinct (:mod:`srcdiff.passes.results`).

>>> import gast
>>> from srcdiff.emit import to_source
>>> fdef = gast.parse('''
... def f(x):
...     a = x
...     one = 1.0
...     b = one * a
...     unused = a + 2
...     return b
... ''').body[0]
>>> print(to_source(simplify(fdef, lambda expr: True)).strip())
def f(x):
    return x
"""

from __future__ import annotations

from collections.abc import Callable

import gast

from .constants import propagate_constants
from .copies import propagate_copies
from .dead_code import eliminate_dead_code
from .floats import unwrap_floats
from .folding import fold, number
from .temporaries import inline_temporaries

__all__ = ["fold", "number", "propagate_copies", "propagate_constants", "eliminate_dead_code",
           "simplify", "unwrap_floats", "inline_temporaries"]


def simplify(fdef: gast.FunctionDef, is_pure: Callable[[gast.expr], bool],
             primal: frozenset = frozenset()) -> gast.FunctionDef:
    """All whole-function simplifications, in order (``primal``: the names of the
    user's own values, whose arithmetic is kept as written)."""
    fdef = propagate_copies(fdef)
    fdef = propagate_constants(fdef, primal)
    fdef = propagate_copies(fdef)  # folding constants makes copies (1.0 * x -> x)
    fdef = eliminate_dead_code(fdef, is_pure)
    return fdef
