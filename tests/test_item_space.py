"""recsys_nb.item_space: genre centroids, nearest neighbours, random pairs."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_nb import item_space as S
from recsys_nb import vectors as V


def test_nearest_neighbours_match_brute_force_across_chunks():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(53, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index, sims = S.nearest_neighbour_similarities(v, chunk=7)
    full = v @ v.T
    np.fill_diagonal(full, -np.inf)
    assert np.array_equal(index, full.argmax(axis=1))
    assert np.allclose(sims, full.max(axis=1), atol=1e-6)
    assert not np.any(index == np.arange(len(v)))


def test_random_pairs_never_pair_a_row_with_itself():
    v = np.eye(4, dtype=np.float32)  # distinct rows are orthogonal: cosine 0, itself 1
    sims = S.random_pair_similarities(v, n_pairs=1000, seed=2)
    assert sims.shape == (1000,) and np.all(sims == 0.0)


def test_genre_centroids():
    items = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    cents = S.genre_centroids([["A"], ["B"], ["A", "B"]], items, ["A", "B"])
    assert cents.dtype == np.float32
    np.testing.assert_allclose(cents[0], V.average(items[[0, 2]]), atol=1e-7)
    with pytest.raises(ValueError, match="'C'"):
        S.genre_centroids([["A"], ["B"], ["A"]], items, ["C"])
    with pytest.raises(ValueError, match="one per row"):
        S.genre_centroids([["A"]], items, ["A"])
