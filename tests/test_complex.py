"""Complex numbers are refused before anything runs (support comes later); real code
that uses np.real, np.conj, np.abs, np.angle on real arrays stays exact."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff import pipeline
from srcdiff.testing import numerical_grad

from .conftest import make_function

X = np.array([0.3, -0.7, 1.2])

# Each makes a complex number inside the function, statically visible.
STATIC = {
    "literal": "def f(x):\n    return np.real(np.sum(np.exp(1j * x) / (1 + 1j * x)))\n",
    "abs_of_complex": "def f(x):\n    return np.sum(np.abs(x * (1 + 2j)))\n",
    "complex_builtin": "def f(x):\n    return np.real(np.sum(x * complex(1.0, 2.0)))\n",
    "complex_type": "def f(x):\n    return np.real(np.sum(x.astype(np.complex128) ** 2))\n",
    "dtype_keyword": "def f(x):\n    z = np.zeros(3, dtype=complex)\n    return np.sum(x + np.real(z))\n",
    "dtype_string": "def f(x):\n    z = np.ones(3, dtype='complex64')\n    return np.sum(x * np.real(z))\n",
    "dtype_code": "def f(x):\n    z = x.astype('D')\n    return np.real(np.sum(z * z))\n",
    "fft": "def f(x):\n    return np.sum(np.abs(np.fft.fft(x)) ** 2)\n",
    "rfft_imported": "def f(x):\n    return np.sum(np.real(rfft(x)))\n",
    "eig": "def f(x):\n    return np.real(np.sum(np.linalg.eig(np.outer(x, x[::-1]))[0]))\n",
    "eigvals": "def f(x):\n    return np.real(np.sum(np.linalg.eigvals(np.outer(x, x))))\n",
    "roots": "def f(x):\n    return np.real(np.sum(np.roots(x)))\n",
    "emath": "def f(x):\n    return np.real(np.sum(np.emath.sqrt(x)))\n",
    "global_complex": "def f(x):\n    return np.real(np.sum(x * C))\n",
    "global_complex_array": "def f(x):\n    return np.real(np.sum(x * CA))\n",
    "inactive_helper": "def rot():\n    return np.exp(1j * 0.3)\n\n"
                       "def f(x):\n    return np.real(np.sum(x * rot()))\n",
    "active_helper": "def g(x):\n    return x * (2 + 1j)\n\n"
                     "def f(x):\n    return np.sum(np.abs(g(x)))\n",
    "helper_of_helper": "def h():\n    return np.fft.fft(np.ones(3))\n\ndef g():\n    return h()\n\n"
                        "def f(x):\n    return np.real(np.sum(x * g()))\n",
}
NAMESPACE = {"rfft": np.fft.rfft, "C": 1 + 2j, "CA": np.array([1.0, 2j, 3.0])}


@pytest.mark.parametrize("transform", ["grad", "jvp", "hessian", "jacobian", "value_and_grad"])
@pytest.mark.parametrize("case", sorted(STATIC))
def test_complex_in_the_function_is_refused_before_it_runs(case, transform):
    f = make_function(STATIC[case], NAMESPACE, name="f")
    d = getattr(srcdiff, transform)(f)
    extra = (np.ones(3),) if transform == "jvp" else ()
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="complex numbers") as info:
        d(X, *extra)
    # the error names the user's line, and says what to write instead
    assert "<srcdiff-test-" in str(info.value.loc)
    assert "real and imaginary parts" in info.value.hint


def test_the_error_points_at_the_literal():
    f = make_function(STATIC["abs_of_complex"], name="f")
    with pytest.raises(srcdiff.UnsupportedSyntaxError) as info:
        srcdiff.grad(f)(X)
    assert info.value.loc.lineno == 2
    assert info.value.loc.text[info.value.loc.col:].startswith("2j")


def test_a_helper_is_named_at_its_call():
    f = make_function(STATIC["inactive_helper"], name="f")
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="rot makes them") as info:
        srcdiff.grad(f)(X)
    assert info.value.loc.lineno == 5


COMPLEX_ARGS = {
    "python complex": 1 + 2j,
    "numpy complex scalar": np.complex128(1 + 2j),
    "complex array": np.array([1.0, 2.0, 3.0]) * (1 + 1j),
    "complex64 array": np.ones(3, dtype=np.complex64),
    "list holding one": [np.ones(3), 1j],
    "dict holding one": {"a": np.ones(3), "b": np.ones(2) * 1j},
    "tuple of tuple": (1.0, (2.0, np.ones(2, complex))),
}


def _count_transforms(call):
    before = pipeline.STATS["transforms"]
    with pytest.raises(srcdiff.ArgumentError, match="is complex") as info:
        call()
    assert pipeline.STATS["transforms"] == before  # refused before any code was made or run
    return info.value


@pytest.mark.parametrize("arg", sorted(COMPLEX_ARGS))
def test_complex_argument_not_differentiated_is_refused(arg):
    f = make_function("def f(x, c):\n    return np.sum(x * x)\n")
    value = COMPLEX_ARGS[arg]
    g = srcdiff.grad(f)
    _count_transforms(lambda: g(X, value))
    _count_transforms(lambda: srcdiff.jvp(f)(X, value, np.ones(3)))
    _count_transforms(lambda: srcdiff.hessian(f)(X, value))
    _count_transforms(lambda: srcdiff.jacobian(f)(X, value))
    _count_transforms(lambda: g(X, c=value))


@pytest.mark.parametrize("z", [1 + 2j, np.complex128(1 + 2j), np.array([1 + 2j, 3.0])])
@pytest.mark.parametrize("transform", ["grad", "jvp", "hessian", "hvp", "value_and_grad", "vjp", "jacobian"])
def test_complex_differentiated_argument_is_refused(z, transform):
    f = make_function("def f(z):\n    return np.sum(z * z)\n")
    extra = (z,) if transform in ("jvp", "hvp") else ()
    error = _count_transforms(lambda: getattr(srcdiff, transform)(f)(z, *extra))
    assert "z" in error.message and ".real" in error.hint


def test_complex_tangent_is_refused():
    f = make_function("def f(x):\n    return np.sin(x)\n")
    _count_transforms(lambda: srcdiff.jvp(f)(X, np.ones(3) * 1j))


def test_complex_argument_after_the_fast_path_was_built():
    """The gate made for a call with a float array sends a complex one the general way."""
    f = make_function("def f(x, c):\n    return np.sum(x * c)\n")
    g = srcdiff.grad(f)
    np.testing.assert_allclose(g(X, np.ones(3) * 2.0), 2.0 * np.ones(3))
    np.testing.assert_allclose(g(X, np.ones(3) * 2.0), 2.0 * np.ones(3))  # the gate
    with pytest.raises(srcdiff.ArgumentError, match="argument c is complex"):
        g(X, np.ones(3) * 2j)
    with pytest.raises(srcdiff.ArgumentError, match=r"argument c\[1\] is complex"):
        g(X, (1.0, 2j))
    with pytest.raises(srcdiff.ArgumentError, match="argument c is complex"):
        g(X, 2j)
    np.testing.assert_allclose(g(X, (np.ones(3) * 3.0)), 3.0 * np.ones(3))


def test_complex_attribute_of_an_object_argument():
    class Holder:
        def __init__(self, c):
            self.c = c

    f = make_function("def f(x, h):\n    return np.sum(x * x)\n")
    g = srcdiff.grad(f)
    np.testing.assert_allclose(g(X, Holder(1.0)), 2 * X)
    with pytest.raises(srcdiff.ArgumentError, match=r"argument h\.c is complex"):
        g(X, Holder(1j))


def test_complex_differentiated_argument_after_a_real_call():
    f = make_function("def f(z):\n    return z * z\n")
    g = srcdiff.grad(f)
    assert g(3.0) == 6.0
    with pytest.raises(srcdiff.ArgumentError, match="is complex"):
        g(1 + 2j)
    with pytest.raises(srcdiff.ArgumentError, match="is complex"):
        g(np.complex128(1 + 2j))


# Real programs that use the complex-number functions on real values stay exact.
REAL = {
    "np.real": ("def f(x):\n    return np.sum(np.real(x) ** 2 * np.sin(x))\n",
                lambda x: 2 * x * np.sin(x) + x ** 2 * np.cos(x)),
    "x.real": ("def f(x):\n    return np.sum(x.real ** 3)\n", lambda x: 3 * x ** 2),
    "np.conj": ("def f(x):\n    return np.sum(np.conj(x) * np.exp(x))\n",
                lambda x: np.exp(x) * (1 + x)),
    "np.conjugate": ("def f(x):\n    return np.sum(np.conjugate(x) ** 2)\n", lambda x: 2 * x),
    "np.abs": ("def f(x):\n    return np.sum(np.abs(x) ** 3)\n", lambda x: 3 * x * np.abs(x)),
    "np.vdot": ("def f(x):\n    return np.vdot(x, np.cos(x))\n",
                lambda x: np.cos(x) - x * np.sin(x)),
    "np.angle of a constant": (
        "def f(x):\n    return np.sum(x * np.angle(x.shape[0] - 2.0 * np.arange(3.0)))\n",
        lambda x: np.angle(3.0 - 2.0 * np.arange(3.0))),
    "the string 'F' as an order": ("def f(x):\n    return np.sum(np.ravel(np.outer(x, x), 'F') ** 2)\n",
                                   lambda x: 4 * x * np.sum(x ** 2)),
}


@pytest.mark.parametrize("case", sorted(REAL))
def test_real_uses_stay_exact(case):
    text, expected = REAL[case]
    f = make_function(text)
    np.testing.assert_allclose(srcdiff.grad(f)(X), expected(X), rtol=1e-12)
    np.testing.assert_allclose(srcdiff.grad(f)(X), numerical_grad(f, (X,), 0), rtol=1e-6)
    tangent = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(srcdiff.jvp(f)(X, tangent)[1], expected(X) @ tangent, rtol=1e-12)


def test_real_arguments_of_other_types_still_take_the_fast_path():
    """Ints, tuples of arrays and None beside the differentiated array are fine."""
    f = make_function("def f(x, n, data, flag):\n    return np.sum(x ** n * data[0]) + data[1]\n")
    g = srcdiff.grad(f)
    data = (np.array([1.0, 2.0, 3.0]), 4.0)
    for _ in range(3):
        np.testing.assert_allclose(g(X, 2, data, None), 2 * X * data[0])
    assert type(g) is not srcdiff.Derivative  # a gate was made
