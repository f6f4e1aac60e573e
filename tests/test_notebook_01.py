"""Notebook 01 (items and embeddings): a papermill run with non-default parameters, the explorer
widget driven in-process against a real Chroma ItemStore, and the plot helpers it uses."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from nbrun import REPO, check_conventions, run_notebook

from recsys_nb.plots import (
    main_genre_labels,
    pca_2d,
    plot_embedding_map,
    plot_similarity_histograms,
)
from recsys_nb.widgets import ItemExplorer, ItemNotFoundError

matplotlib.use("Agg")

NOTEBOOK = "01_items_and_embeddings.ipynb"
# The repository's embedding cache, as the notebooks use it: warm after the first run.
CACHE = REPO / "data" / "cache" / "embeddings.sqlite"


def _genres(row: dict) -> set[str]:
    return set(str(row["genres"]).split("|"))


# ---------------------------------------------------------------------------------------------
# The notebook itself


def test_notebook_follows_the_conventions():
    """Committed without outputs, one `parameters` cell of commented literals incl. STORE_DIR."""
    _, names = check_conventions(NOTEBOOK)
    assert names == ["N_ITEMS", "SEED", "SHOWCASE", "QUERY", "TOP_N", "STORE_DIR"]


@pytest.mark.notebook
def test_notebook_sampled_run_records_plausible_numbers(tmp_path):
    """1,500 sampled movies, another query and showcase: the recorded numbers must hold up."""
    query = "animated children's film"
    showcase = ["Toy Story", "Matrix, The (1999)"]
    top_n = 4
    rec = run_notebook(
        NOTEBOOK,
        tmp_path,
        N_ITEMS=1500,
        SEED=3,
        SHOWCASE=showcase,
        QUERY=query,
        TOP_N=top_n,
        STORE_DIR=str(tmp_path / "store"),
    )
    assert rec["n_items"] == 1500
    assert rec["store_count"] == 1500
    assert rec["dim"] == 384
    assert rec["max_norm_error"] < 1e-3
    assert rec["cosine_minus_dot"] < 1e-5
    assert rec["embed_seconds"] > 0 and rec["texts_per_second"] > 0
    assert rec["cache_state"] in {"cold", "warm", "partly"}
    assert 0 <= rec["texts_computed"] <= 1500
    assert (tmp_path / "store" / "chroma").is_dir(), "STORE_DIR was not used"
    assert 0 <= rec["n_untitled"] <= 5  # MovieLens has 5 movies with an empty title

    neighbours = rec["showcase_neighbours"]
    assert set(neighbours) == set(showcase)  # (JSON key order is not kept)
    for title, rows in neighbours.items():
        sims = [r["similarity"] for r in rows]
        assert len(rows) == top_n, title
        assert all(0 < s <= 1 + 1e-6 for s in sims), (title, sims)
        assert sims == sorted(sims, reverse=True), (title, sims)
    # Content similarity: the text is "title (year): genres", so neighbours share genres.
    assert "Animation" in _genres(neighbours["Toy Story"][0])
    assert sum("Sci-Fi" in _genres(r) for r in neighbours["Matrix, The (1999)"]) >= 2
    assert rec["chroma_exact_overlap"] >= 0.75  # HNSW agrees with exact numpy search

    assert rec["search_query"] == query
    hits = rec["search_results"]
    assert len(hits) == top_n and hits[0] == rec["search_top"]
    kids = [bool(_genres(h) & {"Animation", "Children"}) for h in hits]
    assert kids[0] and sum(kids) >= top_n - 1, hits

    # Neighbours are much closer than random pairs, and mostly share the main genre.
    assert rec["mean_nn_similarity"] > rec["random_pair_mean_similarity"] + 0.2
    assert 0 < rec["random_pair_mean_similarity"] < 0.6
    assert rec["nn_same_genre_share"] > 2 * rec["random_same_genre_share"]
    assert 0 < rec["pca_explained_2d"] < 0.5


# ---------------------------------------------------------------------------------------------
# The explorer widget, in-process, against a real (small) Chroma ItemStore


@pytest.fixture(scope="module")
def movielens_items() -> pd.DataFrame:
    from recsys_nb.data import load_movielens

    return load_movielens().items


@pytest.fixture
def small_store(tmp_path, movielens_items):
    """~300 real movies (some Toy Story / Matrix / robot films among them), MiniLM, Chroma."""
    from recsys_nb.embeddings import CachedEmbedder, get_minilm
    from recsys_nb.store import ItemStore, get_client

    items = movielens_items
    wanted = items["title"].isin(
        ["Toy Story", "Toy Story 2", "Toy Story 3", "Matrix, The", "Matrix Reloaded, The",
         "Robots", "I, Robot", "Robot Overlords", "12 Angry Men"]
    )
    rest = items[~wanted].sample(n=290, random_state=1)
    small = pd.concat([items[wanted], rest]).reset_index(drop=True)
    embedder = CachedEmbedder(get_minilm(), CACHE, progress=False)
    client = get_client(tmp_path / "chroma")
    store = ItemStore(client, embedder.id, embedder.dim, text_model=embedder)
    store.add_items(small, embedder(small["text"].tolist()))
    yield store, small, client
    client.close()
    embedder.close()


def _shown(explorer) -> str:
    outputs = explorer.output.outputs
    assert len(outputs) == 1
    return outputs[0]["data"]["text/plain"]


def test_explorer_pick_slider_and_search_update_the_output(small_store):
    store, items, _ = small_store
    explorer = ItemExplorer(store, items, n=3)
    assert explorer.output.outputs == ()

    explorer.picker.value = "Toy Story (1995)"
    text = _shown(explorer)
    assert text.startswith("Most similar to Toy Story (1995)")
    assert "Toy Story 2" in text and "Toy Story 3" in text
    assert len(explorer.table) == 3
    assert 1 not in set(explorer.table["item_id"])  # not its own neighbour

    explorer.n.value = 6  # repeats the last action with more rows
    assert len(explorer.table) == 6 and _shown(explorer) != text

    before = explorer.output.outputs
    explorer.picker.value = "Toy St"  # still typing: not an item yet, nothing happens
    explorer.query.value = "   "  # blank query: nothing happens
    assert explorer.output.outputs == before

    explorer.query.value = "robots in outer space"
    text = _shown(explorer)
    assert text.startswith("Search: 'robots in outer space'")
    top = set(explorer.table["title"].head(3))
    assert top & {"Robots", "I, Robot", "Robot Overlords"}, top
    assert "<table" in explorer.output.outputs[0]["data"]["text/html"]

    explorer.picker.value = "Matrix, The (1999)"
    assert "Matrix Reloaded, The" in set(explorer.table["title"])


def test_explorer_initial_title_and_errors_shown_in_output(small_store):
    store, items, client = small_store
    explorer = ItemExplorer(store, items, n=2, initial="The Matrix")
    assert explorer.picker.value == "Matrix, The (1999)"
    assert "Matrix Reloaded" in _shown(explorer)
    with pytest.raises(ItemNotFoundError, match="Toy Story"):
        ItemExplorer(store, items, initial="Toy Storey")
    with pytest.raises(ValueError, match="n=0"):
        ItemExplorer(store, items, n=0)

    client.close()  # what the notebook's last cell does: the widget must say so, not go silent
    explorer.picker.value = "Toy Story (1995)"
    assert explorer.table is None
    assert "closed the store" in _shown(explorer)


# ---------------------------------------------------------------------------------------------
# Plot helpers


def test_pca_2d_finds_the_stretched_directions_deterministically():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) * np.array([10.0, 1, 1, 5.0, 1, 1])
    coords, explained = pca_2d(x)
    assert coords.shape == (500, 2)
    expected = np.array([100.0, 25.0]) / (100 + 25 + 4)
    assert np.allclose(explained, expected, atol=0.03)
    assert abs(np.corrcoef(coords[:, 0], x[:, 0])[0, 1]) > 0.99
    assert abs(np.corrcoef(coords[:, 1], x[:, 3])[0, 1]) > 0.99
    again, _ = pca_2d(x[::-1])
    assert np.allclose(again[::-1], coords)  # same signs whatever the row order
    with pytest.raises(ValueError, match="shape"):
        pca_2d(np.ones((2, 5)))


def test_main_genre_labels_follow_the_priority():
    genres = [["Adventure", "Animation", "Comedy"], ["Comedy", "Drama"], ["Musical"], []]
    labels = main_genre_labels(genres, ["Animation", "Comedy", "Drama"])
    assert labels.tolist() == ["Animation", "Comedy", "other", "other"]
    with pytest.raises(ValueError, match="priority"):
        main_genre_labels(genres, [])


def test_plots_draw_one_group_per_label_and_both_histograms():
    import matplotlib.pyplot as plt

    coords = np.arange(20, dtype=float).reshape(10, 2)
    labels = ["A"] * 5 + ["B"] * 3 + ["other"] * 2
    ax = plot_embedding_map(coords, labels, explained=[0.2, 0.1], order=["A", "B"],
                            highlight={"first": 0})
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["other (2)", "A (5)", "B (3)"]
    assert ax.get_xlabel() == "PC 1 (20.0% of variance)"
    ax2 = plot_similarity_histograms(np.array([0.1, 0.3, 0.2]), np.array([0.8, 0.9]))
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == [
        "random pairs (mean 0.20)", "nearest neighbour (mean 0.85)"]
    plt.close("all")
    with pytest.raises(ValueError, match="labels"):
        plot_embedding_map(coords, labels[:3])
