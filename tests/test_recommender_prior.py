"""The Recommender's trending prior: counted from the data, kept up to date as events arrive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.priors import TrendingCounts
from recsys_nb.recommender import PRIOR_REFRESH_EVENTS, Recommender, item_counts


@pytest.fixture(scope="module")
def small():
    """40 real MovieLens users on their 800 most-rated items."""
    ds = sample_users(load_movielens(), 40, seed=1, min_events=20)
    return subset_items(ds, ds.events["item_id"].value_counts().index[:800])


def build(ds, path, **params) -> Recommender:
    return Recommender.from_dataset(ds, path, embedding="collaborative", dim=16,
                                    progress=False, prior="trending", **params)


def expected_prior(rec, events, half_life):
    """The prior computed directly from the events, oldest first (positive ones)."""
    events = events[events["kind"] != "not_interested"].sort_values("timestamp", kind="stable")
    t = TrendingCounts(len(rec.item_ids), half_life)
    t.add(pd.Index(rec.item_ids).get_indexer(events["item_id"]))
    return t.values()


def test_the_prior_is_counted_from_the_data_as_of_its_newest_event(small, tmp_path):
    with build(small, tmp_path / "s", half_life_events=300) as rec:
        np.testing.assert_allclose(rec.item_prior(), expected_prior(rec, small.events, 300),
                                   atol=1e-6)
        assert rec.prior == "trending" and "prior='trending'" in repr(rec)
        # recent taste, not all-time taste: the two priors rank items differently
        all_time = item_counts(small.events).reindex(rec.item_ids).fillna(0).to_numpy()
        assert not np.array_equal(np.argsort(-rec.item_prior(), kind="stable")[:20],
                                  np.argsort(-all_time, kind="stable")[:20])
        # cold start follows the prior
        cold = rec.recommend("new visitor", n=10)
        order = np.lexsort((np.arange(len(rec.item_ids)), -rec.item_prior()))
        top = set(rec.item_ids[order[:10]].tolist())
        assert cold["source"].eq("popular").all() and set(cold["item_id"]) == top


def test_ingesting_the_same_history_does_not_count_it_twice(small, tmp_path):
    with build(small, tmp_path / "s") as rec:
        before = rec.item_prior()
        rec.ingest(small.events)
        np.testing.assert_array_equal(rec.item_prior(), before)


def test_live_events_are_counted_and_stored_in_batches_and_survive_reopening(small, tmp_path):
    path = tmp_path / "s"
    with build(small, path, half_life_events=200) as rec:
        prior = rec.item_prior()
        quiet = int(rec.item_ids[np.argmin(prior)])  # nobody watched it lately
        now = float(small.events["timestamp"].max()) + 60
        for k in range(PRIOR_REFRESH_EVENTS - 1):
            rec.view(f"fan {k}", quiet, timestamp=now + k)
        assert rec.item_prior()[list(rec.item_ids).index(quiet)] == prior.min()  # not yet
        rec.view("one more fan", quiet, timestamp=now + 100)
        live = rec.item_prior()
        assert live[list(rec.item_ids).index(quiet)] > 0.9  # the batch is stored: it trends
        # Chroma ranks by the prior it stores, which is the live one: each returned score is
        # the exact cosine + weight * live prior of that item
        user = small.events["user_id"].iloc[0]
        rec.ingest(small.events[small.events["user_id"] == user])
        got = rec.recommend(user, n=20)
        exact = pd.Series(rec.score_items(rec.interest(user)), index=rec.item_ids)
        np.testing.assert_allclose(got["score"], exact[got["item_id"]], atol=1e-4)
    with build(small, path, half_life_events=200) as again:  # counted again from the log
        np.testing.assert_allclose(again.item_prior(), live, atol=1e-6)


def test_a_small_ingest_is_stored_with_the_next_batch(small, tmp_path):
    """A new user's few ingested events batch like live ones; 50 in one ingest store at once."""
    with build(small, tmp_path / "s", half_life_events=200) as rec:
        prior = rec.item_prior()
        quiet = int(rec.item_ids[np.argmin(prior)])
        now = float(small.events["timestamp"].max()) + 60

        def views(n, start):
            return pd.DataFrame({"user_id": [f"new {start + k}" for k in range(n)],
                                 "item_id": quiet, "kind": "view",
                                 "timestamp": now + start + np.arange(n, dtype=float)})

        rec.ingest(views(3, 0))
        assert rec.item_prior()[list(rec.item_ids).index(quiet)] == prior.min()  # not yet
        rec.ingest(views(PRIOR_REFRESH_EVENTS, 10))
        assert rec.item_prior()[list(rec.item_ids).index(quiet)] > 0.9  # stored: it trends


def test_undo_takes_a_live_event_back(small, tmp_path):
    with build(small, tmp_path / "s", half_life_events=200) as rec:
        quiet = int(rec.item_ids[np.argmin(rec.item_prior())])
        counts = rec._trend.counts.copy()
        rec.view("u", quiet, timestamp=float(small.events["timestamp"].max()) + 1)
        rec.undo("u")
        np.testing.assert_allclose(rec._trend.counts, counts * 0.5 ** (1 / 200), atol=1e-12)


def test_trending_needs_the_events_and_a_valid_setting(small, tmp_path):
    vecs = Recommender.from_dataset(small, tmp_path / "v", embedding="collaborative", dim=16,
                                    progress=False)
    item_vectors = vecs._vectors, vecs.item_ids
    vecs.close()
    from recsys_nb.embeddings import ItemVectors
    iv = ItemVectors("c16", item_vectors[1], item_vectors[0], None)
    with pytest.raises(ValueError, match="prior='trending' needs prior_events"):
        Recommender(small.items, iv, tmp_path / "a", item_counts(small.events), prior="trending")
    with pytest.raises(ValueError, match="prior='hot' is unknown"):
        Recommender(small.items, iv, tmp_path / "b", item_counts(small.events), prior="hot")
    with pytest.raises(ValueError, match="half_life_events=-1"):
        build(small, tmp_path / "c", half_life_events=-1)
    with pytest.raises(TypeError, match="unknown parameter"):
        build(small, tmp_path / "d", half_life_days=90)


def test_several_interests_count_in_the_trending_prior_too(small, tmp_path):
    with build(small, tmp_path / "s", half_life_events=200, interests=3) as rec:
        counts = rec._trend.counts.copy()
        item = int(rec.item_ids[0])
        rec.view("u", item, timestamp=float(small.events["timestamp"].max()) + 1)
        expected = counts * 0.5 ** (1 / 200)
        expected[0] += 1.0
        np.testing.assert_allclose(rec._trend.counts, expected, atol=1e-12)
