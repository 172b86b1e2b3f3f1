"""How the API reference reads the package's docstrings (hooked into autodoc by docs/conf.py).

The package writes its equations in plain text, as THEORY.md does: ``|grad u|^2``, ``a * b``, ``x_``. In
reStructuredText those are substitutions, emphasis and references. :func:`plain_text_math` escapes them.
A docstring that is still not valid reStructuredText after that (a malformed table, an unexpected indent)
is shown verbatim as a preformatted block, so one helper's docstring can never break the build; the build
log names it (``[docs] ... shown as plain text``) so that it can be fixed.

Before napoleon reads a docstring, :func:`numpy_sections` turns the package's compact numpy sections into
standard ones (see there), so that parameters, returns and raises render as fields.
"""
from __future__ import annotations

import inspect
import io
import re

# inline literals, roles, references, and napoleon's own markup of a field: **name** and (*type*)
_LITERAL = re.compile(r"(``.+?``|:[a-z:]+:`[^`]+`|`[^`]+`_?|\*\*[^*\s][^*]*\*\*|(?<=\()\*[^*\s][^*]*\*(?=\)))")
_MARKER = re.compile(r"(?::[A-Za-z][\w ]*:\s+)?(?:[*-] )?")  # ":Parameters: * " as napoleon writes it, "* ", "- "
_ROLE = re.compile(r":[a-zA-Z:]+:`([^`]+)`")
_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:-]+)::")


_HEADER = re.compile(r"^(\s*)(Parameters|Other Parameters|Keyword Arguments|Attributes|Returns|Yields|Raises)"
                     r"\s*(\(.*\))?\s*$")
_ENTRY = re.compile(r"^(?P<name>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s+:\s+(?P<text>.*\S)\s*$")
_NEXT_ENTRY = re.compile(r"(?:\s{3,}|;\s+)(?=\*{0,2}\w+(?:,\s*\w+)*\s+:\s+\S)")
_EXCEPTION = re.compile(r"^(?:Raises\s+)?(?P<name>[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning))\b"
                        r"[\s:,]*(?P<text>.*)$")


def _is_description(text: str, continued: str | None) -> bool:
    """Whether the text after ``name :`` is the start of a description rather than a type.

    ``continued`` is the first line of the indented block that follows (None when there is none): then the
    text is a type unless it ends mid-sentence (``,``, ``;``, ``(``) or the block does not start a sentence
    (no capital letter). Without a block, the text is a description when it ends with a full stop or has five
    words or more (types are short: ``float or None``, ``tuple of 3 ints``).
    """
    if continued is not None:
        return text.endswith((",", ";", "(")) or not continued[:1].isupper()
    return text.endswith(".") or len(text.split()) >= 5


def _section_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the body of the section whose underline is at ``start - 1`` (next header or dedent)."""
    j = start
    while j < len(lines):
        line = lines[j]
        if line.strip() and (_indent(line) < indent or (_HEADER.match(line) and j + 1 < len(lines)
                                                          and set(lines[j + 1].strip()) == {"-"})):
            break
        j += 1
    return j


def _field_entries(body: list[str], indent: int) -> list[str]:
    """Parameters-like body in standard numpy form: one entry per line, descriptions on an indented line."""
    pad, out = " " * indent, []
    i = 0
    while i < len(body):
        line = body[i]
        if not line.strip() or _indent(line) > indent or not _ENTRY.match(line.strip()):
            out.append(line)
            i += 1
            continue
        pieces = _NEXT_ENTRY.split(line.strip())  # "t : scope > 0.   beta : inverse temperature > 0."
        nxt = body[i + 1] if i + 1 < len(body) else ""
        block = nxt.strip() if nxt.strip() and _indent(nxt) > indent else None
        for k, piece in enumerate(pieces):
            m = _ENTRY.match(piece)
            if not m:
                out[-1] += " " + piece
                continue
            last = k == len(pieces) - 1
            text = m["text"].rstrip(";")
            if _is_description(text, block if last else None):
                out += [pad + m["name"], pad + "    " + text]
            else:
                out.append(pad + f"{m['name']} : {text}")
        i += 1
    return out


def _free_text(body: list[str], indent: int) -> bool:
    """A Returns body written as prose (no ``name : type`` line, nothing indented deeper)."""
    text = [line for line in body if line.strip()]
    return bool(text) and all(_indent(line) == indent for line in text) and not _ENTRY.match(text[0].strip())


def _as_fields(body: list[str], indent: int, role: str) -> list[str]:
    """Prose as RST fields: ``:returns: ...``; a sentence starting ``Raises X`` becomes ``:raises X: ...``."""
    pad, fields = " " * indent, []
    for line in (line.strip() for line in body if line.strip()):
        m = _EXCEPTION.match(line) if (role == "raises" or line.startswith("Raises ")) else None
        if m:
            fields.append([f":raises {m['name']}:", m["text"]])
        elif fields:
            fields[-1].append(line)
        else:
            fields.append([f":{role}:", line])
    # two blank lines end napoleon's previous section: the fields are not read as one more parameter
    return ["", ""] + [pad + " ".join(part for part in field if part) for field in fields] + [""]


def numpy_sections(lines: list[str]) -> None:
    """Rewrite, in place, the package's compact numpy sections into what napoleon renders as fields.

    * Parameters / Attributes: ``name : description`` on one line puts the description where napoleon expects
      the type; it becomes ``name`` with the description indented below (the text counts as a type only when it
      is short or a description block follows, see :func:`_is_description`). Several entries on one line
      (``t : ... > 0.   beta : ...``) are split. ``a, b : text`` stays one entry, rendered once.
    * A note after a section name (``Parameters (the problem first)``) becomes a paragraph above it.
    * Returns / Yields written as prose become a ``:returns:`` field; a sentence ``Raises ValueError ...``
      inside it, or prose under Raises, becomes ``:raises ValueError: ...``.
    """
    i = 0
    while i + 1 < len(lines):
        header = _HEADER.match(lines[i])
        if not header or set(lines[i + 1].strip()) != {"-"}:
            i += 1
            continue
        indent, name = len(header[1]), header[2]
        if header[3]:  # "Parameters (the problem first, ...)": the note becomes a paragraph above the section
            lines[i:i + 1] = [header[1] + header[3], "", header[1] + name]
            i += 2
        end = _section_end(lines, i + 2, indent)
        body = lines[i + 2:end]
        if name in ("Returns", "Yields", "Raises"):
            prose = _free_text(body, indent) and (name != "Raises" or _EXCEPTION.match(body[0].strip()))
            new = _as_fields(body, indent, "raises" if name == "Raises" else "returns") if prose else None
            if new is not None:
                lines[i:end] = new
                i += len(new)
                continue
        else:
            lines[i + 2:end] = _field_entries(body, indent)
        i += 2


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
        bullet = _MARKER.match(stripped)[0]  # a field name and / or a bullet: markup, kept as it is
        stripped = stripped[len(bullet):]
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


def before_napoleon(app, what, name, obj, options, lines: list[str]) -> None:
    """autodoc-process-docstring, run before napoleon's: :func:`numpy_sections`."""
    numpy_sections(lines)


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
