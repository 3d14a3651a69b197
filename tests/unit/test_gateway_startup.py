"""``python -m commentslab.services.gateway`` refuses to start, with one line naming the setting and what to change, without
the maintainer credential or with a database URL it cannot use; with both it serves."""

import os
import subprocess
import sys

import pytest

MAINTAINER = "startup-test-maintainer-credential"


def start(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTSLAB_MAINTAINER_TOKEN")}
    return subprocess.run([sys.executable, "-m", "commentslab.services.gateway", "--results", str(tmp_path), "--port", "0",
                           *args], env={**clean, **env}, capture_output=True, text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_no_maintainer_credential_refuses_to_start(tmp_path):
    line = one_line(start(tmp_path))
    assert "COMMENTSLAB_MAINTAINER_TOKEN_FILE" in line and "not set" in line


def test_an_unreadable_or_short_maintainer_credential_refuses_to_start(tmp_path):
    line = one_line(start(tmp_path, COMMENTSLAB_MAINTAINER_TOKEN_FILE=str(tmp_path / "nope")))
    assert "COMMENTSLAB_MAINTAINER_TOKEN_FILE" in line and "cannot read" in line
    line = one_line(start(tmp_path, COMMENTSLAB_MAINTAINER_TOKEN="short"))
    assert "COMMENTSLAB_MAINTAINER_TOKEN" in line and "shorter than 16" in line


def test_a_read_only_database_refuses_to_start(tmp_path):
    import sqlite3

    path = tmp_path / "gateway.sqlite"
    sqlite3.connect(path).close()
    line = one_line(start(tmp_path, "--database-url", f"sqlite:///file:{path}?mode=ro&uri=true",
                          COMMENTSLAB_MAINTAINER_TOKEN=MAINTAINER))
    assert line.startswith("gateway: --database-url: cannot create tables") and "writable" in line


@pytest.mark.parametrize("url,reason", [
    ("not a url", "is not a database URL"),
    ("mysql://u@h/db", "backend is not supported"),
    ("postgresql://nobody:hunter2-secret@127.0.0.1:1/votes", "cannot connect"),
    ("sqlite:////nonexistent-folder/sub/gateway.sqlite", "cannot connect"),
])
def test_a_wrong_database_url_refuses_to_start(tmp_path, url, reason):
    line = one_line(start(tmp_path, "--database-url", url, COMMENTSLAB_MAINTAINER_TOKEN=MAINTAINER))
    assert line.startswith("gateway: --database-url: ") and reason in line
    assert "hunter2" not in line  # a password in the URL is never repeated
