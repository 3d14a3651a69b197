"""The FastAPI gateway: the only public door to the back end.

Routes translate HTTP to the plain modules beside this one and back; no logic lives here.
- results: ``GET /api/runs`` (the runs of the served folder, filtered), ``GET /api/results`` (a run's
  results.json), ``GET /api/problems`` (its per-problem rows), ``GET /api/training`` (its training curves);
  each takes ``run`` (an id from /api/runs; default: the served run, or the folder's reference or first run)
- playground: ``POST /api/generate`` streams both arms' text as the model server (gRPC) decodes it, as
  NDJSON events, at most ``daily_limit`` requests per client per UTC day
- human evaluation: ``POST /api/reviewers``, ``GET /api/pairs/next``, ``POST /api/votes``, ``GET /api/votes/summary``
- review queue: ``GET /api/review``, ``POST /api/review/{record_id}/accept|reject`` (the maintainer only)

Shared state (daily counts, reviewers and votes, the review queue) lives in one SQL store, so replicas
behind one Service enforce one limit. The maintainer credential comes from the deployment
(``COMMENTSLAB_MAINTAINER_TOKEN_FILE`` or ``COMMENTSLAB_MAINTAINER_TOKEN``): it issues reviewer tokens and
decides the review queue; no token a visitor can make for itself does either.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator

from commentslab.services.common.database import open_database
from commentslab.services.common.deployment_secrets import read_secret
from commentslab.services.common.errors import CommentslabError
from commentslab.services.common.layout import PROVENANCE_FILE, RunLayout
from commentslab.services.common.layout import review_queue as layout_review_queue
from commentslab.services.common.logs import setup_logging
from commentslab.services.common.run_index import VERDICTS
from commentslab.services.gateway.playground import (
    MAX_METADATA_CHARS,
    MAX_NEW_TOKENS,
    MAX_PROMPT_CHARS,
    Playground,
    metadata_from_text,
)
from commentslab.services.gateway.preference import summarise
from commentslab.services.gateway.problem_query import ProblemQuery, folds_of, matches
from commentslab.services.gateway.public_view import public_text, public_view
from commentslab.services.gateway.rate_limit import DEFAULT_DAILY_LIMIT, DailyRateLimiter
from commentslab.services.gateway.request_limits import install as install_request_limits
from commentslab.services.gateway.request_limits import json_problem
from commentslab.services.gateway.results_store import ResultsError, load_results, problem_arms
from commentslab.services.gateway.run_database import MAX_RUN_ID, RunDatabase, RunRequestError
from commentslab.services.gateway.run_folder import mlflow_histories, split_metadata, training_histories
from commentslab.services.gateway.votes import DEFAULT_DAILY_CAP, Pair, VoteError, VoteStore, pair_id
from commentslab.services.review.queue import ReviewQueue

API_VERSION = "1.0.0"
MAX_PAGE = 200
MAINTAINER_SECRET = "COMMENTSLAB_MAINTAINER_TOKEN"
REGISTRATIONS_PER_CLIENT = 3  # self-registered reviewers one client may make per day
OPEN_VOTES_PER_CLIENT = 50  # votes per day from all the self-registered reviewers of one client
log = setup_logging(__name__)

PUBLISHED_SAMPLE = 0  # the one completion per arm /api/problems shows; blind pairs are drawn from the others


class ErrorReply(BaseModel):
    """Every refusal: one sentence saying what went wrong and what to do."""

    detail: str


class GenerateRequest(BaseModel):
    """A playground request."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="code to complete")
    metadata: str | None = Field(default=None, max_length=MAX_METADATA_CHARS,
                                 description=".comments metadata: a JSON object or plain comment text")
    maxNewTokens: int = Field(default=64, ge=1, le=MAX_NEW_TOKENS)

    @field_validator("metadata")
    @classmethod
    def _metadata_is_safe_json(cls, value: str | None) -> str | None:
        # The metadata is JSON inside a JSON string: the body's checks cannot see into it.
        problem = json_problem(value) if value else None
        if problem:
            raise ValueError(problem.replace("the JSON", "the metadata"))
        return value


class RegisterRequest(BaseModel):
    """A new reviewer: invited with the maintainer's credential, else self-registered where that is open."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w .@-]+$")


class RegisterReply(BaseModel):
    """The reviewer's id and the secret token to send as ``X-Reviewer-Token``."""

    reviewerId: str
    token: str
    invited: bool = Field(description="false: self-registered; the votes are reported apart from invited reviewers'")


class Side(BaseModel):
    """One side of a blind pair: the generated code only, never the arm."""

    code: str


class PairReply(BaseModel):
    """A blind pair to judge, or ``done`` when there is none left for this reviewer, with ``reason`` saying which:
    every pair judged, or a run with no unpublished sample to draw a blind pair from."""

    done: bool
    reason: str | None = None
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
    """A page of per-problem rows (see docs/CONTRACTS.md ``problems``); ``total`` counts every match."""

    total: int
    offset: int
    arms: list[str]
    folds: list[int] = Field(default_factory=list, description="the folds the run's test problems come from")
    problems: list[dict[str, Any]]


class RunsPage(BaseModel):
    """The runs of the served folder matching the filters (see commentslab.services.common.run_index):
    each with its id, scenario, baseModel, experiment, design, date, verdict, verdictKind, effects (experiment −
    control per metric with its 95% interval) and error (why a broken run cannot be shown, else null)."""

    total: int = Field(description="the runs listed (broken ones included)")
    default: str | None = Field(description="the run the other endpoints serve when no run is named")
    values: dict[str, list[str]] = Field(description="every value each filter takes in this folder")
    runs: list[dict[str, Any]]


class RejectRequest(BaseModel):
    """Why a flagged record is kept out of the data."""

    reason: str = Field(min_length=1, max_length=500)


_ERRORS = {code: {"model": ErrorReply} for code in (400, 401, 403, 404, 409, 413, 429, 503)}
Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def _trusted(text: str, trusted: Networks) -> bool:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return any(address in network for network in trusted)


def client_key(request: Request, forwarded_for: str | None, trusted: Networks = ()) -> str:
    """Who a request counts against: the peer address, unless the peer is a proxy in ``trusted``
    (``--trusted-proxy``: the ingress controller, the dashboard's pods); then the right-most
    ``X-Forwarded-For`` address that is not itself a trusted proxy. Each proxy appends the address it saw,
    so the addresses right of the visitor's were written by trusted proxies and everything left of it by
    the visitor, who may write anything there. From any other peer the header is ignored."""
    peer = request.client.host if request.client else "unknown"
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    for hop in reversed(forwarded_for.split(",")):
        hop = hop.strip()
        if not hop:
            continue
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop right of every proxy: no address to believe but the peer's
    return peer


# A run with one sample per problem publishes that sample on the comparison page, so any visitor could tell
# the arms of a pair drawn from it: there is nothing to judge blind.
NO_BLIND_PAIRS = ("This run has one sample per problem, and the comparison page shows it, so no blind pair can be "
                  "drawn from it. A run with generate.n of 2 or more keeps samples unpublished for human evaluation.")


def default_database_url(results_dir: Path, review_queue: Path | None) -> str:
    """The SQL store when none is named: the export's review queue file, so decisions made here reach the next
    split; else ``gateway.sqlite`` beside the results; in memory when there is no results folder or it is a promoted reference."""
    if review_queue is not None and Path(review_queue).is_file():
        return f"sqlite:///{Path(review_queue).resolve()}"
    if (results_dir / PROVENANCE_FILE).is_file():
        # A promoted reference holds exactly what its run promoted (`reference verify` refuses any other file),
        # so its votes are kept in memory unless a database is named.
        log.warning("%s is a promoted reference: votes and reviewers are kept in memory; name --database-url "
                    "to keep them", results_dir)
        return "sqlite://"
    if results_dir.is_dir():
        return f"sqlite:///{results_dir.resolve() / 'gateway.sqlite'}"
    return "sqlite://"


def create_app(results_dir: Path, model_server: str | None = None, database_url: str | None = None,
               review_queue: Path | None = None, daily_limit: int = DEFAULT_DAILY_LIMIT,
               daily_vote_cap: int = DEFAULT_DAILY_CAP, trusted_proxies: tuple[str, ...] = (),
               maintainer_token: str | None = None, open_registration: bool = True,
               votes_url: str | None = None) -> FastAPI:
    """The gateway for the run in ``results_dir``, or for every run under it (a results database).

    ``model_server`` is the ModelServer's host:port (the playground answers 503 without one);
    ``database_url`` the SQL store of the daily counts, votes and review queue (a SQLAlchemy URL;
    ``votes_url`` is the dashboard's name for it; default: ``default_database_url``); ``review_queue`` the
    export's review queue file (default: ``<results_dir>/export/*.review.sqlite`` when present), whose items
    are merged into the store; ``trusted_proxies`` networks (CIDR) whose ``X-Forwarded-For`` is believed;
    ``maintainer_token`` the maintainer credential (default: from the deployment's secret; without one no
    one can invite reviewers or decide the review queue); ``open_registration`` lets visitors make their
    own reviewer tokens, rate-limited per client, whose votes are reported apart.
    """
    results_dir = Path(results_dir)
    app = FastAPI(title="commentslab gateway", version=API_VERSION,
                  description="Public API: results, the playground, blind A/B votes and the review queue.")
    install_request_limits(app)
    if review_queue is None:
        beside = layout_review_queue(RunLayout.reading(results_dir).records)
        review_queue = beside if beside.is_file() else None
    database_url = database_url or votes_url or default_database_url(results_dir, review_queue)
    engine = open_database(database_url)
    limiter = DailyRateLimiter(engine, daily_limit)
    registrations = DailyRateLimiter(engine, REGISTRATIONS_PER_CLIENT, bucket="registrations")
    open_votes = DailyRateLimiter(engine, OPEN_VOTES_PER_CLIENT, bucket="open-votes")
    trusted = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies)
    playground = Playground(model_server) if model_server else None
    store = VoteStore(engine, daily_cap=daily_vote_cap)
    review = ReviewQueue(engine)
    if review_queue is not None and Path(review_queue).is_file() \
            and f"sqlite:///{Path(review_queue).resolve()}" != database_url:
        review.merge(ReviewQueue(Path(review_queue)))
    maintainer = maintainer_token if maintainer_token is not None else read_secret(MAINTAINER_SECRET)
    database = RunDatabase(results_dir)

    def run_dir(run: str | None) -> Path:
        try:
            return database.run_dir(run)
        except RunRequestError as exc:  # names the parameter and the id asked for, never a path
            raise HTTPException(exc.status, str(exc)) from exc

    def results(run: str | None = None) -> dict:
        try:
            return load_results(run_dir(run))
        except ResultsError as exc:
            raise HTTPException(404, public_text(str(exc))) from exc

    def pairs(data: dict) -> list[Pair]:
        """Every (problem, two arms) with completions /api/problems does not publish: a pair drawn from the
        published sample could be matched to its arm by anyone before the vote."""
        arms = problem_arms(data)
        out = []
        for p in data.get("problems", []):
            counts = [len((p.get(arm) or {}).get("completions") or []) for arm in arms]
            unpublished = tuple(i for i in range(min(counts, default=0)) if i != PUBLISHED_SAMPLE)
            if unpublished:
                out.extend(Pair(pair_id(p["id"], a, b), p["id"], (a, b), unpublished)
                           for i, a in enumerate(arms) for b in arms[i + 1:])
        return out

    def published(problem: dict, arms: list[str]) -> dict:
        return {**problem, **{arm: {**problem[arm], "completions": problem[arm]["completions"][:PUBLISHED_SAMPLE + 1]}
                              for arm in arms if isinstance(problem.get(arm), dict)
                              and isinstance(problem[arm].get("completions"), list)}}

    def reviewer(token: str | None) -> tuple[str, bool, str]:
        if not token:
            raise HTTPException(401, "send your reviewer token in the X-Reviewer-Token header")
        try:
            return store.reviewer_row(token)
        except VoteError as exc:
            raise HTTPException(exc.status, str(exc)) from exc

    def is_maintainer(credential: str | None) -> bool:
        return bool(maintainer and credential and hmac.compare_digest(credential.encode(), maintainer.encode()))

    def require_maintainer(credential: str | None) -> None:
        if not maintainer:
            raise HTTPException(403, f"this gateway has no maintainer credential: set {MAINTAINER_SECRET}_FILE")
        if not is_maintainer(credential):
            raise HTTPException(403, "only the maintainer may do this: send the maintainer credential in the "
                                     "X-Maintainer-Token header")

    @app.exception_handler(CommentslabError)
    async def _service_error(request: Request, exc: CommentslabError) -> JSONResponse:
        return JSONResponse({"detail": public_text(str(exc))}, status_code=503)

    @app.get("/api/health")
    def health() -> dict[str, str]:
        """Liveness: always ``{"status": "ok"}`` while the gateway runs."""
        return {"status": "ok"}

    run_query = Query(None, min_length=1, max_length=MAX_RUN_ID,
                      description="a run id from /api/runs (default: the served run, else the folder's reference "
                                  "or first run)")

    @app.get("/api/runs", responses=_ERRORS)
    def get_runs(scenario: str | None = Query(None, max_length=200, description="only runs of this scenario"),
                 model: str | None = Query(None, max_length=200, description="only runs of this base model"),
                 profile: str | None = Query(None, max_length=200, description="only runs of this profile"),
                 verdict: str | None = Query(None, max_length=20,
                                             description="better, worse, mixed, none (no significant "
                                                         "difference) or broken (the run cannot be read)"),
                 ) -> RunsPage:
        """The runs of the served folder (one run folder is a database of one), filtered by scenario, base model,
        profile and verdict, broken ones with the reason; a value no run has is refused, naming the parameter."""
        try:
            selected = database.select(scenario=scenario, model=model, profile=profile, verdict=verdict)
            index = database.index()
        except RunRequestError as exc:  # names the parameter and the id asked for, never a path
            raise HTTPException(exc.status, str(exc)) from exc
        except ResultsError as exc:
            raise HTTPException(404, public_text(str(exc))) from exc
        default = database.default_entry()
        return RunsPage(total=len(selected), default=default.run_id if default else None,
                        values={"scenario": index.values("scenario"), "model": index.values("base_model"),
                                "profile": index.values("profile"), "verdict": list(VERDICTS)},
                        runs=[public_view(entry.to_dict()) for entry in selected])

    @app.get("/api/results", responses=_ERRORS)
    def get_results(run: str | None = run_query) -> dict[str, Any]:
        """A run's results.json without the per-problem rows (page through those with /api/problems), and
        without absolute paths, host and kernel names or addresses."""
        return public_view({k: v for k, v in results(run).items() if k != "problems"})

    @app.get("/api/problems", responses=_ERRORS)
    def get_problems(offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=MAX_PAGE),
                     disagreeOnly: bool = False,
                     search: str = Query("", max_length=200, description="part of the task id or function name"),
                     fold: int | None = Query(None, ge=0, description="only this fold's test problems"),
                     outcome: Annotated[list[str] | None, Query(
                         max_length=6, description="<arm>:passed or <arm>:failed; every one must hold")] = None,
                     run: str | None = run_query) -> ProblemsPage:
        """A run's per-problem rows matching a search, arms' outcomes and a fold, optionally only those where the
        arms' test outcomes differ; a page of them from ``offset``."""
        folder = run_dir(run)
        data = results(run)
        arms = problem_arms(data)
        try:
            outcomes = tuple(ProblemQuery.parse_outcome(text) for text in outcome or [])
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        unknown = sorted({arm for arm, _ in outcomes} - set(arms))
        if unknown:
            raise HTTPException(400, f"no arm {', '.join(unknown)}: the run's arms are {', '.join(arms)}")
        query = ProblemQuery(search=search, outcomes=outcomes, fold=fold, disagree_only=disagreeOnly)
        rows = [p for p in data.get("problems", []) if matches(p, arms, query)]
        page = [published(p, arms) for p in rows[offset:offset + limit]]
        if any("metadata" not in p for p in page):
            metadata = split_metadata(folder)
            page = [p if "metadata" in p else {**p, "metadata": metadata.get(p["id"])} for p in page]
        return ProblemsPage(total=len(rows), offset=offset, arms=arms, folds=folds_of(data.get("problems", [])),
                            problems=page)

    @app.get("/api/training", responses=_ERRORS)
    def get_training(run: str | None = run_query) -> dict[str, list[dict[str, Any]]]:
        """A run's training history per arm (step, loss, validationLoss when logged): from results.json once the
        run finished, else live from the run's MLflow store, else from the trainer's history files."""
        folder = run_dir(run)
        try:
            data = load_results(folder)
        except ResultsError:
            data = None
        finished = training_histories(folder, data)
        if data is not None and finished:
            return finished
        try:
            live = mlflow_histories(folder)
        except CommentslabError as exc:
            raise HTTPException(503, public_text(str(exc))) from exc
        return {**finished, **live}

    @app.post("/api/generate", responses={**_ERRORS, 200: {"content": {"application/x-ndjson": {}},
                                                           "description": "NDJSON events, both arms interleaved"}})
    def generate(body: GenerateRequest, request: Request,
                 x_forwarded_for: str | None = Header(default=None)) -> StreamingResponse:
        """Generate with both arms at once, streamed as one JSON object per line as the tokens are decoded:
        ``start`` (arm, input) per arm, then ``delta`` (arm, text) events of both arms interleaved, then per
        arm ``done`` (arm, input, completion, finishReason, generatedTokens, seconds) or ``error`` (arm, error).
        Every line carries ``remainingToday``. Counts against the daily limit only when an arm delivers a
        completion (a 429 says when the limit resets, also as ``Retry-After`` seconds)."""
        if playground is None:
            raise HTTPException(503, "the playground is off: start the gateway with --model-server HOST:PORT")
        client = client_key(request, x_forwarded_for, trusted)
        # Reserved before generating, so concurrent requests cannot overrun the limit between check and
        # count; given back below when nothing is delivered.
        remaining = limiter.take(client)
        if remaining is None:
            raise HTTPException(429, limiter.message(), headers={"Retry-After": str(limiter.seconds_to_reset())})
        metadata = metadata_from_text(body.metadata)

        def lines() -> Iterator[bytes]:
            delivered = False
            try:
                for event in playground.stream(body.prompt, metadata, body.maxNewTokens):
                    # Generated text counts once it is sent, done or not: else leaving just before the end
                    # would read whole completions for free.
                    delivered = delivered or event["event"] in ("delta", "done")
                    yield (json.dumps({**event, "remainingToday": remaining}) + "\n").encode()
            finally:
                if not delivered:  # every arm failed, or the visitor left before any text was generated
                    limiter.give_back(client)

        # No proxy buffering (ingress-nginx honours this header), so each line reaches the visitor as it is made.
        return StreamingResponse(lines(), media_type="application/x-ndjson", headers={"X-Accel-Buffering": "no"})

    @app.post("/api/reviewers", responses=_ERRORS)
    def register(body: RegisterRequest, request: Request, x_maintainer_token: str | None = Header(default=None),
                 x_forwarded_for: str | None = Header(default=None)) -> RegisterReply:
        """Issue a reviewer token; keep it, it is shown once. With the maintainer credential
        (``X-Maintainer-Token``) the reviewer is invited; without, where registration is open, self-registered:
        a few per client per day, their votes rate-limited per client and reported apart."""
        invited = is_maintainer(x_maintainer_token)
        client = client_key(request, x_forwarded_for, trusted)
        if not invited:
            if x_maintainer_token:
                raise HTTPException(403, "the maintainer credential is wrong")
            if not open_registration:
                raise HTTPException(403, "reviewers are invited: ask the maintainer for a reviewer token")
            if registrations.take(client) is None:
                raise HTTPException(429, registrations.message("self-registered reviewers"),
                                    headers={"Retry-After": str(registrations.seconds_to_reset())})
        try:
            reviewer_id, token = store.register(body.name, invited=invited, client=client)
        except VoteError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        return RegisterReply(reviewerId=reviewer_id, token=token, invited=invited)

    @app.get("/api/pairs/next", responses=_ERRORS)
    def next_pair(x_reviewer_token: str | None = Header(default=None)) -> PairReply:
        """The next blind pair for this reviewer, sides drawn at random, on a sample /api/problems does not
        publish; ``done`` when none is left."""
        reviewer_id, _invited, _client = reviewer(x_reviewer_token)
        data = results()
        today = store.votes_today(reviewer_id)
        candidates = pairs(data)
        if not candidates:
            return PairReply(done=True, reason=NO_BLIND_PAIRS, votesToday=today, dailyCap=store.daily_cap)
        served = store.next_pair(reviewer_id, candidates)
        if served is None:
            return PairReply(done=True, reason="You have judged every pair.", votesToday=today,
                             dailyCap=store.daily_cap)
        pair, left, right, sample = served
        problem = next(p for p in data["problems"] if p["id"] == pair.problem_id)

        def code(arm: str) -> str:
            completions = (problem.get(arm) or {}).get("completions") or []
            return problem.get("prompt", "") + (completions[sample] if sample < len(completions) else "")

        return PairReply(done=False, pairId=pair.pair_id, taskId=problem.get("taskId"), prompt=problem.get("prompt"),
                         a=Side(code=code(left)), b=Side(code=code(right)), votesToday=today,
                         dailyCap=store.daily_cap)

    @app.post("/api/votes", responses=_ERRORS)
    def vote(body: VoteRequest, x_reviewer_token: str | None = Header(default=None)) -> VoteReply:
        """Record a vote on a pair served to this reviewer: one per pair, at most the daily cap per day; the
        self-registered reviewers of one client share a daily budget of votes."""
        reviewer_id, invited, registered_from = reviewer(x_reviewer_token)
        # Counted by the client that registered the reviewer: tokens made from one address share one budget.
        if not invited and open_votes.take(registered_from) is None:
            raise HTTPException(429, open_votes.message("votes from self-registered reviewers"),
                                headers={"Retry-After": str(open_votes.seconds_to_reset())})
        try:
            recorded = store.vote(reviewer_id, body.pairId, body.choice)
        except VoteError as exc:
            if not invited:
                open_votes.give_back(registered_from)
            raise HTTPException(exc.status, str(exc)) from exc
        return VoteReply(pairId=recorded.pair_id, choice=recorded.choice, leftArm=recorded.left_arm,
                         rightArm=recorded.right_arm, votesToday=store.votes_today(reviewer_id))

    @app.get("/api/votes/summary", responses=_ERRORS)
    def vote_summary() -> dict[str, Any]:
        """Preference shares (Wilson interval, binomial test), agreement, position bias, flagged reviewers,
        and a Bradley-Terry fit when there are more than two arms: of invited reviewers' votes, and the same
        of self-registered reviewers' votes apart under ``selfRegistered``."""
        arms = problem_arms(results())
        return {**summarise(store.all_votes(invited=True), arms),
                "selfRegistered": summarise(store.all_votes(invited=False), arms)}

    @app.get("/api/review", responses=_ERRORS)
    def review_items(status: Literal["pending", "accepted", "rejected"] | None = None) -> list[dict[str, Any]]:
        """The data pipeline's flagged records (optionally one status), oldest first."""
        return [item.to_dict() for item in review.items(status)]

    @app.post("/api/review/{record_id}/accept", responses=_ERRORS)
    def review_accept(record_id: str, x_maintainer_token: str | None = Header(default=None)) -> dict[str, Any]:
        """Let a flagged record into the next split (the maintainer only)."""
        require_maintainer(x_maintainer_token)
        try:
            return review.accept(record_id).to_dict()
        except CommentslabError as exc:
            raise HTTPException(404, public_text(str(exc))) from exc

    @app.post("/api/review/{record_id}/reject", responses=_ERRORS)
    def review_reject(record_id: str, body: RejectRequest,
                      x_maintainer_token: str | None = Header(default=None)) -> dict[str, Any]:
        """Keep a flagged record out of every split, with the reason (the maintainer only)."""
        require_maintainer(x_maintainer_token)
        try:
            return review.reject(record_id, body.reason).to_dict()
        except CommentslabError as exc:
            raise HTTPException(404, public_text(str(exc))) from exc

    return app


def openapi_text() -> str:
    """The gateway's OpenAPI schema as committed in services/gateway/openapi.json (sorted keys, 2-space indent)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        schema = create_app(Path(folder), database_url="sqlite://", maintainer_token="").openapi()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
