"""The review queue: flagged records and the decisions people make on them, in one SQLite file.

The exporter flags a record (a failed syntax check, low metadata completeness, a scrubbed secret);
`commentslab review accept|reject` decides; the next split applies the decisions. A record stays
decided when it is flagged again by a later export, so a decision survives re-runs and restarts.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from services.common.errors import InputError

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
STATUSES = (PENDING, ACCEPTED, REJECTED)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_items (
    record_id   TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    decision    TEXT,
    flagged_at  TEXT NOT NULL,
    decided_at  TEXT
)
"""


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


class ReviewQueue:
    """A persisted queue at `path` (created on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(str(self.path), f"cannot open the review queue ({exc})") from exc

    def _connect(self) -> sqlite3.Connection:
        # A short busy timeout: the exporter and a person's `review` command may touch the file together.
        return sqlite3.connect(self.path, timeout=30)

    def flag(self, items: Iterable[tuple[str, str, list[str]]]) -> int:
        """Add (record_id, path, reasons) items; an item already decided keeps its decision. Returns the count."""
        rows = [(rid, path, json.dumps(sorted(set(reasons))), _now()) for rid, path, reasons in items]
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT INTO review_items (record_id, path, reasons, flagged_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(record_id) DO UPDATE SET reasons = excluded.reasons, path = excluded.path",
                rows,
            )
        return len(rows)

    def items(self, status: str | None = None) -> list[ReviewItem]:
        """Every item (or those with `status`), oldest flag first."""
        if status is not None and status not in STATUSES:
            raise InputError("--status", f"{status!r} is not one of {', '.join(STATUSES)}")
        query = "SELECT record_id, path, reasons, status, decision, flagged_at, decided_at FROM review_items"
        args: tuple = ()
        if status:
            query += " WHERE status = ?"
            args = (status,)
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY flagged_at, record_id", args).fetchall()
        return [ReviewItem(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def get(self, record_id: str) -> ReviewItem:
        """The item for `record_id`, or an InputError saying it is not in the queue."""
        for item in self.items():
            if item.record_id == record_id:
                return item
        raise InputError(record_id, f"is not in the review queue {self.path}; see `commentslab review list`")

    def _decide(self, record_id: str, status: str, decision: str | None) -> ReviewItem:
        self.get(record_id)
        with closing(self._connect()) as db, db:
            db.execute("UPDATE review_items SET status = ?, decision = ?, decided_at = ? WHERE record_id = ?",
                       (status, decision, _now(), record_id))
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
