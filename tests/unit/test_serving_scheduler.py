"""The model server core: continuous batching, batch-invariant samples, stop sequences, streaming, cancellation,
and the requests it refuses."""

from __future__ import annotations

import time

import pytest
import torch
from prometheus_client import REGISTRY

from commentslab.services.common.config import load_config
from commentslab.services.common.errors import InputError
from commentslab.services.common.models import (
    build_base_model,
    load_checkpoint,
    load_tokenizer,
    save_checkpoint,
)
from commentslab.services.serving.checkpoints import CheckpointNotFound
from commentslab.services.serving.decoder import Decoder
from commentslab.services.serving.generate import Generator, Limits, Sampling, UnknownModel
from commentslab.services.serving.sampling import choose_tokens, cut_at_stop, held_back

PROMPTS = ["def add(a, b):\n", "def is_prime(n):\n    '''True for primes.'''\n    ", "x = ",
           "import os\nimport sys\n\n\nclass Config:\n    def __init__(self, path):\n        "]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """The smoke profile's tiny Llama, saved as the trainer saves a checkpoint."""
    cfg = load_config("smoke").model
    tokenizer = load_tokenizer(cfg)
    return save_checkpoint(build_base_model(cfg, len(tokenizer), seed=11), tokenizer,
                           tmp_path_factory.mktemp("tiny") / "checkpoint", cfg, "full")


@pytest.fixture(scope="module")
def gen(tiny_checkpoint):
    generator = Generator(max_batch=16, device="cpu")
    generator.load("tiny", tiny_checkpoint)
    yield generator
    generator.close()


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_rows_logits_are_bitwise_the_same_alone_and_beside_rows_of_other_lengths(tiny_checkpoint):
    model, tokenizer = load_checkpoint(tiny_checkpoint)
    decoder = Decoder(model)
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    assert len({len(i) for i in ids}) == len(ids)  # every prompt a different length

    def decode(n_target: int, others: list[tuple[int, int]]) -> list[torch.Tensor]:
        """Logits of sample `n_target - 1` of prompt 1 over 5 steps, fed the same tokens each time."""
        groups = [decoder.group(decoder.prefill(ids[1]), list(range(n_target)), 16)]
        groups += [decoder.group(decoder.prefill(ids[p]), list(range(n)), 16) for p, n in others]
        seen = []
        for step in range(5):
            tokens = [100 + step + 7 * r for g in groups for r in range(len(g.rows))]
            tokens[n_target - 1] = 500 + step
            seen.append(decoder.step(groups, tokens)[n_target - 1].clone())
        return seen

    alone = decode(1, [])
    for n_target, others in [(1, [(0, 3), (2, 1)]), (1, [(3, 9)]), (3, [(0, 2), (2, 5), (3, 1)]), (8, []),
                             (2, [(3, 16), (0, 13)])]:
        beside = decode(n_target, others)
        assert all(torch.equal(a, b) for a, b in zip(alone, beside, strict=True)), (n_target, others)


def test_the_decoder_matches_the_models_own_forward_pass(tiny_checkpoint):
    model, tokenizer = load_checkpoint(tiny_checkpoint)
    decoder = Decoder(model)
    ids = tokenizer(PROMPTS[3], add_special_tokens=False)["input_ids"]
    prefill = decoder.prefill(ids)
    group = decoder.group(prefill, [0], 8)
    fed = [101, 202, 303]
    steps = [decoder.step([group], [t])[0] for t in fed]
    with torch.inference_mode():
        reference = model(torch.tensor([ids + fed])).logits[0, len(ids) - 1:].float()
    torch.testing.assert_close(torch.stack([prefill.logits, *steps]), reference, rtol=1e-4, atol=1e-4)


def run_together(gen: Generator, requests: list[tuple[list[str], Sampling]]) -> list[list[list[str]]]:
    """Submit every request before collecting any, so the loop batches them together."""
    jobs = [gen.submit("tiny", prompts, sampling) for prompts, sampling in requests]
    return [gen.collect(job)[0] for job in jobs]


@pytest.mark.parametrize("temperature", [0.8, 0.0])
def test_a_seeded_request_gives_the_same_samples_alone_in_a_mixed_batch_and_at_max_batch_1(gen, temperature):
    target = (PROMPTS[:2], Sampling(n=3, temperature=temperature, top_p=0.95, max_new_tokens=10, seed=42))
    others = [([PROMPTS[(i + 2) % 4] * (i % 3 + 1)], Sampling(n=i % 3 + 1, temperature=0.7, top_p=0.9,
                                                              max_new_tokens=6 + i, seed=i)) for i in range(7)]
    gen.max_batch = 16
    alone = gen.generate("tiny", *target)[0]
    steps, small = metric("commentslab_model_server_batch_size_count"), metric(
        "commentslab_model_server_batch_size_bucket", le="8.0")
    mixed = run_together(gen, [others[0], others[1], others[2], target, *others[3:]])[3]
    big_steps = (metric("commentslab_model_server_batch_size_count") - steps) - (
        metric("commentslab_model_server_batch_size_bucket", le="8.0") - small)
    assert big_steps > 0  # the 8 requests really shared steps of more than 8 rows
    gen.max_batch = 1
    try:
        one_row = gen.generate("tiny", *target)[0]
    finally:
        gen.max_batch = 16
    assert alone == mixed == one_row
    assert [len(s) for s in alone] == [3, 3]
    if temperature > 0:
        assert len(set(alone[0])) > 1  # samples of one prompt differ from each other
        other_seed = gen.generate("tiny", target[0], Sampling(3, temperature, 0.95, 10, (), seed=43))[0]
        assert other_seed != alone
    else:
        assert len(set(alone[0])) == 1  # greedy: every sample the same


def test_stop_sequences_end_a_sample_where_they_first_appear(gen):
    free = Sampling(n=2, temperature=0.8, max_new_tokens=16, seed=7)
    texts, reasons = gen.collect(gen.submit("tiny", [PROMPTS[0]], free))
    assert reasons == [["length", "length"]]
    stop = (texts[0][0][6:9], texts[0][1][4:6])
    cut, cut_reasons = gen.collect(gen.submit("tiny", [PROMPTS[0]], Sampling(2, 0.8, 1.0, 16, stop, seed=7)))
    assert cut[0] == [cut_at_stop(t, stop) for t in texts[0]]
    assert cut_reasons == [["stop", "stop"]]
    assert len(cut[0][0]) <= 6 and len(cut[0][1]) <= 4


def test_n_samples_per_prompt_respect_max_new_tokens_and_count_their_tokens(gen, tiny_checkpoint):
    tokenizer = load_tokenizer(load_config("smoke").model)
    job = gen.submit("tiny", PROMPTS[:3], Sampling(n=5, temperature=1.0, max_new_tokens=7, seed=1))
    chunks = list(gen.stream(job))
    done = [c for c in chunks if c.done]
    assert sorted((c.prompt_index, c.sample_index) for c in done) == [(p, s) for p in range(3) for s in range(5)]
    assert all(c.finish_reason in {"length", "eos"} for c in done)
    assert job.tokens == sum(c.generated_tokens for c in done) <= 3 * 5 * 7
    texts = gen.collect(gen.submit("tiny", PROMPTS[:3], Sampling(n=5, temperature=1.0, max_new_tokens=7, seed=1)))[0]
    assert all(len(tokenizer(t, add_special_tokens=False)["input_ids"]) <= 8 for ts in texts for t in ts)
    assert all(len(set(ts)) == 5 for ts in texts)


def test_streamed_deltas_concatenate_to_the_unary_result(gen):
    sampling = Sampling(n=2, temperature=0.9, top_p=0.9, max_new_tokens=12, stop=("\n\n", "ing"), seed=3)
    unary, reasons = gen.collect(gen.submit("tiny", PROMPTS, sampling))
    streamed = [[""] * 2 for _ in PROMPTS]
    finished = set()
    for chunk in gen.stream(gen.submit("tiny", PROMPTS, sampling)):
        key = (chunk.prompt_index, chunk.sample_index)
        assert key not in finished  # nothing after a sample's last chunk
        assert chunk.text or chunk.done
        streamed[chunk.prompt_index][chunk.sample_index] += chunk.text
        if chunk.done:
            finished.add(key)
            assert chunk.finish_reason == reasons[chunk.prompt_index][chunk.sample_index]
    assert streamed == unary and len(finished) == 2 * len(PROMPTS)


def test_held_back_text_waits_for_unfinished_characters_and_stop_prefixes():
    assert held_back("abc\n", ("\ndef ",)) == 1
    assert held_back("abc\nde", ("\ndef ", "\n#")) == 3
    assert held_back("abc\ufffd", ()) == 1
    assert held_back("abc", ("\ndef ",)) == 0


def test_top_p_keeps_the_smallest_nucleus_and_greedy_takes_the_argmax():
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.3, 0.0001], [0.1, 0.6, 0.3, 0.0001]]))
    draws = {choose_tokens(logits[:1], [1.0], [0.5], [u])[0] for u in (0.0, 0.3, 0.7, 0.999)}
    assert draws == {1}  # 0.6 alone reaches top_p 0.5
    draws = {choose_tokens(logits[:1], [1.0], [0.8], [u])[0] for u in (0.0, 0.3, 0.7, 0.999)}
    assert draws == {1, 2}
    assert choose_tokens(logits, [0.0, 1.0], [1.0, 1.0], [0.0, 0.05])[0] == 1
    assert choose_tokens(logits, [0.0, 1.0], [1.0, 1.0], [0.0, 0.05])[1] == 0  # 0.05 falls in token 0's 0.1


def test_cancelling_a_request_removes_its_rows_and_the_others_complete(gen):
    other = ([PROMPTS[2]], Sampling(n=2, temperature=0.8, max_new_tokens=40, seed=9))
    expected = gen.generate("tiny", *other)[0]
    before = metric("commentslab_model_server_cancelled_requests_total", reason="cancelled")
    long = gen.submit("tiny", PROMPTS[:2], Sampling(n=4, temperature=0.8, max_new_tokens=2000, seed=1))
    kept = gen.submit("tiny", *other)
    first = next(gen.stream(long))
    assert first.text or first.done
    long.cancel()
    start = time.perf_counter()
    rest = list(gen.stream(long, timeout=30))
    assert time.perf_counter() - start < 10
    assert not any(c.done for c in rest)  # cut off, not finished
    assert gen.collect(kept)[0] == expected
    assert metric("commentslab_model_server_cancelled_requests_total", reason="cancelled") == before + 1
    deadline = time.time() + 5
    while gen.scheduler.active_rows() and time.time() < deadline:
        time.sleep(0.01)
    assert gen.scheduler.active_rows() == 0


@pytest.mark.parametrize("prompts, sampling, field", [
    ([], Sampling(), "prompts"),
    ([""], Sampling(), "prompts[0]"),
    (["x"], Sampling(n=101), "n"),
    (["x"], Sampling(n=-1), "n"),
    (["x"], Sampling(max_new_tokens=4097), "max_new_tokens"),
    (["x"], Sampling(temperature=2.5), "temperature"),
    (["x"], Sampling(temperature=-0.1), "temperature"),
    (["x"], Sampling(top_p=1.5), "top_p"),
    (["x"], Sampling(top_p=0.0), "top_p"),
    (["x"], Sampling(stop=("",)), "stop"),
    (["word " * 2100], Sampling(), "prompts[0]"),
])
def test_requests_outside_the_servers_limits_are_refused_naming_the_field(gen, prompts, sampling, field):
    gen.limits = Limits(max_n=100, max_new_tokens=4096)
    with pytest.raises(InputError) as caught:
        gen.submit("tiny", prompts, sampling)
    assert caught.value.path == field


def test_unknown_models_and_bad_checkpoints_are_refused(gen, tmp_path):
    with pytest.raises(UnknownModel, match="no model of that name is loaded .loaded: tiny"):
        gen.submit("control", ["x"], Sampling())
    with pytest.raises(CheckpointNotFound, match="does not exist"):
        gen.load("control", tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "config.json").write_text("{}")
    with pytest.raises(InputError, match="not a commentslab checkpoint"):
        gen.load("control", (tmp_path / "plain").as_uri())
    assert gen.names() == ["tiny"]
