"""Fine-tune one arm with TRL's SFTTrainer, configured from the profile and the memory plan.

The library does the training: the loop (micro-batches, gradient accumulation, clipping, AdamW, linear
warm-up then cosine decay to 10% of the peak), bf16 autocast over float32 master weights, packing without
cross-example attention, LoRA and QLoRA (peft, bitsandbytes), DDP and DeepSpeed ZeRO-2/3 (accelerate,
with the configs in deepspeed/), resumable checkpoints (weights, optimizer, scheduler, RNG, data position)
and early stopping that returns the best weights.

Ours, because no library has it: the checks and memory plan before anything loads (`preflight`),
tokenization that keeps the completion (`data`), the progress stream and the MLflow run a killed training
resumes into (`progress`, `tracking`), which training an out_dir holds (`checkpoints`) and the registry
entry.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from commentslab.services.common.artifacts import read_json, read_jsonl, to_uri, write_json
from commentslab.services.common.config import ExperimentConfig
from commentslab.services.common.errors import InputError
from commentslab.services.common.logs import setup_logging
from commentslab.services.common.models import (
    build_base_model,
    load_tokenizer,
    quiet_deepspeed,
    write_checkpoint_info,
)
from commentslab.services.trainer import checkpoints, tracking
from commentslab.services.trainer.data import encode_example, sft_dataset
from commentslab.services.trainer.plan import InsufficientMemoryError, out_of_memory_advice
from commentslab.services.trainer.preflight import Preflight, preflight
from commentslab.services.trainer.progress import ProgressCallback, StepReport, step_history

log = setup_logging(__name__)

__all__ = ["StepReport", "TrainOutcome", "encode_example", "sft_config", "sft_trainer_class", "train_arm"]

OUTCOME = "outcome.json"
RUN_FILE = "mlflow_run.json"
DEEPSPEED_CONFIGS = Path(__file__).parent / "deepspeed"


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


def sft_config(cfg: ExperimentConfig, pre: Preflight, output_dir: Path, validating: bool):
    """The SFTTrainer's settings: the profile's hyper-parameters and the plan's batch, precision and ZeRO.

    Validation runs every eval_every steps, else (with early stopping) at each epoch's end, and always at
    the last step. Where it runs more than once the library keeps the best weights: it saves a checkpoint
    at each new best (ProgressCallback adds the periodic resumable ones) and loads the best at the end.
    """
    from trl import SFTConfig

    t, plan = cfg.train, pre.plan
    on_cuda = pre.device.startswith("cuda")
    if validating and t.eval_every:
        evaluation = {"eval_strategy": "steps", "eval_steps": t.eval_every}
    elif validating and t.patience > 0:
        evaluation = {"eval_strategy": "epoch"}
    else:
        evaluation = {"eval_strategy": "no"}
    if evaluation["eval_strategy"] != "no" and t.restore_best:
        saving = {"save_strategy": "best", "load_best_model_at_end": True, "metric_for_best_model": "eval_loss",
                  "greater_is_better": False}
    else:
        saving = {"save_strategy": "steps" if t.checkpoint_every else "no", "save_steps": t.checkpoint_every or 1}
    # transformers 5.x renamed gradient checkpointing; the older name still works where the new one is missing.
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in SFTConfig.__dataclass_fields__ \
        else "gradient_checkpointing"
    return SFTConfig(
        output_dir=str(output_dir),
        max_steps=t.steps or -1,
        num_train_epochs=t.epochs,
        per_device_train_batch_size=plan.micro_batch_size,
        per_device_eval_batch_size=plan.micro_batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation,
        learning_rate=t.learning_rate,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": 0.1},
        warmup_steps=t.warmup_steps,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        bf16=pre.dtype == "bfloat16",
        use_cpu=not on_cuda,
        **{checkpointing: plan.gradient_checkpointing, f"{checkpointing}_kwargs": {"use_reentrant": False}},
        deepspeed=str(DEEPSPEED_CONFIGS / f"zero{plan.zero_stage}.json") if plan.zero_stage in (2, 3) else None,
        max_length=t.max_seq_len,
        packing=t.packing,
        packing_strategy="bfd",
        seed=cfg.seed,
        logging_steps=1,
        save_total_limit=t.keep_checkpoints,
        restore_callback_states_from_checkpoint=True,
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=on_cuda,
        **evaluation,
        **saving,
    )


def sft_trainer_class():
    """SFTTrainer with the loss of transformers' Trainer: the model's own cross-entropy over the labels.

    TRL's loss path also computes each token's entropy and top-1 accuracy for its logs, through a fused LM
    head: on the CPU that made the cpu profile's steps about a fifth slower, for metrics nothing here reads.
    The loss is the same (labels already hold -100 on prompt tokens; the model averages over the label
    tokens of the whole accumulated batch when given `num_items_in_batch`). Only the token count the
    progress stream divides by time is kept from TRL's metrics.
    """
    import torch
    from transformers import Trainer
    from trl import SFTTrainer

    class ModelLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if model.training:
                # A padded batch counts its attention mask; a packed (padding-free) row is tokens throughout.
                mask = inputs.get("attention_mask")
                local = mask.sum() if mask is not None else torch.tensor(inputs["input_ids"].numel(),
                                                                         device=inputs["input_ids"].device)
                self._total_train_tokens += self.accelerator.gather_for_metrics(local).sum().item()
                self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

    return ModelLossSFTTrainer


def build_model(cfg: ExperimentConfig, pre: Preflight, vocab_size: int):
    """The base model as the plan says: float32 master weights for full fine-tuning (bf16 runs under
    autocast, since an lr of 1e-5 vanishes in bfloat16's 8-bit mantissa), a 16-bit frozen base for LoRA,
    NF4 for QLoRA. The library wraps it (peft, DDP, DeepSpeed) and moves it to the device."""
    import torch

    weights = torch.float32 if pre.plan.method == "full" else getattr(torch, pre.dtype)
    return build_base_model(cfg.model, vocab_size, cfg.seed, dtype=weights, device=pre.device,
                            quantize_4bit=pre.plan.method == "qlora")


def lora_config(cfg: ExperimentConfig, layers: int):
    """peft's LoRA adapter from the profile (on the last `lora_last_layers` layers when set)."""
    from peft import LoraConfig

    t = cfg.train
    last = t.lora_last_layers
    return LoraConfig(
        r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout, target_modules=t.lora_target_modules,
        layers_to_transform=list(range(layers - last, layers)) if last else None, task_type="CAUSAL_LM",
    )


def run_name(cfg: ExperimentConfig, arm: str, job: dict | None) -> str:
    """The MLflow run's name: per job when the experiment core runs one (searchable by arm, fold, seed)."""
    if job:
        return f"{arm} fold{job.get('fold', 0)} seed{job.get('seed', cfg.seed)}"
    return f"{cfg.profile}-{arm}"


def _stored_outcome(out_dir: Path, fingerprint: str) -> TrainOutcome | None:
    path = out_dir / OUTCOME
    if not path.is_file():
        return None
    data = read_json(path)
    if data.get("fingerprint") != fingerprint or not Path(data["outcome"]["checkpoint"]).is_dir():
        return None
    return TrainOutcome.from_json(data["outcome"])


def _resume_point(root: Path, same_training: bool, resume: bool, is_main: bool,
                  say: Callable[[str], None]) -> tuple[Path, int] | None:
    """The checkpoint to continue from; the main process clears what cannot be resumed."""
    found = checkpoints.latest(root) if resume else None
    if found and not same_training:
        say(f"{root} holds a checkpoint of another config or dataset; starting over")
        found = None
    if is_main and root.exists():
        if not found:
            shutil.rmtree(root)
        else:  # folders of a save cut short by the kill, newer than the resume point
            for stale in root.glob("checkpoint-*"):
                if stale.is_dir() and stale != found[0] and int(stale.name.split("-")[1]) > found[1]:
                    shutil.rmtree(stale)
    return found


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
    job: dict | None = None,
) -> TrainOutcome:
    """Fine-tune the base model on `dataset_dir/train.jsonl`; checkpoint and history under `out_dir`.

    Everything that can be wrong with the inputs is checked before the model loads. With `resume`, an
    out_dir holding a checkpoint of the same config, arm and data continues from it (and a finished one
    returns its outcome); `on_status` hears about that in words. `job` ({"fold", "seed"}) names the MLflow
    run and is logged as its parameters and tags.
    """
    import torch
    from datasets.utils.logging import disable_progress_bar
    from transformers import EarlyStoppingCallback, PrinterCallback

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
    fingerprint = checkpoints.fingerprint({**cfg.model_dump(), "processes": dist.world_size, "job": job or {}},
                                          arm, [train_path, validation_path])
    if resume and (done := _stored_outcome(out_dir, fingerprint)) is not None:
        say(f"{out_dir} already holds this training's result (step {done.steps}); nothing to do")
        return done
    run_file = out_dir / RUN_FILE
    same_training = run_file.is_file() and read_json(run_file).get("fingerprint") == fingerprint
    quiet_deepspeed()
    disable_progress_bar()  # a bar per dataset preparation step, for a few hundred rows
    # Before the model: with ZeRO-3 the settings make from_pretrained load the weights straight into shards.
    args = sft_config(cfg, pre, out_dir / "resume", validating=bool(validation_rows))
    with args.main_process_first(local=False):
        found = _resume_point(out_dir / "resume", same_training, resume, dist.is_main, say)
    start_step = found[1] if found else 0
    if found:
        say(f"resuming from the checkpoint of step {start_step} in {found[0]}")

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, pre, len(tokenizer))
    validate_last = bool(validation_rows)
    progress = ProgressCallback(on_step, start_step, {}, validate_last,
                                t.checkpoint_every if args.save_strategy == "best" else 0)
    callbacks = [progress]
    if validation_rows and t.patience > 0:
        callbacks.append(EarlyStoppingCallback(t.patience, t.min_improvement))
    trainer = sft_trainer_class()(
        model=model, args=args, processing_class=tokenizer,
        train_dataset=sft_dataset(rows, tokenizer, t.max_seq_len),
        eval_dataset=sft_dataset(validation_rows, tokenizer, t.max_seq_len) if validation_rows else None,
        peft_config=lora_config(cfg, pre.config.num_hidden_layers) if plan.method in ("lora", "qlora") else None,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # stdout carries the CLI's JSON; progress goes to on_step

    run_id = read_json(run_file)["mlflow_run_id"] if resume and same_training else None
    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if run_id and not tracking.run_exists(tracking_uri, run_id):
            run_id = None
        run_context = tracking.open_run(tracking_uri, out_dir.parent / "mlartifacts", run_name(cfg, arm, job), run_id,
                                        t.system_metrics, t.system_metrics_interval)
    else:
        from contextlib import nullcontext

        run_context = nullcontext()
    with run_context as run:
        if dist.is_main:
            run_id = run.info.run_id
            checkpoints.write_json_atomic(run_file, {"fingerprint": fingerprint, "mlflow_run_id": run_id})
            tracking.log_start(run, cfg, arm, job, {"train_rows": len(rows), "parameters": pre.parameter_count,
                                                    **{f"plan.{k}": v for k, v in plan.to_dict().items()}},
                               start_step)
            progress.logged.update({m: tracking.last_logged_step(tracking_uri, run_id, m)
                                    for m in ("loss", "validation_loss")})
        try:
            trainer.train(resume_from_checkpoint=str(found[0]) if found else None)
        except torch.OutOfMemoryError as exc:
            raise InsufficientMemoryError(out_of_memory_advice(plan, pre.device, trainer.state.global_step + 1)) \
                from exc
        state = trainer.state
        final_step = state.global_step
        stop_reason = "early_stopping" if final_step < state.max_steps else "completed"
        history = step_history(state.log_history)
        validated = [h for h in history if "validationLoss" in h]
        best_step, best_loss = None, None
        if args.load_best_model_at_end and state.best_global_step:
            best_step, best_loss = state.best_global_step, state.best_metric
            if best_step != final_step:
                say(f"restored the weights of step {best_step}, the best validation loss ({best_loss:.4f})")
        elif validated:
            best_step, best_loss = validated[-1]["step"], validated[-1]["validationLoss"]
        if stop_reason == "early_stopping":
            say(f"early stopping at step {final_step}: no better validation loss for {t.patience} evaluations "
                f"(best {best_loss:.4f} at step {best_step})")
        history[-1]["stopReason"] = stop_reason
        if best_step is not None:
            history[-1].update(bestStep=best_step, bestValidationLoss=best_loss)

        checkpoint = out_dir / "checkpoint"
        if dist.is_main:
            # A checkpoint left by an earlier training (say a LoRA adapter) must not mix with this one.
            shutil.rmtree(checkpoint, ignore_errors=True)
        trainer.save_model(str(checkpoint))  # collective under ZeRO-3: gathers the shards
        outcome = TrainOutcome(
            checkpoint=checkpoint, history=history, mlflow_run_id=run_id or "", steps=final_step,
            final_loss=history[-1]["loss"], validation_loss=best_loss, wall_seconds=time.perf_counter() - started,
            stop_reason=stop_reason, best_step=best_step, resumed_from_step=start_step, plan=plan.to_dict(),
        )
        if dist.is_main:
            write_checkpoint_info(checkpoint, cfg.model, plan.method)
            _finish_run(outcome, out_dir, cfg, arm, tracking_uri)
            write_json(out_dir / OUTCOME, {"fingerprint": fingerprint, "outcome": outcome.to_json()})
            shutil.rmtree(out_dir / "resume", ignore_errors=True)
        trainer.accelerator.wait_for_everyone()
    return outcome


def _finish_run(outcome: TrainOutcome, out_dir: Path, cfg: ExperimentConfig, arm: str, tracking_uri: str) -> None:
    """history.json, the stop reason, the checkpoint as an artifact and the registered model version."""
    import mlflow

    write_json(out_dir / "history.json", outcome.history)
    mlflow.log_artifact(str(out_dir / "history.json"))
    mlflow.set_tags({"stop_reason": outcome.stop_reason, "method": outcome.plan.get("method", "")})
    if outcome.best_step is not None:
        mlflow.log_metrics({"best_validation_loss": outcome.validation_loss, "best_step": outcome.best_step})
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
        outcome.registered_version = tracking.register_checkpoint(
            tracking_uri, outcome.mlflow_run_id, arm, source,
            {"profile": cfg.profile, "seed": str(cfg.seed), "method": outcome.plan.get("method", ""),
             "stop_reason": outcome.stop_reason})
