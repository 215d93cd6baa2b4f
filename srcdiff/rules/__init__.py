"""Derivative rules, one module per domain; importing this package registers them all."""

from . import (  # noqa: F401  (imported for their registrations)
    containers,
    elementwise,
    generated,
    indexing,
    linalg,
    nondiff,
    operators,
    reductions,
    scalar,
    shape,
    special,
    tangents,  # after the modules whose rules it completes
)
from .registry import (
    Case,
    Domain,
    Fixed,
    Rule,
    is_nondifferentiable,
    lookup,
    nondifferentiable,
    register_adjoint,
    rules,
    version,
)

__all__ = [
    "Case",
    "Domain",
    "Fixed",
    "Rule",
    "is_nondifferentiable",
    "lookup",
    "nondifferentiable",
    "register_adjoint",
    "rules",
    "version",
]
