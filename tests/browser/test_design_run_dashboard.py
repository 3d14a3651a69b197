"""The dashboard over the design's shape (2 folds x 2 seeds x control/experiment/placebo, the run both
runners agree on), in headless Chromium: every arm's training curve with the range of its four runs,
every problem of both folds in the comparison, metadata hints where they apply."""

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

# The first test to ask for the design run waits for it (minutes on two cores).
pytestmark = [pytest.mark.browser, pytest.mark.timeout(3600)]


def test_a_k_fold_multi_seed_run_shows_every_arm_problem_and_curve(chrome, start_dashboard, design_run):
    results = json.loads((design_run / "results.json").read_text())
    chrome.get(start_dashboard(design_run))
    wait = WebDriverWait(chrome, 60)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#headline-table tbody tr")))
    chrome.find_element(By.ID, "nav-training").click()
    # Every arm on one chart, each with the band of its four runs; split per arm on demand.
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-loss .scatterlayer .trace")))
    names = chrome.execute_script("return document.querySelector('#training-loss .js-plotly-plot').data"
                                  ".map(t => t.name)")
    assert {f"{arm} range" for arm in results["arms"]} | set(results["arms"]) <= set(names)
    chrome.find_element(By.CSS_SELECTOR, "label[for=training-split]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) >= 3)
    titles = [t.text for t in chrome.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .gtitle")]
    assert sorted(titles) == sorted(f"Training loss — {arm}" for arm in results["arms"])
    legends = " ".join(t.text for t in chrome.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .legendtext"))
    assert "range over 4 runs" in legends and "mean of 4" in legends
    chrome.find_element(By.ID, "nav-comparison").click()
    count = wait.until(EC.presence_of_element_located((By.ID, "comparison-count"))).text
    assert count == f"{len(results['problems'])} problems" == "24 problems"
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
