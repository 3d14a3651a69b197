"""Everything checked before a model loads: library versions, options that need hardware this machine
lacks, the model's config, the dtype, and a memory plan that fits (refused with what to change)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from commentslab.services.common.config import ExperimentConfig
from commentslab.services.common.errors import ConfigError
from commentslab.services.common.models import dtype_name
from commentslab.services.trainer.hardware import DistEnv, Hardware, resolve_device
from commentslab.services.trainer.model_check import model_config, parameter_count
from commentslab.services.trainer.plan import TrainingPlan, plan_training

# The libraries the training runs on, whose supported ranges pyproject.toml states.
TRAINING_LIBRARIES = ("transformers", "trl", "peft", "accelerate")


def check_library_versions() -> None:
    """Refuse to start when an installed training library is outside the range pyproject.toml supports."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    try:
        wanted = {r.name.lower(): r for r in map(Requirement, requires("commentslab") or [])}
    except PackageNotFoundError:
        return  # a source tree without the installed package (the GPU check): nothing states a range
    for name in TRAINING_LIBRARIES:
        requirement = wanted.get(name)
        if requirement is None:
            continue
        try:
            installed = version(name)
        except PackageNotFoundError as exc:
            raise ConfigError(f"{name} is not installed; the trainer needs {requirement} (make setup)") from exc
        if not requirement.specifier.contains(installed, prereleases=True):
            raise ConfigError(f"{name} {installed} is installed but the trainer supports {requirement} "
                              f"(pyproject.toml); install a version in that range")


@dataclass
class Preflight:
    """The checked inputs and the plan: what train_arm needs before it loads the model."""

    plan: TrainingPlan
    device: str
    dtype: str
    parameter_count: int
    config: object
    hardware: Hardware
    dist: DistEnv
    notes: list[str] = field(default_factory=list)

    @property
    def uses_deepspeed(self) -> bool:
        return self.plan.zero_stage in (2, 3)


def check_options(cfg: ExperimentConfig, hardware: Hardware, dist: DistEnv) -> None:
    """GPU-only options without a GPU, and other combinations that cannot work, before anything loads."""
    t = cfg.train
    if t.method == "qlora":
        if not hardware.cuda or not cfg.model.device.startswith(("cuda", "auto")):
            raise ConfigError("train.method=qlora needs a CUDA GPU (bitsandbytes 4-bit NF4); on this machine use "
                              "train.method=lora")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError("train.method=qlora needs the bitsandbytes package (pip install bitsandbytes); "
                              "or use train.method=lora")
    if t.method in ("lora", "qlora") and cfg.model.kind == "tiny-random":
        raise ConfigError(f"train.method={t.method} needs pretrained weights; the tiny-random model trains in full "
                          "(train.method=full)")
    if t.zero_stage in (2, 3):
        if not hardware.cuda:
            raise ConfigError(f"train.zero_stage={t.zero_stage} (DeepSpeed ZeRO) needs CUDA GPUs; use "
                              "train.zero_stage=0 (or auto) here")
        if not dist.launched:
            raise ConfigError(f"train.zero_stage={t.zero_stage} needs the deepspeed or torchrun launcher, e.g. "
                              "`deepspeed --num_gpus 8 --module commentslab.services.cli train ...`")
    if dist.distributed and not hardware.cuda and t.zero_stage not in (0, "auto"):
        raise ConfigError("several processes on CPU train with plain DDP only: set train.zero_stage=0")
    if t.patience > 0 and not t.restore_best:
        raise ConfigError("train.restore_best=false with train.patience>0: the trainer's early stopping returns the "
                          "weights of the best validation loss; set train.patience=0 to keep the last weights")
    if t.packing and t.max_seq_len < 64:
        raise ConfigError("train.packing needs train.max_seq_len of at least 64 tokens")


def preflight(cfg: ExperimentConfig, vocab_size: int | Callable[[], int], hardware: Hardware | None = None,
              dist: DistEnv | None = None) -> Preflight:
    """Check the model, the options and the memory, and plan the run; no weight is loaded.

    `vocab_size` (or a function giving it, called only for the tiny random model) sizes that model."""
    check_library_versions()
    hardware = hardware or Hardware.detect()
    dist = dist or DistEnv.detect()
    check_options(cfg, hardware, dist)
    device = resolve_device(cfg.model, hardware, dist)
    dtype = dtype_name(cfg.model.dtype, device, hardware.bf16, hardware.gpu_name)
    if callable(vocab_size):
        vocab_size = vocab_size() if cfg.model.kind == "tiny-random" else 0
    config = model_config(cfg.model, vocab_size)
    count = parameter_count(config)
    on_cuda = device.startswith("cuda")
    t = cfg.train
    method = t.method
    if not on_cuda and method == "auto":
        method = "full" if cfg.model.kind == "tiny-random" else "auto"
    # Processes on one machine's CPU share its memory (torchrun sets LOCAL_WORLD_SIZE).
    cpu_share = hardware.cpu_memory_bytes // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    plan = plan_training(
        count, hardware.gpu_count if on_cuda else 0, hardware.gpu_memory_bytes if on_cuda else cpu_share,
        dtype == "bfloat16", batch_size=t.batch_size, seq_len=t.max_seq_len,
        hidden_size=getattr(config, "hidden_size", None), num_layers=getattr(config, "num_hidden_layers", None),
        vocab_size=getattr(config, "vocab_size", None) or vocab_size or 50000, method=method,
        zero_stage=(t.zero_stage if dist.distributed or t.zero_stage != "auto" else 0) if on_cuda else 0,
        micro_batch_size=t.micro_batch_size, gradient_checkpointing=t.gradient_checkpointing,
        processes=dist.world_size,
    )
    if plan.method == "qlora":
        check_options(cfg.model_copy(update={"train": t.model_copy(update={"method": "qlora"})}), hardware, dist)
    if plan.zero_stage in (2, 3) and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"ZeRO-{plan.zero_stage} needs the deepspeed package (in requirements.lock); "
                          "or set train.zero_stage=0")
    notes = [plan.reason]
    if plan.effective_batch_size != t.batch_size:
        notes.append(f"effective batch {plan.effective_batch_size} (micro-batch {plan.micro_batch_size} x "
                     f"{plan.gradient_accumulation} accumulation x {plan.processes} processes) for train.batch_size "
                     f"{t.batch_size}")
    return Preflight(plan=plan, device=device, dtype=dtype, parameter_count=count, config=config,
                     hardware=hardware, dist=dist, notes=notes)
