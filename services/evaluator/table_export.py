"""The one writer of tables as CSV and as LaTeX (booktabs), for `commentslab report` and the dashboard's export.

A table is plain text in every cell; the LaTeX writer escapes all of it, so nothing a results.json holds (a
metric's name, a verdict) can change the LaTeX around it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

# Each character LaTeX reads specially, with the text that prints it. One pass over the text, one
# character at a time, so a replacement is never escaped again (``\`` must not become ``\textbackslash\{\}``).
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}", '"': r"\textquotedbl{}",
    # Signs the tables use that a default (pdfLaTeX, T1) preamble cannot print as Unicode.
    "−": "-", "—": "--", "Δ": r"$\Delta$",
}


@dataclass(frozen=True)
class Table:
    """Column titles, rows of cell text, and for LaTeX a caption, a label key, the column alignment
    (``l``/``c``/``r`` per column; default: the first column left, the others right), the cells set in bold
    (row, column), both counted from 0, the rows a rule goes above (groups), and whether the table is set in
    a small font (wide tables); CSV has no formatting."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    label: str = ""
    align: str = ""
    bold: frozenset[tuple[int, int]] = frozenset()
    rules: frozenset[int] = frozenset()
    small: bool = False

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.columns):
                raise ValueError(f"table row {number} has {len(row)} cells for {len(self.columns)} columns")
        if self.align and len(self.align) != len(self.columns):
            raise ValueError(f"table align {self.align!r} names {len(self.align)} columns, not {len(self.columns)}")


def latex_escape(text: str) -> str:
    """``text`` as LaTeX that prints it: each special character replaced once, control characters (a line
    break would end the table row) as spaces."""
    return "".join(LATEX_SPECIALS.get(ch) or (" " if unicodedata.category(ch) == "Cc" else ch) for ch in text)


def table_csv(table: Table) -> str:
    """The table as CSV (RFC 4180): one header line of column titles, then one line per row."""
    out = io.StringIO()
    # CRLF line ends, as RFC 4180 has them: the writer quotes a cell holding a character of its line end, so
    # with "\n" alone a cell's lone "\r" would go out bare and be lost when the file is read back.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


def table_latex(table: Table) -> str:
    """The table as a LaTeX ``table`` float with booktabs rules, every cell escaped, ready to ``\\input``."""
    align = table.align or "l" + "r" * (len(table.columns) - 1)
    lines = [r"\begin{table}[ht]", r"\centering", *([r"\small"] if table.small else []),
             r"\begin{tabular}{" + align + "}", r"\toprule",
             " & ".join(latex_escape(title) for title in table.columns) + r" \\", r"\midrule"]
    for r, row in enumerate(table.rows):
        if r in table.rules and r > 0:
            lines.append(r"\midrule")
        cells = [r"\textbf{" + latex_escape(cell) + "}" if (r, c) in table.bold else latex_escape(cell)
                 for c, cell in enumerate(row)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.caption:
        lines.append(r"\caption{" + latex_escape(table.caption) + "}")
    if table.label:
        lines.append(r"\label{" + table.label + "}")  # a key for \ref, chosen by the caller: not text
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
