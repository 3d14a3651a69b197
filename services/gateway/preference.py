"""Statistics over blind A/B votes: preference share, reviewer agreement, position bias, Bradley-Terry.

A vote records which arm sat on the left (A) and on the right (B) and the reviewer's choice: ``A``,
``B``, ``tie`` or ``both_bad``. Only ``A``/``B`` votes are decisive; ties and "both bad" are counted
and reported beside the share, never dropped.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

CHOICES = ("A", "B", "tie", "both_bad")
DECISIVE = ("A", "B")
# A reviewer needs this many votes on pairs others also judged before their agreement is judged.
MIN_VOTES_TO_FLAG = 5


@dataclass(frozen=True)
class Vote:
    """One reviewer's judgement of one blind pair."""

    reviewer: str
    pair_id: str
    left_arm: str
    right_arm: str
    choice: str

    def winner(self) -> str | None:
        """The arm the reviewer preferred, or None for a tie or "both bad"."""
        if self.choice == "A":
            return self.left_arm
        return self.right_arm if self.choice == "B" else None

    def outcome(self) -> str:
        """The vote in arm terms (side-independent): the winning arm's name, ``tie`` or ``both_bad``."""
        return self.winner() or self.choice


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (SciPy's ``binomtest(...).proportion_ci``).

    With z the normal quantile and p = k/n: centre = (p + z²/2n) / (1 + z²/n), half-width =
    z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n). Returns (0, 1) when there are no trials.
    """
    if trials <= 0:
        return 0.0, 1.0
    interval = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def preference(votes: list[Vote], arm: str, other: str) -> dict:
    """How often ``arm`` beat ``other`` among decisive votes on pairs of exactly these two arms.

    Returns the counts (wins, losses, ties, bothBad), the share wins/(wins+losses) with its 95% Wilson
    interval, and the two-sided exact binomial test of share = 0.5.
    """
    counts = Counter()
    sides = ((arm, other), (other, arm))
    for vote in votes:
        if (vote.left_arm, vote.right_arm) not in sides:
            continue
        winner = vote.winner()
        counts["wins" if winner == arm else "losses" if winner == other else vote.choice] += 1
    wins, losses = counts["wins"], counts["losses"]
    decisive = wins + losses
    low, high = wilson_interval(wins, decisive)
    return {
        "arm": arm, "other": other, "wins": wins, "losses": losses, "ties": counts["tie"],
        "bothBad": counts["both_bad"], "decisive": decisive,
        "share": wins / decisive if decisive else None, "interval": {"low": low, "high": high},
        "pValue": binomtest(wins, decisive, 0.5).pvalue if decisive else None,
    }


def position_bias(votes: list[Vote]) -> dict:
    """How often the left side (A) wins among decisive votes, with a binomial test of 0.5 (no bias)."""
    left = sum(1 for v in votes if v.choice == "A")
    decisive = sum(1 for v in votes if v.choice in DECISIVE)
    low, high = wilson_interval(left, decisive)
    return {"leftWins": left, "decisive": decisive, "leftShare": left / decisive if decisive else None,
            "interval": {"low": low, "high": high},
            "pValue": binomtest(left, decisive, 0.5).pvalue if decisive else None}


def agreement(votes: list[Vote]) -> dict:
    """Pairwise agreement between reviewers: over every pair judged by two or more, the share of
    reviewer pairs whose outcomes (in arm terms) match. Returns the share and how many comparisons."""
    by_pair: dict[str, Counter] = defaultdict(Counter)
    for vote in votes:
        by_pair[vote.pair_id][vote.outcome()] += 1
    # Counted, not enumerated: of a pair's g votes, C(g, 2) reviewer pairs, C(k, 2) of them agreeing on an
    # outcome that k chose.
    same = sum(k * (k - 1) // 2 for outcomes in by_pair.values() for k in outcomes.values())
    total = sum(g * (g - 1) // 2 for g in (outcomes.total() for outcomes in by_pair.values()))
    return {"share": same / total if total else None, "comparisons": total,
            "pairsWithSeveralReviewers": sum(1 for o in by_pair.values() if o.total() > 1)}


def random_looking_reviewers(votes: list[Vote]) -> list[dict]:
    """Reviewers whose votes look random, with the reason.

    Two signs, each judged only with at least ``MIN_VOTES_TO_FLAG`` votes: (1) agreement with the
    other reviewers' majority outcome on shared pairs no better than chance among the four choices
    (one-sided binomial test of agreement > 1/4 not significant at 0.05 and agreement <= 0.5);
    (2) the same side chosen in every decisive vote (a reviewer clicking one button).
    """
    # Per pair, each vote's (reviewer, outcome) in order and where each outcome occurs: a vote's "others"
    # are then found without rescanning the pair for every one of its votes.
    by_pair: dict[str, list[tuple[str, str]]] = defaultdict(list)
    by_reviewer: dict[str, list[Vote]] = defaultdict(list)
    for vote in votes:
        by_pair[vote.pair_id].append((vote.reviewer, vote.outcome()))
        by_reviewer[vote.reviewer].append(vote)
    indexed = {pair: _pair_index(entries) for pair, entries in by_pair.items()}
    flagged = []
    for reviewer in sorted(by_reviewer):
        own = by_reviewer[reviewer]
        agree = shared = 0
        for vote in own:
            majority = _others_majority(by_pair[vote.pair_id], indexed[vote.pair_id], reviewer)
            if majority is None:
                continue
            shared += 1
            agree += vote.outcome() == majority
        reasons = []
        if shared >= MIN_VOTES_TO_FLAG:
            p = binomtest(agree, shared, 0.25, alternative="greater").pvalue
            if p >= 0.05 and agree / shared <= 0.5:
                reasons.append(f"agrees with the other reviewers on {agree} of {shared} shared pairs "
                               f"(no better than chance, p = {p:.2f})")
        sides = Counter(v.choice for v in own if v.choice in DECISIVE)
        if sum(sides.values()) >= MIN_VOTES_TO_FLAG and len(sides) == 1:
            side = next(iter(sides))
            reasons.append(f"chose side {side} in all {sides[side]} decisive votes")
        if reasons:
            flagged.append({"reviewer": reviewer, "votes": len(own), "reasons": reasons})
    return flagged


def _pair_index(entries: list[tuple[str, str]]) -> tuple[dict[str, list[int]], dict[str, Counter], list[str]]:
    """For one pair's votes (reviewer, outcome) in order: outcome -> the indices where it occurs, reviewer ->
    how often they chose each outcome, and the outcomes most common first (a tie: the one chosen first)."""
    where: dict[str, list[int]] = {}
    own: dict[str, Counter] = defaultdict(Counter)
    for index, (reviewer, outcome) in enumerate(entries):
        where.setdefault(outcome, []).append(index)
        own[reviewer][outcome] += 1
    ranking = sorted(where, key=lambda outcome: (-len(where[outcome]), where[outcome][0]))
    return where, own, ranking


def _others_majority(entries: list[tuple[str, str]],
                     index: tuple[dict[str, list[int]], dict[str, Counter], list[str]], reviewer: str) -> str | None:
    """The most common outcome among the other reviewers' votes on one pair (a tie goes to the outcome they
    chose first), or None when no one else judged it."""
    where, own, ranking = index
    mine = own[reviewer]
    if mine.total() == 1:
        # The usual case, one vote per reviewer per pair: only the count and first index of the reviewer's
        # own outcome change without them, so the best of the rest comes straight from the pair's ranking.
        (chosen,) = mine
        candidates = []
        rest = next((outcome for outcome in ranking if outcome != chosen), None)
        if rest is not None:
            candidates.append((-len(where[rest]), where[rest][0], rest))
        if len(where[chosen]) > 1:
            first = next(i for i in where[chosen] if entries[i][0] != reviewer)
            candidates.append((1 - len(where[chosen]), first, chosen))
        return min(candidates)[2] if candidates else None
    best: tuple[int, int, str] | None = None
    for outcome, indices in where.items():
        count = len(indices) - mine[outcome]
        if count == 0:
            continue
        first = next(i for i in indices if entries[i][0] != reviewer)
        if best is None or (-count, first) < best[:2]:
            best = (-count, first, outcome)
    return None if best is None else best[2]


def _outcome_counts(votes: list[Vote], arms: list[str]) -> np.ndarray:
    """How many votes fall in each outcome category: for every two arms i < j (in ``arms`` order) "i won",
    "j won" and "tie", then one last category for votes that carry no preference between listed arms
    ("both bad", or an arm not in ``arms``)."""
    index = {arm: i for i, arm in enumerate(arms)}
    pair_index = {(i, j): n for n, (i, j) in enumerate(itertools.combinations(range(len(arms)), 2))}
    none = 3 * len(pair_index)
    categories = np.full(len(votes), none, dtype=np.int64)
    for position, vote in enumerate(votes):
        a, b = index.get(vote.left_arm), index.get(vote.right_arm)
        if a is None or b is None or a == b or vote.choice == "both_bad":
            continue
        i, j = min(a, b), max(a, b)
        winner = {"A": a, "B": b}.get(vote.choice)
        outcome = 2 if winner is None else 0 if winner == i else 1
        categories[position] = 3 * pair_index[i, j] + outcome
    return np.bincount(categories, minlength=none + 1)


def _fit_bradley_terry(counts: np.ndarray, k: int, iterations: int) -> np.ndarray:
    """Bradley-Terry strengths for each row of ``counts`` (rows of ``_outcome_counts``), shape (rows, k).

    Hunter's MM update s_i = W_i / sum_j n_ij / (s_i + s_j), run on every row at once; the prior of half a
    win each way between every two arms keeps each strength finite and each denominator positive.
    """
    rows = counts.shape[0]
    wins = np.zeros((rows, k, k))
    games = np.zeros((rows, k, k))
    for n, (i, j) in enumerate(itertools.combinations(range(k), 2)):
        first, second, tie = counts[:, 3 * n], counts[:, 3 * n + 1], counts[:, 3 * n + 2]
        wins[:, i, j] = first + tie / 2 + 0.5
        wins[:, j, i] = second + tie / 2 + 0.5
        games[:, i, j] = games[:, j, i] = first + second + tie + 1
    total_wins = wins.sum(axis=2)
    strength = np.full((rows, k), 1.0 / k)
    for _ in range(iterations):
        denominator = (games / (strength[:, :, None] + strength[:, None, :])).sum(axis=2)
        updated = np.divide(total_wins, denominator, out=strength.copy(), where=denominator > 0)
        strength = updated / updated.sum(axis=1, keepdims=True)
    return strength


def bradley_terry(votes: list[Vote], arms: list[str], iterations: int = 200) -> dict[str, float]:
    """Bradley-Terry strengths (summing to 1) by Hunter's MM algorithm.

    P(i beats j) = s_i / (s_i + s_j); update s_i = W_i / sum_j n_ij / (s_i + s_j), where W_i counts
    wins and a tie counts half a win to each side ("both bad" votes carry no preference and are
    left out). A small prior (half a win each way between every two arms) keeps strengths finite.
    """
    counts = _outcome_counts(votes, arms)[None, :]
    strength = _fit_bradley_terry(counts, len(arms), iterations)[0]
    return {arm: float(value) for arm, value in zip(arms, strength, strict=True)}


def bradley_terry_intervals(votes: list[Vote], arms: list[str], resamples: int = 200,
                            seed: int = 0) -> dict[str, dict[str, float]]:
    """Bradley-Terry strengths with 95% percentile bootstrap intervals (votes resampled with replacement).

    A fit depends on the votes only through how many fall in each outcome category, so resampling the n
    votes with replacement is drawing those counts from Multinomial(n, observed shares): each resample
    costs one draw instead of n, and all of them are fitted together as arrays.
    """
    point = bradley_terry(votes, arms)
    counts = _outcome_counts(votes, arms)
    if votes:
        draws = np.random.default_rng(seed).multinomial(len(votes), counts / len(votes), size=resamples)
    else:
        draws = np.zeros((resamples, counts.size), dtype=np.int64)
    fitted = np.sort(_fit_bradley_terry(draws, len(arms), iterations=100), axis=0)
    low, high = int(0.025 * (resamples - 1)), int(0.975 * (resamples - 1))
    return {arm: {"strength": point[arm], "low": float(fitted[low, i]), "high": float(fitted[high, i])}
            for i, arm in enumerate(arms)}


def summarise(votes: list[Vote], arms: list[str]) -> dict:
    """Everything the human-evaluation view shows, as JSON-ready data.

    The headline preference is experiment over control when both arms exist; with more than two
    arms every pairing is reported and a Bradley-Terry fit with bootstrap intervals is added.
    Computed once per vote count: votes are only ever added, oldest first, so (count, newest vote, arms)
    names the whole set, and the gateway answers repeated requests between votes from the cache.
    """
    key = (len(votes), votes[-1] if votes else None, tuple(arms))
    with _summary_lock:
        cached = _summaries.get(key)
        if cached is None:
            cached = _summarise(votes, arms)
            _summaries[key] = cached
            while len(_summaries) > _KEPT_SUMMARIES:  # older counts are stale: drop the oldest first
                del _summaries[next(iter(_summaries))]
    return dict(cached)


# A few summaries, not one: a gateway may summarise several sets of votes (one per group of reviewers).
_KEPT_SUMMARIES = 8
_summaries: dict[tuple, dict] = {}
# One computation at a time: concurrent first requests wait for it instead of repeating it.
_summary_lock = threading.Lock()


def _summarise(votes: list[Vote], arms: list[str]) -> dict:
    pairings = [(a, b) for i, a in enumerate(arms) for b in arms[i + 1:]]
    ordered = [(b, a) if a == "control" else (a, b) for a, b in pairings]
    reviewers = Counter(v.reviewer for v in votes)
    choices = Counter(v.choice for v in votes)
    return {
        "votes": len(votes),
        "reviewers": len(reviewers),
        "choices": {choice: choices[choice] for choice in CHOICES},
        "preferences": [preference(votes, a, b) for a, b in ordered],
        "agreement": agreement(votes),
        "positionBias": position_bias(votes),
        "flaggedReviewers": random_looking_reviewers(votes),
        "bradleyTerry": bradley_terry_intervals(votes, arms) if len(arms) > 2 else None,
    }
