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

import importlib.util
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services.common.config import ExperimentConfig, ModelConfig
from services.common.errors import ConfigError, InputError
from services.common.logs import setup_logging

log = setup_logging(__name__)

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


def _too_big(parameter_count: int, smallest: tuple[float, str], usable: float, cuda: bool, method: str,
             processes: int) -> str:
    need, setting = smallest
    where = "GPU" if cuda else "this machine's available memory"
    changes = []
    if method in ("full", "auto"):
        changes.append("train.method=lora" + (" or train.method=qlora" if cuda else ""))
    elif method == "lora" and cuda:
        changes.append("train.method=qlora")
    changes += ["a smaller train.micro_batch_size (1)", "train.gradient_checkpointing=true",
                "a smaller train.max_seq_len"]
    if cuda:
        changes.append("more GPUs with train.zero_stage=3 (deepspeed or torchrun launcher)"
                       if processes < 2 else "train.zero_stage=3")
    return (f"a {parameter_count / 1e9:.2f}B-parameter model does not fit: the smallest setting tried ({setting}) "
            f"needs about {need / GiB:.1f} GiB but {usable / GiB:.1f} GiB of {where} is usable; "
            f"change: {', '.join(changes)}")


# --- the machine -------------------------------------------------------------------------------------


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


def resolve_dtype_name(model_cfg: ModelConfig, device: str, hardware: Hardware) -> str:
    """float32 or bfloat16: `auto` is bfloat16 on a CUDA device with bf16 support, else float32."""
    on_cuda = device.startswith("cuda")
    if model_cfg.dtype == "auto":
        return "bfloat16" if on_cuda and hardware.bf16 else "float32"
    if model_cfg.dtype == "float16":
        raise ConfigError("model.dtype=float16: training in float16 needs loss scaling, which this trainer does not "
                          "do; use model.dtype=auto (bfloat16 where the GPU has it) or float32")
    if model_cfg.dtype == "bfloat16" and on_cuda and not hardware.bf16:
        raise ConfigError(f"model.dtype=bfloat16 but {hardware.gpu_name or 'this GPU'} has no bfloat16; "
                          "use model.dtype=auto or float32")
    return model_cfg.dtype


# --- the model ---------------------------------------------------------------------------------------

CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def model_config(model_cfg: ModelConfig, vocab_size: int):
    """The base model's transformers config, checked to be a causal LM, without loading any weight."""
    from transformers import AutoConfig, LlamaConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model_cfg.kind == "tiny-random":
        return LlamaConfig(
            vocab_size=vocab_size, hidden_size=model_cfg.hidden_size, intermediate_size=model_cfg.intermediate_size,
            num_hidden_layers=model_cfg.num_layers, num_attention_heads=model_cfg.num_heads,
            num_key_value_heads=model_cfg.num_heads, max_position_embeddings=2048, tie_word_embeddings=True,
        )
    if model_cfg.kind == "smollm2-gguf":
        from services.common.models import smollm2_model_dir

        return AutoConfig.from_pretrained(str(smollm2_model_dir()))
    path = model_cfg.path
    if not path:
        raise InputError("model.path", "the hf model kind needs model.path (a local folder or hub id)")
    local = Path(path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise InputError(path, "has no config.json; give a folder saved with save_pretrained or a hub id")
    elif path.startswith(("/", "./", "../", "~")) or path.count("/") > 1:
        raise InputError(path, "does not exist; set model.path to a local model folder or a hub id (org/name)")
    try:
        config = AutoConfig.from_pretrained(str(local) if local.exists() else path)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"is not a model folder or a hub id that can be fetched here ({exc}); "
                               "set model.path to a local folder with config.json") from exc
    architectures = list(getattr(config, "architectures", None) or [])
    causal = any(a.endswith(CAUSAL_SUFFIXES) for a in architectures) if architectures else (
        config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    if not causal:
        kind = ", ".join(architectures) or config.model_type
        raise InputError(path, f"is a {kind}, not a causal language model; choose a model whose config.json lists "
                               "a *ForCausalLM architecture (e.g. SmolLM2, Llama, Qwen)")
    return config


def parameter_count(config) -> int:
    """Exact parameter count of a config's causal LM, built on the meta device (no memory, no weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


# --- everything before the model loads -----------------------------------------------------------------


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
                              "`deepspeed --num_gpus 8 --module services.cli train ...`")
    if dist.distributed and not hardware.cuda and t.zero_stage not in (0, "auto"):
        raise ConfigError("several processes on CPU train with plain DDP only: set train.zero_stage=0")
    if t.packing and t.max_seq_len < 64:
        raise ConfigError("train.packing needs train.max_seq_len of at least 64 tokens")


def preflight(cfg: ExperimentConfig, vocab_size: int | Callable[[], int], hardware: Hardware | None = None,
              dist: DistEnv | None = None) -> Preflight:
    """Check the model, the options and the memory, and plan the run; no weight is loaded.

    `vocab_size` (or a function giving it, called only for the tiny random model) sizes that model."""
    hardware = hardware or Hardware.detect()
    dist = dist or DistEnv.detect()
    check_options(cfg, hardware, dist)
    device = resolve_device(cfg.model, hardware, dist)
    dtype = resolve_dtype_name(cfg.model, device, hardware)
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
