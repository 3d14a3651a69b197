"""The Helm chart rendered the way the deployment checks read it: paths, the install variants, `helm template`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "commentslab"
AKS_VALUES = CHART / "values-aks.yaml"
NAMESPACE = "commentslab"
RELEASE = "commentslab"


def render(helm: str, *args: str) -> str:
    """`helm template` of the chart with extra arguments; fails the test with helm's message."""
    result = subprocess.run([helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def documents(text: str) -> list[dict]:
    """The non-empty YAML documents of a rendered manifest stream."""
    return [d for d in yaml.safe_load_all(text) if d]


# The three installs the checks cover: defaults (any cluster, CPU only), AKS (GPU pools, workload
# identity, Kata), and everything optional switched on with a connection-string Secret.
VARIANTS = {
    "default": [],
    "aks": ["-f", str(AKS_VALUES), "--set", "trainer.job.enabled=true"],
    "everything": ["--set", "gateway.enabled=true", "--set", "trainer.job.enabled=true",
                   "--set", "azure.existingSecret=commentslab-storage",
                   "--set", "azure.storageAccountUrl=https://account.blob.core.windows.net"],
}
