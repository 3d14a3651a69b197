"""Both runners, one answer: the design's shape (2 folds x 2 seeds x control/experiment/placebo, n = 4,
pass@1 and pass@2) through `commentslab run` over the six gRPC services and through the Kubeflow pipeline
under kfp.local gives the same results.json, figure for figure, and the same run folder layout; and an
experiment over two base models, through `commentslab run` and through the pipeline under kfp.local, gives
the same experiment.json and the same results.json per model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from design_shape import DESIGN

from commentslab.services.common.layout import Job, RunLayout
from commentslab.services.evaluator.results_schema import validate_results

# The first test to ask for the two runs waits for both (minutes each on two cores).
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(3600)]

# What may differ between two runs of the same design: when and where they ran, how long each step took,
# and the ids MLflow handed out (each Kubeflow job logs to its own store, so its model versions restart).
NOT_FIGURES = {"provenance", "wallSeconds", "mlflowRunId", "registeredVersion", "tokensPerSecond", "seconds",
               "elapsedSeconds", "repository", "reviewQueue"}


# A training plan's memory figures are those free on the machine at the moment it was made.
NOT_PLAN_FIGURES = {"available_bytes", "reason"}


def figures(value: object, key: str = "") -> object:
    """`value` without the keys that name times, places, ids and the memory free at a moment."""
    if isinstance(value, dict):
        drop = NOT_FIGURES | (NOT_PLAN_FIGURES if key == "plan" else set())
        return {k: figures(v, k) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [figures(v, key) for v in value]
    return value


def differences(a: object, b: object, path: str = "") -> list[str]:
    """Every path at which `a` and `b` differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: only in one" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {str(a)[:80]} != {str(b)[:80]}"]


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


# Two tiny random models of different sizes: the model dimension of the plan at the smallest cost.
TWO_MODELS = ["model=null", "models=[{name: small, kind: tiny-random}, "
                            "{name: smaller, kind: tiny-random, hidden_size: 32, intermediate_size: 64}]",
              "data.corpus_problems=12", "train.steps=2", "train.checkpoint_every=0", "generate.max_new_tokens=8",
              "evaluate.semantic_similarity=false", "evaluate.codebleu=false"]


@pytest.fixture(scope="module")
def two_model_runs(grpc_services, tmp_path_factory) -> tuple[Path, Path]:
    """One two-model experiment through `commentslab run --in-process` and through the Kubeflow pipeline under
    kfp.local (programs in the Sandbox service, statistics in the Stats service), each with one math thread
    per process, as the design's runs above. Returns the two experiment folders."""
    import subprocess
    import sys

    from commentslab.pipelines.runs import PipelineArguments, run_local

    local = tmp_path_factory.mktemp("two-models-local") / "run"
    command = [sys.executable, "-m", "commentslab.services.cli", "run", "--in-process", "--profile", "smoke",
               "--out", str(local)]
    for override in TWO_MODELS:
        command += ["--set", override]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    root = tmp_path_factory.mktemp("two-models-kfp")
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        published = run_local(PipelineArguments(profile="smoke", overrides=TWO_MODELS, run_name="two-models"), root,
                              grpc_services.addresses["sandbox"], grpc_services.addresses["stats"])
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before
    return local, published


def test_both_runners_plan_and_give_the_same_results_per_base_model(two_model_runs):
    from commentslab.services.common.config import load_config
    from commentslab.services.pipeline.experiment import plan_jobs

    local, kubeflow = two_model_runs
    jobs = [job.key for job in plan_jobs(load_config("smoke", TWO_MODELS))]
    assert jobs == ["small/0/1234/control", "small/0/1234/experiment", "smaller/0/1234/control",
                    "smaller/0/1234/experiment"]
    index = json.loads((local / "experiment.json").read_text())
    assert json.loads((kubeflow / "experiment.json").read_text()) == index
    assert index["models"] == ["small", "smaller"] and not (kubeflow / "results.json").exists()
    for name in index["models"]:
        mine, theirs = _results(local / index["runs"][name]), _results(kubeflow / index["runs"][name])
        assert mine["provenance"]["runner"] == "local" and theirs["provenance"]["runner"] == "kubeflow"
        assert mine["baseModel"] == theirs["baseModel"] == name
        found = differences(figures(mine), figures(theirs))
        assert not found, f"{name}:\n" + "\n".join(found[:40])
        layout = RunLayout.open(kubeflow / index["runs"][name])
        assert [job for job, _ in layout.histories()] == [Job(0, 1234, "control"), Job(0, 1234, "experiment")]


def test_both_runners_give_the_same_results_figure_for_figure(design_run, design_kfp_run):
    local, kubeflow = _results(design_run), _results(design_kfp_run)
    assert local["provenance"]["runner"] == "local" and kubeflow["provenance"]["runner"] == "kubeflow"
    found = differences(figures(local), figures(kubeflow))
    assert not found, "\n".join(found[:40])


def test_the_design_is_what_was_asked_for_and_every_problem_is_tested_once_per_seed(design_run):
    results = _results(design_run)
    validate_results(results)
    assert results["arms"] == DESIGN["arms"]
    assert results["evaluation"] | {"k": None} == {"problems": 24, "samples": 4, "seeds": 2, "folds": 2,
                                                   "testMetadata": "none", "k": None, "alpha": 0.05}
    assert {"pass@1", "pass@2"} <= set(results["metrics"])
    problems = results["problems"]
    assert len({p["id"] for p in problems}) == 24 and {p["fold"] for p in problems} == {0, 1}
    for problem in problems:
        for arm in DESIGN["arms"]:
            assert len(problem[arm]["statuses"]) == 4
            assert len(problem[arm]["seedScores"]) == 2
    # The verdict rests on Holm-adjusted p-values, and each metric says which it used.
    assert all("pHolm" in s and s["primaryTest"] for s in results["significance"].values())
    # The sandbox's controls ran on every fold before training: reference solutions pass, empty bodies fail.
    controls = results["controls"]
    assert len(controls["folds"]) == 2


def test_every_job_is_in_the_run_folder_where_the_layout_says(design_run, design_kfp_run):
    for folder in (design_run, design_kfp_run):
        layout = RunLayout.open(folder)
        results = _results(folder)
        assert layout.folds == 2
        jobs = [Job(f, s, a) for f in range(2) for s in DESIGN["seeds"] for a in DESIGN["arms"]]
        assert [job for job, _ in layout.histories()] == sorted(jobs)
        for job in jobs:
            assert any(layout.checkpoint(job).glob("*.safetensors")), layout.checkpoint(job)
        runs = [run for arm in DESIGN["arms"] for run in results["training"][arm]["runs"]]
        assert sorted(Job(r["fold"], r["seed"], r["arm"]) for r in runs) == sorted(jobs)
        assert all(r["checkpoint"] == layout.relative(layout.checkpoint(Job(r["fold"], r["seed"], r["arm"])))
                   for r in runs)
        assert layout.problems_csv.read_text().startswith("id,taskId,fold,arm,seed,metric,value")


def test_mlflow_runs_are_named_and_searchable_per_job(design_run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=RunLayout.open(design_run).tracking_uri)
    experiment = client.get_experiment_by_name("commentslab")
    runs = client.search_runs([experiment.experiment_id], filter_string="params.arm = 'placebo' and tags.fold = '1'")
    assert sorted(r.data.tags["seed"] for r in runs) == sorted(str(s) for s in DESIGN["seeds"])
    names = [r.info.run_name for r in client.search_runs([experiment.experiment_id])]
    assert len(names) == len(set(names)) == 12


def test_the_gateway_shows_metadata_hints_and_one_curve_per_arm_with_its_band(design_run):
    from fastapi.testclient import TestClient

    from commentslab.services.gateway.app import create_app

    client = TestClient(create_app(design_run))
    page = client.get("/api/problems", params={"limit": 24}).json()
    assert page["total"] == 24 and all(p["metadata"] for p in page["problems"])
    training = client.get("/api/training").json()
    assert set(training) == set(DESIGN["arms"])
    for curve in training.values():
        assert curve and all(step["runs"] == 4 and step["lossMin"] <= step["loss"] <= step["lossMax"]
                             for step in curve)
