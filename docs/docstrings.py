"""How the API reference reads the package's docstrings (hooked into autodoc by docs/conf.py).

The package writes its equations in plain text, as THEORY.md does: ``|grad u|^2``, ``a * b``, ``x_``. In
reStructuredText those are substitutions, emphasis and references. :func:`plain_text_math` escapes them.
A docstring that is still not valid reStructuredText after that (a malformed table, an unexpected indent)
is shown verbatim as a preformatted block, so one helper's docstring can never break the build; the build
log names it (``[docs] ... shown as plain text``) so that it can be fixed.
"""
from __future__ import annotations

import inspect
import io
import re

_LITERAL = re.compile(r"(``.+?``|:[a-z:]+:`[^`]+`|`[^`]+`_?)")
_ROLE = re.compile(r":[a-zA-Z:]+:`([^`]+)`")
_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:-]+)::")


def _escape_plain(segment: str) -> str:
    """|, * and a word-final _ are plain characters in the package's docstrings, not RST markup."""
    segment = segment.replace("|", "\\|").replace("*", "\\*")
    return re.sub(r"(?<=\w)_(?!\w)", r"\\_", segment)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def plain_text_math(lines: list[str]) -> None:
    """Escape ``|``, ``*`` and word-final ``_`` in place, outside inline literals, roles, grid-table rows,
    bullet markers, doctest lines and literal blocks; a paragraph ending in a single ``:`` and followed, after a
    blank line, by a more indented block introduces a literal block (``::``): a plain-text display."""
    for i, line in enumerate(lines):
        if line.rstrip().endswith(":") and not line.rstrip().endswith("::"):
            nxt = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
            if nxt is not None and nxt > i + 1 and _indent(lines[nxt]) > _indent(line):
                lines[i] = line.rstrip() + ":"
    literal_indent = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = _indent(line)
        if literal_indent is not None:
            if stripped and indent <= literal_indent:
                literal_indent = None
            else:
                continue
        grid_row = stripped.startswith("|") and stripped.rstrip().endswith("|") and stripped.count("|") > 2
        if grid_row or stripped.startswith(("+-", "+=", ">>>", "...")):
            continue
        bullet = ""
        if stripped.startswith(("* ", "- ")):
            bullet, stripped = stripped[:2], stripped[2:]
        parts = _LITERAL.split(stripped)
        lines[i] = " " * indent + bullet + "".join(p if k % 2 else _escape_plain(p) for k, p in enumerate(parts))
        if line.rstrip().endswith("::"):
            literal_indent = indent


def rst_problems(lines: list[str], env=None) -> list[str]:
    """docutils' warnings and errors for ``lines`` parsed alone: inline markup, tables, indentation (roles are
    read as literals and directives as comments: their own checks belong to Sphinx)."""
    from docutils.core import publish_doctree
    text = []
    for line in lines:
        line = _ROLE.sub(r"``\1``", line)
        m = _DIRECTIVE.match(line)
        if m:
            line = f"{m.group(1)}.. directive {m.group(2)}"
        text.append(line)
    stream = io.StringIO()
    publish_doctree("\n".join(text), settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": stream, "file_insertion_enabled": False,
        "raw_enabled": False, "env": env})
    return [line for line in stream.getvalue().splitlines() if re.search(r"\((WARNING/2|ERROR/3|SEVERE/4)\)", line)]


def process(app, what, name, obj, options, lines: list[str]) -> None:
    """autodoc-process-docstring: escape plain-text maths; fall back to a verbatim block if still invalid."""
    original = list(lines)
    plain_text_math(lines)
    problems = rst_problems(lines, app.env)
    if not problems:
        return
    if what == "module" or str(getattr(obj, "__module__", "")).startswith("pde_sgd"):  # not imported objects
        from sphinx.util import logging
        logging.getLogger(__name__).info(f"[docs] {name}: docstring shown as plain text ({problems[0]})")
    raw = inspect.getdoc(obj) if what == "module" else None
    body = raw.splitlines() if raw else original
    lines[:] = ["::", ""] + ["    " + line if line.strip() else "" for line in body] + [""]
