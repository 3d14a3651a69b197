"""Which per-problem rows a comparison page asks for: a search by problem, an arm's outcome, a fold, and
disagreements, applied in one pass over the run's rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from commentslab.services.gateway.results_store import disagrees

OUTCOMES = ("passed", "failed")


@dataclass(frozen=True)
class ProblemQuery:
    """``search``: a piece of the task id, function name or record id (any case); ``outcomes``: (arm,
    "passed" | "failed") pairs every match meets, an arm having passed when any of its samples passed;
    ``fold``: only that fold's test problems; ``disagree_only``: only problems whose arms' outcomes differ."""

    search: str = ""
    outcomes: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    fold: int | None = None
    disagree_only: bool = False

    @classmethod
    def parse_outcome(cls, text: str) -> tuple[str, str]:
        """``"<arm>:passed"`` or ``"<arm>:failed"`` as a pair; ValueError naming the form otherwise."""
        arm, _, result = text.rpartition(":")
        if not arm or result not in OUTCOMES:
            raise ValueError(f"outcome {text!r} must be <arm>:passed or <arm>:failed")
        return arm, result


def matches(problem: dict, arms: list[str], query: ProblemQuery) -> bool:
    """Whether one problem row meets every part of ``query``."""
    if query.fold is not None and problem.get("fold", 0) != query.fold:
        return False
    needle = query.search.strip().lower()
    if needle and not any(needle in str(problem.get(key) or "").lower() for key in ("taskId", "entryPoint", "id")):
        return False
    for arm, result in query.outcomes:
        passed = any((problem.get(arm) or {}).get("passed") or [])
        if passed != (result == "passed"):
            return False
    return not query.disagree_only or disagrees(problem, arms)


def folds_of(problems: list[dict]) -> list[int]:
    """The folds the rows come from, in order (``[0]`` for a single split)."""
    return sorted({int(p.get("fold", 0)) for p in problems})
