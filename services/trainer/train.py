"""Fine-tune one arm: a flat loop over steps, loss on completion tokens only, one MLflow run per arm.

The loop stays nanoGPT-plain: take the step's rows, forward and backward each micro-batch, step, log.
Around it: `plan.preflight` checks the model, options and memory before anything loads and picks the
method (full, LoRA, QLoRA), ZeRO stage, gradient checkpointing and micro-batch; `engine` runs the step
plainly, under DDP or under DeepSpeed; `checkpoints` makes the run resumable (a re-run with the same
out_dir continues at the step after its last checkpoint, in the same MLflow run); early stopping keeps
the weights with the best validation loss.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services.common.artifacts import read_json, read_jsonl, to_uri, write_json
from services.common.config import ExperimentConfig
from services.common.errors import InputError
from services.common.logs import setup_logging
from services.common.models import build_base_model, load_tokenizer, save_checkpoint
from services.trainer import checkpoints
from services.trainer.data import DataOrder, collate, collate_packed, encode_example, pack_rows
from services.trainer.plan import InsufficientMemoryError, Preflight, preflight
from services.trainer.tracking import flat_params

log = setup_logging(__name__)

__all__ = ["StepReport", "TrainOutcome", "collate", "encode_example", "learning_rate_at", "train_arm"]

OUTCOME = "outcome.json"
RUN_FILE = "mlflow_run.json"


@dataclass
class StepReport:
    """One optimisation step, as streamed to the caller and logged to MLflow."""

    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    seconds_left: float
    resumed_from_step: int = 0  # the checkpoint this attempt started from (0: from the start)


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
    stop_reason: str = "completed"  # completed | early_stopping
    best_step: int | None = None  # the step whose weights the checkpoint holds (when validated)
    resumed_from_step: int = 0
    registered_model: str | None = None
    registered_version: str | None = None
    plan: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**asdict(self), "checkpoint": str(self.checkpoint)}

    @classmethod
    def from_json(cls, data: dict) -> TrainOutcome:
        return cls(**{**data, "checkpoint": Path(data["checkpoint"])})


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


def build_model(cfg: ExperimentConfig, pre: Preflight, vocab_size: int):
    """The model to train on this process's device, as the plan says (method, precision, checkpointing)."""
    import torch

    plan = pre.plan
    compute = getattr(torch, pre.dtype)
    # Full fine-tuning keeps float32 master weights (bf16 runs under autocast); LoRA's frozen base may be 16-bit.
    weights = torch.float32 if plan.method == "full" else compute
    deepspeed_zero3 = None
    if plan.zero_stage == 3:
        # Load the weights straight into ZeRO-3 shards instead of a full copy on every process.
        from transformers.integrations import HfDeepSpeedConfig

        from services.trainer.engine import deepspeed_config

        deepspeed_zero3 = HfDeepSpeedConfig(deepspeed_config(3, plan, pre.dtype == "bfloat16",
                                                              cfg.train.max_grad_norm))
    model = build_base_model(cfg.model, vocab_size, cfg.seed, dtype=weights, device=pre.device,
                             quantize_4bit=plan.method == "qlora")
    model._commentslab_zero3 = deepspeed_zero3  # keeps the HfDeepSpeedConfig alive while the model lives
    if plan.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=plan.gradient_checkpointing,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
    elif plan.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if plan.gradient_checkpointing:
        model.config.use_cache = False
    if plan.method in ("lora", "qlora"):
        model = _apply_lora(model, cfg)
    if plan.method != "qlora" and plan.zero_stage != 3:
        model = model.to(pre.device)
    model.train()
    return model


def _make_engine(model, cfg: ExperimentConfig, pre: Preflight):
    import torch

    from services.trainer.engine import DeepSpeedEngine, Engine, deepspeed_config

    compute = getattr(torch, pre.dtype)
    t = cfg.train
    if pre.uses_deepspeed:
        config = deepspeed_config(pre.plan.zero_stage, pre.plan, pre.dtype == "bfloat16", t.max_grad_norm)
        return DeepSpeedEngine(model, pre.device, compute, pre.plan, pre.dist, t.learning_rate, t.weight_decay,
                               t.max_grad_norm, config)
    return Engine(model, pre.device, compute, pre.plan, pre.dist, t.learning_rate, t.weight_decay, t.max_grad_norm)


def _rng_state(device: str) -> dict:
    import torch

    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.startswith("cuda"):
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_rng(state: dict, device: str) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and device.startswith("cuda"):
        torch.cuda.set_rng_state(state["cuda"], device)


class _Validation:
    """Validation loss (mean over batches weighted by rows) and early-stopping bookkeeping."""

    def __init__(self, batches, patience: int, min_improvement: float):
        self.batches = batches
        self.patience = patience
        self.min_improvement = min_improvement
        self.best_loss: float | None = None
        self.best_step: int | None = None
        self.bad_evaluations = 0

    def loss(self, engine) -> float:
        engine.module.eval()
        total, count = 0.0, 0
        for batch in self.batches:
            total += engine.evaluate_loss(batch.to(engine.device)) * batch.rows
            count += batch.rows
        engine.module.train()
        return total / max(count, 1)

    def record(self, step: int, loss: float) -> bool:
        """Note an evaluation; True when it is the best so far."""
        if self.best_loss is None or loss < self.best_loss - self.min_improvement:
            self.best_loss, self.best_step, self.bad_evaluations = loss, step, 0
            return True
        self.bad_evaluations += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.patience > 0 and self.bad_evaluations >= self.patience

    def state(self) -> dict:
        return {"best_loss": self.best_loss, "best_step": self.best_step, "bad_evaluations": self.bad_evaluations}

    def restore(self, state: dict) -> None:
        self.best_loss, self.best_step = state["best_loss"], state["best_step"]
        self.bad_evaluations = state["bad_evaluations"]


def _save_best(out_dir: Path, step: int, engine) -> None:
    from safetensors.torch import save_file

    state = engine.trainable_state()
    if not engine.dist.is_main:
        return
    best = out_dir / "best"
    best.mkdir(parents=True, exist_ok=True)
    tmp = best / f"step-{step:08d}.safetensors.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, best / f"step-{step:08d}.safetensors")


def _load_best(out_dir: Path, step: int, engine) -> None:
    from safetensors.torch import load_file

    engine.load_trainable(load_file(str(out_dir / "best" / f"step-{step:08d}.safetensors")))


def _stored_outcome(out_dir: Path, fingerprint: str) -> TrainOutcome | None:
    path = out_dir / OUTCOME
    if not path.is_file():
        return None
    data = read_json(path)
    if data.get("fingerprint") != fingerprint or not Path(data["outcome"]["checkpoint"]).is_dir():
        return None
    return TrainOutcome.from_json(data["outcome"])


def train_arm(
    dataset_dir: Path,
    arm: str,
    out_dir: Path,
    cfg: ExperimentConfig,
    tracking_uri: str,
    on_step: Callable[[StepReport], None] | None = None,
    *,
    on_status: Callable[[str], None] | None = None,
    resume: bool = True,
) -> TrainOutcome:
    """Fine-tune the base model on `dataset_dir/train.jsonl`; checkpoint and history under `out_dir`.

    Everything that can be wrong with the inputs is checked before the model loads. With `resume`, an
    out_dir holding a checkpoint of the same config, arm and data continues from it (and a finished one
    returns its outcome); `on_status` hears about that in words.
    """
    import torch

    started = time.perf_counter()

    def say(text: str) -> None:
        log.info("%s", text)
        if on_status:
            on_status(text)

    train_path = dataset_dir / "train.jsonl"
    rows = list(read_jsonl(train_path))
    if not rows:
        raise InputError(str(train_path), "has no rows to train on; check the split report")
    validation_path = dataset_dir / "validation.jsonl"
    validation_rows = list(read_jsonl(validation_path)) if validation_path.is_file() else []
    tokenizer = None

    def vocab_size() -> int:
        nonlocal tokenizer
        tokenizer = tokenizer or load_tokenizer(cfg.model)
        return len(tokenizer)

    pre = preflight(cfg, vocab_size)
    tokenizer = tokenizer or load_tokenizer(cfg.model)
    plan, dist, t = pre.plan, pre.dist, cfg.train
    for note in pre.notes:
        log.info("plan: %s", note)

    # What was trained, from what, by how many processes (the data shards follow the process count).
    fingerprint = checkpoints.fingerprint({**cfg.model_dump(), "processes": dist.world_size}, arm,
                                          [train_path, validation_path])
    resume_root = out_dir / "resume"
    if resume and (done := _stored_outcome(out_dir, fingerprint)) is not None:
        say(f"{out_dir} already holds this training's result (step {done.steps}); nothing to do")
        return done
    from services.trainer.engine import barrier, init_distributed, mean_across

    init_distributed(dist, pre.device, pre.uses_deepspeed)
    found = checkpoints.latest(resume_root) if resume else None
    if found and found[1].get("fingerprint") != fingerprint:
        say(f"{resume_root} holds a checkpoint of another config or dataset; starting over")
        found = None
    barrier(dist)  # every process has read the checkpoint before an unusable one is removed
    if dist.is_main and not found and resume_root.exists():
        shutil.rmtree(resume_root)

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, pre, len(tokenizer))
    engine = _make_engine(model, cfg, pre)

    examples = [encode_example(tokenizer, r["input"], r["completion"], t.max_seq_len) for r in rows]
    if t.packing:
        shuffled = list(range(len(examples)))
        random.Random(cfg.seed).shuffle(shuffled)
        units = pack_rows([len(ids) for ids, _ in examples], shuffled, t.max_seq_len)
    else:
        units = [[i] for i in range(len(examples))]
    order = DataOrder(len(units), cfg.seed)
    per_step = plan.effective_batch_size
    steps_per_epoch = math.ceil(len(units) / per_step)
    steps = t.steps or t.epochs * steps_per_epoch
    validation = _Validation(
        [collate(v, tokenizer.pad_token_id) for v in _chunks(
            [encode_example(tokenizer, r["input"], r["completion"], t.max_seq_len) for r in validation_rows],
            plan.micro_batch_size)],
        t.patience, t.min_improvement)

    history: list[dict] = []
    start_step = 0
    run_id = None
    run_file = out_dir / RUN_FILE
    if found:
        folder, state = found
        engine.load(folder)
        _restore_rng(torch.load(folder / f"rng-rank{dist.rank}.pt", weights_only=False), pre.device)
        order.restore(state["order"])
        validation.restore(state["validation"])
        history = state["history"]
        start_step = state["step"]
        run_id = state["mlflow_run_id"]
        say(f"resuming from the checkpoint of step {start_step} of {steps} in {folder}")
    elif resume and run_file.is_file() and read_json(run_file).get("fingerprint") == fingerprint:
        run_id = read_json(run_file)["mlflow_run_id"]  # killed before its first checkpoint: same run, from step 1

    from services.trainer import tracking

    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if run_id and not tracking.run_exists(tracking_uri, run_id):
            run_id = None
        run_context = tracking.open_run(tracking_uri, out_dir.parent / "mlartifacts", f"{cfg.profile}-{arm}", run_id,
                                        t.system_metrics, t.system_metrics_interval)
    else:
        from contextlib import nullcontext

        run_context = nullcontext()
    stop_reason = "completed"
    with run_context as run:
        import mlflow

        logged: dict[str, int] = {}
        if dist.is_main:
            run_id = run.info.run_id
            checkpoints.write_json_atomic(run_file, {"fingerprint": fingerprint, "mlflow_run_id": run_id})
            if start_step == 0 and not tracking.last_logged_step(tracking_uri, run_id):
                mlflow.log_params({**flat_params(cfg), "arm": arm, "train_rows": len(rows),
                                   "parameters": pre.parameter_count,
                                   **{f"plan.{k}": v for k, v in plan.to_dict().items()}})
            logged = {m: tracking.last_logged_step(tracking_uri, run_id, m) for m in ("loss", "validation_loss")}
            mlflow.set_tag("resumed_from_step", str(start_step))
        loop_start = time.perf_counter()
        step = start_step
        for step in range(start_step + 1, steps + 1):
            picked = order.take(per_step)
            mine = picked[dist.rank * plan.micro_batch_size * plan.gradient_accumulation:][
                : plan.micro_batch_size * plan.gradient_accumulation]
            micro_batches = [_batch(examples, units, chunk, t.packing, tokenizer.pad_token_id)
                             for chunk in _chunks(mine, plan.micro_batch_size)]
            lr = learning_rate_at(step, steps, t.learning_rate, t.warmup_steps)
            engine.set_learning_rate(lr)
            step_start = time.perf_counter()
            try:
                losses = [engine.forward_backward(b.to(pre.device), len(micro_batches), i == len(micro_batches) - 1)
                          for i, b in enumerate(micro_batches)]
                engine.step()
            except torch.OutOfMemoryError as exc:
                raise InsufficientMemoryError(_oom_advice(step, pre)) from exc
            loss = mean_across(dist, sum(losses) / len(losses), pre.device)
            tokens = mean_across(dist, float(sum(b.tokens for b in micro_batches)), pre.device) * dist.world_size
            now = time.perf_counter()
            report = StepReport(
                step=step, total_steps=steps, loss=loss, learning_rate=lr,
                tokens_per_second=tokens / max(now - step_start, 1e-9),
                seconds_left=(now - loop_start) / (step - start_step) * (steps - step),
                resumed_from_step=start_step,
            )
            entry = {"step": step, "loss": report.loss, "lr": lr, "tokensPerSecond": report.tokens_per_second}
            history.append(entry)
            if dist.is_main and step > logged.get("loss", 0):
                mlflow.log_metrics({"loss": report.loss, "learning_rate": lr,
                                    "tokens_per_second": report.tokens_per_second}, step=step)
            # Validation at the last step; before it every eval_every steps, else (with early stopping on) at
            # each epoch's end.
            evaluate = validation.batches and (step == steps or (
                step % t.eval_every == 0 if t.eval_every else t.patience > 0 and step % steps_per_epoch == 0))
            if evaluate:
                value = validation.loss(engine)
                entry["validationLoss"] = value
                if validation.record(step, value) and t.restore_best and step < steps:
                    _save_best(out_dir, step, engine)  # at the last step the weights in memory are the best
                if dist.is_main and step > logged.get("validation_loss", 0):
                    mlflow.log_metric("validation_loss", value, step=step)
                if validation.exhausted and step < steps:
                    stop_reason = "early_stopping"
            if dist.is_main and on_step:
                on_step(report)
            if stop_reason == "early_stopping":
                say(f"early stopping at step {step}: no better validation loss for {t.patience} evaluations "
                    f"(best {validation.best_loss:.4f} at step {validation.best_step})")
                break
            if t.checkpoint_every and step % t.checkpoint_every == 0 and step < steps:
                _write_checkpoint(resume_root, step, engine, order, validation, history, run_id, fingerprint,
                                  pre, t.keep_checkpoints)
        final_step = step
        restored = None
        if (t.restore_best and validation.best_step is not None and validation.best_step != final_step):
            _load_best(out_dir, validation.best_step, engine)
            restored = validation.best_step
            say(f"restored the weights of step {restored}, the best validation loss ({validation.best_loss:.4f})")
        history[-1]["stopReason"] = stop_reason
        if validation.best_step is not None:
            history[-1].update(bestStep=validation.best_step, bestValidationLoss=validation.best_loss)
        checkpoint = out_dir / "checkpoint"

        def save(module, state_dict):
            # A checkpoint left by an earlier training (say a LoRA adapter) must not mix with this one.
            shutil.rmtree(checkpoint, ignore_errors=True)
            save_checkpoint(module, tokenizer, checkpoint, cfg.model, plan.method, state_dict=state_dict)

        engine.export(save)
        barrier(dist)
        outcome = TrainOutcome(
            checkpoint=checkpoint, history=history, mlflow_run_id=run_id or "", steps=final_step,
            final_loss=history[-1]["loss"],
            validation_loss=validation.best_loss if t.restore_best else history[-1].get("validationLoss"),
            wall_seconds=time.perf_counter() - started, stop_reason=stop_reason,
            best_step=(restored or final_step) if validation.best_step is not None else None,
            resumed_from_step=start_step, plan=plan.to_dict(),
        )
        if dist.is_main:
            _finish_run(outcome, out_dir, cfg, arm, tracking_uri, validation)
            write_json(out_dir / OUTCOME, {"fingerprint": fingerprint, "outcome": outcome.to_json()})
            shutil.rmtree(resume_root, ignore_errors=True)
            shutil.rmtree(out_dir / "best", ignore_errors=True)
    return outcome


def _finish_run(outcome: TrainOutcome, out_dir: Path, cfg: ExperimentConfig, arm: str, tracking_uri: str,
                validation: _Validation) -> None:
    """history.json, the stop reason, the checkpoint as an artifact and the registered model version."""
    import mlflow

    from services.trainer.tracking import register_checkpoint

    write_json(out_dir / "history.json", outcome.history)
    mlflow.log_artifact(str(out_dir / "history.json"))
    mlflow.set_tags({"stop_reason": outcome.stop_reason, "method": outcome.plan.get("method", "")})
    if validation.best_step is not None:
        mlflow.log_metrics({"best_validation_loss": validation.best_loss, "best_step": outcome.best_step})
    size_mb = sum(f.stat().st_size for f in outcome.checkpoint.rglob("*") if f.is_file()) / 2**20
    t = cfg.train
    if size_mb <= t.checkpoint_artifact_max_mb:
        mlflow.log_artifacts(str(outcome.checkpoint), artifact_path="checkpoint")
        source = mlflow.get_artifact_uri("checkpoint")
    else:
        log.info("checkpoint is %.0f MB (> train.checkpoint_artifact_max_mb): registered from %s", size_mb,
                 outcome.checkpoint)
        source = to_uri(outcome.checkpoint)
        mlflow.set_tag("checkpoint_uri", source)
    if t.register_model:
        outcome.registered_model = f"commentslab-{arm}"
        outcome.registered_version = register_checkpoint(
            tracking_uri, outcome.mlflow_run_id, arm, source,
            {"profile": cfg.profile, "seed": str(cfg.seed), "method": outcome.plan.get("method", ""),
             "stop_reason": outcome.stop_reason})


def _write_checkpoint(root: Path, step: int, engine, order: DataOrder, validation: _Validation, history: list[dict],
                      run_id: str | None, fingerprint: str, pre: Preflight, keep: int) -> None:
    import torch

    from services.trainer.engine import barrier

    dist = pre.dist
    if dist.is_main:
        checkpoints.clear_temporary(root, step)
    barrier(dist)
    tmp = checkpoints.begin(root, step)
    engine.save(tmp)
    torch.save(_rng_state(pre.device), tmp / f"rng-rank{dist.rank}.pt")
    barrier(dist)
    if dist.is_main:
        checkpoints.commit(root, tmp, step, {
            "step": step, "fingerprint": fingerprint, "mlflow_run_id": run_id, "order": order.state(),
            "validation": validation.state(), "history": history, "world_size": dist.world_size,
        }, keep)
    barrier(dist)


def _oom_advice(step: int, pre: Preflight) -> str:
    plan = pre.plan
    changes = []
    if plan.method == "full":
        changes.append("train.method=lora" + (" (or qlora)" if pre.device.startswith("cuda") else ""))
    elif plan.method == "lora" and pre.device.startswith("cuda"):
        changes.append("train.method=qlora")
    if plan.micro_batch_size > 1:
        changes.append(f"train.micro_batch_size={max(1, plan.micro_batch_size // 2)}")
    if not plan.gradient_checkpointing:
        changes.append("train.gradient_checkpointing=true")
    changes.append("a smaller train.max_seq_len")
    return (f"out of memory on {pre.device} in training step {step} ({plan.reason}); the estimate was too "
            f"optimistic for this model; change: {', '.join(changes)}")


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _batch(examples: list, units: list[list[int]], picked: list[int], packing: bool, pad_id: int):
    if packing:
        return collate_packed([[examples[i] for i in units[u]] for u in picked], pad_id)
    return collate([examples[units[u][0]] for u in picked], pad_id)
