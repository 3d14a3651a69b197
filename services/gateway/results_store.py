"""Reading a run folder's ``results.json`` (docs/CONTRACTS.md) for the gateway, with errors that say how to fix it."""

from __future__ import annotations

import json
from pathlib import Path

# REFERENCE_DIR: the committed reference results, shown by default when they exist (default_results_dir).
from commentslab.services.common.layout import REFERENCE_DIR, RESULTS_FILE, RunLayout
from commentslab.services.common.layout import RESULTS_SCHEMA_VERSION as SCHEMA_VERSION
from commentslab.services.evaluator.results_schema import ResultsSchemaError, validate_results
from commentslab.services.pipeline.reference import reference_label


class ResultsError(Exception):
    """A run folder's results cannot be shown; the message says what is missing and how to produce it.
    ``field``: the JSON path of the offending field when the file is there but wrong (else None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _how_to_produce(results_dir: Path) -> str:
    return f"Produce it with `commentslab run --profile smoke --out {results_dir}`."


# results.json path -> (the file's stat signature when read, its results or the error reading them raised)
_read: dict[Path, tuple[tuple[int, ...], dict | ResultsError]] = {}


def load_results(results_dir: Path) -> dict:
    """Read ``<results_dir>/results.json`` and check it against results.schema.json.

    Raises ``ResultsError`` naming the missing folder or file (and the command that produces results),
    or the field that breaks the schema and why. The file is read and checked again only when it
    changes (its inode, size, modification or status-change time), so a reader may call this on every request; the
    dict returned is shared between calls and must not be modified.
    """
    results_dir = Path(results_dir)
    path = RunLayout(results_dir).results
    if not results_dir.is_dir():
        raise ResultsError(f"The results folder {results_dir} does not exist. {_how_to_produce(results_dir)}")
    try:
        stat = path.stat()
    except FileNotFoundError:
        stat = None
    if stat is None or not path.is_file():
        raise ResultsError(
            f"The results folder {results_dir} has no {RESULTS_FILE}; the run may not have finished. "
            f"{_how_to_produce(results_dir)}"
        )
    signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    known = _read.get(path)
    if known is None or known[0] != signature:
        try:
            known = (signature, _checked(path, results_dir))
        except ResultsError as error:
            known = (signature, error)
        _read[path] = known
    if isinstance(known[1], ResultsError):
        raise known[1]
    return known[1]


def _checked(path: Path, results_dir: Path) -> dict:
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsError(f"{path} is not valid UTF-8 JSON ({error}). {_how_to_produce(results_dir)}") from error
    if not isinstance(results, dict):
        raise ResultsError(f"{path} must hold a JSON object, not {type(results).__name__}.", "(top level)")
    if results.get("schemaVersion") != SCHEMA_VERSION:
        raise ResultsError(f"{path} has schemaVersion {results.get('schemaVersion')!r}; this gateway reads version "
                           f"{SCHEMA_VERSION}.", "schemaVersion")
    try:
        validate_results(results, str(path))
    except ResultsSchemaError as error:
        raise ResultsError(f"{error} {_how_to_produce(results_dir)}", error.field) from error
    # What the schema cannot say: the run compared something, and every arm scored every metric.
    if not results["metrics"]:
        raise ResultsError(f"{path}: the run compared no metric (empty `metrics`); the run may have had no test "
                           f"problems. {_how_to_produce(results_dir)}", "metrics")
    for arm in results["arms"]:
        if not isinstance(results.get(arm), dict):
            raise ResultsError(f"{path}: the arm {arm!r} is listed in `arms` but has no scores.", arm)
        absent = [metric for metric in results["metrics"] if metric not in results[arm]]
        if absent:
            raise ResultsError(f"{path}: the {arm} arm has no value for metric(s) {', '.join(absent)}.",
                               f"{arm}/{absent[0]}")
    # Promoted reference results say what design and hardware made them, so every page can label them.
    label = reference_label(results_dir)
    return {**results, "reference": label} if label else results


def default_results_dir(root: Path) -> Path:
    """The committed reference results under ``root`` when they exist, else the newest run in ``root/runs``
    that has a results.json, else ``root/runs/demo`` (whose absence the dashboard then explains)."""
    reference = root / REFERENCE_DIR
    if (reference / RESULTS_FILE).is_file():
        return reference
    written = sorted((root / "runs").glob(f"*/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime)
    return written[-1].parent if written else root / "runs" / "demo"


def problem_arms(results: dict) -> list[str]:
    """The arms that have per-problem rows (control, experiment and placebo when present)."""
    return [arm for arm in results.get("arms", ["control", "experiment"])
            if any(isinstance(p.get(arm), dict) for p in results.get("problems", []))]


def disagrees(problem: dict, arms: list[str]) -> bool:
    """Whether the arms' pass/fail outcomes differ on this problem (any sample's pass status)."""
    outcomes = {tuple((problem.get(arm) or {}).get("passed", [])) for arm in arms}
    return len(outcomes) > 1
