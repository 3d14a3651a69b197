"""`commentslab plan`: the power plan from a finished run's outcomes and step times."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from commentslab.services.cli import main
from commentslab.services.common.layout import Job, RunLayout
from commentslab.services.stats.plan import (
    Design,
    StepCosts,
    cheapest_design,
    design_mdd,
    mdd_floor,
    step_costs,
)
from commentslab.services.stats.power import VarianceComponents
from commentslab.services.stats.variance import MEASURED, ComponentEstimate

ARMS = ("control", "experiment", "placebo")
# Seconds per training job and per problem-sample of generation and scoring, the same for every arm.
TRAIN_SECONDS, GENERATE_SECONDS, EVALUATE_SECONDS = 400.0, 2.0, 0.5


def write_run(root: Path, problems_per_fold: int = 30, folds: int = 2, seeds: tuple[int, ...] = (1, 2),
              samples: int = 4, seed: int = 0) -> Path:
    """A finished run folder: simulated pass/fail outcomes in the run layout, and results.json's design and times."""
    rng = np.random.default_rng(seed)
    layout = RunLayout(root, folds)
    layout.claim()
    wall = {"corpus": 0.1, "total": 1.0}
    for fold in range(folds):
        base = rng.uniform(0.1, 0.9, problems_per_fold)
        effect = rng.uniform(-0.1, 0.1, problems_per_fold)
        for s in seeds:
            for arm in ARMS:
                p = np.clip(base + (effect if arm == "experiment" else 0) + rng.uniform(-0.05, 0.05), 0, 1)
                rows = [{"id": f"p{fold}-{i}", "passed": [bool(x) for x in rng.random(samples) < p[i]],
                         "statuses": ["passed"] * samples} for i in range(problems_per_fold)]
                path = layout.scores(Job(fold, s, arm))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
                key = f"{fold}/{s}/{arm}"
                wall[f"train:{key}"] = TRAIN_SECONDS
                wall[f"generate:{key}"] = GENERATE_SECONDS * problems_per_fold * samples
                wall[f"evaluate:{key}"] = EVALUATE_SECONDS * problems_per_fold * samples
    results = {"arms": list(ARMS), "evaluation": {"alpha": 0.05},
               "config": {"seeds": list(seeds), "seed": seeds[0], "generate": {"n": samples},
                          "data": {"arms": list(ARMS), "folds": folds}},
               "provenance": {"wallSeconds": wall}}
    layout.results.write_text(json.dumps(results), encoding="utf-8")
    return root


def estimate(heterogeneity: float = 0.01) -> ComponentEstimate:
    components = VarianceComponents(within=0.15, heterogeneity=heterogeneity, seed_problem=0.01, seed_shift=0.0004)
    return ComponentEstimate(components, dict.fromkeys(("within", "heterogeneity", "seed_problem", "seed_shift"),
                                                       MEASURED),
                             degrees_of_freedom={}, between_problems=0.08, pass_rate=0.4, problems=60, samples=4, seeds=2, folds=2)


def test_step_costs_are_per_training_job_and_per_problem_sample_and_skip_resumed_steps():
    wall = {"train:0/1/control": 100.0, "train:1/1/control": 300.0, "generate:0/1/control": 40.0,
            "generate:1/1/control": 0.0, "evaluate:0/1/control": 8.0, "evaluate:1/1/control": 12.0, "total": 9.0}
    costs = step_costs(wall, {0: 10, 1: 10}, samples=2)
    assert costs.train == {"control": 200.0}
    assert costs.generate == {"control": 40.0 / 20}  # fold 1's generation was skipped (0 s): not a cost
    assert costs.evaluate == {"control": 20.0 / 40}
    assert costs.borrowed == {}
    # every train step of experiment skipped on resumes: it takes control's cost, and the plan says so
    resumed = step_costs({**wall, "train:0/1/experiment": 0.0, "generate:0/1/experiment": 5.0,
                          "evaluate:0/1/experiment": 5.0}, {0: 10, 1: 10}, 2)
    assert resumed.train == {"control": 200.0, "experiment": 200.0}
    assert resumed.generate["experiment"] == 5.0 / 20 and resumed.borrowed == {"train": ["experiment"]}
    with pytest.raises(ValueError, match="no timed train step of any arm"):
        step_costs({k: v for k, v in wall.items() if not k.startswith("train")}, {0: 10, 1: 10}, 2)


def test_design_hours_count_every_arm_training_generation_and_scoring():
    costs = StepCosts(train={"a": 3600.0, "b": 3600.0}, generate={"a": 1.0, "b": 1.0}, evaluate={"a": 0.0, "b": 1.0})
    # a: 5 folds x 2 seeds x 1 h + 2 x 100 x 3 x 1 s; b: the same plus 600 s of scoring
    assert costs.hours(Design(problems=100, folds=5, seeds=2, samples=3)) == pytest.approx(20 + 1200 / 3600 + 600 / 3600)


def test_cheapest_design_reaches_the_target_at_the_lowest_cost_and_none_below_the_floor():
    est = estimate()
    costs = StepCosts(train={"control": 400.0}, generate={"control": 2.0}, evaluate={"control": 0.5})
    designs = [Design(164, f, s, n) for f in (5, 10) for s in (1, 2, 3, 5) for n in (1, 4, 10)]
    design, mdd, hours = cheapest_design(est, costs, 0.10, designs)
    assert mdd <= 0.10 and hours == pytest.approx(costs.hours(design))
    cheaper = [d for d in designs if costs.hours(d) < hours]
    assert cheaper and all(design_mdd(est, d) > 0.10 for d in cheaper)
    floor = mdd_floor(est, 164)
    assert cheapest_design(est, costs, floor * 0.99, designs) is None
    assert floor == pytest.approx(2.8016 * np.sqrt(0.01 / 164), rel=1e-3)


def test_plan_prints_measured_components_the_run_mdd_candidates_and_the_cheapest_design(tmp_path, capsys):
    run = write_run(tmp_path / "run")
    assert main(["plan", "--from", str(run), "--target-mdd", "15"]) == 0
    out = capsys.readouterr().out
    assert "60 problems, 2 fold(s), 2 seed(s), 4 sample(s) per problem" in out
    assert "ASSUMED" not in out and "Not measured" not in out
    assert "a seed's shift of the pass rate (b)" in out and "measured (2 degrees of freedom)" in out
    assert "This run's design: MDD" in out
    # 3 arms x 2 folds x 2 seeds x (400 s + 30 problems x 4 samples x 2.5 s) = 8400 s
    assert "2.33 machine-hours from its own step times" in out
    assert "Target 15.0 points: cheapest is" in out


def test_plan_says_which_components_it_assumed_for_one_seed_and_one_sample(tmp_path, capsys):
    run = write_run(tmp_path / "run", seeds=(7,), samples=1)
    assert main(["plan", "--from", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.count("ASSUMED") == 3  # w, u, b; h is measured after taking off the assumed u
    assert "measured in part" in out and "after taking off the assumed seed-by-problem variance" in out
    assert "one sample per problem cannot tell sampling noise" in out
    assert "one training seed shows no seed-to-seed shift" in out
    assert "DesignAssumptions (services/stats/power.py)" in out


def test_plan_with_an_unreachable_target_says_it_takes_more_problems(tmp_path, capsys):
    run = write_run(tmp_path / "run")
    assert main(["plan", "--from", str(run), "--target-mdd", "0.5"]) == 0
    assert "so it takes more problems" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--target-mdd", "0"], "--target-mdd: 0.0: give points of pass@1 between 0 and 100"),
    (["--problems", "1"], "--problems: 1: plan for at least 2 problems"),
])
def test_plan_refuses_bad_options_naming_them(tmp_path, capsys, argv, message):
    run = write_run(tmp_path / "run")
    assert main(["plan", "--from", str(run), *argv]) == 3
    assert message in capsys.readouterr().err


def test_plan_refuses_a_run_with_a_missing_job_naming_the_file(tmp_path, capsys):
    run = write_run(tmp_path / "run")
    missing = RunLayout.open(run).scores(Job(1, 2, "experiment"))
    missing.unlink()
    assert main(["plan", "--from", str(run)]) == 3
    err = capsys.readouterr().err
    assert str(missing) in err and "experiment fold1 seed2" in err


def test_plan_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["plan", "--from", str(tmp_path)]) == 3
    assert "no layout.json" in capsys.readouterr().err


def test_a_run_resumed_across_sessions_takes_each_training_time_from_its_outcome(tmp_path, capsys):
    run = write_run(tmp_path / "run")
    layout = RunLayout.open(run)
    results = json.loads(layout.results.read_text())
    wall = results["provenance"]["wallSeconds"]
    # the last session found every training and control's generations done: they read 0 s in results.json
    for key in [k for k in wall if k.startswith("train:") or k.startswith("generate:") and k.endswith("/control")]:
        wall[key] = 0.0
    layout.results.write_text(json.dumps(results))
    for fold in range(2):
        for s in (1, 2):
            for arm in ARMS:
                outcome = layout.outcome(Job(fold, s, arm))
                outcome.parent.mkdir(parents=True, exist_ok=True)
                outcome.write_text(json.dumps({"wallSeconds": TRAIN_SECONDS}))
    assert main(["plan", "--from", str(run)]) == 0
    out = capsys.readouterr().out
    assert "2.33 machine-hours from its own step times" in out  # the same cost as the run timed in one session
    assert "generate cost of control: the other arms' mean" in out
