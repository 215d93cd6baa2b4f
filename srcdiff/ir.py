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
    """A callable named by srcdiff itself (an operator, or a method turned into a call)."""

    value: Any


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


Stmt = Assign | Effect | Return


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
