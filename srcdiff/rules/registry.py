"""The rule registry: one declarative entry per primitive, keyed by the callable.

A rule gives, for each differentiable parameter of a primitive, an *adjoint template*:
a Python expression over the primitive's parameter names, ``out`` (the primal result)
and ``g`` (the cotangent of ``out``).  The reverse pass inlines the template into the
generated code, so a rule costs nothing at run time beyond the NumPy it computes.

Every parameter of a primitive either has a template or is declared non-differentiable
(``nondiff``): a differentiated value reaching any other parameter is an error, for
srcdiff's rules and the user's alike, never a silent zero.

A rule the user registers is parsed and checked here, when it is registered: an unknown
name or a signature that does not parse raises :class:`~srcdiff.errors.RuleDefinitionError`.
srcdiff's own rules (hundreds of them, registered inside :func:`own_rules`) keep their
templates as text until a transformation first uses the rule, so that ``import srcdiff``
does not parse them all; the rule tests parse every one of them.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import math
import operator
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from .. import runtime
from ..errors import Loc, RuleDefinitionError
from ..ir import Const, Method
from ..trees import clone

__all__ = [
    "Domain",
    "Fixed",
    "Case",
    "Rule",
    "register_adjoint",
    "define_tangents",
    "nondifferentiable",
    "own_rules",
    "Declaration",
    "declarations",
    "receiver_refusal",
    "refusal",
    "refuse",
    "refuse_receiver",
    "lookup",
    "is_nondifferentiable",
    "rules",
    "defer",
    "version",
    "TEMPLATE_GLOBALS",
]

# Names a template may use besides its parameters, ``g`` and ``out``.
TEMPLATE_GLOBALS: dict[str, Any] = {"np": np, "math": math}
TEMPLATE_GLOBALS.update({name: getattr(runtime, name) for name in runtime.__all__})


@dataclass(frozen=True)
class Domain:
    """Where the generic rule test samples a parameter: uniform in [low, high],
    with a random sign when ``signed`` (so ``abs`` is never sampled at 0)."""

    low: float
    high: float
    signed: bool = False

    def sample(self, rng: np.random.Generator, shape: tuple) -> Any:
        x = rng.uniform(self.low, self.high, size=shape)
        if self.signed:
            x = x * rng.choice([-1.0, 1.0], size=shape)
        return float(x) if shape == () else x


REAL = Domain(-2.0, 2.0)
POSITIVE = Domain(0.5, 3.0)
UNIT = Domain(-0.9, 0.9)
NONZERO = Domain(0.5, 2.0, signed=True)
ABOVE_ONE = Domain(1.1, 3.0)


@dataclass(frozen=True, eq=False)
class Fixed:
    """A non-differentiated argument in a test case, passed as this exact value."""

    value: Any


@dataclass(frozen=True, eq=False)
class Case:
    """One way the generic rule test calls a primitive.

    ``args``/``kwargs`` hold shapes (a random float array from the parameter's domain,
    ``()`` meaning a Python float), :class:`Fixed` values, or lists of shapes (a
    sequence argument such as ``np.concatenate``'s).
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)


UNARY_CASES = (Case(((),)), Case(((3,),)), Case(((2, 3),)))
BINARY_CASES = (
    Case(((), ())),
    Case(((3,), (3,))),
    Case(((2, 3), (3,))),
    Case(((2, 1), (1, 3))),
    Case(((), (2, 3))),
)


@dataclass(eq=False)
class Rule:
    """The derivative rule of one primitive.

    Its templates are kept as text (``sources``, ``tangent_sources``) and parsed the
    first time a transformation reads them (``adjoints``, ``tangents``, ``tangent``).
    """

    fn: Any
    name: str
    params: tuple  # parameter names, in positional order
    defaults: dict  # name -> default value (parameters without one are required)
    sources: dict  # name -> adjoint template text
    domain: dict  # name -> Domain
    cases: tuple
    seq: frozenset = frozenset()  # parameters that take a sequence of arrays
    doc: str = ""
    tree_out: bool = False  # the result is a container (its cotangent may be sparse)
    sparse: bool = False  # templates may give None (a zero) for an entry
    reverse: bool = True  # False: a forward-mode-only rule (no adjoints at all)
    # The parameters that carry no derivative (axes, flags, shapes, indices, ...).  A
    # differentiated argument of any other parameter without a template is an error.
    nondiff: frozenset = frozenset()
    # the parameters in ``nondiff`` that the test of non-differentiable parameters does
    # not perturb: not float-valued by nature (counts, flags, indices, dtypes), or tied to
    # another argument's value (minmax_grad's ``out`` is the extreme of its ``a``)
    discrete: frozenset = frozenset()
    # name -> tangent template text over params, out and t; "*" -> one template for the
    # whole result tangent, over params, out and d<param>.  None stands for the tangent
    # of an element-wise rule, written from its adjoint template when first read.
    _tangent_texts: dict = field(default_factory=dict, repr=False)
    _parsed: dict = field(default_factory=dict, init=False, repr=False)  # kind -> parsed

    @property
    def declared_tangents(self) -> dict:
        """The tangent template texts as registered: None where an element-wise rule's
        tangent is written from its adjoint (which, with srcdiff's code, fixes it)."""
        return self._tangent_texts

    @property
    def tangent_sources(self) -> dict:
        """Parameter -> tangent template text, and ``"*"`` -> the result's tangent."""
        texts = self._parsed.get("tangent_sources")
        if texts is None:  # (kept apart: declared_tangents stays as registered)
            texts = {param: _tangent_of_elementwise(self.sources[param]) if text is None else text
                     for param, text in self._tangent_texts.items()}
            self._parsed["tangent_sources"] = texts
        return texts

    @property
    def adjoints(self) -> dict:
        """Parameter -> parsed adjoint template (over the parameters, ``g`` and ``out``)."""
        return self._parse("adjoints", self.sources, {"g", "out"})

    @property
    def tangents(self) -> dict:
        """Parameter -> parsed tangent template (over the parameters, ``t`` and ``out``)."""
        texts = {p: text for p, text in self.tangent_sources.items() if p != "*"}
        return self._parse("tangents", texts, {"t", "out"})

    @property
    def tangent(self) -> gast.expr | None:
        """The parsed template of the result's tangent (over the parameters, ``out`` and
        ``d<param>``), or None when the rule has one per parameter."""
        text = self._tangent_texts.get("*")
        if text is None:
            return None
        return self._parse("tangent", {"*": text}, {"out"} | {"d" + p for p in self.params})["*"]

    def _parse(self, kind: str, texts: dict, placeholders: set) -> dict:
        parsed = self._parsed.get(kind)
        if parsed is None:
            allowed = set(self.params) | placeholders
            where = f"rule for {self.name}"
            parsed = {p: parse_template(text, allowed, where) for p, text in texts.items()}
            self._parsed[kind] = parsed
        return parsed

    def bind(self, args: tuple, kwargs: tuple) -> dict | None:
        """Map call atoms onto parameter names, defaults filled in; None if they don't fit."""
        if len(args) > len(self.params):
            return None
        bound = dict(zip(self.params, args))
        for name, value in kwargs:
            if name not in self.params or name in bound:
                return None
            bound[name] = value
        for name in self.params:
            if name not in bound:
                if name not in self.defaults:
                    return None
                bound[name] = Default(self.defaults[name])
            elif name.startswith("_") and not _is_default(bound[name], self.defaults.get(name)):
                return None  # a placeholder (``_retstep``): the rule covers its default only
        return bound


def _is_default(atom: Any, default: Any) -> bool:
    return isinstance(atom, Const) and type(atom.value) is type(default) and atom.value == default


class Default:
    """Marks a parameter the call left at its default (the reverse pass makes a Const)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


_RULES: dict[Any, Rule] = {}
_NONDIFF: set = set()
# The functions whose rule (or tangents, or being non-differentiable) the user's code
# registered; srcdiff's own rules follow from its source files.
_USER: set = set()
version_cell = [0]
_OWN = threading.local()  # .active: srcdiff is registering its own rules (own_rules)


@contextlib.contextmanager
def own_rules() -> Iterator[None]:
    """Registrations made inside are srcdiff's own (its rule modules use it): their
    templates are parsed when a transformation first reads them, not at registration,
    and the disk cache keys them by srcdiff's source rather than by their text.  Every
    other registration is the user's.  (Per thread: a user registering a rule while
    another thread registers SciPy's is still the user.)"""
    before = getattr(_OWN, "active", False)
    _OWN.active = True
    try:
        yield
    finally:
        _OWN.active = before


def _registering_own() -> bool:
    return getattr(_OWN, "active", False)


def version() -> int:
    """Bumped by every registration, so caches can tell derivatives built before it."""
    return version_cell[0]


_RULE_HINT = (
    'a rule reads: register_adjoint(fn, "name(x, y=default)", x="<expression of x, y, g and out>"), '
    "one template per differentiable parameter, using only the parameter names, g (the "
    "cotangent of the result), out (the result), np, math and srcdiff.runtime's helpers"
)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # srcdiff's own files


def _caller_loc() -> Any:
    """Where the user's code called into the registry (the first frame outside srcdiff)."""
    import linecache

    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return None
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).rstrip("\n")
    return Loc(frame.f_code.co_filename, frame.f_lineno, len(line) - len(line.lstrip()), line)


def _rule_error(message: str, hint: str = _RULE_HINT) -> RuleDefinitionError:
    return RuleDefinitionError(message, _caller_loc(), hint)


def _key(fn: Any) -> Any:
    try:
        hash(fn)
    except TypeError as exc:  # pragma: no cover - numpy callables are hashable
        raise _rule_error(f"cannot register a rule for unhashable {fn!r}") from exc
    return fn


def printable_name(fn: Any) -> str:
    """How generated code and messages spell a callable: ``np.sum``, ``math.exp``."""
    if isinstance(fn, Method):
        return f".{fn.name}()"
    name = getattr(fn, "__name__", None) or repr(fn)
    if np.__dict__.get(name) is fn:  # (getattr would warn for removed aliases like np.str)
        return f"np.{name}"
    if np.linalg.__dict__.get(name) is fn:
        return f"np.linalg.{name}"
    if getattr(math, name, None) is fn:
        return f"math.{name}"
    if getattr(operator, name, None) is fn:
        return f"operator.{name}"
    if getattr(builtins, name, None) is fn:
        return name
    if getattr(runtime, name, None) is fn:
        return name
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module else name


def parse_signature(signature: str) -> tuple[tuple, dict]:
    """The parameter names and the defaults of a signature like ``"sum(a, axis=None)"``.

    (The standard library's parser, not gast's: nothing here keeps the tree, and every
    rule srcdiff registers at import goes through this.)
    """
    try:
        node = ast.parse(signature.strip()).body[0].value
    except (SyntaxError, IndexError, AttributeError) as exc:
        raise _rule_error(f"rule signature {signature!r} is not a call like 'sin(x)'") from exc
    if not isinstance(node, ast.Call):
        raise _rule_error(f"rule signature {signature!r} is not a call like 'sin(x)'")
    params: list[str] = []
    defaults: dict = {}
    for arg in node.args:
        if not isinstance(arg, ast.Name):
            raise _rule_error(f"rule signature {signature!r}: parameters must be plain names")
        params.append(arg.id)
    for kw in node.keywords:
        try:
            defaults[kw.arg] = _literal(kw.value)
        except Exception as exc:
            raise _rule_error(
                f"rule signature {signature!r}: default of {kw.arg} must be a literal"
            ) from exc
        params.append(kw.arg)
    return tuple(params), defaults


def _literal(node: ast.expr) -> Any:
    """The value of a literal default, NumPy's and math's constants (np.nan) included."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        return eval(ast.unparse(node), {"np": np, "math": math})


def parse_template(text: str, allowed: Iterable[str], where: str) -> gast.expr:
    """Parse an expression template and check every free name it reads is allowed."""
    try:
        module = gast.parse(text.strip())
    except SyntaxError as exc:
        raise _rule_error(f"{where}: template {text!r} does not parse: {exc.msg}") from exc
    if len(module.body) != 1 or not isinstance(module.body[0], gast.Expr):
        raise _rule_error(f"{where}: template {text!r} must be a single expression")
    expr = module.body[0].value
    allowed = set(allowed) | set(TEMPLATE_GLOBALS) | set(dir(builtins))
    bound = {
        n.id
        for n in gast.walk(expr)
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))
    }
    for n in gast.walk(expr):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            if n.id not in allowed and n.id not in bound:
                raise _rule_error(
                    f"{where}: template {text!r} reads unknown name {n.id!r}",
                    hint="templates may use the parameter names, g, out, np, math "
                    "and the helpers in srcdiff.runtime",
                )
    return expr


def _domains(params: tuple, domain: Domain | dict | None) -> dict:
    """Each parameter's sampling domain: one for all, one per name, REAL by default."""
    if isinstance(domain, Domain) or domain is None:
        return {p: domain or REAL for p in params}
    return {p: domain.get(p, REAL) for p in params}


def register_adjoint(
    fn: Callable,
    signature: str,
    *,
    domain: Domain | dict | None = None,
    cases: Iterable[Case] | None = None,
    seq: Iterable[str] = (),
    doc: str = "",
    tree_out: bool = False,
    sparse: bool = False,
    tangents: dict | None = None,
    tangent: str | None = None,
    reverse: bool = True,
    nondiff: Iterable[str] = (),
    discrete: Iterable[str] = (),
    **adjoints: str,
) -> Rule:
    """Register the reverse-mode rule of ``fn``.

    ``signature`` spells how ``fn`` is called, with literal defaults, e.g.
    ``"sum(a, axis=None, keepdims=False)"``.  Each keyword names a parameter and gives
    its adjoint as an expression template over the parameter names, ``out`` (the
    result) and ``g`` (the cotangent of the result); the template must give a value of
    the parameter's own shape.  A parameter that carries no gradient (a flag, a count)
    is named in ``nondiff``; differentiating through any other parameter without a
    template is an error, never a silent zero.  ``discrete`` lists the ``nondiff``
    parameters that are not float-valued by nature (counts, flags, indices): the
    registry test checks the others by finite differences.

    >>> import srcdiff, numpy as np
    >>> def softplus(x):
    ...     return np.log1p(np.exp(x))
    >>> rule = srcdiff.register_adjoint(softplus, "softplus(x)", x="g / (1 + np.exp(-x))")
    >>> rule.sources["x"]
    'g / (1 + np.exp(-x))'
    """
    params, defaults = parse_signature(signature)
    by_user = not _registering_own()
    name = printable_name(fn)
    where = f"rule for {name}"
    nondiff, discrete = tuple(nondiff), tuple(discrete)
    for param in nondiff:
        if param not in params:
            raise _rule_error(f"{where}: nondiff names {param!r}, not a parameter of {signature!r}")
    for param in discrete:
        if param not in nondiff:
            raise _rule_error(f"{where}: discrete names {param!r}, which is not in nondiff")
    for param, text in adjoints.items():
        if param not in params:
            raise _rule_error(f"{where}: {param!r} is not a parameter of {signature!r}")
        if by_user:  # (srcdiff's own templates are parsed when first used)
            parse_template(text, set(params) | {"g", "out"}, where)
    tangent_texts: dict = {}
    for param, text in (tangents or {}).items():
        if param not in params:
            raise _rule_error(f"{where}: tangent for {param!r}, which is not a parameter of {signature!r}")
        if by_user:
            parse_template(text, set(params) | {"t", "out"}, where)
        tangent_texts[param] = text.strip()
    if tangent is not None:
        if by_user:
            parse_template(tangent, set(params) | {"out"} | {"d" + p for p in params}, where)
        tangent_texts["*"] = tangent.strip()
    elif is_elementwise(fn):
        for param in adjoints:
            tangent_texts.setdefault(param, None)  # written from the adjoint when first read
    domain = _domains(params, domain)
    if cases is None:
        required = [p for p in params if p not in defaults]
        if len(required) == 1:
            cases = UNARY_CASES
        elif len(required) == 2:
            cases = BINARY_CASES
        else:
            raise _rule_error(f"{where}: give test cases for a primitive of this arity")
    rule = Rule(
        fn=fn,
        name=name,
        params=params,
        defaults=defaults,
        sources={p: t.strip() for p, t in adjoints.items()},
        domain=domain,
        cases=tuple(cases),
        seq=frozenset(seq),
        doc=doc,
        tree_out=tree_out,
        sparse=sparse,
        reverse=reverse,
        nondiff=frozenset(nondiff),
        discrete=frozenset(discrete),
        _tangent_texts=tangent_texts,
    )
    _RULES[_key(fn)] = rule
    if by_user:
        _USER.add(fn)
    _NONDIFF.discard(fn)
    _DECLARATIONS.pop(fn, None)
    version_cell[0] += 1
    return rule


def define_tangents(fn: Any, tangent: str | None = None, **tangents: str) -> Rule:
    """Give the registered rule of ``fn`` its forward-mode (tangent) templates.

    Either one template per parameter, over the parameter names, ``out`` and ``t``
    (that parameter's tangent), whose sum is the result's tangent; or ``tangent``, one
    template for the result's tangent over the parameter names, ``out`` and ``d<param>``
    (each parameter's tangent, zeros where it has none).
    """
    rule = _RULES.get(fn)
    where = f"tangent rule for {printable_name(fn)}"
    if rule is None:
        raise _rule_error(f"{where}: {printable_name(fn)} has no registered rule")
    by_user = not _registering_own()
    for param, text in tangents.items():
        if param not in rule.params:
            raise _rule_error(f"{where}: {param!r} is not a parameter of {rule.name}")
        if by_user:  # (srcdiff's own templates are parsed when first used)
            parse_template(text, set(rule.params) | {"t", "out"}, where)
        rule._tangent_texts[param] = text.strip()
        rule._parsed.pop("tangents", None)
        rule._parsed.pop("tangent_sources", None)
    if tangent is not None:
        if by_user:
            parse_template(tangent, set(rule.params) | {"out"} | {"d" + p for p in rule.params}, where)
        rule._tangent_texts["*"] = tangent.strip()
        rule._parsed.pop("tangent", None)
        rule._parsed.pop("tangent_sources", None)
    if by_user:
        _USER.add(fn)
    version_cell[0] += 1
    return rule


_ELEMENTWISE_EXTRA: set = set()


def is_elementwise(fn: Any) -> bool:
    """Whether each entry of ``fn``'s result depends only on the same entry of each
    argument (after broadcasting): then its Jacobian is diagonal, and its tangent rule
    is its adjoint rule with the tangent in place of the cotangent, without unbroadcast."""
    import operator

    if isinstance(fn, np.ufunc):
        return fn.nout == 1 and fn is not np.matmul
    if fn in (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
              operator.mod, operator.neg, operator.pos, abs, float, pow, max, min, np.where,
              np.clip, np.real, np.float64) or fn == Method("astype"):
        return True
    if fn in _ELEMENTWISE_EXTRA:
        return True
    return getattr(fn, "__module__", None) == "math" or getattr(fn, "__self__", None) is math


def _tangent_of_elementwise(adjoint: str) -> str:
    """The adjoint template with ``t`` for ``g`` and every ``unbroadcast(e, x)`` as ``e``."""
    return ast.unparse(_ElementwiseTangent().visit(ast.parse(adjoint, mode="eval")).body)


class _ElementwiseTangent(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id == "g":
            return ast.Name(id="t", ctx=ast.Load())
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "unbroadcast":
            return node.args[0]
        return node


@dataclass(frozen=True, eq=False)
class Declaration:
    """A function declared non-differentiable in every parameter, as srcdiff's own
    declarations spell it: how it is called, and how the registry test calls it.

    ``nondiff`` names the parameters it is declared non-differentiable in: all of them,
    or (a function with a rule of no templates) some.  Each of those a case samples as
    floats is checked to have a zero derivative (the
    outputs at ``x + h v`` and ``x - h v`` are equal); the parameters in ``discrete``
    take ints, bools, shapes or dtypes by nature and are not perturbed.  ``opaque``
    marks a result that is not a number at all (a string, a type, an identity), whose
    derivative does not exist.
    """

    fn: Any
    name: str
    params: tuple
    defaults: dict
    domain: dict
    cases: tuple
    discrete: frozenset = frozenset()
    opaque: bool = False
    nondiff: frozenset = frozenset()  # the parameters declared non-differentiable


_DECLARATIONS: dict[Any, Declaration] = {}


def nondifferentiable(
    *fns: Any,
    signature: str | None = None,
    params: Iterable[str] | None = None,
    discrete: Iterable[str] = (),
    domain: Domain | dict | None = None,
    cases: Iterable[Case] | None = None,
    opaque: bool = False,
) -> None:
    """Declare callables whose result carries no gradient (``np.argmax``, ``len``).

    ``nondifferentiable(fn, ...)`` declares ``fn`` non-differentiable in every
    parameter: values flowing through it stop being differentiated, as they would with
    a zero derivative.  Calling an undeclared function without a rule is an error instead.

    With ``signature`` (``"name(x, n=0)"``, one signature shared by all ``fns``) the
    declaration also says how the registry test calls the function (``domain``,
    ``cases``, ``discrete``: see :class:`Declaration`).  With ``params`` naming only
    some of the signature's parameters, ``fn`` is non-differentiable in those only: a
    differentiated value reaching any other parameter is refused (give those a rule
    with :func:`register_adjoint` and ``nondiff=`` instead, to differentiate them).
    """
    by_user = not _registering_own()
    declared = None
    if signature is not None:
        names, defaults = parse_signature(signature)
        params = names if params is None else tuple(params)
        for param in (*params, *discrete):
            if param not in names:
                raise _rule_error(f"nondifferentiable: {param!r} is not a parameter of {signature!r}")
        domain = _domains(names, domain)
        if cases is None:
            required = [p for p in names if p not in defaults]
            cases = {1: UNARY_CASES, 2: BINARY_CASES}.get(len(required), ())
        declared = (names, defaults, domain, tuple(cases), frozenset(params))
    elif params is not None:
        raise _rule_error("nondifferentiable: params= needs the signature= it names them in")
    for fn in fns:
        _DECLARATIONS.pop(fn, None)
        if declared is not None:
            names, defaults, domain, cases, nondiff = declared
            _DECLARATIONS[fn] = Declaration(fn, printable_name(fn), names, defaults, domain,
                                            cases, frozenset(discrete), opaque, nondiff)
        if declared is not None and nondiff != set(names):  # in some parameters only
            _RULES[_key(fn)] = Rule(fn=fn, name=printable_name(fn), params=names,
                                    defaults=defaults, sources={}, domain=domain, cases=(),
                                    nondiff=nondiff, discrete=frozenset(discrete))
            _NONDIFF.discard(fn)
        else:
            _NONDIFF.add(_key(fn))
            _RULES.pop(fn, None)
        if by_user:
            _USER.add(fn)
    version_cell[0] += 1


def declarations() -> list[Declaration]:
    """srcdiff's declarations of functions non-differentiable in every parameter that
    say how to call them (what the registry test checks)."""
    return list(_DECLARATIONS.values())


# Functions srcdiff refuses to differentiate through, with what to write instead; and
# objects whose ``obj[...]`` computes values from what is inside the brackets rather
# than reading entries (``np.r_[x, y]`` joins x and y), by type.
_REFUSED: dict[Any, str] = {}
_REFUSED_RECEIVERS: dict[type, str] = {}


def refuse(fn: Any, hint: str) -> None:
    """Refuse a differentiated value reaching ``fn`` (which has no rule and is not
    declared non-differentiable), with ``hint`` saying what to write instead."""
    _REFUSED[_key(fn)] = hint
    version_cell[0] += 1


def refuse_receiver(cls: type, hint: str) -> None:
    """Refuse ``obj[...]`` on a differentiated index for every ``obj`` of type ``cls``."""
    _REFUSED_RECEIVERS[cls] = hint
    version_cell[0] += 1


def refusal(fn: Any) -> str | None:
    """What to write instead of calling ``fn`` on a differentiated value, if declared."""
    try:
        return _REFUSED.get(fn)
    except TypeError:
        return None


def receiver_refusal(obj: Any) -> str | None:
    """What to write instead of ``obj[...]`` when ``obj[...]`` is refused, else None."""
    for cls, hint in _REFUSED_RECEIVERS.items():
        if isinstance(obj, cls):
            return hint
    return None


def lookup(fn: Any) -> Rule | None:
    try:
        rule = _RULES.get(fn)
    except TypeError:
        return None
    if rule is None and _DEFERRED and "scipy.special" in sys.modules:
        # SciPy's rules, registered the first time they can be needed
        with own_rules():
            registered = any([register() for register in _DEFERRED])
        if registered:
            _DEFERRED.clear()
            return _RULES.get(fn)
    return rule


# Registrations deferred until SciPy is imported: each returns whether it registered.
_DEFERRED: list = []


def defer(register: Callable[[], bool]) -> None:
    """Run ``register`` the first time a lookup misses after SciPy was imported (how
    rules/special.py registers SciPy's rules without srcdiff importing SciPy)."""
    _DEFERRED.append(register)


def is_nondifferentiable(fn: Any) -> bool:
    try:
        return fn in _NONDIFF
    except TypeError:
        return False


def rules() -> list[Rule]:
    """Every registered rule, in registration order."""
    return list(_RULES.values())


def nondifferentiable_functions() -> list:
    return list(_NONDIFF)


def registered_by_user(fn: Any) -> bool:
    """Whether the user's code registered ``fn``'s rule, tangents or non-differentiability
    (what the disk cache must hash in full; srcdiff's own follow from its source)."""
    try:
        return fn in _USER
    except TypeError:
        return False


def instantiate(template: gast.expr, mapping: dict[str, gast.expr]) -> gast.expr:
    """A copy of ``template`` with each placeholder name replaced by its expression."""
    return clone(template, mapping)
