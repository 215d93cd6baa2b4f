"""The pipeline as a whole: its pass list, its debug hook, deterministic output."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np

import srcdiff
from srcdiff import api, pipeline


def model(params, xs):
    h = np.zeros(3)
    for t in range(len(xs)):
        if t % 2 == 0:
            h = np.tanh(h @ params["W"] + xs[t])
        else:
            h = h * params["a"]
    return np.sum(h ** 2)


def test_the_observer_sees_every_stage_in_order():
    seen = []
    api.watch(model, lambda name, program: seen.append(name), wrt=0)
    # (floats runs for Python-float arguments only: the source is made for any arguments)
    assert seen == [p for p in pipeline.PASSES if p not in ("forward", "floats")]
    seen.clear()
    api.watch(model, lambda name, program: seen.append(name), kind="jvp", wrt=0)
    assert seen == [p for p in pipeline.PASSES if p not in ("reverse", "floats", "results")]


def test_the_observer_sees_a_derivative_already_cached():
    """watch makes the code afresh: a cached derivative does not hide the stages."""
    srcdiff.source(model, wrt=0)
    seen = []
    api.watch(model, lambda name, program: seen.append(name), wrt=0)
    assert "reverse" in seen and seen[0] == "parse"


def test_generated_source_is_the_same_in_every_process(tmp_path):
    (tmp_path / "detmod.py").write_text("import numpy as np\n\n\n" + inspect.getsource(model))
    script = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import srcdiff, detmod; "
              "print(srcdiff.source(detmod.model, wrt=(0, 1)) + srcdiff.source(detmod.model, kind='jvp'))")
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, SRCDIFF_DISABLE_CACHE="1")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        outputs.add(out.stdout)
    assert len(outputs) == 1


def test_threads_asking_for_one_derivative_compile_it_once():
    import threading

    def fresh(x):
        return np.sum(np.sin(x) * x)

    before = pipeline.STATS["transforms"]
    d = srcdiff.grad(fresh)
    results = []

    def work():
        results.append(d(np.linspace(0, 1, 5)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pipeline.STATS["transforms"] == before + 1
    for r in results:
        np.testing.assert_allclose(r, results[0])


def test_importing_srcdiff_does_not_import_scipy():
    script = "import sys, srcdiff; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_scipy_rules_are_registered_when_first_needed():
    pytest = __import__("pytest")
    pytest.importorskip("scipy")
    script = textwrap.dedent("""
        import numpy as np, srcdiff, linecache
        src = "from scipy.special import expit\\ndef f(x):\\n    return np.sum(expit(x))\\n"
        linecache.cache["<lazy>"] = (len(src), None, src.splitlines(True), "<lazy>")
        ns = {"np": np}
        exec(compile(src, "<lazy>", "exec"), ns)
        x = np.array([0.5, -1.0])
        s = 1 / (1 + np.exp(-x))
        print(np.allclose(srcdiff.grad(ns["f"])(x), s * (1 - s)))
    """)
    env = dict(os.environ, SRCDIFF_DISABLE_CACHE="1")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr
