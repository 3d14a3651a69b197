"""Two gateway processes (uvicorn) on one real PostgreSQL share one daily limit: 300 concurrent playground
requests from one client across both, some rotating ``X-Forwarded-For``, get exactly the limit's answers."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from test_gateway_playground import PROMPT, checkpoints, model_server  # noqa: F401 - fixtures reused

from commentslab.services.pipeline.launcher import free_port, stop_processes

pytestmark = pytest.mark.integration

DAILY_LIMIT = 20
REQUESTS = 300
MAINTAINER = "replica-test-maintainer-credential"


def start_gateway(results, database_url: str, model_server_address: str) -> tuple[subprocess.Popen, str]:
    """``python -m commentslab.services.gateway`` on a free loopback port; returns the process and its base URL once healthy."""
    port = free_port()
    env = {**os.environ, "COMMENTSLAB_MAINTAINER_TOKEN": MAINTAINER}
    process = subprocess.Popen(
        [sys.executable, "-m", "commentslab.services.gateway", "--results", str(results), "--database-url", database_url,
         "--model-server", model_server_address, "--daily-limit", str(DAILY_LIMIT), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited: {process.stderr.read().decode()}")
        try:
            if requests.get(f"{url}/api/health", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    stop_processes([process])
    raise RuntimeError("the gateway did not answer /api/health within 60 s")


def test_two_replicas_on_one_postgresql_enforce_one_daily_limit(model_server, postgres_url, tmp_path):  # noqa: F811
    replicas = [start_gateway(tmp_path, postgres_url, model_server) for _ in range(2)]
    try:
        def ask(i: int) -> requests.Response:
            url = replicas[i % 2][1]
            # A third of the requests rotate X-Forwarded-For: from a peer no proxy list trusts, it is ignored.
            headers = {"X-Forwarded-For": f"198.51.100.{i % 250}"} if i % 3 == 0 else {}
            reply = requests.post(f"{url}/api/generate", json={"prompt": PROMPT, "maxNewTokens": 1},
                                  headers=headers, timeout=300)
            reply.content  # noqa: B018 - read the whole stream: a generation is spent only once delivered
            return reply

        with ThreadPoolExecutor(max_workers=64) as pool:
            replies = list(pool.map(ask, range(REQUESTS)))
    finally:
        stop_processes([process for process, _ in replicas])
    served = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    print(f"two replicas, one client, {REQUESTS} concurrent requests: {len(served)} served, {len(refused)} refused")
    assert len(served) == DAILY_LIMIT and len(refused) == REQUESTS - DAILY_LIMIT
    for reply in served:
        assert reply.text.count('"event": "done"') == 2  # both arms delivered
    for reply in refused:
        assert "resets at" in reply.json()["detail"] and "T00:00:00Z" in reply.json()["detail"]
        assert 0 < int(reply.headers["Retry-After"]) <= 86400
    by_replica = {url: sum(1 for i, r in enumerate(replies) if r.status_code == 200 and replicas[i % 2][1] == url)
                  for _, url in replicas}
    assert all(count > 0 for count in by_replica.values()), by_replica  # both replicas spent from one count
