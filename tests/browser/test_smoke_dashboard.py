"""The dashboard over a real smoke run's results, in headless Chromium; the playground through the gateway
to the run's real ModelServer over gRPC, and its daily limit."""

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser


def test_smoke_run_dashboard_loads_with_no_console_errors(chrome, start_dashboard, smoke_run):
    results = json.loads((smoke_run / "results.json").read_text())
    chrome.get(start_dashboard(smoke_run))
    wait = WebDriverWait(chrome, 60)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#headline-table tbody tr")))
    rows = chrome.find_elements(By.CSS_SELECTOR, "#headline-table tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == results["metrics"]
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert first[1].text == f"{results['control'][results['metrics'][0]]:.3f}"
    chrome.find_element(By.ID, "nav-training").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) >= 2)
    chrome.find_element(By.ID, "nav-comparison").click()
    count = wait.until(EC.presence_of_element_located((By.ID, "comparison-count"))).text
    assert count == f"{len(results['problems'])} problems"
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_playground_generates_with_both_arms_then_hits_the_daily_limit(chrome, start_dashboard, smoke_run,
                                                                       grpc_services):
    base = start_dashboard(smoke_run, "--model-server", grpc_services.addresses["model-server"],
                           "--daily-limit", "1")
    chrome.get(base + "playground")
    wait = WebDriverWait(chrome, 180)
    wait.until(EC.presence_of_element_located((By.ID, "prompt")))
    chrome.find_element(By.ID, "metadata").send_keys("Adds a and b")
    max_tokens = chrome.find_element(By.ID, "max-tokens")
    max_tokens.clear()
    max_tokens.send_keys("8")
    chrome.find_element(By.ID, "generate").click()
    wait.until(EC.presence_of_element_located((By.ID, "playground-experiment")))
    assert "control" in chrome.find_element(By.ID, "playground-control").text
    assert "Adds a and b" in chrome.find_element(By.ID, "playground-experiment").text
    assert chrome.find_element(By.ID, "playground-remaining").text == "0 generations left today."
    chrome.find_element(By.ID, "generate").click()
    refused = wait.until(EC.presence_of_element_located((By.ID, "playground-error")))
    assert "Daily limit reached" in refused.text and "1 generations per visitor per day" in refused.text
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []


def test_training_view_shows_a_run_in_progress_from_mlflow(chrome, start_dashboard, smoke_run, tmp_path):
    import shutil

    in_progress = tmp_path / "run"
    in_progress.mkdir()
    shutil.copy(smoke_run / "mlflow.db", in_progress / "mlflow.db")
    base = start_dashboard(in_progress)
    chrome.get(base)
    wait = WebDriverWait(chrome, 120)
    assert "has no results.json" in wait.until(EC.presence_of_element_located((By.ID, "results-error"))).text
    chrome.find_element(By.ID, "nav-training").click()
    for arm in ("control", "experiment"):
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#loss-{arm} .scatterlayer .trace")))
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []
