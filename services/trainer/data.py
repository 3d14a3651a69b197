"""An arm's rows as the tokenized dataset TRL's SFTTrainer takes: input ids and completion-only labels.

We tokenize ourselves, prompt and completion separately, because serving generates that way (the
prompt's tokens, then the model's), and because a row longer than max_seq_len must lose the start of its
prompt, never its completion. SFTTrainer keeps a `labels` column as it is, packs rows when asked (best-fit
decreasing, each example's position ids restarting at 0, so no example attends to another) and pads.
"""

from __future__ import annotations

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


def sft_dataset(rows: list[dict], tokenizer, max_len: int):
    """A `datasets.Dataset` of input_ids and labels, one example per row, in the rows' order."""
    from datasets import Dataset

    encoded = [encode_example(tokenizer, r["input"], r["completion"], max_len) for r in rows]
    return Dataset.from_dict({"input_ids": [ids for ids, _ in encoded], "labels": [labels for _, labels in encoded]})
