"""examples/newton.py: its derivatives are right, and Newton beats gradient descent."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import load_example

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")



newton = load_example("newton")


def _small_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.hstack([rng.normal(size=(20, 3)), np.ones((20, 1))])
    y = np.where(rng.normal(size=20) > 0, 1.0, -1.0)
    return x, y, 0.1


def test_gradient_and_hessian_match_the_analytic_ones():
    """For logistic regression, grad = -X^T (y s(-m)) / n + reg w and
    H = X^T diag(s(m) s(-m)) X / n + reg I, with margins m = y X w and s the sigmoid."""
    x, y, reg = _small_problem()
    w = np.random.default_rng(1).normal(size=4)
    m = y * (x @ w)
    s_pos, s_neg = 1 / (1 + np.exp(-m)), 1 / (1 + np.exp(m))
    np.testing.assert_allclose(newton.grad(w, x, y, reg), -x.T @ (y * s_neg) / len(x) + reg * w, rtol=1e-12)
    expected = x.T @ (x * (s_pos * s_neg)[:, None]) / len(x) + reg * np.eye(4)
    np.testing.assert_allclose(newton.hessian(w, x, y, reg), expected, rtol=1e-12)
    v = np.array([1.0, -2.0, 0.5, 0.3])
    np.testing.assert_allclose(newton.hvp(w, x, y, reg, v), expected @ v, rtol=1e-12)


def test_conjugate_gradient_solves_a_positive_definite_system():
    rng = np.random.default_rng(2)
    m = rng.normal(size=(5, 5))
    a = m @ m.T + 5 * np.eye(5)
    b = rng.normal(size=5)
    np.testing.assert_allclose(newton.conjugate_gradient(lambda v: a @ v, b, 20), np.linalg.solve(a, b),
                               rtol=1e-8)


def test_every_method_decreases_the_loss_and_newton_converges():
    x, y, reg = _small_problem()
    problem = (x, y, reg)
    w0 = np.zeros(4)
    _, gd = newton.gradient_descent(w0, problem, 10, newton.lipschitz_step(x, reg))
    w_newton, nt = newton.newton(w0, problem, 10)
    _, cg = newton.newton_cg(w0, problem, 10, 4)
    for history in (gd, nt, cg):
        assert all(b <= a + 1e-15 for a, b in zip(history, history[1:]))
    # at Newton's answer the gradient vanishes
    assert np.max(np.abs(newton.grad(w_newton, x, y, reg))) < 1e-10
    assert nt[-1] < gd[-1] and cg[-1] < gd[-1]


def test_newton_reaches_a_lower_loss_than_gradient_descent_and_saves_the_plot(tmp_path, capsys):
    histories = newton.main(["--iterations", "6", "--gd-iterations", "6", "--quiet",
                             "--output", str(tmp_path)])

    gd = histories["gradient descent"]
    assert len(gd) == 7 and len(histories["Newton (srcdiff.hessian)"]) == 7
    assert histories["Newton (srcdiff.hessian)"][-1] < gd[-1]
    assert histories["Newton-CG (srcdiff.hvp)"][-1] < gd[-1]
    png = tmp_path / "newton_loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "loss curves saved to" in out and "iteration  " not in out  # --quiet: no table
