"""Completions from loaded checkpoints: prompts x n samples, batched, cut at stop sequences.

Requests are flattened to (prompt, sample) rows, sorted by prompt length so a batch pads little,
generated with a stopping rule that ends a row at its first stop sequence, and cut there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.common.errors import InputError
from services.common.models import load_checkpoint


@dataclass(frozen=True)
class Sampling:
    """Decoding settings of one request."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    stop: tuple[str, ...] = ()
    seed: int = 0


def cut_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """`text` up to (not including) the earliest stop sequence."""
    cut = len(text)
    for s in stop:
        index = text.find(s)
        if index != -1:
            cut = min(cut, index)
    return text[:cut]


def _stop_rule(tokenizer, prompt_width: int, stop: tuple[str, ...]):
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnSequences(_StopOnSequences, StoppingCriteria):
        pass

    return StoppingCriteriaList([StopOnSequences(tokenizer, prompt_width, stop)])


class _StopOnSequences:
    """Stopping rule: a row is done once its new text holds a stop sequence (checked on the tail only)."""

    def __init__(self, tokenizer, prompt_width: int, stop: tuple[str, ...]):
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stop = stop
        self.longest = max((len(s) for s in stop), default=0)

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = []
        for row in input_ids:
            new = row[self.prompt_width :]
            # Decoding the last tokens suffices: a stop sequence is a few characters long.
            tail = self.tokenizer.decode(new[-(self.longest + 8) :], skip_special_tokens=True)
            done.append(any(s in tail for s in self.stop))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class Generator:
    """Holds models by name (one per arm) and generates completions from them."""

    def __init__(self, batch_size: int = 16):
        self.batch_size = batch_size
        self._models: dict[str, tuple[object, object]] = {}
        self._lock = threading.Lock()  # one generate at a time: the CPU has no room for two

    def load(self, name: str, checkpoint: Path) -> int:
        """Load a checkpoint under `name`; returns its parameter count."""
        model, tokenizer = load_checkpoint(checkpoint)
        tokenizer.padding_side = "left"
        with self._lock:
            self._models[name] = (model, tokenizer)
        return sum(p.numel() for p in model.parameters())

    def names(self) -> list[str]:
        """Names of the loaded models."""
        return sorted(self._models)

    def generate(
        self, name: str, prompts: list[str], sampling: Sampling, on_batch: Callable[[int, int], None] | None = None
    ) -> tuple[list[list[str]], int]:
        """(`n` completions per prompt in request order, tokens generated)."""
        import torch

        if name not in self._models:
            raise InputError(name, f"no model of that name is loaded (loaded: {', '.join(self.names()) or 'none'})")
        model, tokenizer = self._models[name]
        rows = [(p, s) for p in range(len(prompts)) for s in range(sampling.n)]
        lengths = {p: len(tokenizer(prompts[p], add_special_tokens=False)["input_ids"]) for p in range(len(prompts))}
        rows.sort(key=lambda r: (lengths[r[0]], r))
        out: list[list[str]] = [[""] * sampling.n for _ in prompts]
        generated = 0
        with self._lock, torch.inference_mode():
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                encoded = tokenizer([prompts[p] for p, _ in chunk], return_tensors="pt", padding=True,
                                    add_special_tokens=False)
                width = encoded["input_ids"].shape[1]
                torch.manual_seed(sampling.seed + start)
                greedy = sampling.temperature <= 0
                outputs = model.generate(
                    **encoded,
                    max_new_tokens=sampling.max_new_tokens,
                    do_sample=not greedy,
                    temperature=None if greedy else sampling.temperature,
                    top_p=None if greedy else sampling.top_p,
                    top_k=None,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    stopping_criteria=_stop_rule(tokenizer, width, sampling.stop) if sampling.stop else None,
                )
                for (p, s), ids in zip(chunk, outputs, strict=True):
                    new = ids[width:]
                    generated += int((new != tokenizer.pad_token_id).sum())
                    out[p][s] = cut_at_stop(tokenizer.decode(new, skip_special_tokens=True), sampling.stop)
                if on_batch:
                    on_batch(min(start + self.batch_size, len(rows)), len(rows))
        return out, generated


def timed_generate(generator: Generator, name: str, prompts: list[str], sampling: Sampling):
    """(completions, tokens, seconds) — the figures the server reports with each reply."""
    start = time.perf_counter()
    completions, tokens = generator.generate(name, prompts, sampling)
    return completions, tokens, time.perf_counter() - start
