"""Bootstrap intervals of a paired mean difference, vectorised over all resamples at once."""

from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 10_000


def bootstrap_interval(
    differences: np.ndarray, resamples: int = DEFAULT_RESAMPLES, level: float = 0.95, seed: int = 0
) -> dict:
    """Percentile bootstrap interval of the mean of ``differences``.

    ``differences`` is one row per training seed and one column per test problem (a 1-D vector is
    one seed). Each resample draws problems with replacement and, when there are several seeds,
    seeds with replacement too (a two-way bootstrap: both are samples from larger populations), and
    takes the mean of the drawn cells. The interval is the (1 - level)/2 and (1 + level)/2 quantiles
    of the resampled means. All resamples are drawn as one count matrix, so 10,000 resamples of 164
    problems take milliseconds.

    Returns ``{"low", "high", "level", "resamples", "method": "percentile", "over"}``. Raises
    ``ValueError`` for an empty input, fewer than 1,000 resamples or a level outside (0, 1).
    """
    matrix = np.atleast_2d(np.asarray(differences, dtype=float))
    seeds, problems = matrix.shape
    if matrix.size == 0:
        raise ValueError("bootstrap needs at least one difference")
    if resamples < 1000:
        raise ValueError(f"use at least 1,000 bootstrap resamples, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    # How often each problem (seed) is drawn in each resample: the mean of the drawn cells is then a
    # weighted sum, one matrix product for all resamples instead of a Python loop.
    problem_counts = rng.multinomial(problems, np.full(problems, 1.0 / problems), size=resamples)
    if seeds > 1:
        seed_counts = rng.multinomial(seeds, np.full(seeds, 1.0 / seeds), size=resamples)
        means = np.einsum("bs,si,bi->b", seed_counts, matrix, problem_counts) / (seeds * problems)
    else:
        means = problem_counts @ matrix[0] / problems
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {
        "low": float(low),
        "high": float(high),
        "level": level,
        "resamples": resamples,
        "method": "percentile",
        "over": "problems and seeds" if seeds > 1 else "problems",
    }
