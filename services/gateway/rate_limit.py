"""A per-client daily request budget, enforced on the server so no page can get around it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

DEFAULT_DAILY_LIMIT = 100


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class DailyRateLimiter:
    """Counts requests per client key per UTC day; the counts reset at 00:00 UTC.

    Counts live in memory: a restart forgives the day's use, which errs on the visitor's side.
    """

    def __init__(self, limit: int = DEFAULT_DAILY_LIMIT, today: Callable[[], dt.date] = _utc_today):
        self.limit = limit
        self.today = today
        self._day = today()
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> int | None:
        """Spend one request of ``client``'s budget; returns how many remain, or None when none was left."""
        with self._lock:
            day = self.today()
            if day != self._day:
                self._day, self._counts = day, {}
            used = self._counts.get(client, 0)
            if used >= self.limit:
                return None
            self._counts[client] = used + 1
            return self.limit - used - 1

    def message(self) -> str:
        """What a client that ran out is told."""
        return (f"Daily limit reached: the playground allows {self.limit} generations per visitor per day. "
                "It resets at 00:00 UTC.")
