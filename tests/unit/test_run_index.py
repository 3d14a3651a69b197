"""The results database: every run folder under a folder, read with the checked loader, broken runs kept with
their reasons, filtered by scenario, model, profile and verdict."""

import json
import os

import pytest
from sample_results import results_from_problems, scored

from commentslab.services.common.run_index import ROOT_ID, find_runs, model_name, verdict_kind
from commentslab.services.gateway.results_store import ResultsError


def _results(passes: int, **fields) -> dict:
    """Six problems; control passes none, experiment ``passes`` of them."""
    problems = [{"id": f"id{i}", "taskId": f"HumanEval/{i}", "prompt": f"def f{i}():\n", "reference": "    return 1\n",
                 "control": scored(["    return 0\n"], [False]), "experiment": scored(["    return 1\n"], [i < passes])}
                for i in range(6)]
    return results_from_problems(problems, **fields)


def _write(folder, results: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")


def _multi_model(folder, models: dict[str, int], experiment: str = "exp-1") -> None:
    """A multi-model run as the pipeline writes one: models/<name>/results.json and experiment.json."""
    for name, passes in models.items():
        # Named by experiment.json alone, as results written before `multiModel` existed are.
        _write(folder / "models" / name, _results(passes, baseModel=name))
    (folder / "experiment.json").write_text(json.dumps({
        "experiment": experiment, "models": list(models),
        "runs": {name: f"models/{name}" for name in models}}), encoding="utf-8")


def test_a_run_folder_given_directly_is_a_database_of_one(tmp_path):
    _write(tmp_path, _results(6, scenario="express-api"))
    index = find_runs(tmp_path)
    assert [e.run_id for e in index.entries] == [ROOT_ID]
    entry = index.default
    assert entry.ok and entry.scenario == "express-api" and entry.base_model is None  # smoke config has no kind
    assert entry.design.profile == "smoke" and entry.design.folds == 1 and entry.design.seeds == 1
    assert entry.design.arms == ("control", "experiment") and entry.design.samples == 1
    assert entry.design.problems == 6
    assert entry.date == "2026-01-01T00:00:00+00:00"  # provenance.createdAt
    assert index.resolve(ROOT_ID) == tmp_path


def test_runs_are_found_at_any_depth_and_their_subfolders_are_not_searched(tmp_path):
    _write(tmp_path / "humaneval" / "a", _results(1))
    _write(tmp_path / "humaneval" / "a" / "export" / "stray", _results(2))  # inside a run: not a run of the database
    _write(tmp_path / "js" / "deep" / "b", _results(3, scenario="react-components"))
    (tmp_path / ".git" / "c").mkdir(parents=True)
    _write(tmp_path / ".git" / "c", _results(4))
    index = find_runs(tmp_path)
    assert [e.run_id for e in index.entries] == ["humaneval/a", "js/deep/b"]
    assert index.get("js/deep/b").scenario == "react-components"


def test_each_metric_effect_carries_its_difference_and_95_percent_interval(tmp_path):
    results = _results(6)
    _write(tmp_path, results)
    effect = find_runs(tmp_path).default.effect("pass@1")
    significance = results["significance"]["pass@1"]
    assert effect.difference == pytest.approx(1.0) == pytest.approx(significance["difference"])
    assert (effect.low, effect.high) == (significance["bootstrap"]["low"], significance["bootstrap"]["high"])
    assert effect.control == pytest.approx(0.0) and effect.experiment == pytest.approx(1.0)
    assert effect.significant is significance["significant"]


def test_a_broken_run_is_listed_with_its_reason_beside_the_good_ones(tmp_path):
    _write(tmp_path / "good", _results(2))
    broken = _results(2)
    broken["evaluation"]["problems"] = 0
    _write(tmp_path / "bad-schema", broken)
    (tmp_path / "bad-json").mkdir()
    (tmp_path / "bad-json" / "results.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "layout.json").write_text('{"layoutVersion": 2, "folds": 1}', encoding="utf-8")
    index = find_runs(tmp_path)
    assert [e.run_id for e in index.runs] == ["good"]
    reasons = {e.run_id: e.error for e in index.broken}
    assert "evaluation/problems" in reasons["bad-schema"]
    assert "not valid UTF-8 JSON" in reasons["bad-json"]
    assert "has no results.json" in reasons["unfinished"]
    assert index.get("bad-json").date is not None  # the file's modification time
    assert index.default.run_id == "good"


def test_a_multi_model_experiment_lists_one_run_per_model(tmp_path):
    _multi_model(tmp_path / "js" / "sizes", {"tiny-random": 1, "SmolLM2-135M-Instruct": 4})
    index = find_runs(tmp_path)
    assert [(e.run_id, e.base_model, e.experiment) for e in index.entries] == [
        ("js/sizes/models/SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct", "exp-1"),
        ("js/sizes/models/tiny-random", "tiny-random", "exp-1")]
    assert index.get("js/sizes/models/SmolLM2-135M-Instruct").effect("pass@1").difference == pytest.approx(4 / 6)


def test_an_experiment_s_shared_data_is_not_searched_but_an_unlisted_model_is_listed(tmp_path):
    _multi_model(tmp_path, {"tiny-random": 1})
    (tmp_path / "data" / "export").mkdir(parents=True)
    (tmp_path / "data" / "export" / "layout.json").write_text("{}", encoding="utf-8")  # would read as a run
    _write(tmp_path / "models" / "extra", _results(3, baseModel="extra"))
    assert [e.run_id for e in find_runs(tmp_path).entries] == ["models/extra", "models/tiny-random"]


def test_a_model_listed_in_experiment_json_without_results_is_listed_as_broken(tmp_path):
    _multi_model(tmp_path, {"tiny-random": 1, "SmolLM2-135M-Instruct": 4})
    (tmp_path / "models" / "SmolLM2-135M-Instruct" / "results.json").unlink()
    index = find_runs(tmp_path)
    assert [e.run_id for e in index.runs] == ["models/tiny-random"]
    [missing] = index.broken
    assert missing.run_id == "models/SmolLM2-135M-Instruct" and missing.base_model == "SmolLM2-135M-Instruct"
    assert "lists model 'SmolLM2-135M-Instruct'" in missing.error and "has no results.json" in missing.error


def test_a_run_names_its_experiment_in_multi_model(tmp_path):
    _write(tmp_path / "moved", _results(2, baseModel="tiny-random",
                                        multiModel={"id": "sizes", "models": ["tiny-random", "SmolLM2-135M-Instruct"]}))
    assert find_runs(tmp_path).default.experiment == "sizes"


def test_an_unreadable_experiment_json_is_listed_as_broken(tmp_path):
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "experiment.json").write_text('{"runs": ["models/a"]}', encoding="utf-8")
    [entry] = find_runs(tmp_path).entries
    assert entry.run_id == "exp" and "field runs must map" in entry.error


def test_experiment_json_pointing_outside_the_database_is_refused(tmp_path):
    outside = tmp_path / "outside"
    _write(outside, _results(2))
    database = tmp_path / "db"
    (database / "exp").mkdir(parents=True)
    (database / "exp" / "experiment.json").write_text(json.dumps({"runs": {"a": "../../outside"}}), encoding="utf-8")
    [entry] = find_runs(database).entries
    assert entry.run_id == "exp/a" and "is outside the database" in entry.error
    assert entry.path == database / "exp"


def test_symbolic_links_out_of_the_database_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    _write(outside / "run", _results(2))
    database = tmp_path / "db"
    _write(database / "mine", _results(1))
    os.symlink(outside / "run", database / "linked-run")
    (database / "linked-file").mkdir()
    os.symlink(outside / "run" / "results.json", database / "linked-file" / "results.json")
    index = find_runs(database)
    assert [e.run_id for e in index.runs] == ["mine"]
    assert "links outside the database" in index.get("linked-file").error
    assert index.get("linked-run") is None


def test_filters_select_by_scenario_model_profile_and_verdict(tmp_path):
    _multi_model(tmp_path / "js", {"tiny-random": 0, "SmolLM2-135M-Instruct": 6})
    _write(tmp_path / "py", _results(6, scenario="function_completion", baseModel="tiny-random"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("[]", encoding="utf-8")
    index = find_runs(tmp_path)
    assert index.values("base_model") == ["SmolLM2-135M-Instruct", "tiny-random"]
    assert [e.run_id for e in index.select(base_model="tiny-random")] == ["js/models/tiny-random", "py"]
    assert [e.run_id for e in index.select(verdict="none")] == ["js/models/tiny-random"]
    assert [e.run_id for e in index.select(verdict="broken")] == ["broken"]
    assert [e.run_id for e in index.select(profile="smoke", verdict="better")] == ["js/models/SmolLM2-135M-Instruct", "py"]
    assert index.select(scenario="react-components") == []
    assert len(index.select()) == 4


def test_the_model_name_comes_from_base_model_else_from_the_config():
    assert model_name({"baseModel": "Qwen2.5-Coder-7B", "config": {"model": {"kind": "tiny-random"}}}) == "Qwen2.5-Coder-7B"
    assert model_name({"config": {"model": {"kind": "tiny-random"}}}) == "tiny-random"
    assert model_name({"config": {"model": {"kind": "smollm2-gguf"}}}) == "SmolLM2-135M-Instruct"
    assert model_name({"config": {"model": {"kind": "hf", "path": "Qwen/Qwen2.5-Coder-1.5B/"}}}) == "Qwen2.5-Coder-1.5B"
    assert model_name({"config": {"model": {}}}) is None


def test_the_verdict_kind_follows_the_significant_metrics_directions():
    assert verdict_kind({"a": {"significant": False, "difference": 0.5}}) == "none"
    assert verdict_kind({"a": {"significant": True, "difference": 0.5}}) == "better"
    assert verdict_kind({"a": {"significant": True, "difference": -0.5}}) == "worse"
    assert verdict_kind({"a": {"significant": True, "difference": 0.5},
                         "b": {"significant": True, "difference": -0.1}}) == "mixed"


def test_an_entry_serialises_without_its_absolute_path(tmp_path):
    _write(tmp_path / "run", _results(2, baseModel="tiny-random"))
    data = find_runs(tmp_path).default.to_dict()
    assert str(tmp_path) not in json.dumps(data)
    assert data["id"] == "run" and data["baseModel"] == "tiny-random"
    assert data["design"]["label"] == "smoke · 1 fold × 1 seed · n=1 · 6 problems · control, experiment"
    assert data["effects"][0]["metric"] == "pass@1"


def test_a_missing_database_folder_is_named(tmp_path):
    with pytest.raises(ResultsError, match="does-not-exist does not exist"):
        find_runs(tmp_path / "does-not-exist")
