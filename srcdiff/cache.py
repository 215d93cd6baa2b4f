"""The on-disk cache of generated derivatives.

In memory, derivatives are cached per function object (see :mod:`srcdiff.api`).  On
disk, the compiled code of each derivative is kept under a key hashing everything it
depends on: srcdiff's version, the Python version, the rules (their templates), the
function's source and file, what is asked for (mode, wrt, argument kinds, options), and
the names of the functions it calls.  A new process then skips the transformation.

``SRCDIFF_CACHE_DIR`` sets the folder (default: ``$XDG_CACHE_HOME/srcdiff`` or
``~/.cache/srcdiff``); ``SRCDIFF_DISABLE_CACHE=1`` turns the disk cache off.  Entries
are written atomically (a temporary file renamed into place); an unreadable entry is
ignored, regenerated, and reported once with a warning.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import pickle
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .rules import registry
from .version import __version__

__all__ = ["cache_dir", "enabled", "key", "load", "store", "info", "clear"]

_FORMAT = 1
_warned = [False]


def enabled() -> bool:
    return os.environ.get("SRCDIFF_DISABLE_CACHE", "") in ("", "0")


def cache_dir() -> Path:
    explicit = os.environ.get("SRCDIFF_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "srcdiff"


_FINGERPRINTS: dict = {}  # registry version -> rules_fingerprint()


def rules_fingerprint() -> str:
    """A hash of the rule registry, so a changed rule changes every key: the name of
    every rule and non-differentiable function, and the signature and templates of
    those the user registered in full (srcdiff's own are fixed by its source files,
    which the key hashes too).  Computed once per version of the registry (every
    registration makes a new one)."""

    version = registry.version()
    digest = _FINGERPRINTS.get(version)
    if digest is None:
        # Joined with separator characters, not repr'd: repr escapes every template, and
        # this runs before the first derivative of every process.
        parts = []
        for rule in registry.rules():
            if registry.registered_by_user(rule.fn):
                parts.append(_FIELD.join([rule.name, *rule.params, _ITEM.join(_pairs(rule.sources)),
                                          _ITEM.join(_pairs(rule.declared_tangents))]))
            else:
                parts.append(rule.name)
        nondiff = registry.nondifferentiable_functions()
        parts.append(str(len(nondiff)))
        parts.extend(sorted(registry.printable_name(fn) for fn in nondiff if registry.registered_by_user(fn)))
        digest = _FINGERPRINTS[version] = hashlib.sha256(_RECORD.join(parts).encode()).hexdigest()
    return digest


_RECORD, _FIELD, _ITEM = "\x1e", "\x1f", "\x1d"  # ASCII separators: in no name or template


def _pairs(templates: dict) -> list[str]:
    return [f"{name}{_FIELD}{text}" for name, text in templates.items()]


_CODE_HASH: list = []


def _srcdiff_code() -> str:
    """A digest of srcdiff's own source files (their names, sizes and modification
    times, which is much cheaper than reading them): a changed srcdiff (an upgrade, an
    edit) never loads derivatives an older one generated."""
    if not _CODE_HASH:
        h = hashlib.sha256()
        for relative, stat in sorted(_python_files(os.path.realpath(os.path.dirname(__file__)), ())):
            h.update(f"{'/'.join(relative)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
        _CODE_HASH.append(h.hexdigest())
    return _CODE_HASH[0]


def _python_files(folder: str, relative: tuple) -> Iterator[tuple[tuple, os.stat_result]]:
    """(path parts under the package, stat) of each ``.py`` file in ``folder`` and below
    (os.scandir: several times cheaper than Path.rglob)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                yield from _python_files(entry.path, (*relative, entry.name))
            elif entry.name.endswith(".py"):
                yield (*relative, entry.name), entry.stat()


def key(*parts: Any) -> str:
    h = hashlib.sha256()
    h.update(repr((_FORMAT, __version__, _srcdiff_code(), sys.version, rules_fingerprint())).encode())
    for part in parts:
        h.update(repr(part).encode())
    return h.hexdigest()


def load(digest: str) -> dict | None:
    """The entry stored under ``digest``, or None (missing, disabled, or unreadable)."""
    if not enabled():
        return None
    path = cache_dir() / digest[:2] / f"{digest}.srcdiff"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        entry = pickle.loads(data)
        entry["code"] = marshal.loads(entry["code"])
        return entry
    except Exception:  # a truncated or corrupt file: regenerate it
        if not _warned[0]:
            _warned[0] = True
            warnings.warn(f"srcdiff: ignoring an unreadable cache entry {path}; it will be regenerated",
                          RuntimeWarning, stacklevel=2)
        try:
            path.unlink()
        except OSError:
            pass
        return None


def store(digest: str, entry: dict) -> None:
    """Write ``entry`` under ``digest`` atomically; failures to write are ignored."""
    if not enabled():
        return
    folder = cache_dir() / digest[:2]
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        data = pickle.dumps({**entry, "code": marshal.dumps(entry["code"])})
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / f"{digest}.srcdiff")  # readers see the old file or the new one
    except (OSError, pickle.PicklingError, ValueError, TypeError):
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def info() -> dict:
    """Where the cache is, how many entries it holds and their total size in bytes."""
    root = cache_dir()
    files = list(root.glob("*/*.srcdiff")) if root.exists() else []
    return {"path": str(root), "entries": len(files), "bytes": sum(f.stat().st_size for f in files),
            "enabled": enabled()}


def clear() -> int:
    """Remove every entry; returns how many were removed."""
    count = 0
    for f in cache_dir().glob("*/*.srcdiff"):
        try:
            f.unlink()
            count += 1
        except OSError:
            pass
    return count
