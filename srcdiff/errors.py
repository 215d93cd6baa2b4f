"""The exceptions srcdiff raises at users.

Every error names where in the user's code the problem is (file:line:col), shows
that source line, says what is wrong, and gives a hint for what to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Loc",
    "SrcdiffError",
    "UnsupportedSyntaxError",
    "NoRuleError",
    "NonDifferentiableError",
    "NonScalarOutputError",
    "ArgumentError",
    "SourceUnavailableError",
    "RuleDefinitionError",
]


@dataclass(frozen=True)
class Loc:
    """A place in the user's source: file, 1-based line, 0-based column, line text."""

    filename: str
    lineno: int
    col: int = 0
    text: str = ""

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col + 1}"


class SrcdiffError(Exception):
    """Base class of every error srcdiff raises about the user's code or call."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = ""):
        self.message = message
        self.loc = loc
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [f"{self.loc}: {self.message}" if self.loc else self.message]
        if self.loc is not None and self.loc.text:
            text = self.loc.text.rstrip()
            stripped = text.lstrip()
            indent = len(text) - len(stripped)
            parts.append("    " + stripped)
            caret = max(self.loc.col - indent, 0)
            if caret < len(stripped):
                parts.append("    " + " " * caret + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class UnsupportedSyntaxError(SrcdiffError):
    """The function uses a Python construct srcdiff cannot differentiate."""


class NoRuleError(SrcdiffError):
    """A differentiated value flows into a callable that has no derivative rule."""


class NonDifferentiableError(SrcdiffError):
    """A differentiated value flows into a construct that has no derivative."""


class NonScalarOutputError(SrcdiffError):
    """``grad`` was asked for the gradient of a function whose result is not a scalar."""


class ArgumentError(SrcdiffError, TypeError):
    """A bad ``wrt`` or a bad argument value for a differentiated parameter."""


class SourceUnavailableError(SrcdiffError):
    """The Python source of a function cannot be read, so it cannot be transformed."""


class RuleDefinitionError(SrcdiffError):
    """A derivative rule is malformed; raised when the rule is registered."""
