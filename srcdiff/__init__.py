"""srcdiff: source-transformation automatic differentiation for Python and NumPy.

``srcdiff.grad(f)`` reads ``f``'s source and writes a new Python function that computes
its gradient with plain NumPy, with no tape and no per-operation overhead.  The
generated code is readable (``.source``) and cached.
"""

from . import rules as _rules  # noqa: F401  (registers the built-in rules)
from .api import Derivative, derivative, grad, hessian, hvp, jacobian, jvp, source, value_and_grad, vjp
from .errors import (
    ArgumentError,
    NonDifferentiableError,
    NonScalarOutputError,
    NoRuleError,
    RuleDefinitionError,
    SourceUnavailableError,
    SrcdiffError,
    UnsupportedSyntaxError,
)
from .ir import Method
from .rules.registry import define_tangents, nondifferentiable, register_adjoint
from .version import __version__  # noqa: F401  (srcdiff.__version__)

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "derivative",
    "jacobian",
    "hessian",
    "hvp",
    "source",
    "register_adjoint",
    "define_tangents",
    "nondifferentiable",
    "Method",
    "Derivative",
    "SrcdiffError",
    "UnsupportedSyntaxError",
    "NoRuleError",
    "NonDifferentiableError",
    "NonScalarOutputError",
    "ArgumentError",
    "SourceUnavailableError",
    "RuleDefinitionError",
]
