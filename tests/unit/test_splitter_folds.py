"""The splitter on real corpora shapes: k-fold, strata, repository groups, near-duplicates, arms as data."""

import json

import pytest

from commentslab.services.common.artifacts import read_jsonl
from commentslab.services.common.errors import InputError
from commentslab.services.splitter.split import SPLITS, load_arms, split_folds, split_records


def _record(i, repo="r", path=None, language="python", completion=None, prompt=None):
    code = completion or f"    value_{i} = compute_{i}(x, {i})\n    return value_{i} * {i % 7}\n"
    return {"id": f"id{i:04d}", "prompt": prompt or f"def f{i}(x):\n", "completion": code,
            "metadata": {"text": f"comment {i}", "tag": "NOTE", "params": {"n": i}, "aiMetadata": {"tokens": {"h": i}}},
            "language": language, "scenario": "function_completion",
            "provenance": {"repository": repo, "path": path or f"src/m{i}.py"}}


def test_k_folds_test_every_record_exactly_once_with_no_file_in_two_splits(tmp_path, humaneval_records):
    report = split_folds(humaneval_records, tmp_path, folds=5, seed=3, arms=["control", "experiment"],
                         test_metadata="none")
    assert report["everyRecordTestedOnce"] and report["leakageChecksPassed"]
    tested = []
    for fold in range(5):
        rows = {s: list(read_jsonl(tmp_path / "folds" / str(fold) / "datasets" / "control" / f"{s}.jsonl"))
                for s in SPLITS}
        tested += [r["id"] for r in rows["test"]]
        assert sum(len(v) for v in rows.values()) == 164
        files = {s: {r["provenance"]["path"] for r in rows[s]} for s in SPLITS}
        assert not (files["train"] & files["test"]) and not (files["validation"] & files["test"])
        # validation is 15/85 of the non-test part
        assert abs(len(rows["validation"]) - 0.15 / 0.85 * (164 - len(rows["test"]))) <= 2
    assert sorted(tested) == sorted(r["id"] for r in humaneval_records)
    assert sorted(len(f["counts"]) for f in report["foldReports"]) == [6] * 5
    assert [f["records"]["test"] for f in report["foldReports"]] == [33, 33, 33, 33, 32]
    again = split_folds(list(reversed(humaneval_records)), tmp_path / "again", folds=5, seed=3,
                        arms=["control"], test_metadata="none")
    assert [f["records"] for f in again["foldReports"]] == [f["records"] for f in report["foldReports"]]
    assert (tmp_path / "split_report.json").is_file()


def test_every_split_gets_its_share_of_each_language(tmp_path):
    records = [_record(i, language="python") for i in range(60)] + [
        _record(100 + i, language="typescript", path=f"web/c{i}.ts") for i in range(20)]
    report = split_records(records, tmp_path, seed=5)
    assert report["strata"]["train"] == {"python/function_completion": 42, "typescript/function_completion": 14}
    assert report["strata"]["test"] == {"python/function_completion": 9, "typescript/function_completion": 3}


def test_grouping_by_repository_keeps_each_repository_in_one_split(tmp_path):
    records = [_record(i, repo=f"repo{i % 10}") for i in range(100)]
    report = split_records(records, tmp_path, seed=1, group_by="repository")
    assert report["leakage"]["repositoriesSpanningSplits"] == 0 and report["leakageChecksPassed"]
    by_split = {s: {r["provenance"]["repository"] for r in read_jsonl(tmp_path / "datasets" / "control" / f"{s}.jsonl")}
                for s in SPLITS}
    assert sum(len(v) for v in by_split.values()) == 10


def test_near_duplicates_across_splits_are_removed_and_reported(tmp_path):
    body = ("    total = 0\n    skipped = []\n    for item in items:\n        if item.price > limit:\n"
            "            total += item.price * item.quantity\n        elif item.price < 0:\n"
            "            raise ValueError(f'negative price for {item.name}')\n        else:\n"
            "            skipped.append(item.name)\n    log.info('skipped %d items', len(skipped))\n"
            "    return round(total, DIGITS)\n")
    records = [_record(i) for i in range(40)]
    # The same function with one literal changed, in ten files.
    twins = [_record(200 + i, completion=body.replace("DIGITS", str(i)), prompt="def total(items, limit):\n")
             for i in range(10)]
    report = split_records(records + twins, tmp_path, seed=11)
    removed = report["duplicatesRemoved"]["nearAcrossSplits"]
    assert removed > 0 and all(n["item"].startswith("id02") for n in report["nearDuplicates"])
    assert report["leakage"]["nearDuplicatesAcrossSplits"] == 0 and report["leakageChecksPassed"]
    assert report["records"] == 50 - removed


def test_exact_duplicates_are_removed_and_counted(tmp_path):
    records = [_record(i) for i in range(20)]
    copy = dict(records[3], id="copy")
    report = split_records(records + [copy], tmp_path, seed=1)
    assert report["duplicatesRemoved"]["exact"] == 1 and report["records"] == 20


def test_ablation_arms_render_only_their_part(tmp_path, humaneval_records):
    arms = ["control", "experiment", "params-only", "ai-only", "text-only"]
    split_records(humaneval_records, tmp_path, seed=2, arms=arms)
    rows = {a: list(read_jsonl(tmp_path / "datasets" / a / "train.jsonl"))[0] for a in arms}
    assert rows["control"]["input"] == rows["control"]["prompt"]
    block = {a: rows[a]["input"][: -len(rows[a]["prompt"])] for a in arms[1:]}
    assert block["params-only"].splitlines()[1].startswith("# params: functionName=")
    assert len(block["params-only"].splitlines()) == 2
    assert block["ai-only"].splitlines()[1].startswith("# ai: ") and len(block["ai-only"].splitlines()) == 2
    assert block["text-only"].splitlines()[1].startswith("# comment [NOTE]: ")
    assert set(block["experiment"].splitlines()) == (set(block["params-only"].splitlines())
                                                     | set(block["ai-only"].splitlines())
                                                     | set(block["text-only"].splitlines()))


def test_a_new_arm_is_a_line_of_yaml_and_unknown_arms_are_named(tmp_path, humaneval_records):
    arms_file = tmp_path / "arms.yaml"
    arms_file.write_text("control: {render: []}\nparams-placebo: {render: [params], shuffle: true}\n")
    specs = load_arms(arms_file)
    report = split_records(humaneval_records, tmp_path / "out", seed=2, arms=["control", "params-placebo"],
                           arm_specs=specs)
    assert report["armSpecs"]["params-placebo"] == {"render": ["params"], "shuffle": True}
    row = list(read_jsonl(tmp_path / "out" / "datasets" / "params-placebo" / "train.jsonl"))[0]
    assert "# params: functionName=" in row["input"] and f"functionName={row['entryPoint']}," not in row["input"]
    with pytest.raises(InputError, match="arm 'nope'.*known arms: control, params-placebo"):
        split_records(humaneval_records, tmp_path / "bad", arms=["nope"], arm_specs=specs)


def test_ratios_are_checked_and_other_ratios_apply(tmp_path, humaneval_records):
    with pytest.raises(InputError, match="summing to 1"):
        split_records(humaneval_records, tmp_path, ratios=(0.5, 0.5, 0.5))
    report = split_records(humaneval_records, tmp_path, seed=4, ratios=(0.8, 0.1, 0.1))
    counts = {c["split"]: c["rows"] for c in report["counts"] if c["arm"] == "control"}
    assert abs(counts["train"] - 0.8 * 164) <= 2 and abs(counts["test"] - 0.1 * 164) <= 2
    assert json.loads((tmp_path / "split_report.json").read_text())["ratios"] == [0.8, 0.1, 0.1]


def test_folds_need_enough_groups(tmp_path):
    with pytest.raises(InputError, match="3 folds need at least 3 groups"):
        split_folds([_record(1), _record(2, path="src/m1.py")], tmp_path, folds=3, seed=1, arms=["control"],
                    test_metadata="none")
