"""The base model's transformers config, checked before any weight loads: it exists, it is a causal LM,
and how many parameters it has."""

from __future__ import annotations

from pathlib import Path

from commentslab.services.common.config import ModelConfig
from commentslab.services.common.errors import InputError
from commentslab.services.common.models import smollm2_model_dir, tiny_llama_config

CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def model_config(model_cfg: ModelConfig, vocab_size: int):
    """The base model's transformers config, checked to be a causal LM, without loading any weight."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model_cfg.kind == "tiny-random":
        return tiny_llama_config(model_cfg, vocab_size)
    if model_cfg.kind == "smollm2-gguf":
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
