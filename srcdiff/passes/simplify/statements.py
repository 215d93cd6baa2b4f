"""How the whole-function transforms see a function: its statement lists, how often
each name is bound and read, and the comments the generator writes between statements.

>>> import gast
>>> fdef = gast.parse('''
... def f(x):
...     if x:
...         y = x
...     else:
...         y = 2 * x
...     return y
... ''').body[0]
>>> len(blocks(fdef)), sorted(assignments(fdef).items()), sorted(loads([fdef]).items())
(3, [('x', 1), ('y', 2)], [('x', 3), ('y', 1)])
"""

from __future__ import annotations

from collections import deque

import gast

from ...emit import loaded_names, walk

__all__ = ["NESTED", "assignments", "blocks", "is_comment", "loads"]

# The statements that hold statement lists of their own.
NESTED = (gast.FunctionDef, gast.For, gast.While, gast.If)


def assignments(fdef: gast.FunctionDef) -> dict[str, int]:
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
    for body in blocks(fdef):
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


def blocks(fdef: gast.AST) -> list[list]:
    """Every statement list in the function: bodies of functions, branches and loops
    (found by visiting statements only, not expressions), outer ones first."""
    out = []
    todo = deque([fdef])
    while todo:
        node = todo.popleft()
        lists = [node.body, node.orelse] if isinstance(node, gast.If) else [node.body]
        for block in lists:
            out.append(block)
            todo.extend(s for s in block if isinstance(s, NESTED))
    return out


def loads(nodes: list) -> dict[str, int]:
    """How often each name is read in ``nodes``."""
    counts: dict[str, int] = {}
    for stmt in nodes:
        for n in loaded_names(stmt):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def is_comment(stmt: gast.stmt) -> bool:
    """Whether ``stmt`` is a comment the generator wrote (emit prints it as ``# ...``)."""
    return (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant)
            and isinstance(stmt.value.value, str) and stmt.value.value.startswith("#srcdiff#"))
