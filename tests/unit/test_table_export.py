"""The one CSV/LaTeX table writer: CSV that reads back cell for cell, LaTeX that prints exactly the text given."""

import csv
import io
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commentslab.services.evaluator.table_export import (
    LATEX_SPECIALS,
    Table,
    latex_escape,
    table_csv,
    table_latex,
)

# Every character TeX reads as other than itself (its category codes 0-7, 13, 14 and the space-like ones),
# and the characters the escaping spells out by name: the alphabet the properties draw from most often.
SPECIALS = "\\{}$&#^_%~<>|\"\n\r\t\x00"
TEXT = st.text(alphabet=st.one_of(st.sampled_from(SPECIALS), st.characters()), max_size=60)
# What a reader of the escaped LaTeX sees, as the inverse of the escaping: each escape back to its character.
UNESCAPE = {escaped: char for char, escaped in LATEX_SPECIALS.items() if escaped != "-" and escaped != "--"}
TOKEN = re.compile("|".join(re.escape(e) for e in sorted(UNESCAPE, key=len, reverse=True)) + r"|\\|.", re.DOTALL)


def _printed(latex: str) -> str:
    """The text a LaTeX cell prints, or AssertionError at the first character TeX would not print as itself."""
    out = []
    for token in TOKEN.findall(latex):
        if token in UNESCAPE:
            out.append(UNESCAPE[token])
        else:
            assert token not in "\\{}$&#^_%~\n\r\t", f"unescaped {token!r} in {latex!r}"
            out.append(token)
    return "".join(out)


def _as_printed(text: str) -> str:
    """``text`` as a LaTeX table can print it: dashes as TeX's, control characters as spaces."""
    text = text.replace("−", "-").replace("—", "--")
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


@given(TEXT)
def test_latex_escape_prints_exactly_the_text_for_any_text(text):
    assert _printed(latex_escape(text)) == _as_printed(text)


@given(TEXT)
def test_escaped_text_leaves_no_brace_open_or_line_unended(text):
    escaped = latex_escape(text)
    unescaped_braces = re.sub(r"\\[{}]", "", escaped)
    assert unescaped_braces.count("{") == unescaped_braces.count("}")
    assert "\n" not in escaped and "\r" not in escaped


def test_a_backslash_is_escaped_once_not_its_braces_again():
    assert latex_escape(r"a\b_c") == r"a\textbackslash{}b\_c"
    assert latex_escape("50% & $x$ #1 ~ ^ {y}") == r"50\% \& \$x\$ \#1 \textasciitilde{} \textasciicircum{} \{y\}"


@given(st.lists(st.lists(TEXT, min_size=3, max_size=3), max_size=5))
def test_csv_reads_back_cell_for_cell(rows):
    table = Table(columns=("a", "b,c", 'd"e'), rows=tuple(tuple(r) for r in rows))
    parsed = list(csv.reader(io.StringIO(table_csv(table), newline="")))
    assert parsed == [list(table.columns), *[list(r) for r in rows]]


def test_latex_table_has_one_line_per_row_bold_cells_and_an_escaped_caption():
    table = Table(columns=("Metric", "p"), rows=(("pass@1", "< 0.001"), ("exact_match", "0.5")),
                  caption="50% better", label="tab:x", bold=frozenset({(0, 1)}))
    latex = table_latex(table)
    assert r"pass@1 & \textbf{\textless{} 0.001} \\" in latex
    assert r"exact\_match & 0.5 \\" in latex
    assert r"\caption{50\% better}" in latex and r"\label{tab:x}" in latex
    assert latex.count(r" \\") == 3 and r"\begin{tabular}{lr}" in latex


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="table row 2 has 1 cells for 2 columns"):
        Table(columns=("a", "b"), rows=(("1", "2"), ("3",)))
