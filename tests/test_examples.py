"""The example scripts in examples/: their gradients are right and they train."""

from __future__ import annotations

import numpy as np
import pytest

from srcdiff.testing import numerical_grad

from .conftest import load_example

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")



train_mlp = load_example("train_mlp")


def _tiny_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = train_mlp.init_params(5, 4, 3, rng)
    # Nonzero biases, so their gradients are exercised away from the starting point.
    params["b1"] = rng.normal(size=4)
    params["b2"] = rng.normal(size=3)
    x = rng.normal(size=(6, 5))
    targets = train_mlp.one_hot(rng.integers(0, 3, size=6), n_classes=3)
    return params, x, targets


def test_mlp_loss_gradient_matches_finite_differences():
    params, x, targets = _tiny_problem()
    value, grads = train_mlp.loss_and_grad(params, x, targets)

    assert value == pytest.approx(train_mlp.loss(params, x, targets), rel=1e-12)
    expected = numerical_grad(train_mlp.loss, (params, x, targets), 0, eps=1e-6)
    assert set(grads) == set(params)
    for name in params:
        assert grads[name].shape == params[name].shape, name
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-5, atol=1e-8, err_msg=name)


def test_mlp_loss_is_stable_for_large_logits():
    params, x, targets = _tiny_problem(seed=1)
    params["W2"] = params["W2"] * 1e4  # logits in the thousands: a naive exp overflows
    with np.errstate(over="raise", invalid="raise"):
        value, grads = train_mlp.loss_and_grad(params, x, targets)
    assert np.isfinite(value) and value > 0
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_mlp_trains_to_high_accuracy_and_saves_the_loss_curve(tmp_path, capsys):
    accuracy = train_mlp.main(["--epochs", "15", "--seed", "1", "--quiet", "--output", str(tmp_path)])

    assert accuracy >= 0.9  # chance is 0.1
    png = tmp_path / "train_mlp_loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert f"test accuracy:  {accuracy:.4f}" in out
    assert "def value_and_grad_loss" not in out  # --quiet leaves the generated source out


def test_mlp_training_reduces_the_loss():
    x_train, _, y_train, _ = train_mlp.load_data()
    rng = np.random.default_rng(0)
    params = train_mlp.init_params(x_train.shape[1], 16, 10, rng)
    _, history = train_mlp.train(params, x_train, y_train, epochs=5, lr=0.5, batch_size=0, rng=rng,
                                 progress=False)
    assert len(history) == 5
    assert all(b < a for a, b in zip(history, history[1:]))
