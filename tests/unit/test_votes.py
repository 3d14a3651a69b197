"""Vote statistics against textbook values and statsmodels, and the vote store's rules on a real SQLite file and
on a real throwaway PostgreSQL server (tests/conftest.py's ``postgres_url``)."""

import datetime as dt
import random

import pytest
from statsmodels.stats.proportion import proportion_confint

from commentslab.services.gateway.preference import (
    Vote,
    agreement,
    bradley_terry,
    bradley_terry_intervals,
    position_bias,
    preference,
    random_looking_reviewers,
    summarise,
    wilson_interval,
)
from commentslab.services.gateway.votes import Pair, VoteError, VoteStore, pair_id


@pytest.mark.parametrize("k,n", [(0, 10), (7, 10), (31, 50), (50, 50)])
def test_wilson_interval_matches_statsmodels(k, n):
    low, high = wilson_interval(k, n)
    expected = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(expected[0], abs=1e-9) and high == pytest.approx(expected[1], abs=1e-9)


def _votes(outcomes, reviewer="r1", left="experiment", right="control"):
    return [Vote(reviewer, f"p{i}", left, right, choice) for i, choice in enumerate(outcomes)]


def test_preference_counts_ties_and_both_bad_and_tests_against_half():
    votes = _votes(["A"] * 9 + ["B"] + ["tie"] * 3 + ["both_bad"] * 2)
    result = preference(votes, "experiment", "control")
    assert (result["wins"], result["losses"], result["ties"], result["bothBad"]) == (9, 1, 3, 2)
    assert result["share"] == pytest.approx(0.9)
    assert result["pValue"] == pytest.approx(22 / 1024)  # two-sided exact: 2 * P(X >= 9 | n=10, 1/2)
    assert result["interval"]["low"] > 0.5


def test_position_bias_sees_a_left_clicker():
    votes = [Vote("r", f"p{i}", "control" if i % 2 else "experiment", "experiment" if i % 2 else "control", "A")
             for i in range(12)]
    bias = position_bias(votes)
    assert bias["leftShare"] == 1.0 and bias["pValue"] < 0.001
    flagged = random_looking_reviewers(votes)
    assert flagged and "side A" in flagged[0]["reasons"][0]


def test_agreement_and_random_reviewer_flag():
    rng = random.Random(3)
    votes = []
    for i in range(10):
        for reviewer in ("alice", "bob", "carol"):  # experiment preferred, on whichever side it is shown
            sides, choice = (("experiment", "control"), "A") if i % 2 else (("control", "experiment"), "B")
            votes.append(Vote(reviewer, f"p{i}", *sides, choice))
        votes.append(Vote("mallory", f"p{i}", "experiment", "control", rng.choice(["B", "tie", "both_bad"])))
    share = agreement(votes)
    assert share["pairsWithSeveralReviewers"] == 10 and share["comparisons"] == 60
    assert share["share"] == pytest.approx(0.5)  # 3 of 6 reviewer pairs agree on each pair
    assert [f["reviewer"] for f in random_looking_reviewers(votes)] == ["mallory"]


def test_bradley_terry_orders_arms_and_bootstrap_brackets_the_estimate():
    votes = []
    for i in range(30):
        votes.append(Vote("r", f"a{i}", "experiment", "control", "A" if i < 24 else "B"))
        votes.append(Vote("r", f"b{i}", "placebo", "control", "A" if i < 15 else "B"))
        votes.append(Vote("r", f"c{i}", "experiment", "placebo", "A" if i < 22 else "B"))
    arms = ["control", "experiment", "placebo"]
    strength = bradley_terry(votes, arms)
    assert strength["experiment"] > strength["placebo"] > strength["control"]
    assert sum(strength.values()) == pytest.approx(1.0)
    intervals = bradley_terry_intervals(votes, arms, resamples=60)
    for arm in arms:
        assert intervals[arm]["low"] <= intervals[arm]["strength"] <= intervals[arm]["high"]
    assert summarise(votes, arms)["bradleyTerry"] is not None
    assert summarise(votes[:30], ["control", "experiment"])["bradleyTerry"] is None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def votes_url(request, tmp_path) -> str:
    """A fresh, empty vote database: a SQLite file, or a new database on the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'votes.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(votes_url):
    return VoteStore(votes_url, daily_cap=3, rng=random.Random(0))


PAIRS = [Pair(pair_id(f"prob{i}", "control", "experiment"), f"prob{i}", ("control", "experiment")) for i in range(5)]


def test_one_vote_per_reviewer_per_pair_and_sides_kept(store):
    reviewer, token = store.register("alice")
    assert store.reviewer(token) == reviewer
    pair, left, right, _ = store.next_pair(reviewer, PAIRS)
    assert store.next_pair(reviewer, PAIRS)[:3] == (pair, left, right)  # a reload shows the same sides
    vote = store.vote(reviewer, pair.pair_id, "A")
    assert vote.winner() == left
    with pytest.raises(VoteError) as twice:
        store.vote(reviewer, pair.pair_id, "B")
    assert twice.value.status == 409
    assert store.next_pair(reviewer, PAIRS)[0] != pair


def test_sides_are_randomised_per_pair(store):
    reviewer, _ = store.register("bob")
    lefts = []
    for _ in PAIRS:
        pair, left, _right, _ = store.next_pair(reviewer, PAIRS)
        lefts.append(left)
        store.daily_cap = 100
        store.vote(reviewer, pair.pair_id, "tie")
    assert set(lefts) == {"control", "experiment"}
    assert store.next_pair(reviewer, PAIRS) is None


def test_daily_cap_and_unknown_reviewer_and_unserved_pair(votes_url):
    now = [dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.UTC)]
    store = VoteStore(votes_url, daily_cap=2, clock=lambda: now[0])
    reviewer, _ = store.register("carol")
    for _ in range(2):
        pair, _l, _r, _ = store.next_pair(reviewer, PAIRS)
        store.vote(reviewer, pair.pair_id, "both_bad")
    pair, _l, _r, _ = store.next_pair(reviewer, PAIRS)
    with pytest.raises(VoteError, match="daily cap") as capped:
        store.vote(reviewer, pair.pair_id, "A")
    assert capped.value.status == 429
    now[0] += dt.timedelta(hours=2)  # a new UTC day
    store.vote(reviewer, pair.pair_id, "A")
    with pytest.raises(VoteError) as unknown:
        store.reviewer("not-a-token")
    assert unknown.value.status == 401
    with pytest.raises(VoteError) as unserved:
        store.vote(reviewer, PAIRS[4].pair_id, "A")
    assert unserved.value.status == 404
    with pytest.raises(VoteError) as taken:
        store.register("carol")
    assert taken.value.status == 409


def test_votes_persist_across_stores_on_one_database_oldest_first(votes_url):
    now = [dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)]

    def clock():
        now[0] += dt.timedelta(minutes=1)
        return now[0]

    first = VoteStore(votes_url, daily_cap=10, clock=clock, rng=random.Random(1))
    reviewer, token = first.register("dana")
    cast = []
    for choice in ("B", "A", "both_bad"):
        pair, left, right, _ = first.next_pair(reviewer, PAIRS)
        cast.append(first.vote(reviewer, pair.pair_id, choice))
    first.engine.dispose()
    reopened = VoteStore(votes_url, daily_cap=10, clock=clock)  # the tables exist: created once, reused
    assert reopened.reviewer(token) == reviewer
    assert reopened.all_votes() == cast
    assert reopened.votes_today(reviewer) == 3
    assert summarise(reopened.all_votes(), ["control", "experiment"])["choices"] == {
        "A": 1, "B": 1, "tie": 0, "both_bad": 1}
