"""copies: gast -> gast; after ``a = b``, uses of ``a`` read ``b`` and the copy goes,
where that is right (in loops too).

>>> import gast
>>> from srcdiff.emit import to_source
>>> fdef = gast.parse('''
... def f(x):
...     a = x
...     b = a * a
...     return b
... ''').body[0]
>>> print(to_source(propagate_copies(fdef)).strip())
def f(x):
    b = x * x
    return b
"""

from __future__ import annotations

import bisect

import gast

from ...emit import loaded_names, names
from .statements import assignments, blocks, loads

__all__ = ["propagate_copies"]


def propagate_copies(fdef: gast.FunctionDef) -> gast.FunctionDef:
    """After ``a = b`` with ``a`` and ``b`` each assigned once, read ``b`` for ``a``.

    Only when every read of ``a`` follows the copy in its own block, so the rewrite
    is also right inside loops.
    """
    counts = assignments(fdef)
    total = loads([fdef])
    renames: dict[str, str] = {}
    bodies = blocks(fdef)
    # names copied on (c = a): a copy of a reassigned b is read through only where no
    # such chain could carry b's name past b's next assignment
    copied = {s.value.id for body in bodies for s in body
              if isinstance(s, gast.Assign) and isinstance(s.value, gast.Name)}
    for body in bodies:
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

    for body in bodies:
        body[:] = [
            s for s in body
            if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and s.targets[0].id in renames and isinstance(s.value, gast.Name))
        ]
    for node in loaded_names(fdef):
        if node.id in renames:
            node.id = final(node.id)
    return fdef
