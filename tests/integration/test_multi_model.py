"""Several base models in one experiment: the tiny random model and SmolLM2-135M-Instruct trained and evaluated
through the six gRPC services with the same data, seeds and settings, each into its own complete run folder
under models/<name>/, indexed by experiment.json; and the configs such an experiment refuses."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from commentslab.services.common.artifacts import COMMIT_VARIABLE, code_version
from commentslab.services.common.config import load_config
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import EXPERIMENT_FILE, ExperimentLayout, Job, RunLayout
from commentslab.services.evaluator.results_schema import validate_results

TWO_MODELS = "models=[{name: tiny-random, kind: tiny-random}, {name: smollm2, kind: smollm2-gguf}]"
# The smoke profile, smaller still: SmolLM2's steps are the run's cost, so few problems, two steps, short rows.
SMALL = ["data.corpus_problems=16", "train.steps=2", "train.max_seq_len=128", "train.checkpoint_every=0",
         "generate.max_new_tokens=16", "evaluate.semantic_similarity=false", "evaluate.codebleu=false"]


def two_model_config(*more: str):
    """The smoke profile over the tiny random model and SmolLM2 (the profile's own `model` unset)."""
    return load_config("smoke", ["model=null", TWO_MODELS, *SMALL, *more])


@pytest.fixture(scope="module")
def two_model_run(grpc_services, tmp_path_factory) -> Iterator[tuple[Path, dict]]:
    """The two-model experiment through the services; yields its folder and what the runner returned.

    A step's manifest names the code's version, and the checkout may be committed to while this module runs:
    its runs name one version, so the rerun below is a rerun of the same code.
    """
    from commentslab.services.pipeline.run import run_experiment
    from commentslab.services.pipeline.steps import GrpcSteps

    out = tmp_path_factory.mktemp("two-models") / "run"
    before = os.environ.get(COMMIT_VARIABLE)
    os.environ[COMMIT_VARIABLE] = f"{code_version()}-two-models"
    try:
        steps = GrpcSteps(grpc_services.addresses)
        try:
            returned = run_experiment(steps, two_model_config(), out)
        finally:
            steps.close()
        yield out, returned
    finally:
        if before is None:
            os.environ.pop(COMMIT_VARIABLE, None)
        else:
            os.environ[COMMIT_VARIABLE] = before


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_each_model_has_a_complete_run_folder_with_its_own_valid_results(two_model_run):
    out, returned = two_model_run
    assert not (out / "results.json").exists(), "an experiment's comparisons are per model, never pooled"
    index = json.loads((out / EXPERIMENT_FILE).read_text())
    assert index["models"] == ["tiny-random", "smollm2"]
    assert index["runs"] == {"tiny-random": "models/tiny-random", "smollm2": "models/smollm2"}
    assert set(returned) == {"tiny-random", "smollm2"}
    for name in index["models"]:
        run = out / index["runs"][name]
        layout = RunLayout.open(run)  # a run folder of today's layout, readable on its own
        results = _results(run)
        validate_results(results, str(run / "results.json"))
        assert results["baseModel"] == name
        assert results["multiModel"] == {"id": index["experiment"], "models": ["tiny-random", "smollm2"]}
        assert results == returned[name]
        kind = {"tiny-random": "tiny-random", "smollm2": "smollm2-gguf"}[name]
        assert results["config"]["model"]["kind"] == kind and results["config"]["models"] == []
        for arm in ("control", "experiment"):
            job = Job(0, 1234, arm)
            assert any(layout.checkpoint(job).glob("*.safetensors")), layout.checkpoint(job)
            assert layout.scores(job).is_file() and layout.rows(0, arm).is_file()
        assert layout.records.is_file() and layout.problems_csv.is_file()


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_the_models_share_one_split_seeds_and_settings(two_model_run):
    out, _ = two_model_run
    tiny, smollm2 = (_results(out / "models" / name) for name in ("tiny-random", "smollm2"))
    assert [p["id"] for p in tiny["problems"]] == [p["id"] for p in smollm2["problems"]]
    assert tiny["problems"] and tiny["data"]["split"] == smollm2["data"]["split"]
    for name in ("tiny-random", "smollm2"):
        layout = RunLayout.open(out / "models" / name)
        shared = ExperimentLayout(out).shared
        for arm in ("control", "experiment"):
            for split in ("train", "validation", "test"):
                assert layout.rows(0, arm, split).read_bytes() == shared.rows(0, arm, split).read_bytes()
    # Everything but the base model is the same configuration.
    assert {k: v for k, v in tiny["config"].items() if k != "model"} == \
           {k: v for k, v in smollm2["config"].items() if k != "model"}
    assert tiny["evaluation"] == smollm2["evaluation"]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_a_rerun_resumes_each_model_from_its_manifests(two_model_run):
    from commentslab.services.pipeline.run import run_experiment
    from commentslab.services.pipeline.steps import LocalSteps

    out, _ = two_model_run
    again = run_experiment(LocalSteps(), two_model_config(), out)
    for name, results in again.items():
        skipped = results["provenance"]["skippedSteps"]
        assert {"export", "split", f"train:{name}/0/1234/control", f"generate:{name}/0/1234/experiment"} <= set(skipped)


# -- refusals: no run starts ----------------------------------------------------------------------------------------

def test_model_and_models_together_are_refused():
    with pytest.raises(InputError, match="either model .* or models") as refused:
        load_config("smoke", [TWO_MODELS])
    assert refused.value.path == "models"


@pytest.mark.parametrize(("models", "field", "reason"), [
    ("[{name: tiny, kind: tiny-random}, {name: tiny, kind: smollm2-gguf}]", "models[1].name", "already the name"),
    ("[{name: Tiny, kind: tiny-random}, {name: tiny, kind: smollm2-gguf}]", "models[1].name", "already the name"),
    ("[{name: ../up, kind: tiny-random}]", "models[0].name", "not folder-safe"),
    ("[{name: a/b, kind: tiny-random}]", "models[0].name", "not folder-safe"),
    ("[{name: '', kind: tiny-random}]", "models[0].name", "not folder-safe"),
    ("[{kind: tiny-random}]", "models[0].name", "is required"),
])
def test_a_repeated_unsafe_or_missing_model_name_is_refused_naming_the_entry(models, field, reason):
    with pytest.raises(InputError, match=reason) as refused:
        load_config("smoke", ["model=null", f"models={models}"])
    assert refused.value.path == field


def test_a_run_folder_of_one_model_does_not_become_an_experiment_and_back(tmp_path):
    single = RunLayout(tmp_path / "single")
    single.claim()
    with pytest.raises(InputError, match="one-model run"):
        ExperimentLayout(single.root).claim()
    folder = ExperimentLayout(tmp_path / "multi")
    folder.claim()
    (folder.index).write_text("{}")
    with pytest.raises(InputError, match="several base models"):
        RunLayout(folder.root).claim()


def test_each_job_of_the_plan_names_its_model_and_its_key_round_trips():
    from commentslab.services.pipeline.experiment import plan_jobs, seed_config

    cfg = two_model_config("seeds=[1, 2]")
    jobs = plan_jobs(cfg)
    assert len(jobs) == 2 * 2 * 2 and [j.model for j in jobs[:4]] == ["tiny-random"] * 4
    assert all(Job.parse(job.key) == job for job in jobs)
    assert Job.parse("0/1/control") == Job(0, 1, "control")
    smollm2 = next(job for job in jobs if job.model == "smollm2")
    job_cfg = seed_config(cfg, smollm2)
    assert job_cfg.model.kind == "smollm2-gguf" and job_cfg.models == [] and job_cfg.seed == smollm2.seed
    with pytest.raises(InputError, match="names no base model"):
        seed_config(cfg, Job(0, 1, "control"))


def test_a_one_model_runs_base_model_is_named_after_its_kind_or_path():
    assert load_config("smoke").base_model_name() == "tiny-random"
    assert load_config("cpu").base_model_name() == "SmolLM2-135M-Instruct"
    assert load_config("gpu", ["model.path=/models/org/Qwen2.5-Coder-0.5B/"]).base_model_name() == \
           "Qwen2.5-Coder-0.5B"


def test_the_kubeflow_plan_carries_the_model_and_a_base_model_parameter_beside_models_is_refused(tmp_path):
    from commentslab.pipelines.tasks import plan_jobs, resolve_config

    config = tmp_path / "config.json"
    resolve_config(str(config), "smoke", seeds=[1.0, 2.0], overrides=["model=null", TWO_MODELS])
    assert plan_jobs(str(config)) == [f"{model}/0/{seed}/{arm}" for model in ("tiny-random", "smollm2")
                                      for seed in (1, 2) for arm in ("control", "experiment")]
    with pytest.raises(InputError, match="each its path there") as refused:
        resolve_config(str(config), "smoke", base_model="/models/base", overrides=["model=null", TWO_MODELS])
    assert refused.value.path == "base_model"
