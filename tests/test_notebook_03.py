"""Notebook 03 (recommendations): a papermill run with non-default parameters, and the browser
widget driven in-process against a real (small) Recommender."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from nbrun import assert_ran_on_server, check_conventions, run_notebook

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.plots import plot_score_distribution, plot_scores_by_rank
from recsys_nb.recommender import DEFAULT_DIM, DEFAULT_PARAMS, Recommender
from recsys_nb.widgets import RecommendationBrowser, history_table, recommendations_table

matplotlib.use("Agg")

NOTEBOOK = "03_recommendations.ipynb"


# ---------------------------------------------------------------------------------------------
# The notebook itself


def test_notebook_source_follows_the_conventions():
    """Committed without outputs, one `parameters` cell of commented literals incl. STORE_DIR."""
    _, names = check_conventions(NOTEBOOK)
    assert names == ["N_USERS", "MIN_EVENTS", "SEED", "TOP_N", "EMBEDDING", "STORE_DIR"]


@pytest.mark.notebook
@pytest.mark.server
def test_notebook_run_with_other_parameters_records_checked_numbers(tmp_path, server_env):
    """N_USERS=None (every user with 800+ events, 16 of them), top-5: scores are cosine + prior,
    exclusion works, cold start is popularity. Against a `chroma run` server (CHROMA_HOST)."""
    min_events, top_n = 800, 5
    rec = run_notebook(
        NOTEBOOK, tmp_path, N_USERS=None, SEED=3, MIN_EVENTS=min_events, TOP_N=top_n,
        STORE_DIR=str(tmp_path / "store"),
    )
    assert_ran_on_server(tmp_path / "store")  # nbval runs the notebook embedded
    ds = load_movielens()
    counts = ds.events.groupby("user_id").size()
    n_users = int((counts >= min_events).sum())
    expected = ds.events[ds.events["user_id"].isin(counts.index[counts >= min_events])]
    assert rec["n_users"] == n_users
    assert rec["n_events"] == len(expected)  # every event of those users was ingested
    assert rec["profiles_written"] == n_users
    assert rec["n_items"] == ds.n_items
    # the default embedding: blend, a sequence and an SVD part of DEFAULT_DIM each
    assert rec["dim"] == 2 * DEFAULT_DIM and rec["model_id"].startswith("blend-")
    assert rec["prior_weight"] == DEFAULT_PARAMS["popularity_weight"] > 0
    # score = cosine + weight * prior, recomputed with numpy; lists best first
    assert rec["score_max_abs_diff"] < 1e-5
    assert rec["score_items_max_abs_diff"] < 1e-5
    assert 0.0 < rec["prior_share_of_score"] < 1.0
    assert rec["scores_sorted_all"] is True
    # HNSW vs exact (ties counted as found): approximate, but close on 9k items
    assert rec["hnsw_recall_at_n"] >= 0.9
    assert 0.0 <= rec["same_ids_as_exact"] <= rec["hnsw_recall_at_n"] + 1e-9
    # items rated by one user next to each other collapse onto one vector (and one prior)
    assert rec["items_single_event"] > 1000
    assert 100 < rec["items_sharing_a_vector"] < rec["items_single_event"]
    assert 0 < rec["items_sharing_vector_and_prior"] <= rec["items_sharing_a_vector"]
    # exclusion: seen items crowd the unfiltered list, never the filtered one
    assert rec["seen_in_top_with_exclusion"] == 0
    assert rec["seen_share_without_exclusion"] > 0.1
    assert 1 <= rec["users_with_seen_in_top"] <= n_users
    # score distribution: the top-N is the far tail
    assert rec["median_top1_score"] >= rec["median_topn_score"] > rec["median_catalogue_score"]
    assert rec["topn_above_catalogue_quantile"] > 0.95
    # cold start
    assert rec["cold_sources"] == ["popular"]
    assert rec["cold_matches_popularity"] is True
    assert rec["first_view_cold_start"] is True
    assert rec["after_view_sources"] == ["interest"]
    assert rec["after_view_interest_diff"] < 1e-6
    assert rec["after_view_excludes_item"] is True
    assert rec["skeptic_sources"] == ["popular"]
    assert rec["skeptic_excludes_rejected"] is True
    # the browser, driven inside the kernel
    assert rec["browser_rows"] == top_n
    assert 1 <= rec["explain_rows"] <= 3
    assert abs(rec["explain_sum_minus_cosine"]) < 1e-4  # the explanation is exact
    assert rec["browser_history_rows"] == 10
    assert rec["browser_history_matches"] is True


# ---------------------------------------------------------------------------------------------
# The browser widget, in-process against a real Recommender (300 popular movies, 12 users)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    ds = load_movielens()
    small_ds = subset_items(ds, ds.events["item_id"].value_counts().index[:300])
    sample = sample_users(small_ds, 12, seed=1, min_events=15)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CHROMA_HOST", raising=False)
        rec = Recommender.from_dataset(small_ds, tmp_path_factory.mktemp("store03"),
                                       progress=False)
    rec.ingest(sample.events)
    yield rec, [int(u) for u in sample.users], small_ds
    rec.close()


def _text(output) -> str:
    return "\n".join(o["data"]["text/plain"] for o in output.outputs)


def test_browser_shows_recommendations_and_history_of_the_selected_user(small):
    rec, users, _ = small
    browser = RecommendationBrowser(rec, users, n=5, history_last=7)
    recs, hist = browser.tables
    u = users[0]
    assert recs["item_id"].tolist() == rec.recommend(u, n=5)["item_id"].tolist()
    assert (recs["source"] == "interest").all() and not recs["seen"].any()
    assert np.all(np.diff(recs["score"].to_numpy()) <= 1e-6)
    expected = rec.history(u, last=7)
    assert hist["item_id"].tolist() == expected["item_id"].tolist()[::-1]  # newest first
    v = rec.interest(u)
    sims = [float(rec.item_vector(i) @ v) for i in hist["item_id"]]
    np.testing.assert_allclose(hist["similarity"].to_numpy(), sims, atol=1e-6)
    assert recs["movie"].iloc[0].split(" (")[0] in _text(browser.recommendations)
    assert f"user {u}" in _text(browser.history)

    before = (browser.recommendations.outputs, browser.history.outputs)
    browser.user.value = users[1]
    recs2, hist2 = browser.tables
    assert recs2["item_id"].tolist() == rec.recommend(users[1], n=5)["item_id"].tolist()
    assert hist2["item_id"].tolist() == rec.history(users[1], last=7)["item_id"].tolist()[::-1]
    assert (browser.recommendations.outputs, browser.history.outputs) != before


def test_browser_exclude_seen_checkbox_shows_what_exclusion_removes(small):
    rec, users, _ = small
    browser = RecommendationBrowser(rec, users, n=10)
    browser.exclude_seen.value = False
    recs, _ = browser.tables
    u = browser.user.value
    unfiltered = rec.recommend(u, n=10, exclude_seen=False)
    assert recs["item_id"].tolist() == unfiltered["item_id"].tolist()
    seen = set(rec.history(u)["item_id"])
    assert recs["seen"].tolist() == [i in seen for i in recs["item_id"]]
    assert recs["seen"].any()  # an EMA of seen items: some of them are its nearest neighbours
    assert "INCLUDED" in _text(browser.recommendations)
    browser.exclude_seen.value = True
    assert not browser.tables[0]["seen"].any()


def test_tables_for_an_unknown_user_are_the_cold_start_answer(small):
    rec, _, small_ds = small
    recs = recommendations_table(rec, "nobody", n=4)
    assert (recs["source"] == "popular").all()
    # the cold-start answer: the highest prior first (the trending one by default)
    assert recs["item_id"].tolist() == rec.recommend("nobody", n=4)["item_id"].tolist()
    prior = dict(zip(rec.item_ids, rec.item_prior(), strict=True))
    shown = [prior[i] for i in recs["item_id"]]
    assert shown == sorted(shown, reverse=True) and shown[0] == max(prior.values())
    hist = history_table(rec, "nobody")
    assert hist.empty


def test_browser_rejects_bad_arguments(small):
    rec, users, _ = small
    with pytest.raises(ValueError, match="users is empty"):
        RecommendationBrowser(rec, [])
    with pytest.raises(ValueError, match="n=0"):
        RecommendationBrowser(rec, users, n=0)


def test_browser_on_a_closed_service_says_so_instead_of_raising(tmp_path):
    ds = load_movielens()
    small_ds = subset_items(ds, ds.events["item_id"].value_counts().index[:200])
    rec = Recommender.from_dataset(small_ds, tmp_path / "store", progress=False)
    sample = sample_users(small_ds, 3, seed=0, min_events=10)
    rec.ingest(sample.events)
    users = [int(u) for u in sample.users]
    browser = RecommendationBrowser(rec, users)
    rec.close()
    browser.user.value = users[1]
    assert browser.tables is None
    assert "closed" in _text(browser.recommendations)


def test_score_plots_draw_what_they_are_given():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-0.2, 0.9, 500)
    ax = plot_score_distribution(scores, scores[:20], np.sort(scores)[-5:])
    assert ax.get_lines()[0].get_xdata()[0] == pytest.approx(np.sort(scores)[-5])
    ax2 = plot_scores_by_rank(np.sort(rng.uniform(0, 1, (8, 5)), axis=1)[:, ::-1])
    assert len(ax2.get_lines()[0].get_xdata()) == 5
    with pytest.raises(ValueError):
        plot_scores_by_rank(np.zeros(3))
