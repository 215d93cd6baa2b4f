"""floats: gast -> gast; ``float(v)`` goes where ``v`` is certainly a Python float
already (in code made for float arguments).

>>> import gast
>>> from srcdiff.emit import to_source
>>> fdef = gast.parse('''
... def f(x, n):
...     y = math.sin(x) * 2
...     return float(y), float(n)
... ''').body[0]
>>> used = []
>>> fdef = unwrap_floats(fdef, {"x"}, used)
>>> used  # (the code holds while x is a Python float)
[True]
>>> print(to_source(fdef).strip())
def f(x, n):
    y = math.sin(x) * 2
    return (y, float(n))
"""

from __future__ import annotations

from typing import Any

import gast

from ...emit import walk

__all__ = ["unwrap_floats"]

# math functions whose result is a float for any numbers (not floor, ceil, factorial, ...)
_MATH_FLOATS = frozenset(
    "sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp expm1 exp2 log "
    "log1p log2 log10 sqrt cbrt pow hypot fabs copysign erf erfc gamma lgamma degrees "
    "radians fmod remainder ldexp fsum".split())
_FLOAT_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)


def unwrap_floats(fdef: gast.FunctionDef, floats: set, used: list | None = None) -> gast.FunctionDef:
    """Drop ``float(v)`` where ``v`` is certainly a Python float already, given that
    the parameters ``floats`` are: float literals, math functions, and arithmetic with
    a float operand and a number or float other (``**`` only to an int power, as a
    negative number to a fractional one is complex).  Flow-insensitive: a name is a
    float when every assignment to it makes one.  Each ``float(...)`` dropped is noted in
    ``used``: the code then holds while those parameters are Python floats."""
    assigned: dict[str, list] = {}
    seen: set = set()  # target names with their assignment noted
    for node in walk(fdef):
        if isinstance(node, gast.Assign):
            for target in node.targets:
                if isinstance(target, gast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
                    seen.add(target)
        elif isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            assigned.setdefault(node.target.id, []).append(
                gast.BinOp(left=node.target, op=node.op, right=node.value)
                if isinstance(node.op, _FLOAT_OPS) else None)
            seen.add(node.target)
        elif isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load) and node not in seen:
            if not isinstance(node.ctx, gast.Param) or node.id not in floats:
                assigned.setdefault(node.id, []).append(None)  # a loop target, a parameter ...
    known = {n for n in floats if n not in assigned} | set(assigned)

    def is_float(e: Any, number_ok: bool = False) -> bool:
        if isinstance(e, gast.Constant):
            return type(e.value) is float or (number_ok and type(e.value) is int)
        if isinstance(e, gast.Name):
            return e.id in known
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
            return is_float(e.operand, number_ok)
        if isinstance(e, gast.BinOp):
            if isinstance(e.op, gast.Pow):
                return (is_float(e.left) and isinstance(e.right, gast.Constant)
                        and type(e.right.value) is int)
            return isinstance(e.op, _FLOAT_OPS) and (
                is_float(e.left) and is_float(e.right, True)
                or is_float(e.left, True) and is_float(e.right))
        if isinstance(e, gast.Call) and not e.keywords and isinstance(e.func, gast.Attribute):
            return (isinstance(e.func.value, gast.Name) and e.func.value.id == "math"
                    and "math" not in assigned and e.func.attr in _MATH_FLOATS
                    and all(is_float(a, True) for a in e.args))
        return False

    # The greatest set of names that only ever hold floats: a worklist, so that each
    # name is dropped once and only the readers of a dropped name are looked at again.
    readers: dict[str, set] = {}
    for ident, values in assigned.items():
        for value in values:
            if value is not None:
                for n in walk(value):
                    if isinstance(n, gast.Name):
                        readers.setdefault(n.id, set()).add(ident)
    todo = list(assigned)
    while todo:
        ident = todo.pop()
        if ident in known and not all(v is not None and is_float(v) for v in assigned[ident]):
            known.discard(ident)
            todo.extend(readers.get(ident, ()))
    for node in walk(fdef):
        for field in node._fields:
            value = getattr(node, field, None)
            items = value if type(value) is list else [value]
            for i, child in enumerate(items):
                if (isinstance(child, gast.Call) and isinstance(child.func, gast.Name)
                        and child.func.id == "float" and "float" not in assigned
                        and len(child.args) == 1 and not child.keywords
                        and isinstance(child.args[0], gast.Name) and child.args[0].id in known):
                    if type(value) is list:
                        value[i] = child.args[0]
                    else:
                        setattr(node, field, child.args[0])
                    if used is not None:
                        used.append(True)
    return fdef
