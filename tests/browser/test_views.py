"""Every dashboard view in headless Chromium over a sample run: navigation, comparison, downloads, the vote
flow, the playground's refusal without a model server, the review queue, labelled controls, no console errors."""

import json
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from test_dashboard import make_sample_results

from commentslab.services.common.layout import Job, RunLayout
from commentslab.services.review.queue import ReviewQueue

pytestmark = pytest.mark.browser


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A sample run whose experiment, unlike control, uses the `decimals` parameter its metadata names."""
    results = make_sample_results(samples=2)
    problem = results["problems"][1]
    problem["experiment"]["completions"][0] = "    return round(number % 1.0, decimals)\n"
    run = tmp_path / "run"
    (run / "split" / "datasets" / "experiment").mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    metadata = {"text": "Return the decimal part, rounded to `decimals` places", "params": {"decimals": "int"}}
    (run / "split" / "datasets" / "experiment" / "test.jsonl").write_text(
        json.dumps({"id": problem["id"], "metadata": metadata}) + "\n", encoding="utf-8")
    queue = ReviewQueue(run / "export" / "records.review.sqlite")
    queue.flag([("rec-1", "src/a.py", ["syntax error"]), ("rec-2", "src/b.py", ["low completeness"])])
    return run


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _go(driver, view: str, ready_selector: str, timeout: float = 30):
    driver.find_element(By.ID, f"nav-{view}").click()
    return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, ready_selector)))


def _unlabelled_controls(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('input, textarea, select')]"
        ".filter(e => e.type !== 'hidden' && e.id && !document.querySelector(`label[for=\"${e.id}\"]`)"
        " && !e.closest('label') && !e.getAttribute('aria-label')).map(e => e.id)")


def test_every_view_navigates_and_works(chrome, start_dashboard, run_dir, tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    chrome.get(start_dashboard(run_dir))
    wait = WebDriverWait(chrome, 30)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#headline-table tbody tr")))

    # Comparison: all 8 problems, then only HumanEval/2, where pass/fail differs; the metadata hint there.
    cards = _go(chrome, "comparison", "#comparison-count")
    assert cards.text == "8 problems"
    hints = [e.text for e in chrome.find_elements(By.CSS_SELECTOR, ".metadata-hint")]
    assert hints == ["decimals"]
    assert chrome.find_elements(By.CSS_SELECTOR, ".code-diff .diff-add")
    chrome.find_element(By.CSS_SELECTOR, "#disagree-only input").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "comparison-count"), "1 problem"))
    outcomes = [e.text for e in chrome.find_elements(By.CSS_SELECTOR, ".outcome")]
    assert outcomes == ["control: failed, failed", "experiment: passed, passed"]
    assert "HumanEval/2" in chrome.find_element(By.CSS_SELECTOR, ".problem-card h2").text

    # Results: CSV and LaTeX downloads hold the table; the chart's toolbar downloads a PNG.
    _go(chrome, "results", "#metrics-chart .js-plotly-plot")
    chrome.find_element(By.ID, "download-csv-button").click()
    chrome.find_element(By.ID, "download-latex-button").click()
    chrome.execute_script("document.querySelector('#metrics-chart .modebar-btn[data-title^=\"Download plot\"]')"
                          ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    deadline = time.monotonic() + 30
    wanted = {"commentslab-metrics.csv", "commentslab-metrics.tex", "commentslab-metrics.png"}
    while not wanted <= {p.name for p in downloads.iterdir()} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert wanted <= {p.name for p in downloads.iterdir()}
    csv_lines = (downloads / "commentslab-metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("Metric,Control,Experiment,Difference") and csv_lines[1].startswith("pass@1,0.125,0.250")
    latex = (downloads / "commentslab-metrics.tex").read_text()
    assert r"\begin{tabular}" in latex and r"pass@1 & 0.125 & 0.250" in latex
    assert (downloads / "commentslab-metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Human evaluation: register, see a blind pair, vote, the arms are revealed only afterwards.
    _go(chrome, "human-eval", "#reviewer-name")
    assert "control" not in chrome.find_element(By.ID, "pair-a").text
    chrome.find_element(By.ID, "reviewer-name").send_keys("browser-reviewer")
    chrome.find_element(By.ID, "register").click()
    wait.until(lambda d: d.find_element(By.ID, "pair-a").text.strip() != "")
    info = chrome.find_element(By.ID, "pair-info").text
    assert "votes today: 0" in info and "experiment" not in info and "control" not in info
    first_pair = chrome.find_element(By.ID, "pair-a").text
    chrome.find_element(By.ID, "vote-A").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "vote-message"), "Recorded: A is better"))
    message = chrome.find_element(By.ID, "vote-message").text
    assert "A was control" in message or "A was experiment" in message
    wait.until(EC.text_to_be_present_in_element((By.ID, "pair-info"), "votes today: 1"))
    assert chrome.find_element(By.ID, "pair-a").text != first_pair or "HumanEval" in info
    # A visitor who registered themselves is counted apart from the invited reviewers.
    assert "0 reviewers, 0 votes" in chrome.find_element(By.ID, "reviewer-count").text
    assert "1 reviewers, 1 votes" in chrome.find_element(By.ID, "self-registered").text
    assert chrome.find_elements(By.CSS_SELECTOR, "#preference-table tbody tr")

    # Playground without a model server: the gateway's sentence, not a trace.
    _go(chrome, "playground", "#prompt")
    chrome.find_element(By.ID, "generate").click()
    error = wait.until(EC.presence_of_element_located((By.ID, "playground-error")))
    assert "--model-server" in error.text

    # Review queue: the flagged records are listed; a self-registered reviewer cannot decide them.
    _go(chrome, "review", "#review-table tbody tr")
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#review-table tbody tr")) == 2
    chrome.find_element(By.ID, "review-accept").click()
    wait.until(lambda d: d.find_element(By.ID, "review-message").text.strip() != "")
    assert "maintainer" in chrome.find_element(By.ID, "review-message").text
    assert ReviewQueue(run_dir / "export" / "records.review.sqlite").get("rec-1").status == "pending"

    for view, ready in (("overview", "#headline-table"), ("training", "#training-loss"), ("comparison", "#disagree-only"),
                        ("playground", "#prompt"), ("results", "#results-table"), ("human-eval", "#reviewer-name"),
                        ("review", "#review-table")):
        _go(chrome, view, ready)
        assert _unlabelled_controls(chrome) == [], view
    assert _severe(chrome) == []


def test_an_empty_run_says_what_is_missing(chrome, start_dashboard, tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    results = make_sample_results()
    results["metrics"] = []
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    chrome.get(start_dashboard(run))
    message = WebDriverWait(chrome, 30).until(EC.presence_of_element_located((By.ID, "results-error"))).text
    assert "compared no metric" in message and "commentslab run --profile smoke" in message
    _go(chrome, "comparison", "#results-error")
    _go(chrome, "training", "#training-empty")
    assert _severe(chrome) == []


def test_training_curves_update_live_while_a_run_trains(chrome, start_dashboard, tmp_path):
    run = tmp_path / "training"
    history = RunLayout(run).history(Job(0, 1234, "control"))
    history.parent.mkdir(parents=True)
    history.write_text(json.dumps([{"step": s, "loss": 4.0 - 0.1 * s} for s in range(1, 6)]), encoding="utf-8")
    chrome.get(start_dashboard(run) + "training")
    wait = WebDriverWait(chrome, 30)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-loss .scatterlayer .trace")))
    count = "return document.querySelector('#training-loss .js-plotly-plot').data[0].y.length"
    assert chrome.execute_script(count) == 5
    history.write_text(json.dumps([{"step": s, "loss": 4.0 - 0.1 * s} for s in range(1, 9)]), encoding="utf-8")
    wait.until(lambda d: d.execute_script(count) == 8)
    assert _severe(chrome) == []
