"""inplace: gast -> gast; an array the code made and reads no more holds the next result.

``_t1 = _t0 + b1`` allocates a new array although ``_t0``, a product the generated
code just made, is never read again.  Where this pass can tell that

* the operand is an array the function made itself (the result of arithmetic or a
  NumPy ufunc, assigned once, at the top level), so nothing else shares its memory,
* every other read of it makes a new array too (it never escapes into a view, a
  container, a helper or the result),
* no statement after this one reads it,
* its shape is the result's, and both are float64 (shapes and dtypes known: a
  derivative specialised to float64 arguments of known shapes),

the statement writes into the operand instead: ``_t1 = np.add(_t0, b1, out=_t0)``.
A hand-written gradient does the same with ``+=`` and ``out=``; for large arrays it
saves allocations and the page faults of memory handed back to the system and
taken again.

>>> import gast
>>> from srcdiff.emit import to_source
>>> tree = gast.parse('''
... def grad_f(x, W, b):
...     _t0 = x @ W
...     _t1 = _t0 + b
...     h = np.tanh(_t1)
...     return h
... ''').body[0]
>>> shapes = {"x": (4, 3), "W": (3, 2), "b": (2,)}
>>> print(to_source(reuse(tree, shapes, {"x", "W", "b"})).strip())
def grad_f(x, W, b):
    _t0 = x @ W
    _t1 = np.add(_t0, b, out=_t0)
    h = np.tanh(_t1, out=_t1)
    return h
"""

from __future__ import annotations

import math
from typing import Any

import gast
import numpy as np

from ..emit import statements, walk
from .shapes import broadcast, expanded, matmul_shape, reduced_shape

__all__ = ["reuse"]

_UFUNCS = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply", gast.Div: "true_divide"}
_UNARY = {gast.USub: "negative"}
_VIEW_FREE_ATTRS = {"shape", "ndim", "size", "dtype"}
_REDUCING = {"sum", "mean", "max", "min", "prod", "var", "std"}


def _np_function(node: gast.expr) -> str | None:
    """``name`` when ``node`` is a call ``np.name(...)``."""
    if (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
            and isinstance(node.func.value, gast.Name) and node.func.value.id == "np"):
        return node.func.attr
    return None


def _ufunc(node: gast.expr) -> np.ufunc | None:
    """The NumPy ufunc a call names (``np.tanh``), if it is one and has no ``out``."""
    attr = _np_function(node)
    if attr is not None and not node.keywords:
        found = getattr(np, attr, None)
        if isinstance(found, np.ufunc) and found.nout == 1:
            return found
    return None


class _Facts:
    """Shapes and float64-ness of the names of a generated function, and of the
    expressions over them."""

    def __init__(self, fdef: gast.FunctionDef, shapes: dict, float64: set):
        self.params = {a.id for a in fdef.args.args}
        ordered = list(statements(fdef.body))
        stores: dict[str, int] = {}
        simple: dict[str, list] = {}  # name -> its plain assignments (``n = ...``, ``n += ...``)
        for stmt in ordered:
            targets = _targets(stmt)
            for target in targets:
                for node in walk(target):
                    if isinstance(node, gast.Name):
                        stores[node.id] = stores.get(node.id, 0) + 1
            if isinstance(stmt, (gast.Assign, gast.AugAssign)) and len(targets) == 1 \
                    and isinstance(targets[0], gast.Name):
                simple.setdefault(targets[0].id, []).append(stmt)
        self.once = {n for n, c in stores.items() if c == 1}
        # Names assigned in any other way (unpacked from a loop's saved values, say) may
        # hold something else than what a shape class says: only the others are known.
        plain = {n for n, found in simple.items() if len(found) == stores[n]} | self.params
        self.shapes = {n: s for n, s in shapes.items() if isinstance(s, tuple) and n in plain}
        self.float64 = set(float64)
        self.ints = set()  # names holding real Python numbers: x.shape[0], 1.0 / n
        sizes = set()  # names holding np.shape(x)
        inferred: dict[str, Any] = {}
        conflicted: set = set()
        for node in ordered:  # program order: a name is known before it is read
            if not isinstance(node, (gast.Assign, gast.AugAssign)):
                continue
            targets = _targets(node)
            if len(targets) != 1 or not isinstance(targets[0], gast.Name):
                continue
            target = targets[0].id
            if target not in plain or target in self.params or target in conflicted:
                continue
            if isinstance(node, gast.Assign) and target in self.once:
                if _is_size(node.value, sizes):
                    self.ints.add(target)
                    continue
                if _np_function(node.value) == "shape":
                    sizes.add(target)
                    continue
            if isinstance(node, gast.Assign):
                if target in self.once and self.real(node.value):
                    self.ints.add(target)  # (a real number, not only an int)
                    continue
                facts = (self.shape(node.value), self.is_float64(node.value))
            else:  # an update in place keeps the array's shape and dtype
                facts = (inferred.get(target, (None, False))[0],
                         inferred.get(target, (None, False))[1] and self.is_float64(node.value))
            if inferred.setdefault(target, facts) != facts:
                conflicted.add(target)
                self.shapes.pop(target, None)  # (even a shape class: the name is reused)
                self.float64.discard(target)
                continue
            if facts[0] is not None and target not in self.shapes:
                self.shapes[target] = facts[0]
            if facts[1]:
                self.float64.add(target)

    def shape(self, node: gast.expr) -> tuple | None:
        if isinstance(node, gast.Name):
            return () if node.id in self.ints else self.shapes.get(node.id)
        if isinstance(node, gast.Constant) and _real(node.value):
            return ()
        if isinstance(node, gast.BinOp):
            left, right = self.shape(node.left), self.shape(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, gast.MatMult):
                return matmul_shape(left, right)
            return broadcast([left, right])
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            return self.shape(node.operand)
        if isinstance(node, gast.Attribute) and node.attr == "T":
            inner = self.shape(node.value)
            return None if inner is None else inner[::-1]
        reduction = _reduction(node)
        if reduction is not None:
            operand, axis, keepdims = reduction
            inner = self.shape(operand)
            return None if inner is None else reduced_shape(inner, axis, keepdims)
        if _np_function(node) == "expand_dims" and len(node.args) == 2 and not node.keywords \
                and isinstance(node.args[1], gast.Constant):
            return expanded(self.shape(node.args[0]), node.args[1].value)
        if _ufunc(node) is not None:
            return broadcast([self.shape(a) for a in node.args])
        return None

    def is_float64(self, node: gast.expr) -> bool:
        """Whether an expression is certainly float64 (an array, or a NumPy or Python
        float): float64 operands and real Python numbers only, one float64 at least."""
        if isinstance(node, gast.Name):
            return node.id in self.float64
        if isinstance(node, gast.BinOp):
            sides = (node.left, node.right)
            return (all(self.is_float64(s) or self.real(s) for s in sides)
                    and any(self.is_float64(s) for s in sides))
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            return self.is_float64(node.operand)
        if isinstance(node, gast.Attribute) and node.attr == "T":
            return self.is_float64(node.value)
        reduction = _reduction(node)
        if reduction is not None:
            return self.is_float64(reduction[0])
        if _np_function(node) == "expand_dims" and node.args:
            return self.is_float64(node.args[0])
        ufunc = _ufunc(node)
        if ufunc is not None and ufunc.__name__ not in ("equal", "not_equal", "less", "less_equal",
                                                        "greater", "greater_equal", "isnan", "isinf",
                                                        "isfinite", "signbit", "logical_and",
                                                        "logical_or", "logical_not", "logical_xor"):
            return (all(self.is_float64(a) or self.real(a) for a in node.args)
                    and any(self.is_float64(a) for a in node.args))
        return False


    def real(self, node: gast.expr) -> bool:
        """A real Python number: a literal, an int like ``x.shape[0]``, or arithmetic
        on those (``1.0 / n``)."""
        if isinstance(node, gast.Name):
            return node.id in self.ints
        if isinstance(node, gast.BinOp) and not isinstance(node.op, gast.MatMult):
            return self.real(node.left) and self.real(node.right)
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            return self.real(node.operand)
        return _real_constant(node)


def _reduction(node: gast.expr) -> tuple | None:
    """(operand, axis, keepdims) of ``np.sum(a, axis=1, keepdims=True)``,
    ``a.sum(axis=1)`` and the like, with literal options; None for anything else."""
    if not isinstance(node, gast.Call) or not isinstance(node.func, gast.Attribute) \
            or node.func.attr not in _REDUCING:
        return None
    if _np_function(node) is not None:  # np.sum(a, ...)
        if not node.args:
            return None
        operand, rest = node.args[0], node.args[1:]
    else:  # a.sum(...)
        operand, rest = node.func.value, node.args
    options = dict(zip(("axis",), rest))
    if len(rest) > 1:
        return None
    for keyword in node.keywords:
        if keyword.arg not in ("axis", "keepdims"):
            return None
        options[keyword.arg] = keyword.value
    values = {}
    for key, value in options.items():
        if isinstance(value, gast.Constant):
            values[key] = value.value
        elif isinstance(value, gast.Tuple) and all(isinstance(e, gast.Constant) for e in value.elts):
            values[key] = tuple(e.value for e in value.elts)
        else:
            return None
    return operand, values.get("axis"), values.get("keepdims", False)


def _is_size(node: gast.expr, sizes: set) -> bool:
    """``len(x)``, ``np.size(x)``, ``x.size``, ``x.ndim``, or ``s[0]`` of ``s = np.shape(x)``."""
    if isinstance(node, gast.Subscript):
        return (isinstance(node.value, gast.Name) and node.value.id in sizes
                and isinstance(node.slice, gast.Constant) and type(node.slice.value) is int)
    if isinstance(node, gast.Attribute):
        return node.attr in ("size", "ndim")
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
        return node.func.id == "len" and len(node.args) == 1
    return _np_function(node) in ("size", "ndim")


def _targets(stmt: gast.stmt) -> list:
    """The expressions a statement stores to."""
    if isinstance(stmt, gast.Assign):
        return stmt.targets
    if isinstance(stmt, (gast.AugAssign, gast.AnnAssign, gast.For)):
        return [stmt.target]
    return []


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _real_constant(node: gast.expr) -> bool:
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        node = node.operand
    return isinstance(node, gast.Constant) and _real(node.value)


def _fresh(value: gast.expr) -> bool:
    """Whether an assigned value is certainly a new array when it is an array: the
    result of arithmetic or of a NumPy ufunc (never a view of something else)."""
    if isinstance(value, gast.BinOp):
        return True
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
        return True
    return _ufunc(value) is not None


def _index(fdef: gast.FunctionDef) -> tuple[dict, dict, dict]:
    """In one walk: each node's parent, and for each name the indices of the top-level
    statements that read it and the ``Name`` nodes that do."""
    parents: dict = {}
    where: dict[str, list] = {}
    loads: dict[str, list] = {}
    tree = gast.AST
    for i, stmt in enumerate(fdef.body):
        todo = [stmt]
        while todo:
            node = todo.pop()
            if type(node) is gast.Name:
                if type(node.ctx) is gast.Load:
                    where.setdefault(node.id, []).append(i)
                    loads.setdefault(node.id, []).append(node)
                continue
            for field in node._fields:
                value = getattr(node, field, None)
                for child in value if type(value) is list else (value,):
                    if isinstance(child, tree):
                        parents[child] = node
                        todo.append(child)
    return parents, where, loads


def _contained(node: gast.AST, parents: dict) -> bool:
    """Whether a read of a name makes a new value and keeps no reference to the array:
    an operand of arithmetic, a comparison or a ufunc, a reduction, or ``.shape``."""
    parent = parents.get(node)
    if isinstance(parent, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True
    if isinstance(parent, gast.Call):
        if _np_function(parent) in _REDUCING:
            return bool(parent.args) and parent.args[0] is node  # np.sum(a, ...): a new value
        return _ufunc(parent) is not None and node in parent.args
    if isinstance(parent, gast.Attribute):
        if parent.attr in _VIEW_FREE_ATTRS:
            return True
        if parent.attr == "T":  # a view, but one that is only read where it is made
            return _contained(parent, parents)
        call = parents.get(parent)
        return (parent.attr in _REDUCING and isinstance(call, gast.Call) and call.func is parent)
    return False


def reuse(fdef: gast.FunctionDef, shapes: dict, float64: set, used: list | None = None) -> gast.FunctionDef:
    """Write results into arrays the function made and reads no more (see the module
    docstring); ``shapes``: name -> shape class (tuples are known shapes), ``float64``:
    the parameters that are float64 arrays or Python floats.  Each operation written in
    place is noted in ``used``: it holds for those shapes and dtypes only."""
    if not any(shapes.get(p) for p in float64):  # no array arguments: nothing to reuse
        return fdef
    facts = _Facts(fdef, shapes, float64)
    parents, where, loads = _index(fdef)
    made = {}  # name -> top-level index of its (only) assignment, for fresh arrays
    for i, stmt in enumerate(fdef.body):
        if (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id in facts.once
                and _fresh(stmt.value)):
            made[stmt.targets[0].id] = i
    params = {a.id for a in fdef.args.args}
    context = (facts, parents, where, loads, made, params)
    for i, stmt in enumerate(fdef.body):
        if (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], gast.Name)):
            stmt.value, count = _statement(stmt.value, i, context)
            if used is not None:
                used.extend([True] * count)
    return fdef


def _statement(value: gast.expr, i: int, context: tuple) -> tuple[gast.expr, int]:
    """The value of top-level statement ``i`` with its operations written into arrays
    where they can be, and how many were.  Each operation, innermost first, may write
    into an operand the statement reads nowhere else (its other operations run before
    or after this one, and must not see the array changed)."""
    facts, parents, where, loads, made, params = context
    here: dict[str, int] = {}
    for node in walk(value):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            here[node.id] = here.get(node.id, 0) + 1
    if not any(name in made and max(where[name]) == i for name in here):
        return value, 0  # no array this statement reads for the last time
    known = {}  # node -> (shape, float64), from the statement as it was
    for node in walk(value):
        if _operation(node) is not None:
            known[node] = (facts.shape(node), facts.is_float64(node))
    written: dict = {}  # an operation already rewritten -> the array it writes
    count = 0

    def writable(name: str | None, result: tuple, node: gast.expr) -> bool:
        return (name is not None and name not in params and name in made and made[name] < i
                and max(where[name]) == i and facts.shapes.get(name) == result
                and name in facts.float64
                and here[name] == sum(isinstance(o, gast.Name) and o.id == name for o in _operation(node)[0])
                and all(_contained(n, parents) for n in loads[name]))

    def rewrite(node: gast.expr) -> gast.expr:
        nonlocal count
        found = _operation(node)
        if found is None:
            return node
        operands, ufunc = found
        operands = [rewrite(o) for o in operands]
        result, double = known[node]
        if result and double:
            for operand in operands:
                name = operand.id if isinstance(operand, gast.Name) else None
                if name is None and facts.shapes.get(written.get(id(operand))) == result:
                    name = written[id(operand)]  # the operand's result is that array: write it again
                elif not writable(name, result, node):
                    continue
                here[name] = -1  # written: no other operation may write it too
                count += 1
                call = _np_call(ufunc, operands, name)
                written[id(call)] = name
                return call
        _set_operands(node, operands)
        return node

    return rewrite(value), count


def _operation(node: gast.expr) -> tuple | None:
    """(operands, ufunc name) of an element-wise operation that could write into an
    operand: ``a + b``, ``-a``, ``np.tanh(a)``; None for anything else."""
    if isinstance(node, gast.BinOp) and type(node.op) in _UFUNCS:
        return [node.left, node.right], _UFUNCS[type(node.op)]
    if isinstance(node, gast.UnaryOp) and type(node.op) in _UNARY:
        return [node.operand], _UNARY[type(node.op)]
    if _ufunc(node) is not None and node.func.attr != "matmul":
        return list(node.args), node.func.attr
    return None


def _set_operands(node: gast.expr, operands: list) -> None:
    if isinstance(node, gast.BinOp):
        node.left, node.right = operands
    elif isinstance(node, gast.UnaryOp):
        node.operand = operands[0]
    else:
        node.args = operands


def _load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _np_call(ufunc: str, operands: list, out: str) -> gast.Call:
    """``np.<ufunc>(*operands, out=out)``."""
    return gast.Call(func=gast.Attribute(value=_load("np"), attr=ufunc, ctx=gast.Load()), args=operands,
                     keywords=[gast.keyword(arg="out", value=_load(out))])
