"""The artifact store: URIs, atomic JSON, and manifests that make re-runs skip finished steps."""

import json

import pytest

from services.common.artifacts import (
    Manifest,
    completed,
    manifest_for,
    read_jsonl,
    to_path,
    to_uri,
    write_jsonl,
    write_manifest,
)
from services.common.errors import InputError


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
