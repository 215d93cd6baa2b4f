"""Which runtime helpers the tests exercise: each test in tests/runtime/ names the helpers
it checks with ``@covers(...)``, and ``test_package.py`` holds every helper to one."""

from __future__ import annotations

from collections.abc import Callable

# helper name -> (test module, test name) of each test that covers it
TESTED: dict[str, list[tuple[str, str]]] = {}


def covers(*helpers: str) -> Callable:
    """Record that the decorated test exercises ``helpers``."""

    def mark(test: Callable) -> Callable:
        for helper in helpers:
            TESTED.setdefault(helper, []).append((test.__module__, test.__name__))
        return test

    return mark
