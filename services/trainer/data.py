"""Examples to tensors: completion-only labels, padded batches, packed rows, and the seeded data order.

Packing puts several examples in one row of at most max_seq_len tokens. Each example's position ids
restart at 0 and the batch goes to the model with no 2D attention mask and no cache: transformers
(masking_utils.find_packed_sequence_indices) then builds a block-diagonal causal mask from the position
ids for eager and SDPA attention, and flash-attention 2 uses them as variable-length sequences, so no
example attends to another. The first token of each example gets no label, as in an unpacked row, where
the shift of causal-LM labels never predicts position 0.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

IGNORE = -100


def encode_example(tokenizer, prompt: str, completion: str, max_len: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) with prompt tokens masked (-100), cut from the left to keep the completion."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    completion_ids = completion_ids[:max_len]
    prompt_ids = prompt_ids[-(max_len - len(completion_ids)) :] if max_len > len(completion_ids) else []
    ids = prompt_ids + completion_ids
    labels = [IGNORE] * len(prompt_ids) + completion_ids
    return ids, labels


@dataclass
class Batch:
    """Model inputs for one micro-batch; `tokens` counts real (non-padding) tokens."""

    input_ids: object
    labels: object
    tokens: int
    attention_mask: object | None = None
    position_ids: object | None = None

    @property
    def rows(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def label_tokens(self) -> int:
        return int((self.labels != IGNORE).sum())

    def to(self, device) -> Batch:
        def move(t):
            return None if t is None else t.to(device)

        return Batch(move(self.input_ids), move(self.labels), self.tokens, move(self.attention_mask),
                     move(self.position_ids))

    def model_kwargs(self) -> dict:
        kwargs = {"input_ids": self.input_ids, "labels": self.labels}
        if self.position_ids is not None:
            # Packed: no 2D mask and no cache, so the model derives the block-diagonal mask from position ids.
            kwargs.update(position_ids=self.position_ids, use_cache=False)
        else:
            kwargs["attention_mask"] = self.attention_mask
        return kwargs


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    """Right-padded tensors: input_ids, attention_mask, labels."""
    import torch

    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return Batch(input_ids, labels, int(mask.sum()), attention_mask=mask)


def pack_rows(lengths: list[int], order: list[int], max_len: int) -> list[list[int]]:
    """Greedy packing in `order`: consecutive examples share a row while their tokens fit in max_len."""
    rows: list[list[int]] = []
    used = max_len + 1
    for index in order:
        if used + lengths[index] > max_len:
            rows.append([])
            used = 0
        rows[-1].append(index)
        used += lengths[index]
    return rows


def collate_packed(rows: list[list[tuple[list[int], list[int]]]], pad_id: int) -> Batch:
    """Packed rows: examples back to back, position ids restarting at 0 for each example and for the padding."""
    import torch

    width = max(sum(len(ids) for ids, _ in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    tokens = 0
    for r, row in enumerate(rows):
        at = 0
        for ids, labs in row:
            n = len(ids)
            input_ids[r, at : at + n] = torch.tensor(ids)
            labels[r, at : at + n] = torch.tensor(labs)
            labels[r, at] = IGNORE  # never predicted from the previous example's last token
            positions[r, at : at + n] = torch.arange(n)
            at += n
        tokens += at
        # Padding is one more "example" of its own (positions from 0): nothing real attends to it.
        positions[r, at:] = torch.arange(width - at)
    return Batch(input_ids, labels, tokens, position_ids=positions)


class DataOrder:
    """The seeded order of training units (examples, or packed rows of examples) across epochs.

    Each epoch is a fresh shuffle from one seeded generator, appended to what is left, so a batch may
    span two epochs; the arms share the order. Its state (generator, queue, epoch) is part of a
    resumable checkpoint.
    """

    def __init__(self, units: int, seed: int):
        self.units = units
        self.rng = random.Random(seed)
        self.queue: list[int] = []
        self.epochs_started = 0

    def take(self, count: int) -> list[int]:
        while len(self.queue) < count:
            fresh = list(range(self.units))
            self.rng.shuffle(fresh)
            self.queue.extend(fresh)
            self.epochs_started += 1
        picked, self.queue = self.queue[:count], self.queue[count:]
        return picked

    def state(self) -> dict:
        return {"rng": self.rng.getstate(), "queue": list(self.queue), "epochs_started": self.epochs_started}

    def restore(self, state: dict) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.queue = list(state["queue"])
        self.epochs_started = state["epochs_started"]
