"""fence: gast -> gast, unchanged; rejects what srcdiff does not support.

Runs before anything else looks at the function, so an unsupported construct is
reported once, at its own line, with what to write instead.

>>> import gast
>>> from srcdiff.passes.parse import parse
>>> def f(x):
...     with open("log") as fh:
...         return x
>>> check(parse(f))
Traceback (most recent call last):
...
srcdiff.errors.UnsupportedSyntaxError: ...: srcdiff does not support a with statement
...
"""

from __future__ import annotations

import gast

from ..emit import statements
from ..errors import UnsupportedSyntaxError
from .parse import Source

__all__ = ["check", "SUPPORTED_STATEMENTS"]

# Statements the later passes handle.
SUPPORTED_STATEMENTS = (
    gast.If,
    gast.For,
    gast.While,
    gast.Break,
    gast.Continue,
    gast.Assign,
    gast.AugAssign,
    gast.AnnAssign,
    gast.Expr,
    gast.Return,
    gast.Pass,
    gast.Assert,
)


# What to say about the rest: (what it is, what to write instead).
_REJECTED: dict[type, tuple[str, str]] = {
    gast.Try: ("a try statement", "move error handling outside the differentiated function"),
    gast.With: ("a with statement", "move the with block outside the differentiated function"),
    gast.AsyncWith: ("an async with statement", "differentiate a synchronous function"),
    gast.AsyncFor: ("an async for loop", "differentiate a synchronous function"),
    gast.AsyncFunctionDef: ("an async function", "differentiate a synchronous function"),
    gast.FunctionDef: ("a function defined inside the function",
                       "define the helper at module level and call it"),
    gast.ClassDef: ("a class defined inside the function", "define the class at module level"),
    gast.Global: ("a global statement", "pass the value in as an argument and return the "
                  "new value instead of assigning a global"),
    gast.Nonlocal: ("a nonlocal statement", "return the new value instead of assigning "
                    "a variable of the enclosing function"),
    gast.Delete: ("a del statement", "let the name go out of scope instead"),
    gast.Import: ("an import inside the function", "import at module level"),
    gast.ImportFrom: ("an import inside the function", "import at module level"),
    gast.Raise: ("a raise statement", "check inputs before calling the differentiated function"),
}

_REJECTED_EXPRESSIONS: dict[type, tuple[str, str]] = {
    gast.Yield: ("yield (a generator)", "return a list or an array of the values instead"),
    gast.YieldFrom: ("yield from (a generator)", "return a list or an array instead"),
    gast.Await: ("await", "differentiate a synchronous function"),
    gast.NamedExpr: ("an assignment expression (:=)", "assign the value in its own statement"),
}


def _reject(source: Source, node: gast.AST, what: str, hint: str) -> None:
    raise UnsupportedSyntaxError(f"srcdiff does not support {what}", source.loc(node), hint)


def check(source: Source) -> Source:
    """Raise UnsupportedSyntaxError at the first unsupported construct; else return ``source``."""
    fdef = source.node
    if isinstance(fdef, gast.AsyncFunctionDef):
        _reject(source, fdef, "an async function", "differentiate a synchronous function")
    args = fdef.args
    if args.vararg is not None or args.kwarg is not None:
        _reject(source, fdef, "*args or **kwargs parameters",
                "name each parameter, or pass a tuple/dict as one parameter")
    for stmt in fdef.body:
        _check_stmt(source, stmt)
    _check_aliased_writes(source)
    return source


# Calls that may return their first argument itself or a view of it.
_VIEWS = {"reshape", "ravel", "transpose", "squeeze", "swapaxes", "view", "asarray", "atleast_1d",
          "atleast_2d", "atleast_3d", "expand_dims", "broadcast_to", "moveaxis", "diagonal"}


def _may_alias(value: gast.expr) -> set:
    """The names whose array ``value`` may be (or be a view of, or hold)."""
    if isinstance(value, gast.Name):
        return {value.id}
    if isinstance(value, gast.Subscript):
        # a[1:], a[:, 0]: views.  Not a[0] or p["w"]: an entry of a list or dict is
        # replaced by a write into the container, not changed
        index = value.slice
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        if any(isinstance(p, gast.Slice) or (isinstance(p, gast.Constant) and p.value is Ellipsis)
               for p in parts):
            return _may_alias(value.value)
        return set()
    if isinstance(value, gast.Attribute):  # a.T
        return _may_alias(value.value)
    if isinstance(value, (gast.Tuple, gast.List, gast.Set)):
        return {e.id for e in value.elts if isinstance(e, gast.Name)}
    if isinstance(value, gast.Dict):
        return {e.id for e in value.values if isinstance(e, gast.Name)}
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr in _VIEWS:
        receiver = value.func.value
        if isinstance(receiver, gast.Name) and receiver.id not in ("np", "numpy") or not value.args:
            return _may_alias(receiver)
        return _may_alias(value.args[0])
    return set()


def _check_aliased_writes(source: Source) -> None:
    """Reject a write into an entry of an array that another name also refers to, when
    that name is read after the write: Python's write shows through every name, and the
    derivative, which never writes into an array, would not see it (copy on write).

    The names that may share an array are followed path by path: the two branches of
    an ``if`` each start from what held before it, and after it either may have run; a
    loop's body is followed twice, as its second iteration starts from its first, and
    after it either may have been the last."""
    stmts = list(statements(source.node.body))
    position = {id(stmt): i for i, stmt in enumerate(stmts)}
    _aliased_writes(source, source.node.body, _Sharing(), stmts, position)


class _Sharing:
    """Which names may share an array (name -> names), and which names hold a display
    (list/tuple/dict) of which names."""

    def __init__(self, aliases: dict | None = None, holds: dict | None = None):
        self.aliases: dict[str, set] = aliases or {}
        self.holds: dict[str, set] = holds or {}

    def copy(self) -> _Sharing:
        return _Sharing({n: set(g) for n, g in self.aliases.items()},
                        {n: set(h) for n, h in self.holds.items()})

    def join(self, other: _Sharing) -> _Sharing:
        """What may hold after one of two paths."""
        names = set(self.aliases) | set(other.aliases)
        aliases = {n: self.aliases.get(n, {n}) | other.aliases.get(n, {n}) for n in names}
        holds = {n: self.holds.get(n, set()) | other.holds.get(n, set())
                 for n in set(self.holds) | set(other.holds)}
        return _Sharing(aliases, holds)

    def rebind(self, name: str, shared: set) -> None:
        """``name`` now refers to a new value, which may share the arrays of ``shared``."""
        aliases = self.aliases
        for n in aliases.pop(name, set()) - {name}:  # the old value's sharers stay together
            aliases[n].discard(name)
        self.holds.pop(name, None)
        group = {name}
        for other in shared - {name}:
            group |= aliases.setdefault(other, {other})
        for n in group:
            aliases[n] = group


def _aliased_writes(source: Source, block: list, state: _Sharing, stmts: list, position: dict) -> _Sharing:
    for stmt in block:
        if isinstance(stmt, gast.Assign):
            for target in stmt.targets:
                if isinstance(target, gast.Name):
                    shared = _may_alias(stmt.value)
                    value = stmt.value
                    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
                        shared |= state.holds.get(value.value.id, set())  # hs[0] is a
                    state.rebind(target.id, shared)
                    if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
                        state.holds[target.id] = set(shared)
                elif isinstance(target, (gast.Tuple, gast.List)):  # b, c = a, 1.0
                    values = stmt.value.elts if isinstance(stmt.value, (gast.Tuple, gast.List)) else None
                    for k, elt in enumerate(target.elts):
                        if isinstance(elt, gast.Name):
                            shared = _may_alias(values[k]) if values and k < len(values) else set()
                            state.rebind(elt.id, shared)
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, gast.Subscript):  # a[i] = v, a[:] += v
                    _check_write(source, stmt, target, state.aliases, stmts[position[id(stmt)] + 1:])
        elif isinstance(stmt, gast.If):
            then = _aliased_writes(source, stmt.body, state.copy(), stmts, position)
            other = _aliased_writes(source, stmt.orelse, state.copy(), stmts, position)
            state = then.join(other)
        elif isinstance(stmt, (gast.For, gast.While)):
            # (taken to run at least once, as a loop over data does)
            once = _aliased_writes(source, stmt.body, state.copy(), stmts, position)
            twice = _aliased_writes(source, stmt.body, once.copy(), stmts, position)
            state = once.join(twice)
    return state


def _check_write(source: Source, stmt: gast.stmt, target: gast.Subscript, aliases: dict,
                 after: list) -> None:
    base = target.value
    while isinstance(base, gast.Subscript):
        base = base.value
    if not isinstance(base, gast.Name):
        return
    others = aliases.get(base.id, {base.id}) - {base.id}
    if not others:
        return
    later = {n.id for s in after for n in gast.walk(s)
             if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
    for other in sorted(others & later):
        _reject(source, stmt, f"writing into {base.id}, which {other} may also refer to "
                f"(a copy, a view or a container of it) and is read afterwards",
                f"make the copy explicit ({other} = {base.id}.copy()) or build a new "
                f"array: srcdiff's derivative never writes into an array, so {other} "
                "would keep the old values")


def _check_stmt(source: Source, stmt: gast.stmt) -> None:
    if type(stmt) in _REJECTED:
        _reject(source, stmt, *_REJECTED[type(stmt)])
    if not isinstance(stmt, SUPPORTED_STATEMENTS):
        _reject(source, stmt, f"the {type(stmt).__name__} statement",
                "rewrite it with assignments and calls")
    if isinstance(stmt, (gast.For, gast.While)) and stmt.orelse:
        _reject(source, stmt.orelse[0], "an else clause on a loop",
                "set a flag before break and test it after the loop")
    if isinstance(stmt, gast.For):
        _check_target(source, stmt.target)
    if isinstance(stmt, (gast.If, gast.For, gast.While)):
        _check_expressions(source, stmt.test if not isinstance(stmt, gast.For) else stmt.iter)
        for inner in stmt.body + stmt.orelse:
            _check_stmt(source, inner)
        return
    if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
        for target in targets:
            _check_target(source, target)
        if isinstance(stmt, gast.AnnAssign) and stmt.value is None:
            _reject(source, stmt, "a bare annotation without a value", "assign a value")
    _check_expressions(source, stmt)


def _check_expressions(source: Source, stmt: gast.AST) -> None:
    for node in gast.walk(stmt):
        if type(node) in _REJECTED_EXPRESSIONS:
            _reject(source, node, *_REJECTED_EXPRESSIONS[type(node)])
        if isinstance(node, gast.Call):
            if isinstance(node.func, gast.Name) and node.func.id in ("eval", "exec", "compile"):
                _reject(source, node, f"{node.func.id}() (code built at run time)",
                        "write the code in the function itself")
            for arg in node.args:
                if isinstance(arg, gast.Starred):
                    _reject(source, arg, "*-unpacking in a call",
                            "pass the arguments one by one")
            for kw in node.keywords:
                if kw.arg is None:
                    _reject(source, kw.value, "**-unpacking in a call",
                            "pass the keyword arguments one by one")
                elif kw.arg == "out":
                    _reject(source, kw.value, "the out= argument (writing into an existing array)",
                            "assign the result to a new name instead")
            _check_layout_order(source, node)


# Reshapes whose order="A" or "K" picks C or Fortran order by the array's memory layout,
# which srcdiff does not keep (an assignment into an entry makes a C-ordered copy).
_ORDERED = {"reshape", "ravel", "flatten"}


def _check_layout_order(source: Source, call: gast.Call) -> None:
    if not (isinstance(call.func, gast.Attribute) and call.func.attr in _ORDERED):
        return
    orders = [kw.value for kw in call.keywords if kw.arg == "order"]
    orders += [a for a in call.args if isinstance(a, gast.Constant) and isinstance(a.value, str)]
    for order in orders:
        if isinstance(order, gast.Constant) and str(order.value).upper() in ("A", "K"):
            _reject(source, order, f"{call.func.attr} with order={order.value!r} (an order that "
                    "follows the array's memory layout)", "write order='C' or order='F'")


def _check_target(source: Source, target: gast.expr) -> None:
    if isinstance(target, gast.Name):
        return
    if isinstance(target, (gast.Tuple, gast.List)):
        for elt in target.elts:
            if isinstance(elt, gast.Starred):
                _reject(source, elt, "starred assignment (a, *rest = ...)",
                        "index the sequence explicitly")
            _check_target(source, elt)
        return
    if isinstance(target, gast.Subscript):
        if isinstance(target.value, gast.Name):
            return
        _reject(source, target, "assignment into an entry of an entry (a[i][j] = ...)",
                "index once: a[i, j] = ... for arrays, or rebuild the inner list")
    if isinstance(target, gast.Attribute):
        _reject(source, target, "assignment to an attribute (obj.attr = ...)",
                "return the new value instead of storing it on an object")
    _reject(source, target, "this assignment target", "assign to a plain name")
