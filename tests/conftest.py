"""Shared fixtures: the HumanEval corpus, one smoke run through the six real gRPC services, and a throwaway
PostgreSQL server (Debian's postgresql package; a test that needs it fails, not skips, without it)."""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from design_shape import DESIGN, DESIGN_SETS, design_overrides

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def humaneval_repo(tmp_path_factory) -> Path:
    """The demo corpus written by `write_humaneval_corpus`."""
    from commentslab.services.corpus.humaneval import write_humaneval_corpus

    repo = tmp_path_factory.mktemp("corpus") / "humaneval"
    write_humaneval_corpus(repo, progress=False)
    return repo


@pytest.fixture(scope="session")
def humaneval_records(humaneval_repo) -> list[dict]:
    """The corpus exported in-process."""
    from commentslab.services.exporter.export import export_repository

    return list(export_repository(humaneval_repo))


@pytest.fixture(scope="session")
def grpc_services():
    """The six services as real processes on free loopback ports."""
    from commentslab.services.pipeline.launcher import start_services

    running = start_services("127.0.0.1")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def smoke_run(grpc_services, tmp_path_factory) -> Path:
    """The smoke profile end to end through the services; returns the run folder."""
    from commentslab.services.common.config import load_config
    from commentslab.services.pipeline.run import run_experiment
    from commentslab.services.pipeline.steps import GrpcSteps

    out = tmp_path_factory.mktemp("smoke-run")
    steps = GrpcSteps(grpc_services.addresses)
    try:
        run_experiment(steps, load_config("smoke"), out)
    finally:
        steps.close()
    return out


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's bin folder (`make test` installs the `postgresql` package)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `make system-deps`")
    return found[-1].parent


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server: initdb into a fresh folder, listening only on a unix socket there;
    yields the folder (the socket's host). PostgreSQL refuses to run as root, so as root it runs as the
    ``postgres`` user. Stopped (fast shutdown) and deleted on exit."""
    bin_dir = postgres_bin()
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no `postgres` user (Debian's postgresql package makes it)")
        as_user = ["runuser", "-u", "postgres", "--"]
    folder = tempfile.mkdtemp(prefix="commentslab-pg-")
    if as_user:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data = f"{folder}/data"
    pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", data]
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        # No TCP at all (listen_addresses ''): nothing can clash with another server's port.
        subprocess.run([*pg_ctl, "-o", f"-k {folder} -c listen_addresses='' -F", "-l", f"{folder}/log", "-w",
                        "start"], check=True, capture_output=True)
        try:
            yield folder
        finally:
            subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True)
    except subprocess.CalledProcessError as exc:
        log = Path(folder, "log")
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')}"
                           f"{log.read_text() if log.is_file() else ''}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_host() -> Iterator[str]:
    """One throwaway PostgreSQL server for the session; its unix socket's folder."""
    with running_postgres() as host:
        yield host


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres_host) -> str:
    """A new, empty database on the throwaway server, as a SQLAlchemy URL (user postgres, trust auth)."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(host=postgres_host, user="postgres", dbname="postgres", autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@/{name}?host={postgres_host}"


def pytest_configure(config):
    # Tests never reach a model hub; everything loads from installed packages.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def design_run(tmp_path_factory) -> Path:
    """The design's shape through `commentslab run` as a user types it: the CLI starts the six gRPC services
    on loopback and runs every job through them. Returns the run folder."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("design-run") / "run"
    command = [sys.executable, "-m", "commentslab.services.cli", "run", "--profile", "smoke", "--out", str(out)]
    for override in design_overrides():
        command += ["--set", override]
    # One math thread in every process, as in the Kubeflow run it is compared with, so the two trainings
    # reduce in the same order and give the same bits.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.fixture(scope="session")
def design_kfp_run(grpc_services, tmp_path_factory) -> Path:
    """The same design through the Kubeflow pipeline under kfp.local (each step a subprocess), its programs
    in the Sandbox service and its statistics in the Stats service. Returns the published run folder."""
    from commentslab.pipelines.runs import PipelineArguments, run_local

    root = tmp_path_factory.mktemp("design-kfp")
    arguments = PipelineArguments(profile="smoke", seeds=DESIGN["seeds"], folds=DESIGN["folds"], arms=DESIGN["arms"],
                                  overrides=DESIGN_SETS, run_name="design")
    before = os.environ.get("OMP_NUM_THREADS")
    # kfp.local runs the parallel train/evaluate steps as sibling processes on this machine's two cores;
    # one math thread each stands in for a pod's own CPUs (oversubscribed, they ran 2-3x slower).
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        published = run_local(arguments, root, grpc_services.addresses["sandbox"], grpc_services.addresses["stats"])
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before
    assert published == root / "results" / "design"
    return published


@pytest.fixture(scope="module")
def host_listener() -> Iterator[int]:
    """A TCP port listening on the host's loopback: a sandboxed program must not reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()
