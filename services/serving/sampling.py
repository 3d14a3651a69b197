"""Decoding settings, their limits, and the choice of each row's next token.

Reproducibility: a row's randomness comes from its own `random.Random`, seeded from (request seed,
prompt index, sample index) and drawn once per sampled token, so it never depends on the batch. The
sampling maths runs in float64 on each row's float32 logits (which the decoder keeps batch-invariant).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from commentslab.services.common.errors import InputError

MAX_TEMPERATURE = 2.0


@dataclass(frozen=True)
class Sampling:
    """Decoding settings of one request."""

    n: int = 1
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    max_new_tokens: int = 128
    stop: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Limits:
    """What one server accepts per request (flags of `python -m commentslab.services.serving`)."""

    max_n: int = 100
    max_new_tokens: int = 2048
    max_prompts: int = 4096
    max_stop: int = 16


def check_request(prompts: list[str], sampling: Sampling, limits: Limits) -> None:
    """Raise InputError naming the field at fault when a request is outside what the server serves."""
    if not prompts:
        raise InputError("prompts", "is empty; send at least one prompt")
    if len(prompts) > limits.max_prompts:
        raise InputError("prompts", f"{len(prompts)} prompts is over the server's limit of {limits.max_prompts}; "
                                    "split the request")
    for index, prompt in enumerate(prompts):
        if not prompt:
            raise InputError(f"prompts[{index}]", "is empty; a prompt needs at least one token")
    if not 1 <= sampling.n <= limits.max_n:
        raise InputError("n", f"{sampling.n} is outside 1..{limits.max_n} (the server's --max-n)")
    if not 1 <= sampling.max_new_tokens <= limits.max_new_tokens:
        raise InputError("max_new_tokens", f"{sampling.max_new_tokens} is outside 1..{limits.max_new_tokens} "
                                           "(the server's --max-new-tokens)")
    if not 0.0 <= sampling.temperature <= MAX_TEMPERATURE:
        raise InputError("temperature", f"{sampling.temperature} is outside 0..{MAX_TEMPERATURE} (0 is greedy)")
    if not 0.0 < sampling.top_p <= 1.0:
        raise InputError("top_p", f"{sampling.top_p} is outside (0, 1]")
    if len(sampling.stop) > limits.max_stop:
        raise InputError("stop", f"{len(sampling.stop)} stop sequences is over the limit of {limits.max_stop}")
    if any(s == "" for s in sampling.stop):
        raise InputError("stop", "holds an empty string, which would stop every sample at once")


def row_random(seed: int, prompt_index: int, sample_index: int) -> random.Random:
    """The random stream of one (prompt, sample) row of a request."""
    return random.Random(f"commentslab:{seed}:{prompt_index}:{sample_index}")


def choose_tokens(logits: torch.Tensor, temperatures: list[float], top_ps: list[float],
                  uniforms: list[float]) -> list[int]:
    """Next token per row of `logits` [rows, vocab]: argmax where temperature is 0, else a draw.

    A draw takes the smallest set of most likely tokens whose probability reaches top_p (the nucleus),
    renormalises it, and picks the token where the row's uniform falls in its cumulative sum (inverse
    CDF), so one uniform per row and token decides the sample.
    """
    chosen = logits.argmax(dim=-1).tolist()
    sampled = [i for i, t in enumerate(temperatures) if t > 0]
    if not sampled:
        return chosen
    index = torch.tensor(sampled, device=logits.device)
    temps = torch.tensor([temperatures[i] for i in sampled], dtype=torch.float64, device=logits.device)
    probs = torch.softmax(logits.index_select(0, index).double() / temps[:, None], dim=-1)
    top_p = torch.tensor([top_ps[i] for i in sampled], dtype=torch.float64, device=logits.device)
    u = torch.tensor([uniforms[i] for i in sampled], dtype=torch.float64, device=logits.device)
    if bool((top_p < 1.0).any()):
        probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of the more likely tokens
        probs = torch.where(before < top_p[:, None], probs, torch.zeros_like(probs))
    else:
        order = None
    cumulative = torch.cumsum(probs, dim=-1)
    target = (u * cumulative[:, -1])[:, None]
    picks = torch.searchsorted(cumulative, target, right=True).clamp_(max=probs.shape[-1] - 1)
    # searchsorted can land on a zero-probability tail token when u * total rounds to the total
    picks = torch.minimum(picks, (probs > 0).sum(dim=-1, keepdim=True) - 1) if order is not None else picks
    tokens = order.gather(-1, picks) if order is not None else picks
    for row, token in zip(sampled, tokens[:, 0].tolist(), strict=True):
        chosen[row] = token
    return chosen


def stop_index(text: str, stop: tuple[str, ...], start: int = 0) -> int | None:
    """Index of the earliest stop sequence in `text` at or after `start`, or None."""
    found = [i for s in stop if (i := text.find(s, start)) != -1]
    return min(found) if found else None


def cut_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """`text` up to (not including) the earliest stop sequence."""
    index = stop_index(text, tuple(stop))
    return text if index is None else text[:index]


def held_back(text: str, stop: tuple[str, ...]) -> int:
    """How many trailing characters of `text` must wait before streaming: an unfinished UTF-8 character
    (decoded as U+FFFD) or the start of a stop sequence that the next token may complete."""
    hold = len(text) - len(text.rstrip("\ufffd"))
    for s in stop:
        for size in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:size]):
                hold = max(hold, size)
                break
    return hold
