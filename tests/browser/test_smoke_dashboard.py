"""The dashboard over a real smoke run's results, in headless Chromium."""

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
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) >= 2)
    rows = chrome.find_elements(By.CSS_SELECTOR, "#headline-table tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == results["metrics"]
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert first[1].text == f"{results['control'][results['metrics'][0]]:.3f}"
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
