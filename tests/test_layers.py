"""The package's layers: every import goes down (or across one layer), never up, and
no import cycle exists, counting imports inside functions.

From the bottom: the leaves (errors, names, version, trees), the IR, the runtime (the
helpers generated code calls, beside the compiler: it imports nothing of it), the rules,
emit (IR -> gast, which every pass that writes code uses), the passes, the pipeline
with compile, and the user-facing layer.  A module over 800 lines wants splitting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "srcdiff"

LAYERS = [
    ("leaves", ["srcdiff.errors", "srcdiff.names", "srcdiff.version", "srcdiff.trees"]),
    ("ir", ["srcdiff.ir"]),
    ("runtime", ["srcdiff.runtime"]),
    ("rules", ["srcdiff.rules"]),
    ("emit", ["srcdiff.emit"]),
    ("passes", ["srcdiff.passes"]),
    ("pipeline", ["srcdiff.pipeline", "srcdiff.compile"]),
    ("user", ["srcdiff.api", "srcdiff.disk", "srcdiff.arguments", "srcdiff.gates", "srcdiff.replay",
              "srcdiff.cache", "srcdiff.cli", "srcdiff.graph", "srcdiff.testing", "srcdiff.standalone",
              "srcdiff.__main__", "srcdiff"]),
]
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> int:
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + ".") and prefix != "srcdiff":
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def _target(module: str, node: ast.ImportFrom, alias: ast.alias) -> str:
    """The srcdiff module an ``from ... import name`` reads (the submodule when ``name``
    is one)."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")
        base = ".".join(base[: len(base) - node.level + 1])
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    candidate = f"{source}.{alias.name}"
    return candidate if candidate in MODULES else source


def imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported srcdiff module, line, inside a function) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    found = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                for alias in child.names:
                    target = _target(module, child, alias)
                    if target.startswith("srcdiff"):
                        found.append((target, child.lineno, local))
            elif isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, local) for a in child.names
                             if a.name.startswith("srcdiff"))
            visit(child, inner)

    visit(tree, False)
    # the package a module sits in is loaded first by Python, not imported by the module
    return [(t, line, local) for t, line, local in found if t != module and not module.startswith(t + ".")]


def _edges() -> dict[str, set]:
    return {m: {t for t, _, _ in imports(m) if t in MODULES} for m in MODULES}


def test_every_import_goes_down():
    upward = [f"{m}:{line} imports {t} ({LAYERS[layer_of(m)][0]} -> {LAYERS[layer_of(t)][0]})"
              for m in MODULES for t, line, _ in imports(m) if t in MODULES and layer_of(t) > layer_of(m)]
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_no_import_cycle():
    edges = _edges()
    state: dict = {}
    cycles = []

    def visit(node: str, path: list) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_function_local_import_of_srcdiff():
    """Imports of srcdiff's own modules are at module level, where a reader sees them."""
    local = [f"{m}:{line} imports {t}" for m in MODULES for t, line, inside in imports(m) if inside]
    assert not local, "function-local imports of srcdiff modules:\n" + "\n".join(local)


def test_no_private_name_is_imported_across_modules():
    """``from .x import _y`` reaches into another module's private parts: give ``_y`` a
    public name (and a home where both modules can import it)."""
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found += [f"{module}:{node.lineno} imports {alias.name}" for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    lines = MODULES[module].read_text().count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES}): split it by job"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The layer test can fail: a pass importing the API is an upward import."""
    assert layer_of("srcdiff.passes.reverse") < layer_of("srcdiff.api")
    assert layer_of("srcdiff.runtime") < layer_of("srcdiff.rules.registry")
    node = ast.parse("from ..api import grad").body[0]
    assert _target("srcdiff.passes.activity", node, node.names[0]) == "srcdiff.api"
