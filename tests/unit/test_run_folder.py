"""What the gateway reads from a run folder besides results.json, and the CLI's comparison table."""

from __future__ import annotations

import json

import pytest

from commentslab.services.common.layout import Job, RunLayout
from commentslab.services.gateway.run_folder import (
    mlflow_histories,
    pooled_histories,
    split_metadata,
    training_histories,
)


def test_live_curves_are_told_apart_by_the_arm_param_not_by_splitting_the_run_name(tmp_path):
    from mlflow.tracking import MlflowClient

    layout = RunLayout(tmp_path)
    client = MlflowClient(tracking_uri=layout.tracking_uri)
    experiment = client.create_experiment("commentslab", artifact_location=(tmp_path / "mlartifacts").as_uri())
    for arm, losses in (("params-only", [3.0, 2.0]), ("text-only", [4.0, 3.5]), ("control", [5.0, 4.0])):
        # The name a hyphen-splitting reader took apart: "smoke-params-only" read as the arm "only".
        run = client.create_run(experiment, run_name=f"smoke-{arm}")
        client.log_param(run.info.run_id, "arm", arm)
        client.log_param(run.info.run_id, "seed", 1)
        for step, loss in enumerate(losses, start=1):
            client.log_metric(run.info.run_id, "loss", loss, step=step)
        client.set_terminated(run.info.run_id)
    curves = mlflow_histories(tmp_path)
    assert set(curves) == {"params-only", "text-only", "control"}
    assert [s["loss"] for s in curves["params-only"]] == [3.0, 2.0]


def test_several_runs_of_an_arm_read_as_their_mean_with_the_range():
    runs = {Job(0, 1, "control"): [{"step": 1, "loss": 4.0}, {"step": 2, "loss": 2.0}],
            Job(1, 1, "control"): [{"step": 1, "loss": 6.0}, {"step": 2, "loss": 3.0, "validationLoss": 3.5}],
            Job(0, 1, "experiment"): [{"step": 1, "loss": 5.0}]}
    pooled = pooled_histories(runs)
    assert pooled["experiment"] == [{"step": 1, "loss": 5.0}]
    assert pooled["control"][0] == {"step": 1, "loss": 5.0, "lossMin": 4.0, "lossMax": 6.0, "runs": 2}
    assert pooled["control"][1]["validationLoss"] == 3.5 and pooled["control"][1]["loss"] == 2.5


def test_a_run_in_progress_shows_the_histories_written_so_far_and_every_folds_metadata(tmp_path):
    layout = RunLayout(tmp_path, folds=2)
    layout.claim()
    for fold in range(2):
        layout.rows(fold, "experiment").parent.mkdir(parents=True)
        layout.rows(fold, "experiment").write_text(
            json.dumps({"id": f"p{fold}", "metadata": {"text": f"fold {fold}"}}) + "\n" + '{"id": "torn', encoding="utf-8")
    job = Job(1, 7, "experiment")
    layout.history(job).parent.mkdir(parents=True)
    layout.history(job).write_text(json.dumps([{"step": 1, "loss": 1.5}]))
    assert split_metadata(tmp_path) == {"p0": {"text": "fold 0"}, "p1": {"text": "fold 1"}}
    assert training_histories(tmp_path, None) == {"experiment": [{"step": 1, "loss": 1.5}]}


def test_the_printed_table_names_both_p_values_and_the_verdict_follows_holm(capsys):
    from commentslab.services.cli import _print_headline

    results = {"metrics": ["pass@1", "exact_match"], "control": {"pass@1": 0.2, "exact_match": 0.1},
               "experiment": {"pass@1": 0.3, "exact_match": 0.1},
               "significance": {
                   "pass@1": {"difference": 0.1, "pValue": 0.03, "pHolm": 0.06, "significant": False,
                              "primaryTest": "McNemar exact"},
                   "exact_match": {"difference": 0.0, "pValue": 0.9, "pHolm": 0.9, "significant": False,
                                   "primaryTest": "paired t-test"}},
               "verdict": "No metric differs significantly after Holm's correction."}
    _print_headline(results)
    out = capsys.readouterr().out.splitlines()
    assert "p (test)" in out[0] and "p (Holm)" in out[0] and "significant" in out[0]
    row = out[1].split()
    assert row[0] == "pass@1" and row[-3:] == ["0.030", "0.060", "no"]
    assert any("the verdict uses p (Holm)" in line for line in out)


@pytest.mark.parametrize("arm", ["params-only", "ai-only"])
def test_job_folders_keep_hyphenated_arm_names_whole(tmp_path, arm):
    layout = RunLayout(tmp_path)
    job = Job(0, 1, arm)
    layout.history(job).parent.mkdir(parents=True)
    layout.history(job).write_text("[]")
    assert [j.arm for j, _ in layout.histories()] == [arm]
