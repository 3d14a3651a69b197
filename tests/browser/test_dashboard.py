"""The dashboard shows a run's results.json in a real browser, and explains when there is none."""

import json
import math
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.app import ResultsError, headline_rows, load_results, verdict
from services.stats.compare import compare

COMMIT = "3f9c2a7e1b4d8c6f0a2e5b7d9c1f3a5e7b9d2c4f"

# Per-problem outcomes of a small, realistic smoke run: eight HumanEval problems, one sample each.
TASKS = [
    ("HumanEval/0", "has_close_elements"),
    ("HumanEval/2", "truncate_number"),
    ("HumanEval/4", "mean_absolute_deviation"),
    ("HumanEval/7", "filter_by_substring"),
    ("HumanEval/12", "longest"),
    ("HumanEval/13", "greatest_common_divisor"),
    ("HumanEval/23", "strlen"),
    ("HumanEval/28", "concatenate"),
]
PER_PROBLEM = {
    "control": {
        "pass@1": [0, 0, 1, 0, 0, 0, 0, 0],
        "exactMatch": [0, 0, 0, 0, 0, 0, 0, 0],
        "astMatch": [0, 0, 1, 0, 0, 0, 0, 0],
        "semanticSimilarity": [0.41, 0.35, 0.92, 0.28, 0.50, 0.33, 0.45, 0.36],
    },
    "experiment": {
        "pass@1": [0, 1, 1, 0, 0, 0, 0, 0],
        "exactMatch": [0, 0, 1, 0, 0, 0, 0, 0],
        "astMatch": [0, 1, 1, 0, 0, 0, 0, 0],
        "semanticSimilarity": [0.44, 0.71, 0.95, 0.30, 0.52, 0.31, 0.47, 0.46],
    },
}
METRICS = {  # results.json metric name -> per-problem field, and whether its scores are pass/fail
    "pass@1": ("pass@1", True),
    "exact_match": ("exactMatch", True),
    "ast_match": ("astMatch", True),
    "semantic_similarity": ("semanticSimilarity", False),
}


def _loss_history(start: float, floor: float) -> list[dict]:
    return [
        {
            "step": step,
            "loss": round(floor + (start - floor) * math.exp(-step / 9) + 0.03 * math.sin(step), 4),
            "lr": 1e-4 * min(1.0, step / 5),
        }
        for step in range(1, 31)
    ]


def make_sample_results() -> dict:
    """A results.json for a smoke run following docs/CONTRACTS.md, with statistics from services.stats."""
    arms = ["control", "experiment"]
    results: dict = {
        "schemaVersion": 1,
        "scenario": "function_completion",
        "arms": arms,
        "metrics": list(METRICS),
        "improvement": {},
        "significance": {},
    }
    for arm in arms:
        results[arm] = {
            metric: sum(PER_PROBLEM[arm][field]) / len(TASKS) for metric, (field, _) in METRICS.items()
        }
    for metric, (field, binary) in METRICS.items():
        control, experiment = PER_PROBLEM["control"][field], PER_PROBLEM["experiment"][field]
        stats = compare(control, experiment, binary=binary)
        results["significance"][metric] = {
            key: stats[key] for key in ("n", "tTest", "cohensD", "significant")
        }
        if binary:
            results["significance"][metric]["mcnemar"] = stats["mcnemar"]
        absolute = results["experiment"][metric] - results["control"][metric]
        base = results["control"][metric]
        results["improvement"][metric] = {"absolute": absolute, "relative": absolute / base if base else None}
    results["problems"] = [
        {
            "id": f"{index:016x}",
            "taskId": task_id,
            "entryPoint": entry_point,
            **{
                arm: {
                    "completions": [f"    return {entry_point}_{arm}()\n"],
                    "passed": [bool(PER_PROBLEM[arm]["pass@1"][index])],
                    "statuses": ["passed" if PER_PROBLEM[arm]["pass@1"][index] else "failed"],
                    "pass@1": float(PER_PROBLEM[arm]["pass@1"][index]),
                    "exactMatch": float(PER_PROBLEM[arm]["exactMatch"][index]),
                    "astMatch": float(PER_PROBLEM[arm]["astMatch"][index]),
                    "semanticSimilarity": PER_PROBLEM[arm]["semanticSimilarity"][index],
                }
                for arm in arms
            },
            "reference": f"    return {entry_point}()\n",
        }
        for index, (task_id, entry_point) in enumerate(TASKS)
    ]
    results["training"] = {
        arm: {
            "history": _loss_history(start, floor),
            "checkpoint": f"file:///runs/smoke/checkpoints/{arm}",
            "mlflowRunId": f"{index + 1:032x}",
            "steps": 30,
            "wallSeconds": 80.1 + index,
        }
        for index, (arm, start, floor) in enumerate([("control", 3.2, 1.4), ("experiment", 3.4, 1.1)])
    }
    results["config"] = {"profile": "smoke", "seed": 1234, "train": {"steps": 30, "learningRate": 1e-4}}
    results["provenance"] = {
        "commit": COMMIT,
        "createdAt": "2025-11-24T22:40:05+00:00",
        "machine": {"platform": "Linux-6.1-x86_64", "cpus": 2, "torch": "2.13.0"},
        "wallSeconds": {"export": 1.2, "split": 0.1, "train:control": 80.1, "train:experiment": 81.1},
        "profile": "smoke",
    }
    return results


@pytest.fixture
def sample_results_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(
        json.dumps(make_sample_results(), allow_nan=False), encoding="utf-8"
    )
    return run_dir


def _severe_console_entries(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


# --- in the browser -------------------------------------------------------------------------------


@pytest.mark.browser
def test_headline_table_verdict_and_loss_curves_render(chrome, start_dashboard, sample_results_dir):
    results = json.loads((sample_results_dir / "results.json").read_text())
    base = start_dashboard(sample_results_dir)
    chrome.get(base)
    wait = WebDriverWait(chrome, 30)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#headline-table tbody tr")))

    rows = {}
    for tr in chrome.find_elements(By.CSS_SELECTOR, "#headline-table tbody tr"):
        cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        rows[cells[0]] = cells[1:]
    assert list(rows) == ["pass@1", "exact_match", "ast_match", "semantic_similarity"]
    # control, experiment, difference, interval, primary test, p-value, Holm p, significant
    assert rows["pass@1"] == ["0.125", "0.250", "+0.125", "—", "McNemar exact", "1.000", "—", "no"]
    assert rows["exact_match"] == ["0.000", "0.125", "+0.125", "—", "McNemar exact", "1.000", "—", "no"]
    t_p = results["significance"]["semantic_similarity"]["tTest"]["pValue"]
    assert 0.05 < t_p < 1.0
    assert rows["semantic_similarity"] == ["0.450", "0.520", "+0.070", "—", "paired t-test", f"{t_p:.3f}", "—", "no"]

    assert "no significant difference" in chrome.find_element(By.ID, "verdict").text.lower()
    provenance = chrome.find_element(By.ID, "provenance").text
    assert "smoke" in provenance and COMMIT[:12] in provenance and "2025-11-24T22:40:05" in provenance

    # The Training view plots each arm's 30 logged steps.
    chrome.find_element(By.ID, "nav-training").click()
    for arm in ("control", "experiment"):
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#loss-{arm} .scatterlayer .trace")))
    points = chrome.execute_script(
        "return ['loss-control', 'loss-experiment'].map("
        "id => document.querySelector('#' + id + ' .js-plotly-plot').data[0].y.length)"
    )
    assert points == [30, 30]
    assert _severe_console_entries(chrome) == []


@pytest.mark.browser
def test_missing_results_folder_shows_how_to_produce_results(chrome, start_dashboard, tmp_path):
    missing = tmp_path / "never-ran"
    chrome.get(start_dashboard(missing))
    message = WebDriverWait(chrome, 30).until(EC.presence_of_element_located((By.ID, "results-error"))).text
    assert f"The results folder {missing} does not exist" in message
    assert f"commentslab run --profile smoke --out {missing}" in message
    assert chrome.find_elements(By.ID, "headline-table") == []
    assert _severe_console_entries(chrome) == []


@pytest.mark.browser
def test_console_log_capture_sees_severe_entries(chrome, start_dashboard, tmp_path):
    # Guards the "no SEVERE entries" assertions above against a log that is never collected.
    chrome.get(start_dashboard(tmp_path))
    WebDriverWait(chrome, 30).until(EC.presence_of_element_located((By.ID, "results-error")))
    chrome.execute_script("console.error('deliberate test error')")
    assert any("deliberate test error" in entry["message"] for entry in _severe_console_entries(chrome))


# --- without a browser ----------------------------------------------------------------------------


def test_load_results_names_a_missing_results_file(tmp_path):
    with pytest.raises(ResultsError, match="has no results.json.*commentslab run --profile smoke --out"):
        load_results(tmp_path)


def test_load_results_rejects_malformed_json(tmp_path):
    (tmp_path / "results.json").write_text('{"schemaVersion": 1,', encoding="utf-8")
    with pytest.raises(ResultsError, match="is not valid UTF-8 JSON"):
        load_results(tmp_path)


def test_load_results_names_missing_fields(tmp_path):
    results = make_sample_results()
    del results["significance"], results["training"]
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    with pytest.raises(ResultsError, match="lacks the field\\(s\\) significance, training"):
        load_results(tmp_path)


def test_load_results_rejects_a_metric_without_a_value(tmp_path):
    results = make_sample_results()
    del results["experiment"]["ast_match"]
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    with pytest.raises(ResultsError, match="experiment arm has no value for metric\\(s\\) ast_match"):
        load_results(tmp_path)


def test_sample_results_load_and_nothing_is_significant(sample_results_dir):
    results = load_results(sample_results_dir)
    assert not any(s["significant"] for s in results["significance"].values())
    assert verdict(results) == (
        "There is no significant difference between the experiment and control arms on any metric "
        "on 8 test problems."
    )


def test_verdict_names_significantly_better_and_worse_metrics():
    results = make_sample_results()
    results["significance"]["pass@1"].update(significant=True, mcnemar={"b": 0, "c": 14, "pValue": 0.0001})
    results["experiment"]["exact_match"] = 0.0
    results["control"]["exact_match"] = 0.5
    results["improvement"]["exact_match"] = {"absolute": -0.5, "relative": -1.0}
    results["significance"]["exact_match"].update(
        significant=True, mcnemar={"b": 9, "c": 1, "pValue": 0.0215}
    )
    assert verdict(results) == (
        "The experiment arm is significantly better than control on pass@1 (p < 0.001) and "
        "significantly worse than control on exact_match (p = 0.021) on 8 test problems."
    )
    row = headline_rows(results)[0]
    assert (row["pValue"], row["significant"]) == ("< 0.001", "yes")
