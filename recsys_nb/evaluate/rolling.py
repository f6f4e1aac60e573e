"""A leak-free protocol: rolling global cut-offs.

The per-user temporal split (:func:`~recsys_nb.evaluate.temporal_split`) keeps each user's own
future out of their training, but not other users' future: a model trained on it learns item
vectors, popularity and baselines from events that happened after the held-out ones (on MovieLens
43 % of the training events are later than a given held-out event, on average). At a global
cut-off nothing any model learns is later than anything it predicts:

- train on every event before the cut-off (all users);
- score the users with at least ``min_history`` events before it on what they watched in the
  ``horizon`` after it (items they had already seen excluded, as everywhere);
- repeat at several cut-offs and pool the (cut-off, user) pairs (:func:`pool`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from recsys_nb.data import Dataset
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.splits import Split, _check_int

DAY = 86_400.0


def later_training_share(split: Split) -> float:
    """How much of the future a split lets models learn from: for each held-out event, the share
    of the training events (all users) that happened after it, averaged. 0 for a global cut-off
    split; about 0.43 for the per-user temporal split of MovieLens."""
    train = np.sort(split.train["timestamp"].to_numpy(dtype=np.float64))
    test = split.test["timestamp"].to_numpy(dtype=np.float64)
    if not train.size or not test.size:
        raise ValueError("the split has no training or no held-out events; nothing to compare")
    later = train.size - np.searchsorted(train, test, side="right")
    return float((later / train.size).mean())


def cutoff_dates(events: pd.DataFrame, start: str, end: str, months: int = 6) -> list[float]:
    """Cut-offs every ``months`` months from ``start`` to ``end`` (dates, inclusive), as unix
    seconds, kept only where events exist on both sides."""
    months = _check_int("months", months, 1)
    dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=f"{months}MS")
    if dates.empty:
        raise ValueError(f"no cut-off between start={start!r} and end={end!r}; use start <= end")
    ts = events["timestamp"].to_numpy()
    stamps = [d.timestamp() for d in dates]
    return [c for c in stamps if ts.min() < c <= ts.max()]


def cutoff_split(dataset: Dataset, cutoff: float, horizon_days: float = 182,
                 min_history: int = 5) -> Split:
    """One global cut-off: train = every event before ``cutoff``; test = the events in the next
    ``horizon_days`` of the users with ``min_history`` or more events before it.

    Raises:
        ValueError: ``horizon_days`` not positive, ``min_history`` < 1.
    """
    min_history = _check_int("min_history", min_history, 1)
    if not (isinstance(horizon_days, int | float) and not isinstance(horizon_days, bool)
            and horizon_days > 0):
        raise ValueError(f"horizon_days={horizon_days!r} must be a number > 0, e.g. 182")
    events = dataset.events
    ts = events["timestamp"].to_numpy(dtype=np.float64)
    horizon = float(horizon_days) * DAY
    train = events[ts < cutoff].reset_index(drop=True)
    window = events[(ts >= cutoff) & (ts < cutoff + horizon)]
    history = train.groupby("user_id").size()
    in_window = pd.Index(window["user_id"].unique())
    enough = history[history >= min_history].index
    users = np.sort(in_window.intersection(enough).to_numpy())
    short = in_window.difference(enough)
    skipped = pd.DataFrame({
        "user_id": short.to_numpy(),
        "events": history.reindex(short).fillna(0).astype(np.int64).to_numpy(),
        "reason": f"fewer than {min_history} events before the cut-off",
    })
    test = window[window["user_id"].isin(users)].reset_index(drop=True)
    return Split(train=train, test=test, users=users, skipped=skipped,
                 item_ids=np.sort(dataset.items["item_id"].to_numpy(dtype=np.int64)),
                 items=dataset.items, min_events=min_history, source=dataset,
                 cutoff=float(cutoff), horizon=horizon)


def rolling_splits(dataset: Dataset, start: str = "2000-01-01", end: str = "2016-07-01",
                   months: int = 6, horizon_days: float = 182,
                   min_history: int = 5) -> list[Split]:
    """:func:`cutoff_split` at every cut-off of :func:`cutoff_dates` that scores someone.

    Raises:
        ValueError: no cut-off has a user with ``min_history`` earlier events and something new
            to find in the horizon (the dates and the fix are named).
    """
    splits = [cutoff_split(dataset, c, horizon_days, min_history)
              for c in cutoff_dates(dataset.events, start, end, months)]
    splits = [s for s in splits if len(s.relevant()[0])]
    if not splits:
        raise ValueError(
            f"no cut-off between {start} and {end} has a user with {min_history} earlier events "
            "and a new item in the horizon; widen the dates, lengthen horizon_days or lower "
            "min_history")
    return splits


def pool(results: Sequence[EvaluationResult], splits: Sequence[Split],
         label: str | None = None) -> EvaluationResult:
    """One result over every (cut-off, user) pair of several cut-offs.

    The pairs are keyed ``"<cut-off date>/<user>"``, so two pooled results over the same splits
    compare pair by pair (:func:`~recsys_nb.evaluate.paired_difference`). Per-user values added
    to every result before pooling (:meth:`EvaluationResult.with_per_user`, e.g. novelty against
    each cut-off's own training events) are pooled too.

    Raises:
        ValueError: results and splits differ in number, or the results differ in cut-offs K.
    """
    if len(results) != len(splits) or not results:
        raise ValueError(f"{len(results)} results for {len(splits)} splits; pass one per split")
    cutoffs = results[0].cutoffs
    if any(r.cutoffs != cutoffs for r in results):
        raise ValueError("the results use different metric cut-offs; evaluate them alike")
    keys = np.array([f"{pd.Timestamp(s.cutoff or 0, unit='s').date()}/{u}"
                     for r, s in zip(results, splits, strict=True) for u in r.users])
    ranked = np.vstack([r.ranked for r in results])
    relevant = [rel for r in results for rel in r.relevant]
    pooled = EvaluationResult.score(label or results[0].label, keys, ranked, relevant, cutoffs,
                                    len(splits[0].item_ids), cutoffs_pooled=len(splits))
    extras = [r.extra for r in results]
    if all(e is not None for e in extras):
        columns = list(extras[0].columns)  # type: ignore[union-attr]
        if any(list(e.columns) != columns for e in extras):  # type: ignore[union-attr]
            raise ValueError("the results carry different per-user columns; add the same "
                             "ones (e.g. with_beyond_accuracy) to every result before pooling")
        pooled = pooled.with_per_user(pd.concat(extras, ignore_index=True))
    return pooled


def evaluate_rolling(splits: Sequence[Split], measure: Callable[[Split], EvaluationResult],
                     label: str | None = None) -> EvaluationResult:
    """``measure`` each split (every model learns from that split's past only), then
    :func:`pool` the results."""
    return pool([measure(s) for s in splits], splits, label)
