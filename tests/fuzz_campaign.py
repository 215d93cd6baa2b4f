"""A fuzz campaign: many random programs per construct family, every failure kept.

The fuzz test (``test_programs.py``) stops at its first failure, as a test should; a
campaign instead checks ``--examples`` programs of each family with the same oracle
(``check_program``: reverse = forward = finite differences, or a srcdiff error before
the program runs), writes each failure as a JSON line, and prints per family how many
programs were checked, how many srcdiff refused, and how many failed.

Usage (from the repository root)::

    python -m tests.fuzz_campaign --examples 2000 --families base,all,views --out failures.jsonl

``base`` is the grammar without construct families, ``all`` mixes every family, and a
family's name draws only that one (see ``fuzz_grammar.FAMILIES``).
"""

from __future__ import annotations

import argparse
import collections
import json
import time
import warnings

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from . import fuzz_grammar
from . import test_programs as programs_test


def families_of(name: str) -> tuple:
    if name == "base":
        return ()
    if name == "all":
        return tuple(fuzz_grammar.FAMILIES)
    return fuzz_grammar.parse_families(name)


def campaign(name: str, examples: int, out: object) -> tuple[int, int, collections.Counter]:
    """Check ``examples`` programs of the family ``name``; (checked, failures, events)."""
    events: collections.Counter = collections.Counter()
    counts = [0, 0]
    original = programs_test._event

    def count(text: str) -> None:
        events["rejected (not judged)" if text.startswith("rejected") else text] += 1
        original(text)

    @settings(max_examples=examples, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(program=programs_test.programs(families_of(name)), seed=st.integers(0, 2**32 - 1))
    def run(program: programs_test.Program, seed: int) -> None:
        counts[0] += 1
        args = programs_test.arguments(program, seed)
        try:
            programs_test.check_program(program, args)
        except AssertionError as failure:
            counts[1] += 1
            out.write(json.dumps({"family": name, "source": program.source, "args": repr(args),
                                  "message": str(failure)[:4000]}) + "\n")
            out.flush()

    programs_test._event = count
    try:
        run()
    finally:
        programs_test._event = original
    return counts[0], counts[1], events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="programs per family (%(default)s)")
    parser.add_argument("--families", default="base,all," + ",".join(fuzz_grammar.FAMILIES),
                        help="comma-separated: base, all, or family names (default: each of them)")
    parser.add_argument("--out", default="fuzz-failures.jsonl", help="failures, one JSON line each")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    total = [0, 0]
    with open(args.out, "a") as out:
        for name in args.families.split(","):
            start = time.time()
            checked, failed, events = campaign(name, args.examples, out)
            total[0] += checked
            total[1] += failed
            refused = sum(n for e, n in events.items() if e.startswith("refused: grad:"))
            print(f"{name}: {checked} programs, {failed} failures, {refused} refused by grad, "
                  f"{events['rejected (not judged)']} points not judged, {time.time() - start:.0f} s",
                  flush=True)
    print(f"total: {total[0]} programs, {total[1]} failures (written to {args.out})")


if __name__ == "__main__":
    main()
