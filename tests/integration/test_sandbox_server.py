"""The adversarial suite through the Sandbox gRPC server: it keeps serving, and nothing is left running."""

import os
import subprocess
import sys
import time

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sandbox_attacks import ATTACKS

from commentslab.services.common.grpc_client import open_channel, wait_healthy
from commentslab.services.pipeline.launcher import free_port, stop_processes
from commentslab.v1 import sandbox_pb2, sandbox_pb2_grpc

pytestmark = pytest.mark.integration
TIGHT = sandbox_pb2.Limits(cpu_seconds=1, wall_seconds=4, memory_mb=256, max_output_bytes=4096)
SANDBOX_UIDS = range(1_000_000, 2_000_000_000)


def _program(name: str) -> str:
    source, _ = ATTACKS[name]
    return source.replace("{host_port}", "9").replace("{secret_path}", "/etc/shadow").replace(
        "{host_pid}", str(os.getpid()))


@pytest.fixture(scope="module")
def sandbox_server():
    """The Sandbox service alone, as `python -m commentslab.services.sandbox` starts it."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "commentslab.services.sandbox", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().startswith("READY Sandbox")
    channel = open_channel(f"127.0.0.1:{port}")
    # It serves once its isolation check has passed.
    wait_healthy(channel, "sandbox", f"127.0.0.1:{port}", timeout=60)
    yield process, channel
    channel.close()
    stop_processes([process], grace=30)


def _serving(channel) -> bool:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_every_attack_is_contained_and_the_server_keeps_serving(sandbox_server):
    process, channel = sandbox_server
    stub = sandbox_pb2_grpc.SandboxStub(channel)
    for name, (_, expected) in ATTACKS.items():
        reply = stub.Execute(sandbox_pb2.ExecuteRequest(program=_program(name), limits=TIGHT), timeout=60)
        assert reply.status == expected, (name, reply.exit_code, reply.stderr[-300:])
        assert _serving(channel), name
    assert process.poll() is None
    ok = stub.Execute(sandbox_pb2.ExecuteRequest(program="print('still serving')\n"), timeout=30)
    assert (ok.status, ok.stdout) == ("passed", "still serving\n")


def test_a_batch_of_attacks_streams_every_result_and_leaves_nothing_running(sandbox_server):
    process, channel = sandbox_server
    stub = sandbox_pb2_grpc.SandboxStub(channel)
    names = list(ATTACKS)
    request = sandbox_pb2.ExecuteBatchRequest(
        programs=[sandbox_pb2.ExecuteRequest(program=_program(n), limits=TIGHT) for n in names], timeout_retries=0)

    items = list(stub.ExecuteBatch(request, timeout=120))

    assert sorted(i.index for i in items) == list(range(len(names)))
    assert {names[i.index]: i.result.status for i in items} == {n: status for n, (_, status) in ATTACKS.items()}
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(
            p.info["uids"] and p.info["uids"].real in SANDBOX_UIDS for p in psutil.process_iter(["uids"])):
        time.sleep(0.05)
    assert not [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in SANDBOX_UIDS]
    assert process.poll() is None and _serving(channel)


def test_a_timed_out_program_is_rerun_by_default_and_says_so(sandbox_server):
    _, channel = sandbox_server
    stub = sandbox_pb2_grpc.SandboxStub(channel)
    request = sandbox_pb2.ExecuteBatchRequest(
        programs=[sandbox_pb2.ExecuteRequest(program="while True:\n    pass\n", limits=TIGHT)])

    (item,) = list(stub.ExecuteBatch(request, timeout=60))

    assert (item.result.status, item.result.attempts, item.result.timed_out_attempts) == ("timeout", 2, 2)


def test_mixed_limits_in_one_batch_are_refused_with_a_reason(sandbox_server):
    _, channel = sandbox_server
    stub = sandbox_pb2_grpc.SandboxStub(channel)
    request = sandbox_pb2.ExecuteBatchRequest(programs=[
        sandbox_pb2.ExecuteRequest(program="pass", limits=TIGHT), sandbox_pb2.ExecuteRequest(program="pass")])
    with pytest.raises(grpc.RpcError) as error:
        list(stub.ExecuteBatch(request, timeout=30))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "one set of limits" in error.value.details()
