"""Forward mode and higher derivatives, through the public API.

jvp, derivative, jacobian, hessian and hvp, and derivatives of derivatives (grad of
grad, forward over reverse, reverse over forward), on small functions and on programs
with loops, branches, helpers and recursion.  Every expected value is worked out here:
by central finite differences of the function (or of its gradient), or by a formula
written out in the test — never a number copied from srcdiff's output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import check_grad

# ---- finite differences -----------------------------------------------------------------------


def _leaves(x):
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def _map(fn, *trees):
    """``fn`` applied leaf by leaf to trees of the same structure."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: _map(fn, *(t[k] for t in trees)) for k in first}
    if isinstance(first, (list, tuple)):
        items = [_map(fn, *items) for items in zip(*trees)]
        return items if isinstance(first, list) else tuple(items)
    return fn(*trees)


def _random_like(x, rng):
    return _map(lambda leaf: float(rng.normal()) if np.ndim(leaf) == 0 else rng.normal(size=np.shape(leaf)),
                x)


def fd_jvp(f, args: tuple, directions: dict, eps: float = 1e-6):
    """Central difference of ``f(*args)`` moving ``args[i]`` along ``directions[i]``."""

    def moved(step):
        new = list(args)
        for i, v in directions.items():
            new[i] = _map(lambda a, d: a + step * d, args[i], v)
        return f(*new)

    return _map(lambda hi, lo: (np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float)) / (2 * eps),
                moved(eps), moved(-eps))


def fd_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x, shape f(x).shape + x.shape, column by column."""
    columns = []
    for i in range(np.size(x)):
        e = np.zeros(np.shape(x))
        e.flat[i] = 1.0
        columns.append(fd_jvp(f, (x,), {0: e}, eps))
    out_shape = np.shape(f(x))
    return np.reshape(np.stack(columns, axis=-1), out_shape + np.shape(x))


def assert_tree_close(got, want, rtol=1e-6, atol=1e-8):
    got_leaves, want_leaves = _leaves(got), _leaves(want)
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        assert np.shape(g) == np.shape(w), (np.shape(g), np.shape(w))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# ---- functions under test ---------------------------------------------------------------------


def mixed(x, y):
    return np.sin(x) * y + x ** 2 * np.exp(-y)


def cubic_sum(x):
    return np.sum(x ** 3) + x[0] * x[1] * x[2]


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def x4_sin(x):
    return x ** 4 * math.sin(x)


def mlp_loss(params, x, y):
    h = np.tanh(x @ params["W"] + params["b"][0])
    return np.mean((h @ params["v"] - y) ** 2) + 0.1 * np.sum(params["b"][1] ** 2)


def polar(r, theta):
    return (r * np.cos(theta), r * np.sin(theta))


def rnn_loss(W, U, xs):
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h ** 2)


def huber(x, delta):
    if abs(x) <= delta:
        return 0.5 * x * x
    return delta * (abs(x) - 0.5 * delta)


def euler_linear(y0, A, steps):
    y = y0
    for _ in range(steps):
        y = y + 0.1 * (A @ y)
    return y


def euler_pendulum(y0):
    y = y0
    for _ in range(20):
        y = y + 0.05 * np.array([y[1], -np.sin(y[0]) - 0.1 * y[1]])
    return y


def while_decay(x):
    s = x
    n = 0
    while n < 5:
        s = s * 0.9 + 0.1 * np.sin(s)
        n += 1
    return np.sum(s ** 3)


def clamp_branch(x):
    if np.sum(x) > 0.0:
        y = np.exp(x) * x
    else:
        y = np.cos(x) * x ** 2
    return np.sum(y)


def _scaled(x):
    return np.sin(x) * x


def with_helper(x):
    return np.sum(_scaled(x) ** 2)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


# ---- jvp ---------------------------------------------------------------------------------------


def test_jvp_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, y, v = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    out, tangent = srcdiff.jvp(mixed)(x, y, v)
    np.testing.assert_allclose(out, mixed(x, y), rtol=1e-15)
    np.testing.assert_allclose(tangent, fd_jvp(mixed, (x, y), {0: v}), rtol=1e-6)
    # and analytically: d/dx = cos(x) y + 2 x exp(-y)
    np.testing.assert_allclose(tangent, (np.cos(x) * y + 2 * x * np.exp(-y)) * v, rtol=1e-12)


def test_jvp_with_a_tuple_wrt_moves_every_argument():
    rng = np.random.default_rng(1)
    x, y, vx, vy = (rng.normal(size=4) for _ in range(4))
    _, tangent = srcdiff.jvp(mixed, wrt=(0, "y"))(x, y, vx, vy)
    np.testing.assert_allclose(tangent, fd_jvp(mixed, (x, y), {0: vx, 1: vy}), rtol=1e-6)
    # by linearity, the sum of the two single-argument jvps
    one = srcdiff.jvp(mixed, wrt=0)(x, y, vx)[1] + srcdiff.jvp(mixed, wrt=1)(x, y, vy)[1]
    np.testing.assert_allclose(tangent, one, rtol=1e-12)


def test_jvp_of_a_float_function():
    x = 0.7
    out, tangent = srcdiff.jvp(x4_sin)(x, 2.0)
    assert out == pytest.approx(x4_sin(x), rel=1e-15)
    assert tangent == pytest.approx(2.0 * (4 * x ** 3 * math.sin(x) + x ** 4 * math.cos(x)), rel=1e-12)


def test_jvp_with_respect_to_a_container():
    rng = np.random.default_rng(2)
    params = {"W": rng.normal(size=(3, 2)), "b": [rng.normal(size=2), rng.normal(size=2)],
              "v": rng.normal(size=2)}
    x, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    direction = _random_like(params, rng)
    out, tangent = srcdiff.jvp(mlp_loss)(params, x, y, direction)
    assert out == pytest.approx(mlp_loss(params, x, y), rel=1e-14)
    assert tangent == pytest.approx(float(fd_jvp(mlp_loss, (params, x, y), {0: direction})), rel=1e-6)
    # <grad, direction>: forward and reverse mode agree
    grads = srcdiff.grad(mlp_loss)(params, x, y)
    inner = sum(np.sum(g * d) for g, d in zip(_leaves(grads), _leaves(direction)))
    assert tangent == pytest.approx(inner, rel=1e-12)


def test_jvp_of_a_function_returning_a_tuple():
    r, theta = np.array([1.0, 2.0]), np.array([0.3, -1.2])
    dr, dtheta = np.array([0.5, -1.0]), np.array([2.0, 0.1])
    out, tangent = srcdiff.jvp(polar, wrt=(0, 1))(r, theta, dr, dtheta)
    assert isinstance(tangent, tuple) and len(tangent) == 2
    assert_tree_close(out, polar(r, theta), rtol=1e-15)
    expected = (dr * np.cos(theta) - r * np.sin(theta) * dtheta,
                dr * np.sin(theta) + r * np.cos(theta) * dtheta)
    assert_tree_close(tangent, expected, rtol=1e-12)
    assert_tree_close(tangent, fd_jvp(polar, (r, theta), {0: dr, 1: dtheta}), rtol=1e-6)


# ---- derivative and jacobian -------------------------------------------------------------------


def test_derivative_of_a_float_function():
    for x in (-1.3, 0.2, 2.5):
        assert srcdiff.derivative(x4_sin)(x) == pytest.approx(4 * x ** 3 * math.sin(x) + x ** 4 * math.cos(x),
                                                               rel=1e-12)


def test_derivative_with_respect_to_a_named_argument():
    x, y = 0.4, 1.7
    got = srcdiff.derivative(mixed, wrt="y")(x, y)
    assert got == pytest.approx(math.sin(x) - x ** 2 * math.exp(-y), rel=1e-12)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_matches_finite_differences(mode):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=3), rng.normal(size=3)
    jac = srcdiff.jacobian(mixed, mode=mode)(x, y)
    assert jac.shape == (3, 3)
    np.testing.assert_allclose(jac, fd_jacobian(lambda a: mixed(a, y), x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jac, np.diag(np.cos(x) * y + 2 * x * np.exp(-y)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_of_a_matrix_function_has_out_shape_plus_arg_shape(mode):
    rng = np.random.default_rng(4)
    a = rng.normal(size=(2, 3))
    b = rng.normal(size=(3, 4))

    def product(a, b):
        return np.tanh(a @ b)

    jac = srcdiff.jacobian(product, mode=mode)(a, b)
    assert jac.shape == (2, 4, 2, 3)
    np.testing.assert_allclose(jac, fd_jacobian(lambda m: product(m, b), a), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_with_a_tuple_wrt(mode):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=2), rng.normal(size=2)
    jx, jy = srcdiff.jacobian(mixed, wrt=(0, 1), mode=mode)(x, y)
    np.testing.assert_allclose(jx, fd_jacobian(lambda a: mixed(a, y), x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jy, fd_jacobian(lambda b: mixed(x, b), y), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_with_respect_to_a_float(mode):
    def curve(t):
        return np.array([np.cos(t), np.sin(2 * t), t ** 3])

    t = 0.6
    jac = srcdiff.jacobian(curve, mode=mode)(t)
    assert jac.shape == (3,)
    np.testing.assert_allclose(jac, [-math.sin(t), 2 * math.cos(2 * t), 3 * t ** 2], rtol=1e-12)


def test_jacobian_of_an_ode_loop_with_respect_to_the_initial_state():
    """Euler steps of y' = A y: y_N = (I + h A)^N y0, so the Jacobian is (I + h A)^N."""
    rng = np.random.default_rng(6)
    A, y0 = rng.normal(size=(3, 3)), rng.normal(size=3)
    for mode in ("forward", "reverse"):
        jac = srcdiff.jacobian(euler_linear, mode=mode)(y0, A, 12)
        np.testing.assert_allclose(jac, np.linalg.matrix_power(np.eye(3) + 0.1 * A, 12), rtol=1e-12)


def test_jacobian_of_a_nonlinear_ode_loop():
    y0 = np.array([1.0, 0.3])
    for mode in ("forward", "reverse"):
        jac = srcdiff.jacobian(euler_pendulum, mode=mode)(y0)
        np.testing.assert_allclose(jac, fd_jacobian(euler_pendulum, y0), rtol=1e-6, atol=1e-9)


def test_jacobian_and_jvp_through_a_helper_and_recursion():
    x = np.array([0.4, -0.8, 1.1])
    v = np.array([1.0, -0.5, 2.0])
    _, tangent = srcdiff.jvp(with_helper)(x, v)
    s = np.sin(x) * x
    assert tangent == pytest.approx(np.sum(2 * s * (np.cos(x) * x + np.sin(x)) * v), rel=1e-12)
    for n in (1, 3, 5):
        assert srcdiff.derivative(power)(1.3, n) == pytest.approx(n * 1.3 ** (n - 1), rel=1e-12)


# ---- hessian and hvp ---------------------------------------------------------------------------


def test_hessian_against_the_analytic_formula_and_differences_of_the_gradient():
    x = np.array([0.5, -1.2, 2.0])
    hess = srcdiff.hessian(cubic_sum)(x)
    expected = np.diag(6 * x)
    expected[0, 1] = expected[1, 0] = x[2]
    expected[0, 2] = expected[2, 0] = x[1]
    expected[1, 2] = expected[2, 1] = x[0]
    np.testing.assert_allclose(hess, expected, rtol=1e-12)
    np.testing.assert_allclose(hess, fd_jacobian(srcdiff.grad(cubic_sum), x), rtol=1e-6, atol=1e-8)


def _rosenbrock_hessian(x):
    n = len(x)
    hess = np.zeros((n, n))
    for i in range(n - 1):
        hess[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        hess[i + 1, i + 1] += 200
        hess[i, i + 1] = hess[i + 1, i] = -400 * x[i]
    return hess


def test_hessian_and_hvp_of_rosenbrock():
    rng = np.random.default_rng(7)
    x, v = rng.normal(size=5), rng.normal(size=5)
    np.testing.assert_allclose(srcdiff.hessian(rosenbrock)(x), _rosenbrock_hessian(x), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(srcdiff.hvp(rosenbrock)(x, v), _rosenbrock_hessian(x) @ v,
                               rtol=1e-12, atol=1e-9)


def test_hessian_with_respect_to_a_matrix_has_twice_its_shape():
    rng = np.random.default_rng(8)
    m = rng.normal(size=(2, 3))

    def frob4(m):
        return np.sum(m * m) ** 2

    hess = srcdiff.hessian(frob4)(m)
    assert hess.shape == (2, 3, 2, 3)
    s = np.sum(m * m)  # d2/dm dm of s^2 = 8 m (x) m + 4 s I
    expected = 8 * np.einsum("ij,kl->ijkl", m, m) + 4 * s * np.eye(6).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(hess, expected, rtol=1e-12)


def test_hvp_matches_differences_of_the_gradient():
    rng = np.random.default_rng(9)
    x, v = rng.normal(size=4), rng.normal(size=4)
    got = srcdiff.hvp(while_decay)(x, v)
    np.testing.assert_allclose(got, fd_jvp(srcdiff.grad(while_decay), (x,), {0: v}), rtol=1e-6, atol=1e-8)


def test_hvp_of_an_rnn_with_respect_to_its_weights():
    rng = np.random.default_rng(10)
    W, U, xs = 0.5 * rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=(6, 2))
    V = rng.normal(size=(3, 3))
    got = srcdiff.hvp(rnn_loss)(W, U, xs, V)
    grad_w = srcdiff.grad(rnn_loss)
    np.testing.assert_allclose(got, fd_jvp(grad_w, (W, U, xs), {0: V}), rtol=1e-6, atol=1e-8)
    # the Hessian is symmetric: <V2, H V> == <V, H V2>
    V2 = rng.normal(size=(3, 3))
    assert np.sum(V2 * got) == pytest.approx(np.sum(V * srcdiff.hvp(rnn_loss)(W, U, xs, V2)), rel=1e-10)


def test_hvp_with_respect_to_a_second_argument():
    rng = np.random.default_rng(11)
    W, U, xs = 0.5 * rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    V = rng.normal(size=(3, 2))
    got = srcdiff.hvp(rnn_loss, wrt="U")(W, U, xs, V)
    grad_u = srcdiff.grad(rnn_loss, wrt="U")
    np.testing.assert_allclose(got, fd_jvp(grad_u, (W, U, xs), {1: V}), rtol=1e-6, atol=1e-8)


# ---- derivatives of derivatives ----------------------------------------------------------------


def test_grad_of_grad_of_a_float_function():
    for x in (-0.9, 0.7, 1.8):
        expected = 12 * x ** 2 * math.sin(x) + 8 * x ** 3 * math.cos(x) - x ** 4 * math.sin(x)
        assert srcdiff.grad(srcdiff.grad(x4_sin))(x) == pytest.approx(expected, rel=1e-12)


def test_third_derivative_of_x4_sin_x():
    d3 = srcdiff.grad(srcdiff.grad(srcdiff.grad(x4_sin)))
    for x in (-0.9, 0.7, 1.8):
        expected = (24 * x * math.sin(x) + 36 * x ** 2 * math.cos(x) - 12 * x ** 3 * math.sin(x)
                    - x ** 4 * math.cos(x))
        assert d3(x) == pytest.approx(expected, rel=1e-12)


def test_forward_over_reverse_and_reverse_over_reverse_agree_on_the_third_derivative():
    x = 0.7
    d2 = srcdiff.grad(srcdiff.grad(x4_sin))
    assert srcdiff.derivative(d2)(x) == pytest.approx(srcdiff.grad(d2)(x), rel=1e-12)


def test_jvp_of_grad_is_a_hessian_vector_product():
    rng = np.random.default_rng(12)
    x, v = rng.normal(size=4), rng.normal(size=4)
    gradient, hv = srcdiff.jvp(srcdiff.grad(rosenbrock))(x, v)
    np.testing.assert_allclose(gradient, srcdiff.grad(rosenbrock)(x), rtol=1e-15)
    np.testing.assert_allclose(hv, _rosenbrock_hessian(x) @ v, rtol=1e-12, atol=1e-9)


def test_reverse_over_forward_is_a_hessian_vector_product():
    """The pullback of a jvp's tangent output: d/dx <grad f(x), v> = H v."""
    rng = np.random.default_rng(13)
    x, v = rng.normal(size=4), rng.normal(size=4)
    (value, directional), pullback = srcdiff.vjp(srcdiff.jvp(rosenbrock))(x, x_dot=v)
    assert value == pytest.approx(rosenbrock(x), rel=1e-15)
    assert directional == pytest.approx(float(_rosenbrock_gradient(x) @ v), rel=1e-12)
    np.testing.assert_allclose(pullback((0.0, 1.0)), _rosenbrock_hessian(x) @ v, rtol=1e-12, atol=1e-9)


def _rosenbrock_gradient(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def test_jacobian_of_grad_in_reverse_mode_is_the_hessian():
    x = np.array([0.3, -0.7, 1.1, 0.2])
    hess = srcdiff.jacobian(srcdiff.grad(rosenbrock), mode="reverse")(x)
    np.testing.assert_allclose(hess, _rosenbrock_hessian(x), rtol=1e-12, atol=1e-9)


def _layer_loss(W, x):
    return np.sum(np.tanh(x @ W) ** 2) + np.sum(W[0] * W[1])


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_hessian_of_a_layer_forward_over_reverse_and_reverse_over_reverse(mode):
    rng = np.random.default_rng(14)
    W, x = rng.normal(size=(2, 3)), rng.normal(size=(4, 2))
    hess = srcdiff.jacobian(srcdiff.grad(_layer_loss), mode=mode)(W, x)
    assert hess.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(hess, fd_jacobian(lambda w: srcdiff.grad(_layer_loss)(w, x), W),
                               rtol=1e-6, atol=1e-8)


def test_second_derivative_of_a_huber_loss_on_both_sides_of_the_kink():
    delta = 1.0
    d1 = srcdiff.grad(huber)
    d2 = srcdiff.grad(d1)
    for x in (-0.4, 0.3):  # quadratic inside: f' = x, f'' = 1
        assert d1(x, delta) == pytest.approx(x, rel=1e-15)
        assert d2(x, delta) == pytest.approx(1.0)
        assert srcdiff.derivative(d1)(x, delta) == pytest.approx(1.0)
    for x in (-2.5, 1.7):  # linear outside: f' = delta sign(x), f'' = 0
        assert d1(x, delta) == pytest.approx(delta * np.sign(x))
        assert d2(x, delta) == 0.0
        assert srcdiff.derivative(d1)(x, delta) == 0.0


def test_hessian_of_a_branching_program():
    for x in (np.array([0.5, 0.2, -0.1]), np.array([-0.5, -0.2, 0.1])):  # both branches
        hess = srcdiff.hessian(clamp_branch)(x)
        if np.sum(x) > 0:  # d2/dx2 of exp(x) x = exp(x) (x + 2)
            expected = np.diag(np.exp(x) * (x + 2))
        else:  # d2/dx2 of cos(x) x^2 = (2 - x^2) cos(x) - 4 x sin(x)
            expected = np.diag((2 - x ** 2) * np.cos(x) - 4 * x * np.sin(x))
        np.testing.assert_allclose(hess, expected, rtol=1e-12, atol=1e-14)


def test_hvp_through_a_helper():
    x, v = np.array([0.4, -0.8, 1.1]), np.array([1.0, -0.5, 2.0])
    got = srcdiff.hvp(with_helper)(x, v)
    np.testing.assert_allclose(got, fd_jvp(srcdiff.grad(with_helper), (x,), {0: v}), rtol=1e-6)


def test_second_derivative_through_recursion():
    # d2/dx2 x^4 = 12 x^2
    assert srcdiff.grad(srcdiff.grad(power))(1.3, 4) == pytest.approx(12 * 1.3 ** 2, rel=1e-12)


# ---- check_grad in both modes, to second order -------------------------------------------------


def _sum_of_mixed(x, y):
    return np.sum(np.sin(x) * y + x ** 2 * np.exp(-y))


@pytest.mark.parametrize("fn, args", [
    (rosenbrock, (np.array([0.3, -0.7, 1.1, 0.2]),)),
    (while_decay, (np.array([0.5, -1.0, 2.0]),)),
    (clamp_branch, (np.array([0.5, 0.2, -0.1]),)),
    (rnn_loss, (0.5 * np.eye(3) + 0.1, np.ones((3, 2)) * 0.3, np.linspace(-1.0, 1.0, 8).reshape(4, 2))),
    (_sum_of_mixed, (np.array([0.3, 1.2]), np.array([-0.4, 0.8]))),
])
def test_check_grad_forward_and_reverse_to_second_order(fn, args):
    result = check_grad(fn, *args, wrt=0, modes=("forward", "reverse"), order=2)
    assert result.ok and result.worst_abs < 1e-4


def _cube(x):
    return x ** 3


def _cube_loss(x):
    return np.sum(_cube(x) * x)


def test_check_grad_catches_a_wrong_second_derivative(clean_registry):
    """The order-2 check can fail: an adjoint right to first order only (it rounds x, and
    np.round carries no derivative) passes order 1 and fails order 2."""
    srcdiff.register_adjoint(_cube, "_cube(x)", x="3 * g * np.round(x, 9) ** 2",
                             tangents={"x": "3 * t * x * x"})
    x = np.array([0.3, -1.2])
    assert check_grad(_cube_loss, x, modes=("forward", "reverse"), order=1).ok
    assert not check_grad(_cube_loss, x, modes=("forward", "reverse"), order=2, raise_on_error=False).ok


# -- reverse over reverse through loops ------------------------------------------------


def _tanh_chain(x):
    h = x
    for _ in range(3):
        h = np.tanh(h * x)
    return np.sum(h)


def _sine_power(x):
    y = x
    for _ in range(3):
        y = np.sin(y) * x
    return y


def _while_with_branch(x):
    s = 0.0
    i = 0
    while i < 4:
        if np.sum(x) * i > 0.5:
            s = s + np.sum(np.sin(x * s))
        else:
            s = s + np.sum(x * x) * 0.5
        i += 1
    return s


_d_tanh_chain = srcdiff.grad(_tanh_chain)


def _gradient_penalty(x):
    """A loss of a gradient (as in a gradient penalty): reverse over reverse."""
    return np.sum(_d_tanh_chain(x) ** 2)


def _numeric(f, x, eps=1e-6):
    if np.ndim(x) == 0:
        return (f(x + eps) - f(x - eps)) / (2 * eps)
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        out.flat[i] = np.sum(f(x + e) - f(x - e)) / (2 * eps)
    return out


def test_gradient_of_a_loss_of_a_gradient_through_a_loop():
    x = np.array([0.3, -0.2, 0.5])
    np.testing.assert_allclose(srcdiff.grad(_gradient_penalty)(x), _numeric(_gradient_penalty, x), rtol=1e-6)


@pytest.mark.parametrize("order", [2, 3])
def test_grad_of_grad_through_a_loop(order):
    d = _sine_power
    for _ in range(order):
        lower, d = d, srcdiff.grad(d)
    assert d(0.7) == pytest.approx(_numeric(lower, 0.7), rel=1e-6)


def test_grad_of_grad_through_a_while_loop_with_a_branch():
    x = np.array([0.4, 0.3])
    first = srcdiff.grad(_while_with_branch)
    second = srcdiff.grad(lambda x: np.sum(first(x) ** 2))
    want = _numeric(lambda x: np.sum(first(x) ** 2), x)
    np.testing.assert_allclose(second(x), want, rtol=1e-5, atol=1e-8)
