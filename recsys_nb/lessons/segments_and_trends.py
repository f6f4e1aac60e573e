"""Notebook 09 (segments and trends): its parameters, measurements, tables and verdicts.

The original write-up ends with "go deeper" suggestions: bootstrap new users from "global trends /
user segments", "experiment with other math on embeddings: PCA, clustering", "extend temporal
analysis to group trends and forecasting" with "monthly averages". The notebook measures each on
the leak-free rolling protocol; this module holds the machinery, so each step is one call:

- :class:`SegmentsConfig` checks the parameters (every problem named at once) before any work.
- Section 1, segments: :func:`open_rolling` (one :class:`RollingExperiment` for everything);
  :func:`spectrum` (PCA of the items and of the users' interest vectors), :func:`k_table`
  (cohesion by number of segments), :func:`segment_profiles` (size, top genres by lift,
  exemplar movies).
- Section 2, cold start of new users at 1 / 3 / 5 events: :func:`measure_cold_start` (first item,
  segment, popular, trending through the product, online) and :func:`cold_start_table`.
- Section 3, group trends: :func:`monthly_trends` (each cut-off's segments per month and the
  forecasts of the months after it), :func:`serve_from_forecasts` (Recall@K of new users served
  the forecast centroid of their segment), :func:`forecast_rows`.
- :func:`claims` turns every comparison into a verdict row of the same form as notebook 06's
  (recorded with :func:`verdict_records`, told with :func:`verdict_sentences`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.cold_start import COLD_START_PARAMS
from recsys_nb.data import Dataset
from recsys_nb.evaluate import (
    CLAIM_WORDS,
    EvaluationResult,
    Split,
    new_user_split,
    pool,
    rolling_splits,
    verdict_table,
)
from recsys_nb.evaluate.compare import Difference, verdict
from recsys_nb.experiment import Experiment
from recsys_nb.lessons.tuning import (  # noqa: F401 - read by notebook 09
    verdict_records,
    verdict_sentences,
)
from recsys_nb.parameters import (
    FOLDER,
    CutoffMetrics,
    Rule,
    check_lists,
    check_values,
    choice,
    date,
    date_order,
    integer,
    number,
    optional,
    raise_problems,
)
from recsys_nb.plots import pca_axes
from recsys_nb.rolling_experiment import RollingExperiment
from recsys_nb.segments import Segments
from recsys_nb.topn import top_n
from recsys_nb.trends import (
    FORECAST_METHODS,
    SegmentMonths,
    event_segments,
    forecast_centroids,
    forecast_summary,
    forecast_table,
    month_of,
    month_range,
    segment_months,
)

NOTEBOOK = "09_segments_and_trends"
#: The cold-start strategies compared, in table order (``Recommender(cold_start=...)``).
STRATEGIES = ("first_item", "segment", "popular", "trending")
#: What new users can be served from in section 3: the forecasts, and two references.
SERVED_FROM = ("first item", "segment centroid", *FORECAST_METHODS)


RULES: dict[str, Rule] = {
    "ROLLING_START": date("2015-01-01"),
    "ROLLING_END": date("2016-07-01"),
    "ROLLING_MONTHS": integer(1),
    "N_SEGMENTS": integer(2),
    "SEGMENT_WEIGHT": optional(number(0, 1)),
    "WINDOW": integer(2),
    "MEAN_WINDOW": integer(1),
    "MIN_HISTORY": integer(2),
    "TOP_N": integer(1),
    "TOLERANCE": number(0),
    "SEED": integer(0),
    "STORE_DIR": FOLDER,
}
LIST_RULES: dict[str, Rule] = {
    "K": integer(1),
    "SEGMENT_KS": integer(2),
    "FIRST_EVENTS": integer(1),
    "STRATEGIES": choice(STRATEGIES),
}


@dataclass(frozen=True)
class SegmentsConfig(CutoffMetrics):
    """The checked parameters of notebook 09 (build it with :meth:`from_parameters`).

    Attributes:
        rolling_start, rolling_end, rolling_months: the global cut-offs (every ``rolling_months``
            months; each horizon is as long, so every user is new after exactly one cut-off).
        n_segments: k of the segments used everywhere; segment_ks: the k compared by cohesion.
        segment_weight: the centroid's share at a new user's first event (None: the package's).
        first_events: how many first events new users are replayed with.
        strategies: the cold-start strategies compared ("first_item" is always first).
        window, mean_window, min_history: the forecasts (momentum over the last ``window``
            observed months, a mean over ``mean_window``, targets with ``min_history`` months).
        cutoffs: metric K. top_n: rows shown. tolerance: smallest difference a verdict counts.
        seed, store_dir: the k-means seed; the store folder (unused: stores are temporary).
    """

    rolling_start: str = "2015-07-01"
    rolling_end: str = "2015-07-01"
    rolling_months: int = 12
    n_segments: int = 4
    segment_ks: tuple[int, ...] = (2, 4, 8, 16)
    segment_weight: float = COLD_START_PARAMS["segment_weight"]
    first_events: tuple[int, ...] = (1, 3, 5)
    strategies: tuple[str, ...] = STRATEGIES
    window: int = 6
    mean_window: int = 12
    min_history: int = 2
    cutoffs: tuple[int, ...] = (10, 50)
    top_n: int = 10
    tolerance: float = 0.005
    seed: int = 0
    store_dir: str | None = None

    @classmethod
    def from_parameters(cls, *, ROLLING_START: Any, ROLLING_END: Any, ROLLING_MONTHS: Any,
                        N_SEGMENTS: Any, SEGMENT_KS: Any, SEGMENT_WEIGHT: Any, FIRST_EVENTS: Any,
                        STRATEGIES: Any, WINDOW: Any, MEAN_WINDOW: Any, MIN_HISTORY: Any, K: Any,
                        TOP_N: Any, TOLERANCE: Any, SEED: Any, STORE_DIR: Any) -> SegmentsConfig:
        """Check every parameter at once, before any work.

        Raises:
            ValueError: ``invalid parameters: NAME=value must be ...; ...``.
        """
        singles = {"ROLLING_START": ROLLING_START, "ROLLING_END": ROLLING_END,
                   "ROLLING_MONTHS": ROLLING_MONTHS, "N_SEGMENTS": N_SEGMENTS,
                   "SEGMENT_WEIGHT": SEGMENT_WEIGHT, "WINDOW": WINDOW,
                   "MEAN_WINDOW": MEAN_WINDOW, "MIN_HISTORY": MIN_HISTORY, "TOP_N": TOP_N,
                   "TOLERANCE": TOLERANCE, "SEED": SEED, "STORE_DIR": STORE_DIR}
        problems = check_values(singles, RULES)
        lists, more = check_lists({"K": K, "SEGMENT_KS": SEGMENT_KS,
                                   "FIRST_EVENTS": FIRST_EVENTS, "STRATEGIES": STRATEGIES},
                                  LIST_RULES)
        problems += more
        problems += date_order("ROLLING_START", ROLLING_START, "ROLLING_END", ROLLING_END)
        if "FIRST_EVENTS" in lists and all(isinstance(v, int) for v in lists["FIRST_EVENTS"]) \
                and max(lists["FIRST_EVENTS"]) > 20:
            problems.append(f"FIRST_EVENTS={lists['FIRST_EVENTS']} goes past 20 events: a user "
                            "that far along is no longer new; use e.g. [1, 3, 5]")
        raise_problems(problems)
        return cls(
            rolling_start=ROLLING_START, rolling_end=ROLLING_END,
            rolling_months=int(ROLLING_MONTHS), n_segments=int(N_SEGMENTS),
            segment_ks=tuple(sorted({int(k) for k in lists["SEGMENT_KS"]} | {int(N_SEGMENTS)})),
            segment_weight=(COLD_START_PARAMS["segment_weight"] if SEGMENT_WEIGHT is None
                            else float(SEGMENT_WEIGHT)),
            first_events=tuple(sorted(int(n) for n in lists["FIRST_EVENTS"])),
            strategies=("first_item", *[s for s in lists["STRATEGIES"] if s != "first_item"]),
            window=int(WINDOW), mean_window=int(MEAN_WINDOW), min_history=int(MIN_HISTORY),
            cutoffs=tuple(sorted(int(k) for k in lists["K"])), top_n=int(TOP_N),
            tolerance=float(TOLERANCE), seed=int(SEED),
            store_dir=None if STORE_DIR is None else str(STORE_DIR))

    @property
    def horizon_days(self) -> float:
        """Each cut-off's horizon: as long as the gap between cut-offs (30.5 days a month)."""
        return self.rolling_months * 30.5

    @property
    def new_user_events(self) -> int:
        """Events a new user needs in the horizon: the most first events, plus one to find."""
        return max(self.first_events) + 1

    def rolling(self, dataset: Dataset) -> list[Split]:
        """The global cut-off splits (``rolling_splits`` with this config's dates)."""
        return rolling_splits(dataset, self.rolling_start, self.rolling_end, self.rolling_months,
                              horizon_days=self.horizon_days)

    def check_data(self, dataset: Dataset) -> None:
        """K within the catalogue (the same ``invalid parameters`` error)."""
        if max(self.cutoffs) > len(dataset.items):
            raise_problems([f"K={list(self.cutoffs)} exceeds the catalogue "
                            f"({len(dataset.items)} items); lower K"])

    @property
    def store_path(self) -> Path | None:
        return None if self.store_dir is None else Path(self.store_dir)


def open_rolling(config: SegmentsConfig, dataset: Dataset) -> RollingExperiment:
    """The rolling experiment every section measures on (close it at the end)."""
    config.check_data(dataset)
    rx = RollingExperiment(config.rolling(dataset), config.cutoffs)
    rx.new_user_events = config.new_user_events
    return rx


# ------------------------------------------------------------------------------------------
# Section 1: PCA and segments (at the last cut-off)


def spectrum(item_matrix: np.ndarray, user_matrix: np.ndarray) -> pd.DataFrame:
    """Cumulative explained variance of the item vectors and of the users' interest vectors:
    components needed for 50 / 80 / 90 % and the share of the first two."""
    rows = []
    for name, x in (("items", item_matrix), ("users' interests", user_matrix)):
        _, _, explained = pca_axes(x, n_components=x.shape[1])
        cum = np.cumsum(explained)
        rows.append({"space": name, "vectors": len(x), "dim": x.shape[1],
                     "first 2 components": float(cum[1]),
                     **{f"components for {int(p * 100)} %": int(np.searchsorted(cum, p) + 1)
                        for p in (0.5, 0.8, 0.9)}})
    return pd.DataFrame(rows)


def k_table(exp: Experiment, ks: Sequence[int], seed: int = 0) -> pd.DataFrame:
    """Cohesion (mean cosine of users to their centroid) and segment sizes by k."""
    rows = []
    for k in ks:
        seg = exp.segments(int(k), seed=seed)
        rows.append({"k": int(k), "cohesion": seg.cohesion, "smallest": int(seg.sizes.min()),
                     "largest": int(seg.sizes.max())})
    return pd.DataFrame(rows)


def segment_profiles(exp: Experiment, segments: Segments, n: int = 3) -> pd.DataFrame:
    """One row per segment: members, its top genres by lift (share of the members' views and
    favorites in the genre / the share over everybody), the movies its members watched most,
    and the movie nearest its centroid."""
    train = exp.train
    items = train.items.set_index("item_id")
    ev = train.events[train.events["kind"] != "not_interested"]
    member = pd.Series(segments.labels, index=pd.Index(segments.keys))
    ev = ev[ev["user_id"].isin(member.index)].assign(
        segment=lambda f: member.reindex(f["user_id"]).to_numpy())
    genres = ev[["segment", "item_id"]].assign(
        genre=items["genres"].reindex(ev["item_id"]).to_numpy()).explode("genre").dropna()
    overall = genres["genre"].value_counts(normalize=True)
    vecs = exp.vectors()
    rows = []
    for s in range(segments.k):
        mine = genres[genres["segment"] == s]["genre"].value_counts(normalize=True)
        lift = (mine / overall.reindex(mine.index))[mine >= 0.02].sort_values(ascending=False)
        watched = ev[ev["segment"] == s]["item_id"].value_counts().index[:n]
        nearest = int(vecs.item_ids[int(np.argmax(vecs.vectors @ segments.centroids[s]))])
        rows.append({"segment": s, "users": int(segments.sizes[s]),
                     "top genres (lift)": ", ".join(f"{g} {v:.1f}x" for g, v in
                                                    lift.head(n).items()),
                     "most watched": "; ".join(str(items.loc[i, "title"]) for i in watched),
                     "nearest its centroid": str(items.loc[nearest, "title"])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# Section 2: cold start of new users


def strategy_params(strategy: str, config: SegmentsConfig) -> dict[str, Any]:
    """The Recommender parameters of one cold-start strategy."""
    if strategy == "first_item":
        return {}
    if strategy == "segment":
        return {"cold_start": "segment", "segments": config.n_segments,
                "segment_weight": config.segment_weight}
    return {"cold_start": strategy, "cold_events": max(config.first_events)}


def measure_cold_start(rx: RollingExperiment, config: SegmentsConfig
                       ) -> dict[int, dict[str, EvaluationResult]]:
    """Every strategy at every number of first events, pooled over the cut-offs (online; the
    strategies only change what is searched, so one replay per number of events serves all)."""
    out = {}
    for n in config.first_events:
        got = rx.measure_variants({s.replace("_", " "): strategy_params(s, config)
                                   for s in config.strategies}, new_users=n)
        out[n] = dict(zip(config.strategies, got.values(), strict=True))
    return out


def cold_start_table(cold: Mapping[int, Mapping[str, EvaluationResult]],
                     config: SegmentsConfig) -> pd.DataFrame:
    """first events x strategy: recall, ndcg, coverage and the (cut-off, user) pairs."""
    return pd.DataFrame([{"first events": n, "strategy": r.label, config.recall: r[config.recall],
                          config.ndcg: r[config.ndcg],
                          f"coverage@{max(config.cutoffs)}": r[f"coverage@{max(config.cutoffs)}"],
                          "pairs": len(r.users)}
                         for n, runs in cold.items() for r in runs.values()])


# ------------------------------------------------------------------------------------------
# Section 3: group trends and forecasts


@dataclass(frozen=True)
class CutoffTrends:
    """One cut-off's segments per month: ``months`` (its SegmentMonths over the data up to the
    horizon's end), ``events`` with their ``labels``, the ``targets`` (the horizon's months)."""

    split: Split
    segments: Segments
    months: SegmentMonths
    events: pd.DataFrame
    labels: np.ndarray
    targets: list[str]


def monthly_trends(rx: RollingExperiment, config: SegmentsConfig) -> list[CutoffTrends]:
    """Per cut-off: its segments (learned before it) labelling every event up to the horizon's
    end by its user's segment that month, and each segment's monthly centroids in the cut-off's
    item space. Only the horizon's months are forecast targets: no item vector or segment was
    learned after a predicted month."""
    out = []
    for exp, split in zip(rx.experiments, rx.splits, strict=True):
        vecs = exp.vectors()
        seg = exp.segments(config.n_segments, seed=config.seed)
        end = split.cutoff + split.horizon
        events = split.source.events
        events = events[events["timestamp"] < end].reset_index(drop=True)
        labels = event_segments(events, vecs.item_ids, vecs.vectors, seg)
        months = month_range(month_of([events["timestamp"].min()])[0],
                             month_of([end - 1])[0])
        sm = segment_months(events, vecs.item_ids, vecs.vectors, labels, seg.k, months)
        targets = [m for m in months if m >= month_of([split.cutoff])[0]]
        out.append(CutoffTrends(split, seg, sm, events, labels, targets))
    return out


def forecast_rows(trends: Sequence[CutoffTrends], config: SegmentsConfig) -> pd.DataFrame:
    """Every (cut-off, segment, target month) forecast: cosine of each method to the actual."""
    frames = [forecast_table(t.months, FORECAST_METHODS, config.window, config.min_history,
                             t.targets, config.mean_window)
              .assign(cutoff=str(pd.Timestamp(t.split.cutoff, unit="s").date()))
              for t in trends]
    return pd.concat(frames, ignore_index=True)


def serve_from_forecasts(rx: RollingExperiment, trends: Sequence[CutoffTrends],
                         config: SegmentsConfig) -> dict[str, EvaluationResult]:
    """New users (first seen in a cut-off's horizon) served from one vector each, ranked exactly
    by cosine (numpy, no popularity prior: a measure of the vectors, not of the product), their
    first item excluded, scored on the rest of their horizon. The vector is their first item,
    their segment's centroid as of the cut-off, or its forecast for the month of their first
    event (``FORECAST_METHODS``; months before that month only). Their segment is the one
    nearest their first item."""
    per: dict[str, list[EvaluationResult]] = {name: [] for name in SERVED_FROM}
    splits = []
    for exp, split, t in zip(rx.experiments, rx.splits, trends, strict=True):
        new = new_user_split(split, 1, config.new_user_events)
        users, relevant = new.relevant()
        if not len(users):
            continue
        splits.append(split)
        vecs = exp.vectors()
        row_of = pd.Index(vecs.item_ids)
        first = new.train.iloc[len(split.train):].set_index("user_id")
        first_rows = row_of.get_indexer(first.loc[users, "item_id"].to_numpy())
        first_vecs = vecs.vectors[first_rows]
        segment = t.segments.nearest(first_vecs)
        month = month_of(first.loc[users, "timestamp"].to_numpy())
        queries = {"first item": first_vecs,
                   "segment centroid": t.segments.centroids[segment]}
        for method in FORECAST_METHODS:
            by_month = {m: forecast_centroids(t.months, m, method, config.window,
                                              t.segments.centroids, config.mean_window)
                        for m in np.unique(month)}
            queries[method] = np.stack([by_month[m][s] for m, s in zip(month, segment,
                                                                       strict=True)])
        exclude = [np.array([r]) for r in first_rows]
        for name, q in queries.items():
            ranked = top_n(q.astype(np.float32) @ vecs.vectors.T, max(config.cutoffs),
                           exclude, vecs.item_ids)[0]
            per[name].append(EvaluationResult.score(name, users, ranked, relevant,
                                                    config.cutoffs, len(vecs.item_ids)))
    if not splits:
        raise ValueError("no cut-off has a new user to serve; widen ROLLING_START..ROLLING_END")
    return {name: pool(results, splits, name) for name, results in per.items()}


# ------------------------------------------------------------------------------------------
# Verdicts


def _row(claim: str, a: str, b: str, on: float, off: float, diff: Difference,
         tolerance: float) -> dict[str, Any]:
    return {"claim": claim, "with": a, "without": b, "on": on, "off": off, "diff": diff.mean,
            "ci_low": diff.low, "ci_high": diff.high,
            "verdict": verdict(diff, tolerance, CLAIM_WORDS), "note": ""}


def claims(config: SegmentsConfig, cold: Mapping[int, Mapping[str, EvaluationResult]],
           forecasts: pd.DataFrame, served: Mapping[str, EvaluationResult]) -> pd.DataFrame:
    """The lesson's claims as verdict rows (claim, with, without, on, off, diff, ci_low, ci_high,
    verdict, note), the form of notebook 06's table: cold start by ``config.recall`` paired over
    (cut-off, new user) pairs; forecasts by cosine to the actual centroid, paired over (cut-off,
    segment, month) rows (bootstrap interval); serving from a forecast by ``config.recall``."""
    pairs: dict[str, tuple[EvaluationResult | None, EvaluationResult | None]] = {}
    for n, runs in cold.items():
        first = runs.get("first_item")
        pairs[f"{n} event(s): a segment start beats the first item alone"] = (
            runs.get("segment"), first)
        pairs[f"{n} event(s): the first item beats popular items"] = (first, runs.get("popular"))
        pairs[f"{n} event(s): trending items beat all-time popular ones"] = (
            runs.get("trending"), runs.get("popular"))
    missing = {c: "strategy not in STRATEGIES" for c, (a, b) in pairs.items()
               if a is None or b is None}
    table = verdict_table(pairs, config.recall, config.tolerance, CLAIM_WORDS, missing)
    rows = [table]
    if len(forecasts):
        summary = forecast_summary(forecasts, FORECAST_METHODS, seed=config.seed).table
        by = summary.set_index("method")
        for method, text in (("momentum", "Step 6's momentum forecasts next month's segment "
                              "centroid better than last month's"),
                             ("mean", f"a {config.mean_window}-month mean forecasts next "
                              "month's segment centroid better than last month's")):
            r = by.loc[method]
            d = Difference("cosine", float(r["diff"]), float(r["diff_low"]),
                           float(r["diff_high"]), len(forecasts))
            rows.append(pd.DataFrame([_row(text, method, "last", float(r["mean"]),
                                           float(by.loc["last", "mean"]), d, 0.0)]))
    best = max(FORECAST_METHODS, key=lambda m: served[m][config.recall])
    served_pairs = {
        f"new users served the {best} forecast beat the segment's fixed centroid":
            (served[best], served["segment centroid"]),
        "new users served their segment's centroid beat their first item alone":
            (served["segment centroid"], served["first item"]),
    }
    rows.append(verdict_table(served_pairs, config.recall, config.tolerance, CLAIM_WORDS))
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------------------
# Plots


def plot_segments_2d(users: np.ndarray, segments: Segments, ax: Any = None) -> Any:
    """Users' interest vectors on their first two principal axes, coloured by segment, with the
    centroids; the caption gives the variance the picture keeps."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.2))
    mean, axes, explained = pca_axes(users)
    xy = (np.asarray(users, dtype=np.float64) - mean) @ axes.T
    cxy = (segments.centroids.astype(np.float64) - mean) @ axes.T
    cmap = plt.get_cmap("tab10" if segments.k <= 10 else "tab20")
    for s in range(segments.k):
        mine = segments.labels == s
        ax.scatter(xy[mine, 0], xy[mine, 1], s=8, alpha=0.6, color=cmap(s % cmap.N),
                   label=f"segment {s} ({int(mine.sum())})")
        ax.scatter(*cxy[s], s=120, marker="X", color=cmap(s % cmap.N), edgecolor="black")
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%})")
    ax.set_title(f"{segments.k} segments; this picture keeps {explained.sum():.0%} of the "
                 "variance", fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="best")
    return ax


def plot_cold_start(table: pd.DataFrame, metric: str, ax: Any = None) -> Any:
    """``metric`` against the number of first events, one line per strategy."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    for name, rows in table.groupby("strategy", sort=False):
        ax.plot(rows["first events"], rows[metric], marker="o", label=str(name))
    ax.set_xticks(sorted(table["first events"].unique()))
    ax.set_xlabel("events the new user has done")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_trajectories(trends: CutoffTrends, ax: Any = None, months: int = 36) -> Any:
    """Each segment's monthly centroid against its centroid as of the cut-off (cosine), over the
    last ``months`` months: how far a group's taste wanders month to month. Months without
    events are gaps."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    sm = trends.months
    keep = slice(max(0, len(sm.months) - months), len(sm.months))
    x = np.arange(len(sm.months))[keep]
    for s in range(sm.n_segments):
        cos = sm.centroids[s, keep].astype(np.float64) @ trends.segments.centroids[s]
        cos = np.where(sm.observed[s, keep], cos, np.nan)  # a gap where nothing was watched
        ax.plot(x, cos, marker=".", lw=1, label=f"segment {s}")
    if trends.targets:
        ax.axvline(sm.months.index(trends.targets[0]) - 0.5, color="black", ls="--", lw=1,
                   label="cut-off")
    ticks = x[:: max(1, len(x) // 8)]
    ax.set_xticks(ticks, [sm.months[i] for i in ticks], rotation=30, fontsize=7)
    ax.set_ylabel("cosine to the segment's centroid")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=3)
    return ax
