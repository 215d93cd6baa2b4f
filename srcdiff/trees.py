"""Small tools over gast trees, shared by the rules (templates), the passes and the
emitter: names, copies with substitutions, and fast walks.  They import nothing of
srcdiff's, so every layer may use them."""

from __future__ import annotations

import ast
from collections import deque
from typing import Any

import gast

__all__ = ["name", "store", "walk", "statements", "loaded_names", "names", "clone"]


def name(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def store(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Store(), annotation=None, type_comment=None)


def walk(node: Any):
    """Every node of a tree, breadth first, as ``gast.walk`` does but faster: the
    passes over generated code walk whole functions many times."""
    todo = deque([node])
    pop, extend, push = todo.popleft, todo.extend, todo.append
    tree = ast.AST
    while todo:
        node = pop()
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                extend([v for v in value if isinstance(v, tree)])
            elif isinstance(value, tree):
                push(value)
        yield node


def statements(stmts: list):
    """Every statement of ``stmts`` and of the blocks nested in them, in program order
    (an expression's ``body``, a lambda's, is not a block)."""
    for stmt in stmts:
        yield stmt
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(stmt, field, None)
            if type(block) is list:
                yield from statements(block)


def loaded_names(node: Any) -> list[gast.Name]:
    """Every ``Name`` in a tree that reads its variable (Load context), in no set order."""
    return [n for n in names(node) if isinstance(n.ctx, gast.Load)]


def names(node: Any) -> list[gast.Name]:
    """Every ``Name`` in a tree, in no set order.

    The passes over generated code count reads again and again; collecting names in
    one list is several times cheaper than filtering ``walk``, which yields every node."""
    found = []
    todo = [node]
    pop, push, extend = todo.pop, todo.append, todo.extend
    tree, name_type = ast.AST, gast.Name
    while todo:
        node = pop()
        if isinstance(node, name_type):
            found.append(node)
            if node.annotation is not None:
                push(node.annotation)
            continue
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                extend([v for v in value if isinstance(v, tree)])
            elif isinstance(value, tree):
                push(value)
    return found


def clone(node: Any, mapping: dict | None = None) -> Any:
    """A deep copy of a tree (much cheaper than ``copy.deepcopy``); with ``mapping``,
    every ``Name`` it loads that ``mapping`` holds becomes a copy of that expression."""
    if mapping and type(node) is gast.Name and type(node.ctx) is gast.Load and node.id in mapping:
        return clone(mapping[node.id])
    new = node.__class__.__new__(node.__class__)
    tree = ast.AST
    for field in node._fields:
        value = getattr(node, field, None)
        if type(value) is list:
            value = [clone(v, mapping) if isinstance(v, tree) else v for v in value]
        elif isinstance(value, tree):
            value = clone(value, mapping)
        setattr(new, field, value)
    for attr in node._attributes:
        if hasattr(node, attr):
            setattr(new, attr, getattr(node, attr))
    return new
