"""The intermediate representation: a function in A-normal form.

After lowering, every statement performs at most one operation, and every operand is
an *atom*: a local variable, a constant, a reference to a global/closure object, or a
tuple/list/slice display built from atoms.  The reverse and forward passes walk these
statements; nothing is ever written onto a node (analyses return side tables keyed by
variable name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gast

from .errors import Loc


@dataclass(frozen=True)
class Var:
    """A local variable."""

    id: str


@dataclass(frozen=True, eq=False)
class Const:
    """A Python constant written in the source (number, string, None, bool, Ellipsis)."""

    value: Any


@dataclass(frozen=True, eq=False)
class Ref:
    """A global or closure value, kept as the user spelled it (``np.sin``, ``SCALE``).

    ``value`` is what the expression evaluated to when the function was transformed;
    the generated code evaluates ``node`` again when it runs, like the user's code.
    """

    node: gast.expr
    value: Any
    text: str


@dataclass(frozen=True, eq=False)
class Tup:
    items: tuple


@dataclass(frozen=True, eq=False)
class Lst:
    items: tuple


@dataclass(frozen=True, eq=False)
class Slc:
    lower: Any
    upper: Any
    step: Any


Atom = Var | Const | Ref | Tup | Lst | Slc


@dataclass(frozen=True)
class Prim:
    """A callable named by srcdiff itself (an operator, or a method turned into a call).

    ``inplace`` marks the operator of an augmented assignment (``y += v``), which
    Python runs in place on an array: the effects pass treats it as a write into y.
    """

    value: Any
    inplace: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Method:
    """A method called on a local value whose type is only known at run time."""

    name: str


@dataclass(frozen=True)
class Attr:
    """Reading an attribute of a local value (``x.dtype``); args[0] is the value."""

    name: str


@dataclass(frozen=True, eq=False)
class Call:
    fn: Any  # Ref | Prim | Method | Attr (for Method and Attr, args[0] is the receiver)
    args: tuple
    kwargs: tuple = ()  # ((name, atom), ...)

    @property
    def callee(self) -> Any:
        return self.fn if isinstance(self.fn, (Method, Attr)) else self.fn.value


@dataclass(frozen=True, eq=False)
class Raw:
    """An expression srcdiff does not look inside; it reads the local names ``uses``."""

    node: gast.expr
    uses: tuple


Expr = Call | Raw | Var | Const | Ref | Tup | Lst | Slc


@dataclass(frozen=True, eq=False)
class Assign:
    target: str
    value: Any  # Expr
    loc: Loc


@dataclass(frozen=True, eq=False)
class Effect:
    """An expression evaluated for its effect only (``print(x)``); it has no adjoint."""

    value: Any  # Expr
    loc: Loc


@dataclass(frozen=True, eq=False)
class Return:
    value: Any  # Atom
    loc: Loc


Stmt = Assign | Effect | Return  # and If, Loop (below)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str = "positional"  # positional | keyword
    default: Any = None  # gast expr of the default, or None


@dataclass(eq=False)
class Function:
    name: str
    params: tuple
    body: list
    loc: Loc
    args_node: Any = None  # the gast.arguments of the user's def, reused for signatures
    meta: dict = field(default_factory=dict)


def atom_vars(atom: Any) -> list[str]:
    """The local variable names an atom reads, in order."""
    if isinstance(atom, Var):
        return [atom.id]
    if isinstance(atom, (Tup, Lst)):
        return [name for item in atom.items for name in atom_vars(item)]
    if isinstance(atom, Slc):
        return [n for part in (atom.lower, atom.upper, atom.step) for n in atom_vars(part)]
    return []


def expr_uses(expr: Any) -> list[str]:
    """The local variable names an expression reads."""
    if isinstance(expr, Call):
        names = [n for a in expr.args for n in atom_vars(a)]
        names += [n for _, a in expr.kwargs for n in atom_vars(a)]
        return names
    if isinstance(expr, Raw):
        return list(expr.uses)
    return atom_vars(expr)


def stmt_uses(stmt: Any) -> list[str]:
    return expr_uses(stmt.value)


@dataclass(eq=False)
class Phi:
    """A join: ``target`` is ``sources[0]`` or ``sources[1]`` depending on the path taken.

    After an ``If``: (value from the then-branch, value from the else-branch).
    At a loop header: (value before the loop, value at the end of an iteration).
    """

    target: str
    sources: tuple


@dataclass(eq=False)
class If:
    test: Any  # Atom
    body: list
    orelse: list
    loc: Loc
    phis: list = field(default_factory=list)


@dataclass(eq=False)
class Loop:
    """A ``for`` loop over a range (``kind="for"``) or a ``while`` loop.

    ``phis`` are the loop-carried values (header value = phi(initial, next)); after
    the loop, ``exits`` copy each header name to the name later code reads.  A loop
    body may end early only through ``breaks``: flags checked after each iteration.
    """

    kind: str  # "for" | "while"
    body: list
    loc: Loc
    target: str | None = None  # for: the induction variable
    iter: Any = None  # for: the range object (an atom)
    test_body: list = field(default_factory=list)  # while: statements computing the test
    test: Any = None  # while: the test atom
    phis: list = field(default_factory=list)
    exits: list = field(default_factory=list)  # [(exit name, header name)]
    breaks: tuple = ()  # atoms: leave the loop after an iteration where any is true


def walk(stmts: list):
    """Every statement in ``stmts``, nested ones included, in program order."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, If):
            yield from walk(stmt.body)
            yield from walk(stmt.orelse)
        elif isinstance(stmt, Loop):
            yield from walk(stmt.test_body)
            yield from walk(stmt.body)


def defined_names(stmts: list) -> set:
    """Names a block assigns (phis and loop exits included)."""
    names = set()
    for stmt in walk(stmts):
        if isinstance(stmt, Assign):
            names.add(stmt.target)
        elif isinstance(stmt, If):
            names.update(p.target for p in stmt.phis)
        elif isinstance(stmt, Loop):
            names.update(p.target for p in stmt.phis)
            names.update(e for e, _ in stmt.exits)
            if stmt.target:
                names.add(stmt.target)
    return names


def read_names(stmts: list) -> set:
    """Names a block reads (phi sources, tests and loop iterables included)."""
    names = set()
    for stmt in walk(stmts):
        if isinstance(stmt, (Assign, Effect)):
            names.update(expr_uses(stmt.value))
        elif isinstance(stmt, Return):
            names.update(atom_vars(stmt.value))
        elif isinstance(stmt, If):
            names.update(atom_vars(stmt.test))
            for p in stmt.phis:
                for s in p.sources:
                    names.update(atom_vars(s))
        elif isinstance(stmt, Loop):
            for part in (stmt.iter, stmt.test):
                if part is not None:
                    names.update(atom_vars(part))
            for p in stmt.phis:
                for s in p.sources:
                    names.update(atom_vars(s))
            names.update(h for _, h in stmt.exits)
            for b in stmt.breaks:
                names.update(atom_vars(b))
    return names


def generated_derivative(obj: Any) -> tuple | None:
    """``(mode, single)`` when ``obj`` is a derivative srcdiff made (its class declares a
    ``srcdiff_derivative`` property), else None: how the compiler recognises a call of one
    without importing the layer that makes them."""
    if getattr(type(obj), "srcdiff_derivative", None) is None:
        return None
    return obj.srcdiff_derivative


@dataclass(frozen=True, eq=False)
class CalleeRef:
    """A derivative that generated code calls and the API layer makes: the ``kind``
    (``"vjp"``, ``"jvp"``, ``"vjp_apply"``) of the user function ``target`` with respect
    to ``wrt``.  ``text`` is how the code names ``target`` (the disk cache finds it again
    by it).  The compiler records these; the API links them (see ``api.link``)."""

    kind: str
    target: Any
    wrt: tuple
    text: str
