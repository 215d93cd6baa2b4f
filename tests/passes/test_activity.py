"""Activity analysis: a differentiated value that reaches a call with no rule, or an
expression srcdiff does not look inside, is an error at its line (file, line number
and line text) with a hint; the same call or construct on values that are not
differentiated is fine."""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcdiff

from ..conftest import check_points_at, sourceless

# -- calls with no rule ----------------------------------------------------------------


def calls_c_extension(x):
    y = x * 2.0
    m, e = np.frexp(y)  # <- here
    return np.sum(m)


def test_no_rule_for_c_extension_function():
    with pytest.raises(srcdiff.NoRuleError) as info:
        srcdiff.grad(calls_c_extension)(np.array([1.0, 3.0]))
    err = info.value
    check_points_at(err, calls_c_extension, "# <- here")
    assert "frexp" in err.message
    assert "srcdiff.register_adjoint(" in str(err)


def calls_math_gamma(x):
    return math.gamma(x) * 2.0  # <- here


def test_no_rule_for_math_function():
    with pytest.raises(srcdiff.NoRuleError) as info:
        srcdiff.grad(calls_math_gamma)(1.5)
    check_points_at(info.value, calls_math_gamma, "# <- here")
    assert "gamma" in info.value.message
    assert "srcdiff.register_adjoint(" in str(info.value)


class Scaler:
    """A callable object: no Python function source and no rule."""

    def __call__(self, v):
        return v * 3.0


SCALER = Scaler()


def calls_callable_object(x):
    y = SCALER(x)  # <- here
    return np.sum(y)


def test_no_rule_for_callable_object():
    with pytest.raises(srcdiff.NoRuleError) as info:
        srcdiff.grad(calls_callable_object)(np.array([1.0, 2.0]))
    check_points_at(info.value, calls_callable_object, "# <- here")
    assert "Scaler" in info.value.message or "SCALER" in info.value.message
    assert "srcdiff.register_adjoint(" in str(info.value)


TRIPLE = sourceless("def triple(v):\n    return v * 3.0\n", "triple")


def calls_sourceless_function(x):
    y = TRIPLE(x) + 1.0  # <- here
    return np.sum(y)


def test_no_rule_for_function_without_source():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(calls_sourceless_function)(np.array([1.0, 2.0]))
    check_points_at(info.value, calls_sourceless_function, "# <- here")
    assert "triple" in str(info.value)
    assert "srcdiff.register_adjoint(" in str(info.value)


TRIPLE_NO_MODULE = sourceless("def triple_nm(v):\n    return v * 3.0\n", "triple_nm", module=None)


def calls_sourceless_function_without_module(x):
    y = TRIPLE_NO_MODULE(x) + 1.0  # <- here
    return np.sum(y)


def test_no_rule_for_function_without_source_or_module():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(calls_sourceless_function_without_module)(np.array([1.0, 2.0]))
    check_points_at(info.value, calls_sourceless_function_without_module, "# <- here")
    assert "triple_nm" in str(info.value)


def test_no_rule_is_not_raised_when_the_value_is_not_differentiated():
    # frexp only reads y, which is not in wrt: no derivative is needed through it.
    def f(x, y):
        m, e = np.frexp(y)
        return np.sum(x * m)

    x = np.array([1.0, 2.0])
    y = np.array([3.0, 5.0])
    np.testing.assert_allclose(srcdiff.grad(f)(x, y), np.frexp(y)[0])


# -- non-differentiable constructs -----------------------------------------------------


def dict_comprehension(x):
    d = {i: x * i for i in range(3)}  # <- here
    return d[1] + d[2]


def set_comprehension(x):
    s = {x * i for i in range(3)}  # <- here
    return sum(s)


def immediately_called_lambda(x):
    y = (lambda t: t * 2.0)(x)  # <- here
    return y


NONDIFFERENTIABLE = [dict_comprehension, set_comprehension, immediately_called_lambda]


@pytest.mark.parametrize("fn", NONDIFFERENTIABLE, ids=lambda f: f.__name__)
def test_non_differentiable_construct(fn):
    with pytest.raises(srcdiff.NonDifferentiableError) as info:
        srcdiff.grad(fn)(1.5)
    check_points_at(info.value, fn, "# <- here")
    assert "'x'" in info.value.message or "x" in info.value.message


def list_comprehension(x):
    ys = [v * v for v in x]
    return ys[0] + 3.0 * ys[1]


def test_list_comprehension_over_differentiated_value_is_differentiated():
    # srcdiff lowers list comprehensions to loops: no error, and the right gradient.
    x = np.array([1.5, -2.0, 4.0])
    np.testing.assert_allclose(srcdiff.grad(list_comprehension)(x), [3.0, -12.0, 0.0])


def test_non_differentiable_construct_on_a_constant_is_fine():
    def f(x):
        d = {i: i * 2.0 for i in range(3)}
        return x * d[2]

    np.testing.assert_allclose(srcdiff.grad(f)(1.5), 4.0)


# -- a function held in a parameter ----------------------------------------------------


def _apply(f, y):
    return np.sum(f(y))


def test_a_function_held_in_a_parameter_says_to_call_it_by_name():
    with pytest.raises(srcdiff.NonDifferentiableError) as info:
        srcdiff.grad(_apply, wrt=1)(np.sin, np.ones(2))
    assert "f is a local variable or a parameter" in info.value.hint


def test_method_on_a_differentiated_value_without_a_rule_is_an_error():
    def f(x):
        return np.sum(x.cumprod2())

    with pytest.raises(srcdiff.NoRuleError, match="method"):
        srcdiff.grad(f)(np.ones(2))
