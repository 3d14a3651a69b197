"""Repository -> JSONL records: walk the sidecars, resolve anchors, cut code units, keep every reject.

A bad sidecar or comment never stops the export: it lands in the report with its path and reason,
and the good ones still go through.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from services.common.errors import InputError
from services.exporter.anchors import resolve_anchor
from services.exporter.extract import fill_placeholders, python_unit, range_unit, source_context
from services.exporter.sidecar import SidecarError, parse_sidecar

LANGUAGES = {".py": "python", ".js": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript"}
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"}
MAX_SOURCE_BYTES = 10 * 1024 * 1024
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

ProgressFn = Callable[[int, int], None]


@dataclass
class ExportReport:
    """What an export did: counts, how anchors resolved, and every reject with its reason."""

    repository: str
    sidecars: int = 0
    comments: int = 0
    records: int = 0
    resolutions: Counter = field(default_factory=Counter)
    rejects: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, path: str, reason: str, item: str = "") -> None:
        """Keep a rejected sidecar or comment with its reason."""
        self.rejects.append({"path": path, "reason": reason, "item": item})

    def to_dict(self) -> dict:
        """The report as JSON-ready data."""
        return {
            "repository": self.repository,
            "sidecars": self.sidecars,
            "comments": self.comments,
            "records": self.records,
            "resolutions": dict(self.resolutions),
            "orphaned": self.resolutions.get("orphaned", 0),
            "rejects": self.rejects,
            "seconds": round(self.seconds, 3),
        }


def find_sidecars(repo: Path) -> list[Path]:
    """Every `*.comments` file under `repo`, sorted, outside VCS and environment folders."""
    found = []
    for root, dirs, files in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        found.extend(Path(root) / f for f in sorted(files) if f.endswith(".comments"))
    return found


def find_tests(repo: Path, source: Path) -> str | None:
    """The test file for `source` by convention: tests/test_<stem>.py at the root or beside it."""
    name = f"test_{source.stem}{source.suffix}"
    for candidate in (repo / "tests" / name, source.parent / "tests" / name, source.parent / name):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return None


def scrub_text(text: str) -> str:
    """Remove e-mail addresses (authors and contacts are not training data)."""
    return _EMAIL.sub("<email>", text)


def record_id(repository: str, path: str, comment_id: str) -> str:
    """Stable id: first 16 hex of sha256(repository:path:commentId)."""
    return hashlib.sha256(f"{repository}:{path}:{comment_id}".encode()).hexdigest()[:16]


def _source_for(repo: Path, sidecar_path: Path, declared: str) -> Path:
    source = sidecar_path.with_name(sidecar_path.name[: -len(".comments")])
    if not source.exists():
        # Some tools name the file in the sidecar rather than by the sidecar's own name.
        source = (sidecar_path.parent / declared).resolve()
    resolved = source.resolve()
    if not resolved.is_relative_to(repo.resolve()):
        raise InputError(str(sidecar_path), f"'file' {declared!r} points outside the repository")
    if not resolved.is_file():
        raise InputError(str(sidecar_path), f"its source file {source.name} does not exist")
    if resolved.stat().st_size > MAX_SOURCE_BYTES:
        raise InputError(str(source), f"is over {MAX_SOURCE_BYTES} bytes")
    return resolved


def export_repository(
    repo: Path, context_lines: int = 5, report: ExportReport | None = None, progress: ProgressFn | None = None,
    show_progress: bool = False,
) -> Iterator[dict]:
    """Yield one record per anchored comment in `repo`; rejects go into `report`."""
    if not repo.exists():
        raise InputError(str(repo), "repository does not exist")
    if not repo.is_dir():
        raise InputError(str(repo), "is not a folder")
    if not os.access(repo, os.R_OK | os.X_OK):
        raise InputError(str(repo), "repository is not readable")
    report = report if report is not None else ExportReport(repository=str(repo))
    started = time.perf_counter()
    sidecars = find_sidecars(repo)
    repo_name = repo.resolve().name
    for done, sidecar_path in enumerate(tqdm(sidecars, desc="export", unit="file", disable=not show_progress), 1):
        report.sidecars += 1
        rel = str(sidecar_path.relative_to(repo))
        try:
            sidecar = parse_sidecar(sidecar_path)
            source_path = _source_for(repo, sidecar_path, sidecar.file)
            raw = source_path.read_bytes()
            if b"\0" in raw[:8192]:
                raise InputError(str(source_path), "is a binary file")
            text = raw.decode("utf-8")
        except (SidecarError, InputError) as exc:
            report.reject(rel, exc.reason if isinstance(exc, InputError) else str(exc))
            continue
        except UnicodeDecodeError:
            report.reject(rel, "source file is not UTF-8 text")
            continue
        lines = text.splitlines()
        language = LANGUAGES.get(source_path.suffix, "other")
        tree = None
        if language == "python":
            try:
                tree = ast.parse(text)
            except SyntaxError as exc:
                report.reject(rel, f"source does not parse as Python (line {exc.lineno}: {exc.msg})")
                continue
        src_rel = str(source_path.relative_to(repo.resolve()))
        tests = find_tests(repo, source_path)
        for comment in sidecar.comments:
            report.comments += 1
            anchor = resolve_anchor(comment, lines, tree)
            if anchor is None:
                report.resolutions["orphaned"] += 1
                report.reject(rel, "orphaned: no anchor matches the current source", comment.id)
                continue
            report.resolutions[anchor.resolution] += 1
            unit = python_unit(lines, tree, anchor) if tree is not None else range_unit(lines, anchor)
            if unit is None:
                report.reject(rel, f"no code to complete at lines {anchor.start}-{anchor.end}", comment.id)
                continue
            report.records += 1
            yield {
                "id": record_id(repo_name, src_rel, comment.id),
                "prompt": unit.prompt,
                "completion": unit.completion,
                "metadata": {
                    "text": scrub_text(fill_placeholders(comment.text, comment.params)),
                    "tag": comment.tag,
                    "params": comment.params,
                    "aiMetadata": comment.ai_metadata,
                },
                "sourceContext": source_context(lines, unit.start, unit.end, context_lines),
                "language": language,
                "scenario": "function_completion",
                "entryPoint": unit.symbol,
                "tests": tests,
                "provenance": {
                    "repository": repo_name,
                    "path": src_rel,
                    "startLine": unit.start,
                    "endLine": unit.end,
                    "commentsVersion": sidecar.version,
                    "commentId": comment.id,
                    "anchorResolution": anchor.resolution,
                },
            }
        if progress:
            progress(done, len(sidecars))
    report.seconds = time.perf_counter() - started
