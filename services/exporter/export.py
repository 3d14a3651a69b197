"""Repositories -> JSONL records: walk the sidecars, resolve anchors, cut code units, scrub, gate, keep every reject.

A bad sidecar or comment never stops the export: it lands in the report as a typed error (its `kind`,
the path and the reason), and the good ones still go through. Records stream out one file at a time
(bounded memory); a repository whose licence the gate refuses exports nothing and is listed with why.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import orjson
from tqdm import tqdm

from commentslab.services.common import layout
from commentslab.services.common.artifacts import Location, is_blob, to_path, write_json, write_jsonl
from commentslab.services.common.errors import InputError
from commentslab.services.exporter.anchors import SourceLines, resolve_anchor
from commentslab.services.exporter.extract import LineText, code_unit, fill_placeholders, source_context
from commentslab.services.exporter.licence import DEFAULT_ALLOWED, LicenceVerdict, licence_gate
from commentslab.services.exporter.pseudonym_key import pseudonym_key
from commentslab.services.exporter.quality import lint_sources, messages_in, metadata_completeness
from commentslab.services.exporter.scrub import Scrubber, author_id, load_detectors
from commentslab.services.exporter.sidecar import Comment, Sidecar, SidecarError, parse_sidecar
from commentslab.services.exporter.symbols import SourceSyntaxError, language_of, load_parsers, symbols_for
from commentslab.services.exporter.test_files import (
    JS_LANGUAGES,
    JsTests,
    NoUsableTests,
    candidates,
    default_conventions,
    existing,
    js_tests,
    unnamed,
)

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"}
MAX_SOURCE_BYTES = 10 * 1024 * 1024
PARALLEL_MIN_FILES = 1500  # below this, starting worker processes costs more than it saves
PARALLEL_CHUNK = 100  # sidecars per task
SCENARIO = "function_completion"  # the default scenario's name (HumanEval, Python)

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportOptions:
    """What an export does beyond the defaults; every field has one."""

    context_lines: int = 5
    allowed_licences: tuple[str, ...] = DEFAULT_ALLOWED
    licence_gate: bool = True
    # The key of authors' pseudonyms; None: the deployment's (services/exporter/pseudonym_key.py), read when the
    # export starts. Kept out of repr so no log or report that prints the options can show it.
    pseudonym_key: str | None = field(default=None, repr=False)
    lint: bool = False  # Pylint / ESLint syntax checks (seconds per hundred files, so opt-in)
    lint_batch: int = 256  # files per linter run
    min_completeness: float = 0.0  # flag records whose metadata completeness is below this
    max_source_bytes: int = MAX_SOURCE_BYTES
    workers: int = 0  # processes for large repositories; 0 means one per CPU (1: none)
    scenario: str = SCENARIO  # recorded on every record
    # Where a source's tests are, as patterns (services/exporter/test_files.py); empty: the language's conventions.
    test_conventions: tuple[str, ...] = ()


@dataclass
class ExportReport:
    """What an export did: counts, how anchors resolved, removals, licences, and every reject with its reason."""

    repository: str
    sidecars: int = 0
    comments: int = 0
    records: int = 0
    resolutions: Counter = field(default_factory=Counter)
    rejects: list[dict] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # kind -> count
    removals: Counter = field(default_factory=Counter)  # kind -> count (e-mails, secret types, private keys)
    licences: list[dict] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)  # {recordId, path, reasons}
    untested: list[dict] = field(default_factory=list)  # {recordId, path, item, reason}: kept out of functional scoring
    lint: Counter = field(default_factory=Counter)
    completeness_total: float = 0.0
    seconds: float = 0.0

    def reject(self, path: str, reason: str, item: str = "", kind: str = "invalid_input") -> None:
        """Keep a rejected sidecar or comment with its reason and kind."""
        self.rejects.append({"path": path, "reason": reason, "item": item, "kind": kind})
        self.errors[kind] += 1

    def merge(self, other: ExportReport) -> None:
        """Add another (partial) report's counts and lists to this one."""
        for name in ("sidecars", "comments", "records", "completeness_total"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("resolutions", "errors", "removals", "lint"):
            getattr(self, name).update(getattr(other, name))
        self.rejects.extend(other.rejects)
        self.flagged.extend(other.flagged)
        self.untested.extend(other.untested)

    @property
    def excluded(self) -> list[dict]:
        """Repositories the licence gate kept out, with why."""
        return [v for v in self.licences if not v["allowed"]]

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
            "errorsByKind": dict(self.errors),
            "removals": dict(self.removals),
            "removalsTotal": sum(self.removals.values()),
            "licences": self.licences,
            "excludedRepositories": self.excluded,
            "flagged": self.flagged,
            "untested": self.untested,
            "lint": dict(self.lint),
            "meanMetadataCompleteness": round(self.completeness_total / self.records, 3) if self.records else None,
            "seconds": round(self.seconds, 3),
        }


# ---- walking -------------------------------------------------------------------------------------------

def _gitignore(folder: str):
    import pathspec

    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(specs: list[tuple[str, object]], path: str, is_dir: bool) -> bool:
    ignored = False
    for base, spec in specs:
        rel = path[len(base) + 1 :].replace(os.sep, "/") + ("/" if is_dir else "")
        result = spec.check_file(rel).include
        # Deeper .gitignore files come later and override, as in git (a `!pattern` re-includes).
        if result is not None:
            ignored = bool(result)
    return ignored


def find_sidecars(repo: Path) -> list[Path]:
    """Every `*.comments` file under `repo`, sorted, honouring .gitignore files, outside VCS/environment folders."""
    found: list[Path] = []
    specs_at: dict[str, list[tuple[str, object]]] = {}
    top = os.path.normpath(str(repo))
    for root, dirs, files in os.walk(top):
        specs = list(specs_at.get(root, []))
        if ".gitignore" in files:
            spec = _gitignore(root)
            if spec is not None:
                specs.append((root, spec))
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not _ignored(specs, os.path.join(root, d), True))
        for d in dirs:
            specs_at[os.path.join(root, d)] = specs
        found.extend(Path(root, f) for f in sorted(files)
                     if f.endswith(".comments") and not _ignored(specs, os.path.join(root, f), False))
    return found


@lru_cache(maxsize=4096)
def _listing(folder: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset()


def test_paths(root: str, source_rel: str, language: str, conventions: tuple[str, ...] = ()) -> list[str]:
    """The repository-relative test files of a source, by the given conventions or its language's."""
    return existing(root, candidates(source_rel, conventions or default_conventions(language)), _listing)


def _read_repository_file(root: str, rel: str, limit: int) -> str:
    """A repository file's text (not past `limit` bytes), refusing one that resolves outside the repository."""
    path = os.path.realpath(os.path.join(root, rel))
    if not _inside(root, path):
        raise NoUsableTests(f"{rel} resolves outside the repository")
    with open(path, "rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise NoUsableTests(f"{rel} is over the {limit}-byte limit")
    return raw.decode("utf-8", errors="replace")


def _is_repository_file(root: str, rel: str) -> bool:
    folder, name = os.path.split(rel)
    absolute = os.path.join(root, folder) if folder else root
    return name in _listing(absolute) and os.path.isfile(os.path.join(absolute, name))


def record_id(repository: str, path: str, comment_id: str) -> str:
    """Stable id: first 16 hex of sha256(repository:path:commentId)."""
    return hashlib.sha256(f"{repository}:{path}:{comment_id}".encode()).hexdigest()[:16]


def _inside(repo: str, path: str) -> bool:
    return path == repo or path.startswith(repo + os.sep)


def source_for(repo: Path, sidecar_path: Path, declared: str, root: str | None = None) -> Path:
    """The source file a sidecar annotates (by its own name, else by its `file`), checked to be inside `repo`.

    `root` is `repo`'s real path, when the caller has it already.
    """
    root = root or os.path.realpath(repo)
    # The declared name is checked lexically (it names a path; it need not exist) ...
    declared_paths = [os.path.normpath(os.path.join(sidecar_path.parent, declared)),
                      os.path.normpath(os.path.join(root, declared))]
    if os.path.isabs(declared) or not any(_inside(root, os.path.realpath(p)) if os.path.islink(p)
                                          else _inside(root, os.path.abspath(p)) for p in declared_paths):
        raise SidecarError(str(sidecar_path), f"'file' {declared!r} points outside the repository",
                           "outside_repository")
    source = str(sidecar_path)[: -len(".comments")]
    if not os.path.exists(source):
        # Some tools name the file in the sidecar rather than by the sidecar's own name.
        source = next((p for p in declared_paths if os.path.exists(p)), declared_paths[0])
    # ... and the file found is checked after symlinks resolve. The walk does not follow symlinked
    # folders, so beside its sidecar only the file itself can be a link.
    beside = os.path.dirname(source) == str(sidecar_path.parent)
    resolved = os.path.realpath(source) if not beside or os.path.islink(source) else os.path.abspath(source)
    name = os.path.basename(source)
    if not _inside(root, resolved):
        raise SidecarError(str(sidecar_path), f"its source {name} resolves outside the repository",
                           "outside_repository")
    if not os.path.isfile(resolved):
        raise SidecarError(str(sidecar_path), f"its source file {name} does not exist", "missing_source")
    return Path(resolved)


def _read_source(path: Path, limit: int, where: str) -> str:
    with open(os.fspath(path), "rb") as handle:  # one open, its size from the open file
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise SidecarError(where, f"its source {path.name} is {size} bytes, over the {limit}-byte limit",
                               "too_large")
        raw = handle.read()
    if b"\0" in raw[:8192]:
        raise SidecarError(where, f"its source {path.name} is a binary file", "binary_file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SidecarError(where, f"its source {path.name} is not UTF-8 text", "not_utf8") from exc


# ---- one file ------------------------------------------------------------------------------------------

@dataclass
class _FileRecords:
    """The records cut from one source file, with what the linters need to check them."""

    records: list[dict]
    name: str
    language: str
    text: str  # scrubbed source
    finite: bool = True  # the sidecar held no NaN or infinity (see `encode_record`)


# One encoder for the params and AI metadata of every comment (json.dumps with options builds one per call).
_PARAMS_JSON = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _comment_texts(comment: Comment, text: str) -> str:
    """Everything a comment says (`text`, its text with placeholders filled, replies, params, AI metadata) on one
    line, for the secrets search.

    Params and AI metadata go in as JSON: their strings keep their quotes, as in code.
    """
    parts = [text, *(r.text for r in comment.replies)]
    if comment.params or comment.ai_metadata:
        parts.append(_PARAMS_JSON([comment.params, comment.ai_metadata]))
    return " ".join(parts).replace("\n", " ")


def _comment_metadata(comment: Comment, text: str, scrubber: Scrubber, key: str, dirty: bool) -> tuple[dict, bool]:
    """(metadata, whether anything was scrubbed): `text` (placeholders filled), params, AI metadata, replies."""
    before = sum(scrubber.removals.values())
    metadata = {
        "text": scrubber.scrub_text(text) if dirty else text,
        "tag": comment.tag,
        "params": scrubber.scrub_value(comment.params) if dirty else comment.params,
        "aiMetadata": scrubber.scrub_value(comment.ai_metadata) if dirty else comment.ai_metadata,
        "status": comment.status,
        "replies": [{"text": scrubber.scrub_text(r.text) if dirty else r.text, "authorId": author_id(r.author, key),
                     "created": r.created} for r in comment.replies],
    }
    return metadata, sum(scrubber.removals.values()) > before


def _export_file(repo: Path, root: str, repo_name: str, sidecar_path: Path, rel: str, options: ExportOptions,
                 report: ExportReport, scrubber: Scrubber, licence: str | None) -> _FileRecords | None:
    try:
        sidecar: Sidecar = parse_sidecar(sidecar_path)
        source_path = source_for(repo, sidecar_path, sidecar.file, root)
        text = _read_source(source_path, options.max_source_bytes, rel)
    except SidecarError as exc:
        report.reject(rel, exc.reason, kind=exc.kind)
        return None
    except OSError as exc:
        report.reject(rel, f"cannot be read ({exc.strerror})", kind="unreadable")
        return None
    language = language_of(source_path.suffix)
    lines = text.splitlines()
    try:
        symbols = symbols_for(text, language)
    except SourceSyntaxError as exc:
        report.reject(rel, f"source does not parse as {language} ({exc})", kind="syntax_error")
        return None
    resolved = str(source_path)
    # source_for checked the file is inside `root`: its path relative to it is the rest of the string.
    src_rel = (resolved[len(root) + 1 :] if resolved.startswith(root + os.sep)
               else os.path.relpath(resolved, root)).replace(os.sep, "/")
    filled = [fill_placeholders(c.text, c.params) for c in sidecar.comments]
    # One search of the source and everything its comments say; detect-secrets only sees the lines it flags.
    candidates, dirty = scrubber.scan(text, [_comment_texts(c, t) for c, t in zip(sidecar.comments, filled, strict=True)])
    scrubbed_text, removed = scrubber.scrub_source(text, source_path.name, candidates)
    scrubbed = scrubbed_text.splitlines() if removed else lines
    changed = {i + 1 for i, (a, b) in enumerate(zip(lines, scrubbed, strict=False)) if a != b} if removed else set()
    code = LineText(scrubbed)
    source = SourceLines(lines, symbols)
    tests: str | JsTests | None = None
    untested = ""  # why the file's records carry no tests
    tests_scrubbed = False
    records = []
    for index, comment in enumerate(sidecar.comments):
        report.comments += 1
        anchor = resolve_anchor(comment, source)
        if anchor is None:
            stored = comment.marker.line if comment.marker else comment.start_line or comment.line
            if (comment.marker is None or not comment.marker.line_hash) and stored > len(lines):
                report.reject(rel, f"line {stored} is out of range: {src_rel} has {len(lines)} lines", comment.id,
                              "line_out_of_range")
            else:
                report.reject(rel, "orphaned: no anchor matches the current source", comment.id, "orphaned")
            report.resolutions["orphaned"] += 1
            continue
        report.resolutions[anchor.resolution] += 1
        unit = code_unit(code, symbols, anchor, comment.is_range)
        if unit is None:
            report.reject(rel, f"no code to complete at lines {anchor.start}-{anchor.end}", comment.id, "no_code_unit")
            continue
        if tests is None and not untested:
            tests, untested, tests_scrubbed = _tests_of(root, src_rel, language, code.text, options, scrubber)
        record_tests, reason = _record_tests(tests, untested, src_rel, code, unit)
        metadata, meta_scrubbed = _comment_metadata(comment, filled[index], scrubber, options.pseudonym_key,
                                                    index in dirty)
        author = author_id(comment.author, options.pseudonym_key)
        marker = comment.marker
        completeness, missing = metadata_completeness(metadata, author is not None,
                                                      bool(marker and marker.line_hash))
        context = source_context(code, unit.start, unit.end, options.context_lines)
        flags = []
        lo, hi = max(1, unit.start - options.context_lines), unit.end + options.context_lines
        if any(lo <= n <= hi for n in changed):
            flags.append("secrets or e-mails removed from the code")
        if meta_scrubbed:
            flags.append("secrets or e-mails removed from the comment")
        if tests_scrubbed:
            flags.append("secrets or e-mails removed from the tests")
        if completeness < options.min_completeness:
            flags.append(f"metadata completeness {completeness} below {options.min_completeness}")
        report.completeness_total += completeness
        records.append({
            "id": record_id(repo_name, src_rel, comment.id),
            "prompt": unit.prompt,
            "completion": unit.completion,
            "metadata": metadata,
            "sourceContext": context,
            "language": language,
            "scenario": options.scenario,
            "entryPoint": unit.symbol,
            "tests": record_tests,
            "licence": licence,
            "quality": {"metadataCompleteness": completeness, "missingMetadata": missing,
                        "syntax": {"checked": False, "errors": []}, "flags": flags},
            "provenance": {
                "repository": repo_name,
                "path": src_rel,
                "startLine": unit.start,
                "endLine": unit.end,
                "unitKind": unit.kind,
                "commentsVersion": sidecar.version,
                "commentId": comment.id,
                "anchorResolution": anchor.resolution,
                "authorId": author,
            },
        })
        if reason:
            report.untested.append({"recordId": records[-1]["id"], "path": src_rel, "item": comment.id,
                                    "reason": reason})
    return _FileRecords(records, src_rel, language, scrubbed_text, sidecar.finite)


def _tests_of(root: str, src_rel: str, language: str, module_text: str, options: ExportOptions,
              scrubber: Scrubber) -> tuple[str | JsTests | None, str, bool]:
    """(the source's tests, why there are none, whether scrubbing changed them).

    Python: the first test file the conventions find, as text. JS/TS: the test files and every local
    file they import (test_files.js_tests). Tests ship inside the records, so they are scrubbed like the code.
    """
    found = test_paths(root, src_rel, language, options.test_conventions)
    changed = False

    def read(rel: str) -> str:
        nonlocal changed
        text = _read_repository_file(root, rel, options.max_source_bytes)
        clean = scrubber.scrub_source(text, posixpath.basename(rel), entropy=False)[0]
        changed = changed or clean != text
        return clean

    try:
        if language in JS_LANGUAGES:
            return js_tests(src_rel, module_text, found,
                            read, lambda rel: _is_repository_file(root, rel)), "", changed
        if not found:
            raise NoUsableTests("no test file found by the scenario's conventions")
        return read(found[0]), "", changed
    except NoUsableTests as exc:
        return None, str(exc), False
    except OSError as exc:
        return None, f"a test file cannot be read ({exc.strerror})", False


def _record_tests(tests: str | JsTests | None, untested: str, src_rel: str, code: LineText,
                  unit) -> tuple[str | dict | None, str]:
    """(one record's `tests`, why it has none): a JS/TS record's tests must name its function."""
    if tests is None:
        return None, untested
    if isinstance(tests, str):
        return tests, ""
    reason = unnamed(tests, src_rel, code.text, unit.symbol)
    if reason:
        return None, reason
    return {"module": src_rel, "after": code.span(unit.end, len(code)), "files": tests.files,
            "testFiles": list(tests.test_files)}, ""


def _lint_batch(batch: list[_FileRecords], report: ExportReport) -> None:
    """Run the linters over a batch of files and attach each record's messages (and a flag when there are any)."""
    results = lint_sources((f"{i}:{f.name}", f.language, f.text) for i, f in enumerate(batch))
    for i, item in enumerate(batch):
        messages = results.get(f"{i}:{item.name}")
        report.lint["files"] += messages is not None
        for record in item.records:
            if messages is None:  # a language without a linter here
                continue
            prov = record["provenance"]
            found = messages_in(messages, prov["startLine"], prov["endLine"])
            record["quality"]["syntax"] = {"checked": True, "tool": "pylint" if item.language == "python" else "eslint",
                                           "errors": found}
            report.lint["records"] += 1
            if found:
                report.lint["recordsWithErrors"] += 1
                first = found[0]
                record["quality"]["flags"].append(f"lint error at line {first['line']}: {first['message']}")


def encode_record(record: dict, finite: bool = True) -> str:
    """One record as a line of JSON.

    orjson writes it, several times faster than the standard library, whenever it writes the same data:
    always, except for NaN and infinities (null in orjson) and integers past 64 bits (which it refuses).
    Those can only come from a sidecar's params or AI metadata, and `finite` says whether the sidecar held
    any; such records, and any orjson refuses, are written by the standard library as before.
    """
    if finite:
        try:
            return orjson.dumps(record).decode()
        except orjson.JSONEncodeError:
            pass
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _emit(batch: list[_FileRecords], report: ExportReport, lint: bool, encoded: bool) -> Iterator[dict]:
    if lint and batch:
        _lint_batch(batch, report)
    for item in batch:
        for record in item.records:
            if record["quality"]["flags"]:
                report.flagged.append({"recordId": record["id"], "path": record["provenance"]["path"],
                                       "reasons": list(record["quality"]["flags"])})
            yield EncodedRecord(encode_record(record, item.finite)) if encoded else record


class EncodedRecord(Mapping):
    """A record that arrives already encoded as JSON (from a worker process, or when asked for); decoded only if
    read.

    The artifact store writes `encoded_json` as it is, so the parent process neither unpickles nor
    re-encodes the records it streams to the file.
    """

    def __init__(self, encoded_json: str):
        self.encoded_json = encoded_json
        self._data: dict | None = None

    def _decoded(self) -> dict:
        if self._data is None:
            self._data = json.loads(self.encoded_json)
        return self._data

    def __getitem__(self, key: str):
        return self._decoded()[key]

    def __iter__(self):
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


def _export_chunk(task: tuple) -> tuple[list[str], ExportReport]:
    """A worker process's share: some sidecars of one repository, as JSON lines, with a partial report."""
    repo, root, repo_name, sidecars, options, licence = task
    part = ExportReport(repository=repo_name)
    scrubber = Scrubber()
    encoded = []
    for sidecar_path in sidecars:
        part.sidecars += 1
        path = Path(sidecar_path)
        rel = sidecar_path[len(os.path.normpath(repo)) + 1 :].replace(os.sep, "/")
        item = _export_file(Path(repo), root, repo_name, path, rel, options, part, scrubber, licence)
        if item is not None:
            part.records += len(item.records)
            for record in item.records:
                if record["quality"]["flags"]:
                    part.flagged.append({"recordId": record["id"], "path": record["provenance"]["path"],
                                         "reasons": list(record["quality"]["flags"])})
                encoded.append(encode_record(record, item.finite))
    part.removals.update(scrubber.removals)
    return encoded, part


def _fork_safe() -> bool:
    """True when no other thread could hold a lock a forked worker needs.

    fork is cheap (no re-import) but unsafe beside threads that may hold locks, such as the gRPC server's:
    spawn there. tqdm's monitor thread, which every progress bar starts and which lives on after it, only
    refreshes bars, and workers draw none.
    """
    import threading

    from tqdm.std import TMonitor

    current = threading.current_thread()
    return all(thread is current or isinstance(thread, TMonitor) for thread in threading.enumerate())


def _export_parallel(repo: Path, root: str, repo_name: str, sidecars: list[Path], options: ExportOptions,
                     report: ExportReport, licence: str | None, workers: int, progress: ProgressFn | None,
                     show_progress: bool) -> Iterator[EncodedRecord]:
    import multiprocessing

    tasks = [(str(repo), root, repo_name, [str(p) for p in sidecars[i : i + PARALLEL_CHUNK]], options, licence)
             for i in range(0, len(sidecars), PARALLEL_CHUNK)]
    fork = _fork_safe()
    if fork:
        # Configured once here, the detectors and parsers are the workers' from the start (copy-on-write).
        load_detectors()
        load_parsers()
    context = multiprocessing.get_context("fork" if fork else "spawn")
    done = 0
    with context.Pool(workers) as pool, tqdm(total=len(sidecars), desc=f"export {repo_name}", unit="file",
                                             disable=not show_progress) as bar:
        # imap keeps the order, so the output is the same as a serial export's.
        for encoded, part in pool.imap(_export_chunk, tasks):
            report.merge(part)
            for line in encoded:
                yield EncodedRecord(line)
            done += part.sidecars
            bar.update(part.sidecars)
            if progress:
                progress(done, len(sidecars))


def export_repository(
    repo: Path, context_lines: int = 5, report: ExportReport | None = None, progress: ProgressFn | None = None,
    show_progress: bool = False, options: ExportOptions | None = None, encoded: bool = False,
) -> Iterator[dict]:
    """Yield one record per anchored comment in `repo`; rejects, removals and the licence verdict go into `report`.

    Records are dicts, or (from worker processes on a large repository, and always with `encoded`, for a
    caller that writes them out) read-only mappings that carry their JSON; `dict(record)` gives a dict
    either way.
    """
    options = options or ExportOptions(context_lines=context_lines)
    if context_lines != 5 and options.context_lines == 5:
        options = ExportOptions(**{**options.__dict__, "context_lines": context_lines})
    if options.pseudonym_key is None:
        options = replace(options, pseudonym_key=pseudonym_key())
    if not repo.exists():
        raise InputError(str(repo), "repository does not exist")
    if not repo.is_dir():
        raise InputError(str(repo), "is not a folder")
    if not os.access(repo, os.R_OK | os.X_OK):
        raise InputError(str(repo), "repository is not readable")
    report = report if report is not None else ExportReport(repository=str(repo))
    started = time.perf_counter()
    repo_name = repo.resolve().name
    verdict = licence_gate(repo, options.allowed_licences)
    if not options.licence_gate and not verdict.allowed:
        # The licence is still detected and recorded; the gate just doesn't close.
        verdict = LicenceVerdict(verdict.repository, verdict.spdx, verdict.source, True,
                                 f"licence gate off ({verdict.reason})")
    report.licences.append(verdict.to_dict())
    if not verdict.allowed:
        report.seconds += time.perf_counter() - started
        return
    sidecars = find_sidecars(repo)
    top = os.path.normpath(str(repo))
    root = os.path.realpath(repo)
    scrubber = Scrubber()
    batch: list[_FileRecords] = []
    workers = options.workers or (os.cpu_count() or 1)
    try:
        if workers > 1 and len(sidecars) >= PARALLEL_MIN_FILES and not options.lint:
            yield from _export_parallel(repo, root, repo_name, sidecars, options, report, verdict.spdx, workers,
                                        progress, show_progress)
            return
        bar = tqdm(sidecars, desc=f"export {repo_name}", unit="file", disable=not show_progress)
        for done, sidecar_path in enumerate(bar, 1):
            report.sidecars += 1
            rel = str(sidecar_path)[len(top) + 1 :].replace(os.sep, "/")
            item = _export_file(repo, root, repo_name, sidecar_path, rel, options, report, scrubber, verdict.spdx)
            if item is not None and item.records:
                report.records += len(item.records)
                batch.append(item)
            if len(batch) >= (options.lint_batch if options.lint else 1):
                yield from _emit(batch, report, options.lint, encoded)
                batch = []
            if progress:
                progress(done, len(sidecars))
        yield from _emit(batch, report, options.lint, encoded)
    finally:
        report.removals.update(scrubber.removals)
        report.seconds += time.perf_counter() - started


def export_repositories(repos: Iterable[Path], report: ExportReport, options: ExportOptions | None = None,
                        progress: ProgressFn | None = None, show_progress: bool = False,
                        encoded: bool = False) -> Iterator[dict]:
    """Every record of every repository, in order; one report for all of them (`encoded`: see export_repository)."""
    for repo in repos:
        yield from export_repository(repo, report=report, progress=progress, show_progress=show_progress,
                                     options=options, encoded=encoded)


# -- the export as a step: records, report and review queue written where the layout says ---------------

def report_path(records: Location) -> Location:
    """Where an export's report goes: beside its records, `<name>.report.json`."""
    if is_blob(records):
        text = str(records)
        return (text[: -len(".jsonl")] if text.endswith(".jsonl") else text) + ".report.json"
    return layout.export_report(to_path(records))


def default_review_queue(records: Location) -> Path | None:
    """The review queue beside local records (`<name>.review.sqlite`); None for blob records."""
    if is_blob(records):
        return None
    return layout.review_queue(to_path(records))


def run_export(repository: Path, records: Location, context_lines: int = 5, progress: ProgressFn | None = None,
               show_progress: bool = False, options: ExportOptions | None = None,
               more_repositories: Iterable[Path] = (), review_queue: Path | None = None) -> ExportReport:
    """Export the repositories into the JSONL `records` (local or az://), its report beside it; flagged
    records go to the review queue."""
    options = options or ExportOptions(context_lines=context_lines or 5)
    repos = [Path(repository), *(Path(r) for r in more_repositories)]
    report = ExportReport(repository=", ".join(str(r) for r in repos))
    write_jsonl(records, export_repositories(repos, report, options, progress, show_progress, encoded=True))
    from commentslab.services.review.queue import ReviewQueue

    queue_path = review_queue or default_review_queue(records)
    if report.flagged and queue_path is not None:
        ReviewQueue(queue_path).flag((f["recordId"], f["path"], f["reasons"]) for f in report.flagged)
    summary = report.to_dict()
    summary["reviewQueue"] = str(queue_path) if report.flagged and queue_path is not None else None
    write_json(report_path(records), summary)
    return report
