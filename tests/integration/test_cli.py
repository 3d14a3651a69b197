"""The CLI: every step as a verb on files, `up`, and one clear line for each kind of bad input."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from commentslab.services.pipeline.launcher import free_port, port_is_free

pytestmark = pytest.mark.integration


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "commentslab.services.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_missing_repository_is_one_clear_line(tmp_path):
    result = cli("export", str(tmp_path / "nope"), "--out", str(tmp_path / "r.jsonl"))
    assert result.returncode == 3
    assert result.stderr.strip() == f"error: {tmp_path / 'nope'}: repository does not exist"


def test_unknown_profile_is_one_clear_line(tmp_path):
    result = cli("run", "--profile", "huge", "--out", str(tmp_path))
    assert result.returncode == 3
    assert result.stderr.strip().startswith("error: profile 'huge' does not exist; choose one of")


def test_port_in_use_is_one_clear_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = cli("up", "--ports", f"stats={port}", timeout=60)
        assert result.returncode == 3
        assert f"stats: port {port} on 127.0.0.1 is already in use" in result.stderr
        single = subprocess.run([sys.executable, "-m", "commentslab.services.stats", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
        assert single.returncode == 2 and "already in use" in single.stderr


def test_bad_sidecar_is_reported_and_the_rest_exports(tmp_path, humaneval_repo):
    repo = tmp_path / "repo"
    subprocess.run(["cp", "-r", str(humaneval_repo), str(repo)], check=True)
    (repo / "problems" / "humaneval_000_has_close_elements.py.comments").write_text("not json")
    result = cli("export", str(repo), "--out", str(tmp_path / "records.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "163 records from 164 sidecars" in result.stdout
    assert "humaneval_000_has_close_elements.py.comments: is not JSON" in result.stdout
    report = json.loads((tmp_path / "records.report.json").read_text())
    assert report["records"] == 163 and len(report["rejects"]) == 1


def test_up_prints_each_service_and_stops_cleanly_on_ctrl_c():
    # Six consecutive free ports: other tests' services hold random loopback ports meanwhile.
    base = next(b for b in iter(free_port, None) if all(port_is_free("127.0.0.1", b + i) for i in range(6)))
    process = subprocess.Popen([sys.executable, "-m", "commentslab.services.cli", "up", "--base-port", str(base)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "all services healthy" in line or not line:
            break
    names = [line.split()[0] for line in lines if "127.0.0.1:" in line]
    assert names == ["exporter", "splitter", "trainer", "model-server", "sandbox", "stats"]
    assert f"127.0.0.1:{base}" in lines[0]
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "stopped" in out
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", base))  # the port is free again: the exporter really stopped


def test_step_verbs_chain_on_files_without_services(tmp_path, humaneval_repo):
    records = tmp_path / "records.jsonl"
    assert cli("export", str(humaneval_repo), "--out", str(records)).returncode == 0
    assert cli("split", str(records), "--out", str(tmp_path / "split")).returncode == 0
    datasets = tmp_path / "split" / "datasets"
    for arm in ("control", "experiment"):
        trained = cli("train", "--data", str(datasets / arm), "--arm", arm, "--out", str(tmp_path / arm),
                      "--set", "train.steps=2")
        assert trained.returncode == 0, trained.stderr
        checkpoint = json.loads(trained.stdout)["checkpoint"]
        scored = cli("evaluate", "--data", str(datasets / arm / "test.jsonl"), "--arm", arm, "--checkpoint",
                     checkpoint.removeprefix("file://"), "--out", str(tmp_path / f"{arm}.scores.jsonl"),
                     "--set", "generate.max_new_tokens=8", "--set", "generate.n=1")
        assert scored.returncode == 0, scored.stderr
    compared = cli("stats", "--data", str(datasets / "control" / "test.jsonl"),
                   "--control", str(tmp_path / "control.scores.jsonl"),
                   "--experiment", str(tmp_path / "experiment.scores.jsonl"), "--out", str(tmp_path / "cmp.json"),
                   "--set", "generate.n=1")
    assert compared.returncode == 0, compared.stderr
    comparison = json.loads((tmp_path / "cmp.json").read_text())
    assert "mcnemar" in comparison["significance"]["pass@1"]  # one sample per problem: pass/fail test
    assert len(comparison["problems"]) == sum(1 for _ in open(datasets / "control" / "test.jsonl"))
