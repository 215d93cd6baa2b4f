"""products: gast -> gast; matrix-product cotangents written out where ranks are known.

The rule of ``a @ b`` calls ``matmul_grad_a(g, a, b)`` and ``matmul_grad_b(g, a, b)``,
helpers that pick the product for the ranks they find when they run (1-D, 2-D,
batched).  Where activity analysis knows both shapes (a derivative specialised to the
shapes of its arguments, or shapes written as literals) and each has one or two axes,
this pass writes the product itself: no helper call, and the code reads like a
hand-written gradient.

>>> import gast
>>> from srcdiff.emit import to_source
>>> tree = gast.parse('''
... def grad_f(h, W):
...     dh = matmul_grad_a(g, h, W)
...     dW = matmul_grad_b(g, h, W)
...     return dh, dW
... ''').body[0]
>>> print(to_source(write_products(tree, {"h": (64,), "W": (64, 32)})).strip())
def grad_f(h, W):
    dh = W @ g
    dW = np.multiply.outer(h, g)
    return (dh, dW)
"""

from __future__ import annotations

import gast

from .. import runtime
from ..emit import calls, name, walk

__all__ = ["write_products"]


def _attr(value: gast.expr, attr: str) -> gast.expr:
    return gast.Attribute(value=value, attr=attr, ctx=gast.Load())


def _matmul(left: gast.expr, right: gast.expr) -> gast.expr:
    return gast.BinOp(left=left, op=gast.MatMult(), right=right)


def _outer(left: gast.expr, right: gast.expr) -> gast.expr:
    return gast.Call(func=_attr(_attr(name("np"), "multiply"), "outer"), args=[left, right], keywords=[])


def _product(side: str, g: gast.expr, a: gast.Name, b: gast.Name, a_nd: int, b_nd: int) -> gast.expr:
    """The cotangent of ``a`` (side "a") or ``b`` in ``a @ b``, for 1-D and 2-D operands."""
    if side == "a":
        if b_nd == 2:  # (k, n) @ (n, m): g @ b.T; (n,) @ (n, m): b @ g
            return _matmul(g, _attr(b, "T")) if a_nd == 2 else _matmul(b, g)
        # (k, n) @ (n,): outer(g, b); (n,) @ (n,): g * b
        return _outer(g, b) if a_nd == 2 else gast.BinOp(left=g, op=gast.Mult(), right=b)
    if a_nd == 2:  # (k, n) @ (n, m): a.T @ g; (k, n) @ (n,): g @ a
        return _matmul(_attr(a, "T"), g) if b_nd == 2 else _matmul(g, a)
    # (n,) @ (n, m): outer(a, g); (n,) @ (n,): g * a
    return _outer(a, g) if b_nd == 2 else gast.BinOp(left=g, op=gast.Mult(), right=a)


def write_products(fdef: gast.FunctionDef, shapes: dict, used: list | None = None) -> gast.FunctionDef:
    """Replace ``matmul_grad_a/b(g, a, b)`` by the product itself where ``shapes``
    (name -> shape class; a tuple is a known shape) gives both operands one or two
    axes; each replacement is noted in ``used``."""

    def rank(node: gast.expr) -> int | None:
        cls = shapes.get(node.id) if isinstance(node, gast.Name) else None
        return len(cls) if isinstance(cls, tuple) and len(cls) in (1, 2) else None

    for node in walk(fdef):
        for field in node._fields:
            value = getattr(node, field, None)
            children = value if type(value) is list else [value]
            for i, child in enumerate(children):
                if not (calls(child, runtime.matmul_grad_a, runtime.matmul_grad_b)
                        and len(child.args) == 3 and not child.keywords):
                    continue
                g, a, b = child.args
                a_nd, b_nd = rank(a), rank(b)
                if a_nd is None or b_nd is None:
                    continue
                which = "a" if calls(child, runtime.matmul_grad_a) else "b"
                new = _product(which, g, a, b, a_nd, b_nd)
                if used is not None:
                    used.append(True)
                if type(value) is list:
                    value[i] = new
                else:
                    setattr(node, field, new)
    return fdef
