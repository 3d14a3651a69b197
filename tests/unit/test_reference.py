"""Reference results: only a run made the reference way is promoted, byte for byte, and edits are caught."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from commentslab.services.common.config import config_from_dict
from commentslab.services.common.errors import InputError
from commentslab.services.pipeline.reference import (
    PROVENANCE_FILE,
    REFERENCE_DIR,
    REFERENCE_PROFILES,
    ReferenceDesign,
    promote,
    reference_label,
    shortfalls,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
CLEAN = "0" * 40


def _smoke_design(results: dict) -> ReferenceDesign:
    """The smoke run's own design, so it can stand in for a reference run in these tests (one fold tests a
    split, not the whole corpus: the problems it evaluated are its design's)."""
    design = ReferenceDesign.of_config(config_from_dict(results["config"]))
    return dataclasses.replace(design, problems=results["evaluation"]["problems"])


@pytest.fixture
def clean_run(smoke_run, tmp_path) -> Path:
    """A copy of the smoke run as a clean commit would have made it: every step's manifest and the results
    name one commit (the suite may run from a working tree with changes, which promote refuses)."""
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run, ignore=shutil.ignore_patterns("*.safetensors", "mlflow.db", "mlartifacts",
                                                                    "corpus", "resume"))
    for manifest in run.rglob("manifest.json"):
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**data, "code_version": CLEAN}))
    results = json.loads((run / "results.json").read_text())
    results["provenance"]["commit"] = CLEAN
    (run / "results.json").write_text(json.dumps(results))
    return run


def _results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def test_the_reference_designs_are_the_reference_profiles():
    gpu, cpu = (ReferenceDesign.of_profile(name) for name in ("gpu", "cpu-reference"))
    assert REFERENCE_PROFILES == ("gpu", "cpu-reference")
    assert (gpu.folds, gpu.seeds, gpu.arms, gpu.samples, gpu.k, gpu.problems, gpu.hardware) == (
        5, 3, ("control", "experiment", "placebo"), 20, (1, 10), 164, "cuda")
    # The CPU reference tests every problem once, on the same arms; it says plainly it is a CPU design.
    assert (cpu.folds, cpu.arms, cpu.problems, cpu.hardware) == (5, gpu.arms, 164, "cpu")
    with pytest.raises(InputError, match="'smoke' is not a reference design; a reference run uses one of gpu, "
                                         "cpu-reference"):
        ReferenceDesign.of_profile("smoke")


def test_a_smoke_run_is_not_a_reference_run_and_every_shortfall_is_named(smoke_run):
    results = _results(smoke_run)
    found = "; ".join(shortfalls(results, ReferenceDesign.of_profile("gpu")))
    for what in ("data.folds", "number of training seeds", "arms", "generate.n", "evaluate.k", "problems evaluated",
                 "CUDA"):
        assert what in found
    with pytest.raises(InputError, match="'smoke' is not a reference design"):
        promote(smoke_run, smoke_run / "nowhere")
    with pytest.raises(InputError, match="is not a reference run of the cpu-reference design: data.folds is 1"):
        promote(smoke_run, smoke_run / "nowhere", ReferenceDesign.of_profile("cpu-reference"))
    assert not (smoke_run / "nowhere").exists()


def test_a_run_from_uncommitted_code_is_refused(smoke_run):
    results = _results(smoke_run)
    results["provenance"]["commit"] = CLEAN + "-dirty"
    assert shortfalls(results, _smoke_design(results)) == [
        f"the run's code version is {CLEAN + '-dirty'!r}: run it from a clean checkout of a commit"]


def test_promoted_files_are_the_runs_bytes_with_design_and_hardware_and_an_edit_is_caught(clean_run, tmp_path):
    results = _results(clean_run)
    target = promote(clean_run, tmp_path / "site", _smoke_design(results))
    assert target == tmp_path / "site" / REFERENCE_DIR
    assert (target / "results.json").read_bytes() == (clean_run / "results.json").read_bytes()
    # What the reference keeps, in the run folder's own layout (so the dashboard reads it like a run).
    kept = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert kept == [PROVENANCE_FILE, "layout.json", "problems.csv", "results.json",
                    "split/datasets/experiment/test.jsonl", "train/fold0/seed1234/control/history.json",
                    "train/fold0/seed1234/experiment/history.json"]
    record = json.loads((target / PROVENANCE_FILE).read_text())
    assert record["commit"] == CLEAN and record["wallSeconds"]["total"] > 0
    assert record["config"]["profile"] == "smoke" and "gpus" in record["machine"]
    design = record["design"]
    assert (design["profile"], design["folds"], design["seeds"], design["arms"], design["samples"], design["k"]) == (
        "smoke", 1, 1, ["control", "experiment"], results["config"]["generate"]["n"], results["config"]["evaluate"]["k"])
    assert design["method"] == results["config"]["train"]["method"] and design["model"]
    assert record["hardware"]["kind"] == "CPU" and record["hardware"]["count"] == results["provenance"]["machine"]["cpus"]
    assert record["hardware"]["model"] == results["provenance"]["machine"]["cpuModel"]
    assert reference_label(target)["hardware"] == record["hardware"]
    assert verify(target) == []

    edited = json.loads((target / "results.json").read_text())
    edited["verdict"] = "The metadata helps."
    (target / "results.json").write_text(json.dumps(edited))
    (target / "notes.txt").write_text("added by hand")
    (target / "train" / "fold0" / "seed1234" / "control" / "history.json").unlink()
    assert verify(target) == ["notes.txt: not produced by the run (not in PROVENANCE.json)",
                              "results.json: changed since it was promoted",
                              "train/fold0/seed1234/control/history.json: missing"]


def test_a_run_edited_after_it_finished_is_refused(clean_run, tmp_path):
    design = _smoke_design(_results(clean_run))
    results = _results(clean_run)
    results["verdict"] = "The experiment arm is significantly better than control on pass@1."
    first = results["problems"][0]["control"]
    first["pass@1"] = 1.0 - first["pass@1"]
    (clean_run / "results.json").write_text(json.dumps(results))
    with pytest.raises(InputError, match="results.json does not follow from the run's own scores: verdict, "
                                         "problems differ"):
        promote(clean_run, tmp_path / "site", design)
    assert not (tmp_path / "site").exists()


def test_a_table_edited_after_the_run_is_refused(clean_run, tmp_path):
    table = clean_run / "problems.csv"
    lines = table.read_text().splitlines(keepends=True)
    table.write_text("".join(lines[:-1]))
    with pytest.raises(InputError, match="problems.csv does not follow from the run's own scores"):
        promote(clean_run, tmp_path / "site", _smoke_design(_results(clean_run)))


def test_an_incomplete_run_names_every_missing_job(clean_run, tmp_path):
    (clean_run / "scores" / "fold0" / "seed1234" / "experiment.jsonl").unlink()
    (clean_run / "train" / "fold0" / "seed1234" / "control" / "history.json").unlink()
    with pytest.raises(InputError) as caught:
        promote(clean_run, tmp_path / "site", _smoke_design(_results(clean_run)))
    message = str(caught.value)
    assert "0/1234/control: no training history (train/fold0/seed1234/control/history.json)" in message
    assert "0/1234/experiment: no scores (scores/fold0/seed1234/experiment.jsonl)" in message


def test_a_run_resumed_across_commits_is_refused(clean_run, tmp_path):
    manifest = next((clean_run / "scores").rglob("manifest.json"), None) or next(clean_run.rglob("manifest.json"))
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "code_version": "1" * 40}))
    with pytest.raises(InputError, match="a run resumed across commits is not one run"):
        promote(clean_run, tmp_path / "site", _smoke_design(_results(clean_run)))


def test_committed_reference_results_are_exactly_what_a_run_promoted():
    reference = ROOT / REFERENCE_DIR
    if reference.exists():
        assert verify(reference) == []
        label = reference_label(reference)
        assert label["design"]["profile"] in REFERENCE_PROFILES and label["hardware"]["kind"] in ("CPU", "GPU")
    else:
        # None committed: then nothing may sit in its place either.
        assert not any((ROOT / "results").glob("reference*"))


def test_a_malformed_run_or_provenance_file_is_named_with_the_reason(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text("{truncated")
    with pytest.raises(InputError, match=r"results.json.*is not readable JSON"):
        promote(tmp_path / "run", tmp_path)
    (tmp_path / "run" / "results.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="must hold a JSON object, not list"):
        promote(tmp_path / "run", tmp_path)
    reference = tmp_path / REFERENCE_DIR
    reference.mkdir(parents=True)
    (reference / PROVENANCE_FILE).write_text('{"commit": "abc"}')
    assert verify(reference) == [f"{reference / PROVENANCE_FILE}: has no `sha256` table of the promoted files; "
                                 "promote the run again"]
