"""The artifact store's az:// backend against a real Azure Blob emulator (Azurite from npm, started here)."""

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from commentslab.services.cli import main
from commentslab.services.common.artifacts import (
    completed,
    exists,
    list_files,
    manifest_for,
    read_json,
    read_jsonl,
    sha256_file,
    write_json,
    write_jsonl,
    write_manifest,
)
from commentslab.services.common.errors import InputError
from commentslab.services.pipeline.launcher import stop_processes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / ".tools" / "node" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's published development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # pragma: allowlist secret


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    """A running Azurite blob service on a free loopback port; yields its connection string."""
    if not AZURITE.exists():
        pytest.fail(f"{AZURITE} is missing: run `make node-deps`")
    port = _free_port()
    log = tmp_path_factory.mktemp("azurite") / "azurite.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
             "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"],
            stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Azurite did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
               f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")
    finally:
        stop_processes([process])


@pytest.fixture
def blob_env(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)


def test_json_jsonl_listing_and_hashes_round_trip_through_blob_storage(blob_env):
    write_json("az://artifacts/run1/report.json", {"records": 3, "text": "ünïcode"})
    assert read_json("az://artifacts/run1/report.json") == {"records": 3, "text": "ünïcode"}
    # More than one download chunk (4 MiB), so lines cross chunk boundaries.
    rows = [{"i": i, "pad": "x" * 900} for i in range(6000)]
    assert write_jsonl("az://artifacts/run1/rows.jsonl", iter(rows)) == 6000
    assert list(read_jsonl("az://artifacts/run1/rows.jsonl")) == rows
    assert list_files("az://artifacts/run1") == ["az://artifacts/run1/report.json", "az://artifacts/run1/rows.jsonl"]
    assert exists("az://artifacts/run1/rows.jsonl") and not exists("az://artifacts/run1/nope.json")
    before = sha256_file("az://artifacts/run1")
    write_json("az://artifacts/run1/report.json", {"records": 4})
    assert sha256_file("az://artifacts/run1") != before
    with pytest.raises(InputError, match="blob does not exist"):
        read_json("az://artifacts/run1/missing.json")


def test_a_step_whose_blob_manifest_matches_is_skipped(blob_env, tmp_path):
    data = tmp_path / "in.jsonl"
    write_jsonl(data, [{"x": 1}])
    manifest = manifest_for("split", {"records": data}, {"seed": 1})
    manifest.code_version = "abc123"
    manifest.outputs = {"rows": 1}
    assert completed("az://artifacts/steps/split", manifest) is None
    write_manifest("az://artifacts/steps/split", manifest)
    again = manifest_for("split", {"records": data}, {"seed": 1})
    again.code_version = "abc123"
    assert completed("az://artifacts/steps/split", again) == {"rows": 1}
    changed = manifest_for("split", {"records": data}, {"seed": 2})
    changed.code_version = "abc123"
    assert completed("az://artifacts/steps/split", changed) is None
    assert json.loads(json.dumps(read_json("az://artifacts/steps/split/manifest.json")))["step"] == "split"


def test_export_and_split_write_to_blob_storage_from_the_cli(blob_env, humaneval_repo):
    assert main(["export", str(humaneval_repo), "--out", "az://datasets/demo/records.jsonl"]) == 0
    records = list(read_jsonl("az://datasets/demo/records.jsonl"))
    assert len(records) == 164
    assert read_json("az://datasets/demo/records.report.json")["records"] == 164
    assert main(["split", "az://datasets/demo/records.jsonl", "--out", "az://datasets/demo/split"]) == 0
    test_rows = list(read_jsonl("az://datasets/demo/split/datasets/experiment/test.jsonl"))
    assert len(test_rows) == 24 and read_json("az://datasets/demo/split/split_report.json")["leakageChecksPassed"]
    assert main(["split", "az://datasets/demo/records.jsonl", "--out", "az://datasets/demo/folds", "--folds",
                 "3"]) == 0
    assert read_json("az://datasets/demo/folds/split_report.json")["everyRecordTestedOnce"]
    assert len(list_files("az://datasets/demo/folds/folds/2")) == 7  # 2 arms x 3 splits + the fold's report


def test_missing_connection_string_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(InputError, match="need AZURE_STORAGE_CONNECTION_STRING"):
        read_json("az://artifacts/x.json")
