"""Loops over small arrays and floats as users write them, differentiated by srcdiff.

Time-stepping simulations, recurrent networks, loops that write rows or build lists,
branches, ``break`` and ``continue`` inside loops, ``while`` loops, and scalar functions
of Python floats.  Each function is checked against central finite differences; its
derivative is called again with the same shapes and then with other shapes (or another
number of steps) and compared with code made for any shape; and ``value_and_grad``
returns the function's own value.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---- time-stepping simulations --------------------------------------------------------


def euler_particles(x, v, k, drag, steps):
    """Particles in the plane in a harmonic well with linear drag, explicit Euler."""
    dt = 0.05
    for _ in range(steps):
        a = -k * x - drag * v
        x = x + dt * v
        v = v + dt * a
    return np.sum(x ** 2) + 0.5 * np.sum(v ** 2)


def spring_forces(x, k, rest):
    stretch = k * (x[1:] - x[:-1] - rest)
    zero = np.zeros(1)
    return np.concatenate((stretch, zero)) - np.concatenate((zero, stretch))


def verlet_spring_chain(x, k, rest, steps):
    """A chain of unit masses joined by springs with free ends, velocity Verlet."""
    dt = 0.1
    v = np.zeros_like(x)
    f = spring_forces(x, k, rest)
    for _ in range(steps):
        v = v + 0.5 * dt * f
        x = x + dt * v
        f = spring_forces(x, k, rest)
        v = v + 0.5 * dt * f
    return np.sum(x * x) + np.sum(v * v)


def damped_oscillator(omega, zeta, x, v, steps):
    """Semi-implicit Euler on floats; the loss is the integrated energy."""
    dt = 0.02
    energy = 0.0
    for _ in range(steps):
        a = -2.0 * zeta * omega * v - omega * omega * x
        v = v + dt * a
        x = x + dt * v
        energy = energy + dt * (v * v + omega * omega * x * x)
    return energy


def coupled_pendula(theta, lengths, coupling, steps):
    """A row of pendula coupled to their neighbours, ends reflected with np.concatenate."""
    g, dt = 9.81, 0.01
    omega = np.zeros_like(theta)
    for _ in range(steps):
        left = np.concatenate((theta[:1], theta[:-1]))
        right = np.concatenate((theta[1:], theta[-1:]))
        alpha = -g / lengths * np.sin(theta) + coupling * (left - 2.0 * theta + right)
        omega = omega + dt * alpha
        theta = theta + dt * omega
    return np.sum(lengths * (1.0 - np.cos(theta))) + 0.5 * np.sum((lengths * omega) ** 2)


def heat_equation(u, alpha, target, steps):
    """Explicit heat equation on a 1-D grid with zero Dirichlet boundaries."""
    for _ in range(steps):
        lap = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u = np.concatenate(([0.0], u[1:-1] + alpha * lap, [0.0]))
    return np.sum((u - target) ** 2)


def wave_equation(u, c, steps):
    """Leapfrog for the wave equation: two time levels swapped each step."""
    zero = np.zeros(1)
    prev = u
    for _ in range(steps):
        padded = np.concatenate((zero, u, zero))
        lap = padded[2:] - 2.0 * u + padded[:-2]
        prev, u = u, 2.0 * u - prev + c * c * lap
    return np.sum(u ** 2) + np.sum(prev * u)


def logistic_map(r, x, steps):
    total = 0.0
    for _ in range(steps):
        x = r * x * (1.0 - x)
        total = total + x
    return total / steps


def kepler_orbit(pos, vel, gm, steps):
    """Leapfrog orbit around a point mass; the loss is the final energy."""
    dt = 0.01
    acc = -gm * pos / np.linalg.norm(pos) ** 3
    for _ in range(steps):
        vel = vel + 0.5 * dt * acc
        pos = pos + dt * vel
        acc = -gm * pos / np.linalg.norm(pos) ** 3
        vel = vel + 0.5 * dt * acc
    return 0.5 * np.dot(vel, vel) - gm / np.linalg.norm(pos) + np.sum(pos)


def charged_particles(vel, field, charge, steps):
    """Particles in a uniform magnetic field, 3-vectors and np.cross."""
    dt = 0.05
    pos = np.zeros_like(vel)
    for _ in range(steps):
        vel = vel + dt * charge * np.cross(vel, field)
        pos = pos + dt * vel
    return np.sum(pos ** 2)


def relaxing_particles(x, strength, steps):
    """Softened pair repulsion and a central spring, forces summed over pairs in loops."""
    n = x.shape[0]
    for _ in range(steps):
        forces = []
        for i in range(n):
            f = -x[i]
            for j in range(n):
                if j != i:
                    d = x[i] - x[j]
                    f = f + strength * d / (np.sum(d * d) + 0.1)
            forces.append(f)
        x = x + 0.05 * np.stack(forces)
    return np.sum(x ** 2)


def projectile_range(speed, angle, drag):
    """Euler steps with quadratic drag while the projectile is above the ground."""
    dt = 0.01
    x, y = 0.0, 0.0
    vx, vy = speed * math.cos(angle), speed * math.sin(angle)
    while y >= 0.0:
        v = math.hypot(vx, vy)
        vx = vx - dt * drag * v * vx
        vy = vy - dt * (9.81 + drag * v * vy)
        x = x + dt * vx
        y = y + dt * vy
    return x


def trajectory_misfit(k, x, observed):
    """Positions written into a trajectory array row by row, then fitted to data."""
    traj = np.zeros((observed.shape[0],) + x.shape)
    v = np.zeros_like(x)
    for t in range(observed.shape[0]):
        v = v - 0.1 * k * x
        x = x + 0.1 * v
        traj[t] = x
    return np.sum((traj - observed) ** 2)


# ---- recurrent networks ---------------------------------------------------------------


def tanh_rnn(W, U, b, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U + b)
    return np.sum(h ** 2)


def sigmoid_rnn_sequence_loss(W, U, V, xs, ys):
    h = np.zeros(W.shape[0])
    loss = 0.0
    for t in range(xs.shape[0]):
        h = sigmoid(h @ W + xs[t] @ U)
        loss = loss + np.sum((h @ V - ys[t]) ** 2)
    return loss / xs.shape[0]


def gru(params, h, xs):
    for t in range(xs.shape[0]):
        x = xs[t]
        z = sigmoid(x @ params["Wz"] + h @ params["Uz"])
        r = sigmoid(x @ params["Wr"] + h @ params["Ur"])
        c = np.tanh(x @ params["Wh"] + (r * h) @ params["Uh"])
        h = (1.0 - z) * h + z * c
    return np.sum(h * h)


def lstm(W, b, xs):
    n = W.shape[1] // 4
    h = np.zeros(n)
    c = np.zeros(n)
    for x in xs:
        gates = np.concatenate((x, h)) @ W + b
        i = sigmoid(gates[:n])
        f = sigmoid(gates[n:2 * n])
        o = sigmoid(gates[2 * n:3 * n])
        c = f * c + i * np.tanh(gates[3 * n:])
        h = o * np.tanh(c)
    return np.sum(h)


def batched_rnn_classifier(W, U, V, h, xs, labels):
    """Hidden states of shape (batch, hidden); softmax cross-entropy at the end."""
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
    logits = h @ V
    logits = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(labels.shape[0]), labels])


def rnn_on_differences(W, w_in, xs):
    h = np.zeros(W.shape[0])
    for t in range(1, xs.shape[0]):
        h = np.tanh(h @ W + (xs[t] - xs[t - 1]) * w_in)
    return np.sum(h)


def strided_rnn(W, U, xs):
    """Two inputs per step: the loop runs over every second row."""
    h = np.zeros(W.shape[0])
    for t in range(0, xs.shape[0] - 1, 2):
        h = np.tanh(h @ W + (xs[t] + xs[t + 1]) @ U)
    return np.sum(h ** 2)


def gated_rnn(A, B, W, xs):
    h = np.zeros(W.shape[0])
    for t in range(len(xs)):
        gate = sigmoid(xs[t] @ A)
        h = gate * h + (1.0 - gate) * np.tanh(xs[t] @ B + h @ W)
    return np.sum(h)


def rnn_output_rows(W, U, V, xs):
    """Outputs written into rows of a preallocated array, then a softmax over each row."""
    h = np.zeros(W.shape[0])
    out = np.zeros((xs.shape[0], V.shape[1]))
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
        out[t] = h @ V
    probs = np.exp(out) / np.sum(np.exp(out), axis=1, keepdims=True)
    return -np.mean(np.log(probs[:, 0]))


def exponential_smoothing(alpha, xs):
    """One-step-ahead forecast error of exponential smoothing; each row reads the last."""
    out = np.zeros_like(xs)
    out[0] = xs[0]
    for t in range(1, xs.shape[0]):
        out[t] = alpha * xs[t] + (1.0 - alpha) * out[t - 1]
    return np.sum((out[:-1] - xs[1:]) ** 2)


def rnn_attention(W, U, q, xs):
    """States appended to a list, stacked, and attended over with a softmax."""
    h = np.zeros(W.shape[0])
    states = []
    for x in xs:
        h = np.tanh(h @ W + x @ U)
        states.append(h)
    H = np.stack(states)
    scores = H @ q
    weights = np.exp(scores - np.max(scores))
    weights = weights / np.sum(weights)
    return np.sum((weights @ H) ** 2)


def norm_clipped_rnn(W, xs, clip):
    """The hidden state is rescaled whenever its norm passes clip."""
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t]) * 2.0
        norm = np.sqrt(np.sum(h * h))
        if norm > clip:
            h = h * (clip / norm)
    return np.sum(h * np.arange(h.shape[0]))


def masked_sequence_loss(W, xs, mask):
    h = np.zeros(W.shape[0])
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
        if not mask[t]:
            continue
        loss = loss + np.sum((h - 0.5) ** 2)
    return loss


# ---- optimisation, convolutions and while loops ---------------------------------------


def unrolled_gradient_descent(w, A, lr, b):
    """Gradient descent on least squares that stops once the gradient is small."""
    for _ in range(200):
        g = A.T @ (A @ w - b)
        if np.sqrt(np.sum(g * g)) < 1e-2:
            break
        w = w - lr * g
    return np.sum((A @ w - b) ** 2) + np.sum(w * w)


def meta_learning_rate(lr, w, X, y, steps):
    """Validation loss after a few unrolled training steps, differentiated by lr."""
    for _ in range(steps):
        err = X @ w - y
        w = w - lr * (X.T @ err) / X.shape[0]
    return np.mean((X @ w - y) ** 2)


def conv1d_loops(w, x):
    total = 0.0
    for i in range(x.shape[0] - w.shape[0] + 1):
        acc = 0.0
        for k in range(w.shape[0]):
            acc = acc + w[k] * x[i + k]
        total = total + np.tanh(acc) ** 2
    return total


def conv2d_patches(kernel, image):
    rows, cols = kernel.shape
    total = 0.0
    for i in range(image.shape[0] - rows + 1):
        for j in range(image.shape[1] - cols + 1):
            response = np.sum(image[i:i + rows, j:j + cols] * kernel)
            total = total + np.logaddexp(0.0, response)
    return total


def power_iteration(A, v, iterations):
    k = 0
    while k < iterations:
        w = A @ v
        v = w / np.linalg.norm(w)
        k += 1
    return v @ A @ v


# ---- scalar floats and floats mixed with arrays ---------------------------------------


def kepler_equation(mean_anomaly, ecc):
    """Newton's method on E - e sin E = M until the step is negligible."""
    E = mean_anomaly
    delta = 1.0
    while abs(delta) > 1e-13:
        delta = (E - ecc * math.sin(E) - mean_anomaly) / (1.0 - ecc * math.cos(E))
        E = E - delta
    return math.cos(E) - ecc


def series_exp(x):
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-16 * abs(total):
        n += 1
        term = term * x / n
        total = total + term
    return total * math.sin(x)


def rk4_forced_decay(k, y, steps):
    h, t = 0.1, 0.0
    for _ in range(steps):
        k1 = -k * y + math.sin(t)
        k2 = -k * (y + 0.5 * h * k1) + math.sin(t + 0.5 * h)
        k3 = -k * (y + 0.5 * h * k2) + math.sin(t + 0.5 * h)
        k4 = -k * (y + h * k3) + math.sin(t + h)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t = t + h
    return y * y


def simpson_integral(a, b, n):
    h = (b - a) / n
    total = math.exp(-a * a) * math.cos(a) + math.exp(-b * b) * math.cos(b)
    for i in range(1, n):
        x = a + i * h
        weight = 4.0 if i % 2 == 1 else 2.0
        total = total + weight * math.exp(-x * x) * math.cos(x)
    return total * h / 3.0


def kalman_nll(q, r, ys):
    """Negative log-likelihood of a random walk observed in noise, a float Kalman filter."""
    m, p = 0.0, 1.0
    nll = 0.0
    for y in ys:
        p = p + q
        s = p + r
        nll = nll + 0.5 * (math.log(2.0 * math.pi * s) + (y - m) ** 2 / s)
        gain = p / s
        m = m + gain * (y - m)
        p = (1.0 - gain) * p
    return nll


def horner(coeffs, x):
    y = 0.0
    for c in coeffs:
        y = y * x + c
    return np.sum(np.sin(y))


def advantage_estimates(values, rewards, gamma, lam):
    """Generalised advantage estimation, a loop running backwards in time."""
    adv = 0.0
    total = 0.0
    for t in range(rewards.shape[0] - 1, -1, -1):
        delta = rewards[t] + gamma * values[t + 1] - values[t]
        adv = delta + gamma * lam * adv
        total = total + adv * adv
    return total


def sir_fit(beta, gamma, observed):
    """A discrete SIR epidemic on floats fitted to observed log-prevalence."""
    s, i = 0.99, 0.01
    loss = 0.0
    for t in range(observed.shape[0]):
        new = beta * s * i
        s = s - new
        i = i + new - gamma * i
        loss = loss + (math.log(i) - observed[t]) ** 2
    return loss


# ---- the cases: function, arguments for a size n, and wrt ------------------------------


def gru_params(r, d, n):
    shapes = {"Wz": (d, n), "Uz": (n, n), "Wr": (d, n), "Ur": (n, n), "Wh": (d, n), "Uh": (n, n)}
    return {name: 0.5 * r.normal(size=shape) for name, shape in shapes.items()}


def symmetric_with_spread_spectrum(r, n):
    m = 0.1 * r.normal(size=(n, n))
    return np.diag(np.arange(1.0, n + 1)) + m + m.T


CASES = {
    "euler_particles_in_the_plane": (
        euler_particles,
        lambda r, n: (r.normal(size=(n, 2)), r.normal(size=(n, 2)), 1.5, 0.3, 20 + n), (0, 1, 2, 3)),
    "velocity_verlet_spring_chain": (
        verlet_spring_chain,
        lambda r, n: (np.arange(n) + 0.1 * r.normal(size=n), 1.0 + r.uniform(size=n - 1), 0.9, 10 + n),
        (0, 1, 2)),
    "damped_oscillator_on_floats": (
        damped_oscillator, lambda r, n: (2.0, 0.1, 1.0, 0.0, 20 * n), (0, 1, 2, 3)),
    "coupled_pendula": (
        coupled_pendula,
        lambda r, n: (0.3 * r.normal(size=n), 1.0 + r.uniform(size=n), 2.0, 30 + n), (0, 1, 2)),
    "heat_equation_dirichlet": (
        heat_equation,
        lambda r, n: (r.normal(size=n + 3), 0.2, r.normal(size=n + 3), 2 * n), (0, 1, 2)),
    "wave_equation_leapfrog": (wave_equation, lambda r, n: (r.normal(size=n + 2), 0.5, 3 * n), (0, 1)),
    "logistic_map": (logistic_map, lambda r, n: (2.8, 0.3, 3 * n), (0, 1)),
    "kepler_orbit_leapfrog": (
        kepler_orbit,
        lambda r, n: (np.array([1.0, 0.1, 0.0][:n // 2]), np.array([0.0, 1.1, 0.2][:n // 2]), 1.0, 50),
        (0, 1, 2)),
    "charged_particles_cross_product": (
        charged_particles,
        lambda r, n: (r.normal(size=(n - 2, 3)), r.normal(size=3), 0.7, 10 + n), (0, 1, 2)),
    "relaxing_particles_nested_loops": (
        relaxing_particles, lambda r, n: (r.normal(size=(n, 2)), 0.3, 3), (0, 1)),
    "projectile_range_while_above_ground": (
        projectile_range, lambda r, n: (4.0 + 0.5 * n, 0.8, 0.05), (0, 1, 2)),
    "trajectory_written_into_rows": (
        trajectory_misfit,
        lambda r, n: (1.3, r.normal(size=(n - 1, 2)), r.normal(size=(n + 2, n - 1, 2))), (0, 1, 2)),
    "tanh_rnn_over_rows": (
        tanh_rnn,
        lambda r, n: (0.5 * r.normal(size=(4, 4)), r.normal(size=(3, 4)), r.normal(size=4),
                      r.normal(size=4), r.normal(size=(n, 3))), (0, 1, 2, 3, 4)),
    "sigmoid_rnn_accumulated_loss": (
        sigmoid_rnn_sequence_loss,
        lambda r, n: (r.normal(size=(3, 3)), r.normal(size=(2, 3)), r.normal(size=(3, 2)),
                      r.normal(size=(n, 2)), r.normal(size=(n, 2))), (0, 1, 2, 3)),
    "gru_cell_with_dict_params": (
        gru, lambda r, n: (gru_params(r, 2, 3), r.normal(size=3), r.normal(size=(n, 2))), (0, 1, 2)),
    "lstm_cell_over_rows": (
        lstm,
        lambda r, n: (0.5 * r.normal(size=(2 + 3, 12)), 0.1 * r.normal(size=12), r.normal(size=(n, 2))),
        (0, 1, 2)),
    "batched_rnn_classifier": (
        batched_rnn_classifier,
        lambda r, n: (0.5 * r.normal(size=(3, 3)), r.normal(size=(2, 3)), r.normal(size=(3, 4)),
                      r.normal(size=(n, 3)), r.normal(size=(3, n, 2)), r.integers(0, 4, size=n)),
        (0, 1, 2, 3, 4)),
    "rnn_over_range_from_one": (
        rnn_on_differences,
        lambda r, n: (0.5 * r.normal(size=(3, 3)), r.normal(size=3), r.normal(size=n)), (0, 1, 2)),
    "rnn_with_stride_two": (
        strided_rnn,
        lambda r, n: (0.5 * r.normal(size=(3, 3)), r.normal(size=(2, 3)), r.normal(size=(2 * n, 2))),
        (0, 1, 2)),
    "gated_rnn_reading_each_row_twice": (
        gated_rnn,
        lambda r, n: (r.normal(size=(2, 3)), r.normal(size=(2, 3)), 0.5 * r.normal(size=(3, 3)),
                      r.normal(size=(n, 2))), (0, 1, 2, 3)),
    "rnn_outputs_written_into_rows": (
        rnn_output_rows,
        lambda r, n: (0.5 * r.normal(size=(3, 3)), r.normal(size=(2, 3)), r.normal(size=(3, 4)),
                      r.normal(size=(n, 2))), (0, 1, 2, 3)),
    "exponential_smoothing_rows": (exponential_smoothing, lambda r, n: (0.4, r.normal(size=(n, 2))), (0, 1)),
    "rnn_states_stacked_for_attention": (
        rnn_attention,
        lambda r, n: (0.5 * r.normal(size=(3, 3)), r.normal(size=(2, 3)), r.normal(size=3),
                      r.normal(size=(n, 2))), (0, 1, 2, 3)),
    "rnn_with_norm_clipping_branch": (
        norm_clipped_rnn,
        lambda r, n: (r.normal(size=(3, 3)), r.normal(size=(n, 3)), 2.0), (0, 1, 2)),
    "masked_sequence_loss_with_continue": (
        masked_sequence_loss,
        lambda r, n: (0.5 * r.normal(size=(3, 3)), r.normal(size=(n, 3)), np.arange(n) % 3 != 1), (0, 1)),
    "gradient_descent_with_break": (
        unrolled_gradient_descent,
        lambda r, n: (np.zeros(3), np.eye(n, 3) + 0.2 * r.normal(size=(n, 3)), 0.3, r.normal(size=n)),
        (0, 1, 2, 3)),
    "meta_learning_rate_unrolled": (
        meta_learning_rate,
        lambda r, n: (0.1, r.normal(size=3), r.normal(size=(n, 3)), r.normal(size=n), 5), (0, 1, 2, 3)),
    "conv1d_nested_loops": (
        conv1d_loops, lambda r, n: (0.5 * r.normal(size=3), r.normal(size=n + 3)), (0, 1)),
    "conv2d_over_patches": (
        conv2d_patches, lambda r, n: (r.normal(size=(2, 2)), r.normal(size=(n, n + 1))), (0, 1)),
    "power_iteration_while": (
        power_iteration,
        lambda r, n: (symmetric_with_spread_spectrum(r, n), r.normal(size=n), 60), (0, 1)),
    "kepler_equation_newton_while": (kepler_equation, lambda r, n: (0.3 * n, 0.1 * n), (0, 1)),
    "series_exp_while": (series_exp, lambda r, n: (0.3 * n,), 0),
    "rk4_forced_decay_floats": (rk4_forced_decay, lambda r, n: (0.7, 1.5, 4 * n), (0, 1)),
    "simpson_integral_floats": (simpson_integral, lambda r, n: (-0.3, 1.2, 2 * n), (0, 1)),
    "kalman_filter_likelihood": (kalman_nll, lambda r, n: (0.3, 0.5, r.normal(size=n)), (0, 1, 2)),
    "horner_floats_and_arrays": (
        horner, lambda r, n: (r.normal(size=n), r.uniform(-1.0, 1.0, size=3)), (0, 1)),
    "advantage_estimates_backwards_loop": (
        advantage_estimates,
        lambda r, n: (r.normal(size=n + 1), r.normal(size=n), 0.95, 0.9), (0, 1, 2, 3)),
    "sir_epidemic_fit": (sir_fit, lambda r, n: (0.4, 0.1, np.log(0.01) + 0.2 * np.arange(n)), (0, 1, 2)),
}

SIZE, OTHER_SIZE = 4, 6


def assert_trees_close(got, want, rtol=1e-10):
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys()
        for key in want:
            assert_trees_close(got[key], want[key], rtol)
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want)
        for a, b in zip(got, want):
            assert_trees_close(a, b, rtol)
    else:
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-13)


def for_any_shape(fn, wrt, args):
    """The gradient from code made for any shape: the last argument passed by keyword."""
    last = list(inspect.signature(fn).parameters)[len(args) - 1]
    return srcdiff.grad(fn, wrt=wrt)(*args[:-1], **{last: args[-1]})


@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_finite_differences(name):
    fn, build, wrt = CASES[name]
    args = build(np.random.default_rng(0), SIZE)
    assert check_grad(fn, *args, wrt=wrt).ok


@pytest.mark.parametrize("name", CASES)
def test_gradient_for_repeated_and_new_shapes_matches_code_for_any_shape(name):
    fn, build, wrt = CASES[name]
    d = srcdiff.grad(fn, wrt=wrt)
    r = np.random.default_rng(1)
    for args in (build(r, SIZE), build(r, SIZE), build(r, OTHER_SIZE)):
        assert_trees_close(d(*args), for_any_shape(fn, wrt, args))


@pytest.mark.parametrize("name", CASES)
def test_value_and_grad_returns_the_functions_value(name):
    fn, build, wrt = CASES[name]
    args = build(np.random.default_rng(2), SIZE)
    value, grads = srcdiff.value_and_grad(fn, wrt=wrt)(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
    assert_trees_close(grads, srcdiff.grad(fn, wrt=wrt)(*args))
