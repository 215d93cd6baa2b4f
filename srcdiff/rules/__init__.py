"""Derivative rules, one module per domain; importing this package registers them all."""

import sys as _sys

from .registry import (
    Case,
    Domain,
    Fixed,
    Rule,
    is_nondifferentiable,
    lookup,
    nondifferentiable,
    own_rules,
    register_adjoint,
    rules,
    version,
)

with own_rules():  # (srcdiff's own: templates parsed when first used)
    from . import (  # noqa: F401  (imported for their registrations)
        complexes,
        containers,
        elementwise,
        helpers,
        indexing,
        linalg,
        nondiff,
        operators,
        reductions,
        scalar,
        shape,
        special,
    )

    if "scipy.special" in _sys.modules:  # else registered when first needed (registry.lookup)
        special.register()

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
