"""Fresh, readable, deterministic names for generated variables."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Namer"]


class Namer:
    """Hands out names not yet used in a function: ``dx``, then ``dx_1``; ``_t0``, ``_t1``."""

    def __init__(self, used: Iterable[str] = ()):
        self.used: set[str] = set(used)
        self._counters: dict[str, int] = {}

    def reserve(self, names: Iterable[str]) -> None:
        self.used.update(names)

    def temp(self, prefix: str = "_t") -> str:
        n = self._counters.get(prefix, 0)
        while f"{prefix}{n}" in self.used:
            n += 1
        self._counters[prefix] = n + 1
        name = f"{prefix}{n}"
        self.used.add(name)
        return name

    def fresh(self, base: str) -> str:
        """``base`` itself if free, else ``base_1``, ``base_2``, ..."""
        base = re.sub(r"\W", "_", base) or "_v"
        if base not in self.used:
            self.used.add(base)
            return base
        stem = re.sub(r"_\d+$", "", base)
        n = self._counters.get(stem + "#", 1)
        while f"{stem}_{n}" in self.used:
            n += 1
        self._counters[stem + "#"] = n + 1
        name = f"{stem}_{n}"
        self.used.add(name)
        return name
