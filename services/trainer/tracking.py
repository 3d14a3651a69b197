"""MLflow for the trainer: one run per arm (re-opened when a killed training resumes), per-step metrics
logged once each, system metrics, the checkpoint as an artifact, and the arm's model in the registry."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from commentslab.services.common.artifacts import to_uri
from commentslab.services.common.config import ExperimentConfig
from commentslab.services.common.logs import setup_logging

EXPERIMENT = "commentslab"  # services/gateway/run_folder.py reads this experiment
log = setup_logging(__name__)


def flat_params(cfg: ExperimentConfig) -> dict[str, str]:
    """The config as dotted MLflow parameters."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = json.dumps(value) if not isinstance(value, str) else value

    walk("", cfg.model_dump())
    return out


@contextmanager
def open_run(tracking_uri: str, artifact_root: Path, run_name: str, run_id: str | None, system_metrics: bool,
             interval: float):
    """The arm's MLflow run: `run_id`'s when resuming (same run, same history), else a new one."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    if system_metrics:
        mlflow.set_system_metrics_sampling_interval(interval)
        mlflow.set_system_metrics_samples_before_logging(1)
    if run_id:
        with mlflow.start_run(run_id=run_id, log_system_metrics=system_metrics) as run:
            yield run
        return
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow.create_experiment(EXPERIMENT, artifact_location=to_uri(artifact_root))
    )
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, log_system_metrics=system_metrics) as run:
        yield run


def log_start(run, cfg: ExperimentConfig, arm: str, job: dict | None, facts: dict, resumed_from_step: int) -> None:
    """A new run's parameters (the config, the arm, the job, `facts`) and tags; a resumed run keeps its own."""
    import mlflow

    job = job or {}
    tags = {"arm": arm, **{k: str(v) for k, v in job.items()}, "resumed_from_step": str(resumed_from_step)}
    mlflow.set_tags(tags)
    if not run.data.params:
        mlflow.log_params({**flat_params(cfg), **facts, "arm": arm, **job})


def run_exists(tracking_uri: str, run_id: str) -> bool:
    """Whether the store still has `run_id` (a resumed training re-opens it)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(tracking_uri=tracking_uri).get_run(run_id)
        return True
    except MlflowException:
        return False


def last_logged_step(tracking_uri: str, run_id: str, metric: str = "loss") -> int:
    """The highest step `metric` was logged at in the run (0 when never): steps up to it are not re-logged."""
    from mlflow import MlflowClient

    history = MlflowClient(tracking_uri=tracking_uri).get_metric_history(run_id, metric)
    return max((m.step for m in history), default=0)


def register_checkpoint(tracking_uri: str, run_id: str, arm: str, source: str, tags: dict[str, str]) -> str:
    """Register `source` (the run's checkpoint artifact, or the checkpoint folder) as a new version of
    `commentslab-<arm>`; returns the version."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri)
    name = f"commentslab-{arm}"
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=f"Fine-tuned model of the {arm} arm")
    version = client.create_model_version(name, source=source, run_id=run_id, tags=tags)
    return str(version.version)
