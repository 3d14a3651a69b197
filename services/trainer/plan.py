"""Before any long work: what machine this is, whether the model and options make sense on it, and how to
train (method, ZeRO stage, gradient checkpointing, micro-batch) so that it fits in memory.

`plan_training` is a pure function of the model's size and the hardware. Its memory model, per GPU
(or for the CPU, per machine), is

    weights + gradients + optimizer state   (bytes per parameter below, sharded by ZeRO)
  + activations of one micro-batch          (per token: 34 * hidden * layers bytes in 16-bit, after
                                              Korthikanti et al. 2022 with flash/SDPA attention; with
                                              gradient checkpointing 2 * hidden * layers + one layer's;
                                              plus the fp32 logits and their gradient: 12 * vocab)

and it must fit in 85% of the device's memory (the rest is the CUDA context and fragmentation).

Bytes per parameter (AdamW; "mixed" = 16-bit compute with fp32 master weights, which full fine-tuning
always keeps because an lr of 1e-5 vanishes in bfloat16's 8-bit mantissa):

  full       16  (fp32 weights 4 + fp32 gradients 4 + Adam m and v 8; DeepSpeed's bf16 mode: 2 + 2 + 12)
             ZeRO-2: 2 + 14 / gpus   ZeRO-3: 16 / gpus
  lora        2  (frozen base in bf16; 4 in fp32) + the adapter, trained like `full`; ZeRO-3: 2 / gpus
  qlora     0.6  (NF4 base with its quantisation constants, 16-bit embeddings), CUDA only

Candidates, in order of preference; the first that fits wins, preferring no gradient checkpointing and
the largest micro-batch: full, full+ZeRO-2, full+ZeRO-3 (several GPUs), lora, lora+ZeRO-3 (several GPUs),
qlora (CUDA). On one 80 GB H100 that gives full fine-tuning up to about 3B parameters, LoRA up to about
25B, QLoRA beyond; with 8 of them full+ZeRO-2 to about 10B, full+ZeRO-3 to about 30B, and LoRA+ZeRO-3 for
70B. The unit tests pin the choices for 135M, 1B, 8B and 70B models.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from commentslab.services.common.errors import ConfigError

# services/cli.py reads the launcher's layout from here.
from commentslab.services.trainer.hardware import DistEnv  # noqa: F401

GiB = 1024**3
HEADROOM = 0.85
QLORA_BYTES_PER_PARAM = 0.6
LORA_TRAINABLE_FRACTION = 0.01  # an r=16 adapter on the attention projections is well under 1% of a model


class InsufficientMemoryError(ConfigError):
    """The run would not fit in memory: raised before the model loads (or on an OOM in the first step)."""


@dataclass(frozen=True)
class TrainingPlan:
    """How to train: the resolved method, ZeRO stage, gradient checkpointing and micro-batch."""

    method: str
    zero_stage: int
    gradient_checkpointing: bool
    micro_batch_size: int
    gradient_accumulation: int
    processes: int
    estimated_bytes: int  # per device
    available_bytes: int  # per device, before headroom
    reason: str = ""

    @property
    def effective_batch_size(self) -> int:
        return self.micro_batch_size * self.gradient_accumulation * self.processes

    def to_dict(self) -> dict:
        return {**asdict(self), "effective_batch_size": self.effective_batch_size}


def _shape(parameter_count: int, hidden_size: int | None, num_layers: int | None) -> tuple[int, int]:
    # Llama-family models have layers * hidden of about 1.5 * sqrt(parameters) (135M: 30 * 576; 8B:
    # 32 * 4096); used only when the config is not at hand.
    if hidden_size and num_layers:
        return hidden_size, num_layers
    product = 1.5 * math.sqrt(parameter_count)
    if hidden_size:
        return hidden_size, max(1, round(product / hidden_size))
    layers = num_layers or max(1, round(math.sqrt(product / 64)))
    return max(64, round(product / layers)), layers


def static_bytes(method: str, zero_stage: int, parameter_count: int, gpus: int, bf16: bool) -> float:
    """Weights, gradients and optimizer state on one device."""
    n = max(1, gpus)
    if method == "full":
        if zero_stage == 3:
            return 16 * parameter_count / n
        if zero_stage == 2:
            return (2 + 14 / n) * parameter_count
        return 16 * parameter_count
    trainable = LORA_TRAINABLE_FRACTION * parameter_count * 16
    if method == "lora":
        base = (2 if bf16 else 4) * parameter_count
        return base / n + trainable if zero_stage == 3 else base + trainable
    if method == "qlora":
        return QLORA_BYTES_PER_PARAM * parameter_count + trainable
    raise ConfigError(f"train.method {method!r}: expected full, lora or qlora")


def activation_bytes(micro_batch: int, seq_len: int, hidden: int, layers: int, vocab: int, checkpointing: bool,
                     bf16: bool) -> float:
    """Activations kept for backward by one micro-batch, plus the fp32 logits and their gradient."""
    per_token = (2 * hidden * layers + 34 * hidden) if checkpointing else 34 * hidden * layers
    scale = 1 if bf16 else 2  # the 34 * h figure is for 16-bit activations
    return micro_batch * seq_len * (per_token * scale + 12 * vocab)


def plan_training(
    parameter_count: int,
    gpu_count: int,
    gpu_memory_bytes: int,
    bf16: bool,
    *,
    batch_size: int = 4,
    seq_len: int = 2048,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    vocab_size: int = 49152,
    method: str = "auto",
    zero_stage: int | str = "auto",
    micro_batch_size: int | None = None,
    gradient_checkpointing: bool | None = None,
    processes: int | None = None,
) -> TrainingPlan:
    """Method, ZeRO stage, gradient checkpointing and micro-batch that fit (see the module docstring).

    `gpu_count` 0 plans for the CPU with `gpu_memory_bytes` the machine's available memory. Fixed choices
    (method, zero_stage, micro_batch_size, gradient_checkpointing not auto/None) are kept; the rest is
    chosen. Raises InsufficientMemoryError, saying what to change, when nothing fits.
    """
    hidden, layers = _shape(parameter_count, hidden_size, num_layers)
    cuda = gpu_count > 0
    procs = processes or max(1, gpu_count)
    methods = ["full", "lora"] + (["qlora"] if cuda else []) if method == "auto" else [method]
    if method == "qlora" and not cuda:
        raise ConfigError("train.method=qlora needs a CUDA GPU (bitsandbytes 4-bit); use train.method=lora here")
    candidates: list[tuple[str, int]] = []
    for m in methods:
        stages = [0] if m == "qlora" or procs < 2 else ([0, 2, 3] if m == "full" else [0, 3])
        if zero_stage != "auto":
            stages = [int(zero_stage)]
        candidates += [(m, s) for s in stages]
    usable = HEADROOM * gpu_memory_bytes
    micro_options = [micro_batch_size] if micro_batch_size else _micro_batches(batch_size, procs)
    checkpointing_options = [gradient_checkpointing] if gradient_checkpointing is not None else [False, True]
    smallest: tuple[float, str] | None = None
    for m, stage in candidates:
        fixed = static_bytes(m, stage, parameter_count, procs, bf16)
        for checkpointing in checkpointing_options:
            for micro in micro_options:
                need = fixed + activation_bytes(micro, seq_len, hidden, layers, vocab_size, checkpointing, bf16)
                if need <= usable:
                    accumulation = max(1, math.ceil(batch_size / (micro * procs)))
                    return TrainingPlan(
                        method=m, zero_stage=stage, gradient_checkpointing=checkpointing, micro_batch_size=micro,
                        gradient_accumulation=accumulation, processes=procs, estimated_bytes=int(need),
                        available_bytes=int(gpu_memory_bytes),
                        reason=f"{m}{f' + ZeRO-{stage}' if stage else ''}"
                               f"{' + gradient checkpointing' if checkpointing else ''}, micro-batch {micro}: "
                               f"{need / GiB:.1f} GiB of {usable / GiB:.1f} GiB usable per "
                               f"{'GPU' if cuda else 'machine'}",
                    )
                if smallest is None or need < smallest[0]:
                    smallest = (need, f"{m}{f' + ZeRO-{stage}' if stage else ''}, micro-batch {micro}, "
                                      f"gradient checkpointing {'on' if checkpointing else 'off'}")
    assert smallest is not None
    raise InsufficientMemoryError(_too_big(parameter_count, smallest, usable, cuda, method, procs))


def _micro_batches(batch_size: int, processes: int) -> list[int]:
    per_process = max(1, math.ceil(batch_size / processes))
    options, m = [], per_process
    while m >= 1:
        options.append(m)
        m //= 2
    return options + ([1] if options[-1] != 1 else [])


def memory_changes(method: str, cuda: bool, micro_batch_size: int | None = None,
                   gradient_checkpointing: bool | None = None, processes: int = 1) -> list[str]:
    """What to change when a training does not fit, planned or at run time (the one out-of-memory advice)."""
    changes = []
    if method in ("full", "auto"):
        changes.append("train.method=lora" + (" or train.method=qlora" if cuda else ""))
    elif method == "lora" and cuda:
        changes.append("train.method=qlora")
    if micro_batch_size is None or micro_batch_size > 1:
        changes.append(f"a smaller train.micro_batch_size ({max(1, (micro_batch_size or 2) // 2)})")
    if not gradient_checkpointing:
        changes.append("train.gradient_checkpointing=true")
    changes.append("a smaller train.max_seq_len")
    if cuda:
        changes.append("more GPUs with train.zero_stage=3 (deepspeed or torchrun launcher)"
                       if processes < 2 else "train.zero_stage=3")
    return changes


def out_of_memory_advice(plan: TrainingPlan, device: str, step: int) -> str:
    """The message for an out-of-memory error in a training step the plan said would fit."""
    changes = memory_changes(plan.method, device.startswith("cuda"), plan.micro_batch_size,
                             plan.gradient_checkpointing, plan.processes)
    return (f"out of memory on {device} in training step {step} ({plan.reason}); the estimate was too "
            f"optimistic for this model; change: {', '.join(changes)}")


def _too_big(parameter_count: int, smallest: tuple[float, str], usable: float, cuda: bool, method: str,
             processes: int) -> str:
    need, setting = smallest
    where = "GPU" if cuda else "this machine's available memory"
    return (f"a {parameter_count / 1e9:.2f}B-parameter model does not fit: the smallest setting tried ({setting}) "
            f"needs about {need / GiB:.1f} GiB but {usable / GiB:.1f} GiB of {where} is usable; "
            f"change: {', '.join(memory_changes(method, cuda, processes=processes))}")
