"""temporaries: gast -> gast; a temporary read once, in the next statement (a
cotangent: or a few plain assignments on), is replaced by its expression there, when
all are pure.

>>> import gast
>>> from srcdiff.emit import to_source
>>> fdef = gast.parse('''
... def f(a):
...     _t0 = -a
...     b = math.exp(_t0)
...     return b
... ''').body[0]
>>> print(to_source(inline_temporaries(fdef, lambda expr: True)).strip())
def f(a):
    b = math.exp(-a)
    return b
"""

from __future__ import annotations

import re
from collections.abc import Callable

import gast

from ...emit import loaded_names, walk
from .folding import piece
from .statements import assignments, blocks, is_comment, loads

__all__ = ["inline_temporaries"]

_TEMPORARY = re.compile(r"d?_[tg]\d+$")  # the names made for one operation's result
_CONSUMERS = (gast.Assign, gast.AugAssign, gast.Return, gast.Expr)
_REACH = 6  # statements: how far on a cotangent's one read may be for it to move there


def inline_temporaries(fdef: gast.FunctionDef, is_pure: Callable[[gast.expr], bool]) -> gast.FunctionDef:
    """Put a temporary's expression where it is read, when that is once, in the next
    statement (a cotangent: or a few plain assignments on): ``_t3 = -a`` then ``_t4 =
    math.exp(_t3 * 0.5)`` becomes ``_t4 = math.exp(-a * 0.5)``.  Code made one
    operation per statement reads like written code again, Python stores and loads
    fewer names, and no name keeps the value alive to the end of the function.  Every
    statement involved must be pure (no call with ``out=``), and the ones passed must
    not assign what the expression reads, as it now runs later, in the middle of
    another statement.  A call is not moved into another call's arguments."""
    counts = assignments(fdef)
    reads = loads([fdef])

    def movable(expr: gast.expr) -> bool:
        # (random draws count as pure elsewhere, but their order is the stream's)
        return is_pure(expr) and not any(
            isinstance(n, gast.NamedExpr) or isinstance(n, gast.Call)
            and (any(k.arg == "out" for k in n.keywords) or "random" in _dotted(n.func))
            for n in walk(expr))

    def transparent(stmt: gast.stmt, inputs: set) -> bool:
        """An assignment the expression can be moved past: a plain one, pure, of a
        name the expression does not read."""
        return (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id not in inputs
                and movable(stmt.value))

    for body in blocks(fdef):
        i = 0
        while i < len(body):
            stmt = body[i]
            if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], gast.Name)
                    and _TEMPORARY.match(stmt.targets[0].id)
                    and counts.get(stmt.targets[0].id) == 1 and reads.get(stmt.targets[0].id) == 1):
                i += 1
                continue
            # the statement that reads it: the next, or for a cotangent one a few plain
            # assignments on (a comment between: that is another statement's adjoint;
            # a value of the function stays before the statements that follow it, such
            # as its tangent's)
            reach = _REACH if stmt.targets[0].id[:2] in ("d_", "_g") else 1
            j, inputs = i + 1, None
            while j < len(body) and j - i <= reach and not is_comment(body[j]) and not any(
                    n.id == stmt.targets[0].id for n in loaded_names(body[j])):
                if inputs is None:
                    inputs = {n.id for n in loaded_names(stmt.value)}
                if not transparent(body[j], inputs):
                    break
                j += 1
            if not (j < len(body) and j - i <= reach and isinstance(body[j], _CONSUMERS)
                    and body[j].value is not None and not is_comment(body[j])):
                i += 1
                continue
            ident, consumer = stmt.targets[0].id, body[j]
            use = _read_in(consumer, ident)
            # (a call is not put into another's arguments: nested calls read badly)
            if use is None or use[3] and any(isinstance(n, gast.Call) for n in walk(stmt.value)) \
                    or not (movable(stmt.value) and movable(consumer.value)):
                i += 1
                continue
            parent, field, index, _ = use
            if index is None:
                setattr(parent, field, stmt.value)
            else:
                getattr(parent, field)[index] = stmt.value
            if isinstance(parent, gast.Subscript) and field == "value":
                cut = piece(parent)  # a split cotangent's piece, now written whole
                if cut is not None:
                    _replace_child(consumer, parent, cut)
            del body[i]
            # the statement before now has another next one: look at it again
            i = max(i - 1, 0)
    return fdef


def _replace_child(root: gast.AST, old: gast.AST, new: gast.AST) -> None:
    """Put ``new`` where ``old`` is, below ``root``."""
    for node in walk(root):
        for field in node._fields:
            value = getattr(node, field, None)
            if value is old:
                setattr(node, field, new)
                return
            if type(value) is list and any(v is old for v in value):
                value[[v is old for v in value].index(True)] = new
                return


def _dotted(node: gast.expr) -> str:
    """``np.random.normal`` for that attribute chain; '' for other expressions."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _read_in(consumer: gast.stmt, ident: str) -> tuple | None:
    """(parent, field, index or None, whether inside a call's arguments) of the read of
    ``ident`` in the value of ``consumer``, outside lambdas and comprehensions (which
    run it another number of times); None if none."""
    todo: list = [(consumer, False)]
    while todo:
        node, in_call = todo.pop()
        if isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
                             gast.GeneratorExp)):
            continue
        in_call = in_call or isinstance(node, gast.Call)
        for field in ("value",) if node is consumer else node._fields:
            value = getattr(node, field, None)
            items = value if type(value) is list else (value,)
            for index, child in enumerate(items):
                if isinstance(child, gast.Name) and child.id == ident and isinstance(child.ctx, gast.Load):
                    return node, field, index if type(value) is list else None, in_call
                if isinstance(child, gast.AST):
                    todo.append((child, in_call))
    return None
