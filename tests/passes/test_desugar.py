"""Methods that change their receiver, spelled as new values: ``y.sort()``,
``y.fill(c)``, ``lst.extend(more)``, ``lst.reverse()``, ``lst.insert(i, v)`` and
``lst.clear()`` on a local name.  Each is exact in reverse and forward mode (against
central finite differences), to second order, and leaves the caller's arguments as
they were; where another name that shares the receiver is read afterwards (Python's
change would show through it), the program is refused before it runs.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff
from srcdiff.testing import numerical_grad

from ..conftest import make_function

X = np.array([0.9, 0.5, 0.7, 1.1])


def _forward_gradient(f, x):
    out = np.zeros(np.shape(x))
    for k in np.ndindex(np.shape(x)):
        t = np.zeros(np.shape(x))
        t[k] = 1.0
        out[k] = srcdiff.jvp(f)(x.copy(), t)[1]
    return out


def assert_exact(src, x=X, second=True):
    """Reverse and forward mode, and the Hessian, against central finite differences;
    the argument is left as it was."""
    f = make_function(src)
    expected = numerical_grad(f, (x.copy(),), 0)
    arg = x.copy()
    np.testing.assert_allclose(srcdiff.grad(f)(arg), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(arg, x)  # y.sort() on the argument sorts a copy
    np.testing.assert_allclose(_forward_gradient(f, x), expected, rtol=1e-6, atol=1e-8)
    if second:
        g = srcdiff.grad(f)
        expected_h = np.array([numerical_grad(lambda v, i=i: g(v)[i], (x.copy(),), 0) for i in range(x.size)])
        arg = x.copy()
        np.testing.assert_allclose(srcdiff.hessian(f)(arg), expected_h, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(arg, x)


def assert_refused(src, line_text, x=X):
    """Every derivative refuses the function before it runs (the argument is left as it
    was), at the line of the write."""
    f = make_function(src)
    for make in (srcdiff.grad, srcdiff.jvp):
        with pytest.raises(srcdiff.UnsupportedSyntaxError) as info:
            derivative = make(f)
            derivative(x.copy(), np.ones_like(x)) if make is srcdiff.jvp else derivative(x.copy())
        assert info.value.loc is not None and line_text in info.value.loc.text, str(info.value)
        assert info.value.hint


# -- arrays -------------------------------------------------------------------------------


def test_sort_of_a_copy():
    assert_exact("def f(x):\n    y = x * x\n    y.sort()\n    return np.sum(y * np.arange(4.0) * y)\n")


def test_sort_of_the_argument_sorts_a_copy():
    assert_exact("def f(x):\n    x.sort()\n    return np.sum(x * np.arange(4.0) * x)\n")


def test_sort_along_an_axis_with_a_kind():
    assert_exact("def f(x):\n    y = np.reshape(x, (2, 2)) * 1.0\n    y.sort(axis=0, kind='stable')\n"
                 "    return np.sum(y * np.arange(4.0).reshape(2, 2) * y)\n")


def test_sort_in_a_loop():
    assert_exact("def f(x):\n    y = x * 1.0\n    for i in range(3):\n        y.sort()\n"
                 "        y = y * x[::-1]\n    return np.sum(y * np.arange(4.0))\n")


def test_fill():
    # the filled value's gradient: the sum of the array's cotangent
    assert_exact("def f(x):\n    y = x * 1.0\n    y.fill(x[0] * x[1])\n    return np.sum(y * x)\n")


def test_fill_of_the_argument():
    assert_exact("def f(x):\n    x.fill(3.0)\n    return np.sum(x * x)\n", second=False)
    f = make_function("def f(x):\n    x.fill(3.0)\n    return np.sum(x * x)\n")
    arg = X.copy()
    assert np.all(srcdiff.grad(f)(arg) == 0.0) and np.array_equal(arg, X)


# -- lists -------------------------------------------------------------------------------


def test_sort_of_a_list():
    assert_exact("def f(x):\n    lst = [x[0] * x[1], x[1], x[2] * 2.0]\n    lst.sort()\n"
                 "    return lst[0] * 3.0 + lst[1] * lst[2]\n")


def test_extend_with_a_list():
    assert_exact("def f(x):\n    lst = [x[0], x[1] * 2.0]\n    lst.extend([x[2] * x[3], x[0]])\n"
                 "    return lst[0] * 3.0 + lst[2] * lst[3] + lst[-1]\n")


def test_extend_with_the_rows_of_an_array():
    assert_exact("def f(x):\n    lst = [x[0]]\n    lst.extend(x[1:] * 2.0)\n"
                 "    return lst[0] * 3.0 + lst[2] * lst[3] + lst[1]\n")


def test_extend_in_a_loop_then_iterate():
    assert_exact("def f(x):\n    lst = []\n    for i in range(3):\n"
                 "        lst.extend([x[i], x[i] * x[i + 1]])\n"
                 "    total = 0.0\n    for v in lst:\n        total = total + v * v\n    return total\n")


def test_reverse():
    assert_exact("def f(x):\n    lst = [x[0], x[1] * 2.0, x[2]]\n    lst.reverse()\n"
                 "    return lst[0] * 3.0 + lst[1] * lst[0]\n")


@pytest.mark.parametrize("i", [0, 1, 2, 7, -1, -9])
def test_insert(i):
    assert_exact(f"def f(x):\n    lst = [x[0], x[1] * 2.0]\n    lst.insert({i}, x[2] * x[3])\n"
                 "    return lst[0] * 3.0 + lst[2] * lst[1] + lst[1] * x[0]\n")


def test_clear_then_append():
    assert_exact("def f(x):\n    lst = [x[0], x[1] * 2.0]\n    lst.clear()\n    lst.append(x[2] * x[3])\n"
                 "    return lst[0] * 3.0 * x[2] + len(lst)\n")


def test_reverse_and_extend_in_a_loop():
    assert_exact("def f(x):\n    lst = []\n    for i in range(3):\n        lst.extend([x[i] * x[i + 1]])\n"
                 "        lst.reverse()\n    return lst[0] * 3.0 + lst[2] * lst[1]\n")


def test_the_list_a_function_returns():
    src = ("def f(x):\n    lst = [x[0], x[1]]\n    lst.insert(0, x[2] * 2.0)\n    lst.reverse()\n"
           "    return lst\n")
    f = make_function(src)
    w = np.array([1.0, -2.0, 0.5])
    value, pullback = srcdiff.vjp(f)(X.copy())
    assert value == f(X.copy())
    np.testing.assert_allclose(pullback(list(w)),
                               numerical_grad(lambda v: float(np.dot(w, f(v))), (X.copy(),), 0), atol=1e-8)


# -- refused ------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["y.sort()", "y.fill(2.0)", "y.sort(axis=0)"])
def test_an_alias_of_an_array_read_after_the_change_is_refused(call):
    assert_refused(f"def f(x):\n    y = x * 1.0\n    z = y\n    {call}\n    return np.sum(z * x)\n", call)


def test_a_view_read_after_a_sort_is_refused():
    assert_refused("def f(x):\n    y = x * 1.0\n    z = y[1:]\n    y.sort()\n    return np.sum(z)\n",
                   "y.sort()")


def test_the_argument_read_after_it_was_sorted_through_an_alias_is_refused():
    assert_refused("def f(x):\n    y = x\n    y.sort()\n    return np.sum(y * x)\n", "y.sort()")


@pytest.mark.parametrize("call", ["lst.extend([x[2]])", "lst.reverse()", "lst.insert(0, x[2])",
                                  "lst.clear()", "lst.sort()"])
def test_an_alias_of_a_list_read_after_the_change_is_refused(call):
    assert_refused(f"def f(x):\n    lst = [x[0], x[1]]\n    other = lst\n    {call}\n"
                   "    return other[0] * 2.0\n", call)


def test_a_list_holding_an_array_changed_afterwards_is_refused():
    assert_refused("def f(x):\n    a = x * 1.0\n    lst = [x[0]]\n    lst.extend([a])\n    a.sort()\n"
                   "    return np.sum(lst[1] * x)\n", "a.sort()")


def test_a_list_holding_rows_of_an_array_changed_afterwards_is_refused():
    assert_refused("def f(x):\n    a = np.reshape(x * 1.0, (2, 2))\n    lst = []\n    lst.extend(a)\n"
                   "    a.fill(0.0)\n    return np.sum(lst[1] * x[:2])\n", "a.fill(0.0)")


def test_an_inserted_array_changed_afterwards_is_refused():
    assert_refused("def f(x):\n    a = x * 1.0\n    lst = [x[0]]\n    lst.insert(0, a)\n    a.sort()\n"
                   "    return np.sum(lst[0] * x)\n", "a.sort()")


def test_a_helper_that_sorts_its_argument_is_refused_at_the_call():
    src = ("def order(v):\n    v.sort()\n    return v[0]\n\n\n"
           "def f(x):\n    a = x * 1.0\n    m = order(a)\n    return np.sum(a * x) + m\n")
    f = make_function(src, name="f")
    with pytest.raises(srcdiff.UnsupportedSyntaxError) as info:
        srcdiff.grad(f)(X.copy())
    assert "m = order(a)" in info.value.loc.text


def test_a_method_of_a_global_stays_refused():
    table = np.array([3.0, 1.0, 2.0, 0.0])
    f = make_function("def f(x):\n    TABLE.sort()\n    return np.sum(TABLE * x)\n", {"TABLE": table})
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="in place"):
        srcdiff.grad(f)(X.copy())
    np.testing.assert_array_equal(table, [3.0, 1.0, 2.0, 0.0])


def test_pop_stays_refused():
    assert_refused("def f(x):\n    lst = [x[0], x[1]]\n    v = lst.pop()\n    return v * 2.0\n", "lst.pop()")


@pytest.mark.parametrize("call", ["lst.reverse()", "lst.extend([x[1]])", "lst.insert(0, x[1])", "lst.sort()"])
def test_a_changed_list_joined_or_repeated_is_refused(call):
    # (still a list: ``lst * 2`` repeats it, which srcdiff does not differentiate)
    f = make_function(f"def f(x):\n    lst = [x[0], x[2]]\n    {call}\n    z = lst * 2\n"
                      "    return z[0] * z[-1]\n")
    with pytest.raises(srcdiff.NonDifferentiableError) as info:
        srcdiff.grad(f)(X.copy())
    assert "z = lst * 2" in info.value.loc.text


def test_sort_with_a_positional_axis():
    assert_exact("def f(x):\n    y = np.reshape(x, (2, 2)) * 1.0\n    y.sort(0)\n"
                 "    return np.sum(y * np.arange(4.0).reshape(2, 2) * y)\n")
