"""The DeepSpeed ZeRO-2/ZeRO-3 configs, filled by transformers as the trainer's run fills them and checked by
DeepSpeed's own config parser, and the GPU-only training paths (ZeRO, bf16, QLoRA), which skip without CUDA."""

import json
import os
from types import SimpleNamespace

import pytest
import torch

from commentslab.services.common.config import load_config
from commentslab.services.trainer.plan import TrainingPlan, plan_training
from commentslab.services.trainer.train import DEEPSPEED_CONFIGS

os.environ.setdefault("DS_ACCELERATOR", "cpu" if not torch.cuda.is_available() else "cuda")
deepspeed_runtime_config = pytest.importorskip("deepspeed.runtime.config")

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")


def deepspeed_config(stage: int, plan: TrainingPlan, bf16: bool, max_grad_norm: float) -> dict:
    """The shipped ZeRO config with its "auto" values filled by transformers from the plan's batch settings."""
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    args = SimpleNamespace(world_size=plan.processes, per_device_train_batch_size=plan.micro_batch_size,
                           gradient_accumulation_steps=plan.gradient_accumulation, max_grad_norm=max_grad_norm,
                           learning_rate=1e-5, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, weight_decay=0.0,
                           save_on_each_node=False, fp16=False, fp16_full_eval=False, bf16=bf16, bf16_full_eval=False)
    config = HfTrainerDeepSpeedConfig(str(DEEPSPEED_CONFIGS / f"zero{stage}.json"))
    config.trainer_config_process(args)
    return config.config


def _parse(config: dict, world_size: int, monkeypatch):
    # DeepSpeedConfig takes the data-parallel size from the process group; pretend to be one of `world_size`.
    monkeypatch.setattr(deepspeed_runtime_config.dist, "get_rank", lambda *_, **__: 0)
    monkeypatch.setattr(deepspeed_runtime_config.dist, "get_world_size", lambda *_, **__: world_size)
    return deepspeed_runtime_config.DeepSpeedConfig(config)


@pytest.mark.parametrize("stage", [2, 3])
@pytest.mark.parametrize("processes", [1, 8])
def test_the_shipped_zero_configs_pass_deepspeeds_parser_once_filled(stage, processes, monkeypatch):
    plan = TrainingPlan(method="full", zero_stage=stage, gradient_checkpointing=False, micro_batch_size=2,
                        gradient_accumulation=2, processes=processes, estimated_bytes=0, available_bytes=0)
    config = deepspeed_config(stage, plan, bf16=True, max_grad_norm=1.0)
    assert "auto" not in json.dumps(config)
    parsed = _parse(config, processes, monkeypatch)
    assert parsed.zero_optimization_stage == stage
    assert parsed.train_batch_size == 2 * 2 * processes == plan.effective_batch_size
    assert parsed.gradient_clipping == 1.0 and "optimizer" not in config  # the trainer's AdamW is the client optimizer
    if stage == 3:
        assert parsed.zero_config.gather_16bit_weights_on_model_save  # the final save gathers the shards


def test_the_parser_would_catch_a_typo_or_a_batch_that_does_not_add_up(monkeypatch):
    plan = TrainingPlan("lora", 3, True, 1, 4, 8, 0, 0)
    config = deepspeed_config(3, plan, bf16=True, max_grad_norm=1.0)
    typo = json.loads(json.dumps(config))
    typo["zero_optimization"]["stage3_prefetch_bucketsize"] = 1
    with pytest.raises(Exception, match="stage3_prefetch_bucketsize"):
        _parse(typo, 8, monkeypatch)
    with pytest.raises(AssertionError, match="train_batch_size is not equal"):
        _parse(config, 4, monkeypatch)


def test_the_plans_for_eight_gpus_fill_valid_configs(monkeypatch):
    for parameters, stage in ((8_030_261_248, 2), (70_553_706_496, 3)):
        plan = plan_training(parameters, 8, 80 * 10**9, True)
        assert plan.zero_stage == stage
        _parse(deepspeed_config(stage, plan, True, 1.0), 8, monkeypatch)
    assert sorted(p.name for p in DEEPSPEED_CONFIGS.glob("*.json")) == ["zero2.json", "zero3.json"]


def _smoke_data(tmp_path, humaneval_records):
    from commentslab.services.splitter.split import split_records

    split_records(humaneval_records, tmp_path, seed=3)
    return tmp_path / "datasets" / "control"


@pytest.mark.gpu
@requires_cuda
def test_bf16_training_on_cuda(tmp_path, humaneval_records):
    from commentslab.services.trainer.train import train_arm

    cfg = load_config("smoke", ["model.device=cuda", "train.steps=3"])
    outcome = train_arm(_smoke_data(tmp_path, humaneval_records), "control", tmp_path / "arm", cfg,
                        f"sqlite:///{tmp_path / 'm.db'}")
    assert outcome.steps == 3 and outcome.plan["method"] == "full"


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("stage", [2, 3])
def test_zero_training_under_a_one_process_launch(stage, tmp_path, humaneval_records, monkeypatch):
    from commentslab.services.trainer.train import train_arm

    for key, value in {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": "29517"}.items():
        monkeypatch.setenv(key, value)
    cfg = load_config("smoke", ["model.device=cuda", "train.steps=4", f"train.zero_stage={stage}",
                                "train.checkpoint_every=2"])
    outcome = train_arm(_smoke_data(tmp_path, humaneval_records), "control", tmp_path / "arm", cfg,
                        f"sqlite:///{tmp_path / 'm.db'}")
    assert outcome.steps == 4 and outcome.plan["zero_stage"] == stage
    assert (outcome.checkpoint / "commentslab_checkpoint.json").is_file()


@pytest.mark.gpu
@requires_cuda
def test_qlora_on_cuda(tmp_path, humaneval_records):
    pytest.importorskip("bitsandbytes")
    from commentslab.services.trainer.train import train_arm

    cfg = load_config("cpu", ["model.device=cuda", "train.method=qlora", "train.steps=2"])
    outcome = train_arm(_smoke_data(tmp_path, humaneval_records), "control", tmp_path / "arm", cfg,
                        f"sqlite:///{tmp_path / 'm.db'}")
    assert outcome.plan["method"] == "qlora" and outcome.steps == 2
