"""Group trends (recsys_nb.trends): segments per month, monthly centroids, their forecasts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recsys_nb import trends as T
from recsys_nb.segments import Segments
from recsys_nb.vectors import DegenerateVectorError

REPO = Path(__file__).resolve().parents[1]
DELTA = np.deg2rad(10.0)  # the closed-form segment turns 10 degrees a month
X, Y = np.eye(2, dtype=np.float32)


def stamp(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").timestamp())


def rotation(m: int, delta: float = DELTA) -> np.ndarray:
    """m monthly centroids of one segment turning at a constant angle in 2-D."""
    a = np.arange(m) * delta
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def angle(v: np.ndarray) -> float:
    return float(np.arctan2(v[1], v[0]))


def months_of(s: int, m: int, d: int, cent: np.ndarray, observed: np.ndarray) -> T.SegmentMonths:
    months = T.month_range("2000-01", str(np.datetime64("2000-01") + m - 1))
    observed = observed.reshape(s, m)
    cent = np.where(observed[..., None], cent.reshape(s, m, d), 0.0).astype(np.float32)
    return T.SegmentMonths(cent, observed.astype(np.int64) * 3, months, observed)


# ------------------------------------------------------------------------------ months


def test_month_of_is_utc_and_month_range_lists_empty_months_too():
    got = T.month_of([0, stamp("2009-12-31 23:59:59"), stamp("2010-01-01"), 1262304000.7])
    assert got.tolist() == ["1970-01", "2009-12", "2010-01", "2010-01"]
    assert T.month_range("2009-11", "2010-02") == ["2009-11", "2009-12", "2010-01", "2010-02"]
    assert T.month_range("2010-05", "2010-05") == ["2010-05"]
    with pytest.raises(ValueError, match="timestamp nan is not a finite number"):
        T.month_of([0.0, np.nan])
    with pytest.raises(ValueError, match="first='2010-13' is not a month; write it as 'YYYY-MM'"):
        T.month_range("2010-13", "2011-01")
    with pytest.raises(ValueError, match="first='2010-03' is after last='2010-01'"):
        T.month_range("2010-03", "2010-01")


# ------------------------------------------------------------------ closed-form forecasts


def test_a_steady_rotation_momentum_extrapolates_last_lags_one_step_mean_lags_more():
    hist, observed = rotation(12), np.ones(12, bool)  # months 0..11; the target is month 12
    target = 12 * DELTA

    def error(method: str, **kw) -> float:
        return np.rad2deg(angle(T.forecast(hist, observed, method, **kw).vector) - target)

    # window 2: a1 = month 10, a2 = month 11, p = 2 a2 - a1 at 11d + atan(sin d / (2 - cos d))
    exact2 = np.rad2deg(11 * DELTA + np.arctan2(np.sin(DELTA), 2 - np.cos(DELTA)) - target)
    assert error("momentum", window=2) == pytest.approx(exact2, abs=1e-4)
    assert abs(exact2) == pytest.approx(0.2935, abs=1e-4)  # "almost exactly" the next angle
    # window 6: the halves' centres are months 7 and 10, 3 months apart: 10d + atan(sin 3d / ..)
    exact6 = np.rad2deg(10 * DELTA + np.arctan2(np.sin(3 * DELTA), 2 - np.cos(3 * DELTA)) - target)
    assert error("momentum") == pytest.approx(exact6, abs=1e-4)
    assert exact6 == pytest.approx(3.79, abs=0.01)  # overshoots a little: w/4 - 1/2 months ahead
    assert error("last") == pytest.approx(-10.0, abs=1e-4)  # one month behind
    assert error("mean", mean_window=6) == pytest.approx(-35.0, abs=1e-4)  # centre of 6..11
    assert error("mean") == pytest.approx(-65.0, abs=1e-4)  # all 12 months: centre 5.5
    assert T.forecast(hist, observed, "momentum").used == "momentum"


def test_forecast_table_scores_the_rotation_and_skips_unobserved_or_short_histories():
    m = 14
    observed = np.ones(m, bool)
    observed[[1, 12]] = False  # a month without events in the history, and one as a target
    sm = months_of(1, m, 2, rotation(m), observed)
    assert sm.centroids[0, 12].tolist() == [0.0, 0.0] and np.isfinite(sm.centroids).all()
    table = T.forecast_table(sm, mean_window=6)
    # month 0 has no history, month 1 and 12 are unobserved, month 2 has one observed month
    assert table["month"].tolist() == sm.months[3:12] + [sm.months[13]]
    assert table["history"].tolist() == list(range(2, 11)) + [11]
    last = table.iloc[-1]  # month 13 forecast from month 11 (a gap is skipped, not stretched)
    assert last["cos_last"] == pytest.approx(np.cos(2 * DELTA), abs=1e-6)
    assert last["cos_mean"] == pytest.approx(np.cos(4.5 * DELTA), abs=1e-5)  # 6..11: centre 8.5
    only = T.forecast_table(sm, targets=[sm.months[8]], mean_window=6)
    assert only["month"].tolist() == [sm.months[8]] and only["events"].tolist() == [3]
    assert only["cos_last"].iloc[0] == pytest.approx(np.cos(DELTA), abs=1e-6)
    assert not table[["fallback_momentum", "fallback_last", "fallback_mean"]].any().any()
    assert T.forecast_table(sm, targets=[sm.months[12]]).empty  # an unobserved target: no row
    with pytest.raises(ValueError, match="month '2001-03' is not covered; .*2000-01..2001-02"):
        T.forecast_table(sm, targets=["2001-03"])
    with pytest.raises(ValueError, match=r"min_history=1 must be an integer >= 2: \['momentum'"):
        T.forecast_table(sm, min_history=1)
    assert len(T.forecast_table(sm, methods=("last",), min_history=1)) == len(table) + 1


def test_gaps_are_skipped_so_a_padded_history_forecasts_the_same():
    hist = rotation(5)
    padded = np.zeros((8, 2), np.float32)
    observed = np.zeros(8, bool)
    observed[[0, 2, 3, 6, 7]] = True
    padded[observed] = hist
    for method in T.FORECAST_METHODS:
        np.testing.assert_array_equal(T.forecast(padded, observed, method, window=4).vector,
                                      T.forecast(hist, np.ones(5, bool), method, window=4).vector)


def test_a_cancelling_momentum_falls_back_to_the_mean_and_says_so():
    u = np.array([0.5, np.sqrt(3) / 2])
    hist = np.array([X, X, u, u * [1, -1]])  # a1 = X, a2 = X / 2: a2 + (a2 - a1) = 0
    f = T.forecast(hist, np.ones(4, bool), "momentum", window=4)
    assert (f.method, f.used, f.fell_back) == ("momentum", "mean", True)
    np.testing.assert_allclose(f.vector, [1.0, 0.0], atol=1e-6)  # the mean of the four: (3, 0)/4
    sm = months_of(1, 5, 2, np.vstack([hist, X[None]]), np.ones(5, bool))
    row = T.forecast_table(sm, window=4, targets=[sm.months[4]]).iloc[0]
    assert bool(row["fallback_momentum"]) and row["cos_momentum"] == pytest.approx(1.0)
    # the mean cancelling too: the last month stands in
    g = T.forecast(np.array([X, -X]), np.ones(2, bool), "mean")
    assert g.used == "last" and g.vector.tolist() == [-1.0, 0.0]


def test_forecast_errors_name_the_month_count_the_fallback_and_the_method():
    one = np.ones(1, bool)
    with pytest.raises(ValueError, match="'momentum' needs at least 2 observed months before the "
                                         "target, got 1; fall back to 'last'"):
        T.forecast(rotation(1), one, "momentum")
    with pytest.raises(ValueError, match="'last' needs at least 1 observed months.*got 0"):
        T.forecast(np.zeros((3, 2)), np.zeros(3, bool), "last")
    with pytest.raises(ValueError, match=r"method='median' is unknown; use one of \['momentum'"):
        T.forecast(rotation(3), np.ones(3, bool), "median")
    with pytest.raises(ValueError, match="window=1 must be an integer >= 2"):
        T.forecast(rotation(3), np.ones(3, bool), "momentum", window=1)
    with pytest.raises(ValueError, match=r"history of shape \(3, 2\) with 2 observed flags"):
        T.forecast(rotation(3), np.ones(2, bool), "last")
    with pytest.raises(DegenerateVectorError, match="observed month 1 of the history is a zero"):
        T.forecast(np.array([X, [0.0, 0.0]]), np.ones(2, bool), "mean")


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(2, 5)),
              elements=st.floats(-3, 3, allow_nan=False)),
       st.data(), st.integers(2, 6), st.integers(1, 6))
def test_every_forecast_row_is_unit_and_finite_for_random_observed_patterns(x, data, w, mw):
    s, m, d = x.shape
    observed = np.array(data.draw(st.lists(st.booleans(), min_size=s * m, max_size=s * m)))
    observed = observed.reshape(s, m) & (np.linalg.norm(x, axis=2) > 1e-3)
    unit = x / np.maximum(np.linalg.norm(x, axis=2, keepdims=True), 1e-12)
    sm = months_of(s, m, d, unit, observed)
    table = T.forecast_table(sm, window=w, mean_window=mw)
    cos = table[[f"cos_{k}" for k in T.FORECAST_METHODS]].to_numpy()
    assert np.isfinite(cos).all() and (np.abs(cos) <= 1).all()
    for method in T.FORECAST_METHODS:
        for seg in range(s):
            if observed[seg].sum() >= T.NEEDS[method]:
                v = T.forecast(sm.centroids[seg], observed[seg], method, w, mw).vector
                assert np.isfinite(v).all() and abs(np.linalg.norm(v) - 1) < 1e-5
        fallback = np.tile(np.eye(d)[0], (s, 1))
        month = data.draw(st.sampled_from(sm.months + ["1999-12", "2003-01"]))
        out = T.forecast_centroids(sm, month, method, w, fallback=fallback, mean_window=mw)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_forecast_centroids_fall_back_to_the_last_month_then_to_the_given_centroids():
    observed = np.array([[True] * 6, [False] * 4 + [True, False], [False] * 6])
    cent = np.stack([rotation(6), np.tile(Y, (6, 1)), np.tile(X, (6, 1))])
    sm = months_of(3, 6, 2, cent, observed)
    own = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, -2.0]])
    out = T.forecast_centroids(sm, "2000-07", "momentum", window=2, fallback=own)
    np.testing.assert_array_equal(out[0], T.forecast(rotation(6), np.ones(6, bool), "momentum",
                                                     window=2).vector)
    np.testing.assert_allclose(out[1], Y)  # one observed month: the last one
    np.testing.assert_allclose(out[2], [0.0, -1.0])  # none: its own centroid, normalized
    early = T.forecast_centroids(sm, "2000-03", "last", fallback=own)  # months 01, 02 only
    np.testing.assert_allclose(early[0], rotation(2)[1], atol=1e-7)
    np.testing.assert_allclose(early[1], own[1])  # its one month (05) is after 03: its own
    with pytest.raises(ValueError, match="segment 1 has no observed month before 2000-03; pass "
                                         "fallback=Segments.centroids"):
        T.forecast_centroids(sm, "2000-03", "last")
    with pytest.raises(ValueError, match=r"fallback of shape \(3, 3\) for 3 segments of "
                                         "dimension 2"):
        T.forecast_centroids(sm, "2000-07", "last", fallback=np.ones((3, 3)))
    with pytest.raises(ValueError, match="month='2000/07' is not a month"):
        T.forecast_centroids(sm, "2000/07", "last", fallback=own)
    with pytest.raises(ValueError, match="method='trend' is unknown"):
        T.forecast_centroids(sm, "2000-07", "trend", fallback=own)


def test_forecast_summary_means_intervals_paired_differences_and_the_winner():
    rng = np.random.default_rng(0)
    noise = 0.01 * rng.standard_normal(40)
    table = pd.DataFrame({"cos_momentum": 0.9 + noise, "cos_last": 0.5 + noise,
                          "cos_mean": 0.7 + noise[::-1]})
    s = T.forecast_summary(table)
    got = s.table.set_index("method")
    assert got.loc["momentum", "mean"] == pytest.approx(0.9 + noise.mean())
    assert got.loc["momentum", "diff"] == pytest.approx(0.4)
    assert got.loc["momentum", "diff_low"] == pytest.approx(0.4) == got.loc["momentum", "diff_high"]
    assert got.loc["mean", "low"] < got.loc["mean", "mean"] < got.loc["mean", "high"]
    assert got["verdict"].tolist() == ["better", "baseline", "better"]
    assert (s.best, s.winner, s.n) == ("momentum", "momentum", 40)
    tie = T.forecast_summary(table.assign(cos_last=table["cos_momentum"] + noise[::-1]))
    assert tie.winner is None and tie.best in ("momentum", "last")
    assert tie.table.set_index("method").loc["momentum", "verdict"] == "no measurable difference"
    with pytest.raises(ValueError, match="no forecasts to summarize"):
        T.forecast_summary(table.iloc[:0])
    with pytest.raises(ValueError, match=r"table lacks \['cos_median'\]"):
        T.forecast_summary(table, methods=("median",))


# ------------------------------------------------------- events, segments and centroids

ITEM_IDS = np.array([10, 20, 30])
# 10 = X (not unit length: every vector is normalized before it counts), 20 = Y, 30 = diagonal
ITEMS = np.array([3 * X, Y, (X + Y) / np.sqrt(2)], dtype=np.float32)
SEGMENTS = Segments(np.array([X, Y]), np.array([1, 1]), np.array([0, 1]), (0, 1), 1.0)


def toy_events() -> pd.DataFrame:
    rows = [  # deliberately not in time order: labels stay aligned with these rows
        (7, 20, "2010-02-03", "view"), (7, 10, "2010-01-05", "view"),
        (8, 20, "2010-01-02", "view"), (8, 10, "2010-01-28", "favorite"),
        (7, 20, "2010-02-10", "view"), (7, 20, "2010-02-20", "view"),
        (9, 10, "2010-01-15", "not_interested"), (9, 20, "2010-02-15", "view"),
    ]
    return pd.DataFrame({"user_id": [r[0] for r in rows], "item_id": [r[1] for r in rows],
                         "rating": np.nan, "timestamp": [stamp(r[2]) for r in rows],
                         "kind": [r[3] for r in rows]})


def test_event_segments_use_each_users_interest_at_the_end_of_the_month():
    events = toy_events()
    labels = T.event_segments(events, ITEM_IDS, ITEMS, SEGMENTS, alpha_view=0.5,
                              alpha_favorite=0.9)
    # user 7: X in January (segment 0), then Y three times in February: 45, 67.5, 78.75 deg -> 1;
    # user 8: Y then a favorite X (alpha 0.9) in January: the month ends near X, so both are 0;
    # user 9: only a not-interested in January (no vector yet: -1), a view of Y in February
    assert labels.tolist() == [1, 0, 0, 0, 1, 1, -1, 1]
    assert labels.dtype == np.int64
    # a slower EMA keeps user 7 nearer X after February's three views: 14, 27, 38 degrees
    slow = T.event_segments(events, ITEM_IDS, ITEMS, SEGMENTS, alpha_view=0.2)
    assert slow[[0, 4, 5]].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="dimension 3 but segments of dimension 2"):
        T.event_segments(events, ITEM_IDS, np.eye(3, dtype=np.float32), SEGMENTS)


def test_segment_months_average_positive_events_and_keep_empty_months_zero():
    events = toy_events()
    labels = np.array([1, 0, 0, 0, 1, 1, -1, 1])
    sm = T.segment_months(events, ITEM_IDS, ITEMS, labels, 2,
                          months=T.month_range("2009-12", "2010-03"))
    assert sm.months == ["2009-12", "2010-01", "2010-02", "2010-03"]
    assert sm.counts.tolist() == [[0, 3, 0, 0], [0, 0, 4, 0]]  # the not-interested is left out
    assert sm.observed.tolist() == [[False, True, False, False], [False, False, True, False]]
    np.testing.assert_allclose(sm.centroids[0, 1], [2 / np.sqrt(5), 1 / np.sqrt(5)], atol=1e-7)
    np.testing.assert_allclose(sm.centroids[1, 2], Y)
    assert np.isfinite(sm.centroids).all() and sm.centroids.dtype == np.float32
    assert (sm.centroids[:, [0, 3]] == 0).all()  # months without any event: zero rows, not NaN
    auto = T.segment_months(events, ITEM_IDS, ITEMS, labels, 2)
    assert auto.months == ["2010-01", "2010-02"] and auto.counts.sum() == 7
    narrow = T.segment_months(events, ITEM_IDS, ITEMS, labels, 2, months=["2010-02"])
    assert narrow.counts.tolist() == [[0], [4]]  # January's events are outside the months
    # a view of X and one of -X in one cell: counted, but their mean has no direction
    ids, items = np.append(ITEM_IDS, 40), np.vstack([ITEMS, -2 * X])
    z = T.segment_months(events.assign(item_id=[20, 10, 40, 10, 20, 20, 10, 20]), ids, items,
                         np.array([-1, 0, 0, -1, -1, -1, -1, -1]), 2)
    assert z.counts.tolist() == [[2, 0], [0, 0]] and not z.observed.any()
    assert (z.centroids == 0).all()


def test_trending_items_count_views_and_favorites_ties_by_item_id():
    events = pd.concat([toy_events()] * 2, ignore_index=True)
    labels = np.tile([1, 0, 0, 0, 1, 1, -1, 1], 2)
    months = T.month_range("2010-01", "2010-03")
    top = T.trending_items(events, labels, months, 0, "2010-01")
    assert top.to_dict("list") == {"item_id": [10, 20], "events": [4, 2]}
    assert T.trending_items(events, labels, months, 1, "2010-02", n=1)["item_id"].tolist() == [20]
    tied = events.assign(item_id=np.tile([20, 30, 20, 10, 20, 20, 10, 20], 2))
    got = T.trending_items(tied, labels, months, 0, "2010-01")  # 30, 20 and 10 twice each
    assert got.to_dict("list") == {"item_id": [10, 20, 30], "events": [2, 2, 2]}
    empty = T.trending_items(events, labels, months, 0, "2010-03")  # a month without events
    assert empty.empty and list(empty.columns) == ["item_id", "events"]
    with pytest.raises(ValueError, match=r"segment=2 is out of range; use 0\.\.1"):
        T.trending_items(events, labels, months, 2, "2010-01")
    with pytest.raises(ValueError, match=r"segment=2 is out of range; use 0\.\.1"):
        T.segment_months(events, ITEM_IDS, ITEMS, labels, 2).check_segment(2)
    with pytest.raises(ValueError, match="month '2011-01' is outside the months studied"):
        T.trending_items(events, labels, months, 0, "2011-01")


@pytest.mark.parametrize("change, fragment", [
    (lambda e: e.drop(columns="kind"), r"events lack the column\(s\) \['kind'\]"),
    (lambda e: e.assign(kind="like"), r"unknown event kind\(s\) \['like'\]"),
    (lambda e: e.assign(item_id=[10, 99] * 4), r"4 events name items without a vector \(e.g. "
                                               "item_id 99\\)"),
    (lambda e: e.assign(timestamp=np.nan), "timestamp nan is not a finite number"),
])
def test_bad_events_are_named_with_the_fix(change, fragment):
    bad = change(toy_events())
    with pytest.raises(ValueError, match=fragment):
        T.event_segments(bad, ITEM_IDS, ITEMS, SEGMENTS)
    with pytest.raises(ValueError, match=fragment):
        T.segment_months(bad, ITEM_IDS, ITEMS, np.zeros(8, np.int64), 2)


def test_segment_months_reject_bad_labels_matrices_and_months():
    events = toy_events()
    labels = np.zeros(8, np.int64)
    with pytest.raises(ValueError, match=r"label 5 is outside -1\.\.1"):
        T.segment_months(events, ITEM_IDS, ITEMS, np.full(8, 5), 2)
    with pytest.raises(ValueError, match="labels hold 3 values"):
        T.segment_months(events, ITEM_IDS, ITEMS, labels[:3], 2)
    with pytest.raises(ValueError, match=r"item_matrix has shape \(2, 2\) for 3 item ids"):
        T.segment_months(events, ITEM_IDS, ITEMS[:2], labels, 2)
    with pytest.raises(ValueError, match=r"n_segments=0 must be an integer >= 1 \(Segments.k\)"):
        T.segment_months(events, ITEM_IDS, ITEMS, labels, 0)
    with pytest.raises(ValueError, match="months must be consecutive calendar months"):
        T.segment_months(events, ITEM_IDS, ITEMS, labels, 2, months=["2010-01", "2010-03"])
    with pytest.raises(ValueError, match="no events and no months"):
        T.segment_months(events.iloc[:0], ITEM_IDS, ITEMS, labels[:0], 2)
    none = T.segment_months(events.iloc[:0], ITEM_IDS, ITEMS, labels[:0], 2, months=["2010-01"])
    assert none.counts.sum() == 0 and not none.observed.any()


# ------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def movielens_trends():
    """Item vectors and segments learned from the events before 2010-01-01 only; the events up
    to 2010-06 labelled with their users' segments at each month's end."""
    from recsys_nb.data import load_movielens
    from recsys_nb.embeddings import embed_items
    from recsys_nb.replay import replay_batch
    from recsys_nb.segments import fit_segments

    ds = load_movielens()
    ts = ds.events["timestamp"]
    train = ds.events[ts < stamp("2010-01-01")]
    vectors = embed_items(ds.items, train, "blend", dim=64, progress=False,
                          cache_path=REPO / "data" / "cache" / "embeddings.sqlite")
    rows = pd.Index(vectors.item_ids).get_indexer(train["item_id"])
    kinds = train["kind"].to_numpy()
    params = np.where(kinds == "not_interested", 0.1, np.where(kinds == "favorite", 0.45, 0.25))
    users = replay_batch(train["user_id"].to_numpy(), rows, T.operations(kinds), params,
                         item_matrix=vectors.vectors, cold_subtract="ignore")
    segments = fit_segments(users.vectors[users.has_vector], 4,
                            keys=users.keys[users.has_vector], seed=0)
    events = ds.events[ts < stamp("2010-07-01")].reset_index(drop=True)
    labels = T.event_segments(events, vectors.item_ids, vectors.vectors, segments)
    return events, vectors, segments, labels, params


def test_event_segments_match_a_direct_replay_of_one_movielens_user(movielens_trends):
    from recsys_nb.replay import replay

    events, vectors, segments, labels, _ = movielens_trends
    month = T.month_of(events["timestamp"])
    active = pd.Series(month).groupby(events["user_id"]).nunique()
    user = int(active.idxmax())  # the user active in the most months
    mine = np.flatnonzero(events["user_id"].to_numpy() == user)
    assert len(set(month[mine])) >= 10
    kinds = events["kind"].to_numpy()[mine]
    params = np.where(kinds == "not_interested", 0.1, np.where(kinds == "favorite", 0.45, 0.25))
    rows = pd.Index(vectors.item_ids).get_indexer(events["item_id"].to_numpy()[mine])
    seen = set()
    for m in sorted(set(month[mine])):
        upto = month[mine] <= m  # events are in time order: everything up to the month's end
        v = replay(None, rows[upto], T.operations(kinds[upto]), params[upto],
                   item_matrix=vectors.vectors, cold_subtract="ignore").vector
        expected = -1 if v is None else segments.nearest(v)
        assert (labels[mine[month[mine] == m]] == expected).all(), m
        seen.add(expected)
    assert len(seen) >= 2  # the user changes segment over time, so the month matters


def test_movielens_forecasts_of_the_six_months_after_the_cutoff(movielens_trends):
    events, vectors, segments, labels, _ = movielens_trends
    sm = T.segment_months(events, vectors.item_ids, vectors.vectors, labels, segments.k)
    assert sm.months[0] == "1995-01" and sm.months[-1] == "2010-06"
    targets = T.month_range("2010-01", "2010-06")
    table = T.forecast_table(sm, targets=targets)
    assert len(table) >= 8 and set(table["month"]) <= set(targets)
    cell = (table["segment"].to_numpy(), [sm.index(m) for m in table["month"]])
    assert sm.observed[cell].all()  # rows only for observed months
    assert (table["events"].to_numpy() == sm.counts[cell]).all()
    cos = table[[f"cos_{m}" for m in T.FORECAST_METHODS]].to_numpy()
    assert np.isfinite(cos).all() and (np.abs(cos) <= 1).all()
    summary = T.forecast_summary(table)
    means = dict(zip(summary.table["method"], summary.table["mean"].round(3), strict=True))
    print("mean cosine per method, 2010-01..2010-06:", means, "n =", summary.n,
          "winner:", summary.winner)
    assert all(0.3 < v < 1 for v in means.values())
    served = T.forecast_centroids(sm, "2010-07", "momentum", fallback=segments.centroids)
    np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)
    top = T.trending_items(events, labels, sm.months, int(table["segment"].iloc[0]),
                           table["month"].iloc[0], n=5)
    assert 1 <= len(top) <= 5 and top["events"].is_monotonic_decreasing
