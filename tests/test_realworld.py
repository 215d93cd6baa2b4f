"""Functions that users of JAX, autograd or PyTorch write in plain NumPy, differentiated by srcdiff.

Each function is written the way a user would write it (natural idioms, not shaped for
srcdiff) and checked against central finite differences with ``check_grad``: in reverse
mode always, and in forward mode and to second order where that is what a user would ask
for.  Inputs are float64, modest in size and drawn from a seeded generator.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from scipy.special import expit, gammaln, logsumexp

import srcdiff
from srcdiff.rules import registry
from srcdiff.testing import check_grad

BOTH = ("reverse", "forward")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def check(fn, *args, wrt=0, modes=BOTH, order=1, **tolerances):
    """check_grad with both modes by default; it raises on a mismatch.

    The reverse-mode gradient is also required to be finite (check_grad reports a NaN
    only where finite differences are not NaN too).
    """
    assert check_grad(fn, *args, wrt=wrt, modes=modes, order=order, **tolerances).ok
    specialised = srcdiff.grad(fn, wrt=wrt)(*args)
    tree_map(lambda g: np.testing.assert_array_equal(np.isfinite(g), True), specialised)
    # Passed by keyword, the last argument gets code made for any shapes: the same
    # gradient, to rounding (positional calls get code made for these shapes).
    params = list(inspect.signature(fn).parameters.values())
    if len(params) == len(args) and params[-1].kind == params[-1].POSITIONAL_OR_KEYWORD:
        general = srcdiff.grad(fn, wrt=wrt)(*args[:-1], **{params[-1].name: args[-1]})
        tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12), specialised, general)


def tree_map(f, *trees):
    first = trees[0]
    if isinstance(first, dict):
        return {k: tree_map(f, *(t[k] for t in trees)) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(tree_map(f, *items) for items in zip(*trees))
    return f(*trees)


def check_hvp(fn, *args, wrt=0, h=1e-4):
    """hvp against central differences of the gradient, for container arguments too.

    A second, independent check of what check_grad(order=2) does, with its own direction.
    """
    r = rng(99)
    v = tree_map(lambda x: float(r.normal()) if isinstance(x, float) else r.normal(size=x.shape), args[wrt])
    got = srcdiff.hvp(fn, wrt=wrt)(*args, v)
    g = srcdiff.grad(fn, wrt=wrt)

    def shifted(sign):
        moved = tree_map(lambda x, d: x + sign * h * d, args[wrt], v)
        return g(*args[:wrt], moved, *args[wrt + 1:])

    want = tree_map(lambda a, b: (a - b) / (2 * h), shifted(1), shifted(-1))
    tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), got, want)


# -- supervised learning -----------------------------------------------------------------


def logistic_regression_loss(w, b, X, y, lam=1e-2):
    """Mean logistic loss for labels in {-1, +1}, plus an L2 penalty on the weights."""
    z = X @ w + b
    return np.mean(np.log1p(np.exp(-y * z))) + lam * np.dot(w, w)


def test_logistic_regression():
    r = rng(1)
    X = r.normal(size=(20, 4))
    y = np.where(r.normal(size=20) > 0, 1.0, -1.0)
    w, b = r.normal(size=4) * 0.5, 0.1
    check(logistic_regression_loss, w, b, X, y, wrt=(0, 1), order=2)
    check(logistic_regression_loss, w, b, X, y, 0.3, wrt="lam")


def softmax_cross_entropy(W, X, labels):
    """Batched softmax cross-entropy, with the row maximum subtracted for stability."""
    logits = X @ W
    logits = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def test_softmax_cross_entropy():
    r = rng(2)
    X = r.normal(size=(8, 5))
    W = r.normal(size=(5, 3))
    labels = r.integers(0, 3, size=8)
    check(softmax_cross_entropy, W, X, labels, order=2)


def relu(x):
    return np.maximum(x, 0.0)


def mlp_loss(params, X, y):
    """Two-layer perceptron with ReLU, parameters in a dict, mean squared error."""
    h = relu(X @ params["W1"] + params["b1"])
    pred = h @ params["W2"] + params["b2"]
    return np.mean((pred.ravel() - y) ** 2)


def test_mlp_with_dict_params():
    r = rng(3)
    params = {"W1": r.normal(size=(3, 6)), "b1": r.normal(size=6) * 0.1,
              "W2": r.normal(size=(6, 1)), "b2": np.array([0.2])}
    X, y = r.normal(size=(10, 3)), r.normal(size=10)
    check(mlp_loss, params, X, y)


def deep_net(params, x):
    """A list of (W, b) layers looped over, tanh between layers, linear last layer."""
    for W, b in params[:-1]:
        x = np.tanh(x @ W + b)
    W, b = params[-1]
    return x @ W + b


def deep_net_loss(params, x, y):
    return 0.5 * np.sum((deep_net(params, x) - y) ** 2)


def test_list_of_layers_looped_over():
    r = rng(4)
    sizes = [3, 5, 4, 2]
    params = [(r.normal(size=(m, n)) / np.sqrt(m), r.normal(size=n) * 0.1)
              for m, n in zip(sizes[:-1], sizes[1:])]
    x, y = r.normal(size=(6, 3)), r.normal(size=(6, 2))
    check(deep_net_loss, params, x, y)
    check(deep_net_loss, params, x, y, wrt=1, order=2)
    check_hvp(deep_net_loss, params, x, y)


def autoencoder_loss(params, x):
    """Sigmoid encoder, tanh decoder with tied weights."""
    W, b_enc, b_dec = params
    code = 1.0 / (1.0 + np.exp(-(x @ W + b_enc)))
    recon = np.tanh(code @ W.T + b_dec)
    return np.mean(np.sum((recon - x) ** 2, axis=1))


def test_tied_weight_autoencoder():
    r = rng(5)
    params = (r.normal(size=(6, 3)) * 0.5, np.zeros(3), r.normal(size=6) * 0.1)
    x = r.normal(size=(7, 6)) * 0.5
    check(autoencoder_loss, params, x)
    check_hvp(autoencoder_loss, params, x)


def poisson_regression_nll(w, X, counts):
    """Poisson GLM with log link; gammaln(counts + 1) is the constant log(k!)."""
    rate = np.exp(X @ w)
    return np.sum(rate - counts * np.log(rate) + gammaln(counts + 1.0))


def test_poisson_regression():
    r = rng(6)
    X = r.normal(size=(15, 3)) * 0.5
    counts = r.poisson(2.0, size=15).astype(float)
    check(poisson_regression_nll, r.normal(size=3) * 0.3, X, counts, order=2)


def elastic_net(w, X, y, alpha=0.1, l1_ratio=0.5):
    """Keyword arguments with defaults; the L1 part is smooth away from w = 0."""
    resid = y - X @ w
    penalty = l1_ratio * np.sum(np.abs(w)) + 0.5 * (1 - l1_ratio) * np.sum(w ** 2)
    return 0.5 * np.mean(resid ** 2) + alpha * penalty


def test_elastic_net_keywords_and_defaults():
    r = rng(7)
    X, y = r.normal(size=(12, 4)), r.normal(size=12)
    w = np.array([0.7, -0.4, 1.2, -0.9])
    check(elastic_net, w, X, y)
    keyword_call = srcdiff.grad(elastic_net)(w, X, y, l1_ratio=0.2, alpha=0.3)
    np.testing.assert_allclose(keyword_call, srcdiff.grad(elastic_net)(w, X, y, 0.3, 0.2), rtol=1e-12)
    check(elastic_net, w, X, y, 0.3, 0.2, wrt=(0, "alpha", "l1_ratio"))


def make_ridge_loss(X, y, lam):
    def loss(w):
        return np.sum((X @ w - y) ** 2) + lam * np.sum(w ** 2)

    return loss


def test_closure_capturing_arrays():
    r = rng(8)
    loss = make_ridge_loss(r.normal(size=(9, 3)), r.normal(size=9), 0.5)
    check(loss, r.normal(size=3), order=2)


class LinearModel:
    def __init__(self, X, y, lam=0.1):
        self.X, self.y, self.lam = X, y, lam

    def loss(self, w):
        return np.mean((self.X @ w - self.y) ** 2) + self.lam * w @ w


def test_method_of_a_model_object():
    r = rng(9)
    model = LinearModel(r.normal(size=(8, 3)), r.normal(size=8))
    w = r.normal(size=3)
    check(model.loss, w)
    check(LinearModel.loss, model, w, wrt=1, order=2)


class Cubic:
    def value(self, x):
        return x ** 3


def test_second_derivative_of_a_bound_method():
    np.testing.assert_allclose(srcdiff.grad(srcdiff.grad(Cubic().value))(2.0), 12.0)


def test_hessian_of_a_bound_method():
    np.testing.assert_allclose(srcdiff.hessian(Cubic().value)(2.0), 12.0)


def test_second_derivative_of_a_method_with_the_instance_passed():
    second = srcdiff.grad(srcdiff.grad(Cubic.value, wrt=1), wrt=1)
    np.testing.assert_allclose(second(Cubic(), 2.0), 12.0)


class Scaler:
    def __init__(self, a):
        self.a = a

    def predict(self, w):
        return self.a * w

    def loss(self, w):
        return np.sum(self.predict(w) ** 2)

    def loss_via_class(self, w):
        return np.sum(Scaler.predict(self, w) ** 2)


def test_method_calling_another_method_on_self():
    check(Scaler(2.0).loss, np.array([1.0, -0.5]))


def test_method_calling_another_method_through_the_class():
    check(Scaler(2.0).loss_via_class, np.array([1.0, -0.5]))


def huber(residual, delta=1.0):
    small = np.abs(residual) <= delta
    return np.where(small, 0.5 * residual ** 2, delta * (np.abs(residual) - 0.5 * delta))


def robust_regression_loss(w, X, y):
    return np.mean(huber(X @ w - y, delta=0.5))


def test_huber_loss_with_where():
    r = rng(10)
    X, y = r.normal(size=(20, 3)), r.normal(size=20) * 2.0
    check(robust_regression_loss, r.normal(size=3), X, y)


def masked_mse(pred, target):
    """Missing targets are NaN; the mask is built from the data and carries no gradient."""
    observed = ~np.isnan(target)
    return np.mean((pred[observed] - target[observed]) ** 2)


def test_boolean_mask_from_data():
    r = rng(11)
    target = r.normal(size=(4, 5))
    target[r.random(size=(4, 5)) < 0.3] = np.nan
    check(masked_mse, r.normal(size=(4, 5)), target)


def embedding_bag(E, tokens, w):
    """Mean of embedding rows (repeated tokens included), then a linear score."""
    vectors = E[tokens]
    return np.tanh(vectors.mean(axis=0) @ w)


def test_integer_array_indexing_with_repeats():
    r = rng(12)
    E = r.normal(size=(6, 4))
    tokens = np.array([1, 3, 3, 0, 5, 1, 1])
    check(embedding_bag, E, tokens, r.normal(size=4), wrt=(0, 2))


def matrix_factorisation_loss(U, V, rows, cols, ratings, lam=0.1):
    pred = np.sum(U[rows] * V[cols], axis=1)
    return np.mean((pred - ratings) ** 2) + lam * (np.sum(U ** 2) + np.sum(V ** 2))


def test_matrix_factorisation():
    r = rng(13)
    U, V = r.normal(size=(5, 2)), r.normal(size=(4, 2))
    rows, cols = r.integers(0, 5, size=12), r.integers(0, 4, size=12)
    check(matrix_factorisation_loss, U, V, rows, cols, r.normal(size=12), wrt=(0, 1))


def ppo_clip_objective(logp_new, logp_old, advantages, clip=0.2):
    ratio = np.exp(logp_new - logp_old)
    clipped = np.clip(ratio, 1 - clip, 1 + clip)
    return -np.mean(np.minimum(ratio * advantages, clipped * advantages))


def test_ppo_clipped_objective():
    r = rng(14)
    logp_old = r.normal(size=16) * 0.3
    # keep every ratio away from the clip edges, where the objective has a kink
    logp_new = logp_old + np.where(r.random(16) < 0.5, 0.05, 0.5) * np.sign(r.normal(size=16))
    check(ppo_clip_objective, logp_new, logp_old, r.normal(size=16))


def batch_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def batch_norm_loss(x, gamma, beta, w):
    return np.sum(np.tanh(batch_norm(x, gamma, beta)) @ w)


def test_batch_norm():
    r = rng(15)
    x = r.normal(size=(8, 3)) * 2 + 1
    check(batch_norm_loss, x, r.normal(size=3) + 1, r.normal(size=3), r.normal(size=3), wrt=(0, 1, 2))


def dropout_net(W, x, keep_mask, rate=0.5):
    """Inverted dropout with a fixed mask (the random draw happens outside)."""
    h = np.tanh(x @ W) * keep_mask / (1 - rate)
    return np.sum(h ** 2)


def test_dropout_with_fixed_mask():
    r = rng(16)
    mask = (r.random(size=(5, 4)) < 0.5).astype(float)
    check(dropout_net, r.normal(size=(3, 4)), r.normal(size=(5, 3)), mask)


def max_pool_net(x, w):
    """Max pooling over windows of 2, written with reshape and max."""
    pooled = np.tanh(x).reshape(x.shape[0], -1, 2).max(axis=2)
    return np.sum(pooled @ w)


def test_max_pool_with_reshape():
    r = rng(17)
    check(max_pool_net, r.normal(size=(3, 8)), r.normal(size=4), wrt=(0, 1))


# -- sequence models and attention -------------------------------------------------------


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def layer_norm_loss(x, gamma, beta, target):
    return np.sum((layer_norm(x, gamma, beta) - target) ** 2)


def test_layer_norm():
    r = rng(20)
    x = r.normal(size=(4, 6))
    check(layer_norm_loss, x, r.normal(size=6), r.normal(size=6), r.normal(size=(4, 6)),
          wrt=(0, 1, 2), order=2)


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def attention(q, k, v, causal=False):
    d = q.shape[-1]
    scores = q @ k.T / np.sqrt(d)
    if causal:
        future = np.triu(np.ones(scores.shape, dtype=bool), k=1)
        scores = np.where(future, -1e9, scores)
    return softmax(scores) @ v


def attention_loss(q, k, v, causal):
    return np.sum(attention(q, k, v, causal=causal) ** 2)


@pytest.mark.parametrize("causal", [False, True])
def test_scaled_dot_product_attention(causal):
    r = rng(21)
    q, k, v = r.normal(size=(5, 4)), r.normal(size=(5, 4)), r.normal(size=(5, 3))
    check(attention_loss, q, k, v, causal, wrt=(0, 1, 2))
    check(attention_loss, q, k, v, causal, order=2, modes=("reverse",))


def multi_head_attention(x, Wq, Wk, Wv, n_heads):
    """Heads split with reshape/transpose, batched matmuls through np.einsum."""
    t, d = x.shape
    hd = d // n_heads
    q = (x @ Wq).reshape(t, n_heads, hd).transpose(1, 0, 2)
    k = (x @ Wk).reshape(t, n_heads, hd).transpose(1, 0, 2)
    v = (x @ Wv).reshape(t, n_heads, hd).transpose(1, 0, 2)
    scores = np.einsum("htd,hsd->hts", q, k) / math.sqrt(hd)
    out = np.einsum("hts,hsd->htd", softmax(scores), v)
    return np.sum(out.transpose(1, 0, 2).reshape(t, d) ** 2)


def heads_first(x, w):
    return np.sum(x.transpose(1, 0, 2) * w)


def test_transpose_with_axes_compiles_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        srcdiff.grad(heads_first)(np.ones((2, 3, 4)), np.ones((3, 2, 4)))


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
def test_multi_head_attention_einsum():
    r = rng(22)
    d = 4
    x = r.normal(size=(3, d))
    Ws = [r.normal(size=(d, d)) / 2 for _ in range(3)]
    check(multi_head_attention, x, *Ws, 2, wrt=(0, 1, 2, 3))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_loss(params, xs, h0, c0):
    """An LSTM unrolled over time with a Python loop; the hidden states are stacked."""
    W, U, b = params["W"], params["U"], params["b"]
    h, c = h0, c0
    hs = []
    for x in xs:
        z = x @ W + h @ U + b
        i, f, o, g = np.split(z, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    H = np.stack(hs)
    return np.mean(H ** 2)


def test_lstm_unrolled():
    r = rng(23)
    n_in, n_h, T = 3, 2, 5
    params = {"W": r.normal(size=(n_in, 4 * n_h)) * 0.5, "U": r.normal(size=(n_h, 4 * n_h)) * 0.5,
              "b": r.normal(size=4 * n_h) * 0.1}
    xs = r.normal(size=(T, n_in))
    check(lstm_loss, params, xs, np.zeros(n_h), np.zeros(n_h))
    check(lstm_loss, params, xs, r.normal(size=n_h), r.normal(size=n_h), wrt=(1, 2, 3))


def gru_step(h, x, Wz, Wr, Wh):
    hx = np.concatenate([h, x])
    z = expit(Wz @ hx)
    r = expit(Wr @ hx)
    h_tilde = np.tanh(Wh @ np.concatenate([r * h, x]))
    return (1 - z) * h + z * h_tilde


def gru_sequence_loss(weights, xs, h):
    Wz, Wr, Wh = weights
    outputs = []
    for t in range(xs.shape[0]):
        h = gru_step(h, xs[t], Wz, Wr, Wh)
        outputs.append(h)
    return np.sum(np.stack(outputs, axis=0)[-3:] ** 2)


def test_gru_unrolled_with_helper_step():
    r = rng(24)
    n_h, n_in = 3, 2
    weights = [r.normal(size=(n_h, n_h + n_in)) * 0.5 for _ in range(3)]
    check(gru_sequence_loss, weights, r.normal(size=(6, n_in)), r.normal(size=n_h) * 0.1, wrt=(0, 1, 2))


def conv1d(x, kernel, bias):
    """'valid' cross-correlation written as a loop over kernel offsets with slicing."""
    k = len(kernel)
    n = len(x) - k + 1
    out = np.zeros(n) + bias
    for j in range(k):
        out = out + kernel[j] * x[j:j + n]
    return out


def conv_net_loss(kernel, bias, x, target):
    return np.mean((np.tanh(conv1d(x, kernel, bias)) - target) ** 2)


def test_conv1d_loop_over_offsets():
    r = rng(25)
    x = r.normal(size=12)
    check(conv_net_loss, r.normal(size=3), 0.1, x, r.normal(size=10) * 0.5, wrt=(0, 1, 2), order=2)


def ar_filter(coeffs, x):
    """y[t] = x[t] + a1 y[t-1] + a2 y[t-2], written with entry assignment in a loop."""
    y = np.zeros_like(x)
    for t in range(len(x)):
        y[t] = x[t]
        if t >= 1:
            y[t] += coeffs[0] * y[t - 1]
        if t >= 2:
            y[t] += coeffs[1] * y[t - 2]
    return np.sum(y ** 2)


def test_recursive_filter_with_entry_updates():
    r = rng(26)
    check(ar_filter, np.array([0.5, -0.2]), r.normal(size=8), wrt=(0, 1))


def discounted_returns_loss(values, rewards, gamma=0.9):
    """Reward-to-go with np.cumsum over the reversed, discounted rewards."""
    n = len(rewards)
    discounts = gamma ** np.arange(n)
    returns = np.cumsum((rewards * discounts)[::-1])[::-1] / discounts
    return np.mean((values - returns) ** 2)


def test_cumsum_returns():
    r = rng(27)
    check(discounted_returns_loss, r.normal(size=7), r.normal(size=7), 0.8, wrt=(0, 1, 2))


# -- probabilistic models ----------------------------------------------------------------


def gaussian_nll_cholesky(mu, L_raw, X):
    """Negative log-likelihood of rows of X under N(mu, L L^T), via the Cholesky factor."""
    d = mu.shape[0]
    cov = L_raw @ L_raw.T + 0.1 * np.eye(d)
    L = np.linalg.cholesky(cov)
    diffs = X - mu
    z = np.linalg.solve(L, diffs.T)
    logdet = 2 * np.sum(np.log(np.diag(L)))
    n = X.shape[0]
    return 0.5 * np.sum(z ** 2) + 0.5 * n * (logdet + d * np.log(2 * np.pi))


def gaussian_nll_slogdet(mu, cov, X):
    sign, logdet = np.linalg.slogdet(cov)
    diffs = X - mu
    maha = np.sum(diffs * np.linalg.solve(cov, diffs.T).T, axis=1)
    return 0.5 * np.sum(maha + logdet + len(mu) * np.log(2 * np.pi))


def test_gaussian_nll_cholesky():
    r = rng(30)
    X = r.normal(size=(6, 3))
    check(gaussian_nll_cholesky, r.normal(size=3), r.normal(size=(3, 3)), X, wrt=(0, 1))


def test_gaussian_nll_slogdet():
    r = rng(31)
    A = r.normal(size=(3, 3))
    cov = A @ A.T + np.eye(3)
    X = r.normal(size=(6, 3))
    # a perturbed covariance stops being symmetric; the NLL is still defined, so no symmetrising
    check(gaussian_nll_slogdet, r.normal(size=3), cov, X, wrt=(0, 1), order=2)


def gmm_log_likelihood(means, log_stds, logits, x):
    """1-D mixture of Gaussians; the mixture is a logsumexp over components."""
    log_weights = logits - logsumexp(logits)
    stds = np.exp(log_stds)
    z = (x[:, None] - means[None, :]) / stds
    log_comp = -0.5 * z ** 2 - log_stds - 0.5 * np.log(2 * np.pi)
    return np.sum(logsumexp(log_comp + log_weights, axis=1))


def gmm_log_likelihood_manual(means, log_stds, logits, x):
    """The same, with logsumexp written out by hand."""
    log_weights = logits - np.log(np.sum(np.exp(logits)))
    z = (x[:, None] - means) / np.exp(log_stds)
    a = -0.5 * z ** 2 - log_stds - 0.5 * np.log(2 * np.pi) + log_weights
    m = np.max(a, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(a - m), axis=1)))


@pytest.mark.parametrize("fn", [gmm_log_likelihood, gmm_log_likelihood_manual])
def test_mixture_of_gaussians(fn):
    r = rng(32)
    x = np.concatenate([r.normal(-2, 0.5, size=6), r.normal(1, 1.0, size=6)])
    means, log_stds, logits = np.array([-1.5, 0.0, 1.2]), r.normal(size=3) * 0.2, r.normal(size=3)
    check(fn, means, log_stds, logits, x, wrt=(0, 1, 2), order=2)


def soft_kmeans_objective(centroids, X, beta=2.0):
    """Soft assignments by a softmax over negative squared distances."""
    d2 = np.sum((X[:, None, :] - centroids[None, :, :]) ** 2, axis=-1)
    resp = softmax(-beta * d2, axis=1)
    return np.sum(resp * d2) / X.shape[0]


def test_soft_kmeans():
    r = rng(33)
    X = r.normal(size=(10, 2))
    check(soft_kmeans_objective, r.normal(size=(3, 2)), X, order=2)


def rbf_kernel(X, lengthscale, variance):
    sq = np.sum(X ** 2, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * X @ X.T
    return variance * np.exp(-0.5 * d2 / lengthscale ** 2)


def gp_neg_log_marginal(log_params, X, y):
    """Gaussian-process regression evidence, hyperparameters on a log scale."""
    lengthscale, variance, noise = np.exp(log_params)
    K = rbf_kernel(X, lengthscale, variance) + noise * np.eye(len(y))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(y) * math.log(2 * math.pi)


def test_gaussian_process_marginal_likelihood():
    r = rng(34)
    X = r.uniform(-2, 2, size=(8, 1))
    y = np.sin(2 * X[:, 0]) + 0.1 * r.normal(size=8)
    check(gp_neg_log_marginal, np.log(np.array([0.8, 1.2, 0.1])), X, y)


def gaussian_kl(mu1, S1, mu2, S2):
    """KL(N(mu1, S1) || N(mu2, S2)) with inv, trace and det."""
    k = len(mu1)
    S2_inv = np.linalg.inv(S2)
    diff = mu2 - mu1
    return 0.5 * (np.trace(S2_inv @ S1) + diff @ S2_inv @ diff - k
                  + np.log(np.linalg.det(S2) / np.linalg.det(S1)))


def test_gaussian_kl_inv_trace_det():
    r = rng(35)
    A, B = r.normal(size=(3, 3)), r.normal(size=(3, 3))
    S1, S2 = A @ A.T + np.eye(3), B @ B.T + np.eye(3)
    check(gaussian_kl, r.normal(size=3), S1, r.normal(size=3), S2, wrt=(0, 1, 2, 3))


def elbo(mu, log_sigma, eps, x, prior_std=1.0):
    """Reparameterised ELBO of a Bayesian linear model, with the noise drawn outside."""
    w = mu + np.exp(log_sigma) * eps
    log_lik = -0.5 * np.sum((x @ w.T) ** 2)  # (samples, data) predictions of zero targets
    var_ratio = (np.exp(2 * log_sigma) + mu ** 2) / (2 * prior_std ** 2)
    kl = np.sum(np.log(prior_std) - log_sigma + var_ratio - 0.5)
    return log_lik / eps.shape[0] - kl


def test_reparameterised_elbo():
    r = rng(36)
    check(elbo, r.normal(size=3), r.normal(size=3) * 0.1 - 1, r.normal(size=(4, 3)), r.normal(size=(5, 3)),
          wrt=(0, 1))


# -- numerical methods, optimisation and physics ----------------------------------------


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rastrigin(x, A=10.0):
    return A * len(x) + np.sum(x ** 2 - A * np.cos(2 * math.pi * x))


def ackley(x):
    n = x.size
    return (-20.0 * np.exp(-0.2 * np.sqrt(np.sum(x ** 2) / n))
            - np.exp(np.sum(np.cos(2 * np.pi * x)) / n) + 20.0 + math.e)


def beale(p):
    x, y = p
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


@pytest.mark.parametrize("fn", [rosenbrock, rastrigin, ackley])
def test_optimisation_benchmarks(fn):
    x = rng(40).uniform(-1.5, 1.5, size=5)
    check(fn, x, order=2, rtol=1e-4)


def test_beale_unpacks_a_vector():
    check(beale, np.array([1.3, 0.4]), order=2)
    check(beale, (1.3, 0.4))
    check_hvp(beale, (1.3, 0.4))


def hermite_horner(coeffs, x):
    """Recursive Horner evaluation: c0 + x (c1 + x (c2 + ...))."""
    if len(coeffs) == 1:
        return coeffs[0] + 0.0 * x
    return coeffs[0] + x * hermite_horner(coeffs[1:], x)


def test_recursive_polynomial():
    c = np.array([0.5, -1.0, 0.25, 2.0])
    x = np.linspace(-1, 1, 5)
    check(lambda c, x: np.sum(hermite_horner(c, x) ** 2), c, x, wrt=(0, 1), order=2)


def polyfit_loss(coeffs, x, y):
    """Least-squares fit of a polynomial with np.polyval, plus the same with powers."""
    by_polyval = np.polyval(coeffs, x)
    powers = x[:, None] ** np.arange(len(coeffs) - 1, -1, -1)
    by_powers = powers @ coeffs
    return np.mean((by_polyval - y) ** 2) + np.mean((by_powers - y) ** 2)


def test_polynomial_fit():
    r = rng(41)
    x = np.linspace(-1, 1, 8)  # 8 points: none at 0, see the xfail below
    check(polyfit_loss, r.normal(size=4), x, np.cos(3 * x), wrt=(0, 1), order=2)


def polynomial_features(x):
    return np.sum(x[:, None] ** np.arange(3))


def test_power_with_exponent_zero_at_zero():
    x = np.array([-1.0, 0.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(srcdiff.grad(polynomial_features)(x), 1 + 2 * x)


def newton_cube_root(a, iterations=30, tol=1e-13):
    """Newton's method on x^3 = a, stopped when the step is small; differentiated through."""
    x = 1.0
    step = 1.0
    i = 0
    while abs(step) > tol and i < iterations:
        step = (x ** 3 - a) / (3 * x ** 2)
        x = x - step
        i += 1
    return x


def test_newton_iteration_through_a_while_loop():
    for a in (0.5, 2.0, 10.0):
        check(newton_cube_root, a)
        np.testing.assert_allclose(srcdiff.grad(newton_cube_root)(a), a ** (-2 / 3) / 3, rtol=1e-8)


def fixed_point_kepler(M, e, n_iter=40):
    """Kepler's equation E = M + e sin E by fixed-point iteration with a for loop."""
    E = M
    for _ in range(n_iter):
        E = M + e * math.sin(E)
    return E


def test_kepler_fixed_point_math_functions():
    check(fixed_point_kepler, 1.1, 0.3, wrt=(0, 1), order=2)


def projectile_range(speed, angle, height, g=9.81):
    """Range of a projectile launched from a height, all Python floats and math.*."""
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    t_flight = (vy + math.sqrt(vy ** 2 + 2 * g * height)) / g
    return vx * t_flight


def test_projectile_with_math_on_floats():
    check(projectile_range, 12.0, 0.6, 1.5, wrt=(0, 1, 2), order=2)
    g = srcdiff.grad(projectile_range, wrt=(0, 1))(12.0, 0.6, 1.5)
    assert all(isinstance(v, float) for v in g)


def black_scholes_call(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    N = lambda z: 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))  # noqa: E731
    return S * N(d1) - K * math.exp(-r * T) * N(d2)


def normal_cdf(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def black_scholes_call_helper(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * normal_cdf(d1) - K * math.exp(-r * T) * normal_cdf(d2)


def test_black_scholes_greeks():
    args = (100.0, 95.0, 0.5, 0.02, 0.25)
    check(black_scholes_call_helper, *args, wrt=(0, 2, 3, 4), order=2, rtol=1e-4)
    S, K, T, r, sigma = args
    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    delta = srcdiff.grad(black_scholes_call_helper)(*args)
    np.testing.assert_allclose(delta, 0.5 * (1 + math.erf(d1 / math.sqrt(2))), rtol=1e-10)


def test_black_scholes_with_local_lambda_is_a_clear_error():
    # documented: "a call of a function held in a local variable" is a NonDifferentiableError
    with pytest.raises(srcdiff.NonDifferentiableError, match=r"Call: N\(d1\)"):
        srcdiff.grad(black_scholes_call)(100.0, 95.0, 0.5, 0.02, 0.25)


def pendulum(state, length, g=9.81):
    theta, omega = state[0], state[1]
    return np.array([omega, -(g / length) * np.sin(theta)])


def rk4_step(f, y, dt, params):
    """A generic integrator step: the vector field is passed in as a function."""
    k1 = f(y, params)
    k2 = f(y + 0.5 * dt * k1, params)
    k3 = f(y + 0.5 * dt * k2, params)
    k4 = f(y + dt * k3, params)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def pendulum_rk4_generic(state, length, dt=0.05, steps=40):
    for _ in range(steps):
        state = rk4_step(pendulum, state, dt, length)
    return state[0]


def pendulum_rk4_step(state, length, dt):
    k1 = pendulum(state, length)
    k2 = pendulum(state + 0.5 * dt * k1, length)
    k3 = pendulum(state + 0.5 * dt * k2, length)
    k4 = pendulum(state + dt * k3, length)
    return state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def pendulum_rk4(state, length, dt=0.05, steps=40):
    for _ in range(steps):
        state = pendulum_rk4_step(state, length, dt)
    return state[0]


def test_pendulum_rk4():
    check(pendulum_rk4, np.array([0.8, 0.0]), 1.3, wrt=(0, 1), order=2)


def test_vector_field_passed_as_an_argument_is_a_clear_error():
    # documented: calling a function held in a local variable (here a parameter) is not differentiated
    with pytest.raises(srcdiff.NonDifferentiableError, match=r"Call: f\(y, params\)"):
        srcdiff.grad(pendulum_rk4_generic)(np.array([0.8, 0.0]), 1.3)


def lotka_volterra(z, params):
    prey, pred = z
    a, b, c, d = params
    return np.array([a * prey - b * prey * pred, d * prey * pred - c * pred])


def lotka_volterra_fit(params, z0, observed, dt=0.1):
    z = z0
    trajectory = [z]
    for _ in range(len(observed) - 1):
        k1 = lotka_volterra(z, params)
        k2 = lotka_volterra(z + dt / 2 * k1, params)
        k3 = lotka_volterra(z + dt / 2 * k2, params)
        k4 = lotka_volterra(z + dt * k3, params)
        z = z + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        trajectory.append(z)
    return np.sum((np.stack(trajectory) - observed) ** 2)


def test_lotka_volterra_rk4_fit():
    r = rng(42)
    params = np.array([1.0, 0.4, 0.8, 0.2])
    observed = np.abs(r.normal(size=(12, 2))) + 1.0
    check(lotka_volterra_fit, params, np.array([2.0, 1.0]), observed, wrt=(0, 1))


def nbody_energy(pos, masses, softening=1e-3):
    """Gravitational potential with pairwise distances by broadcasting, softened."""
    diff = pos[:, None, :] - pos[None, :, :]
    dist = np.sqrt(np.sum(diff ** 2, axis=-1) + softening ** 2)
    pair = masses[:, None] * masses[None, :] / dist
    n = len(masses)
    return -0.5 * np.sum(pair * (1 - np.eye(n)))


def leapfrog_step(pos, vel, masses, dt=0.01):
    """One velocity-Verlet step of a spring network, then the kinetic energy."""
    rest_length = 1.0
    diff = pos[:, None, :] - pos[None, :, :]
    dist = np.sqrt(np.sum(diff ** 2, axis=-1) + 1e-12)
    stretch = (dist - rest_length) * (1 - np.eye(len(masses)))
    force = -np.sum((stretch / dist)[:, :, None] * diff, axis=1)
    vel = vel + dt * force / masses[:, None]
    pos = pos + dt * vel
    return 0.5 * np.sum(masses[:, None] * vel ** 2) + np.sum(pos ** 2)


def test_nbody_pairwise_energy():
    r = rng(43)
    check(nbody_energy, r.normal(size=(5, 3)), r.uniform(0.5, 2.0, size=5), wrt=(0, 1), order=2)


def test_spring_network_step():
    r = rng(44)
    check(leapfrog_step, r.normal(size=(4, 2)), r.normal(size=(4, 2)), r.uniform(1, 2, size=4),
          wrt=(0, 1, 2))


# -- vision and geometry ----------------------------------------------------------------


def total_variation(img, eps=1e-8):
    dy = np.diff(img, axis=0)[:, :-1]
    dx = np.diff(img, axis=1)[:-1, :]
    return np.sum(np.sqrt(dx ** 2 + dy ** 2 + eps))


def denoise_objective(img, noisy, weight=0.1):
    return 0.5 * np.sum((img - noisy) ** 2) + weight * total_variation(img)


def test_total_variation_denoising():
    r = rng(50)
    noisy = r.normal(size=(5, 6))
    check(denoise_objective, noisy + 0.1 * r.normal(size=(5, 6)), noisy)


def cosine_similarity_loss(a, b):
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.mean(1 - cos)


def test_cosine_similarity_with_norm():
    r = rng(51)
    check(cosine_similarity_loss, r.normal(size=(4, 3)), r.normal(size=(4, 3)), wrt=(0, 1), order=2)


def contrastive_loss(emb, temperature=0.5):
    """InfoNCE: normalised embeddings, the positive pair of row i is row i ^ 1."""
    z = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = z @ z.T / temperature
    n = len(emb)
    sim = sim - 1e9 * np.eye(n)
    positives = np.arange(n) ^ 1
    log_prob = sim - logsumexp(sim, axis=1, keepdims=True)
    return -np.mean(log_prob[np.arange(n), positives])


def test_contrastive_info_nce():
    check(contrastive_loss, rng(52).normal(size=(6, 3)))


def rotation_matrix(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def pose_alignment(theta, t, src, dst):
    """Rigid 2-D alignment residual, the rotation built with np.array from scalars."""
    moved = src @ rotation_matrix(theta).T + t
    return np.sum((moved - dst) ** 2)


def test_pose_alignment():
    r = rng(53)
    src = r.normal(size=(6, 2))
    dst = src @ rotation_matrix(0.4).T + np.array([0.3, -0.2]) + 0.01 * r.normal(size=(6, 2))
    check(pose_alignment, 0.1, np.zeros(2), src, dst, wrt=(0, 1), order=2)


def sorted_l1_penalty(w, lambdas):
    """OWL / SLOPE penalty: the largest |w| gets the largest weight, through np.sort."""
    return np.sum(lambdas * np.sort(np.abs(w))[::-1])


def trimmed_mean_loss(residuals, trim=2):
    s = np.sort(residuals ** 2)
    return np.mean(s[trim:-trim])


def test_sort_based_losses():
    r = rng(54)
    w = np.array([0.3, -1.4, 0.9, -0.1, 2.2])
    check(sorted_l1_penalty, w, np.linspace(1.0, 0.2, 5))
    check(trimmed_mean_loss, r.normal(size=9))


def rank_one_update_logdet(A, u, v):
    """Matrix determinant lemma checked against the direct log-determinant."""
    direct = np.log(np.linalg.det(A + np.outer(u, v)))
    lemma = np.log(1 + v @ np.linalg.solve(A, u)) + np.log(np.linalg.det(A))
    return direct + lemma


def test_outer_and_determinant_lemma():
    r = rng(55)
    A = r.normal(size=(3, 3)) + 4 * np.eye(3)
    check(rank_one_update_logdet, A, r.normal(size=3) * 0.3, r.normal(size=3) * 0.3, wrt=(0, 1, 2))


def bilinear_scores(x, W, y):
    return np.sum(np.tanh(np.einsum("bi,ij,bj->b", x, W, y)))


def test_einsum_bilinear():
    r = rng(56)
    check(bilinear_scores, r.normal(size=(4, 3)), r.normal(size=(3, 2)), r.normal(size=(4, 2)),
          wrt=(0, 1, 2), order=2)


def tuple_returning_model(w, x):
    pred = np.tanh(x @ w)
    return np.sum(pred ** 2), pred


def loss_only(w, x):
    loss, _ = tuple_returning_model(w, x)
    return loss


def test_first_output_of_a_tuple_returning_helper():
    r = rng(57)
    check(loss_only, r.normal(size=3), r.normal(size=(4, 3)))


def test_grad_of_a_tuple_result_is_a_clear_error():
    r = rng(57)
    with pytest.raises(srcdiff.NonScalarOutputError):
        srcdiff.grad(tuple_returning_model)(r.normal(size=3), r.normal(size=(4, 3)))


def test_vjp_of_a_tuple_result():
    r = rng(58)
    w, x = r.normal(size=3), r.normal(size=(4, 3))
    out, pullback = srcdiff.vjp(tuple_returning_model)(w, x)
    g = pullback((1.0, np.zeros(4)))
    np.testing.assert_allclose(g, srcdiff.grad(loss_only)(w, x), rtol=1e-12)


# -- constructs the fence rejects, and their supported rewrites -------------------------


def safe_log_loss_with_errstate(p, y):
    with np.errstate(divide="ignore"):
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def safe_log_loss(p, y):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_errstate_block_is_rejected_and_the_rewrite_works():
    r = rng(60)
    p, y = r.uniform(0.1, 0.9, size=6), (r.random(6) > 0.5).astype(float)
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="with statement"):
        srcdiff.grad(safe_log_loss_with_errstate)(p, y)
    check(safe_log_loss, p, y)


def loss_with_inner_helper(w, x):
    def act(z):
        return np.tanh(z) ** 2

    return np.sum(act(x @ w))


def loss_with_module_helper(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def test_inner_def_is_rejected_and_the_rewrite_works():
    r = rng(61)
    w, x = r.normal(size=3), r.normal(size=(4, 3))
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="function defined inside"):
        srcdiff.grad(loss_with_inner_helper)(w, x)
    check(loss_with_module_helper, w, x)


# -- more numerical idioms ---------------------------------------------------------------


def sinkhorn_cost(a_logits, X, Y, reg=0.5, tol=1e-10, max_iter=500):
    """Entropic optimal transport in the log domain, iterated until the marginals match."""
    a = softmax(a_logits)
    b = np.full(len(Y), 1.0 / len(Y))
    C = np.sum((X[:, None, :] - Y[None, :, :]) ** 2, axis=-1)
    f, g = np.zeros(len(X)), np.zeros(len(Y))
    err, it = 1.0, 0
    while err > tol and it < max_iter:
        f = reg * np.log(a) - reg * logsumexp((g[None, :] - C) / reg, axis=1)
        g = reg * np.log(b) - reg * logsumexp((f[:, None] - C) / reg, axis=0)
        P = np.exp((f[:, None] + g[None, :] - C) / reg)
        err = np.abs(P.sum(axis=1) - a).max()
        it += 1
    return np.sum(P * C)


def test_sinkhorn_while_loop():
    r = rng(70)
    X, Y = r.normal(size=(4, 2)), r.normal(size=(5, 2))
    check(sinkhorn_cost, r.normal(size=4) * 0.3, X, Y, wrt=(0, 1, 2), rtol=1e-4)


def unrolled_sgd(log_lr, w0, X, y, steps=25):
    """Differentiate the final loss through gradient-descent steps (meta-learning the step size)."""
    lr = np.exp(log_lr)
    w = w0
    n = len(y)
    for _ in range(steps):
        grad_w = 2.0 / n * X.T @ (X @ w - y)
        w = w - lr * grad_w
        if np.linalg.norm(grad_w) < 1e-8:
            break
    return np.mean((X @ w - y) ** 2)


def test_unrolled_optimisation():
    r = rng(71)
    X, y = r.normal(size=(10, 3)), r.normal(size=10)
    check(unrolled_sgd, math.log(0.05), np.zeros(3), X, y, wrt=(0, 1, 2), order=2)


def conv2d(img, kernel):
    """'same' 2-D cross-correlation: pad, then accumulate shifted slices into the output."""
    kh, kw = kernel.shape
    H, W = img.shape
    padded = np.pad(img, ((kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros((H, W))
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * padded[i:i + H, j:j + W]
    return out


def cnn_loss(kernels, img, target):
    h = np.tanh(conv2d(img, kernels[0]))
    h = conv2d(h, kernels[1])
    return np.mean((h - target) ** 2)


def test_conv2d_with_pad_and_slices():
    r = rng(72)
    kernels = r.normal(size=(2, 3, 3)) * 0.3
    img, target = r.normal(size=(6, 5)), r.normal(size=(6, 5))
    check(cnn_loss, kernels, img, target, wrt=(0, 1))


def nested_power(x):
    y = x
    for _ in range(2):
        for _ in range(2):
            y = y * x
    return y


def test_second_derivative_of_nested_loops_by_reverse_over_reverse():
    np.testing.assert_allclose(srcdiff.grad(srcdiff.grad(nested_power))(1.5), 20 * 1.5 ** 3)


def test_hessian_of_nested_loops():
    np.testing.assert_allclose(srcdiff.hessian(nested_power)(1.5), 20 * 1.5 ** 3)


def leaky_relu_inplace(z, slope=0.01):
    h = np.copy(z)
    h[h < 0] *= slope
    return h


def leaky_net(W, x):
    return np.sum(leaky_relu_inplace(x @ W) ** 2)


def test_leaky_relu_by_masked_assignment():
    r = rng(73)
    check(leaky_net, r.normal(size=(3, 4)), r.normal(size=(5, 3)))


def leaky_relu_copy_method(z, slope=0.01):
    h = z.copy()
    h[h < 0] *= slope
    return np.sum(h ** 2)


def test_copy_method():
    check(leaky_relu_copy_method, np.array([1.0, -2.0, 0.5]))


def spectral_penalty(A, k=2):
    """Sum of the k largest eigenvalues of the Gram matrix, through np.linalg.eigh."""
    eigenvalues, _ = np.linalg.eigh(A.T @ A)
    return np.sum(eigenvalues[-k:])


def test_eigh_top_eigenvalues():
    check(spectral_penalty, rng(74).normal(size=(5, 3)), order=2)


def calibration_loss(knots_y, scores, labels):
    """A piecewise-linear calibration curve with np.interp, fitted by its y-values."""
    knots_x = np.linspace(0.0, 1.0, len(knots_y))
    probs = np.interp(scores, knots_x, knots_y)
    return np.mean((probs - labels) ** 2)


def test_interp_calibration_curve():
    r = rng(75)
    scores = r.uniform(0.01, 0.99, size=12)
    check(calibration_loss, np.linspace(0.1, 0.9, 5), scores, (scores > 0.5).astype(float))


def weight_decay_loss(params, x, y, decay=1e-3):
    pred = deep_net(params, x)
    l2 = sum(np.sum(W ** 2) for W, _ in params)
    return np.mean((pred - y) ** 2) + decay * l2


def test_generator_sum_over_layers():
    r = rng(76)
    params = [(r.normal(size=(2, 3)), np.zeros(3)), (r.normal(size=(3, 1)), np.zeros(1))]
    check(weight_decay_loss, params, r.normal(size=(4, 2)), r.normal(size=(4, 1)))


def named_weight_decay(params, lam=0.1):
    total = 0.0
    for name, value in params.items():
        if name.startswith("W"):
            total = total + lam * np.sum(value ** 2)
        else:
            total = total + np.sum(np.tanh(value))
    return total


def test_dict_items_with_string_test_on_keys():
    r = rng(77)
    check(named_weight_decay, {"W1": r.normal(size=(2, 2)), "b1": r.normal(size=2), "W2": r.normal(size=3)})


def svm_hinge_loop(w, X, y, C=1.0):
    """A per-example Python loop with the builtin max on floats."""
    loss = 0.5 * float(w @ w)
    for xi, yi in zip(X, y):
        loss += C * max(0.0, 1.0 - yi * float(w @ xi))
    return loss


def test_hinge_loss_per_example_loop():
    r = rng(78)
    X = r.normal(size=(8, 3))
    y = np.where(r.normal(size=8) > 0, 1.0, -1.0)
    check(svm_hinge_loop, r.normal(size=3) * 0.3, X, y)


def standardised_features(X, w):
    Z = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    return np.sum(np.tanh(Z @ w)) + np.var(X[:, 0], ddof=1)


def test_standardisation_with_ddof():
    r = rng(79)
    check(standardised_features, r.normal(size=(7, 3)), r.normal(size=3), wrt=(0, 1))


def rnn_states_list(w, xs):
    """A preallocated Python list filled by entry assignment, then turned into an array."""
    T = len(xs)
    hs = [0.0] * T
    h = 0.0
    for t in range(T):
        h = np.tanh(w[0] * h + w[1] * xs[t])
        hs[t] = h
    return np.sum(np.array(hs) ** 2)


def test_list_filled_by_entry_assignment():
    check(rnn_states_list, np.array([0.7, 1.3]), rng(80).normal(size=6), wrt=(0, 1))


def survival_loglik(logit_hazards, event_time):
    """Discrete-time survival: survival curve by np.cumprod of 1 - hazard."""
    hazards = expit(logit_hazards)
    survival = np.cumprod(1.0 - hazards)
    return np.log(hazards[event_time]) + np.log(survival[event_time - 1])


def test_cumprod_survival():
    check(survival_loglik, rng(81).normal(size=6) - 1.0, 4, order=2)


def cholesky_parameterised_nll(raw, X):
    """Precision matrix L L^T with L = tril(raw, -1) + diag(exp(diag(raw)))."""
    L = np.tril(raw, -1) + np.diag(np.exp(np.diag(raw)))
    P = L @ L.T
    quad = np.einsum("ni,ij,nj->n", X, P, X)
    return 0.5 * np.sum(quad) - X.shape[0] * np.sum(np.diag(raw))


def test_tril_cholesky_parameterisation():
    r = rng(82)
    check(cholesky_parameterised_nll, r.normal(size=(3, 3)) * 0.3, r.normal(size=(5, 3)), order=2)


def keyword_only_loss(w, *, X, y, reg=0.1):
    z = X @ w
    return np.mean(np.logaddexp(0.0, -y * z)) + reg * np.linalg.norm(w) ** 2


def test_keyword_only_and_logaddexp():
    r = rng(83)
    X, y = r.normal(size=(9, 3)), np.where(r.normal(size=9) > 0, 1.0, -1.0)
    w = r.normal(size=3)
    got = srcdiff.grad(keyword_only_loss)(w, X=X, y=y)
    check(lambda w: keyword_only_loss(w, X=X, y=y), w, order=2)
    np.testing.assert_allclose(got, srcdiff.grad(lambda w: keyword_only_loss(w, X=X, y=y))(w), rtol=1e-12)


def unpack(theta, n_in, n_hidden):
    """Parameters flattened into one vector, as for scipy.optimize."""
    k = n_in * n_hidden
    W1 = theta[:k].reshape(n_in, n_hidden)
    b1 = theta[k:k + n_hidden]
    w2 = theta[k + n_hidden:]
    return W1, b1, w2


def flat_param_loss(theta, X, y):
    W1, b1, w2 = unpack(theta, X.shape[1], 3)
    pred = np.tanh(X @ W1 + b1) @ w2
    return 0.5 * np.sum((pred - y) ** 2)


def test_flat_parameter_vector():
    r = rng(84)
    X, y = r.normal(size=(6, 2)), r.normal(size=6)
    check(flat_param_loss, r.normal(size=2 * 3 + 3 + 3) * 0.5, X, y, order=2)


def heat_equation(u0, alpha, dt=0.1, steps=30):
    """Explicit finite differences on a periodic rod, with np.roll."""
    u = u0
    for _ in range(steps):
        u = u + dt * alpha * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(u[:4] ** 2)


def test_heat_equation_with_roll():
    r = rng(85)
    check(heat_equation, r.normal(size=10), 0.8, wrt=(0, 1), order=2)


def image_loss(pred, target):
    """Per-image mean over the pixel axes, then a weighted batch mean."""
    per_image = np.mean((pred - target) ** 2, axis=(1, 2))
    return np.sum(per_image * np.arange(1, len(per_image) + 1)) / len(per_image)


def test_tuple_axis_reduction():
    r = rng(86)
    check(image_loss, r.normal(size=(3, 4, 5)), r.normal(size=(3, 4, 5)), order=2)


def lennard_jones(pos, eps=1.0, sigma=1.0):
    i, j = np.triu_indices(len(pos), k=1)
    r2 = np.sum((pos[i] - pos[j]) ** 2, axis=1)
    s6 = (sigma ** 2 / r2) ** 3
    return np.sum(4 * eps * (s6 ** 2 - s6))


def test_lennard_jones_with_triu_indices():
    pos = np.array([[0.0, 0.0, 0.0], [1.1, 0.1, 0.0], [0.2, 1.2, 0.1], [1.0, 1.1, 0.9]])
    check(lennard_jones, pos, order=2, rtol=1e-4)


def least_squares_pinv(X, y):
    w = np.linalg.pinv(X) @ y
    return np.sum((X @ w - y) ** 2) + np.sum(w ** 2)


def test_pinv_least_squares():
    r = rng(87)
    check(least_squares_pinv, r.normal(size=(6, 3)), r.normal(size=6), wrt=(0, 1))


def branch_on_data(x, w):
    """A Python if on a statistic of the data: the derivative follows the branch taken."""
    if np.mean(x) > 0:
        return np.sum(np.sin(x * w))
    return np.sum(np.cos(x * w))


def test_branch_on_a_data_statistic():
    r = rng(88)
    check(branch_on_data, r.normal(size=4) + 1.0, r.normal(size=4), wrt=(0, 1))
    check(branch_on_data, r.normal(size=4) - 1.0, r.normal(size=4), wrt=(0, 1))


@pytest.mark.xfail(strict=True, raises=srcdiff.NoRuleError,
                   reason="second derivatives through np.interp: 'no derivative rule for interp_grad, "
                          "called on a differentiated value' (the runtime helper has no rule)")
def test_hessian_through_interp():
    scores = np.array([0.2, 0.6, 0.9])
    srcdiff.hessian(calibration_loss)(np.linspace(0.1, 0.9, 3), scores, np.ones(3))


def critic(w, x):
    return np.sum(np.tanh(x @ w))


critic_input_grad = srcdiff.grad(critic, wrt=1)


def gradient_penalty_loss(w, x, lam=10.0):
    """WGAN-GP: the critic's gradient with respect to its input, pushed towards unit norm."""
    gx = critic_input_grad(w, x)
    return -np.mean(critic(w, x)) + lam * np.mean((np.sqrt(np.sum(gx ** 2, axis=1)) - 1.0) ** 2)


def gradient_penalty_inline(w, x, lam=10.0):
    gx = srcdiff.grad(critic, wrt=1)(w, x)
    return -np.mean(critic(w, x)) + lam * np.mean((np.sqrt(np.sum(gx ** 2, axis=1)) - 1.0) ** 2)


def test_gradient_penalty_through_a_named_gradient():
    r = rng(90)
    check(gradient_penalty_loss, r.normal(size=3), r.normal(size=(4, 3)), wrt=(0, 1))


@pytest.mark.xfail(strict=True, raises=srcdiff.NonDifferentiableError,
                   reason="srcdiff.grad(critic, wrt=1)(w, x) called inline (the jax.grad idiom) is a "
                          "NonDifferentiableError with the generic hint 'rewrite it with plain "
                          "assignments and NumPy calls'; the same gradient bound to a global name works")
def test_gradient_penalty_with_an_inline_grad_call():
    r = rng(90)
    check(gradient_penalty_inline, r.normal(size=3), r.normal(size=(4, 3)), wrt=(0, 1))


# -- srcdiff.testing ---------------------------------------------------------------------


def two_leaf_loss(params):
    W, b = params
    return np.sum(np.tanh(W) ** 2) + np.sum(b ** 3)


def test_check_grad_second_order_on_a_container_argument():
    check_grad(two_leaf_loss, (np.array([0.3, -0.2]), np.array([0.5])), order=2)


def test_check_grad_second_order_on_a_tuple_of_floats():
    check_grad(beale, (1.3, 0.4), order=2)


def test_hvp_on_containers_is_right():
    check_hvp(two_leaf_loss, (np.array([0.3, -0.2]), np.array([0.5])))


def rule_gives_nan(x):
    return np.sin(x)


def test_check_grad_reports_a_nan_gradient(monkeypatch):
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))  # the rule goes away after the test
    srcdiff.register_adjoint(rule_gives_nan, "rule_gives_nan(x)", x="g * np.cos(x) * np.nan")
    with np.errstate(invalid="ignore", divide="ignore"), pytest.raises(AssertionError):
        check_grad(lambda x: np.sum(rule_gives_nan(x)), np.array([0.5, 1.0]))
