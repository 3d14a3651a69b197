"""Completions from loaded checkpoints: prompts x n samples through the continuous-batching scheduler.

`Generator` holds models by name (one per arm), checks requests against the server's limits, and
hands them to one `Scheduler`, whose thread batches the rows of every in-flight request together.
A sample depends only on (model, prompt, settings, seed, prompt index, sample index), never on the
batch it ran in; see decoder.py and sampling.py for how.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from commentslab.services.common.errors import InputError
from commentslab.services.common.models import cuda_bf16, dtype_name, load_checkpoint
from commentslab.services.serving import metrics
from commentslab.services.serving.checkpoints import local_checkpoint
from commentslab.services.serving.decoder import Decoder
from commentslab.services.serving.sampling import Limits, Sampling, check_request, cut_at_stop
from commentslab.services.serving.scheduler import Chunk, Model, Request, Scheduler

__all__ = ["Chunk", "Generator", "Limits", "Sampling", "UnknownModel", "cut_at_stop", "default_device"]


class UnknownModel(InputError):
    """A request for a model name that is not loaded."""


def default_device() -> str:
    """cuda when a GPU is visible, else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Generator:
    """Holds models by name and generates completions from them, batching concurrent requests."""

    def __init__(self, max_batch: int = 16, limits: Limits | None = None, device: str | None = None,
                 dtype: str | None = None, batch_wait: float = 0.002):
        import torch

        self.device = device or default_device()
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError("device", f"{self.device} was asked for but no CUDA device is visible; use cpu")
        self.dtype = getattr(torch, dtype_name(dtype or "auto", self.device, cuda_bf16()))
        self.limits = limits or Limits()
        self.scheduler = Scheduler(max_batch, batch_wait)
        self._models: dict[str, Model] = {}
        self._lock = threading.Lock()

    @property
    def max_batch(self) -> int:
        """Rows decoded together at most."""
        return self.scheduler.max_batch

    @max_batch.setter
    def max_batch(self, value: int) -> None:
        self.scheduler.max_batch = max(1, value)

    def load(self, name: str, checkpoint: str | Path) -> int:
        """Load a checkpoint (a path, file:// or az:// URI) under `name`; returns its parameter count."""
        if not name:
            raise InputError("name", "is empty; name the arm the checkpoint serves, e.g. control")
        model, tokenizer = load_checkpoint(local_checkpoint(checkpoint))
        return self.add(name, model, tokenizer)

    def add(self, name: str, model, tokenizer) -> int:
        """Serve an already built causal LM under `name` (moved to this generator's device and dtype)."""
        model = model.to(device=self.device, dtype=self.dtype).eval()
        eos = model.generation_config.eos_token_id if model.generation_config else None
        eos = {eos} if isinstance(eos, int) else set(eos or ())
        if tokenizer.eos_token_id is not None:
            eos.add(tokenizer.eos_token_id)
        loaded = Model(name, Decoder(model), tokenizer, frozenset(eos))
        with self._lock:
            self._models[name] = loaded
            metrics.LOADED_MODELS.set(len(self._models))
        return sum(p.numel() for p in model.parameters())

    def names(self) -> list[str]:
        """Names of the loaded models."""
        return sorted(self._models)

    def submit(self, name: str, prompts: list[str], sampling: Sampling) -> Request:
        """Check and queue a request; its `Chunk`s (then None) arrive on `request.events`."""
        model = self._models.get(name)
        if model is None:
            raise UnknownModel(name or "model", "no model of that name is loaded "
                                                f"(loaded: {', '.join(self.names()) or 'none'})")
        check_request(prompts, sampling, self.limits)
        ids = [model.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        for index, prompt in enumerate(ids):
            if not prompt:
                raise InputError(f"prompts[{index}]", "has no tokens")
            if len(prompt) >= model.decoder.context:
                raise InputError(f"prompts[{index}]", f"has {len(prompt)} tokens; the model's context is "
                                                      f"{model.decoder.context}; shorten it")
        return self.scheduler.submit(Request(model, ids, sampling))

    def stream(self, request: Request, timeout: float | None = None) -> Iterator[Chunk]:
        """The chunks of a submitted request as the loop produces them."""
        while (event := request.events.get(timeout=timeout)) is not None:
            if isinstance(event, Exception):
                raise RuntimeError(f"generation failed: {event}") from event
            yield event

    def generate(self, name: str, prompts: list[str], sampling: Sampling) -> tuple[list[list[str]], int]:
        """(`n` completions per prompt in request order, tokens generated)."""
        request = self.submit(name, prompts, sampling)
        return self.collect(request)[0], request.tokens

    def collect(self, request: Request) -> tuple[list[list[str]], list[list[str]]]:
        """Wait for a submitted request: (completions, finish reasons), n per prompt, in request order."""
        texts = [[""] * request.sampling.n for _ in request.prompts]
        reasons = [[""] * request.sampling.n for _ in request.prompts]
        for chunk in self.stream(request):
            texts[chunk.prompt_index][chunk.sample_index] += chunk.text
            if chunk.done:
                reasons[chunk.prompt_index][chunk.sample_index] = chunk.finish_reason
        return texts, reasons

    def close(self) -> None:
        """Stop the decode loop."""
        self.scheduler.stop()
