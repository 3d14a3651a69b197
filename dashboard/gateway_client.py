"""The dashboard's only way to the back end: the public gateway's HTTP API (services/gateway)."""

from __future__ import annotations

from typing import Any

import requests


class GatewayError(Exception):
    """The gateway refused or could not be reached; the message is the gateway's own sentence."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def refusal_detail(reply: requests.Response) -> str:
    """The gateway's sentence for a refused request (FastAPI's validation problems joined into one)."""
    try:
        detail = reply.json().get("detail")
    except ValueError:
        detail = reply.text
    if not isinstance(detail, str):  # FastAPI's validation errors are a list of problems
        detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}" for d in detail)
    return detail


def _run(run: str | None) -> dict:
    return {"run": run} if run is not None else {}


class GatewayClient:
    """Calls the gateway at ``base_url`` (e.g. ``http://127.0.0.1:8060``)."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, token: str | None = None, **kwargs) -> Any:
        headers = kwargs.pop("headers", {})
        if token:
            headers["X-Reviewer-Token"] = token
        try:
            reply = self.session.request(method, self.base_url + path, headers=headers, timeout=self.timeout,
                                         **kwargs)
        except requests.RequestException as exc:
            raise GatewayError(f"the gateway at {self.base_url} cannot be reached ({exc.__class__.__name__}); "
                               "is it running?") from exc
        if reply.status_code >= 400:
            raise GatewayError(refusal_detail(reply), reply.status_code)
        return reply.json()

    def runs(self, scenario: str | None = None, model: str | None = None, profile: str | None = None,
             verdict: str | None = None) -> dict:
        """The served folder's runs matching the filters given (``{"total", "default", "values", "runs"}``)."""
        params = {k: v for k, v in (("scenario", scenario), ("model", model), ("profile", profile),
                                     ("verdict", verdict)) if v is not None}
        return self._call("GET", "/api/runs", params=params)

    def results(self, run: str | None = None) -> dict:
        """A run's results.json (default: the served run), without per-problem rows."""
        return self._call("GET", "/api/results", params=_run(run))

    def problems(self, disagree_only: bool = False, limit: int = 200, offset: int = 0, search: str = "",
                 fold: int | None = None, outcomes: list[str] | tuple[str, ...] = (), run: str | None = None) -> dict:
        """A page of per-problem rows with their metadata (``{"total", "offset", "arms", "folds", "problems"}``):
        those matching ``search`` (task id or function name), ``fold`` and every ``outcomes`` entry
        (``"<arm>:passed"`` or ``"<arm>:failed"``), only disagreements when ``disagree_only``."""
        params: dict = {"disagreeOnly": str(disagree_only).lower(), "limit": limit, "offset": offset}
        if search:
            params["search"] = search
        if fold is not None:
            params["fold"] = fold
        if outcomes:
            params["outcome"] = list(outcomes)
        return self._call("GET", "/api/problems", params={**params, **_run(run)})

    def training(self, run: str | None = None) -> dict[str, list[dict]]:
        """Each arm's training history (of ``run``; default: the served run)."""
        return self._call("GET", "/api/training", params=_run(run))

    def relay_generate(self, body: bytes, visitor: str | None = None) -> requests.Response:
        """Open the gateway's streamed playground generation for a visitor's request ``body`` (JSON), unread:
        the dashboard passes its status, type and lines on to the page as they come. ``visitor`` is relayed
        (``X-Forwarded-For``) so the daily limit counts per visitor, not per dashboard."""
        headers = {"Content-Type": "application/json", **({"X-Forwarded-For": visitor} if visitor else {})}
        try:
            return self.session.post(self.base_url + "/api/generate", data=body, headers=headers, stream=True,
                                     timeout=(self.timeout, 300))
        except requests.RequestException as exc:
            raise GatewayError(f"the gateway at {self.base_url} cannot be reached; is it running?") from exc

    def register(self, name: str) -> dict:
        """Register a reviewer: ``{"reviewerId", "token"}``."""
        return self._call("POST", "/api/reviewers", json={"name": name})

    def next_pair(self, token: str) -> dict:
        """The next blind pair for the reviewer with ``token``."""
        return self._call("GET", "/api/pairs/next", token=token)

    def vote(self, token: str, pair_id: str, choice: str) -> dict:
        """Record a vote; the reply reveals the arms."""
        return self._call("POST", "/api/votes", token=token, json={"pairId": pair_id, "choice": choice})

    def vote_summary(self) -> dict:
        """The human-evaluation statistics."""
        return self._call("GET", "/api/votes/summary")

    def review_items(self, status: str | None = None) -> list[dict]:
        """The review queue's items."""
        return self._call("GET", "/api/review", params={"status": status} if status else None)

    def review_decide(self, token: str, record_id: str, accept: bool, reason: str = "") -> dict:
        """Accept, or reject with ``reason``, one flagged record."""
        if accept:
            return self._call("POST", f"/api/review/{record_id}/accept", token=token)
        return self._call("POST", f"/api/review/{record_id}/reject", token=token, json={"reason": reason})
