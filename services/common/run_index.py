"""A results database: every run folder under one folder, indexed from the runs' own results.json.

A run folder is a folder with a ``results.json`` (or a ``layout.json``: a run that started and has not
finished, listed as broken with the reason). The index is derived on every call and never written: each run
stays a self-contained folder, and moving or deleting one changes the database. Folders are searched
recursively, but never inside a run folder, nor inside a multi-model experiment's folder (the one with an
``experiment.json``) except its ``models/``::

    DATABASE/
      humaneval/smoke-2026-01-01/results.json        a single run (its id: humaneval/smoke-2026-01-01)
      js/two-models/experiment.json                  {"experiment", "models", "runs": {name: "models/<name>"}}
      js/two-models/models/tiny-random/results.json  one run per base model (id: js/two-models/models/tiny-random)

A run folder given directly is a database of one run, whose id is ``"."``. Every results.json is read with
the gateway's checked loader (the schema, plus every arm scored on every metric); a run that cannot be read
becomes an entry with ``error`` saying why, so a broken folder shows in the list instead of vanishing.
Hidden folders and symbolic links are not followed: a database holds what is inside its folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from commentslab.services.common.config import ModelConfig, display_name
from commentslab.services.common.layout import EXPERIMENT_FILE, LAYOUT_FILE, MODELS_DIR, RESULTS_FILE
from commentslab.services.gateway.results_store import ResultsError, load_results

ROOT_ID = "."
# What a run's verdict is filtered by: any metric significantly better, worse, both, neither; unreadable runs.
VERDICTS = ("better", "worse", "mixed", "none", "broken")


@dataclass(frozen=True)
class Effect:
    """One metric's effect: experiment − control (``difference``) with its 95% bootstrap interval."""

    metric: str
    control: float | None
    experiment: float | None
    difference: float
    low: float | None
    high: float | None
    significant: bool
    p_holm: float | None


@dataclass(frozen=True)
class Design:
    """How a run was made: its profile, folds, training seeds, arms, samples per problem and test problems."""

    profile: str | None
    folds: int | None
    seeds: int | None
    arms: tuple[str, ...]
    samples: int | None
    problems: int | None

    @property
    def label(self) -> str:
        """One short line: ``smoke · 1 fold × 1 seed · n=2 · 6 problems · control, experiment``."""
        parts = [self.profile or "unknown profile"]
        if self.folds is not None and self.seeds is not None:
            parts.append(f"{self.folds} fold{'s' * (self.folds != 1)} × {self.seeds} seed{'s' * (self.seeds != 1)}")
        if self.samples is not None:
            parts.append(f"n={self.samples}")
        if self.problems is not None:
            parts.append(f"{self.problems} problems")
        if self.arms:
            parts.append(", ".join(self.arms))
        return " · ".join(parts)


@dataclass(frozen=True)
class RunEntry:
    """One run of the database. ``run_id``: the run folder relative to the database folder (POSIX form,
    ``"."`` for a database of one run); ``error``: why the run cannot be shown (None when it can)."""

    run_id: str
    path: Path
    scenario: str | None = None
    base_model: str | None = None
    experiment: str | None = None
    design: Design | None = None
    date: str | None = None
    verdict: str | None = None
    verdict_kind: str = "broken"
    effects: tuple[Effect, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run's results were read and checked."""
        return self.error is None

    def effect(self, metric: str) -> Effect | None:
        """The effect on ``metric``, or None when the run did not compare it."""
        return next((e for e in self.effects if e.metric == metric), None)

    def to_dict(self) -> dict:
        """A JSON-ready form (camelCase keys, as results.json spells them; no absolute path)."""
        design = self.design
        return {
            "id": self.run_id, "scenario": self.scenario, "baseModel": self.base_model,
            "experiment": self.experiment,
            "design": None if design is None else {**asdict(design), "arms": list(design.arms), "label": design.label},
            "date": self.date, "verdict": self.verdict, "verdictKind": self.verdict_kind,
            "effects": [{"metric": e.metric, "control": e.control, "experiment": e.experiment,
                         "difference": e.difference, "low": e.low, "high": e.high, "significant": e.significant,
                         "pHolm": e.p_holm} for e in self.effects],
            "error": self.error,
        }


@dataclass(frozen=True)
class RunIndex:
    """The runs found under ``folder``, ordered by run id; broken runs included, with their reasons."""

    folder: Path
    entries: tuple[RunEntry, ...] = field(default_factory=tuple)

    @property
    def runs(self) -> tuple[RunEntry, ...]:
        """The runs that can be shown."""
        return tuple(e for e in self.entries if e.ok)

    @property
    def broken(self) -> tuple[RunEntry, ...]:
        """The runs that cannot be shown, each with its ``error``."""
        return tuple(e for e in self.entries if not e.ok)

    def get(self, run_id: str) -> RunEntry | None:
        """The entry with this id, or None."""
        return next((e for e in self.entries if e.run_id == run_id), None)

    @property
    def default(self) -> RunEntry | None:
        """The run shown when none is asked for: the only run, else the first readable one, else the first."""
        return (self.runs or self.entries or (None,))[0]

    def values(self, name: str) -> list[str]:
        """The distinct values of ``scenario``, ``base_model`` or ``profile`` over the readable runs, sorted."""
        found = {self._value(e, name) for e in self.runs}
        return sorted(v for v in found if v is not None)

    @staticmethod
    def _value(entry: RunEntry, name: str) -> str | None:
        if name == "profile":
            return entry.design.profile if entry.design else None
        return getattr(entry, name)

    def select(self, scenario: str | None = None, base_model: str | None = None, profile: str | None = None,
               verdict: str | None = None) -> list[RunEntry]:
        """The entries matching every filter given (exact values; ``verdict`` one of VERDICTS). A broken run
        has no scenario, model or profile to match, so any of those filters leaves it out."""
        wanted = {"scenario": scenario, "base_model": base_model, "profile": profile}
        out = []
        for entry in self.entries:
            if verdict is not None and entry.verdict_kind != verdict:
                continue
            if any(v is not None and self._value(entry, k) != v for k, v in wanted.items()):
                continue
            out.append(entry)
        return out

    def resolve(self, run_id: str) -> Path:
        """The folder of the run ``run_id``; ``KeyError`` naming the id when the database has no such run.
        Only ids the index found resolve, so a path outside the database (``..``, an absolute path, a link
        out) is never reached through it."""
        entry = self.get(run_id)
        if entry is None:
            raise KeyError(run_id)
        return entry.path


def model_name(results: dict) -> str | None:
    """The base model a run trained: results.json's ``baseModel``, else the name the config's ``model`` gives
    (``display_name``: tiny-random, SmolLM2-135M-Instruct, an ``hf`` path's last part) for results written
    before ``baseModel`` existed; None when neither says."""
    if isinstance(results.get("baseModel"), str) and results["baseModel"]:
        return results["baseModel"]
    model = (results.get("config") or {}).get("model")
    if not isinstance(model, dict) or not model.get("kind"):
        return None
    try:
        return display_name(ModelConfig.model_validate(model))
    except ValueError:
        return None


def verdict_kind(significance: dict) -> str:
    """``better``, ``worse``, ``mixed`` (some metrics each way) or ``none``: the direction of the metrics that
    differ significantly after Holm's correction."""
    signs = {entry.get("difference", 0) > 0 for entry in significance.values()
             if isinstance(entry, dict) and entry.get("significant")}
    return {frozenset(): "none", frozenset({True}): "better", frozenset({False}): "worse"}.get(frozenset(signs), "mixed")


def effects(results: dict) -> tuple[Effect, ...]:
    """Each compared metric's effect (experiment − control) with its 95% interval, in the run's metric order."""
    out = []
    for metric in results.get("metrics", []):
        entry = (results.get("significance") or {}).get(metric)
        if not isinstance(entry, dict):
            continue
        interval = entry.get("bootstrap") or {}
        out.append(Effect(metric, _number(entry.get("meanControl")), _number(entry.get("meanExperiment")),
                          float(entry["difference"]), _number(interval.get("low")), _number(interval.get("high")),
                          bool(entry.get("significant")), _number(entry.get("pHolm"))))
    return tuple(out)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def design_of(results: dict) -> Design:
    """A run's design, from its config and evaluation sections."""
    evaluation = results.get("evaluation") or {}

    def count(key: str) -> int | None:
        value = evaluation.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    profile = (results.get("config") or {}).get("profile") or (results.get("provenance") or {}).get("profile")
    return Design(profile=str(profile) if profile else None, folds=count("folds"), seeds=count("seeds"),
                  arms=tuple(str(a) for a in results.get("arms", [])), samples=count("samples"),
                  problems=count("problems"))


def experiment_id(results: dict, run_dir: Path) -> str | None:
    """The multi-model experiment a run belongs to: results.json's ``multiModel.id`` when it names one, else
    the ``experiment`` of the experiment.json two folders up (``OUT/models/<name>``); None for a single run.
    (The key ``experiment`` is the experiment arm's scores, never the experiment's name.)"""
    recorded = results.get("multiModel")
    if isinstance(recorded, dict) and isinstance(recorded.get("id"), str) and recorded["id"]:
        return recorded["id"]
    if run_dir.parent.name != MODELS_DIR:
        return None
    try:
        record = json.loads((run_dir.parent.parent / EXPERIMENT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    found = record.get("experiment") if isinstance(record, dict) else None
    return str(found) if isinstance(found, str | int) and found != "" else None


def _mtime(path: Path) -> str | None:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(timespec="seconds")


def read_entry(run_dir: Path, run_id: str) -> RunEntry:
    """One run folder as an entry: its results read with the checked loader, or the reason they cannot be."""
    try:
        results = load_results(run_dir)
    except ResultsError as error:
        return RunEntry(run_id, run_dir, date=_mtime(run_dir / RESULTS_FILE) or _mtime(run_dir), error=str(error))
    created = (results.get("provenance") or {}).get("createdAt")
    significance = results.get("significance") or {}
    return RunEntry(
        run_id=run_id, path=run_dir, scenario=results.get("scenario"), base_model=model_name(results),
        experiment=experiment_id(results, run_dir),
        design=design_of(results), date=created if isinstance(created, str) and created else _mtime(run_dir / RESULTS_FILE),
        verdict=results.get("verdict"), verdict_kind=verdict_kind(significance), effects=effects(results))


def _experiment_runs(folder: Path) -> tuple[dict[str, str], str | None]:
    """The runs a multi-model folder's experiment.json lists (model -> relative folder), or why it cannot be read."""
    path = folder / EXPERIMENT_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return {}, f"{path} cannot be read as JSON ({error})"
    runs = record.get("runs") if isinstance(record, dict) else None
    if not isinstance(runs, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in runs.items()):
        return {}, f"{path}: field runs must map each model's name to its folder (models/<name>)"
    return runs, None


def _is_inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (OSError, ValueError):
        return False
    return True


def _run_id(folder: Path, root: Path) -> str:
    relative = Path(os.path.normpath(folder)).relative_to(os.path.normpath(root))
    return ROOT_ID if relative == Path(".") else PurePosixPath(*relative.parts).as_posix()


def _child_id(folder: Path, root: Path, name: str) -> str:
    parent = _run_id(folder, root)
    return name if parent == ROOT_ID else f"{parent}/{name}"


def _scan(folder: Path, root: Path, real_root: Path) -> Iterable[RunEntry]:
    if (folder / RESULTS_FILE).exists() or (folder / LAYOUT_FILE).exists():
        run_id = _run_id(folder, root)
        if not _is_inside(folder / RESULTS_FILE, real_root):
            yield RunEntry(run_id, folder, error=f"{folder / RESULTS_FILE} links outside the database {root}; "
                                                 "copy the run into it instead")
        else:
            yield read_entry(folder, run_id)
        if (folder / MODELS_DIR).is_dir() and not (folder / MODELS_DIR).is_symlink():
            yield from _scan_children(folder / MODELS_DIR, root, real_root)
        return
    if (folder / EXPERIMENT_FILE).is_file():
        listed, problem = _experiment_runs(folder)
        if problem:
            yield RunEntry(_run_id(folder, root), folder, error=problem)
        for name, relative in sorted(listed.items()):
            run_dir = folder / relative
            inside = (not PurePosixPath(relative).is_absolute() and _is_inside(run_dir, real_root)
                      and os.path.normpath(run_dir).startswith(os.path.normpath(root) + os.sep))
            if inside and (run_dir / RESULTS_FILE).exists():
                yield from _scan(run_dir, root, real_root)  # as a run folder: a results.json linking out is refused
                continue
            where = "is outside the database" if not inside else f"has no {RESULTS_FILE}"
            yield RunEntry(_run_id(run_dir, root) if inside else _child_id(folder, root, name),
                           run_dir if inside else folder, base_model=name,
                           error=f"{folder / EXPERIMENT_FILE} lists model {name!r} at {relative}, which {where}; "
                                 "the model's run may not have finished")
        # The experiment's shared data/ holds no run; a model's folder its experiment.json omits is still listed.
        if (folder / MODELS_DIR).is_dir() and not (folder / MODELS_DIR).is_symlink():
            yield from _scan_children(folder / MODELS_DIR, root, real_root)
        return
    yield from _scan_children(folder, root, real_root)


def _scan_children(folder: Path, root: Path, real_root: Path) -> Iterable[RunEntry]:
    try:
        children = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for child in children:
        if child.name.startswith(".") or child.name == "__pycache__":
            continue
        if child.is_dir(follow_symlinks=False):
            yield from _scan(Path(child.path), root, real_root)


def find_runs(folder: Path) -> RunIndex:
    """Every run folder under ``folder`` (or ``folder`` itself when it is one), read and checked, broken ones
    with their reasons; ``ResultsError`` when ``folder`` does not exist or is not a folder."""
    root = Path(folder)
    if not root.is_dir():
        raise ResultsError(f"The results folder {root} does not exist or is not a folder. Produce a run in it "
                           f"with `commentslab run --profile smoke --out {root / 'my-run'}`.")
    found: dict[str, RunEntry] = {}
    for entry in _scan(root, root, root.resolve()):
        # A model's folder is listed both by experiment.json and by the scan of models/: the scan's reading wins.
        if entry.run_id not in found or found[entry.run_id].error and entry.ok:
            found[entry.run_id] = entry
    return RunIndex(root, tuple(found[k] for k in sorted(found)))
