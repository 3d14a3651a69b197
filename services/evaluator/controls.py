"""Controls of an evaluation, as a laboratory runs them: known answers through the very sandbox that scores the arms.

Positive control: each test problem's reference solution must pass its tests. Negative control: an
empty body (`pass` in Python, the closing brace alone in JavaScript, so the function returns
None or undefined) must fail them. A sandbox that cannot run
programs fails the first; one that passes whatever it is given fails the second; a problem whose
tests accept an empty body cannot tell a right completion from a wrong one. Any of these makes the
arms' scores meaningless, so the evaluation stops and names the problems.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from commentslab.services.common.errors import ControlsFailed
from commentslab.services.evaluator.harness import RunPrograms, program_for, run_in_sandbox, sandbox_language
from commentslab.services.sandbox import js_program

# The body that does nothing: the function returns None. Indented as HumanEval completions are.
EMPTY_BODY = "    pass\n"
EMPTY_BODIES = {"python": EMPTY_BODY, "javascript": js_program.EMPTY_BODY}
# Failing ids named in an error message (all of them are in the report).
_NAMED = 10


def _row_id(row: dict, index: int) -> str:
    return str(row.get("id") or row.get("task_id") or row.get("taskId") or index)


def run_controls(rows: Sequence[dict], run_programs: RunPrograms) -> dict:
    """Run every testable row's reference solution and an empty body; the report for results.json.

    `rows` are test rows (`prompt`, `completion` = the reference solution, `tests`, `entryPoint`, and
    an `id`); rows without tests are not controls. `run_programs` is the sandbox the arms are scored
    in. Returns {"positive": {...}, "negative": {...}} with counts, statuses and failing ids; raises
    ControlsFailed (carrying that report) when a reference solution does not pass or an empty body
    does not fail.
    """
    testable = [(i, row) for i, row in enumerate(rows) if row.get("tests") and row.get("entryPoint")]
    ids = [_row_id(row, i) for i, row in testable]
    programs = [(sandbox_language(row), program_for(row, row["completion"])) for _, row in testable]
    programs += [(sandbox_language(row), program_for(row, EMPTY_BODIES[sandbox_language(row)])) for _, row in testable]
    runs = run_in_sandbox(programs, run_programs)
    if len(runs) != len(programs):
        raise ControlsFailed(f"the sandbox answered {len(runs)} of {len(programs)} control programs", {})
    positive_statuses = [r["status"] for r in runs[: len(testable)]]
    negative_statuses = [r["status"] for r in runs[len(testable):]]
    report = {
        "positive": {
            "what": "reference solution must pass",
            "problems": len(testable),
            "passed": positive_statuses.count("passed"),
            "statuses": dict(Counter(positive_statuses)),
            "failingIds": [i for i, s in zip(ids, positive_statuses, strict=True) if s != "passed"],
        },
        "negative": {
            "what": "empty body must fail",
            "problems": len(testable),
            "notPassed": len(negative_statuses) - negative_statuses.count("passed"),
            "statuses": dict(Counter(negative_statuses)),
            "failingIds": [i for i, s in zip(ids, negative_statuses, strict=True) if s == "passed"],
        },
    }
    problems = []
    for name, verdict in (("reference solutions did not pass", "positive"), ("empty bodies passed", "negative")):
        failing = report[verdict]["failingIds"]
        if failing:
            named = ", ".join(failing[:_NAMED]) + (f" and {len(failing) - _NAMED} more" if len(failing) > _NAMED else "")
            problems.append(f"{len(failing)} of {len(testable)} {name} ({named}; statuses "
                            f"{report[verdict]['statuses']})")
    if problems:
        raise ControlsFailed("controls failed: " + "; ".join(problems), report)
    return report
