"""reverse: SSA IR + activity -> gast of the derivative (primal sweep, then adjoint sweep).

The primal statements are emitted as they are; then, walking the statements
backwards, each active assignment's rule templates are instantiated with the
statement's own names (the primal arguments, ``out`` for its result, ``g`` for the
result's adjoint) and accumulated into the arguments' adjoints.  The first
contribution to an adjoint is assigned, later ones are added, so nothing is
initialised to zero in straight-line code.

Control flow needs no tape.  A branch's adjoint takes the branch the primal took (the
condition is a value like any other).  A loop's adjoint runs its iterations backwards;
the values the adjoint of an iteration reads, and only those, are appended to a plain
list by the primal loop and popped by the adjoint loop.  A loop-carried value whose
next value is read too is not stored twice: the next value of iteration k is the
header value of iteration k + 1.

The pass is one builder in three parts, a module each: :mod:`.sweep` (statements,
branches, contributions, and ``differentiate``), :mod:`.loops` (what loops save and
restore, the loop's adjoint) and :mod:`.calls` (calls into the user's functions and
methods, through their pullbacks); :mod:`.nodes` holds the small gast constructors
they share.  Each template's ``unbroadcast`` calls are dropped where shapes decide
them by :mod:`srcdiff.passes.unbroadcast`.

>>> import numpy as np
>>> import srcdiff.rules
>>> from srcdiff.emit import to_source
>>> from srcdiff.names import Namer
>>> from srcdiff.pipeline import lower_to_ir
>>> from srcdiff.passes.activity import analyze
>>> def f(x, y):
...     return np.sin(x) * y
>>> fn = lower_to_ir(f)
>>> act = analyze(fn, ("x",), {"x": "array"})
>>> tree = differentiate(fn, act, ("x",), "grad", Namer(["x", "y", "_t0", "_t1"]))
>>> print(to_source(tree).rstrip())
def grad_f(x, y):
    _t0 = np.sin(x)
    _t1 = _t0 * y
    d_t1 = seed(_t1, '<doctest...>:2')
    # Grad of: return np.sin(x) * y
    d_t0 = unbroadcast(d_t1 * y, _t0)
    dx = d_t0 * np.cos(x)
    return dx
"""

from .sweep import MODES, differentiate

__all__ = ["differentiate", "MODES"]
