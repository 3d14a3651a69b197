"""Per-client daily budgets (playground generations, self-registrations, open-registration votes), kept in the
gateway's SQL store so every replica spends from the same count.

Spending is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE used < limit RETURNING used`` statement: the
database serialises concurrent requests from one client on that row, so no interleaving of replicas lets
more than ``limit`` through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from commentslab.services.common.database import create_tables

DEFAULT_DAILY_LIMIT = 100

_metadata = MetaData()
daily_usage = Table(
    "daily_usage", _metadata,
    Column("bucket", String(32), primary_key=True),
    Column("client", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("used", Integer, nullable=False),
)


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def next_midnight_utc(day: dt.date) -> dt.datetime:
    """When the budget of ``day`` (a UTC date) is renewed."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)


class DailyRateLimiter:
    """At most ``limit`` units of ``bucket`` per client key per UTC day; the counts reset at 00:00 UTC."""

    def __init__(self, engine: Engine, limit: int = DEFAULT_DAILY_LIMIT, bucket: str = "playground",
                 today: Callable[[], dt.date] = _utc_today):
        self.engine = engine
        self.limit = limit
        self.bucket = bucket
        self.today = today
        create_tables(engine, _metadata)
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert
        # Past days' counts decide nothing: dropped at each start, so the table holds about one day's clients.
        with engine.begin() as db:
            db.execute(delete(daily_usage).where(daily_usage.c.bucket == bucket, daily_usage.c.day < today()))

    def take(self, client: str) -> int | None:
        """Spend one unit of ``client``'s budget; returns how many remain, or None when none was left."""
        if self.limit <= 0:
            return None
        key = {"bucket": self.bucket, "client": client[:64], "day": self.today()}
        statement = self._insert(daily_usage).values(**key, used=1)
        statement = statement.on_conflict_do_update(
            index_elements=["bucket", "client", "day"], set_={"used": daily_usage.c.used + 1},
            where=daily_usage.c.used < self.limit).returning(daily_usage.c.used)
        with self.engine.begin() as db:
            row = db.execute(statement).first()
        return None if row is None else self.limit - row[0]

    def give_back(self, client: str) -> None:
        """Return one unit spent today on something that was not delivered."""
        with self.engine.begin() as db:
            db.execute(update(daily_usage).where(
                daily_usage.c.bucket == self.bucket, daily_usage.c.client == client[:64],
                daily_usage.c.day == self.today(), daily_usage.c.used > 0).values(used=daily_usage.c.used - 1))

    def used(self, client: str) -> int:
        """How many units ``client`` has spent today."""
        with self.engine.connect() as db:
            row = db.execute(daily_usage.select().where(
                daily_usage.c.bucket == self.bucket, daily_usage.c.client == client[:64],
                daily_usage.c.day == self.today())).first()
        return 0 if row is None else row.used

    def resets_at(self) -> dt.datetime:
        """When today's budget is renewed (the next 00:00 UTC)."""
        return next_midnight_utc(self.today())

    def seconds_to_reset(self) -> int:
        """Whole seconds until ``resets_at`` (at least 1), for a ``Retry-After`` header."""
        return max(1, int((self.resets_at() - dt.datetime.now(dt.UTC)).total_seconds()) + 1)

    def message(self, what: str = "generations") -> str:
        """What a client that ran out is told."""
        return (f"Daily limit reached: {self.limit} {what} per visitor per day. It resets at "
                f"{self.resets_at().isoformat(timespec='seconds').replace('+00:00', 'Z')} (00:00 UTC).")
