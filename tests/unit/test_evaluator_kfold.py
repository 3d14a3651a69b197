"""k folds x several training seeds, end to end: every problem tested once per seed, the comparison over both."""

import json
import shutil

import pytest

from commentslab.services.common.config import load_config
from commentslab.services.evaluator.report import validate_results
from commentslab.services.pipeline.run import run_experiment
from commentslab.services.pipeline.steps import LocalSteps

pytestmark = pytest.mark.slow
PROBLEMS = 12


@pytest.fixture(scope="module")
def small_repo(humaneval_repo, tmp_path_factory):
    """The first 12 HumanEval problems as an annotated repository."""
    repo = tmp_path_factory.mktemp("small") / "repo"
    (repo / "problems").mkdir(parents=True)
    (repo / "tests").mkdir()
    for name in ("LICENSE", "README.md"):
        shutil.copy(humaneval_repo / name, repo / name)
    modules = sorted(p for p in (humaneval_repo / "problems").glob("*.py"))[:PROBLEMS]
    for module in modules:
        shutil.copy(module, repo / "problems" / module.name)
        shutil.copy(module.with_name(module.name + ".comments"), repo / "problems" / (module.name + ".comments"))
        shutil.copy(humaneval_repo / "tests" / f"test_{module.name}", repo / "tests" / f"test_{module.name}")
    return repo


def test_two_folds_and_two_seeds_test_every_problem_once_per_seed(small_repo, tmp_path):
    cfg = load_config("smoke", ["data.folds=2", "seeds=[11, 12]", "train.steps=1", "generate.n=2", "evaluate.k=[1, 2]",
                                "generate.max_new_tokens=8", "evaluate.semantic_similarity=false"])

    results = run_experiment(LocalSteps(), cfg, tmp_path / "run", small_repo)

    validate_results(json.loads((tmp_path / "run" / "results.json").read_text()))
    ids = [p["id"] for p in results["problems"]]
    assert len(ids) == len(set(ids)) == PROBLEMS
    assert sorted({p["fold"] for p in results["problems"]}) == [0, 1]
    assert results["evaluation"] == {"problems": PROBLEMS, "samples": 2, "seeds": 2, "folds": 2,
                                     "testMetadata": "none", "k": [1, 2], "alpha": 0.05}
    # pass@k is compared for every k asked for (the reference design's pass@10 the same way).
    assert results["metrics"][:2] == ["pass@1", "pass@2"] and "pass@2" in results["significance"]
    assert all(0 <= p[arm]["pass@2"] <= 1 for p in results["problems"] for arm in ("control", "experiment"))
    for entry in results["significance"].values():
        assert entry["seeds"] == 2 and entry["n"] == PROBLEMS
        assert entry["primaryTest"] == "problems-and-seeds t-test"
        assert len(entry["seedSummary"]["perSeed"]) == 2
    runs = results["training"]["control"]["runs"]
    assert sorted((r["fold"], r["seed"]) for r in runs) == [(0, 11), (0, 12), (1, 11), (1, 12)]
    assert len({r["checkpoint"] for r in runs}) == 4
    assert all(len(p["control"]["seedScores"]) == 2 for p in results["problems"])
    # Generations are stored with what made them, so the run can be re-scored without generating.
    manifest = json.loads((tmp_path / "run" / "generations" / "fold1" / "seed12" / "experiment" / "manifest.json")
                          .read_text())
    assert manifest["config"]["seed"] == 12 and manifest["config"]["checkpointHash"]
    assert {"promptsHash", "decoding", "libraries"} <= set(manifest["config"])
