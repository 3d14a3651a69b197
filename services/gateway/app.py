"""The FastAPI gateway: the only public door to the back end.

Routes translate HTTP to the plain modules beside this one and back; no logic lives here.
- results: ``GET /api/results`` (the run's results.json), ``GET /api/problems`` (per-problem rows)
- playground: ``POST /api/generate`` streams both arms' text as the model server (gRPC) decodes it, as
  NDJSON events, at most ``daily_limit`` requests per client per UTC day
- human evaluation: ``POST /api/reviewers``, ``GET /api/pairs/next``, ``POST /api/votes``, ``GET /api/votes/summary``
- review queue: ``GET /api/review``, ``POST /api/review/{record_id}/accept|reject``
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from services.common.errors import CommentslabError
from services.gateway.playground import (
    MAX_METADATA_CHARS,
    MAX_NEW_TOKENS,
    MAX_PROMPT_CHARS,
    Playground,
    metadata_from_text,
)
from services.gateway.preference import summarise
from services.gateway.rate_limit import DEFAULT_DAILY_LIMIT, DailyRateLimiter
from services.gateway.results_store import (
    ResultsError,
    disagrees,
    load_results,
    problem_arms,
    split_metadata,
    training_histories,
)
from services.gateway.training_source import mlflow_histories
from services.gateway.votes import DEFAULT_DAILY_CAP, Pair, VoteError, VoteStore, pair_id

API_VERSION = "1.0.0"
MAX_PAGE = 200


class ErrorReply(BaseModel):
    """Every refusal: one sentence saying what went wrong and what to do."""

    detail: str


class GenerateRequest(BaseModel):
    """A playground request."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="code to complete")
    metadata: str | None = Field(default=None, max_length=MAX_METADATA_CHARS,
                                 description=".comments metadata: a JSON object or plain comment text")
    maxNewTokens: int = Field(default=64, ge=1, le=MAX_NEW_TOKENS)


class RegisterRequest(BaseModel):
    """A new reviewer."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w .@-]+$")


class RegisterReply(BaseModel):
    """The reviewer's id and the secret token to send as ``X-Reviewer-Token``."""

    reviewerId: str
    token: str


class Side(BaseModel):
    """One side of a blind pair: the generated code only, never the arm."""

    code: str


class PairReply(BaseModel):
    """A blind pair to judge, or ``done`` when the reviewer has judged every pair."""

    done: bool
    pairId: str | None = None
    taskId: str | None = None
    prompt: str | None = None
    a: Side | None = None
    b: Side | None = None
    votesToday: int
    dailyCap: int


class VoteRequest(BaseModel):
    """A judgement of a pair served to this reviewer."""

    pairId: str = Field(min_length=1, max_length=32)
    choice: Literal["A", "B", "tie", "both_bad"]


class VoteReply(BaseModel):
    """The recorded vote; the arms are revealed only now, after the vote."""

    pairId: str
    choice: str
    leftArm: str
    rightArm: str
    votesToday: int


class ProblemsPage(BaseModel):
    """A page of per-problem rows (see docs/CONTRACTS.md ``problems``)."""

    total: int
    offset: int
    arms: list[str]
    problems: list[dict[str, Any]]


class RejectRequest(BaseModel):
    """Why a flagged record is kept out of the data."""

    reason: str = Field(min_length=1, max_length=500)


_ERRORS = {code: {"model": ErrorReply} for code in (400, 401, 404, 409, 429, 503)}


def client_key(request: Request, forwarded_for: str | None,
               trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()) -> str:
    """Who a request counts against: the peer address, or the first ``X-Forwarded-For`` address when the
    peer is a proxy the gateway trusts: loopback (the in-process dashboard relaying a visitor) or a network
    in ``trusted`` (``--trusted-proxy``: the dashboard's pods, the ingress controller). Any other peer cannot
    pick its own key."""
    peer = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(peer)
        is_trusted = address.is_loopback or any(address in network for network in trusted)
    except ValueError:
        is_trusted = False
    if is_trusted and forwarded_for:
        return forwarded_for.split(",")[0].strip()[:64] or peer
    return peer


def create_app(results_dir: Path, model_server: str | None = None, votes_url: str | None = None,
               review_queue: Path | None = None, daily_limit: int = DEFAULT_DAILY_LIMIT,
               daily_vote_cap: int = DEFAULT_DAILY_CAP, trusted_proxies: tuple[str, ...] = ()) -> FastAPI:
    """The gateway for the run in ``results_dir``.

    ``model_server`` is the ModelServer's host:port (the playground answers 503 without one);
    ``votes_url`` a SQLAlchemy URL (default: SQLite ``<results_dir>/votes.sqlite``); ``review_queue``
    the review queue's SQLite file (default: ``<results_dir>/export/*.review.sqlite`` when present);
    ``trusted_proxies`` networks (CIDR) whose ``X-Forwarded-For`` names the visitor the daily limit counts.
    """
    results_dir = Path(results_dir)
    app = FastAPI(title="commentslab gateway", version=API_VERSION,
                  description="Public API: results, the playground, blind A/B votes and the review queue.")
    limiter = DailyRateLimiter(daily_limit)
    trusted = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies)
    playground = Playground(model_server) if model_server else None
    if votes_url is None:
        # Beside the results; a missing folder has nothing to vote on, so an in-memory store will do.
        votes_url = f"sqlite:///{results_dir.resolve() / 'votes.sqlite'}" if results_dir.is_dir() else "sqlite://"
    store = VoteStore(votes_url, daily_cap=daily_vote_cap)
    if review_queue is None:
        review_queue = next(iter(sorted((results_dir / "export").glob("*.review.sqlite"))), None)

    def results() -> dict:
        try:
            return load_results(results_dir)
        except ResultsError as exc:
            raise HTTPException(404, str(exc)) from exc

    def pairs(data: dict) -> list[Pair]:
        arms = problem_arms(data)
        return [Pair(pair_id(p["id"], a, b), p["id"], (a, b)) for p in data.get("problems", [])
                for i, a in enumerate(arms) for b in arms[i + 1:]]

    def reviewer(token: str | None) -> str:
        if not token:
            raise HTTPException(401, "send your reviewer token in the X-Reviewer-Token header (register first)")
        try:
            return store.reviewer(token)
        except VoteError as exc:
            raise HTTPException(exc.status, str(exc)) from exc

    @app.exception_handler(CommentslabError)
    async def _service_error(request: Request, exc: CommentslabError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/api/health")
    def health() -> dict[str, str]:
        """Liveness: always ``{"status": "ok"}`` while the gateway runs."""
        return {"status": "ok"}

    @app.get("/api/results", responses=_ERRORS)
    def get_results() -> dict[str, Any]:
        """The run's results.json without the per-problem rows (page through those with /api/problems)."""
        return {k: v for k, v in results().items() if k != "problems"}

    @app.get("/api/problems", responses=_ERRORS)
    def get_problems(offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=MAX_PAGE),
                     disagreeOnly: bool = False) -> ProblemsPage:
        """Per-problem rows, optionally only those where the arms' test outcomes differ."""
        data = results()
        arms = problem_arms(data)
        rows = [p for p in data.get("problems", []) if not disagreeOnly or disagrees(p, arms)]
        page = rows[offset:offset + limit]
        if any("metadata" not in p for p in page):
            metadata = split_metadata(results_dir)
            page = [p if "metadata" in p else {**p, "metadata": metadata.get(p["id"])} for p in page]
        return ProblemsPage(total=len(rows), offset=offset, arms=arms, problems=page)

    @app.get("/api/training", responses=_ERRORS)
    def get_training() -> dict[str, list[dict[str, Any]]]:
        """Each arm's training history (step, loss, validationLoss when logged): from results.json once the
        run finished, else live from the run's MLflow store, else from the trainer's history files."""
        try:
            data = load_results(results_dir)
        except ResultsError:
            data = None
        finished = training_histories(results_dir, data)
        if data is not None and finished:
            return finished
        try:
            live = mlflow_histories(results_dir)
        except CommentslabError as exc:
            raise HTTPException(503, str(exc)) from exc
        return {**finished, **live}

    @app.post("/api/generate", responses={**_ERRORS, 200: {"content": {"application/x-ndjson": {}},
                                                           "description": "NDJSON events, both arms interleaved"}})
    def generate(body: GenerateRequest, request: Request,
                 x_forwarded_for: str | None = Header(default=None)) -> StreamingResponse:
        """Generate with both arms at once, streamed as one JSON object per line as the tokens are decoded:
        ``start`` (arm, input) per arm, then ``delta`` (arm, text) events of both arms interleaved, then per
        arm ``done`` (arm, input, completion, finishReason, generatedTokens, seconds) or ``error`` (arm, error).
        Every line carries ``remainingToday``. Counts against the daily limit."""
        if playground is None:
            raise HTTPException(503, "the playground is off: start the gateway with --model-server HOST:PORT")
        remaining = limiter.take(client_key(request, x_forwarded_for, trusted))
        if remaining is None:
            raise HTTPException(429, limiter.message())
        metadata = metadata_from_text(body.metadata)

        def lines() -> Iterator[bytes]:
            for event in playground.stream(body.prompt, metadata, body.maxNewTokens):
                yield (json.dumps({**event, "remainingToday": remaining}) + "\n").encode()

        # No proxy buffering (ingress-nginx honours this header), so each line reaches the visitor as it is made.
        return StreamingResponse(lines(), media_type="application/x-ndjson", headers={"X-Accel-Buffering": "no"})

    @app.post("/api/reviewers", responses=_ERRORS)
    def register(body: RegisterRequest) -> RegisterReply:
        """Register a reviewer; keep the token, it is shown once."""
        try:
            reviewer_id, token = store.register(body.name)
        except VoteError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        return RegisterReply(reviewerId=reviewer_id, token=token)

    @app.get("/api/pairs/next", responses=_ERRORS)
    def next_pair(x_reviewer_token: str | None = Header(default=None)) -> PairReply:
        """The next blind pair for this reviewer, sides drawn at random; ``done`` when none is left."""
        reviewer_id = reviewer(x_reviewer_token)
        data = results()
        today = store.votes_today(reviewer_id)
        served = store.next_pair(reviewer_id, pairs(data))
        if served is None:
            return PairReply(done=True, votesToday=today, dailyCap=store.daily_cap)
        pair, left, right = served
        problem = next(p for p in data["problems"] if p["id"] == pair.problem_id)

        def code(arm: str) -> str:
            completions = (problem.get(arm) or {}).get("completions") or [""]
            return problem.get("prompt", "") + completions[0]

        return PairReply(done=False, pairId=pair.pair_id, taskId=problem.get("taskId"), prompt=problem.get("prompt"),
                         a=Side(code=code(left)), b=Side(code=code(right)), votesToday=today,
                         dailyCap=store.daily_cap)

    @app.post("/api/votes", responses=_ERRORS)
    def vote(body: VoteRequest, x_reviewer_token: str | None = Header(default=None)) -> VoteReply:
        """Record a vote on a pair served to this reviewer: one per pair, at most the daily cap per day."""
        reviewer_id = reviewer(x_reviewer_token)
        try:
            recorded = store.vote(reviewer_id, body.pairId, body.choice)
        except VoteError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        return VoteReply(pairId=recorded.pair_id, choice=recorded.choice, leftArm=recorded.left_arm,
                         rightArm=recorded.right_arm, votesToday=store.votes_today(reviewer_id))

    @app.get("/api/votes/summary", responses=_ERRORS)
    def vote_summary() -> dict[str, Any]:
        """Preference shares (Wilson interval, binomial test), agreement, position bias, flagged reviewers,
        and a Bradley-Terry fit when there are more than two arms."""
        return summarise(store.all_votes(), problem_arms(results()))

    def queue():
        if review_queue is None or not Path(review_queue).exists():
            raise HTTPException(404, "no review queue: start the gateway with --review-queue FILE "
                                     "(the exporter writes <records>.review.sqlite)")
        from services.review.queue import ReviewQueue

        return ReviewQueue(Path(review_queue))

    @app.get("/api/review", responses=_ERRORS)
    def review_items(status: Literal["pending", "accepted", "rejected"] | None = None) -> list[dict[str, Any]]:
        """The data pipeline's flagged records (optionally one status), oldest first."""
        return [item.to_dict() for item in queue().items(status)]

    @app.post("/api/review/{record_id}/accept", responses=_ERRORS)
    def review_accept(record_id: str, x_reviewer_token: str | None = Header(default=None)) -> dict[str, Any]:
        """Let a flagged record into the next split (reviewers only)."""
        reviewer(x_reviewer_token)
        try:
            return queue().accept(record_id).to_dict()
        except CommentslabError as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.post("/api/review/{record_id}/reject", responses=_ERRORS)
    def review_reject(record_id: str, body: RejectRequest,
                      x_reviewer_token: str | None = Header(default=None)) -> dict[str, Any]:
        """Keep a flagged record out of every split, with the reason (reviewers only)."""
        reviewer(x_reviewer_token)
        try:
            return queue().reject(record_id, body.reason).to_dict()
        except CommentslabError as exc:
            raise HTTPException(404, str(exc)) from exc

    return app


def openapi_text() -> str:
    """The gateway's OpenAPI schema as committed in services/gateway/openapi.json (sorted keys, 2-space indent)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        schema = create_app(Path(folder), votes_url="sqlite://").openapi()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
