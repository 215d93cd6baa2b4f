"""Shared test helpers."""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import linecache
import math
import operator
from typing import TYPE_CHECKING

import numpy as np
import pytest

try:  # before srcdiff is imported, so its scipy.special rules are in the registry the tests walk
    import scipy.special  # noqa: F401
except ImportError:
    pass

if TYPE_CHECKING:
    from srcdiff import SrcdiffError

_counter = itertools.count()


def make_function(src: str, namespace: dict | None = None, name: str | None = None):
    """Define the function(s) in ``src`` as if they were in a file, so srcdiff can read
    their source; return the one called ``name`` (or the first defined)."""
    filename = f"<srcdiff-test-{next(_counter)}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns = {"np": np, "math": math, "operator": operator}
    ns.update(namespace or {})
    exec(compile(src, filename, "exec"), ns)
    if name is None:
        name = src.split("def ", 1)[1].split("(", 1)[0].strip()
    return ns[name]


def load_example(name: str):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"examples_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def line_of(fn, marker: str) -> tuple[int, str]:
    """The file line number and text of the line of ``fn``'s source containing ``marker``."""
    lines, start = inspect.getsourcelines(fn)
    hits = [i for i, text in enumerate(lines) if marker in text]
    assert len(hits) == 1, f"marker {marker!r} must occur once in {fn.__name__}"
    return start + hits[0], lines[hits[0]].strip()


def check_points_at(err: SrcdiffError, fn, marker: str) -> None:
    """``err`` names ``fn``'s file, the line holding ``marker``, shows that line and a hint."""
    lineno, text = line_of(fn, marker)
    filename = fn.__code__.co_filename
    assert err.loc is not None, f"no location in: {err}"
    assert err.loc.lineno == lineno, f"points at line {err.loc.lineno}, not {lineno}: {err}"
    assert err.loc.filename == filename
    message = str(err)
    assert filename in message
    assert str(lineno) in message
    assert text in message
    assert err.hint
    assert "hint" in message and err.hint in message


def def_line(fn) -> tuple[int, str]:
    lineno = fn.__code__.co_firstlineno
    return lineno, linecache.getline(fn.__code__.co_filename, lineno).strip()


def check_points_at_def(err: SrcdiffError, fn) -> None:
    lineno, text = def_line(fn)
    assert err.loc is not None, f"no location in: {err}"
    assert err.loc.lineno == lineno
    assert fn.__code__.co_filename in str(err)
    assert text in str(err)
    assert err.hint and err.hint in str(err)


def sourceless(src: str, name: str, module: str | None = "sourceless_module"):
    """A Python function whose source cannot be read (exec'd, not in linecache)."""
    ns: dict = {"np": np}
    if module is not None:
        ns["__name__"] = module
    exec(compile(src, f"<sourceless {name}>", "exec"), ns)
    return ns[name]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True, scope="session")
def _no_disk_cache():
    """Tests count transformations; the on-disk cache (tested on its own) stays off."""
    import os

    old = os.environ.get("SRCDIFF_DISABLE_CACHE")
    os.environ["SRCDIFF_DISABLE_CACHE"] = "1"
    yield
    if old is None:
        os.environ.pop("SRCDIFF_DISABLE_CACHE", None)
    else:
        os.environ["SRCDIFF_DISABLE_CACHE"] = old


@pytest.fixture
def clean_registry():
    """Undo every rule registration a test makes."""
    from srcdiff.rules import registry

    rules = dict(registry._RULES)
    nondiff = set(registry._NONDIFF)
    user = set(registry._USER)
    tangents = {fn: dict(rule._tangent_texts) for fn, rule in rules.items()}
    yield
    registry._RULES.clear()
    registry._RULES.update(rules)
    registry._NONDIFF.clear()
    registry._NONDIFF.update(nondiff)
    registry._USER.clear()
    registry._USER.update(user)
    for fn, rule in rules.items():  # (define_tangents changes a rule in place)
        if rule._tangent_texts != tangents[fn]:
            rule._tangent_texts.clear()
            rule._tangent_texts.update(tangents[fn])
            rule._parsed.clear()
    registry.version_cell[0] += 1  # derivatives built with the test's rules are stale now
