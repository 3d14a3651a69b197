"""The training plan by model size, and bad input refused with what to change before any model loads."""

import json

import pytest

from commentslab.services.common.config import load_config
from commentslab.services.common.errors import ConfigError, InputError
from commentslab.services.trainer import plan as planning
from commentslab.services.trainer.hardware import DistEnv, Hardware, resolve_device
from commentslab.services.trainer.plan import InsufficientMemoryError, plan_training

H100 = 80 * 10**9
# parameters, hidden size, layers, vocabulary: SmolLM2-135M, Llama-3.2-1B, Llama-3.1-8B, Llama-3.1-70B
MODELS = {
    "135M": (134_515_008, 576, 30, 49152),
    "1B": (1_235_814_400, 2048, 16, 128256),
    "8B": (8_030_261_248, 4096, 32, 128256),
    "70B": (70_553_706_496, 8192, 80, 128256),
}
CPU = Hardware(cuda=False, gpu_count=0, gpu_memory_bytes=0, gpu_name="", bf16=False, cpu_memory_bytes=20 * 2**30)
ONE_H100 = Hardware(cuda=True, gpu_count=1, gpu_memory_bytes=H100, gpu_name="NVIDIA H100 80GB HBM3", bf16=True,
                    cpu_memory_bytes=200 * 2**30)


def _plan(name, gpus):
    parameters, hidden, layers, vocab = MODELS[name]
    return plan_training(parameters, gpus, H100, True, hidden_size=hidden, num_layers=layers, vocab_size=vocab)


@pytest.mark.parametrize(("name", "gpus", "method", "zero", "checkpointing"), [
    ("135M", 1, "full", 0, False),
    ("135M", 8, "full", 0, False),
    ("1B", 1, "full", 0, False),
    ("1B", 8, "full", 0, False),
    ("8B", 1, "lora", 0, False),
    ("8B", 8, "full", 2, False),
    ("70B", 1, "qlora", 0, True),
    ("70B", 8, "lora", 3, True),
])
def test_the_plan_picks_method_and_zero_stage_by_model_size(name, gpus, method, zero, checkpointing):
    plan = _plan(name, gpus)
    assert (plan.method, plan.zero_stage, plan.gradient_checkpointing) == (method, zero, checkpointing)
    assert plan.estimated_bytes <= planning.HEADROOM * H100
    assert plan.effective_batch_size >= 4 and plan.processes == gpus


def test_small_models_keep_the_whole_batch_in_one_micro_batch_and_big_ones_accumulate():
    assert (_plan("135M", 1).micro_batch_size, _plan("135M", 1).gradient_accumulation) == (4, 1)
    qlora_70b = _plan("70B", 1)
    assert qlora_70b.micro_batch_size * qlora_70b.gradient_accumulation == 4 and qlora_70b.micro_batch_size < 4


def test_fixed_choices_are_kept_and_a_model_that_cannot_fit_is_refused_with_what_to_change():
    parameters, hidden, layers, vocab = MODELS["8B"]
    fixed = plan_training(parameters, 1, H100, True, hidden_size=hidden, num_layers=layers, vocab_size=vocab,
                          method="lora", micro_batch_size=1, gradient_checkpointing=True)
    assert (fixed.method, fixed.micro_batch_size, fixed.gradient_checkpointing, fixed.gradient_accumulation) == (
        "lora", 1, True, 4)
    with pytest.raises(InsufficientMemoryError, match="train.method=lora.*micro_batch_size.*gradient_checkpointing"):
        plan_training(parameters, 0, 24 * 2**30, False, hidden_size=hidden, num_layers=layers, method="full")
    with pytest.raises(ConfigError, match="qlora needs a CUDA GPU.*use train.method=lora"):
        plan_training(parameters, 0, 24 * 2**30, False, method="qlora")


def _refuse_model_loading(monkeypatch):
    """Any attempt to build a model fails the test: refusals must come first."""
    def boom(*_, **__):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr("commentslab.services.trainer.train.build_base_model", boom)
    monkeypatch.setattr("commentslab.services.common.models.build_base_model", boom)


@pytest.fixture
def dataset(tmp_path):
    rows = [{"id": str(i), "input": f"def f{i}(x):\n", "completion": f"    return x + {i}\n"} for i in range(6)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def _train(dataset, cfg):
    from commentslab.services.trainer.train import train_arm

    return train_arm(dataset, "control", dataset / "out", cfg, f"sqlite:///{dataset}/m.db")


@pytest.mark.parametrize(("overrides", "message"), [
    (["model.kind=hf", "model.path=HuggingFaceTB/SmolLM2-135M", "train.method=qlora"],
     "qlora needs a CUDA GPU.*use train.method=lora"),
    (["model.device=cuda"], "no CUDA GPU is visible.*model.device=cpu"),
    (["train.zero_stage=3"], "ZeRO.*needs CUDA GPUs"),
    (["model.dtype=float16"], "float16.*use model.dtype=auto"),
    (["train.method=lora"], "LoRA|lora needs pretrained weights.*train.method=full"),
    (["train.restore_best=false"], "restore_best=false with train.patience>0.*set train.patience=0"),
])
def test_gpu_only_and_impossible_options_are_refused_before_the_model_loads(dataset, monkeypatch, overrides,
                                                                             message):
    _refuse_model_loading(monkeypatch)
    monkeypatch.setattr(Hardware, "detect", classmethod(lambda cls: CPU))
    with pytest.raises(ConfigError, match=message):
        _train(dataset, load_config("smoke", overrides))


def test_a_model_path_that_does_not_exist_or_is_not_a_causal_lm_is_refused(dataset, tmp_path, monkeypatch):
    from transformers import BertConfig

    _refuse_model_loading(monkeypatch)
    with pytest.raises(InputError, match="does not exist; set model.path"):
        _train(dataset, load_config("smoke", ["model.kind=hf", f"model.path={tmp_path}/no/such/model"]))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="has no config.json"):
        _train(dataset, load_config("smoke", ["model.kind=hf", f"model.path={empty}"]))
    bert = tmp_path / "bert"
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64)
    config.architectures = ["BertForMaskedLM"]
    config.save_pretrained(bert)
    with pytest.raises(InputError, match="is a BertForMaskedLM, not a causal language model"):
        _train(dataset, load_config("smoke", ["model.kind=hf", f"model.path={bert}"]))


def test_a_run_that_would_not_fit_in_memory_is_refused_at_start_with_what_to_change(dataset, monkeypatch):
    _refuse_model_loading(monkeypatch)
    small = Hardware(cuda=False, gpu_count=0, gpu_memory_bytes=0, gpu_name="", bf16=False,
                     cpu_memory_bytes=64 * 2**20)
    monkeypatch.setattr(Hardware, "detect", classmethod(lambda cls: small))
    with pytest.raises(InsufficientMemoryError, match=r"does not fit.*GiB.*change: train.method=lora"):
        _train(dataset, load_config("smoke"))


def test_an_out_of_memory_in_the_first_step_becomes_advice(dataset, monkeypatch):
    import torch
    from trl import SFTTrainer

    def oom(*_, **__):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(SFTTrainer, "training_step", oom)
    with pytest.raises(InsufficientMemoryError, match="out of memory on cpu in training step 1.*change: "):
        _train(dataset, load_config("smoke", ["train.steps=2"]))


@pytest.mark.parametrize("library", ["trl", "peft"])
def test_a_training_library_outside_the_supported_range_is_refused_at_start(dataset, monkeypatch, library):
    import importlib.metadata

    real = importlib.metadata.version
    _refuse_model_loading(monkeypatch)
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.0.1" if name == library else real(name))
    with pytest.raises(ConfigError, match=f"{library} 0.0.1 is installed but the trainer supports {library}[<>=]"):
        _train(dataset, load_config("smoke"))


def test_one_dtype_rule_auto_is_float32_without_cuda_and_bf16_on_a_gpu_that_has_it():
    from commentslab.services.common.config import ModelConfig
    from commentslab.services.common.models import dtype_name

    assert dtype_name("auto", "cpu", bf16_supported=False) == "float32"
    assert dtype_name("auto", "cuda:0", bf16_supported=True) == "bfloat16"
    assert dtype_name("auto", "cuda:0", bf16_supported=False) == "float32"
    with pytest.raises(ConfigError, match="V100 has no bfloat16"):
        dtype_name("bfloat16", "cuda:0", bf16_supported=False, gpu_name="V100")
    with pytest.raises(ConfigError, match="float16.*use model.dtype=auto"):
        dtype_name("float16", "cpu", bf16_supported=False)
    assert resolve_device(ModelConfig(kind="tiny-random", device="cuda"), ONE_H100, DistEnv(2, 1, 1)) == "cuda:1"


def test_the_launcher_environment_is_read(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    dist = DistEnv.detect()
    assert (dist.world_size, dist.rank, dist.local_rank, dist.distributed, dist.is_main) == (4, 2, 0, True, False)
