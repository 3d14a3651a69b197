"""The local runner: the whole plan in one process, over the services (GrpcSteps) or in-process (LocalSteps).

corpus -> export -> split -> controls -> for every (fold, seed, arm): train, generate, score -> results.json

With several base models (`models:`) the data steps run once into the experiment's shared folder, each
model's run folder gets a copy of that data, and each model's jobs and results.json follow in its own
folder; experiment.json indexes them (services/common/layout.py).

Each step writes its output folder with a manifest; a step whose manifest matches is skipped, so an
interrupted run resumes (per model, from each model's folder). Every step is a call into the experiment
core (services/pipeline/experiment.py), the same calls the Kubeflow tasks make, and every path comes from
the run's `RunLayout`.
"""

from __future__ import annotations

import time
from pathlib import Path

from commentslab.services.common.config import ExperimentConfig
from commentslab.services.common.layout import ExperimentLayout, RunLayout
from commentslab.services.pipeline import experiment
from commentslab.services.pipeline.steps import Steps


def prepare_data(steps: Steps, clock: experiment.StepClock, layout: RunLayout, cfg: ExperimentConfig,
                 repo: Path | None) -> tuple[Path, dict]:
    """Corpus (unless a repository is given), export, split and the sandbox's controls into `layout`;
    returns the first repository and the controls' summary."""
    repos = [repo] if repo is not None else experiment.scenario_repositories(cfg)
    if not repos:
        repos = [experiment.corpus_step(clock, layout, cfg)]
    experiment.export_step(steps, clock, layout, repos[0], cfg, more=repos[1:])
    experiment.split_step(steps, clock, layout.records, layout, cfg)
    controls = experiment.controls_step(steps, clock, layout, layout, cfg)
    return repos[0], controls


def run_jobs(steps: Steps, clock: experiment.StepClock, layout: RunLayout, cfg: ExperimentConfig, jobs: list,
             similarity) -> None:
    """Train and evaluate each of `jobs` (one base model's) in the run folder `layout`."""
    for job in jobs:
        experiment.train_job(steps, clock, layout, layout, job, cfg, layout.tracking_uri)
        experiment.evaluate_job(steps, clock, layout, layout, layout, job, cfg, similarity)


def run_experiment(steps: Steps, cfg: ExperimentConfig, out: Path, repo: Path | None = None) -> dict:
    """Run every job of the plan into the run folder `out` and write `out/results.json`; returns the results.

    A config with several base models runs `run_models` instead and returns what it returns.
    """
    experiment.check_design(cfg)
    if cfg.models:
        return run_models(steps, cfg, out, repo)
    started = time.perf_counter()
    layout = RunLayout(out, cfg.data.folds)
    layout.claim()
    clock = experiment.StepClock()
    repo, controls = prepare_data(steps, clock, layout, cfg, repo)
    run_jobs(steps, clock, layout, cfg, experiment.plan_jobs(cfg), experiment.similarity_scorer(cfg))
    clock.seconds["total"] = round(time.perf_counter() - started, 3)
    return experiment.write_results(steps, layout, [layout], layout, cfg, controls=controls, runner="local",
                                    repository=str(repo), wallSeconds=clock.seconds, skippedSteps=clock.skipped)


def run_models(steps: Steps, cfg: ExperimentConfig, out: Path, repo: Path | None = None) -> dict:
    """An experiment over several base models into `out`: the data once, then each model's jobs and
    results.json in `out/models/<name>/`, and `out/experiment.json`.

    Returns {name: that model's results}. Each model's wall seconds are the shared data steps' plus its own.
    """
    experiment.check_design(cfg)
    started = time.perf_counter()
    folder = ExperimentLayout(out, cfg.data.folds)
    folder.claim()
    folder.shared.root.mkdir(exist_ok=True)
    experiment.write_experiment_index(folder, cfg)
    shared_clock = experiment.StepClock()
    repo, controls = prepare_data(steps, shared_clock, folder.shared, cfg, repo)
    shared_seconds = time.perf_counter() - started
    similarity = experiment.similarity_scorer(cfg)
    jobs = experiment.plan_jobs(cfg)
    results = {}
    for name in cfg.model_names():
        model_started = time.perf_counter()
        layout = folder.run(name)
        layout.claim()
        experiment.share_data(folder.shared, layout)
        clock = experiment.StepClock()
        clock.seconds.update(shared_clock.seconds)
        clock.skipped += shared_clock.skipped
        run_jobs(steps, clock, layout, cfg, [job for job in jobs if job.model == name], similarity)
        clock.seconds["total"] = round(shared_seconds + time.perf_counter() - model_started, 3)
        results[name] = experiment.write_results(
            steps, layout, [layout], layout, cfg.for_model(name), controls=controls, base_model=name,
            experiment=experiment.results_experiment(cfg), runner="local", repository=str(repo),
            wallSeconds=clock.seconds, skippedSteps=clock.skipped)
    experiment.write_experiment_index(folder, cfg)
    return results
