"""Vote statistics at scale: the vectorised Bradley-Terry fit and bootstrap against their definitions, the
summary cached per vote count, the Wilson interval from SciPy."""

import random

import pytest

from commentslab.services.gateway import preference
from commentslab.services.gateway.preference import (
    Vote,
    bradley_terry,
    bradley_terry_intervals,
    summarise,
    wilson_interval,
)

ARMS = ["control", "experiment", "placebo"]


def _votes(n: int, seed: int = 5) -> list[Vote]:
    """``n`` votes over the three arms' pairings, experiment usually preferred, some ties and "both bad"."""
    rng = random.Random(seed)
    pairings = [("experiment", "control"), ("placebo", "control"), ("experiment", "placebo")]
    votes = []
    for i in range(n):
        first, second = pairings[i % 3]
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        roll = rng.random()
        if roll < 0.1:
            choice = "tie"
        elif roll < 0.15:
            choice = "both_bad"
        else:
            winner = first if roll < 0.7 else second
            choice = "A" if winner == left else "B"
        votes.append(Vote(f"r{i % 7}", f"p{i}", left, right, choice))
    return votes


def _wins_and_games(votes: list[Vote], arms: list[str]) -> tuple[dict, dict]:
    """Wins (a tie half to each side) and games per ordered arm pair, with the fit's prior of half a win
    each way: the data the Bradley-Terry likelihood sees."""
    wins = {(a, b): 0.5 for a in arms for b in arms if a != b}
    games = {(a, b): 1.0 for a in arms for b in arms if a != b}
    for v in votes:
        if v.choice == "both_bad":
            continue
        games[v.left_arm, v.right_arm] += 1
        games[v.right_arm, v.left_arm] += 1
        if v.choice == "tie":
            wins[v.left_arm, v.right_arm] += 0.5
            wins[v.right_arm, v.left_arm] += 0.5
        else:
            winner = v.winner()
            wins[winner, v.right_arm if winner == v.left_arm else v.left_arm] += 1
    return wins, games


def test_bradley_terry_strengths_solve_the_likelihood_equations():
    # At the maximum-likelihood strengths each arm's expected wins equal its observed wins (Zermelo's equations).
    votes = _votes(900)
    strength = bradley_terry(votes, ARMS)
    wins, games = _wins_and_games(votes, ARMS)
    for i in ARMS:
        observed = sum(wins[i, j] for j in ARMS if j != i)
        expected = sum(games[i, j] * strength[i] / (strength[i] + strength[j]) for j in ARMS if j != i)
        assert expected == pytest.approx(observed, rel=1e-6)
    assert sum(strength.values()) == pytest.approx(1.0)
    assert strength["experiment"] > strength["placebo"] > strength["control"]


def test_bootstrap_matches_resampling_the_votes_one_by_one():
    # The definition: resample the votes with replacement, refit, take the 2.5th and 97.5th percentiles.
    votes = _votes(300)
    rng = random.Random(11)
    fits = [bradley_terry([rng.choice(votes) for _ in votes], ARMS, iterations=100) for _ in range(400)]
    intervals = bradley_terry_intervals(votes, ARMS, resamples=400, seed=3)
    for arm in ARMS:
        draws = sorted(fit[arm] for fit in fits)
        low, high = draws[int(0.025 * 399)], draws[int(0.975 * 399)]
        assert intervals[arm]["low"] == pytest.approx(low, abs=0.02)
        assert intervals[arm]["high"] == pytest.approx(high, abs=0.02)
        assert intervals[arm]["low"] < intervals[arm]["strength"] < intervals[arm]["high"]


def test_bootstrap_is_reproducible_for_a_seed():
    votes = _votes(200)
    assert bradley_terry_intervals(votes, ARMS, seed=1) == bradley_terry_intervals(votes, ARMS, seed=1)


def test_summary_is_computed_once_per_vote_count(monkeypatch):
    calls = []
    compute = preference._summarise
    monkeypatch.setattr(preference, "_summarise", lambda votes, arms: calls.append(len(votes)) or compute(votes, arms))
    votes = _votes(60, seed=9)
    first = summarise(votes, ARMS)
    again = summarise(list(votes), ARMS)
    assert again == first and calls == [60]
    more = summarise([*votes, Vote("r9", "p-new", "experiment", "control", "A")], ARMS)
    assert more["votes"] == 61 and calls == [60, 61]
    assert summarise(votes[:30], ARMS)["votes"] == 30 and calls == [60, 61, 30]


def test_a_summary_handed_out_cannot_change_the_cached_one():
    votes = _votes(40, seed=13)
    summarise(votes, ARMS)["votes"] = -1
    assert summarise(votes, ARMS)["votes"] == 40


def test_wilson_interval_of_no_trials_is_everything():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def _flagged_by_definition(votes: list[Vote]) -> list[str]:
    """random_looking_reviewers' first sign as its docstring defines it, vote by vote: agreement with the
    majority outcome of the others on each shared pair (a tie: the outcome they chose first)."""
    from collections import Counter

    from scipy.stats import binomtest

    flagged = []
    for reviewer in sorted({v.reviewer for v in votes}):
        agree = shared = 0
        for vote in (v for v in votes if v.reviewer == reviewer):
            others = Counter(o.outcome() for o in votes if o.pair_id == vote.pair_id and o.reviewer != reviewer)
            if others:
                shared += 1
                agree += vote.outcome() == others.most_common(1)[0][0]
        if shared >= preference.MIN_VOTES_TO_FLAG:
            p = binomtest(agree, shared, 0.25, alternative="greater").pvalue
            if p >= 0.05 and agree / shared <= 0.5:
                flagged.append(reviewer)
    return flagged


@pytest.mark.parametrize("seed", range(6))
def test_random_reviewer_check_agrees_with_its_definition(seed):
    # Few pairs, many reviewers, a near-random crowd: ties for the majority are common, and some reviewers
    # judge a pair twice (not through the store, which allows one vote per pair), the cases a shortcut gets wrong.
    rng = random.Random(seed)
    votes = []
    for _ in range(400):
        reviewer = f"r{rng.randrange(12)}"
        left, right = rng.sample(ARMS, 2)
        choice = rng.choice(["A", "A", "B", "tie", "both_bad"] if reviewer < "r6" else ["A", "B", "tie", "both_bad"])
        votes.append(Vote(reviewer, f"p{rng.randrange(25)}", left, right, choice))
    flagged = [f["reviewer"] for f in preference.random_looking_reviewers(votes) if "agrees with" in f["reasons"][0]]
    assert flagged == _flagged_by_definition(votes)
    assert flagged  # the check had something to find


def test_agreement_counts_every_two_reviewers_of_a_pair():
    votes = [Vote(r, "p1", "experiment", "control", c) for r, c in zip("abcd", ["A", "A", "B", "A"], strict=True)]
    votes += [Vote(r, "p2", "control", "experiment", c) for r, c in zip("ab", ["B", "tie"], strict=True)]
    result = preference.agreement(votes)
    # p1: 6 reviewer pairs, 3 agree (a, b, d chose experiment); p2: 1 pair, which disagrees.
    assert (result["comparisons"], result["share"], result["pairsWithSeveralReviewers"]) == (7, 3 / 7, 2)
