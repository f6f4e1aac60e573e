"""Notebook 05 (temporal momentum): a papermill run with non-default parameters checked against
the rule that made its verdicts and an independent ``evaluate()`` run; a bad parameter failing at
the parameters check; the current-vs-predicted scrubber driven in-process against a real (small)
Recommender; the plots. (The window math, ``vectors.predict_from_window`` /
``trajectories.predicted_trajectory``, is tested in test_vectors.py / test_trajectories.py; the
lesson module's checks, verdicts and summary in test_lessons_momentum.py.)"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from nbrun import NOTEBOOKS, check_conventions, run_notebook

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.embeddings import embed_items
from recsys_nb.evaluate import Difference, evaluate, temporal_split, verdict
from recsys_nb.lessons.momentum import WORDS
from recsys_nb.plots import plot_metric_by_window, plot_momentum_2d, plot_next_item_similarity
from recsys_nb.recommender import (
    DEFAULT_DIM,
    DEFAULT_EMBEDDING,
    DEFAULT_PARAMS,
    Recommender,
    item_counts,
)
from recsys_nb.report import read_recorded
from recsys_nb.trajectories import predicted_trajectory
from recsys_nb.widgets import MomentumScrubber

matplotlib.use("Agg")

NOTEBOOK = "05_temporal_momentum.ipynb"


# ---------------------------------------------------------------------------------------------
# The notebook itself


def test_notebook_follows_the_conventions():
    """Committed without outputs, one `parameters` cell of commented literals."""
    check_conventions(NOTEBOOK)


@pytest.mark.notebook
def test_notebook_run_with_other_parameters_records_consistent_numbers(tmp_path):
    """40 other users, windows 4/8, three variants, K 5/20: every number checked for range and
    consistency, and the current-mode row against an independent evaluate() of the product."""
    n_users, windows, variants, ks = 40, [4, 8], ["momentum", "damped", "recent"], [5, 20]
    params = {"N_USERS": n_users, "SEED": 3, "WINDOWS": windows, "VARIANTS": variants,
              "DAMPED_WEIGHT": 0.25, "K": ks, "TEST_FRACTION": 0.25, "TOP_N": 5, "NEXT_K": 10,
              "STORE_DIR": str(tmp_path / "store")}
    rec = run_notebook(NOTEBOOK, tmp_path, **params)
    recall, ndcg = "recall@20", "ndcg@5"

    # parameters honoured
    assert rec["n_users"] == n_users == rec["n_scored"] == len(rec["eval_users"])
    assert rec["windows"] == windows and rec["variants"] == variants and rec["k"] == ks
    assert rec["damped_weight"] == 0.25
    # the package default: blend vectors (two parts of DEFAULT_DIM) with the popularity prior
    assert rec["dim"] == 2 * DEFAULT_DIM and rec["model_id"].startswith("blend-")
    assert rec["prior_weight"] == DEFAULT_PARAMS["popularity_weight"] > 0
    expected = {"current"} | {f"{v}, window {w}" for v in variants for w in windows}
    assert set(rec["results"]) == expected
    for row in rec["results"].values():
        assert set(row) == {recall, ndcg}
        assert all(0.0 <= v <= 1.0 for v in row.values())
    assert rec["results"]["current"] == {recall: rec["current_recall"], ndcg: rec["current_ndcg"]}
    assert 0.0 <= rec["popularity_recall"] <= 1.0

    # verdicts follow the stated rule; the best configuration is the argmax
    predicted = {k: v for k, v in rec["results"].items() if k != "current"}
    for name in predicted:
        for deltas, verdicts, metric in [(rec["deltas"], rec["verdicts"], recall),
                                         (rec["deltas_ndcg"], rec["verdicts_ndcg"], ndcg)]:
            mean, low, high = deltas[name]
            assert low <= mean <= high
            # same users on both sides: the mean paired difference is the difference of means
            assert mean == pytest.approx(predicted[name][metric] - rec["results"]["current"][
                metric], abs=2e-4)
            assert verdicts[name] == verdict(Difference(metric, mean, low, high, n_users),
                                              rec["tolerance"], WORDS)
    # the summary's counts and windows are the verdicts' (the old prose miscounted them)
    for suffix, verdicts in (("", rec["verdicts"]), ("_ndcg", rec["verdicts_ndcg"])):
        counts = [sum(v == word for v in verdicts.values()) for word in WORDS]
        assert [rec[f"n_helps{suffix}"], rec[f"n_hurts{suffix}"],
                rec[f"n_no_effect{suffix}"]] == counts
        assert sum(counts) == len(predicted)
        by_window = {(variant, w): word for variant, words in
                     rec[f"verdict_windows{suffix}"].items()
                     for word, ws in words.items() for w in ws}
        assert by_window == {(n.split(",")[0], int(n.rsplit(" ", 1)[1])): v
                             for n, v in verdicts.items()}
    best = max(predicted, key=lambda k: predicted[k][recall])
    assert predicted[rec["best_variant"]][recall] == predicted[best][recall]
    assert rec["best_delta_recall"] == pytest.approx(
        rec["best_recall"] - rec["current_recall"], abs=2e-4)
    assert rec["best_beats_current"] is (rec["best_delta_recall"] > 0)
    assert rec["writeup_verdict"] is None  # the write-up's window 10 was not among WINDOWS

    # the toy: momentum leads a steady drift, and amplifies noise
    assert rec["toy_drift_error_momentum"] < rec["toy_drift_error_ema"]
    noise = rec["toy_noise_error"]
    assert noise["momentum (weight 1)"] > noise["recent mean (a2 and a1 together)"]

    # the service, the formula and the widget agree
    assert rec["example_prediction_matches_formula"] is True
    assert -1.0 <= rec["example_cos_current_predicted"] <= 1.0
    assert rec["widget_error"] is None
    assert rec["widget_diff_current"] < 1e-6 and rec["widget_diff_predicted"] < 1e-6
    assert 0.0 <= rec["widget_predicted_closer"] <= 1.0
    assert 0 <= rec["example_lists_shared"] <= 5
    assert all(0.0 <= v <= 1.0 for v in rec["closeness_share_closer"].values())
    assert set(rec["closeness_cos_to_heldout"]) == {"current", *variants}

    # the current-mode row equals an independent evaluate() of Recommender.from_dataset
    split = temporal_split(load_movielens(), test_fraction=0.25, min_events=5)
    users = np.asarray(rec["eval_users"], dtype=split.users.dtype)
    assert users.tolist() == split.sample(n_users, seed=3).tolist()
    scored = split.restrict(users, train_users=users)  # the service ingests these users only
    train = split.train_dataset()  # item vectors learn from every user's past, as in the notebook
    model_ids = []

    def factory(_ds, path):
        service = Recommender.from_dataset(train, path, progress=False)
        model_ids.append(service.model_id)
        return service

    row = evaluate(factory, scored, ks, exact=True)
    assert model_ids == [rec["model_id"]]
    for metric, value in rec["current_exact_metrics"].items():  # same vectors: same exact ranks
        assert row[metric] == pytest.approx(value, abs=1e-4), metric
    # The product's own (HNSW) numbers: two builds of the approximate index may differ. With the
    # 32-d SVD vectors (no prior) the share of the exact top 20 that HNSW returned on these 40
    # users varied from 0.94 to 0.98 between builds and ndcg@20 by up to 0.024; with the blend
    # vectors and the prior, two builds both returned the exact top 20 (share 1.0, metrics equal
    # to the exact ones) and the full run's top-50 share is 0.9997; a fresh-clone CI run of
    # 2026-11-30 (ac32805) saw a share of exactly 0.95 with the blend vectors. Hence a tolerance
    # that covers both (the exact ranks above are tight).
    assert rec["current_ann_overlap"] >= 0.9
    for metric, value in rec["current_metrics"].items():
        assert row[metric] == pytest.approx(value, abs=0.02), (metric, row[metric], value)


@pytest.mark.notebook
def test_bad_parameters_fail_at_the_parameters_check(tmp_path):
    """The notebook stops at its parameters check, before any data is loaded or recorded, with
    the lesson module's message naming each bad parameter (the messages are unit-tested in
    test_lessons_momentum.py)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = tmp_path / NOTEBOOK
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(NOTEBOOKS / NOTEBOOK), str(out), cwd=str(NOTEBOOKS), kernel_name="python3",
            progress_bar=False, parameters={"K": [0, 10], "VARIANTS": ["sideways"],
                                            "STORE_DIR": str(tmp_path / "store")})
    assert err.value.ename == "ValueError"
    assert "invalid parameters: " in err.value.evalue
    assert "K values [0] are out of range" in err.value.evalue
    assert "VARIANTS values ['sideways'] are out of range" in err.value.evalue
    assert read_recorded(out) == {}  # nothing measured or recorded
    assert not (tmp_path / "store").exists()  # no store opened


# ---------------------------------------------------------------------------------------------
# The scrubber, in-process against a real Recommender (300 popular movies, 6 users)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """(rec, user, future events) on a small real store; closed after the module's tests."""
    ds = load_movielens()
    small = subset_items(ds, ds.events["item_id"].value_counts().index[:300])
    sample = sample_users(small, 6, seed=1, min_events=40)
    split = temporal_split(sample, test_fraction=0.2)
    vecs = embed_items(small.items, small.events, DEFAULT_EMBEDDING, dim=16, progress=False)
    popularity = item_counts(small.events)  # as from_dataset: the popularity prior is on
    rec = Recommender(small.items, vecs, tmp_path_factory.mktemp("store"), popularity,
                      prior_events=small.events)
    rec.ingest(split.train)
    user = int(split.users[0])
    future = split.test[split.test["user_id"] == user]
    yield rec, user, future
    rec.close()


def test_scrubber_last_event_is_the_service(service):
    rec, user, future = service
    history = rec.history(user)
    w = MomentumScrubber.for_history(rec, history, future, n=5, next_k=8)
    assert w.error is None and w.step.value == w.step.max == len(history)
    np.testing.assert_array_equal(w.trajectory[-1], rec.interest(user))
    kinds = history["kind"].tolist()
    for method in ("momentum", "recent", "time_weighted"):  # the math behind the controls
        for window in (4, 10, 30):
            for weight in (1.0, 0.5):
                pred, _ = predicted_trajectory(w.item_matrix, w.rows, kinds, w.trajectory, window,
                                               method=method, weight=weight)
                expected = rec.predict_interest(user, window=window, method=method,
                                                weight=weight)
                np.testing.assert_allclose(pred[-1], expected, atol=1e-6)
    for method, window, weight in [("momentum", 4, 0.5), ("recent", 30, 0.5),
                                   ("time_weighted", 6, 1.0)]:  # the controls themselves
        w.method.value, w.window.value, w.weight.value = method, window, weight
        expected = rec.predict_interest(user, window=window, method=method, weight=weight)
        np.testing.assert_allclose(w.predicted[-1], expected, atol=1e-6)
    # the lists at the last event are what the service recommends (exact search vs HNSW), ranked
    # by the service's score: cosine + prior_weight * prior
    w.method.value, w.window.value, w.weight.value = "momentum", 10, 1.0
    assert rec.prior_weight > 0 and w.prior_weight == rec.prior_weight
    scores = pd.Series(rec.score_items(rec.interest(user)), index=rec.item_ids)
    np.testing.assert_allclose(w.current_list["score"], scores[w.current_list["item_id"]],
                               atol=1e-5)
    seen = set(history["item_id"].astype(int))
    best = scores.drop(index=list(seen)).nlargest(5)
    assert w.current_list["score"].iloc[-1] == pytest.approx(best.iloc[-1], abs=1e-5)
    assert len(set(w.current_list["item_id"]) & set(rec.recommend(user, n=5)["item_id"])) >= 4
    got = rec.recommend(user, n=5, mode="predicted", window=10)["item_id"]
    assert len(set(w.predicted_list["item_id"]) & set(got)) >= 4
    # after the last training event, "next" means the held-out future
    positive = future[future["kind"] != "not_interested"]
    assert len(w.targets[-1]) == min(8, len(positive))


def test_moving_the_step_slider_changes_what_is_shown(service):
    rec, user, future = service
    history = rec.history(user)
    w = MomentumScrubber.for_history(rec, history, future, n=5, next_k=8, window=6)
    before_status = w.status.value
    before_lists = w.lists.outputs[0]["data"]["text/plain"]
    before_png = w.output.outputs[0]["data"]["image/png"]
    renders = w.renders

    w.step.value = 20

    assert w.renders == renders + 1 and w.error is None
    assert w.status.value != before_status and "event 20/" in w.status.value
    assert w.lists.outputs[0]["data"]["text/plain"] != before_lists
    assert w.output.outputs[0]["data"]["image/png"] != before_png
    seen = set(history["item_id"].iloc[:20].astype(int))
    assert len(w.current_list) == len(w.predicted_list) == 5
    assert not seen & set(w.current_list["item_id"]) and not seen & set(w.predicted_list["item_id"])
    # the "next" flags are the items watched after event 20
    upcoming = set(rec.items.index[w.targets[19]])
    assert all((flag == "yes") == (i in upcoming) for i, flag in
               zip(w.current_list["item_id"], w.current_list["next"], strict=True))
    cur, pred = w.next_cos["current"][19], w.next_cos["predicted"][19]
    assert f"current {cur:.3f}, predicted {pred:.3f}" in w.status.value

    w.step.value = 2  # too few positive events in the window: the documented fallback
    assert w.fallback[1] and "fallback" in w.status.value
    np.testing.assert_array_equal(w.predicted[1], w.trajectory[1])
    assert w.current_list["item_id"].tolist() == w.predicted_list["item_id"].tolist()


def test_scrubber_controls_replay_the_prediction_and_survive_close(tmp_path):
    ds = load_movielens()
    small = subset_items(ds, ds.events["item_id"].value_counts().index[:200])
    sample = sample_users(small, 2, seed=4, min_events=30)
    vecs = embed_items(small.items, small.events, DEFAULT_EMBEDDING, dim=8, progress=False)
    rec = Recommender(small.items, vecs, tmp_path / "s", [])
    rec.ingest(sample.events)
    user = int(sample.users[0])
    w = MomentumScrubber.for_history(rec, rec.history(user), n=3)
    rec.close()
    assert np.isnan(w.next_cos["current"][-1])  # no future given: nothing after the last event
    old = w.predicted.copy()
    w.weight.value = 2.0  # recomputes every step, without the (closed) store
    assert w.error is None and not np.allclose(w.predicted[~w.fallback], old[~w.fallback])
    w.step.value = 10
    assert w.error is None and len(w.current_list) == 3


def test_scrubber_rejects_bad_input(service):
    rec, user, _ = service
    history = rec.history(user)
    with pytest.raises(ValueError, match="empty"):
        MomentumScrubber.for_history(rec, history.iloc[:0])
    with pytest.raises(ValueError, match="lacks columns"):
        MomentumScrubber.for_history(rec, history.drop(columns="kind"))
    with pytest.raises(KeyError, match="does not know"):
        MomentumScrubber.for_history(rec, history.assign(item_id=-5))
    with pytest.raises(ValueError, match="method"):
        MomentumScrubber.for_history(rec, history, method="sideways")
    with pytest.raises(ValueError, match="n=0"):
        MomentumScrubber.for_history(rec, history, n=0)


# ---------------------------------------------------------------------------------------------
# The plots


def test_plots_for_notebook_05():
    pts = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    ax = plot_momentum_2d(pts, current=pts[1], predicted=pts[3], a1=pts[:2].mean(0),
                          a2=pts[2:].mean(0))
    assert len(ax.collections) == 1  # the items; numbered 1..4, plus 5 arrows without text
    assert sorted(t.get_text() for t in ax.texts if t.get_text()) == ["1", "2", "3", "4"]
    assert len(ax.texts) == 4 + 5
    with pytest.raises(ValueError, match="2-D"):
        plot_momentum_2d(np.ones((3, 3)))
    ax = plot_next_item_similarity({"current": np.ones(5), "predicted": np.zeros(5)}, step=3)
    assert [line.get_label() for line in ax.get_lines()[:2]] == ["current", "predicted"]
    table = pd.DataFrame({"variant": ["a", "a", "b", "b"], "window": [4, 8, 4, 8],
                          "recall@50": [0.1, 0.2, 0.3, 0.25]})
    ax = plot_metric_by_window(table, "recall@50", reference=0.22, baselines={"popularity": 0.1})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["a", "b"] and "popularity" in labels
    assert list(ax.get_lines()[1].get_ydata()) == [0.3, 0.25]
    with pytest.raises(ValueError, match="lacks columns"):
        plot_metric_by_window(table, "ndcg@10")
