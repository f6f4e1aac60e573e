"""Popularity priors: how much an item is watched, as a number in [0, 1] that rankings add.

Two kinds (``PRIORS``):

- ``"popularity"``: all-time counts, ``p = log1p(count) / max log1p(count)``
  (:func:`popularity_prior`); a snapshot of the data the recommender was built from.
- ``"trending"``: counts that decay with age, each positive event (view or favorite) weighing
  ``0.5 ** (later events / half_life_events)``, scaled as ``(count / largest) ** 0.3``
  (:class:`TrendingCounts`). What people watch *now* is the strongest single signal on
  the leak-free rolling protocol (``benchmarks/rolling_baselines.py``); the counts are updated as
  events arrive, so the prior does not freeze at build time.

Both compress: 10x the views is not 10x the prior, so blockbusters do not swamp taste.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PRIORS = ("popularity", "trending")


def popularity_prior(counts: pd.Series) -> pd.Series:
    """``log1p(count) / max log1p(count)`` per item: the all-time prior in [0, 1]."""
    return pd.Series(log_scaled(counts.to_numpy(dtype=np.float64)), index=counts.index)


def log_scaled(counts: np.ndarray) -> np.ndarray:
    """``log1p(c) / max log1p(c)`` (zeros when every count is 0); negative counts count as 0."""
    logs = np.log1p(np.maximum(np.asarray(counts, dtype=np.float64), 0.0))
    top = logs.max() if logs.size else 0.0
    return logs / top if top > 0 else np.zeros_like(logs)


def check_prior(prior: str, half_life_events: float) -> tuple[str, float]:
    """``(prior, half_life_events)`` validated: a name in :data:`PRIORS`, a finite half-life > 0.

    Raises:
        ValueError: naming the value and the accepted ones.
    """
    if prior not in PRIORS:
        raise ValueError(f"prior={prior!r} is unknown; use one of {list(PRIORS)}")
    if (isinstance(half_life_events, bool) or not isinstance(half_life_events, int | float)
            or not math.isfinite(half_life_events) or half_life_events <= 0):
        raise ValueError(f"half_life_events={half_life_events!r} must be a finite number of "
                         "events > 0, e.g. 1000")
    return prior, float(half_life_events)


#: ``p = (count / reference) ** TRENDING_POWER``, chosen with the half-life (1,000 events) and the
#: weight (2) on the rolling protocol's validation cut-offs, ``benchmarks/tune_prior_rolling.py``:
#: Recall@50 0.1383 at 0.3 vs 0.1357 at 0.5 and 0.1350 at 0.7 (each at its best weight); half-lives
#: of 500 / 2,000 events reached 0.1287 / 0.1309; the all-time log prior 0.0890.
TRENDING_POWER = 0.3


class TrendingCounts:
    """Per-item counts of positive events where each later event halves an event's weight
    after ``half_life_events`` more: an event clock, not a wall clock.

    Why events and not days: a wall clock lets an idle gap erase the history (a service built
    from the 2016 MovieLens data and clicked in 2026 would weigh ten years of events as nothing
    against one click); with an event clock the prior moves only as fast as the activity does.
    1,000 positive MovieLens events span 92 days on average.

    Why a power and not a log: ``(c_i / c_ref) ** power`` does not change when every count decays
    by the same factor, so a new event changes the prior of its own item only, and the store
    rewrites one row instead of every row. Counts are kept "amplified" (a new event adds
    ``2 ** (events / half_life)`` instead of all older counts shrinking), which is the same
    ratio; the reference moves only when the largest count has doubled or halved (then every
    item's prior changes: about once per ``half_life_events`` events).

    ``add`` folds events in the order given: ``add(a)`` then ``add(b)`` equals ``add(a + b)``,
    up to float rounding.

    Args:
        n_items: number of items (events refer to them by row 0..n_items-1).
        half_life_events: how many later events halve an event's weight.
        power: the exponent of the scaling (:data:`TRENDING_POWER`).
    """

    def __init__(self, n_items: int, half_life_events: float,
                 power: float = TRENDING_POWER) -> None:
        self.half_life = float(half_life_events)
        self.power = float(power)
        self.amplified = np.zeros(int(n_items), dtype=np.float64)
        self.events = 0
        self._epoch = 0  # events at the last rescale of the amplified counts
        self.reference = 0.0  # the amplified count that scores 1.0 (see values)

    def __repr__(self) -> str:
        return (f"TrendingCounts({self.amplified.size} items, half-life {self.half_life:g} "
                f"events, {self.events} events)")

    @property
    def counts(self) -> np.ndarray:
        """The decayed counts as of the newest event: ``sum 0.5 ** (later events / half_life)``."""
        return self.amplified * 0.5 ** ((self.events - self._epoch) / self.half_life)

    def add(self, rows: np.ndarray, weight: float = 1.0) -> None:
        """Count events on these item rows, oldest first (``weight=-1`` takes back the newest
        event, e.g. an undo)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        m = rows.size
        if m == 0:
            return
        first = self.events if weight > 0 else self.events - m
        if weight > 0:
            self.events += m
        exponents = (first + 1 + np.arange(m) - self._epoch) / self.half_life
        self.amplified += np.bincount(rows, weights=float(weight) * 2.0 ** exponents,
                                      minlength=self.amplified.size)
        np.maximum(self.amplified, 0.0, out=self.amplified)
        if (self.events - self._epoch) / self.half_life > 500:  # 2 ** 1024 overflows
            scale = 0.5 ** ((self.events - self._epoch) / self.half_life)
            self.amplified *= scale
            self.reference *= scale
            self._epoch = self.events

    def values(self) -> np.ndarray:
        """The prior in [0, 1] per item row: ``(count / reference) ** power``, clipped at 1."""
        top = float(self.amplified.max(initial=0.0))
        if top > 0 and not self.reference / 2 <= top <= self.reference * 2:
            self.reference = top
        if self.reference <= 0:
            return np.zeros_like(self.amplified)
        return np.minimum(self.amplified / self.reference, 1.0) ** self.power
