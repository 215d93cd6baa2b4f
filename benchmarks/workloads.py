"""The benchmark workloads: plain NumPy losses, each with an expert hand-written gradient.

Every workload is a loss written the way a user would write it for srcdiff (plain
``np.*`` calls, ``math.*`` on floats, Python loops), a hand-written gradient of the
same loss that a careful NumPy programmer would write (one fused backward pass,
in-place updates of temporaries, loop-invariant products hoisted and batched), and
a builder of its arguments.  The gradient returns the gradients of the arguments in
``wrt``, in that order (a tuple when ``wrt`` is a tuple).

The losses use only the names ``np`` and ``math`` and module constants, and call no
helper of their own: :func:`variant` re-executes a loss's source with another
``np``/``math`` (``autograd.numpy``, ``jax.numpy``, a torch shim), so every system
differentiates the same text.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Workload", "WORKLOADS", "variant", "by_name"]


@dataclass(frozen=True)
class Workload:
    """One benchmark: a loss, its hand-written gradient and how to build its arguments."""

    name: str  # short identifier, for --only
    title: str  # the label in the table
    loss: Callable[..., Any]
    hand_grad: Callable[..., Any]
    make_args: Callable[[np.random.Generator], tuple]
    wrt: int | tuple[int, ...]


# --- 2-layer MLPs --------------------------------------------------------------------


def mlp_mse(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def mlp_mse_grad(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    d_out = h @ W2
    d_out += b2
    d_out -= y
    d_out *= 2.0 / d_out.size  # d mean((out - y)^2) / d out
    dW2 = h.T @ d_out
    db2 = d_out.sum(axis=0)
    d_pre = d_out @ W2.T
    h *= h
    np.subtract(1.0, h, out=h)  # 1 - tanh^2
    d_pre *= h
    dW1 = x.T @ d_pre
    db1 = d_pre.sum(axis=0)
    return dW1, db1, dW2, db2


def mlp_xent(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    m = np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)) + m
    return -np.sum(y * (z - lse)) / x.shape[0]


def mlp_xent_grad(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    p = h @ W2
    p += b2
    p -= p.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)  # softmax
    p -= y
    p /= x.shape[0]  # d loss / d z
    dW2 = h.T @ p
    db2 = p.sum(axis=0)
    d_pre = p @ W2.T
    h *= h
    np.subtract(1.0, h, out=h)
    d_pre *= h
    dW1 = x.T @ d_pre
    db1 = d_pre.sum(axis=0)
    return dW1, db1, dW2, db2


def _mlp_args(batch: int, n_in: int, n_hidden: int, n_out: int, onehot: bool) -> Callable:
    def make(rng: np.random.Generator) -> tuple:
        W1 = rng.normal(0.0, 1.0 / math.sqrt(n_in), (n_in, n_hidden))
        b1 = rng.normal(0.0, 0.1, n_hidden)
        W2 = rng.normal(0.0, 1.0 / math.sqrt(n_hidden), (n_hidden, n_out))
        b2 = rng.normal(0.0, 0.1, n_out)
        x = rng.normal(0.0, 1.0, (batch, n_in))
        if onehot:
            y = np.eye(n_out)[rng.integers(0, n_out, batch)]
        else:
            y = rng.normal(0.0, 1.0, (batch, n_out))
        return W1, b1, W2, b2, x, y

    return make


# --- tanh RNN ------------------------------------------------------------------------


def rnn(W, U, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
    return np.sum(h)


def rnn_grad(W, U, h0, xs):
    T = xs.shape[0]
    xu = xs @ U  # every step's input product in one matmul
    hs = np.empty((T + 1, h0.shape[0]))
    hs[0] = h0
    for t in range(T):
        pre = hs[t] @ W
        pre += xu[t]
        np.tanh(pre, out=hs[t + 1])
    d_pre = np.empty((T, h0.shape[0]))
    dh = np.ones(h0.shape[0])
    for t in range(T - 1, -1, -1):
        da = d_pre[t]
        np.multiply(hs[t + 1], hs[t + 1], out=da)
        np.subtract(1.0, da, out=da)
        da *= dh
        dh = W @ da
    dW = hs[:-1].T @ d_pre  # the weight gradients of all steps in one matmul each
    dU = xs.T @ d_pre
    return dW, dU


def _rnn_args(rng: np.random.Generator) -> tuple:
    hidden, n_in, steps = 64, 16, 50
    W = rng.normal(0.0, 1.0 / math.sqrt(hidden), (hidden, hidden))
    U = rng.normal(0.0, 1.0 / math.sqrt(n_in), (n_in, hidden))
    h0 = rng.normal(0.0, 0.5, hidden)
    xs = rng.normal(0.0, 1.0, (steps, n_in))
    return W, U, h0, xs


# --- 20 chained elementwise operations ----------------------------------------------


def chain(x):
    a = np.sin(x)
    b = a * x
    c = np.exp(-b)
    d = c + x * x
    e = np.tanh(d)
    f = e * a
    g = np.sqrt(d + 1.0)
    h = f / g
    i = np.log(1.0 + h * h)
    j = np.cos(i) - x
    k = j * j * 0.5
    return np.sum(k + g)


def chain_grad(x):
    a = np.sin(x)
    c = np.exp(-(a * x))
    d = c + x * x
    e = np.tanh(d)
    g = np.sqrt(d + 1.0)
    h = e * a / g
    hh1 = 1.0 + h * h
    i = np.log(hh1)
    j = np.cos(i) - x
    # backward, from sum(k + g): dk = 1, dg = 1, dj = j
    dx = -j
    dh = -np.sin(i) * j * 2.0 * h / hh1
    dg = 1.0 - dh * h / g
    df = dh / g
    dd = dg * 0.5 / g + df * a * (1.0 - e * e)
    da = df * e
    db = -dd * c
    dx += dd * 2.0 * x + db * a
    da += db * x
    dx += da * np.cos(x)
    return dx


def _chain_args(rng: np.random.Generator) -> tuple:
    return (rng.uniform(-2.0, 2.0, 1000),)


# --- logsumexp over rows, then mean ----------------------------------------------------


def logsumexp_mean(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.mean(np.log(np.sum(np.exp(x - m), axis=1)) + m[:, 0])


def logsumexp_mean_grad(x):
    p = x - x.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True) * x.shape[0]  # softmax of each row, over the rows
    return p


def _logsumexp_args(rng: np.random.Generator) -> tuple:
    return (rng.normal(0.0, 3.0, (64, 512)),)


# --- a pure-Python scalar function ---------------------------------------------------


def scalar(x, y, z):
    a = math.sin(x) * y + math.cos(z)
    b = math.exp(-a * 0.5) + x * z
    c = math.sqrt(b * b + y * y + 1.0)
    d = math.log(c + 2.0) / (1.0 + z * z)
    e = math.tanh(d - a) * c
    f = (e + x) ** 2 - b / c
    return f * 0.25 + math.atan(y) * d


def scalar_grad(x, y, z):
    sx, cz = math.sin(x), math.cos(z)
    a = sx * y + cz
    ea = math.exp(-a * 0.5)
    b = ea + x * z
    c = math.sqrt(b * b + y * y + 1.0)
    zz1 = 1.0 + z * z
    lc = math.log(c + 2.0)
    d = lc / zz1
    th = math.tanh(d - a)
    e = th * c
    ex = e + x
    # backward
    df = 0.25
    dd = math.atan(y)
    dy = d / (1.0 + y * y)
    de = df * 2.0 * ex
    dx = de
    db = -df / c
    dc = df * b / (c * c) + de * th
    dt = de * c * (1.0 - th * th)
    dd += dt
    da = -dt
    dc += dd / (zz1 * (c + 2.0))
    dz = -dd * d * 2.0 * z / zz1
    dc_c = dc / c
    db += dc_c * b
    dy += dc_c * y
    da -= db * 0.5 * ea
    dx += db * z
    dz += db * x
    dx += da * y * math.cos(x)
    dy += da * sx
    dz -= da * math.sin(z)
    return dx, dy, dz


def _scalar_args(rng: np.random.Generator) -> tuple:
    return tuple(float(v) for v in rng.uniform(0.2, 1.2, 3))


# --- sum(x * x) on one element -------------------------------------------------------


def tiny(x):
    return np.sum(x * x)


def tiny_grad(x):
    return x + x


def _tiny_args(rng: np.random.Generator) -> tuple:
    return (rng.normal(size=1),)


# --- a mass-spring chain, explicit Euler ---------------------------------------------

DT = 0.01
DAMPING = 0.1


def springs(k, v0, x0, target):
    x = x0
    v = v0
    end = np.zeros(1)  # the free ends of the chain feel one spring only
    for _ in range(100):
        f = k * (x[1:] - x[:-1] - 1.0)  # spring tensions, rest length 1
        a = np.concatenate((f, end)) - np.concatenate((end, f))
        x = x + DT * v
        v = v + DT * (a - DAMPING * v)
    return np.sum((x - target) ** 2)


def springs_grad(k, v0, x0, target):
    steps = 100
    xs = np.empty((steps, x0.shape[0]))
    x, v = x0, v0
    a = np.zeros(x0.shape[0])
    for t in range(steps):
        xs[t] = x
        f = np.diff(x)
        f -= 1.0
        f *= k
        a[:-1] = f
        a[-1] = 0.0
        a[1:] -= f
        x = x + DT * v
        v = v * (1.0 - DT * DAMPING) + DT * a
    gx = 2.0 * (x - target)
    gv = np.zeros_like(v0)
    gk = np.zeros_like(k)
    for t in range(steps - 1, -1, -1):
        ga = DT * gv  # a_i = f_i - f_{i-1}
        gf = ga[:-1] - ga[1:]
        gv *= 1.0 - DT * DAMPING
        gv += DT * gx
        ext = np.diff(xs[t])
        ext -= 1.0
        gk += gf * ext
        gf *= k
        gx[1:] += gf
        gx[:-1] -= gf
    return gk, gv


def _springs_args(rng: np.random.Generator) -> tuple:
    n = 16
    x0 = np.arange(n, dtype=float) + rng.normal(0.0, 0.1, n)
    v0 = rng.normal(0.0, 0.5, n)
    k = rng.uniform(1.0, 2.0, n - 1)
    target = np.arange(n, dtype=float) * 1.05
    return k, v0, x0, target


WORKLOADS: tuple[Workload, ...] = (
    Workload("mlp_small", "MLP 32x64-128-10 mse", mlp_mse, mlp_mse_grad,
             _mlp_args(32, 64, 128, 10, onehot=False), (0, 1, 2, 3)),
    Workload("mlp_large", "MLP 256x784-512-10 xent", mlp_xent, mlp_xent_grad,
             _mlp_args(256, 784, 512, 10, onehot=True), (0, 1, 2, 3)),
    Workload("rnn", "tanh RNN T=50 H=64 I=16", rnn, rnn_grad, _rnn_args, (0, 1)),
    Workload("chain", "20 elementwise ops n=1000", chain, chain_grad, _chain_args, 0),
    Workload("logsumexp", "logsumexp rows+mean 64x512", logsumexp_mean, logsumexp_mean_grad,
             _logsumexp_args, 0),
    Workload("scalar", "scalar Python, 30 flops", scalar, scalar_grad, _scalar_args, (0, 1, 2)),
    Workload("tiny", "sum(x*x), 1 element", tiny, tiny_grad, _tiny_args, 0),
    Workload("springs", "mass-spring Euler 100 steps", springs, springs_grad, _springs_args, (0, 1)),
)


def by_name(name: str) -> Workload:
    """The workload called ``name``."""
    for w in WORKLOADS:
        if w.name == name:
            return w
    raise KeyError(f"no workload {name!r}; the workloads are {[w.name for w in WORKLOADS]}")


def variant(fn: Callable, np_like: Any, math_like: Any | None = None) -> Callable:
    """``fn`` re-executed from its own source with ``np`` (and ``math``) bound to other
    modules: the same loss written with ``autograd.numpy``, ``jax.numpy``, ...

    ``math`` defaults to ``np_like`` too, since ``math.sin`` cannot see through a
    tracer or a box, while every array library has ``sin``.
    """
    namespace = dict(fn.__globals__)
    namespace["np"] = np_like
    namespace["math"] = np_like if math_like is None else math_like
    lines, first = inspect.getsourcelines(fn)
    text = "\n" * (first - 1) + textwrap.dedent("".join(lines))  # keep line numbers for tracebacks
    code = compile(text, inspect.getsourcefile(fn), "exec")
    exec(code, namespace)
    return namespace[fn.__name__]
