"""Notebook 00 (quickstart): a papermill run with non-default parameters (the movie story and the
"your own data" section) and its failure mode for a missing title (the list-comparison helper it
uses is tested in test_widgets.py)."""

from __future__ import annotations

import pytest
from nbrun import assert_ran_on_server, check_conventions, run_notebook

from recsys_nb.eventlog import EventLog
from recsys_nb.recommender import DEFAULT_DIM, DEFAULT_PARAMS

NOTEBOOK = "00_quickstart.ipynb"


def test_conventions():
    _, names = check_conventions(NOTEBOOK)
    assert names == ["USER", "WATCHED", "TOP_N", "FAVORITE_RANK", "REJECT_RANK", "EMBEDDING",
                     "STORE_DIR"]


@pytest.mark.notebook
@pytest.mark.server
def test_quickstart_with_other_user_movies_and_ranks(tmp_path, server_env):
    """Against a `chroma run` server (CHROMA_HOST): nbval runs the notebook embedded."""
    store = tmp_path / "store"
    n = 6
    watched = ["Toy Story", "Finding Nemo", "Shrek"]
    rec = run_notebook(
        NOTEBOOK, tmp_path, USER="bob", WATCHED=watched, TOP_N=n, FAVORITE_RANK=2, REJECT_RANK=1,
        STORE_DIR=str(store),
    )
    assert_ran_on_server(store)  # CHROMA_HOST set: the notebook ran unchanged on the server
    assert rec["user"] == "bob"
    assert rec["n_watched"] == len(watched) and rec["top_n"] == n
    # "default" is the blend (sequence + SVD parts, DEFAULT_DIM each) with the popularity prior
    assert rec["model_id"].startswith(f"blend-seq{DEFAULT_DIM}")
    assert rec["dim"] == 2 * DEFAULT_DIM
    assert rec["prior_weight"] == DEFAULT_PARAMS["popularity_weight"] > 0
    assert rec["score_check_max_diff"] < 1e-5  # score = cosine + weight * prior, as shown
    # FAVORITE_RANK=2: the favorite is not the top recommendation, and it pulled the interest in.
    assert rec["favorite"] != rec["top_before"]
    assert rec["favorite_cos_after"] > rec["favorite_cos_before"] + 0.01
    assert 0 <= rec["overlap_after_favorite"] <= n
    # Not interested: the item's cosine to the interest fell, it left the list, others came in.
    assert rec["rejected_cos_after"] < rec["rejected_cos_before"] - 0.01
    # the prior does not move: the score fell by exactly what the cosine fell
    assert rec["rejected_score_before"] - rec["rejected_score_after"] == pytest.approx(
        rec["rejected_cos_before"] - rec["rejected_cos_after"], abs=2e-4)
    assert rec["rejected_in_list_after"] is False
    assert rec["new_after_reject"] >= 1
    assert rec["overlap_after_reject"] == n - rec["new_after_reject"]
    assert rec["dropped_others"] == rec["new_after_reject"] - 1
    assert len(rec["dropped_others_titles"]) == rec["dropped_others"]
    assert len(rec["new_titles"]) == rec["new_after_reject"]
    assert rec["rejected"] not in rec["new_titles"]
    assert rec["sources"] == ["interest"]
    assert -1.0 <= rec["new_cos_to_rejected"] <= 1.0
    # The notebook used the store folder it was given: 3 views, 1 favorite, 1 not-interested.
    log = EventLog(store / "events.sqlite")
    try:
        events = log.events()
    finally:
        log.close()
    assert events["user_id"].astype(str).unique().tolist() == ["bob"]
    assert events["kind"].tolist() == ["view"] * 3 + ["favorite", "not_interested"]
    # Your own data: six items and six events as pandas frames, MiniLM text vectors, in its own
    # store folder inside STORE_DIR; one view of "Intro to Python" leads to the other Python title.
    assert rec["own_items"] == 6 and rec["own_events"] == 6
    assert rec["own_model_id"].startswith("all-MiniLM-L6-v2") and rec["own_dim"] == 384
    assert rec["own_top"][0] == "Python for Data Analysis"
    assert "Intro to Python" not in rec["own_top"]  # seen items are excluded
    assert rec["own_sources"] == ["interest"]
    assert (store / "own_data" / "events.sqlite").is_file()


@pytest.mark.notebook
def test_quickstart_fails_clearly_on_a_missing_title(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_notebook(NOTEBOOK, tmp_path, WATCHED=["Toy Story", "No Such Film Xyzzy"],
                     STORE_DIR=str(tmp_path / "store"))
    assert "ItemNotFoundError" in str(info.value)
    assert "No Such Film Xyzzy" in str(info.value)
    # It failed before building anything: the store folder was never created.
    assert not (tmp_path / "store").exists()
