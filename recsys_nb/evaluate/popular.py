"""Non-personal baselines: what is popular overall, and what is popular *now*.

One counting rule serves both "trending" and the trending prior of "ease_trending":
:func:`recent_counts` (positive events per item in the ``days`` before an as-of time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_nb.evaluate.interactions import Interactions, Scorer, same_for_everybody
from recsys_nb.evaluate.splits import Split
from recsys_nb.priors import log_scaled

#: "trending" counts the positive events of the last this many days before the split's cut-off
DEFAULT_TRENDING_DAYS = 180.0
DAY = 86_400.0


def popularity_scorer(data: Interactions) -> Scorer:
    """Most-interacted items first, the same list for everybody (seen items aside)."""
    return same_for_everybody(data.item_counts)


def check_days(days: object) -> float:
    """``days`` as a float > 0, or a ValueError naming it and an example."""
    if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
        raise ValueError(f"days={days!r} must be a number > 0, e.g. {DEFAULT_TRENDING_DAYS:g}")
    return float(days)


def as_of(split: Split) -> float:
    """The moment a split predicts from: its cut-off (a global split), else just after its last
    training event (a per-user split, whose users' test events come after it)."""
    if split.cutoff is not None:
        return split.cutoff
    return float(split.train["timestamp"].max()) + 1.0


def recent_counts(item_ids: np.ndarray, events: pd.DataFrame, as_of: float,
                  days: float = DEFAULT_TRENDING_DAYS) -> np.ndarray:
    """Positive events (``not_interested`` dropped) per item of ``item_ids`` in the ``days``
    before ``as_of`` (unix seconds; events at or after it are never counted), float64.

    Raises:
        ValueError: ``days`` not a positive number.
    """
    days = check_days(days)
    if "kind" in events.columns:
        events = events[events["kind"] != "not_interested"]
    ts = events["timestamp"].to_numpy(dtype=np.float64)
    recent = events[(ts >= as_of - days * DAY) & (ts < as_of)]
    cols = pd.Index(item_ids).get_indexer(recent["item_id"].to_numpy(dtype=np.int64))
    return np.bincount(cols[cols >= 0], minlength=len(item_ids)).astype(np.float64)


def trending_scorer(data: Interactions, events: pd.DataFrame, as_of: float,
                    days: float = DEFAULT_TRENDING_DAYS) -> Scorer:
    """What is popular *now*: :func:`recent_counts`, the same list for everybody; all-time
    popularity only breaks ties (it adds less than 1, so one more recent event always wins).

    Raises:
        ValueError: ``days`` not a positive number.
    """
    counts = recent_counts(data.item_ids, events, as_of, days)
    all_time = data.item_counts
    return same_for_everybody(counts + all_time / (all_time.max(initial=0.0) + 1.0))


def trending_prior(item_ids: np.ndarray, events: pd.DataFrame, as_of: float,
                   days: float = DEFAULT_TRENDING_DAYS) -> np.ndarray:
    """``log1p(recent_counts) / max``: the recent popularity of each item in [0, 1] (log, so a
    blockbuster does not flatten everything else; all zero when nothing happened lately)."""
    return log_scaled(recent_counts(item_ids, events, as_of, days))
