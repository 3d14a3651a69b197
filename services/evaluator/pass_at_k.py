"""Unbiased pass@k estimator (Chen et al., 2021, "Evaluating Large Language Models Trained on Code")."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """pass@k of one problem from n samples of which c passed: 1 - C(n - c, k) / C(n, k).

    Computed as (C(n, k) - C(n - c, k)) / C(n, k) in integers, one correctly rounded division (no
    overflow: Python's integers are exact), and 1.0 when n - c < k. Plain Python, so scoring a batch
    does not import numpy.
    """
    if n - c < k:
        return 1.0
    total = math.comb(n, k)
    return (total - math.comb(n - c, k)) / total


def estimate_pass_at_k(
    num_samples: int | Sequence[int] | np.ndarray,
    num_correct: Sequence[int] | np.ndarray,
    k: int,
) -> np.ndarray:
    """Estimate pass@k for each problem from n samples of which c passed.

    pass@k = 1 - C(n - c, k) / C(n, k), computed exactly by `pass_at_k`, and 1.0 when n - c < k.

    ``num_samples`` is one n for every problem or one n per problem; ``num_correct`` holds c per
    problem. Returns a float array with one estimate per problem. Raises ``ValueError`` when
    k < 1, k > n, c < 0 or c > n, or when the per-problem vectors differ in length.
    """
    import numpy as np

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if isinstance(num_samples, int | np.integer):
        samples = itertools.repeat(int(num_samples), len(num_correct))
    else:
        if len(num_samples) != len(num_correct):
            raise ValueError(
                f"num_samples has {len(num_samples)} entries but num_correct has {len(num_correct)}"
            )
        samples = iter(num_samples)
    estimates = []
    for index, (n, c) in enumerate(zip(samples, num_correct, strict=True)):
        n, c = int(n), int(c)
        if not 0 <= c <= n:
            raise ValueError(f"problem {index}: num_correct={c} must lie in [0, num_samples={n}]")
        if k > n:
            raise ValueError(f"problem {index}: pass@{k} needs at least {k} samples, got {n}")
        estimates.append(pass_at_k(n, c, k))
    return np.array(estimates, dtype=float)
