"""Sequence packing: examples share a row without attending to each other, and the loss stays on
completion tokens only, equal to the unpacked loss."""

import pytest
import torch

from services.common.config import load_config
from services.common.models import build_base_model, load_tokenizer
from services.trainer.data import IGNORE, DataOrder, collate, collate_packed, encode_example, pack_rows

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
    examples = [encode_example(tokenizer, p, c, 64) for p, c in PAIRS]
    return model, tokenizer, examples


def _token_losses(model, batch) -> torch.Tensor:
    """Per-position loss of predicting labels[t] from position t-1 (NaN where not a label), shape (B, T)."""
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.model_kwargs().items() if k != "labels"}).logits.float()
    labels = batch.labels[:, 1:]
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels.clamp(min=0), reduction="none")
    out = torch.full(batch.labels.shape, float("nan"))
    out[:, 1:] = torch.where(labels != IGNORE, losses, torch.tensor(float("nan")))
    return out


def test_packing_fills_rows_up_to_the_length_and_keeps_the_order():
    assert pack_rows([5, 4, 3, 8, 1], [0, 1, 2, 3, 4], max_len=10) == [[0, 1], [2], [3, 4]]
    assert pack_rows([10, 10], [1, 0], max_len=10) == [[1], [0]]


def test_packed_rows_restart_positions_and_label_only_completions(tiny):
    _, tokenizer, examples = tiny
    batch = collate_packed([examples[:2], examples[2:]], tokenizer.pad_token_id)
    first, second = (len(ids) for ids, _ in examples[:2])
    positions = batch.position_ids[0].tolist()
    assert positions[:first] == list(range(first)) and positions[first : first + second] == list(range(second))
    # Each example's first token is never a label: nothing before it in its own sequence predicts it.
    assert batch.labels[0, 0] == IGNORE and batch.labels[0, first] == IGNORE
    completion_labels = sum(sum(1 for x in labels[1:] if x != IGNORE) for _, labels in examples)
    assert batch.label_tokens == completion_labels
    assert batch.tokens == sum(len(ids) for ids, _ in examples)
    assert "attention_mask" not in batch.model_kwargs() and batch.model_kwargs()["use_cache"] is False


def test_the_packed_loss_equals_the_unpacked_loss_of_each_example(tiny):
    model, tokenizer, examples = tiny
    packed = collate_packed([examples], tokenizer.pad_token_id)
    packed_losses = _token_losses(model, packed)[0]
    at = 0
    for example in examples:
        alone = _token_losses(model, collate([example], tokenizer.pad_token_id))[0]
        n = len(example[0])
        mine = packed_losses[at : at + n]
        assert torch.equal(mine.isnan(), alone.isnan())
        torch.testing.assert_close(mine[~mine.isnan()], alone[~alone.isnan()], atol=1e-4, rtol=1e-4)
        at += n
    # The model's own (mean) loss matches the padded unpacked batch's, with or without padding in the row.
    with torch.no_grad():
        unpacked = model(**collate(examples, tokenizer.pad_token_id).model_kwargs()).loss
        one_row = model(**packed.model_kwargs()).loss
        two_rows = model(**collate_packed([examples[:3], examples[3:]], tokenizer.pad_token_id).model_kwargs()).loss
        # Without the position reset the examples see each other and the loss moves: the test can fail.
        leaky = model(input_ids=packed.input_ids, labels=packed.labels).loss
    torch.testing.assert_close(one_row, unpacked, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(two_rows, unpacked, atol=1e-5, rtol=1e-5)
    assert abs(float(leaky) - float(unpacked)) > 1e-4


def test_the_data_order_resumes_where_it_stopped():
    order = DataOrder(5, seed=7)
    order.take(3)
    saved = order.state()
    expected = [order.take(4) for _ in range(3)]
    again = DataOrder(5, seed=7)
    again.restore(saved)
    assert [again.take(4) for _ in range(3)] == expected


def test_a_packed_smoke_training_runs(tmp_path, humaneval_records):
    from services.splitter.split import split_records
    from services.trainer.train import train_arm

    split_records(humaneval_records, tmp_path, seed=3)
    cfg = load_config("smoke", ["train.steps=2", "train.packing=true", "train.system_metrics=false"])
    outcome = train_arm(tmp_path / "datasets" / "control", "control", tmp_path / "arm", cfg,
                        f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert outcome.steps == 2 and outcome.history[0]["tokensPerSecond"] > 0
