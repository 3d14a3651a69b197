"""`commentslab report DIR`: the comparison of a run's results.json as CSV and as a LaTeX table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from services.common.artifacts import read_json
from services.common.errors import InputError

SCHEMA_FILE = Path(__file__).with_name("results.schema.json")
COLUMNS = ("metric", "control", "experiment", "difference", "ci_low", "ci_high", "primary_test", "p_value",
           "p_holm", "significant", "cohens_dz", "hedges_g", "wilcoxon_p", "mdd", "n", "seeds")


def results_schema() -> dict:
    """The JSON Schema of results.json (services/evaluator/results.schema.json)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def validate_results(results: dict, source: str = "results.json") -> None:
    """Raise InputError naming the first field of `results` that breaks the schema, with the reason."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(results_schema())
    error = next(iter(sorted(validator.iter_errors(results), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(source, f"does not match results.schema.json at {where}: {error.message}")


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


def comparison_csv(results: dict) -> str:
    """The comparison as CSV text (empty cells for undefined values)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in comparison_rows(results):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                          ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"),
                          ("^", r"\textasciicircum{}")):
        text = text.replace(char, escaped)
    return text


def _fixed(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "--"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "--"
    return "$<$0.001" if value < 0.001 else f"{value:.3f}"


def comparison_latex(results: dict) -> str:
    """The comparison as a LaTeX `table` (booktabs rules) with the verdict as its caption."""
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{lrrrcrrr}",
        r"\toprule",
        r"Metric & Control & Experiment & $\Delta$ & 95\% CI & $p$ (Holm) & $d_z$ & MDD \\",
        r"\midrule",
    ]
    for row in comparison_rows(results):
        interval = f"[{_fixed(row['ci_low'], signed=True)}, {_fixed(row['ci_high'], signed=True)}]"
        p_text = _p(row["p_holm"] if row["p_holm"] is not None else row["p_value"])
        if row["significant"]:
            p_text = r"\textbf{" + p_text + "}"
        lines.append(f"{_latex_escape(row['metric'])} & {_fixed(row['control'])} & {_fixed(row['experiment'])} & "
                     f"{_fixed(row['difference'], signed=True)} & {interval} & {p_text} & "
                     f"{_fixed(row['cohens_dz'], 2)} & {_fixed(row['mdd'])} \\\\")
    evaluation = results.get("evaluation", {})
    caption = results.get("verdict") or ""
    detail = (f"{evaluation.get('problems', '?')} problems, {evaluation.get('samples', '?')} samples each, "
              f"{evaluation.get('seeds', 1)} seed(s); primary test per metric, Holm-corrected.")
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _latex_escape(f"{caption} {detail}".strip()) + "}",
              r"\label{tab:commentslab-comparison}", r"\end{table}", ""]
    return "\n".join(lines)


def write_report(run_dir: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Write comparison.csv and comparison.tex for `run_dir/results.json` (into `out_dir`, default the run folder)."""
    path = Path(run_dir) / "results.json"
    results = read_json(path)
    validate_results(results, str(path))
    out_dir = Path(out_dir) if out_dir else Path(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"csv": out_dir / "comparison.csv", "latex": out_dir / "comparison.tex"}
    written["csv"].write_text(comparison_csv(results), encoding="utf-8")
    written["latex"].write_text(comparison_latex(results), encoding="utf-8")
    return written
