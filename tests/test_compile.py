"""Compiled derivatives show their generated source: in tracebacks, linecache and inspect."""

from __future__ import annotations

import inspect
import linecache
import textwrap
import traceback

import numpy as np
import pytest

import srcdiff


def _stripped(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _contiguous(part: list, whole: list) -> bool:
    return any(whole[i:i + len(part)] == part for i in range(len(whole) - len(part) + 1))


def mismatched(x, y):
    z = np.sin(x) * y
    return np.sum(z)


def generated_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<srcdiff ")]


def test_exception_in_generated_code_shows_the_generated_line():
    d = srcdiff.grad(mismatched)
    with pytest.raises(ValueError) as info:
        d(np.ones(3), np.ones(4))
    frames = generated_frames(info.value)
    assert frames, "no frame of the generated code in the traceback"
    frame = frames[-1]
    assert "mismatched" in frame.filename
    # The frame's line is the generated statement that failed, read back via linecache.
    assert frame.line
    assert frame.line == linecache.getline(frame.filename, frame.lineno).strip()
    assert frame.line in [line.strip() for line in d.source.splitlines()]
    assert "*" in frame.line and "y" in frame.line


def test_generated_traceback_formats_with_source_lines():
    d = srcdiff.grad(mismatched, wrt=(0, 1))
    with pytest.raises(ValueError) as info:
        d(np.ones((2, 3)), np.ones(5))
    text = "".join(traceback.format_exception(info.value))
    frame = generated_frames(info.value)[-1]
    assert f'File "{frame.filename}", line {frame.lineno}' in text
    assert frame.line in text


def test_file_name_is_readable():
    d = srcdiff.value_and_grad(mismatched)
    with pytest.raises(ValueError) as info:
        d(np.ones(3), np.ones(2))
    name = generated_frames(info.value)[-1].filename
    assert name.startswith("<srcdiff ") and name.endswith(">")
    assert "value_and_grad" in name
    assert "mismatched" in name
    assert "test_compile.py" in name


def test_exception_in_the_adjoint_sweep_shows_the_adjoint_line(clean_registry):
    def broken(v):
        return v * 2.0

    # A rule whose adjoint fails at run time (shape mismatch in the template).
    srcdiff.register_adjoint(broken, "broken(v)", v="g * np.ones(7)")

    def f(x):
        return np.sum(broken(x))

    d = srcdiff.grad(f)
    with pytest.raises(ValueError) as info:
        d(np.ones(3))
    frame = generated_frames(info.value)[-1]
    assert "np.ones(7)" in frame.line
    assert frame.line == linecache.getline(frame.filename, frame.lineno).strip()
    assert frame.line in d.source


def test_inspect_getsource_of_a_generated_frame():
    d = srcdiff.grad(mismatched)
    with pytest.raises(ValueError) as info:
        d(np.ones(3), np.ones(4))
    tb = info.value.__traceback__
    code = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<srcdiff "):
            code = tb.tb_frame.f_code
        tb = tb.tb_next
    assert code is not None
    text = inspect.getsource(code)
    assert text.lstrip().startswith("def ")
    assert textwrap.dedent(text).strip() == d.source.strip()


def test_inspect_getsource_of_a_pullback():
    def f(x):
        return np.tanh(x) * 3.0

    out, pullback = srcdiff.vjp(f)(np.array([0.1, 0.2]))
    text = inspect.getsource(pullback)
    assert text.lstrip().startswith("def ")
    assert pullback.__name__ in text
    # The pullback is the generated code, nested in the vjp's source.
    assert _contiguous(_stripped(text), _stripped(srcdiff.source(f, kind="vjp")))
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(pullback(np.ones(2)), 3.0 / np.cosh(x) ** 2)


def test_generated_source_stays_in_linecache_after_checkcache():
    d = srcdiff.grad(mismatched)
    with pytest.raises(ValueError) as info:
        d(np.ones(3), np.ones(4))
    frame = generated_frames(info.value)[-1]
    linecache.checkcache()
    assert linecache.getline(frame.filename, frame.lineno).strip() == frame.line


def test_generated_code_is_compiled_once_per_derivative():
    def f(x):
        return np.sum(x ** 2)

    d = srcdiff.grad(f)
    d(np.ones(2))
    with pytest.raises(ValueError):
        srcdiff.grad(mismatched)(np.ones(3), np.ones(4))
    # Still callable and correct after another derivative was compiled.
    np.testing.assert_allclose(d(np.array([1.0, 3.0])), [2.0, 6.0])
