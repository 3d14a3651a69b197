"""Every .comments version and variant through one model, and the code each comment is about, per language."""

import json

from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.anchors import line_hash
from commentslab.services.exporter.export import ExportReport, export_repository
from commentslab.services.exporter.sidecar import parse_sidecar_data


def _repo(tmp_path, files: dict[str, str | dict]):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "LICENSE").write_text(LICENSE_TEXT)
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return repo


def _export(repo):
    report = ExportReport("r")
    return list(export_repository(repo, report=report)), report


def test_v1_variants_filename_timestamp_and_null_tag_read_as_one_model():
    sidecar = parse_sidecar_data({"version": "1.2", "fileName": "a.py", "comments": [
        {"id": "c1", "line": 3, "text": "t", "author": "Ana", "timestamp": "2025-10-01T10:00:00Z", "tag": None},
        {"id": 7, "line": 4, "text": "u"}]}, "a.py.comments")
    first, second = sidecar.comments
    assert (sidecar.version, sidecar.file) == ("1.2", "a.py")
    assert (first.created, first.updated, first.tag, first.author) == (
        "2025-10-01T10:00:00Z", "2025-10-01T10:00:00Z", None, "Ana")
    assert second.id == "7" and second.tag is None and second.marker is None


def test_v2_0_commentid_and_anchor_variants_attach_the_marker():
    sidecar = parse_sidecar_data({"version": "2.0.3", "file": "s.ts", "ghostMarkers": [
        {"id": "gm", "line": 2, "endLine": 5, "commentId": "c1", "anchor": {"symbolPath": ["Svc", "login"]},
         "anchorType": "Method", "lineHash": "abc"}],
        "comments": [{"id": "c1", "line": 2, "text": "t"}]}, "s.ts.comments")
    marker = sidecar.comments[0].marker
    assert marker.symbol_path == ["Svc", "login"] and marker.symbol_kind == "Method"
    assert sidecar.comments[0].is_range


def test_v2_1_params_list_free_form_aimeta_replies_and_status():
    sidecar = parse_sidecar_data({"version": "2.1.4", "file": "x.py", "comments": [{
        "id": "c1", "line": 1, "text": "The ${fn} takes ${n}", "status": "resolved",
        "params": [{"name": "fn", "type": "dynamic", "description": "d", "example": "load"},
                   {"name": "n", "type": "computed", "example": 2}],
        "aiMeta": {"complexity": "low", "tokens": 210},
        "replies": [{"id": "r1", "text": "agreed", "author": "Bo", "created": "2025-10-02"}]}]}, "x.py.comments")
    comment = sidecar.comments[0]
    assert comment.params == {"fn": "load", "n": 2}
    assert comment.ai_metadata == {"complexity": "low", "tokens": 210}
    assert comment.status == "resolved" and comment.replies[0].text == "agreed"


def test_javascript_method_is_cut_at_its_signature_by_tree_sitter(tmp_path):
    source = ("'use strict';\n/** Users. */\nclass UserService {\n  login(user, password) {\n"
              "    if (!user) {\n      return null;\n    }\n    return this.store.check(user, password);\n"
              "  }\n}\n")
    lines = source.splitlines()
    repo = _repo(tmp_path, {"svc.js": source, "svc.js.comments": {
        "version": "2.0.5", "file": "svc.js",
        "ghostMarkers": [{"id": "gm", "line": 4, "commentIds": ["c1"], "lineHash": line_hash(lines[3]),
                          "astAnchor": {"symbolPath": ["UserService", "login"], "symbolKind": "Method"}}],
        "comments": [{"id": "c1", "line": 4, "text": "Checks the password", "ghostMarkerId": "gm"}]}})
    (record,), _ = _export(repo)
    assert record["language"] == "javascript" and record["entryPoint"] == "login"
    assert record["prompt"].endswith("  login(user, password) {\n")
    assert record["completion"] == "\n".join(lines[4:9]) + "\n"
    assert record["provenance"]["anchorResolution"] == "line_hash"


def test_moved_typescript_method_is_found_by_its_symbol_path(tmp_path):
    source = ("export class Cart {\n  total(items: Item[]): number {\n"
              "    return items.reduce((s, i) => s + i.price, 0);\n  }\n}\n")
    marker = {"id": "gm", "line": 2, "commentIds": ["c1"], "lineHash": line_hash("  total(items: Item[]): number {"),
              "astAnchor": {"symbolPath": ["Cart", "total"]}}
    # Three lines were added above and the stored hash no longer matches any line: the symbol finds it.
    moved = "import { Item } from './item';\n\n\n" + source
    repo = _repo(tmp_path, {"cart.ts": moved, "cart.ts.comments": {
        "version": "2.1.0", "file": "cart.ts", "ghostMarkers": [dict(marker, lineHash="0" * 16)],
        "comments": [{"id": "c1", "line": 2, "text": "Sum", "ghostMarkerId": "gm"}]}})
    (record,), _ = _export(repo)
    assert record["provenance"]["anchorResolution"] == "ast_symbol"
    assert record["provenance"]["startLine"] == 5 and record["language"] == "typescript"
    assert record["completion"] == "    return items.reduce((s, i) => s + i.price, 0);\n  }\n"


def test_tsx_arrow_component_bound_to_a_const_is_a_unit(tmp_path):
    source = ("import React from 'react';\n\nexport const Badge = ({ label }: { label: string }) => {\n"
              "  const text = label.toUpperCase();\n  return <span className=\"badge\">{text}</span>;\n};\n")
    repo = _repo(tmp_path, {"Badge.tsx": source, "Badge.tsx.comments": {
        "version": "1.0", "file": "Badge.tsx", "comments": [{"id": "c1", "line": 4, "text": "Upper-cases"}]}})
    (record,), _ = _export(repo)
    assert record["language"] == "tsx" and record["entryPoint"] == "Badge"
    assert record["completion"].startswith("  const text = label.toUpperCase();")


def test_range_comment_inside_a_function_marks_that_range(tmp_path):
    source = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
    repo = _repo(tmp_path, {"f.py": source, "f.py.comments": {
        "version": "2.1.0", "file": "f.py",
        "comments": [{"id": "c1", "line": 3, "startLine": 3, "endLine": 4, "text": "the loop"}]}})
    (record,), _ = _export(repo)
    assert record["provenance"]["unitKind"] == "range"
    assert record["prompt"] == "def f(xs):\n    total = 0\n"
    assert record["completion"] == "    for x in xs:\n        total += x\n"
    assert record["sourceContext"]["after"] == "    return total\n"


def test_other_languages_export_the_anchored_line_with_context(tmp_path):
    source = "\n".join(f"line {i}" for i in range(1, 21)) + "\n"
    repo = _repo(tmp_path, {"main.go": source, "main.go.comments": {
        "version": "1.0", "file": "main.go", "comments": [{"id": "c1", "line": 10, "text": "why"}]}})
    (record,), _ = _export(repo)
    assert record["language"] == "other" and record["completion"] == "line 10\n"
    assert record["sourceContext"]["before"] == "".join(f"line {i}\n" for i in range(5, 10))
    assert record["sourceContext"]["after"] == "".join(f"line {i}\n" for i in range(11, 16))


def test_context_lines_option_and_placeholders_from_params(tmp_path):
    source = "import os\n\n\ndef g(a, b):\n    return a + b\n\n\nx = 1\n"
    repo = _repo(tmp_path, {"g.py": source, "g.py.comments": {
        "version": "2.1.0", "file": "g.py", "comments": [{
            "id": "c1", "line": 4, "text": "${name} takes ${count} args; ${unknown} stays",
            "params": {"name": {"value": "g", "type": "dynamic"}, "count": {"value": 2, "type": "computed"}}}]}})
    (record,) = list(export_repository(repo, context_lines=1))
    assert record["metadata"]["text"] == "g takes 2 args; ${unknown} stays"
    assert record["sourceContext"]["before"] == "\n" and record["sourceContext"]["after"] == "\n"
