"""python -m commentslab.dashboard's command line: gunicorn's settings from it, and a missing plotly.js refused up front."""

import subprocess
import sys
from pathlib import Path

from commentslab.dashboard.server import server_options

ROOT = Path(__file__).resolve().parents[2]


def test_threaded_gunicorn_workers_on_the_address_given():
    options = server_options("0.0.0.0", 8050, workers=2, threads=8)
    assert (options["bind"], options["workers"], options["threads"], options["worker_class"]) == (
        "0.0.0.0:8050", 2, 8, "gthread")


def test_a_missing_plotly_bundle_is_refused_in_one_line_naming_the_option(tmp_path):
    missing = tmp_path / "plotly.min.js"
    done = subprocess.run([sys.executable, "-m", "commentslab.dashboard", "--results", str(tmp_path), "--plotly-bundle",
                           str(missing)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"python -m commentslab.dashboard: error: --plotly-bundle {missing}: no such file"
