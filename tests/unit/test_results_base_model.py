"""results.json names its base model (`baseModel`) and, in an experiment over several, the experiment
(`multiModel`); results written before those fields existed still read, their base model derived from the
config's model the way the runners derive it."""

from __future__ import annotations

import pytest
from sample_results import results_from_problems, scored

from commentslab.services.evaluator.results_schema import ResultsSchemaError, base_model_of, validate_results


def _results(**fields) -> dict:
    problems = [{"id": f"id{i}", "taskId": f"HumanEval/{i}", "prompt": f"def f{i}():\n", "reference": "    return 1\n",
                 "control": scored(["x"], [i % 2 == 0]), "experiment": scored(["y"], [True])} for i in range(4)]
    return results_from_problems(problems, **fields)


@pytest.mark.parametrize(("model", "name"), [
    ({"kind": "tiny-random"}, "tiny-random"),
    ({"kind": "smollm2-gguf"}, "SmolLM2-135M-Instruct"),
    ({"kind": "hf", "path": "/models/org/Qwen2.5-Coder-0.5B/"}, "Qwen2.5-Coder-0.5B"),
    ({"kind": "hf", "path": "HuggingFaceTB/SmolLM2-360M"}, "SmolLM2-360M"),
])
def test_results_without_base_model_are_valid_and_name_it_from_the_config(model, name):
    results = _results()
    results["config"]["model"] = model
    assert "baseModel" not in results
    validate_results(results)
    assert base_model_of(results) == name


def test_a_recorded_base_model_is_the_one_readers_see():
    results = _results(baseModel="smollm2")
    validate_results(results)
    assert base_model_of(results) == "smollm2"


def test_a_run_of_an_experiment_over_several_models_names_the_experiment():
    validate_results(_results(baseModel="smollm2", multiModel={"id": "smoke-0123abcd", "models": ["tiny", "smollm2"]}))
    with pytest.raises(ResultsSchemaError, match="multiModel/id: is required"):
        validate_results(_results(baseModel="tiny", multiModel={"models": ["tiny"]}))
    with pytest.raises(ResultsSchemaError, match="multiModel/models"):
        validate_results(_results(baseModel="tiny", multiModel={"id": "x", "models": ["tiny", "tiny"]}))
    with pytest.raises(ResultsSchemaError, match="field baseModel"):
        validate_results(_results(baseModel=""))
