"""Author pseudonyms hold against someone with every output file of an export and a list of the real names:
no recomputation without the deployment's key matches one, and the key is in no output, log or printout."""

import hashlib
import hmac
import json
import logging
import subprocess
import sys

import pytest

from commentslab.services.cli import main
from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.pseudonym_key import local_key_path

AUTHORS = ["Ana Lima", "Bob Okafor", "chen wei"]
DECOYS = ["Dana Smith", "Eve", "Mallory Jones"]
# What an attacker would try: the former public default salt and every keyless or empty-key variant.
GUESSED_KEYS = ["", "commentslab-v1", "commentslab", "salt", "secret", "key"]


def _repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "LICENSE").write_text(LICENSE_TEXT)
    (repo / "m.py").write_text("".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(3)))
    comments = [{"id": f"c{i}", "line": 1 + 4 * i, "text": f"adds {i}", "author": author,
                 "replies": [{"id": "r", "text": "ok", "author": AUTHORS[(i + 1) % 3]}]}
                for i, author in enumerate(AUTHORS)]
    (repo / "m.py.comments").write_text(json.dumps({"version": "1.0", "file": "m.py", "comments": comments}))
    return repo


def _recomputations(name: str) -> set[str]:
    """Every pseudonym a name gives under a scheme that needs no secret."""
    normal = name.strip().lower()
    out = set()
    for text in {name, normal}:
        out.add(hashlib.sha256(text.encode()).hexdigest()[:16])
        out.add(hashlib.md5(text.encode()).hexdigest()[:16])  # noqa: S324 - an attacker's guess, not our use
        for key in GUESSED_KEYS:
            out.add(hashlib.sha256(f"{key}\0{text}".encode()).hexdigest()[:16])
            out.add(hashlib.sha256(f"{key}{text}".encode()).hexdigest()[:16])
            out.add(hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:16])
    return out


@pytest.fixture
def machine_key_home(tmp_path, monkeypatch):
    """No deployment key: the export makes this machine's own, in a state folder apart from the outputs."""
    monkeypatch.delenv("COMMENTSLAB_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("COMMENTSLAB_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def test_pseudonyms_cannot_be_matched_to_real_names_without_the_key(tmp_path, machine_key_home, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    assert main(["export", str(_repo(tmp_path)), "--out", str(out / "records.jsonl")]) == 0
    printed = capsys.readouterr()
    key = local_key_path().read_text().strip()
    assert len(key) >= 32 and out not in local_key_path().parents

    outputs = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert out / "records.jsonl" in outputs and len(outputs) >= 2  # the records and the report at least
    for path, content in outputs.items():
        assert key.encode() not in content, path
    assert key not in printed.out + printed.err + caplog.text

    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    pseudonyms = {r["provenance"]["authorId"] for r in records}
    pseudonyms |= {reply["authorId"] for r in records for reply in r["metadata"].get("replies", [])}
    assert len(pseudonyms) == len(AUTHORS)
    everything = b"".join(outputs.values()).decode(errors="replace")
    for name in AUTHORS:
        assert name not in everything and name.lower() not in everything
    for name in AUTHORS + DECOYS:
        assert not _recomputations(name) & pseudonyms, name
    # The pseudonyms are the keyed ones: with the key (and only with it) each name is found.
    with_key = {hmac.new(key.encode(), n.lower().encode(), hashlib.sha256).hexdigest()[:16] for n in AUTHORS}
    assert with_key == pseudonyms


def test_the_machine_key_is_made_once_and_kept(tmp_path, machine_key_home):
    repo = _repo(tmp_path)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["export", str(repo), "--out", str(first)]) == 0
    assert main(["export", str(repo), "--out", str(second)]) == 0
    assert first.read_text() == second.read_text()
    assert oct(local_key_path().stat().st_mode & 0o777) == "0o600"


def test_a_deployment_key_that_cannot_be_read_stops_the_export_and_the_exporter(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "secrets" / "pseudonym-key"
    monkeypatch.setenv("COMMENTSLAB_PSEUDONYM_KEY_FILE", str(missing))
    repo = _repo(tmp_path)
    assert main(["export", str(repo), "--out", str(tmp_path / "r.jsonl")]) == 3
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "COMMENTSLAB_PSEUDONYM_KEY_FILE" in error and str(missing) in error
    assert not (tmp_path / "r.jsonl").exists() or not (tmp_path / "r.jsonl").read_text()

    started = subprocess.run([sys.executable, "-m", "commentslab.services.exporter", "--port", "0"], capture_output=True,
                             text=True, timeout=120)
    assert started.returncode != 0
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and "COMMENTSLAB_PSEUDONYM_KEY_FILE" in lines[0] and "Traceback" not in started.stderr
    missing.parent.mkdir()
    missing.write_text("short\n")
    assert main(["export", str(repo), "--out", str(tmp_path / "r.jsonl")]) == 3
    assert "shorter than 16 characters" in capsys.readouterr().err
