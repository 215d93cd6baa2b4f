"""The public reverse-mode API (grad, value_and_grad, vjp, source) against DESIGN.md's contract.

Every gradient is checked against central finite differences (srcdiff.testing) or an
analytic formula written here, never against numbers taken from srcdiff's own output.
"""

from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import numpy as onp
import pytest

import srcdiff
from srcdiff.testing import check_grad, numerical_grad

from .conftest import make_function

RTOL = 1e-6
ATOL = 1e-7


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def fd(fn, args, argnum, cotangent=None):
    return numerical_grad(fn, tuple(args), argnum, cotangent=cotangent)


def tree_close(got, want):
    """Same container structure (types included) and close leaves."""
    assert type(got) is type(want) or (isinstance(want, float) and isinstance(got, float)), (
        f"{type(got).__name__} where {type(want).__name__} was expected")
    if isinstance(want, dict):
        assert set(got) == set(want)
        for k in want:
            tree_close(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            tree_close(a, b)
    else:
        assert np.shape(got) == np.shape(want)
        close(got, want)


# -- functions used by several tests, here and in test_arguments.py (srcdiff reads them here) --


def poly(x, y):
    z = x * x + x * y + 2
    return z


def weighted(x, w, b):
    return np.sum(np.tanh(x * w) + b * x)


def kwonly(x, *, scale, shift=0.5):
    return np.sum(scale * x ** 2 + shift * x)


def dict_loss(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum(h ** 2) * params["scale"]


# -- decorator and call forms --------------------------------------------------------


def test_decorator_without_arguments():
    @srcdiff.grad
    def f(x):
        return np.sum(np.sin(x) * x)

    x = np.array([0.1, 0.5, 2.0])
    close(f(x), np.cos(x) * x + np.sin(x))


def test_decorator_with_wrt():
    @srcdiff.grad(wrt=(0, "b"))
    def f(a, b):
        return a * b * b

    ga, gb = f(2.0, 3.0)
    close(ga, 9.0)
    close(gb, 12.0)


def test_call_form_with_wrt():
    g = srcdiff.grad(poly, wrt=1)
    close(g(-1.5, 2.0), -1.5)


def test_value_and_grad_decorator_forms():
    @srcdiff.value_and_grad
    def f(x):
        return x ** 3

    @srcdiff.value_and_grad(wrt="y")
    def h(x, y):
        return x * y ** 2

    value, g = f(2.0)
    close(value, 8.0)
    close(g, 12.0)
    value, g = h(3.0, 2.0)
    close(value, 12.0)
    close(g, 12.0)


def test_derivative_has_the_function_signature():
    for transform in (srcdiff.grad, srcdiff.value_and_grad, srcdiff.vjp):
        assert inspect.signature(transform(kwonly)) == inspect.signature(kwonly)


def test_derivative_keeps_the_name_and_repr():
    d = srcdiff.grad(poly)
    assert "poly" in d.__name__
    assert "poly" in repr(d)


def test_grad_of_grad():
    def f(x):
        return x ** 3

    close(srcdiff.grad(srcdiff.grad(f))(2.0), 12.0)


# -- vjp -----------------------------------------------------------------------------


def vec_fn(x, W):
    return np.tanh(W @ x) * 2.0


def test_vjp_array_output():
    rng = np.random.default_rng(1)
    x = rng.normal(size=3)
    W = rng.normal(size=(4, 3))
    out, pullback = srcdiff.vjp(vec_fn)(x, W)
    close(out, vec_fn(x, W))
    u = rng.normal(size=4)
    close(pullback(u), fd(vec_fn, (x, W), 0, cotangent=u))
    # The pullback can be called again with another cotangent.
    v = rng.normal(size=4)
    close(pullback(v), fd(vec_fn, (x, W), 0, cotangent=v))


def test_vjp_wrt_tuple():
    rng = np.random.default_rng(2)
    x = rng.normal(size=3)
    W = rng.normal(size=(4, 3))
    u = rng.normal(size=4)
    out, pullback = srcdiff.vjp(vec_fn, wrt=("W", 0))(x, W)
    gW, gx = pullback(u)
    close(gW, fd(vec_fn, (x, W), 1, cotangent=u))
    close(gx, fd(vec_fn, (x, W), 0, cotangent=u))


def two_outputs(x, y):
    return x * y, np.sum(np.sin(x))


def test_vjp_tuple_output_takes_a_tuple_cotangent():
    x = np.array([0.3, 1.0, -2.0])
    y = np.array([2.0, 0.5, 1.5])
    out, pullback = srcdiff.vjp(two_outputs, wrt=(0, 1))(x, y)
    assert isinstance(out, tuple) and len(out) == 2
    close(out[0], x * y)
    close(out[1], np.sum(np.sin(x)))
    u = (np.array([1.0, -1.0, 0.5]), 2.0)
    gx, gy = pullback(u)
    close(gx, u[0] * y + u[1] * np.cos(x))
    close(gy, u[0] * x)
    close(gx, fd(two_outputs, (x, y), 0, cotangent=u))
    close(gy, fd(two_outputs, (x, y), 1, cotangent=u))


def test_vjp_scalar_output():
    out, pullback = srcdiff.vjp(poly)(3.0, 4.0)
    close(out, 23.0)
    close(pullback(2.0), 20.0)


# -- value_and_grad --------------------------------------------------------------


def test_value_and_grad_value_equals_function():
    rng = np.random.default_rng(3)
    x = rng.normal(size=3)
    w = rng.normal(size=3)
    value, (gx, gb) = srcdiff.value_and_grad(weighted, wrt=(0, 2))(x, w, 0.25)
    assert value == weighted(x, w, 0.25)
    close(gx, fd(weighted, (x, w, 0.25), 0))
    close(gb, fd(weighted, (x, w, 0.25), 2))


def test_value_and_grad_float():
    value, g = srcdiff.value_and_grad(poly)(3.0, 4.0)
    assert value == poly(3.0, 4.0)
    close(g, 10.0)


# -- .source -------------------------------------------------------------------


def test_source_attribute_on_every_returned_function():
    for transform in (srcdiff.grad, srcdiff.value_and_grad, srcdiff.vjp):
        d = transform(poly)
        d(1.0, 2.0)
        assert isinstance(d.source, str)
        assert "def " in d.source


def test_source_attribute_before_any_call():
    assert "def " in srcdiff.grad(weighted).source


def test_source_of_a_third_derivative_before_any_call():
    """The kinds guessed for the code of a derivative of a derivative of a derivative come
    from the user's function under all of them."""
    f = make_function("def f(x):\n    return np.sum(np.sin(x) ** 3)\n")
    text = srcdiff.jvp(srcdiff.grad(srcdiff.grad(f))).source
    assert text.startswith("def jvp_")


def test_source_function():
    for kind in ("grad", "value_and_grad", "vjp"):
        text = srcdiff.source(poly, kind=kind, wrt=(0, 1))
        assert isinstance(text, str) and "def " in text


# -- inputs are not mutated, outputs are writable --------------------------------------


def test_inputs_are_not_mutated():
    rng = np.random.default_rng(4)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "scale": 0.7}
    x = rng.normal(size=(4, 3))
    before = copy.deepcopy((params, x))
    srcdiff.grad(dict_loss, wrt=(0, 1))(params, x)
    srcdiff.value_and_grad(dict_loss)(params, x)
    _, pullback = srcdiff.vjp(dict_loss)(params, x)
    pullback(1.0)
    assert set(params) == set(before[0])
    for k in params:
        np.testing.assert_array_equal(params[k], before[0][k])
    np.testing.assert_array_equal(x, before[1])


def test_inputs_are_not_mutated_indexing_and_augmented_assignment():
    def f(x):
        y = x
        y += 1.0
        y = y[[0, 0, 1]]
        return np.sum(y * y)

    x = np.array([1.0, 2.0, 3.0])
    x0 = x.copy()
    g = srcdiff.grad(f)(x)
    np.testing.assert_array_equal(x, x0)
    close(g, fd(f, (x0.copy(),), 0))


def assigns_entries(x):
    y = x * 2.0
    y[0] = 5.0
    y[1:] += x[:-1] ** 2
    return np.sum(y ** 2)


def test_assignment_into_entries_does_not_mutate_inputs():
    x = np.array([0.5, -1.0, 2.0, 1.5])
    x0 = x.copy()
    g = srcdiff.grad(assigns_entries)(x)
    np.testing.assert_array_equal(x, x0)
    y = 2.0 * x0
    y[0] = 5.0
    y[1:] += x0[:-1] ** 2
    want = 2 * y * 2.0
    want[0] = 0.0
    want[:-1] += 2 * y[1:] * 2 * x0[:-1]
    close(g, want)
    close(g, fd(assigns_entries, (x0,), 0))


def test_pullback_does_not_mutate_cotangent():
    x = np.array([0.3, 1.0, -2.0])
    W = np.eye(3)
    out, pullback = srcdiff.vjp(vec_fn)(x, W)
    u = np.array([1.0, 2.0, 3.0])
    u0 = u.copy()
    pullback(u)
    np.testing.assert_array_equal(u, u0)


def _writable_cases():
    x3 = np.array([0.5, -1.0, 2.0])
    return [
        ("sum", lambda x: np.sum(x), x3),
        ("mean", lambda x: np.mean(x), x3),
        ("method-mean", lambda x: x.mean(), x3),
        ("max", lambda x: np.max(x), x3),
        ("index", lambda x: x[1], x3),
        ("slice", lambda x: np.sum(x[::-1]), x3),
        ("broadcast-scalar", lambda x: np.sum(x * np.ones((2, 3))), np.array([1.0])),
        ("broadcast-row", lambda x: np.sum(x + np.ones((4, 3))), x3),
        ("unused", lambda x: 3.0, x3),
        ("scalar-output", lambda x: np.sum(x) * 0.0 + 1.0, x3),
        ("matmul", lambda x: np.sum(x @ np.ones((3, 2))), x3),
        ("reshape", lambda x: np.sum(x.reshape(3, 1) * 2.0), x3),
        ("transpose", lambda x: np.sum(x.T), np.ones((2, 3))),
        ("broadcast_to", lambda x: np.sum(np.broadcast_to(x, (4, 3))), x3),
    ]


@pytest.mark.parametrize("case", _writable_cases(), ids=lambda c: c[0])
def test_gradients_are_writable_arrays(case):
    _, fn, x = case
    g = srcdiff.grad(fn)(x.copy())
    assert isinstance(g, np.ndarray)
    assert g.shape == x.shape
    assert g.flags.writeable
    want = fd(fn, (x.copy(),), 0)
    g -= 0.1 * g  # a user updating the gradient in place must not fail
    close(g, 0.9 * want)


def test_gradients_writable_in_dict_and_tuple():
    params = {"W": np.ones((3, 2)), "b": np.zeros(2), "scale": 1.0, "unused": np.ones(2)}
    g = srcdiff.grad(dict_loss)(params, np.ones((1, 3)))
    for k in ("W", "b", "unused"):
        assert g[k].flags.writeable
        g[k] *= 2.0
    g2 = srcdiff.grad(weighted, wrt=(0, 1))(np.ones(3), np.ones(3), 1.0)
    for arr in g2:
        arr += 1.0


def test_gradients_of_one_call_do_not_alias_each_other():
    def f(x, y):
        return np.sum(x + y)

    gx, gy = srcdiff.grad(f, wrt=(0, 1))(np.ones(3), np.ones(3))
    gx += 10.0
    close(gy, np.ones(3))


def test_pullback_result_does_not_alias_the_cotangent():
    def f(x):
        return x * 1.0

    _, pullback = srcdiff.vjp(f)(np.ones(3))
    u = np.array([1.0, 2.0, 3.0])
    g = pullback(u)
    g *= 0.0
    close(u, [1.0, 2.0, 3.0])


def test_pullback_with_accumulation_does_not_mutate_cotangent():
    def f(x):
        return x + x * 2.0 + np.sin(x)

    x = np.array([0.1, 0.2, 0.3])
    _, pullback = srcdiff.vjp(f)(x)
    u = np.array([1.0, -2.0, 0.5])
    g = pullback(u)
    close(u, [1.0, -2.0, 0.5])
    close(g, u * (3.0 + np.cos(x)))


def test_gradients_of_separate_calls_do_not_alias():
    def f(x):
        return np.sum(x)

    d = srcdiff.grad(f)
    g1 = d(np.ones(3))
    g1 += 5.0
    g2 = d(np.ones(3))
    close(g2, np.ones(3))


# -- globals, closures, aliases, math ----------------------------------------------

SCALE = 2.5


def uses_global(x):
    return np.sum(SCALE * x ** 2)


def test_function_using_a_global():
    global SCALE
    x = np.array([1.0, -2.0])
    d = srcdiff.grad(uses_global)
    close(d(x), 2 * 2.5 * x)
    old = SCALE
    SCALE = 4.0
    try:
        close(d(x), 2 * 4.0 * x)  # the global is read at call time, as Python would
    finally:
        SCALE = old


def test_function_using_a_closure():
    def make(a):
        def f(x):
            return np.sum(np.exp(a * x))

        return f

    f = make(0.5)
    x = np.array([0.1, 0.2])
    close(srcdiff.grad(f)(x), 0.5 * np.exp(0.5 * x))


def test_closure_variable_rebound_after_gradient_was_made():
    a = 2.0

    def f(x):
        return a * x * x

    d = srcdiff.grad(f)
    close(d(3.0), 12.0)
    a = 5.0
    assert f(3.0) == 45.0
    close(d(3.0), 30.0)  # the derivative sees the new value, as f does
    a = -1.0
    close(srcdiff.grad(f)(3.0), -6.0)


def test_closure_array_rebound_after_gradient_was_made():
    w = np.array([1.0, 2.0])

    def f(x):
        return np.sum(w * np.sin(x))

    d = srcdiff.grad(f)
    x = np.array([0.3, 0.4])
    close(d(x), w * np.cos(x))
    w = np.array([-3.0, 0.5])
    close(d(x), np.array([-3.0, 0.5]) * np.cos(x))


def test_closure_function_rebound_after_gradient_was_made():
    act = np.tanh

    def f(x):
        return np.sum(act(x))

    d = srcdiff.grad(f)
    x = np.array([0.3, 0.5])
    close(d(x), 1 - np.tanh(x) ** 2)
    act = np.sin
    close(d(x), np.cos(x))
    close(srcdiff.grad(f)(x), np.cos(x))


def uses_alias(x):
    return onp.sum(onp.log(onp.exp(x) + 1.0))


def test_module_alias():
    x = np.array([-1.0, 0.0, 2.0])
    close(srcdiff.grad(uses_alias)(x), 1 / (1 + np.exp(-x)))


def test_module_alias_via_make_function():
    f = make_function(
        "import numpy as onp\n"
        "def f(x):\n"
        "    return onp.sum(onp.sin(x) ** 2)\n"
    )
    x = np.array([0.2, 1.1])
    close(srcdiff.grad(f)(x), 2 * np.sin(x) * np.cos(x))


def uses_math(x, y):
    return math.sin(x) * math.exp(y) + math.sqrt(x) - math.log(y) + math.tanh(x * y)


def test_math_functions_on_floats():
    x, y = 0.7, 1.3
    gx, gy = srcdiff.grad(uses_math, wrt=(0, 1))(x, y)
    assert isinstance(gx, float) and isinstance(gy, float)
    close(gx, math.cos(x) * math.exp(y) + 0.5 / math.sqrt(x) + y / math.cosh(x * y) ** 2)
    close(gy, math.sin(x) * math.exp(y) - 1 / y + x / math.cosh(x * y) ** 2)


# -- methods, indexing, broadcasting -------------------------------------------------


def methods(x, v):
    a = x.sum(axis=0)
    b = x.mean()
    c = x.T
    d = x.reshape(2, 3)
    e = d.dot(v)
    return np.sum(a * a) + b + np.sum(c[0] * 3.0) + np.sum(e ** 2)


def test_array_methods():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 2))
    v = rng.normal(size=3)
    gx, gv = srcdiff.grad(methods, wrt=(0, 1))(x, v)
    close(gx, fd(methods, (x, v), 0))
    close(gv, fd(methods, (x, v), 1))


def test_sum_axis_method_analytic():
    def f(x):
        s = x.sum(axis=1)
        return np.sum(s ** 2)

    x = np.arange(6.0).reshape(2, 3)
    want = np.repeat(2 * x.sum(axis=1, keepdims=True), 3, axis=1)
    close(srcdiff.grad(f)(x), want)


def test_fancy_index_with_repeats_counts_each_repeat():
    def f(x):
        return np.sum(x[[0, 0, 1]] * np.array([1.0, 2.0, 4.0]))

    x = np.array([10.0, 20.0, 30.0])
    close(srcdiff.grad(f)(x), [3.0, 4.0, 0.0])


def test_fancy_index_with_repeats_nonlinear():
    def f(x):
        y = x[[2, 0, 2, 2]]
        return np.sum(y ** 2)

    x = np.array([1.0, -2.0, 3.0])
    close(srcdiff.grad(f)(x), [2.0, 0.0, 6 * 3.0])


def test_boolean_mask():
    def f(x):
        return np.sum(x[x > 0] ** 2)

    x = np.array([1.0, -2.0, 3.0, -0.5])
    close(srcdiff.grad(f)(x), [2.0, 0.0, 6.0, 0.0])


def test_negative_step_slices():
    def f(x):
        w = np.arange(1.0, 4.0)
        return np.sum(x[::-2] * w) + np.sum(x[4:0:-1] ** 2)

    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    g = srcdiff.grad(f)(x)
    close(g, fd(f, (x,), 0))
    # x[::-2] = x[4], x[2], x[0] weighted 1, 2, 3; x[4:0:-1] = x[4], x[3], x[2], x[1]
    close(g, [3.0, 4.0, 2.0 + 6.0, 8.0, 1.0 + 10.0])


def test_broadcasting_between_column_and_row():
    def f(a, b):
        return np.sum(np.sin(a * b) + a - b)

    a = np.array([[0.1], [0.2], [0.3]])
    b = np.array([[1.0, 2.0, 3.0, 4.0]])
    ga, gb = srcdiff.grad(f, wrt=(0, 1))(a, b)
    assert ga.shape == (3, 1) and gb.shape == (1, 4)
    close(ga, np.sum(b * np.cos(a * b) + 1.0, axis=1, keepdims=True))
    close(gb, np.sum(a * np.cos(a * b) - 1.0, axis=0, keepdims=True))


def test_broadcasting_scalar_against_array():
    def f(s, x):
        return np.sum((x - s) ** 2)

    x = np.array([1.0, 2.0, 4.0])
    g = srcdiff.grad(f)(0.5, x)
    assert isinstance(g, float)
    close(g, -2 * np.sum(x - 0.5))


# -- assignments ----------------------------------------------------------------


def reassigned(x):
    y = x
    y = y * 2.0
    y = np.sin(y)
    y = y + x
    y = y * y
    y = np.sum(y)
    return y


def test_same_variable_reassigned_many_times():
    x = np.array([0.1, -0.4, 0.9])
    inner = np.sin(2 * x) + x
    close(srcdiff.grad(reassigned)(x), 2 * inner * (2 * np.cos(2 * x) + 1))


def swaps(a, b):
    a, b = b, a
    a, b = a * 2.0, b - a
    c, (d, e) = a, (b, a * b)
    return c * d + e ** 2


def test_tuple_unpacking_and_swap():
    ga, gb = srcdiff.grad(swaps, wrt=(0, 1))(1.5, -0.5)
    close(ga, fd(swaps, (1.5, -0.5), 0))
    close(gb, fd(swaps, (1.5, -0.5), 1))


def test_swap_analytic():
    def f(a, b):
        a, b = b, a
        return a * 10.0 + b

    ga, gb = srcdiff.grad(f, wrt=(0, 1))(1.0, 2.0)
    close(ga, 1.0)
    close(gb, 10.0)


def augmented(x, y):
    z = x * 1.0
    z += y
    z *= x
    z -= 2.0 * y
    z /= 4.0
    z **= 2
    return np.sum(z)


def test_augmented_assignment():
    x = np.array([0.5, 1.0, -1.5])
    y = np.array([2.0, -0.3, 0.1])
    gx, gy = srcdiff.grad(augmented, wrt=(0, 1))(x, y)
    z = ((x + y) * x - 2.0 * y) / 4.0
    close(gx, 2 * z * (2 * x + y) / 4.0)
    close(gy, 2 * z * (x - 2.0) / 4.0)


# -- zero gradients ------------------------------------------------------------


def test_unused_argument_has_zero_gradient():
    def f(x, unused, u2):
        return np.sum(x ** 2)

    x = np.array([1.0, 2.0])
    gx, gu, gu2 = srcdiff.grad(f, wrt=(0, 1, 2))(x, np.ones((2, 3)), 4.0)
    close(gx, 2 * x)
    assert gu.shape == (2, 3) and not np.any(gu)
    assert gu.dtype == np.float64
    assert isinstance(gu2, float) and gu2 == 0.0


def test_output_independent_of_wrt_has_zero_gradient():
    def f(x, y):
        k = np.argmax(x)
        return np.sum(y ** 2) + k

    x = np.array([1.0, 3.0, 2.0])
    g = srcdiff.grad(f)(x, np.ones(2))
    assert g.shape == x.shape and not np.any(g)
    assert srcdiff.grad(lambda x: 3.0)(2.0) == 0.0


def test_constant_output_zero_gradient_array():
    def f(x):
        return 1.0

    g = srcdiff.grad(f)(np.ones((2, 2)))
    assert g.shape == (2, 2) and not np.any(g)


# -- methods on classes ----------------------------------------------------------


class Model:
    def __init__(self, c):
        self.c = c

    @staticmethod
    def square_sum(x):
        return np.sum(x ** 2)

    def loss(self, x):
        return np.sum(self.c * np.sin(x))


def test_staticmethod():
    x = np.array([1.0, -2.0])
    close(srcdiff.grad(Model.square_sum)(x), 2 * x)
    close(srcdiff.grad(Model.__dict__["square_sum"])(x), 2 * x)


def test_plain_method_with_self_holding_a_constant():
    m = Model(3.0)
    x = np.array([0.2, 0.4])
    close(srcdiff.grad(Model.loss, wrt=1)(m, x), 3.0 * np.cos(x))
    close(srcdiff.grad(Model.loss, wrt="x")(m, x), 3.0 * np.cos(x))


def test_bound_method():
    m = Model(-2.0)
    x = np.array([0.2, 0.4])
    close(srcdiff.grad(m.loss)(x), -2.0 * np.cos(x))


class Decorated:
    def __init__(self, c):
        self.c = c

    @srcdiff.grad(wrt="x")
    def loss_grad(self, x):
        return self.c * x ** 3


def test_grad_decorating_a_method():
    close(Decorated(2.0).loss_grad(1.5), 2.0 * 3 * 1.5 ** 2)


# -- whole programs checked with check_grad -------------------------------------------


def mlp_loss(W1, b1, W2, x, y):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2
    return np.mean((out - y) ** 2)


def test_check_grad_on_a_small_network():
    rng = np.random.default_rng(6)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 1)),
            rng.normal(size=(5, 3)), rng.normal(size=(5, 1)))
    assert check_grad(mlp_loss, *args, wrt=(0, 1, 2))
