"""Statistics over blind A/B votes: preference share, reviewer agreement, position bias, Bradley-Terry.

A vote records which arm sat on the left (A) and on the right (B) and the reviewer's choice: ``A``,
``B``, ``tie`` or ``both_bad``. Only ``A``/``B`` votes are decisive; ties and "both bad" are counted
and reported beside the share, never dropped.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from scipy.stats import binomtest, norm

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
        return {"A": self.left_arm, "B": self.right_arm}.get(self.choice)

    def outcome(self) -> str:
        """The vote in arm terms (side-independent): the winning arm's name, ``tie`` or ``both_bad``."""
        return self.winner() or self.choice


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    With z the normal quantile and p = k/n: centre = (p + z²/2n) / (1 + z²/n), half-width =
    z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n). Returns (0, 1) when there are no trials.
    """
    if trials <= 0:
        return 0.0, 1.0
    z = norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def preference(votes: list[Vote], arm: str, other: str) -> dict:
    """How often ``arm`` beat ``other`` among decisive votes on pairs of exactly these two arms.

    Returns the counts (wins, losses, ties, bothBad), the share wins/(wins+losses) with its 95% Wilson
    interval, and the two-sided exact binomial test of share = 0.5.
    """
    counts = Counter()
    for vote in votes:
        if {vote.left_arm, vote.right_arm} != {arm, other}:
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
    by_pair: dict[str, list[str]] = defaultdict(list)
    for vote in votes:
        by_pair[vote.pair_id].append(vote.outcome())
    same = total = 0
    for outcomes in by_pair.values():
        for i in range(len(outcomes)):
            for j in range(i + 1, len(outcomes)):
                total += 1
                same += outcomes[i] == outcomes[j]
    return {"share": same / total if total else None, "comparisons": total,
            "pairsWithSeveralReviewers": sum(1 for o in by_pair.values() if len(o) > 1)}


def random_looking_reviewers(votes: list[Vote]) -> list[dict]:
    """Reviewers whose votes look random, with the reason.

    Two signs, each judged only with at least ``MIN_VOTES_TO_FLAG`` votes: (1) agreement with the
    other reviewers' majority outcome on shared pairs no better than chance among the four choices
    (one-sided binomial test of agreement > 1/4 not significant at 0.05 and agreement <= 0.5);
    (2) the same side chosen in every decisive vote (a reviewer clicking one button).
    """
    by_pair: dict[str, list[Vote]] = defaultdict(list)
    for vote in votes:
        by_pair[vote.pair_id].append(vote)
    flagged = []
    for reviewer in sorted({v.reviewer for v in votes}):
        own = [v for v in votes if v.reviewer == reviewer]
        agree = shared = 0
        for vote in own:
            others = Counter(o.outcome() for o in by_pair[vote.pair_id] if o.reviewer != reviewer)
            if not others:
                continue
            shared += 1
            agree += vote.outcome() == others.most_common(1)[0][0]
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


def bradley_terry(votes: list[Vote], arms: list[str], iterations: int = 200) -> dict[str, float]:
    """Bradley-Terry strengths (summing to 1) by Hunter's MM algorithm.

    P(i beats j) = s_i / (s_i + s_j); update s_i = W_i / sum_j n_ij / (s_i + s_j), where W_i counts
    wins and a tie counts half a win to each side ("both bad" votes carry no preference and are
    left out). A small prior (half a win each way between every two arms) keeps strengths finite.
    """
    wins = defaultdict(float)
    games = defaultdict(float)
    for a in arms:
        for b in arms:
            if a < b:
                wins[a, b] += 0.5
                wins[b, a] += 0.5
                games[a, b] += 1
    for vote in votes:
        a, b = vote.left_arm, vote.right_arm
        if a not in arms or b not in arms or vote.choice == "both_bad":
            continue
        key = (a, b) if a < b else (b, a)
        games[key] += 1
        if vote.choice == "tie":
            wins[a, b] += 0.5
            wins[b, a] += 0.5
        else:
            winner = vote.winner()
            wins[winner, b if winner == a else a] += 1
    strength = {arm: 1.0 / len(arms) for arm in arms}
    for _ in range(iterations):
        updated = {}
        for i in arms:
            total_wins = sum(wins[i, j] for j in arms if j != i)
            denominator = sum(games[min(i, j), max(i, j)] / (strength[i] + strength[j]) for j in arms if j != i)
            updated[i] = total_wins / denominator if denominator else strength[i]
        scale = sum(updated.values())
        strength = {arm: value / scale for arm, value in updated.items()}
    return strength


def bradley_terry_intervals(votes: list[Vote], arms: list[str], resamples: int = 200,
                            seed: int = 0) -> dict[str, dict[str, float]]:
    """Bradley-Terry strengths with 95% percentile bootstrap intervals (votes resampled with replacement)."""
    point = bradley_terry(votes, arms)
    rng = random.Random(seed)
    draws: dict[str, list[float]] = {arm: [] for arm in arms}
    for _ in range(resamples):
        sample = [rng.choice(votes) for _ in votes] if votes else []
        for arm, value in bradley_terry(sample, arms, iterations=100).items():
            draws[arm].append(value)
    out = {}
    for arm in arms:
        values = sorted(draws[arm])
        out[arm] = {"strength": point[arm], "low": values[int(0.025 * (len(values) - 1))],
                    "high": values[int(0.975 * (len(values) - 1))]}
    return out


def summarise(votes: list[Vote], arms: list[str]) -> dict:
    """Everything the human-evaluation view shows, as JSON-ready data.

    The headline preference is experiment over control when both arms exist; with more than two
    arms every pairing is reported and a Bradley-Terry fit with bootstrap intervals is added.
    """
    pairings = [(a, b) for i, a in enumerate(arms) for b in arms[i + 1:]]
    ordered = [(b, a) if a == "control" else (a, b) for a, b in pairings]
    reviewers = Counter(v.reviewer for v in votes)
    summary = {
        "votes": len(votes),
        "reviewers": len(reviewers),
        "choices": {choice: sum(1 for v in votes if v.choice == choice) for choice in CHOICES},
        "preferences": [preference(votes, a, b) for a, b in ordered],
        "agreement": agreement(votes),
        "positionBias": position_bias(votes),
        "flaggedReviewers": random_looking_reviewers(votes),
        "bradleyTerry": bradley_terry_intervals(votes, arms) if len(arms) > 2 else None,
    }
    return summary
