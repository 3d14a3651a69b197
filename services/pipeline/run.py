"""The local runner: the whole plan in one process, over the services (GrpcSteps) or in-process (LocalSteps).

corpus -> export -> split -> controls -> for every (fold, seed, arm): train, generate, score -> results.json

Each step writes its output folder with a manifest; a step whose manifest matches is skipped, so an
interrupted run resumes. Every step is a call into the experiment core (services/pipeline/experiment.py),
the same calls the Kubeflow tasks make, and every path comes from the run's `RunLayout`.
"""

from __future__ import annotations

import time
from pathlib import Path

from commentslab.services.common.config import ExperimentConfig
from commentslab.services.common.layout import RunLayout
from commentslab.services.pipeline import experiment
from commentslab.services.pipeline.steps import Steps


def run_experiment(steps: Steps, cfg: ExperimentConfig, out: Path, repo: Path | None = None) -> dict:
    """Run every job of the plan into the run folder `out` and write `out/results.json`; returns the results."""
    started = time.perf_counter()
    experiment.check_design(cfg)
    layout = RunLayout(out, cfg.data.folds)
    layout.claim()
    clock = experiment.StepClock()
    repos = [repo] if repo is not None else experiment.scenario_repositories(cfg)
    if not repos:
        repos = [experiment.corpus_step(clock, layout, cfg)]
    repo = repos[0]
    experiment.export_step(steps, clock, layout, repo, cfg, more=repos[1:])
    experiment.split_step(steps, clock, layout.records, layout, cfg)
    controls = experiment.controls_step(steps, clock, layout, layout, cfg)
    similarity = experiment.similarity_scorer(cfg)
    for job in experiment.plan_jobs(cfg):
        experiment.train_job(steps, clock, layout, layout, job, cfg, layout.tracking_uri)
        experiment.evaluate_job(steps, clock, layout, layout, layout, job, cfg, similarity)
    clock.seconds["total"] = round(time.perf_counter() - started, 3)
    return experiment.write_results(steps, layout, [layout], layout, cfg, controls=controls, runner="local",
                                    repository=str(repo), wallSeconds=clock.seconds, skippedSteps=clock.skipped)
