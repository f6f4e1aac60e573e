"""Group trends: each user segment's monthly centroid, and forecasts of next month's.

The original write-up suggests extending the temporal analysis "to group trends and forecasting"
with "weekly/monthly averages". Here a group is a user segment (:mod:`recsys_nb.segments`):

1. :func:`event_segments`: the segment of every event's user in that event's month (the centroid
   nearest to the user's interest vector at the month's end, replayed by :mod:`recsys_nb.replay`);
2. :func:`segment_months`: per (segment, month) the normalized mean of the item vectors of that
   month's views and favorites; empty months stay explicit (a zero row, ``observed`` False), as
   on MovieLens (~400 events, ~10 active users a month) most cells are empty;
3. :func:`forecast`: next month's centroid from the observed months before it, by Step 6's
   momentum, the last value or a longer mean; :func:`forecast_table` and
   :func:`forecast_summary` measure which predicts best (cosine to the actual centroid);
   :func:`forecast_centroids` serves every segment's forecast (a cold user's start);
4. :func:`trending_items`: what a segment watched most in a month.

Months are "YYYY-MM" strings (UTC), which sort like the months themselves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from recsys_nb.evaluate.bootstrap import bootstrap_means
from recsys_nb.evaluate.compare import Difference, verdict
from recsys_nb.kinds import EVENT_KINDS, operations
from recsys_nb.replay import replay_batch
from recsys_nb.segments import Segments
from recsys_nb.vectors import (
    EPS,
    STORE_DTYPE,
    DegenerateVectorError,
    average,
    normalize,
    predict_momentum,
    validate_vector,
)

__all__ = ["FORECAST_METHODS", "Forecast", "ForecastSummary", "SegmentMonths", "event_segments",
           "forecast", "forecast_centroids", "forecast_summary", "forecast_table", "month_of",
           "month_range", "segment_months", "trending_items"]

FORECAST_METHODS: tuple[str, ...] = ("momentum", "last", "mean")
#: observed months each method needs before the month it forecasts
NEEDS = {"momentum": 2, "last": 1, "mean": 1}
VERDICT_WORDS = ("better", "worse", "no measurable difference")  # a method against the baseline
POSITIVE = tuple(k for k, kind in EVENT_KINDS.items() if kind.positive)  # view, favorite
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _int(name: str, value: object, low: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name}={value!r} must be an integer >= {low}{hint}")
    return int(value)


def _check_segment(segment: object, k: int) -> int:
    if isinstance(segment, bool) or not isinstance(segment, int | np.integer) \
            or not 0 <= segment < k:
        raise ValueError(f"segment={segment!r} is out of range; use 0..{k - 1}")
    return int(segment)


def _check_month(month: object, name: str = "month") -> str:
    if not isinstance(month, str) or not _MONTH.match(month):
        raise ValueError(f"{name}={month!r} is not a month; write it as 'YYYY-MM', e.g. '2010-01'")
    return month


def month_of(timestamps: ArrayLike) -> np.ndarray:
    """The UTC calendar month ("YYYY-MM") of each unix timestamp (seconds)."""
    ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    if not np.isfinite(ts).all():
        bad = float(ts[~np.isfinite(ts)][0])
        raise ValueError(f"timestamp {bad!r} is not a finite number of unix seconds; drop it")
    return np.floor(ts).astype("datetime64[s]").astype("datetime64[M]").astype("U7")


def month_range(first: str, last: str) -> list[str]:
    """Every calendar month from ``first`` to ``last`` (inclusive), so empty months exist too."""
    a, b = _check_month(first, "first"), _check_month(last, "last")
    if a > b:
        raise ValueError(f"first={first!r} is after last={last!r}; pass them oldest first")
    return np.arange(np.datetime64(a), np.datetime64(b) + 1).astype(str).tolist()


def _check_events(events: pd.DataFrame, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in getattr(events, "columns", ())]
    if missing:
        raise ValueError(f"events lack the column(s) {missing}; pass events as "
                         "recsys_nb.data loads them (user_id, item_id, rating, timestamp, kind)")
    operations(events["kind"].to_numpy())  # an unknown kind is named here, before any work


def _item_rows(events: pd.DataFrame, item_ids: ArrayLike, item_matrix: ArrayLike
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(row of each event's item, the matrix)``. An item without a vector RAISES (never a
    silent skip): embed every item, or drop those events first."""
    ids, matrix = np.asarray(item_ids).reshape(-1), np.asarray(item_matrix)
    if matrix.ndim != 2 or matrix.shape[0] != ids.shape[0]:
        raise ValueError(f"item_matrix has shape {matrix.shape} for {ids.shape[0]} item ids; pass "
                         "one row per id (ItemVectors.item_ids and .vectors)")
    index = pd.Index(ids)
    if not index.is_unique:
        raise ValueError("item_ids has duplicates; pass each item once")
    rows = index.get_indexer(events["item_id"].to_numpy())
    if (rows < 0).any():
        unknown = events["item_id"].to_numpy()[rows < 0].tolist()
        raise ValueError(f"{len(unknown)} events name items without a vector (e.g. item_id "
                         f"{unknown[0]!r}); embed every item, or keep only "
                         "events[events['item_id'].isin(item_ids)]")
    return rows.astype(np.int64), matrix


def event_segments(events: pd.DataFrame, item_ids: ArrayLike, item_matrix: ArrayLike,
                   segments: Segments, alpha_view: float = 0.25, alpha_favorite: float = 0.45,
                   not_interested_factor: float = 0.1) -> np.ndarray:
    """The segment of each event's user in that event's month (int64, aligned with ``events``).

    It is the centroid nearest to the user's interest vector at the END of the month: the
    technique's replay (EMA toward views / favorites, subtraction for not-interested, overshoots
    skipped, a not-interested before any positive event a no-op, as ``Recommender.ingest``) of all
    their events up to then. One pass, month by month, each user's vector carried over
    (:func:`recsys_nb.replay.replay_batch` with ``starts``): equal, to float32 rounding, to
    replaying the whole prefix each month. A user without a view or favorite by a month's end has
    no vector and no segment: their events that month get -1 (:func:`segment_months` skips them).
    """
    _check_events(events, ("user_id", "item_id", "timestamp", "kind"))
    rows, matrix = _item_rows(events, item_ids, item_matrix)
    if matrix.shape[1] != segments.dim:
        raise ValueError(f"item vectors of dimension {matrix.shape[1]} but segments of dimension "
                         f"{segments.dim}; fit the segments in the same item space")
    kinds, users = events["kind"].to_numpy(), events["user_id"].to_numpy()
    params = np.where(kinds == "not_interested", not_interested_factor,
                      np.where(kinds == "favorite", alpha_favorite, alpha_view))
    ops = operations(kinds)
    order = np.argsort(events["timestamp"].to_numpy(), kind="stable")  # replays go oldest first
    months = month_of(events["timestamp"].to_numpy())[order]
    labels = np.full(len(events), -1, dtype=np.int64)
    state: dict = {}  # user -> interest vector at the end of the last month they were active
    for idx in np.split(order, np.flatnonzero(months[1:] != months[:-1]) + 1) if len(order) else []:
        u = users[idx]
        out = replay_batch(u, rows[idx], ops[idx], params[idx], item_matrix=matrix,
                           starts={k: state[k] for k in pd.unique(u) if k in state},
                           on_overshoot="skip", cold_subtract="ignore")
        state.update(out.as_dict())
        seg = np.full(len(out.keys), -1, dtype=np.int64)
        if out.has_vector.any():
            seg[out.has_vector] = segments.nearest(out.vectors[out.has_vector])
        labels[idx] = seg[np.searchsorted(out.keys, u)]  # keys are sorted (np.unique)
    return labels


@dataclass(frozen=True, eq=False)
class SegmentMonths:
    """Each segment's centroid per calendar month.

    Attributes:
        centroids: (S, M, d) float32; a unit row where ``observed``, else a ZERO row (never NaN).
        counts: (S, M) int64, the positive events averaged into each cell.
        months: the M months ("YYYY-MM"), consecutive, oldest first.
        observed: (S, M) bool: the cell has events whose mean has a direction.
    """

    centroids: np.ndarray
    counts: np.ndarray
    months: list[str]
    observed: np.ndarray

    def __post_init__(self) -> None:
        s, m, _ = self.centroids.shape
        if self.counts.shape != (s, m) or self.observed.shape != (s, m) or len(self.months) != m:
            raise ValueError(f"centroids {self.centroids.shape}, counts {self.counts.shape}, "
                             f"observed {self.observed.shape} and {len(self.months)} months "
                             "disagree; pass (S, M, d), (S, M), (S, M) and M months")

    @property
    def n_segments(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[2])

    def check_segment(self, segment: int) -> int:
        """``segment`` as an int, or a ValueError when it is outside 0..S-1."""
        return _check_segment(segment, self.n_segments)

    def index(self, month: str) -> int:
        """The column of ``month``, or a ValueError naming the months covered."""
        if _check_month(month) not in self.months:
            raise ValueError(f"month {month!r} is not covered; these centroids cover "
                             f"{self.months[0]}..{self.months[-1]}")
        return self.months.index(month)


def segment_months(events: pd.DataFrame, item_ids: ArrayLike, item_matrix: ArrayLike,
                   labels: ArrayLike, n_segments: int,
                   months: Sequence[str] | None = None) -> SegmentMonths:
    """Per (segment, month): the normalized mean of the (unit) item vectors of the views and
    favorites of that month whose label (:func:`event_segments`) is the segment.

    Not-interested events and events labelled -1 are not averaged. ``months`` (consecutive, e.g.
    :func:`month_range`) fixes the columns, leaving out events outside them; None covers the
    first to the last event's month. A cell whose vectors cancel keeps its count, unobserved.
    """
    _check_events(events, ("item_id", "timestamp", "kind"))
    s_count = _int("n_segments", n_segments, 1, " (Segments.k)")
    lab = np.asarray(labels).reshape(-1)
    if lab.shape[0] != len(events) or (lab.size and lab.dtype.kind not in "iu"):
        raise ValueError(f"labels hold {lab.shape[0]} values of dtype {lab.dtype} for "
                         f"{len(events)} events; pass event_segments' result (one int per event)")
    if lab.size and (lab.min() < -1 or lab.max() >= s_count):
        bad = lab[(lab < -1) | (lab >= s_count)][0]
        raise ValueError(f"label {bad} is outside -1..{s_count - 1}; pass n_segments=Segments.k")
    rows, matrix = _item_rows(events, item_ids, item_matrix)
    ev_month = month_of(events["timestamp"].to_numpy())
    if months is None:
        if not len(events):
            raise ValueError("no events and no months: pass events, or months= to lay out")
        present = np.unique(ev_month)
        months = month_range(str(present[0]), str(present[-1]))
    months = [_check_month(m) for m in months]
    if not months or months != month_range(months[0], months[-1]):
        raise ValueError("months must be consecutive calendar months, oldest first, e.g. "
                         f"month_range('2009-01', '2009-12'); got {months[:3]}...")
    col = pd.Index(months).get_indexer(ev_month)
    keep = np.isin(events["kind"].to_numpy(), POSITIVE) & (lab >= 0) & (col >= 0)
    m_count, d = len(months), matrix.shape[1]
    items = np.asarray(matrix[rows[keep]], dtype=np.float64)
    norms = np.linalg.norm(items, axis=1)
    if not (np.isfinite(norms) & (norms > EPS)).all():
        raise DegenerateVectorError("an averaged item vector is zero or not finite; fix or drop "
                                    "that item's vector")
    cell = lab[keep] * m_count + col[keep]
    sums = np.zeros((s_count * m_count, d))
    np.add.at(sums, cell, items / norms[:, None])
    counts = np.bincount(cell, minlength=s_count * m_count)
    length = np.linalg.norm(sums, axis=1)
    observed = (counts > 0) & (length > EPS * np.maximum(counts, 1))  # a direction, not noise
    cent = np.zeros_like(sums)
    cent[observed] = sums[observed] / length[observed, None]
    return SegmentMonths(cent.reshape(s_count, m_count, d).astype(STORE_DTYPE),
                         counts.reshape(s_count, m_count).astype(np.int64), months,
                         observed.reshape(s_count, m_count))


class Forecast(NamedTuple):
    """One forecast: the unit ``vector``, the ``method`` asked for and the one ``used`` (they
    differ when a momentum cancelled and the mean stood in)."""

    vector: np.ndarray
    method: str
    used: str

    @property
    def fell_back(self) -> bool:
        return self.used != self.method


def _check_method(method: str, window: int, mean_window: int) -> None:
    if method not in FORECAST_METHODS:
        raise ValueError(f"method={method!r} is unknown; use one of {list(FORECAST_METHODS)}")
    _int("window", window, 2)
    _int("mean_window", mean_window, 1)


def forecast(history: ArrayLike, observed: ArrayLike, method: str, window: int = 6,
             mean_window: int = 12) -> Forecast:
    """The forecast of the month after ``history`` (one segment's (M, d) centroids, oldest first),
    from its ``observed`` months only (gaps are skipped, not stretched):

    - "momentum": Step 6 (:func:`~recsys_nb.vectors.predict_momentum`, weight 1) on the last
      ``window`` observed centroids. It steps from the newer half's centre by the distance between
      the halves' centres (``window / 2`` months), so a steady drift is forecast about
      ``window / 4 - 1/2`` months too far (exact for ``window=2``). A cancelled momentum falls back
      to "mean" (``used``);
    - "last": the last observed centroid (lags a steady drift by one month);
    - "mean": :func:`~recsys_nb.vectors.average` of the last ``mean_window`` observed centroids
      (lags by ``(n + 1) / 2`` months; if they cancel, "last" stands in).

    Raises:
        ValueError: an unknown method, bad windows, mismatched shapes, or fewer observed months
            than the method needs (momentum 2, the others 1); the message names the fallback.
    """
    _check_method(method, window, mean_window)
    hist = np.asarray(history, dtype=np.float64)
    mask = np.asarray(observed, dtype=bool).reshape(-1)
    if hist.ndim != 2 or hist.shape[0] != mask.shape[0]:
        raise ValueError(f"history of shape {hist.shape} with {mask.shape[0]} observed flags; "
                         "pass (M, d) centroids and one flag per month")
    seen = hist[mask]
    bad = ~(np.isfinite(seen).all(axis=1) & (np.linalg.norm(seen, axis=1) > EPS))
    if bad.any():  # checked here, or a bad row would pass for a cancelling momentum or mean
        month = int(np.flatnonzero(mask)[np.flatnonzero(bad)[0]])
        raise DegenerateVectorError(f"observed month {month} of the history is a zero or "
                                    "non-finite centroid; mark it unobserved")
    if seen.shape[0] < NEEDS[method]:
        raise ValueError(f"{method!r} needs at least {NEEDS[method]} observed months before the "
                         f"target, got {seen.shape[0]}; fall back to 'last' (needs 1) or to the "
                         "segment's own centroid (forecast_centroids does both)")
    if method == "momentum":
        try:
            return Forecast(predict_momentum(seen[-window:], weight=1.0), method, method)
        except DegenerateVectorError:
            pass  # the halves cancel exactly: no trend to extrapolate, the mean stands in
    if method != "last":
        try:
            return Forecast(average(seen[-mean_window:]), method, "mean")
        except DegenerateVectorError:
            pass
    return Forecast(normalize(seen[-1]), method, "last")


def forecast_table(segment_months: SegmentMonths, methods: Sequence[str] = FORECAST_METHODS,
                   window: int = 6, min_history: int = 2, targets: Sequence[str] | None = None,
                   mean_window: int = 12) -> pd.DataFrame:
    """One row per (segment, target month) that is observed and has ``min_history`` observed
    months before it: ``segment, month, events, history`` (observed months before) and per method
    ``cos_<method>`` (forecast vs the actual centroid) and ``fallback_<method>``.

    ``targets`` restricts the target months. For an honest measurement pass only months after a
    global cut-off, with item vectors and segments learned from the events before it, so nothing
    learned after a predicted month is used (a forecast itself reads only earlier months).
    """
    for m in methods:
        _check_method(m, window, mean_window)
    need = max((NEEDS[m] for m in methods), default=1)
    _int("min_history", min_history, need, f": {list(methods)} need {need} observed months")
    sm = segment_months
    cols = range(len(sm.months)) if targets is None else [sm.index(t) for t in targets]
    before = np.cumsum(sm.observed, axis=1) - sm.observed  # observed months before each column
    rows = []
    for s in range(sm.n_segments):
        for j in cols:
            if not sm.observed[s, j] or before[s, j] < min_history:
                continue
            row: dict = {"segment": s, "month": sm.months[j], "events": int(sm.counts[s, j]),
                         "history": int(before[s, j])}
            actual = sm.centroids[s, j].astype(np.float64)
            for m in methods:
                f = forecast(sm.centroids[s, :j], sm.observed[s, :j], m, window, mean_window)
                row[f"cos_{m}"] = float(np.clip(f.vector.astype(np.float64) @ actual, -1, 1))
                row[f"fallback_{m}"] = f.fell_back
            rows.append(row)
    types = {"segment": np.int64, "month": object, "events": np.int64, "history": np.int64}
    for m in methods:
        types.update({f"cos_{m}": np.float64, f"fallback_{m}": bool})
    return pd.DataFrame(rows, columns=list(types)).astype(types)  # typed even when empty


@dataclass(frozen=True)
class ForecastSummary:
    """:func:`forecast_summary`'s answer: ``table`` per method (``mean, low, high``: the mean
    cosine and its 95 % interval; ``diff, diff_low, diff_high, verdict`` against the baseline),
    the ``best`` mean, the ``winner`` (``best`` if it beats every other method beyond the noise,
    else None) and ``n``, the forecasts summarized."""

    table: pd.DataFrame
    best: str
    winner: str | None
    n: int


def _interval(values: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    low, high = np.quantile(bootstrap_means(values, n_resamples, seed), [0.025, 0.975])
    return float(low), float(high)


def forecast_summary(table: pd.DataFrame, methods: Sequence[str] = FORECAST_METHODS,
                     seed: int = 0, baseline: str = "last",
                     n_resamples: int = 1000) -> ForecastSummary:
    """Mean cosine per method with a 95 % bootstrap interval, each method's paired difference
    against ``baseline`` ("better" / "worse" / "no measurable difference"), and the winner.

    The resampled unit is a (segment, month) row, the same resamples for every method (one seed).
    Rows of one segment are not independent, so the intervals are, if anything, too narrow.
    """
    missing = [f"cos_{m}" for m in [*methods, baseline] if f"cos_{m}" not in table.columns]
    if missing:
        raise ValueError(f"table lacks {missing}; pass forecast_table(..., methods=...) with "
                         "these methods")
    if table.empty:
        raise ValueError("no forecasts to summarize: lower min_history or pass more targets")
    cos = {m: table[f"cos_{m}"].to_numpy(dtype=np.float64) for m in [*methods, baseline]}
    rows = []
    for m in methods:
        low, high = _interval(cos[m], n_resamples, seed)
        d = cos[m] - cos[baseline]
        diff = Difference("cosine", float(d.mean()), *_interval(d, n_resamples, seed), len(d))
        word = "baseline" if m == baseline else verdict(diff, 0.0, VERDICT_WORDS)
        rows.append({"method": m, "mean": float(cos[m].mean()), "low": low, "high": high,
                     "diff": diff.mean, "diff_low": diff.low, "diff_high": diff.high,
                     "verdict": word})
    frame = pd.DataFrame(rows)
    best = str(frame.loc[frame["mean"].idxmax(), "method"])
    beats = all(_interval(cos[best] - cos[m], n_resamples, seed)[0] > 0
                for m in methods if m != best)
    return ForecastSummary(frame, best, best if beats else None, len(table))


def forecast_centroids(segment_months: SegmentMonths, month: str, method: str, window: int = 6,
                       fallback: ArrayLike | None = None, mean_window: int = 12) -> np.ndarray:
    """(S, d) float32 unit rows: every segment's forecast for ``month`` from the months before it
    (``month`` may lie after the last covered month: then all of them are history).

    A segment with too few observed months for ``method`` gets its last observed centroid; one
    with none its row of ``fallback`` ((S, d), e.g. ``Segments.centroids``). This is what serves
    cold users "from the forecast": never a zero or NaN row.
    """
    _check_method(method, window, mean_window)
    sm = segment_months
    j = int(np.searchsorted(np.asarray(sm.months), _check_month(month)))  # months before it
    if fallback is not None and np.shape(fallback) != (sm.n_segments, sm.dim):
        raise ValueError(f"fallback of shape {np.shape(fallback)} for {sm.n_segments} segments "
                         f"of dimension {sm.dim}; pass Segments.centroids of the same space")
    out = np.empty((sm.n_segments, sm.dim), dtype=STORE_DTYPE)
    for s in range(sm.n_segments):
        seen = int(sm.observed[s, :j].sum())
        if seen:
            use = method if seen >= NEEDS[method] else "last"
            out[s] = forecast(sm.centroids[s, :j], sm.observed[s, :j], use, window,
                              mean_window).vector
        elif fallback is not None:
            out[s] = normalize(validate_vector(np.asarray(fallback)[s], name=f"fallback row {s}"))
        else:
            raise ValueError(f"segment {s} has no observed month before {month}; pass "
                             "fallback=Segments.centroids to serve its own centroid")
    return out


def trending_items(events: pd.DataFrame, labels: ArrayLike, months: Sequence[str], segment: int,
                   month: str, n: int = 10, n_segments: int | None = None) -> pd.DataFrame:
    """The ``n`` items a segment viewed or favorited most in ``month``: ``item_id, events``, most
    first, ties by item id. ``months`` are the months studied (``SegmentMonths.months``); one
    without events of this segment gives an empty frame, not an error. ``segment`` is checked
    against ``n_segments`` (default: the largest label + 1)."""
    _check_events(events, ("item_id", "timestamp", "kind"))
    lab = np.asarray(labels).reshape(-1)
    if lab.shape[0] != len(events):
        raise ValueError(f"{lab.shape[0]} labels for {len(events)} events; pass one per event")
    _check_segment(segment, int(lab.max(initial=-1)) + 1 if n_segments is None else n_segments)
    if _check_month(month) not in months:
        raise ValueError(f"month {month!r} is outside the months studied ({list(months)[:1]}.."
                         f"{list(months)[-1:]}); pass one of SegmentMonths.months")
    _int("n", n, 1, " (how many items to list)")
    keep = ((lab == segment) & np.isin(events["kind"].to_numpy(), POSITIVE)
            & (month_of(events["timestamp"].to_numpy()) == month))
    counts = events.loc[keep, "item_id"].value_counts()
    frame = pd.DataFrame({"item_id": counts.index.to_numpy(dtype=np.int64),
                          "events": counts.to_numpy(dtype=np.int64)})
    frame = frame.sort_values(["events", "item_id"], ascending=[False, True], kind="stable")
    return frame.head(n).reset_index(drop=True)
