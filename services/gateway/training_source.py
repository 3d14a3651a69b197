"""Training curves while a run is in progress, read from its MLflow store (the trainer logs every step there)."""

from __future__ import annotations

from pathlib import Path

from services.common.errors import InputError

MLFLOW_DB = "mlflow.db"
EXPERIMENT = "commentslab"  # the experiment services/trainer/train.py logs to


def mlflow_histories(results_dir: Path) -> dict[str, list[dict]]:
    """Each arm's logged steps (``step``, ``loss``, and ``validationLoss`` where logged) from
    ``<results_dir>/mlflow.db``; the newest MLflow run per arm. Empty when there is no store.

    Runs are named ``<profile>-<arm>`` by the trainer. Raises InputError naming the store when it
    exists but cannot be read.
    """
    db = Path(results_dir) / MLFLOW_DB
    if not db.is_file():
        return {}
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{db.resolve()}")
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            return {}
        runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
        histories: dict[str, list[dict]] = {}
        for run in runs:  # oldest first, so a re-run of an arm replaces the earlier one
            arm = (run.info.run_name or "").rsplit("-", 1)[-1]
            if not arm:
                continue
            steps = {m.step: {"step": m.step, "loss": m.value} for m in client.get_metric_history(run.info.run_id, "loss")}
            for m in client.get_metric_history(run.info.run_id, "validation_loss"):
                steps.setdefault(m.step, {"step": m.step})["validationLoss"] = m.value
            histories[arm] = [steps[s] for s in sorted(steps)]
        return histories
    except Exception as exc:  # MLflow raises many types for a locked, corrupt or foreign database
        raise InputError(str(db), f"the MLflow store cannot be read ({exc.__class__.__name__}: {exc}); "
                                  "training curves will show once the run's results.json is written") from exc
