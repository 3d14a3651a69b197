"""What the gateway reads from a run folder besides results.json: the metadata of every test problem and
the training curves, finished or live. Paths come from the run's `RunLayout`.

Training curves are per job (fold, seed, arm). A design with several jobs per arm is shown per arm as
the mean over its jobs at each step, with the lowest and highest job as a band (`lossMin`, `lossMax`,
`runs`; the same for the validation loss, the learning rate and tokens/s), so a five-fold, three-seed run
reads as one curve per arm rather than fifteen.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import Job, RunLayout

MLFLOW_EXPERIMENT = "commentslab"  # the experiment services/trainer logs to


def split_metadata(results_dir: Path) -> dict[str, dict]:
    """Record id -> its ``.comments`` metadata, from the experiment arm's test rows of every fold (empty
    when the run folder has none). Problem rows in results.json do not carry the metadata; the split does."""
    out: dict[str, dict] = {}
    for path in RunLayout.reading(results_dir).test_row_files("experiment"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line in a split being written; the row shows without hints
            if isinstance(row, dict) and isinstance(row.get("metadata"), dict):
                out[str(row.get("id"))] = row["metadata"]
    return out


def pooled_histories(runs: dict[Job, list[dict]]) -> dict[str, list[dict]]:
    """Per arm: its one job's history, or the mean loss over its jobs per step with the band they span."""
    by_arm: dict[str, list[list[dict]]] = defaultdict(list)
    for job in sorted(runs):
        by_arm[job.arm].append(runs[job])
    pooled: dict[str, list[dict]] = {}
    for arm, histories in by_arm.items():
        if len(histories) == 1:
            pooled[arm] = histories[0]
            continue
        steps: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for history in histories:
            for entry in history:
                for key in ("loss", "validationLoss", "lr", "tokensPerSecond"):
                    if isinstance(entry.get(key), int | float):
                        steps[int(entry["step"])][key].append(float(entry[key]))
        rows = []
        for step in sorted(steps):
            row: dict = {"step": step}
            for key, values in steps[step].items():
                row[key] = sum(values) / len(values)
                row[f"{key}Min"], row[f"{key}Max"] = min(values), max(values)
                row["runs"] = max(row.get("runs", 0), len(values))
            rows.append(row)
        pooled[arm] = rows
    return pooled


def _read_history(path: Path) -> list[dict] | None:
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # being rewritten right now; the next refresh reads it
    return history if isinstance(history, list) else None


def training_histories(results_dir: Path, results: dict | None) -> dict[str, list[dict]]:
    """Each arm's training curve: from results.json once the run finished, else from the jobs' history.json
    files as the trainer writes them (so a run in progress shows live)."""
    runs: dict[Job, list[dict]] = {}
    for arm, entry in ((results or {}).get("training") or {}).items():
        if not isinstance(entry, dict):
            continue
        # Each job's own history when the runs carry one, else the arm's (its first job's) history.
        with_history = [r for r in entry.get("runs") or [] if isinstance(r, dict) and isinstance(r.get("history"), list)]
        for run in with_history or [{**entry, "arm": arm}]:
            if isinstance(run.get("history"), list):
                runs[Job(int(run.get("fold", 0)), int(run.get("seed", 0)), str(run.get("arm", arm)))] = run["history"]
    if not runs:
        for job, path in RunLayout.reading(results_dir).histories():
            history = _read_history(path)
            if history is not None:
                runs[job] = history
    return pooled_histories(runs)


def mlflow_histories(results_dir: Path) -> dict[str, list[dict]]:
    """Each arm's curve from the run's MLflow store, which the trainer logs every step to (the newest run
    per job). Jobs are told apart by the `arm` and `fold` params and the `seed` the trainer logs, never by
    parsing run names (arm names hold hyphens: `params-only`). Empty when there is no store; InputError
    naming the store when it exists but cannot be read."""
    db = RunLayout.reading(results_dir).mlflow_db
    if not db.is_file():
        return {}
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{db.resolve()}")
        experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
        if experiment is None:
            return {}
        found = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
        runs: dict[Job, list[dict]] = {}
        for run in found:  # oldest first, so a re-run of a job replaces the earlier one
            params = run.data.params
            if not params.get("arm"):
                continue
            job = Job(int(params.get("fold", 0) or 0), int(params.get("seed", 0) or 0), params["arm"])
            steps = {m.step: {"step": m.step, "loss": m.value} for m in client.get_metric_history(run.info.run_id, "loss")}
            for m in client.get_metric_history(run.info.run_id, "validation_loss"):
                steps.setdefault(m.step, {"step": m.step})["validationLoss"] = m.value
            runs[job] = [steps[s] for s in sorted(steps)]
        return pooled_histories(runs)
    except Exception as exc:  # MLflow raises many types for a locked, corrupt or foreign database
        raise InputError(str(db), f"the MLflow store cannot be read ({exc.__class__.__name__}: {exc}); "
                                  "training curves will show once the run's results.json is written") from exc
