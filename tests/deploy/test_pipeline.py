"""The Kubeflow pipeline: the committed YAML is a fresh compile, its parameters are the UI's, its GPU steps
land where the chart's GPU pool is, its components are thin, and it runs end to end under kfp.local."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import urllib.request

import pytest
import yaml
from rendering import AKS_VALUES, CHART, ROOT

from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import Job

COMPILED = ROOT / "pipelines" / "commentslab_pipeline.yaml"
COMPONENTS = ROOT / "pipelines" / "components.py"


@pytest.fixture(scope="module")
def compiled() -> dict:
    """The committed pipeline spec (the first YAML document; the second is the Kubernetes platform spec)."""
    docs = list(yaml.safe_load_all(COMPILED.read_text()))
    return {"pipeline": docs[0], "platform": docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]}


def test_the_committed_yaml_is_a_fresh_compile(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTSLAB_IMAGE_")}
    out = tmp_path / "fresh.yaml"
    result = subprocess.run([sys.executable, "-m", "commentslab.pipelines.compile", str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert out.read_text() == COMPILED.read_text(), "pipelines/commentslab_pipeline.yaml is stale: run `make pipeline`"


def test_the_ui_sets_base_model_profile_seeds_folds_and_arms(compiled):
    parameters = compiled["pipeline"]["root"]["inputDefinitions"]["parameters"]
    assert {"profile", "base_model", "seeds", "folds", "arms", "overrides"} <= set(parameters)
    assert parameters["profile"]["defaultValue"] == "gpu"
    assert parameters["seeds"]["parameterType"] == "LIST"
    assert parameters["arms"]["defaultValue"] == ["control", "experiment"]
    assert parameters["folds"]["parameterType"] == "NUMBER_INTEGER"


def test_training_and_evaluation_run_on_the_charts_gpu_pool(compiled):
    gpu = yaml.safe_load(AKS_VALUES.read_text())["gpu"]
    executors = compiled["pipeline"]["deploymentSpec"]["executors"]
    for step in ("exec-train", "exec-evaluate"):
        accelerator = executors[step]["container"]["resources"]["accelerator"]
        assert (accelerator["resourceType"], accelerator["resourceCount"]) == (gpu["resourceName"], "1")
        assert executors[step]["container"]["image"].endswith(f"/pipeline-cuda:{_app_version()}")
        platform = compiled["platform"][step]
        assert platform["nodeSelector"]["labels"] == gpu["nodeSelector"]
        assert platform["tolerations"] == gpu["tolerations"]
    for step in ("exec-corpus", "exec-export", "exec-split", "exec-statistics", "exec-publish"):
        assert "accelerator" not in executors[step]["container"].get("resources", {})
        assert executors[step]["container"]["image"].endswith(f"/pipeline:{_app_version()}")


def _app_version() -> str:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]


def test_every_step_carries_the_label_the_network_policies_admit(compiled):
    label = yaml.safe_load((CHART / "values.yaml").read_text())["networkPolicy"]["pipelinePodSelector"]
    executors = compiled["pipeline"]["deploymentSpec"]["executors"]
    assert set(compiled["platform"]) == set(executors)
    for name, platform in compiled["platform"].items():
        assert platform["podMetadata"]["labels"] == label, name
    assert compiled["platform"]["exec-publish"]["pvcMount"][0]["mountPath"] == "/workspace"


def test_components_are_one_call_into_pipelines_tasks():
    tree = ast.parse(COMPONENTS.read_text())
    functions = [f for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert len(functions) == 10
    for function in functions:
        body = function.body[1:] if isinstance(function.body[0], ast.Expr) else function.body  # docstring
        imports = [s for s in body if isinstance(s, ast.ImportFrom)]
        assert imports and all(s.module == "commentslab.pipelines.tasks" for s in imports), function.name
        assert len(body) <= 4, f"{function.name} holds logic; move it to pipelines/tasks.py"


def test_jobs_cover_every_fold_seed_and_arm(tmp_path):
    from commentslab.pipelines.tasks import plan_jobs, resolve_config

    config = tmp_path / "config.json"
    assert resolve_config(str(config), "smoke", seeds=[1.0, 2.0], folds=2, arms=["control", "experiment"]) == "smoke"
    jobs = plan_jobs(str(config))
    assert len(jobs) == 8 and len(set(jobs)) == 8
    assert Job.parse(jobs[0]) == Job(0, 1, "control")
    assert {Job.parse(j).seed for j in jobs} == {1, 2}
    stored = json.loads(config.read_text())
    assert stored["seeds"] == [1, 2] and stored["data"]["folds"] == 2


def test_a_run_without_the_control_arm_is_refused_with_the_reason(tmp_path):
    from commentslab.pipelines.tasks import resolve_config

    with pytest.raises(InputError, match="control and experiment"):
        resolve_config(str(tmp_path / "c.json"), "smoke", arms=["experiment", "placebo"])
    with pytest.raises(InputError, match="nonsense.*is not defined"):
        resolve_config(str(tmp_path / "c.json"), "smoke", arms=["control", "experiment", "nonsense"])


def test_base_model_and_overrides_reach_the_config(tmp_path):
    from commentslab.pipelines.tasks import resolve_config

    config = tmp_path / "config.json"
    resolve_config(str(config), "gpu", base_model="/models/base", overrides=["train.steps=7"])
    stored = json.loads(config.read_text())
    assert stored["model"]["path"] == "/models/base" and stored["train"]["steps"] == 7


def test_publishing_refuses_a_run_name_that_would_overwrite_current(tmp_path):
    from commentslab.pipelines.tasks import publish_results

    for name in ("current", "", "a/b"):
        with pytest.raises(InputError, match="run_name"):
            publish_results(str(tmp_path), [], str(tmp_path / "out"), name)
    with pytest.raises(InputError, match="no results.json"):
        publish_results(str(tmp_path), [], str(tmp_path / "out"), "run1")


def _scrape(port: int) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def _total(samples: dict[tuple, float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(3600)  # the first test to ask for the Kubeflow run waits for it
def test_the_pipeline_runs_end_to_end_under_kfp_local(grpc_services, design_kfp_run):
    """The design's shape through every component, programs in the real Sandbox service, stats in Stats;
    published as one run folder (tests/integration/test_runners_agree.py compares it with the local runner)."""
    from commentslab.pipelines.tasks import headline_metrics

    published = design_kfp_run
    results = json.loads((published / "results.json").read_text())
    current = published.parent / "current"
    assert (current / "results.json").read_text() == (published / "results.json").read_text()
    assert not list(current.rglob("*.safetensors")), "current/ is for the dashboard: no checkpoints"

    assert results["schemaVersion"] == 1 and results["arms"] == ["control", "experiment", "placebo"]
    assert results["config"]["profile"] == "smoke" and results["config"]["data"]["folds"] == 2
    assert results["provenance"]["runner"] == "kubeflow"
    n = results["config"]["generate"]["n"]
    problems = results["problems"]
    assert problems and all(len(p[arm]["statuses"]) == n for p in problems for arm in results["arms"])
    for arm in results["arms"]:
        for run in results["training"][arm]["runs"]:
            assert len(run["history"]) == results["config"]["train"]["steps"]
            assert any((published / run["checkpoint"]).glob("*.safetensors"))
    assert results["verdict"] and results["controls"]["folds"]

    # Every program ran in the Sandbox service and every metric was compared by the Stats service.
    metrics_port = {s.name: s.metrics_port for s in grpc_services.services}
    after = {name: _scrape(metrics_port[name]) for name in ("sandbox", "stats")}
    jobs = len(results["arms"]) * len(results["config"]["seeds"])
    assert _total(after["sandbox"], "commentslab_sandbox_executions_total") >= jobs * len(problems) * n
    assert _total(after["stats"], "commentslab_stats_comparisons_total") >= len(results["metrics"])

    # The statistics step's Metrics artifact (what the Kubeflow UI shows) holds the headline figures.
    outputs = [json.loads(p.read_text()) for p in published.parents[1].rglob("statistics/executor_output.json")]
    assert len(outputs) == 1
    logged = outputs[0]["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    expected = headline_metrics(results)
    assert set(expected) == {f"{arm}/{m}" for arm in ("control", "experiment") for m in results["metrics"]} | {
        f"p/{m}" for m in results["metrics"] if results["significance"][m].get("pValue") is not None}
    assert logged == pytest.approx(expected)
