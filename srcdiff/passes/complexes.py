"""complexes: SSA IR -> Complexity; which values may be complex, and by which rule each
statement that meets one is differentiated.

A value *may be complex* when it is a complex argument (the code is made for the kinds
of the call's arguments, so this is known), a complex literal or dtype, a global that
holds a complex number, the result of a function that makes complex values from real
ones (``np.fft``, ``np.linalg.eig``, a helper with a complex literal), or computed from
one of those, except by functions with real results (``np.abs``, ``np.real``,
``np.imag``, ``np.angle``, comparisons, shapes).  May-be-complex is conservative: a
value that turns out real is differentiated the same way, exactly.

srcdiff's convention is autograd's and JAX's (see :mod:`srcdiff.rules.complexes`).  For
each statement with an argument or a result that may be complex:

- the rule is the function's own where it holds for complex values, or its complex rule
  (``np.abs``, ``np.vdot``, the exponent of ``**``, ...);
- each adjoint of an argument that may be real is wrapped in ``real_like(adjoint, x)``,
  which drops the imaginary part when ``x`` is real.

After activity, :func:`check` refuses, at its line, a statement that carries a
derivative through a complex value by a rule that does not hold for complex values.

>>> import numpy as np
>>> from srcdiff.pipeline import lower_to_ir
>>> def f(x):
...     z = x * np.exp(1j * x)
...     return np.abs(z)
>>> cplx = analyze(lower_to_ir(f), frozenset())
>>> sorted(cplx.maybe)
['_t0', '_t1', 'z']
>>> cplx.rules['z'].sources['x']
'real_like(unbroadcast(g * y, x), x)'
>>> cplx.rules['_t2'].sources['x']
'g * np.conjugate(x) / (out + (out == 0))'
"""

from __future__ import annotations

import operator
import weakref
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from .. import ir, runtime
from ..errors import NonDifferentiableError
from ..rules import complexes as crules
from ..rules import registry
from . import fence
from .activity import is_user_function
from .parse import parse

__all__ = ["Complexity", "analyze", "check"]


@dataclass(frozen=True, eq=False)
class Complexity:
    maybe: frozenset  # names that may hold a complex value
    rules: dict = field(default_factory=dict)  # target -> the rule it is differentiated by
    # target -> the non-holomorphic function a complex value passes through there
    breaks: dict = field(default_factory=dict)
    certain: frozenset = frozenset()  # names certainly complex

    def may_be_complex(self, atom: Any) -> bool:
        """Whether the atom ``atom`` (a name, a literal, a global, a display) may be complex."""
        return _may_be_complex(atom, self.maybe)


# Functions whose result is real whatever their arguments.
_REAL_RESULTS = frozenset({
    np.abs, abs, np.real, np.imag, np.angle, np.shape, np.size, np.ndim, len, np.isnan,
    np.isfinite, np.isinf, np.argmax, np.argmin, np.argsort, np.iscomplexobj, np.isrealobj,
    np.iscomplex, np.isreal, operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
    operator.ne, operator.not_, operator.is_, operator.is_not, operator.contains, np.equal,
    np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal, np.all, np.any,
    np.count_nonzero, np.nonzero, np.flatnonzero, np.argwhere, bool, int, float, str, type,
    isinstance, np.result_type, np.zeros, np.ones, np.eye, np.identity, np.empty, range,
})


def _real_result(obj: Any) -> bool:
    try:
        return obj in _REAL_RESULTS or getattr(obj, "__module__", None) == "math"
    except TypeError:
        return False


# Functions with a real result of complex arguments, whose rules give real tangents and
# read a real cotangent (no projection of the result needed).
_REAL_RESULTS_OF_COMPLEX = frozenset({np.abs, abs, np.real, np.imag, np.angle})

_REAL_ATTRIBUTES = frozenset({"real", "imag", "shape", "ndim", "size", "dtype"})

# code -> whether the user function can make a complex value (an entry goes with its code)
_MAKES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _helper_makes_complex(fn: Any) -> bool:
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    if code not in _MAKES:

        try:
            _MAKES[code] = fence.find_complex(parse(fn)) is not None
        except Exception:  # no source: the call is reported where it needs a derivative
            _MAKES[code] = False
    return _MAKES[code]


def _dtype_positions(call: ir.Call) -> set:
    """The ids of the atoms of ``call`` that stand where a dtype is expected."""
    found = {id(a) for k, a in call.kwargs if k == "dtype"}
    fn = call.fn
    if isinstance(fn, (ir.Method, ir.Attr)) and fn.name in ("astype", "view") and len(call.args) > 1:
        found.add(id(call.args[1]))
    return found


def _source_atom(atom: Any, where_dtype: bool = False) -> bool:
    """Whether ``atom`` itself is a complex number or names a complex type."""
    if isinstance(atom, ir.Const):
        value = atom.value
        if isinstance(value, str):
            return fence.complex_dtype(value, where_dtype)
        return isinstance(value, complex)
    if isinstance(atom, ir.Ref):
        return fence.makes_complex(atom.value) is not None
    if isinstance(atom, (ir.Tup, ir.Lst)):
        return any(_source_atom(a) for a in atom.items)
    return False


def _may_be_complex(atom: Any, maybe: set | frozenset, where_dtype: bool = False) -> bool:
    """Whether ``atom`` may be complex, given the names ``maybe`` that may be."""
    if isinstance(atom, ir.Var):
        return atom.id in maybe
    if isinstance(atom, (ir.Tup, ir.Lst)):
        return any(_may_be_complex(a, maybe) for a in atom.items)
    if isinstance(atom, ir.Slc):
        return False  # (a step 5j in np.r_[a:b:5j] counts points)
    return _source_atom(atom, where_dtype)


def analyze(fn: ir.Function, complex_params: frozenset) -> Complexity:
    """Which names of ``fn`` may be complex, given the parameters that are; and the
    rule of each statement that meets a complex value."""
    maybe: set = set(complex_params)

    def complex_atom(atom: Any, where_dtype: bool = False) -> bool:
        return _may_be_complex(atom, maybe, where_dtype)

    def complex_value(value: Any) -> bool:
        if isinstance(value, ir.Raw):
            return any(u in maybe for u in value.uses) or any(
                isinstance(n, gast.Constant) and isinstance(n.value, complex) for n in gast.walk(value.node))
        if not isinstance(value, ir.Call):
            return complex_atom(value)
        obj = value.callee
        if isinstance(value.fn, ir.Ref) and fence.makes_complex(obj) is not None:
            return True
        if _real_result(obj):
            return False
        if obj is runtime.real_like and len(value.args) == 2:  # complex as the value it stands for
            return complex_atom(value.args[1])
        if isinstance(value.fn, ir.Attr) and value.fn.name in _REAL_ATTRIBUTES:
            return False
        dtype_at = _dtype_positions(value)
        if any(complex_atom(a, id(a) in dtype_at) for a in value.args) or any(
                complex_atom(a, id(a) in dtype_at) for _, a in value.kwargs):
            return True
        return _user_function(obj) and _helper_makes_complex(obj)

    changed = True
    while changed:  # loops feed values back: iterate to a fixed point
        changed = False
        for stmt in ir.walk(fn.body):
            found: list = []
            if isinstance(stmt, ir.Assign):
                if stmt.target not in maybe and complex_value(stmt.value):
                    found.append(stmt.target)
            elif isinstance(stmt, (ir.If, ir.Loop)):
                found += [phi.target for phi in stmt.phis
                          if phi.target not in maybe and any(complex_atom(s) for s in phi.sources)]
                if isinstance(stmt, ir.Loop):
                    found += [x for x, h in stmt.exits if x not in maybe and h in maybe]
                    if stmt.target and stmt.target not in maybe and complex_atom(stmt.iter):
                        found.append(stmt.target)
            if found:
                maybe.update(found)
                changed = True
    if not maybe and not any(isinstance(s, ir.Assign) and complex_value(s.value) for s in ir.walk(fn.body)):
        return Complexity(frozenset())
    certain = _certainly_complex_names(fn, complex_params)

    rules: dict = {}
    breaks: dict = {}
    for stmt in ir.walk(fn.body):
        if not isinstance(stmt, ir.Assign) or not isinstance(stmt.value, ir.Call):
            continue
        call = stmt.value
        obj = call.callee
        complex_args = any(complex_atom(a) for a in call.args) or any(complex_atom(a) for _, a in call.kwargs)
        if not complex_args and stmt.target not in maybe:
            continue
        base = registry.lookup(obj)
        if base is None:
            continue
        if complex_args and _non_holomorphic(obj):
            breaks[stmt.target] = obj
        rule = (crules.complex_rule(obj) if complex_args else None) or base
        bound = rule.bind(call.args, call.kwargs)
        if bound is None:
            continue
        if stmt.target in maybe or rule is not base:
            # the arguments that may be real get the real part of their cotangents, and
            # so does a result that may be real (np.full_like(x, z), z.astype(float))
            real = frozenset(p for p, atom in bound.items()
                             if p in rule.sources and not isinstance(atom, registry.Default)
                             and not _certain(atom, certain))
            result = stmt.target not in certain and obj not in _REAL_RESULTS_OF_COMPLEX
            if real or result:
                rule = crules.projected(rule, real, result)
        if rule is not base:
            rules[stmt.target] = rule
    return Complexity(frozenset(maybe), rules, breaks, frozenset(certain))


def _certain(atom: Any, certain: set) -> bool:
    if isinstance(atom, ir.Var):
        return atom.id in certain
    return isinstance(atom, ir.Const) and isinstance(atom.value, complex)


def _certainly_complex_names(fn: ir.Function, complex_params: frozenset) -> set:
    """The names certainly complex (their cotangents need no projection): complex
    arguments, and what a function that keeps complex values complex (the rules of
    rules/complexes.HOLOMORPHIC with a result like their arguments) makes of one."""
    certain = set(complex_params)
    changed = True
    while changed:
        changed = False
        for stmt in ir.walk(fn.body):
            if isinstance(stmt, ir.Assign) and stmt.target not in certain:
                value = stmt.value
                if isinstance(value, ir.Var) and value.id in certain or isinstance(value, ir.Call) \
                        and _keeps_complex(value, certain):
                    certain.add(stmt.target)
                    changed = True
            elif isinstance(stmt, (ir.If, ir.Loop)):
                for phi in stmt.phis:
                    if phi.target not in certain and all(_certain(a, certain) for a in phi.sources):
                        certain.add(phi.target)
                        changed = True
    return certain


def _keeps_complex(call: ir.Call, certain: set) -> bool:
    """Whether ``call`` certainly makes a complex value, given the names in ``certain``."""
    obj = call.callee
    try:
        if obj not in crules.HOLOMORPHIC or obj in _REAL_RESULTS or obj in _CONTAINERS:
            return False
    except TypeError:
        return False
    if any(k == "dtype" for k, _ in call.kwargs):
        return False
    if obj in _DTYPE_OF_FIRST:  # np.full_like(x, z) has x's dtype; x[i] = z keeps x's
        return bool(call.args) and _certain(call.args[0], certain)
    return any(_certain(a, certain) for a in call.args)


_CONTAINERS = frozenset({np.split, np.array_split, operator.getitem, np.where, np.take})
_DTYPE_OF_FIRST = frozenset({np.full_like, runtime.setitem, runtime.array_fill})


def _non_holomorphic(obj: Any) -> bool:
    try:
        return obj in crules.NON_HOLOMORPHIC
    except TypeError:
        return False


def _user_function(obj: Any) -> bool:
    """A function of the user's, which srcdiff reads (not one with a rule, nor NumPy's
    or SciPy's own)."""

    module = (getattr(obj, "__module__", None) or "").split(".")[0]
    return (is_user_function(obj) and module not in ("numpy", "scipy")
            and registry.lookup(obj) is None and not registry.is_nondifferentiable(obj))


def check(fn: ir.Function, act: Any, cplx: Complexity) -> None:
    """Refuse an active statement that differentiates through a value that may be
    complex with a rule that does not hold for complex values (or a function declared
    constant that is not constant for complex values)."""
    if not cplx.maybe:
        return
    for stmt in ir.walk(fn.body):
        if not isinstance(stmt, ir.Assign) or not isinstance(stmt.value, ir.Call):
            continue
        call = stmt.value
        atoms = list(call.args) + [a for _, a in call.kwargs]
        complex_vars = [v for a in atoms for v in ir.atom_vars(a) if v in cplx.maybe]
        complex_here = complex_vars or stmt.target in cplx.maybe
        if not complex_here:
            continue
        cls = act.classes.get(stmt.target)
        obj = call.callee
        if cls is not None and cls.kind == "rule" and stmt.target in act.active:
            if not crules.holds_for_complex(cls.rule.fn if cls.rule is not None else obj):
                named = sorted({v for v in complex_vars if not v.startswith("_")})
                what = (f"{', '.join(named)} may be complex" if named
                        else "its argument may be complex" if complex_vars else "its result may be complex")
                raise NonDifferentiableError(
                    f"srcdiff has no rule for {registry.printable_name(obj)} with complex values "
                    f"(here {what})",
                    stmt.loc,
                    hint="differentiate it on real values: take np.real, np.imag or np.abs of the "
                    "complex value first, or write the function with real and imaginary parts; "
                    "see docs/supported-python.md, Complex numbers")
        elif (cls is not None and cls.kind == "nondiff" and stmt.target in act.useful
              and any(v in act.varied for v in complex_vars)):
            try:
                varying = obj in crules.NOT_CONSTANT
            except TypeError:
                varying = False
            if varying:
                raise NonDifferentiableError(
                    f"{registry.printable_name(obj)} is constant between jumps for real values, "
                    "but not for complex ones, and srcdiff has no complex rule for it",
                    stmt.loc, hint="write it as z / np.abs(z) for a complex z")

