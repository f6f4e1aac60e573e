"""Ranking metrics of top-N lists against each user's held-out items.

``rel`` = the user's relevant held-out items, ``hit_r`` = 1 when the item at rank ``r``
(1-based) is relevant, ``K`` a cut-off:

- Recall@K   = sum_{r<=K} hit_r / |rel|
- NDCG@K     = sum_{r<=K} hit_r / log2(r + 1), divided by its ideal value
  sum_{r<=min(K, |rel|)} 1 / log2(r + 1)
- HitRate@K  = 1 if any hit_r = 1 for r <= K, else 0
- MRR        = 1 / (rank of the first hit) within the longest ranked list (max K), else 0
- Coverage@K = distinct items in anybody's top-K / catalogue size

Averages run over ALL evaluated users: a user with no hit scores 0, nobody is dropped for being
hard. Vocabulary: ``n`` is a list's length everywhere in the package; the ``K`` of "Recall@K" is a
metric *cut-off*, and functions take several as ``cutoffs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from recsys_nb.evaluate.splits import _check_int

DEFAULT_CUTOFFS: tuple[int, ...] = (10, 50)



def check_cutoffs(cutoffs: int | Iterable[int], width: int | None = None) -> tuple[int, ...]:
    """Metric cut-offs as a sorted tuple of distinct integers >= 1 (one int is allowed).

    Raises:
        ValueError: empty, not integers >= 1, or (``width``) larger than the ranked lists.
    """
    ks = (cutoffs,) if isinstance(cutoffs, int | np.integer) else tuple(cutoffs)
    if not ks:
        raise ValueError("cutoffs is empty; pass metric cut-offs such as cutoffs=(10, 50)")
    for v in ks:
        _check_int("cutoff", v, 1)
    if width is not None and max(ks) > width:
        raise ValueError(
            f"cut-off {max(ks)} is larger than the ranked lists ({width} columns); rank at "
            f"least {max(ks)} items per user"
        )
    return tuple(sorted({int(v) for v in ks}))


def _check_ranked(ranked: np.ndarray, n_rows: int) -> np.ndarray:
    ranked = np.asarray(ranked)
    if ranked.ndim != 2:
        raise ValueError(
            f"ranked must be a (users x K) matrix of item ids, got shape {ranked.shape}"
        )
    if not np.issubdtype(ranked.dtype, np.integer):
        raise ValueError(f"ranked must hold integer item ids (-1 = no item), got {ranked.dtype}")
    if ranked.shape[0] != n_rows:
        raise ValueError(
            f"ranked has {ranked.shape[0]} rows but there are {n_rows} relevant sets; align them"
        )
    if ranked.size and ranked.min() < -1:
        raise ValueError("ranked holds negative ids other than -1 (the padding value)")
    s = np.sort(ranked, axis=1)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if dup.any():
        row = int(np.flatnonzero(dup.any(axis=1))[0])
        raise ValueError(f"ranked row {row} repeats an item; each list must rank distinct items")
    return ranked.astype(np.int64, copy=False)


def hit_matrix(ranked: np.ndarray, relevant: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean (users x K): is the item at each rank among that user's relevant items?

    Vectorized: each (row, item) pair is encoded as one int64 and looked up with ``np.isin``.
    """
    ranked = _check_ranked(ranked, len(relevant))
    sizes = np.fromiter((len(r) for r in relevant), dtype=np.int64, count=len(relevant))
    rel_items = (np.concatenate([np.asarray(r, dtype=np.int64) for r in relevant])
                 if len(relevant) else np.empty(0, dtype=np.int64))
    if rel_items.size and rel_items.min() < 0:
        raise ValueError("relevant item ids must be >= 0")
    base = int(max(ranked.max(initial=0), rel_items.max(initial=0))) + 1
    rel_codes = np.repeat(np.arange(len(relevant), dtype=np.int64), sizes) * base + rel_items
    codes = np.arange(ranked.shape[0], dtype=np.int64)[:, None] * base + ranked
    return np.isin(codes, rel_codes) & (ranked >= 0)


def per_user_metrics(
    ranked: np.ndarray,
    relevant: Sequence[np.ndarray],
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
) -> pd.DataFrame:
    """Recall@K, NDCG@K, HitRate@K per user, and MRR (see the module docstring for formulas).

    Args:
        ranked: (users x K) item ids, best first; -1 pads lists shorter than K (counts as a miss).
        relevant: one array of relevant item ids per row (each non-empty).
        cutoffs: one or more cut-offs K, each <= ranked.shape[1].

    Returns:
        One row per user; columns recall@K, ndcg@K, hitrate@K for each K, then mrr. Never NaN.

    Raises:
        ValueError: shapes that do not align, an empty relevant set, repeated items in a row,
            a cut-off larger than the lists.
    """
    ranked = np.asarray(ranked)
    ks = check_cutoffs(cutoffs, ranked.shape[1] if ranked.ndim == 2 else None)
    sizes = np.fromiter((len(np.unique(r)) for r in relevant), dtype=np.int64,
                        count=len(relevant))
    if (sizes == 0).any():
        row = int(np.flatnonzero(sizes == 0)[0])
        raise ValueError(
            f"relevant set {row} is empty: recall is undefined for a user with nothing to find; "
            "drop such users (Split.relevant does)"
        )
    hits = hit_matrix(ranked, [np.unique(r) for r in relevant])
    discount = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    gains = hits * discount
    ideal_cum = np.cumsum(discount)
    out: dict[str, np.ndarray] = {}
    for kk in ks:
        n_hits = hits[:, :kk].sum(axis=1)
        out[f"recall@{kk}"] = n_hits / sizes
        ideal = ideal_cum[np.minimum(sizes, kk) - 1]
        out[f"ndcg@{kk}"] = gains[:, :kk].sum(axis=1) / ideal
        out[f"hitrate@{kk}"] = (n_hits > 0).astype(np.float64)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    out["mrr"] = np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0)
    ordered = [f"{m}@{kk}" for m in ("recall", "ndcg", "hitrate") for kk in ks] + ["mrr"]
    return pd.DataFrame({c: out[c] for c in ordered})


def coverage(ranked: np.ndarray, n_items: int, cutoff: int) -> float:
    """Share of the catalogue (``n_items``) that appears in at least one user's top-``cutoff``."""
    _check_int("n_items", n_items, 1)
    ranked = np.asarray(ranked)[:, :cutoff]
    return float(np.unique(ranked[ranked >= 0]).size / n_items)


def ranking_metrics(
    ranked: np.ndarray,
    relevant: Sequence[np.ndarray],
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    n_items: int | None = None,
) -> dict[str, float]:
    """Mean metrics over all users (:func:`per_user_metrics`) plus coverage@K per cut-off.

    Args:
        n_items: catalogue size for coverage@K (omitted when None).

    Raises:
        ValueError: no users, or anything :func:`per_user_metrics` rejects.
    """
    if len(relevant) == 0:
        raise ValueError("no users to evaluate (empty relevant sets); check the split")
    table = per_user_metrics(ranked, relevant, cutoffs)
    result = {c: float(table[c].mean()) for c in table.columns}
    if n_items is not None:
        for kk in check_cutoffs(cutoffs):
            result[f"coverage@{kk}"] = coverage(ranked, n_items, kk)
    return result


