"""constants: gast -> gast; a name assigned a constant once is read as that constant,
and what folds to a constant then is read as one in turn.

>>> import gast
>>> from srcdiff.emit import to_source
>>> fdef = gast.parse('''
... def f(x):
...     a = 2.0
...     b = -a * 1
...     return b * x
... ''').body[0]
>>> print(to_source(propagate_constants(fdef)).strip())
def f(x):
    a = 2.0
    b = -2.0
    return -2.0 * x
"""

from __future__ import annotations

from typing import Any

import gast

from .folding import Transformer, fold, number, number_node
from .statements import NESTED, assignments, blocks

__all__ = ["propagate_constants"]


def propagate_constants(fdef: gast.FunctionDef, primal: frozenset = frozenset()) -> gast.FunctionDef:
    """After ``a = 1.0`` with ``a`` assigned once, read the constant for ``a``; what
    folds to a constant then (``b = -a``) is read as one in turn.

    Statements that assign names in ``primal`` (the user's own computation) read the
    constant but are not folded: ``1.0 * n`` there makes an int ``n`` a float, and must
    stay as the user wrote it."""
    counts = assignments(fdef)
    constants: dict[str, Any] = {}

    class Replace(Transformer):
        def visit_Name(self, node: gast.Name) -> gast.expr:
            if isinstance(node.ctx, gast.Load) and node.id in constants:
                return number_node(constants[node.id])
            return node

    replace = Replace()
    for body in blocks(fdef):  # outer blocks first: a constant is mostly made there
        for stmt in body:
            if isinstance(stmt, NESTED):  # its own blocks come later
                for field in ("test", "iter"):
                    if constants and getattr(stmt, field, None) is not None:
                        setattr(stmt, field, replace.visit(getattr(stmt, field)))
                continue
            if constants:
                replace.visit(stmt)
            if not isinstance(stmt, (gast.Assign, gast.AugAssign, gast.Return, gast.Expr)):
                continue
            if not (isinstance(stmt, gast.Assign) and all(
                    isinstance(t, gast.Name) and t.id in primal for t in stmt.targets)):
                stmt.value = fold(stmt.value)
            if (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], gast.Name) and counts.get(stmt.targets[0].id) == 1):
                value = number(stmt.value)
                if type(value) in (int, float):
                    constants[stmt.targets[0].id] = value
    return fdef
