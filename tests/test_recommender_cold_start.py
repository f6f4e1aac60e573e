"""The Recommender's cold-start strategies (recsys_nb.cold_start): first item, segment blend,
popular and trending lists for new users; checked against the same math done by hand."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.recommender import Recommender, item_counts
from recsys_nb.segments import blend, fit_segments, segment_share


@pytest.fixture(scope="module")
def small():
    """40 real MovieLens users on their 800 most-rated items."""
    ds = sample_users(load_movielens(), 40, seed=2, min_events=20)
    return subset_items(ds, ds.events["item_id"].value_counts().index[:800])


@pytest.fixture(scope="module")
def service(small, tmp_path_factory):
    """A default service with every user ingested, and segments of their interests."""
    rec = Recommender.from_dataset(small, tmp_path_factory.mktemp("store"),
                                   embedding="collaborative", dim=16, progress=False)
    rec.ingest(small.events)
    users = [int(u) for u in small.users]
    seg = fit_segments(np.stack([rec.interest(u) for u in users]), 4, keys=users, seed=0)
    yield rec, seg
    rec.close()


def _first(small, n: int = 1) -> pd.DataFrame:
    """A new visitor's first ``n`` positive events (those of a real user, renamed)."""
    ev = small.events[small.events["kind"] != "not_interested"]
    first = ev[ev["user_id"] == small.users[0]].sort_values("timestamp", kind="stable").head(n)
    return first.assign(user_id="new")


def test_segment_blends_the_nearest_centroid_and_fades(service, small):
    rec, seg = service
    first = _first(small, 3)
    user = f"seg-{threading.get_ident()}"
    rec.set_params(cold_start="segment", segments=seg, segment_weight=0.6)
    try:
        for k, row in enumerate(first.itertuples(), start=1):
            rec.view(user, int(row.item_id), timestamp=float(row.timestamp))
            v = rec.interest(user)
            share = segment_share(k, 0.6, rec.alpha_view)
            query = blend(v, seg.centroids[seg.nearest(v)], share)
            got = rec.recommend(user, n=10)
            assert got["source"].eq("segment").all()
            expected = rec.item_store.query(query, n=10, exclude=set(first["item_id"][:k]),
                                            popularity_weight=rec.prior_weight)
            assert got["item_id"].tolist() == expected["item_id"].tolist()
        # the stored vector is the technique's (v = e, then EMA): the strategy only searches
        np.testing.assert_allclose(rec.interest(user),
                                   rec.interest_trail(user)[1][-1], atol=1e-6)
        # weight 0: exactly the technique's list
        rec.set_params(segment_weight=0.0)
        assert rec.recommend(user, n=10)["source"].eq("interest").all()
    finally:
        rec.set_params(cold_start="first_item", segments=None, segment_weight=0.5)
    assert rec.recommend(user, n=5)["source"].eq("interest").all()
    assert "cold_start" not in repr(rec)


def test_popular_and_trending_serve_their_list_for_the_first_events(service, small):
    rec, seg = service
    first = _first(small, 3)
    user = "pop-user"
    for row in first.itertuples():
        rec.view(user, int(row.item_id), timestamp=float(row.timestamp))
    seen = set(first["item_id"])
    rec.set_params(cold_start="popular", cold_events=3)
    try:
        got = rec.recommend(user, n=10)
        counts = item_counts(small.events)
        expected = [i for i in counts.index if i not in seen and i in set(rec.item_ids)][:10]
        assert got["source"].eq("popular").all() and got["item_id"].tolist() == expected
        assert got["score"].is_monotonic_decreasing
        assert "cold_start='popular' (first 3 events)" in repr(rec)
        rec.set_params(cold_start="trending")
        trending = rec.recommend(user, n=10)
        assert trending["item_id"].tolist() == rec.recommend("nobody", n=13).query(
            "item_id not in @seen")["item_id"].tolist()[:10]
        rec.set_params(cold_events=2)  # past the cold events: the interest vector
        assert rec.recommend(user, n=10)["source"].eq("interest").all()
    finally:
        rec.set_params(cold_start="first_item", cold_events=5)


def test_bad_cold_start_parameters_name_the_value_and_change_nothing(service, small, tmp_path):
    rec, seg = service
    cases = [
        ({"cold_start": "demographic"}, "cold_start='demographic' is unknown"),
        ({"cold_start": "segment"}, "needs segments=fit_segments"),
        ({"segment_weight": 1.5}, r"segment_weight=1.5 must be a number in \[0, 1\]"),
        ({"segment_weight": float("nan")}, "segment_weight=nan"),
        ({"cold_events": 0}, "cold_events=0 must be an int >= 1"),
        ({"segments": "four"}, "segments=str must be a recsys_nb.segments.Segments"),
        ({"cold_start": "segment", "segments": fit_segments(np.eye(3), 2)},
         "segments of dimension 3 for item vectors of dimension 16"),
    ]
    for params, fragment in cases:
        with pytest.raises(ValueError, match=fragment):
            rec.set_params(**params)
        assert rec.cold_start == "first_item" and rec.segments is None
    with pytest.raises(ValueError, match="cold_start='trending' serves the trending prior"):
        Recommender.from_dataset(small, tmp_path / "p", embedding="collaborative", dim=16,
                                 progress=False, prior="popularity", cold_start="trending")
    with pytest.raises(ValueError, match="works with one interest per user"):
        Recommender.from_dataset(small, tmp_path / "m", embedding="collaborative", dim=16,
                                 progress=False, interests=2, cold_start="popular")
    with pytest.raises(TypeError, match="unknown parameter"):
        Recommender.from_dataset(small, tmp_path / "u", embedding="collaborative",
                                 progress=False, cold="segment")
