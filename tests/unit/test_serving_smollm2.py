"""Batch invariance and greedy parity on the real SmolLM2-135M-Instruct weights (float32, CPU)."""

from __future__ import annotations

import pytest
import torch

from commentslab.services.common.config import DEFAULT_STOP, load_config
from commentslab.services.common.models import build_base_model, load_tokenizer
from commentslab.services.serving.generate import Generator, Sampling

pytestmark = pytest.mark.slow

PROMPTS = ['def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n',
           "def is_palindrome(text: str) -> bool:\n"]
OTHERS = ["import os\n", "class Stack:\n    def __init__(self):\n", "x = [", "# sort a list of numbers\ndef "]


@pytest.fixture(scope="module")
def smollm2():
    cfg = load_config("cpu").model
    tokenizer = load_tokenizer(cfg)
    model = build_base_model(cfg, len(tokenizer), seed=0).eval()
    generator = Generator(max_batch=16, device="cpu")
    generator.add("smollm2", model, tokenizer)
    yield generator, model, tokenizer
    generator.close()


@pytest.mark.parametrize("temperature", [0.8, 0.0])
def test_smollm2_samples_do_not_depend_on_the_batch(smollm2, temperature):
    gen, _, _ = smollm2
    target = Sampling(n=2, temperature=temperature, top_p=0.95, max_new_tokens=6, seed=21)
    gen.max_batch = 16
    alone = gen.generate("smollm2", PROMPTS[:1], target)[0]
    jobs = [gen.submit("smollm2", [p], Sampling(n=1 + i % 2, temperature=0.7, max_new_tokens=3 + i, seed=i))
            for i, p in enumerate(OTHERS)]
    job = gen.submit("smollm2", PROMPTS[:1], target)
    jobs.append(gen.submit("smollm2", [OTHERS[1] * 2], Sampling(n=1, temperature=0.9, max_new_tokens=4, seed=5)))
    mixed = gen.collect(job)[0]
    for other in jobs:
        gen.collect(other)
    gen.max_batch = 1
    try:
        one_row = gen.generate("smollm2", PROMPTS[:1], target)[0]
    finally:
        gen.max_batch = 16
    assert alone == mixed == one_row
    assert all(text for samples in alone for text in samples)


def test_smollm2_greedy_completions_equal_hugging_face_generate(smollm2):
    gen, model, tokenizer = smollm2
    ours = gen.generate("smollm2", PROMPTS, Sampling(max_new_tokens=16, stop=tuple(DEFAULT_STOP)))[0]
    for prompt, (text,) in zip(PROMPTS, ours, strict=True):
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**encoded, do_sample=False, max_new_tokens=16, pad_token_id=tokenizer.pad_token_id)
        reference = tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
        cut = min([i for s in DEFAULT_STOP if (i := reference.find(s)) != -1], default=len(reference))
        assert text == reference[:cut]
