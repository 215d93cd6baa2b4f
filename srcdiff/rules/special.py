"""scipy.special functions, registered only when SciPy is installed (it is optional)."""

from .. import runtime as rt
from .registry import POSITIVE, Case, Domain, Fixed, defer
from .registry import register_adjoint as rule

_registered = [False]

_SOFTMAX_CASES = [Case(((4,),)), Case(((2, 3),)), Case(((2, 3),), {"axis": Fixed(1)}),
                  Case(((2, 3), Fixed(0)))]

def register() -> bool:
    """Register the scipy.special rules; False when SciPy is not installed.

    srcdiff calls this when a differentiated function first calls something from
    SciPy, or at import when SciPy is already imported, so importing srcdiff does not
    import SciPy.
    """
    if _registered[0]:
        return True
    try:
        from scipy import special
    except ImportError:  # without SciPy there is nothing to register
        return False
    _registered[0] = True
    # expit' = expit(x) expit(-x) = e^-|x| expit(|x|)^2, where expit(|x|) is out for x >= 0
    # and 1 - out (no cancellation: out < 1/2) for x < 0.  Not out (1 - out): for large
    # x, 1 - out cancels (exactly 0 from x = 37 on, where the derivative is 1e-16).
    # e^-|x| cannot overflow.
    rule(special.expit, "expit(x)",
         x="g * np.exp(-np.abs(x)) * np.square(np.where(x < 0, 1 - out, out))")
    rule(special.logit, "logit(x)", x="g / (x * (1 - x))", domain=Domain(0.05, 0.95))
    rule(special.erf, "erf(x)", x="g * (2 / np.sqrt(np.pi)) * np.exp(-x * x)")
    rule(special.erfc, "erfc(x)", x="-g * (2 / np.sqrt(np.pi)) * np.exp(-x * x)")
    rule(special.gammaln, "gammaln(x)", x="gammaln_grad(g, x)", domain=POSITIVE)
    rule(special.digamma, "digamma(x)", x="digamma_grad(g, x)", domain=POSITIVE)
    rule(special.polygamma, "polygamma(n, x)", x="polygamma_grad(g, n, x)",
         tangents={"x": "polygamma_grad(t, n, x)"}, domain=POSITIVE,
         nondiff=("n",), discrete=("n",),
         cases=[Case((Fixed(1), ())), Case((Fixed(0), (3,))), Case((Fixed(2), (2, 3)))])
    rule(special.logsumexp, "logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False)",
         a="logsumexp_grad(g, a, axis, b, keepdims, return_sign, 'a')",
         b="logsumexp_grad(g, a, axis, b, keepdims, return_sign, 'b')",
         tangents={"a": "logsumexp_tangent(t, a, out, axis, b, keepdims, return_sign, 'a')",
                   "b": "logsumexp_tangent(t, a, out, axis, b, keepdims, return_sign, 'b')"},
         domain={"b": POSITIVE},
         nondiff=("axis", "keepdims", "return_sign"), discrete=("axis", "keepdims", "return_sign"),
         cases=[Case(((4,),)), Case(((2, 3),), {"axis": Fixed(1)}),
                Case(((2, 3),), {"axis": Fixed(0), "keepdims": Fixed(True)}),
                Case(((2, 3),), {"b": (2, 3)}), Case(((2, 3), Fixed(1), (3,)))])
    # softmax' = diag(s) - s s^T; log_softmax' = I - 1 s^T, with s = exp(log_softmax).  The
    # tangent applies the Jacobian, the adjoint its transpose (the same for softmax).
    rule(special.softmax, "softmax(x, axis=None)",
         x="out * (g - np.sum(g * out, axis=axis, keepdims=True))",
         tangents={"x": "out * (t - np.sum(t * out, axis=axis, keepdims=True))"},
         nondiff=("axis",), discrete=("axis",), cases=_SOFTMAX_CASES)
    rule(special.log_softmax, "log_softmax(x, axis=None)",
         x="g - np.exp(out) * np.sum(g, axis=axis, keepdims=True)",
         tangents={"x": "t - np.sum(np.exp(out) * t, axis=axis, keepdims=True)"},
         nondiff=("axis",), discrete=("axis",), cases=_SOFTMAX_CASES)
    # the helpers the adjoints above call (srcdiff.runtime.special): their rules, so that
    # derivatives of every order work
    rule(rt.gammaln_grad, "gammaln_grad(v, x)",
         v="unbroadcast(gammaln_grad(g, x), v)", x="unbroadcast(digamma_grad(v * g, x), x)",
         tangents={"v": "gammaln_grad(t, x)", "x": "digamma_grad(v * t, x)"}, domain={"x": POSITIVE})
    rule(rt.digamma_grad, "digamma_grad(v, x)",
         v="unbroadcast(digamma_grad(g, x), v)", x="unbroadcast(polygamma_grad(v * g, 1, x), x)",
         tangents={"v": "digamma_grad(t, x)", "x": "polygamma_grad(v * t, 1, x)"}, domain={"x": POSITIVE})
    rule(rt.polygamma_grad, "polygamma_grad(v, n, x)",
         v="unbroadcast(polygamma_grad(g, n, x), v)", x="unbroadcast(polygamma_grad(v * g, n + 1, x), x)",
         tangents={"v": "polygamma_grad(t, n, x)", "x": "polygamma_grad(v * t, n + 1, x)"},
         domain={"x": POSITIVE}, nondiff=("n",), discrete=("n",),
         cases=[Case(((), Fixed(1), ())), Case(((2, 3), Fixed(2), (3,)))])
    rule(rt.logsumexp_grad, "logsumexp_grad(v, a, axis=None, b=None, keepdims=False, return_sign=False, "
         "part='a')",
         v="logsumexp_grad_adjoint(g, v, a, axis, b, keepdims, part, 'g')",
         a="logsumexp_grad_adjoint(g, v, a, axis, b, keepdims, part, 'a')",
         b="logsumexp_grad_adjoint(g, v, a, axis, b, keepdims, part, 'b')",
         tangents={"v": "logsumexp_grad(t, a, axis, b, keepdims, return_sign, part)",
                   "a": "logsumexp_grad_tangent(v, a, axis, b, keepdims, part, t, 0.0)",
                   "b": "logsumexp_grad_tangent(v, a, axis, b, keepdims, part, 0.0, t)"},
         domain={"b": POSITIVE},
         nondiff=("axis", "keepdims", "return_sign", "part"),
         discrete=("axis", "keepdims", "return_sign", "part"),
         cases=[Case(((), (4,))), Case(((2,), (2, 3), Fixed(1))),
                Case(((1, 3), (2, 3), Fixed(0), Fixed(None), Fixed(True))),
                Case(((), (2, 3)), {"b": (2, 3)}), Case(((), (2, 3)), {"b": (2, 3), "part": Fixed("b")}),
                Case(((2,), (2, 3), Fixed(1), (3,))),
                Case(((2,), (2, 3), Fixed(1), (3,)), {"part": Fixed("b")})])
    return True


defer(register)
