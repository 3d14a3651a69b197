"""The run folder's layout: one module names every path, refuses folders of another layout, and the
experiment core refuses a design it cannot run before any work starts."""

from __future__ import annotations

import json

import pytest

from commentslab.services.common.config import load_config
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import LAYOUT_VERSION, Job, RunLayout
from commentslab.services.pipeline.experiment import check_design, plan_jobs


def test_every_job_has_its_own_folders_even_in_a_one_fold_one_seed_run(tmp_path):
    layout = RunLayout(tmp_path)
    job = Job(0, 1234, "params-only")
    assert layout.checkpoint(job) == tmp_path / "train" / "fold0" / "seed1234" / "params-only" / "checkpoint"
    assert layout.history(job).name == "history.json" and layout.history(job).parent == layout.train_dir(job)
    assert layout.scores(job) == tmp_path / "scores" / "fold0" / "seed1234" / "params-only.jsonl"
    assert layout.completions(job).parent == layout.generations_dir(job)
    assert layout.rows(0, "control") == tmp_path / "split" / "datasets" / "control" / "test.jsonl"
    assert RunLayout(tmp_path, folds=3).rows(2, "control") == (
        tmp_path / "split" / "folds" / "2" / "datasets" / "control" / "test.jsonl")
    assert layout.split_report == RunLayout(tmp_path, folds=3).split_report == tmp_path / "split" / "split_report.json"
    assert layout.relative(layout.checkpoint(job)) == "train/fold0/seed1234/params-only/checkpoint"


def test_histories_are_found_per_job_and_in_job_order(tmp_path):
    layout = RunLayout(tmp_path, folds=2)
    jobs = [Job(1, 7, "control"), Job(0, 7, "experiment"), Job(0, 7, "control")]
    for job in jobs:
        layout.history(job).parent.mkdir(parents=True)
        layout.history(job).write_text("[]")
    # MLflow keeps copies of history.json in its artifact folders; those are not jobs.
    (tmp_path / "train" / "fold0" / "seed7" / "mlartifacts" / "1" / "x").mkdir(parents=True)
    (tmp_path / "train" / "fold0" / "seed7" / "mlartifacts" / "1" / "x" / "history.json").write_text("[]")
    assert [job for job, _ in layout.histories()] == sorted(jobs)


def test_a_job_string_names_fold_seed_and_arm_or_says_the_form():
    assert Job.parse("1/99/text-only") == Job(1, 99, "text-only")
    assert Job(1, 99, "text-only").key == "1/99/text-only"
    with pytest.raises(InputError, match="fold/seed/arm"):
        Job.parse("control")


def test_a_folder_of_an_older_layout_is_refused_with_the_way_out(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    (tmp_path / "train" / "control").mkdir(parents=True)
    with pytest.raises(InputError, match="older layout.*new --out folder"):
        RunLayout(tmp_path).claim()
    with pytest.raises(InputError, match="no layout.json"):
        RunLayout.open(tmp_path)


def test_a_run_folder_is_resumed_only_with_the_same_number_of_folds(tmp_path):
    RunLayout(tmp_path, folds=2).claim()
    assert json.loads((tmp_path / "layout.json").read_text()) == {"layoutVersion": LAYOUT_VERSION, "folds": 2}
    RunLayout(tmp_path, folds=2).claim()  # the same design resumes
    assert RunLayout.open(tmp_path).folds == 2
    with pytest.raises(InputError, match="2 fold.*data.folds"):
        RunLayout(tmp_path, folds=5).claim()
    (tmp_path / "layout.json").write_text(json.dumps({"layoutVersion": 1}))
    with pytest.raises(InputError, match="layoutVersion 1"):
        RunLayout.open(tmp_path)


def test_the_plan_has_one_job_per_fold_seed_and_arm():
    cfg = load_config("smoke", ["data.folds=2", "seeds=[1, 2]", "data.arms=[control, experiment, placebo]"])
    jobs = plan_jobs(cfg)
    assert len(jobs) == 12 and len(set(jobs)) == 12
    assert jobs[0] == Job(0, 1, "control") and jobs[-1] == Job(1, 2, "placebo")


@pytest.mark.parametrize(("overrides", "named"), [
    (["data.arms=[control, nonsense]"], "nonsense"),
    (["data.arms=[experiment, placebo]"], "data.arms"),
    (["seeds=[1, 1]"], "seeds"),
])
def test_a_design_the_comparison_cannot_use_is_refused_before_any_work(overrides, named):
    with pytest.raises(InputError, match=named):
        check_design(load_config("smoke", overrides))


def test_more_folds_than_the_records_allow_stops_at_the_split_naming_the_setting(tmp_path, humaneval_records):
    from commentslab.services.common.artifacts import write_jsonl
    from commentslab.services.pipeline.experiment import StepClock, split_step
    from commentslab.services.pipeline.steps import LocalSteps

    records = tmp_path / "records.jsonl"
    write_jsonl(records, humaneval_records[:3])
    cfg = load_config("smoke", ["data.folds=5"])
    with pytest.raises(InputError, match="folds.*5 folds need at least 5"):
        split_step(LocalSteps(), StepClock(), records, RunLayout(tmp_path / "run", 5), cfg)


def test_a_step_skipped_on_a_resume_reports_the_seconds_it_took_when_it_ran(tmp_path, monkeypatch):
    from commentslab.services.common.artifacts import COMMIT_VARIABLE
    from commentslab.services.pipeline import experiment
    from commentslab.services.pipeline.experiment import StepClock

    monkeypatch.setenv(COMMIT_VARIABLE, "0" * 40)  # a clean commit's code: a dirty tree never reuses a step
    now = [10.0]
    monkeypatch.setattr(experiment.time, "perf_counter", lambda: now[0])

    def generate() -> dict:
        now[0] += 42.5  # the step takes 42.5 s
        return {"rows": 3}

    first = StepClock()
    assert first.run("generate:0/1/control", tmp_path, {}, {"n": 1}, generate) == {"rows": 3}
    assert first.seconds == {"generate:0/1/control": 42.5} and first.skipped == []

    def must_not_run() -> dict:
        raise AssertionError("a step whose manifest matches is not run again")

    resumed = StepClock()  # a later session: the step's output is there
    assert resumed.run("generate:0/1/control", tmp_path, {}, {"n": 1}, must_not_run) == {"rows": 3}
    assert resumed.seconds == {"generate:0/1/control": 42.5} and resumed.skipped == ["generate:0/1/control"]
