"""Quality gates on real linters: Pylint (errors only) and ESLint/TypeScript flag records; completeness is scored."""

import json

import pytest

from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.export import ExportOptions, ExportReport, export_repository
from commentslab.services.exporter.quality import eslint_available, lint_python, metadata_completeness

needs_eslint = pytest.mark.skipif(not eslint_available(), reason="ESLint is not installed: run `make node-deps`")


def _repo(tmp_path, files):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "LICENSE").write_text(LICENSE_TEXT)
    for name, content in files.items():
        (repo / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return repo


def _sidecar(name, *lines):
    return {"version": "1.0", "file": name, "comments": [{"id": f"c{n}", "line": n, "text": "t"} for n in lines]}


def test_pylint_errors_only_names_undefined_variables_and_ignores_missing_imports():
    found = lint_python({
        "ok.py": "import not_installed_anywhere\n\n\ndef f(x):\n    return not_installed_anywhere.g(x)\n",
        "bad.py": "def f(x):\n    return x + undefined_name\n",
    })
    assert found["ok.py"] == []
    assert [(m["line"], m["symbol"]) for m in found["bad.py"]] == [(2, "undefined-variable")]


@needs_eslint
def test_lint_flags_exactly_the_records_whose_code_has_errors(tmp_path):
    files = {
        "ok.py": "def good(x):\n    y = x * 2\n    return y\n", "ok.py.comments": _sidecar("ok.py", 2),
        "bad.py": "def good(x):\n    return x\n\n\ndef bad(x):\n    y = x + nowhere\n    return y\n",
        "bad.py.comments": _sidecar("bad.py", 2, 6),
        "clash.js": "export function f(a, a) {\n  return a;\n}\n\nexport function g(b) {\n  return b;\n}\n",
        "clash.js.comments": _sidecar("clash.js", 2, 6),
        "zeros.ts": "export function h(x: number): number {\n  const y = 08;\n  return x + y;\n}\n",
        "zeros.ts.comments": _sidecar("zeros.ts", 2),
    }
    report = ExportReport("r")
    records = list(export_repository(_repo(tmp_path, files), report=report, options=ExportOptions(lint=True)))
    flagged = {(r["provenance"]["path"], r["entryPoint"]): r["quality"] for r in records}
    assert {k for k, q in flagged.items() if q["flags"]} == {("bad.py", "bad"), ("clash.js", "f"), ("zeros.ts", "h")}
    assert flagged[("bad.py", "bad")]["syntax"]["tool"] == "pylint"
    assert "undefined variable 'nowhere'" in flagged[("bad.py", "bad")]["flags"][0].lower()
    assert "Argument name clash" in flagged[("clash.js", "f")]["syntax"]["errors"][0]["message"]
    assert flagged[("zeros.ts", "h")]["syntax"]["errors"][0]["message"].startswith("TS1489")
    assert all(q["syntax"]["checked"] for q in flagged.values())
    assert report.lint == {"files": 4, "records": 6, "recordsWithErrors": 3}
    assert len(report.flagged) == 3


def test_metadata_completeness_scores_the_eight_parts():
    full = {"text": "t", "tag": "NOTE", "params": {"a": 1},
            "aiMetadata": {"complexity": {"cyclomatic": 1}, "tokens": {"heuristic": 3}, "parameters": {"name": "f"}}}
    assert metadata_completeness(full, True, True) == (1.0, [])
    score, missing = metadata_completeness({"text": "t", "tag": None, "params": {}, "aiMetadata": {}}, False, False)
    assert score == 0.125 and missing == ["tag", "params", "complexity", "tokens", "parameters", "author", "anchor"]


def test_records_below_the_completeness_threshold_are_flagged(tmp_path):
    repo = _repo(tmp_path, {"ok.py": "def good(x):\n    y = x * 2\n    return y\n", "ok.py.comments": _sidecar("ok.py", 2)})
    (record,) = export_repository(repo, options=ExportOptions(min_completeness=0.5))
    assert record["quality"]["metadataCompleteness"] == 0.125
    assert record["quality"]["flags"] == ["metadata completeness 0.125 below 0.5"]
