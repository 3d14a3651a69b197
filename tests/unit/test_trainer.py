"""Trainer on the tiny model through TRL's SFTTrainer: masked loss, learning-rate schedule, MLflow run (metrics,
system metrics, artifact, registry, per-job name), early stopping with the best weights, and resuming an
interrupted run in-process."""

import math

import pytest

from commentslab.services.common.config import load_config
from commentslab.services.common.errors import InputError
from commentslab.services.common.models import load_tokenizer
from commentslab.services.splitter.split import split_records
from commentslab.services.trainer.train import encode_example, train_arm


def test_prompt_tokens_are_masked_and_the_completion_is_kept_when_cut():
    tok = load_tokenizer(load_config("smoke").model)
    ids, labels = encode_example(tok, "def f(x):\n", "    return x\n", max_len=64)
    n_prompt = len(tok("def f(x):\n", add_special_tokens=False)["input_ids"])
    assert labels[:n_prompt] == [-100] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:]
    assert ids[-1] == tok.eos_token_id
    ids, labels = encode_example(tok, "x" * 500, "    return x\n", max_len=8)
    assert len(ids) == 8 and labels[-1] == tok.eos_token_id


def test_the_design_defaults_apply_unless_a_profile_or_flag_overrides_them():
    from commentslab.services.common.config import TrainConfig

    t = TrainConfig()
    assert (t.learning_rate, t.batch_size, t.epochs, t.warmup_steps, t.max_seq_len, t.patience) == (
        1e-5, 4, 3, 100, 2048, 2)
    gpu = load_config("gpu", ["train.patience=5", "train.packing=true"])
    assert gpu.train.method == "auto" and gpu.model.dtype == "auto" and gpu.train.patience == 5 and gpu.train.packing


@pytest.fixture(scope="module")
def data(tmp_path_factory, humaneval_records):
    out = tmp_path_factory.mktemp("train")
    split_records(humaneval_records, out, seed=3)
    return out


@pytest.fixture(scope="module")
def trained(data):
    import mlflow

    cfg = load_config("smoke", ["train.steps=3", "train.system_metrics_interval=0.5"])
    tracking = f"sqlite:///{data / 'mlflow.db'}"
    seen = []
    outcome = train_arm(data / "datasets" / "experiment", "experiment", data / "arm", cfg, tracking, seen.append)
    mlflow.set_tracking_uri(tracking)
    return outcome, seen, mlflow.get_run(outcome.mlflow_run_id), tracking


def test_training_streams_every_step_and_logs_one_mlflow_run(trained):
    outcome, seen, run, _ = trained
    assert [s.step for s in seen] == [1, 2, 3] and seen[-1].seconds_left == 0
    assert all(math.isfinite(s.loss) and s.loss > 0 for s in seen)
    # A random model over a 49k vocabulary starts near ln(49152) = 10.8.
    assert 9.0 < seen[0].loss < 11.5
    assert run.info.run_name == "smoke-experiment"
    assert run.data.params["arm"] == "experiment"
    assert run.data.metrics["loss"] == pytest.approx(outcome.final_loss)
    assert outcome.validation_loss is not None and (outcome.checkpoint / "commentslab_checkpoint.json").is_file()
    assert outcome.stop_reason == "completed" and outcome.best_step == 3


def test_the_learning_rate_warms_up_linearly_then_decays_by_cosine_towards_a_tenth(trained):
    outcome, seen, _, _ = trained
    # smoke: peak 3e-3, one warm-up step, three steps. The library's step s uses the schedule at s - 1:
    # 0 (warming up), the peak, then halfway down the cosine from the peak to its tenth.
    expected = [0.0, 3e-3, 3e-3 * (0.1 + 0.9 * 0.5)]
    assert [h["learningRate"] for h in outcome.history] == pytest.approx(expected)
    assert [s.learning_rate for s in seen] == pytest.approx(expected)
    assert all(h["tokensPerSecond"] > 0 for h in outcome.history)


def test_mlflow_holds_system_metrics_the_checkpoint_and_a_registered_model(trained):
    from mlflow import MlflowClient

    outcome, _, run, tracking = trained
    assert {"learning_rate", "tokens_per_second", "validation_loss"} <= set(run.data.metrics)
    assert any(k.startswith("system/") for k in run.data.metrics), sorted(run.data.metrics)
    assert run.data.params["plan.method"] == "full" and run.data.tags["stop_reason"] == "completed"
    client = MlflowClient(tracking_uri=tracking)
    files = {a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")}
    assert "checkpoint/commentslab_checkpoint.json" in files and "checkpoint/model.safetensors" in files
    assert (outcome.registered_model, outcome.registered_version) == ("commentslab-experiment", "1")
    version = client.get_model_version("commentslab-experiment", "1")
    assert version.run_id == run.info.run_id and version.source.endswith("/checkpoint")


def test_a_finished_training_is_not_redone(trained, data):
    outcome, _, _, tracking = trained
    again = train_arm(data / "datasets" / "experiment", "experiment", data / "arm",
                      load_config("smoke", ["train.steps=3", "train.system_metrics_interval=0.5"]), tracking)
    assert (again.mlflow_run_id, again.steps, again.registered_version) == (outcome.mlflow_run_id, 3, "1")


def test_early_stopping_stops_after_patience_evaluations_and_returns_the_best_weights(data):
    import mlflow
    import torch
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from commentslab.services.common.models import load_checkpoint
    from commentslab.services.trainer.data import sft_dataset

    # lr 1.0 wrecks the model after the warm-up step: step 1 (lr 0) keeps the best validation loss, and no
    # evaluation improves on it by 100 nats, so steps 2 and 3 are the two that exhaust the patience.
    cfg = load_config("smoke", ["train.eval_every=1", "train.patience=2", "train.min_improvement=100",
                                "train.learning_rate=1.0", "train.system_metrics=false", "train.max_seq_len=64"])
    tracking = f"sqlite:///{data / 'early.db'}"
    outcome = train_arm(data / "datasets" / "control", "control", data / "early", cfg, tracking,
                        job={"fold": 2, "seed": 7})
    losses = [h["validationLoss"] for h in outcome.history]
    assert (outcome.steps, outcome.stop_reason, outcome.best_step) == (3, "early_stopping", 1)
    assert losses[0] < min(losses[1:]) and outcome.validation_loss == losses[0]
    assert outcome.history[-1]["stopReason"] == "early_stopping" and outcome.history[-1]["bestStep"] == 1
    mlflow.set_tracking_uri(tracking)
    run = mlflow.get_run(outcome.mlflow_run_id)
    assert run.data.tags["stop_reason"] == "early_stopping"
    # One run per job, found by its name or its arm, fold and seed.
    assert run.info.run_name == "control fold2 seed7"
    assert (run.data.params["arm"], run.data.params["fold"], run.data.params["seed"]) == ("control", "2", "7")
    assert (run.data.tags["arm"], run.data.tags["fold"], run.data.tags["seed"]) == ("control", "2", "7")
    # The checkpoint holds step 1's weights: its validation loss, computed as the library does (the mean over
    # batches of 4 of each batch's token-mean loss, weighted by rows), is step 1's.
    model, tok = load_checkpoint(outcome.checkpoint)
    rows = [__import__("json").loads(line) for line in (data / "datasets" / "control" / "validation.jsonl").open()]
    examples = list(sft_dataset(rows, tok, 64))
    collate = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(examples), 4):
            batch = collate(examples[i : i + 4])
            total += float(model(**batch).loss) * len(examples[i : i + 4])
    assert total / len(examples) == pytest.approx(outcome.validation_loss, rel=1e-5)


class _Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_in_the_same_mlflow_run_and_ends_as_an_uninterrupted_one(data):
    from mlflow import MlflowClient
    from safetensors.torch import load_file

    cfg = load_config("smoke", ["train.steps=7", "train.checkpoint_every=2", "train.system_metrics=false",
                                "train.max_seq_len=64"])
    dataset = data / "datasets" / "control"

    def stop_at_5(report):
        if report.step == 5:
            raise _Interrupt

    tracking = f"sqlite:///{data / 'resume.db'}"
    with pytest.raises(_Interrupt):
        train_arm(dataset, "control", data / "resumed", cfg, tracking, stop_at_5)
    said = []
    seen = []
    resumed = train_arm(dataset, "control", data / "resumed", cfg, tracking, seen.append, on_status=said.append)
    assert resumed.resumed_from_step == 4 and [s.step for s in seen] == [5, 6, 7]
    assert all(s.resumed_from_step == 4 for s in seen) and "resuming from the checkpoint of step 4" in said[0]
    assert resumed.steps == 7 and [h["step"] for h in resumed.history] == list(range(1, 8))
    client = MlflowClient(tracking_uri=tracking)
    assert len(client.search_runs([client.get_experiment_by_name("commentslab").experiment_id])) == 1
    assert sorted(m.step for m in client.get_metric_history(resumed.mlflow_run_id, "loss")) == list(range(1, 8))

    straight = train_arm(dataset, "control", data / "straight", cfg, f"sqlite:///{data / 'straight.db'}")
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]
    a = load_file(str(resumed.checkpoint / "model.safetensors"))
    b = load_file(str(straight.checkpoint / "model.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    assert not (data / "resumed" / "resume").exists()  # resumable checkpoints go once the run is done


def test_a_checkpoint_of_another_config_is_not_resumed(data):
    dataset = data / "datasets" / "control"
    cfg = load_config("smoke", ["train.steps=4", "train.checkpoint_every=2", "train.system_metrics=false",
                                "train.max_seq_len=64"])

    def stop_at_3(report):
        if report.step == 3:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train_arm(dataset, "control", data / "changed", cfg, f"sqlite:///{data / 'c.db'}", stop_at_3)
    other = load_config("smoke", ["train.steps=4", "train.learning_rate=0.001", "train.system_metrics=false",
                                  "train.max_seq_len=64"])
    said = []
    outcome = train_arm(dataset, "control", data / "changed", other, f"sqlite:///{data / 'c.db'}",
                        on_status=said.append)
    assert outcome.resumed_from_step == 0 and outcome.steps == 4 and "starting over" in said[0]


def test_empty_training_set_is_refused_before_any_work(tmp_path):
    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(InputError, match="has no rows to train on"):
        train_arm(tmp_path, "control", tmp_path / "o", load_config("smoke"), f"sqlite:///{tmp_path}/m.db")
