"""Where a differentiated function may be defined, and how srcdiff finds its source.

srcdiff reads a function's definition from the file or notebook cell it was defined
in, and takes it only when it compiles to the function's code object: modules,
runpy, notebook cells, methods, closures, lambdas and decorated functions are tested
here, each gradient against central finite differences or an analytic formula.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import itertools
import linecache
import os
import runpy
import sys
import textwrap

import numpy as np
import pytest

import srcdiff
from srcdiff.passes import parse
from srcdiff.testing import check_grad, numerical_grad

from ..conftest import make_function


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


X = np.array([0.3, -1.2, 0.7])

_modules = itertools.count()


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """A folder on sys.path for modules the test writes; no bytecode left behind."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    names: list = []
    yield tmp_path, names
    for name in names:
        sys.modules.pop(name, None)


def write_module(module_dir, src: str, name: str | None = None):
    """Write ``src`` as a module file, import it by name, and return the module."""
    folder, names = module_dir
    name = name or f"srcdiff_test_module_{next(_modules)}"
    (folder / f"{name}.py").write_text(textwrap.dedent(src))
    importlib.invalidate_caches()
    names.append(name)
    return importlib.import_module(name)


def rewrite(path, src: str) -> None:
    """Replace a file's text, with a later modification time (as an editor would)."""
    stat = os.stat(path)
    path.write_text(textwrap.dedent(src))
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))


# -- modules -------------------------------------------------------------------------


def test_function_in_an_imported_module(module_dir):
    mod = write_module(module_dir, """
        import numpy as np


        def loss(w, x):
            return np.sum(np.tanh(x * w) ** 2) + np.mean(w)
    """)
    w = np.array([0.5, 0.1, -0.3])
    assert check_grad(mod.loss, w, X, wrt=(0, 1), modes=("forward", "reverse"))


def test_module_loaded_from_a_file_location(tmp_path):
    path = tmp_path / "located.py"
    path.write_text("import numpy as np\n\n\ndef energy(x):\n    return np.sum(np.sin(x) * x)\n")
    spec = importlib.util.spec_from_file_location("srcdiff_test_located", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    close(srcdiff.grad(mod.energy)(X), np.cos(X) * X + np.sin(X))


def test_module_function_calling_a_helper_of_its_module(module_dir):
    mod = write_module(module_dir, """
        import numpy as np
        from numpy import exp


        def helper(z):
            return exp(z) * z


        def total(x):
            return np.sum(helper(x * 2.0))
    """)
    assert check_grad(mod.total, X)


# -- runpy ---------------------------------------------------------------------------

SCRIPT = """
import numpy as np

SCALE = 3.0


def f(x):
    return SCALE * np.sum(np.cos(x) ** 2)


if __name__ == "__main__":
    RESULT = f(np.ones(2))
"""


def test_function_in_a_file_run_with_run_path(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(SCRIPT)
    ns = runpy.run_path(str(path), run_name="__main__")
    assert "RESULT" in ns
    close(srcdiff.grad(ns["f"])(X), -3.0 * np.sin(2 * X))


def test_function_in_a_module_run_with_run_module(module_dir):
    folder, names = module_dir
    (folder / "srcdiff_test_runmod.py").write_text(SCRIPT)
    names.append("srcdiff_test_runmod")
    ns = runpy.run_module("srcdiff_test_runmod", run_name="__main__")
    close(srcdiff.grad(ns["f"])(X), -3.0 * np.sin(2 * X))
    assert check_grad(ns["f"], X, modes=("forward", "reverse"))


# -- notebook cells ------------------------------------------------------------------

_cells = itertools.count(1)


def run_cell(src: str, ns: dict, transform=None) -> str:
    """Run ``src`` as IPython runs a cell: the raw text goes into linecache under
    ``<ipython-input-N-...>``, the (transformed) code is compiled one top-level statement
    at a time in the user namespace.  Returns the cell's file name."""
    src = textwrap.dedent(src)
    filename = f"<ipython-input-{next(_cells)}-0123456789ab>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    tree = ast.parse(transform(src) if transform else src)
    for node in tree.body:
        exec(compile(ast.Module(body=[node], type_ignores=[]), filename, "exec"), ns)
    return filename


def test_function_defined_in_a_cell():
    ns: dict = {}
    filename = run_cell("""
        import numpy as np

        def f(x):
            y = np.exp(-x * x)
            return np.sum(y)
    """, ns)
    assert ns["f"].__code__.co_filename == filename
    close(srcdiff.grad(ns["f"])(X), -2 * X * np.exp(-X * X))


def test_a_cell_redefining_a_function_gets_the_new_derivative():
    ns: dict = {}
    run_cell("import numpy as np\n", ns)
    run_cell("def f(x):\n    return np.sum(x ** 2)\n", ns)
    first = ns["f"]
    close(srcdiff.grad(first)(X), 2 * X)
    run_cell("def f(x):\n    return np.sum(x ** 3)\n", ns)
    close(srcdiff.grad(ns["f"])(X), 3 * X ** 2)
    close(srcdiff.grad(first)(X), 2 * X)  # the old function keeps its own derivative


def test_a_function_calling_a_helper_redefined_in_a_later_cell():
    ns: dict = {}
    run_cell("import numpy as np\ndef helper(z):\n    return z * z\n", ns)
    run_cell("def f(x):\n    return np.sum(helper(x))\n", ns)
    g = srcdiff.grad(ns["f"])
    close(g(X), 2 * X)
    run_cell("def helper(z):\n    return np.sin(z)\n", ns)
    close(g(X), np.cos(X))


def _magics(src: str) -> str:
    """IPython's rewriting of %magic lines into calls, one line for one line."""
    return "".join("get_ipython().run_line_magic('time', '')\n" if line.startswith("%") else line
                   for line in src.splitlines(True))


def test_a_cell_with_a_magic_line():
    # linecache holds the raw cell, which does not parse as Python
    ns: dict = {"get_ipython": lambda: type("Shell", (), {"run_line_magic": lambda *a: None})()}
    run_cell("""
        %matplotlib inline
        import numpy as np
        def f(x, w=2.0):
            # comment
            return np.sum(np.sin(w * x))
        both = (lambda x: x * 2.0), (lambda x: x * 3.0)
    """, ns, transform=_magics)
    close(srcdiff.grad(ns["f"])(X), 2.0 * np.cos(2.0 * X))
    close(srcdiff.grad(ns["both"][0])(1.5), 2.0)
    close(srcdiff.grad(ns["both"][1])(1.5), 3.0)


def test_ipython_run_cell(tmp_path, monkeypatch):
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    config = Config()
    config.HistoryManager.enabled = False
    shell = interactiveshell.InteractiveShell.instance(config=config)
    try:
        assert shell.run_cell("import numpy as np\ndef f(x):\n    return np.sum(np.tanh(x))\n").success
        close(srcdiff.grad(shell.user_ns["f"])(X), 1 - np.tanh(X) ** 2)
        assert shell.run_cell("%time z = 1\ndef f(x):\n    return np.sum(x ** 3)\n").success
        close(srcdiff.grad(shell.user_ns["f"])(X), 3 * X ** 2)
        assert shell.run_cell("import srcdiff\n@srcdiff.grad\ndef h(x):\n    return x * x * x\n").success
        close(shell.user_ns["h"](2.0), 12.0)
        assert shell.run_cell("first, second = (lambda x: x * 2.0), (lambda x: x * 3.0)").success
        close(srcdiff.grad(shell.user_ns["second"])(1.0), 3.0)
        close(srcdiff.grad(shell.user_ns["first"])(1.0), 2.0)
    finally:
        interactiveshell.InteractiveShell.clear_instance()


# -- methods -------------------------------------------------------------------------


class Model:
    """Methods of every kind, differentiated with respect to parameters after ``self``."""

    def __init__(self, w):
        self.w = w
        self.__scale = 0.5  # name-mangled: _Model__scale

    def loss(self, x, b=1.0):
        return np.sum(self.w * x ** 2) * self.__scale + b * np.sum(x)

    @staticmethod
    def cube(x):
        return x ** 3

    @classmethod
    def cube_cls(cls, x):
        return x ** 3

    @srcdiff.grad(wrt="x")
    def dloss(self, x):
        return np.sum(self.w * np.sin(x))

    @srcdiff.grad(wrt=("x", "b"))
    def dboth(self, x, b):
        return np.sum(self.w * x) * b * b

    @srcdiff.grad(wrt=1)
    def dpos(self, x):
        return np.sum(self.w * x ** 3)


    def factor(self):
        return 3.0

    def nested(self):
        def inner(x):  # mangled too, though defined in a function in the class
            return np.sum(self.__scale * x ** 2)

        return inner, lambda x: np.sum(self.__scale * x ** 3)


class Scaled(Model):
    def factor(self):
        return 5.0

    def loss(self, x):
        return super().factor() * np.sum(x ** 2)  # super() reads the __class__ cell


W = np.array([1.0, 2.0, -0.5])


def test_bound_method():
    model = Model(W)
    want = W * X + 1.0
    close(srcdiff.grad(model.loss)(X), want)
    close(srcdiff.grad(model.loss, wrt="x")(X), want)
    close(srcdiff.grad(model.loss, wrt="b")(X, 2.0), np.sum(X))
    assert check_grad(model.loss, X, 2.0, wrt=(0, 1))


def test_unbound_method_with_the_instance_passed():
    model = Model(W)
    close(srcdiff.grad(Model.loss, wrt="x")(model, X), W * X + 1.0)
    close(srcdiff.grad(Model.loss, wrt=1)(model, X), W * X + 1.0)


def test_closure_and_lambda_made_by_a_method():
    inner, cubic = Model(W).nested()
    close(srcdiff.grad(inner)(X), X)
    close(srcdiff.grad(cubic)(X), 1.5 * X ** 2)


def test_method_calling_super():
    close(srcdiff.grad(Scaled(W).loss)(X), 6.0 * X)


def test_staticmethod():
    close(srcdiff.grad(Model.cube)(2.0), 12.0)
    close(srcdiff.grad(Model(W).cube)(2.0), 12.0)
    close(srcdiff.grad(Model.__dict__["cube"])(2.0), 12.0)


def test_classmethod():
    close(srcdiff.grad(Model.cube_cls)(2.0), 12.0)
    close(srcdiff.grad(Model(W).cube_cls)(2.0), 12.0)


class Static:
    @srcdiff.grad
    @staticmethod
    def cube(x):
        return x ** 3


def test_grad_over_staticmethod_in_a_class_body():
    close(Static.cube(2.0), 12.0)
    close(Static().cube(2.0), 12.0)


class ClassFactor:
    factor = 2.0

    @srcdiff.grad(wrt="x")  # as for a method: wrt=0 would be cls
    @classmethod
    def cube(cls, x):
        return cls.factor * x ** 3


def test_grad_over_classmethod_in_a_class_body():
    close(ClassFactor.cube(2.0), 24.0)  # the class is passed, as to the classmethod
    close(ClassFactor().cube(2.0), 24.0)


def test_classmethod_underlying_function():
    close(srcdiff.grad(Model.__dict__["cube_cls"], wrt="x")(Model, 2.0), 12.0)


def test_grad_as_a_decorator_in_a_class_body():
    model = Model(W)
    close(model.dloss(X), W * np.cos(X))
    gx, gb = model.dboth(X, 2.0)
    close(gx, W * 4.0)
    close(gb, 2 * np.sum(W * X) * 2.0)
    close(model.dpos(X), 3 * W * X ** 2)
    close(Model.dloss(model, X), W * np.cos(X))  # through the class, self passed


def test_method_with_a_string_less_indented_than_its_body():
    mod_src = '''
class Notes:
    def loss(self, x):
        note = """
not indented"""
        return np.sum(x ** 2) + len(note) * 0.0
'''
    ns = {"np": np}
    filename = "<srcdiff-test-sources-notes>"
    linecache.cache[filename] = (len(mod_src), None, mod_src.splitlines(True), filename)
    exec(compile(mod_src, filename, "exec"), ns)
    close(srcdiff.grad(ns["Notes"]().loss)(X), 2 * X)


# -- decorators ----------------------------------------------------------------------


def doubled(fn):
    """A decorator that changes the value: its wrapper has the wrapped parameters."""

    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)

    return wrapper


def forwarding(fn):
    """The common decorator shape: a wrapper that takes anything."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 2.0 * fn(*args, **kwargs)

    return wrapper


def negated(fn):
    """A decorator put around a derivative: it must see the derivative's result."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return -fn(*args, **kwargs)

    return wrapper


calls: list = []


def counted(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        calls.append(fn.__name__)
        return fn(*args, **kwargs)

    return wrapper


@doubled
def doubled_cube(x):
    return np.sum(x ** 3)


@forwarding
def forwarded_cube(x):
    return np.sum(x ** 3)


def test_grad_of_a_decorated_function_differentiates_the_wrapper():
    # the wrapper doubles the value: differentiating only __wrapped__ would be wrong
    close(srcdiff.grad(doubled_cube)(X), 6 * X ** 2)
    assert check_grad(doubled_cube, X, modes=("forward", "reverse"))


def test_wrapper_taking_args_and_kwargs_is_a_clear_error():
    with pytest.raises(srcdiff.UnsupportedSyntaxError) as info:
        srcdiff.grad(forwarded_cube)(X)
    message = str(info.value)
    assert "wrapper" in message and "forwarded_cube" in message
    assert "*args" in message
    assert "__wrapped__" in info.value.hint
    assert info.value.loc is not None and info.value.loc.filename == __file__
    # what the hint says works, when the decorator does not change the value
    close(srcdiff.grad(forwarded_cube.__wrapped__)(X), 3 * X ** 2)


def test_wrapper_without_python_source_is_a_clear_error():
    cached = functools.lru_cache(maxsize=None)(lambda x: x ** 3)
    with pytest.raises(srcdiff.SourceUnavailableError) as info:
        srcdiff.grad(cached)(2.0)
    assert "wrapping" in str(info.value) and "__wrapped__" in info.value.hint
    close(srcdiff.grad(cached.__wrapped__)(2.0), 12.0)


def test_decorator_above_grad_wraps_the_derivative():
    @negated
    @srcdiff.grad
    def f(x):
        return np.sum(np.sin(x))

    close(f(X), -np.cos(X))

    @counted
    @srcdiff.grad(wrt="y")
    def g(x, y):
        return np.sum(x * y ** 2)

    calls.clear()
    close(g(X, W), 2 * X * W)
    assert calls == ["grad_g"]


def test_decorator_with_arguments_on_several_lines_and_annotations():
    f = make_function('''
def scaled(factor,
           offset=0.0):
    def deco(fn):
        fn.factor = factor
        return fn
    return deco


@scaled(
    2.0,
    offset=1.0,
)
def f(x: np.ndarray, y: float = 2.0, *, z: float = 0.5) -> float:
    """A docstring,
    on two lines."""

    # a comment, then blank lines

    u = x * y  # trailing comment
    # another comment

    return np.sum(u * x) + z * np.sum(x)
''', name="f")
    assert f.factor == 2.0
    close(srcdiff.grad(f)(X), 2 * 2.0 * X + 0.5)
    close(srcdiff.grad(f, wrt="y")(X, 3.0), np.sum(X * X))
    close(srcdiff.grad(f, wrt="z")(X, z=1.0), np.sum(X))
    assert check_grad(f, X, 3.0, wrt=(0, 1))


def test_functions_defined_inside_if_blocks(module_dir):
    mod = write_module(module_dir, """
        import numpy as np

        if np.__name__ == "numpy":
            def f(x):
                return np.sum(np.exp(x))
        else:
            def f(x):
                return np.sum(x)

        try:
            def g(x):
                return np.sum(x ** 4)
        finally:
            pass
    """)
    close(srcdiff.grad(mod.f)(X), np.exp(X))
    close(srcdiff.grad(mod.g)(X), 4 * X ** 3)


# -- closures and lambdas ------------------------------------------------------------


def make_model(w):
    offset = np.array([0.1, 0.2, 0.3])

    def activation(z):
        return np.tanh(z)

    def model(x):
        return np.sum(activation(w * x + offset))

    return model


def test_closures_capturing_arrays_and_functions():
    for w in (W, 2 * W):
        model = make_model(w)
        close(srcdiff.grad(model)(X), w * (1 - np.tanh(w * X + np.array([0.1, 0.2, 0.3])) ** 2))
        assert check_grad(model, X, modes=("forward", "reverse"))


def test_nested_functions_of_the_same_name_in_different_factories():
    def first():
        def inner(x):
            return x ** 2

        return inner

    def second():
        def inner(x):
            return x ** 5

        return inner

    close(srcdiff.grad(first())(2.0), 4.0)
    close(srcdiff.grad(second())(2.0), 80.0)


def test_function_defined_and_differentiated_in_a_loop():
    for k in (1.0, 2.0, 3.0):
        def f(x, k=k):
            return np.sum(np.sin(k * x))

        close(srcdiff.grad(f)(X), k * np.cos(k * X))


square = lambda x: x * x  # noqa: E731
scaled_sin = lambda x, a=3.0: np.sum(np.sin(a * x))  # noqa: E731
times_two, times_three = (lambda x: x * 2.0), (lambda x: x * 3.0)
same_text = [lambda x, a=2.0: a * x, lambda x, a=5.0: a * x]


def test_lambdas_assigned_to_names():
    close(srcdiff.grad(square)(3.0), 6.0)
    close(srcdiff.grad(scaled_sin)(X), 3.0 * np.cos(3.0 * X))


def test_two_lambdas_on_one_line_each_get_their_own_derivative():
    close(srcdiff.grad(times_three)(1.0), 3.0)
    close(srcdiff.grad(times_two)(1.0), 2.0)
    close(srcdiff.grad(times_three)(1.0), 3.0)
    # one text, one code, two defaults: the defaults come from the function
    close(srcdiff.grad(same_text[0])(1.0), 2.0)
    close(srcdiff.grad(same_text[1])(1.0), 5.0)


def apply_both(f, g, x):
    return srcdiff.grad(f)(x), srcdiff.grad(g)(x)


def test_two_lambdas_passed_inline_on_one_line():
    got = apply_both(lambda x: np.sum(np.sin(x)), lambda x: np.sum(np.cos(x)), X)
    close(got[0], np.cos(X))
    close(got[1], -np.sin(X))
    got = apply_both(lambda y: np.sum(y ** 3), lambda y: np.sum(y ** 2), X)
    close(got[0], 3 * X ** 2)
    close(got[1], 2 * X)


def test_lambdas_spanning_lines_inside_a_call():
    got = apply_both(
        lambda x: np.sum(
            np.exp(x)),
        lambda x: np.sum(x *
                         x),
        X,
    )
    close(got[0], np.exp(X))
    close(got[1], 2 * X)


def test_lambda_capturing_a_closure():
    def factory(c):
        return lambda x: np.sum(c * x ** 2), lambda x: np.sum(c * x)

    quad, lin = factory(W)
    close(srcdiff.grad(quad)(X), 2 * W * X)
    close(srcdiff.grad(lin)(X), W)


def test_two_lambdas_on_one_line_with_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SRCDIFF_DISABLE_CACHE", raising=False)
    f, g = make_function("pair = (lambda x: x * 2.0), (lambda x: x * 3.0)\n", name="pair")
    close(srcdiff.grad(f)(1.0), 2.0)
    close(srcdiff.grad(g)(1.0), 3.0)


# -- files edited after import -------------------------------------------------------

STALE_V1 = """
import numpy as np


def f(x):
    return np.sum(x ** 2)
"""

STALE_V2 = """
import numpy as np


def f(x):
    return np.sum(x ** 3) + 1.0
"""


def test_source_edited_after_import_is_reported_not_used(module_dir):
    mod = write_module(module_dir, STALE_V1)
    rewrite(module_dir[0] / f"{mod.__name__}.py", STALE_V2)
    # the code object is the truth: the new text is not what f runs
    with pytest.raises(srcdiff.SourceUnavailableError) as info:
        srcdiff.grad(mod.f)(X)
    assert "changed" in str(info.value)
    assert "reload" in info.value.hint
    assert info.value.loc.filename == mod.__file__
    mod = importlib.reload(mod)
    close(srcdiff.grad(mod.f)(X), 3 * X ** 2)


def test_lines_added_above_an_unchanged_function(module_dir):
    mod = write_module(module_dir, STALE_V1)
    rewrite(module_dir[0] / f"{mod.__name__}.py", STALE_V1.replace(
        "import numpy as np\n", "import numpy as np\n\n\ndef g(x):\n    return x\n"))
    # f's code is still in the file, only lower: srcdiff finds it there
    close(srcdiff.grad(mod.f)(X), 2 * X)


def test_function_edited_in_a_file_run_by_runpy(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(STALE_V1)
    f = runpy.run_path(str(path))["f"]
    rewrite(path, STALE_V2)
    with pytest.raises(srcdiff.SourceUnavailableError):
        srcdiff.grad(f)(X)


def test_edited_source_with_the_disk_cache(module_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SRCDIFF_DISABLE_CACHE", raising=False)
    old = write_module(module_dir, STALE_V1)
    path = module_dir[0] / f"{old.__name__}.py"
    rewrite(path, STALE_V2)
    spec = importlib.util.spec_from_file_location(old.__name__, path)
    new = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(new)  # the new text, compiled (another process, say)
    close(srcdiff.grad(new.f)(X), 3 * X ** 2)
    with pytest.raises(srcdiff.SourceUnavailableError):
        srcdiff.grad(old.f)(X)


# -- the parse pass itself -----------------------------------------------------------


def test_parse_reports_absolute_lines():
    source = parse.parse(make_model(W))
    assert source.node.name == "model"
    loc = source.loc(source.node)
    assert loc.filename == __file__
    assert loc.lineno == make_model(W).__code__.co_firstlineno
    assert loc.text.strip() == "def model(x):"
    assert loc.col == 4


def test_parse_of_a_lambda_points_at_its_column():
    source = parse.parse(times_three)
    loc = source.loc(source.node)
    assert loc.text.startswith("times_two, times_three = ")
    assert loc.text[loc.col:].startswith("lambda x: x * 3.0")


def test_error_in_a_lambda_points_at_that_lambda():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        apply_both(lambda x: np.sum(x), lambda x: np.sum(np.frexp(x)[0]), X)
    loc = info.value.loc
    assert loc is not None and loc.filename == __file__
    assert loc.col > loc.text.index("lambda x: np.sum(x),")


def test_numerical_reference_for_a_module_lambda():
    close(srcdiff.grad(times_two)(0.7), numerical_grad(times_two, (0.7,), 0))


# -- source unavailable ----------------------------------------------------------------


def test_builtin_has_no_source():
    with pytest.raises(srcdiff.SourceUnavailableError) as info:
        srcdiff.grad(len)([1.0, 2.0])
    assert "len" in str(info.value)
    assert info.value.hint


def test_numpy_ufunc_has_no_source():
    with pytest.raises(srcdiff.SourceUnavailableError) as info:
        srcdiff.grad(np.sin)(1.0)
    assert "sin" in str(info.value)


def test_lambda_typed_at_an_interactive_prompt():
    ns: dict = {}
    exec(compile("square = lambda x: x * x\n", "<stdin>", "exec"), ns)
    with pytest.raises(srcdiff.SourceUnavailableError) as info:
        srcdiff.grad(ns["square"])(3.0)
    assert "<stdin>" in str(info.value)
    assert info.value.hint


def test_function_compiled_from_a_string_without_linecache():
    ns: dict = {}
    exec(compile("def cube(x):\n    return x * x * x\n", "<string>", "exec"), ns)
    with pytest.raises(srcdiff.SourceUnavailableError) as info:
        srcdiff.grad(ns["cube"])(3.0)
    assert "cube" in str(info.value)
    assert info.value.hint
    with pytest.raises(srcdiff.SourceUnavailableError):
        srcdiff.source(ns["cube"])
