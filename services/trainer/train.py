"""Fine-tune one arm: a flat loop over batches, loss on completion tokens only, one MLflow run per arm.

The loop is nanoGPT-plain on purpose: tokenise, batch, forward, backward, step, log. LoRA (peft)
restricted to the last layers keeps backward short on a CPU; the tiny random model trains in full.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.common.artifacts import read_jsonl, to_uri, write_json
from services.common.config import ExperimentConfig
from services.common.errors import InputError
from services.common.logs import setup_logging
from services.common.models import build_base_model, load_tokenizer, save_checkpoint

log = setup_logging(__name__)


@dataclass
class StepReport:
    """One optimisation step, as streamed to the caller and logged to MLflow."""

    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    seconds_left: float


@dataclass
class TrainOutcome:
    """Where the checkpoint went and how training went."""

    checkpoint: Path
    history: list[dict]
    mlflow_run_id: str
    steps: int
    final_loss: float
    validation_loss: float | None
    wall_seconds: float


def encode_example(tokenizer, prompt: str, completion: str, max_len: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) with prompt tokens masked (-100), cut from the left to keep the completion."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    completion_ids = completion_ids[:max_len]
    prompt_ids = prompt_ids[-(max_len - len(completion_ids)) :] if max_len > len(completion_ids) else []
    ids = prompt_ids + completion_ids
    labels = [-100] * len(prompt_ids) + completion_ids
    return ids, labels


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int):
    """Right-padded tensors: input_ids, attention_mask, labels."""
    import torch

    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return input_ids, mask, labels


def learning_rate_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up to `peak` over `warmup` steps, then cosine decay to 10% of it."""
    if warmup and step <= warmup:
        return peak * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _apply_lora(model, cfg: ExperimentConfig):
    from peft import LoraConfig, get_peft_model

    layers = model.config.num_hidden_layers
    last = cfg.train.lora_last_layers
    lora = LoraConfig(
        r=cfg.train.lora_r,
        lora_alpha=cfg.train.lora_alpha,
        lora_dropout=cfg.train.lora_dropout,
        target_modules=cfg.train.lora_target_modules,
        layers_to_transform=list(range(layers - last, layers)) if last else None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _flat_params(cfg: ExperimentConfig) -> dict[str, str]:
    out: dict[str, str] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = json.dumps(value) if not isinstance(value, str) else value

    walk("", cfg.model_dump())
    return out


def _mlflow_run(tracking_uri: str, artifact_root: Path, run_name: str):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    name = "commentslab"
    experiment = mlflow.get_experiment_by_name(name)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow.create_experiment(name, artifact_location=to_uri(artifact_root))
    )
    return mlflow.start_run(experiment_id=experiment_id, run_name=run_name)


def _mean_loss(model, batches) -> float:
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for input_ids, mask, labels in batches:
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            total += float(loss) * input_ids.shape[0]
            count += input_ids.shape[0]
    model.train()
    return total / max(count, 1)


def train_arm(
    dataset_dir: Path,
    arm: str,
    out_dir: Path,
    cfg: ExperimentConfig,
    tracking_uri: str,
    on_step: Callable[[StepReport], None] | None = None,
) -> TrainOutcome:
    """Fine-tune the base model on `dataset_dir/train.jsonl`; checkpoint and history under `out_dir`."""
    import mlflow
    import torch

    started = time.perf_counter()
    train_path = dataset_dir / "train.jsonl"
    rows = list(read_jsonl(train_path))
    if not rows:
        raise InputError(str(train_path), "has no rows to train on; check the split report")
    validation_path = dataset_dir / "validation.jsonl"
    validation_rows = list(read_jsonl(validation_path)) if validation_path.is_file() else []
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    tokenizer = load_tokenizer(cfg.model)
    model = build_base_model(cfg.model, len(tokenizer), cfg.seed)
    if cfg.train.method == "lora":
        model = _apply_lora(model, cfg)
    model.train()
    examples = [encode_example(tokenizer, r["input"], r["completion"], cfg.train.max_seq_len) for r in rows]
    batch = cfg.train.batch_size
    steps = cfg.train.steps or cfg.train.epochs * math.ceil(len(examples) / batch)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
    order: list[int] = []
    history: list[dict] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    with _mlflow_run(tracking_uri, out_dir.parent / "mlartifacts", f"{cfg.profile}-{arm}") as run:
        mlflow.log_params({**_flat_params(cfg), "arm": arm, "train_rows": len(rows)})
        loop_start = time.perf_counter()
        for step in range(1, steps + 1):
            if len(order) < batch:
                # Epoch order is a seeded shuffle: the same for every arm, so arms see rows in one order.
                fresh = list(range(len(examples)))
                rng.shuffle(fresh)
                order.extend(fresh)
            picked, order = order[:batch], order[batch:]
            input_ids, mask, labels = collate([examples[i] for i in picked], tokenizer.pad_token_id)
            lr = learning_rate_at(step, steps, cfg.train.learning_rate, cfg.train.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            step_start = time.perf_counter()
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            now = time.perf_counter()
            tokens = int(mask.sum())
            elapsed = now - loop_start
            report = StepReport(
                step=step,
                total_steps=steps,
                loss=float(loss.detach()),
                learning_rate=lr,
                tokens_per_second=tokens / max(now - step_start, 1e-9),
                seconds_left=elapsed / step * (steps - step),
            )
            history.append({"step": step, "loss": report.loss, "lr": lr, "tokensPerSecond": report.tokens_per_second})
            mlflow.log_metrics(
                {"loss": report.loss, "learning_rate": lr, "tokens_per_second": report.tokens_per_second}, step=step
            )
            if on_step:
                on_step(report)
        validation_loss = None
        if validation_rows:
            val = [encode_example(tokenizer, r["input"], r["completion"], cfg.train.max_seq_len) for r in validation_rows]
            val_batches = [collate(val[i : i + batch], tokenizer.pad_token_id) for i in range(0, len(val), batch)]
            validation_loss = _mean_loss(model, val_batches)
            mlflow.log_metric("validation_loss", validation_loss, step=steps)
            history[-1]["validationLoss"] = validation_loss
        checkpoint = save_checkpoint(model, tokenizer, out_dir / "checkpoint", cfg.model, cfg.train.method)
        write_json(out_dir / "history.json", history)
        mlflow.log_artifact(str(out_dir / "history.json"))
        if cfg.train.method == "lora" or cfg.model.kind == "tiny-random":
            # Adapters and tiny models are small enough to keep in the tracking store too.
            mlflow.log_artifacts(str(checkpoint), artifact_path="checkpoint")
        run_id = run.info.run_id
    return TrainOutcome(
        checkpoint=checkpoint,
        history=history,
        mlflow_run_id=run_id,
        steps=steps,
        final_loss=history[-1]["loss"],
        validation_loss=validation_loss,
        wall_seconds=time.perf_counter() - started,
    )
