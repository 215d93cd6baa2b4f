"""The errors srcdiff raises at users: each is one of srcdiff's exception classes, points at
the offending line of the user's code (file, line number and line text) and gives a hint.

The errors of one pass or module are tested with it (tests/passes/test_fence.py,
test_activity.py, test_parse.py, test_effects.py; tests/test_arguments.py;
tests/rules/test_registry.py).  Here: the class hierarchy, a result that is not a
scalar, and three errors whose message must name the file of the user's code (this one).
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff

from .conftest import check_points_at, sourceless


def test_every_error_is_a_srcdiff_error():
    for cls in (srcdiff.UnsupportedSyntaxError, srcdiff.NoRuleError, srcdiff.NonDifferentiableError,
                srcdiff.NonScalarOutputError, srcdiff.ArgumentError, srcdiff.SourceUnavailableError,
                srcdiff.RuleDefinitionError):
        assert issubclass(cls, srcdiff.SrcdiffError)
        assert issubclass(cls, Exception)


# -- non-scalar output -----------------------------------------------------------------


def vector_output(x):
    y = np.sin(x)
    return y * 2.0  # <- here


def tuple_output(x):
    return x, x * 2.0  # <- here


def test_non_scalar_output_message():
    with pytest.raises(srcdiff.NonScalarOutputError) as info:
        srcdiff.grad(vector_output)(np.ones((2, 3)))
    message = str(info.value)
    assert "(2, 3)" in message
    assert "vjp" in message
    assert info.value.hint


def test_non_scalar_tuple_output():
    with pytest.raises(srcdiff.NonScalarOutputError) as info:
        srcdiff.grad(tuple_output)(1.0)
    assert "tuple" in str(info.value)
    assert "vjp" in str(info.value)


def test_non_scalar_output_value_and_grad():
    with pytest.raises(srcdiff.NonScalarOutputError):
        srcdiff.value_and_grad(vector_output)(np.ones(3))


def test_non_scalar_output_points_at_the_return():
    with pytest.raises(srcdiff.NonScalarOutputError) as info:
        srcdiff.grad(vector_output)(np.ones((2, 3)))
    check_points_at(info.value, vector_output, "# <- here")


def test_size_one_output_is_not_an_error():
    np.testing.assert_allclose(srcdiff.grad(vector_output)(np.array([0.5])), 2 * np.cos([0.5]))


@pytest.mark.usefixtures("clean_registry")
@pytest.mark.parametrize("transform", ["grad", "jvp"])
def test_user_rule_without_an_adjoint_for_a_differentiated_parameter(transform):
    """A parameter the user's rule gives no template is never silently zero."""
    scaled = sourceless("def scaled(a, b):\n    return a * b\n", "scaled")
    srcdiff.register_adjoint(scaled, "scaled(a, b)", a="g * b", tangents={"a": "t * b"})

    def loss(a, b):
        return np.sum(scaled(a, b))

    a, b = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    np.testing.assert_allclose(srcdiff.grad(loss)(a, b), b)  # b not differentiated: fine
    with pytest.raises(srcdiff.NoRuleError) as info:
        if transform == "grad":
            srcdiff.grad(loss, wrt=(0, 1))(a, b)
        else:
            srcdiff.jvp(loss, wrt=1)(a, b, np.ones(2))
    message = str(info.value)
    assert "'b'" in message and "test_errors.py" in message and "return np.sum(scaled(a, b))" in message
    assert "nondiff=" in info.value.hint or "tangent" in message


def _two_args(x, y):
    return np.sum(x * y)


@pytest.mark.parametrize("count", [1, 2, 4])
def test_jvp_with_the_wrong_number_of_tangents(count):
    x = np.ones(2)
    with pytest.raises(srcdiff.ArgumentError) as info:
        srcdiff.jvp(_two_args)(*[x] * count)
    assert "test_errors.py" in str(info.value) and "1 tangent(s)" in str(info.value)
    assert "x_dot" in info.value.hint
    value, tangent = srcdiff.jvp(_two_args)(x, 2 * x, np.ones(2))  # the right number
    assert value == 4.0 and tangent == 4.0


def _critic(w, x):
    return np.sum(np.tanh(w * x))


def _penalty_inline(w, x):
    gx = srcdiff.grad(_critic, wrt=1)(w, x)
    return np.sum(gx ** 2)


def test_a_derivative_made_inside_the_differentiated_function_says_to_make_it_outside():
    with pytest.raises(srcdiff.NonDifferentiableError) as info:
        srcdiff.grad(_penalty_inline)(np.ones(2), np.ones(2))
    assert "test_errors.py" in str(info.value) and "srcdiff.grad(_critic, wrt=1)(w, x)" in str(info.value)
    assert "d = srcdiff.grad(_critic, wrt=1)" in info.value.hint
