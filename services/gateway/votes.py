"""The human-evaluation vote store (SQLAlchemy: SQLite by default, PostgreSQL by URL).

Reviewers register once and get a secret token; each blind pair is served to a reviewer with the
sides drawn at random and remembered, so the vote can be mapped back to arms without the page ever
knowing them. One vote per reviewer per pair, and at most ``daily_cap`` votes per reviewer per UTC day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from services.common.errors import CommentslabError
from services.gateway.preference import CHOICES, Vote

DEFAULT_DAILY_CAP = 200

_metadata = MetaData()
reviewers = Table(
    "reviewers", _metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    # Only a hash of the token is kept, so a copied database cannot be used to vote as someone.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
assignments = Table(
    "assignments", _metadata,
    Column("reviewer_id", String(32), primary_key=True),
    Column("pair_id", String(32), primary_key=True),
    Column("left_arm", String(64), nullable=False),
    Column("right_arm", String(64), nullable=False),
    Column("served_at", DateTime(timezone=True), nullable=False),
)
votes = Table(
    "votes", _metadata,
    Column("reviewer_id", String(32), nullable=False),
    Column("pair_id", String(32), nullable=False),
    Column("left_arm", String(64), nullable=False),
    Column("right_arm", String(64), nullable=False),
    Column("choice", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("reviewer_id", "pair_id", name="one_vote_per_reviewer_per_pair"),
)


class VoteError(CommentslabError):
    """A vote or registration the store refuses; ``status`` is the HTTP status the gateway answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Pair:
    """Two arms' outputs for one test problem, to be judged blind."""

    pair_id: str
    problem_id: str
    arms: tuple[str, str]


def pair_id(problem_id: str, arm: str, other: str) -> str:
    """A stable id for (problem, two arms) that does not reveal the arms or their order."""
    first, second = sorted((arm, other))
    return hashlib.sha256(f"{problem_id}\0{first}\0{second}".encode()).hexdigest()[:16]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class VoteStore:
    """Reviewers, side assignments and votes in one database at ``url`` (created on first use)."""

    def __init__(self, url: str, daily_cap: int = DEFAULT_DAILY_CAP, clock=_utc_now, rng: random.Random | None = None):
        # In-memory SQLite must be one shared connection, or each thread would see its own empty database.
        memory = url in ("sqlite://", "sqlite:///:memory:")
        self.engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False}) \
            if memory else create_engine(url)
        _metadata.create_all(self.engine)
        self.daily_cap = daily_cap
        self.clock = clock
        self.rng = rng or random.SystemRandom()

    def register(self, name: str) -> tuple[str, str]:
        """Add a reviewer called ``name``; returns (reviewer id, secret token). The name must be new."""
        name = name.strip()
        if not name:
            raise VoteError("a reviewer name must not be empty")
        reviewer_id, token = secrets.token_hex(8), secrets.token_urlsafe(24)
        try:
            with self.engine.begin() as db:
                db.execute(insert(reviewers).values(id=reviewer_id, name=name, token_hash=_hash(token),
                                                    created_at=self.clock()))
        except IntegrityError as exc:
            raise VoteError(f"the reviewer name {name!r} is taken; choose another", status=409) from exc
        return reviewer_id, token

    def reviewer(self, token: str) -> str:
        """The reviewer id for ``token``; VoteError (401) when it is unknown."""
        with self.engine.connect() as db:
            row = db.execute(select(reviewers.c.id).where(reviewers.c.token_hash == _hash(token))).first()
        if row is None:
            raise VoteError("unknown reviewer token: register as a reviewer first", status=401)
        return row[0]

    def votes_today(self, reviewer_id: str) -> int:
        """How many votes ``reviewer_id`` has cast since midnight UTC."""
        midnight = self.clock().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.engine.connect() as db:
            return db.execute(select(func.count()).select_from(votes).where(
                votes.c.reviewer_id == reviewer_id, votes.c.created_at >= midnight)).scalar_one()

    def next_pair(self, reviewer_id: str, pairs: list[Pair]) -> tuple[Pair, str, str] | None:
        """The first pair ``reviewer_id`` has not voted on, with (left arm, right arm); None when done.

        The sides are drawn at random the first time a pair is served to a reviewer and kept, so a
        reload shows the same sides and the vote maps back to the arms shown.
        """
        with self.engine.begin() as db:
            voted = set(db.execute(select(votes.c.pair_id).where(votes.c.reviewer_id == reviewer_id)).scalars())
            pair = next((p for p in pairs if p.pair_id not in voted), None)
            if pair is None:
                return None
            row = db.execute(select(assignments.c.left_arm, assignments.c.right_arm).where(
                assignments.c.reviewer_id == reviewer_id, assignments.c.pair_id == pair.pair_id)).first()
            if row is not None:
                return pair, row[0], row[1]
            left, right = pair.arms if self.rng.random() < 0.5 else pair.arms[::-1]
            db.execute(insert(assignments).values(reviewer_id=reviewer_id, pair_id=pair.pair_id,
                                                  left_arm=left, right_arm=right, served_at=self.clock()))
            return pair, left, right

    def vote(self, reviewer_id: str, pair_id_: str, choice: str) -> Vote:
        """Record ``choice`` (A, B, tie, both_bad) on a pair served to ``reviewer_id``.

        Refused with a VoteError when the choice is unknown (400), the pair was never served to this
        reviewer (404), the reviewer already voted on it (409) or reached today's cap (429).
        """
        if choice not in CHOICES:
            raise VoteError(f"choice must be one of {', '.join(CHOICES)}, not {choice!r}")
        if self.votes_today(reviewer_id) >= self.daily_cap:
            raise VoteError(f"daily cap reached: {self.daily_cap} votes per reviewer per day; come back tomorrow "
                            "(the day starts at 00:00 UTC)", status=429)
        with self.engine.begin() as db:
            row = db.execute(select(assignments.c.left_arm, assignments.c.right_arm).where(
                assignments.c.reviewer_id == reviewer_id, assignments.c.pair_id == pair_id_)).first()
            if row is None:
                raise VoteError(f"pair {pair_id_} was not served to this reviewer; ask for the next pair", status=404)
            try:
                db.execute(insert(votes).values(reviewer_id=reviewer_id, pair_id=pair_id_, left_arm=row[0],
                                                right_arm=row[1], choice=choice, created_at=self.clock()))
            except IntegrityError as exc:
                raise VoteError(f"you have already voted on pair {pair_id_}; one vote per pair", status=409) from exc
        return Vote(reviewer_id, pair_id_, row[0], row[1], choice)

    def all_votes(self) -> list[Vote]:
        """Every vote, oldest first."""
        with self.engine.connect() as db:
            rows = db.execute(select(votes.c.reviewer_id, votes.c.pair_id, votes.c.left_arm, votes.c.right_arm,
                                     votes.c.choice).order_by(votes.c.created_at)).all()
        return [Vote(*row) for row in rows]
