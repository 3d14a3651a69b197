"""The gateway tried as a visitor would, over real HTTP (uvicorn on loopback): each attack that once worked.

- a self-registered token deciding the review queue;
- self-made reviewers swinging the vote, and blind pairs matched to arms from /api/problems;
- a 50 MB body read into memory and echoed back in the 422;
- a lone surrogate or deep nesting giving a 500;
- /api/results naming paths, the host and the kernel;
- metadata breaking out of the prompt template's comment block.
(The playground's own attacks, which need a model server, are in tests/integration/test_gateway_playground.py.)
"""

import json
import socket
import threading

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from test_gateway import write_results

from commentslab.services.gateway.app import OPEN_VOTES_PER_CLIENT, REGISTRATIONS_PER_CLIENT
from commentslab.services.gateway.request_limits import MAX_BODY_BYTES
from commentslab.services.gateway.server import start_in_thread
from commentslab.services.review.queue import ReviewQueue
from commentslab.services.splitter.template import COMMENT_PREFIX, render_metadata

MAINTAINER = "maintainer-credential-for-tests-0123456789"


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run"
    write_results(folder, problems=60)
    data = json.loads((folder / "results.json").read_text())
    data["provenance"]["createdAt"] = "2026-11-24T12:00:00+00:00"
    data["provenance"]["machine"] = {"platform": "Linux-6.8.0-1015-azure-x86_64-with-glibc2.36", "python": "3.11.2",
                                     "cpus": 2, "host": "build-node-7f3c", "torch": "2.5.1"}
    data["training"]["control"].update({"checkpoint": "file:///srv/commentslab/runs/r1/train/control/final",
                                        "log": "/home/alice/runs/r1/train.log"})
    data["config"].update({"serving": {"address": "10.0.3.17:50051"}, "repos": ["/home/alice/src/private-repo"],
                           "mlflow": "http://mlflow.internal.svc.cluster.local:5000"})
    (folder / "results.json").write_text(json.dumps(data))
    ReviewQueue(folder / "export" / "records.review.sqlite").flag([("rec-1", "src/a.py", ["secret removed"])])
    return folder


@pytest.fixture
def gateway(run_dir):
    running = start_in_thread(run_dir, maintainer_token=MAINTAINER, daily_vote_cap=500)
    yield running.url
    running.stop()


def register(url: str, name: str, **headers) -> requests.Response:
    return requests.post(f"{url}/api/reviewers", json={"name": name}, headers=headers, timeout=10)


def test_only_the_maintainer_decides_the_review_queue(gateway, run_dir):
    token = register(gateway, "visitor").json()["token"]
    for header in ({"X-Reviewer-Token": token}, {"X-Maintainer-Token": token}, {}):
        refused = requests.post(f"{gateway}/api/review/rec-1/accept", headers=header, timeout=10)
        assert refused.status_code == 403 and "maintainer" in refused.json()["detail"]
    invited = register(gateway, "invited", **{"X-Maintainer-Token": MAINTAINER}).json()
    assert invited["invited"] is True
    refused = requests.post(f"{gateway}/api/review/rec-1/reject", json={"reason": "x"},
                            headers={"X-Reviewer-Token": invited["token"]}, timeout=10)
    assert refused.status_code == 403  # an invited reviewer votes; the review queue is the maintainer's
    assert requests.get(f"{gateway}/api/review", timeout=10).json()[0]["status"] == "pending"
    accepted = requests.post(f"{gateway}/api/review/rec-1/accept", headers={"X-Maintainer-Token": MAINTAINER},
                             timeout=10)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    # The decision is in the export's queue file, where the next split reads it.
    assert ReviewQueue(run_dir / "export" / "records.review.sqlite").get("rec-1").status == "accepted"


def test_self_made_reviewers_cannot_swing_the_vote(gateway):
    tokens = []
    for i in range(20):
        reply = register(gateway, f"sock-{i}")
        if reply.status_code == 200:
            tokens.append(reply.json()["token"])
        else:
            assert reply.status_code == 429 and "resets at" in reply.json()["detail"]
    assert len(tokens) == REGISTRATIONS_PER_CLIENT
    cast = refused = 0
    for token in tokens:
        headers = {"X-Reviewer-Token": token}
        for _ in range(40):
            pair = requests.get(f"{gateway}/api/pairs/next", headers=headers, timeout=10).json()
            if pair["done"]:
                break
            reply = requests.post(f"{gateway}/api/votes", json={"pairId": pair["pairId"], "choice": "A"},
                                  headers=headers, timeout=10)
            cast += reply.status_code == 200
            refused += reply.status_code == 429
    assert cast == OPEN_VOTES_PER_CLIENT and refused > 0  # one client's budget, however many tokens
    invited = register(gateway, "expert", **{"X-Maintainer-Token": MAINTAINER}).json()["token"]
    pair = requests.get(f"{gateway}/api/pairs/next", headers={"X-Reviewer-Token": invited}, timeout=10).json()
    requests.post(f"{gateway}/api/votes", json={"pairId": pair["pairId"], "choice": "tie"},
                  headers={"X-Reviewer-Token": invited}, timeout=10).raise_for_status()
    summary = requests.get(f"{gateway}/api/votes/summary", timeout=10).json()
    assert summary["votes"] == 1 and summary["choices"]["tie"] == 1  # the invited reviewer's vote alone
    assert summary["selfRegistered"]["votes"] == OPEN_VOTES_PER_CLIENT


def test_closed_registration_issues_tokens_only_to_the_maintainer(run_dir):
    running = start_in_thread(run_dir, maintainer_token=MAINTAINER, open_registration=False)
    try:
        refused = register(running.url, "visitor")
        wrong = register(running.url, "visitor", **{"X-Maintainer-Token": "guess" * 8})
        invited = register(running.url, "invited", **{"X-Maintainer-Token": MAINTAINER})
    finally:
        running.stop()
    assert refused.status_code == 403 and "invited" in refused.json()["detail"]
    assert wrong.status_code == 403 and invited.status_code == 200


def test_a_blind_pair_matches_nothing_public(gateway):
    published = set()
    offset = 0
    while True:
        page = requests.get(f"{gateway}/api/problems", params={"offset": offset, "limit": 200}, timeout=10).json()
        for problem in page["problems"]:
            for arm in page["arms"]:
                published.update(problem["prompt"] + c for c in problem[arm]["completions"])
        offset += len(page["problems"])
        if offset >= page["total"]:
            break
    token = register(gateway, "judge", **{"X-Maintainer-Token": MAINTAINER}).json()["token"]
    seen = 0
    for _ in range(20):
        pair = requests.get(f"{gateway}/api/pairs/next", headers={"X-Reviewer-Token": token}, timeout=10).json()
        assert pair["a"]["code"] and pair["b"]["code"]
        assert pair["a"]["code"] not in published and pair["b"]["code"] not in published
        requests.post(f"{gateway}/api/votes", json={"pairId": pair["pairId"], "choice": "tie"},
                      headers={"X-Reviewer-Token": token}, timeout=10).raise_for_status()
        seen += 1
    assert seen == 20


def _raw_post(url: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request by hand (so a body can be declared and not sent, or sent without its end) and read the
    status and reply."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1]), reply


def test_a_50_mb_body_is_refused_unread_and_a_422_echoes_nothing(gateway):
    marker = "VISITOR-TEXT-" * 400  # 5,200 characters: over the prompt limit, under the body limit
    long = requests.post(f"{gateway}/api/generate", json={"prompt": marker}, timeout=10)
    assert long.status_code == 422 and "VISITOR-TEXT" not in long.text and len(long.content) < 1000
    assert "at most 4000 characters" in long.text

    declared = 50 * 1024 * 1024
    head = (f"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n")
    replies: list[tuple[int, bytes]] = []
    # Six at once, each declaring 50 MB: answered from the headers, before a byte of the body is read.
    threads = [threading.Thread(target=lambda: replies.append(_raw_post(gateway, head))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in replies] == [413] * 6
    chunked_head = "POST /api/votes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"y" * 32768
    # A body of unstated length: read only until it passes the limit (its end is never sent).
    chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for _ in range(MAX_BODY_BYTES // len(piece) + 1)]
    status, reply = _raw_post(gateway, chunked_head, b"".join(chunks))
    assert status == 413 and b"yyyy" not in reply


LONE = '"\\ud800"'  # JSON text for a lone surrogate


@pytest.mark.parametrize("path,body", [
    ("/api/generate", '{"prompt": ' + LONE + '}'),
    ("/api/generate", '{"prompt": "def f():\\n", "metadata": ' + json.dumps('{"text": "\\udfff"}') + '}'),
    ("/api/reviewers", '{"name": ' + LONE + '}'),
    ("/api/votes", '{"pairId": ' + LONE + ', "choice": "A"}'),
    ("/api/review/rec-1/reject", '{"reason": ' + LONE + '}'),
    ("/api/generate", '{"prompt": "x", "metadata": ' + json.dumps("[" * 995 + "]" * 995) + '}'),
    ("/api/generate", '{"prompt": "x", "metadata": ' + json.dumps('{"a":' * 330 + "1" + "}" * 330) + '}'),
    ("/api/votes", '{"pairId": "x", "choice": "A", "deep": ' + "[" * 2000 + "]" * 2000 + '}'),
])
def test_invalid_unicode_and_deep_json_are_422_not_500(gateway, path, body):
    headers = {"Content-Type": "application/json", "X-Maintainer-Token": MAINTAINER, "X-Reviewer-Token": "t" * 20}
    reply = requests.post(f"{gateway}{path}", data=body.encode(), headers=headers, timeout=10)
    assert reply.status_code == 422, reply.text
    detail = json.dumps(reply.json()["detail"])
    assert "surrogate" in detail or "deeper than" in detail


def test_public_results_name_no_path_host_kernel_or_address(gateway):
    text = requests.get(f"{gateway}/api/results", timeout=10).text
    for private in ("/srv/", "/home/alice", "file://", "build-node-7f3c", "Linux-6.8", "azure", "10.0.3.17",
                    "mlflow.internal", "svc.cluster.local"):
        assert private not in text, private
    served = json.loads(text)
    assert served["training"]["control"]["checkpoint"] == "final"  # the name, not where it lies
    assert served["provenance"]["machine"] == {"python": "3.11.2", "cpus": 2, "torch": "2.5.1"}
    assert served["provenance"]["createdAt"] == "2026-11-24T12:00:00+00:00"


def test_a_missing_results_folder_is_not_named_in_public(tmp_path):
    running = start_in_thread(tmp_path / "secret-place" / "run")
    try:
        reply = requests.get(f"{running.url}/api/results", timeout=10)
    finally:
        running.stop()
    assert reply.status_code == 404 and str(tmp_path) not in reply.text


line_breaks = st.sampled_from(["\n", "\r", "\r\n", "\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\x1c"])
text_with_breaks = st.lists(st.one_of(st.text(max_size=8), line_breaks), max_size=6).map("".join)


@settings(max_examples=200, deadline=None)
@given(key=text_with_breaks, value=text_with_breaks, tag=text_with_breaks, language=st.sampled_from(
    ["python", "javascript"]))
def test_no_metadata_key_or_value_leaves_the_comment_block(key, value, tag, language):
    metadata = {"text": "x" + value, "tag": tag, "params": {key: value}, "aiMetadata": {key: {key: value}}}
    block = render_metadata(metadata, language)
    mark = COMMENT_PREFIX[language]
    lines = block.splitlines()
    assert lines and all(line.startswith(mark) for line in lines), block
    assert block.endswith("\n") and len(lines) == block.count("\n")
