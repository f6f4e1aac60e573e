"""recsys_nb.experiment: one split, many configurations, each measured once."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.evaluate import evaluate, temporal_split
from recsys_nb.experiment import Experiment
from recsys_nb.recommender import DEFAULT_PARAMS, Recommender


@pytest.fixture(scope="module")
def split():
    ds = sample_users(load_movielens(), 60, seed=5, min_events=20)
    ds = subset_items(ds, np.unique(ds.events["item_id"]))
    s = temporal_split(ds, test_fraction=0.2, min_events=5)
    return s.restrict(s.sample(25, seed=0))


@pytest.fixture(scope="module")
def experiment(split, tmp_path_factory):
    with Experiment(split, (5, 20), path=tmp_path_factory.mktemp("exp")) as exp:
        yield exp


def test_measure_equals_a_direct_evaluation(experiment, split, tmp_path):
    """The shared store changes nothing: same lists as a fresh recommender in its own folder."""
    got = experiment.measure("collab", embedding="collaborative", dim=8)
    vecs = experiment.vectors("collaborative", 8)
    train = split.train_dataset()

    def fresh(_ds, path):
        return Recommender(train.items, vecs, path, experiment.popularity,
                           prior_events=train.events, **DEFAULT_PARAMS)

    direct = evaluate(fresh, split.restrict(split.users, train_users=split.users), (5, 20))
    assert np.array_equal(got.ranked, direct.ranked)
    assert got["recall@20"] == direct["recall@20"] and got.label == "collab"


def test_each_configuration_is_measured_once(experiment):
    a = experiment.measure(embedding="collaborative", dim=8, alpha_view=0.5)
    b = experiment.measure(embedding="collaborative", dim=8, alpha_view=0.5)
    assert a is b and a.label == "collaborative-8, alpha_view=0.5"
    c = experiment.measure("renamed", embedding="collaborative", dim=8, alpha_view=0.5)
    assert c.label == "renamed" and c.ranked is a.ranked
    n_rows = len(experiment.table())
    # asking for the exact ranking measures again, once, and keeps it
    d = experiment.measure(embedding="collaborative", dim=8, alpha_view=0.5, exact=True)
    assert "ann_overlap@20" in d.row and len(experiment.table()) == n_rows
    assert experiment.measure(embedding="collaborative", dim=8, alpha_view=0.5) is d


def test_other_users_see_no_earlier_configuration(experiment):
    """forget_users: a configuration measured after another starts with no profile."""
    first = experiment.measure(embedding="collaborative", dim=8, not_interested_factor=0.0)
    experiment.measure(embedding="collaborative", dim=8, alpha_view=1.0)
    with experiment.recommender("collaborative", 8) as rec:
        assert rec.log.count() == 0 and rec.profiles.count() == 0
    again = experiment.measure("again", embedding="collaborative", dim=8,
                               not_interested_factor=0.0)
    assert again.ranked is first.ranked  # memoized; and a fresh run would equal it:
    experiment._results.clear()
    fresh = experiment.measure(embedding="collaborative", dim=8, not_interested_factor=0.0)
    assert np.array_equal(fresh.ranked, first.ranked)


def test_sweep_and_recommend_keywords(experiment):
    table = experiment.sweep("alpha_view", [0.2, 0.8], embedding="collaborative", dim=8)
    assert table["alpha_view"].tolist() == [0.2, 0.8] and "recall@20" in table
    window = experiment.sweep("window", [6], embedding="collaborative", dim=8)
    current = experiment.measure(embedding="collaborative", dim=8)
    assert window.loc[0, "recall@20"] >= 0 and "window" in window
    predicted = experiment.measure(embedding="collaborative", dim=8,
                                   recommend={"mode": "predicted", "window": 6})
    assert not np.array_equal(predicted.ranked, current.ranked)  # window >= min_events (4)


def test_baseline_on_the_same_users(experiment):
    pop = experiment.baseline("popularity")
    assert pop is experiment.baseline("popularity")
    assert np.array_equal(pop.users, experiment.measure(embedding="collaborative", dim=8).users)


def test_unknown_parameter_names_the_fix(experiment):
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['window'\].*recommend="):
        experiment.measure(embedding="collaborative", dim=8, window=4)


def test_multi_interest_configurations_measure_with_their_exact_lists(experiment):
    one = experiment.measure(embedding="collaborative", dim=8)
    # threshold -1: no event is ever far, so three allowed interests stay one: the same lists
    never_far = experiment.measure(embedding="collaborative", dim=8, interests=3,
                                   interest_threshold=-1.0)
    assert np.array_equal(never_far.ranked, one.ranked)
    many = experiment.measure(embedding="collaborative", dim=8, interests=3,
                              interest_threshold=0.5, merge="score", exact=True)
    assert many.label == ("collaborative-8, interest_threshold=0.5, interests=3, "
                          "merge=score")
    assert many["seen_recommended"] == 0 and not np.array_equal(many.ranked, one.ranked)
    # exact=True: the exact merged lists (Recommender.exact_top), close to the HNSW ones
    assert 0.9 <= many["ann_overlap@20"] <= 1.0 and "exact_recall@20" in many.row
    with pytest.raises(TypeError, match="interest_treshold"):
        experiment.measure(embedding="collaborative", dim=8, interest_treshold=0.5)
