"""resolve: gast -> side table; binds every global/closure reference to its object.

Local names are the parameters and every name the function assigns.  Any other name,
and attribute chains through modules (``np.linalg.norm``), is looked up in the
function's closure, then its globals, then builtins.  The result is a side table
from the outermost node of each reference to the object it names; nothing is written
onto the tree.

>>> import numpy as np
>>> from srcdiff.passes.parse import parse
>>> def f(x):
...     y = np.sin(x)
...     return np.linalg.norm(y)
>>> res = resolve(parse(f))
>>> sorted(res.locals)
['x', 'y']
>>> sorted(ref for ref in res.texts.values())
['np.linalg.norm', 'np.sin']
"""

from __future__ import annotations

import ast
import builtins
import types
from dataclasses import dataclass, field
from typing import Any

import gast

from .parse import Source

__all__ = ["Resolution", "resolve", "MISSING"]


class _Missing:
    def __repr__(self) -> str:
        return "<unbound>"


MISSING = _Missing()


@dataclass(eq=False)
class Resolution:
    """Side tables of the resolve pass."""

    locals: frozenset
    refs: dict = field(default_factory=dict)  # node -> object it names
    texts: dict = field(default_factory=dict)  # node -> the reference as written


def local_names(fdef: gast.FunctionDef) -> set[str]:
    args = fdef.args
    names = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            names.add(extra.id)
    for node in gast.walk(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            names.add(node.id)
    return names


def _lookup(source: Source, name: str) -> Any:
    cell = source.cells.get(name)
    if cell is not None:
        try:
            return cell.cell_contents
        except ValueError:
            return MISSING
    if name in source.globals:
        return source.globals[name]
    return getattr(builtins, name, MISSING)


def resolve(source: Source, fdef: gast.FunctionDef | None = None) -> Resolution:
    """Find every reference to a global or closure value in ``fdef`` (default: the
    parsed function)."""
    fdef = fdef or source.node
    locals_ = frozenset(local_names(fdef))
    res = Resolution(locals_)

    def chain(node: gast.expr) -> Any:
        """The object an expression names, if it is a non-local name or a module path."""
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            if node.id in locals_:
                return MISSING
            return _lookup(source, node.id)
        if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
            base = chain(node.value)
            if isinstance(base, (types.ModuleType, type)):
                return getattr(base, node.attr, MISSING)
        return MISSING

    class Visitor(gast.NodeVisitor):
        def visit_Name(self, node: gast.Name) -> None:
            if isinstance(node.ctx, gast.Load) and node.id not in locals_:
                res.refs[node] = _lookup(source, node.id)
                res.texts[node] = node.id

        def visit_Attribute(self, node: gast.Attribute) -> None:
            value = chain(node)
            if value is not MISSING and chain(node.value) is not MISSING:
                res.refs[node] = value
                res.texts[node] = ast.unparse(gast.gast_to_ast(node))
                return
            self.generic_visit(node)

    for stmt in fdef.body:
        Visitor().visit(stmt)
    return res
