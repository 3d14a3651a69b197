"""The wheel installs one top-level package, `commentslab`, with the repository's folders mapped into it."""
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"services": "commentslab.services", "dashboard": "commentslab.dashboard",
           "pipelines": "commentslab.pipelines", "proto/commentslab": "commentslab"}


def _declared_packages() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_python_folder_is_a_declared_package():
    found = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    assert found == _declared_packages(), "pyproject.toml [tool.setuptools] packages differs from the folders"


def test_the_wheel_holds_only_the_commentslab_namespace(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("commentslab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"commentslab"}
    for data in ("commentslab/services/common/profiles/smoke.yaml", "commentslab/services/evaluator/results.schema.json",
                 "commentslab/dashboard/vendor/plotly-basic.min.js", "commentslab/v1/exporter_pb2.py",
                 "commentslab/services/cli.py", "commentslab/pipelines/tasks.py"):
        assert data in names, data
