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
* ```` ```pycon ````: an interactive session, run with :mod:`doctest` in the page's
  namespace, so what it defines is there for the blocks after it.
* ```` ```console ```` whose first line starts with ``$ ``: shell commands, run one
  after the other by one ``bash`` in a fresh directory of the page's own, which is
  also ``$HOME`` (so the on-disk cache lives there) and holds every titled python
  block met so far, written under its title.  ``python`` is the interpreter running
  the tests, and ``srcdiff`` its ``python -m srcdiff``.  The lines after a command,
  up to the next ``$ `` line, must be what it printed (stdout and stderr together;
  the directory's path shows as ``~``; ``...`` matches anything, as in doctest).
* any other block (```` ```text ````, a ```` ```console ```` without ``$ ``, ...) is
  only shown.

Generated code is never shown unchecked: a block that holds the definition of a
generated derivative (``def grad_f(...)``, ``def jvp_f(...)``, ...) must be an Output
block, or the output of a command that is run.

The rules table that docs/hooks.py builds at site-build time is checked here too.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import linecache
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import srcdiff
from srcdiff.rules import registry

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.md"))
SKIP = "# doctest: skip"
PROMPT = "$ "
# The first line of a generated derivative: ``def grad_f(``, ``def jvp_grad_f(``, ...
_GENERATED = re.compile(r"^\s*def (grad|value_and_grad|vjp|jvp)_\w*\(", re.M)

_OPEN = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)(?P<attrs>.*)$")
_TITLE = re.compile(r'title="([^"]*)"')


@dataclass
class Block:
    lang: str
    title: str
    text: str
    line: int  # line of the block's first content line in the page, 1-based
    indent: int = 0  # of the fence, removed from the content lines


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
        found.append(Block(match["lang"], title[1] if title else "", "\n".join(body) + "\n", start, indent))
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
def isolated(clean_registry):
    """Undo what a page registers (rules, non-differentiable functions)."""
    yield


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
    test.globs = namespace  # run in the page's namespace itself, not a copy of it
    report: list[str] = []
    runner = doctest.DocTestRunner(checker=_Checker(), optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=report.append, clear_globs=False)
    if result.failed:
        pytest.fail("".join(report), pytrace=False)


def _is_session(block: Block) -> bool:
    return block.lang == "console" and block.text.startswith(PROMPT)


def _commands(text: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console session."""
    pairs: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(PROMPT):
            pairs.append((line[len(PROMPT):], []))
        else:
            pairs[-1][1].append(line)
    return [(command, "\n".join(out)) for command, out in pairs]


def _shell_env(workdir: Path) -> dict:
    """The environment of the commands: a clean cache setting, home in ``workdir``, and
    ``srcdiff`` and ``python`` on the PATH as this interpreter (``python -m srcdiff``)."""
    bin_dir = workdir / ".bin"
    if not bin_dir.exists():
        bin_dir.mkdir()
        python = f'"{sys.executable}"'
        for name, command in (("srcdiff", f"{python} -m srcdiff"), ("python", python)):
            shim = bin_dir / name
            shim.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
            shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in ("SRCDIFF_DISABLE_CACHE", "SRCDIFF_CACHE_DIR", "XDG_CACHE_HOME", "NO_COLOR")}
    env.update(HOME=str(workdir), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               PYTHONUNBUFFERED="1", COLUMNS="80", MPLBACKEND="Agg")
    return env


# SRCDIFF_UPDATE_DOCS=1 rewrites the Output blocks and command outputs a page shows with
# what the code prints now (after a change to the generated code); review the diff.
UPDATE = os.environ.get("SRCDIFF_UPDATE_DOCS") == "1"


def _count(block: Block) -> int:
    """The number of content lines of a block (none for an empty one)."""
    return 0 if block.text == "\n" else len(block.text.splitlines())


def _replace(path: Path, edits: list) -> None:
    """Apply (first line, line count, indent, new text) edits to a page, last first."""
    lines = path.read_text().splitlines()
    for line, count, indent, text in sorted(edits, reverse=True):
        lines[line - 1: line - 1 + count] = [" " * indent + t if t else "" for t in text.splitlines()]
    path.write_text("\n".join(lines) + "\n")


def _run_console(block: Block, where: str, workdir: Path, edits: list | None = None) -> None:
    commands = _commands(block.text)
    mark = "@@srcdiff-docs-command@@"
    # One shell for the block, so exported variables and $? carry over from a command
    # to the next; a marker line (which keeps $?) separates their outputs.
    script = ["exec 2>&1"]
    for command, _ in commands:
        script += [f"__status=$?; printf '\\n{mark}\\n'; (exit $__status)", command]
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir, env=_shell_env(workdir),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, timeout=600)
    outputs = done.stdout.replace(str(workdir), "~").split(f"\n{mark}\n")[1:]
    assert len(outputs) == len(commands), f"{where}: the shell stopped early:\n{done.stdout}"
    checker = _Checker()
    if edits is not None and not all(checker.check_output(_trim(want) + "\n", _trim(got) + "\n",
                                                          doctest.ELLIPSIS)
                                     for (_, want), got in zip(commands, outputs)):
        text = "".join(f"{PROMPT}{command}\n" + (_trim(got) + "\n" if _trim(got) else "")
                       for (command, _), got in zip(commands, outputs))
        edits.append((block.line, _count(block), block.indent, text))
        return
    for (command, want), got in zip(commands, outputs):
        if not checker.check_output(_trim(want) + "\n", _trim(got) + "\n", doctest.ELLIPSIS):
            pytest.fail(f"{where}: `{command}` printed\n{got}\nbut the page shows\n{want}", pytrace=False)


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_page(path: Path, isolated, tmp_path: Path) -> None:
    page = path.name
    namespace: dict = {"__name__": "__main__"}
    printed = None
    edits: list | None = [] if UPDATE else None
    for block in blocks(path.read_text()):
        where = f"{page}:{block.line}"
        if block.lang == "python" and block.title and block.title != "Output":
            (tmp_path / block.title).write_text(block.text)
        if block.title == "Output":
            assert printed is not None, f"{where}: an Output block needs a python block before it"
            if edits is not None and _trim(printed) != _trim(block.text):
                edits.append((block.line, _count(block), block.indent, _trim(printed)))
            assert edits is not None or _trim(printed) == _trim(block.text), (
                f"{where}: the python block printed\n{printed}\nbut the page shows\n{block.text}")
            printed = None
        elif block.lang == "python":
            if block.text.startswith(SKIP):
                continue
            printed = _run_python(block, page, namespace)
        elif block.lang == "pycon":
            _run_pycon(block, page, namespace)
        elif _is_session(block):
            _run_console(block, where, tmp_path, edits)
    if edits:
        _replace(path, edits)


def test_generated_code_is_checked() -> None:
    """Generated source on a page is compared with srcdiff's: it sits in an Output block
    or in the output of a command the test runs."""
    for path in PAGES:
        for block in blocks(path.read_text()):
            if _GENERATED.search(block.text):
                assert block.title == "Output" or _is_session(block), (
                    f"{path.name}:{block.line}: generated code outside an Output block")


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
            found = blocks(path.read_text())
            runs = {b.lang for b in found} & {"python", "pycon"} or any(map(_is_session, found))
            assert runs, f"{path.name}: no python, pycon or console session block found"


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
        assert row.count(" | ") == 4, row  # no cell content splits the row
    for rule in registry.rules():
        (row,) = [r for r in rows if r.startswith(f"| {hooks.code(rule.name)} |")]
        for template in [*rule.sources.values(), *rule.tangent_sources.values()]:
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
