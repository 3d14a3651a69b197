"""`commentslab report DIR`: the comparison of a run's results.json as CSV and as a LaTeX table."""

from __future__ import annotations

from pathlib import Path

from commentslab.services.common.artifacts import read_json
from commentslab.services.common.layout import RunLayout
from commentslab.services.evaluator.results_schema import validate_results
from commentslab.services.evaluator.table_export import Table, table_csv, table_latex

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
                     _p(row["p_holm"] if row["p_holm"] is not None else row["p_value"]),
                     _fixed(row["cohens_dz"], 2), _fixed(row["mdd"])))
        if row["significant"]:
            bold.add((number, 5))
    evaluation = results.get("evaluation", {})
    detail = (f"{evaluation.get('problems', '?')} problems, {evaluation.get('samples', '?')} samples each, "
              f"{evaluation.get('seeds', 1)} seed(s); primary test per metric, Holm-corrected.")
    return Table(columns=("Metric", "Control", "Experiment", "Δ", "95% CI", "p (Holm)", "d_z", "MDD"),
                 rows=tuple(rows), caption=f"{results.get('verdict') or ''} {detail}".strip(),
                 label="tab:commentslab-comparison", align="lrrrcrrr", bold=frozenset(bold))


def comparison_csv(results: dict) -> str:
    """The comparison as CSV text (empty cells for undefined values)."""
    return table_csv(comparison_table(results))


def comparison_latex(results: dict) -> str:
    """The comparison as a LaTeX `table` (booktabs rules) with the verdict as its caption."""
    return table_latex(paper_table(results))


def write_report(run_dir: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Write comparison.csv and comparison.tex for `run_dir/results.json` (into `out_dir`, default the run folder)."""
    path = RunLayout.reading(run_dir).results
    results = read_json(path)
    validate_results(results, str(path))
    out_dir = Path(out_dir) if out_dir else Path(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"csv": out_dir / "comparison.csv", "latex": out_dir / "comparison.tex"}
    written["csv"].write_text(comparison_csv(results), encoding="utf-8")
    written["latex"].write_text(comparison_latex(results), encoding="utf-8")
    return written
