"""The machine a training runs on: the launcher's process layout and what the devices offer."""

from __future__ import annotations

import os
from dataclasses import dataclass

from commentslab.services.common.config import ModelConfig
from commentslab.services.common.errors import ConfigError


@dataclass(frozen=True)
class DistEnv:
    """The process's place in a `torchrun` / `deepspeed` launch (WORLD_SIZE, RANK, LOCAL_RANK)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def launched(self) -> bool:
        return "WORLD_SIZE" in os.environ

    @classmethod
    def detect(cls) -> DistEnv:
        return cls(int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
                   int(os.environ.get("LOCAL_RANK", 0)))


@dataclass(frozen=True)
class Hardware:
    """What the devices offer: CUDA GPUs (count, free memory of the smallest, bf16) or the CPU's RAM."""

    cuda: bool
    gpu_count: int
    gpu_memory_bytes: int
    gpu_name: str
    bf16: bool
    cpu_memory_bytes: int

    @classmethod
    def detect(cls) -> Hardware:
        import psutil
        import torch

        cpu_memory = int(psutil.virtual_memory().available)
        if not torch.cuda.is_available():
            return cls(False, 0, 0, "", False, cpu_memory)
        count = torch.cuda.device_count()
        free = min(torch.cuda.mem_get_info(i)[0] for i in range(count))
        return cls(True, count, int(free), torch.cuda.get_device_name(0), torch.cuda.is_bf16_supported(), cpu_memory)


def resolve_device(model_cfg: ModelConfig, hardware: Hardware, dist: DistEnv) -> str:
    """The torch device string for this process (cuda:LOCAL_RANK under a launcher)."""
    device = model_cfg.device
    if device == "auto":
        device = "cuda" if hardware.cuda else "cpu"
    if device.startswith("cuda") and not hardware.cuda:
        raise ConfigError(f"model.device={model_cfg.device} but no CUDA GPU is visible here; "
                          "use --profile cpu or --set model.device=cpu")
    if device == "cuda":
        device = f"cuda:{dist.local_rank}"
    return device
