"""The dashboard over a folder of runs (a results database), as a visitor meets it: the list with each run's
scenario, model, design, date and verdict, a broken run with its reason, a filter, the forest plot with a row
per run grouped by scenario and model (smallest model first), opening a run, the per-model forest on a
multi-model run's home, and axe-core's accessibility check of the database page at phone and desktop width.

The pure parts (ordering, the forest's rows, ``?run=``) are tested first, without a browser."""

import json
from pathlib import Path

import pytest
from sample_results import results_from_problems, scored
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_site import SCREENSHOTS, full_page_screenshot, serious_violations

from commentslab.dashboard.run_list import (
    forest_rows,
    model_size,
    run_from_search,
    run_href,
    runs_forest_figure,
)

# Three models, smallest first as the forest must draw them; how many of 10 problems the experiment arm passes.
JS_MODELS = {"tiny-random": 1, "SmolLM2-135M-Instruct": 5, "Qwen2.5-Coder-1.5B": 9}


def _results(problems: int, passes: int, samples: int = 2, **fields) -> dict:
    rows = [{"id": f"id{i}", "taskId": f"Task/{i}", "entryPoint": f"f{i}", "prompt": f"def f{i}(x):\n",
             "reference": "    return x\n",
             "control": scored(["    return 0\n"] * samples, [False] * samples),
             "experiment": scored(["    return x\n"] * samples, [i < passes] * samples)} for i in range(problems)]
    return results_from_problems(rows, **fields)


def _write(folder: Path, results: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")


def build_database(root: Path) -> Path:
    """Two scenarios; a three-model experiment on one of them; a single run on the other; a broken run."""
    _write(root / "humaneval" / "smoke-1", _results(8, 2, scenario="function_completion", baseModel="tiny-random"))
    experiment = root / "react" / "sizes"
    for name, passes in JS_MODELS.items():
        _write(experiment / "models" / name, _results(10, passes, scenario="react-components", baseModel=name))
    (experiment / "experiment.json").write_text(json.dumps({
        "experiment": "sizes", "models": list(JS_MODELS), "runs": {m: f"models/{m}" for m in JS_MODELS}}))
    (root / "half-written").mkdir()
    (root / "half-written" / "results.json").write_text('{"schemaVersion": 1, "arms": [', encoding="utf-8")
    return root


def test_models_are_ordered_by_the_size_their_names_state():
    assert model_size("tiny-random") < model_size("SmolLM2-135M-Instruct") < model_size("Qwen2.5-Coder-1.5B")
    assert model_size("Qwen2.5-Coder-7B-Instruct") == 7e9 and model_size("my-model") == float("inf")


def test_the_run_travels_in_the_query_string():
    assert run_from_search("?" + run_href("/", "react/sizes/models/tiny-random").split("?", 1)[1]) == (
        "react/sizes/models/tiny-random")
    assert run_href("/", None) == "/" and run_from_search("") is None


def test_forest_rows_group_by_scenario_then_model_size(tmp_path):
    from commentslab.services.common.run_index import find_runs

    runs = [e.to_dict() for e in find_runs(build_database(tmp_path)).entries]
    rows = forest_rows(runs, ["pass@1"])
    assert [r["label"] for r in rows] == [
        "function_completion<br>tiny-random", "react-components<br>tiny-random",
        "react-components<br>SmolLM2-135M-Instruct", "react-components<br>Qwen2.5-Coder-1.5B"]
    assert [round(r["difference"]) for r in rows[1:]] == [10, 50, 90]  # percentage points, growing with size
    by_model = forest_rows(runs, ["pass@1"], group_by="model")
    assert [r["model"] for r in by_model] == ["tiny-random", "tiny-random", "SmolLM2-135M-Instruct",
                                              "Qwen2.5-Coder-1.5B"]
    figure = runs_forest_figure(runs, ["pass@1"])
    assert [t["name"] for t in figure["data"]] == list(JS_MODELS)
    assert len(figure["layout"]["shapes"]) == 1  # one line between the two scenarios


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    return build_database(tmp_path_factory.mktemp("database"))


def _wait(chrome, selector: str, timeout: float = 240):
    return WebDriverWait(chrome, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))


def _forest_labels(chrome) -> list[str]:
    return chrome.execute_script("return document.querySelector('#runs-forest .js-plotly-plot')"
                                 ".layout.yaxis.ticktext")


@pytest.mark.browser
def test_the_database_page_lists_filters_compares_and_opens_runs(chrome, start_dashboard, database):
    base = start_dashboard(database)
    chrome.get(base + "runs")
    _wait(chrome, "#runs-forest .js-plotly-plot")
    rows = chrome.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, ".col-id").text for r in rows] == [
        "half-written", "humaneval/smoke-1", "react/sizes/models/Qwen2.5-Coder-1.5B",
        "react/sizes/models/SmolLM2-135M-Instruct", "react/sizes/models/tiny-random"]
    assert "not valid UTF-8 JSON" in rows[0].text and str(database) not in rows[0].text
    smoke = rows[1].text
    assert "function_completion" in smoke and "tiny-random" in smoke and "smoke · 1 fold × 1 seed" in smoke
    assert "2026-01-01 00:00" in smoke
    assert chrome.find_element(By.ID, "runs-count").text == "5 runs, 1 that cannot be read"
    # The forest: a row per readable run, grouped by scenario, the experiment's models smallest first.
    assert _forest_labels(chrome) == [
        "function_completion<br>tiny-random", "react-components<br>tiny-random",
        "react-components<br>SmolLM2-135M-Instruct", "react-components<br>Qwen2.5-Coder-1.5B"]
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#runs-forest .errorbar")) >= 4

    # A filter: one scenario.
    Select(chrome.find_element(By.ID, "runs-scenario")).select_by_value("react-components")
    WebDriverWait(chrome, 120).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")) == 3)
    WebDriverWait(chrome, 60).until(lambda d: len(_forest_labels(d) or []) == 3)
    assert chrome.find_element(By.ID, "runs-count").text == "3 runs"

    # Opening a run: its split screen, the banner naming it, and the experiment's models side by side.
    chrome.find_element(By.LINK_TEXT, "react/sizes/models/SmolLM2-135M-Instruct").click()
    _wait(chrome, "#model-forest-chart .js-plotly-plot")
    assert "Run react/sizes/models/SmolLM2-135M-Instruct" in chrome.find_element(By.ID, "run-banner").text
    assert "50.0%" in chrome.find_element(By.ID, "arm-experiment").text  # 5 of 10 problems
    assert chrome.find_element(By.ID, "forest-caption").text.startswith(
        "scenario react-components · base model SmolLM2-135M-Instruct.")
    models = chrome.execute_script("return document.querySelector('#model-forest-chart .js-plotly-plot').data"
                                   ".map((t) => t.name)")
    assert models == list(JS_MODELS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(1400, min(height, 6000))
    chrome.save_screenshot(str(SCREENSHOTS / "runs-opened-run-desktop.png"))
    chrome.set_window_size(1400, 1000)
    # The run's other views keep the run.
    chrome.find_element(By.ID, "nav-comparison").click()
    _wait(chrome, ".problem-card")
    assert "?run=" in chrome.current_url
    assert "active" in chrome.find_element(By.ID, "nav-comparison").get_attribute("class")
    assert "active" not in chrome.find_element(By.ID, "nav-overview").get_attribute("class")
    assert "Run react/sizes/models/SmolLM2-135M-Instruct" in chrome.find_element(By.ID, "run-banner").text
    assert "Page 1 of 1" in chrome.find_element(By.ID, "comparison-page-label").text  # its 10 problems, not 8
    assert len(chrome.find_elements(By.CSS_SELECTOR, ".problem-card")) == 10
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.browser
def test_the_database_page_passes_axe_at_phone_and_desktop_width(chrome, start_dashboard, database):
    base = start_dashboard(database)
    found = {}
    for width_name, width in (("phone", 375), ("desktop", 1400)):
        chrome.set_window_size(width, 1000)
        chrome.get(base + "runs")
        _wait(chrome, "#runs-forest .js-plotly-plot")
        assert chrome.execute_script("return document.documentElement.scrollWidth") <= width + 1
        found[width_name] = serious_violations(chrome)
        full_page_screenshot(chrome, width, f"runs-{width_name}")
    assert found == {"phone": [], "desktop": []}


@pytest.mark.browser
def test_one_run_folder_looks_as_before_and_lists_itself(chrome, start_dashboard, tmp_path):
    _write(tmp_path / "run", _results(8, 4, baseModel="tiny-random"))
    base = start_dashboard(tmp_path / "run")
    chrome.get(base)
    _wait(chrome, "#forest-chart .js-plotly-plot")
    assert not chrome.find_elements(By.ID, "run-banner") and not chrome.find_elements(By.ID, "model-forest-chart")
    chrome.get(base + "runs")
    _wait(chrome, "#runs-forest .js-plotly-plot")
    assert [r.find_element(By.CSS_SELECTOR, ".col-id").text
            for r in chrome.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")] == ["."]
