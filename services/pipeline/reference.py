"""The committed reference results: a finished reference run, promoted into `results/reference/` untouched.

The dashboard shows `results/reference/` by default. Nothing there may be edited by hand, so it is only
ever written by `promote`, which copies the run's `results.json` and each training run's metric history
byte for byte and writes `PROVENANCE.json` (GPU, commit, date, config, wall time per step, and the sha256
of every file). `verify` recomputes the hashes: a test fails when a committed file no longer matches.

A run is a reference run only when it was made the way issue 5 asks: the `gpu` profile's design (5 folds
over HumanEval, control, experiment and placebo arms, 3 training seeds, n=20 samples, pass@1 and pass@10),
on CUDA, from committed code. `promote` names every way a run falls short instead of copying it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from commentslab.services.common.artifacts import sha256_file
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import PROVENANCE_FILE, REFERENCE_DIR, RunLayout
from commentslab.services.evaluator.results_schema import validate_results


@dataclass(frozen=True)
class ReferenceDesign:
    """What a run must have been to stand as the reference results."""

    folds: int = 5
    seeds: int = 3
    arms: tuple[str, ...] = ("control", "experiment", "placebo")
    samples: int = 20
    k: tuple[int, ...] = (1, 10)
    problems: int = 164
    cuda: bool = True


def shortfalls(results: dict, design: ReferenceDesign) -> list[str]:
    """Every way `results` differs from the reference design (empty when it qualifies)."""
    cfg = results.get("config", {})
    provenance = results.get("provenance", {})
    evaluation = results.get("evaluation", {})
    found: list[str] = []

    def expect(what: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            found.append(f"{what} is {actual!r}, the reference design needs {wanted!r}")

    expect("data.folds", cfg.get("data", {}).get("folds"), design.folds)
    expect("number of training seeds", len(cfg.get("seeds") or [cfg.get("seed")]), design.seeds)
    expect("arms", tuple(results.get("arms", cfg.get("data", {}).get("arms", []))), design.arms)
    expect("generate.n", cfg.get("generate", {}).get("n"), design.samples)
    expect("evaluate.k", tuple(cfg.get("evaluate", {}).get("k", [])), design.k)
    expect("problems evaluated", evaluation.get("problems"), design.problems)
    if design.cuda and not provenance.get("machine", {}).get("cuda"):
        found.append("the run did not use a CUDA GPU (provenance.machine.cuda is false)")
    commit = str(provenance.get("commit", "unknown"))
    if commit == "unknown" or commit.endswith("-dirty"):
        found.append(f"the run's code version is {commit!r}: run it from a clean checkout of a commit")
    return found


def _read_object(path: Path) -> dict:
    """A JSON object from `path`, or an InputError naming the file and what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"is not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(str(path), f"must hold a JSON object, not {type(data).__name__}")
    return data


def _promoted_files(run: RunLayout, reference: RunLayout) -> list[tuple[Path, Path]]:
    """(source, destination) of what the reference keeps of a run, in the run folder's own layout:
    results.json, the per-problem table, every job's history, and the experiment arm's test rows (the
    dashboard's metadata hints). Checkpoints and generations stay in the run folder."""
    pairs = [(run.results, reference.results), (run.problems_csv, reference.problems_csv),
             (run.root / "layout.json", reference.root / "layout.json")]
    pairs += [(path, reference.history(job)) for job, path in run.histories()]
    pairs += [(run.rows(fold, "experiment"), reference.rows(fold, "experiment")) for fold in range(run.folds)]
    return [(source, dest) for source, dest in pairs if source.is_file()]


def promote(run_dir: Path, root: Path, design: ReferenceDesign | None = None) -> Path:
    """Copy a finished reference run's results and metric histories into `root/results/reference/`."""
    design = design or ReferenceDesign()
    results_path = RunLayout.reading(run_dir).results
    if not results_path.is_file():
        raise InputError(str(run_dir), "has no results.json; the run has not finished (re-run it to resume)")
    results = _read_object(results_path)
    validate_results(results, str(results_path))
    problems = shortfalls(results, design)
    if problems:
        raise InputError(str(run_dir), "is not a reference run: " + "; ".join(problems))
    target = root / REFERENCE_DIR
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    run = RunLayout.open(run_dir)
    for source, dest in _promoted_files(run, RunLayout(staging, run.folds)):
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    provenance = results.get("provenance", {})
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    record = {
        "promotedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": str(run_dir),
        "commit": provenance.get("commit"),
        "createdAt": provenance.get("createdAt"),
        "machine": provenance.get("machine"),
        "wallSeconds": provenance.get("wallSeconds"),
        "config": results.get("config"),
        "sha256": {p.relative_to(staging).as_posix(): sha256_file(p) for p in files},
    }
    (staging / PROVENANCE_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def verify(reference_dir: Path) -> list[str]:
    """Files under `reference_dir` that differ from, or are missing in, its PROVENANCE.json (empty: intact)."""
    record_path = reference_dir / PROVENANCE_FILE
    if not record_path.is_file():
        return [f"{record_path} is missing: reference results are only written by `commentslab reference promote`"]
    recorded = _read_object(record_path).get("sha256")
    if not isinstance(recorded, dict):
        return [f"{record_path}: has no `sha256` table of the promoted files; promote the run again"]
    present = {p.relative_to(reference_dir).as_posix() for p in reference_dir.rglob("*") if p.is_file()}
    present.discard(PROVENANCE_FILE)
    problems = [f"{name}: not produced by the run (not in {PROVENANCE_FILE})" for name in sorted(present - set(recorded))]
    for name, digest in sorted(recorded.items()):
        path = reference_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed since it was promoted")
    return problems
