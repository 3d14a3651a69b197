"""The model server core on CUDA in bfloat16 (skips without a GPU)."""

from __future__ import annotations

import pytest
import torch

from commentslab.services.common.config import load_config
from commentslab.services.common.models import build_base_model, load_tokenizer, save_checkpoint
from commentslab.services.serving.generate import Generator, Sampling

pytestmark = pytest.mark.gpu

PROMPTS = ["def add(a, b):\n", "def is_prime(n):\n    '''True for primes.'''\n    ", "x = "]


@pytest.fixture(scope="module")
def cuda_generator(tmp_path_factory):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device; none is visible")
    cfg = load_config("smoke").model
    tokenizer = load_tokenizer(cfg)
    checkpoint = save_checkpoint(build_base_model(cfg, len(tokenizer), seed=3), tokenizer,
                                 tmp_path_factory.mktemp("gpu") / "checkpoint", cfg, "full")
    generator = Generator(max_batch=64)
    generator.load("tiny", checkpoint)
    yield generator
    generator.close()


def test_the_core_defaults_to_cuda_in_bfloat16_and_serves_n_samples(cuda_generator):
    gen = cuda_generator
    decoder = gen._models["tiny"].decoder
    assert gen.device == "cuda" and decoder.device.type == "cuda" and decoder.dtype == torch.bfloat16
    texts, reasons = gen.collect(gen.submit("tiny", PROMPTS, Sampling(n=4, temperature=0.8, top_p=0.95,
                                                                      max_new_tokens=16, seed=1)))
    assert [len(t) for t in texts] == [4, 4, 4]
    assert all(r in {"length", "eos"} for rs in reasons for r in rs)


@pytest.mark.parametrize("temperature", [0.8, 0.0])
def test_on_cuda_a_seeded_request_gives_the_same_samples_alone_and_in_a_mixed_batch(cuda_generator, temperature):
    gen = cuda_generator
    target = Sampling(n=3, temperature=temperature, top_p=0.95, max_new_tokens=12, seed=8)
    alone = gen.generate("tiny", PROMPTS[:2], target)[0]
    others = [gen.submit("tiny", [p * (i + 1)], Sampling(n=i + 1, temperature=0.7, max_new_tokens=10, seed=i))
              for i, p in enumerate(PROMPTS)]
    mixed = gen.collect(gen.submit("tiny", PROMPTS[:2], target))[0]
    for job in others:
        gen.collect(job)
    assert alone == mixed
