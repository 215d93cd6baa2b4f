"""srcdiff/runtime/__init__.py: every helper listed once, re-exported, and tested in the test
module that mirrors the runtime module defining it."""

from __future__ import annotations

import importlib
import pkgutil
import types
from pathlib import Path

from srcdiff import runtime

from ._coverage import TESTED


def _home(name: str) -> str:
    """The runtime module that defines the helper ``name`` (``linalg`` for ``det_grad``)."""
    return getattr(runtime, name).__globals__["__name__"].rpartition(".")[2]


def _runtime_modules() -> list[types.ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(runtime.__path__)]
    return [importlib.import_module(f"{runtime.__name__}.{name}") for name in names]


def test_every_helper_is_tested():
    """Each name in runtime.__all__ has a test in tests/runtime/test_<its module>.py, and
    each test names a real helper."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.startswith("test_"):  # whichever files this run collected
            importlib.import_module(f"{__package__}.{module.name}")
    helpers = set(runtime.__all__)
    assert set(TESTED) - helpers == set(), "tests for helpers runtime no longer has"
    assert helpers - set(TESTED) == set(), "runtime helpers without a test in tests/runtime/"
    elsewhere = {name: sorted(TESTED[name]) for name in helpers
                 if not any(module.endswith(f".test_{_home(name)}") for module, _ in TESTED[name])}
    assert elsewhere == {}, "helpers without a test in the test module of their runtime module"


def test_every_public_helper_is_listed_once_and_re_exported():
    """(Except runtime/support.py: what the helpers share, which generated code never calls.)"""
    assert len(runtime.__all__) == len(set(runtime.__all__))
    for module in _runtime_modules():
        if module.__name__.endswith(".support"):
            assert not set(module.__all__) & set(runtime.__all__)
            continue
        defined = {name for name, value in vars(module).items()
                   if isinstance(value, types.FunctionType) and value.__globals__ is vars(module)}
        public = {name for name in defined if not name.startswith("_")}
        assert public <= set(runtime.__all__), f"{module.__name__} defines helpers not in runtime.__all__"
        for name in public:
            assert getattr(runtime, name) is getattr(module, name), name
