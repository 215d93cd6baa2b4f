"""The ``srcdiff`` command line, driven through ``python -m srcdiff`` in subprocesses."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import numerical_grad

MODEL = """\
import numpy as np

SCALE = 2.0


def f(x, y):
    z = np.tanh(x * SCALE) * y
    return np.sum(z * z)


def copies(x):
    w = x
    unused = np.cos(x)
    return np.sum(np.sin(w))


class Model:
    scale = 3.0

    def loss(self, x):
        return np.sum(np.exp(x) * self.scale)
"""

# A rule registered on purpose with the wrong adjoint (d/dx x**3 is 3 x**2, not 2 x).
WRONG = """\
import numpy as np
import srcdiff


def cube(x):
    return x ** 3


srcdiff.register_adjoint(cube, "cube(x)", x="g * 2 * x")


def wrong(x, y):
    return np.sum(cube(x)) * y


def right(x, y):
    return np.sum(np.sin(x) * y)
"""

# Module-level names the standalone file must carry: a module alias, a literal, an array.
STANDALONE = """\
import math as M
import numpy as np

SCALE = 2.0
OFFSET = np.arange(3.0)


def helper(x):
    return np.exp(x) ** 2


def f(x, y):
    z = np.tanh(x * SCALE + OFFSET) * M.e
    return np.sum(z * y) + np.sum(helper(x))
"""

ANSI = "\x1b["


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "srcdiff", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=120)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write(tmp_path / "model.py", MODEL)


def test_version_and_usage_errors(model):
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"srcdiff {srcdiff.__version__}"
    result = run("show", f"{model}:f", "--wrt", "0,,x")
    assert result.returncode == 2 and "bad entry ''" in result.stderr
    result = run("show", f"{model}:f", "--after", "nonsense")
    assert result.returncode == 2
    assert "invalid choice: 'nonsense'" in result.stderr and "'ssa'" in result.stderr


def test_show_file_function(model):
    result = run("show", f"{model}:f", "--color", "never")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def grad_f(x, y):")
    assert "dx" in result.stdout.splitlines()[-1] and ANSI not in result.stdout
    assert result.stderr == ""


def test_show_module_function(tmp_path):
    write(tmp_path / "lib" / "pkg" / "__init__.py", "")
    write(tmp_path / "lib" / "pkg" / "model.py", MODEL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("show", "pkg.model:f", "--wrt", "y", cwd=elsewhere,
                 env={"PYTHONPATH": str(tmp_path / "lib")})
    assert result.returncode == 0, result.stderr
    assert "def grad_f(x, y):" in result.stdout and "dy" in result.stdout.splitlines()[-1]


def test_show_method_skips_self(model):
    result = run("show", f"{model}:Model.loss")
    assert result.returncode == 0, result.stderr
    assert "def grad_loss(self, x):" in result.stdout and "dx" in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("kind, expected", [("value_and_grad", "def value_and_grad_f(x, y):"),
                                            ("vjp", "def pullback(")])
def test_show_kind(model, kind, expected):
    result = run("show", f"{model}:f", "--kind", kind)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_show_wrt_by_position_and_name(model):
    by_position = run("show", f"{model}:f", "--wrt", "0,1")
    by_name = run("show", f"{model}:f", "--wrt", "x, y")
    assert by_position.returncode == by_name.returncode == 0, by_position.stderr + by_name.stderr
    assert by_position.stdout == by_name.stdout
    assert "dx" in by_name.stdout.splitlines()[-1] and "dy" in by_name.stdout.splitlines()[-1]


def test_show_no_optimize_differs(model):
    optimized = run("show", f"{model}:copies")
    plain = run("show", f"{model}:copies", "--no-optimize")
    assert optimized.returncode == plain.returncode == 0
    assert "unused = np.cos(x)" in plain.stdout and "unused" not in optimized.stdout
    assert len(plain.stdout.splitlines()) > len(optimized.stdout.splitlines())


def test_show_after_pass(model):
    ssa = run("show", f"{model}:f", "--after", "ssa")
    assert ssa.returncode == 0, ssa.stderr
    assert ssa.stdout.startswith("def f(x, y):") and "= x * SCALE\n" in ssa.stdout  # one operation a line
    assert "grad_f" not in ssa.stdout  # the program after ssa, not the derivative
    desugar = run("show", f"{model}:f", "--after", "desugar")
    assert desugar.returncode == 0, desugar.stderr
    assert "operator.mul(x, SCALE)" in desugar.stdout


def test_show_after_skipped_pass(model):
    result = run("show", f"{model}:f", "--after", "simplify", "--no-optimize")
    assert result.returncode == 1
    assert result.stderr == "srcdiff: pass 'simplify' did not run (--no-optimize skips it)\n"


@pytest.mark.skipif(importlib.util.find_spec("pygments") is None, reason="pygments is not installed")
def test_color_always(model):
    result = run("show", f"{model}:f", "--color", "always")
    assert result.returncode == 0, result.stderr
    assert ANSI in result.stdout and "grad_f" in result.stdout


def test_color_without_pygments_is_plain(model):
    target = f"{model}:f"
    script = ("import sys; sys.modules['pygments'] = None; from srcdiff.cli import main; "
              f"sys.exit(main(['show', {target!r}, '--color', 'always']))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def grad_f(x, y):") and ANSI not in result.stdout


def test_output_runs_without_srcdiff(tmp_path):
    target = write(tmp_path / "target.py", STANDALONE)
    out = tmp_path / "generated" / "grad_target.py"
    out.parent.mkdir()
    result = run("show", f"{target}:f", "--wrt", "0,y", "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "import math as M" in text and "SCALE = 2.0" in text
    assert "# needs: OFFSET from module" in text and "from target import OFFSET" in text
    assert "def unbroadcast(" in text and "def expand_reduced(" in text  # sum_grad's shared helper too
    assert "def vjp_helper(" in text  # the derivative of the user function f calls

    # Isolated mode, srcdiff blocked, only the target's directory added (for OFFSET).
    repo = str(Path(srcdiff.__file__).resolve().parent.parent)
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        sys.modules["srcdiff"] = None
        sys.path = [p for p in sys.path if p not in ("", {repo!r})] + [{str(tmp_path)!r}]
        import numpy as np
        spec = importlib.util.spec_from_file_location("grad_target", {str(out)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        gx, gy = module.grad_f(np.linspace(0.1, 0.9, 3), np.array([1.0, -2.0, 0.5]))
        assert not [m for m in sys.modules if m.startswith("srcdiff.")]
        print(json.dumps([gx.tolist(), gy.tolist()]))
    """)
    ran = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stderr
    gx, gy = (np.array(g) for g in json.loads(ran.stdout))

    fn = load(target, "cli_standalone_target").f
    x, y = np.linspace(0.1, 0.9, 3), np.array([1.0, -2.0, 0.5])
    want_x, want_y = srcdiff.grad(fn, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, want_x, rtol=1e-12)
    np.testing.assert_allclose(gy, want_y, rtol=1e-12)
    np.testing.assert_allclose(gx, numerical_grad(fn, (x, y), 0), rtol=1e-6)
    np.testing.assert_allclose(gy, numerical_grad(fn, (x, y), 1), rtol=1e-6)


EINSUM_AND_VECTOR = """
import numpy as np


def mixed(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b) ** 2)


def vector(x):
    return x * 2.0
"""


def test_output_carries_the_constants_modules_and_errors_its_helpers_read(tmp_path):
    """einsum_grad reads a module constant, seed a table, sys and an error class: the
    written module defines each, so it runs (and fails as srcdiff would) without srcdiff."""
    target = write(tmp_path / "mixed_target.py", EINSUM_AND_VECTOR)
    for fn in ("mixed", "vector"):
        result = run("show", f"{target}:{fn}", "--output", str(tmp_path / f"grad_{fn}.py"))
        assert result.returncode == 0, result.stderr
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        sys.modules["srcdiff"] = None
        import numpy as np
        def load(name):
            spec = importlib.util.spec_from_file_location(name, {str(tmp_path)!r} + "/" + name + ".py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        a, b = np.arange(6.0).reshape(2, 3) / 7, np.arange(6.0).reshape(3, 2) / 5
        grad = load("grad_mixed").grad_mixed(a, b)
        try:
            load("grad_vector").grad_vector(np.ones(3))
        except Exception as exc:
            error = type(exc).__name__
        print(json.dumps([grad.tolist(), error]))
    """)
    ran = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stderr
    grad, error = json.loads(ran.stdout)
    a, b = np.arange(6.0).reshape(2, 3) / 7, np.arange(6.0).reshape(3, 2) / 5
    np.testing.assert_allclose(grad, 2 * (a @ b) @ b.T, rtol=1e-12)  # d/da sum((ab)^2) = 2 (ab) b^T
    assert error == "NonScalarOutputError"


def test_check_passes_and_fails(tmp_path):
    target = write(tmp_path / "rules_target.py", WRONG)
    args = "np.linspace(0.1, 1.0, 4), 2.0"
    good = run("check", f"{target}:right", "--args", args, "--wrt", "x,1")
    assert good.returncode == 0, good.stderr
    lines = good.stdout.splitlines()
    assert lines[0].split() == ["argument", "shape", "max", "abs", "error", "max", "rel", "error", "result"]
    assert lines[1].split()[:2] == ["x", "(4,)"] and lines[1].endswith("ok")
    assert lines[2].split()[:2] == ["y", "float"] and lines[2].endswith("ok")
    assert lines[-1] == "gradient matches finite differences"

    bad = run("check", f"{target}:wrong", "--args", args, "--wrt", "0,y")
    assert bad.returncode == 1
    rows = {line.split()[0]: line for line in bad.stdout.splitlines()[1:3]}
    assert rows["x"].endswith("FAIL") and rows["y"].endswith("ok")
    assert "MISMATCH" in bad.stdout and "worst: x at argument 0 entry (3,)" in bad.stdout


def test_check_bad_args(model):
    result = run("check", f"{model}:f", "--args", "np.ones(3), undefined_name")
    assert result.returncode == 1
    assert result.stderr.startswith("srcdiff: cannot evaluate --args: NameError")
    assert "Traceback" not in result.stderr


def test_bad_targets(tmp_path, model):
    cases = [
        (["show", "no_colon_here"], "srcdiff: bad target 'no_colon_here'"),
        (["show", str(tmp_path / "missing.py") + ":f"], "srcdiff: no such file:"),
        (["show", f"{model}:g"], "has no function 'g'"),
        (["show", f"{model}:Model.los"], "has no function 'Model.los' (did you mean loss?)"),
        (["show", "no_such_module_xyz:f"], "No module named 'no_such_module_xyz'"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr and result.stderr.startswith("srcdiff: ")
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_unsupported_syntax_reports_location(tmp_path):
    target = write(tmp_path / "withs.py", """\
        import numpy as np


        def f(x):
            with open("log") as fh:
                fh.write("x")
            return np.sum(x)
    """)
    result = run("show", f"{target}:f")
    assert result.returncode == 1
    first, source_line, *rest = result.stderr.splitlines()
    assert first.startswith(f"srcdiff: {target}:5:") and "with statement" in first
    assert source_line.strip() == 'with open("log") as fh:'
    assert any(line.startswith("hint: ") for line in rest)
    assert "Traceback" not in result.stderr
    debug = run("show", f"{target}:f", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_graph_prints_dot_with_adjoint_nodes(tmp_path):
    target = tmp_path / "graphmod.py"
    target.write_text("import numpy as np\n\n\ndef f(x, y):\n    z = x * x + x * y + 2\n    return z\n")
    out = run("graph", f"{target}:f", "--wrt", "0,1", "--adjoint")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith('digraph "f"') and text.rstrip().endswith("}")
    assert '"x" -> "_t0"' in text and '"z" -> "return"' in text
    assert '"dz" -> "d_t2" [color=red]' in text  # the reverse sweep runs from the output back
    plain = run("graph", f"{target}:f")
    assert "color=red" not in plain.stdout


def test_graph_rendering_needs_graphviz_or_says_how_to_get_it(tmp_path):
    import shutil

    target = tmp_path / "graphmod2.py"
    target.write_text("def f(x):\n    return x * 2.0\n")
    out = run("graph", f"{target}:f", "--format", "svg", "--output", str(tmp_path / "g.svg"))
    if shutil.which("dot") is None:
        assert out.returncode == 1 and "Graphviz" in out.stderr
    else:
        assert out.returncode == 0 and (tmp_path / "g.svg").read_text().lstrip().startswith("<")
