"""The derivative cache: a derivative is transformed once and reused, and never reused
when something it was built from has changed.

``srcdiff.pipeline.STATS["transforms"]`` counts transformations.  Functions are defined
fresh in each test, so no other test can have cached them already.
"""

from __future__ import annotations

import linecache

import numpy as np
import pytest

import srcdiff
from srcdiff import disk, pipeline
from srcdiff.testing import numerical_grad

from .conftest import make_function


def transforms() -> int:
    return pipeline.STATS["transforms"]


def fresh():
    def f(x, y):
        return np.sum(np.sin(x) * y)

    return f


def test_same_derivative_transforms_once():
    f = fresh()
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    start = transforms()
    d = srcdiff.grad(f)
    g1 = d(x, y)
    assert transforms() == start + 1
    g2 = d(x, y)
    assert transforms() == start + 1
    np.testing.assert_allclose(g1, np.cos(x) * y)
    np.testing.assert_allclose(g2, np.cos(x) * y)


def test_two_separate_grad_calls_share_the_transformation():
    f = fresh()
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    start = transforms()
    srcdiff.grad(f)(x, y)
    assert transforms() == start + 1
    g = srcdiff.grad(f)(x, y)
    srcdiff.grad(f, wrt=0)(x, y)
    srcdiff.grad(f, wrt="x")(x, y)  # the same parameter, named
    assert transforms() == start + 1
    np.testing.assert_allclose(g, np.cos(x) * y)


def test_memory_cache_keeps_the_most_recently_used(monkeypatch):
    """SRCDIFF_CACHE_SIZE bounds the process-wide table; the least recently used
    derivative goes first, and asking for it again transforms it again."""
    monkeypatch.setenv("SRCDIFF_CACHE_SIZE", "2")
    fns = [make_function(f"def scaled_{i}(x):\n    return np.sum(x * {i + 1}.0)\n") for i in range(3)]
    x = np.array([0.5, -1.0])
    start = transforms()
    for i, f in enumerate(fns):
        np.testing.assert_allclose(srcdiff.grad(f)(x), [i + 1.0] * 2)
    assert transforms() == start + 3
    srcdiff.grad(fns[2])(x)  # among the two kept
    srcdiff.grad(fns[1])(x)
    assert transforms() == start + 3
    np.testing.assert_allclose(srcdiff.grad(fns[0])(x), [1.0, 1.0])  # dropped: made again
    assert transforms() == start + 4
    srcdiff.grad(fns[1])(x)  # still kept (used more recently than fns[2])
    assert transforms() == start + 4
    srcdiff.grad(fns[2])(x)  # pushed out by fns[0]
    assert transforms() == start + 5


def test_a_derivative_object_keeps_its_own_code_whatever_the_table_holds(monkeypatch):
    monkeypatch.setenv("SRCDIFF_CACHE_SIZE", "1")
    f, g = fresh(), fresh()
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    df = srcdiff.grad(f)
    df(x, y)
    start = transforms()
    srcdiff.grad(g)(x, y)  # pushes f's derivative out of the table
    np.testing.assert_allclose(df(x, y), np.cos(x) * y)
    assert transforms() == start + 1


def test_new_argument_values_of_the_same_kind_reuse_the_derivative():
    f = fresh()
    d = srcdiff.grad(f)
    start = transforms()
    for n in (2, 2, 2):
        x, y = np.linspace(0, 1, n), np.ones(n)
        np.testing.assert_allclose(d(x, y), np.cos(x))
    assert transforms() == start + 1


def test_new_shapes_get_one_derivative_for_all_shapes():
    """The first shapes get code made for them; any other shapes of the same kinds,
    one function for all shapes: two transformations however many shapes come."""
    f = fresh()
    d = srcdiff.grad(f)
    start = transforms()
    for n in (2, 3, 5, 2, 7, 3):
        x, y = np.linspace(0, 1, n), np.linspace(1, 2, n)
        np.testing.assert_allclose(d(x, y), np.cos(x) * y)
    assert transforms() == start + 2


def test_source_and_call_share_the_transformation():
    f = fresh()
    start = transforms()
    text = srcdiff.source(f)
    srcdiff.grad(f)(np.ones(2), np.ones(2))
    assert "def " in text
    assert transforms() == start + 1


def test_different_wrt_transforms_separately():
    f = fresh()
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    start = transforms()
    gx = srcdiff.grad(f, wrt=0)(x, y)
    gy = srcdiff.grad(f, wrt=1)(x, y)
    gxy = srcdiff.grad(f, wrt=(0, 1))(x, y)
    assert transforms() == start + 3
    np.testing.assert_allclose(gx, np.cos(x) * y)
    np.testing.assert_allclose(gy, np.sin(x))
    np.testing.assert_allclose(gxy[0], np.cos(x) * y)
    np.testing.assert_allclose(gxy[1], np.sin(x))
    srcdiff.grad(f, wrt=(0, 1))(x, y)
    srcdiff.grad(f, wrt=1)(x, y)
    assert transforms() == start + 3


def test_different_modes_transform_separately():
    f = fresh()
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    start = transforms()
    srcdiff.grad(f)(x, y)
    value, g = srcdiff.value_and_grad(f)(x, y)
    out, pullback = srcdiff.vjp(f)(x, y)
    assert transforms() == start + 3
    assert value == f(x, y)
    np.testing.assert_allclose(g, np.cos(x) * y)
    np.testing.assert_allclose(pullback(2.0), 2.0 * np.cos(x) * y)


def test_float_and_array_arguments_transform_separately():
    f = make_function(
        "def f(p):\n"
        "    return np.sum(p * p)\n"
    )
    d = srcdiff.grad(f)
    start = transforms()
    g_float = d(3.0)
    g_array = d(np.array([1.0, 2.0]))
    assert transforms() == start + 2
    assert isinstance(g_float, float)
    np.testing.assert_allclose(g_float, 6.0)
    np.testing.assert_allclose(g_array, [2.0, 4.0])
    # Back to a float: the float derivative is still cached.
    np.testing.assert_allclose(d(-1.0), -2.0)
    np.testing.assert_allclose(d(np.array([3.0])), [6.0])
    assert transforms() == start + 2


def test_array_tuple_and_dict_arguments_transform_separately():
    f = make_function(
        "def f(p):\n"
        "    return p[0] * p[1] * 2.0\n"
    )
    d = srcdiff.grad(f)
    start = transforms()
    g_array = d(np.array([2.0, 3.0]))
    g_dict = d({0: 2.0, 1: 3.0, 2: 7.0})
    assert transforms() == start + 2
    g_tuple = d((2.0, 3.0))  # a container too: it may share the dict's derivative
    count = transforms()
    np.testing.assert_allclose(g_array, [6.0, 4.0])
    assert type(g_tuple) is tuple
    np.testing.assert_allclose(g_tuple, (6.0, 4.0))
    assert g_dict == pytest.approx({0: 6.0, 1: 4.0, 2: 0.0})
    d(np.array([1.0, 1.0]))
    d((1.0, 5.0))
    d({0: 1.0, 1: 5.0})
    assert transforms() == count


def test_registering_a_rule_invalidates_cached_derivatives(clean_registry):
    f = fresh()
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    d = srcdiff.grad(f)
    d(x, y)
    start = transforms()
    d(x, y)
    assert transforms() == start

    def unrelated(v):
        return v

    srcdiff.register_adjoint(unrelated, "unrelated(v)", v="g")
    np.testing.assert_allclose(d(x, y), np.cos(x) * y)
    assert transforms() == start + 1
    srcdiff.grad(f)(x, y)
    assert transforms() == start + 1


def _sourceless(src: str, name: str):
    ns: dict = {"np": np, "__name__": "cache_test_module"}
    exec(compile(src, f"<sourceless {name}>", "exec"), ns)
    return ns[name]


def test_re_registered_rule_is_used_by_a_cached_derivative(clean_registry):
    """A rule registered after a derivative was cached changes the next call's gradient."""
    cube = _sourceless("def cube(v):\n    return v * v * v\n", "cube")
    srcdiff.register_adjoint(cube, "cube(v)", v="g * 2.0 * v")  # deliberately wrong

    def f(x):
        return np.sum(cube(x))

    x = np.array([0.5, 2.0])
    d = srcdiff.grad(f)
    np.testing.assert_allclose(d(x), 2.0 * x)  # what the wrong rule says
    start = transforms()
    srcdiff.register_adjoint(cube, "cube(v)", v="g * 3.0 * v * v")  # the right one
    got = d(x)
    assert transforms() == start + 1
    np.testing.assert_allclose(got, 3.0 * x ** 2)
    np.testing.assert_allclose(got, numerical_grad(f, (x,), 0), rtol=1e-6)


def test_nondifferentiable_declared_after_caching(clean_registry):
    stop = _sourceless("def stop(v):\n    return v * 1.0\n", "stop")
    srcdiff.register_adjoint(stop, "stop(v)", v="g")

    def f(x):
        return np.sum(x * stop(x))

    x = np.array([1.0, -3.0])
    d = srcdiff.grad(f)
    np.testing.assert_allclose(d(x), 2.0 * x)
    srcdiff.nondifferentiable(stop)
    np.testing.assert_allclose(d(x), x)


def _define(filename: str, src: str, name: str):
    """Define ``src`` as if it were the new contents of ``filename`` (a re-run notebook
    cell, an edited and reloaded module)."""
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns: dict = {"np": np}
    exec(compile(src, filename, "exec"), ns)
    return ns[name]


def test_redefined_function_gets_a_new_derivative():
    filename = "<srcdiff-cache-redefine>"
    f1 = _define(filename, "def f(x):\n    return np.sum(x ** 2)\n", "f")
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(srcdiff.grad(f1)(x), 2 * x)
    start = transforms()
    f2 = _define(filename, "def f(x):\n    return np.sum(np.sin(x))\n", "f")
    np.testing.assert_allclose(srcdiff.grad(f2)(x), np.cos(x))
    assert transforms() == start + 1
    # The old definition keeps its own derivative.
    np.testing.assert_allclose(srcdiff.grad(f1)(x), 2 * x)


def test_redefined_function_through_make_function():
    f1 = make_function("def f(x):\n    return x * x * x\n")
    f2 = make_function("def f(x):\n    return 5.0 * x\n")
    np.testing.assert_allclose(srcdiff.grad(f1)(2.0), 12.0)
    np.testing.assert_allclose(srcdiff.grad(f2)(2.0), 5.0)


def test_function_with_replaced_code_gets_a_new_derivative():
    filename = "<srcdiff-cache-new-code>"
    f = _define(filename, "def f(x):\n    return x * x\n", "f")
    d = srcdiff.grad(f)
    np.testing.assert_allclose(d(3.0), 6.0)
    g = _define(filename, "def f(x):\n    return 4.0 * x\n", "f")
    f.__code__ = g.__code__
    assert f(3.0) == 12.0
    np.testing.assert_allclose(srcdiff.grad(f)(3.0), 4.0)
    np.testing.assert_allclose(d(3.0), 4.0)


def square_global(v):
    return v * v


def cube_global(v):
    return v * v * v


HELPER = square_global


def uses_global_helper(x):
    return HELPER(x) * 2.0


def test_rebound_global_callee_gets_a_new_derivative():
    global HELPER
    d = srcdiff.grad(uses_global_helper)
    np.testing.assert_allclose(d(3.0), 2 * 2 * 3.0)
    HELPER = cube_global
    try:
        want = 2 * 3 * 3.0 ** 2
        np.testing.assert_allclose(srcdiff.grad(uses_global_helper)(3.0), want)
        np.testing.assert_allclose(d(3.0), want)
    finally:
        HELPER = square_global


def test_cache_is_per_function_not_per_name():
    def make(scale):
        def f(x):
            return scale * x * x

        return f

    f2, f3 = make(2.0), make(3.0)
    np.testing.assert_allclose(srcdiff.grad(f2)(1.0), 4.0)
    np.testing.assert_allclose(srcdiff.grad(f3)(1.0), 6.0)


# -- the on-disk cache -------------------------------------------------------------------


def _key_of(f):
    return disk.key(f, "grad", ("x",), {"x": "array"}, True, True, False)


def test_disk_key_changes_with_srcdiff_itself_and_with_the_rules(monkeypatch, clean_registry):
    """A changed srcdiff (its source files) or a new rule gives every function new keys."""
    from srcdiff import cache

    monkeypatch.delenv("SRCDIFF_DISABLE_CACHE", raising=False)
    f = make_function("def keyed(x):\n    return np.sum(x * x)\n")
    before = _key_of(f)
    assert _key_of(f) == before
    monkeypatch.setattr(cache, "_CODE_HASH", ["a different srcdiff"])
    assert _key_of(f) != before
    monkeypatch.undo()
    monkeypatch.delenv("SRCDIFF_DISABLE_CACHE", raising=False)
    assert _key_of(f) == before
    srcdiff.register_adjoint(make_function("def op(x):\n    return x\n"), "op(x)", x="g")
    assert _key_of(f) != before


@pytest.mark.parametrize("change", ["tangents", "nondifferentiable", "rule"])
def test_disk_key_changes_when_the_user_changes_a_builtin_rule(monkeypatch, clean_registry, change):
    """srcdiff's own rules are hashed by name (their templates follow from its source
    files); what the user's code registers, on them too, is hashed in full."""
    monkeypatch.delenv("SRCDIFF_DISABLE_CACHE", raising=False)
    f = make_function("def keyed2(x):\n    return np.sum(np.sinh(x))\n")
    before = _key_of(f)
    if change == "tangents":
        srcdiff.define_tangents(np.sinh, x="t * np.cosh(x) * 1.0")
    elif change == "nondifferentiable":
        srcdiff.nondifferentiable(np.cosh)
    else:
        srcdiff.register_adjoint(np.sinh, "sinh(x)", x="g * np.cosh(x) * 1.0")
    after = _key_of(f)
    assert after != before


def test_disk_key_differs_for_two_functions_with_one_name_and_line(monkeypatch):
    monkeypatch.delenv("SRCDIFF_DISABLE_CACHE", raising=False)
    f, g = make_function("pair = (lambda x: x * 2.0), (lambda x: x * 3.0)\n", name="pair")
    assert _key_of(f) != _key_of(g)

_DISK_SCRIPT = """
import sys
import numpy as np
import srcdiff
from srcdiff import disk, pipeline

sys.path.insert(0, {folder!r})
import diskmod

g = srcdiff.grad(diskmod.f, wrt=(0, 1))(np.array([0.5, 1.0]), np.array([2.0, -1.0]))
print(pipeline.STATS["transforms"], pipeline.STATS["disk_hits"], *np.round(np.concatenate(g), 10))
"""


def _run_disk(tmp_path, env_extra):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "SRCDIFF_DISABLE_CACHE"}
    env.update(SRCDIFF_CACHE_DIR=str(tmp_path / "cache"), **env_extra)
    script = _DISK_SCRIPT.format(folder=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split(), out.stderr


def _write_module(tmp_path, body):
    (tmp_path / "diskmod.py").write_text(
        "import numpy as np\n\n\ndef helper(x):\n    return np.sin(x)\n\n\n"
        f"def f(x, y):\n{body}\n")


def test_a_new_process_loads_the_derivative_from_disk(tmp_path):
    _write_module(tmp_path, "    for _ in range(2):\n        x = x * y\n    return np.sum(helper(x))")
    first, _ = _run_disk(tmp_path, {})
    second, _ = _run_disk(tmp_path, {})
    assert first[:2] == ["2", "0"]  # f and helper transformed
    assert second[:2] == ["0", "2"]  # both loaded from disk
    assert first[2:] == second[2:]
    x, y = np.array([0.5, 1.0]), np.array([2.0, -1.0])
    expected_x = np.cos(x * y * y) * y * y
    np.testing.assert_allclose([float(v) for v in second[2:4]], expected_x, rtol=1e-9)


def test_a_changed_function_is_transformed_again(tmp_path):
    _write_module(tmp_path, "    return np.sum(x * y)")
    _run_disk(tmp_path, {})
    _write_module(tmp_path, "    return np.sum(x * y * y)")
    out, _ = _run_disk(tmp_path, {})
    assert out[:2] == ["1", "0"]
    np.testing.assert_allclose([float(v) for v in out[2:4]], [4.0, 1.0])


def test_concurrent_writers_leave_one_whole_entry(tmp_path):
    """Processes that transform the same function at once each write the entry by an
    atomic rename: none sees a half-written file, and the survivor loads."""
    import os
    import subprocess
    import sys

    _write_module(tmp_path, "    return np.sum(helper(x) * y)")
    env = {k: v for k, v in os.environ.items() if k != "SRCDIFF_DISABLE_CACHE"}
    env.update(SRCDIFF_CACHE_DIR=str(tmp_path / "cache"))
    script = _DISK_SCRIPT.format(folder=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert len({tuple(out.split()[2:]) for out, _ in outputs}) == 1  # the same gradients
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # no temporary file left behind
    out, err = _run_disk(tmp_path, {})
    assert out[:2] == ["0", "2"] and "unreadable" not in err


def test_disabled_disk_cache_writes_nothing(tmp_path):
    _write_module(tmp_path, "    return np.sum(x * y)")
    _run_disk(tmp_path, {"SRCDIFF_DISABLE_CACHE": "1"})
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.srcdiff"))


def test_a_corrupt_entry_is_regenerated_with_one_warning(tmp_path):
    _write_module(tmp_path, "    return np.sum(x * y)")
    _run_disk(tmp_path, {})
    entries = list((tmp_path / "cache").rglob("*.srcdiff"))
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:10])  # truncated
    out, err = _run_disk(tmp_path, {})
    assert out[:2] == ["1", "0"] and "unreadable cache entry" in err
    out, err = _run_disk(tmp_path, {})
    assert out[:2] == ["0", "1"] and "unreadable" not in err


def test_cache_info_and_clear(tmp_path, monkeypatch):
    from srcdiff import cache

    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("SRCDIFF_DISABLE_CACHE", raising=False)
    cache.store("ab" + "0" * 62, {"code": compile("x = 1", "<t>", "exec")})
    info = cache.info()
    assert info["entries"] == 1 and info["bytes"] > 0 and info["path"] == str(tmp_path / "c")
    assert cache.clear() == 1 and cache.info()["entries"] == 0


def test_rules_fingerprint_does_not_depend_on_which_rules_were_used_first():
    """Built-in rules are parsed (and element-wise tangents written) when first used;
    the disk keys must be the same whether that happened before the key or not."""
    from srcdiff import cache

    cache._FINGERPRINTS.clear()
    before = cache.rules_fingerprint()
    f = make_function("def used(x):\n    return np.sum(np.tanh(x) * np.arcsinh(x))\n")
    srcdiff.jvp(f)(np.ones(2), np.ones(2))
    srcdiff.grad(f)(np.ones(2))
    cache._FINGERPRINTS.clear()
    assert cache.rules_fingerprint() == before
