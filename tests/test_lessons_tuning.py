"""recsys_nb.lessons.tuning (notebook 06's machinery): the report's parameters checked as one
config object (presets, defaults added to the sweeps, every problem named at once), the
cold-start split, and the measurements end to end on a small MovieLens sample: baselines, the
from_dataset check, embeddings, sweeps, ablation, cold start, claims, verdicts and the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.evaluate import temporal_split
from recsys_nb.lessons import tuning
from recsys_nb.lessons.tuning import FAST, FULL_RUN, TuningConfig
from recsys_nb.recommender import DEFAULT_DIMS, DEFAULT_EMBEDDING, DEFAULT_PARAMS
from recsys_nb.store import StoreLock, StoreLockedError

# ------------------------------------------------------------------ parameters


def test_defaults_are_the_fast_run_with_each_package_default_in_its_sweep():
    c = TuningConfig.from_parameters()
    assert (c.full, c.n_users, c.seed, c.tolerance) == (False, 100, 0, 0.005)
    assert c.cutoffs == (10, 50) and (c.kmin, c.kmax, c.metric) == (10, 50, "recall@50")
    assert c.embeddings == tuple(FAST["EMBEDDINGS"]) and c.baselines == tuple(FAST["BASELINES"])
    assert c.dims == (DEFAULT_DIMS["collaborative"],)
    assert c.grids["alpha_view"] == sorted({*FAST["ALPHA_VIEW_GRID"], DEFAULT_PARAMS["alpha_view"]})
    assert c.grids["popularity_weight"] == sorted({0.0, 0.3, DEFAULT_PARAMS["popularity_weight"]})
    assert c.grids["window"] == sorted({*FAST["WINDOW_GRID"], tuning.WRITEUP_WINDOW})
    assert tuning.WRITEUP_WINDOW == 10  # predict_interest's default, the write-up's window
    assert c.store_path().name == "06_evaluation_and_tuning"
    text = c.describe()
    assert "a random sample of 100 users" in text and "recall@50" in text
    d = DEFAULT_DIMS[DEFAULT_EMBEDDING]
    if DEFAULT_EMBEDDING == "blend":  # 64 sequence + 64 SVD dimensions, stored as one vector
        assert f"{d} sequence + {d} SVD = {2 * d}-d" in text


def test_full_takes_the_full_preset_and_every_user_while_given_lists_win():
    c = TuningConfig.from_parameters(FULL=True, N_USERS=7, DIMS=[16], K=[50, 5])
    assert c.full and c.n_users is None  # FULL scores all users, whatever N_USERS says
    assert c.baselines == tuple(FULL_RUN["BASELINES"]) and "ease" in c.baselines
    assert c.embeddings == tuple(FULL_RUN["EMBEDDINGS"])
    assert c.dims == (16,) and c.cutoffs == (5, 50)
    assert set(FULL_RUN["FACTOR_GRID"]) <= set(c.grids["not_interested_factor"])
    assert TuningConfig.from_parameters(N_USERS=None).n_users is None  # None: all users
    assert "all users" in TuningConfig.from_parameters(N_USERS=None).describe()


def test_invalid_parameters_fail_at_once_naming_each_parameter_value_and_fix():
    with pytest.raises(ValueError) as info:
        TuningConfig.from_parameters(
            EMBEDDINGS=["nope"], ALPHA_VIEW_GRID=[], POPULARITY_WEIGHT_GRID=[-1, 0.5],
            WINDOW_GRID=[1], BASELINES=["ease"], TOLERANCE=-1, N_USERS=0, SEED=-2,
            FULL="yes", MIN_EVENTS=1, TEST_FRACTION=1.0, K=[10, 10], DIMS=[1],
            COLD_START_EVENTS=[0], FACTOR_GRID=0.5, STORE_DIR="", NUSERS=3)
    message = str(info.value)
    assert message.startswith("invalid parameters: ")
    for expected in ("unknown parameter(s) ['NUSERS']", "FULL='yes' must be True or False",
                     "N_USERS=0 must be None or an integer >= 1",
                     "MIN_EVENTS=1 must be an integer >= 2",
                     "TEST_FRACTION=1.0 must be a number in (0, 1)",
                     "TOLERANCE=-1 must be a number >= 0, e.g. 0.005",
                     "SEED=-2 must be an integer >= 0", "STORE_DIR='' must be None or a folder",
                     "K repeats values [10, 10]", "EMBEDDINGS values ['nope']", "'collaborative'",
                     "DIMS values [1]", "ALPHA_VIEW_GRID has an empty",
                     "FACTOR_GRID=0.5 must be a list of values",
                     "POPULARITY_WEIGHT_GRID values [-1]", "WINDOW_GRID values [1]",
                     "COLD_START_EVENTS values [0]",
                     "BASELINES=['ease'] must include 'popularity'"):
        assert expected in message, expected


@pytest.mark.parametrize("bad", [{"K": "10"}, {"K": None}, {"N_USERS": 2.5}, {"TOLERANCE": True},
                                 {"BASELINES": ["popularity", "svd"]}, {"WINDOW_GRID": [4.5]}])
def test_each_kind_of_bad_value_is_refused(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"invalid parameters: .*{name}"):
        TuningConfig.from_parameters(**bad)


@pytest.fixture(scope="module")
def small():
    """80 MovieLens users (>= 20 events each) and only the items they touched."""
    ds = sample_users(load_movielens(), 80, seed=3, min_events=20)
    return subset_items(ds, np.unique(ds.events["item_id"]))


def test_checks_that_need_the_data_name_k_and_dims(small):
    config = TuningConfig.from_parameters(K=[10, 100_000], DIMS=[8, 500])
    with pytest.raises(ValueError) as info:
        tuning.temporal_protocol(config, small)
    message = str(info.value)
    assert message.startswith("invalid parameters: ")
    assert "K=[10, 100000] exceeds the catalogue" in message
    assert "DIMS [500] must be < the 80 training users" in message


# ------------------------------------------------------------------ the split


def test_the_protocol_samples_scored_users_and_keeps_everybodys_training(small):
    config = TuningConfig.from_parameters(N_USERS=12, SEED=4)
    split, scored = tuning.temporal_protocol(config, small)
    assert len(scored.users) == 12 and np.array_equal(scored.users, split.sample(12, 4))
    assert len(scored.train) == len(split.train)  # models learn from every user's past
    facts = tuning.split_facts(split, scored)
    assert facts["n_users"] == 12 and facts["n_users_split"] == len(split.users) == 80
    assert facts["n_train_events"] + facts["n_test_events"] == len(small.events)
    assert facts["n_train_events_scored"] == int(split.train["user_id"].isin(scored.users).sum())
    assert facts["relevant_in_training"] == 0 and facts["median_relevant_per_user"] >= 1
    everybody = tuning.temporal_protocol(TuningConfig.from_parameters(N_USERS=None), small)[1]
    assert len(everybody.users) == len(split.relevant()[0])


def test_first_events_split_keeps_each_scored_users_first_events_only(small):
    split = temporal_split(small)
    scored = split.restrict(split.users[:10])
    cold = tuning.first_events_split(scored, 2)
    mine = cold.train[cold.train["user_id"].isin(scored.users)]
    assert mine.groupby("user_id").size().max() == 2
    for user, events in mine.groupby("user_id"):
        full = scored.train[scored.train["user_id"] == user]
        assert events["item_id"].tolist() == full["item_id"].tolist()[:2]  # the earliest two
    others = scored.train[~scored.train["user_id"].isin(scored.users)]
    assert len(cold.train) == len(others) + len(mine)  # other users keep all their events
    assert cold.test.equals(scored.test) and np.array_equal(cold.users, scored.users)
    assert cold.train["timestamp"].is_monotonic_increasing


# ------------------------------------------------------------------ the report, end to end


@pytest.mark.slow
def test_the_report_measures_every_claim_on_a_small_sample(small, tmp_path):
    config = TuningConfig.from_parameters(
        N_USERS=15, SEED=1, K=[5, 20], EMBEDDINGS=["collaborative"], DIMS=[8],
        ALPHA_VIEW_GRID=[0.5], ALPHA_FAVORITE_GRID=[0.3], FACTOR_GRID=[0.0],
        POPULARITY_WEIGHT_GRID=[0.0], WINDOW_GRID=[4], COLD_START_EVENTS=[1],
        BASELINES=["popularity"], TOLERANCE=0.01, STORE_DIR=str(tmp_path / "store"))
    split, scored = tuning.temporal_protocol(config, small)
    blocker = StoreLock(tmp_path / "store")  # another run holds this folder: refused
    with pytest.raises(StoreLockedError):
        tuning.open_experiment(config, scored)
    blocker.release()
    tuning.open_experiment(config, scored)  # a re-run in this process takes its lock over
    exp = tuning.open_experiment(config, scored)
    baselines = tuning.measure_baselines(exp, config)
    assert list(baselines) == ["popularity"] and tuning.best_of(baselines, "recall@20") == \
        "popularity"
    default = tuning.measure_from_dataset(exp, "default (from_dataset)")
    core = exp.measure("default", exact=True)
    assert np.array_equal(default.users, core.users) and len(default.users) == 15
    for k in config.cutoffs:  # the same vectors and interest vectors: the same exact ranking
        assert default[f"exact_recall@{k}"] == core[f"exact_recall@{k}"]
    assert 0.9 <= tuning.list_overlap(default, core) <= 1.0

    runs = tuning.measure_embeddings(exp, config)
    assert list(runs) == [("collaborative", 8, True), ("collaborative", 8, False)]
    table = tuning.embedding_table(exp, runs)
    assert table["stored_dim"].tolist() == [8, 8] and table["prior"].tolist() == [True, False]
    effect = tuning.prior_effect(runs, config)
    assert effect.loc[0, "recall@20 prior"] == runs[("collaborative", 8, True)]["recall@20"]

    sweeps = tuning.run_sweeps(exp, config)
    assert sweeps["alpha_view"]["alpha_view"].tolist() == [DEFAULT_PARAMS["alpha_view"], 0.5]
    assert sweeps["window"]["window"].tolist() == [4, tuning.WRITEUP_WINDOW]
    at_default = sweeps["popularity_weight"].set_index("popularity_weight")["recall@20"]
    assert at_default[DEFAULT_PARAMS["popularity_weight"]] == core["recall@20"]
    configs = tuning.configurations(exp, default)
    assert "popularity" not in set(configs["model"]) and "default (from_dataset)" in \
        set(configs["model"])

    pairs = tuning.ablation_runs(exp, config)
    assert pairs["popularity prior"][1]["recall@20"] == at_default[0.0]
    cold = tuning.measure_cold_start(exp, config)
    interest, popular = cold[1]
    assert np.array_equal(interest.users, popular.users)
    assert tuning.cold_start_table(cold, config)["users"].tolist() == [len(interest.users)]

    claims = tuning.claims(exp, config, baselines=baselines, default=default, embeddings=runs,
                           ablation=pairs, cold=cold)
    verdicts = tuning.verdicts(claims, config)
    rows = tuning.verdict_records(verdicts)
    assert [r["key"] for r in rows][:2] == ["writeup_text", "learned_vs_text"]
    assert len(rows) == 12 and len({r["claim"] for r in rows}) == 12
    missing = [r for r in rows if r["verdict"] == "not measured"]
    assert [r["key"] for r in missing] == ["writeup_text", "learned_vs_text"]  # no minilm
    assert all("minilm" in r["note"] and r["diff"] is None for r in missing)
    for r in rows:
        if r["diff"] is not None:
            assert r["ci_low"] <= r["diff"] <= r["ci_high"]
            assert r["diff"] == pytest.approx(r["on"] - r["off"], abs=2e-4)
    by_key = {r["key"]: r for r in rows}
    assert by_key["default_vs_popularity"]["on"] == round(default["recall@20"], 4)
    assert by_key["blend_vs_svd"]["off"] == round(runs[("collaborative", 8, True)]["recall@20"],
                                                  4)

    best = configs.sort_values("recall@20", ascending=False).iloc[0]
    lines = tuning.summary_lines(config, leaks=0, baselines=baselines, default=default,
                                 dim=exp.vectors().vectors.shape[1], no_prior=pairs[
                                     "popularity prior"][1], best=best, verdict_rows=verdicts)
    assert lines[0].startswith("15 users (a random sample)") and "no leakage" in lines[0]
    assert f"{default['recall@20']:.4f}" in lines[2]
    verdict_lines = lines[-12:]
    for line, r in zip(verdict_lines, rows, strict=True):  # each sentence from its own row
        assert line.startswith(f"[{r['verdict']}] {r['claim']}")
        if r["diff"] is not None:
            assert f"{r['diff']:+.4f}" in line

    tuning.close_experiment(exp)
    chroma = tmp_path / "store" / "chroma"
    assert [p.name for p in chroma.iterdir()] == [".writer.lock"]  # emptied
    StoreLock(tmp_path / "store").release()  # and unlocked


# ------------------------------------------------------------------ figures


def _result(label, recall, ndcg=0.1):
    """A fake EvaluationResult with the given means (two users, one relevant item each)."""
    from recsys_nb.evaluate import EvaluationResult

    r = EvaluationResult.score(label, np.array([1, 2]), np.array([[1, 2], [3, 4]]),
                               [np.array([1]), np.array([9])], (1, 2))
    return EvaluationResult(label, r.users, r.ranked, r.relevant, r.cutoffs,
                            {**r.row, "recall@2": recall, "ndcg@1": ndcg})


def test_sweep_and_cold_start_figures_draw_the_run_against_its_baselines():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = TuningConfig.from_parameters(K=[1, 2])
    sweeps = {"alpha_view": pd.DataFrame({"alpha_view": [0.1, 0.25], "recall@2": [0.2, 0.3],
                                          "ndcg@1": [0.1, 0.2]}),
              "window": pd.DataFrame({"window": [10, 20], "recall@2": [0.1, 0.15],
                                      "ndcg@1": [0.05, 0.1]})}
    fig = tuning.plot_sweeps(sweeps, {"popularity": _result("popularity", 0.12)},
                             _result("current", 0.25), config, title="t")
    axes = fig.axes
    assert len(axes) == 4 and fig._suptitle.get_text() == "t"
    top_window = axes[1]  # recall row, window column: the current interest drawn across
    levels = {ln.get_label(): ln.get_ydata()[0] for ln in top_window.get_lines()[1:]}
    assert levels["current interest (no momentum)"] == 0.25 and levels["popularity"] == 0.12
    assert top_window.get_lines()[0].get_ydata().tolist() == [0.1, 0.15]
    plt.close(fig)
    table = pd.DataFrame({"events kept": [1, 5], "interest recall@2": [0.05, 0.2],
                          "popularity recall@2": [0.1, 0.1]})
    ax = tuning.plot_cold_start(table, _result("full", 0.3), config)
    assert [ln.get_label() for ln in ax.get_lines()] == ["interest vector", "popularity",
                                                         "full training history"]
    assert ax.get_lines()[2].get_ydata()[0] == 0.3 and ax.get_ylim()[0] == 0
    plt.close(ax.figure)
