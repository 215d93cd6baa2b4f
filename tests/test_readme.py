"""The README's example runs and prints the generated source the README shows."""

from __future__ import annotations

import contextlib
import io
import linecache
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_example_prints_the_source_it_shows():
    example, shown = python_blocks(README.read_text())[:2]
    # The example calls the gradient with data it does not define; supply some.
    rng = np.random.default_rng(0)
    namespace = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2),
                 "x": rng.normal(size=(5, 3)), "y": rng.normal(size=(5, 2))}
    filename = "loss.py"
    linecache.cache[filename] = (len(example), None, example.splitlines(True), filename)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, filename, "exec"), namespace)
    assert out.getvalue().strip() == shown.strip()
    dW, db = namespace["dW"], namespace["db"]
    assert dW.shape == (3, 2) and db.shape == (2,)
