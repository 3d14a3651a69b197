"""The review queue: flagged records and the decisions people make on them, in a SQL store.

The exporter flags a record (a failed syntax check, low metadata completeness, a scrubbed secret);
`commentslab review accept|reject` or the gateway's maintainer decides; the next split applies the
decisions. A record stays decided when it is flagged again by a later export, so a decision survives
re-runs and restarts. The store is a SQLite file beside the records by default, or the gateway's
database (a SQLAlchemy URL: PostgreSQL in the chart), where every gateway replica sees one queue.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from commentslab.services.common.database import create_tables, open_database
from commentslab.services.common.errors import InputError

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
STATUSES = (PENDING, ACCEPTED, REJECTED)

_metadata = MetaData()
review_items = Table(
    "review_items", _metadata,
    Column("record_id", String(128), primary_key=True),
    Column("path", Text, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("status", String(16), nullable=False, default=PENDING),
    Column("decision", Text),
    # ISO-8601 text, so the order and the reply read the same on SQLite and PostgreSQL.
    Column("flagged_at", String(32), nullable=False),
    Column("decided_at", String(32)),
)


@dataclass(frozen=True)
class ReviewItem:
    """One flagged record and where its review stands."""

    record_id: str
    path: str
    reasons: list[str]
    status: str
    decision: str | None
    flagged_at: str
    decided_at: str | None

    def to_dict(self) -> dict:
        """The item as JSON-ready data."""
        return {"recordId": self.record_id, "path": self.path, "reasons": self.reasons, "status": self.status,
                "decision": self.decision, "flaggedAt": self.flagged_at, "decidedAt": self.decided_at}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _is_url(location: str | Path) -> bool:
    return isinstance(location, str) and "://" in location


class ReviewQueue:
    """A persisted queue at ``location``: a SQLite file path, a SQLAlchemy URL or an open engine (tables made
    on first use)."""

    def __init__(self, location: Path | str | Engine):
        self.location = location
        try:
            if isinstance(location, Engine):
                self.engine = location
            elif _is_url(location):
                self.engine = open_database(str(location), "--review-queue")
            else:
                path = Path(location)
                path.parent.mkdir(parents=True, exist_ok=True)
                self.engine = open_database(f"sqlite:///{path}", f"--review-queue {path}")
            create_tables(self.engine, _metadata)
        except (OSError, SQLAlchemyError) as exc:
            raise InputError(str(location), f"cannot open the review queue ({exc.__class__.__name__})") from exc
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    def flag(self, items: Iterable[tuple[str, str, list[str]]]) -> int:
        """Add (record_id, path, reasons) items; an item already decided keeps its decision. Returns the count."""
        rows = [{"record_id": rid, "path": path, "reasons": json.dumps(sorted(set(reasons))), "status": PENDING,
                 "flagged_at": _now()} for rid, path, reasons in items]
        if rows:
            statement = self._insert(review_items)
            statement = statement.on_conflict_do_update(
                index_elements=["record_id"],
                set_={"reasons": statement.excluded.reasons, "path": statement.excluded.path})
            with self.engine.begin() as db:
                db.execute(statement, rows)
        return len(rows)

    def merge(self, other: ReviewQueue) -> int:
        """Copy ``other``'s items that this queue lacks, decisions included (the export's queue file into the
        gateway's database); items this queue holds keep their decisions. Returns how many were new."""
        rows = [{"record_id": i.record_id, "path": i.path, "reasons": json.dumps(i.reasons), "status": i.status,
                 "decision": i.decision, "flagged_at": i.flagged_at, "decided_at": i.decided_at}
                for i in other.items()]
        if not rows:
            return 0
        with self.engine.begin() as db:
            before = db.execute(select(review_items.c.record_id)).scalars().all()
            db.execute(self._insert(review_items).on_conflict_do_nothing(index_elements=["record_id"]), rows)
        return len({r["record_id"] for r in rows} - set(before))

    def items(self, status: str | None = None) -> list[ReviewItem]:
        """Every item (or those with `status`), oldest flag first."""
        if status is not None and status not in STATUSES:
            raise InputError("--status", f"{status!r} is not one of {', '.join(STATUSES)}")
        query = select(review_items)
        if status:
            query = query.where(review_items.c.status == status)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(review_items.c.flagged_at, review_items.c.record_id)).all()
        return [ReviewItem(r.record_id, r.path, json.loads(r.reasons), r.status, r.decision, r.flagged_at,
                           r.decided_at) for r in rows]

    def get(self, record_id: str) -> ReviewItem:
        """The item for `record_id`, or an InputError saying it is not in the queue."""
        with self.engine.connect() as db:
            r = db.execute(select(review_items).where(review_items.c.record_id == record_id)).first()
        if r is None:
            raise InputError(record_id, "is not in the review queue; see `commentslab review list`")
        return ReviewItem(r.record_id, r.path, json.loads(r.reasons), r.status, r.decision, r.flagged_at,
                          r.decided_at)

    def _decide(self, record_id: str, status: str, decision: str | None) -> ReviewItem:
        self.get(record_id)
        with self.engine.begin() as db:
            db.execute(update(review_items).where(review_items.c.record_id == record_id)
                       .values(status=status, decision=decision, decided_at=_now()))
        return self.get(record_id)

    def accept(self, record_id: str) -> ReviewItem:
        """Let a flagged record into the next split."""
        return self._decide(record_id, ACCEPTED, None)

    def reject(self, record_id: str, reason: str) -> ReviewItem:
        """Keep a record out of every split from now on, with the reason."""
        if not reason.strip():
            raise InputError("--reason", "a rejection needs a reason")
        return self._decide(record_id, REJECTED, reason.strip())

    def decisions(self) -> dict[str, str]:
        """record_id -> status, for the splitter."""
        return {item.record_id: item.status for item in self.items()}

