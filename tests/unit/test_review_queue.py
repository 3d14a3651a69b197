"""The review queue: flagged records persist, people decide from the CLI, the next split applies the decisions."""

import json

import pytest

from commentslab.services.cli import main
from commentslab.services.common.artifacts import read_jsonl
from commentslab.services.common.errors import InputError
from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.review.queue import ReviewQueue


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def queue_location(request, tmp_path):
    """Where a queue lives: a SQLite file beside the records, or the gateway's PostgreSQL database (a URL)."""
    return tmp_path / "q.sqlite" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def test_decisions_survive_a_restart_and_a_re_flag_keeps_them(queue_location):
    path = queue_location
    queue = ReviewQueue(path)
    queue.flag([("r1", "a.py", ["lint error"]), ("r2", "b.py", ["secret removed"]), ("r3", "c.py", ["x"])])
    queue.accept("r1")
    queue.reject("r2", "leaks a customer name")
    again = ReviewQueue(path)  # a new process would see the same file
    assert again.decisions() == {"r1": "accepted", "r2": "rejected", "r3": "pending"}
    again.flag([("r1", "a.py", ["lint error", "low completeness"])])
    item = ReviewQueue(path).get("r1")
    assert item.status == "accepted" and item.reasons == ["lint error", "low completeness"]
    assert ReviewQueue(path).get("r2").decision == "leaks a customer name"
    assert [i.record_id for i in ReviewQueue(path).items("pending")] == ["r3"]
    with pytest.raises(InputError, match="is not in the review queue"):
        again.accept("nope")
    with pytest.raises(InputError, match="needs a reason"):
        again.reject("r3", "  ")


def test_the_exports_queue_merges_into_the_gateways_database_without_undoing_a_decision(tmp_path, postgres_url):
    export = ReviewQueue(tmp_path / "records.review.sqlite")
    export.flag([("r1", "a.py", ["lint error"]), ("r2", "b.py", ["secret removed"])])
    export.reject("r2", "decided on the command line")
    shared = ReviewQueue(postgres_url)
    assert shared.merge(export) == 2
    shared.accept("r1")
    export.flag([("r3", "c.py", ["low completeness"])])  # a later export
    assert ReviewQueue(postgres_url).merge(export) == 1  # a second replica starting: only the new item
    assert shared.decisions() == {"r1": "accepted", "r2": "rejected", "r3": "pending"}
    assert shared.get("r2").decision == "decided on the command line"


def _flagging_repo(tmp_path):
    """Three functions; two use undefined names, so Pylint flags them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "LICENSE").write_text(LICENSE_TEXT)
    source = ("def ok(x):\n    y = x + 1\n    return y\n\n\n"
              "def one(x):\n    y = x + missing_a\n    return y\n\n\n"
              "def two(x):\n    y = x + missing_b\n    return y\n")
    (repo / "m.py").write_text(source)
    (repo / "m.py.comments").write_text(json.dumps({"version": "1.0", "file": "m.py", "comments": [
        {"id": n, "line": line, "text": n} for n, line in (("ok", 2), ("one", 7), ("two", 12))]}))
    return repo


def test_cli_review_flow_from_export_to_split(tmp_path, capsys):
    records = tmp_path / "records.jsonl"
    assert main(["export", str(_flagging_repo(tmp_path)), "--out", str(records), "--lint"]) == 0
    queue = tmp_path / "records.review.sqlite"
    assert "2 records flagged for review" in capsys.readouterr().out
    assert main(["review", "--queue", str(queue), "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["status"] for i in listed] == ["pending", "pending"]
    by_entry = {r["entryPoint"]: r["id"] for r in read_jsonl(records)}
    assert {i["recordId"] for i in listed} == {by_entry["one"], by_entry["two"]}

    split = tmp_path / "split"
    args = ["split", str(records), "--out", str(split), "--ratios", "1,0,0"]
    assert main(args) == 0  # pending records are held out
    assert [r["entryPoint"] for r in read_jsonl(split / "datasets" / "control" / "train.jsonl")] == ["ok"]

    assert main(["review", "--queue", str(queue), "accept", by_entry["one"]]) == 0
    assert main(["review", "--queue", str(queue), "reject", by_entry["two"], "--reason", "not real code"]) == 0
    assert main(args) == 0
    kept = sorted(r["entryPoint"] for r in read_jsonl(split / "datasets" / "control" / "train.jsonl"))
    assert kept == ["ok", "one"]
    report = json.loads((split / "split_report.json").read_text())
    assert {"item": by_entry["two"], "reason": "rejected in review"} in report["rejects"]
    capsys.readouterr()
    assert main(["review", "--queue", str(queue), "list", "--status", "rejected"]) == 0
    assert "rejected (not real code)" in capsys.readouterr().out
