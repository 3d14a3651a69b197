"""The public site as a visitor meets it, over a run the size of the reference design (HumanEval's 164 problems x
control/experiment/placebo, 5 folds): the split-screen home, the comparison's search, filters and pages, the
theme switch, phone width, and axe-core's accessibility check of every page at phone and desktop width. Each
page's screenshot is written to build/screenshots/ (or $COMMENTSLAB_SCREENSHOTS) for a person to look at."""

import json
import os
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from large_run import humaneval_run
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

AXE = REPO_ROOT / ".tools" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("COMMENTSLAB_SCREENSHOTS", REPO_ROOT / "build" / "screenshots"))
# Each view and what shows once it has drawn.
VIEWS = {"overview": ("", "#forest-chart .js-plotly-plot"), "training": ("training", "#training-graphs .js-plotly-plot"),
         "comparison": ("comparison", ".problem-card"), "playground": ("playground", "#prompt"),
         "results": ("results", "#metrics-chart .js-plotly-plot"), "human-eval": ("human-eval", "#eval-summary table"),
         "review": ("review", "#review-table")}
WIDTHS = {"phone": 375, "desktop": 1400}
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  (r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}))),
  (e) => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
"""


@pytest.fixture(scope="module")
def large_run(tmp_path_factory) -> Path:
    return humaneval_run(tmp_path_factory.mktemp("large-run"))


@pytest.fixture(scope="module")
def results(large_run) -> dict:
    return json.loads((large_run / "results.json").read_text())


def _open(chrome, base: str, view: str, timeout: float = 240):
    path, ready = VIEWS[view]
    chrome.get(base + path)
    return WebDriverWait(chrome, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, ready)))


def serious_violations(chrome) -> list[dict]:
    """axe-core's serious and critical violations on the page now shown."""
    assert AXE.is_file(), f"{AXE} is missing: run `make node-deps`"
    chrome.execute_script(AXE.read_text(encoding="utf-8"))
    return [v for v in chrome.execute_async_script(RUN_AXE) if v["impact"] in ("serious", "critical")]


def full_page_screenshot(chrome, width: int, name: str) -> None:
    """The whole page at `width` (up to 6,000 px tall) into SCREENSHOTS/<name>.png; the window is put back."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(width, min(height, 6000))
    chrome.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    chrome.set_window_size(width, 1000)


def _severe(chrome) -> list[dict]:
    return [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]


def test_every_page_passes_axe_at_phone_and_desktop_width_and_is_screenshotted(chrome, start_dashboard, large_run):
    base = start_dashboard(large_run)
    found = {}
    for width_name, width in WIDTHS.items():
        chrome.set_window_size(width, 1000)
        for view in VIEWS:
            _open(chrome, base, view)
            if view == "comparison":  # the first card's diffs open, so their colours are checked too
                chrome.execute_script("document.querySelectorAll('.problem-card')[0]"
                                      ".querySelectorAll('details').forEach((d) => d.open = true)")
            # The page fits the screen's width: only code blocks and tables scroll sideways, inside their frames.
            overflow = chrome.execute_script("return document.documentElement.scrollWidth")
            assert overflow <= width + 1, (view, width_name, overflow)
            found[view, width_name] = serious_violations(chrome)
            full_page_screenshot(chrome, width, f"{view}-{width_name}")
    # The dark theme keeps its contrast on the pages with the most colour.
    chrome.set_window_size(WIDTHS["desktop"], 1000)
    for view in ("overview", "comparison"):
        _open(chrome, base, view)
        chrome.find_element(By.CSS_SELECTOR, "label[for=theme-switch]").click()
        WebDriverWait(chrome, 60).until(lambda d: d.execute_script(
            "return document.documentElement.getAttribute('data-bs-theme')") == "dark")
        found[view, "desktop-dark"] = serious_violations(chrome)
        chrome.save_screenshot(str(SCREENSHOTS / f"{view}-desktop-dark.png"))
        chrome.find_element(By.CSS_SELECTOR, "label[for=theme-switch]").click()  # back to light for the next view
    assert {key: v for key, v in found.items() if v} == {}
    assert len(list(SCREENSHOTS.glob("*.png"))) >= len(VIEWS) * len(WIDTHS) + 2
    assert _severe(chrome) == []


def test_home_is_the_split_screen_with_differences_verdict_detectable_difference_and_forest(
        chrome, start_dashboard, large_run, results):
    _open(chrome, start_dashboard(large_run), "overview")
    cards = chrome.find_elements(By.CSS_SELECTOR, "#split-screen .arm-card")
    assert [c.find_element(By.TAG_NAME, "h2").text for c in cards] == ["Control", "Experiment", "Placebo"]
    # Side by side on a wide screen: the three cards share one row.
    assert len({c.location["y"] for c in cards}) == 1
    control, experiment = results["control"]["pass@1"], results["experiment"]["pass@1"]
    figures = chrome.find_element(By.ID, "arm-experiment").text
    assert f"{experiment * 100:.1f}%" in figures and "final training loss" in figures
    interval = results["significance"]["pass@1"]["bootstrap"]
    assert chrome.find_element(By.CSS_SELECTOR, ".change-experiment").text == (
        f"pass@1 {control * 100:.1f}% → {experiment * 100:.1f}%, {(experiment - control) * 100:+.1f} points "
        f"(95% interval {interval['low'] * 100:+.1f} to {interval['high'] * 100:+.1f})")
    assert chrome.find_element(By.ID, "verdict").text == results["verdict"]
    mdd = results["power"]["observedMdd"]["pass@1"]
    assert (f"could only reliably detect pass@1 differences larger than about {mdd * 100:.0f} percentage points"
            in chrome.find_element(By.ID, "detectable-difference").text)
    # The forest plot: one row per metric, experiment's interval and placebo's point.
    traces = chrome.execute_script("return document.querySelector('#forest-chart .js-plotly-plot').data"
                                   ".map((t) => [t.name, t.x.length, !!t.error_x])")
    assert traces == [["experiment", 4, True], ["placebo", 4, False]]
    assert chrome.find_elements(By.CSS_SELECTOR, "#forest-chart .errorbar")
    # At phone width the cards stack.
    chrome.set_window_size(WIDTHS["phone"], 1000)
    cards = chrome.find_elements(By.CSS_SELECTOR, "#split-screen .arm-card")
    assert len({c.location["y"] for c in cards}) == 3
    assert _severe(chrome) == []


def _count(chrome) -> str:
    return chrome.find_element(By.ID, "comparison-count").text


def _tasks(chrome) -> list[str]:
    return [h.text.split(" · ")[0] for h in chrome.find_elements(By.CSS_SELECTOR, ".problem-card h2")]


def test_comparison_searches_filters_and_pages_through_164_problems(chrome, start_dashboard, large_run, results):
    problems = results["problems"]
    _open(chrome, start_dashboard(large_run), "comparison")
    # The cards are replaced while a page loads: an element read in between is stale, so the wait reads again.
    wait = WebDriverWait(chrome, 240, ignored_exceptions=(StaleElementReferenceException,))
    assert _count(chrome) == "164 problems"
    assert _tasks(chrome) == [p["taskId"] for p in problems[:10]]
    # Highlighted code, three arms side by side, the metadata beside it with the lines using it marked.
    card = chrome.find_element(By.CSS_SELECTOR, ".problem-card")
    assert card.find_elements(By.CSS_SELECTOR, ".code-control .k") and card.find_elements(By.CSS_SELECTOR, ".code-placebo")
    assert card.find_element(By.CSS_SELECTOR, ".metadata-panel").text.startswith(".comments metadata")
    assert card.find_elements(By.CSS_SELECTOR, ".code-experiment .line-marked")
    # Pages: the second page holds the next ten.
    assert chrome.find_element(By.ID, "comparison-page-label").text == "Page 1 of 17"
    chrome.execute_script("document.getElementById('comparison-next').click()")  # below the fold, under the cards
    wait.until(lambda d: _tasks(d) == [p["taskId"] for p in problems[10:20]])
    assert chrome.find_element(By.ID, "comparison-page-label").text == "Page 2 of 17"
    # Search by problem, by function name.
    search = chrome.find_element(By.ID, "comparison-search")
    search.send_keys("longest\n")
    wait.until(lambda d: _count(d) == "1 problem")
    assert _tasks(chrome) == ["HumanEval/12"]
    search.clear()
    search.send_keys("\n")
    wait.until(lambda d: _count(d) == "164 problems")
    # An arm's outcome, a fold, and disagreements: the counts are the run's own.
    chrome.execute_script("const s = document.getElementById('outcome-filter');"
                          "Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(s, 'experiment:passed');"
                          "s.dispatchEvent(new Event('change', {bubbles: true}));")
    passed = [p for p in problems if any(p["experiment"]["passed"])]
    wait.until(lambda d: _count(d) == f"{len(passed)} problems")
    chrome.find_element(By.CSS_SELECTOR, "label[for^='_dbcprivate_checklist_disagree-only']").click()
    disagreeing = [p for p in passed if len({tuple(p[a]["passed"]) for a in results["arms"]}) > 1]
    wait.until(lambda d: _count(d) == f"{len(disagreeing)} problem{'s' if len(disagreeing) != 1 else ''}")
    # Where the arms' outcomes differ, the failing arm's test message is shown.
    messages = chrome.find_element(By.CSS_SELECTOR, ".problem-card .failure-messages").text
    assert "AssertionError" in messages
    chrome.execute_script("const s = document.getElementById('fold-filter');"
                          "Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(s, '2');"
                          "s.dispatchEvent(new Event('change', {bubbles: true}));")
    in_fold = [p for p in disagreeing if p["fold"] == 2]
    wait.until(lambda d: _count(d) == f"{len(in_fold)} problem{'s' if len(in_fold) != 1 else ''}")
    assert _severe(chrome) == []


def test_the_theme_switch_turns_the_site_dark_and_is_remembered(chrome, start_dashboard, large_run):
    base = start_dashboard(large_run)
    _open(chrome, base, "overview")
    theme = "return document.documentElement.getAttribute('data-bs-theme')"
    assert chrome.execute_script(theme) in (None, "light")
    chrome.find_element(By.CSS_SELECTOR, "label[for=theme-switch]").click()
    WebDriverWait(chrome, 60).until(lambda d: d.execute_script(theme) == "dark")
    background = chrome.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(33, 37, 41)"  # Bootstrap's dark body
    _open(chrome, base, "comparison")
    WebDriverWait(chrome, 60).until(lambda d: d.execute_script(theme) == "dark")
    assert _severe(chrome) == []
