"""The metrics table as downloadable CSV and LaTeX (booktabs), from the Overview's rows."""

from __future__ import annotations

import csv
import io

from dashboard.overview import columns, headline_rows

_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "<": r"\textless{}", "−": "-", "—": "--"}


def metrics_csv(results: dict) -> str:
    """The headline table as CSV: a header of column titles, then one line per metric, values as displayed."""
    cols = columns(results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([title for _, title in cols])
    for row in headline_rows(results):
        writer.writerow([row[key] for key, _ in cols])
    return out.getvalue()


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def metrics_latex(results: dict) -> str:
    """The headline table as a LaTeX ``table`` with booktabs rules, escaped, ready to ``\\input``."""
    cols = columns(results)
    lines = [r"\begin{table}[ht]", r"\centering", r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", r"\toprule",
             " & ".join(latex_escape(title) for _, title in cols) + r" \\", r"\midrule"]
    for row in headline_rows(results):
        lines.append(" & ".join(latex_escape(row[key]) for key, _ in cols) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{Control vs experiment per metric (difference = experiment $-$ control).}",
              r"\label{tab:commentslab-metrics}", r"\end{table}"]
    return "\n".join(lines) + "\n"
