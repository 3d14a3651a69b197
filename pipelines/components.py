"""The Kubeflow Pipelines (v2) components: each is one call into pipelines/tasks.py.

KFP copies a component's function source into the compiled YAML and runs it in the component's
image (docker/Dockerfile target `pipeline`, docker/Dockerfile.cuda for the GPU steps), which has this
project and kfp installed; so each body only imports its task and passes the artifact paths on.
Images come from COMMENTSLAB_IMAGE_REGISTRY and COMMENTSLAB_IMAGE_TAG at compile time (the helm
chart's image.registry and tag); `make pipeline` recompiles.
"""

# No `from __future__ import annotations`: KFP reads the parameter and artifact types at decoration time.
import os

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

REGISTRY = os.environ.get("COMMENTSLAB_IMAGE_REGISTRY", "ghcr.io/commentslab")
TAG = os.environ.get("COMMENTSLAB_IMAGE_TAG", "0.1.0")
CPU_IMAGE = f"{REGISTRY}/pipeline:{TAG}"
GPU_IMAGE = f"{REGISTRY}/pipeline-cuda:{TAG}"


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def resolve_config(profile: str, base_model: str, seeds: list, folds: int, arms: list, overrides: list,
                   config: Output[Artifact]) -> str:
    """The run's full config (a JSON file every later step reads): profile plus the UI's parameters."""
    from commentslab.pipelines.tasks import resolve_config as task

    return task(config.path, profile, base_model, seeds, folds, arms, overrides)


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def plan_jobs(config: Input[Artifact]) -> list:
    """One "fold/seed/arm" job per training run."""
    from commentslab.pipelines.tasks import plan_jobs as task

    return task(config.path)


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def corpus(config: Input[Artifact], repository: Output[Dataset]) -> int:
    """The annotated HumanEval repository."""
    from commentslab.pipelines.tasks import write_corpus

    return write_corpus(repository.path, config.path)


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def export(repository: Input[Dataset], config: Input[Artifact], records: Output[Dataset]) -> int:
    """`.comments` + source -> JSONL records."""
    from commentslab.pipelines.tasks import export_records

    return export_records(repository.path, records.path, config.path)


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def split(records: Input[Dataset], config: Input[Artifact], datasets: Output[Dataset]) -> int:
    """Validate, dedupe, split (or k folds) and build the arms."""
    from commentslab.pipelines.tasks import split_datasets

    return split_datasets(records.path, datasets.path, config.path)


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def controls(datasets: Input[Dataset], config: Input[Artifact], sandbox_address: str, checked: Output[Dataset]) -> int:
    """Reference solutions must pass and empty bodies fail in the Sandbox service, before any training."""
    from commentslab.pipelines.tasks import run_controls

    return int(run_controls(datasets.path, checked.path, config.path, sandbox_address).get("problems", 0))


@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)
def train(datasets: Input[Dataset], job: str, config: Input[Artifact], tracking_uri: str, model: Output[Model]) -> float:
    """Fine-tune one arm for one fold and seed; returns its final training loss."""
    from commentslab.pipelines.tasks import train_job

    return train_job(datasets.path, job, model.path, config.path, tracking_uri)["finalLoss"]


@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)
def evaluate(datasets: Input[Dataset], model: Input[Model], job: str, config: Input[Artifact], sandbox_address: str,
             scores: Output[Dataset]) -> int:
    """Generate for the arm's test prompts, run them in the sandbox, score every problem."""
    from commentslab.pipelines.tasks import evaluate_job

    return evaluate_job(datasets.path, model.path, job, scores.path, config.path, sandbox_address)["problems"]


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def statistics(datasets: Input[Dataset], records: Input[Dataset], scores: Input[list[Dataset]], config: Input[Artifact],
               checked: Input[Dataset], stats_address: str, results: Output[Dataset], metrics: Output[Metrics]) -> str:
    """Paired comparison over every job's scores -> results.json; returns the verdict."""
    from commentslab.pipelines.tasks import compare_jobs, headline_metrics

    outcome = compare_jobs(datasets.path, records.path, [s.path for s in scores], results.path, config.path,
                           stats_address, checked.path)
    for name, value in headline_metrics(outcome).items():
        metrics.log_metric(name, value)
    return outcome.get("verdict", "")


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def publish(results: Input[Dataset], models: Input[list[Model]], datasets: Input[Dataset], destination: str,
            run_name: str) -> str:
    """Join the run's parts into one run folder on the workspace volume the dashboard reads."""
    from commentslab.pipelines.tasks import publish_results

    return publish_results(results.path, [m.path for m in models], destination, run_name, datasets.path)
