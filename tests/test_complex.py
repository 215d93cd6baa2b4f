"""Complex numbers, in the convention of autograd and JAX.

For a real function L of a complex z = x + iy, ``grad(L)(z) = dL/dx - i dL/dy``; a real
function of real arguments with complex values inside gets its exact real gradient; a
holomorphic function of complex arguments gets f'(z).  Every derivative here is checked
against central finite differences in float64, along the real and the imaginary axis
(:func:`fd_grad`, :func:`fd_jvp`), or against a derivative written out in the test.  What
srcdiff does not support is refused with a srcdiff error before the function runs, naming
the user's line.

The last part walks the rules that hold for complex values (``rules.complexes``) with
complex inputs from each rule's declared cases, as ``rules/test_registry_walk.py`` does with real ones.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

import srcdiff
from srcdiff import pipeline, runtime
from srcdiff.rules import complexes, registry
from srcdiff.testing import numerical_grad

from .conftest import make_function
from .rules.test_registry_walk import build_case

H = 1e-6  # the finite-difference step
RTOL, ATOL = 1e-6, 1e-8

X = np.array([0.3, -0.7, 1.2])
XP = np.array([0.4, 0.9, 1.7])  # positive, for a complex power of x
Z = np.array([0.3 + 0.5j, -0.7 + 0.2j, 1.1 - 0.4j])
Z2 = np.array([[0.3 + 0.5j, -0.7 + 0.2j, 1.1 - 0.4j], [0.2 - 0.1j, 0.5 + 0.5j, -1.0 + 0.3j]])

# constants the programs read as globals
A = np.array([[2.0 + 1.0j, 0.5, -0.3j], [0.2 - 0.4j, 1.5, 0.7 + 0.1j], [0.1j, -0.6 + 0.3j, 1.8 - 0.5j]])
B = np.array([0.5 - 1.0j, 1.2 + 0.3j, -0.4 + 0.8j])
NAMESPACE = {"A": A, "B": B, "C": 1 + 2j, "CA": np.array([1.0, 2j, 0.5 - 1j])}


# ---- finite differences -----------------------------------------------------------------


def _real(out) -> float:
    assert np.isrealobj(out) and np.ndim(out) == 0, f"not a real scalar: {out!r}"
    return float(out)


def fd_grad(f, args: tuple, pos: int):
    """Central differences of the real scalar ``f``'s gradient with respect to
    ``args[pos]``: entry by entry ``dL/dx - i dL/dy`` for a complex argument (real and
    imaginary axis), ``dL/dx`` for a real one."""
    x = args[pos]
    cplx = np.iscomplexobj(x)
    grad = np.zeros(np.shape(x), complex if cplx else float)

    def at(step):
        moved = list(args)
        moved[pos] = x + step
        return _real(f(*moved))

    for idx in np.ndindex(grad.shape):
        for axis in (1.0, 1j) if cplx else (1.0,):
            e = np.zeros(grad.shape, complex if cplx else float)
            e[idx] = axis * H
            step = e if isinstance(x, np.ndarray) else e[()].item()
            slope = (at(step) - at(-step)) / (2 * H)
            grad[idx] += slope if axis == 1.0 else -1j * slope
    return grad if isinstance(x, np.ndarray) else grad[()]


def _leaves(x) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def fd_jvp(f, args: tuple, positions: tuple, tangents: tuple):
    """Central difference of ``f`` (any result: real, complex, a list) along the
    tangents, every argument in ``positions`` moved at once; one entry per leaf."""

    def at(step):
        moved = list(args)
        for pos, t in zip(positions, tangents):
            moved[pos] = args[pos] + step * t
        return _leaves(f(*moved))

    return [(np.asarray(hi) - np.asarray(lo)) / (2 * H) for hi, lo in zip(at(H), at(-H))]


def fd_of_grad(g, args: tuple, pos: int, direction):
    """Central difference of the gradient function ``g`` along ``direction``."""
    up, down = list(args), list(args)
    up[pos] = args[pos] + H * direction
    down[pos] = args[pos] - H * direction
    return (np.asarray(g(*up)) - np.asarray(g(*down))) / (2 * H)


def close(got, want, what: str = "") -> None:
    assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)}, expected {np.shape(want)}"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)


def assert_real_like(grad, arg) -> None:
    """The gradient of a real argument is real: a float for a float, a float array for
    a float array."""
    if isinstance(arg, np.ndarray):
        assert isinstance(grad, np.ndarray) and grad.dtype == np.float64, repr(grad)
    elif type(arg) is float:
        assert type(grad) is float, f"{type(grad).__name__}: {grad!r}"
    else:
        assert isinstance(grad, (float, np.floating)), f"{type(grad).__name__}: {grad!r}"


def _random_like(rng, x):
    """A random direction for ``x``: complex for a complex value, real for a real one."""
    t = rng.normal(size=np.shape(x))
    if np.iscomplexobj(x):
        t = t + 1j * rng.normal(size=np.shape(x))
    return t if isinstance(x, np.ndarray) else t[()].item()


# ---- the reference values of the convention ---------------------------------------------

SCALARS = {"python complex": lambda v: complex(v), "numpy complex128": np.complex128}


@pytest.mark.parametrize("kind", sorted(SCALARS))
def test_the_reference_values(kind):
    abs2 = make_function("def f(z):\n    return np.abs(z) ** 2\n")
    re_sin = make_function("def f(z):\n    return np.real(np.sin(z))\n")
    z = SCALARS[kind](1 + 2j)
    got = srcdiff.grad(abs2)(z)
    assert np.iscomplexobj(got) and np.ndim(got) == 0
    assert got == pytest.approx(2 - 4j, rel=1e-14)  # 2 conj(z)
    assert got == pytest.approx(fd_grad(abs2, (z,), 0), rel=RTOL)
    assert srcdiff.derivative(abs2)(z) == pytest.approx(2.0, rel=1e-14)  # along the real axis: 2x
    w = SCALARS[kind](0.4 + 0.3j)
    assert srcdiff.grad(re_sin)(w) == pytest.approx(np.cos(0.4 + 0.3j), rel=1e-14)
    assert srcdiff.grad(re_sin)(w) == pytest.approx(fd_grad(re_sin, (w,), 0), rel=RTOL)


def test_the_reference_values_for_arrays():
    abs2 = make_function("def f(z):\n    return np.sum(np.abs(z) ** 2)\n")
    re_sin = make_function("def f(z):\n    return np.real(np.sum(np.sin(z)))\n")
    for z in (Z, Z.reshape(3, 1), Z.astype(np.complex64).astype(np.complex128)):
        got = srcdiff.grad(abs2)(z)
        assert got.dtype == np.complex128 and got.shape == z.shape
        np.testing.assert_allclose(got, 2 * np.conj(z), rtol=1e-14)
        np.testing.assert_allclose(srcdiff.grad(re_sin)(z), np.cos(z), rtol=1e-14)
        close(srcdiff.grad(re_sin)(z), fd_grad(re_sin, (z,), 0))


def test_a_complex64_argument():
    """A single-precision complex argument is accepted (its gradient to single precision)."""
    abs2 = make_function("def f(z):\n    return np.sum(np.abs(z) ** 2)\n")
    z = Z.astype(np.complex64)
    np.testing.assert_allclose(srcdiff.grad(abs2)(z), 2 * np.conj(z), rtol=1e-6)


# ---- complex values inside real functions: exact real gradients -------------------------


def test_abs_of_a_complex_multiple():
    f = make_function("def f(x):\n    return np.sum(np.abs(x * (1 + 2j)))\n")
    got = srcdiff.grad(f)(X)
    assert_real_like(got, X)
    np.testing.assert_allclose(got, np.sqrt(5) * np.sign(X), rtol=1e-14)
    close(got, fd_grad(f, (X,), 0))
    scalar = srcdiff.grad(f)(-0.7)
    assert type(scalar) is float
    assert scalar == pytest.approx(-np.sqrt(5), rel=1e-14)


def test_vdot_with_complex_values():
    """Re(z^H A z): its gradient, in the convention, is conj((A + A^H) z)."""
    f = make_function("def f(z):\n    return np.real(np.vdot(z, A @ z))\n", NAMESPACE)
    got = srcdiff.grad(f)(Z)
    np.testing.assert_allclose(got, np.conj((A + A.conj().T) @ Z), rtol=1e-13)
    close(got, fd_grad(f, (Z,), 0))
    g = make_function("def f(x):\n    return np.real(np.vdot(x * (1 + 1j), np.exp(1j * x)))\n")
    want = np.cos(X) - X * np.sin(X) + np.sin(X) + X * np.cos(X)  # Re((1 - i) x e^{ix})'
    assert_real_like(srcdiff.grad(g)(X), X)
    np.testing.assert_allclose(srcdiff.grad(g)(X), want, rtol=1e-13)


def test_exp_over_a_complex_denominator():
    re = make_function("def f(x):\n    return np.real(np.sum(np.exp(1j * x) / (1 + 1j * x)))\n")
    abs2 = make_function("def f(x):\n    return np.sum(np.abs(np.exp(1j * x) / (1 + 1j * x)) ** 2)\n")
    got = srcdiff.grad(re)(X)
    assert_real_like(got, X)
    # Re(e^{ix} / (1 + ix)) = (cos x + x sin x) / (1 + x^2)
    want = (X * np.cos(X) * (1 + X ** 2) - 2 * X * (np.cos(X) + X * np.sin(X))) / (1 + X ** 2) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-13)
    got = srcdiff.grad(abs2)(X)
    assert_real_like(got, X)
    np.testing.assert_allclose(got, -2 * X / (1 + X ** 2) ** 2, rtol=1e-12)  # |.|^2 = 1 / (1 + x^2)
    assert type(srcdiff.grad(abs2)(0.3)) is float


def test_abs_squared_as_a_scalar_and_as_an_array_agree():
    scalar = srcdiff.grad(make_function("def f(z):\n    return np.abs(z) ** 2\n"))
    array = srcdiff.grad(make_function("def f(z):\n    return np.sum(np.abs(z) ** 2)\n"))
    builtin = srcdiff.grad(make_function("def f(z):\n    return abs(z) ** 2\n"))
    entries = [scalar(complex(z)) for z in Z]
    np.testing.assert_allclose(entries, array(Z), rtol=1e-15)
    np.testing.assert_allclose([builtin(complex(z)) for z in Z], array(Z), rtol=1e-15)
    np.testing.assert_allclose(array(Z), 2 * np.conj(Z), rtol=1e-15)


# ---- a table of programs ----------------------------------------------------------------

# name -> (source, arguments, wrt): real functions, of real arguments with complex values
# inside (REAL_PROGRAMS) or of complex arguments (COMPLEX_PROGRAMS)
REAL_PROGRAMS = {
    "literal": ("def f(x):\n    return np.real(np.sum(np.exp(1j * x) / (1 + 1j * x)))\n", (X,)),
    "abs of a complex multiple": ("def f(x):\n    return np.sum(np.abs(x * (1 + 2j)) ** 3)\n", (X,)),
    "complex() of constants": (
        "def f(x):\n    w = complex(0.5, -1.5)\n    return np.sum(np.abs(x * w + 1.0) ** 2)\n", (X,)),
    "dtype=complex": (
        "def f(x):\n    z = np.zeros(3, dtype=complex)\n    z = z + x * 1j - 0.5\n"
        "    return np.sum(np.abs(z) ** 3)\n", (X,)),
    "dtype string": (
        "def f(x):\n    z = np.ones(3, dtype='complex128') * (1 - 1j)\n"
        "    return np.real(np.sum(z * np.exp(1j * x)))\n", (X,)),
    "astype(np.complex128)": (
        "def f(x):\n    z = x.astype(np.complex128) * 1j + 0.5\n"
        "    return np.sum(np.abs(np.exp(z) * z))\n", (X,)),
    "astype('D') and sqrt on the cut": (
        "def f(x):\n    z = x.astype('D')\n    return np.sum(np.imag(np.sqrt(z - 1.5)))\n", (X,)),
    "global complex constant": ("def f(x):\n    return np.sum(np.abs(x * C + 1.0) ** 2)\n", (X,)),
    "global complex array": ("def f(x):\n    return np.real(np.sum(np.exp(x * CA)))\n", (X,)),
    "helper functions": (
        "def rot(t):\n    return np.exp(1j * t)\n\n"
        "def twice(z):\n    return z * z + 0.5j\n\n"
        "def f(x):\n    return np.sum(np.real(twice(rot(x)) * rot(0.3)))\n", (X,)),
    "for loop accumulating": (
        "def f(x):\n    acc = 0j\n    for k in range(3):\n"
        "        acc = acc + x[k] * np.exp(1j * (k + 1) * x[k])\n    return np.abs(acc) ** 2\n", (X,)),
    "while loop product": (
        "def f(x):\n    z = 1.0 + 0j\n    k = 0\n    while k < 3:\n        z = z * (x[k] + 1j)\n"
        "        k += 1\n    return np.abs(z)\n", (X,)),
    "branch taken": (
        "def f(x):\n    z = x * (1 + 1j)\n    if x[0] > 0:\n        z = z * z\n    else:\n"
        "        z = z / (2 - 1j)\n    return np.sum(np.imag(z) * x)\n", (X,)),
    "branch not taken": (
        "def f(x):\n    z = x * (1 + 1j)\n    if x[0] > 0:\n        z = z * z\n    else:\n"
        "        z = z / (2 - 1j)\n    return np.sum(np.imag(z) * x)\n", (-X,)),
    "matmul": ("def f(x):\n    return np.sum(np.abs(A @ (x * 1j + 1.0)) ** 2)\n", (X,)),
    "einsum": (
        "def f(x):\n    y = A @ x\n    return np.real(np.einsum('i,ij,j->', np.conj(y), A, x))\n", (X,)),
    "dot": ("def f(x):\n    return np.abs(np.dot(B, np.exp(1j * x))) ** 2\n", (X,)),
    "linalg.solve": ("def f(x):\n    return np.sum(np.abs(np.linalg.solve(A + np.diag(x), B)) ** 2)\n", (X,)),
    "linalg.inv": ("def f(x):\n    return np.real(np.trace(np.linalg.inv(A + np.diag(x * 1j))))\n", (X,)),
    "angle": ("def f(x):\n    return np.sum(np.angle(x + 2j) * x + np.angle(np.exp(0.5j * x)))\n", (X,)),
    "conj and imag": (
        "def f(x):\n    z = x * np.exp(1j * x)\n    return np.sum(np.imag(z * np.conj(z + 1j)))\n", (X,)),
    ".real attribute": ("def f(x):\n    z = (x + 2j) ** 2\n    return np.sum(z.real * np.sin(x))\n", (X,)),
    ".imag attribute": ("def f(x):\n    z = (x + 2j) ** 2\n    return np.sum(z.imag ** 2 + x.imag)\n", (X,)),
    ".conj() method": (
        "def f(x):\n    z = np.exp(1j * x) + x\n    return np.real(np.sum(z.conj() * z * (x + 1j)))\n", (X,)),
    "complex exponent": ("def f(x):\n    return np.sum(np.real(x ** (1 + 1j)))\n", (XP,)),
    "sqrt and log": (
        "def f(x):\n    z = x + 1j\n"
        "    return np.sum(np.abs(np.sqrt(z)) + np.imag(np.log(z)) + np.real(np.log(z) * np.sqrt(z)))\n",
        (X,)),
    "cumsum, prod, mean": (
        "def f(x):\n    z = np.exp(1j * x)\n"
        "    return np.abs(np.prod(z + 0.5)) + np.real(np.sum(np.cumsum(z) * np.mean(z)))\n", (X,)),
    "indexing and concatenation": (
        "def f(x):\n    z = x * (1 - 1j)\n    w = np.concatenate([z, z[::-1] * 1j, z[:1]])\n"
        "    return np.sum(np.abs(w[1:4] + w[4:]) ** 2)\n", (X,)),
    "where": (
        "def f(x):\n    z = np.where(x > 0, x * 1j, x + 2j)\n    return np.sum(np.abs(z) ** 2 * x)\n", (X,)),
    "vdot": ("def f(x):\n    return np.real(np.vdot(x * (1 + 1j), np.exp(1j * x)))\n", (X,)),
    "stack and reshape": (
        "def f(x):\n    z = np.stack([x + 1j, x * 1j]).reshape(6)\n"
        "    return np.real(np.sum(z ** 3))\n", (X,)),
    "item assignment": (
        "def f(x):\n    z = np.zeros(3, dtype=complex)\n    z[0] = x[0] * 1j\n"
        "    z[1:] = x[1:] + 1j * x[:2]\n"
        "    return np.sum(np.abs(z) ** 2 * np.cos(x))\n", (X,)),
    "in-place operators": (
        "def f(x):\n    w = x * (1 + 0j)\n    w += 1j * x\n    w *= x\n    w[1] = 2j\n"
        "    return np.sum(np.abs(w) ** 2)\n", (X,)),
    "python float argument": (
        "def f(t):\n    return np.abs(np.exp(1j * t) / (1 + 1j * t)) ** 2 + np.real((t + 1j) ** 3)\n",
        (0.3,)),
    "two real arguments": (
        "def f(x, y):\n    z = x + 1j * y\n    return np.sum(np.abs(z) ** 3 + np.real(z ** 2))\n",
        (X, XP), (0, 1)),
}
COMPLEX_PROGRAMS = {
    "abs squared": ("def f(z):\n    return np.sum(np.abs(z) ** 2)\n", (Z,)),
    "sin times conj": ("def f(z):\n    return np.real(np.sum(np.sin(z) * np.conj(z)))\n", (Z,)),
    "quadratic form": ("def f(z):\n    return np.real(np.vdot(z, A @ z))\n", (Z,)),
    "linalg.solve": ("def f(z):\n    return np.sum(np.abs(np.linalg.solve(A, z)) ** 2)\n", (Z,)),
    "linalg.inv of an outer product": (
        "def f(z):\n    m = np.outer(z, np.conj(z)) + A\n"
        "    return np.real(np.trace(np.linalg.inv(m)))\n", (Z,)),
    "einsum": ("def f(z):\n    return np.abs(np.einsum('ij,i,j->', A, z, z))\n", (Z,)),
    "angle": ("def f(z):\n    return np.sum(np.angle(z) ** 2)\n", (Z,)),
    "log and sqrt": ("def f(z):\n    return np.real(np.sum(np.log(z) * np.sqrt(z)))\n", (Z,)),
    ".real attribute and np.imag": (
        "def f(z):\n    return np.sum(z.real ** 2 * np.imag(z)) + np.imag(np.sum(z ** 2))\n", (Z,)),
    ".imag attribute": ("def f(z):\n    return np.sum(z.imag ** 3 * z.real)\n", (Z,)),
    ".conj() method": ("def f(z):\n    return np.real(np.sum(z.conj() * z * z))\n", (Z,)),
    "cumsum and indexing": ("def f(z):\n    return np.sum(np.abs(np.cumsum(z)[1:] * z[:-1]) ** 2)\n", (Z,)),
    "loop": (
        "def f(z):\n    acc = 0.0\n    for k in range(3):\n"
        "        acc = acc + np.abs(z[k] - z[(k + 1) % 3]) ** 2\n"
        "    return acc\n", (Z,)),
    "where": ("def f(z):\n    return np.sum(np.abs(np.where(np.real(z) > 0, z ** 2, 1j * z)))\n", (Z,)),
    "complex power": ("def f(z):\n    return np.real(np.sum(z ** (0.5 + 1j) + (1 + 1j) ** z))\n", (Z,)),
    "in-place operators": (
        "def f(z):\n    w = z * 1.0\n    w += 1j * z\n    w *= z\n    return np.sum(np.abs(w))\n", (Z,)),
    "2-d, axis and transpose": (
        "def f(z):\n    s = np.real(np.sum(z ** 2, axis=1)).sum()\n"
        "    return s + np.real(np.trace(z @ z.T.conj()))\n", (Z2,)),
    "array methods": (
        "def f(z):\n    return np.sum(np.real(z * z.sum()) + np.imag(z.mean() * z.prod()))\n", (Z,)),
    "python complex": ("def f(z):\n    return np.abs(np.exp(z) * z ** 2)\n", (0.4 + 0.3j,)),
    "python complex attributes": (
        "def f(z):\n    return z.real ** 2 * z.imag + np.abs(z.conjugate() - 1j)\n", (0.4 + 0.3j,)),
    "numpy complex": (
        "def f(z):\n    return np.real(np.tanh(z) * np.conj(z))\n", (np.complex128(0.4 - 0.8j),)),
    "complex and real arguments": (
        "def f(z, x):\n    return np.sum(np.abs(z * x + 1j) ** 2 * x)\n", (Z, X), (0, 1)),
    "a complex argument not differentiated": (
        "def f(x, c):\n    return np.sum(np.abs(x + c) ** 2)\n", (X, Z)),
}
PROGRAMS = {**{("real", k): v for k, v in REAL_PROGRAMS.items()},
            **{("complex", k): v for k, v in COMPLEX_PROGRAMS.items()}}
_IDS = [f"{kind}: {name}" for kind, name in PROGRAMS]


def _program(key):
    src, args, *wrt = PROGRAMS[key]
    return make_function(src, NAMESPACE, name="f"), args, (wrt[0] if wrt else (0,))


@pytest.mark.parametrize("key", list(PROGRAMS), ids=_IDS)
def test_grad_matches_finite_differences(key):
    f, args, wrt = _program(key)
    for pos in wrt:
        got = srcdiff.grad(f, wrt=pos)(*args)
        if not np.iscomplexobj(args[pos]):
            assert_real_like(got, args[pos])
        close(got, fd_grad(f, args, pos), f"argument {pos}")
    together = srcdiff.grad(f, wrt=wrt)(*args)
    for pos, got in zip(wrt, together):
        close(got, fd_grad(f, args, pos), f"argument {pos}, wrt={wrt}")


@pytest.mark.parametrize("key", list(PROGRAMS), ids=_IDS)
def test_jvp_matches_finite_differences(key):
    f, args, wrt = _program(key)
    rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
    tangents = tuple(_random_like(rng, args[pos]) for pos in wrt)
    out, out_dot = srcdiff.jvp(f, wrt=wrt)(*args, *tangents)
    assert out == pytest.approx(f(*args), rel=1e-13)
    assert np.isrealobj(out_dot)  # a real result has a real tangent
    close(out_dot, fd_jvp(f, args, wrt, tangents)[0])


@pytest.mark.parametrize("key", list(PROGRAMS), ids=_IDS)
def test_value_and_grad(key):
    f, args, wrt = _program(key)
    value, grads = srcdiff.value_and_grad(f, wrt=wrt)(*args)
    assert np.isrealobj(value)
    assert value == pytest.approx(f(*args), rel=1e-13)
    for pos, got in zip(wrt, grads):
        close(got, fd_grad(f, args, pos))


@pytest.mark.parametrize("name", sorted(REAL_PROGRAMS))
def test_second_derivatives_of_real_programs(name):
    """hessian, hvp and grad(grad) against central differences of the gradient (itself
    checked against differences of the function above)."""
    f, args, wrt = _program(("real", name))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for pos in wrt:
        g = srcdiff.grad(f, wrt=pos)
        x = args[pos]
        if np.ndim(x) == 0:
            got = srcdiff.grad(srcdiff.grad(f, wrt=pos), wrt=pos)(*args)
            assert_real_like(got, x)
            close(got, fd_of_grad(g, args, pos, 1.0), "grad(grad(f))")
            continue
        hess = srcdiff.hessian(f, wrt=pos)(*args)
        assert hess.dtype == np.float64 and hess.shape == x.shape * 2
        columns = [fd_of_grad(g, args, pos, e) for e in np.eye(x.size).reshape((x.size,) + x.shape)]
        close(hess, np.stack(columns, axis=-1).reshape(x.shape * 2), "hessian")
        v = rng.normal(size=x.shape)
        got = srcdiff.hvp(f, wrt=pos)(*args, v)
        assert_real_like(got, x)
        close(got, fd_of_grad(g, args, pos, v), "hvp")


# Complex scalar arguments kept in a list or a tuple the function makes.
IN_A_LIST = {
    "append": ("def f(a, b):\n    out = [a]\n    out.append(b)\n"
               "    return np.real(out[0] * (1 + 2j) + out[1] * out[0])\n"),
    "list display": "def f(a, b):\n    out = [a, b]\n    return np.abs(out[0] - out[1]) ** 2\n",
    "tuple and sum": "def f(a, b):\n    pair = (a, b * 1j)\n    return np.real(sum(pair) * np.conj(a))\n",
}

@pytest.mark.parametrize("kind", [pytest.param(complex, id="python"),
                                  pytest.param(np.complex128, id="numpy")])
@pytest.mark.parametrize("name", sorted(IN_A_LIST))
def test_complex_scalars_in_a_list(name, kind):
    f = make_function(IN_A_LIST[name])
    args = (kind(0.3 + 0.2j), kind(-0.5 + 1.0j))
    got = srcdiff.grad(f, wrt=(0, 1))(*args)
    for pos in (0, 1):
        close(got[pos], fd_grad(f, args, pos), f"argument {pos}")


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_a_complex_fill_value_of_a_real_array():
    f = make_function("def f(z):\n    a = np.full_like(np.ones(3), z)\n"
                      "    return np.real(np.sum(a * (1 + 1j)))\n")
    close(srcdiff.grad(f)(0.3 + 0.7j), fd_grad(f, (0.3 + 0.7j,), 0))


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_a_complex_value_written_into_a_real_array():
    f = make_function("def f(x):\n    z = np.zeros(3)\n    z[0] = x[0] * (1 + 1j)\n"
                      "    return np.sum(z * x)\n")
    got = srcdiff.grad(f)(X)
    assert_real_like(got, X)
    close(got, fd_grad(f, (X,), 0))


# The gradient made for a complex scalar argument ends in ``return complex(dz)``, which a
# second transformation has no rule for.

def _hvp_params():
    return sorted(k for k in COMPLEX_PROGRAMS if COMPLEX_PROGRAMS[k][1][0] is not X)


@pytest.mark.parametrize("name", _hvp_params())
def test_hvp_with_a_complex_argument(name):
    """The directional derivative of the gradient along a complex direction."""
    f, args, _ = _program(("complex", name))
    v = _random_like(np.random.default_rng(zlib.crc32(name.encode())), args[0])
    got = srcdiff.hvp(f)(*args, v)
    close(got, fd_of_grad(srcdiff.grad(f), args, 0, v))


# ---- holomorphic complex results: f'(z) -------------------------------------------------

# name -> (source, f', f'') with the derivatives written out
HOLOMORPHIC = {
    "exp(z) z^2": ("def f(z):\n    return np.exp(z) * z ** 2\n",
                   lambda z: np.exp(z) * (z ** 2 + 2 * z), lambda z: np.exp(z) * (z ** 2 + 4 * z + 2)),
    "polynomial with a complex coefficient": (
        "def f(z):\n    return z ** 3 - 2j * z + C\n", lambda z: 3 * z ** 2 - 2j, lambda z: 6 * z),
    "log(z) sqrt(z)": ("def f(z):\n    return np.log(z) * np.sqrt(z)\n",
                       lambda z: np.sqrt(z) / z + np.log(z) / (2 * np.sqrt(z)),
                       lambda z: (-np.sqrt(z) / z ** 2 + 1 / (z * np.sqrt(z))
                                  - np.log(z) / (4 * z * np.sqrt(z)))),
    "tanh(z) + 1/z": ("def f(z):\n    return np.tanh(z) + 1 / z\n",
                      lambda z: 1 - np.tanh(z) ** 2 - 1 / z ** 2,
                      lambda z: -2 * np.tanh(z) * (1 - np.tanh(z) ** 2) + 2 / z ** 3),
    "complex exponent": ("def f(z):\n    return z ** (1 + 1j)\n",
                         lambda z: (1 + 1j) * z ** 1j, lambda z: (1 + 1j) * 1j * z ** (1j - 1)),
    "helper and loop (Horner)": (
        "def step(acc, z, c):\n    return acc * z + c\n\n"
        "def f(z):\n    acc = 0j\n    for c in [1.0, -2j, 0.5, 3.0 + 1j]:\n        acc = step(acc, z, c)\n"
        "    return acc\n",
        lambda z: 3 * z ** 2 - 4j * z + 0.5, lambda z: 6 * z - 4j),
}
HOLOMORPHIC_POINTS = [0.4 + 0.3j, np.complex128(-0.6 + 1.1j)]


@pytest.mark.parametrize("z", HOLOMORPHIC_POINTS, ids=["python", "numpy"])
@pytest.mark.parametrize("name", sorted(HOLOMORPHIC))
def test_holomorphic_grad_is_the_complex_derivative(name, z):
    src, df, d2f = HOLOMORPHIC[name]
    f = make_function(src, NAMESPACE, name="f")
    # (the derivatives written above, against central differences)
    assert df(z) == pytest.approx((f(z + H) - f(z - H)) / (2 * H), rel=RTOL)
    assert d2f(z) == pytest.approx((df(z + H) - df(z - H)) / (2 * H), rel=RTOL)
    assert srcdiff.grad(f)(z) == pytest.approx(df(z), rel=1e-12)
    assert srcdiff.derivative(f)(z) == pytest.approx(df(z), rel=1e-12)
    # the limit along any complex direction: f'(z) v
    v = 0.3 - 0.8j
    out, out_dot = srcdiff.jvp(f)(z, v)
    assert out == pytest.approx(f(z), rel=1e-14)
    assert out_dot == pytest.approx(df(z) * v, rel=1e-12)
    assert out_dot == pytest.approx(fd_jvp(f, (z,), (0,), (v,))[0], rel=RTOL)
    value, grad = srcdiff.value_and_grad(f)(z)
    assert value == pytest.approx(f(z), rel=1e-14) and grad == pytest.approx(df(z), rel=1e-12)


@pytest.mark.parametrize("z", HOLOMORPHIC_POINTS, ids=["python", "numpy"])
@pytest.mark.parametrize("name", sorted(HOLOMORPHIC))
def test_holomorphic_second_derivative(name, z):
    src, _, d2f = HOLOMORPHIC[name]
    f = make_function(src, NAMESPACE, name="f")
    assert srcdiff.grad(srcdiff.grad(f))(z) == pytest.approx(d2f(z), rel=1e-11)


def test_holomorphic_function_of_an_array():
    """The gradient of a holomorphic scalar of an array: d/dz_k sum(exp(A z)) = (A^T exp(A z))_k."""
    f = make_function("def f(z):\n    return np.sum(np.exp(A @ z))\n", NAMESPACE)
    np.testing.assert_allclose(srcdiff.grad(f)(Z), A.T @ np.exp(A @ Z), rtol=1e-13)


def test_holomorphic_in_one_argument_with_a_complex_constant_argument():
    f = make_function("def f(z, c):\n    return np.sin(c * z) * z\n")
    z, c = 0.4 + 0.3j, 1.5 - 0.5j
    want = c * np.cos(c * z) * z + np.sin(c * z)
    assert srcdiff.grad(f)(z, c) == pytest.approx(want, rel=1e-13)
    # and in both: holomorphic in c too
    gz, gc = srcdiff.grad(f, wrt=(0, 1))(z, c)
    assert gz == pytest.approx(want, rel=1e-13)
    assert gc == pytest.approx(z * np.cos(c * z) * z, rel=1e-13)


def test_a_holomorphic_function_called_with_a_real_argument():
    """z exp(z) is holomorphic; at a real argument its gradient is the real one."""
    f = make_function("def f(z):\n    return z * np.exp(z)\n")
    got = srcdiff.grad(f)(0.5)
    assert type(got) is float and got == pytest.approx(1.5 * np.exp(0.5), rel=1e-14)
    assert srcdiff.grad(f)(0.5 + 0j) == pytest.approx(1.5 * np.exp(0.5), rel=1e-14)


# ---- refusals ---------------------------------------------------------------------------


def _refusal(error, src: str, args: tuple, transform: str = "grad", line: int | None = 3,
             extra: tuple = ()):
    """Check ``transform`` of the function ``src`` (whose first statement appends to LOG)
    raises ``error`` without running it, naming the user's line ``line``."""
    log: list = []
    f = make_function(src, {"LOG": log, **NAMESPACE}, name="f")
    with pytest.raises(error) as info:
        getattr(srcdiff, transform)(f)(*args, *extra)
    assert log == [], "the function ran before the refusal"
    f(*args)  # (the function does append when it runs)
    assert log == [1]
    if line is not None:
        assert info.value.loc is not None and info.value.loc.filename.startswith("<srcdiff-test-")
        assert info.value.loc.lineno == line, str(info.value)
    return info.value


def test_log_shows_that_a_function_ran():
    """The control for _refusal: a function differentiated normally appends to LOG."""
    log: list = []
    f = make_function("def f(z):\n    LOG.append(1)\n    return np.abs(z) ** 2\n", {"LOG": log})
    assert srcdiff.grad(f)(1 + 1j) == pytest.approx(2 - 2j)
    assert log == [1]


def test_complex_result_of_a_function_that_is_not_holomorphic():
    src = "def f(z):\n    LOG.append(1)\n    return np.abs(z) * z\n"
    for transform in ("grad", "value_and_grad"):
        error = _refusal(srcdiff.NonScalarOutputError, src, (1 + 1j,), transform)
        assert "np.real" in error.hint and "jvp" in error.hint and "vjp" in error.hint
    _refusal(srcdiff.NonScalarOutputError, src.replace("np.abs(z) * z", "np.sum(np.abs(z) * z)"), (Z,))
    # vjp and jvp of it work
    z, v = 0.4 + 0.3j, 0.5 - 1.5j
    f = make_function("def f(z):\n    return np.abs(z) * z\n")
    _, out_dot = srcdiff.jvp(f)(z, v)
    assert out_dot == pytest.approx(fd_jvp(f, (z,), (0,), (v,))[0], rel=RTOL)


def test_complex_result_of_a_real_argument():
    src = "def f(x):\n    LOG.append(1)\n    return np.exp(1j * x)\n"
    error = _refusal(srcdiff.NonScalarOutputError, src, (0.4,))
    assert "np.real" in error.hint and "jvp" in error.hint
    _refusal(srcdiff.NonScalarOutputError, src, (0.4,), "value_and_grad")
    # jvp and jacobian of it work: complex tangents and a complex Jacobian
    f = make_function("def f(x):\n    return np.exp(1j * x) / (1 + 1j * x)\n")
    out, out_dot = srcdiff.jvp(f)(X, np.array([0.5, -1.0, 2.0]))
    np.testing.assert_allclose(out, f(X), rtol=1e-14)
    assert out_dot.dtype == np.complex128
    close(out_dot, fd_jvp(f, (X,), (0,), (np.array([0.5, -1.0, 2.0]),))[0])
    columns = np.stack([fd_jvp(f, (X,), (0,), (e,))[0] for e in np.eye(3)], axis=-1)
    for mode in ("auto", "forward", "reverse"):
        jac = srcdiff.jacobian(f, mode=mode)(X)
        assert jac.dtype == np.complex128 and jac.shape == (3, 3)
        close(jac, columns, f"mode={mode}")
    scalar = srcdiff.derivative(make_function("def f(x):\n    return np.exp(1j * x)\n"))(0.4)
    assert scalar == pytest.approx(1j * np.exp(0.4j), rel=1e-14)


def test_a_result_that_turns_out_complex_at_run_time():
    """Whether x * c is complex depends on the argument c: refused when it is, at the
    return line."""
    f = make_function("def f(x, c):\n    return np.sum(x * c)\n")
    g = srcdiff.grad(f)
    np.testing.assert_allclose(g(X, 2.0 * np.ones(3)), 2.0 * np.ones(3))
    np.testing.assert_allclose(g(X, 2.0 * np.ones(3)), 2.0 * np.ones(3))  # the fast path
    with pytest.raises(srcdiff.NonScalarOutputError) as info:
        g(X, 2j * np.ones(3))
    assert info.value.loc.lineno == 2 and "np.real" in info.value.hint
    np.testing.assert_allclose(g(X, 3.0 * np.ones(3)), 3.0 * np.ones(3))


# name -> the line that is refused (line 3 of the function), for a real x
NO_COMPLEX_RULE = {
    "np.maximum": "    return np.sum(np.abs(np.maximum(x * 1j, 0.5)))\n",
    "np.linalg.norm": "    return np.linalg.norm(x * (1 + 1j))\n",
    "np.sort": "    return np.sum(np.real(np.sort(x * (1 + 1j))))\n",
    "np.linalg.det": "    return np.real(np.linalg.det(np.outer(x, x) + 1j))\n",
    "np.var": "    return np.real(np.var(x * 1j))\n",
    "np.std": "    return np.real(np.std(x * 1j))\n",
    "np.max": "    return np.abs(np.max(x * 1j))\n",
    "np.clip": "    return np.sum(np.abs(np.clip(x * 1j, 0, 1)))\n",
}


@pytest.mark.parametrize("transform", ["grad", "jvp", "vjp"])
@pytest.mark.parametrize("name", sorted(NO_COMPLEX_RULE))
def test_a_function_without_a_complex_rule_is_refused(name, transform):
    src = "def f(x):\n    LOG.append(1)\n" + NO_COMPLEX_RULE[name]
    extra = (np.ones(3),) if transform == "jvp" else ()
    error = _refusal(srcdiff.NonDifferentiableError, src, (X,), transform, extra=extra)
    assert f"no rule for {name} with complex values" in error.message
    assert "np.real" in error.hint
    assert "may be complex" in error.message
    # a complex argument too
    zsrc = "def f(z):\n    LOG.append(1)\n" + re.sub(r"\bx\b", "z", NO_COMPLEX_RULE[name])
    _refusal(srcdiff.NonDifferentiableError, zsrc, (Z,), transform, extra=(Z,) if extra else ())


def test_the_refusal_names_the_users_expression():
    log: list = []
    f = make_function("def f(x):\n    return np.linalg.norm(x * (1 + 1j))\n", {"LOG": log})
    with pytest.raises(srcdiff.NonDifferentiableError) as info:
        srcdiff.grad(f)(X)
    assert not re.search(r"\b_t\d+\b", info.value.message), info.value.message


def test_sign_of_a_complex_value_is_refused():
    src = "def f(x):\n    LOG.append(1)\n    return np.sum(np.real(np.sign(x * (1 + 1j)) * x))\n"
    error = _refusal(srcdiff.NonDifferentiableError, src, (X,))
    assert "np.sign" in error.message and "np.abs" in error.hint
    _refusal(srcdiff.NonDifferentiableError, re.sub(r"\bx\b", "z", src), (Z,))
    # np.sign of a real value is still constant between jumps
    f = make_function("def f(x):\n    return np.sum(np.sign(x) * x ** 2)\n")
    np.testing.assert_allclose(srcdiff.grad(f)(X), 2 * np.abs(X), rtol=1e-14)


# functions with no rule that make complex values from real ones
NO_RULE = {
    "np.fft.fft": "    return np.sum(np.abs(np.fft.fft(x)) ** 2)\n",
    "np.fft.rfft": "    return np.real(np.sum(np.fft.rfft(x)))\n",
    "np.linalg.eig": "    return np.real(np.sum(np.linalg.eig(np.outer(x, x[::-1]))[0]))\n",
    "np.linalg.eigvals": "    return np.real(np.sum(np.linalg.eigvals(np.outer(x, x))))\n",
    "np.roots": "    return np.real(np.sum(np.roots(x)))\n",
    "np.emath.sqrt": "    return np.real(np.sum(np.emath.sqrt(x)))\n",
}


@pytest.mark.parametrize("name", sorted(NO_RULE))
def test_a_function_without_a_rule_is_refused(name):
    src = "def f(x):\n    LOG.append(1)\n" + NO_RULE[name]
    error = _refusal(srcdiff.NoRuleError, src, (X,))
    assert "register" in error.hint
    _refusal(srcdiff.NoRuleError, src, (X,), "jvp", extra=(X,))
    # of a value not differentiated, it is a constant
    expression = NO_RULE[name].split("return ", 1)[1].strip()
    constant = make_function(f"def f(x):\n    return {expression}\n")
    of_y = re.sub(r"\bx\b", "y", expression)
    g = make_function(f"def f(x, y):\n    return np.sum(x) * {of_y}\n")
    np.testing.assert_allclose(srcdiff.grad(g)(X, XP), constant(XP) * np.ones(3), rtol=1e-14)


def test_complex_of_differentiated_parts():
    """complex(a, b) of differentiated floats is a + 1j * b."""
    f = make_function("def f(x):\n    z = complex(x[0], x[1])\n    return np.abs(z) ** 2 + np.imag(z * z)\n")
    expected = [2 * X[0] + 2 * X[1], 2 * X[1] + 2 * X[0], 0.0]
    np.testing.assert_allclose(srcdiff.grad(f)(X), expected, rtol=1e-14)
    np.testing.assert_allclose(srcdiff.grad(f)(X), fd_grad(f, (X,), 0), rtol=RTOL, atol=ATOL)
    tangent = np.array([0.5, -1.0, 2.0])
    assert srcdiff.jvp(f)(X, tangent)[1] == pytest.approx(np.dot(expected, tangent), rel=1e-13)
    g = make_function("def f(z):\n    w = complex(z)\n    return np.abs(w * (1 + 1j)) ** 2\n")
    close(srcdiff.grad(g)(0.3 + 0.4j), fd_grad(g, (0.3 + 0.4j,), 0))


@pytest.mark.parametrize("z", [0.4 + 0.3j, np.complex128(0.4 + 0.3j), Z], ids=["python", "numpy", "array"])
@pytest.mark.parametrize("transform", ["jacobian", "hessian"])
def test_jacobian_and_hessian_of_a_complex_argument_are_refused(transform, z):
    log: list = []
    f = make_function("def f(z):\n    LOG.append(1)\n    return np.sum(np.abs(z) ** 2)\n", {"LOG": log})
    with pytest.raises(srcdiff.ArgumentError, match="complex argument 'z' is not supported") as info:
        getattr(srcdiff, transform)(f)(z)
    assert log == []
    assert "grad" in info.value.hint and "vjp" in info.value.hint and "jvp" in info.value.hint
    if transform == "jacobian":
        assert info.value.loc.filename.startswith("<srcdiff-test-") and info.value.loc.lineno == 1
    # with respect to a real argument beside it, fine
    g = make_function("def f(x, z):\n    return np.sum(np.abs(x * z) ** 2)\n")
    np.testing.assert_allclose(srcdiff.jacobian(g)(X, z), fd_grad(g, (X, z), 0), rtol=RTOL, atol=ATOL)


def test_hessian_refusal_names_the_function():
    f = make_function("def f(z):\n    return np.sum(np.abs(z) ** 2)\n")
    with pytest.raises(srcdiff.ArgumentError) as info:
        srcdiff.hessian(f)(Z)
    assert info.value.loc is not None and info.value.loc.lineno == 1
    assert "Hessian" in info.value.message


# ---- vjp with complex cotangents --------------------------------------------------------


def _re_paired(f, v):
    """x -> Re(sum(v * f(x))): the real function whose gradient the pullback of v is."""
    return lambda *args: float(np.real(np.sum(v * f(*args))))


def test_vjp_of_a_real_argument_with_a_complex_cotangent():
    f = make_function("def f(x):\n    return np.exp(1j * x) / (1 + 1j * x) * A[0]\n", NAMESPACE)
    v = np.array([0.5 - 1.0j, 2.0 + 0.3j, -0.7j])
    out, pullback = srcdiff.vjp(f)(X)
    np.testing.assert_allclose(out, f(X), rtol=1e-14)
    got = pullback(v)
    assert_real_like(got, X)
    close(got, fd_grad(_re_paired(f, v), (X,), 0))
    assert_real_like(pullback(np.ones(3)), X)  # a real cotangent: the real part too
    close(pullback(np.ones(3)), fd_grad(_re_paired(f, np.ones(3)), (X,), 0))
    scalar = make_function("def f(t):\n    return np.exp(1j * t) * t\n")
    got = srcdiff.vjp(scalar)(0.3)[1](1.0 - 2.0j)
    assert type(got) is float
    assert got == pytest.approx(fd_grad(_re_paired(scalar, 1.0 - 2.0j), (0.3,), 0), rel=RTOL)


def test_vjp_of_a_complex_argument_with_a_complex_cotangent():
    f = make_function("def f(z):\n    return np.abs(z) * z + np.conj(z) ** 2\n")
    v = np.array([0.5 - 1.0j, 2.0 + 0.3j, -0.7j])
    out, pullback = srcdiff.vjp(f)(Z)
    np.testing.assert_allclose(out, f(Z), rtol=1e-14)
    close(pullback(v), fd_grad(_re_paired(f, v), (Z,), 0))
    close(pullback(np.ones(3)), fd_grad(_re_paired(f, np.ones(3)), (Z,), 0))
    # holomorphic: the pullback of v is v f'(z)
    h = make_function("def f(z):\n    return np.exp(z) * z ** 2\n")
    z = 0.4 + 0.3j
    got = srcdiff.vjp(h)(z)[1](1.0 - 2.0j)
    assert got == pytest.approx((1.0 - 2.0j) * np.exp(z) * (z ** 2 + 2 * z), rel=1e-13)


def test_vjp_of_real_and_complex_arguments_together():
    f = make_function("def f(x, z):\n    return np.sin(x * z) + x * np.conj(z)\n")
    v = np.array([0.5 - 1.0j, 2.0 + 0.3j, -0.7j])
    _, pullback = srcdiff.vjp(f, wrt=(0, 1))(X, Z)
    gx, gz = pullback(v)
    assert_real_like(gx, X)
    close(gx, fd_grad(_re_paired(f, v), (X, Z), 0))
    close(gz, fd_grad(_re_paired(f, v), (X, Z), 1))


# ---- arguments: complex values of their own are accepted, inside containers refused -----

COMPLEX_ARGS = {
    "python complex": 1 + 2j,
    "numpy complex scalar": np.complex128(1 + 2j),
    "complex array": np.array([1.0, 2.0, 3.0]) * (1 + 1j),
    "complex64 array": np.ones(3, dtype=np.complex64),
}
CONTAINERS = {
    "list holding one": ([np.ones(3), 1j], r"c\[1\]"),
    "dict holding one": ({"a": np.ones(3), "b": np.ones(2) * 1j}, r"c\['b'\]"),
    "tuple of tuple": ((1.0, (2.0, np.ones(2, complex))), r"c\[1\]\[1\]"),
}


@pytest.mark.parametrize("arg", sorted(COMPLEX_ARGS))
def test_complex_argument_not_differentiated_is_accepted(arg):
    f = make_function("def f(x, c):\n    return np.sum(x * x * np.abs(c))\n")
    c = COMPLEX_ARGS[arg]
    weight = np.abs(c)
    np.testing.assert_allclose(srcdiff.grad(f)(X, c), 2 * X * weight, rtol=1e-6)
    np.testing.assert_allclose(srcdiff.grad(f)(X, c=c), 2 * X * weight, rtol=1e-6)
    np.testing.assert_allclose(srcdiff.jvp(f)(X, c, np.ones(3))[1], np.sum(2 * X * weight), rtol=1e-6)
    np.testing.assert_allclose(srcdiff.hessian(f)(X, c), np.diag(2 * weight * np.ones(3)), rtol=1e-6)
    np.testing.assert_allclose(srcdiff.value_and_grad(f)(X, c)[0], f(X, c), rtol=1e-12)


def _nothing_made(call, match: str):
    before = pipeline.STATS["transforms"]
    with pytest.raises(srcdiff.ArgumentError, match=match) as info:
        call()
    assert pipeline.STATS["transforms"] == before  # refused before any code was made or run
    return info.value


@pytest.mark.parametrize("arg", sorted(CONTAINERS))
def test_complex_inside_a_container_is_refused(arg):
    f = make_function("def f(x, c):\n    return np.sum(x * x)\n")
    value, where = CONTAINERS[arg]
    match = f"argument {where} is a complex number inside a container or an object"
    g = srcdiff.grad(f)
    _nothing_made(lambda: g(X, value), match)
    _nothing_made(lambda: srcdiff.jvp(f)(X, value, np.ones(3)), match)
    _nothing_made(lambda: srcdiff.vjp(f)(X, value), match)
    _nothing_made(lambda: srcdiff.hessian(f)(X, value), match)
    _nothing_made(lambda: srcdiff.jacobian(f)(X, value), match)
    error = _nothing_made(lambda: g(X, c=value), match)
    assert ".real" in error.hint and ".imag" in error.hint
    # differentiated with respect to the container
    h = make_function("def f(c):\n    return np.sum(c[0])\n")
    _nothing_made(lambda: srcdiff.grad(h)(value), "inside a container or an object")


def test_complex_attribute_of_an_object_argument():
    class Holder:
        def __init__(self, c):
            self.c = c

    f = make_function("def f(x, h):\n    return np.sum(x * x)\n")
    g = srcdiff.grad(f)
    np.testing.assert_allclose(g(X, Holder(1.0)), 2 * X)
    np.testing.assert_allclose(g(X, Holder(1.0)), 2 * X)
    _nothing_made(lambda: g(X, Holder(1j)), r"argument h\.c is a complex number inside a container")
    _nothing_made(lambda: g(X, Holder(np.ones(2) * 1j)), r"argument h\.c is a complex number")


def test_complex_argument_after_the_fast_path_was_built():
    """The gate made for a call with a float array sends a complex one the general way,
    which gives its answer in the complex convention."""
    f = make_function("def f(x, c):\n    return np.real(np.sum(x * c))\n")
    g = srcdiff.grad(f)
    np.testing.assert_allclose(g(X, np.ones(3) * 2.0), 2.0 * np.ones(3))
    np.testing.assert_allclose(g(X, np.ones(3) * 2.0), 2.0 * np.ones(3))  # the gate
    got = g(X, np.ones(3) * (1 + 2j))
    assert_real_like(got, X)
    np.testing.assert_allclose(got, np.ones(3))
    np.testing.assert_allclose(g(X, 2j), np.zeros(3))
    _nothing_made(lambda: g(X, (1.0, 2j)), r"argument c\[1\] is a complex number inside a container")
    np.testing.assert_allclose(g(X, np.ones(3) * 3.0), 3.0 * np.ones(3))
    # with respect to c: d/d Re(c) - i d/d Im(c) = x
    gc = srcdiff.grad(f, wrt=1)
    np.testing.assert_allclose(gc(X, np.ones(3)), X)
    np.testing.assert_allclose(gc(X, np.ones(3)), X)
    got = gc(X, np.ones(3) * (1 + 2j))
    assert got.dtype == np.complex128
    close(got, fd_grad(f, (X, np.ones(3) * (1 + 2j)), 1))
    assert gc(X[:1], 1 + 2j) == pytest.approx(X[0])


def test_complex_differentiated_argument_after_a_real_call():
    f = make_function("def f(z):\n    return z * z\n")
    g = srcdiff.grad(f)
    assert g(3.0) == 6.0
    assert g(3.0) == 6.0
    assert g(1 + 2j) == pytest.approx(2 + 4j, rel=1e-15)
    assert g(np.complex128(1 + 2j)) == pytest.approx(2 + 4j, rel=1e-15)
    assert g(3.0) == 6.0


def test_complex_tangent_of_a_real_argument_is_refused():
    """A real argument moves along real directions only (its tangents are real)."""
    f = make_function("def f(x):\n    return np.sum(x * x)\n")
    _nothing_made(lambda: srcdiff.jvp(f)(X, np.ones(3) * 1j), "complex")


# Casting a complex value to a real dtype keeps its real part (NumPy warns).
CASTS = {  # the expression, of the complex value {}
    "astype(float)": "np.sum(({}).astype(float) ** 2)",
    "np.asarray(dtype=float)": "np.sum(np.asarray({}, dtype=float) ** 2)",
    "np.array(dtype=float)": "np.sum(np.array({}, dtype=float) ** 3)",
}


def _cast(name: str, arg: str, value: str):
    return make_function(f"def f({arg}):\n    return {CASTS[name].format(value)}\n")


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("name", sorted(CASTS))
def test_cast_to_real_in_reverse_mode(name):
    f = _cast(name, "z", "z")
    close(srcdiff.grad(f)(Z), fd_grad(f, (Z,), 0))
    g = _cast(name, "x", "x * (1 + 2j)")
    got = srcdiff.grad(g)(X)
    assert_real_like(got, X)
    close(got, fd_grad(g, (X,), 0))


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("name", sorted(CASTS))
def test_cast_to_real_in_forward_mode(name):
    f = _cast(name, "z", "z")
    v = np.array([0.5 - 1.0j, 2.0 + 0.3j, -0.7j])
    out_dot = srcdiff.jvp(f)(Z, v)[1]
    assert np.isrealobj(out_dot), repr(out_dot)
    close(out_dot, fd_jvp(f, (Z,), (0,), (v,))[0])


# ---- real programs using the complex-number functions stay exact ------------------------

REAL = {
    "np.real": ("def f(x):\n    return np.sum(np.real(x) ** 2 * np.sin(x))\n",
                lambda x: 2 * x * np.sin(x) + x ** 2 * np.cos(x)),
    "x.real": ("def f(x):\n    return np.sum(x.real ** 3)\n", lambda x: 3 * x ** 2),
    "np.imag": ("def f(x):\n    return np.sum(np.imag(x) * x + x)\n", lambda x: np.ones_like(x)),
    "np.conj": ("def f(x):\n    return np.sum(np.conj(x) * np.exp(x))\n",
                lambda x: np.exp(x) * (1 + x)),
    "np.conjugate": ("def f(x):\n    return np.sum(np.conjugate(x) ** 2)\n", lambda x: 2 * x),
    "np.abs": ("def f(x):\n    return np.sum(np.abs(x) ** 3)\n", lambda x: 3 * x * np.abs(x)),
    "np.vdot": ("def f(x):\n    return np.vdot(x, np.cos(x))\n",
                lambda x: np.cos(x) - x * np.sin(x)),
    "np.angle": ("def f(x):\n    return np.sum(np.angle(x) + x)\n", lambda x: np.ones_like(x)),
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
    got = srcdiff.grad(f)(X)
    assert_real_like(got, X)
    np.testing.assert_allclose(got, expected(X), rtol=1e-12)
    np.testing.assert_allclose(got, numerical_grad(f, (X,), 0), rtol=1e-6)
    tangent = np.array([0.5, -1.0, 2.0])
    out_dot = srcdiff.jvp(f)(X, tangent)[1]
    assert np.isrealobj(out_dot)
    np.testing.assert_allclose(out_dot, expected(X) @ tangent, rtol=1e-12)


def test_real_arguments_of_other_types_still_take_the_fast_path():
    """Ints, tuples of arrays and None beside the differentiated array are fine."""
    f = make_function("def f(x, n, data, flag):\n    return np.sum(x ** n * data[0]) + data[1]\n")
    g = srcdiff.grad(f)
    data = (np.array([1.0, 2.0, 3.0]), 4.0)
    for _ in range(3):
        np.testing.assert_allclose(g(X, 2, data, None), 2 * X * data[0])
    assert type(g) is not srcdiff.Derivative  # a gate was made


# ---- every rule that holds for complex values, with complex inputs ----------------------

# srcdiff's runtime helpers are not walked: users do not call them, and the rules of
# those that hold for complex values are exercised by the second derivatives above.
_HELPERS = {id(getattr(runtime, name)) for name in runtime.__all__}


def _complex_allowed() -> list:
    """The functions users call whose rules hold for complex values: those in
    HOLOMORPHIC and those with a complex rule of their own, less the runtime helpers."""
    found = {id(fn): fn for fn in complexes.HOLOMORPHIC}
    found.update({id(rule.fn): rule.fn for rule in registry.rules() if complexes.complex_rule(rule.fn)})
    return sorted((fn for key, fn in found.items() if key not in _HELPERS), key=registry.printable_name)


_COMPLEX_CASES = [(rule, i, case) for fn in _complex_allowed() if (rule := registry.lookup(fn)) is not None
                  for i, case in enumerate(rule.cases)]

# where srcdiff and finite differences disagree: (mode, rule name, case index) -> the reason
KNOWN_WRONG: dict = {}


def test_the_walk_covers_the_allowed_functions():
    """Every allowed function except the runtime helpers has a rule with cases."""
    walked = {id(rule.fn) for rule, _, _ in _COMPLEX_CASES}
    missing = [registry.printable_name(fn) for fn in _complex_allowed() if id(fn) not in walked]
    assert not missing, f"allowed for complex values but not walked: {missing}"
    assert len(_complex_allowed()) > 80


def _complex_case(rule, index: int, case):
    """The case's function, complex argument values (real + 0.3j * another sample from
    the domain, for the parameters with an adjoint), and the checked positions."""
    seed = zlib.crc32(f"{rule.name}-{index}-complex".encode())
    src, namespace, values, checked = build_case(rule, case, seed)
    _, _, other, _ = build_case(rule, case, seed + 1)
    for pos in checked:
        values[pos] = values[pos] + 0.3j * other[pos]
    return src, namespace, values, checked, np.random.default_rng(seed)


def _loss_source(src: str, out, rng, namespace: dict) -> str:
    """``src`` (``def f(...): return CALL``) made into Re(sum(w * CALL)) with random
    complex weights w, one per leaf of the result."""
    header, call = src.split("\n")[0], src.split("return ", 1)[1].strip()
    terms = []

    def walk(value, ref):
        if isinstance(value, (list, tuple)):
            for k, item in enumerate(value):
                walk(item, f"{ref}[{k}]")
        elif value is not None:
            name = f"w{len(terms)}"
            weight = rng.normal(size=np.shape(value)) + 1j * rng.normal(size=np.shape(value))
            namespace[name] = weight if np.ndim(value) else complex(weight)
            terms.append(f"np.sum({name} * {ref})")

    walk(out, "out")
    return f"{header}\n    out = {call}\n    return np.real({' + '.join(terms)})\n"


def _params(cases, mode: str) -> list:
    """The cases as test parameters, those in KNOWN_WRONG marked as strict expected failures."""
    marked = []
    for rule, index, case in cases:
        reason = KNOWN_WRONG.get((mode, rule.name, index))
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)] if reason else []
        marked.append(pytest.param((rule, index, case), marks=marks, id=f"{rule.name}-{index}"))
    return marked


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # (np.full_like)
@pytest.mark.parametrize("item", _params(_COMPLEX_CASES, "reverse"))
def test_complex_rule_reverse_mode(item):
    """grad of Re(sum(w * f(z))) with respect to each differentiated argument."""
    rule, index, case = item
    src, namespace, values, checked, rng = _complex_case(rule, index, case)
    out = make_function(src, dict(namespace))(*values)
    loss = make_function(_loss_source(src, out, rng, namespace), namespace)
    grads = srcdiff.grad(loss, wrt=tuple(checked))(*values)  # (a tuple wrt: a tuple)
    for pos, got in zip(checked, grads):
        close(got, fd_grad(loss, tuple(values), pos), f"{rule.name} case {index}, argument {pos}\n{src}")


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # (np.full_like)
@pytest.mark.parametrize("item", _params(_COMPLEX_CASES, "forward"))
def test_complex_rule_forward_mode(item):
    """jvp of the call itself (a complex result) along a random complex direction."""
    rule, index, case = item
    src, namespace, values, checked, rng = _complex_case(rule, index, case)
    f = make_function(src, namespace)
    tangents = tuple(_random_like(rng, values[pos]) for pos in checked)
    out, out_dot = srcdiff.jvp(f, wrt=tuple(checked))(*values, *tangents)
    for leaf, value in zip(_leaves(out), _leaves(f(*values))):
        np.testing.assert_allclose(leaf, value, rtol=1e-13, atol=1e-15, err_msg=src)
    want = fd_jvp(f, tuple(values), tuple(checked), tangents)
    got = _leaves(out_dot)
    assert len(got) == len(want), src
    for leaf, w in zip(got, want):
        close(leaf, w, f"{rule.name} case {index}\n{src}")
