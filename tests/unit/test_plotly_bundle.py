"""The plotly.js the dashboard serves is the basic partial bundle of the npm package version the lock pins."""

import json
from pathlib import Path

from commentslab.dashboard.app import PLOTLY_BUNDLE

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "plotly.js-basic-dist-min"
INSTALLED = ROOT / ".tools" / "node" / "node_modules" / PACKAGE


def test_committed_bundle_is_the_locked_npm_package():
    locked = json.loads((ROOT / "deps" / "node" / "package-lock.json").read_text())["packages"][f"node_modules/{PACKAGE}"]
    installed = INSTALLED / "package.json"
    assert installed.is_file(), f"{INSTALLED} is missing: run `make node-deps`"
    assert json.loads(installed.read_text())["version"] == locked["version"], "run `make node-deps`"
    assert PLOTLY_BUNDLE.read_bytes() == (INSTALLED / "plotly-basic.min.js").read_bytes(), (
        "dashboard/vendor/plotly-basic.min.js is not the locked package's bundle: run `make plotly-bundle`")


def test_bundle_is_the_version_the_python_figures_are_written_for():
    from plotly.offline import get_plotlyjs_version

    header = PLOTLY_BUNDLE.read_text(encoding="utf-8")[:200]
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in header
