"""dead_code: gast -> gast; assignments to names nobody reads go when their values are
pure, then branches and loops left with nothing to do.

>>> import gast
>>> from srcdiff.emit import to_source
>>> fdef = gast.parse('''
... def f(x):
...     a = x * 2
...     b = a + 1
...     if x:
...         pass
...     return x
... ''').body[0]
>>> print(to_source(eliminate_dead_code(fdef, lambda expr: True)).strip())
def f(x):
    return x
"""

from __future__ import annotations

from collections.abc import Callable

import gast

from ...emit import loaded_names
from .statements import NESTED, blocks, is_comment, loads

__all__ = ["eliminate_dead_code"]


def eliminate_dead_code(fdef: gast.FunctionDef, is_pure: Callable[[gast.expr], bool]) -> gast.FunctionDef:
    """Drop assignments whose targets are never read and whose values are pure, then
    branches and loops left with nothing to do.

    Linear in the size of the function: reads are counted once, and removing an
    assignment takes its own reads off the counts, which may make the assignments of
    those names dead in turn (a worklist, not a walk of the whole function per round).
    """
    while True:
        reads = loads([fdef])
        definitions: dict[str, list] = {}  # name -> pure single-name assignments of it
        for body in blocks(fdef):
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
        for body in blocks(fdef):
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
    for body in blocks(fdef):
        # a comment left with nothing after it, before the next comment, goes too
        body[:] = [s for i, s in enumerate(body) if not (is_comment(s) and (
            i + 1 == len(body) or is_comment(body[i + 1]) or isinstance(body[i + 1], gast.Return)))]
    for body in blocks(fdef):
        for stmt in body:
            if isinstance(stmt, NESTED) and not stmt.body:
                stmt.body.append(gast.Pass())
    if not fdef.body:
        fdef.body.append(gast.Pass())
    return fdef


def _empty(stmt: gast.stmt) -> bool:
    """A branch or a for loop (over a pure iterable) whose body does nothing."""
    def nothing(block: list) -> bool:
        return all(isinstance(s, gast.Pass) or is_comment(s) for s in block)

    if isinstance(stmt, gast.If):
        return nothing(stmt.body) and nothing(stmt.orelse)
    if isinstance(stmt, gast.For):
        return nothing(stmt.body) and not stmt.orelse
    return False
