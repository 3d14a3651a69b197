"""What a training reports while it runs: each step to the caller (the Trainer service's stream, the CLI's
progress bar) and to MLflow, as a transformers `TrainerCallback` beside the library's own."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from transformers import TrainerCallback


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


class ProgressCallback(TrainerCallback):
    """Streams each step, logs it to MLflow once (a resumed run skips steps already logged), validates at
    the last step, and writes periodic resumable checkpoints when the library saves only on a new best."""

    def __init__(self, on_step: Callable[[StepReport], None] | None, resumed_from_step: int, logged: dict[str, int],
                 validate_last: bool, checkpoint_every: int):
        self.on_step = on_step
        self.resumed_from_step = resumed_from_step
        self.logged = logged  # metric -> last step MLflow holds (rank 0), empty elsewhere
        self.validate_last = validate_last
        self.checkpoint_every = checkpoint_every
        self.loop_start = 0.0
        self.step_start = 0.0
        self.step_seconds = 0.0
        self.tokens_seen = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.loop_start = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.step_seconds = time.perf_counter() - self.step_start
        if state.global_step == state.max_steps and self.validate_last:
            control.should_evaluate = True
        if self.checkpoint_every and state.global_step % self.checkpoint_every == 0 and (
                state.global_step < state.max_steps):
            control.should_save = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        # TRL counts the tokens of every process since this process started (num_tokens); this step's are the
        # difference.
        tokens = logs.get("num_tokens", 0.0)
        tokens_per_second = (tokens - self.tokens_seen) / max(self.step_seconds, 1e-9)
        self.tokens_seen = tokens
        # Into the library's log history, which checkpoints carry: a resumed run's history.json has it too.
        state.log_history[-1]["tokens_per_second"] = tokens_per_second
        step = state.global_step
        done = step - self.resumed_from_step
        report = StepReport(
            step=step, total_steps=state.max_steps, loss=float(logs["loss"]),
            learning_rate=float(logs.get("learning_rate", 0.0)), tokens_per_second=tokens_per_second,
            seconds_left=(time.perf_counter() - self.loop_start) / max(done, 1) * (state.max_steps - step),
            resumed_from_step=self.resumed_from_step,
        )
        if state.is_world_process_zero:
            if step > self.logged.get("loss", 0):
                import mlflow

                mlflow.log_metrics({"loss": report.loss, "learning_rate": report.learning_rate,
                                    "tokens_per_second": tokens_per_second}, step=step)
            if self.on_step:
                self.on_step(report)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if state.is_world_process_zero and metrics and state.global_step > self.logged.get("validation_loss", 0):
            import mlflow

            mlflow.log_metric("validation_loss", metrics["eval_loss"], step=state.global_step)


def step_history(log_history: list[dict]) -> list[dict]:
    """history.json's entries from the library's log history: one per step with its loss, learning rate,
    tokens/s and, where the step validated, its validation loss."""
    steps: dict[int, dict] = {}
    for entry in log_history:
        step = entry.get("step")
        if "loss" in entry:
            steps.setdefault(step, {}).update(step=step, loss=entry["loss"], learningRate=entry.get("learning_rate"),
                                              tokensPerSecond=entry.get("tokens_per_second"))
        elif "eval_loss" in entry:
            steps.setdefault(step, {"step": step})["validationLoss"] = entry["eval_loss"]
    return [steps[s] for s in sorted(steps)]
