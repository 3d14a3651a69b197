"""The gateway over real HTTP (uvicorn on loopback): results, votes, limits, its committed schema, and schemathesis."""

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.gateway.app import openapi_text
from services.gateway.rate_limit import DailyRateLimiter
from services.gateway.server import start_in_thread

COMMITTED_SCHEMA = Path(__file__).resolve().parents[2] / "services" / "gateway" / "openapi.json"


def write_results(folder: Path, problems: int = 6) -> dict:
    """A small results.json (docs/CONTRACTS.md) where the arms disagree on problems 1 and 4."""
    rows = []
    for i in range(problems):
        exp_pass = i in (1, 4)
        rows.append({
            "id": f"id{i}", "taskId": f"HumanEval/{i}", "entryPoint": f"f{i}", "prompt": f"def f{i}(x):\n",
            "reference": "    return x\n",
            "control": {"completions": ["    return 0\n"], "passed": [False], "statuses": ["failed"], "pass@1": 0.0},
            "experiment": {"completions": ["    return x\n" if exp_pass else "    return 1\n"],
                           "passed": [exp_pass], "statuses": ["passed" if exp_pass else "failed"],
                           "pass@1": float(exp_pass)},
        })
    results = {
        "schemaVersion": 1, "scenario": "function_completion", "arms": ["control", "experiment"],
        "metrics": ["pass@1"], "control": {"pass@1": 0.0}, "experiment": {"pass@1": 2 / problems},
        "improvement": {"pass@1": {"absolute": 2 / problems, "relative": None}},
        "significance": {"pass@1": {"n": problems, "pValue": 0.5, "pHolm": 0.5, "significant": False}},
        "problems": rows, "training": {}, "provenance": {"commit": "abc", "profile": "smoke"},
    }
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
        "services/gateway/openapi.json is stale: run `python -m services.gateway --write-openapi "
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
    assert summary["votes"] >= 4 and summary["choices"]["tie"] >= 3
    assert requests.post(f"{gateway}/api/votes", json={"pairId": "x", "choice": "A"}, timeout=10).status_code == 401


def test_playground_input_limits_and_missing_model_server(gateway):
    too_long = requests.post(f"{gateway}/api/generate", json={"prompt": "x" * 4001}, timeout=10)
    assert too_long.status_code == 422
    off = requests.post(f"{gateway}/api/generate", json={"prompt": "def f():\n"}, timeout=10)
    assert off.status_code == 503 and "--model-server" in off.json()["detail"]


def test_rate_limiter_allows_100_a_day_per_client_then_refuses_until_midnight():
    import datetime as dt

    day = [dt.date(2026, 11, 24)]
    limiter = DailyRateLimiter(100, today=lambda: day[0])
    assert [limiter.take("1.2.3.4") for _ in range(100)][-1] == 0
    assert limiter.take("1.2.3.4") is None and limiter.take("5.6.7.8") == 99
    assert "100 generations per visitor per day" in limiter.message()
    day[0] += dt.timedelta(days=1)
    assert limiter.take("1.2.3.4") == 99


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

    from services.gateway.app import client_key

    def request(peer: str) -> Request:
        return Request({"type": "http", "client": (peer, 40000), "headers": []})

    pods = (ipaddress.ip_network("10.244.0.0/16"),)
    assert client_key(request("127.0.0.1"), "203.0.113.7") == "203.0.113.7"  # the in-process dashboard
    assert client_key(request("10.244.3.9"), "203.0.113.7, 10.0.0.1", pods) == "203.0.113.7"  # a dashboard pod
    assert client_key(request("10.244.3.9"), "203.0.113.7") == "10.244.3.9"  # not trusted: counts as itself
    assert client_key(request("198.51.100.4"), "203.0.113.7", pods) == "198.51.100.4"  # a visitor cannot pick a key
