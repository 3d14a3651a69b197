"""The paired experiment, end to end: corpus -> export -> split -> train x arms -> serve -> evaluate -> stats.

Each step writes its output folder with a manifest; a step whose manifest matches is skipped, so an
interrupted run resumes. The results carry the config and provenance they came from.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from services.common.artifacts import (
    code_version,
    completed,
    manifest_for,
    read_jsonl,
    to_path,
    write_json,
    write_jsonl,
    write_manifest,
)
from services.common.config import ExperimentConfig
from services.common.errors import InputError
from services.common.logs import setup_logging
from services.evaluator.harness import METRICS, aggregate, improvement, metric_vector, score_arm
from services.pipeline.steps import Steps

log = setup_logging(__name__)


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


def evaluate_arm(steps: Steps, arm: str, rows: list[dict], cfg: ExperimentConfig, similarity) -> list[dict]:
    """Generate for the arm's test inputs, run them in the sandbox, score every problem."""
    completions = steps.generate(arm, [r["input"] for r in rows], cfg)
    problems = score_arm(rows, completions, lambda programs: steps.run_programs(programs, cfg), similarity,
                         cfg.evaluate.k)
    return problems


def compare_arms(steps: Steps, scored: dict[str, list[dict]], rows: list[dict], cfg: ExperimentConfig) -> dict:
    """The comparison part of results.json: per-arm means, improvement, significance, per-problem rows."""
    control, experiment = scored["control"], scored["experiment"]
    metrics = [m for m in METRICS if metric_vector(control, m) and metric_vector(experiment, m)]
    significance = {}
    for metric in metrics:
        a, b = metric_vector(control, metric), metric_vector(experiment, metric)
        binary = metric == "pass@1" and cfg.generate.n == 1
        significance[metric] = steps.compare(metric, a, b, binary)
    means = {arm: aggregate(problems, metrics) for arm, problems in scored.items()}
    problem_rows = []
    for i, row in enumerate(rows):
        entry = {"id": row["id"], "taskId": row["provenance"]["path"], "entryPoint": row.get("entryPoint"),
                 "prompt": row["prompt"], "reference": row["completion"]}
        for arm, problems in scored.items():
            entry[arm] = problems[i]
        problem_rows.append(entry)
    return {
        "scenario": rows[0].get("scenario", "function_completion") if rows else "function_completion",
        "arms": list(scored),
        "metrics": metrics,
        **means,
        "improvement": improvement(means["control"], means["experiment"]),
        "significance": significance,
        "problems": problem_rows,
    }


def machine() -> dict:
    """What ran it: enough to compare timings honestly."""
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "cuda": torch.cuda.is_available(), "host": platform.node()}


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

    split_dir = out / "split"
    data_cfg = {"seed": cfg.seed, **cfg.data.model_dump()}
    split_report = clock.run("split", split_dir, {"records": records}, data_cfg,
                             lambda: steps.split(records, split_dir, cfg))
    datasets = split_dir / "datasets"

    tracking_uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    training = {}
    for arm in cfg.data.arms:
        arm_dir = out / "train" / arm
        training[arm] = clock.run(
            f"train:{arm}", arm_dir, {"dataset": datasets / arm}, {**cfg.model_dump(), "arm": arm},
            lambda arm=arm, arm_dir=arm_dir: steps.train(datasets / arm, arm, arm_dir, cfg, tracking_uri),
        )
        training[arm]["history"] = list(read_jsonl_or_json(arm_dir / "history.json"))

    for arm in cfg.data.arms:
        start = time.perf_counter()
        steps.load(arm, to_path(training[arm]["checkpoint"]))
        clock.seconds[f"load:{arm}"] = round(time.perf_counter() - start, 3)

    test_rows = {arm: list(read_jsonl(datasets / arm / "test.jsonl")) for arm in cfg.data.arms}
    if not test_rows["control"]:
        raise InputError(str(datasets / "control" / "test.jsonl"), "the test split is empty; add records or change ratios")
    similarity = similarity_scorer(cfg)
    scored = {}
    for arm in cfg.data.arms:
        start = time.perf_counter()
        scored[arm] = evaluate_arm(steps, arm, test_rows[arm], cfg, similarity)
        clock.seconds[f"evaluate:{arm}"] = round(time.perf_counter() - start, 3)
        write_jsonl(out / "generations" / f"{arm}.jsonl",
                    ({"id": r["id"], **p} for r, p in zip(test_rows[arm], scored[arm], strict=True)))

    start = time.perf_counter()
    comparison = compare_arms(steps, scored, test_rows["control"], cfg)
    clock.seconds["stats"] = round(time.perf_counter() - start, 3)
    clock.seconds["total"] = round(time.perf_counter() - started, 3)
    results = {
        "schemaVersion": 1,
        **comparison,
        "training": training,
        "data": {"export": {k: v for k, v in export_report.items() if k != "rejects"},
                 "exportRejects": len(export_report.get("rejects", [])), "split": split_report},
        "config": cfg.model_dump(),
        "provenance": {
            "commit": code_version(),
            "createdAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "profile": cfg.profile,
            "repository": str(repo),
            "wallSeconds": clock.seconds,
            "skippedSteps": clock.skipped,
        },
    }
    write_json(out / "results.json", results)
    return results


def read_jsonl_or_json(path: Path) -> list[dict]:
    """A history file: a JSON list."""
    from services.common.artifacts import read_json

    data = read_json(path)
    return data if isinstance(data, list) else []
