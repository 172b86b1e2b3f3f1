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


def _napoleon(lines: list[str]) -> str:
    """The docstring as napoleon renders it with docs/conf.py's settings, after docstrings.numpy_sections."""
    from sphinx.ext.napoleon import Config, NumpyDocstring
    docstrings.numpy_sections(lines)
    config = Config(napoleon_use_param=False, napoleon_use_ivar=True, napoleon_google_docstring=False)
    return "\n".join(NumpyDocstring(lines, config, what="function").lines())


def test_compact_parameters_become_descriptions_and_a_pair_is_rendered_once():
    out = _napoleon(["Summary.", "", "Parameters", "----------",
                     "t : scope (HJ time) > 0.   beta : inverse temperature > 0.",
                     "n_steps, n_saves : step count and number of saves after the start, equally spaced (n_saves",
                     "    must divide n_steps).",
                     "x0 : (dim,) or (n_paths, dim)",
                     "beta2 : float or None",
                     "    Inverse temperature.",
                     "", "Returns", "-------",
                     "Result with arrays ``u`` and ``grad``.",
                     "Raises ValueError for bad input."])
    assert "* **t** -- scope (HJ time) > 0." in out and "* **beta** -- inverse temperature > 0." in out
    assert out.count("step count and number of saves") == 1
    assert "* **n_steps, n_saves** -- step count and number of saves" in out
    assert "* **x0** (*(dim,) or (n_paths, dim)*)" in out            # a short type stays a type
    assert "* **beta2** (*float or None*) -- Inverse temperature." in out  # standard numpy is unchanged
    assert ":returns: Result with arrays ``u`` and ``grad``." in out
    assert ":raises ValueError: for bad input." in out
    assert "**returns" not in out.lower()  # the fields are not read as one more parameter


def test_a_note_after_the_section_name_is_kept_above_the_section():
    out = _napoleon(["Parameters (the problem first)", "----------", "f : Landscape", "    The loss."])
    assert out.startswith("(the problem first)") and ":Parameters: **f** (*Landscape*) -- The loss." in out


def test_napoleon_field_markup_is_not_escaped():
    lines = [":Parameters: * **n_steps, n_saves** -- a | b", "             * **x_** (*float*) -- y*z"]
    docstrings.plain_text_math(lines)
    assert lines == [r":Parameters: * **n_steps, n_saves** -- a \| b", r"             * **x_** (*float*) -- y\*z"]
    assert docstrings.rst_problems(lines) == []
