"""recsys_nb.evaluate.rolling: global cut-offs (no model learns from any later event), pooling,
and the trending baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb.data import Dataset
from recsys_nb.evaluate import (
    cutoff_dates,
    cutoff_split,
    evaluate_baseline,
    evaluate_rolling,
    paired_difference,
    pool,
    recommend_baseline,
    rolling_splits,
)

DAY = 86_400


def dataset() -> Dataset:
    """Two years of events: items 1-3 popular in 2001, items 4-5 in 2002."""
    t0 = pd.Timestamp("2001-01-01").timestamp()
    rows = []
    for u in range(1, 9):
        for d, item in enumerate([1, 2, 3, 1 + u % 3, 6]):
            rows.append((u, item, t0 + (10 * u + d) * DAY))  # 2001
        for d, item in enumerate([4, 5, 4 + u % 2]):
            rows.append((u, item, t0 + (400 + 10 * u + d) * DAY))  # 2002
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    events = events.drop_duplicates(["user_id", "item_id"]).assign(kind="view")
    items = pd.DataFrame({"item_id": range(1, 8), "title": [f"m{i}" for i in range(1, 8)]})
    return Dataset(items, events)


def test_nothing_learned_is_later_than_the_cut_off():
    ds = dataset()
    cut = pd.Timestamp("2002-01-01").timestamp()
    split = cutoff_split(ds, cut, horizon_days=365, min_history=3)
    assert split.train["timestamp"].max() < cut <= split.test["timestamp"].min()
    assert split.test["timestamp"].max() < cut + 365 * DAY
    assert len(split.train) == int((ds.events["timestamp"] < cut).sum())  # every user's past
    assert split.users.tolist() == list(range(1, 9)) and "cutoff=2002-01-01" in repr(split)
    # a user needs min_history events before the cut-off
    assert cutoff_split(ds, cut, 365, min_history=6).users.size == 0
    with pytest.raises(ValueError, match="horizon_days=0"):
        cutoff_split(ds, cut, 0)


def test_cutoff_dates_and_rolling_splits():
    ds = dataset()
    dates = cutoff_dates(ds.events, "2000-01-01", "2003-01-01", months=6)
    assert [pd.Timestamp(c, unit="s").strftime("%Y-%m") for c in dates] == [
        "2001-07", "2002-01"]  # only where events exist on both sides
    splits = rolling_splits(ds, "2000-01-01", "2003-01-01", 6, horizon_days=365, min_history=3)
    assert [s.cutoff for s in splits] == dates
    # a horizon that ends before 2002's events leaves 2001-07 with nothing to find: dropped
    short = rolling_splits(ds, "2000-01-01", "2003-01-01", 6, horizon_days=150, min_history=3)
    assert [s.cutoff for s in short] == dates[1:]
    with pytest.raises(ValueError, match="no cut-off between"):
        rolling_splits(ds, "2010-01-01", "2011-01-01")


def test_trending_knows_what_is_popular_now():
    """Items 1-2 were everybody's in 2001; item 3 is what three people watched last month."""
    cut = pd.Timestamp("2002-06-01").timestamp()
    old = [(u, i, cut - 300 * DAY + u) for u in range(1, 11) for i in (1, 2)]
    recent = [(u, 3, cut - 10 * DAY + u) for u in (1, 2, 3)]
    target = [(50, i, cut - 200 * DAY + i) for i in (4, 5, 6)]
    later = [(50, 3, cut + DAY)]
    events = pd.DataFrame(old + recent + target + later,
                          columns=["user_id", "item_id", "timestamp"]).assign(kind="view")
    items = pd.DataFrame({"item_id": range(1, 7), "title": [f"m{i}" for i in range(1, 7)]})
    split = cutoff_split(Dataset(items, events), cut, 30, min_history=3)
    assert split.users.tolist() == [50]
    assert recommend_baseline("popularity", split, [50], n=3).tolist() == [[1, 2, 3]]
    assert recommend_baseline("trending", split, [50], n=3, days=30).tolist() == [[3, 1, 2]]
    # a window that holds no event: all-time popularity breaks every tie
    assert recommend_baseline("trending", split, [50], n=3, days=5).tolist() == [[1, 2, 3]]
    with pytest.raises(ValueError, match="days=-1"):
        recommend_baseline("trending", split, [50], n=3, days=-1)


def test_pool_keys_pairs_and_compares_them():
    ds = dataset()
    cuts = [pd.Timestamp(d).timestamp() for d in ("2001-06-01", "2002-01-01")]
    splits = [cutoff_split(ds, c, 365, 3) for c in cuts]
    splits = [s for s in splits if len(s.relevant()[0])]
    a = evaluate_rolling(splits, lambda s: evaluate_baseline("popularity", s, (2,)), "pop")
    b = evaluate_rolling(splits, lambda s: evaluate_baseline("trending", s, (2,)), "trend")
    n_pairs = sum(len(s.relevant()[0]) for s in splits)
    assert len(a.users) == n_pairs and a.users[0].startswith(
        str(pd.Timestamp(splits[0].cutoff, unit="s").date()))
    assert a.row["cutoffs_pooled"] == len(splits) and a.label == "pop"
    one = [evaluate_baseline("popularity", s, (2,)) for s in splits]
    weights = [len(r.users) for r in one]
    assert a["recall@2"] == pytest.approx(np.average([r["recall@2"] for r in one],
                                                     weights=weights))
    d = paired_difference(b, a, "recall@2")
    assert d.n_users == n_pairs
    with pytest.raises(ValueError, match="one per split"):
        pool(one[:1], splits + splits)


def test_later_training_share_measures_the_leak_of_a_per_user_split():
    from recsys_nb.data import load_movielens
    from recsys_nb.evaluate import later_training_share, temporal_split

    ds = load_movielens()
    share = later_training_share(temporal_split(ds))
    assert 0.3 < share < 0.6  # MovieLens: 43 % of the training events are later, on average
    assert later_training_share(rolling_splits(ds)[3]) == 0.0  # a global cut-off: none
    toy = cutoff_split(ds, rolling_splits(ds)[3].cutoff)
    empty = toy.restrict(toy.users[:0])
    with pytest.raises(ValueError, match="no training or no held-out events"):
        later_training_share(empty)
