"""Beyond accuracy: how varied and how unfamiliar are the recommended lists?

- intra-list diversity@K: per user, the mean pairwise ``1 - cosine`` among the top-K items'
  vectors (0: all alike; 1: orthogonal on average); a list with fewer than two items counts 0.
- novelty@K: per user, the mean self-information ``-log2(p_i)`` of the top-K items, ``p_i`` the
  share of training users who interacted with item i (any kind: a dismissal shows the user knew
  the film); an item nobody interacted with gets ``p = 1 / (n_users + 1)`` (rarer than any seen
  one, yet finite). Higher means less obvious.
- coverage@K (:func:`~recsys_nb.evaluate.coverage`) is in every result's row already.

-1 padding never counts. :func:`with_beyond_accuracy` adds the per-user values to a result, so
bootstrap intervals and paired comparisons work on them. On the rolling protocol, add them to
each cut-off's result (novelty against that cut-off's own training events, vectors learned before
it) and then :func:`~recsys_nb.evaluate.pool`: the per-user values are pooled with the metrics
(:func:`pooled_beyond_accuracy` does both).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recsys_nb.evaluate.metrics import check_cutoffs
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.rolling import pool
from recsys_nb.evaluate.splits import Split


def _positions(ranked: np.ndarray, item_ids: np.ndarray, cutoff: int) -> np.ndarray:
    """Catalogue positions of the top-``cutoff`` items (-1 for padding); unknown ids raise."""
    ranked = np.asarray(ranked)
    if ranked.ndim != 2:
        raise ValueError(f"ranked must be a (users x K) matrix of item ids, got {ranked.shape}")
    check_cutoffs(cutoff, ranked.shape[1])
    top = ranked[:, :cutoff].astype(np.int64)
    pos = pd.Index(np.asarray(item_ids, dtype=np.int64)).get_indexer(top.ravel())
    pos = pos.reshape(top.shape)
    unknown = (pos < 0) & (top >= 0)
    if unknown.any():
        raise ValueError(f"ranked items {np.unique(top[unknown])[:5].tolist()} are not in "
                         "item_ids; pass the catalogue the lists were ranked from")
    return pos


def diversity_per_user(ranked: np.ndarray, item_ids: np.ndarray, item_vectors: np.ndarray,
                       cutoff: int, batch: int = 512) -> np.ndarray:
    """Intra-list diversity@``cutoff`` of each user (see the module docstring).

    Raises:
        ValueError: vectors not aligned with ``item_ids``, a zero or non-finite vector among
            the ranked items, ranked ids outside ``item_ids``, a cut-off wider than the lists.
    """
    vectors = np.asarray(item_vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != len(item_ids):
        raise ValueError(f"item_vectors has shape {vectors.shape} for {len(item_ids)} item_ids; "
                         "pass one row per item, in item_ids order")
    pos = _positions(ranked, item_ids, cutoff)
    used = np.unique(pos[pos >= 0])
    norms = np.linalg.norm(vectors[used], axis=1)
    bad = ~(np.isfinite(norms) & (norms > 0))
    if bad.any():
        ids = np.asarray(item_ids)[used[bad]][:5].tolist()
        raise ValueError(f"items {ids} have a zero or non-finite vector; cosine is undefined "
                         "for them: fix or drop their vectors")
    unit = np.zeros_like(vectors)
    unit[used] = vectors[used] / norms[:, None]
    out = np.zeros(len(pos))
    for lo in range(0, len(pos), batch):
        p = pos[lo:lo + batch]
        v = np.where((p >= 0)[..., None], unit[np.maximum(p, 0)], 0.0)
        m = (p >= 0).sum(axis=1)
        # |sum of unit vectors|^2 = m + 2 * (sum of pairwise cosines)
        pair_cos = ((v.sum(axis=1) ** 2).sum(axis=1) - m) / 2
        pairs = m * (m - 1) / 2
        out[lo:lo + batch] = np.where(pairs > 0, 1 - pair_cos / np.maximum(pairs, 1), 0.0)
    return out


def intra_list_diversity(ranked: np.ndarray, item_ids: np.ndarray, item_vectors: np.ndarray,
                         cutoff: int) -> float:
    """Mean over users of :func:`diversity_per_user`."""
    return float(diversity_per_user(ranked, item_ids, item_vectors, cutoff).mean())


def novelty_per_user(ranked: np.ndarray, train_events: pd.DataFrame, item_ids: np.ndarray,
                     cutoff: int) -> np.ndarray:
    """Novelty@``cutoff`` of each user against ``train_events`` (see the module docstring); a
    list with no item counts 0."""
    pos = _positions(ranked, item_ids, cutoff)
    n_users = train_events["user_id"].nunique()
    users_per_item = (train_events.groupby("item_id")["user_id"].nunique()
                      .reindex(np.asarray(item_ids, dtype=np.int64), fill_value=0)
                      .to_numpy(dtype=np.float64))
    p = np.where(users_per_item > 0, users_per_item / max(n_users, 1), 1.0 / (n_users + 1))
    info = -np.log2(p)
    valid = pos >= 0
    total = np.where(valid, info[np.maximum(pos, 0)], 0.0).sum(axis=1)
    count = valid.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def novelty(ranked: np.ndarray, train_events: pd.DataFrame, item_ids: np.ndarray,
            cutoff: int) -> float:
    """Mean over users of :func:`novelty_per_user`."""
    return float(novelty_per_user(ranked, train_events, item_ids, cutoff).mean())


def with_beyond_accuracy(result: EvaluationResult, split: Split, item_ids: np.ndarray,
                         item_vectors: np.ndarray, cutoffs: int | Sequence[int] = (10,)
                         ) -> EvaluationResult:
    """``result`` with diversity@K and novelty@K (novelty against ``split.train``) per user and
    as row means, for every K in ``cutoffs``."""
    columns: dict[str, np.ndarray] = {}
    for k in check_cutoffs(cutoffs, result.ranked.shape[1]):
        columns[f"diversity@{k}"] = diversity_per_user(result.ranked, item_ids, item_vectors, k)
        columns[f"novelty@{k}"] = novelty_per_user(result.ranked, split.train, item_ids, k)
    return result.with_per_user(columns)


def pooled_beyond_accuracy(results: Sequence[EvaluationResult], splits: Sequence[Split],
                           item_ids: np.ndarray,
                           item_vectors: np.ndarray | Sequence[np.ndarray],
                           cutoffs: int | Sequence[int] = (10,),
                           label: str | None = None) -> EvaluationResult:
    """:func:`with_beyond_accuracy` on each cut-off's result (its own training events; its own
    vectors when ``item_vectors`` is one array per split), then :func:`pool`."""
    if isinstance(item_vectors, np.ndarray) and item_vectors.ndim == 2:
        per_split: Sequence[np.ndarray] = [item_vectors] * len(splits)
    else:
        per_split = list(item_vectors)
    if len(per_split) != len(splits) or len(results) != len(splits):
        raise ValueError(f"{len(results)} results, {len(splits)} splits and {len(per_split)} "
                         "vector arrays; pass one result (and one array, or a single one) per "
                         "split")
    return pool([with_beyond_accuracy(r, s, item_ids, v, cutoffs)
                 for r, s, v in zip(results, splits, per_split, strict=True)], splits, label)
