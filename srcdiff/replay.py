"""Random draws replayed: ``jacobian`` and ``hessian`` evaluate a function once per
column, and each evaluation must see the draws of the first.  :class:`Replay` finds the
random states a function can draw from (global ``np.random`` and ``random`` states,
seeded generators it reaches, those of its arguments), snapshots them, and puts them
back before each evaluation."""

from __future__ import annotations

import builtins
import os
import random
import types
import weakref
from collections.abc import Callable
from typing import Any

import gast
import numpy as np

from .arguments import REAL_ATOMS
from .errors import UnsupportedSyntaxError
from .passes import fence, parse, resolve
from .rules import registry

__all__ = ["Replay"]

# code -> (states reached through names, refusal or None); weakly keyed, as below
_STATIC_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# code -> (ref texts and nodes, its source) of a function, read once
_SCANNED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_STATE_TYPES = (np.random.Generator, np.random.RandomState, random.Random)


# constructors that seed themselves from the operating system when given no seed
_SELF_SEEDING = (np.random.default_rng, np.random.RandomState, np.random.SeedSequence, np.random.MT19937,
                 np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64, random.Random)


def _states_in(value: Any, found: dict, seen: set, depth: int = 0) -> None:
    """Add to ``found`` (id -> object) every random state ``value`` holds or is."""
    if depth > 6 or id(value) in seen:
        return
    t = type(value)
    if t is np.ndarray or t in REAL_ATOMS and t not in (np.random.Generator, np.random.RandomState):
        return
    seen.add(id(value))
    if isinstance(value, _STATE_TYPES):
        found[id(value)] = value
    elif isinstance(value, types.MethodType):
        _states_in(value.__self__, found, seen, depth + 1)
    elif isinstance(value, types.BuiltinMethodType) and isinstance(getattr(value, "__self__", None),
                                                                   _STATE_TYPES):
        found[id(value.__self__)] = value.__self__  # np.random.normal: the global RandomState's
    elif isinstance(value, dict):
        for v in value.values():
            _states_in(v, found, seen, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _states_in(v, found, seen, depth + 1)
    elif hasattr(value, "__dict__") and not isinstance(value, (types.ModuleType, type, types.FunctionType)):
        for v in vars(value).values():
            _states_in(v, found, seen, depth + 1)


def _scan(fn: Callable) -> tuple | None:
    """The global and closure references of ``fn``'s source (text, node) and the source,
    read once per code object; raise where it makes a generator without a seed."""
    code = fn.__code__
    if code in _SCANNED:
        return _SCANNED[code]
    try:
        source = parse.parse(fn)
    except Exception:  # no source: only the states it is given, and the global ones
        _SCANNED[code] = None
        return None
    res = resolve.resolve(source)
    for node in gast.walk(source.node):
        if isinstance(node, gast.Call) and any(res.refs.get(node.func) is c for c in _SELF_SEEDING):
            if not node.args and not node.keywords or any(
                    isinstance(a, gast.Constant) and a.value is None for a in node.args[:1]):
                raise UnsupportedSyntaxError(
                    f"{res.texts[node.func]}() without a seed draws a new seed from the operating "
                    "system on every call: the columns of a Jacobian or Hessian would each see "
                    "other random numbers", source.loc(node),
                    hint="seed it (np.random.default_rng(0)), or create the generator outside "
                    "the function and pass it in as an argument")
    _SCANNED[code] = ([(res.texts.get(ref, ""), ref) for ref in res.refs], source)
    return _SCANNED[code]


def _current(fn: Callable, text: str) -> Any:
    """What the global or closure expression ``text`` (``np.random.normal``) of ``fn``
    is now, or None."""
    root, *rest = text.split(".")
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    try:
        value = cells[root].cell_contents if root in cells else fn.__globals__.get(
            root, getattr(builtins, root, None))
        for part in rest:
            value = getattr(value, part)
    except (ValueError, AttributeError):
        return None
    return value


def _static_states(fn: Callable, found: dict, seen: set) -> bool:
    """Add the random states ``fn`` (and the user's helpers it calls) refers to by name;
    raise where it draws from a source that cannot be snapshotted.  True when it may draw
    from the global states: it calls something that is neither one of srcdiff's rules or
    declarations nor a function of the user's (np.random.normal, a library's function)."""
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    scanned = _scan(fn)
    if scanned is None:
        return True  # (no source: it may draw from anything)
    refs, source = scanned
    global_states = False
    for text, node in refs:
        value = _current(fn, text)
        module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        owner = getattr(value, "__self__", None)
        if isinstance(value, random.SystemRandom) or isinstance(owner, random.SystemRandom) \
                or value is os.urandom or str(module).split(".")[0] in ("secrets", "uuid"):
            raise UnsupportedSyntaxError(
                f"{text} draws from the operating system's randomness, which "
                "cannot be replayed: the columns of a Jacobian or Hessian would each see other "
                "random numbers", source.loc(node),
                hint="draw from a seeded np.random.Generator passed in as an argument")
        try:
            known = registry.lookup(value) is not None or registry.is_nondifferentiable(value)
        except TypeError:
            known = False
        if known or isinstance(value, types.ModuleType):
            continue  # (a function with a rule holds no random state and draws none)
        if fence.user_function(value):
            global_states |= _static_states(value, found, seen)
        else:
            _states_in(value, found, set())
            global_states |= callable(value) and not isinstance(value, type)
    for default in (*(getattr(fn, "__defaults__", None) or ()),
                    *(getattr(fn, "__kwdefaults__", None) or {}).values()):
        _states_in(default, found, set())
    return global_states


def _snapshot(state: Any) -> Any:
    if isinstance(state, np.random.Generator):
        return state.bit_generator.state
    return state.get_state() if isinstance(state, np.random.RandomState) else state.getstate()


def _restore(state: Any, saved: Any) -> None:
    if isinstance(state, np.random.Generator):
        state.bit_generator.state = saved
    elif isinstance(state, np.random.RandomState):
        state.set_state(saved)
    else:
        state.setstate(saved)


def _same(a: Any, b: Any) -> bool:
    if type(a) is tuple and type(b) is tuple:  # random's state: 625 ints, compared in C
        try:
            return bool(a == b)
        except ValueError:  # an array inside (np.random's state): entry by entry below
            pass
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b


class Replay:
    """The random states a function draws from, put back before each evaluation after
    the first (see :meth:`rewind`), and left as the first evaluation left them."""

    def __init__(self, base: Callable, holders: tuple, args: tuple, kwargs: dict):
        """``base``: the user's function; ``holders``: objects its derivatives are bound to
        (whose random states count too); ``args``, ``kwargs``: one call's arguments."""
        found: dict = {}
        for holder in holders:
            _states_in(holder, found, set())
        if _static_states(base, found, set()):  # (reading them costs tens of microseconds)
            found.update({id(np.random.mtrand._rand): np.random.mtrand._rand, id(random._inst): random._inst})
        seen: set = set()
        for value in (*args, *kwargs.values()):
            _states_in(value, found, seen)
        self.states = list(found.values())
        self.before = [_snapshot(s) for s in self.states]
        self.after: list | None = None

    def rewind(self) -> None:
        """Before an evaluation: the states as the first one found them."""
        if self.after is None:  # the first evaluation just ran: which states did it move?
            after = [_snapshot(s) for s in self.states]
            moved = [i for i, (a, b) in enumerate(zip(self.before, after)) if not _same(a, b)]
            self.states = [self.states[i] for i in moved]
            self.before = [self.before[i] for i in moved]
            self.after = [after[i] for i in moved]
        for state, saved in zip(self.states, self.before):
            _restore(state, saved)

    def finish(self) -> None:
        """After the last evaluation: the states as one evaluation leaves them."""
        if self.after is not None:
            for state, saved in zip(self.states, self.after):
                _restore(state, saved)
