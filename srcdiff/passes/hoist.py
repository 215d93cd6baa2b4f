"""hoist: IR -> IR; a loop's product of each row by a fixed matrix, made in one product.

A recurrent network reads one input row per step and multiplies it by a weight
matrix that does not change in the loop::

    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)

Every step's ``xs[t] @ U`` is a row of ``xs @ U``: one matrix product before the
loop does them all, and each step reads its row.  The adjoint follows: the steps'
cotangents fill the rows of one array, and ``U``'s gradient is one product after the
loop (``xs.T @ d``), as a hand-written gradient does it.  The pass needs to know
that ``xs`` has at least two axes and ``U`` exactly two (then the row and the batched
product agree), so it runs only for a derivative specialised to its argument shapes,
and only on a loop over exactly the rows of ``xs`` (``range(xs.shape[0])`` or
``range(len(xs))``) with no early exit, where ``xs`` and ``U`` are arguments.

>>> import numpy as np
>>> from srcdiff.names import Namer
>>> from srcdiff.pipeline import lower_to_ir
>>> def rnn(W, U, h, xs):
...     for t in range(xs.shape[0]):
...         h = np.tanh(h @ W + xs[t] @ U)
...     return np.sum(h)
>>> fn = lower_to_ir(rnn)
>>> hoist_products(fn, {"W": (4, 4), "U": (3, 4), "h": (4,), "xs": (6, 3)}, Namer(set()))
True
>>> [s.target for s in fn.body if isinstance(s, ir.Assign) and s.target.startswith("_rows")]
['_rows']
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import ir
from ..names import Namer

__all__ = ["hoist_products"]


def _rows_of(iterable: Any, defs: dict) -> str | None:
    """The array whose rows a ``range`` counts: ``range(xs.shape[0])``, ``range(len(xs))``."""
    if not isinstance(iterable, ir.Var) or iterable.id not in defs:
        return None
    made = defs[iterable.id].value
    if not (isinstance(made, ir.Call) and made.callee is range and len(made.args) == 1
            and not made.kwargs and isinstance(made.args[0], ir.Var) and made.args[0].id in defs):
        return None
    count = defs[made.args[0].id].value
    if not isinstance(count, ir.Call) or not count.args:
        return None
    if count.callee is len and len(count.args) == 1 and isinstance(count.args[0], ir.Var):
        return count.args[0].id
    if count.callee is operator.getitem and isinstance(count.args[1], ir.Const) \
            and count.args[1].value == 0 and isinstance(count.args[0], ir.Var) \
            and count.args[0].id in defs:
        shape = defs[count.args[0].id].value
        if isinstance(shape, ir.Call) and shape.callee is np.shape and len(shape.args) == 1 \
                and isinstance(shape.args[0], ir.Var):
            return shape.args[0].id
    return None


def hoist_products(fn: ir.Function, arg_shapes: dict, namer: Namer) -> bool:
    """Batch ``xs[t] @ U`` over a loop ``for t in range(xs.shape[0])`` (see the module
    docstring); whether anything changed.  ``arg_shapes``: parameter -> known shape."""
    params = {p.name for p in fn.params}
    defs = {s.target: s for s in ir.walk(fn.body) if isinstance(s, ir.Assign)}

    def shape(name: str) -> Any:
        found = arg_shapes.get(name) if name in params else None
        return found if isinstance(found, tuple) else None

    changed = False
    body: list = []
    for stmt in fn.body:
        if isinstance(stmt, ir.Loop) and stmt.kind == "for" and stmt.target and not stmt.breaks:
            rows = _rows_of(stmt.iter, defs)
            inside = ir.defined_names(stmt.body) | {stmt.target}
            for i, inner in enumerate(stmt.body):
                found = _row_product(inner, stmt.target, rows, defs, inside)
                if found is None:
                    continue
                xs, u = found
                if shape(xs) is None or len(shape(xs)) < 2 or shape(u) is None or len(shape(u)) != 2:
                    continue
                batched = namer.fresh("_rows")
                body.append(ir.Assign(batched, ir.Call(ir.Prim(operator.matmul), (ir.Var(xs), ir.Var(u))),
                                      inner.loc))
                stmt.body[i] = ir.Assign(inner.target, ir.Call(
                    ir.Prim(operator.getitem), (ir.Var(batched), ir.Var(stmt.target))), inner.loc)
                changed = True
        body.append(stmt)
    fn.body[:] = body
    return changed


def _row_product(stmt: Any, counter: str, rows: str | None, defs: dict, inside: set) -> tuple | None:
    """(xs, U) when ``stmt`` is ``p = r @ U`` with ``r = xs[counter]``, ``xs`` the array
    the loop counts the rows of, and neither ``xs`` nor ``U`` changed in the loop."""
    if rows is None or not isinstance(stmt, ir.Assign) or not isinstance(stmt.value, ir.Call):
        return None
    call = stmt.value
    if call.callee is not operator.matmul or len(call.args) != 2 or call.kwargs:
        return None
    row, u = call.args
    if not (isinstance(row, ir.Var) and isinstance(u, ir.Var)) or u.id in inside or row.id not in defs:
        return None
    read = defs[row.id].value
    if not (isinstance(read, ir.Call) and read.callee is operator.getitem and len(read.args) == 2
            and isinstance(read.args[0], ir.Var) and read.args[0].id == rows and rows not in inside
            and isinstance(read.args[1], ir.Var) and read.args[1].id == counter):
        return None
    return rows, u.id
