"""The human-evaluation vote store, in the gateway's SQL store (services/common/database.py).

Reviewers get a secret token: invited by the maintainer, or self-registered where the deployment keeps
registration open. Self-registered reviewers' votes are kept apart (``invited`` is false) and never
count in the invited reviewers' results, so a visitor who makes twenty reviewers moves only a figure
reported separately. Each blind pair is served to a reviewer with the sides drawn at random and a
sample the public API does not publish, both remembered, so the vote maps back to arms without the
page ever knowing them. One vote per reviewer per pair, and at most ``daily_cap`` per reviewer per UTC day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from commentslab.services.common.database import create_tables, open_database
from commentslab.services.common.errors import CommentslabError
from commentslab.services.gateway.preference import CHOICES, Vote

DEFAULT_DAILY_CAP = 200

_metadata = MetaData()
reviewers = Table(
    "reviewers", _metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    # Only a hash of the token is kept, so a copied database cannot be used to vote as someone.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("invited", Boolean, nullable=False, default=False),
    Column("client", String(64), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
assignments = Table(
    "assignments", _metadata,
    Column("reviewer_id", String(32), primary_key=True),
    Column("pair_id", String(32), primary_key=True),
    Column("left_arm", String(64), nullable=False),
    Column("right_arm", String(64), nullable=False),
    Column("sample", Integer, nullable=False, default=0),
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
    """Two arms' outputs for one test problem, to be judged blind, on one of ``samples`` (indices of the
    problem's completions that nothing public shows)."""

    pair_id: str
    problem_id: str
    arms: tuple[str, str]
    samples: tuple[int, ...] = (0,)


class ServedPair(NamedTuple):
    """A pair as one reviewer sees it: which arm is on each side and which sample is shown."""

    pair: Pair
    left: str
    right: str
    sample: int


def pair_id(problem_id: str, arm: str, other: str) -> str:
    """A stable id for (problem, two arms) that does not reveal the arms or their order."""
    first, second = sorted((arm, other))
    return hashlib.sha256(f"{problem_id}\0{first}\0{second}".encode()).hexdigest()[:16]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class VoteStore:
    """Reviewers, side assignments and votes in the database ``database`` (an engine or URL; tables made on
    first use)."""

    def __init__(self, database: Engine | str, daily_cap: int = DEFAULT_DAILY_CAP, clock=_utc_now,
                 rng: random.Random | None = None):
        self.engine = open_database(database) if isinstance(database, str) else database
        create_tables(self.engine, _metadata)
        self.daily_cap = daily_cap
        self.clock = clock
        self.rng = rng or random.SystemRandom()

    def register(self, name: str, invited: bool = False, client: str = "") -> tuple[str, str]:
        """Add a reviewer called ``name`` (``invited`` by the maintainer, or self-registered from ``client``);
        returns (reviewer id, secret token). The name must be new."""
        name = name.strip()
        if not name:
            raise VoteError("a reviewer name must not be empty")
        reviewer_id, token = secrets.token_hex(8), secrets.token_urlsafe(24)
        try:
            with self.engine.begin() as db:
                db.execute(insert(reviewers).values(id=reviewer_id, name=name, token_hash=_hash(token),
                                                    invited=invited, client=client[:64], created_at=self.clock()))
        except IntegrityError as exc:
            raise VoteError(f"the reviewer name {name!r} is taken; choose another", status=409) from exc
        return reviewer_id, token

    def reviewer(self, token: str) -> str:
        """The reviewer id for ``token``; VoteError (401) when it is unknown."""
        return self.reviewer_row(token)[0]

    def reviewer_row(self, token: str) -> tuple[str, bool, str]:
        """(reviewer id, invited, registering client) for ``token``; VoteError (401) when it is unknown."""
        with self.engine.connect() as db:
            row = db.execute(select(reviewers.c.id, reviewers.c.invited, reviewers.c.client)
                             .where(reviewers.c.token_hash == _hash(token))).first()
        if row is None:
            raise VoteError("unknown reviewer token: ask the maintainer for one (or register, where open)", status=401)
        return row[0], bool(row[1]), row[2]

    def votes_today(self, reviewer_id: str) -> int:
        """How many votes ``reviewer_id`` has cast since midnight UTC."""
        midnight = self.clock().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.engine.connect() as db:
            return db.execute(select(func.count()).select_from(votes).where(
                votes.c.reviewer_id == reviewer_id, votes.c.created_at >= midnight)).scalar_one()

    def next_pair(self, reviewer_id: str, pairs: list[Pair]) -> ServedPair | None:
        """The first pair ``reviewer_id`` has not voted on, with its sides and sample; None when done.

        The sides and the sample are drawn at random the first time a pair is served to a reviewer and
        kept, so a reload shows the same and the vote maps back to the arms shown.
        """
        with self.engine.begin() as db:
            voted = set(db.execute(select(votes.c.pair_id).where(votes.c.reviewer_id == reviewer_id)).scalars())
            pair = next((p for p in pairs if p.pair_id not in voted), None)
            if pair is None:
                return None
            row = db.execute(select(assignments.c.left_arm, assignments.c.right_arm, assignments.c.sample).where(
                assignments.c.reviewer_id == reviewer_id, assignments.c.pair_id == pair.pair_id)).first()
            if row is not None:
                return ServedPair(pair, row[0], row[1], row[2])
            left, right = pair.arms if self.rng.random() < 0.5 else pair.arms[::-1]
            sample = self.rng.choice(pair.samples)
            db.execute(insert(assignments).values(reviewer_id=reviewer_id, pair_id=pair.pair_id, left_arm=left,
                                                  right_arm=right, sample=sample, served_at=self.clock()))
            return ServedPair(pair, left, right, sample)

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

    def all_votes(self, invited: bool | None = None) -> list[Vote]:
        """Every vote (only invited or only self-registered reviewers' with ``invited``), oldest first."""
        query = select(votes.c.reviewer_id, votes.c.pair_id, votes.c.left_arm, votes.c.right_arm, votes.c.choice)
        if invited is not None:
            query = query.join(reviewers, reviewers.c.id == votes.c.reviewer_id).where(reviewers.c.invited == invited)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(votes.c.created_at)).all()
        return [Vote(*row) for row in rows]
