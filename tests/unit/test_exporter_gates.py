"""Walking real repositories: .gitignore, the licence gate, bad input as typed errors, strict exits."""

import json

import pytest

from commentslab.services.cli import main
from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.export import ExportOptions, ExportReport, export_repository, find_sidecars
from commentslab.services.exporter.licence import evaluate, licence_gate

GOOD = "def add(a, b):\n    total = a + b\n    return total\n"
GOOD_SIDECAR = {"version": "1.0", "file": "add.py", "comments": [{"id": "c1", "line": 2, "text": "adds"}]}


def _repo(root, name="repo", licence: str | None = LICENSE_TEXT, files=None):
    repo = root / name
    repo.mkdir()
    if licence is not None:
        (repo / "LICENSE").write_text(licence)
    for path, content in (files or {"add.py": GOOD, "add.py.comments": GOOD_SIDECAR}).items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content if isinstance(content, str) else json.dumps(content))
    return repo


def test_gitignored_folders_and_files_are_not_exported(tmp_path):
    files = {"add.py": GOOD, "add.py.comments": GOOD_SIDECAR, ".gitignore": "build/\n*.gen.py.comments\n",
             "build/add.py": GOOD, "build/add.py.comments": GOOD_SIDECAR,
             "x.gen.py": GOOD, "x.gen.py.comments": dict(GOOD_SIDECAR, file="x.gen.py"),
             "pkg/.gitignore": "!keep.gen.py.comments\n", "pkg/keep.gen.py": GOOD,
             "pkg/keep.gen.py.comments": dict(GOOD_SIDECAR, file="keep.gen.py")}
    repo = _repo(tmp_path, files=files)
    assert [p.relative_to(repo).as_posix() for p in find_sidecars(repo)] == [
        "add.py.comments", "pkg/keep.gen.py.comments"]


def test_licence_gate_reads_files_spdx_tags_and_manifests(tmp_path):
    mit = licence_gate(_repo(tmp_path, "mit"))
    assert (mit.spdx, mit.source, mit.allowed) == ("MIT", "LICENSE", True)
    tagged = licence_gate(_repo(tmp_path, "tagged", licence="SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-only\n"))
    assert tagged.allowed and tagged.spdx == "Apache-2.0 OR GPL-3.0-only"
    gpl = _repo(tmp_path, "gpl", licence=None, files={"package.json": json.dumps({"license": "GPL-3.0-only"})})
    verdict = licence_gate(gpl)
    assert not verdict.allowed and verdict.source == "package.json" and "GPL-3.0-only is not an allowed" in verdict.reason
    none = licence_gate(_repo(tmp_path, "none", licence=None))
    assert not none.allowed and "no licence file" in none.reason
    assert licence_gate(gpl, allowed=["GPL-3.0-only"]).allowed
    assert evaluate("MIT AND GPL-2.0-only")[0] is False and evaluate("MIT AND Apache-2.0")[0] is True
    assert "not valid SPDX" in evaluate("Not-A-Licence-9")[2]


def test_excluded_repositories_are_listed_with_why_and_allowed_ones_export(tmp_path):
    allowed = _repo(tmp_path, "ok")
    refused = _repo(tmp_path, "gpl", licence="SPDX-License-Identifier: GPL-3.0-only\n")
    report = ExportReport("both")
    records = [r for repo in (allowed, refused) for r in export_repository(repo, report=report)]
    assert [r["licence"] for r in records] == ["MIT"]
    assert [e["repository"] for e in report.to_dict()["excludedRepositories"]] == ["gpl"]
    assert "GPL-3.0-only is not an allowed licence" in report.excluded[0]["reason"]


def test_apache_licence_text_with_a_changed_copyright_line_is_recognised(tmp_path):
    from identify.vendor.licenses import LICENSES

    apache = next(text for spdx, text in LICENSES if spdx == "Apache-2.0")
    edited = apache.replace("Copyright [yyyy] [name of copyright owner]", "Copyright 2025 Example Corp")
    verdict = licence_gate(_repo(tmp_path, "apache", licence=edited))
    assert verdict.spdx == "Apache-2.0" and verdict.allowed and verdict.source == "LICENSE"


def test_every_kind_of_bad_input_is_a_typed_error_and_the_rest_exports(tmp_path):
    files = {
        "add.py": GOOD, "add.py.comments": GOOD_SIDECAR,
        "broken.py": GOOD, "broken.py.comments": "{not json",
        "future.py": GOOD, "future.py.comments": {"version": "3.0", "file": "future.py", "comments": []},
        "nofields.py": GOOD, "nofields.py.comments": {"version": "2.1.0", "comments": []},
        "far.py": GOOD, "far.py.comments": {"version": "1.0", "file": "far.py",
                                            "comments": [{"id": "c9", "line": 99, "text": "gone"}]},
        "lonely.py.comments": {"version": "1.0", "file": "lonely.py", "comments": []},
        "blob.py": b"\x00\x01binary\x00", "blob.py.comments": {"version": "1.0", "file": "blob.py", "comments": []},
        "big.py": "x = 1\n" * (10 * 1024 * 1024 // 6 + 10),
        "big.py.comments": {"version": "1.0", "file": "big.py", "comments": []},
        "escape.py.comments": {"version": "1.0", "file": "../../outside.py", "comments": []},
        "bad.py": "def f(:\n", "bad.py.comments": {"version": "1.0", "file": "bad.py", "comments": []},
    }
    repo = _repo(tmp_path, files=files)
    (tmp_path / "outside.py").write_text(GOOD)
    report = ExportReport("r")
    records = list(export_repository(repo, report=report))
    assert [r["provenance"]["path"] for r in records] == ["add.py"]
    kinds = {r["path"]: r["kind"] for r in report.rejects}
    assert kinds == {
        "broken.py.comments": "invalid_json", "future.py.comments": "unknown_version",
        "nofields.py.comments": "missing_field", "far.py.comments": "line_out_of_range",
        "lonely.py.comments": "missing_source", "blob.py.comments": "binary_file", "big.py.comments": "too_large",
        "escape.py.comments": "outside_repository", "bad.py.comments": "syntax_error"}
    reasons = {r["path"]: r["reason"] for r in report.rejects}
    assert "line 99 is out of range: far.py has 3 lines" in reasons["far.py.comments"]
    assert "over the 10485760-byte limit" in reasons["big.py.comments"]
    assert report.to_dict()["errorsByKind"]["invalid_json"] == 1


def test_cli_exits_non_zero_only_when_nothing_is_valid_or_strict(tmp_path, capsys):
    repo = _repo(tmp_path, files={"add.py": GOOD, "add.py.comments": GOOD_SIDECAR, "x.py.comments": "{"})
    out = tmp_path / "records.jsonl"
    assert main(["export", str(repo), "--out", str(out)]) == 0
    assert "rejected [invalid_json] x.py.comments" in capsys.readouterr().out
    assert main(["export", str(repo), "--out", str(out), "--strict"]) == 1
    empty = _repo(tmp_path, "empty", files={"x.py.comments": "{"})
    assert main(["export", str(empty), "--out", str(out)]) == 3  # nothing valid: an input error
    unlicensed = _repo(tmp_path, "unlicensed", licence=None)
    assert main(["export", str(unlicensed), "--out", str(out)]) == 3
    assert "excluded repository unlicensed" in capsys.readouterr().out
    assert main(["export", str(unlicensed), "--out", str(out), "--no-licence-gate"]) == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_export_writes_the_same_records_in_the_same_order(tmp_path, workers, monkeypatch):
    import commentslab.services.exporter.export as export

    monkeypatch.setattr(export, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(export, "PARALLEL_CHUNK", 3)
    files = {}
    for i in range(8):
        files[f"m{i}.py"] = GOOD.replace("add", f"add{i}")
        files[f"m{i}.py.comments"] = dict(GOOD_SIDECAR, file=f"m{i}.py")
    files["bad.py.comments"] = "{"
    repo = _repo(tmp_path, files=files)
    report = ExportReport("r")
    records = list(export_repository(repo, report=report, options=ExportOptions(workers=workers)))
    assert [r["entryPoint"] for r in records] == [f"add{i}" for i in range(8)]
    assert report.sidecars == 9 and report.records == 8 and [r["kind"] for r in report.rejects] == ["invalid_json"]
    from commentslab.services.exporter.export import run_export

    run_export(repo, tmp_path / f"w{workers}.jsonl", options=ExportOptions(workers=workers))
    serial = tmp_path / "serial.jsonl"
    run_export(repo, serial, options=ExportOptions(workers=1))
    assert (tmp_path / f"w{workers}.jsonl").read_bytes() == serial.read_bytes()
