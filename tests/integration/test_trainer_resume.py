"""A training killed with SIGKILL mid-way resumes from its last checkpoint: through the `commentslab train`
CLI (same steps, every step once in the same MLflow run, weights equal to an uninterrupted run's) and
through the Trainer gRPC service (same out_uri resumes, and the stream says so)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from commentslab.services.trainer import checkpoints

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STEPS = 12
SETTINGS = [f"train.steps={STEPS}", "train.checkpoint_every=3", "train.max_seq_len=64", "train.system_metrics=false"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, humaneval_records) -> Path:
    from commentslab.services.splitter.split import split_records

    out = tmp_path_factory.mktemp("resume-data")
    split_records(humaneval_records, out, seed=3)
    return out / "datasets" / "control"


def _train_command(dataset: Path, out: Path) -> list[str]:
    command = [sys.executable, "-m", "commentslab.services.cli", "train", "--data", str(dataset), "--arm", "control",
               "--out", str(out)]
    for setting in SETTINGS:
        command += ["--set", setting]
    return command


def _wait_for_checkpoint(out: Path, process: subprocess.Popen | None, at_least: int, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = checkpoints.latest(out / "resume")
        if found and found[1] >= at_least:
            return found[1]
        if process is not None and process.poll() is not None:
            pytest.fail(f"training ended (code {process.returncode}) before its checkpoint of step {at_least}")
        time.sleep(0.02)
    pytest.fail(f"no checkpoint of step {at_least} within {timeout}s")


def _loss_steps(tracking: str) -> tuple[int, list[int]]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    runs = client.search_runs([client.get_experiment_by_name("commentslab").experiment_id])
    return len(runs), sorted(m.step for run in runs for m in client.get_metric_history(run.info.run_id, "loss"))


def test_a_killed_cli_training_resumes_to_the_same_steps_history_and_weights(dataset, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(_train_command(dataset, out), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    killed_after = _wait_for_checkpoint(out, first, 3)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL and not (out / "outcome.json").exists()
    assert killed_after < STEPS

    second = subprocess.run(_train_command(dataset, out), cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    result = json.loads(second.stdout)
    assert result["steps"] == STEPS and result["resumedFromStep"] >= killed_after
    assert f"resuming from the checkpoint of step {result['resumedFromStep']}" in second.stderr
    runs, steps = _loss_steps(f"sqlite:///{(out / 'mlflow.db').resolve()}")
    assert runs == 1 and steps == list(range(1, STEPS + 1))  # every step once, in the one run
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == list(range(1, STEPS + 1))

    straight = tmp_path / "straight"
    third = subprocess.run(_train_command(dataset, straight), cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=900)
    assert third.returncode == 0, third.stderr[-3000:]
    assert [h["loss"] for h in json.loads((straight / "history.json").read_text())] == [h["loss"] for h in history]
    resumed = load_file(str(out / "checkpoint" / "model.safetensors"))
    uninterrupted = load_file(str(straight / "checkpoint" / "model.safetensors"))
    assert resumed.keys() == uninterrupted.keys()
    assert all(resumed[k].equal(uninterrupted[k]) for k in resumed)  # training on this CPU is deterministic


def _start_trainer() -> tuple[subprocess.Popen, str]:
    from commentslab.services.pipeline.launcher import free_port

    port = free_port("127.0.0.1")
    process = subprocess.Popen([sys.executable, "-m", "commentslab.services.trainer", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    line = process.stdout.readline()
    assert line.startswith("READY"), line
    return process, f"127.0.0.1:{port}"


def test_the_trainer_service_resumes_a_training_whose_server_was_killed(dataset, tmp_path):
    import grpc

    from commentslab.services.common.artifacts import to_uri
    from commentslab.services.common.config import load_config
    from commentslab.v1 import trainer_pb2, trainer_pb2_grpc

    out = tmp_path / "served"
    cfg = load_config("smoke", SETTINGS)
    request = trainer_pb2.TrainRequest(dataset_uri=to_uri(dataset), arm="control", out_uri=to_uri(out),
                                       config_json=json.dumps(cfg.model_dump()),
                                       tracking_uri=f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}")
    server, address = _start_trainer()
    try:
        with grpc.insecure_channel(address) as channel:
            stream = trainer_pb2_grpc.TrainerStub(channel).Train(request, timeout=900)
            for event in stream:
                if event.HasField("progress") and event.progress.step >= 3:
                    break
            _wait_for_checkpoint(out, None, 3)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    server, address = _start_trainer()
    try:
        with grpc.insecure_channel(address) as channel:
            events = list(trainer_pb2_grpc.TrainerStub(channel).Train(request, timeout=900))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    statuses = [e.status for e in events if e.HasField("status")]
    progress = [e.progress for e in events if e.HasField("progress")]
    result = events[-1].result
    resumed_from = result.resumed_from_step
    assert resumed_from >= 3 and statuses[0].stage == "resume" and f"step {resumed_from}" in statuses[0].detail
    assert [p.step for p in progress] == list(range(resumed_from + 1, STEPS + 1))
    assert all(p.resumed_from_step == resumed_from for p in progress)
    assert result.steps == STEPS and result.registered_model == "commentslab-control" and result.registered_version
    assert json.loads(result.plan_json)["method"] == "full" and result.HasField("validation_loss")
    runs, steps = _loss_steps(request.tracking_uri)
    assert runs == 1 and steps == list(range(1, STEPS + 1))


def test_a_torchrun_launch_trains_with_ddp_and_only_rank_0_logs_and_prints(dataset, tmp_path):
    from commentslab.services.pipeline.launcher import free_port

    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               "-m", "commentslab.services.cli", "train", "--data", str(dataset), "--arm", "control", "--out", str(out),
               "--set", "train.steps=4", "--set", "train.checkpoint_every=2", "--set", "train.max_seq_len=64",
               "--set", "train.system_metrics=false"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # one JSON document: rank 1 prints nothing
    assert result["steps"] == 4 and result["plan"]["processes"] == 2 and result["plan"]["micro_batch_size"] == 2
    runs, steps = _loss_steps(f"sqlite:///{(out / 'mlflow.db').resolve()}")
    assert runs == 1 and steps == [1, 2, 3, 4] and result["registeredVersion"] == "1"
