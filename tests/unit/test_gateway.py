"""The gateway over real HTTP (uvicorn on loopback): results, votes, limits, its committed schema, and schemathesis."""

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from sample_results import results_from_problems, scored
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from commentslab.services.gateway.app import openapi_text
from commentslab.services.gateway.rate_limit import DailyRateLimiter
from commentslab.services.gateway.server import start_in_thread

COMMITTED_SCHEMA = Path(__file__).resolve().parents[2] / "services" / "gateway" / "openapi.json"


def write_results(folder: Path, problems: int = 6, **fields) -> dict:
    """A small schema-valid results.json where the arms disagree on problems 1 and 4, two samples per arm:
    /api/problems publishes the first, blind pairs show the second."""
    rows = []
    for i in range(problems):
        exp_pass = i in (1, 4)
        rows.append({
            "id": f"id{i}", "taskId": f"HumanEval/{i}", "entryPoint": f"f{i}", "prompt": f"def f{i}(x):\n",
            "reference": "    return x\n",
            "control": scored(["    return 0\n", f"    return {i} - {i}\n"], [False, False]),
            "experiment": scored(["    return x\n" if exp_pass else "    return 1\n", f"    return x * {i + 2}\n"],
                                 [exp_pass, False]),
        })
    results = results_from_problems(rows, **fields)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results))
    return results


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    write_results(folder)
    running = start_in_thread(folder, daily_vote_cap=4)
    yield running.url
    running.stop()


def test_committed_openapi_schema_matches_the_app():
    assert COMMITTED_SCHEMA.read_text(encoding="utf-8") == openapi_text(), (
        "services/gateway/openapi.json is stale: run `python -m commentslab.services.gateway --write-openapi "
        "services/gateway/openapi.json`")


def test_results_and_problem_rows_as_json(gateway):
    results = requests.get(f"{gateway}/api/results", timeout=10).json()
    assert results["metrics"] == ["pass@1"] and "problems" not in results
    page = requests.get(f"{gateway}/api/problems", params={"limit": 2, "offset": 1}, timeout=10).json()
    assert page["total"] == 6 and [p["id"] for p in page["problems"]] == ["id1", "id2"]
    disagree = requests.get(f"{gateway}/api/problems", params={"disagreeOnly": "true"}, timeout=10).json()
    assert [p["id"] for p in disagree["problems"]] == ["id1", "id4"]


def test_missing_results_say_how_to_produce_them(tmp_path):
    running = start_in_thread(tmp_path / "nothing-here")
    try:
        reply = requests.get(f"{running.url}/api/results", timeout=10)
    finally:
        running.stop()
    assert reply.status_code == 404 and "commentslab run --profile smoke" in reply.json()["detail"]


def test_blind_vote_flow_reveals_arms_only_after_the_vote(gateway):
    token = requests.post(f"{gateway}/api/reviewers", json={"name": "flow-reviewer"}, timeout=10).json()["token"]
    headers = {"X-Reviewer-Token": token}
    pair = requests.get(f"{gateway}/api/pairs/next", headers=headers, timeout=10).json()
    assert not pair["done"] and "control" not in json.dumps(pair) and "experiment" not in json.dumps(pair)
    vote = requests.post(f"{gateway}/api/votes", json={"pairId": pair["pairId"], "choice": "A"},
                         headers=headers, timeout=10)
    assert vote.status_code == 200 and {vote.json()["leftArm"], vote.json()["rightArm"]} == {"control", "experiment"}
    again = requests.post(f"{gateway}/api/votes", json={"pairId": pair["pairId"], "choice": "B"},
                          headers=headers, timeout=10)
    assert again.status_code == 409 and "already voted" in again.json()["detail"]
    for _ in range(3):
        nxt = requests.get(f"{gateway}/api/pairs/next", headers=headers, timeout=10).json()
        requests.post(f"{gateway}/api/votes", json={"pairId": nxt["pairId"], "choice": "tie"}, headers=headers,
                      timeout=10).raise_for_status()
    nxt = requests.get(f"{gateway}/api/pairs/next", headers=headers, timeout=10).json()
    capped = requests.post(f"{gateway}/api/votes", json={"pairId": nxt["pairId"], "choice": "A"}, headers=headers,
                           timeout=10)
    assert capped.status_code == 429 and "daily cap" in capped.json()["detail"]
    summary = requests.get(f"{gateway}/api/votes/summary", timeout=10).json()
    # A self-registered reviewer's votes are reported apart, never in the invited reviewers' result.
    assert summary["votes"] == 0
    assert summary["selfRegistered"]["votes"] >= 4 and summary["selfRegistered"]["choices"]["tie"] >= 3
    assert requests.post(f"{gateway}/api/votes", json={"pairId": "x", "choice": "A"}, timeout=10).status_code == 401


def test_playground_input_limits_and_missing_model_server(gateway):
    too_long = requests.post(f"{gateway}/api/generate", json={"prompt": "x" * 4001}, timeout=10)
    assert too_long.status_code == 422
    off = requests.post(f"{gateway}/api/generate", json={"prompt": "def f():\n"}, timeout=10)
    assert off.status_code == 503 and "--model-server" in off.json()["detail"]


def test_rate_limiter_allows_100_a_day_per_client_then_refuses_until_midnight():
    import datetime as dt

    import sqlalchemy as sa

    from commentslab.services.common.database import open_database

    day = [dt.date(2026, 11, 24)]
    limiter = DailyRateLimiter(open_database("sqlite://"), 100, today=lambda: day[0])
    assert [limiter.take("1.2.3.4") for _ in range(100)][-1] == 0
    assert limiter.take("1.2.3.4") is None and limiter.take("5.6.7.8") == 99
    assert "100 generations per visitor per day" in limiter.message()
    assert "2026-11-25T00:00:00Z" in limiter.message()  # when it resets
    limiter.give_back("5.6.7.8")
    assert limiter.used("5.6.7.8") == 0
    day[0] += dt.timedelta(days=1)
    assert limiter.take("1.2.3.4") == 99
    restarted = DailyRateLimiter(limiter.engine, 100, today=lambda: day[0])  # yesterday's rows go, today's stay
    assert restarted.used("1.2.3.4") == 1 and restarted.used("5.6.7.8") == 0
    with limiter.engine.connect() as db:
        assert db.execute(sa.text("SELECT count(*) FROM daily_usage")).scalar_one() == 1


def test_schemathesis_no_server_error_and_no_schema_violation(gateway):
    """Every operation fuzzed from the served schema: no 5xx other than the documented 503, every reply
    matching its declared status codes, content type and body schema."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{gateway}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call(base_url=gateway)
            if response.status_code == 503:  # the playground without a model server: documented, not a crash
                assert "--model-server" in response.json()["detail"]
                return
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                                     status_code_conformance, content_type_conformance])

        fuzz()


def test_forwarded_for_names_the_visitor_only_from_a_trusted_proxy():
    import ipaddress

    from starlette.requests import Request

    from commentslab.services.gateway.app import client_key

    def request(peer: str) -> Request:
        return Request({"type": "http", "client": (peer, 40000), "headers": []})

    pods = (ipaddress.ip_network("10.244.0.0/16"),)
    loopback = (ipaddress.ip_network("127.0.0.0/8"),)
    # The ingress appends the peer it saw: the right-most address not a trusted proxy is the visitor, and
    # whatever the visitor wrote further left is not believed.
    assert client_key(request("10.244.3.9"), "203.0.113.7", pods) == "203.0.113.7"
    assert client_key(request("10.244.3.9"), "6.6.6.6, 203.0.113.7", pods) == "203.0.113.7"
    assert client_key(request("10.244.3.9"), "6.6.6.6, 203.0.113.7, 10.244.0.5", pods) == "203.0.113.7"
    assert client_key(request("10.244.3.9"), "10.244.0.5", pods) == "10.244.3.9"  # only proxies: the peer
    assert client_key(request("10.244.3.9"), "not-an-address", pods) == "10.244.3.9"
    # From a peer that is not a trusted proxy the header is ignored, loopback included unless configured.
    assert client_key(request("198.51.100.4"), "203.0.113.7", pods) == "198.51.100.4"
    assert client_key(request("127.0.0.1"), "203.0.113.7") == "127.0.0.1"
    assert client_key(request("127.0.0.1"), "203.0.113.7", loopback) == "203.0.113.7"  # the in-process dashboard


def test_a_run_with_one_sample_per_problem_says_why_it_has_no_blind_pair(tmp_path):
    # The reference design's greedy sample is the one the comparison page publishes: a pair drawn from it could
    # be told apart by anyone, so the reviewer gets no pair and the reason, not "you have judged every pair".
    rows = [{"id": f"id{i}", "taskId": f"HumanEval/{i}", "entryPoint": f"f{i}", "prompt": f"def f{i}(x):\n",
             "reference": "    return x\n", "control": scored(["    return 0\n"], [False]),
             "experiment": scored(["    return x\n"], [i == 1])} for i in range(4)]
    (tmp_path / "results.json").write_text(json.dumps(results_from_problems(rows)))
    running = start_in_thread(tmp_path)
    try:
        token = requests.post(f"{running.url}/api/reviewers", json={"name": "one-sample"}, timeout=10).json()["token"]
        pair = requests.get(f"{running.url}/api/pairs/next", headers={"X-Reviewer-Token": token}, timeout=10).json()
    finally:
        running.stop()
    assert pair["done"] and "one sample per problem" in pair["reason"] and pair.get("pairId") is None
