"""Notebook 08's lesson module: parameter checks, closed-form cases of the updates and of
random-pair cosines, the projection, the tables (skips, never NaN) and the verdict rule, on
small synthetic spaces (the real run is tested in test_notebook_08.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_nb.evaluate import CLAIM_WORDS, Difference, verdict
from recsys_nb.item_space import random_pair_similarities
from recsys_nb.lessons import high_dimensions as hd
from recsys_nb.lessons.high_dimensions_spaces import Histories

GOOD = {"DIMS": [2, 8], "ALPHAS": [0.25, 0.5], "FACTORS": [0.1, 1.0], "NEAR_ZERO": 0.1,
        "N_USERS": 6, "N_PAIRS": 500, "N_ITEMS": 20, "N_RANDOM_ITEMS": 200, "TOP_N": 5,
        "N_RESAMPLES": 200, "TOLERANCE": 0.01, "SEED": 0}


def test_parameters_are_checked_all_at_once():
    cfg = hd.HighDimConfig.from_parameters(**{**GOOD, "DIMS": [8, 2]})
    assert cfg.dims == (2, 8) and cfg.top_k == 5 and len(cfg.updates) == 4
    bad = {**GOOD, "DIMS": [1, 2, 500], "FACTORS": [-0.1], "ALPHAS": [0.0, 1.5],
           "NEAR_ZERO": 0, "TOP_N": 1}
    with pytest.raises(ValueError) as err:
        hd.HighDimConfig.from_parameters(**bad)
    text = str(err.value)
    assert text.startswith("invalid parameters: ")
    assert "DIMS values [1, 500] are out of range" in text and "[2, 384]" in text
    assert "FACTORS values [-0.1] are out of range: each must be a number >= 0" in text
    assert "ALPHAS values [0.0, 1.5] are out of range: each must be a number in (0, 1]" in text
    assert "NEAR_ZERO=0 must be" in text and "TOP_N=1 must be an integer >= 2" in text
    with pytest.raises(ValueError, match="needs at least two dimensions"):
        hd.HighDimConfig.from_parameters(**{**GOOD, "DIMS": [2]})
    with pytest.raises(ValueError, match="N_RANDOM_ITEMS=100 must exceed 2 \\* TOP_N=100"):
        hd.HighDimConfig.from_parameters(**{**GOOD, "N_RANDOM_ITEMS": 100, "TOP_N": 50})
    with pytest.raises(ValueError, match="DIMS=2 must be a list"):
        hd.HighDimConfig.from_parameters(**{**GOOD, "DIMS": 2})


def test_in_2d_an_exact_opposite_cancels_and_the_floors_are_tight():
    v, opposite = np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]])
    half = hd.Update("ema", 0.5)
    assert np.linalg.norm(half.raw(v, opposite)) == pytest.approx(0.0)
    assert half.norm_floor == 0.0
    one = hd.Update("subtract", 1.0)
    assert np.linalg.norm(one.raw(v, v)) == 0.0 and one.norm_floor == 0.0
    # the floors are reached (e = -v for EMA, e = v for subtraction) and never beaten
    for update in (hd.Update("ema", 0.25), hd.Update("ema", 0.45), hd.Update("subtract", 0.1),
                   hd.Update("subtract", 1.5)):
        worst = -v if update.operation == "ema" else v
        assert np.linalg.norm(update.raw(v, worst)) == pytest.approx(update.norm_floor)
        e = hd.random_unit_vectors(2000, 2, 1)
        norms = np.linalg.norm(update.raw(np.repeat(v, 2000, 0), e), axis=1)
        assert norms.min() >= update.norm_floor - 1e-9
    assert hd.Update("subtract", 0.1).label == "subtract factor=0.1 (not interested)"
    assert hd.Update("ema", 0.45).label == "EMA alpha=0.45 (favorite)"
    assert hd.Update("ema", 0.3).label == "EMA alpha=0.3"
    # apply is the package's update: a tiny generic rotation in 3-D
    got = hd.Update("ema", 0.25).apply(np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    np.testing.assert_allclose(got[0], np.array([0.75, 0.25, 0]) / math.hypot(0.75, 0.25),
                               rtol=1e-6)


@pytest.mark.parametrize("d", [2, 8, 64, 384])
def test_random_pair_cosine_std_is_one_over_sqrt_d(d):
    x = hd.random_unit_vectors(4000, d, seed=d)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-6)
    c = random_pair_similarities(x, 20000, seed=0)
    assert abs(c.mean()) < 3 / math.sqrt(20000) + 0.01
    assert c.std() == pytest.approx(1 / math.sqrt(d), rel=0.05)


def test_project_is_pca_renormalized_and_names_a_bad_dimension():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    p = hd.Principal.of(x)
    assert p.explained.sum() == pytest.approx(1.0) and p.components_for(0.5) == 1
    assert p.components_for(1.0) <= 6
    y = hd.project(x, 2, p)
    assert y.shape == (50, 2) and np.allclose(np.linalg.norm(y, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(y, hd.project(x, 2), atol=1e-6)  # same without the cache
    full = hd.project(x, 6, p).astype(np.float64)  # all axes: the centred vectors, rotated
    centred = x - x.mean(0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    np.testing.assert_allclose(full @ full.T, centred @ centred.T, atol=1e-5)
    with pytest.raises(ValueError, match=r"d=7 must be in \[1, 6\]"):
        hd.project(x, 7, p)


def test_list_overlap():
    before = np.array([[1, 2, 3, 4], [1, 2, 3, 4]])
    after = np.array([[4, 3, 9, 8], [-1, -1, -1, -1]])
    np.testing.assert_allclose(hd.list_overlap(before, after), [0.5, 0.0])


# ---------------------------------------------------------------------------------------------
# A small lab: 60 items in 2 tight clusters of a 12-d space, 6 users


def _small_lab(dims=(2, 8), n_users=6):
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((2, 12)) * 3
    x = centres[rng.integers(0, 2, 60)] + rng.standard_normal((60, 12))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    groups, rows = np.repeat(np.arange(n_users), 8), rng.integers(0, 60, 8 * n_users)
    ops = np.array(["ema"] * len(rows), dtype=object)
    params = np.full(len(rows), 0.25)
    seen = [np.unique(rows[groups == u]) for u in range(n_users)]
    hist = Histories(np.arange(n_users), groups, rows, ops, params, seen,
                     np.array([rows[groups == u][0] for u in range(n_users)]),
                     rng.integers(0, 5, n_users))
    cfg = hd.HighDimConfig.from_parameters(**{**GOOD, "DIMS": list(dims), "N_USERS": n_users,
                                              "N_ITEMS": 15})
    return hd.Lab(cfg, {"minilm": x, "learned": x[:, :6] / np.linalg.norm(
        x[:, :6], axis=1, keepdims=True)}, hist), x


def test_tables_skip_with_a_reason_and_never_hold_nan():
    lab, _ = _small_lab(dims=(2, 8))
    # "learned" has 6 dimensions: 8 is a documented skip, then its original vectors
    keys = [(v.key, v.kind) for v in lab.variants("learned")]
    assert keys == [("2", "pca"), ("8", "skipped"), ("6 (original)", "original")]
    for table in (hd.pair_table(lab), hd.update_table(lab), hd.neighbour_table(lab)):
        assert not table.isna().to_numpy().any()
        skipped = table[table["vectors"] == "skipped"]
        assert len(skipped) and skipped["note"].str.contains(
            "the learned vectors have 6 dimensions").all()
        assert (skipped.drop(columns=["space", "dimension", "vectors", "note", "update",
                                      "norm floor"], errors="ignore") == hd.SKIP).all().all()
    rates = hd.update_table(lab)
    measured = rates[rates["note"] == ""]
    assert (measured["min norm"].astype(float) >= measured["norm floor"] - 1e-6).all()
    wide = hd.rates_pivot(rates, "cancelled")
    assert list(wide.columns[2:-1]) == [u.label for u in lab.cfg.updates]
    assert "8" in wide[wide["space"] == "learned"]["dimension"].tolist()
    record = hd.table_record(rates, ["space", "dimension", "update"], ["cancelled"])
    assert record["learned"]["8"]["EMA alpha=0.25 (view)"].startswith("skipped: ")
    assert set(record["minilm"]) == {"2", "8", "12 (original)"}


def test_outcomes_match_a_direct_computation():
    lab, x = _small_lab()
    v = next(v for v in lab.variants("minilm") if v.kind == "original")
    interests = lab.interests(v)
    h = lab.histories("minilm")
    update = hd.Update("subtract", 1.0)
    o = lab.outcome(v, update)
    for u in range(len(h.users)):
        scores = x @ interests[u].astype(np.float64)
        scores[h.seen[u]] = -np.inf
        top = np.argsort(-scores, kind="stable")[: lab.cfg.top_k]
        assert set(top) == set(o.before[u])
        e = x[top[h.top_rank[u]]]
        c = float(interests[u] @ e)
        assert o.cos[u] == pytest.approx(c, abs=1e-5)
        assert o.norm[u] == pytest.approx(math.sqrt(max(2 - 2 * c, 0)), abs=1e-5)
    assert o.cancelled.dtype == bool and ((o.norm < 0.1) == o.cancelled).all()
    assert ((o.overlap < 0.5) == o.flipped).all()


def test_in_2d_a_factor_1_subtraction_of_a_top_item_cancels():
    """In 2-D the top items of a 60-item catalogue sit at almost the interest's own angle."""
    lab, _ = _small_lab(dims=(2, 8))
    low = lab.variants("minilm")[0]
    o = lab.outcome(low, hd.Update("subtract", 1.0))
    assert o.cancelled.mean() > 0.5
    high = lab.variants("minilm")[-1]
    assert lab.outcome(high, hd.Update("subtract", 1.0)).cancelled.mean() < o.cancelled.mean()


def test_verdicts_follow_the_rule_and_the_bootstrap():
    lab, _ = _small_lab()
    table = hd.verdict_table(lab)
    assert not table.isna().to_numpy().any()
    assert set(table["claim"]) == {hd.CLAIM_CANCEL, hd.CLAIM_PROJECTION}
    for _, r in table.iterrows():
        assert r["ci_low"] <= r["diff"] <= r["ci_high"]
        assert r["diff"] == pytest.approx(r["on"] - r["off"], abs=1e-9)
        words = CLAIM_WORDS if "neighbours kept" not in r["measure"] else (
            CLAIM_WORDS[1], CLAIM_WORDS[0], CLAIM_WORDS[2])
        d = Difference(r["measure"], r["diff"], r["ci_low"], r["ci_high"], r["n"])
        assert r["verdict"] == verdict(d, lab.cfg.tolerance, words)
    d = hd.paired_bootstrap_difference(np.ones(50), np.zeros(50), "x", 200, 0)
    assert (d.mean, d.low, d.high) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="two equal 1-D arrays"):
        hd.paired_bootstrap_difference(np.ones(3), np.ones(4), "x", 200, 0)
    chosen = hd.claim_updates(lab.cfg)
    assert (hd.Update("subtract", 1.0), "cancelled") in chosen
    assert (hd.Update("ema", 0.5), "cancelled") in chosen


def test_sample_histories_uses_the_package_defaults():
    from recsys_nb.data import load_movielens

    ds = load_movielens()
    h = hd.sample_histories(ds, 5, 10, seed=3)
    assert len(h.users) == 5 and len(h.seen) == 5
    kinds = ds.events.set_index(["user_id"]).loc[h.users]
    assert len(h.groups) == len(kinds)
    assert set(np.round(h.params, 2)) <= {0.25, 0.45, 0.1}
    for i in range(5):
        assert h.view_rows[i] in h.seen[i] and 0 <= h.top_rank[i] < 10
    with pytest.raises(ValueError, match="pass N_USERS <="):
        hd.sample_histories(ds, 10_000, 10, seed=0)


def test_a_lab_names_unknown_spaces_and_tables_follow_the_spaces_given():
    lab, x = _small_lab()
    with pytest.raises(ValueError, match=r"spaces \['text'\] unknown"):
        hd.Lab(lab.cfg, {"text": x}, lab.hist)
    only = hd.Lab(lab.cfg, {"minilm": x}, lab.hist)
    assert only.spaces == ("random", "minilm")
    assert set(hd.pair_table(only)["space"]) == {"random", "minilm"}
    assert hd.variance_table(only)["space"].tolist() == ["minilm"]
