"""Every view over reference results (results/reference/results.json, the folder the dashboard and the gateway pick
by default), in headless Chromium and over the gateway's API.

The real reference results come from a GPU run; nothing under results/reference may be made by hand. So the
test builds a synthetic reference folder in its tmp dir from the smoke run: the smoke run's test rows and
completions, scored as two folds x two training seeds x three arms (control, experiment, placebo) with ten
samples per problem (pass@1 and pass@10 per problem), then compared and assembled by the pipeline's own
compare_arms / assemble_results, and checked against results.schema.json.
"""

import json
import random
from pathlib import Path

import jsonschema
import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from commentslab.services.common.artifacts import read_jsonl
from commentslab.services.common.config import load_config
from commentslab.services.common.layout import RunLayout
from commentslab.services.evaluator.pass_at_k import estimate_pass_at_k
from commentslab.services.evaluator.results import assemble_results, compare_arms
from commentslab.services.gateway.results_store import REFERENCE_DIR, default_results_dir
from commentslab.services.gateway.server import start_in_thread
from commentslab.services.pipeline.steps import LocalSteps

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
ARMS = ["control", "experiment", "placebo"]
SEEDS = [1234, 5678]
FOLDS = 2
SAMPLES = 10
PASS_RATE = {"control": 0.2, "experiment": 0.45, "placebo": 0.25}  # per sample, drawn per seed


def scored_problem(smoke_entry: dict, arm: str, rng: random.Random) -> dict:
    """One arm's scores on one problem with SAMPLES samples, as services/evaluator/harness.score_arm writes them."""
    base = smoke_entry.get(arm) or smoke_entry["control"]
    completions = [base["completions"][i % len(base["completions"])] for i in range(SAMPLES)]
    passed = [rng.random() < PASS_RATE[arm] for _ in range(SAMPLES)]
    entry = {"completions": completions, "statuses": ["passed" if p else "failed" for p in passed], "passed": passed,
             "timedOutAttempts": [0] * SAMPLES, "exactMatch": base.get("exactMatch", 0.0),
             "astMatch": base.get("astMatch", 0.0)}
    for k in (1, 10):
        entry[f"pass@{k}"] = float(estimate_pass_at_k([SAMPLES], [sum(passed)], k)[0])
    for key in ("semanticSimilarity", "codebleu"):
        if key in base:
            entry[key] = min(1.0, max(0.0, base[key] + rng.uniform(-0.05, 0.05) + (0.05 if arm == "experiment" else 0)))
    return entry


def reference_results(smoke_run: Path) -> dict:
    """results.json of a 2-fold, 2-seed, 3-arm run with 10 samples, built from the smoke run's rows and outputs."""
    smoke = json.loads((smoke_run / "results.json").read_text())
    by_id = {p["id"]: p for p in smoke["problems"]}
    rows = [{**row, "fold": i % FOLDS} for i, row in enumerate(
        read_jsonl(RunLayout.open(smoke_run).rows(0, "experiment"))) if row["id"] in by_id]
    rows.sort(key=lambda r: r["fold"])  # the pipeline pools the folds' rows fold by fold
    rng = random.Random(11)
    scored = {arm: [[scored_problem(by_id[r["id"]], arm, rng) for r in rows] for _ in SEEDS] for arm in ARMS}
    cfg = load_config("smoke", [f"data.arms={json.dumps(ARMS)}", f"data.folds={FOLDS}", f"seeds={json.dumps(SEEDS)}",
                                f"generate.n={SAMPLES}", "evaluate.k=[1, 10]"])
    comparison = compare_arms(scored, rows, cfg, LocalSteps().compare)
    smoke_training = smoke["training"]
    runs = [{"arm": arm, "fold": fold, "seed": seed, "checkpoint": f"file:///reference/train/fold{fold}/seed{seed}/{arm}",
             "steps": 30} for arm in ARMS for fold in range(FOLDS) for seed in SEEDS]
    training = {arm: {**smoke_training.get(arm, smoke_training["control"]),
                      "runs": [r for r in runs if r["arm"] == arm]} for arm in ARMS}
    return assemble_results(comparison, training, {"records": len(rows)}, {"mode": "folds", "folds": FOLDS}, cfg,
                            repository="synthetic reference (tests/browser/test_reference_results.py)",
                            wallSeconds=smoke["provenance"]["wallSeconds"], skippedSteps=[])


@pytest.fixture(scope="module")
def reference_root(smoke_run, tmp_path_factory) -> Path:
    """A folder laid out like the repository root with only results/reference/results.json in it."""
    root = tmp_path_factory.mktemp("root")
    reference = root / REFERENCE_DIR
    reference.mkdir(parents=True)
    results = reference_results(smoke_run)
    schema = json.loads((ROOT / "services" / "evaluator" / "results.schema.json").read_text())
    jsonschema.validate(results, schema)
    (reference / "results.json").write_text(json.dumps(results, allow_nan=False), encoding="utf-8")
    return root


def test_the_reference_results_are_what_a_multi_fold_multi_seed_three_arm_run_writes(reference_root):
    results = json.loads((reference_root / REFERENCE_DIR / "results.json").read_text())
    assert default_results_dir(reference_root) == reference_root / REFERENCE_DIR
    assert results["arms"] == ARMS and results["evaluation"]["seeds"] == 2 and results["evaluation"]["folds"] == 2
    assert results["significance"]["pass@1"]["primaryTest"] == "problems-and-seeds t-test"
    assert {p["fold"] for p in results["problems"]} == {0, 1}
    first = results["problems"][0]
    assert len(first["experiment"]["seedScores"]) == 2 and "pass@10" in first["experiment"]
    # pass@k is compared for every k of the config, so the overview and results tables carry pass@10 too.
    assert results["metrics"][:2] == ["pass@1", "pass@10"] and "pass@10" in results["significance"]


def test_the_gateway_serves_the_reference_results_by_default(reference_root):
    results = json.loads((reference_root / REFERENCE_DIR / "results.json").read_text())
    gateway = start_in_thread(default_results_dir(reference_root))
    try:
        served = requests.get(f"{gateway.url}/api/results", timeout=30).json()
        page = requests.get(f"{gateway.url}/api/problems", params={"limit": 200}, timeout=30).json()
        training = requests.get(f"{gateway.url}/api/training", timeout=30).json()
        token = requests.post(f"{gateway.url}/api/reviewers", json={"name": "ref"}, timeout=30).json()["token"]
        pair = requests.get(f"{gateway.url}/api/pairs/next", headers={"X-Reviewer-Token": token}, timeout=30).json()
    finally:
        gateway.stop()
    assert served["verdict"] == results["verdict"] and served["placebo"] == results["placebo"]
    assert page["arms"] == ARMS and page["total"] == len(results["problems"])
    assert sorted(training) == ARMS
    assert not pair["done"] and pair["a"]["code"] != ""


def test_every_view_works_against_the_reference_results(chrome, start_dashboard, reference_root, tmp_path):
    results = json.loads((reference_root / REFERENCE_DIR / "results.json").read_text())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    chrome.get(start_dashboard(None, cwd=reference_root))  # no --results: the reference results are the default
    wait = WebDriverWait(chrome, 60)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#headline-table tbody tr")))

    header = [th.text for th in chrome.find_elements(By.CSS_SELECTOR, "#headline-table th")]
    assert header[1:4] == ["Control", "Placebo", "Experiment"]
    rows = {r.find_elements(By.TAG_NAME, "td")[0].text: [td.text for td in r.find_elements(By.TAG_NAME, "td")]
            for r in chrome.find_elements(By.CSS_SELECTOR, "#headline-table tbody tr")}
    assert list(rows) == results["metrics"]
    assert rows["pass@1"][2] == f"{results['placebo']['pass@1']:.3f}"
    assert rows["pass@1"][6] == "problems-and-seeds t-test"
    low, high = results["significance"]["pass@1"]["bootstrap"]["low"], results["significance"]["pass@1"]["bootstrap"]["high"]
    assert rows["pass@1"][5] == f"[{low:+.3f}, {high:+.3f}]"
    assert chrome.find_element(By.ID, "verdict").text == results["verdict"]

    chrome.find_element(By.ID, "nav-training").click()
    for arm in ARMS:
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#loss-{arm} .scatterlayer .trace")))

    chrome.find_element(By.ID, "nav-comparison").click()
    count = wait.until(EC.presence_of_element_located((By.ID, "comparison-count"))).text
    assert count == f"{len(results['problems'])} problems"
    first_card = chrome.find_element(By.CSS_SELECTOR, ".problem-card")
    outcomes = [e.text for e in first_card.find_elements(By.CSS_SELECTOR, ".outcome")]
    assert [o.split(":")[0] for o in outcomes] == ARMS and all(o.count(",") == SAMPLES - 1 for o in outcomes)

    chrome.find_element(By.ID, "nav-results").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#metrics-chart .js-plotly-plot")))
    bars = chrome.execute_script("return document.querySelector('#metrics-chart .js-plotly-plot').data.map(t => t.name)")
    assert bars == ["control", "placebo", "experiment"]
    chrome.find_element(By.ID, "download-csv-button").click()
    wait.until(lambda d: (downloads / "commentslab-metrics.csv").is_file())
    csv_head = (downloads / "commentslab-metrics.csv").read_text().splitlines()[0]
    assert csv_head.startswith("Metric,Control,Placebo,Experiment")

    chrome.find_element(By.ID, "nav-human-eval").click()
    wait.until(EC.presence_of_element_located((By.ID, "reviewer-name"))).send_keys("reference-reviewer")
    chrome.find_element(By.ID, "register").click()
    wait.until(lambda d: d.find_element(By.ID, "pair-a").text.strip() != "")
    chrome.find_element(By.ID, "vote-A").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "vote-message"), "Recorded: A is better"))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#bradley-terry tbody tr")))
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#preference-table tbody tr")) == 3

    chrome.find_element(By.ID, "nav-playground").click()
    wait.until(EC.presence_of_element_located((By.ID, "generate"))).click()
    assert "--model-server" in wait.until(EC.presence_of_element_located((By.ID, "playground-error"))).text
    chrome.find_element(By.ID, "nav-review").click()
    wait.until(EC.presence_of_element_located((By.ID, "review-table")))  # the gateway's store: no record flagged
    assert chrome.find_elements(By.CSS_SELECTOR, "#review-table tbody tr") == []
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []
