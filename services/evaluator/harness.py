"""The evaluator: score one arm's completions on the test problems.

Pure over its ports: `run_programs` (the sandbox), `similarity` (embeddings) and `codebleu` are
passed in, so the same code scores through gRPC in the pipeline and in-process in the CLI and the
tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from commentslab.services.evaluator.codebleu_score import LANGUAGES as CODEBLEU_LANGUAGES
from commentslab.services.evaluator.match import ast_match, exact_match
from commentslab.services.evaluator.pass_at_k import estimate_pass_at_k
from commentslab.services.sandbox.execute import humaneval_program
from commentslab.services.sandbox.js_program import is_js_tests, record_program

METRICS = ("pass@1", "exact_match", "ast_match", "semantic_similarity", "codebleu")
# results.json's per-problem key of each metric.
METRIC_KEYS = {"exact_match": "exactMatch", "ast_match": "astMatch", "semantic_similarity": "semanticSimilarity"}

# (programs, their sandbox language) -> one {"status", "attempts", "timedOutAttempts", "message"} per program, in
# order; "message" (failure_message) is optional
RunPrograms = Callable[[list[str], str], list[dict]]
PairScores = Callable[[list[str], list[str]], list[float]]


def failure_message(stderr: str, status: str) -> str | None:
    """What a reader needs of a failed program's output: the failing test's line and the exception it raised
    ("assert candidate([1.0, 2.0], 0.5) == True → AssertionError"), else the last line of its output, else
    the status ("timeout"). None for a passed program."""
    if status == "passed":
        return None
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    if not lines:
        return status
    last = lines[-1].strip()[:300]
    # A Python traceback's last frame: '  File "...", line N, in check' followed by its source line.
    frames = [i for i, line in enumerate(lines[:-1]) if line.lstrip().startswith('File "')]
    if frames and frames[-1] + 1 < len(lines) - 1:
        return f"{lines[frames[-1] + 1].strip()[:300]} → {last}"
    return last


def program_for(row: dict, completion: str) -> str:
    """The program the sandbox runs: the plain prompt (never the metadata) + completion + the tests.

    Python: the HumanEval program (`check(entry_point)` after the tests). JavaScript/TypeScript: the
    row's own test files run against its module with the completion in place of the function's body
    (services/sandbox/js_program.py).
    """
    if is_js_tests(row["tests"]):
        return record_program(row, completion)
    return humaneval_program(row["prompt"], completion, row["tests"], row["entryPoint"])


def sandbox_language(row: dict) -> str:
    """The sandbox language `program_for(row, ...)` is written in."""
    return "javascript" if is_js_tests(row.get("tests")) else "python"


def run_in_sandbox(programs: Sequence[tuple[str, str]], run_programs: RunPrograms) -> list[dict]:
    """Run (language, program) pairs, one `run_programs` call per language; results in input order."""
    results: list[dict | None] = [None] * len(programs)
    for language in dict.fromkeys(language for language, _ in programs):
        indices = [i for i, (lang, _) in enumerate(programs) if lang == language]
        for index, result in zip(indices, run_programs([programs[i][1] for i in indices], language), strict=True):
            results[index] = result
    return results  # type: ignore[return-value]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / max(len(values), 1)


def score_arm(
    rows: Sequence[dict],
    completions: Sequence[Sequence[str]],
    run_programs: RunPrograms,
    similarity: PairScores | None,
    ks: Sequence[int] = (1,),
    codebleu: Callable[[list[str], list[str], str], list[float]] | None = None,
) -> list[dict]:
    """Per-problem scores of one arm: statuses, pass@k, exact, AST and semantic match, CodeBLEU, averaged over samples.

    pass@k is the unbiased estimator over the problem's n samples (present when the problem has
    tests and n >= k). Greedy functional correctness is pass@1 with n = 1.
    """
    if len(rows) != len(completions):
        raise ValueError(f"{len(rows)} test rows but {len(completions)} completion lists")
    testable = [i for i, r in enumerate(rows) if r.get("tests") and r.get("entryPoint")]
    programs, owners = [], []
    for i in testable:
        for completion in completions[i]:
            programs.append((sandbox_language(rows[i]), program_for(rows[i], completion)))
            owners.append(i)
    runs: dict[int, list[dict]] = {i: [] for i in range(len(rows))}
    for owner, run in zip(owners, run_in_sandbox(programs, run_programs), strict=True):
        runs[owner].append(run)
    flat_generated = [c for cs in completions for c in cs]
    flat_reference = [rows[i]["completion"] for i, cs in enumerate(completions) for _ in cs]
    sims = similarity(flat_generated, flat_reference) if similarity and flat_generated else None
    out, cursor = [], 0
    for i, row in enumerate(rows):
        samples = list(completions[i])
        n = len(samples)
        language = row.get("language") or "python"
        statuses = [r["status"] for r in runs[i]]
        passed = [s == "passed" for s in statuses]
        entry = {
            "completions": samples,
            "statuses": statuses,
            "passed": passed,
            "timedOutAttempts": [r.get("timedOutAttempts", 0) for r in runs[i]],
            # Each sample's failing test and error (None where it passed), for the comparison view.
            "failures": [r.get("message") for r in runs[i]],
            "exactMatch": _mean([exact_match(c, row["completion"]) for c in samples]),
            "astMatch": _mean([ast_match(row["prompt"], c, row["completion"], language) for c in samples]),
        }
        for k in ks:
            if passed and k <= n:
                entry[f"pass@{k}"] = float(estimate_pass_at_k([n], [sum(passed)], k)[0])
        if sims is not None:
            entry["semanticSimilarity"] = _mean(sims[cursor : cursor + n])
        # The codebleu package has no TypeScript grammar: TS problems carry no CodeBLEU rather than a wrong one.
        if codebleu is not None and samples and language in CODEBLEU_LANGUAGES:
            entry["codebleu"] = _mean(codebleu(samples, [row["completion"]] * n, language))
        cursor += n
        out.append(entry)
    return out


def metric_vector(problems: Sequence[dict], metric: str) -> list[float]:
    """One arm's per-problem values of a metric (problems without the metric are skipped by the caller)."""
    key = METRIC_KEYS.get(metric, metric)
    return [float(p[key]) for p in problems if key in p]


def has_metric(problem: dict, metric: str) -> bool:
    """Whether a scored problem carries a value of the metric."""
    return METRIC_KEYS.get(metric, metric) in problem


def aggregate(problems: Sequence[dict], metrics: Sequence[str]) -> dict[str, float]:
    """Mean of each metric over the problems that have it."""
    out = {}
    for metric in metrics:
        values = metric_vector(problems, metric)
        if values:
            out[metric] = sum(values) / len(values)
    return out


def improvement(control: dict[str, float], experiment: dict[str, float]) -> dict[str, dict]:
    """Absolute and relative change of each metric (relative is null when control is 0)."""
    out = {}
    for metric, base in control.items():
        if metric in experiment:
            diff = experiment[metric] - base
            out[metric] = {"absolute": diff, "relative": diff / base if base else None}
    return out
