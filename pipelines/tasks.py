"""What each Kubeflow step does, over the local folders KFP hands a component: thin adapters to the core.

Every KFP component (pipelines/components.py) is one call into this module, and every function here
translates KFP's artifact folders into `RunLayout`s and calls the experiment core
(services/pipeline/experiment.py), the same functions the local runner calls. Each step's output
folder is laid out like a run folder holding that step's part of the run; the statistics step reads
the parts, and the publish step joins them into one run folder. Nothing here needs KFP, so it is
tested without it.

With several base models (`models:`) every job's key names its model (`model/fold/seed/arm`) and a job's
part is laid out as an experiment folder holding that model's part (`models/<name>/...`); the data steps
run once for all models, the statistics step writes each model's results.json and experiment.json, and
the publish step joins each model's parts into `models/<name>/` of the published experiment folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from commentslab.services.common.artifacts import read_json, to_path, write_json
from commentslab.services.common.config import ExperimentConfig, config_from_dict, load_config
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import ExperimentLayout, Job, RunLayout, find_job
from commentslab.services.evaluator.results_schema import validate_results
from commentslab.services.pipeline import experiment
from commentslab.services.pipeline.steps import GrpcSteps, LocalSteps


def resolve_config(out_file: str, profile: str, base_model: str = "", seeds: list | None = None, folds: int = 1,
                   arms: list | None = None, overrides: list | None = None) -> str:
    """Write the run's config as JSON to `out_file`: the profile, the UI's parameters as overrides, then
    free-form overrides; returns the profile's name. Every later step reads this one file."""
    sets = []
    if base_model:
        sets.append(f"model.path={base_model}")
        if any(o.strip().startswith("models=") for o in overrides or []):
            raise InputError("base_model", "the overrides list several base models (models=...); give each its "
                                           "path there and leave base_model empty")
    if seeds:
        # KFP passes list parameters through JSON numbers, so 1234 may arrive as 1234.0.
        sets.append(f"seeds=[{', '.join(str(int(s)) for s in seeds)}]")
    sets.append(f"data.folds={int(folds)}")
    if arms:
        sets.append(f"data.arms=[{', '.join(str(a) for a in arms)}]")
    cfg = load_config(profile, [*sets, *(overrides or [])])
    experiment.check_design(cfg)
    write_json(Path(out_file), cfg.model_dump())
    return cfg.profile


def _config(config_file: str) -> ExperimentConfig:
    return config_from_dict(read_json(Path(config_file)), source=config_file)


def _part(folder: str, cfg: ExperimentConfig, model: str = "") -> RunLayout:
    """A step's output folder, laid out as (a part of) a run folder; with a base model's name, as (a part of)
    an experiment folder, and the layout of that model's run in it."""
    if not model:
        layout = RunLayout(folder, cfg.data.folds)
    else:
        ExperimentLayout(folder, cfg.data.folds).claim()
        layout = ExperimentLayout(folder, cfg.data.folds).run(model)
    layout.claim()
    return layout


def _reading(folder: str, cfg: ExperimentConfig, model: str = "") -> RunLayout:
    """A step's input folder as a layout: the run (part) itself, or the part of the base model `model`."""
    return ExperimentLayout(folder, cfg.data.folds).run(model) if model else RunLayout(folder, cfg.data.folds)


def plan_jobs(config_file: str) -> list[str]:
    """One job per (base model, fold, training seed, arm), as "fold/seed/arm" strings ("model/fold/seed/arm"
    with several base models; KFP loops over plain values)."""
    return [job.key for job in experiment.plan_jobs(_config(config_file))]


def write_corpus(out_dir: str, config_file: str) -> int:
    """Write the HumanEval corpus (the annotated repository the experiment runs on) into the run part
    `out_dir`; returns its problems."""
    cfg = _config(config_file)
    layout = _part(out_dir, cfg)
    experiment.corpus_step(experiment.StepClock(), layout, cfg)
    return sum(1 for _ in layout.corpus.glob("problems/*.py"))


def export_records(repository: str, out_dir: str, config_file: str) -> int:
    """Export the scenario's repositories (folders the pod can read), else the corpus in the run part
    `repository` (or a repository folder), into the records of the run part `out_dir`; returns the records."""
    cfg = _config(config_file)
    repos = experiment.scenario_repositories(cfg)
    if not repos:
        repos = [RunLayout(repository).corpus if RunLayout(repository).corpus.is_dir() else Path(repository)]
    report = experiment.export_step(LocalSteps(), experiment.StepClock(), _part(out_dir, cfg), repos[0], cfg,
                                    more=repos[1:])
    return int(report["records"])


def split_datasets(records_dir: str, out_dir: str, config_file: str) -> int:
    """Validate, dedupe and split into arms (k folds when data.folds > 1); returns the records kept."""
    cfg = _config(config_file)
    records = RunLayout(records_dir, cfg.data.folds).records
    report = experiment.split_step(LocalSteps(), experiment.StepClock(), records, _part(out_dir, cfg), cfg)
    return int(report.get("records", 0))


class PipelineSteps(LocalSteps):
    """LocalSteps, with programs run by the Sandbox service and comparisons by the Stats service when
    their addresses are given (on the cluster: isolated sandbox pods; here: in-process)."""

    def __init__(self, sandbox_address: str = "", stats_address: str = ""):
        super().__init__()
        addresses = {"sandbox": sandbox_address, "stats": stats_address}
        self._remote = GrpcSteps({k: v for k, v in addresses.items() if v}) if any(addresses.values()) else None
        self._sandbox, self._stats = bool(sandbox_address), bool(stats_address)

    def run_programs(self, programs, cfg, language="python"):
        """Each program's outcome, from the Sandbox service when its address was given."""
        return (self._remote if self._sandbox else super()).run_programs(programs, cfg, language)

    def compare(self, metric, control, experiment, binary, alpha=0.05):
        """The paired comparison of one metric, from the Stats service when its address was given."""
        return (self._remote if self._stats else super()).compare(metric, control, experiment, binary, alpha)


def run_controls(split_dir: str, out_dir: str, config_file: str, sandbox_address: str = "") -> dict:
    """The sandbox's positive and negative controls on every fold, before any training; returns their summary."""
    cfg = _config(config_file)
    return experiment.controls_step(PipelineSteps(sandbox_address=sandbox_address), experiment.StepClock(),
                                    RunLayout(split_dir, cfg.data.folds), _part(out_dir, cfg), cfg)


def train_job(split_dir: str, job: str, out_dir: str, config_file: str, tracking_uri: str = "") -> dict:
    """Train one job's arm with its seed into the run part `out_dir` (checkpoint, history, outcome)."""
    cfg = _config(config_file)
    parsed = Job.parse(job)
    out = _part(out_dir, cfg, parsed.model)
    return experiment.train_job(LocalSteps(), experiment.StepClock(), RunLayout(split_dir, cfg.data.folds), out,
                                parsed, cfg, tracking_uri or out.tracking_uri)


def evaluate_job(split_dir: str, model_dir: str, job: str, out_dir: str, config_file: str,
                 sandbox_address: str = "") -> dict:
    """Generate with the job's checkpoint on its fold's test rows, run them, score every problem.

    Writes the job's scores, and a copy of its training outcome and history (which the statistics step
    puts into results.json without fetching the checkpoint), into the run part `out_dir`.
    """
    cfg = _config(config_file)
    parsed = Job.parse(job)
    model, out = _reading(model_dir, cfg, parsed.model), _part(out_dir, cfg, parsed.model)
    problems = experiment.evaluate_job(PipelineSteps(sandbox_address=sandbox_address), experiment.StepClock(),
                                       RunLayout(split_dir, cfg.data.folds), model, out, parsed, cfg,
                                       experiment.similarity_scorer(cfg))
    experiment.copy_training_record(model, out, parsed)
    return {"problems": len(problems), "samples": sum(len(p.get("statuses", [])) for p in problems)}


def compare_jobs(split_dir: str, records_dir: str, score_dirs: list[str], out_dir: str, config_file: str,
                 stats_address: str = "", controls_dir: str = "") -> dict:
    """Gather every job's scores into one results.json (docs/CONTRACTS.md) in `out_dir`; returns it.

    With several base models, each model's results.json goes to `out_dir/models/<name>/` beside
    experiment.json; returns the experiment's index with each model's results under "results" and their
    verdicts joined under "verdict".
    """
    cfg = _config(config_file)
    controls = experiment.read_controls(RunLayout(controls_dir, cfg.data.folds), cfg) if controls_dir else None
    steps = PipelineSteps(stats_address=stats_address)
    if not cfg.models:
        return _compare_model(steps, cfg, cfg, split_dir, records_dir, score_dirs, _part(out_dir, cfg), "", controls)
    results = {name: _compare_model(steps, cfg.for_model(name), cfg, split_dir, records_dir, score_dirs,
                                    _part(out_dir, cfg, name), name, controls)
               for name in cfg.model_names()}
    index = experiment.write_experiment_index(ExperimentLayout(out_dir, cfg.data.folds), cfg)
    return {**index, "verdict": "; ".join(f"{name}: {r['verdict']}" for name, r in results.items()),
            "results": results}


def _compare_model(steps: PipelineSteps, cfg: ExperimentConfig, whole: ExperimentConfig, split_dir: str,
                   records_dir: str, score_dirs: list[str], out: RunLayout, model: str, controls: dict | None) -> dict:
    """One base model's results.json from its jobs' parts (`cfg` is its config, `whole` the experiment's)."""
    parts = [part for d in score_dirs if (part := _reading(d, whole, model)).root.is_dir()]
    # Each job ran in its own pod; what the statistics step can time is each job's training (from its
    # outcome) and its own work.
    clock = experiment.StepClock()
    clock.seconds.update({f"train:{job.key}": float(read_json(find_job(parts, job, "outcome").outcome(job))["wallSeconds"])
                          for job in experiment.plan_jobs(whole) if job.model == model})
    extra = {"base_model": model, "experiment": experiment.results_experiment(whole)} if model else {}
    return clock.timed("stats", lambda: experiment.write_results(
        steps, RunLayout(split_dir, cfg.data.folds), parts, out, cfg, records=RunLayout(records_dir, cfg.data.folds),
        controls=controls, runner="kubeflow", jobs=len(parts), wallSeconds=clock.seconds, **extra))


def headline_metrics(results: dict) -> dict[str, float]:
    """The figures the Kubeflow UI shows for a run: each arm's mean and the p-value, per metric (per base
    model, prefixed with its name, for an experiment over several)."""
    if "results" in results:
        return {f"{name}/{key}": value for name, model_results in results["results"].items()
                for key, value in headline_metrics(model_results).items()}
    out: dict[str, float] = {}
    for metric in results.get("metrics", []):
        for arm in ("control", "experiment"):
            out[f"{arm}/{metric}"] = float(results[arm][metric])
        p = results.get("significance", {}).get(metric, {}).get("pValue")
        if p is not None:
            out[f"p/{metric}"] = float(p)
    return out


def publish_results(results_dir: str, model_dirs: list[str], destination: str, run_name: str,
                    split_dir: str = "") -> str:
    """Join the run's parts into the run folder `destination/<run_name>/` and replace `destination/current/`.

    The published folder has the local runner's layout: results.json, the per-problem table, every job's
    checkpoint, history and outcome under train/, and the split's test rows (the dashboard's metadata
    hints); an experiment over several base models is published as the local runner writes one
    (experiment.json, and each model's run folder under models/). The dashboard shows `current` (helm
    values: dashboard.resultsPath); the model server loads the checkpoints from `<run_name>/train/...`
    (`<run_name>/models/<name>/train/...`). Returns the run's folder.
    """
    if not run_name or "/" in run_name or run_name in {".", "..", "current"}:
        raise InputError("run_name", f"{run_name!r}: give a folder name (not 'current')")
    root = to_path(destination)
    # `current` is replaced whole, so the dashboard never reads a half-copied run.
    staging = root / ".current.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    if ExperimentLayout.holds_experiment(results_dir):
        index = read_json(ExperimentLayout(results_dir).index)
        for name in index["models"]:
            _publish_run(_parts_of(results_dir, model_dirs, split_dir, name), root / run_name / "models" / name,
                         staging / "models" / name)
        for folder in (root / run_name, staging):
            ExperimentLayout(folder).claim()
            shutil.copyfile(ExperimentLayout(results_dir).index, ExperimentLayout(folder).index)
    else:
        _publish_run(_parts_of(results_dir, model_dirs, split_dir, ""), root / run_name, staging)
    current = root / "current"
    shutil.rmtree(current, ignore_errors=True)
    staging.rename(current)
    return str(root / run_name)


def _parts_of(results_dir: str, model_dirs: list[str], split_dir: str, model: str) -> list[Path]:
    """The folders one run is joined from, its results last: its jobs' parts, the split, its results (one base
    model's in an experiment over several; the split is the one they share)."""
    jobs = [Path(d) for d in model_dirs]
    results = Path(results_dir)
    if model:
        jobs = [part for d in jobs if (part := d / "models" / model).is_dir()]
        results = results / "models" / model
    return [*jobs, *([Path(split_dir)] if split_dir else []), results]


def _publish_run(parts: list[Path], target: Path, staging: Path) -> None:
    """Check the run's results.json (the last part) and join its parts into `target` and, without the
    checkpoints, into `staging`."""
    results_part = RunLayout.reading(parts[-1])
    if not results_part.results.is_file():
        raise InputError(str(results_part.results), "the statistics step wrote no results.json")
    results = read_json(results_part.results)
    validate_results(results, str(results_part.results))
    folds = int(results["evaluation"]["folds"])
    layouts = [RunLayout(d, folds) for d in parts]
    experiment.join_parts(layouts, RunLayout(target, folds))
    experiment.join_parts(layouts, RunLayout(staging, folds), checkpoints=False)
