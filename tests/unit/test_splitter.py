"""The splitter: deterministic, grouped by file, arms identical but for the metadata."""

import json

from commentslab.services.common.artifacts import read_jsonl
from commentslab.services.splitter.split import SPLITS, split_records, validate
from commentslab.services.splitter.template import render_metadata


def _datasets(out, arm):
    return {s: list(read_jsonl(out / "datasets" / arm / f"{s}.jsonl")) for s in SPLITS}


def test_split_is_70_15_15_deterministic_and_no_file_spans_two_splits(tmp_path, humaneval_records):
    a = split_records(humaneval_records, tmp_path / "a", seed=7)
    split_records(list(reversed(humaneval_records)), tmp_path / "b", seed=7)
    counts = {(c["arm"], c["split"]): c["rows"] for c in a["counts"]}
    assert counts[("control", "train")] + counts[("control", "validation")] + counts[("control", "test")] == 164
    assert abs(counts[("control", "train")] - 0.70 * 164) <= 2
    assert abs(counts[("control", "test")] - 0.15 * 164) <= 2
    assert a["filesSpanningSplits"] == 0
    for split in SPLITS:
        assert (tmp_path / "a" / "datasets" / "control" / f"{split}.jsonl").read_bytes() == (
            tmp_path / "b" / "datasets" / "control" / f"{split}.jsonl").read_bytes()
    c = split_records(humaneval_records, tmp_path / "c", seed=8)
    assert _datasets(tmp_path / "c", "control")["test"] != _datasets(tmp_path / "a", "control")["test"]
    assert c["records"] == 164


def test_arms_differ_only_in_rendered_metadata(tmp_path, humaneval_records):
    split_records(humaneval_records, tmp_path, seed=1, arms=("control", "experiment", "placebo"))
    control, experiment, placebo = (_datasets(tmp_path, arm) for arm in ("control", "experiment", "placebo"))
    for split in SPLITS:
        assert [r["id"] for r in control[split]] == [r["id"] for r in experiment[split]]
        for c, e, p in zip(control[split], experiment[split], placebo[split], strict=True):
            assert c["completion"] == e["completion"] == p["completion"]
            assert c["input"] == c["prompt"]
            if split == "test":  # test_metadata defaults to none: nothing can leak at test time
                assert e["input"] == c["input"] == p["input"]
            else:
                assert e["input"] == render_metadata(e["metadata"]) + e["prompt"]
                assert e["input"].startswith("# .comments metadata\n# comment [NOTE]: ")
                assert p["input"].endswith(p["prompt"]) and p["input"] != e["input"]
    train = experiment["train"][0]
    assert f"functionName={train['entryPoint']}" in train["input"]


def test_rendered_test_metadata_is_a_recorded_setting(tmp_path, humaneval_records):
    report = split_records(humaneval_records, tmp_path, seed=1, test_metadata="rendered")
    assert report["testMetadata"] == "rendered"
    test = _datasets(tmp_path, "experiment")["test"]
    assert all(r["input"].startswith("# .comments metadata") for r in test)


def test_invalid_and_duplicate_records_are_rejected_with_reasons(humaneval_records):
    good = humaneval_records[0]
    dup = json.loads(json.dumps(good))
    dup["id"] = "other"
    empty = {**good, "id": "e", "completion": "  \n"}
    missing = {k: v for k, v in good.items() if k != "prompt"}
    kept, rejects = validate([good, good, dup, empty, missing])
    assert kept == [good]
    assert [r["reason"] for r in rejects] == [
        "duplicate id", "exact duplicate of an earlier record", "empty completion", "missing prompt"]
