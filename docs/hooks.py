"""MkDocs hooks: the table of derivative rules on rules.md, built from the live registry.

The marker ``<!-- rules-table -->`` on rules.md is replaced, at every build, by a table
of every registered rule and the list of functions declared non-differentiable, so the
page always says what the installed srcdiff does.
"""

from __future__ import annotations

import builtins
import html
import logging
import warnings
from typing import Any

MARKER = "<!-- rules-table -->"
PAGE = "rules.md"

log = logging.getLogger("mkdocs.hooks.rules_table")


PASS_LIST = "<!-- pass-list -->"
PASS_TABLE = "<!-- pass-table -->"


def pass_table(pipeline: Any) -> str:
    """The stage table of pipeline.py's docstring (its indented lines), checked against
    PASSES so that the page and the code cannot disagree."""
    rows = [line[4:] for line in pipeline.__doc__.splitlines() if line.startswith("    ")]
    named = [row.split()[0] for row in rows if not row.startswith(" ")]
    if tuple(named) != tuple(pipeline.PASSES):
        raise ValueError(f"pipeline.py's docstring lists {named}, PASSES is {pipeline.PASSES}")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the marker on rules.md with the generated table, and the pass-list marker
    on any page with the pipeline's stages (srcdiff.pipeline.PASSES)."""
    if PASS_LIST in markdown or PASS_TABLE in markdown:
        from srcdiff import pipeline

        markdown = markdown.replace(PASS_LIST, ", ".join(f"`{p}`" for p in pipeline.PASSES))
        markdown = markdown.replace(PASS_TABLE, pass_table(pipeline))
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        log.warning("%s has no %s marker: the rules table is missing", PAGE, MARKER)
        return markdown
    return markdown.replace(MARKER, rules_markdown())


# Sections of the table, in order; each rule goes in the first whose test it passes.
GROUPS = (
    ("Python operators", lambda rule: rule.name.startswith("operator.")),
    ("NumPy", lambda rule: rule.name.startswith("np.")),
    ("math", lambda rule: rule.name.startswith("math.")),
    ("Array methods", lambda rule: _is_method(rule.fn)),
    ("Python builtins", lambda rule: getattr(builtins, rule.name, None) is rule.fn),
    ("Helpers of the generated code",
     lambda rule: getattr(rule.fn, "__module__", "").startswith("srcdiff.runtime")),
    ("Other", lambda rule: True),
)


def rules_markdown() -> str:
    """The rules tables, one per group, and the non-differentiable list, as Markdown."""
    import srcdiff  # noqa: F401  (importing srcdiff registers the built-in rules)
    from srcdiff.rules import registry

    rules = registry.rules()
    grouped: dict[str, list] = {title: [] for title, _ in GROUPS}
    for rule in rules:
        title = next(title for title, test in GROUPS if test(rule))
        grouped[title].append(rule)

    out = [f"{len(rules)} rules are registered.", ""]
    for title, members in grouped.items():
        if not members:
            continue
        out += [
            f"### {title}",
            "",
            "| Primitive | Signature | Adjoint of each argument | Tangent (forward mode) | Input domain |",
            "| --- | --- | --- | --- | --- |",
        ]
        out += [row(rule) for rule in members]
        out.append("")

    with warnings.catch_warnings():
        # printable_name probes numpy for each name; for builtins such as str that
        # probe makes NumPy warn about its own deprecated aliases, which says nothing
        # about the docs.
        warnings.simplefilter("ignore", FutureWarning)
        names = sorted({registry.printable_name(fn) for fn in registry.nondifferentiable_functions()})
    out += [
        "### Non-differentiable functions",
        "",
        f"These {len(names)} functions are declared non-differentiable: a differentiated value",
        "may flow into them, and their results carry no gradient.",
        "",
        ", ".join(code(n) for n in names),
        "",
    ]
    return "\n".join(out)


def row(rule: Any) -> str:
    """One rule as a table row."""
    adjoints = "<br>".join(f"{code(p)}: {code(t)}" for p, t in rule.sources.items())
    domains = "<br>".join(f"{code(p)}: {cell(domain_name(rule.domain[p]))}" for p in rule.sources)
    return f"| {code(rule.name)} | {code(signature(rule))} | {adjoints} | {tangents(rule)} | {domains} |"


def tangents(rule: Any) -> str:
    """The tangent templates of a rule: one per parameter, or one for the result (``*``)."""
    parts = [f"{code('result' if p == '*' else p)}: {code(t)}" for p, t in rule.tangent_sources.items()]
    return "<br>".join(parts) or "none yet (reverse mode only)"


def _is_method(fn: Any) -> bool:
    from srcdiff.ir import Method

    return isinstance(fn, Method)


def signature(rule: Any) -> str:
    """How the rule spells a call of its primitive: ``np.sum(a, axis=None, ...)``."""
    params = [p if p not in rule.defaults else f"{p}={rule.defaults[p]!r}" for p in rule.params]
    if _is_method(rule.fn):
        receiver, *rest = params
        return f"{receiver}.{rule.fn.name}({', '.join(rest)})"
    return f"{rule.name}({', '.join(params)})"


def domain_name(domain: Any) -> str:
    """A reader's name for the interval the generic rule test samples an argument from."""
    from srcdiff.rules import registry

    named = {
        registry.REAL: "real",
        registry.POSITIVE: "positive",
        registry.NONZERO: "nonzero",
        registry.UNIT: "(-1, 1)",
        registry.ABOVE_ONE: "> 1",
    }
    if domain in named:
        return named[domain]
    interval = f"[{domain.low:g}, {domain.high:g}]"
    return f"±{interval}" if domain.signed else interval


def code(text: str) -> str:
    """Inline code for a table cell.

    Written as HTML with every character Markdown or the table syntax would act on
    (``|``, ``*``, ``_``, backticks, backslashes) replaced by an entity, so a template
    such as ``g * x ** (y - 1)`` shows exactly as written and never splits a row.
    """
    return f"<code>{_entities(text)}</code>"


def cell(text: str) -> str:
    """Plain text for a table cell, with ``|`` escaped."""
    return text.replace("|", "\\|")


def _entities(text: str) -> str:
    text = html.escape(text, quote=False)
    for char in "|*_`\\[]":
        text = text.replace(char, f"&#{ord(char)};")
    return text
