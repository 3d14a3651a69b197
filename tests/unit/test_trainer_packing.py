"""Sequence packing as the trainer configures it (TRL's best-fit-decreasing packer and padding-free collator):
examples share a row without attending to each other, and the loss stays on completion tokens only, equal to
the unpacked loss."""

import pytest
import torch
from trl import pack_dataset
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from commentslab.services.common.config import load_config
from commentslab.services.common.models import build_base_model, load_tokenizer
from commentslab.services.trainer.data import IGNORE, sft_dataset

PAIRS = [
    ("def f(x):\n", "    return x\n"),
    ("# add two numbers\ndef add(a, b):\n", "    return a + b\n"),
    ("x = ", "1\n"),
    ("def g(items):\n    total = 0\n", "    for i in items:\n        total += i\n    return total\n"),
]


@pytest.fixture(scope="module")
def tiny():
    cfg = load_config("smoke")
    tokenizer = load_tokenizer(cfg.model)
    model = build_base_model(cfg.model, len(tokenizer), seed=5).eval()
    rows = [{"input": p, "completion": c} for p, c in PAIRS]
    return model, tokenizer, sft_dataset(rows, tokenizer, 64)


def _token_losses(model, batch: dict) -> torch.Tensor:
    """Per-position loss of predicting labels[t] from position t-1 (NaN where not a label), shape (B, T).

    Without a cache, as SFTTrainer runs the model: with one, transformers would not derive the packed mask."""
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False).logits.float()
    labels = batch["labels"][:, 1:]
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels.clamp(min=0), reduction="none")
    out = torch.full(batch["labels"].shape, float("nan"))
    out[:, 1:] = torch.where(labels != IGNORE, losses, torch.tensor(float("nan")))
    return out


def test_packing_fills_rows_up_to_the_length_and_keeps_every_example_once(tiny):
    _, _, dataset = tiny
    lengths = [len(ids) for ids in dataset["input_ids"]]
    packed = pack_dataset(dataset, seq_length=max(lengths) + 4, strategy="bfd")
    assert len(packed) < len(dataset)
    assert all(len(ids) <= max(lengths) + 4 for ids in packed["input_ids"])
    assert sorted(n for row in packed["seq_lengths"] for n in row) == sorted(lengths)


def test_packed_rows_restart_positions_and_label_only_completions(tiny):
    _, tokenizer, dataset = tiny
    packed = pack_dataset(dataset, seq_length=64, strategy="bfd")
    batch = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(list(packed))
    starts = [0]
    for row in packed["seq_lengths"]:
        for n in row:
            starts.append(starts[-1] + n)
    positions = batch["position_ids"][0].tolist()
    assert [i for i, p in enumerate(positions) if p == 0] == starts[:-1]
    # Each example's first token is never a label: nothing before it in its own sequence predicts it.
    assert all(batch["labels"][0, s] == IGNORE for s in starts[:-1])
    completion_labels = sum(sum(1 for x in labels[1:] if x != IGNORE) for labels in dataset["labels"])
    assert int((batch["labels"] != IGNORE).sum()) == completion_labels
    assert "attention_mask" not in batch  # the block-diagonal mask comes from the position ids


def test_the_packed_loss_equals_the_unpacked_loss_of_each_example(tiny):
    model, tokenizer, dataset = tiny
    examples = list(dataset)
    padding_free = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)
    padded = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)
    packed = padding_free(list(pack_dataset(dataset, seq_length=256, strategy="bfd")))
    assert packed["input_ids"].shape[0] == 1
    packed_losses = _token_losses(model, packed)[0]
    starts = (packed["position_ids"][0] == 0).nonzero().flatten().tolist() + [packed["input_ids"].shape[1]]
    alone = {}
    for example in examples:
        losses = _token_losses(model, padded([example]))[0]
        alone[tuple(example["input_ids"])] = losses
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        mine = packed_losses[a:b]
        theirs = alone[tuple(packed["input_ids"][0, a:b].tolist())]
        assert torch.equal(mine.isnan(), theirs.isnan())
        torch.testing.assert_close(mine[~mine.isnan()], theirs[~theirs.isnan()], atol=1e-4, rtol=1e-4)
    # The model's own (token-mean) loss matches the padded unpacked batch's.
    with torch.no_grad():
        unpacked = model(**padded(examples)).loss
        one_row = model(**packed, use_cache=False).loss
        # Without the position reset the examples see each other and the loss moves: the test can fail.
        leaky = model(input_ids=packed["input_ids"], labels=packed["labels"], use_cache=False).loss
    torch.testing.assert_close(one_row, unpacked, atol=1e-5, rtol=1e-5)
    assert abs(float(leaky) - float(unpacked)) > 1e-4


def test_a_packed_smoke_training_runs(tmp_path, humaneval_records):
    from commentslab.services.splitter.split import split_records
    from commentslab.services.trainer.train import train_arm

    split_records(humaneval_records, tmp_path, seed=3)
    cfg = load_config("smoke", ["train.steps=2", "train.packing=true", "train.system_metrics=false"])
    outcome = train_arm(tmp_path / "datasets" / "control", "control", tmp_path / "arm", cfg,
                        f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert outcome.steps == 2 and outcome.history[0]["tokensPerSecond"] > 0
