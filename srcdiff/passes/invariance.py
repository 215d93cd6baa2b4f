"""invariance: IR -> names; a max subtracted only to keep ``exp`` from overflowing.

``logsumexp``, ``softmax`` and ``log_softmax`` are written with the row maximum
taken out first, ``m = np.max(x, axis, keepdims=True)``, which changes no result:

* ``np.log(np.sum(np.exp(x - m), axis)) + m`` (logsumexp),
* ``e / np.sum(e, axis, keepdims=True)`` with ``e = np.exp(x - m)`` (softmax),
* ``(x - m) - np.log(np.sum(np.exp(x - m), axis, keepdims=True))`` (log-softmax).

Each result is the same for any ``m``, so the derivative through ``m`` is exactly
zero: differentiating through ``np.max`` (a mask, a count and a division, each a
pass over ``x``) only adds rounding errors.  :func:`shift_invariant` finds the
maxima whose every use is one of these forms, and activity analysis treats them
as constants.

>>> import numpy as np
>>> from srcdiff.pipeline import lower_to_ir
>>> def lse(x):
...     m = np.max(x, axis=1, keepdims=True)
...     return np.sum(np.log(np.sum(np.exp(x - m), axis=1)) + m[:, 0])
>>> sorted(shift_invariant(lower_to_ir(lse)))
['_t4', 'm']
>>> def not_lse(x):  # the max added back twice: the result depends on it
...     m = np.max(x, axis=1, keepdims=True)
...     return np.sum(np.log(np.sum(np.exp(x - m), axis=1)) + 2 * m[:, 0])
>>> shift_invariant(lower_to_ir(not_lse))
set()
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import ir
from .shapes import literal, literal_arguments

__all__ = ["shift_invariant"]

def _own_reads(stmt: Any) -> list:
    """The names a statement reads itself (not in the statements nested in it)."""
    if isinstance(stmt, (ir.Assign, ir.Effect)):
        return ir.expr_uses(stmt.value)
    names: list = []
    if isinstance(stmt, ir.Return):
        return ir.atom_vars(stmt.value)
    if isinstance(stmt, ir.If):
        names += ir.atom_vars(stmt.test)
    if isinstance(stmt, ir.Loop):
        for part in (stmt.iter, stmt.test, *stmt.breaks):
            if part is not None:
                names += ir.atom_vars(part)
        names += [h for _, h in stmt.exits]
    for phi in getattr(stmt, "phis", ()):
        for source in phi.sources:
            names += ir.atom_vars(source)
    return names


def _reduction(value: Any, functions: tuple, method: str) -> tuple | None:
    """(operand name, axis, keepdims) of ``np.<fn>(a, axis, keepdims=...)`` or
    ``a.<method>(...)`` with literal options; None for anything else."""
    if not isinstance(value, ir.Call) or not value.args or not isinstance(value.args[0], ir.Var):
        return None
    fn = value.fn
    if isinstance(fn, ir.Method):
        if fn.name != method:
            return None
    elif isinstance(fn, ir.Attr) or not any(fn.value is f for f in functions):
        return None
    found = literal_arguments(value, ("axis", "out", "keepdims"))
    if found is None or found.get("out") is not None:
        return None
    keepdims = found.get("keepdims", False)
    axis = found.get("axis")
    if not isinstance(keepdims, bool) or not (axis is None or type(axis) is int):
        return None
    return value.args[0].id, axis, keepdims


def _binary(value: Any, op: Any) -> tuple | None:
    """The two variable names of ``a <op> b``."""
    if (isinstance(value, ir.Call) and isinstance(value.fn, ir.Prim) and value.fn.value is op
            and len(value.args) == 2 and all(isinstance(a, ir.Var) for a in value.args)):
        return value.args[0].id, value.args[1].id
    return None


def _unary(value: Any, fn: Any) -> str | None:
    if (isinstance(value, ir.Call) and isinstance(value.fn, ir.Ref) and value.fn.value is fn
            and len(value.args) == 1 and not value.kwargs and isinstance(value.args[0], ir.Var)):
        return value.args[0].id
    return None


def _squeezes(value: Any, m: str, axis: int) -> bool:
    """Whether ``value`` is ``m`` with its (length-1) axis ``axis`` taken out:
    ``m[:, 0]`` for axis 1, ``m[..., 0]`` for axis -1, ``np.squeeze(m, axis)``."""
    if not isinstance(value, ir.Call) or not value.args or not (
            isinstance(value.args[0], ir.Var) and value.args[0].id == m):
        return False
    if isinstance(value.fn, ir.Prim) and value.fn.value is operator.getitem:
        index = literal(value.args[1])
        everything = slice(None)
        if axis >= 0:
            return index == (everything,) * axis + (0,) or (axis == 0 and index == 0)
        return axis == -1 and index == (Ellipsis, 0)
    if isinstance(value.fn, ir.Ref) and value.fn.value is np.squeeze:
        found = literal_arguments(value, ("axis",))
        return found is not None and found.get("axis") == axis
    return False


def shift_invariant(fn: ir.Function) -> set:
    """The maxima (and their squeezed copies) that only shift a logsumexp, softmax or
    log-softmax, whose results do not depend on them."""
    defs: dict[str, ir.Assign] = {}
    users: dict[str, list] = {}
    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Assign):
            defs[stmt.target] = stmt
        for name in _own_reads(stmt):
            users.setdefault(name, []).append(stmt if isinstance(stmt, ir.Assign) else None)
    invariant: set = set()
    for m, stmt in defs.items():
        found = _reduction(stmt.value, (np.max, np.amax), "max")
        if found is None:
            continue
        x, axis, keepdims = found
        if axis is None and keepdims or axis is not None and not keepdims:
            continue  # the max must broadcast against x: full, or with its axis kept
        shifted = _Shift(m, x, axis, defs, users).invariant()
        if shifted is not None:
            invariant |= {m} | shifted
    return invariant


class _Shift:
    """Checks the uses of one max ``m = np.max(x, axis, keepdims=True)``."""

    def __init__(self, m: str, x: str, axis: Any, defs: dict, users: dict):
        self.m, self.x, self.axis, self.defs, self.users = m, x, axis, defs, users
        self.squeezed: set = set()  # m[:, 0] and the like

    def uses(self, name: str) -> list:
        """The assignments reading ``name``; [None] if anything else reads it."""
        found = self.users.get(name, [])
        return found if None not in found else [None]

    def value(self, name: str) -> Any:
        stmt = self.defs.get(name)
        return None if stmt is None else stmt.value

    def invariant(self) -> set | None:
        """The squeezed copies of ``m`` when every use of ``m`` (and of what it feeds)
        is one of the invariant forms; None otherwise."""
        m = self.m
        if None in self.uses(m):
            return None
        self.squeezed = {use.target for use in self.uses(m)
                         if self.axis is not None and _squeezes(use.value, m, self.axis)}
        for use in self.uses(m):
            if use.target in self.squeezed:
                if not all(u is not None and self.adds_back(u.value, False) for u in self.uses(use.target)):
                    return None
            elif _binary(use.value, operator.sub) == (self.x, m):
                if not self.shift_uses(use.target):
                    return None
            elif not self.adds_back(use.value, True):
                return None
        return self.squeezed

    def shifted(self, s: str) -> bool:
        """Whether ``s = x - m``."""
        return _binary(self.value(s), operator.sub) == (self.x, self.m)

    def summed(self, t: str) -> tuple | None:
        """(e, keepdims) when ``t = np.sum(e, axis, keepdims)`` over the max's axis and
        ``e = exp(s)`` for some ``s = x - m``."""
        found = _reduction(self.value(t), (np.sum,), "sum")
        if found is None or found[1] != self.axis:
            return None
        s = _unary(self.value(found[0]), np.exp)
        return (found[0], found[2]) if s is not None and self.shifted(s) else None

    def broadcasts(self, kept: bool) -> bool:
        """Whether a sum with ``keepdims=kept`` broadcasts against ``x``."""
        return kept or self.axis is None

    def logsumexp(self, log: str) -> tuple | None:
        """(e, keepdims) when ``log = np.log(t)`` for a sum ``t`` of ``summed``."""
        t = _unary(self.value(log), np.log)
        return None if t is None else self.summed(t)

    def adds_back(self, value: Any, whole: bool) -> bool:
        """Whether ``value`` is ``l + m`` (``whole``) or ``l + m[:, 0]``, in either order,
        for a logsumexp ``l`` whose shape is the max's (or its squeezed copy's)."""
        pair = _binary(value, operator.add)
        if pair is None:
            return False
        for log, shift in (pair, pair[::-1]):
            found = self.logsumexp(log)
            if found is None or (shift != self.m if whole else shift not in self.squeezed):
                continue
            if self.axis is None or found[1] == whole:
                return True
        return False

    def shift_uses(self, s: str) -> bool:
        """Whether every use of ``s = x - m`` is ``exp(s)`` used only in invariant
        forms, or ``s - l`` (log-softmax)."""
        for use in self.uses(s):
            if use is None:
                return False
            pair = _binary(use.value, operator.sub)
            if pair is not None and pair[0] == s:  # log-softmax: s - log(sum(exp(s')))
                found = self.logsumexp(pair[1])
                if found is None or not self.broadcasts(found[1]):
                    return False
                continue
            if _unary(use.value, np.exp) != s or not self.exp_uses(use.target):
                return False
        return True

    def exp_uses(self, e: str) -> bool:
        """Whether every use of ``e = exp(x - m)`` is a sum over the axis whose uses are
        invariant, or a softmax division ``e / sum(e)``."""
        for use in self.uses(e):
            if use is None:
                return False
            found = self.summed(use.target)
            if found is not None and found[0] == e:
                if not all(self.sum_use(u, e, use.target, found[1]) for u in self.uses(use.target)):
                    return False
                continue
            div = _binary(use.value, operator.truediv)
            if div is None or div[0] != e or self.summed(div[1]) is None or not self.broadcasts(
                    self.summed(div[1])[1]):
                return False
        return True

    def sum_use(self, use: Any, e: str, t: str, kept: bool) -> bool:
        """Whether a use of ``t = sum(e)`` keeps the result invariant: ``e / t``
        (softmax), or ``l = log(t)`` whose every use adds the max back or is
        subtracted from ``x - m`` (logsumexp, log-softmax)."""
        if use is None:
            return False
        if _binary(use.value, operator.truediv) == (e, t):
            return self.broadcasts(kept)
        if _unary(use.value, np.log) != t:
            return False
        for l_use in self.uses(use.target):
            if l_use is None:
                return False
            pair = _binary(l_use.value, operator.sub)
            if pair is not None and pair[1] == use.target and self.shifted(pair[0]):
                if not self.broadcasts(kept):
                    return False
                continue
            if not (self.adds_back(l_use.value, True) or self.adds_back(l_use.value, False)):
                return False
        return True
