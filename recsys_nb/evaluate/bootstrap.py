"""Bootstrap intervals: how sure is a mean over users, or a paired difference between models?

The users scored are a sample; resampling them with replacement (``n_resamples`` times) and
recomputing the mean shows how much the number would move with other users. The interval is the
percentile interval of those means. It makes no normality assumption, which matters for skewed
per-user metrics such as recall on small samples (many zeros, a few ones). Paired: the per-user
differences ``a - b`` are resampled, so the users' shared difficulty cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_nb.evaluate.compare import Difference, paired_values, per_user_values
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.splits import _check_int

#: resamples drawn per block: bounds memory at block x users indices
_BLOCK = 256


@dataclass(frozen=True)
class Interval:
    """A mean over users with its bootstrap interval (``low`` <= ``high``)."""

    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, float | int) or not 0 < level < 1:
        raise ValueError(f"level={level!r} must be a number strictly between 0 and 1, e.g. 0.95")
    return float(level)


def bootstrap_means(values: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The means of ``n_resamples`` resamples (with replacement, same size) of ``values``.

    Deterministic: the same ``seed`` draws the same resamples.

    Raises:
        ValueError: no values, ``n_resamples`` not an integer >= 1.
    """
    values = np.asarray(values, dtype=np.float64)
    n_resamples = _check_int("n_resamples", n_resamples, 1)
    if values.ndim != 1 or not values.size:
        raise ValueError(f"values has shape {values.shape}; pass one value per user (>= 1 user)")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for lo in range(0, n_resamples, _BLOCK):
        hi = min(lo + _BLOCK, n_resamples)
        means[lo:hi] = values[rng.integers(0, values.size, (hi - lo, values.size))].mean(axis=1)
    return means


def _interval(values: np.ndarray, n_resamples: int, level: float, seed: int) -> Interval:
    level = _check_level(level)
    means = bootstrap_means(values, n_resamples, seed)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(np.mean(values)), float(low), float(high))


def bootstrap_interval(result: EvaluationResult, metric: str, n_resamples: int = 1000,
                       level: float = 0.95, seed: int = 0) -> Interval:
    """The mean of ``metric`` over ``result``'s users with a percentile bootstrap interval.

    Any per-user column works: recall@K, ndcg@K, ... and those added by
    :meth:`EvaluationResult.with_per_user` (diversity@K, novelty@K).

    Raises:
        ValueError: an unknown metric (the available ones named), ``level`` outside (0, 1),
            ``n_resamples`` < 1.
    """
    return _interval(per_user_values(result, metric), n_resamples, level, seed)


def paired_bootstrap(a: EvaluationResult, b: EvaluationResult, metric: str,
                     n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> Difference:
    """Mean per-user ``a - b`` of ``metric`` with a bootstrap interval of the paired
    differences (the same :class:`~recsys_nb.evaluate.Difference` as
    :func:`~recsys_nb.evaluate.paired_difference`, so :func:`~recsys_nb.evaluate.verdict`
    reads it).

    Raises:
        ValueError: different users, an unknown metric, a bad ``level`` / ``n_resamples``.
    """
    d = paired_values(a, b, metric)
    iv = _interval(d, n_resamples, level, seed)
    return Difference(metric, iv.mean, iv.low, iv.high, len(d))
