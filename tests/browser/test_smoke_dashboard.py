"""The dashboard over a real smoke run's results, in headless Chromium; the playground through the gateway
to the run's real ModelServer over gRPC, its text streamed into the page, and its daily limit."""

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from commentslab.services.common.grpc_client import open_channel
from commentslab.services.serving.server import ModelServerServicer
from commentslab.v1 import model_server_pb2, model_server_pb2_grpc

pytestmark = pytest.mark.browser
STREAMING_SERVER = "GenerateStream" in ModelServerServicer.__dict__


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
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-loss .scatterlayer .trace")))
    names = chrome.execute_script("return document.querySelector('#training-loss .js-plotly-plot').data.map(t => t.name)")
    assert {"control", "experiment"} <= set(names)
    chrome.find_element(By.ID, "nav-comparison").click()
    count = wait.until(EC.presence_of_element_located((By.ID, "comparison-count"))).text
    assert count == f"{len(results['problems'])} problems"
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


# Records each arm's output length every time the page changes it: [arm, ms since navigation, length].
RECORD_OUTPUT_LENGTHS = """
window.seenLengths = [];
new MutationObserver(() => {
  for (const arm of ['control', 'experiment']) {
    const box = document.getElementById('playground-' + arm + '-output');
    if (box) window.seenLengths.push([arm, performance.now(), box.textContent.length]);
  }
}).observe(document.getElementById('playground-output'), {subtree: true, childList: true, characterData: true});
"""


def _generate(chrome, max_new_tokens: int, metadata: str = ""):
    chrome.find_element(By.ID, "metadata").send_keys(metadata)
    max_tokens = chrome.find_element(By.ID, "max-tokens")
    max_tokens.clear()
    max_tokens.send_keys(str(max_new_tokens))
    chrome.find_element(By.ID, "generate").click()


def test_playground_generates_with_both_arms_then_hits_the_daily_limit(chrome, start_dashboard, smoke_run,
                                                                       grpc_services):
    base = start_dashboard(smoke_run, "--model-server", grpc_services.addresses["model-server"],
                           "--daily-limit", "1")
    chrome.get(base + "playground")
    wait = WebDriverWait(chrome, 180)
    wait.until(EC.presence_of_element_located((By.ID, "prompt")))
    _generate(chrome, 8, "Adds a and b")
    wait.until(EC.presence_of_element_located((By.ID, "playground-remaining")))
    assert "control" in chrome.find_element(By.ID, "playground-control").text
    assert "Adds a and b" in chrome.find_element(By.ID, "playground-experiment").text
    statuses = [e.text for e in chrome.find_elements(By.CSS_SELECTOR, ".playground-status")]
    assert len(statuses) == 2 and all(" s, " in s and "tokens" in s for s in statuses), statuses
    assert chrome.find_element(By.ID, "playground-remaining").text == "0 generations left today."
    chrome.find_element(By.ID, "generate").click()
    refused = wait.until(EC.presence_of_element_located((By.ID, "playground-error")))
    assert "Daily limit reached" in refused.text and "1 generations per visitor per day" in refused.text
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.skipif(not STREAMING_SERVER, reason="services/serving/server.py has no GenerateStream yet")
def test_playground_text_appears_progressively_in_both_arms_boxes(chrome, start_dashboard, smoke_run,
                                                                   grpc_services):
    address = grpc_services.addresses["model-server"]
    chrome.get(start_dashboard(smoke_run, "--model-server", address) + "playground")
    wait = WebDriverWait(chrome, 180)
    wait.until(EC.presence_of_element_located((By.ID, "prompt")))
    chrome.execute_script(RECORD_OUTPUT_LENGTHS)
    _generate(chrome, 48)
    wait.until(EC.presence_of_element_located((By.ID, "playground-remaining")))
    seen = chrome.execute_script("return window.seenLengths")
    for arm in ("control", "experiment"):
        final = chrome.find_element(By.ID, f"playground-{arm}-output").get_attribute("textContent")
        lengths = [length for a, _, length in seen if a == arm]
        growing = sorted({length for length in lengths if 0 < length < len(final)})
        # The box grew through several partial texts before it held the whole completion.
        assert len(final) > 0 and len(growing) >= 3, (arm, lengths, final)
        with open_channel(address) as channel:
            stub = model_server_pb2_grpc.ModelServerStub(channel)
            unary = stub.Generate(model_server_pb2.GenerateRequest(
                model=arm, prompts=["def add(a, b):\n"], n=1, temperature=0.0, max_new_tokens=48), timeout=120)
        assert final == unary.results[0].texts[0]
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
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-loss .scatterlayer .trace")))
    names = chrome.execute_script("return document.querySelector('#training-loss .js-plotly-plot').data.map(t => t.name)")
    assert {"control", "experiment"} <= set(names)
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []
