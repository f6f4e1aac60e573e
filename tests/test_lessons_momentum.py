"""recsys_nb.lessons.momentum: notebook 05's parameter checks, toy, service helpers and verdicts.

The parameter errors are the ones the notebook raises at its parameters cell (one call to
``MomentumConfig.from_parameters``); the verdicts and the summary are checked on results whose
per-user hits are known, so every word of the generated summary can be predicted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb import vectors
from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.evaluate import EvaluationResult, temporal_split
from recsys_nb.experiment import Experiment
from recsys_nb.lessons import momentum
from recsys_nb.lessons.momentum import MomentumConfig
from recsys_nb.widgets import MomentumScrubber, item_label

DEFAULTS = dict(N_USERS=100, MIN_EVENTS=5, TEST_FRACTION=0.2, K=[10, 50], WINDOWS=[6, 10, 20],
                VARIANTS=["momentum", "damped", "recent", "time_weighted"], DAMPED_WEIGHT=0.5,
                TOLERANCE=0.005, USER=None, TOP_N=10, NEXT_K=20, SEED=0, STORE_DIR=None)


def config(**changes):
    return MomentumConfig.from_parameters(**{**DEFAULTS, **changes})


# ---------------------------------------------------------------------------------------------
# Parameters


def test_the_notebook_defaults_make_the_default_config():
    cfg = config()
    assert cfg == MomentumConfig()
    assert (cfg.recall, cfg.ndcg) == ("recall@50", "ndcg@10")
    assert cfg.store_path.parts[-2:] == ("notebooks", "05_temporal_momentum")
    assert momentum.WRITEUP_WINDOW == 10 and momentum.MIN_WINDOW_EVENTS == 4


def test_lists_are_sorted_and_values_normalised(tmp_path):
    cfg = config(K=[50, 5], WINDOWS=np.array([20, 4]), N_USERS=np.int64(7), USER=np.int64(3),
                 DAMPED_WEIGHT=0, STORE_DIR=str(tmp_path), VARIANTS=["recent"])
    assert cfg.cutoffs == (5, 50) and cfg.windows == (4, 20) and cfg.variants == ("recent",)
    assert cfg.n_users == 7 and type(cfg.n_users) is int and cfg.user == 3
    assert cfg.damped_weight == 0.0 and cfg.store_path == tmp_path
    assert config(N_USERS=None).n_users is None


@pytest.mark.parametrize("name, value, message", [
    ("N_USERS", 0, "N_USERS=0 must be None (every user) or an integer >= 1"),
    ("N_USERS", 2.5, "N_USERS=2.5 must be None (every user)"),
    ("MIN_EVENTS", 1, "MIN_EVENTS=1 must be an integer >= 2"),
    ("TEST_FRACTION", 1.0, "TEST_FRACTION=1.0 must be a number in (0, 1)"),
    ("TEST_FRACTION", "0.2", "TEST_FRACTION='0.2' must be a number in (0, 1)"),
    ("DAMPED_WEIGHT", 1.0, "DAMPED_WEIGHT=1.0 must be a number in [0, 1)"),
    ("TOLERANCE", -0.01, "TOLERANCE=-0.01 must be a number >= 0"),
    ("TOLERANCE", float("nan"), "TOLERANCE=nan must be a number >= 0"),
    ("USER", "alice", "USER='alice' must be None or an integer >= 1"),
    ("TOP_N", True, "TOP_N=True must be an integer >= 1"),
    ("NEXT_K", 0, "NEXT_K=0 must be an integer >= 1"),
    ("SEED", -1, "SEED=-1 must be an integer >= 0"),
    ("STORE_DIR", 5, "STORE_DIR=5 must be None or a folder path"),
    ("K", [0, 10], "K values [0] are out of range: each must be an integer >= 1"),
    ("K", 10, "K=10 must be a list of values, e.g. [10]"),
    ("K", [], "K has an empty list"),
    ("WINDOWS", [1, 10], "WINDOWS values [1] are out of range: each must be an integer >= 2"),
    ("WINDOWS", [10, 10], "WINDOWS repeats values [10, 10]; list each once"),
    ("VARIANTS", ["momentum", "sideways"], "VARIANTS values ['sideways'] are out of range: each "
     "must be one of ['momentum', 'damped', 'recent', 'time_weighted']"),
])
def test_a_bad_parameter_is_named_with_its_value_and_the_fix(name, value, message):
    with pytest.raises(ValueError, match="^invalid parameters: ") as err:
        config(**{name: value})
    assert message in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValueError) as err:
        config(N_USERS=-3, K=[0], VARIANTS=["sideways"], TOLERANCE=-1)
    text = str(err.value)
    for name in ("N_USERS=-3", "K values [0]", "VARIANTS values ['sideways']", "TOLERANCE=-1"):
        assert name in text


def test_configurations_are_recommend_keywords():
    cfg = config(WINDOWS=[8, 4], VARIANTS=["damped", "recent"], DAMPED_WEIGHT=0.25)
    assert cfg.configurations() == {
        "current": {},
        "damped, window 4": {"mode": "predicted", "window": 4, "method": "momentum",
                             "weight": 0.25},
        "damped, window 8": {"mode": "predicted", "window": 8, "method": "momentum",
                             "weight": 0.25},
        "recent, window 4": {"mode": "predicted", "window": 4, "method": "recent"},
        "recent, window 8": {"mode": "predicted", "window": 8, "method": "recent"},
    }
    assert config().specs()["momentum"] == {"method": "momentum", "weight": 1.0}


# ---------------------------------------------------------------------------------------------
# The toy


def test_toy_estimates_are_the_package_formulas():
    pts = momentum.on_circle([0, 10, 20, 30, 40, 50])
    est = momentum.toy_estimates(pts, weight=0.5, alpha=0.3)
    np.testing.assert_allclose(est["predicted"], vectors.predict_momentum(pts, weight=0.5))
    np.testing.assert_allclose(est["a1"], pts[:3].mean(axis=0))
    assert momentum.angle(est["a2"]) == pytest.approx(40.0)
    # a steady turn: the EMA lags behind the newest item, momentum goes past it
    assert momentum.angle(est["current"]) < 50 < momentum.angle(est["predicted"])


def test_toy_noise_momentum_amplifies_the_luck_of_the_halves():
    errors = momentum.toy_noise_errors(np.random.default_rng(1), draws=300)
    err = dict(zip(errors["estimate"], errors["mean angle error (degrees)"], strict=True))
    assert err["momentum (weight 1)"] > err["damped momentum (weight 0.5)"] \
        > err["recent mean (a2 and a1 together)"]
    again = momentum.toy_noise_errors(np.random.default_rng(1), draws=300)
    pd.testing.assert_frame_equal(errors, again)  # the seed decides


# ---------------------------------------------------------------------------------------------
# Verdicts and the generated summary, on results whose hits are known


def result(label, hits):
    """40 users; user r finds its relevant item (7) at rank 1 when hits[r], else not at all."""
    ranked = np.array([[7, 8] if h else [8, 9] for h in hits])
    return EvaluationResult.score(label, np.arange(len(hits)), ranked,
                                  [np.array([7])] * len(hits), (1, 2))


@pytest.fixture
def measured():
    cfg = config(K=[1, 2], WINDOWS=[6, 20], VARIANTS=["momentum", "recent"])
    half = np.arange(40) < 20
    results = {
        "current": result("current", half),
        "momentum, window 6": result("momentum, window 6", np.zeros(40, bool)),  # hurts
        "momentum, window 20": result("momentum, window 20", half),  # the same lists
        "recent, window 6": result("recent, window 6", np.ones(40, bool)),  # helps
        "recent, window 20": result("recent, window 20", half ^ (np.arange(40) % 20 == 0)),
    }
    return cfg, results


def test_verdicts_pair_each_configuration_with_the_current_interest(measured):
    cfg, results = measured
    table = momentum.verdicts(results, cfg)
    assert table["configuration"].tolist()[0] == "recent, window 6"  # best recall first
    by = table.set_index("configuration")
    assert by.loc["momentum, window 6", "verdict recall@2"] == "hurts"
    assert by.loc["momentum, window 6", "delta recall@2"] == pytest.approx(-0.5)
    assert by.loc["recent, window 6", "verdict ndcg@1"] == "helps"
    assert by.loc["momentum, window 20", "verdict recall@2"] == "no measurable effect"
    assert by.loc["recent, window 20", "verdict recall@2"] == "no measurable effect"
    assert (by["low recall@2"] <= by["delta recall@2"]).all()
    assert (by["delta recall@2"] <= by["high recall@2"]).all()
    assert by.loc["recent, window 20", "window"] == 20
    shown = momentum.shown(table, cfg)
    assert shown.loc[0, "recall@2 95% interval"].startswith("[+")


def test_recorded_numbers_and_summary_follow_the_verdicts(measured):
    cfg, results = measured
    recorded = momentum.verdict_record(momentum.verdicts(results, cfg), results, cfg)
    assert (recorded["n_helps"], recorded["n_hurts"], recorded["n_no_effect"]) == (1, 1, 2)
    assert recorded["verdict_windows"] == {
        "momentum": {"hurts": [6], "no measurable effect": [20]},
        "recent": {"helps": [6], "no measurable effect": [20]},
    }
    assert recorded["best_variant"] == "recent, window 6" and recorded["best_beats_current"]
    assert recorded["current_recall"] == 0.5
    assert recorded["results"]["recent, window 6"] == {"recall@2": 1.0, "ndcg@1": 1.0}
    assert recorded["writeup_verdict"] is None  # window 10 was not measured
    lines = momentum.summary_lines(recorded, cfg)
    assert lines[0] == ("recall@2: of 4 predicted configurations, 1 help, 1 hurt, 2 show no "
                        "measurable effect")
    assert lines[1].split() == ["momentum", "hurts", "at", "window", "6;", "no", "measurable",
                                "effect", "at", "window", "20"]
    assert any("write-up's momentum (window 10) was not measured" in line for line in lines)
    assert lines[-1].startswith("=> the prediction helped recall@2 measurably in 1 "
                                "configuration(s): recent, window 6")


def test_summary_names_the_writeup_momentum_and_says_when_nothing_helps():
    cfg = config(K=[1, 2], WINDOWS=[10], VARIANTS=["momentum"])
    half = np.arange(40) < 20
    results = {"current": result("current", half),
               "momentum, window 10": result("momentum, window 10", np.zeros(40, bool))}
    recorded = momentum.verdict_record(momentum.verdicts(results, cfg), results, cfg)
    assert recorded["writeup_verdict"] == "hurts" and recorded["writeup_delta_recall"] == -0.5
    lines = momentum.summary_lines(recorded, cfg)
    assert "the write-up's momentum (window 10, weight 1): -0.5000 recall@2" in "\n".join(lines)
    assert lines[-1].startswith("=> no predicted configuration helped recall@2 measurably")
    assert "hurts at window 10" in lines[1]


# ---------------------------------------------------------------------------------------------
# The users, the service and its checks, on a small real store: 300 popular movies, 80 users
# (the default 64-d SVD part needs more users than dimensions)


@pytest.fixture(scope="module")
def small_split():
    ds = load_movielens()
    small = subset_items(ds, ds.events["item_id"].value_counts().index[:300])
    return temporal_split(sample_users(small, 80, seed=2, min_events=20), test_fraction=0.2)


def test_scored_users_samples_and_picks_or_checks_the_user(small_split):
    users, user = momentum.scored_users(small_split, config(N_USERS=5, K=[5, 20]))
    assert len(users) == 5 and user in users
    again, _ = momentum.scored_users(small_split, config(N_USERS=5, K=[5, 20]))
    np.testing.assert_array_equal(users, again)
    everyone, _ = momentum.scored_users(small_split, config(N_USERS=None, K=[5, 20]))
    assert len(everyone) == len(small_split.relevant()[0])
    mine = int(everyone[-1])
    assert momentum.scored_users(small_split, config(USER=mine, K=[5, 20]))[1] == mine
    with pytest.raises(ValueError, match=r"USER=999999 has no held-out events .* or None"):
        momentum.scored_users(small_split, config(USER=999999, K=[5, 20]))
    with pytest.raises(ValueError, match=r"K=\[10, 500\] exceeds the catalogue \(300 items\)"):
        momentum.scored_users(small_split, config(K=[10, 500]))


def test_service_helpers_agree_with_the_recommender(small_split, tmp_path):
    cfg = config(N_USERS=4, K=[5, 20], WINDOWS=[4], VARIANTS=["momentum", "recent"])
    users, user = momentum.scored_users(small_split, cfg)
    exp = Experiment(small_split.restrict(users), cfg.cutoffs, path=tmp_path / "store",
                     cache_path=tmp_path / "cache.sqlite")
    first, _ = momentum.open_service(exp, users, user)
    rec, report = momentum.open_service(exp, users, user)  # a re-run closes the first service
    assert report.users == len(users)
    with pytest.raises(RuntimeError, match="closed"):
        first.recommend(user)
    held = momentum.held_out(small_split, users)
    assert set(held) == {int(u) for u in users}

    current, predicted = rec.interest(user), rec.predict_interest(user, window=6)
    table, matrix = momentum.window_table(rec, user, 6, current, predicted)
    assert len(table) == 6 and table["half"].tolist().count("older (a1)") == 3
    np.testing.assert_allclose(vectors.predict_from_window(matrix, "momentum"), predicted,
                               atol=1e-6)
    np.testing.assert_allclose(table["cos current"], matrix @ current, atol=1e-6)

    side, hits = momentum.two_lists(rec, user, 5, held[user], window=6)
    got = rec.recommend(user, n=5, mode="predicted", window=6)
    assert side[("predicted", "movie")].tolist() == [
        item_label(t, y) for t, y in zip(got["title"], got["year"], strict=True)]
    assert 0 <= hits["shared"] <= 5 and hits["hits_current"] == side[
        ("current", "held out")].eq("yes").sum()

    per_user, summary = momentum.closeness(rec, held, cfg.specs(), window=6)
    assert per_user["user_id"].tolist() == sorted(held)
    assert summary["vector"].tolist() == ["current", "momentum", "recent"]
    u = int(per_user["user_id"].iloc[0])
    target = np.stack([rec.item_vector(i) for i in held[u]])
    assert per_user.loc[0, "current"] == pytest.approx(float((target @ rec.interest(u)).mean()))

    scrubber = MomentumScrubber.for_history(rec, rec.history(user), n=5, window=6)
    diff = momentum.scrubber_check(scrubber, rec, user, 6)
    assert diff["current"] < 1e-6 and diff["predicted"] < 1e-6
    rec.close()

    results = {name: exp.measure(name, recommend=kw) for name, kw in cfg.configurations().items()}
    table = momentum.results_table(results, cfg)
    assert table["variant"].tolist() == ["current", "momentum", "recent"]
    assert table["window"].isna().tolist() == [True, False, False]
    assert set(momentum.verdicts(results, cfg)["verdict recall@20"]) <= set(momentum.WORDS)
