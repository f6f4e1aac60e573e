"""RollingExperiment: the Recommender pooled over global cut-offs, each learning from its past."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.evaluate import evaluate_baseline, pool, rolling_splits, temporal_split
from recsys_nb.rolling_experiment import RollingExperiment


@pytest.fixture(scope="module")
def splits():
    ds = sample_users(load_movielens(), 120, seed=2, min_events=20)
    ds = subset_items(ds, ds.events["item_id"].value_counts().index[:1500])  # fast to index
    return rolling_splits(ds, start="2004-01-01", end="2012-01-01", months=48)


def test_pools_each_cutoffs_own_measurement(splits):
    assert len(splits) >= 2
    with RollingExperiment(splits, (5, 20)) as rx:
        pooled = rx.measure("default", embedding="blend", dim=16)
        again = rx.measure("default", embedding="blend", dim=16)
        assert again is not pooled and again.row == pooled.row  # memoized per cut-off
        assert len(pooled.users) == sum(len(s.relevant()[0]) for s in splits)
        # each cut-off's part is that cut-off's own Experiment measurement
        parts = [e.measure("default", embedding="blend", dim=16) for e in rx.experiments]
        np.testing.assert_array_equal(pooled.ranked, np.vstack([p.ranked for p in parts]))
        assert [k.split("/")[1] for k in pooled.users[:len(parts[0].users)]] == [
            str(u) for u in parts[0].users]
        # and that learned from the events before its cut-off only
        assert all(e.train.events["timestamp"].max() < s.cutoff
                   for e, s in zip(rx.experiments, splits, strict=True))
        base = rx.baseline("trending")
        expected = pool([evaluate_baseline("trending", s, (5, 20)) for s in splits], splits)
        assert base["recall@20"] == expected["recall@20"]
        assert repr(rx).startswith(f"RollingExperiment({len(splits)} cut-offs")


def test_refuses_what_is_not_a_rolling_protocol():
    with pytest.raises(ValueError, match="no split given"):
        RollingExperiment([])
    split = temporal_split(sample_users(load_movielens(), 20, seed=0, min_events=20))
    with pytest.raises(ValueError, match="no cut-off date"):
        RollingExperiment([split])
