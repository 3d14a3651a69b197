"""The Exporter gRPC service on loopback: every option through the request, progress streamed, report back."""

import json
import shutil

from commentslab.services.common.artifacts import to_uri
from commentslab.services.common.grpc_client import open_channel
from commentslab.services.common.grpc_server import start_server
from commentslab.services.exporter.server import register
from commentslab.v1 import exporter_pb2, exporter_pb2_grpc


def test_export_streams_progress_then_the_result_with_exclusions_and_removals(tmp_path, humaneval_repo):
    repo = tmp_path / "corpus"
    shutil.copytree(humaneval_repo, repo)
    (repo / "problems" / "humaneval_000_has_close_elements.py.comments").write_text("{broken")
    unlicensed = tmp_path / "unlicensed"
    shutil.copytree(repo, unlicensed)
    (unlicensed / "LICENSE").unlink()
    server, port, _ = start_server("Exporter", register, port=0)
    try:
        stub = exporter_pb2_grpc.ExporterStub(open_channel(f"127.0.0.1:{port}"))
        out = tmp_path / "records.jsonl"
        events = list(stub.Export(exporter_pb2.ExportRequest(
            repository=to_uri(repo), more_repositories=[to_uri(unlicensed)], out_uri=to_uri(out), context_lines=2,
            allowed_licences=["MIT"]), timeout=120))
    finally:
        server.stop(0)
    progress = [e.progress for e in events if e.HasField("progress")]
    assert [p.done for p in progress] == list(range(1, 165)) and {p.total for p in progress} == {164}
    result = events[-1].result
    assert result.records == 163 and result.excluded_repositories == 1
    assert [(r.path, r.item) for r in result.rejects] == [
        ("problems/humaneval_000_has_close_elements.py.comments", "")]
    report = json.loads((tmp_path / "records.report.json").read_text())
    assert report["excludedRepositories"][0]["repository"] == "unlicensed"
    first = json.loads(out.read_text().splitlines()[0])
    assert first["sourceContext"]["before"].count("\n") <= 2 and first["licence"] == "MIT"


def test_cli_export_via_the_service_passes_every_option(tmp_path, humaneval_repo, capsys):
    from commentslab.services.cli import main

    server, port, _ = start_server("Exporter", register, port=0)
    try:
        out = tmp_path / "records.jsonl"
        code = main(["export", str(humaneval_repo), "--out", str(out), "--via", f"127.0.0.1:{port}",
                     "--allow-licence", "Apache-2.0", "--context-lines", "1"])
    finally:
        server.stop(0)
    assert code == 3  # MIT is not in the allowed list given: no valid record to export, an input error
    printed = capsys.readouterr().out
    assert "0 records from 0 sidecars" in printed and "MIT is not an allowed licence (allowed: Apache-2.0)" in printed
