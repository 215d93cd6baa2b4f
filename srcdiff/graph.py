"""The computational graph of a function, as Graphviz DOT.

Nodes are the SSA values of the primal program (inputs, operations, constants folded
into labels) with edges from each operand to the value it feeds; with ``adjoint=True``
each active value also gets an adjoint node, with edges running the other way, the
reverse sweep drawn beside the forward one.  Loops and branches are drawn as clusters.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import gast

from . import ir
from .arguments import wrt_spec
from .emit import callee_text, to_source, value_expr
from .passes.activity import analyze
from .pipeline import guess_kinds, lower_to_ir

__all__ = ["to_dot"]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_SYMBOLS = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
            operator.pow: "**", operator.matmul: "@", operator.neg: "negate", operator.getitem: "[ ]",
            operator.mod: "%", operator.lt: "<", operator.gt: ">", operator.le: "<=", operator.ge: ">="}


def _label(stmt: ir.Assign) -> str:
    value = stmt.value
    if isinstance(value, ir.Call):
        if isinstance(value.fn, ir.Prim) and value.fn.value in _SYMBOLS:
            return _SYMBOLS[value.fn.value]
        return callee_text(value.fn).lstrip(".")
    text = to_source(gast.Module(body=[gast.Expr(value=value_expr(value))], type_ignores=[])).strip()
    return text if len(text) <= 30 else text[:27] + "..."


def to_dot(fn: Callable, *, wrt: Any = 0, adjoint: bool = False) -> str:
    """The DOT text of ``fn``'s program (after SSA), optionally with its adjoint nodes."""

    program = lower_to_ir(fn)
    spec, _ = wrt_spec(fn, wrt)
    names = tuple(n for _, n in spec)
    kinds = guess_kinds(fn)
    act = analyze(program, names, {n: kinds.get(n, "array") for n in names})
    lines = [f"digraph {_quote(program.name)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10];']
    defined: set = set()

    def node(name: str, label: str, shape: str = "box", style: str = "") -> None:
        extra = f", style={_quote(style)}" if style else ""
        lines.append(f"  {_quote(name)} [label={_quote(label)}, shape={shape}{extra}];")
        defined.add(name)

    for p in program.params:
        node(p.name, p.name, "ellipse", "bold" if p.name in names else "")

    counter = [0]

    def block(stmts: list, indent: str = "  ") -> None:
        for stmt in stmts:
            if isinstance(stmt, ir.Assign):
                style = "filled" if stmt.target in act.active else ""
                node(stmt.target, f"{stmt.target} = {_label(stmt)}", style=style)
                for used in ir.expr_uses(stmt.value):
                    lines.append(f"  {_quote(used)} -> {_quote(stmt.target)};")
            elif isinstance(stmt, (ir.If, ir.Loop)):
                counter[0] += 1
                kind = "if" if isinstance(stmt, ir.If) else stmt.kind
                lines.append(f"  subgraph cluster_{counter[0]} {{ label={_quote(kind)}; style=dashed;")
                if isinstance(stmt, ir.If):
                    block(stmt.body)
                    block(stmt.orelse)
                else:
                    block(stmt.test_body)
                    block(stmt.body)
                lines.append("  }")
                for phi in stmt.phis:
                    node(phi.target, f"{phi.target} = phi", "diamond")
                    for src in phi.sources:
                        for used in ir.atom_vars(src):
                            lines.append(f"  {_quote(used)} -> {_quote(phi.target)} [style=dotted];")
                if isinstance(stmt, ir.Loop):
                    for x, h in stmt.exits:
                        node(x, x, "ellipse")
                        lines.append(f"  {_quote(h)} -> {_quote(x)};")
            elif isinstance(stmt, ir.Return):
                node("return", "return", "doubleoctagon")
                for used in ir.atom_vars(stmt.value):
                    lines.append(f"  {_quote(used)} -> \"return\";")

    block(program.body)
    if adjoint:
        for name in sorted(act.active):
            if name in defined:
                node("d" + name, "d" + name, "box", "rounded,dashed")
                for stmt in ir.walk(program.body):
                    if isinstance(stmt, ir.Assign) and name in act.classes[stmt.target].flows \
                            and stmt.target in act.active:
                        lines.append(f"  {_quote('d' + stmt.target)} -> {_quote('d' + name)} [color=red];")
    lines.append("}")
    return "\n".join(lines) + "\n"
