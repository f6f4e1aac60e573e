"""Paired comparisons: is model A better than model B on the same users, beyond the noise?

Two results scored on the same users give one difference per user; their mean and a 95 %
normal-approximation interval say how large the effect is and how sure we are. A verdict is
stated only when the effect is larger than a tolerance AND the interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_nb.evaluate.results import EvaluationResult

#: verdict words: (A wins, A loses, neither)
CLAIM_WORDS = ("holds", "does not hold", "no measurable effect")
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Difference:
    """Mean per-user difference ``a - b`` of one metric, with its 95 % interval."""

    metric: str
    mean: float
    low: float
    high: float
    n_users: int


def per_user_values(result: EvaluationResult, metric: str) -> np.ndarray:
    """The per-user values of ``metric`` (float64), or a ValueError naming the available ones."""
    if metric not in result.per_user.columns:
        raise ValueError(f"metric {metric!r} is not measured for {result.label!r}; use one of "
                         f"{list(result.per_user.columns)}")
    return result.per_user[metric].to_numpy(dtype=np.float64)


def paired_values(a: EvaluationResult, b: EvaluationResult, metric: str) -> np.ndarray:
    """Per-user ``a - b`` of ``metric``: what every paired comparison averages.

    Raises:
        ValueError: the two results did not score the same users, or ``metric`` is not a
            per-user metric of both (named, with the available ones).
    """
    if not np.array_equal(a.users, b.users):
        raise ValueError(
            f"{a.label!r} and {b.label!r} scored different users ({len(a.users)} vs "
            f"{len(b.users)}); a paired comparison needs the same users: evaluate both on the "
            "same split"
        )
    return per_user_values(a, metric) - per_user_values(b, metric)


def paired_difference(a: EvaluationResult, b: EvaluationResult, metric: str) -> Difference:
    """Per-user ``a - b`` of ``metric`` (e.g. "recall@50"), averaged, with a 95 % interval
    (normal approximation; :func:`~recsys_nb.evaluate.paired_bootstrap` resamples instead).

    Raises:
        ValueError: as :func:`paired_values`.
    """
    d = paired_values(a, b, metric)
    half = 1.96 * d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else math.inf
    mean = float(d.mean())
    return Difference(metric, mean, mean - half, mean + half, len(d))


def verdict(diff: Difference, tolerance: float, words: Sequence[str] = CLAIM_WORDS) -> str:
    """``words[0]`` when ``a`` wins by more than ``tolerance`` and the interval is above 0,
    ``words[1]`` when it loses by more than ``tolerance`` and the interval is below 0, else
    ``words[2]`` (within the tolerance, or within the noise).

    Raises:
        ValueError: a negative or non-finite tolerance, or not three words.
    """
    if isinstance(tolerance, bool) or not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance={tolerance!r} must be a finite number >= 0, e.g. 0.005")
    if len(words) != 3:
        raise ValueError(f"words={words!r} must be three: (wins, loses, neither)")
    if diff.mean > tolerance and diff.low > 0:
        return words[0]
    if diff.mean < -tolerance and diff.high < 0:
        return words[1]
    return words[2]


def verdict_table(
    claims: Mapping[str, tuple[EvaluationResult | None, EvaluationResult | None]],
    metric: str,
    tolerance: float,
    words: Sequence[str] = CLAIM_WORDS,
    missing: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per claim: the two sides, their ``metric``, the paired difference and a verdict.

    A claim whose side is None (not measured with these parameters) gets the verdict
    "not measured" and the reason from ``missing``.
    """
    rows = []
    for claim, (a, b) in claims.items():
        if a is None or b is None:
            rows.append({"claim": claim, "with": None, "without": None, "on": None, "off": None,
                         "diff": None, "ci_low": None, "ci_high": None, "verdict": NOT_MEASURED,
                         "note": (missing or {}).get(claim, "")})
            continue
        d = paired_difference(a, b, metric)
        rows.append({"claim": claim, "with": a.label, "without": b.label, "on": a[metric],
                     "off": b[metric], "diff": d.mean, "ci_low": d.low, "ci_high": d.high,
                     "verdict": verdict(d, tolerance, words), "note": ""})
    return pd.DataFrame(rows)
