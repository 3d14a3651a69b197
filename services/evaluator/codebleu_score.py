"""CodeBLEU (Ren et al., 2020) from the `codebleu` package: n-gram, weighted n-gram, syntax and data-flow match.

The score is the equal-weight mean of the four components the package computes. The package's own
total counts a data-flow match of 0 as 1 (`theta * (dataflow_match_score or 1)`), which gives any
output, even random text, at least 0.25; the mean of the components does not.

Completions are function bodies: both sides are dedented so that tree-sitter parses them as code.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Sequence

LANGUAGES = ("python", "javascript")
WEIGHTS = (0.25, 0.25, 0.25, 0.25)
_COMPONENTS = ("ngram_match_score", "weighted_ngram_match_score", "syntax_match_score", "dataflow_match_score")


class _DropDegenerateDataflowWarning(logging.Filter):
    """The package logs one warning per pair whose reference has no data flow; the score already says so."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "data-flow match score degenerates" not in record.getMessage()


logging.getLogger().addFilter(_DropDegenerateDataflowWarning())


def codebleu_scores(generated: Sequence[str], reference: Sequence[str], language: str = "python") -> list[float]:
    """CodeBLEU of each (generated[i], reference[i]) pair, in [0, 1]: the mean of its four components.

    Raises ``ValueError`` when the lists differ in length or the language has no grammar here.
    An empty generation scores 0.
    """
    if len(generated) != len(reference):
        raise ValueError(f"generated has {len(generated)} texts but reference has {len(reference)}")
    if language not in LANGUAGES:
        raise ValueError(f"CodeBLEU is set up for {', '.join(LANGUAGES)}, not {language!r}")
    from codebleu import calc_codebleu

    scores = []
    for candidate, target in zip(generated, reference, strict=True):
        if not candidate.strip():
            scores.append(0.0)
            continue
        parts = calc_codebleu([textwrap.dedent(target)], [textwrap.dedent(candidate)], lang=language)
        scores.append(float(sum(w * parts[c] for w, c in zip(WEIGHTS, _COMPONENTS, strict=True))))
    return scores
