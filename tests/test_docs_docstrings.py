"""docs/docstrings.py: plain-text maths survives reStructuredText; invalid RST is detected (then shown verbatim)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import docstrings  # noqa: E402


def test_plain_text_maths_is_escaped_outside_literals():
    lines = ["u_t = -1/2 |grad u|^2 + a * b, see ``|x|`` and :func:`f_`", "", "* bullet |y|"]
    docstrings.plain_text_math(lines)
    assert lines[0] == r"u_t = -1/2 \|grad u\|^2 + a \* b, see ``|x|`` and :func:`f_`"
    assert lines[2] == r"* bullet \|y\|"
    assert docstrings.rst_problems(lines) == []
    assert docstrings.rst_problems(["|x| and |y - z|"])  # unescaped: an undefined substitution


def test_colon_before_an_indented_display_becomes_a_literal_block():
    lines = ["One step:", "", "    x <- x - eta g", "        (indented further)", "", "Done."]
    docstrings.plain_text_math(lines)
    assert lines[0] == "One step::" and lines[2] == "    x <- x - eta g"  # verbatim inside the block
    assert docstrings.rst_problems(lines) == []


def test_malformed_table_is_reported():
    table = ["=====  =====", "``a_long_name``  b", "=====  =====", ""]
    assert any("table" in p.lower() for p in docstrings.rst_problems(table))
