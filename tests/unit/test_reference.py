"""Reference results: only a run made the reference way is promoted, byte for byte, and edits are caught."""

import json
import shutil
from pathlib import Path

import pytest

from commentslab.services.common.errors import InputError
from commentslab.services.pipeline.reference import (
    PROVENANCE_FILE,
    REFERENCE_DIR,
    ReferenceDesign,
    promote,
    shortfalls,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]


def _smoke_design(results: dict) -> ReferenceDesign:
    """The smoke run's own design, so it can stand in for a reference run in these tests."""
    cfg = results["config"]
    return ReferenceDesign(folds=cfg["data"]["folds"], seeds=len(cfg["seeds"] or [cfg["seed"]]),
                           arms=tuple(results["arms"]), samples=cfg["generate"]["n"], k=tuple(cfg["evaluate"]["k"]),
                           problems=results["evaluation"]["problems"], cuda=False)


def test_a_smoke_run_is_not_a_reference_run_and_every_shortfall_is_named(smoke_run):
    results = json.loads((smoke_run / "results.json").read_text())
    found = "; ".join(shortfalls(results, ReferenceDesign()))
    for what in ("data.folds", "number of training seeds", "arms", "generate.n", "evaluate.k", "problems evaluated",
                 "CUDA"):
        assert what in found
    with pytest.raises(InputError, match="is not a reference run"):
        promote(smoke_run, smoke_run / "nowhere")
    assert not (smoke_run / "nowhere").exists()


def test_promoted_files_are_the_runs_bytes_and_an_edit_is_caught(smoke_run, tmp_path):
    results = json.loads((smoke_run / "results.json").read_text())
    design = _smoke_design(results)
    if results["provenance"]["commit"].endswith("-dirty") or results["provenance"]["commit"] == "unknown":
        # A working tree with changes: the run names itself dirty, and promote refuses it for that alone.
        assert shortfalls(results, design) == [
            f"the run's code version is {results['provenance']['commit']!r}: run it from a clean checkout of a commit"]
        results["provenance"]["commit"] = "0" * 40
        run = tmp_path / "run"
        shutil.copytree(smoke_run, run, ignore=shutil.ignore_patterns("*.safetensors", "mlflow.db", "corpus"))
        (run / "results.json").write_text(json.dumps(results))
    else:
        run = smoke_run
    target = promote(run, tmp_path / "site", design)
    assert target == tmp_path / "site" / REFERENCE_DIR
    assert (target / "results.json").read_bytes() == (run / "results.json").read_bytes()
    # What the reference keeps, in the run folder's own layout (so the dashboard reads it like a run).
    kept = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert kept == [PROVENANCE_FILE, "layout.json", "problems.csv", "results.json",
                    "split/datasets/experiment/test.jsonl", "train/fold0/seed1234/control/history.json",
                    "train/fold0/seed1234/experiment/history.json"]
    record = json.loads((target / PROVENANCE_FILE).read_text())
    assert record["commit"] == results["provenance"]["commit"] and record["wallSeconds"]["total"] > 0
    assert record["config"]["profile"] == "smoke" and "gpus" in record["machine"]
    assert verify(target) == []

    edited = json.loads((target / "results.json").read_text())
    edited["verdict"] = "The metadata helps."
    (target / "results.json").write_text(json.dumps(edited))
    (target / "notes.txt").write_text("added by hand")
    (target / "train" / "fold0" / "seed1234" / "control" / "history.json").unlink()
    assert verify(target) == ["notes.txt: not produced by the run (not in PROVENANCE.json)",
                              "results.json: changed since it was promoted",
                              "train/fold0/seed1234/control/history.json: missing"]


def test_committed_reference_results_are_exactly_what_a_run_promoted():
    reference = ROOT / REFERENCE_DIR
    if reference.exists():
        assert verify(reference) == []
    else:
        # None committed yet (the reference run needs a GPU): then nothing may sit in its place either.
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
