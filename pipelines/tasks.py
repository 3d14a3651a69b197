"""What each Kubeflow step does, over the local paths KFP hands a component: thin adapters to the cores.

Every KFP component (pipelines/components.py) is one call into this module, and every function here
is a short translation from KFP's artifact folders to the same core functions the local pipeline
(services/pipeline/run.py) calls: LocalSteps (or the Sandbox/Stats services over gRPC), the
trainer, the evaluator, `compare_arms`. Nothing here needs KFP, so it is tested without it.

A run is planned as jobs: one per (fold, training seed, arm), written "fold/seed/arm"; each job
trains and evaluates on its own pod, in parallel, and the statistics step gathers them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from services.common.artifacts import read_json, read_jsonl, to_path, write_json, write_jsonl
from services.common.config import ExperimentConfig, config_from_dict, load_config
from services.common.errors import InputError
from services.pipeline.steps import GrpcSteps, LocalSteps

JOBS_FILE = "job.json"


def resolve_config(out_file: str, profile: str, base_model: str = "", seeds: list | None = None, folds: int = 1,
                   arms: list | None = None, overrides: list | None = None) -> str:
    """Write the run's config as JSON to `out_file`: the profile, the UI's parameters as overrides, then
    free-form overrides; returns the profile's name. Every later step reads this one file."""
    sets = []
    if base_model:
        sets.append(f"model.path={base_model}")
    if seeds:
        # KFP passes list parameters through JSON numbers, so 1234 may arrive as 1234.0.
        sets.append(f"seeds=[{', '.join(str(int(s)) for s in seeds)}]")
    sets.append(f"data.folds={int(folds)}")
    if arms:
        sets.append(f"data.arms=[{', '.join(str(a) for a in arms)}]")
    cfg = load_config(profile, [*sets, *(overrides or [])])
    if "control" not in cfg.data.arms or "experiment" not in cfg.data.arms:
        raise InputError("arms", f"{cfg.data.arms}: the comparison needs both control and experiment")
    write_json(Path(out_file), cfg.model_dump())
    return cfg.profile


def _config(config_file: str) -> ExperimentConfig:
    return config_from_dict(read_json(Path(config_file)), source=config_file)


def plan_jobs(config_file: str) -> list[str]:
    """One job per (fold, training seed, arm), as "fold/seed/arm" strings (KFP loops over plain values)."""
    cfg = _config(config_file)
    return [f"{fold}/{seed}/{arm}" for fold in range(cfg.data.folds) for seed in (cfg.seeds or [cfg.seed])
            for arm in cfg.data.arms]


def parse_job(job: str) -> tuple[int, int, str]:
    """(fold, seed, arm) of a job string."""
    try:
        fold, seed, arm = job.split("/")
        return int(fold), int(seed), arm
    except ValueError as exc:
        raise InputError("job", f"{job!r}: expected fold/seed/arm, e.g. 0/1234/control") from exc


def write_corpus(out_dir: str) -> int:
    """Write the HumanEval corpus (the annotated repository the experiment runs on); returns its files."""
    from services.corpus.humaneval import write_humaneval_corpus

    return int(write_humaneval_corpus(Path(out_dir), progress=False).get("problems", 0))


def export_records(repository: str, out_dir: str, config_file: str) -> int:
    """Export the repository's `.comments` into `out_dir/records.jsonl` (+ report); returns the records."""
    cfg = _config(config_file)
    records = Path(out_dir) / "records.jsonl"
    report = LocalSteps().export(Path(repository), records, cfg.data.context_lines)
    if not report.get("records"):
        raise InputError(repository, f"no record could be exported; see {records.parent}")
    return int(report["records"])


def split_datasets(records_dir: str, out_dir: str, config_file: str) -> int:
    """Validate, dedupe and split into arms (k folds when data.folds > 1); returns the records kept."""
    from services.pipeline.run import StepClock, split_step

    report, _ = split_step(LocalSteps(), StepClock(), Path(records_dir) / "records.jsonl", Path(out_dir), _config(config_file))
    return int(report.get("records", 0))


def fold_datasets(split_dir: str | Path, fold: int, folds: int) -> Path:
    """The datasets folder of one fold (the split's own with a single fold)."""
    split = Path(split_dir)
    return split / "datasets" if folds == 1 else split / "folds" / str(fold) / "datasets"


class PipelineSteps(LocalSteps):
    """LocalSteps, with programs run by the Sandbox service and comparisons by the Stats service when
    their addresses are given (on the cluster: isolated sandbox pods; here: in-process)."""

    def __init__(self, sandbox_address: str = "", stats_address: str = ""):
        super().__init__()
        addresses = {"sandbox": sandbox_address, "stats": stats_address}
        self._remote = GrpcSteps({k: v for k, v in addresses.items() if v}) if any(addresses.values()) else None
        self._sandbox, self._stats = bool(sandbox_address), bool(stats_address)

    def run_programs(self, programs, cfg):
        """Each program's outcome, from the Sandbox service when its address was given."""
        return (self._remote if self._sandbox else super()).run_programs(programs, cfg)

    def compare(self, metric, control, experiment, binary, alpha=0.05):
        """The paired comparison of one metric, from the Stats service when its address was given."""
        return (self._remote if self._stats else super()).compare(metric, control, experiment, binary, alpha)


def train_job(split_dir: str, job: str, out_dir: str, config_file: str, tracking_uri: str = "") -> dict:
    """Train one job's arm with its seed into `out_dir` (checkpoint/, history.json, job.json)."""
    cfg = _config(config_file)
    fold, seed, arm = parse_job(job)
    seed_cfg = cfg.model_copy(update={"seed": seed})
    out = Path(out_dir)
    tracking = tracking_uri or f"sqlite:///{(out / 'mlflow.db').resolve()}"
    outcome = LocalSteps().train(fold_datasets(split_dir, fold, cfg.data.folds) / arm, arm, out, seed_cfg, tracking)
    # Where the checkpoint will be in the published run folder (publish_results copies it there).
    outcome = {**outcome, "checkpoint": f"checkpoints/{fold}-{seed}-{arm}", "fold": fold, "seed": seed, "arm": arm}
    write_json(out / JOBS_FILE, outcome)
    return outcome


def evaluate_job(split_dir: str, model_dir: str, job: str, out_dir: str, config_file: str,
                 sandbox_address: str = "") -> dict:
    """Generate with the job's checkpoint on its fold's test rows, run them, score every problem.

    Writes `out_dir/scores.jsonl` and `out_dir/job.json` (the training outcome and its history, which
    the statistics step puts into results.json); returns how many problems and samples it scored.
    """
    from services.pipeline.run import evaluate_arm, similarity_scorer

    cfg = _config(config_file)
    fold, seed, arm = parse_job(job)
    seed_cfg = cfg.model_copy(update={"seed": seed})
    rows = list(read_jsonl(fold_datasets(split_dir, fold, cfg.data.folds) / arm / "test.jsonl"))
    if not rows:
        raise InputError(str(fold_datasets(split_dir, fold, cfg.data.folds) / arm / "test.jsonl"),
                         "the test split is empty; add records or change ratios")
    steps = PipelineSteps(sandbox_address=sandbox_address)
    steps.load(arm, Path(model_dir) / "checkpoint")
    problems = evaluate_arm(steps, arm, rows, seed_cfg, similarity_scorer(cfg))
    out = Path(out_dir)
    write_jsonl(out / "scores.jsonl", ({"id": r["id"], **p} for r, p in zip(rows, problems, strict=True)))
    training = read_json(Path(model_dir) / JOBS_FILE)
    history = Path(model_dir) / "history.json"
    training["history"] = read_json(history) if history.is_file() else []
    write_json(out / JOBS_FILE, training)
    return {"problems": len(problems), "samples": sum(len(p.get("statuses", [])) for p in problems)}


def compare_jobs(split_dir: str, records_dir: str, score_dirs: list[str], out_dir: str, config_file: str,
                 stats_address: str = "") -> dict:
    """Gather every job's scores into one results.json (docs/CONTRACTS.md) in `out_dir`; returns it.

    As in the local pipeline, folds are pooled (each problem is tested in exactly one fold), and the
    comparison runs over the training seeds x problems of each metric (`compare_arms`).
    """
    from services.pipeline.run import assemble_results, compare_arms

    cfg = _config(config_file)
    seeds = cfg.seeds or [cfg.seed]
    jobs: dict[tuple[int, int, str], Path] = {}
    for folder in map(Path, score_dirs):
        job = read_json(folder / JOBS_FILE)
        jobs[(job["fold"], job["seed"], job["arm"])] = folder
    missing = [f"{f}/{s}/{a}" for f in range(cfg.data.folds) for s in seeds for a in cfg.data.arms
               if (f, s, a) not in jobs]
    if missing:
        raise InputError("score_dirs", f"no scores for jobs {', '.join(missing)}; every job must finish")
    pooled_rows: list[dict] = []
    by_arm: dict[str, list[list[dict]]] = {arm: [[] for _ in seeds] for arm in cfg.data.arms}
    training: dict[str, dict] = {}
    runs: list[dict] = []
    for fold in range(cfg.data.folds):
        rows = list(read_jsonl(fold_datasets(split_dir, fold, cfg.data.folds) / "control" / "test.jsonl"))
        pooled_rows += [{**row, "fold": fold} if cfg.data.folds > 1 else row for row in rows]
        for index, seed in enumerate(seeds):
            for arm in cfg.data.arms:
                folder = jobs[(fold, seed, arm)]
                scores = {s.pop("id"): s for s in read_jsonl(folder / "scores.jsonl")}
                by_arm[arm][index] += [scores[row["id"]] for row in rows]
                outcome = read_json(folder / JOBS_FILE)
                runs.append({k: v for k, v in outcome.items() if k != "history"})
                training.setdefault(arm, outcome)
    comparison = compare_arms(PipelineSteps(stats_address=stats_address), by_arm, pooled_rows, cfg)
    if len(runs) > len(cfg.data.arms):
        for arm in training:
            training[arm]["runs"] = [r for r in runs if r["arm"] == arm]
    split_report = read_json(Path(split_dir) / "split_report.json")
    export_report = read_json(Path(records_dir) / "records.report.json")
    results = assemble_results(comparison, training, export_report, split_report, cfg,
                               runner="kubeflow", jobs=len(runs))
    write_json(Path(out_dir) / "results.json", results)
    return results


def headline_metrics(results: dict) -> dict[str, float]:
    """The figures the Kubeflow UI shows for a run: each arm's mean and the p-value, per metric."""
    out: dict[str, float] = {}
    for metric in results.get("metrics", []):
        for arm in ("control", "experiment"):
            out[f"{arm}/{metric}"] = float(results[arm][metric])
        p = results.get("significance", {}).get(metric, {}).get("pValue")
        if p is not None:
            out[f"p/{metric}"] = float(p)
    return out


def publish_results(results_dir: str, model_dirs: list[str], destination: str, run_name: str) -> str:
    """Copy results.json and every job's checkpoint to `destination/<run_name>/` and `destination/current/`.

    The dashboard shows `current` (helm values: dashboard.resultsPath); the model server can load the
    checkpoints from `<run_name>/checkpoints/<fold>-<seed>-<arm>`. Returns the run's folder.
    """
    if not run_name or "/" in run_name or run_name in {".", "..", "current"}:
        raise InputError("run_name", f"{run_name!r}: give a folder name (not 'current')")
    results = Path(results_dir) / "results.json"
    if not results.is_file():
        raise InputError(str(results), "the statistics step wrote no results.json")
    target = to_path(destination) / run_name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(results, target / "results.json")
    for model in map(Path, model_dirs):
        job = read_json(model / JOBS_FILE)
        shutil.copytree(model / "checkpoint", target / "checkpoints" / f"{job['fold']}-{job['seed']}-{job['arm']}",
                        dirs_exist_ok=True)
    # `current` is replaced whole, so the dashboard never reads a half-copied run.
    staging = to_path(destination) / ".current.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy2(results, staging / "results.json")
    current = to_path(destination) / "current"
    shutil.rmtree(current, ignore_errors=True)
    staging.rename(current)
    return str(target)
