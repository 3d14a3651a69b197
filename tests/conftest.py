"""Shared fixtures: the HumanEval corpus and one smoke run through the six real gRPC services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def humaneval_repo(tmp_path_factory) -> Path:
    """The demo corpus written by `write_humaneval_corpus`."""
    from services.corpus.humaneval import write_humaneval_corpus

    repo = tmp_path_factory.mktemp("corpus") / "humaneval"
    write_humaneval_corpus(repo, progress=False)
    return repo


@pytest.fixture(scope="session")
def humaneval_records(humaneval_repo) -> list[dict]:
    """The corpus exported in-process."""
    from services.exporter.export import export_repository

    return list(export_repository(humaneval_repo))


@pytest.fixture(scope="session")
def grpc_services():
    """The six services as real processes on free loopback ports."""
    from services.pipeline.launcher import start_services

    running = start_services("127.0.0.1")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def smoke_run(grpc_services, tmp_path_factory) -> Path:
    """The smoke profile end to end through the services; returns the run folder."""
    from services.common.config import load_config
    from services.pipeline.run import run_experiment
    from services.pipeline.steps import GrpcSteps

    out = tmp_path_factory.mktemp("smoke-run")
    steps = GrpcSteps(grpc_services.addresses)
    try:
        run_experiment(steps, load_config("smoke"), out)
    finally:
        steps.close()
    return out


def pytest_configure(config):
    # Tests never reach a model hub; everything loads from installed packages.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
