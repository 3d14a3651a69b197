"""A finished run's pass/fail outcomes per seed, problem and sample, and its step times: what a power plan reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import Job, RunLayout
from commentslab.services.stats.variance import comparable_problems, pass_outcomes

PAIRED_ARMS = ("control", "experiment")


@dataclass(frozen=True)
class RunOutcomes:
    """Control's and experiment's outcomes (seeds x problems x samples), each problem's fold, and the run's design."""

    control: np.ndarray
    experiment: np.ndarray
    folds: list[int]
    fold_sizes: dict[int, int]
    arms: list[str]
    samples: int
    alpha: float
    wall_seconds: dict[str, float]
    left_out: int


def _scores(layout: RunLayout, job: Job) -> list[dict]:
    path = layout.scores(job)
    if not path.is_file():
        raise InputError(str(path), f"missing: the run has no scores of {job.label}; plan needs a finished run")
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except ValueError as exc:
        raise InputError(str(path), f"is not JSON lines ({exc})") from exc


def _wall_seconds(layout: RunLayout, results: dict, seeds: list[int], arms: list[str]) -> dict[str, float]:
    """results.json's wall seconds per step, with each training's own time from its outcome where the run's
    last session skipped it: a run resumed across sessions times only what that session did, while every
    training outcome keeps the seconds its training took."""
    seconds = {k: float(v) for k, v in (results.get("provenance", {}).get("wallSeconds") or {}).items()
               if isinstance(v, int | float)}
    for fold in range(layout.folds):
        for seed in seeds:
            for arm in arms:
                job = Job(fold, seed, arm)
                if seconds.get(f"train:{job.key}") or not layout.outcome(job).is_file():
                    continue
                try:
                    took = json.loads(layout.outcome(job).read_text(encoding="utf-8")).get("wallSeconds")
                except ValueError as exc:
                    raise InputError(str(layout.outcome(job)), f"is not JSON ({exc})") from exc
                if isinstance(took, int | float) and took > 0:
                    seconds[f"train:{job.key}"] = float(took)
    return seconds


def read_run_outcomes(run: Path | str) -> RunOutcomes:
    """Every fold's control and experiment outcomes of a finished run (folds in order), with its design and times.

    The design (seeds, folds, arms, samples) comes from the run's results.json; InputError names a missing or
    unreadable file, a job without scores, or seeds whose problems differ.
    """
    layout = RunLayout.open(run)
    if not layout.results.is_file():
        raise InputError(str(layout.results), "missing: the run has not finished (plan reads a finished run)")
    try:
        results = json.loads(layout.results.read_text(encoding="utf-8"))
        config = results["config"]
        seeds = list(config.get("seeds") or [config["seed"]])
        samples = int(config["generate"]["n"])
        arms = list(results.get("arms") or config["data"]["arms"])
        alpha = float(results.get("evaluation", {}).get("alpha", 0.05))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(str(layout.results), f"does not hold the run's design (config seeds, generate.n): {exc}") \
            from exc
    by_seed: dict[str, list[list[dict]]] = {arm: [[] for _ in seeds] for arm in PAIRED_ARMS}
    fold_of: list[int] = []
    for fold in range(layout.folds):
        fold_ids = None
        for arm in PAIRED_ARMS:
            for s, seed in enumerate(seeds):
                problems = _scores(layout, Job(fold, seed, arm))
                ids = [p.get("id") for p in problems]
                if fold_ids is None:
                    fold_ids = ids
                elif ids != fold_ids:
                    raise InputError(str(layout.scores(Job(fold, seed, arm))),
                                     f"its problems are not those of {Job(fold, seeds[0], 'control').label}, "
                                     "in order: the arms and seeds cannot be paired")
                by_seed[arm][s].extend(problems)
        fold_of.extend([fold] * len(fold_ids or []))
    keep = comparable_problems(by_seed, samples) if fold_of else []
    folds = [fold_of[i] for i in keep]
    return RunOutcomes(
        control=pass_outcomes(by_seed["control"], keep),
        experiment=pass_outcomes(by_seed["experiment"], keep),
        folds=folds,
        fold_sizes={f: fold_of.count(f) for f in sorted(set(fold_of))},
        arms=arms,
        samples=samples,
        alpha=alpha,
        wall_seconds=_wall_seconds(layout, results, seeds, arms),
        left_out=len(fold_of) - len(keep),
    )
