"""The plotly.js the dashboard serves is the basic partial bundle of the npm package version the lock pins, and
its Bootstrap stylesheet is the locked bootstrap package's."""

import json
from pathlib import Path

from commentslab.dashboard.app import PLOTLY_BUNDLE

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "plotly.js-basic-dist-min"
INSTALLED = ROOT / ".tools" / "node" / "node_modules" / PACKAGE
BOOTSTRAP_CSS = ROOT / "dashboard" / "assets" / "bootstrap.min.css"


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


def test_committed_bootstrap_stylesheet_is_the_locked_npm_package():
    locked = json.loads((ROOT / "deps" / "node" / "package-lock.json").read_text())["packages"]["node_modules/bootstrap"]
    installed = INSTALLED.parent / "bootstrap"
    assert (installed / "package.json").is_file(), f"{installed} is missing: run `make node-deps`"
    assert json.loads((installed / "package.json").read_text())["version"] == locked["version"], "run `make node-deps`"
    assert BOOTSTRAP_CSS.read_bytes() == (installed / "dist" / "css" / "bootstrap.min.css").read_bytes(), (
        "dashboard/assets/bootstrap.min.css is not the locked package's stylesheet: run `make bootstrap-css`")
