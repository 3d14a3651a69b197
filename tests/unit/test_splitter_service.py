"""The Splitter gRPC service on loopback: split and k-fold through the request, progress streamed."""

from commentslab.services.common.artifacts import read_jsonl, to_uri, write_jsonl
from commentslab.services.common.grpc_client import open_channel
from commentslab.services.common.grpc_server import start_server
from commentslab.services.splitter.server import register
from commentslab.v1 import splitter_pb2, splitter_pb2_grpc


def test_split_and_folds_stream_progress_then_the_result(tmp_path, humaneval_records):
    records = tmp_path / "records.jsonl"
    write_jsonl(records, humaneval_records)
    server, port, _ = start_server("Splitter", register, port=0)
    try:
        stub = splitter_pb2_grpc.SplitterStub(open_channel(f"127.0.0.1:{port}"))
        events = list(stub.Split(splitter_pb2.SplitRequest(
            records_uri=to_uri(records), out_uri=to_uri(tmp_path / "split"), seed=9,
            arms=["control", "experiment", "params-only"]), timeout=120))
        folds = list(stub.Split(splitter_pb2.SplitRequest(
            records_uri=to_uri(records), out_uri=to_uri(tmp_path / "folds"), seed=9, folds=4), timeout=120))
    finally:
        server.stop(0)
    stages = [e.progress.stage for e in events if e.HasField("progress")]
    assert stages[:2] == ["validate", "dedupe"] and stages.count("write") == 9
    result = events[-1].result
    assert result.leakage_checks_passed and result.folds == 0
    assert sum(c.rows for c in result.counts if c.arm == "params-only") == 164
    assert len(list(read_jsonl(tmp_path / "split" / "datasets" / "params-only" / "test.jsonl"))) == 24
    fold_result = folds[-1].result
    assert fold_result.folds == 4 and fold_result.report_uri.endswith("split_report.json")
    assert [e.progress.done for e in folds if e.HasField("progress")] == [1, 2, 3, 4]
    tests = sum(c.rows for c in fold_result.counts if c.split == "test" and c.arm.endswith("/control"))
    assert tests == 164


def test_cli_split_via_the_service_with_folds_and_repository_groups(tmp_path, humaneval_records, capsys):
    from commentslab.services.cli import main

    records = tmp_path / "records.jsonl"
    write_jsonl(records, humaneval_records)
    server, port, _ = start_server("Splitter", register, port=0)
    try:
        code = main(["split", str(records), "--out", str(tmp_path / "out"), "--via", f"127.0.0.1:{port}",
                     "--folds", "2", "--group-by", "file", "--arms", "control,text-only"])
    finally:
        server.stop(0)
    assert code == 0
    printed = capsys.readouterr().out
    assert "fold 1   text-only       test" in printed and "leakage checks passed" in printed
    assert (tmp_path / "out" / "folds" / "1" / "datasets" / "text-only" / "train.jsonl").is_file()
