"""``python -m srcdiff``: the srcdiff command line (see srcdiff.cli)."""

from .cli import main

if __name__ == "__main__":  # pytest's doctest collection imports this module too
    raise SystemExit(main())
