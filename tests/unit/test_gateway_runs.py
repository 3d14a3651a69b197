"""The gateway over a folder of runs (a results database), over real HTTP: the list and its filters, each run's
views by its id, and run ids that try to reach outside the folder."""

import json
import os

import pytest
import requests
from test_gateway import write_results

from commentslab.services.gateway.server import start_in_thread


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """Two scenarios; one multi-model experiment (two models); a broken run; a secret run outside the folder
    that links and `..` try to reach."""
    root = tmp_path_factory.mktemp("db")
    outside = root / "outside"
    write_results(outside / "secret", problems=3, scenario="secret-scenario")
    folder = root / "database"
    write_results(folder / "humaneval" / "smoke", scenario="function_completion", baseModel="tiny-random")
    for name in ("tiny-random", "SmolLM2-135M-Instruct"):
        write_results(folder / "js" / "sizes" / "models" / name, problems=8, scenario="react-components",
                      baseModel=name)
    (folder / "js" / "sizes" / "experiment.json").write_text(json.dumps({
        "experiment": "sizes", "models": ["tiny-random", "SmolLM2-135M-Instruct"],
        "runs": {"tiny-random": "models/tiny-random", "SmolLM2-135M-Instruct": "models/SmolLM2-135M-Instruct"}}))
    (folder / "broken").mkdir()
    (folder / "broken" / "results.json").write_text("{truncated")
    os.symlink(outside / "secret", folder / "linked")
    return folder


@pytest.fixture(scope="module")
def gateway(database):
    running = start_in_thread(database)
    yield running.url
    running.stop()


def _get(url: str, path: str, **params) -> requests.Response:
    return requests.get(f"{url}{path}", params=params, timeout=10)


@pytest.mark.parametrize("run_id", [
    "../outside/secret", "humaneval/../../outside/secret", "/etc", str(os.sep) + "tmp", "linked", "linked/.",
    "humaneval/smoke/../../../outside/secret", "humaneval\\smoke", "humaneval/smoke\x00", ".", "",
    "%2e%2e/outside/secret", "humaneval//smoke", "./humaneval/smoke",
])
def test_a_run_id_never_reaches_outside_the_database(gateway, database, run_id):
    for path in ("/api/results", "/api/problems", "/api/training"):
        reply = _get(gateway, path, run=run_id)
        assert reply.status_code in (400, 404, 422), (path, run_id, reply.status_code)
        assert "secret-scenario" not in reply.text and str(database.parent) not in reply.text


def test_a_nul_in_a_run_id_is_refused_naming_the_parameter(gateway):
    reply = _get(gateway, "/api/results", run="humaneval/smoke\x00")
    assert reply.status_code == 400 and "run" in reply.json()["detail"]


def test_the_list_holds_every_run_with_its_scenario_model_design_date_and_verdict(gateway):
    listing = _get(gateway, "/api/runs").json()
    assert [r["id"] for r in listing["runs"]] == [
        "broken", "humaneval/smoke", "js/sizes/models/SmolLM2-135M-Instruct", "js/sizes/models/tiny-random"]
    smoke = listing["runs"][1]
    assert smoke["scenario"] == "function_completion" and smoke["baseModel"] == "tiny-random"
    assert smoke["design"]["profile"] == "smoke" and smoke["date"] == "2026-01-01T00:00:00+00:00"
    assert smoke["verdict"] and smoke["effects"][0]["metric"] == "pass@1"
    assert listing["runs"][2]["experiment"] == "sizes"
    assert "not valid UTF-8 JSON" in listing["runs"][0]["error"]
    assert listing["default"] == "humaneval/smoke"
    assert listing["values"]["scenario"] == ["function_completion", "react-components"]


def test_no_run_path_in_the_list_is_absolute(gateway, database):
    assert str(database) not in _get(gateway, "/api/runs").text


@pytest.mark.parametrize(("params", "ids"), [
    ({"scenario": "react-components"}, ["js/sizes/models/SmolLM2-135M-Instruct", "js/sizes/models/tiny-random"]),
    ({"model": "tiny-random"}, ["humaneval/smoke", "js/sizes/models/tiny-random"]),
    ({"model": "tiny-random", "scenario": "react-components"}, ["js/sizes/models/tiny-random"]),
    ({"profile": "smoke", "verdict": "broken"}, []),
    ({"verdict": "broken"}, ["broken"]),
])
def test_the_list_is_filtered_by_scenario_model_profile_and_verdict(gateway, params, ids):
    reply = _get(gateway, "/api/runs", **params)
    assert reply.status_code == 200 and [r["id"] for r in reply.json()["runs"]] == ids


@pytest.mark.parametrize(("params", "named"), [
    ({"scenario": "no-such-scenario"}, "scenario"), ({"model": "GPT-9"}, "model"), ({"profile": "huge"}, "profile"),
    ({"verdict": "great"}, "verdict"), ({"scenario": "x" * 300}, "scenario"),
])
def test_a_bad_filter_value_is_a_400_naming_the_parameter(gateway, params, named):
    reply = _get(gateway, "/api/runs", **params)
    assert reply.status_code in (400, 422)
    assert named in json.dumps(reply.json()["detail"])


def test_each_run_is_served_by_its_id(gateway):
    small = _get(gateway, "/api/results", run="js/sizes/models/tiny-random").json()
    assert small["scenario"] == "react-components" and small["baseModel"] == "tiny-random"
    problems = _get(gateway, "/api/problems", run="js/sizes/models/tiny-random", limit=50).json()
    assert problems["total"] == 8
    assert _get(gateway, "/api/problems", limit=50).json()["total"] == 6  # the default run
    assert _get(gateway, "/api/results").json()["scenario"] == "function_completion"
    assert _get(gateway, "/api/training", run="js/sizes/models/tiny-random").status_code == 200


def test_a_broken_or_unknown_run_says_why(gateway):
    broken = _get(gateway, "/api/results", run="broken")
    assert broken.status_code == 404 and "not valid UTF-8 JSON" in broken.json()["detail"]
    unknown = _get(gateway, "/api/results", run="humaneval/other")
    assert unknown.status_code == 404 and "/api/runs" in unknown.json()["detail"]


def test_a_single_run_folder_is_a_database_of_one(tmp_path):
    write_results(tmp_path / "run")
    running = start_in_thread(tmp_path / "run")
    try:
        listing = _get(running.url, "/api/runs").json()
        results = _get(running.url, "/api/results", run=".").json()
    finally:
        running.stop()
    assert [r["id"] for r in listing["runs"]] == ["."] and listing["default"] == "."
    assert results["metrics"] == ["pass@1"]


def test_the_default_run_is_the_folder_s_reference_and_a_run_in_progress_shows_its_training(tmp_path):
    write_results(tmp_path / "a-first", scenario="first")
    write_results(tmp_path / "results" / "reference", scenario="the-reference")
    history = tmp_path / "running" / "train" / "fold0" / "seed1234" / "control"
    history.mkdir(parents=True)
    (tmp_path / "running" / "layout.json").write_text('{"layoutVersion": 2, "folds": 1}')
    (history / "history.json").write_text(json.dumps([{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.0}]))
    running = start_in_thread(tmp_path)
    try:
        listing = _get(running.url, "/api/runs").json()
        default = _get(running.url, "/api/results").json()
        training = _get(running.url, "/api/training", run="running").json()
        unfinished = _get(running.url, "/api/results", run="running")
    finally:
        running.stop()
    assert listing["default"] == "results/reference" and default["scenario"] == "the-reference"
    assert [p["loss"] for p in training["control"]] == [2.5, 2.0]
    assert unfinished.status_code == 404 and "the run may not have finished" in unfinished.json()["detail"]
