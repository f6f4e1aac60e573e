"""Notebook 02 (interest vectors): a papermill run with non-default parameters, the replay widget
driven in-process against a real (smaller) Recommender, and the trajectory/centroid helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from nbrun import check_conventions, run_notebook

from recsys_nb import replay, vectors
from recsys_nb.data import load_movielens, subset_items
from recsys_nb.item_space import genre_centroids
from recsys_nb.plots import top_genres
from recsys_nb.recommender import Recommender
from recsys_nb.trajectories import interest_trajectory, relative_similarities
from recsys_nb.widgets import InterestReplay

NOTEBOOK = "02_interest_vectors.ipynb"
USER = 665  # 434 events over ~1.7 years; the notebook's default is 199


@pytest.fixture(scope="module")
def dataset():
    return load_movielens()


def test_conventions():
    _, names = check_conventions(NOTEBOOK)
    assert names == ["USER", "ALPHAS", "START_TITLE", "TO_GENRE", "N_STEPS", "MIN_EVENTS",
                     "N_GENRES", "EMBEDDING", "SEED", "STORE_DIR"]


@pytest.mark.notebook
def test_interest_vectors_with_other_user_genre_and_alphas(tmp_path, dataset):
    rec = run_notebook(
        NOTEBOOK, tmp_path, USER=USER, ALPHAS=[0.1, 0.6], START_TITLE="The Matrix",
        TO_GENRE="Romance", N_STEPS=12, N_GENRES=4, SEED=1, STORE_DIR=str(tmp_path / "store"),
    )
    # Cold start and one EMA step: the service stores exactly the technique's math.
    assert rec["start_title"] == "Matrix, The (1999)"
    assert rec["cold_start_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert rec["ema_step_cosine"] == pytest.approx(1.0, abs=1e-5)
    # Larger alpha drifts further from the start within 10 steps.
    drift = rec["drift_after_10"]
    assert set(drift) == {"0.1", "0.6"}
    assert drift["0.6"] > drift["0.1"] + 0.1
    assert all(0.0 <= d <= 2.0 for d in drift.values())
    assert rec["best_alpha_for_genre"] in (0.1, 0.6)
    assert all(g > rec["start_genre_cos"] for g in rec["genre_cos_after_n"].values())
    # Explicit feedback moves the vector further than implicit feedback.
    assert rec["favorite_move_deg"] > rec["view_move_deg"] > 0.0
    assert rec["views_per_favorite"] >= rec["naive_views_per_favorite"] >= 2
    # Replay of a real user: bulk ingest == replay.replay == the trajectory's last step.
    assert rec["n_events"] == len(dataset.user_history(USER))
    assert rec["replay_vs_store_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert rec["trajectory_vs_replay_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert len(rec["genres"]) == 4
    assert rec["final_top_genre"] in rec["genres"]
    assert set(rec["final_top_genre_by_alpha"].values()) <= set(rec["genres"])
    changes = rec["top_genre_changes"]
    assert changes["0.1"] <= changes["0.6"]  # a small alpha is steadier
    assert rec["genre_signal_gap"] > 0.0  # movies are closer to their own genre's centroid
    assert 1 <= rec["genres_with_positive_gap"] <= 4


# ------------------------------------------------------------------------------------------
# The widget and the helpers, in-process, on a real Recommender over the 1,500 most rated movies.


@pytest.fixture(scope="module")
def small(dataset, tmp_path_factory):
    popular = dataset.events["item_id"].value_counts().index[:1500]
    data = subset_items(dataset, popular)
    path = tmp_path_factory.mktemp("replay-store")
    rec = Recommender.from_dataset(data, path=path, progress=False,
                                   cache_path=path / "embeddings.sqlite")
    yield data, rec
    rec.close()


def _replay_reference(rec, history):
    ids = rec.item_ids
    matrix = np.stack([rec.item_vector(i) for i in ids])
    rows = pd.Series(np.arange(len(ids)), index=ids).loc[history["item_id"]].to_numpy()
    kinds = history["kind"].tolist()
    ops = ["subtract" if k == "not_interested" else "ema" for k in kinds]
    params = [{"view": rec.alpha_view, "favorite": rec.alpha_favorite,
               "not_interested": rec.not_interested_factor}[k] for k in kinds]
    return matrix, rows, kinds, replay.replay(None, rows, ops, params, item_matrix=matrix,
                                                cold_subtract="ignore")


def _png(widget) -> str:
    (out,) = widget.output.outputs
    return out["data"]["image/png"]


def test_replay_widget_moves_with_its_controls(small):
    data, rec = small
    history = data.user_history(199)
    m = len(history)
    w = InterestReplay.for_history(rec, history, n_genres=5, title="user 199")
    assert w.error is None and w.renders == 1
    assert len(w.genres) == 5 and w.centroids.shape == (5, rec.dim)
    assert w.trajectory.shape == (m, rec.dim) and w.similarities.shape == (m, 5)
    _, _, _, reference = _replay_reference(rec, history)
    assert np.array_equal(w.trajectory[-1], reference.vector)  # the service's rules, exactly
    assert f"event {m}/{m}" in w.status.value
    first_png = _png(w)

    w.step.value = 10  # walk back in time: redraw only
    assert w.renders == 2 and f"event 10/{m}" in w.status.value
    assert _png(w) != first_png
    line_ax = w.figure.axes[0]
    assert [10, 10] in [list(line.get_xdata()) for line in line_ax.get_lines()]  # the marker
    assert w.top_genre() == w.genres[int(np.nanargmax(w.similarities[9]))]

    w.play.value = 25  # play is linked to the step slider
    assert w.step.value == 25 and w.renders == 3

    before = w.similarities.copy()
    w.alpha_view.value = 0.05  # replays the history with another alpha
    assert w.renders == 4 and w.error is None
    assert not np.allclose(before[1:], w.similarities[1:], equal_nan=True)
    slow = relative_similarities(w.similarities)
    w.alpha_view.value = 0.9
    fast = relative_similarities(w.similarities)
    # A large alpha follows every movie: the genre curves move more from event to event.
    assert np.nanmean(np.abs(np.diff(fast, axis=0))) > np.nanmean(np.abs(np.diff(slow, axis=0)))

    w.relative.value = False  # raw cosines
    assert w.figure.axes[0].get_ylabel() == "cosine(interest, genre centroid)"
    w.relative.value = True
    assert w.figure.axes[0].get_ylabel() == "cosine - mean over genres"


def test_replay_widget_favorite_alpha_one_replaces_the_interest(small):
    data, rec = small
    history = data.user_history(199)
    w = InterestReplay.for_history(rec, history)
    w.alpha_favorite.value = 1.0
    kinds = history["kind"].tolist()
    favs = [k for k, kind in enumerate(kinds) if kind == "favorite" and k > 0]
    assert favs, "user 199 has favorites"
    for k in favs[:5]:
        item = rec.item_vector(int(history["item_id"].iloc[k]))
        assert vectors.cosine_similarity(w.trajectory[k], item) == pytest.approx(1.0, abs=1e-5)


def test_replay_widget_keeps_working_after_close_and_reports_bad_input(dataset, tmp_path):
    data = subset_items(dataset, dataset.events["item_id"].value_counts().index[:300])
    rec = Recommender.from_dataset(data, path=tmp_path / "store", progress=False)
    history = data.user_history(199)
    w = InterestReplay.for_history(rec, history)
    rec.close()
    w.step.value = 3
    assert w.error is None and "event 3/" in w.status.value
    with pytest.raises(ValueError, match="lacks columns"):
        InterestReplay.for_history(rec, history.drop(columns="kind"))
    outsider = dataset.user_history(199)  # has movies outside the 300-movie catalogue
    with pytest.raises(KeyError, match="does not know"):
        InterestReplay.for_history(rec, outsider)


def test_trajectory_matches_replay_with_not_interested_and_cold_events(small):
    data, rec = small
    history = data.user_history(15)  # a long history with not-interested events
    matrix, rows, kinds, reference = _replay_reference(rec, history)
    assert "not_interested" in kinds
    traj = interest_trajectory(matrix, rows, kinds, rec.alpha_view, rec.alpha_favorite,
                               rec.not_interested_factor)
    assert np.array_equal(traj[-1], reference.vector)
    # A not-interested before any positive event leaves the user without a vector (NaN rows).
    cold = interest_trajectory(matrix, rows[:3], ["not_interested", "view", "view"], 0.3, 0.5)
    assert np.isnan(cold[0]).all() and not np.isnan(cold[1:]).any()
    assert vectors.cosine_similarity(cold[1], matrix[rows[1]]) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="unknown event kind 'click'"):
        interest_trajectory(matrix, rows[:1], ["click"], 0.3, 0.5)


def test_genre_helpers(small):
    data, rec = small
    ids = rec.item_ids
    matrix = np.stack([rec.item_vector(i) for i in ids])
    item_genres = rec.items.loc[ids, "genres"].tolist()
    cents = genre_centroids(item_genres, matrix, ["Horror", "Children"])
    assert cents.shape == (2, rec.dim)
    assert np.allclose(np.linalg.norm(cents, axis=1), 1.0, atol=1e-5)
    horror = np.array(["Horror" in g for g in item_genres])
    assert (matrix[horror] @ cents[0]).mean() > (matrix[~horror] @ cents[0]).mean()
    with pytest.raises(ValueError, match="'Space Opera'"):
        genre_centroids(item_genres, matrix, ["Space Opera"])
    assert top_genres([["B", "A"], ["A"], ["C", "B"]], 2) == ["A", "B"]
    assert top_genres([["B"], ["A"]], 1) == ["A"]  # ties: alphabetical
    with pytest.raises(ValueError, match="no genres"):
        top_genres([["(no genres listed)"]], 3)
