"""What the tests of the simplify transforms share."""

from __future__ import annotations

import gast

from srcdiff.emit import to_source


def lines_after(code: str, rewrite) -> list[str]:
    """The statements of the function ``code`` after ``rewrite``, one line each."""
    tree = rewrite(gast.parse(code).body[0])
    return [line.strip() for line in to_source(tree).strip().splitlines()[1:]]
