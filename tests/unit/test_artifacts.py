"""The artifact store: URIs, atomic JSON, and manifests that make re-runs skip finished steps."""

import json
import os

import pytest

from commentslab.services.common.artifacts import (
    Manifest,
    blob_account,
    blob_service_client,
    completed,
    manifest_for,
    read_jsonl,
    to_path,
    to_uri,
    write_jsonl,
    write_manifest,
)
from commentslab.services.common.errors import InputError


def test_file_uri_round_trip(tmp_path):
    assert to_path(to_uri(tmp_path / "a b.json")) == (tmp_path / "a b.json").resolve()


def test_unsupported_scheme_is_a_clear_error():
    with pytest.raises(InputError, match="scheme 'gs' is not supported"):
        to_path("gs://bucket/x")


def test_malformed_jsonl_line_is_named(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{oops\n')
    rows = read_jsonl(path)
    assert next(rows) == {"a": 1}
    with pytest.raises(InputError, match=r"r\.jsonl:2: not valid JSON"):
        next(rows)


def test_matching_manifest_is_reused_and_a_changed_input_is_not(tmp_path):
    data = tmp_path / "in.jsonl"
    write_jsonl(data, [{"x": 1}])
    out = tmp_path / "step"
    manifest = manifest_for("split", {"records": data}, {"seed": 1})
    manifest.code_version = "abc123"
    manifest.outputs = {"rows": 1}
    write_manifest(out, manifest)
    again = manifest_for("split", {"records": data}, {"seed": 1})
    again.code_version = "abc123"
    assert completed(out, again) == {"rows": 1}
    other_config = Manifest("split", again.inputs, {"seed": 2}, "abc123")
    assert completed(out, other_config) is None
    write_jsonl(data, [{"x": 2}])
    changed = manifest_for("split", {"records": data}, {"seed": 1})
    changed.code_version = "abc123"
    assert completed(out, changed) is None
    dirty = Manifest("split", again.inputs, {"seed": 1}, "abc123-dirty")
    write_manifest(out, dirty)
    assert completed(out, dirty) is None
    assert json.loads((out / "manifest.json").read_text())["step"] == "split"


AZURITE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6I"
           "FsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")


def test_a_connection_string_wins_and_signs_with_its_account_key(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", AZURITE)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_URL", "https://other.blob.core.windows.net")
    assert blob_account(os.environ) == ("connection_string", AZURITE)
    client = blob_service_client()
    assert client.account_name == "devstoreaccount1"
    assert client.url.startswith("http://127.0.0.1:10000/devstoreaccount1")
    # Requests are signed with the account key from the string (a shared-key policy), no identity involved.
    assert client.credential.account_name == "devstoreaccount1"
    assert client.credential.account_key == AZURITE.split("AccountKey=")[1].split(";")[0]


def test_an_account_url_alone_uses_workload_identity_as_on_aks(monkeypatch, tmp_path):
    from azure.identity import DefaultAzureCredential, WorkloadIdentityCredential

    # What the AKS workload identity webhook injects into a pod of the chart's ServiceAccount.
    token = tmp_path / "azure-identity-token"
    token.write_text("federated-token")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_URL", "https://commentslab.blob.core.windows.net")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000002")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token))
    assert blob_account(os.environ) == ("account_url", "https://commentslab.blob.core.windows.net")
    client = blob_service_client()
    assert client.account_name == "commentslab" and client.url == "https://commentslab.blob.core.windows.net/"
    assert isinstance(client.credential, DefaultAzureCredential)
    # The chain's first credential that can work here is workload identity (environment credentials
    # need a secret or certificate, which the pod has none of).
    usable = [c for c in client.credential.credentials if type(c).__name__ != "EnvironmentCredential"]
    assert isinstance(usable[0], WorkloadIdentityCredential)


def test_no_blob_account_configured_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    with pytest.raises(InputError, match="need AZURE_STORAGE_CONNECTION_STRING .* or AZURE_STORAGE_ACCOUNT_URL"):
        blob_account(os.environ, "az://artifacts/x.json")
    assert blob_account({"AZURE_STORAGE_CONNECTION_STRING": " ", "AZURE_STORAGE_ACCOUNT_URL": "https://a"}) == (
        "account_url", "https://a")
