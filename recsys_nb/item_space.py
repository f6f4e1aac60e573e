"""Summaries of an item space: genre centroids, nearest neighbours, random pairs.

The numbers notebooks 01 and 02 read an embedding by (how close is a movie's nearest neighbour
compared with two random movies; what direction is "typical of a genre").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys_nb.vectors import average


def genre_centroids(
    item_genres: Sequence[Sequence[str]], item_matrix: np.ndarray, genres: Sequence[str]
) -> np.ndarray:
    """One unit vector per genre: the normalized mean of the vectors of the items in that genre.

    A centroid is the direction "typical of the genre"; the cosine of an interest vector with it
    reads as "how much this user's taste looks like that genre right now".

    Args:
        item_genres: the genre list of each row of ``item_matrix``.
        item_matrix: (n_items, d) item vectors.
        genres: the genres to compute, in the order of the returned rows.

    Returns:
        ``(len(genres), d)`` float32.

    Raises:
        ValueError: lengths differ, or a genre has no item (the message names it).
    """
    matrix = np.asarray(item_matrix)
    if len(item_genres) != len(matrix):
        raise ValueError(
            f"{len(item_genres)} genre lists for {len(matrix)} item vectors; pass one per row"
        )
    rows = []
    for genre in genres:
        members = np.fromiter((genre in g for g in item_genres), dtype=bool, count=len(matrix))
        if not members.any():
            raise ValueError(f"no item has the genre {genre!r}; pick one of the items' genres")
        rows.append(average(matrix[members]))
    return np.stack(rows).astype(np.float32)


def nearest_neighbour_similarities(
    vectors: np.ndarray, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest neighbour (itself excluded) of every row: ``(index (n,), cosine (n,))``.

    Rows must be unit length (cosine = dot product). Works in chunks of ``chunk`` rows so the
    full n x n similarity matrix (330 MB for 9k items) never exists at once.
    """
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2 or len(v) < 2:
        raise ValueError(f"need at least 2 vectors as an (n, d) matrix; got shape {v.shape}")
    index = np.empty(len(v), dtype=np.int64)
    sims = np.empty(len(v), dtype=np.float64)
    for start in range(0, len(v), chunk):
        block = v[start : start + chunk] @ v.T
        rows = np.arange(len(block))
        block[rows, start + rows] = -np.inf  # not its own neighbour
        best = block.argmax(axis=1)
        index[start : start + len(block)] = best
        sims[start : start + len(block)] = block[rows, best]
    return index, sims


def random_pair_similarities(vectors: np.ndarray, n_pairs: int, seed: int = 0) -> np.ndarray:
    """Cosine similarity of ``n_pairs`` random pairs of distinct rows (unit rows assumed).

    The baseline a neighbour's similarity should be read against: for text embeddings it is far
    above 0, because all texts share one language and, here, one template.
    """
    v = np.asarray(vectors, dtype=np.float32)
    if len(v) < 2 or n_pairs < 1:
        raise ValueError(f"need >= 2 vectors and n_pairs >= 1; got {len(v)} and {n_pairs}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(v), n_pairs)
    j = (i + rng.integers(1, len(v), n_pairs)) % len(v)  # never i itself
    return np.einsum("nd,nd->n", v[i], v[j]).astype(np.float64)
