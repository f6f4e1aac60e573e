"""Notebook 06's two-protocol section: the same models on the per-user split and leak-free."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.evaluate import temporal_split, verdict_table
from recsys_nb.experiment import Experiment
from recsys_nb.lessons import protocols
from recsys_nb.rolling_experiment import RollingExperiment


@pytest.fixture(scope="module")
def measured():
    ds = sample_users(load_movielens(), 240, seed=4, min_events=20)
    ds = subset_items(ds, ds.events["item_id"].value_counts().index[:1500])  # fast to index
    split = temporal_split(ds)
    with Experiment(split.restrict(split.sample(40, seed=0)), (5, 20)) as exp, \
            protocols.open_rolling(ds, 60, (5, 20), start="2006-01-01") as rolling:
        pairs = protocols.measure_protocols(exp, rolling, ["popularity", "trending"])
        yield exp, rolling, pairs


def test_every_model_is_measured_on_both_protocols(measured):
    exp, rolling, pairs = measured
    assert isinstance(rolling, RollingExperiment) and len(rolling.splits) >= 2
    assert list(pairs)[:2] == ["popularity", "trending"]
    defaults = [k for k in pairs if k.endswith("(the default)")]
    assert len(defaults) == 1 and protocols.default_prior() in defaults[0]
    for per_user, leak_free in pairs.values():
        assert np.array_equal(per_user.users, exp.split.users)
        assert all("/" in key for key in leak_free.users)  # "<cut-off date>/<user>" pairs
        for r in (per_user, leak_free):
            assert 0 <= r["diversity@5"] <= 2 and r["novelty@5"] > 0
    table = protocols.protocol_table(pairs, 5, 20)
    assert table["model"].tolist() == list(pairs)
    assert sorted(table["rolling rank"]) == sorted(
        table["rolling recall@20"].rank(ascending=False, method="min").astype(int))
    assert table.loc[0, "per-user recall@20"] == pairs["popularity"][0]["recall@20"]


def test_the_claims_compare_the_right_sides(measured):
    _, _, pairs = measured
    claims = protocols.protocol_claims(pairs, ["popularity", "trending"])
    keys = [c[0] for c in claims]
    assert keys == ["trending_vs_all_time_rolling", "trending_vs_all_time_per_user",
                    "default_vs_best_baseline_rolling", "default_vs_best_baseline_per_user"]
    trending = next(v for k, v in pairs.items() if "trending prior" in k)
    assert claims[0][2] is trending[1] and claims[1][2] is trending[0]
    table = verdict_table({c[1]: (c[2], c[3]) for c in claims}, "recall@20", 0.005)
    assert len(table) == 4 and table["diff"].notna().all()
