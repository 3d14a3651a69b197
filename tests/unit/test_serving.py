"""Model server core on a checkpoint the trainer wrote: n samples per prompt, stop sequences, reproducibility."""

import pytest

from commentslab.services.common.config import load_config
from commentslab.services.common.errors import InputError
from commentslab.services.serving.generate import Generator, Sampling, cut_at_stop
from commentslab.services.splitter.split import split_records
from commentslab.services.trainer.train import train_arm


@pytest.fixture(scope="module")
def trained(tmp_path_factory, humaneval_records):
    out = tmp_path_factory.mktemp("serve")
    split_records(humaneval_records, out, seed=3)
    cfg = load_config("smoke", ["train.steps=3"])
    return train_arm(out / "datasets" / "experiment", "experiment", out / "arm", cfg, f"sqlite:///{out / 'mlflow.db'}")


def test_stop_sequences_cut_at_the_earliest():
    assert cut_at_stop("    return 1\ndef g():\n#x", ["\n#", "\ndef "]) == "    return 1"
    assert cut_at_stop("abc", []) == "abc"


def test_checkpoint_serves_n_samples_per_prompt_reproducibly(trained):
    outcome = trained
    gen = Generator(max_batch=4, device="cpu")
    gen.load("experiment", outcome.checkpoint)
    sampling = Sampling(n=2, temperature=0.9, top_p=0.95, max_new_tokens=6, stop=("\n",), seed=5)
    prompts = ["def add(a, b):\n", "def is_prime(n):\n    '''True for primes.'''\n", "x = "]
    first, tokens = gen.generate("experiment", prompts, sampling)
    again, _ = gen.generate("experiment", prompts, sampling)
    assert [len(c) for c in first] == [2, 2, 2] and tokens > 0
    assert first == again
    assert all("\n" not in text for samples in first for text in samples)
    with pytest.raises(InputError, match="no model of that name is loaded"):
        gen.generate("control", prompts, sampling)


