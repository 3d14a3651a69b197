"""The experiment core: plan the jobs, run each step of a job, pool the scores, write results.json.

Both runners call these functions and nothing else: the local runner (services/pipeline/run.py,
`commentslab run`, over the services or in-process) walks the plan in one process; the Kubeflow
tasks (pipelines/tasks.py) run one step per pod. Every path comes from a `RunLayout`: the local runner
has one run folder, a Kubeflow step reads the layouts its inputs were written in and writes its own.

A job is one (base model, fold, training seed, arm). An experiment over several base models (`models:`)
is one run per model, each with the same export, split, seeds and settings: the data steps run once
and every model's run folder gets a copy (services/common/layout.py), and each model's results.json
compares the arms for that model alone. With k folds each problem is in exactly one fold's test split,
so pooling the folds tests every problem once per seed; the comparison then runs over a seeds x
problems matrix per metric (services/evaluator/results.py, services/stats/compare.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from commentslab.services.common.artifacts import (
    completed,
    manifest_for,
    read_json,
    read_jsonl,
    recorded_seconds,
    sha256_file,
    write_json,
    write_jsonl,
    write_manifest,
)
from commentslab.services.common.config import ExperimentConfig
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import MODELS_DIR, ExperimentLayout, Job, RunLayout, find_job
from commentslab.services.common.logs import setup_logging
from commentslab.services.evaluator.harness import score_arm
from commentslab.services.evaluator.results import (
    assemble_results,
    compare_arms,
    library_versions,
    problems_csv,
    write_problems_parquet,
)
from commentslab.services.pipeline.steps import Steps

log = setup_logging(__name__)


class StepClock:
    """Wall seconds per step, for the provenance; skips a step whose manifest matches."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.skipped: list[str] = []

    def run(self, name: str, out_dir: Path, inputs: dict[str, Path], config: dict, work: Callable[[], dict]) -> dict:
        """Run `work` unless `out_dir` already holds its output for the same inputs, config and code.

        A skipped step reports the seconds it took when it ran (from its manifest), so a run resumed across
        sessions still says what every step cost; `skipped` names the steps this session did not run."""
        manifest = manifest_for(name, inputs, config)
        stored = completed(out_dir, manifest)
        if stored is not None:
            log.info("step %s: up to date in %s, skipped", name, out_dir)
            self.skipped.append(name)
            self.seconds[name] = recorded_seconds(out_dir)
            return stored
        start = time.perf_counter()
        outputs = work()
        self.seconds[name] = round(time.perf_counter() - start, 3)
        manifest.outputs = outputs
        manifest.seconds = self.seconds[name]
        write_manifest(out_dir, manifest)
        return outputs

    def timed(self, name: str, work: Callable[[], object]) -> object:
        """Run `work` and record its wall seconds under `name`."""
        start = time.perf_counter()
        try:
            return work()
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


# -- the plan ------------------------------------------------------------------------------------------

def seeds_of(cfg: ExperimentConfig) -> list[int]:
    """The training seeds (the config's `seeds`, else its one `seed`)."""
    return list(cfg.seeds or [cfg.seed])


def plan_jobs(cfg: ExperimentConfig) -> list[Job]:
    """One job per (base model, fold, training seed, arm), in the order the local runner trains them; a
    one-model run's jobs name no model."""
    return [Job(fold, seed, arm, model) for model in (cfg.model_names() or [""]) for fold in range(cfg.data.folds)
            for seed in seeds_of(cfg) for arm in cfg.data.arms]


def experiment_id(cfg: ExperimentConfig) -> str:
    """The id of an experiment over several base models: its profile and a hash of its whole config, so both
    runners, and a resumed run, give one experiment the same id."""
    digest = hashlib.sha256(json.dumps(cfg.model_dump(), sort_keys=True).encode()).hexdigest()
    return f"{cfg.profile}-{digest[:12]}"


def experiment_index(cfg: ExperimentConfig) -> dict:
    """experiment.json: the experiment's id, its models in the config's order and each one's run folder."""
    names = cfg.model_names()
    return {"experiment": experiment_id(cfg), "models": names, "runs": {name: f"{MODELS_DIR}/{name}" for name in names}}


def write_experiment_index(folder: ExperimentLayout, cfg: ExperimentConfig) -> dict:
    """Write (or rewrite) the experiment's experiment.json; returns it."""
    index = experiment_index(cfg)
    write_json(folder.index, index)
    return index


def results_experiment(cfg: ExperimentConfig) -> dict:
    """What each model's results.json records of the experiment it belongs to."""
    return {"id": experiment_id(cfg), "models": cfg.model_names()}


def check_design(cfg: ExperimentConfig) -> None:
    """Refuse, before any work, a design the comparison cannot use: both control and experiment are
    needed, every arm must be defined, seeds must not repeat."""
    from commentslab.services.splitter.split import load_arms, resolve_arms

    if "control" not in cfg.data.arms or "experiment" not in cfg.data.arms:
        raise InputError("data.arms", f"{cfg.data.arms}: the comparison needs both control and experiment")
    resolve_arms(cfg.data.arms, load_arms(Path(cfg.data.arms_file)) if cfg.data.arms_file else None)
    if len(set(seeds_of(cfg))) != len(seeds_of(cfg)):
        raise InputError("seeds", f"{cfg.seeds}: each training seed may appear once")


def model_config(cfg: ExperimentConfig, job: Job) -> ExperimentConfig:
    """The config of the job's base model: the experiment's, with that model as its one `model`."""
    if job.model:
        return cfg.for_model(job.model)
    if cfg.models:
        raise InputError("job", f"{job.key!r} names no base model; this experiment has {', '.join(cfg.model_names())}")
    return cfg


def seed_config(cfg: ExperimentConfig, job: Job) -> ExperimentConfig:
    """The config a job runs with: its base model's, with the job's training seed."""
    return model_config(cfg, job).model_copy(update={"seed": job.seed})


# -- data steps ----------------------------------------------------------------------------------------

def corpus_step(clock: StepClock, layout: RunLayout, cfg: ExperimentConfig) -> Path:
    """The HumanEval corpus (the default annotated repository), written once into the run."""
    from commentslab.services.corpus.humaneval import write_humaneval_corpus

    limit = cfg.data.corpus_problems
    clock.run("corpus", layout.corpus, {}, {"corpus": "humaneval", "problems": limit},
              lambda: write_humaneval_corpus(layout.corpus, progress=True, limit=limit))
    return layout.corpus


def scenario_repositories(cfg: ExperimentConfig) -> list[Path]:
    """The scenario's repositories; empty for the default scenario, whose repository is the HumanEval corpus."""
    return [Path(repo) for repo in cfg.scenario.repositories]


def export_step(steps: Steps, clock: StepClock, layout: RunLayout, repo: Path, cfg: ExperimentConfig,
                more: list[Path] | None = None) -> dict:
    """`.comments` + source of `repo` (and `more`) -> the run's records, each marked with the config's scenario;
    refuses repositories with nothing to export."""
    from commentslab.services.exporter.export import ExportOptions

    repos = [repo, *(more or [])]
    for folder in repos:
        if not folder.is_dir():
            raise InputError(str(folder), "repository does not exist or is not a folder")
    scenario = cfg.scenario
    options = ExportOptions(context_lines=cfg.data.context_lines, scenario=scenario.name,
                            test_conventions=tuple(scenario.test_conventions))
    config = {"context_lines": cfg.data.context_lines, "scenario": scenario.name,
              "test_conventions": scenario.test_conventions}
    report = clock.run("export", layout.export_dir, {"repository": repo, **{f"repository{i}": r for i, r in enumerate(repos[1:], 1)}}, config,
                       lambda: steps.export(repos, layout.records, options))
    if not report.get("records"):
        raise InputError(str(repo), f"no record could be exported; see {layout.export_dir}")
    return report


def split_step(steps: Steps, clock: StepClock, records: Path, layout: RunLayout, cfg: ExperimentConfig) -> dict:
    """Split the records once (or into k folds) into the run's split folder; returns the report."""
    options = cfg.data.split_options()
    report = clock.run("split", layout.split_dir, {"records": records}, {"seed": cfg.seed, **options.model_dump()},
                       lambda: steps.split(records, layout.split_dir, cfg.seed, options))
    for fold in range(cfg.data.folds):
        if not layout.rows(fold, "control").is_file() or not any(True for _ in read_jsonl(layout.rows(fold, "control"))):
            raise InputError(str(layout.rows(fold, "control")),
                             "the test split is empty; add records, change data.ratios or lower data.folds")
    return report


# -- one job -------------------------------------------------------------------------------------------

def train_job(steps: Steps, clock: StepClock, data: RunLayout, out: RunLayout, job: Job, cfg: ExperimentConfig,
              tracking_uri: str) -> dict:
    """Train the job's arm on its fold with its seed into `out`; returns (and writes) the training outcome.

    The outcome names the checkpoint relative to the run folder, so results.json reads the same from
    either runner and after the run folder moves.
    """
    job_cfg = seed_config(cfg, job)
    train_dir = out.train_dir(job)

    def work() -> dict:
        outcome = steps.train(data.dataset(job.fold, job.arm), job.arm, train_dir, job_cfg, tracking_uri,
                              job={"fold": job.fold, "seed": job.seed})
        outcome = {**outcome, "checkpoint": out.relative(out.checkpoint(job)), "fold": job.fold, "seed": job.seed,
                   "arm": job.arm}
        write_json(out.outcome(job), outcome)
        return outcome

    return clock.run(f"train:{job.key}", train_dir, {"dataset": data.dataset(job.fold, job.arm)},
                     {**job_cfg.model_dump(), "arm": job.arm, "fold": job.fold}, work)


def _prompts_hash(rows: list[dict]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row["id"].encode() + b"\0" + row["input"].encode() + b"\0")
    return digest.hexdigest()


def sample_seeds(rows: list[dict], cfg: ExperimentConfig) -> list[int]:
    """The sampling seed each row's completions were drawn with (steps.generate seeds each batch with seed + index)."""
    per_batch = max(1, cfg.generate.batch_size // cfg.generate.n)
    return [cfg.seed + index // per_batch for index in range(len(rows))]


def generate_stored(steps: Steps, clock: StepClock, model: RunLayout, out: RunLayout, job: Job, rows: list[dict],
                    cfg: ExperimentConfig) -> list[list[str]]:
    """Completions for `rows` from the job's checkpoint, generated once and stored with a manifest.

    The manifest names the prompts' hash, the checkpoint's hash, the decoding settings, each row's
    sampling seed and the library versions; when it matches, the stored completions are reused.
    """
    checkpoint = model.checkpoint(job)
    weights = sorted(checkpoint.glob("*.safetensors")) or sorted(p for p in checkpoint.rglob("*") if p.is_file())
    manifest_config = {
        "promptsHash": _prompts_hash(rows),
        "checkpointHash": hashlib.sha256("".join(sha256_file(p) for p in weights).encode()).hexdigest(),
        "decoding": cfg.generate.model_dump(),
        "seed": cfg.seed,
        "libraries": library_versions(),
    }
    generations = out.completions(job)

    def work() -> dict:
        steps.load(job.arm, checkpoint)
        completions = steps.generate(job.arm, [r["input"] for r in rows], cfg)
        write_jsonl(generations, ({"id": r["id"], "sampleSeed": s, "completions": c}
                                  for r, s, c in zip(rows, sample_seeds(rows, cfg), completions, strict=True)))
        return {"rows": len(rows)}

    clock.run(f"generate:{job.key}", out.generations_dir(job), {}, manifest_config, work)
    stored = {g["id"]: g["completions"] for g in read_jsonl(generations)}
    missing = [r["id"] for r in rows if r["id"] not in stored]
    if missing:
        raise InputError(str(generations), f"holds no completions for {len(missing)} test rows, e.g. {missing[0]}")
    return [stored[r["id"]] for r in rows]


def similarity_scorer(cfg: ExperimentConfig):
    """The semantic-similarity port, or None when the config turns it off."""
    if not cfg.evaluate.semantic_similarity:
        return None
    from commentslab.services.evaluator.similarity import SemanticSimilarity

    return SemanticSimilarity().scores


def codebleu_scorer(cfg: ExperimentConfig):
    """The CodeBLEU port, or None when the config turns it off."""
    if not cfg.evaluate.codebleu:
        return None
    from commentslab.services.evaluator.codebleu_score import codebleu_scores

    return codebleu_scores


def test_rows(data: RunLayout, fold: int, arm: str) -> list[dict]:
    """One fold's test rows of an arm; refuses an empty split."""
    rows = list(read_jsonl(data.rows(fold, arm)))
    if not rows:
        raise InputError(str(data.rows(fold, arm)), "the test split is empty; add records or change data.ratios")
    return rows


def evaluate_job(steps: Steps, clock: StepClock, data: RunLayout, model: RunLayout, out: RunLayout, job: Job,
                 cfg: ExperimentConfig, similarity=None) -> list[dict]:
    """Generate with the job's checkpoint for its fold's test rows, run them in the sandbox, score every
    problem; writes the scores to `out` and returns them."""
    job_cfg = seed_config(cfg, job)
    rows = test_rows(data, job.fold, job.arm)
    completions = generate_stored(steps, clock, model, out, job, rows, job_cfg)

    def score() -> list[dict]:
        return score_arm(rows, completions,
                         lambda programs, language: steps.run_programs(programs, job_cfg, language), similarity,
                         job_cfg.evaluate.k, codebleu_scorer(job_cfg))

    problems = clock.timed(f"evaluate:{job.key}", score)
    write_jsonl(out.scores(job), ({"id": r["id"], **p} for r, p in zip(rows, problems, strict=True)))
    return problems


# -- pooling and results -------------------------------------------------------------------------------

def pool_scores(data: RunLayout, parts: Iterable[RunLayout], cfg: ExperimentConfig
                ) -> tuple[list[dict], dict[str, list[list[dict]]], dict[str, dict]]:
    """Every job's scores and training outcome, pooled over folds: (rows, scores per arm per seed, training).

    `parts` are the layouts the jobs wrote into (one run folder locally; one folder per step on
    Kubeflow); every job of the plan must be found in one of them.
    """
    parts = list(parts)
    seeds = seeds_of(cfg)
    rows: list[dict] = []
    by_seed: dict[str, list[list[dict]]] = {arm: [[] for _ in seeds] for arm in cfg.data.arms}
    training: dict[str, dict] = {}
    runs: list[dict] = []
    for fold in range(cfg.data.folds):
        fold_rows = test_rows(data, fold, "control")
        rows += [{**row, "fold": fold} if cfg.data.folds > 1 else row for row in fold_rows]
        for index, seed in enumerate(seeds):
            for arm in cfg.data.arms:
                job = Job(fold, seed, arm)
                scores = {s.pop("id"): s for s in read_jsonl(find_job(parts, job, "scores").scores(job))}
                missing = [r["id"] for r in fold_rows if r["id"] not in scores]
                if missing:
                    raise InputError(job.key, f"no scores for {len(missing)} test rows, e.g. {missing[0]}")
                by_seed[arm][index] += [scores[r["id"]] for r in fold_rows]
                trained = find_job(parts, job, "outcome")
                history = trained.history(job)
                outcome = {**read_json(trained.outcome(job)),
                           "history": read_json(history) if history.is_file() else []}
                runs.append(outcome)
                training.setdefault(arm, outcome)
    if len(runs) > len(cfg.data.arms):
        for arm in training:
            training[arm] = {**training[arm], "runs": [r for r in runs if r["arm"] == arm]}
    return rows, by_seed, training


def write_results(steps: Steps, data: RunLayout, parts: Iterable[RunLayout], out: RunLayout, cfg: ExperimentConfig,
                  records: RunLayout | None = None, controls: dict | None = None, base_model: str | None = None,
                  experiment: dict | None = None, **provenance: object) -> dict:
    """Pool every job, compare the arms, and write results.json and the per-problem table into `out`.

    `data` holds the split, `records` the export (the same run folder locally, two step outputs on Kubeflow).
    `cfg` is one base model's config; in an experiment over several, `base_model` is the model's name and
    `experiment` the experiment's id and models (`results_experiment`).
    """
    rows, by_seed, training = pool_scores(data, parts, cfg)
    comparison = compare_arms(by_seed, rows, cfg, steps.compare)
    results = assemble_results(comparison, training, read_json((records or data).export_report),
                               read_json(data.split_report), cfg, controls=controls,
                               base_model=base_model or cfg.base_model_name(), experiment=experiment, **provenance)
    write_json(out.results, results)
    out.problems_csv.write_text(problems_csv(results), encoding="utf-8")
    write_problems_parquet(out.problems_csv)  # both runners: pandas reads it without parsing the CSV
    return results


# -- controls ------------------------------------------------------------------------------------------

def controls_step(steps: Steps, clock: StepClock, data: RunLayout, out: RunLayout, cfg: ExperimentConfig) -> dict:
    """The sandbox's positive and negative controls on every fold's test problems, in the very sandbox
    that will score the arms, before any training: each reference solution must pass and each empty body
    must fail. Raises (with the problems and the reason) when they do not; returns their summary."""
    from commentslab.services.evaluator.controls import run_controls

    def fold_controls(fold: int) -> dict:
        result = run_controls(test_rows(data, fold, "control"),
                              lambda programs, language: steps.run_programs(programs, cfg, language))
        write_json(out.controls(fold), result)
        return result

    clock.timed("controls", lambda: [fold_controls(fold) for fold in range(cfg.data.folds)])
    return read_controls(out, cfg)


def read_controls(layout: RunLayout, cfg: ExperimentConfig) -> dict:
    """Every fold's controls as results.json records them: the totals over the folds, and each fold's report."""
    folds = [read_json(layout.controls(fold)) for fold in range(cfg.data.folds)]
    return {
        "positive": {"what": "reference solution must pass",
                     "problems": sum(f["positive"]["problems"] for f in folds),
                     "passed": sum(f["positive"]["passed"] for f in folds)},
        "negative": {"what": "empty body must fail",
                     "problems": sum(f["negative"]["problems"] for f in folds),
                     "notPassed": sum(f["negative"]["notPassed"] for f in folds)},
        "folds": folds,
    }


# -- joining a run's parts -----------------------------------------------------------------------------

def copy_training_record(model: RunLayout, out: RunLayout, job: Job) -> None:
    """Copy a job's training outcome and history (not its checkpoint) from `model` into `out`."""
    for name in ("outcome", "history"):
        source, target = getattr(model, name)(job), getattr(out, name)(job)
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


SHARED = ("export", "split", "controls")


def share_data(shared: RunLayout, run: RunLayout) -> None:
    """Copy the experiment's one export, split and controls from `shared` into a model's run folder, so the
    model trains and is evaluated on exactly that data and its folder reads on its own."""
    for name in SHARED:
        if (shared.root / name).is_dir():
            shutil.copytree(shared.root / name, run.root / name, dirs_exist_ok=True)


PUBLISHED = ("train", "split", "controls", "scores", "generations")


def join_parts(parts: Iterable[RunLayout], target: RunLayout, checkpoints: bool = True) -> None:
    """Copy the run's parts (step outputs of one run) into the run folder `target`, which then reads like
    a local run's folder; `checkpoints=False` leaves the weights out (for a copy only the dashboard reads)."""
    target.claim()
    ignore = None if checkpoints else shutil.ignore_patterns(target.checkpoint(Job(0, 0, "x")).name)
    for part in parts:
        for name in PUBLISHED:
            if (part.root / name).is_dir():
                shutil.copytree(part.root / name, target.root / name, dirs_exist_ok=True, ignore=ignore)
        for source, dest in ((part.results, target.results), (part.problems_csv, target.problems_csv)):
            if source.is_file():
                shutil.copyfile(source, dest)
