"""Browser-test fixtures: a dashboard served in a subprocess and Debian's headless Chromium.

``start_dashboard(results_dir, *extra_args, cwd=REPO_ROOT) -> base URL`` starts ``python -m commentslab.dashboard`` (under
gunicorn, as in production: checked by the Server header) on a free loopback port (extra arguments such as
``--model-server`` passed on; results_dir None: no ``--results``, the dashboard's default folder under ``cwd``)
and stops it after the test; ``chrome`` is a Selenium driver whose console log can be read with
``driver.get_log("browser")``.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from commentslab.services.pipeline.launcher import stop_processes

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_dashboard(results_dir: Path | None, *extra_args: str, startup_timeout: float = 60.0,
                      cwd: Path = REPO_ROOT) -> Iterator[str]:
    """Run ``python -m commentslab.dashboard --results results_dir`` (without ``--results`` when None) in ``cwd`` on a
    free loopback port; yield its base URL.

    Waits until the page answers HTTP 200; raises ``RuntimeError`` with the server's output if it
    exits or does not answer within ``startup_timeout`` seconds. The server is stopped on exit.
    """
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile(mode="w+") as log:
        results = ["--results", str(results_dir)] if results_dir is not None else []
        process = subprocess.Popen(
            [sys.executable, "-m", "commentslab.dashboard", *results, "--port", str(port), *extra_args],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"dashboard exited with code {process.returncode}:\n{log.read()}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            server = response.headers.get("Server", "")
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"dashboard did not answer at {url} in {startup_timeout}s:\n{log.read()}"
                    )
                time.sleep(0.2)
            # The browser tests run against the server a visitor reaches, never Flask's development server.
            if not server.startswith("gunicorn"):
                raise RuntimeError(f"the dashboard at {url} is served by {server!r}, not gunicorn")
            yield url
        finally:
            stop_processes([process])


@pytest.fixture
def start_dashboard() -> Iterator[Callable[..., str]]:
    """Factory fixture: ``start_dashboard(results_dir, *extra_args, cwd=...)`` serves that folder (None: the
    default folder under ``cwd``) and returns the base URL."""
    with contextlib.ExitStack() as stack:
        yield lambda results_dir, *extra_args, **options: stack.enter_context(
            running_dashboard(None if results_dir is None else Path(results_dir), *extra_args, **options))


@pytest.fixture
def chrome(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium driven by Selenium, with the browser console log recorded."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options
    )
    try:
        yield driver
    finally:
        driver.quit()
