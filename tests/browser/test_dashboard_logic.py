"""The dashboard's plain modules (no browser): Overview rows with new and old result keys, CSV/LaTeX export,
diff and metadata hints, and the default results folder."""

import csv
import io
import json
import os

from test_dashboard import make_sample_results

from dashboard.comparison import code_diff, metadata_hints, metadata_terms, outcomes
from dashboard.overview import columns, headline_rows, verdict
from dashboard.table_export import latex_escape, metrics_csv, metrics_latex
from services.gateway.results_store import default_results_dir, disagrees


def _with_new_keys() -> dict:
    results = make_sample_results()
    results["significance"]["pass@1"].update(primaryTest="McNemar exact", pValue=0.0004, pHolm=0.0016,
                                             bootstrap={"low": 0.02, "high": 0.31}, significant=True)
    results["placebo"] = {m: 0.1 for m in results["metrics"]}
    results["arms"].append("placebo")
    return results


def test_overview_rows_show_interval_holm_p_and_placebo_when_present():
    results = _with_new_keys()
    assert [key for key, _ in columns(results)][:4] == ["metric", "control", "placebo", "experiment"]
    row = headline_rows(results)[0]
    assert (row["interval"], row["pValue"], row["pHolm"], row["significant"]) == (
        "[+0.020, +0.310]", "< 0.001", "0.002", "yes")
    assert row["placebo"] == "0.100"
    assert verdict(results).startswith("The experiment arm is significantly better than control on pass@1 (p = 0.002)")
    results["verdict"] = "No significant difference (Holm-corrected)."
    assert verdict(results) == "No significant difference (Holm-corrected)."


def test_csv_round_trips_and_latex_is_escaped():
    results = _with_new_keys()
    parsed = list(csv.reader(io.StringIO(metrics_csv(results))))
    assert parsed[0][:4] == ["Metric", "Control", "Placebo", "Experiment"]
    assert parsed[1][:4] == ["pass@1", "0.125", "0.100", "0.250"] and len(parsed) == 5
    latex = metrics_latex(results)
    assert r"exact\_match" in latex and r"\textless{} 0.001" in latex and latex.count(r" \\") == 5
    assert latex_escape("a_b & 50% $x$") == r"a\_b \& 50\% \$x\$"


def test_metadata_hints_name_terms_the_experiment_used_and_control_did_not():
    metadata = {"text": "Round to `decimals` places using math_round", "params": {"decimals": "int", "number": "float"}}
    assert {"decimals", "number", "math_round"} <= metadata_terms(metadata)
    control = "    return number % 1.0\n"
    experiment = "    return round(number % 1.0, decimals)\n"
    assert metadata_hints(metadata, control, experiment) == ["decimals"]
    assert metadata_hints(None, control, experiment) == []
    assert code_diff(control, experiment) == [("-", "    return number % 1.0"),
                                              ("+", "    return round(number % 1.0, decimals)")]
    assert outcomes({"statuses": ["passed", "timeout"]}) == ["passed", "timeout"]
    assert outcomes(None) == ["not run"]


def test_disagreement_is_on_pass_fail_outcomes():
    problem = {"control": {"passed": [False]}, "experiment": {"passed": [True]}}
    assert disagrees(problem, ["control", "experiment"])
    assert not disagrees({"control": {"passed": [True]}, "experiment": {"passed": [True]}}, ["control", "experiment"])


def test_default_results_prefers_reference_then_newest_run(tmp_path):
    assert default_results_dir(tmp_path) == tmp_path / "runs" / "demo"
    for age, name in enumerate(("new", "old")):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "results.json").write_text(json.dumps({}))
        os.utime(tmp_path / "runs" / name / "results.json", (1_700_000_000 - age * 100,) * 2)
    assert default_results_dir(tmp_path) == tmp_path / "runs" / "new"
    (tmp_path / "results" / "reference").mkdir(parents=True)
    (tmp_path / "results" / "reference" / "results.json").write_text("{}")
    assert default_results_dir(tmp_path) == tmp_path / "results" / "reference"
