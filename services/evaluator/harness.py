"""The evaluator: score one arm's completions on the test problems, then compare arms.

Pure over its ports: `run_programs` (the sandbox) and `similarity` (embeddings) are passed in, so the
same code scores through gRPC in the pipeline and in-process in the CLI and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.evaluator.match import ast_match, exact_match
from services.evaluator.pass_at_k import estimate_pass_at_k
from services.sandbox.execute import humaneval_program

METRICS = ("pass@1", "exact_match", "ast_match", "semantic_similarity")

RunPrograms = Callable[[list[str]], list[str]]  # programs -> statuses ("passed", "failed", ...)
Similarity = Callable[[list[str], list[str]], list[float]]


def program_for(row: dict, completion: str) -> str:
    """The program the sandbox runs: the plain prompt (never the metadata) + completion + the tests."""
    return humaneval_program(row["prompt"], completion, row["tests"], row["entryPoint"])


def score_arm(
    rows: Sequence[dict],
    completions: Sequence[Sequence[str]],
    run_programs: RunPrograms,
    similarity: Similarity | None,
    ks: Sequence[int] = (1,),
) -> list[dict]:
    """Per-problem scores of one arm: statuses, pass@k, exact, AST and semantic match, averaged over samples."""
    if len(rows) != len(completions):
        raise ValueError(f"{len(rows)} test rows but {len(completions)} completion lists")
    testable = [i for i, r in enumerate(rows) if r.get("tests") and r.get("entryPoint")]
    programs, owners = [], []
    for i in testable:
        for completion in completions[i]:
            programs.append(program_for(rows[i], completion))
            owners.append(i)
    statuses: dict[int, list[str]] = {i: [] for i in range(len(rows))}
    for owner, status in zip(owners, run_programs(programs) if programs else [], strict=True):
        statuses[owner].append(status)
    flat_generated = [c for cs in completions for c in cs]
    flat_reference = [rows[i]["completion"] for i, cs in enumerate(completions) for _ in cs]
    sims = similarity(flat_generated, flat_reference) if similarity and flat_generated else None
    out, cursor = [], 0
    for i, row in enumerate(rows):
        samples = list(completions[i])
        n = len(samples)
        passed = [s == "passed" for s in statuses[i]]
        entry = {
            "completions": samples,
            "statuses": statuses[i],
            "passed": passed,
            "exactMatch": sum(exact_match(c, row["completion"]) for c in samples) / max(n, 1),
            "astMatch": sum(ast_match(row["prompt"], c, row["completion"]) for c in samples) / max(n, 1),
        }
        for k in ks:
            if passed and k <= n:
                entry[f"pass@{k}"] = float(estimate_pass_at_k([n], [sum(passed)], k)[0])
        if sims is not None:
            entry["semanticSimilarity"] = sum(sims[cursor : cursor + n]) / max(n, 1)
        cursor += n
        out.append(entry)
    return out


def metric_vector(problems: Sequence[dict], metric: str) -> list[float]:
    """One arm's per-problem values of a metric (problems without the metric are skipped by the caller)."""
    key = {"exact_match": "exactMatch", "ast_match": "astMatch", "semantic_similarity": "semanticSimilarity"}.get(
        metric, metric
    )
    return [float(p[key]) for p in problems if key in p]


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
