"""The one top-N kernel: the best ``n`` columns of each row of a score matrix.

Every exact ranking in the package goes through :func:`top_n`: cosine search in ``vectors``,
the baselines in ``evaluate``, the exact fallback of ``store``. One rule for ties (the lower
column wins) and one padding convention (-1) everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_n(
    scores: np.ndarray,
    n: int,
    exclude: Sequence[np.ndarray | None] | None = None,
    ids: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` columns of each row of ``scores``, best first.

    Non-finite scores and ``exclude``d columns never rank. Equal scores rank by column (lower
    first), so the result does not depend on how ``argpartition`` happens to order ties.

    Args:
        scores: (rows x columns) scores, higher is better (not modified).
        n: list length, >= 1; rows with fewer than ``n`` rankable columns are padded.
        exclude: None, or per row the column positions to skip (None or empty = none).
        ids: map columns to ids in the result (default: column positions).

    Returns:
        ``(ids int64, scores float64)``, each (rows x n); padding is id -1 and score -inf.

    Raises:
        ValueError: ``n`` < 1, a 1-D score array, ``exclude`` not one entry per row.
    """
    scores = np.array(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a (rows x columns) matrix, got shape {scores.shape}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n={n!r} must be an integer >= 1 (the list length)")
    n_rows, n_cols = scores.shape
    scores[~np.isfinite(scores)] = -np.inf
    if exclude is not None:
        if len(exclude) != n_rows:
            raise ValueError(f"{len(exclude)} exclude entries for {n_rows} score rows")
        for r, cols in enumerate(exclude):
            if cols is not None and len(cols):
                scores[r, np.asarray(cols, dtype=np.int64)] = -np.inf
    k = min(int(n), n_cols)
    if k < n_cols:
        # the k-th best score per row; ties with it are filled lowest column first, so the
        # selection is exact (argpartition alone would cut a tie arbitrarily)
        kth = np.partition(scores, n_cols - k, axis=1)[:, n_cols - k][:, None]
        above = scores > kth
        tied = scores == kth
        need = k - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
        part = np.nonzero(chosen)[1].reshape(n_rows, k)
    else:
        part = np.tile(np.arange(n_cols), (n_rows, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)[:, :k]
    cols = np.take_along_axis(part, order, axis=1)
    best = np.take_along_axis(part_scores, order, axis=1)
    out_ids = cols if ids is None else np.asarray(ids, dtype=np.int64)[cols]
    out_ids = np.where(np.isneginf(best), -1, out_ids).astype(np.int64)
    if k < n:
        out_ids = np.pad(out_ids, ((0, 0), (0, n - k)), constant_values=-1)
        best = np.pad(best, ((0, 0), (0, n - k)), constant_values=-np.inf)
    return out_ids, best
