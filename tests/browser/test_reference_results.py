"""Every view over the reference results (results/reference/, the folder the dashboard and the gateway pick by
default), in headless Chromium and over the gateway's API.

When reference results are committed, the tests run against that folder itself, byte for byte as
`commentslab reference promote` wrote it, and check that every page says which design and hardware made it.
Before any is committed, they run against a synthetic reference folder built in the tmp dir from the smoke
run: its test rows and completions scored as two folds x two training seeds x three arms with ten samples
per problem, compared and assembled by the pipeline's own compare_arms / assemble_results, and checked
against results.schema.json.
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
from commentslab.services.gateway.app import NO_BLIND_PAIRS
from commentslab.services.gateway.results_store import REFERENCE_DIR, default_results_dir
from commentslab.services.gateway.server import start_in_thread
from commentslab.services.pipeline.reference import reference_label, verify
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


COMMITTED = ROOT / REFERENCE_DIR


@pytest.fixture(scope="module")
def reference_root(request) -> Path:
    """A folder laid out like the repository root whose results/reference/ the dashboard shows by default: the
    repository itself once reference results are committed, else one with a synthetic reference."""
    if (COMMITTED / "results.json").is_file():
        return ROOT
    smoke_run = request.getfixturevalue("smoke_run")
    root = request.getfixturevalue("tmp_path_factory").mktemp("root")
    reference = root / REFERENCE_DIR
    reference.mkdir(parents=True)
    results = reference_results(smoke_run)
    schema = json.loads((ROOT / "services" / "evaluator" / "results.schema.json").read_text())
    jsonschema.validate(results, schema)
    (reference / "results.json").write_text(json.dumps(results, allow_nan=False), encoding="utf-8")
    return root


def _results(root: Path) -> dict:
    return json.loads((root / REFERENCE_DIR / "results.json").read_text())


def test_the_reference_results_are_what_a_multi_fold_three_arm_run_writes(reference_root):
    results = _results(reference_root)
    assert default_results_dir(reference_root) == reference_root / REFERENCE_DIR
    cfg = results["config"]
    folds, seeds = cfg["data"]["folds"], len(cfg["seeds"] or [cfg["seed"]])
    assert results["arms"] == ARMS and results["evaluation"]["folds"] == folds > 1
    assert {p["fold"] for p in results["problems"]} == set(range(folds))
    # several seeds: each problem keeps every seed's scores; one seed: its scores are the problem's own
    assert seeds == 1 or all(len(p["experiment"]["seedScores"]) == seeds for p in results["problems"])
    # pass@k is compared for every k of the config, so the overview and results tables carry each one.
    assert results["metrics"][:len(cfg["evaluate"]["k"])] == [f"pass@{k}" for k in cfg["evaluate"]["k"]]
    if reference_root == ROOT:
        # The committed reference: every HumanEval problem tested exactly once, by the design it names.
        ids = [p["id"] for p in results["problems"]]
        assert len(ids) == len(set(ids)) == results["evaluation"]["problems"] == 164
        assert verify(COMMITTED) == []
        label = reference_label(COMMITTED)
        assert label["design"]["folds"] == folds and label["design"]["arms"] == ARMS
        assert label["hardware"]["kind"] == ("GPU" if label["design"]["hardware"] == "cuda" else "CPU")


def test_the_gateway_serves_the_reference_results_by_default_with_their_label(reference_root):
    results = _results(reference_root)
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
    assert sorted(training) == sorted(ARMS)
    if results["evaluation"]["samples"] == 1:
        # its one sample per problem is published on the comparison page: no blind pair, and the reviewer is told why
        assert pair["done"] and pair["reason"] == NO_BLIND_PAIRS
    else:
        assert not pair["done"] and pair["a"]["code"] != ""
    if reference_root == ROOT:
        label = reference_label(COMMITTED)
        assert served["reference"]["design"] == label["design"]
        assert served["reference"]["hardware"] == label["hardware"]
        # Every problem carries the metadata the experiment arm was shown, for the comparison's hints.
        assert all(p.get("metadata") for p in page["problems"])
    else:
        assert "reference" not in served  # no PROVENANCE.json: nothing claims to be a promoted reference


def test_every_view_works_against_the_reference_results(chrome, start_dashboard, reference_root, tmp_path):
    results = _results(reference_root)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    chrome.get(start_dashboard(None, cwd=reference_root))  # no --results: the reference results are the default
    wait = WebDriverWait(chrome, 120)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#headline-table tbody tr")))

    cards = chrome.find_elements(By.CSS_SELECTOR, "#split-screen .arm-card")
    assert len(cards) == len(ARMS)
    assert chrome.find_element(By.ID, "verdict").text == results["verdict"]
    rows = {r.find_elements(By.TAG_NAME, "td")[0].text: [td.text for td in r.find_elements(By.TAG_NAME, "td")]
            for r in chrome.find_elements(By.CSS_SELECTOR, "#headline-table tbody tr")}
    assert list(rows) == results["metrics"]
    label = chrome.find_elements(By.ID, "reference-label")
    if reference_root == ROOT:
        record = reference_label(COMMITTED)
        kind = "GPU" if record["design"]["hardware"] == "cuda" else "CPU"
        assert f"the {kind} reference design ({record['design']['profile']})" in label[0].text
        assert record["hardware"]["model"] in label[0].text and f"{record['design']['folds']} folds" in label[0].text
    else:
        assert label == []

    chrome.find_element(By.ID, "nav-training").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-loss .scatterlayer .trace")))
    names = chrome.execute_script("return document.querySelector('#training-loss .js-plotly-plot').data"
                                  ".map(t => t.name)")
    assert set(ARMS) <= set(names)
    if reference_root == ROOT:
        # Each arm's mean curve with the band of its runs (one history per fold and seed; the synthetic
        # reference's runs carry none).
        assert {f"{arm} range" for arm in ARMS} <= set(names)
    chrome.find_element(By.CSS_SELECTOR, "label[for=training-split]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#training-graphs .js-plotly-plot")) >= len(ARMS))
    titles = [t.text for t in chrome.find_elements(By.CSS_SELECTOR, "#training-graphs .js-plotly-plot .gtitle")]
    assert sorted(titles) == sorted(f"Training loss — {arm}" for arm in ARMS)

    chrome.find_element(By.ID, "nav-comparison").click()
    count = wait.until(EC.presence_of_element_located((By.ID, "comparison-count"))).text
    assert count.startswith(f"{len(results['problems'])} problems")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".problem-card")))
    for card in chrome.find_elements(By.CSS_SELECTOR, ".problem-card"):
        assert all(card.find_elements(By.CSS_SELECTOR, f".code-{arm}") for arm in ARMS)
        if reference_root == ROOT:
            assert card.find_element(By.CSS_SELECTOR, ".metadata-panel").text.startswith(".comments metadata")

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
    if results["evaluation"]["samples"] == 1:
        wait.until(EC.text_to_be_present_in_element((By.ID, "pair-info"), "no blind pair can be drawn"))
    else:
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
