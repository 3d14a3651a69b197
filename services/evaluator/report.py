r"""`commentslab report DIR`: a run's comparison (or a folder of runs') as CSV, a LaTeX table, and a paper's table set.

The table set, in `paper/` beside the CSV:

    main.tex            the main comparison: per metric both arms' means, experiment − control with its 95%
                        bootstrap interval, the primary test's p (Holm-corrected), the test, d_z and the MDD;
                        one table per run when the folder holds several (numbered: Run 1, Run 2, ...)
    by-scenario.tex     with several runs: each run's differences grouped by scenario, then model
    by-model.tex        the same grouped by base model, then scenario (does the effect grow with size?)
    tables.tex          \input's the others (set \commentslabtables to this folder from another document)
    paper_tables.tex    a standalone document of them: `pdflatex paper_tables.tex` in this folder

Every string from a run (scenario, model, metric, run id, verdict) goes through the one LaTeX writer, which
escapes it (table_export.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from commentslab.services.common.artifacts import read_json
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import RunLayout
from commentslab.services.evaluator.results_schema import validate_results
from commentslab.services.evaluator.table_export import Table, table_csv, table_latex

PAPER_DIR = "paper"
# LaTeX holds at most 18 floats waiting to be placed; a page break every few tables keeps the queue short.
_TABLES_PER_PAGE = 6
_PREAMBLE = r"""% The commentslab tables as a document of their own: run `pdflatex paper_tables.tex` in this folder.
\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[margin=1.5cm]{geometry}
\usepackage{booktabs}
\begin{document}
\input{tables}
\end{document}
"""

COLUMNS = ("metric", "control", "experiment", "difference", "ci_low", "ci_high", "primary_test", "p_value",
           "p_holm", "significant", "cohens_dz", "hedges_g", "wilcoxon_p", "mdd", "n", "seeds")


def comparison_rows(results: dict) -> list[dict]:
    """One row per metric: both arms' means, the difference with its bootstrap interval, the tests and effect sizes."""
    rows = []
    for metric in results["metrics"]:
        sig = results["significance"][metric]
        interval = sig.get("bootstrap") or {}
        rows.append({
            "metric": metric,
            "control": results["control"][metric],
            "experiment": results["experiment"][metric],
            "difference": sig["difference"],
            "ci_low": interval.get("low"),
            "ci_high": interval.get("high"),
            "primary_test": sig.get("primaryTest", "McNemar exact" if "mcnemar" in sig else "paired t-test"),
            "p_value": sig.get("pValue", sig["tTest"]["pValue"]),
            "p_holm": sig.get("pHolm"),
            "significant": sig["significant"],
            "cohens_dz": sig.get("cohensD"),
            "hedges_g": sig.get("hedgesG"),
            "wilcoxon_p": (sig.get("wilcoxon") or {}).get("pValue"),
            "mdd": sig.get("mdd"),
            "n": sig["n"],
            "seeds": sig.get("seeds", 1),
        })
    return rows


def comparison_table(results: dict) -> Table:
    """The comparison as machine-readable columns (``COLUMNS``), numbers as Python writes them, empty cells
    for undefined values: the CSV's table."""
    rows = [tuple("" if row[column] is None else str(row[column]) for column in COLUMNS)
            for row in comparison_rows(results)]
    return Table(columns=COLUMNS, rows=tuple(rows))


def _fixed(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "--"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "--"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def paper_table(results: dict) -> Table:
    """The comparison as a paper shows it: rounded figures, the Holm-corrected p-value in bold where
    significant, the verdict and the evaluation's size as the caption."""
    rows, bold = [], set()
    for number, row in enumerate(comparison_rows(results)):
        interval = f"[{_fixed(row['ci_low'], signed=True)}, {_fixed(row['ci_high'], signed=True)}]"
        rows.append((row["metric"], _fixed(row["control"]), _fixed(row["experiment"]),
                     _fixed(row["difference"], signed=True), interval,
                     _p(row["p_holm"] if row["p_holm"] is not None else row["p_value"]), row["primary_test"],
                     _fixed(row["cohens_dz"], 2), _fixed(row["mdd"])))
        if row["significant"]:
            bold.add((number, 5))
    evaluation = results.get("evaluation", {})
    detail = (f"{evaluation.get('problems', '?')} problems, {evaluation.get('samples', '?')} samples each, "
              f"{evaluation.get('seeds', 1)} seed(s); primary test per metric, Holm-corrected.")
    return Table(columns=("Metric", "Control", "Experiment", "Δ", "95% CI", "p (Holm)", "Test", "d_z", "MDD"),
                 rows=tuple(rows), caption=f"{results.get('verdict') or ''} {detail}".strip(),
                 label="tab:commentslab-comparison", align="lrrrcrlrr", bold=frozenset(bold), small=True)


def comparison_csv(results: dict) -> str:
    """The comparison as CSV text (empty cells for undefined values)."""
    return table_csv(comparison_table(results))


def comparison_latex(results: dict) -> str:
    """The comparison as a LaTeX `table` (booktabs rules) with the verdict as its caption."""
    return table_latex(paper_table(results))


@dataclass(frozen=True)
class ReportedRun:
    """One run of a report: its number in the tables (from 1), its id in the folder, what it compared."""

    number: int
    run_id: str
    scenario: str
    model: str
    design: str
    results: dict


def _text(value: str | None) -> str:
    return value if value else "unknown"


def run_table(run: ReportedRun) -> Table:
    """A run's main comparison in a folder of several: `paper_table` captioned with the run's number, id,
    scenario, model and design."""
    table = paper_table(run.results)
    caption = (f"Run {run.number} ({run.run_id}): scenario {run.scenario}, model {run.model}, {run.design}. "
               f"{table.caption}")
    return Table(columns=table.columns, rows=table.rows, caption=caption, label=f"tab:commentslab-run-{run.number}",
                 align=table.align, bold=table.bold, small=True)


def breakdown_table(runs: list[ReportedRun], by: str) -> Table:
    """Every run's experiment − control per metric, grouped by ``by`` (``scenario`` or ``model``) and then the
    other, with the 95% interval, the Holm-corrected p (bold where significant) and the MDD."""
    other = "model" if by == "scenario" else "scenario"
    ordered = sorted(runs, key=lambda run: (getattr(run, by), getattr(run, other), run.number))
    rows, bold, rules, previous = [], set(), set(), None
    for run in ordered:
        group = getattr(run, by)
        for index, row in enumerate(comparison_rows(run.results)):
            if group != previous:
                rules.add(len(rows))
            first = index == 0
            if row["significant"]:
                bold.add((len(rows), 6))
            rows.append((group if group != previous else "", getattr(run, other) if first else "",
                         str(run.number) if first else "", row["metric"], _fixed(row["difference"], signed=True),
                         f"[{_fixed(row['ci_low'], signed=True)}, {_fixed(row['ci_high'], signed=True)}]",
                         _p(row["p_holm"] if row["p_holm"] is not None else row["p_value"]), _fixed(row["mdd"])))
            previous = group
    title = {"scenario": "Scenario", "model": "Model"}
    caption = (f"Experiment − control per {by}: each run's difference with its 95% bootstrap interval, "
               "Holm-corrected p (bold: significant) and minimum detectable difference (MDD); runs numbered as in "
               "their own tables.")
    return Table(columns=(title[by], title[other], "Run", "Metric", "Δ", "95% CI", "p (Holm)", "MDD"),
                 rows=tuple(rows), caption=caption, label=f"tab:commentslab-by-{by}", align="lllrrcrr",
                 bold=frozenset(bold), rules=frozenset(rules), small=True)


def _float_pages(tables: list[str]) -> str:
    chunks = []
    for index, latex in enumerate(tables):
        if index and index % _TABLES_PER_PAGE == 0:
            chunks.append("\\clearpage\n")
        chunks.append(latex)
    return "\n".join(chunks)


def _single_run(run_dir: Path) -> dict | None:
    """A run folder's results.json, checked; None when the folder is not a run (a folder of runs)."""
    path = RunLayout.reading(run_dir).results
    if not path.is_file():
        return None
    results = read_json(path)
    validate_results(results, str(path))
    return results


def _runs_under(folder: Path) -> tuple[list[ReportedRun], list[tuple[str, str]]]:
    """The readable runs under ``folder`` (run_index's database), numbered, and (run id, reason) for the others."""
    from commentslab.services.common.run_index import find_runs
    from commentslab.services.gateway.results_store import ResultsError

    try:
        index = find_runs(folder)
    except ResultsError as error:
        raise InputError(str(folder), str(error)) from error
    runs = []
    for entry in index.runs:
        results = read_json(RunLayout.reading(entry.path).results)
        runs.append(ReportedRun(len(runs) + 1, entry.run_id, _text(entry.scenario), _text(entry.base_model),
                                entry.design.label if entry.design else "unknown design", results))
    return runs, [(entry.run_id, entry.error or "") for entry in index.broken]


def paper_files(runs: list[ReportedRun]) -> dict[str, str]:
    """The paper's table set (file name -> LaTeX): main, per scenario and per model (several runs), tables.tex
    that \\input's them, and a standalone paper_tables.tex."""
    if len(runs) == 1:
        files = {"main.tex": comparison_latex(runs[0].results)}
    else:
        files = {"main.tex": _float_pages([table_latex(run_table(run)) for run in runs]),
                 "by-scenario.tex": table_latex(breakdown_table(runs, "scenario")),
                 "by-model.tex": table_latex(breakdown_table(runs, "model"))}
    inputs = "\n\\clearpage\n".join(r"\input{\commentslabtables/" + name.removesuffix(".tex") + "}" for name in files)
    files["tables.tex"] = (
        "% The commentslab tables (booktabs). From a document in another folder, say where they are first:\n"
        "% \\newcommand{\\commentslabtables}{path/to/paper} \\input{path/to/paper/tables}\n"
        "\\providecommand{\\commentslabtables}{.}\n" + inputs + "\n")
    files["paper_tables.tex"] = _PREAMBLE
    return files


def write_report(run_dir: Path, out_dir: Path | None = None) -> dict:
    """Write comparison.csv, comparison.tex and the paper's table set (`paper/`, see the module) for a run folder or
    a folder of runs, into `out_dir` (default: that folder).

    Returns the paths written (``csv``, ``latex``, ``paper``: the table set's folder, ``tables``: its files) and
    ``skipped``: (run id, reason) for each run of a folder that could not be read. InputError when a run's
    results.json is invalid, or a folder holds no readable run.
    """
    run_dir = Path(run_dir)
    single = _single_run(run_dir)
    if single is not None:
        runs, skipped = [ReportedRun(1, ".", _text(single.get("scenario")), _text(single.get("baseModel")), "",
                                     single)], []
    else:
        runs, skipped = _runs_under(run_dir)
        if not runs:
            reasons = "; ".join(f"{run_id}: {reason}" for run_id, reason in skipped) or "no results.json under it"
            raise InputError(str(run_dir), f"holds no run to report ({reasons})")
    out_dir = Path(out_dir) if out_dir else run_dir
    paper = out_dir / PAPER_DIR
    paper.mkdir(parents=True, exist_ok=True)
    written: dict = {"csv": out_dir / "comparison.csv", "latex": out_dir / "comparison.tex", "paper": paper,
                     "skipped": skipped}
    if single is not None:
        written["csv"].write_text(comparison_csv(single), encoding="utf-8")
        written["latex"].write_text(comparison_latex(single), encoding="utf-8")
    else:
        written["csv"].write_text(runs_csv(runs), encoding="utf-8")
        written["latex"].write_text(_float_pages([table_latex(run_table(run)) for run in runs]), encoding="utf-8")
    files = paper_files(runs)
    for name, text in files.items():
        (paper / name).write_text(text, encoding="utf-8")
    written["tables"] = [paper / name for name in files]
    return written


def runs_csv(runs: list[ReportedRun]) -> str:
    """Every run's comparison as one CSV: the run's number, id, scenario and model, then ``COLUMNS``."""
    columns = ("run", "run_id", "scenario", "model", *COLUMNS)
    rows = [(str(run.number), run.run_id, run.scenario, run.model,
             *("" if row[column] is None else str(row[column]) for column in COLUMNS))
            for run in runs for row in comparison_rows(run.results)]
    return table_csv(Table(columns=columns, rows=tuple(rows)))
