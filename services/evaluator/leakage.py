"""Leakage audit: does metadata shown at test time repeat the code the model must write?"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")


def code_tokens(text: str) -> list[str]:
    """Identifiers, numbers and single punctuation characters, in order."""
    return _TOKEN.findall(text)


def ngram_overlap(metadata: str, target: str, n: int = 5) -> float:
    """Share of the target's token n-grams that also occur in the metadata text (0 when it has none)."""
    target_tokens, metadata_tokens = code_tokens(target), code_tokens(metadata)
    target_grams = {tuple(target_tokens[i : i + n]) for i in range(len(target_tokens) - n + 1)}
    if not target_grams:
        return 0.0
    metadata_grams = {tuple(metadata_tokens[i : i + n]) for i in range(len(metadata_tokens) - n + 1)}
    return len(target_grams & metadata_grams) / len(target_grams)


def metadata_text(row: dict) -> str:
    """Everything of a row's metadata a template could show: comment text, params and AI metadata values."""
    metadata = row.get("metadata") or {}
    parts = [str(metadata.get("text") or "")]
    parts += [f"{k} {v}" for k, v in (metadata.get("params") or {}).items()]
    parts.append(str(metadata.get("aiMetadata") or ""))
    return "\n".join(parts)


def leakage_audit(rows: Sequence[dict], test_metadata: str, n: int = 5, threshold: float = 0.2) -> dict:
    """Flag test rows whose metadata repeats their target completion (token n-gram overlap >= threshold).

    Audits the metadata whether or not the test prompts show it, and says which: with
    ``test_metadata="none"`` a flagged row cannot leak (the prompt carries no metadata), with
    ``"rendered"`` it does. Returns {"testMetadata", "n", "threshold", "rows", "flagged": [{"id",
    "overlap"}], "flaggedShare", "maxOverlap", "leaks"}.
    """
    flagged, worst = [], 0.0
    for row in rows:
        overlap = ngram_overlap(metadata_text(row), row.get("completion") or "", n)
        worst = max(worst, overlap)
        if overlap >= threshold:
            flagged.append({"id": row.get("id"), "overlap": round(overlap, 4)})
    return {
        "testMetadata": test_metadata,
        "n": n,
        "threshold": threshold,
        "rows": len(rows),
        "flagged": flagged,
        "flaggedShare": len(flagged) / len(rows) if rows else 0.0,
        "maxOverlap": worst,
        "leaks": bool(flagged) and test_metadata != "none",
    }
