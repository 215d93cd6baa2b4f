"""Which arguments are differentiated and what their gradients look like: ``wrt`` by
position, name or both, keyword-only parameters and defaults, and the kind of each
gradient (a Python float for a float, a float64 array of the argument's shape, a
container of the argument's structure).

Every gradient is checked against central finite differences (srcdiff.testing) or an
analytic formula written here, never against numbers taken from srcdiff's own output.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff

from .conftest import check_points_at_def
from .test_api import close, dict_loss, fd, kwonly, poly, tree_close, weighted

# -- wrt -----------------------------------------------------------------------------


def test_wrt_default_is_first_argument():
    g = srcdiff.grad(poly)(3.0, 4.0)
    assert isinstance(g, float)
    close(g, 2 * 3.0 + 4.0)


def test_wrt_int():
    close(srcdiff.grad(poly, wrt=1)(3.0, 4.0), 3.0)


def test_wrt_str():
    close(srcdiff.grad(poly, wrt="y")(3.0, 4.0), 3.0)
    close(srcdiff.grad(poly, wrt="x")(3.0, 4.0), 10.0)


def test_wrt_tuple_mixed_int_and_str_keeps_order():
    x = np.array([0.3, -1.2, 0.7])
    w = np.array([1.5, 0.2, -0.4])
    b = 0.8
    args = (x, w, b)
    gb, gx, gw = srcdiff.grad(weighted, wrt=("b", 0, "w"))(*args)
    close(gb, fd(weighted, args, 2))
    close(gx, fd(weighted, args, 0))
    close(gw, fd(weighted, args, 1))
    assert isinstance(gb, float)
    assert gx.shape == x.shape and gw.shape == w.shape


def test_wrt_one_element_tuple_gives_a_tuple():
    got = srcdiff.grad(poly, wrt=(1,))(3.0, 4.0)
    assert isinstance(got, tuple) and len(got) == 1
    close(got[0], 3.0)


# -- keyword-only parameters, keywords, defaults --------------------------------------


def test_keyword_only_parameter_as_wrt():
    x = np.array([1.0, -2.0, 0.5])
    got = srcdiff.grad(kwonly, wrt="scale")(x, scale=1.5)
    assert isinstance(got, float)
    close(got, np.sum(x ** 2))


def test_keyword_only_with_default_as_wrt():
    x = np.array([1.0, -2.0, 0.5])
    close(srcdiff.grad(kwonly, wrt="shift")(x, scale=1.5), np.sum(x))
    close(srcdiff.grad(kwonly, wrt="shift")(x, scale=1.5, shift=3.0), np.sum(x))


def test_positional_argument_passed_by_keyword():
    x = np.array([1.0, -2.0, 0.5])
    got = srcdiff.grad(kwonly, wrt=0)(x=x, scale=1.5, shift=0.25)
    close(got, 2 * 1.5 * x + 0.25)


def test_gradient_uses_default_values():
    def f(x, a=3.0):
        return np.sum(a * x ** 2)

    x = np.array([0.5, 1.5])
    close(srcdiff.grad(f)(x), 6.0 * x)
    close(srcdiff.grad(f)(x, 1.0), 2.0 * x)
    close(srcdiff.grad(f, wrt="a")(x), np.sum(x ** 2))


def test_wrt_default_parameter_not_passed():
    def f(x, a=3.0):
        return a * a * x

    got = srcdiff.grad(f, wrt="a")(2.0)
    assert isinstance(got, float)
    close(got, 12.0)


# -- gradient structure --------------------------------------------------------------


def test_float_argument_gives_python_float():
    g = srcdiff.grad(lambda x: x * x)(3.0)
    assert isinstance(g, float)
    close(g, 6.0)


def test_array_argument_gives_float64_array_of_same_shape():
    def f(x):
        return np.sum(x ** 3)

    for shape in [(3,), (2, 3), (2, 1, 3), (1,)]:
        x = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
        g = srcdiff.grad(f)(x)
        assert isinstance(g, np.ndarray)
        assert g.shape == shape
        assert g.dtype == np.float64
        close(g, 3 * x ** 2)


def test_zero_dimensional_array_argument_gives_array():
    def f(x):
        return x * x * 2.0

    g = srcdiff.grad(f)(np.array(1.5))
    assert np.shape(g) == ()
    close(g, 6.0)


def test_numpy_scalar_inputs():
    def f(x, y):
        return x * np.sin(y)

    x, y = np.float64(1.5), np.float64(0.3)
    gx, gy = srcdiff.grad(f, wrt=(0, 1))(x, y)
    close(gx, np.sin(0.3))
    close(gy, 1.5 * np.cos(0.3))
    assert np.ndim(gx) == 0 and np.ndim(gy) == 0


def test_numpy_float32_scalar_input():
    def f(x):
        return x * x

    g = srcdiff.grad(f)(np.float32(1.5))
    assert np.ndim(g) == 0
    np.testing.assert_allclose(float(g), 3.0, rtol=1e-6)


def test_size_one_array_output_accepted_by_grad():
    def f(x):
        return x[0:1] * x[1]  # shape (1,)

    x = np.array([2.0, 3.0, 4.0])
    g = srcdiff.grad(f)(x)
    close(g, fd(f, (x,), 0))
    close(g, [3.0, 2.0, 0.0])


def test_size_one_2d_array_output_accepted_by_grad():
    def f(x, W):
        return x @ W @ x.T  # (1, 2) @ (2, 2) @ (2, 1) -> (1, 1)

    x = np.array([[1.0, -0.5]])
    W = np.array([[2.0, 0.5], [0.3, -1.0]])
    g = srcdiff.grad(f)(x, W)
    assert g.shape == x.shape
    close(g, x @ (W + W.T))


def test_numpy_scalar_output_accepted_by_grad():
    def f(x):
        return np.float64(2.0) * np.sum(x)

    close(srcdiff.grad(f)(np.ones(3)), 2.0 * np.ones(3))


# -- containers ----------------------------------------------------------------------


def test_gradient_wrt_dict():
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "scale": 0.7,
              "unused": np.ones(4)}
    x = rng.normal(size=(4, 3))
    g = srcdiff.grad(dict_loss)(params, x)
    assert isinstance(g, dict)
    assert set(g) == set(params)
    tree_close(g, fd(dict_loss, (params, x), 0))
    assert isinstance(g["scale"], float)
    assert g["unused"].shape == (4,)
    assert not np.any(g["unused"])


def list_loss(ws, x):
    return np.sum(ws[0] * x) + ws[2] * np.sum(x ** 2)


def test_gradient_wrt_list():
    x = np.array([1.0, 2.0, -1.0])
    ws = [np.array([0.5, -0.5, 2.0]), np.array([9.0]), 1.5]
    g = srcdiff.grad(list_loss)(ws, x)
    assert type(g) is list and len(g) == 3
    close(g[0], x)
    close(g[1], np.zeros(1))
    assert g[1].shape == (1,)
    close(g[2], np.sum(x ** 2))
    assert isinstance(g[2], float)
    tree_close(g, fd(list_loss, (ws, x), 0))


def tuple_loss(pair):
    a, b = pair
    return np.sum(a * b) + np.sum(a)


def test_gradient_wrt_tuple_stays_tuple():
    a = np.array([1.0, 2.0])
    b = np.array([3.0, -1.0])
    g = srcdiff.grad(tuple_loss)((a, b))
    assert type(g) is tuple and len(g) == 2
    close(g[0], b + 1.0)
    close(g[1], a)


def nested_loss(p):
    inner = p["layers"][1]
    return np.sum(inner["w"] ** 2) + p["layers"][0][0] * p["bias"][1]


def test_gradient_wrt_nested_containers():
    p = {
        "layers": [(2.0, np.array([5.0])), {"w": np.array([[1.0, 2.0], [3.0, 4.0]]), "k": 7.0}],
        "bias": (0.5, -1.5, np.zeros(2)),
    }
    g = srcdiff.grad(nested_loss)(p)
    assert type(g) is dict and set(g) == {"layers", "bias"}
    assert type(g["layers"]) is list
    assert type(g["layers"][0]) is tuple
    assert type(g["layers"][1]) is dict and set(g["layers"][1]) == {"w", "k"}
    assert type(g["bias"]) is tuple and len(g["bias"]) == 3
    close(g["layers"][1]["w"], 2 * p["layers"][1]["w"])
    close(g["layers"][0][0], -1.5)
    close(g["bias"][1], 2.0)
    close(g["layers"][0][1], np.zeros(1))
    close(g["layers"][1]["k"], 0.0)
    close(g["bias"][0], 0.0)
    close(g["bias"][2], np.zeros(2))
    tree_close(g, fd(nested_loss, (p,), 0))


def test_container_and_array_wrt_together():
    params = {"W": np.eye(3)[:, :2] + 0.1, "b": np.array([0.1, -0.2]), "scale": 2.0}
    x = np.array([[0.5, -1.0, 2.0]])
    gp, gx = srcdiff.grad(dict_loss, wrt=(0, "x"))(params, x)
    tree_close(gp, fd(dict_loss, (params, x), 0))
    close(gx, fd(dict_loss, (params, x), 1))


def test_float_leaf_of_a_dict_gets_a_float():
    def f(p):
        return np.sum(p["a"]) + np.sum(p["b"] ** 2)

    g = srcdiff.grad(f)({"a": np.ones(2), "b": 2.0})
    assert type(g["b"]) is float and g["b"] == 4.0
    close(g["a"], np.ones(2))


# -- wrt -------------------------------------------------------------------------------


def two_args(x, y):
    return x * y


@pytest.mark.parametrize("wrt", ["z", ("x", "nope"), 2, -1, (0, 5), True, False, 1.0, None, (0, True)],
                         ids=repr)
def test_bad_wrt(wrt):
    with pytest.raises(srcdiff.ArgumentError) as info:
        srcdiff.grad(two_args, wrt=wrt)(1.0, 2.0)
    check_points_at_def(info.value, two_args)


def test_bad_wrt_is_reported_when_the_derivative_is_made():
    with pytest.raises(srcdiff.ArgumentError, match="'z'"):
        srcdiff.grad(two_args, wrt="z")
    with pytest.raises(srcdiff.ArgumentError, match="2"):
        srcdiff.vjp(two_args, wrt=2)
    with pytest.raises(srcdiff.ArgumentError):
        srcdiff.value_and_grad(two_args, wrt=True)


def test_wrt_name_message_lists_the_parameters():
    with pytest.raises(srcdiff.ArgumentError) as info:
        srcdiff.grad(two_args, wrt="z")
    assert "'x'" in str(info.value) and "'y'" in str(info.value)


def test_argument_error_is_also_a_type_error():
    with pytest.raises(TypeError):
        srcdiff.grad(two_args, wrt="z")


@pytest.mark.parametrize(
    "value",
    [2, True, np.int64(2), np.array([1, 2]), np.array([True, False]), "a", None, {1.0}],
    ids=["int", "bool", "np.int64", "int-array", "bool-array", "str", "None", "set"],
)
def test_non_float_argument_in_wrt(value):
    with pytest.raises(srcdiff.ArgumentError) as info:
        srcdiff.grad(two_args)(value, 2.0)
    assert "'x'" in str(info.value)
    check_points_at_def(info.value, two_args)


def test_non_float_argument_passed_by_keyword():
    with pytest.raises(srcdiff.ArgumentError):
        srcdiff.grad(two_args, wrt="y")(1.0, y=3)


def test_integer_argument_outside_wrt_is_fine():
    np.testing.assert_allclose(srcdiff.grad(two_args)(2.0, 3), 3.0)
