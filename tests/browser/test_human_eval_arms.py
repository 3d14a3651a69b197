"""Human evaluation over three arms (control, experiment, placebo) in headless Chromium: blind pairs of every two
arms, and the Bradley-Terry strengths with their bootstrap intervals, as a table and a chart."""

import json
import random
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from test_dashboard import make_sample_results

from commentslab.services.gateway.app import default_database_url
from commentslab.services.gateway.preference import bradley_terry_intervals
from commentslab.services.gateway.results_store import problem_arms
from commentslab.services.gateway.votes import Pair, VoteStore, pair_id

pytestmark = pytest.mark.browser
ARMS = ["control", "experiment", "placebo"]
# How often the first arm of each pairing wins a decisive vote: experiment > placebo > control.
WIN_RATE = {("experiment", "control"): 0.8, ("placebo", "control"): 0.6, ("experiment", "placebo"): 0.7}


def three_arm_results() -> dict:
    """The sample smoke run with a placebo arm: its scores, and its completion for every problem."""
    results = make_sample_results(samples=2)
    results["arms"] = ARMS
    results["placebo"] = {metric: results["control"][metric] for metric in results["metrics"]}
    for problem in results["problems"]:
        problem["placebo"] = {**problem["control"], "completions": [f"    return {problem['entryPoint']}_placebo({n})\n"
                                                                    for n in range(2)]}
    return results


def cast_votes(run: Path, results: dict, reviewers: int = 4, seed: int = 7) -> list:
    """Reviewers judge every pair through the gateway's vote store (the file the gateway reads), each vote
    drawn from WIN_RATE: the store serves the sides at random, as it does to the page."""
    rng = random.Random(seed)
    store = VoteStore(default_database_url(run, None), rng=random.Random(seed))
    arms = problem_arms(results)
    pairs = [Pair(pair_id(p["id"], a, b), p["id"], (a, b)) for p in results["problems"]
             for i, a in enumerate(arms) for b in arms[i + 1:]]
    cast = []
    for index in range(reviewers):
        reviewer, _ = store.register(f"reviewer-{index}", invited=True)  # as the maintainer invites them
        while (served := store.next_pair(reviewer, pairs)) is not None:
            pair, left, right, _sample = served
            better, worse = next((a, b) for (a, b) in WIN_RATE if {a, b} == {left, right})
            roll = rng.random()
            winner = better if roll < WIN_RATE[better, worse] else worse
            choice = "tie" if roll > 0.95 else ("A" if winner == left else "B")
            cast.append(store.vote(reviewer, pair.pair_id, choice))
    store.engine.dispose()
    return cast


@pytest.fixture
def three_arm_run(tmp_path: Path) -> tuple[Path, list]:
    run = tmp_path / "run"
    run.mkdir()
    results = three_arm_results()
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return run, cast_votes(run, results)


def _cells(driver, table_id: str) -> dict[str, list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return {r.find_elements(By.TAG_NAME, "td")[0].text: [td.text for td in r.find_elements(By.TAG_NAME, "td")[1:]]
            for r in rows}


def test_bradley_terry_strengths_with_intervals_over_three_arms(chrome, start_dashboard, three_arm_run):
    run, votes = three_arm_run
    assert len(votes) == 4 * 8 * 3
    chrome.get(start_dashboard(run) + "human-eval")
    wait = WebDriverWait(chrome, 60)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#bradley-terry tbody tr")))

    expected = bradley_terry_intervals(votes, ARMS)
    table = _cells(chrome, "bradley-terry")
    assert sorted(table) == ARMS
    for arm, (strength, interval) in table.items():
        low, high = (float(v) for v in interval.strip("[]").split(", "))
        assert float(strength) == pytest.approx(expected[arm]["strength"], abs=5e-4)
        assert (low, high) == (pytest.approx(expected[arm]["low"], abs=5e-4), pytest.approx(expected[arm]["high"], abs=5e-4))
        assert low < float(strength) < high
    assert float(table["experiment"][0]) > float(table["placebo"][0]) > float(table["control"][0])
    # Every pairing is reported with its counts, and the reviewers are counted.
    preferences = _cells(chrome, "preference-table")
    assert sorted(preferences) == ["experiment vs control", "experiment vs placebo", "placebo vs control"]
    assert sum(int(row[0]) + int(row[1]) + int(row[2]) + int(row[3]) for row in preferences.values()) == len(votes)
    assert chrome.find_element(By.ID, "reviewer-count").text.startswith("4 reviewers, 96 votes")

    # The chart: one marker per arm at its strength, error bars reaching the interval's ends.
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#bradley-terry-chart .js-plotly-plot")))
    trace = chrome.execute_script("const t = document.querySelector('#bradley-terry-chart .js-plotly-plot').data[0];"
                                  "return {x: t.x, y: t.y, plus: t.error_y.array, minus: t.error_y.arrayminus};")
    for arm, y, plus, minus in zip(trace["x"], trace["y"], trace["plus"], trace["minus"], strict=True):
        assert y == pytest.approx(expected[arm]["strength"])
        assert (y + plus, y - minus) == (pytest.approx(expected[arm]["high"]), pytest.approx(expected[arm]["low"]))
    assert chrome.find_elements(By.CSS_SELECTOR, "#bradley-terry-chart .errorbar")

    # A new reviewer's blind pair may be any two of the three arms; the vote reveals them and is counted.
    chrome.find_element(By.ID, "reviewer-name").send_keys("fifth-reviewer")
    chrome.find_element(By.ID, "register").click()
    wait.until(lambda d: d.find_element(By.ID, "pair-a").text.strip() != "")
    assert not any(arm in chrome.find_element(By.ID, "pair-info").text for arm in ARMS)
    chrome.find_element(By.ID, "vote-B").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "vote-message"), "Recorded: B is better"))
    message = chrome.find_element(By.ID, "vote-message").text
    assert sum(f"was {arm}" in message for arm in ARMS) == 2
    # A visitor who registered themselves is counted apart; the invited reviewers' figures stay as they were.
    wait.until(EC.text_to_be_present_in_element((By.ID, "self-registered"), "1 reviewers, 1 votes"))
    assert chrome.find_element(By.ID, "reviewer-count").text.startswith("4 reviewers, 96 votes")
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []
