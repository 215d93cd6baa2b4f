"""results: gast -> gast; the gradients handed to the user are distinct arrays.

Not a simplification but a matter of correctness: a name returned twice, or an
argument (the caller's own array) returned as a gradient, is copied, so updating one
gradient in place cannot change another, or the caller's array; where that cannot be
told from the code, a run-time check (``distinct``) copies what shares memory.

>>> import gast
>>> from srcdiff.emit import to_source
>>> fdef = gast.parse('''
... def f(x, y):
...     g = 2 * y
...     return (x, g, g)
... ''').body[0]
>>> print(to_source(separate_results(fdef, "grad")).strip())
def f(x, y):
    g = 2 * y
    return (np.copy(x), g, np.copy(g))
"""

from __future__ import annotations

import gast

from .. import runtime
from ..emit import helper_called, walk

__all__ = ["separate_results"]


def separate_results(fdef: gast.FunctionDef, mode: str) -> gast.FunctionDef:
    """Gradients handed to the user are distinct arrays: a name returned twice, or the
    caller's own cotangent returned as a gradient, is copied, so updating one gradient
    in place cannot change another (or the caller's array)."""
    if mode == "vjp":
        pullback = next(s for s in fdef.body if isinstance(s, gast.FunctionDef))
        ret, params = pullback.body[-1], {a.id for a in pullback.args.args}
        results = ret.value
    else:
        ret, params = fdef.body[-1], set()
        results = ret.value.elts[1] if mode == "value_and_grad" else ret.value
    items = results.elts if isinstance(results, gast.Tuple) else [results]
    # an argument handed back as a gradient (after copy propagation) is copied
    arguments = {a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs}
    for i, item in enumerate(items):
        if isinstance(item, gast.Name) and item.id in arguments:
            items[i] = _copy(item)
    fresh = _fresh_names(fdef)
    unknown = [i for i in items if not (isinstance(i, gast.Name) and i.id in fresh)
               and not (isinstance(i, gast.Call) and isinstance(i.func, gast.Name)
                        and i.func.id == "float")  # floats cannot share memory
               and not (isinstance(i, gast.Call) and isinstance(i.func, gast.Attribute)
                        and i.func.attr == "copy")
               and not isinstance(i, gast.Constant)]
    if len(unknown) > 1 or params and unknown:
        # NumPy may hand back the same array for two gradients (unbroadcast of one
        # cotangent); check at run time, where it is cheap, and copy the later one.
        call = gast.Call(func=gast.Name(id="distinct", ctx=gast.Load(), annotation=None,
                                        type_comment=None),
                         args=[gast.Tuple(elts=list(items), ctx=gast.Load())]
                         + [gast.Name(id=p, ctx=gast.Load(), annotation=None, type_comment=None)
                            for p in sorted(params)], keywords=[])
        if isinstance(results, gast.Tuple):
            new: gast.expr = call
        else:
            new = gast.Subscript(value=call, slice=gast.Constant(value=0, kind=None), ctx=gast.Load())
        _set_result(ret, mode, new)
        return fdef
    seen: set = set()
    for i, item in enumerate(items):
        if isinstance(item, gast.Name):
            if item.id in seen or item.id in params:
                items[i] = _copy(item)
            seen.add(item.id)
    if not isinstance(results, gast.Tuple) and items[0] is not results:
        _set_result(ret, mode, items[0])
    return fdef


def _set_result(ret: gast.Return, mode: str, value: gast.expr) -> None:
    if mode == "value_and_grad":
        ret.value.elts[1] = value
    else:
        ret.value = value


def _copy(item: gast.expr) -> gast.Call:
    return gast.Call(func=gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None,
                                                         type_comment=None),
                                         attr="copy", ctx=gast.Load()), args=[item], keywords=[])


# Helpers that always return a new array (never their argument or a view of it).
_FRESH_CALLS = frozenset({
    runtime.matmul_grad_a, runtime.matmul_grad_b, runtime.matmul_grads_sum, runtime.dot_grad_a,
    runtime.dot_grad_b, runtime.getitem_grad, runtime.zeros_like_value, runtime.sum_grad,
    runtime.mean_grad, runtime.prod_grad, runtime.var_grad, runtime.cumsum_grad, runtime.norm_grad,
    runtime.minmax_grad, runtime.clip_grad, runtime.take_grad, runtime.sort_grad, runtime.diag_grad})


def _fresh_names(fdef: gast.FunctionDef) -> set:
    """Names every assignment of which makes a new array (arithmetic or a fresh helper)."""
    verdict: dict[str, bool] = {}
    for node in walk(fdef):
        if (isinstance(node, gast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], gast.Name)):
            value = node.value
            ok = isinstance(value, (gast.BinOp, gast.UnaryOp)) or helper_called(value) in _FRESH_CALLS
            name = node.targets[0].id
            verdict[name] = verdict.get(name, True) and ok
        elif isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            verdict.setdefault(node.target.id, True)
    return {n for n, ok in verdict.items() if ok}
