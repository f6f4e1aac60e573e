"""New users after a global cut-off (recsys_nb.evaluate.new_users) and the online evaluation
that measures them (evaluate(..., online=True)), on real MovieLens data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb.data import load_movielens, subset_items
from recsys_nb.evaluate import (
    cutoff_split,
    evaluate,
    new_user_split,
    temporal_split,
    validation_split,
)
from recsys_nb.experiment import Experiment
from recsys_nb.recommender import Recommender
from recsys_nb.rolling_experiment import RollingExperiment

CUTOFF = pd.Timestamp("2015-01-01").timestamp()


@pytest.fixture(scope="module")
def base():
    return cutoff_split(load_movielens(), CUTOFF, horizon_days=182)


@pytest.fixture(scope="module")
def small():
    """MovieLens on its 1,500 most-rated movies: a quicker catalogue for the product runs."""
    ds = load_movielens()
    return subset_items(ds, ds.events["item_id"].value_counts().index[:1500])


def test_new_users_are_first_seen_after_the_cut_off_and_keep_their_first_events(base):
    events = base.source.events
    for first in (1, 3, 5):
        new = new_user_split(base, first)
        assert len(new.users) > 10 and new.cutoff == base.cutoff
        before = events.loc[events["timestamp"] < CUTOFF, "user_id"]
        assert not np.isin(new.users, before.unique()).any()  # never seen before the cut-off
        extra = new.train.iloc[len(base.train):]
        pd.testing.assert_frame_equal(new.train.iloc[:len(base.train)], base.train)
        assert (extra["timestamp"] >= CUTOFF).all()
        assert extra.groupby("user_id").size().eq(first).all()
        assert set(extra["user_id"]) == set(new.users)
        # the held-out events are the rest of each user's horizon, all at or after the first ones
        for u in new.users[:5]:
            mine = events[(events["user_id"] == u)
                          & (events["timestamp"] < CUTOFF + base.horizon)]
            assert len(mine) == first + (new.test["user_id"] == u).sum()
            assert new.test.loc[new.test["user_id"] == u, "timestamp"].min() >= \
                extra.loc[extra["user_id"] == u, "timestamp"].max()
    # the same people whatever the number of first events
    users = [new_user_split(base, n).users.tolist() for n in (1, 3, 5)]
    assert users[0] == users[1] == users[2]


def test_new_user_split_rejects_what_it_cannot_cut(base):
    with pytest.raises(ValueError, match="needs a global cut-off split"):
        new_user_split(temporal_split(load_movielens()), 1)
    with pytest.raises(ValueError, match="min_events=3 must exceed first=3"):
        new_user_split(base, 3, min_events=3)
    with pytest.raises(ValueError, match="first"):
        new_user_split(base, 0)
    # on a validation split (cut-off moved back): drawn from the training events only
    val = new_user_split(validation_split(base), 1)
    assert val.test["timestamp"].max() < CUTOFF


class Recording:
    """A real Recommender that notes the newest event it had ingested at each list asked for."""

    def __init__(self, rec: Recommender) -> None:
        self.rec, self.model_id, self.newest, self.asked = rec, rec.model_id, -np.inf, []

    def ingest(self, events: pd.DataFrame):
        self.newest = max(self.newest, float(events["timestamp"].max()))
        return self.rec.ingest(events)

    def recommend(self, user_id, n=10, **kwargs):
        self.asked.append((user_id, self.newest))
        return self.rec.recommend(user_id, n=n, **kwargs)

    def close(self) -> None:
        self.rec.close()


def test_online_evaluation_never_shows_a_later_event_and_matches_the_product(small, tmp_path):
    base = cutoff_split(small, CUTOFF, horizon_days=182)
    new = new_user_split(base, 3)
    scored = new.restrict(new.users, train_users=new.users)
    made: list[Recording] = []
    with Experiment(base, (10, 50), path=tmp_path / "store") as exp:

        def factory(_ds, _path):
            made.append(Recording(exp.recommender()))
            return made[-1]

        online = evaluate(factory, scored, (10, 50), online=True)
        newest = scored.train.groupby("user_id")["timestamp"].max()
        asked = made[0].asked
        assert sorted(u for u, _ in asked) == sorted(online.users.tolist())
        for user, seen_until in asked:  # at each list, nothing later than the user's own events
            assert seen_until <= newest[user]
        assert [t for _, t in asked] == sorted(t for _, t in asked)
        # Experiment.measure(online=True) is the same measurement, through the public API
        again = exp.measure("first item", on=new, online=True)
        assert again["recall@50"] == pytest.approx(online["recall@50"], abs=1e-9)
        assert again.row["seen_recommended"] == 0
        bulk = exp.measure("first item, bulk", on=new)
        assert bulk is not again and len(bulk.users) == len(again.users)


def test_rolling_new_users_pool_the_cut_offs_and_fit_segments_per_cut_off(small):
    ds = small
    splits = [cutoff_split(ds, pd.Timestamp(d).timestamp(), 182)
              for d in ("2014-07-01", "2015-01-01")]
    with RollingExperiment(splits, (10, 50)) as rx:
        scope = rx.new_user_splits(1)
        one = rx.measure("first item", new_users=1, beyond=False)
        assert len(one.users) == sum(len(s.relevant()[0]) for _, _, s in scope)
        assert all(key.split("/")[0] in ("2014-07-01", "2015-01-01") for key in one.users)
        seg = rx.measure("segment", new_users=1, beyond=False, cold_start="segment",
                         segments=3, segment_weight=1.0)
        assert seg.label == "segment" and len(seg.users) == len(one.users)
        assert seg["recall@50"] != one["recall@50"]  # the centroid changes the lists
        fitted = [e.segments(3) for e, _, _ in scope]
        assert fitted[0] is not fitted[1] and all(f.k == 3 for f in fitted)
        users, rows = scope[0][0].interest_vectors()
        assert len(users) == rows.shape[0] and set(users) <= set(splits[0].train["user_id"])
        with pytest.raises(ValueError, match="asked for k=100000 segments"):
            scope[0][0].segments(100_000)


def test_variants_from_one_replay_equal_one_replay_each(small):
    """Strategies only change what is searched: one online replay asking each list in turn
    gives the lists of one replay per strategy, in any order of the variants."""
    splits = [cutoff_split(small, pd.Timestamp("2015-01-01").timestamp(), 182)]
    variants = {"popular": {"cold_start": "popular", "cold_events": 3},
                "first item": {},
                "segment": {"cold_start": "segment", "segments": 3, "segment_weight": 0.7}}
    with RollingExperiment(splits, (10, 50)) as rx:
        together = rx.measure_variants(variants, new_users=3)
        assert list(together) == list(variants)
        for label, params in variants.items():
            alone = rx.experiments[0]
            split = rx.new_user_splits(3)[0][2]
            alone._results.clear()  # measured again, on its own replay
            one = alone.measure(label, on=split, online=True, **params)
            np.testing.assert_array_equal(one.ranked, together[label].ranked.reshape(
                one.ranked.shape))
            assert one["recall@50"] == pytest.approx(together[label]["recall@50"])
        with pytest.raises(TypeError, match="unknown parameter"):
            rx.experiments[0].measure_variants({"x": {"colds": 1}})
