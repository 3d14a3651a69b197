"""Property tests: random and mutated sidecars never get anything but the typed SidecarError out of the parser."""

import copy
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.export import ExportReport, export_repository
from commentslab.services.exporter.sidecar import (
    Sidecar,
    SidecarError,
    parse_sidecar_bytes,
    parse_sidecar_data,
)

VALID = {
    "file": "calc.py", "version": "2.1.0",
    "ghostMarkers": [{"id": "gm", "line": 1, "endLine": 3, "commentIds": ["c1"], "lineHash": "0" * 16,
                      "astAnchor": {"symbolPath": ["add"], "symbolKind": "Function"},
                      "prevLineText": "", "nextLineText": "total = a + b"}],
    "comments": [{"id": "c1", "line": 1, "startLine": 1, "endLine": 3, "text": "${fn} adds", "author": "Ana",
                  "tag": "NOTE", "ghostMarkerId": "gm", "params": {"fn": {"value": "add", "type": "dynamic"}},
                  "aiMetadata": {"complexity": {"cyclomatic": 1}}, "status": "open",
                  "replies": [{"id": "r", "text": "ok", "author": "Bo"}]}],
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
KEYS = ["file", "fileName", "version", "comments", "ghostMarkers", "id", "line", "endLine", "startLine", "text",
        "commentIds", "commentId", "astAnchor", "anchor", "anchorType", "symbolPath", "lineHash", "params",
        "aiMetadata", "aiMeta", "replies", "status", "tag", "author", "created", "timestamp", "ghostMarkerId"]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _mutate(data, path, action, replacement, key):
    data = copy.deepcopy(data)
    if not path:
        return replacement
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(parent[last], dict):
        parent[last][key] = replacement
    else:
        parent[last] = replacement
    return data


def _parse_or_typed_error(data) -> None:
    try:
        result = parse_sidecar_data(data, "x.comments")
    except SidecarError as exc:
        assert exc.path == "x.comments" and exc.reason and exc.kind
    else:
        assert isinstance(result, Sidecar)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_parses_or_raises_the_typed_error(data):
    _parse_or_typed_error(data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_a_mutated_valid_sidecar_parses_or_raises_the_typed_error(data):
    paths = list(_paths(VALID))
    path = data.draw(st.sampled_from(paths))
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    replacement = data.draw(json_values)
    key = data.draw(st.sampled_from(KEYS))
    _parse_or_typed_error(_mutate(VALID, path, action, replacement, key))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_parse_or_raise_the_typed_error(raw):
    try:
        parse_sidecar_bytes(raw, "x.comments")
    except SidecarError as exc:
        assert exc.kind in {"invalid_json", "not_utf8", "invalid_field", "missing_field", "unknown_version",
                            "line_out_of_range"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_exporting_a_mutated_sidecar_never_crashes_and_accounts_for_every_comment(tmp_path_factory, data):
    repo = tmp_path_factory.mktemp("prop")
    (repo / "LICENSE").write_text(LICENSE_TEXT)
    (repo / "calc.py").write_text("def add(a, b):\n    total = a + b\n    return total\n")
    path = data.draw(st.sampled_from(list(_paths(VALID))))
    mutated = _mutate(VALID, path, data.draw(st.sampled_from(["replace", "delete", "add"])), data.draw(json_values),
                      data.draw(st.sampled_from(KEYS)))
    (repo / "calc.py.comments").write_text(json.dumps(mutated))
    report = ExportReport("r")
    records = list(export_repository(repo, report=report))
    # Every comment read is a record or a reject naming it; a file rejected whole is one reject with no item.
    assert report.records == len(records)
    assert report.comments == len(records) + sum(1 for r in report.rejects if r["item"])
    assert all(r["kind"] and r["reason"] for r in report.rejects)


@settings(max_examples=300, deadline=None)
@given(json_values | st.integers(-(2**80), 2**80), st.sampled_from(["params", "aiMetadata", "text", "id"]))
def test_the_fast_json_reader_reads_every_value_as_pythons_json_does(value, key):
    data = copy.deepcopy(VALID)
    data["comments"][0][key] = value
    raw = json.dumps(data, ensure_ascii=bool(len(str(value)) % 2)).encode()
    try:
        expected = parse_sidecar_data(json.loads(raw), "x.comments")
    except SidecarError as exc:
        expected = exc.kind
    try:
        got = parse_sidecar_bytes(raw, "x.comments")
    except SidecarError as exc:
        got = exc.kind
    if isinstance(got, Sidecar):
        assert got.finite == _finite(value)  # which writer the records of this sidecar get
        expected.finite = got.finite
        assert repr(got.comments[0]) == repr(expected.comments[0])  # 1 and 1.0, 2**70 and 1.2e21 differ here
    assert got == expected


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True
