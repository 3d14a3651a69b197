"""Trainer core on the tiny model: masked loss, learning-rate schedule, MLflow run, checkpoint."""

import math

import pytest

from services.common.config import load_config
from services.common.errors import InputError
from services.common.models import load_tokenizer
from services.splitter.split import split_records
from services.trainer.train import encode_example, learning_rate_at, train_arm


def test_prompt_tokens_are_masked_and_the_completion_is_kept_when_cut():
    tok = load_tokenizer(load_config("smoke").model)
    ids, labels = encode_example(tok, "def f(x):\n", "    return x\n", max_len=64)
    n_prompt = len(tok("def f(x):\n", add_special_tokens=False)["input_ids"])
    assert labels[:n_prompt] == [-100] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:]
    assert ids[-1] == tok.eos_token_id
    ids, labels = encode_example(tok, "x" * 500, "    return x\n", max_len=8)
    assert len(ids) == 8 and labels[-1] == tok.eos_token_id


def test_learning_rate_warms_up_then_decays():
    assert learning_rate_at(1, 10, 1.0, 2) == pytest.approx(0.5)
    assert learning_rate_at(2, 10, 1.0, 2) == pytest.approx(1.0)
    assert learning_rate_at(10, 10, 1.0, 2) == pytest.approx(0.1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, humaneval_records):
    import mlflow

    out = tmp_path_factory.mktemp("train")
    split_records(humaneval_records, out, seed=3)
    cfg = load_config("smoke", ["train.steps=3"])
    tracking = f"sqlite:///{out / 'mlflow.db'}"
    seen = []
    outcome = train_arm(out / "datasets" / "experiment", "experiment", out / "arm", cfg, tracking, seen.append)
    mlflow.set_tracking_uri(tracking)
    return outcome, seen, mlflow.get_run(outcome.mlflow_run_id), out


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


def test_empty_training_set_is_refused_before_any_work(tmp_path):
    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(InputError, match="has no rows to train on"):
        train_arm(tmp_path, "control", tmp_path / "o", load_config("smoke"), f"sqlite:///{tmp_path}/m.db")
