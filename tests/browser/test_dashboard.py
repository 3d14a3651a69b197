"""The dashboard shows a run's results.json in a real browser, and explains when there is none."""

import json
import math
from pathlib import Path

import pytest
from sample_results import results_from_problems, scored
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from commentslab.dashboard.app import ResultsError, headline_rows, load_results, verdict

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


def make_sample_results(samples: int = 1) -> dict:
    """A results.json for a smoke run, complete by the schema, with statistics from commentslab.services.stats.
    ``samples`` completions per problem and arm, each scoring as the first: the gateway publishes the
    first and draws blind pairs from the others, so human evaluation needs two."""
    arms = ("control", "experiment")
    problems = [
        {
            "id": f"{index:016x}",
            "taskId": task_id,
            "entryPoint": entry_point,
            "prompt": f"def {entry_point}(*args):\n",
            "reference": f"    return {entry_point}()\n",
            **{
                arm: scored([f"    return {entry_point}_{arm}({sample})\n" if sample else f"    return {entry_point}_{arm}()\n"
                             for sample in range(samples)],
                            [bool(PER_PROBLEM[arm]["pass@1"][index])] * samples,
                            exact_match=float(PER_PROBLEM[arm]["exactMatch"][index]),
                            ast_match=float(PER_PROBLEM[arm]["astMatch"][index]),
                            semanticSimilarity=PER_PROBLEM[arm]["semanticSimilarity"][index])
                for arm in arms
            },
        }
        for index, (task_id, entry_point) in enumerate(TASKS)
    ]
    training = {
        arm: {
            "history": _loss_history(start, floor),
            "checkpoint": f"file:///runs/smoke/checkpoints/{arm}",
            "mlflowRunId": f"{index + 1:032x}",
            "steps": 30,
            "wallSeconds": 80.1 + index,
        }
        for index, (arm, start, floor) in enumerate([("control", 3.2, 1.4), ("experiment", 3.4, 1.1)])
    }
    provenance = {
        "commit": COMMIT,
        "createdAt": "2025-11-24T22:40:05+00:00",
        "machine": {"platform": "Linux-6.1-x86_64", "cpus": 2, "torch": "2.13.0"},
        "wallSeconds": {"export": 1.2, "split": 0.1, "train:control": 80.1, "train:experiment": 81.1},
        "profile": "smoke",
    }
    return results_from_problems(problems, tuple(METRICS), arms, training=training, provenance=provenance)


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
    assert rows["pass@1"] == ["0.125", "0.250", "+0.125", "[+0.000, +0.375]", "McNemar exact", "1.000", "1.000", "no"]
    assert rows["exact_match"][:3] == ["0.000", "0.125", "+0.125"]
    similarity = results["significance"]["semantic_similarity"]
    assert 0.05 < similarity["pValue"] < similarity["pHolm"] < 1.0
    interval = similarity["bootstrap"]
    assert rows["semantic_similarity"] == ["0.450", "0.520", "+0.070", f"[{interval['low']:+.3f}, {interval['high']:+.3f}]",
                                           "paired t-test", f"{similarity['pValue']:.3f}",
                                           f"{similarity['pHolm']:.3f}", "no"]

    assert "no significant difference" in chrome.find_element(By.ID, "verdict").text.lower()
    provenance = chrome.find_element(By.ID, "provenance").text
    assert "smoke" in provenance and COMMIT[:12] in provenance and "2025-11-24T22:40:05" in provenance

    # The Training view plots both arms' 30 logged steps on one chart, and one chart per arm when asked.
    chrome.find_element(By.ID, "nav-training").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-loss .scatterlayer .trace")))
    points = chrome.execute_script(
        "return document.querySelector('#training-loss .js-plotly-plot').data.map(t => [t.name, t.y.length])")
    assert points == [["control", 30], ["experiment", 30]]
    chrome.find_element(By.CSS_SELECTOR, "label[for=training-split]").click()
    for arm in ("control", "experiment"):
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#loss-{arm} .scatterlayer .trace")))
    # Learning rate on demand.
    chrome.find_element(By.XPATH, "//div[@id='training-series']//label[normalize-space()='Learning rate']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-lr .scatterlayer .trace")))
    rates = chrome.execute_script("return document.querySelector('#training-lr .js-plotly-plot').data[0].y")
    assert rates[0] == pytest.approx(2e-5) and rates[-1] == pytest.approx(1e-4)
    # The charts were drawn by plotly's basic partial bundle, not the full plotly.js.
    traces = chrome.execute_script("return Object.keys(window.Plotly.PlotSchema.get().traces).sort()")
    assert traces == ["bar", "pie", "scatter"]
    assert _severe_console_entries(chrome) == []


@pytest.mark.browser
def test_missing_results_folder_shows_how_to_produce_results(chrome, start_dashboard, tmp_path):
    missing = tmp_path / "never-ran"
    chrome.get(start_dashboard(missing))
    message = WebDriverWait(chrome, 30).until(EC.presence_of_element_located((By.ID, "results-error"))).text
    # Named, not located: a public page shows no absolute path of the server's.
    assert "The results folder never-ran does not exist" in message and str(tmp_path) not in message
    assert "commentslab run --profile smoke --out never-ran" in message
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
    with pytest.raises(ResultsError, match="field significance: is required but missing") as raised:
        load_results(tmp_path)
    assert raised.value.field == "significance"


def test_load_results_names_the_field_that_breaks_the_schema(tmp_path):
    results = make_sample_results()
    results["significance"]["pass@1"]["pHolm"] = 1.5
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    with pytest.raises(ResultsError, match="field significance/pass@1/pHolm: 1.5 is greater than the maximum of 1"):
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
    assert verdict(results) == results["verdict"]  # the run's own sentence
    del results["verdict"]
    assert verdict(results) == (
        "There is no significant difference between the experiment and control arms on any metric "
        "on 8 test problems."
    )


def test_verdict_names_significantly_better_and_worse_metrics():
    results = make_sample_results()
    del results["verdict"]  # a results.json without the run's own sentence: the dashboard writes one
    results["significance"]["pass@1"].update(significant=True, pValue=0.00005, pHolm=0.0002)
    results["experiment"]["exact_match"] = 0.0
    results["control"]["exact_match"] = 0.5
    results["improvement"]["exact_match"] = {"absolute": -0.5, "relative": -1.0}
    results["significance"]["exact_match"].update(significant=True, pValue=0.0107, pHolm=0.0215)
    assert verdict(results) == (
        "The experiment arm is significantly better than control on pass@1 (p < 0.001) and "
        "significantly worse than control on exact_match (p = 0.021) on 8 test problems."
    )
    row = headline_rows(results)[0]
    assert (row["pValue"], row["significant"]) == ("< 0.001", "yes")
