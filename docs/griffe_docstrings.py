"""A griffe extension: srcdiff's docstrings, made ready for the Markdown API reference.

srcdiff's docstrings hold doctest examples as plain ``>>>`` lines (run by pytest) and
refer to other objects with Sphinx roles (``:func:`grad```).  Markdown would turn the
``>>>`` lines into nested block quotes and print the roles as they are; this extension
fences each run of doctest lines as a ``pycon`` code block and turns each role into
inline code before the docstrings are rendered.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|exc|data|obj):`~?(?:[\w.]*\.)?([^`.]+)`")


def fence_doctests(text: str) -> str:
    """Wrap each unindented run of ``>>>`` lines, with their output, in a pycon fence."""
    out: list[str] = []
    in_example = False
    in_fence = False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and not in_example and line.startswith(">>>"):
            out.append("```pycon")
            in_example = True
        elif in_example and not line.strip():
            out.append("```")
            in_example = False
        out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out)


def rewrite(text: str) -> str:
    """The docstring with doctests fenced and Sphinx roles turned into inline code."""
    return _ROLE.sub(r"``\1``", fence_doctests(text))


class DoctestFences(griffe.Extension):
    """Rewrite every docstring of the loaded objects (see the module docstring)."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
