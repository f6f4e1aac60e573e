"""recsys_nb.lessons.not_interested (notebook 04's machinery): the parameters check, the exact
ranking, the strategies' query vectors and scores on small synthetic data, the subtraction in
numbers, and the whole lesson once on a small real catalogue."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from recsys_nb import vectors
from recsys_nb.data import load_movielens, subset_items
from recsys_nb.evaluate import EvaluationResult, temporal_split
from recsys_nb.lessons import not_interested as ni

matplotlib.use("Agg")

DEFAULTS = dict(N_USERS=100, MIN_EVENTS=20, TEST_FRACTION=0.2, SEED=0, USER=None, FACTOR=0.1,
                TOP_N=10, K=[10, 50], TOLERANCE=0.005, STORE_DIR=None)


# ---------------------------------------------------------------------------------------------
# parameters


def test_defaults_make_a_config():
    cfg = ni.check_parameters(**DEFAULTS)
    assert cfg.n_users == 100 and cfg.user is None and cfg.factor == 0.1
    assert cfg.cutoffs == (10, 50) and cfg.k == 50
    assert cfg.store_path.parts[-2:] == ("notebooks", "04_not_interested")
    other = ni.check_parameters(**{**DEFAULTS, "K": [20, 5], "N_USERS": None, "USER": 7,
                                   "STORE_DIR": "somewhere"})
    assert other.cutoffs == (5, 20) and other.k == 20 and other.n_users is None
    assert other.user == 7 and other.store_path == Path("somewhere")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("N_USERS", 0, "N_USERS=0 must be None or an integer >= 1"),
        ("MIN_EVENTS", 1, "MIN_EVENTS=1 must be an integer >= 2"),
        ("TEST_FRACTION", 1.0, "TEST_FRACTION=1.0 must be a number in (0, 1)"),
        ("SEED", -1, "SEED=-1 must be an integer >= 0"),
        ("USER", "alice", "USER='alice' must be None or an integer >= 0"),
        ("FACTOR", 2.0, "FACTOR=2.0 must be a number in [0, 1.5]"),
        ("FACTOR", -0.1, "FACTOR=-0.1 must be a number in [0, 1.5]"),
        ("TOP_N", 0, "TOP_N=0 must be an integer >= 1"),
        ("K", 50, "K=50 must be a list of values, e.g. [50]"),
        ("K", [], "K has an empty list"),
        ("K", [10, 0], "K values [0] are out of range: each must be an integer >= 1"),
        ("K", [10, 10], "K repeats values [10, 10]"),
        ("TOLERANCE", -0.01, "TOLERANCE=-0.01 must be a number >= 0"),
        ("STORE_DIR", 3, "STORE_DIR=3 must be None or a folder path"),
    ],
)
def test_each_invalid_parameter_is_named_with_the_fix(name, value, message):
    with pytest.raises(ValueError, match="invalid parameters of notebook 04") as err:
        ni.check_parameters(**{**DEFAULTS, name: value})
    assert message in str(err.value)


def test_every_problem_is_reported_at_once_and_names_are_required():
    with pytest.raises(ValueError) as err:
        ni.check_parameters(**{**DEFAULTS, "N_USERS": 0, "K": 50, "FACTOR": float("nan")})
    text = str(err.value)
    assert "N_USERS=0" in text and "K=50" in text and "FACTOR=nan" in text
    with pytest.raises(TypeError):
        ni.check_parameters(**{k: v for k, v in DEFAULTS.items() if k != "USER"})


# ---------------------------------------------------------------------------------------------
# the scoring core on a synthetic catalogue: 6 items in 3-D


def unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


ITEMS = np.array([10, 11, 12, 13, 14, 15])
MATRIX = unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.2], [0, 0, 1],
               [0.5, 0.5, 0.1]]).astype(np.float32)


def catalogue(prior=None) -> ni.Catalogue:
    return ni.Catalogue(ITEMS, MATRIX, np.zeros(6) if prior is None else np.asarray(prior))


def events(rows) -> pd.DataFrame:
    """(user, item, kind) rows in time order."""
    return pd.DataFrame(rows, columns=["user_id", "item_id", "kind"])


def test_rank_is_cosine_plus_prior_with_exclusions():
    cat = catalogue()
    q = np.array([[1.0, 0.05, 0.0], [0.0, 2.0, 0.0]])  # the second is normalized first
    assert cat.rank(q, 3).tolist() == [[10, 11, 15], [12, 13, 15]]
    assert cat.rank(q, 2, [[10], [12, 15]]).tolist() == [[11, 15], [13, 11]]
    # a large prior on item 14 lifts it to the top of both lists
    boosted = catalogue([0, 0, 0, 0, 2.0, 0])
    assert boosted.rank(q, 1).ravel().tolist() == [14, 14]
    scores = unit(q) @ MATRIX.T.astype(np.float64) + boosted.prior_term
    assert boosted.rank(q, 6).tolist() == ITEMS[np.argsort(-scores, axis=1)].tolist()
    with pytest.raises(KeyError):
        cat.rank(q, 2, [[99], []])


HISTORY = events([
    (1, 14, "not_interested"),  # before any vector: a no-op
    (1, 10, "view"), (1, 12, "favorite"), (1, 11, "not_interested"), (1, 13, "view"),
    (2, 12, "view"), (2, 12, "not_interested"), (2, 15, "view"),
])


def by_hand(history: pd.DataFrame, factor: float, alpha_view=0.25, alpha_favorite=0.45):
    """The service's rule, one event at a time."""
    out = {}
    for u, h in history.groupby("user_id"):
        v = None
        for item, kind in zip(h["item_id"], h["kind"], strict=True):
            e = MATRIX[list(ITEMS).index(item)]
            param = {"view": alpha_view, "favorite": alpha_favorite,
                     "not_interested": factor}[kind]
            try:
                v = vectors.apply_event(v, e, "subtract" if kind == "not_interested" else "ema",
                                        param, cold_subtract="ignore")
            except vectors.DegenerateVectorError:
                pass
        out[u] = v
    return out


@pytest.mark.parametrize("factor", [0.0, 0.3, 1.0])
def test_replay_interests_equals_the_event_by_event_rule(factor):
    got = ni.replay_interests(HISTORY, [2, 1], catalogue(), factor, 0.25, 0.45)
    want = by_hand(HISTORY, factor)
    np.testing.assert_allclose(got, np.stack([want[2], want[1]]), atol=1e-6)
    if factor == 1.0:  # user 2 rejects the item that IS the interest: overshoot, vector kept
        np.testing.assert_allclose(got[0], by_hand(HISTORY[HISTORY.index != 6], 0.0)[2],
                                   atol=1e-6)
    with pytest.raises(KeyError, match="no interest vector"):
        ni.replay_interests(events([(3, 10, "not_interested")]), [3], catalogue(), 0.1, .25, .45)


def test_average_vector_is_twice_the_positives_minus_the_negatives():
    cat = catalogue()
    got = ni.average_vectors(HISTORY, [1, 2], cat)
    pos, neg = MATRIX[[0, 2, 3]].astype(np.float64), MATRIX[[4, 1]].astype(np.float64)
    np.testing.assert_allclose(got[0], unit(2 * pos.mean(0) - neg.mean(0)), atol=1e-6)
    only_pos = ni.average_vectors(HISTORY, [1], cat, negatives=False)
    np.testing.assert_allclose(only_pos[0], unit(pos.mean(0)), atol=1e-6)
    no_neg = events([(5, 10, "view"), (5, 10, "view"), (5, 12, "favorite")])  # repeats count
    np.testing.assert_allclose(ni.average_vectors(no_neg, [5], cat)[0],
                               unit(MATRIX[[0, 0, 2]].mean(0)), atol=1e-6)
    with pytest.raises(ValueError, match="user 3 has no positive"):
        ni.average_vectors(events([(3, 10, "not_interested")]), [3], cat)


def test_negative_sets_neg_hit_and_overlap():
    test = events([(1, 12, "not_interested"), (1, 13, "not_interested"), (2, 14, "view"),
                   (3, 11, "not_interested")])
    negs = ni.negative_sets(test, [1, 2, 3], [np.array([13]), np.array([]), np.array([11])])
    assert negs == [{12}, set(), set()]  # a training item can never be listed again
    ranked = np.array([[12, 15], [14, 15], [10, 15]])
    assert ni.neg_hit(ranked, negs) == 1.0
    assert ni.neg_hit(ranked, [{10}, set(), {10}]) == 0.5
    assert ni.neg_hit(ranked, [set(), set(), set()]) == 0.0
    assert ni.overlap(ranked, np.array([[15, 11], [14, 15], [13, 12]])) == pytest.approx(0.5)


def comparison() -> ni.Comparison:
    cat = catalogue()
    users = np.array([1, 2])
    queries = {"ema+subtract": unit([[1, 0, 0], [0, 1, 0]]),
               "average_vector": unit([[0, 1, 0], [0, 0, 1]])}
    relevant = [np.array([11]), np.array([13, 14])]
    seen = [np.array([10]), np.array([12])]
    ranked = {"other": np.array([[11, 13, 14], [13, 14, 10]])}
    return ni.score_strategies(queries, cat, users, relevant, seen, [{15}, set()], (1, 2),
                               ranked=ranked)


def test_score_strategies_ranks_exactly_and_scores_each_strategy():
    cmp = comparison()
    assert list(cmp.table["strategy"]) == ["ema+subtract", "average_vector", "other"]
    assert list(cmp.table.columns) == ["strategy", "recall@1", "recall@2", "hitrate@1",
                                       "hitrate@2", "ndcg@2", "neg_hit@2",
                                       "overlap_with_service"]
    r = cmp.results["ema+subtract"]
    assert isinstance(r, EvaluationResult) and r.cutoffs == (1, 2)
    # user 1: 10 is seen, so [11, 15]; user 2: 12 is seen, so [13, 15]
    assert r.ranked.tolist() == [[11, 15], [13, 15]]
    assert r["recall@2"] == pytest.approx((1 + 0.5) / 2) and r["hitrate@1"] == 1.0
    assert r["neg_hit@2"] == 1.0  # user 1's held-out rejection 15 is listed
    av = cmp.results["average_vector"]
    assert av.ranked.tolist() == [[12, 13], [14, 13]]  # cosines 1, .976 and 1, .216
    assert av["recall@2"] == pytest.approx((0 + 1) / 2) and av["hitrate@1"] == 0.5
    assert cmp.value("average_vector", "overlap_with_service") == pytest.approx((0 + 0.5) / 2)
    assert cmp.value("ema+subtract", "overlap_with_service") == 1.0
    assert cmp.results["other"].ranked.shape == (2, 2) and cmp.neg_users == 1
    d = cmp.paired("recall@2")
    assert d.mean == pytest.approx(0.25) and d.n_users == 2
    assert cmp.k == 2
    with pytest.raises(ValueError, match="reference='nope'"):
        ni.score_strategies({"a": unit([[1, 0, 0]])}, catalogue(), np.array([1]),
                            [np.array([11])], [np.array([])], [set()], (1,), reference="nope")


def test_comparison_facts_and_verdict_use_the_largest_cutoff():
    cat = catalogue()
    users = np.arange(40)
    rng = np.random.default_rng(0)
    queries = {name: unit(rng.standard_normal((40, 3))) for name in ni.STRATEGIES}
    queries["ema+subtract"] = np.tile(MATRIX[1].astype(np.float64), (40, 1))  # finds item 11
    relevant = [np.array([11])] * 40
    seen = [np.array([], dtype=np.int64)] * 40
    cmp = ni.score_strategies(queries, cat, users, relevant, seen, [set()] * 40, (1, 3))
    facts = cmp.facts(0.005)
    assert facts["recall_ema_subtract"] == 1.0 and "recall_service_hnsw" not in facts
    mean, low, high = facts["recall_diff_ci"]
    assert mean == pytest.approx(1.0 - facts["recall_average_vector"], abs=1e-4)
    assert low <= mean <= high
    assert facts["verdict"] == cmp.verdict(0.005)
    assert cmp.verdict(0.005) in ni.VERDICT_WORDS
    if low > 0:
        assert facts["verdict"] == "ema+subtract recalls more"
    assert cmp.verdict(2.0) == "no significant difference in recall"  # within the tolerance


# ---------------------------------------------------------------------------------------------
# the subtraction in numbers


def test_unit_pair_and_subtraction_curve_follow_the_closed_form():
    v, e = ni.unit_pair(0.8)
    assert float(v @ e) == pytest.approx(0.8) and np.linalg.norm(v) == pytest.approx(1.0)
    f = np.linspace(0, 2, 9)
    after, norm = ni.subtraction_curve(0.8, f)
    np.testing.assert_allclose(norm, np.sqrt((f - 0.8) ** 2 + 1 - 0.64), atol=1e-12)
    np.testing.assert_allclose(after, (0.8 - f) / norm, atol=1e-6)
    after, norm = ni.subtraction_curve(1.0, f)
    assert np.isnan(after[4]) and np.isnan(norm[4])  # factor 1 cancels: refused, a gap
    assert np.isfinite(np.delete(after, 4)).all()


def test_safety_table_worst_case_is_one_minus_factor():
    table = ni.safety_table([0.1, 0.5, 1.0, 1.5]).set_index("factor")
    np.testing.assert_allclose(table["min |v - f e|"], [0.9, 0.5, 0.0, 0.5], atol=1e-12)
    assert table.loc[1.0, "max amplification"] == math.inf
    assert table.loc[0.5, "max amplification"] == pytest.approx(2.0)


def test_closed_form_errors_are_float_rounding():
    rng = np.random.default_rng(3)
    v, e = unit(rng.standard_normal(16)).astype(np.float32), unit(
        rng.standard_normal(16)).astype(np.float32)
    norm_gap, cos_gap = ni.closed_form_errors(v, e, np.linspace(0, 2, 21))
    assert norm_gap < 1e-6 and cos_gap < 1e-6


def test_rejections_summarize_the_cosines():
    r = ni.Rejections(np.array([-0.2, 0.05, 0.3, 0.6]), 0.1, 0.0)
    assert r.flipped == 0.5
    assert r.facts() == {"replay_matches_service_max_diff": 0.0, "rejections_with_vector": 4,
                         "rejection_cos_median": 0.175, "rejection_share_flipped": 0.5}
    assert "4 rejections" in str(r) and "50% have cos < factor" in str(r)
    ax = ni.plot_rejection_cosines(r)
    assert ax.get_lines()[0].get_xdata()[0] == 0.1


def test_summary_words_follow_the_numbers():
    cmp = comparison()
    sweep = ni.FactorSweep(pd.DataFrame({"factor": [0.0, 0.1, 2.0], "recall@2": [0.3, 0.3, 0.2],
                                         "hitrate@2": [1, 1, 1],
                                         "neg_hit@2": [0.5, 0.5, 0.5]}), 0.0, 0.1)
    service = SimpleNamespace(config=ni.check_parameters(**{**DEFAULTS, "K": [1, 2]}),
                              users=np.array([1, 2]))
    text = ni.summary(service, ni.Rejections(np.array([0.0, 0.2]), 0.1, 0.0), cmp, sweep)
    assert "On 2 users" in text and "50% of 2 rejections" in text
    assert "weakly similar" in text and "(median cosine 0.100)" in text
    assert "neg_hit@2 stays within the tolerance (0.500 -> 0.500)" in text
    assert "Recall@2 falls (0.3000 -> 0.2000)" in text and "best factor measured is 0" in text
    assert cmp.verdict(0.005) in text
    assert sweep.facts(2)["sweep_best_factor"] == 0.0
    strong = ni.summary(service, ni.Rejections(np.array([0.7, 0.9]), 0.1, 0.0), cmp, sweep)
    assert "strongly similar" in strong and "0% of 2 rejections" in strong


# ---------------------------------------------------------------------------------------------
# the whole lesson on a small real catalogue (300 popular movies)


@pytest.fixture(scope="module")
def small_dataset():
    ds = load_movielens()
    return subset_items(ds, ds.events["item_id"].value_counts().index[:300])


def test_a_user_outside_the_sample_is_refused_before_any_work(small_dataset, tmp_path):
    cfg = ni.check_parameters(**{**DEFAULTS, "N_USERS": 5, "USER": 10**9,
                                 "STORE_DIR": str(tmp_path / "store")})
    with pytest.raises(ValueError, match=r"USER=1000000000 is not among the 5 sampled users"):
        ni.open_service(cfg, small_dataset)
    assert not (tmp_path / "store").exists()


def test_the_lesson_on_a_small_catalogue(small_dataset, tmp_path):
    sample = temporal_split(small_dataset, 0.2, min_events=20).sample(12, 3)
    cfg = ni.check_parameters(**{**DEFAULTS, "N_USERS": 12, "SEED": 3, "FACTOR": 0.3,
                                 "USER": int(sample[2]), "K": [5, 20], "TOP_N": 5,
                                 "STORE_DIR": str(tmp_path / "s")})
    service = ni.open_service(cfg, small_dataset)
    try:
        rec = service.rec
        assert service.users.tolist() == sample.tolist() and service.user == int(sample[2])
        assert rec.not_interested_factor == 0.3
        assert service.facts()["n_train_events"] == len(service.train_events)
        assert set(service.train_events["user_id"]) == set(service.users.tolist())
        # the replay at the service's factor is the service
        np.testing.assert_allclose(service.replay(0.3), service.interests(), atol=1e-5)
        rejections = ni.rejection_cosines(service)
        assert rejections.replay_max_diff < 1e-6
        errors = ni.identity_errors(service, np.linspace(0, 2, 5))
        assert max(errors.values()) < 1e-5
        item = int(rec.recommend(service.user, n=1)["item_id"].iloc[0])
        new = vectors.subtract(np.tile(rec.interest(service.user), (2, 1)),
                               np.tile(rec.item_vector(item), (2, 1)), np.array([0.0, 2.0]))
        kept = ni.kept_of_top(service, service.user, item, new, 5)
        assert kept[0] == 5 and 0 <= kept[1] <= 5  # factor 0 changes nothing
        cmp = ni.compare_strategies(service)
        assert list(cmp.table["strategy"]) == [*ni.STRATEGIES, ni.SERVICE_HNSW]
        assert cmp.value(ni.SERVICE_HNSW, "recall@20") == pytest.approx(
            cmp.value("ema+subtract", "recall@20"), abs=0.05)
        sweep = ni.factor_sweep(service)
        table = sweep.table.set_index("factor")
        assert sweep.service_max_diff < 1e-5
        assert table.loc[0.0, "recall@20"] == pytest.approx(cmp.value("ema_only", "recall@20"))
        assert table.loc[0.3, "recall@20"] == pytest.approx(
            cmp.value("ema+subtract", "recall@20"))
        assert "On 12 users" in ni.summary(service, rejections, cmp, sweep)
    finally:
        service.rec.close()
