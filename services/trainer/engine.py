"""One optimisation step on one process, the same to the training loop whether the model runs plainly,
under DDP (several processes, `torchrun`) or under a DeepSpeed ZeRO-2/ZeRO-3 engine (`deepspeed` or
`torchrun` launcher, CUDA).

Mixed precision: with a bfloat16 compute dtype the forward runs under autocast while the trained weights
and AdamW's state stay float32 (DeepSpeed's bf16 mode does the same with its fp32 master copy). The
optimizer is torch's AdamW in every case (fused on CUDA); DeepSpeed gets it as a client optimizer, so no
DeepSpeed CUDA extension has to be compiled.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

from services.common.logs import setup_logging
from services.trainer.plan import DistEnv, TrainingPlan

log = setup_logging(__name__)

DEEPSPEED_CONFIGS = Path(__file__).parent / "deepspeed"


def deepspeed_config(stage: int, plan: TrainingPlan, bf16: bool, max_grad_norm: float,
                     path: Path | None = None) -> dict:
    """The shipped ZeRO-`stage` JSON with its "auto" values filled from the plan."""
    config = json.loads((path or DEEPSPEED_CONFIGS / f"zero{stage}.json").read_text(encoding="utf-8"))
    fills = {
        "train_batch_size": plan.micro_batch_size * plan.gradient_accumulation * plan.processes,
        "train_micro_batch_size_per_gpu": plan.micro_batch_size,
        "gradient_accumulation_steps": plan.gradient_accumulation,
        "gradient_clipping": max_grad_norm,
    }
    for key, value in fills.items():
        if config.get(key) == "auto":
            config[key] = value
    if config.get("bf16", {}).get("enabled") == "auto":
        config["bf16"]["enabled"] = bf16
    return config


def init_distributed(dist: DistEnv, device: str, use_deepspeed: bool) -> None:
    """Join the process group the launcher set up (NCCL on CUDA, Gloo on CPU)."""
    import torch
    import torch.distributed as torch_dist

    if not dist.distributed or torch_dist.is_initialized():
        return
    if device.startswith("cuda"):
        torch.cuda.set_device(dist.local_rank)
    if use_deepspeed:
        import deepspeed

        deepspeed.init_distributed(dist_backend="nccl")
    else:
        torch_dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")


def barrier(dist: DistEnv) -> None:
    import torch.distributed as torch_dist

    if dist.distributed and torch_dist.is_initialized():
        torch_dist.barrier()


def mean_across(dist: DistEnv, value: float, device: str) -> float:
    """The mean of `value` over the processes (itself when alone)."""
    import torch
    import torch.distributed as torch_dist

    if not dist.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    torch_dist.all_reduce(t)
    return float(t) / dist.world_size


def broadcast_object(dist: DistEnv, value):
    """Rank 0's `value` on every process."""
    import torch.distributed as torch_dist

    if not dist.distributed:
        return value
    box = [value]
    torch_dist.broadcast_object_list(box, src=0)
    return box[0]


class Engine:
    """Forward/backward per micro-batch and one optimizer step per training step (plain or DDP)."""

    def __init__(self, model, device: str, compute_dtype, plan: TrainingPlan, dist: DistEnv, learning_rate: float,
                 weight_decay: float, max_grad_norm: float):
        import torch

        self.module = model  # the unwrapped model: saving, evaluation, state
        self.device = device
        self.dist = dist
        self.plan = plan
        self.max_grad_norm = max_grad_norm
        self.params = [p for p in model.parameters() if p.requires_grad]
        on_cuda = device.startswith("cuda")
        self.optimizer = torch.optim.AdamW(self.params, lr=learning_rate, weight_decay=weight_decay,
                                           **({"fused": True} if on_cuda else {}))
        self.autocast_dtype = compute_dtype if compute_dtype != torch.float32 else None
        self.model = model
        if dist.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(model, device_ids=[dist.local_rank] if on_cuda else None)

    def _autocast(self):
        import torch

        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.split(":")[0], dtype=self.autocast_dtype)

    def forward_backward(self, batch, accumulation: int, last: bool) -> float:
        """Loss of one micro-batch; its gradient (scaled for accumulation) is added to the parameters'."""
        sync = nullcontext() if last or not self.dist.distributed else self.model.no_sync()
        with sync:
            with self._autocast():
                loss = self.model(**batch.model_kwargs()).loss
            (loss / accumulation).backward()
        return float(loss.detach())

    def set_learning_rate(self, learning_rate: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def step(self) -> None:
        """Clip, step the optimizer, clear the gradients (after the step's micro-batches)."""
        import torch

        torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def evaluate_loss(self, batch) -> float:
        import torch

        with torch.no_grad(), self._autocast():
            return float(self.module(**batch.model_kwargs()).loss)

    # --- state -----------------------------------------------------------------------------------------

    def trainable_state(self) -> dict:
        """The trained weights (whole model or adapter), on the CPU, by parameter name."""
        return {n: p.detach().to("cpu", copy=True).contiguous()
                for n, p in self.module.named_parameters() if p.requires_grad}

    def load_trainable(self, state: dict) -> None:
        import torch

        params = dict(self.module.named_parameters())
        missing = [n for n, p in params.items() if p.requires_grad and n not in state]
        if missing:
            raise ValueError(f"checkpoint lacks {len(missing)} trained tensors (e.g. {missing[0]})")
        with torch.no_grad():
            for name, tensor in state.items():
                params[name].copy_(tensor.to(params[name].device, params[name].dtype))

    def save(self, folder: Path) -> None:
        """Weights and optimizer state into a checkpoint folder (rank 0; the processes are replicas)."""
        import torch
        from safetensors.torch import save_file

        if self.dist.is_main:
            save_file(self.trainable_state(), str(folder / "trainable.safetensors"))
            torch.save(self.optimizer.state_dict(), folder / "optimizer.pt")

    def load(self, folder: Path) -> None:
        import torch
        from safetensors.torch import load_file

        self.load_trainable(load_file(str(folder / "trainable.safetensors")))
        self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=self.device,
                                                  weights_only=True))

    def export(self, save) -> None:
        """Call `save(model, state_dict_or_None)` on rank 0 with the model to write out."""
        if self.dist.is_main:
            save(self.module, None)


class DeepSpeedEngine(Engine):
    """The same steps through a DeepSpeed ZeRO engine (which shards optimizer state, gradients and, in
    ZeRO-3, the weights; it steps the optimizer itself at the accumulation boundary)."""

    def __init__(self, model, device: str, compute_dtype, plan: TrainingPlan, dist: DistEnv, learning_rate: float,
                 weight_decay: float, max_grad_norm: float, config: dict):
        import deepspeed
        import torch

        self.module = model
        self.device = device
        self.dist = dist
        self.plan = plan
        self.max_grad_norm = max_grad_norm
        self.stage = plan.zero_stage
        self.params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(self.params, lr=learning_rate, weight_decay=weight_decay, fused=True)
        self.model, self.optimizer, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)
        self.autocast_dtype = None  # DeepSpeed's bf16 mode casts the model itself

    def forward_backward(self, batch, accumulation: int, last: bool) -> float:
        loss = self.model(**batch.model_kwargs()).loss
        self.model.backward(loss)
        self.model.step()  # a no-op until the accumulation boundary
        return float(loss.detach())

    def step(self) -> None:
        """Nothing: the engine clipped and stepped at the accumulation boundary in forward_backward."""

    def set_learning_rate(self, learning_rate: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def evaluate_loss(self, batch) -> float:
        import torch

        with torch.no_grad():
            return float(self.model(**batch.model_kwargs()).loss)

    def _gathered(self, modifier_rank=None):
        import deepspeed

        if self.stage != 3:
            return nullcontext()
        return deepspeed.zero.GatheredParameters(self.params, modifier_rank=modifier_rank)

    def trainable_state(self) -> dict:
        with self._gathered():
            return super().trainable_state()

    def load_trainable(self, state: dict) -> None:
        with self._gathered(modifier_rank=0):
            if self.dist.is_main or self.stage != 3:
                super().load_trainable(state)

    def save(self, folder: Path) -> None:
        # Every process writes its shard of the optimizer state (collective).
        self.model.save_checkpoint(str(folder / "deepspeed"), tag="state")

    def load(self, folder: Path) -> None:
        self.model.load_checkpoint(str(folder / "deepspeed"), tag="state")

    def export(self, save) -> None:
        if self.stage == 3:
            full = self.model._zero3_consolidated_16bit_state_dict()  # collective; rank 0 gets the weights
            if self.dist.is_main:
                save(self.module, full)
        elif self.dist.is_main:
            save(self.module, None)
