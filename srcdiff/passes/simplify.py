"""simplify: gast -> gast; cleans up generated code without changing what it computes.

* ``fold``: constant folding and algebraic identities on one expression, applied to
  each instantiated rule template (``g * 1`` -> ``g``; ``x ** (2 - 1)`` -> ``x``;
  ``a if None is None else b`` -> ``a``).
* ``propagate_copies``: ``a = b`` with both names assigned once: uses of ``a`` read
  ``b`` and the copy goes.
* ``eliminate_dead_code``: assignments to names nobody reads, when the right-hand side
  has no side effects.
* ``inline_temporaries``: a temporary read once, in the next statement (a cotangent:
  or a few plain assignments on), is replaced by its expression there (``_t0 = -a``
  then ``b = math.exp(_t0)`` -> ``b = math.exp(-a)``), when all are pure.
* ``unwrap_floats``: ``float(v)`` goes where ``v`` is certainly a Python float (in
  code made for float arguments).

>>> import gast
>>> from srcdiff.emit import to_source
>>> expr = gast.parse("g * y * x ** (2 - 1) if None is None else 0").body[0].value
>>> print(to_source(fold(expr)).strip())
g * y * x
"""

from __future__ import annotations

import bisect
import operator
import re
from collections import deque
from collections.abc import Callable
from typing import Any

import gast

from ..emit import loaded_names, names, walk

__all__ = ["fold", "propagate_copies", "propagate_constants", "eliminate_dead_code", "simplify",
           "unwrap_floats", "inline_temporaries"]

_ARITH = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
          gast.Div: operator.truediv, gast.Pow: operator.pow}
_CMP = {gast.Is: operator.is_, gast.IsNot: operator.is_not, gast.Eq: operator.eq,
        gast.NotEq: operator.ne}


def _is_const(node: Any, *values: Any) -> bool:
    if not isinstance(node, gast.Constant):
        return False
    if not values:
        return True
    return any(type(node.value) is type(v) and node.value == v for v in values) or any(
        isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        and isinstance(v, (int, float)) and node.value == v for v in values
    )


def _number(node: Any) -> Any:
    if (isinstance(node, gast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _num_const(value: Any) -> gast.expr:
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


class _Transformer(gast.NodeTransformer):
    """NodeTransformer cut down to what the rewrites here do, for speed (fold runs on
    every instantiated rule template and every generated statement): a visit returns a
    node, never None or a list."""

    _visitors: dict = {}  # node class -> visit_ method

    def __init_subclass__(cls) -> None:
        # (NodeVisitor's own visit_Constant only looks for the visit_Num of old Pythons)
        cls._visitors = {getattr(gast, name.removeprefix("visit_")): method
                         for klass in reversed(cls.__mro__) if issubclass(klass, _Transformer)
                         for name, method in vars(klass).items() if name.startswith("visit_")}

    def visit(self, node: gast.AST) -> gast.AST:
        method = self._visitors.get(type(node))
        return self.generic_visit(node) if method is None else method(self, node)

    def generic_visit(self, node: gast.AST) -> gast.AST:
        # (nodes without fields, contexts and operators, have no visit_ method here)
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                value[:] = [self.visit(v) if isinstance(v, gast.AST) else v for v in value]
            elif isinstance(value, gast.AST) and value._fields:
                setattr(node, field, self.visit(value))
        return node


class _Folder(_Transformer):
    def visit_Subscript(self, node: gast.Subscript) -> gast.expr:
        self.generic_visit(node)
        piece = _piece(node)
        return node if piece is None else piece

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        left, right = _number(node.left), _number(node.right)
        op = type(node.op)
        if left is not None and right is not None and op in _ARITH:
            try:
                return _num_const(_ARITH[op](left, right))
            except (ZeroDivisionError, OverflowError):
                return node
        if op is gast.Mult:
            if right == 1:
                return node.left
            if left == 1:
                return node.right
        if op is gast.Pow and right == 1:
            return node.left
        if op is gast.Div and right == 1:
            return node.left
        if op in (gast.Add, gast.Sub) and right == 0 and not isinstance(right, bool):
            return node.left
        if op is gast.Add and isinstance(node.right, gast.UnaryOp) and isinstance(node.right.op, gast.USub):
            return gast.BinOp(left=node.left, op=gast.Sub(), right=node.right.operand)  # a + -b -> a - b
        return node

    def visit_UnaryOp(self, node: gast.UnaryOp) -> gast.expr:
        self.generic_visit(node)
        if isinstance(node.op, gast.Not) and _is_const(node.operand):
            return gast.Constant(value=not node.operand.value, kind=None)
        inner = node.operand
        if (isinstance(node.op, gast.USub) and isinstance(inner, gast.UnaryOp)
                and isinstance(inner.op, gast.USub)):
            return node.operand.operand
        return node

    def visit_Compare(self, node: gast.Compare) -> gast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1 and type(node.ops[0]) in (gast.Is, gast.IsNot):
            # a tuple or list display is never None: (1, 0, 2) is None -> False
            left, right = node.left, node.comparators[0]
            if (isinstance(left, (gast.Tuple, gast.List)) and _is_const(right, None)
                    or isinstance(right, (gast.Tuple, gast.List)) and _is_const(left, None)):
                return gast.Constant(value=isinstance(node.ops[0], gast.IsNot), kind=None)
        if len(node.ops) == 1 and type(node.ops[0]) in _CMP:
            left, right = node.left, node.comparators[0]
            if _is_const(left) and _is_const(right):
                return gast.Constant(value=bool(_CMP[type(node.ops[0])](left.value, right.value)), kind=None)
        return node

    def visit_BoolOp(self, node: gast.BoolOp) -> gast.expr:
        self.generic_visit(node)
        is_and = isinstance(node.op, gast.And)
        kept = []
        for value in node.values:
            if _is_const(value):
                if bool(value.value) != is_and:  # False in and / True in or decides
                    return gast.Constant(value=value.value, kind=None)
                continue
            kept.append(value)
        if not kept:
            return gast.Constant(value=is_and, kind=None)
        if len(kept) == 1:
            return kept[0]
        node.values = kept
        return node

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        self.generic_visit(node)
        if _is_const(node.test):
            return node.body if node.test.value else node.orelse
        return node

    def visit_Call(self, node: gast.Call) -> gast.expr:
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, gast.Name) and func.id == "unbroadcast" and node.args
                and isinstance(node.args[0], gast.UnaryOp) and isinstance(node.args[0].op, gast.USub)):
            # negate after summing: the sum is the smaller array
            node.args[0] = node.args[0].operand
            return gast.UnaryOp(op=gast.USub(), operand=node)
        if isinstance(func, gast.Name) and func.id == "literal" and len(node.args) == 1:
            return gast.Constant(value=_number(node.args[0]) is not None, kind=None)
        if isinstance(func, gast.Name) and func.id == "isinstance" and len(node.args) == 2:
            value, types = node.args
            if isinstance(value, (gast.List, gast.Tuple)) and isinstance(types, gast.Tuple):
                names = {t.id for t in types.elts if isinstance(t, gast.Name)}
                if names == {"list", "tuple"}:
                    return gast.Constant(value=True, kind=None)
        return node


def _piece(node: gast.Subscript) -> gast.expr | None:
    """``unconcatenate_to(g, ((1,), (15,)), 0)[1]``, one piece of a cotangent split at
    shapes written in the code, is the slice ``g[1:16]`` (negated after slicing, the
    smaller array, when ``g`` is negated)."""
    call, index = node.value, node.slice
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)
            and call.func.id == "unconcatenate_to" and len(call.args) == 3 and not call.keywords
            and isinstance(index, gast.Constant) and type(index.value) is int):
        return None
    g, shapes, axis = call.args
    shapes = _literal_shapes(shapes)
    axis = _number(axis)
    if shapes is None or type(axis) is not int or not 0 <= index.value < len(shapes):
        return None
    rank = len(shapes[0])
    if not (-rank <= axis < rank) or any(len(shape) != rank for shape in shapes):
        return None
    axis %= rank
    start = sum(shape[axis] for shape in shapes[:index.value])
    cut = gast.Slice(lower=gast.Constant(value=start, kind=None),
                     upper=gast.Constant(value=start + shapes[index.value][axis], kind=None), step=None)
    where: gast.expr = cut if axis == 0 else gast.Tuple(
        elts=[gast.Slice(lower=None, upper=None, step=None)] * axis + [cut], ctx=gast.Load())
    negated = isinstance(g, gast.UnaryOp) and isinstance(g.op, gast.USub)
    piece = gast.Subscript(value=g.operand if negated else g, slice=where, ctx=gast.Load())
    return gast.UnaryOp(op=gast.USub(), operand=piece) if negated else piece


def _literal_shapes(node: gast.expr) -> list | None:
    """The shapes of a tuple or list display of tuples of int literals."""
    if not isinstance(node, (gast.Tuple, gast.List)) or not node.elts:
        return None
    shapes = []
    for item in node.elts:
        if not isinstance(item, gast.Tuple) or not item.elts:
            return None
        shape = tuple(_number(e) for e in item.elts)
        if not all(type(n) is int and n >= 0 for n in shape):
            return None
        shapes.append(shape)
    return shapes


def fold(expr: gast.expr) -> gast.expr:
    """Fold constants and drop identities in one expression."""
    return _Folder().visit(expr)


def _assignments(fdef: gast.FunctionDef) -> dict[str, int]:
    """How often each name is bound: parameters, assignment and loop targets, nested
    functions (their names and parameters).  Only statements are visited."""
    counts: dict[str, int] = {}

    def bind(target: gast.AST) -> None:
        for node in (target,) if isinstance(target, gast.Name) else walk(target):
            if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Param)):
                counts[node.id] = counts.get(node.id, 0) + 1

    def parameters(args: gast.arguments) -> None:
        for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if a is not None:
                bind(a)

    parameters(fdef.args)
    for body in _blocks(fdef):
        for stmt in body:
            if isinstance(stmt, gast.Assign):
                for target in stmt.targets:
                    bind(target)
            elif isinstance(stmt, (gast.AugAssign, gast.For)):
                bind(stmt.target)
            elif isinstance(stmt, gast.FunctionDef):
                counts[stmt.name] = counts.get(stmt.name, 0) + 1
                parameters(stmt.args)
    return counts


_NESTED = (gast.FunctionDef, gast.For, gast.While, gast.If)


def _blocks(fdef: gast.AST) -> list[list]:
    """Every statement list in the function: bodies of functions, branches and loops
    (found by visiting statements only, not expressions)."""
    out = []
    todo = deque([fdef])
    while todo:
        node = todo.popleft()
        lists = [node.body, node.orelse] if isinstance(node, gast.If) else [node.body]
        for block in lists:
            out.append(block)
            todo.extend(s for s in block if isinstance(s, _NESTED))
    return out


def _loads(nodes: list) -> dict[str, int]:
    counts: dict[str, int] = {}
    for stmt in nodes:
        for n in loaded_names(stmt):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def propagate_constants(fdef: gast.FunctionDef, primal: frozenset = frozenset()) -> gast.FunctionDef:
    """After ``a = 1.0`` with ``a`` assigned once, read the constant for ``a``; what
    folds to a constant then (``b = -a``) is read as one in turn.

    Statements that assign names in ``primal`` (the user's own computation) read the
    constant but are not folded: ``1.0 * n`` there makes an int ``n`` a float, and must
    stay as the user wrote it."""
    counts = _assignments(fdef)
    constants: dict[str, Any] = {}

    class Replace(_Transformer):
        def visit_Name(self, node: gast.Name) -> gast.expr:
            if isinstance(node.ctx, gast.Load) and node.id in constants:
                return _num_const(constants[node.id])
            return node

    replace = Replace()
    for body in _blocks(fdef):  # outer blocks first: a constant is mostly made there
        for stmt in body:
            if isinstance(stmt, _NESTED):  # its own blocks come later
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
                value = _number(stmt.value)
                if type(value) in (int, float):
                    constants[stmt.targets[0].id] = value
    return fdef


def propagate_copies(fdef: gast.FunctionDef) -> gast.FunctionDef:
    """After ``a = b`` with ``a`` and ``b`` each assigned once, read ``b`` for ``a``.

    Only when every read of ``a`` follows the copy in its own block, so the rewrite
    is also right inside loops.
    """
    counts = _assignments(fdef)
    total = _loads([fdef])
    renames: dict[str, str] = {}
    blocks = _blocks(fdef)
    # names copied on (c = a): a copy of a reassigned b is read through only where no
    # such chain could carry b's name past b's next assignment
    copied = {s.value.id for body in blocks for s in body
              if isinstance(s, gast.Assign) and isinstance(s.value, gast.Name)}
    for body in blocks:
        # where each name is first read in this block (nested statements included),
        # and how often: one walk per block, not one per copy
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        reads: dict[str, int] = {}
        stored: dict[str, list] = {}  # where each name is assigned, in this block
        for i, stmt in enumerate(body):
            for n in names(stmt):
                if isinstance(n.ctx, gast.Load):
                    first.setdefault(n.id, i)
                    last[n.id] = i
                    reads[n.id] = reads.get(n.id, 0) + 1
                else:
                    stored.setdefault(n.id, []).append(i)
        for i, stmt in enumerate(body):
            if (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Name)):
                a, b = stmt.targets[0].id, stmt.value.id
                # every read of a follows the copy, in this block
                if not (counts.get(a) == 1 and a != b and reads.get(a, 0) == total.get(a, 0)
                        and first.get(a, len(body)) > i):
                    continue
                if counts.get(b, 0) > 1:
                    # b assigned again: not before a's last read (a plain assignment
                    # of b in that statement comes after its reads)
                    if a in copied:
                        continue
                    end = last.get(a, i)
                    where = stored.get(b, [])
                    after = bisect.bisect_right(where, i)  # b's first assignment after the copy
                    k = where[after] if after < len(where) else None
                    if k is not None and (k < end or k == end and not isinstance(
                            body[k], (gast.Assign, gast.AugAssign))):
                        continue
                renames[a] = b
    if not renames:
        return fdef

    def final(n: str) -> str:
        seen = set()
        while n in renames and n not in seen:
            seen.add(n)
            n = renames[n]
        return n

    for body in blocks:
        body[:] = [
            s for s in body
            if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and s.targets[0].id in renames and isinstance(s.value, gast.Name))
        ]
    for node in loaded_names(fdef):
        if node.id in renames:
            node.id = final(node.id)
    return fdef


def eliminate_dead_code(fdef: gast.FunctionDef, is_pure: Callable[[gast.expr], bool]) -> gast.FunctionDef:
    """Drop assignments whose targets are never read and whose values are pure, then
    branches and loops left with nothing to do.

    Linear in the size of the function: reads are counted once, and removing an
    assignment takes its own reads off the counts, which may make the assignments of
    those names dead in turn (a worklist, not a walk of the whole function per round).
    """
    while True:
        reads = _loads([fdef])
        definitions: dict[str, list] = {}  # name -> pure single-name assignments of it
        for body in _blocks(fdef):
            for stmt in body:
                if (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], gast.Name) and is_pure(stmt.value)):
                    definitions.setdefault(stmt.targets[0].id, []).append(stmt)
        dead: set = set()  # ids of removed statements
        todo = [n for n in definitions if not reads.get(n)]
        while todo:
            for stmt in definitions.pop(todo.pop(), ()):
                dead.add(id(stmt))
                for n in loaded_names(stmt.value):
                    reads[n.id] -= 1
                    if not reads[n.id] and n.id in definitions:
                        todo.append(n.id)
        emptied = False
        for body in _blocks(fdef):
            kept = []
            for stmt in body:
                if id(stmt) in dead:
                    continue
                if _empty(stmt) and is_pure(stmt.test if isinstance(stmt, gast.If) else stmt.iter):
                    emptied = True  # what its test or iterable read may be dead now
                    continue
                kept.append(stmt)
            body[:] = kept
        if not emptied:
            break
    for body in _blocks(fdef):
        # a comment left with nothing after it, before the next comment, goes too
        body[:] = [s for i, s in enumerate(body) if not (_is_comment(s) and (
            i + 1 == len(body) or _is_comment(body[i + 1]) or isinstance(body[i + 1], gast.Return)))]
    for body in _blocks(fdef):
        for stmt in body:
            if isinstance(stmt, _NESTED) and not stmt.body:
                stmt.body.append(gast.Pass())
    if not fdef.body:
        fdef.body.append(gast.Pass())
    return fdef


def _empty(stmt: gast.stmt) -> bool:
    """A branch or a for loop (over a pure iterable) whose body does nothing."""
    def nothing(block: list) -> bool:
        return all(isinstance(s, gast.Pass) or _is_comment(s) for s in block)

    if isinstance(stmt, gast.If):
        return nothing(stmt.body) and nothing(stmt.orelse)
    if isinstance(stmt, gast.For):
        return nothing(stmt.body) and not stmt.orelse
    return False


def _is_comment(stmt: gast.stmt) -> bool:
    return (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant)
            and isinstance(stmt.value.value, str) and stmt.value.value.startswith("#srcdiff#"))


def simplify(fdef: gast.FunctionDef, is_pure: Callable[[gast.expr], bool],
             primal: frozenset = frozenset()) -> gast.FunctionDef:
    """All whole-function simplifications, in order (``primal``: the names of the
    user's own values, whose arithmetic is kept as written)."""
    fdef = propagate_copies(fdef)
    fdef = propagate_constants(fdef, primal)
    fdef = propagate_copies(fdef)  # folding constants makes copies (1.0 * x -> x)
    fdef = eliminate_dead_code(fdef, is_pure)
    return fdef


# math functions whose result is a float for any numbers (not floor, ceil, factorial, ...)
_MATH_FLOATS = frozenset(
    "sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp expm1 exp2 log "
    "log1p log2 log10 sqrt cbrt pow hypot fabs copysign erf erfc gamma lgamma degrees "
    "radians fmod remainder ldexp fsum".split())
_FLOAT_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)


def unwrap_floats(fdef: gast.FunctionDef, floats: set) -> bool:
    """Drop ``float(v)`` where ``v`` is certainly a Python float already, given that
    the parameters ``floats`` are: float literals, math functions, and arithmetic with
    a float operand and a number or float other (``**`` only to an int power, as a
    negative number to a fractional one is complex).  Flow-insensitive: a name is a
    float when every assignment to it makes one.  Returns whether any call went."""
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
    dropped = False
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
                    dropped = True
    return dropped


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
    counts = _assignments(fdef)
    reads = _loads([fdef])

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

    for body in _blocks(fdef):
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
            while j < len(body) and j - i <= reach and not _is_comment(body[j]) and not any(
                    n.id == stmt.targets[0].id for n in loaded_names(body[j])):
                if inputs is None:
                    inputs = {n.id for n in loaded_names(stmt.value)}
                if not transparent(body[j], inputs):
                    break
                j += 1
            if not (j < len(body) and j - i <= reach and isinstance(body[j], _CONSUMERS)
                    and body[j].value is not None and not _is_comment(body[j])):
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
                piece = _piece(parent)  # a split cotangent's piece, now written whole
                if piece is not None:
                    _replace_child(consumer, parent, piece)
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
