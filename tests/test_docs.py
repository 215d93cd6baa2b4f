"""The code in the documentation runs, and the output it shows is what srcdiff prints.

Each page docs/*.md runs top to bottom in a namespace of its own, so a block can use
names that earlier blocks on the same page defined.  Fenced code blocks are treated by
their language and title:

* ```` ```python ````: executed.  With ``title="name.py"`` on the fence, the block is
  compiled under that file name (the name srcdiff's messages and generated code
  mention) and its text goes into ``linecache``, so srcdiff can read the source of the
  functions it defines; those functions belong to a module named after the file, as if
  imported from it.  A block whose first line is ``# doctest: skip`` is not run.
* ```` title="Output" ````, in any language: must be exactly what the latest python
  block printed (trailing whitespace aside).
* ```` ```pycon ````: an interactive session, run with :mod:`doctest`.
* any other block (```` ```text ````, ```` ```console ````, ...) is only shown.

The rules table that docs/hooks.py builds at site-build time is checked here too.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import linecache
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import srcdiff
from srcdiff import pipeline
from srcdiff.rules import registry

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.md"))
SKIP = "# doctest: skip"

_OPEN = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)(?P<attrs>.*)$")
_TITLE = re.compile(r'title="([^"]*)"')


@dataclass
class Block:
    lang: str
    title: str
    text: str
    line: int  # line of the block's first content line in the page, 1-based


def blocks(markdown: str) -> list[Block]:
    """The fenced code blocks of a page, in order."""
    found = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence = len(match["indent"]), match["fence"]
        title = _TITLE.search(match["attrs"])
        body = []
        i += 1
        start = i + 1
        while i < len(lines) and not _closes(lines[i], fence):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        i += 1
        found.append(Block(match["lang"], title[1] if title else "", "\n".join(body) + "\n", start))
    return found


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _trim(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


class _Checker(doctest.OutputChecker):
    """doctest's comparison, except that trailing whitespace and blank lines don't count
    (``print`` of generated source ends with an empty line a session cannot show)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return super().check_output(want, got, optionflags) or super().check_output(
            _trim(want) + "\n", _trim(got) + "\n", optionflags)


@pytest.fixture
def isolated():
    """Undo what a page registers (rules, non-differentiable functions, the pass hook)."""
    rules = dict(registry._RULES)
    nondiff = set(registry._NONDIFF)
    yield
    registry._RULES.clear()
    registry._RULES.update(rules)
    registry._NONDIFF.clear()
    registry._NONDIFF.update(nondiff)
    registry._version[0] += 1
    pipeline.HOOKS["after"] = None


def _run_python(block: Block, page: str, namespace: dict) -> str:
    filename = block.title or f"<{page} line {block.line}>"
    # Pad with blank lines so that an untitled block's line numbers are the page's.
    source = block.text if block.title else "\n" * (block.line - 1) + block.text
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # Functions take their __module__ from here: name them as if imported from the file.
    namespace["__name__"] = Path(block.title).stem if block.title else "__main__"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, filename, "exec"), namespace)
    return printed.getvalue()


def _run_pycon(block: Block, page: str, namespace: dict) -> None:
    test = doctest.DocTestParser().get_doctest(
        block.text, namespace, f"{page}:{block.line}", str(DOCS / page), block.line - 1)
    report: list[str] = []
    runner = doctest.DocTestRunner(checker=_Checker(), optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=report.append, clear_globs=False)
    if result.failed:
        pytest.fail("".join(report), pytrace=False)


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_page(path: Path, isolated) -> None:
    page = path.name
    namespace: dict = {"__name__": "__main__"}
    printed = None
    for block in blocks(path.read_text()):
        where = f"{page}:{block.line}"
        if block.title == "Output":
            assert printed is not None, f"{where}: an Output block needs a python block before it"
            assert _trim(printed) == _trim(block.text), (
                f"{where}: the python block printed\n{printed}\nbut the page shows\n{block.text}")
            printed = None
        elif block.lang == "python":
            if block.text.startswith(SKIP):
                continue
            printed = _run_python(block, page, namespace)
        elif block.lang == "pycon":
            _run_pycon(block, page, namespace)


def test_titles_are_unique() -> None:
    """A title is a file name in linecache: two blocks with one name would clash."""
    titles = [(p.name, b.title) for p in PAGES for b in blocks(p.read_text())
              if b.title and b.title != "Output"]
    names = [t for _, t in titles]
    assert len(names) == len(set(names)), sorted(titles, key=lambda t: t[1])


def test_pages_have_code_to_run() -> None:
    """Each page but the API reference runs code (a fence the runner misread would
    otherwise pass silently)."""
    for path in PAGES:
        if path.name != "api.md":
            langs = {b.lang for b in blocks(path.read_text())}
            assert langs & {"python", "pycon"}, f"{path.name}: no python or pycon block found"


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::FutureWarning")  # printable_name(str) probes np.str
def test_rules_table_lists_every_rule() -> None:
    hooks = _hooks()
    page = (DOCS / "rules.md").read_text()
    assert hooks.MARKER in page

    class File:
        src_uri = "rules.md"

    class Page:
        file = File()

    built = hooks.on_page_markdown(page, Page(), None, None)
    assert hooks.MARKER not in built
    rows = [line for line in built.splitlines() if line.startswith("| <code>")]
    assert len(rows) == len(registry.rules())
    for row in rows:
        assert row.count(" | ") == 3, row  # no cell content splits the row
    for rule in registry.rules():
        (row,) = [r for r in rows if r.startswith(f"| {hooks.code(rule.name)} |")]
        for template in rule.sources.values():
            assert hooks.code(template) in row
    for fn in registry.nondifferentiable_functions():
        assert hooks.code(registry.printable_name(fn)) in built


def test_table_cells_escape_markdown() -> None:
    hooks = _hooks()
    assert "|" not in hooks.code("a | b")
    assert "*" not in hooks.code("g * x ** 2")
    assert hooks.cell("a | b") == "a \\| b"


def test_source_of_docs_function_is_readable() -> None:
    """The linecache trick the runner relies on works for srcdiff."""
    namespace: dict = {}
    _run_python(Block("python", "docs_probe.py", "def f(x):\n    return x * x\n", 1), "probe", namespace)
    assert srcdiff.grad(namespace["f"])(3.0) == 6.0
