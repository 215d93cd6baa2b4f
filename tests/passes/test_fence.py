"""The fence: what srcdiff does not support is refused before anything else reads the
function, by every transformation, with an UnsupportedSyntaxError that points at the
construct's line (file, line number and line text) and gives a hint."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff

from ..conftest import check_points_at

# -- unsupported syntax ----------------------------------------------------------------


def uses_try(x):
    y = x * 2.0
    try:  # <- here
        y = y + 1.0
    except ValueError:
        y = y - 1.0
    return y


def uses_with(x):
    y = x * 2.0
    with open(__file__):  # <- here
        y = y + 1.0
    return y


def uses_nested_def(x):
    def helper(v):  # <- here
        return v * 2.0

    return helper(x)


def uses_global_statement(x):
    global COUNTER  # <- here
    return x * 2.0


COUNTER = 0


def uses_attribute_assignment(x):
    y = x * 1.0
    np.foo = y  # <- here
    return np.sum(y)


def uses_star_args(x, *rest):  # <- here
    return x * 2.0


def uses_star_kwargs(x, **options):  # <- here
    return x * 2.0


def uses_walrus(x):
    y = (z := x * 2.0) + 1.0  # <- here
    return y + z


def uses_raise(x):
    y = x * 2.0
    raise ValueError(str(y))  # <- here


def uses_del(x):
    y = x * 2.0
    z = y + 1.0
    del y  # <- here
    return z


def uses_import(x):
    import os  # <- here

    return x * float(len(os.sep))


def uses_yield(x):
    yield x * 2.0  # <- here


UNSUPPORTED = [
    uses_try, uses_with, uses_nested_def, uses_global_statement, uses_attribute_assignment,
    uses_star_args, uses_star_kwargs, uses_walrus, uses_raise, uses_del, uses_import, uses_yield,
]


@pytest.mark.parametrize("fn", UNSUPPORTED, ids=lambda f: f.__name__)
def test_unsupported_syntax(fn):
    arg = np.array([1.0, 2.0])
    with pytest.raises(srcdiff.UnsupportedSyntaxError) as info:
        srcdiff.grad(fn)(arg)
    check_points_at(info.value, fn, "# <- here")


def test_unsupported_syntax_reported_by_every_transformation():
    for transform in (srcdiff.value_and_grad, srcdiff.vjp):
        with pytest.raises(srcdiff.UnsupportedSyntaxError) as info:
            transform(uses_try)(1.0)
        check_points_at(info.value, uses_try, "# <- here")
    with pytest.raises(srcdiff.UnsupportedSyntaxError):
        srcdiff.source(uses_with)


def test_unsupported_syntax_message_names_the_construct():
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="try"):
        srcdiff.grad(uses_try)(1.0)
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match="with"):
        srcdiff.grad(uses_with)(1.0)
    with pytest.raises(srcdiff.UnsupportedSyntaxError, match=r"\*args"):
        srcdiff.grad(uses_star_args)(1.0)


def test_star_args_only_function_is_unsupported_syntax():
    def only_star(*args):  # <- here
        return args[0] * 2.0

    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(only_star)(1.0)
    # Either "no positional parameter 0" or "*args unsupported" is a fair answer, but it
    # must point at the definition and be one of srcdiff's errors.
    assert isinstance(info.value, (srcdiff.UnsupportedSyntaxError, srcdiff.ArgumentError))
    check_points_at(info.value, only_star, "# <- here")
