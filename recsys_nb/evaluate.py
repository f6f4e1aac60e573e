"""Offline evaluation: a temporal per-user split, ranking metrics, baselines and sweeps.

The question every notebook claim must answer is "does it recommend what the user watched
next?". This module answers it the same way for every model:

1. :func:`temporal_split` keeps each user's earliest events for training and holds out the most
   recent ones (a fraction, or the last k). Nothing from a user's future reaches training.
2. Each model ranks the catalogue for each test user with the user's training items excluded
   (they were seen), and :func:`ranking_metrics` scores the top-K lists against the held-out items:
   Recall@K, NDCG@K, HitRate@K, MRR and catalogue coverage, averaged over ALL evaluated users
   (a user with no hit scores 0; nobody is dropped for being hard).
3. :func:`evaluate` measures the product itself: it builds a ``Recommender`` from the training
   data through a factory, replays the training events with the public bulk ``ingest`` and asks
   the public ``recommend`` for every test user, so the numbers are the product's numbers.
   :func:`evaluate_baselines` scores popularity, item-kNN and EASE on the same split.
4. :func:`sweep` runs :func:`evaluate` over a validated grid of parameters.

Metric definitions (``rel`` = the user's relevant held-out items, ``hit_r`` = 1 when the item at
rank ``r`` (1-based) is relevant, ``K`` the cut-off):

- Recall@K   = sum_{r<=K} hit_r / |rel|
- NDCG@K     = sum_{r<=K} hit_r / log2(r + 1), divided by its ideal value
  sum_{r<=min(K, |rel|)} 1 / log2(r + 1)
- HitRate@K  = 1 if any hit_r = 1 for r <= K, else 0
- MRR        = 1 / (rank of the first hit) within the longest ranked list (max K), else 0
- Coverage@K = distinct items in anybody's top-K / catalogue size

This module sits beside ``store`` and ``embeddings`` (it never imports ``recommender``): the
recommender is passed in by the caller.
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from recsys_nb.data import Dataset

DEFAULT_K: tuple[int, ...] = (10, 50)
#: Which held-out events count as relevant: "positive" (default: views and favorites; a film the
#: user then rated "not interested" is no success to recommend) or "all" (any interaction).
#: On MovieLens the two differ by < 0.01 Recall@50 (popularity 0.139 vs 0.134).
RELEVANCE = ("all", "positive")
BASELINES = ("popularity", "itemknn", "ease")
DEFAULT_EASE_LAMBDA = 500.0
DEFAULT_KNN_NEIGHBORS: int | None = None


# --------------------------------------------------------------------------------------------
# temporal split
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Split:
    """A temporal per-user train/test split (build it with :func:`temporal_split`).

    Attributes:
        train: training events, sorted by timestamp (stable). Includes the events of skipped
            users: they teach the models (popularity, embeddings) but are never scored.
        test: held-out events of the evaluated users, sorted by timestamp (stable).
        users: the evaluated user ids (sorted).
        skipped: one row per user left out of the evaluation: user_id, events, reason.
        item_ids: the catalogue (every item a model may recommend), sorted.
        items: the catalogue frame when the split was made from a ``Dataset``, else None.
        test_fraction, leave_last, min_events: the settings that made the split.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    users: np.ndarray
    skipped: pd.DataFrame
    item_ids: np.ndarray
    items: pd.DataFrame | None = None
    test_fraction: float | None = None
    leave_last: int | None = None
    min_events: int = 5
    source: Dataset | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        how = f"leave_last={self.leave_last}" if self.leave_last else (
            f"test_fraction={self.test_fraction}")
        return (
            f"Split({how}, min_events={self.min_events}: {len(self.users):,} users, "
            f"{len(self.train):,} train / {len(self.test):,} test events, "
            f"{len(self.skipped):,} users skipped, {len(self.item_ids):,} items)"
        )

    @property
    def n_items(self) -> int:
        """Catalogue size."""
        return len(self.item_ids)

    def train_dataset(self) -> Dataset:
        """The source dataset with the training events only (what a model may learn from).

        Raises:
            ValueError: the split was made from an events frame, not a ``Dataset``.
        """
        return self._train_dataset

    @cached_property
    def _train_dataset(self) -> Dataset:
        if self.source is None:
            raise ValueError(
                "this split was made from an events frame; pass the Dataset to temporal_split "
                "(e.g. temporal_split(load_movielens())) so models can see the items"
            )
        return Dataset(self.source.items, self.train, self.source.text_template,
                       self.source.kind_rule)

    def seen(self, users: Sequence[Any] | None = None) -> list[np.ndarray]:
        """Each user's training items (any kind): what recommendations must exclude."""
        users = self.users if users is None else users
        groups = _groups(self.train)
        empty = np.empty(0, dtype=np.int64)
        return [np.unique(groups.get(_key(u), empty)) for u in users]

    def relevant(self, relevance: str = "positive") -> tuple[np.ndarray, list[np.ndarray]]:
        """The held-out items to find, per evaluated user, training items removed.

        An item already in the user's training events can never be recommended (seen items are
        excluded), so re-watches are not counted. Users left with nothing to find are dropped.

        Args:
            relevance: "positive" held-out events (not-interested ones dropped) or "all".

        Returns:
            (users, relevant item arrays), aligned.
        """
        if relevance not in RELEVANCE:
            raise ValueError(f"relevance={relevance!r} is unknown; use one of {list(RELEVANCE)}")
        test = self.test
        if relevance == "positive" and "kind" in test.columns:
            test = test[test["kind"] != "not_interested"]
        groups = _groups(test)
        seen = self.seen()
        users, rel = [], []
        for u, s in zip(self.users, seen, strict=True):
            items = groups.get(_key(u))
            if items is None:
                continue
            items = np.setdiff1d(items, s)
            if items.size:
                users.append(u)
                rel.append(items)
        return np.asarray(users, dtype=self.users.dtype), rel


def _key(u: Any) -> Any:
    return u.item() if hasattr(u, "item") else u


def _groups(events: pd.DataFrame) -> dict[Any, np.ndarray]:
    """user -> that user's item ids (as int64), in frame order."""
    items = events["item_id"].to_numpy(dtype=np.int64)
    return {
        _key(k): items[idx] for k, idx in events.groupby("user_id", sort=False).indices.items()
    }


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name}={value!r} must be an integer >= {low}")
    return int(value)


def temporal_split(
    events: Dataset | pd.DataFrame,
    test_fraction: float = 0.2,
    leave_last: int | None = None,
    min_events: int = 5,
) -> Split:
    """Hold out each user's most recent events: a per-user split by time, without leakage.

    Each user's events are ordered by timestamp; equal timestamps keep the order of the input
    (a stable sort), so the split is reproducible. The last ``n_test`` events go to test, the rest
    to train, hence every test event is later than, or at the same time as, all of the user's
    training events.

    - ``test_fraction`` f: ``n_test = round(f * n)`` (halves round up), at least 1 and at most
      ``n - 1``, so every evaluated user keeps some history and has something to find.
    - ``leave_last`` k (replaces ``test_fraction`` when given): ``n_test = k``.

    Users with fewer than ``min_events`` events (or fewer than ``k + 1`` with ``leave_last``) are
    not evaluated; ``Split.skipped`` lists them with the reason, and their events stay in
    training (they inform popularity and collaborative embeddings, never the scores).

    Args:
        events: a ``Dataset`` (its items become the catalogue) or an events frame with user_id,
            item_id and timestamp columns (the catalogue is then the items with events).
        test_fraction: share of each user's events held out, in (0, 1).
        leave_last: hold out exactly this many events per user instead.
        min_events: minimum events a user needs to be evaluated, >= 2.

    Raises:
        ValueError: a fraction outside (0, 1), k < 1, min_events < 2, missing columns, no events,
            or no user with enough history (the numbers and the fix are named).
    """
    source = events if isinstance(events, Dataset) else None
    frame = events.events if source is not None else events
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"events must be a Dataset or a DataFrame, got {type(events).__name__}")
    missing = [c for c in ("user_id", "item_id", "timestamp") if c not in frame.columns]
    if missing:
        raise ValueError(f"events lacks column(s) {missing}; it needs user_id, item_id, timestamp")
    min_events = _check_int("min_events", min_events, 2)
    if leave_last is not None:
        leave_last = _check_int("leave_last", leave_last, 1)
        fraction = None
    else:
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, float | int):
            raise ValueError(f"test_fraction={test_fraction!r} must be a number in (0, 1)")
        fraction = float(test_fraction)
        if not (0.0 < fraction < 1.0):
            raise ValueError(
                f"test_fraction={test_fraction!r} must be strictly between 0 and 1, e.g. 0.2 "
                "(or use leave_last=k)"
            )
    if len(frame) == 0:
        raise ValueError("events is empty: there is nothing to split")

    user_codes, user_values = pd.factorize(frame["user_id"], sort=True)
    ts = frame["timestamp"].to_numpy()
    order = np.lexsort((np.arange(len(frame)), ts, user_codes))  # user, time, input position
    codes_sorted = user_codes[order]
    counts = np.bincount(user_codes, minlength=len(user_values))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(frame)) - starts[codes_sorted]  # 0-based position in the user's history

    need = max(min_events, leave_last + 1) if leave_last else min_events
    if leave_last:
        n_test = np.full(len(counts), leave_last)
    else:
        n_test = np.floor(fraction * counts + 0.5).astype(np.int64)
        n_test = np.clip(n_test, 1, np.maximum(counts - 1, 1))
    eligible = counts >= need
    is_test = eligible[codes_sorted] & (rank >= (counts - n_test)[codes_sorted])
    if not eligible.any():
        raise ValueError(
            f"no user has the {need} events the split needs (min_events={min_events}"
            f"{f', leave_last={leave_last}' if leave_last else ''}); the most active user has "
            f"{int(counts.max())}: lower min_events or leave_last"
        )

    def sorted_rows(mask: np.ndarray) -> pd.DataFrame:
        rows = order[mask]
        part = frame.iloc[rows]
        # back to time order across users; input position breaks ties (stable)
        by_time = np.lexsort((rows, part["timestamp"].to_numpy()))
        return part.iloc[by_time].reset_index(drop=True)

    train, test = sorted_rows(~is_test), sorted_rows(is_test)
    users = np.asarray(user_values[eligible])
    skipped = pd.DataFrame(
        {
            "user_id": np.asarray(user_values[~eligible]),
            "events": counts[~eligible].astype(np.int64),
            "reason": f"fewer than {need} events",
        }
    )
    if source is not None:
        item_ids = np.sort(source.items["item_id"].to_numpy(dtype=np.int64))
        items = source.items
    else:
        item_ids = np.unique(frame["item_id"].to_numpy(dtype=np.int64))
        items = None
    return Split(
        train=train,
        test=test,
        users=users,
        skipped=skipped,
        item_ids=item_ids,
        items=items,
        test_fraction=fraction,
        leave_last=leave_last,
        min_events=min_events,
        source=source,
    )


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


def _check_ks(k: int | Iterable[int], width: int | None = None) -> tuple[int, ...]:
    ks = (k,) if isinstance(k, int | np.integer) else tuple(k)
    if not ks:
        raise ValueError("k is empty; pass cut-offs such as k=(10, 50)")
    for v in ks:
        _check_int("k", v, 1)
    if width is not None and max(ks) > width:
        raise ValueError(
            f"k={max(ks)} is larger than the ranked lists ({width} columns); rank at least "
            f"{max(ks)} items per user"
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
    ranked: np.ndarray, relevant: Sequence[np.ndarray], k: int | Iterable[int] = DEFAULT_K
) -> pd.DataFrame:
    """Recall@K, NDCG@K, HitRate@K per user, and MRR (see the module docstring for formulas).

    Args:
        ranked: (users x K) item ids, best first; -1 pads lists shorter than K (counts as a miss).
        relevant: one array of relevant item ids per row (each non-empty).
        k: one or more cut-offs, each <= ranked.shape[1].

    Returns:
        One row per user; columns recall@K, ndcg@K, hitrate@K for each K, then mrr. Never NaN.

    Raises:
        ValueError: shapes that do not align, an empty relevant set, repeated items in a row,
            k larger than the lists.
    """
    ranked = np.asarray(ranked)
    ks = _check_ks(k, ranked.shape[1] if ranked.ndim == 2 else None)
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


def coverage(ranked: np.ndarray, n_items: int, k: int) -> float:
    """Share of the catalogue (``n_items``) that appears in at least one user's top-``k``."""
    _check_int("n_items", n_items, 1)
    ranked = np.asarray(ranked)[:, :k]
    return float(np.unique(ranked[ranked >= 0]).size / n_items)


def ranking_metrics(
    ranked: np.ndarray,
    relevant: Sequence[np.ndarray],
    k: int | Iterable[int] = DEFAULT_K,
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
    table = per_user_metrics(ranked, relevant, k)
    result = {c: float(table[c].mean()) for c in table.columns}
    if n_items is not None:
        for kk in _check_ks(k):
            result[f"coverage@{kk}"] = coverage(ranked, n_items, kk)
    return result


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Interactions:
    """The binary user x item matrix of training events that baselines learn from.

    Attributes:
        matrix: (train users x catalogue items) CSR float32, 1 where the user interacted.
        users: the training users (row order).
        item_ids: the catalogue (column order).
    """

    matrix: sparse.csr_matrix
    users: np.ndarray
    item_ids: np.ndarray

    def rows(self, users: Sequence[Any]) -> np.ndarray:
        """Row positions of ``users`` (-1 for users without training events)."""
        return pd.Index(self.users).get_indexer(pd.Index(np.asarray(users)))


def interaction_matrix(
    events: pd.DataFrame, item_ids: np.ndarray, positive_only: bool = True
) -> Interactions:
    """Build :class:`Interactions` from events (``kind == "not_interested"`` dropped by default:
    a dismissal is not a signal of taste to imitate)."""
    if positive_only and "kind" in events.columns:
        events = events[events["kind"] != "not_interested"]
    item_ids = np.asarray(item_ids, dtype=np.int64)
    cols = pd.Index(item_ids).get_indexer(events["item_id"].to_numpy(dtype=np.int64))
    if (cols < 0).any():
        bad = events["item_id"].to_numpy()[cols < 0][:5].tolist()
        raise ValueError(f"events refer to items {bad} that are not in the catalogue")
    codes, users = pd.factorize(events["user_id"], sort=True)
    m = sparse.csr_matrix(
        (np.ones(len(cols), dtype=np.float32), (codes, cols)),
        shape=(len(users), len(item_ids)),
    )
    m.data[:] = 1.0  # duplicates summed by the constructor: back to binary
    return Interactions(m, np.asarray(users), item_ids)


class Scorer(Protocol):
    """Scores every catalogue item for a batch of users (higher is better)."""

    def __call__(self, rows: np.ndarray) -> np.ndarray: ...


def popularity_scorer(data: Interactions) -> Scorer:
    """Most-interacted items first, the same list for everybody (seen items aside)."""
    counts = np.asarray(data.matrix.sum(axis=0), dtype=np.float64).ravel()

    def score(rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(counts, (len(rows), counts.size)).copy()

    return score


def itemknn_scorer(data: Interactions, neighbors: int | None = DEFAULT_KNN_NEIGHBORS) -> Scorer:
    """Item-kNN: score = sum of cosine similarities between an item and the user's items.

    Similarity is the cosine between item columns of the training matrix (``X^T X`` of the
    column-normalized matrix, sparse), diagonal removed. ``neighbors`` keeps only each item's
    strongest similarities (None keeps all).
    """
    x = data.matrix
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    xn = (x @ sparse.diags(1.0 / np.where(norms > 0, norms, 1.0))).tocsc().astype(np.float32)
    sim = (xn.T @ xn).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    if neighbors is not None:
        sim = _keep_top_per_row(sim, _check_int("neighbors", neighbors, 1))
    # score(u, j) = sum_i x[u, i] * sim[i, j]: the similarity is symmetric before pruning;
    # after pruning row i keeps item i's neighbours, so users "vote" through their items' lists.

    def score(rows: np.ndarray) -> np.ndarray:
        return np.asarray((x[rows] @ sim).todense(), dtype=np.float64)

    return score


def _keep_top_per_row(m: sparse.csr_matrix, n: int) -> sparse.csr_matrix:
    """Keep the ``n`` largest entries of each row of a CSR matrix.

    Values equal to 6 decimals count as ties (float rounding must not decide) and the lower
    column wins, so the result does not depend on the storage order.
    """
    m = m.tocsr(copy=True)
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        if hi - lo > n:
            vals = m.data[lo:hi]
            order = np.lexsort((m.indices[lo:hi], -np.round(vals, 6)))
            vals[order[n:]] = 0.0
    m.eliminate_zeros()
    return m


def ease_scorer(data: Interactions, lam: float = DEFAULT_EASE_LAMBDA) -> Scorer:
    """EASE (Steck 2019): item-item weights ``B`` in closed form, score = ``x_u B``.

    ``P = (X^T X + lam I)^-1``; ``B = -P / diag(P)`` with a zero diagonal. Computed only over
    items with training events (the others would get all-zero weights anyway), in float64.

    Raises:
        ValueError: lam not a positive finite number.
    """
    lam = float(lam)
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam={lam} must be a positive finite number, e.g. {DEFAULT_EASE_LAMBDA}")
    x = data.matrix
    active = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() > 0)
    xa = x[:, active].astype(np.float64)
    gram = (xa.T @ xa).toarray()
    gram[np.diag_indices_from(gram)] += lam
    p = _spd_inverse(gram)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0.0
    n_items = x.shape[1]

    def score(rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), n_items))
        out[:, active] = xa[rows] @ b
        return out

    return score


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix via Cholesky (~2x faster than LU)."""
    from scipy import linalg

    c, _ = linalg.cho_factor(a, lower=True, overwrite_a=True, check_finite=False)
    (potri,) = linalg.get_lapack_funcs(("potri",), (c,))
    inv, info = potri(c, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (LAPACK info={info})")
    return np.tril(inv) + np.tril(inv, -1).T


def top_k(
    scores: np.ndarray,
    k: int,
    exclude: Sequence[np.ndarray] = (),
    item_ids: np.ndarray | None = None,
) -> np.ndarray:
    """Best-``k`` columns of each score row, best first, ``exclude``d columns skipped.

    Ties are broken by column order. Rows with fewer than ``k`` allowed items are padded with -1.

    Args:
        scores: (users x items) scores.
        exclude: per row, the column positions (not ids) to skip (seen items).
        item_ids: map columns to ids in the result (default: column positions).
    """
    scores = np.array(scores, dtype=np.float64)
    n_users, n_items = scores.shape
    k = _check_int("k", k, 1)
    if k > n_items:
        raise ValueError(
            f"k={k} is larger than the catalogue ({n_items} items); use k <= {n_items}"
        )
    scores[~np.isfinite(scores)] = -np.inf
    for r, cols in enumerate(exclude):
        scores[r, np.asarray(cols, dtype=np.int64)] = -np.inf
    # sort by (-score, column): argsort of a stable sort on -score keeps column order for ties
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n_items else (
        np.tile(np.arange(n_items), (n_users, 1)))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    cols = np.take_along_axis(part, order, axis=1)
    best = np.take_along_axis(part_scores, order, axis=1)
    ids = cols if item_ids is None else np.asarray(item_ids, dtype=np.int64)[cols]
    return np.where(np.isfinite(best), ids, -1).astype(np.int64)


def _baseline_scorer(name: str, data: Interactions, params: Mapping[str, Any]) -> Scorer:
    if name == "popularity":
        return popularity_scorer(data)
    if name == "itemknn":
        return itemknn_scorer(data, params.get("neighbors", DEFAULT_KNN_NEIGHBORS))
    if name == "ease":
        return ease_scorer(data, params.get("lam", DEFAULT_EASE_LAMBDA))
    raise ValueError(f"unknown baseline {name!r}; use one of {list(BASELINES)}")


def recommend_baseline(
    name: str,
    split: Split,
    users: Sequence[Any] | None = None,
    k: int = max(DEFAULT_K),
    batch: int = 1024,
    **params: Any,
) -> np.ndarray:
    """Top-``k`` item ids per user from a baseline trained on ``split.train``, seen excluded.

    Args:
        name: "popularity", "itemknn" (param ``neighbors``) or "ease" (param ``lam``).
        users: whom to recommend for (default: the split's evaluated users).
        batch: users scored at once (bounds memory: batch x catalogue floats).

    Returns:
        (users x k) int64 item ids, -1 where fewer than k unseen items exist.
    """
    users = split.users if users is None else np.asarray(users)
    k = _check_int("k", k, 1)
    if k > split.n_items:
        raise ValueError(
            f"k={k} is larger than the catalogue ({split.n_items} items); use k <= {split.n_items}"
        )
    data = interaction_matrix(split.train, split.item_ids)
    scorer = _baseline_scorer(name, data, params)
    col = pd.Index(split.item_ids)
    seen_cols = [col.get_indexer(s) for s in split.seen(users)]
    rows = data.rows(users)
    out = np.full((len(users), k), -1, dtype=np.int64)
    for lo in range(0, len(users), batch):
        hi = min(lo + batch, len(users))
        r = rows[lo:hi]
        known = r >= 0
        scores = np.zeros((hi - lo, split.n_items))
        if known.any():
            scores[known] = scorer(r[known])
        if (~known).any():  # no training interactions: fall back to popularity
            scores[~known] = popularity_scorer(data)(r[~known])
        out[lo:hi] = top_k(scores, k, seen_cols[lo:hi], split.item_ids)
    return out


def evaluate_baselines(
    split: Split,
    k: int | Iterable[int] = DEFAULT_K,
    models: Sequence[str] = BASELINES,
    *,
    relevance: str = "positive",
    ease_lambda: float = DEFAULT_EASE_LAMBDA,
    knn_neighbors: int | None = DEFAULT_KNN_NEIGHBORS,
) -> pd.DataFrame:
    """Score baselines on the split with the same metrics as :func:`evaluate`.

    Returns:
        One row per model: model, recall@K..., ndcg@K..., hitrate@K..., mrr, coverage@K...,
        users (scored), users_skipped (too little history or nothing new held out), seconds.
    """
    ks = _check_ks(k)
    if max(ks) > split.n_items:
        raise ValueError(
            f"k={max(ks)} is larger than the catalogue ({split.n_items} items); "
            f"use k <= {split.n_items}"
        )
    unknown = [m for m in models if m not in BASELINES]
    if unknown or not models:
        raise ValueError(f"unknown baseline(s) {unknown}; use some of {list(BASELINES)}")
    users, relevant = _relevant_or_raise(split, relevance)
    params = {"popularity": {}, "itemknn": {"neighbors": knn_neighbors},
              "ease": {"lam": ease_lambda}}
    rows = []
    for name in models:
        t0 = time.perf_counter()
        ranked = recommend_baseline(name, split, users, max(ks), **params[name])
        row = {"model": name, **ranking_metrics(ranked, relevant, ks, split.n_items)}
        row.update(users=len(users), users_skipped=_n_skipped(split, users),
                   seconds=round(time.perf_counter() - t0, 3))
        rows.append(row)
    return pd.DataFrame(rows)


def _n_skipped(split: Split, users: np.ndarray) -> int:
    """Users with events but no score: too little history, or nothing new held out."""
    return len(split.skipped) + len(split.users) - len(users)


def _relevant_or_raise(split: Split, relevance: str) -> tuple[np.ndarray, list[np.ndarray]]:
    users, relevant = split.relevant(relevance)
    if not len(users):
        raise ValueError(
            "no evaluated user has a held-out item that is not already in their training events; "
            "the split is empty for evaluation (use more events, a larger test_fraction or "
            f"relevance='all'; relevance was {relevance!r})"
        )
    return users, relevant


# --------------------------------------------------------------------------------------------
# the product: evaluate a Recommender through its public API
# --------------------------------------------------------------------------------------------

#: ``factory(train_dataset, store_path) -> Recommender`` (anything with ingest/recommend/close).
RecommenderFactory = Callable[[Dataset, Path], Any]


def evaluate(
    recommender_factory: RecommenderFactory,
    split: Split,
    k: int | Iterable[int] = DEFAULT_K,
    *,
    path: str | Path | None = None,
    name: str | None = None,
    relevance: str = "positive",
    exact: bool = False,
) -> dict[str, Any]:
    """Measure a recommender the way users meet it: bulk ``ingest`` then ``recommend``.

    ``recommender_factory(train_dataset, path)`` must return a fresh recommender for the
    training data (e.g. ``lambda ds, p: Recommender.from_dataset(ds, p, progress=False)``).
    The training events go in through ``rec.ingest(split.train)``; every evaluated user is then
    asked ``rec.recommend(user, n=max(k))`` (seen items excluded by the recommender itself).

    Args:
        path: store folder; it must be empty or absent (a store with events would mix other
            users' data into the measurement). Default: a temporary folder, deleted afterwards.
        name: the row's ``model`` label (default: the recommender's ``model_id``).
        relevance: "positive" (default) or "all" held-out events (see :meth:`Split.relevant`).
        exact: also rank by exact cosine with each user's interest vector (public
            ``rec.interest``, ``rec.item_ids``, ``rec.item_vector``), to separate the quality of
            the vectors from the loss of the approximate (HNSW) search. Adds ``exact_recall@K``,
            ``exact_ndcg@K`` and ``ann_overlap@K`` (share of the exact top-K that ``recommend``
            returned; an item tied in exact score with the K-th counts as found). Users without
            an interest vector keep their ``recommend`` list.

    Returns:
        One metrics row (a dict; ``pd.DataFrame([row, ...])`` stacks rows): model, the metrics,
        users, users_skipped (as in :func:`evaluate_baselines`), seen_recommended (training
        items the recommender returned; should be 0), short_lists (users who got fewer than
        max(k) items), build_s, ingest_s, recommend_s, ms_per_user.

    Raises:
        ValueError: k larger than the catalogue, a non-empty ``path``, an empty split.
    """
    ks = _check_ks(k)
    if max(ks) > split.n_items:
        raise ValueError(
            f"k={max(ks)} is larger than the catalogue ({split.n_items} items); "
            f"use k <= {split.n_items}"
        )
    users, relevant = _relevant_or_raise(split, relevance)
    train_ds = split.train_dataset()
    tmp = None
    if path is None:
        tmp = Path(tempfile.mkdtemp(prefix="recsys_nb_eval_"))
        store = tmp
    else:
        store = Path(path)
        if store.exists() and any(store.iterdir()):
            raise ValueError(
                f"path {str(store)!r} is not empty; evaluation needs a fresh store "
                "(pass an empty folder, call recsys_nb.store.reset_store on it, or path=None)"
            )
    try:
        t0 = time.perf_counter()
        rec = recommender_factory(train_ds, store)
        t1 = time.perf_counter()
        try:
            rec.ingest(split.train)
            t2 = time.perf_counter()
            kmax = max(ks)
            ranked = np.full((len(users), kmax), -1, dtype=np.int64)
            for r, u in enumerate(users):
                got = rec.recommend(_key(u), n=kmax)["item_id"].to_numpy(dtype=np.int64)[:kmax]
                ranked[r, : len(got)] = got
            t3 = time.perf_counter()
            label = name if name is not None else str(getattr(rec, "model_id", "recommender"))
            exact_ranked, exact_scores = (
                _exact_ranking(rec, users, split, kmax, ranked) if exact else (None, None))
        finally:
            rec.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    seen = split.seen(users)
    leaked = sum(int(np.isin(row[row >= 0], s).sum()) for row, s in zip(ranked, seen,
                                                                         strict=True))
    row: dict[str, Any] = {"model": label, **ranking_metrics(ranked, relevant, ks, split.n_items)}
    row.update(
        users=len(users),
        users_skipped=_n_skipped(split, users),
        seen_recommended=leaked,
        short_lists=int((ranked[:, -1] < 0).sum()),
        build_s=round(t1 - t0, 3),
        ingest_s=round(t2 - t1, 3),
        recommend_s=round(t3 - t2, 3),
        ms_per_user=round(1000 * (t3 - t2) / len(users), 3),
    )
    if exact_ranked is not None:
        ideal = ranking_metrics(exact_ranked, relevant, ks)
        for kk in ks:
            row[f"exact_recall@{kk}"] = ideal[f"recall@{kk}"]
            row[f"exact_ndcg@{kk}"] = ideal[f"ndcg@{kk}"]
            row[f"ann_overlap@{kk}"] = _overlap(ranked[:, :kk], exact_ranked[:, :kk],
                                                exact_scores)
    return row


def _exact_ranking(
    rec: Any, users: np.ndarray, split: Split, k: int, fallback: np.ndarray
) -> tuple[np.ndarray, dict[int, dict[int, float]]]:
    """Exact top-``k`` of each user's interest vector (cosine, plus the recommender's popularity
    prior when it has one), training items excluded; and, per ranked row with a vector, the exact
    score of every item (item id -> score) to judge ties."""
    item_ids = np.asarray(rec.item_ids, dtype=np.int64)
    matrix = np.stack([rec.item_vector(int(i)) for i in item_ids]).astype(np.float64)
    prior_term = float(getattr(rec, "prior_weight", 0.0)) * (
        rec.item_prior() if hasattr(rec, "item_prior") else np.zeros(len(item_ids)))
    col = pd.Index(item_ids)
    out = fallback.copy()
    rows, vecs = [], []
    for r, u in enumerate(users):
        try:
            vecs.append(np.asarray(rec.interest(_key(u)), dtype=np.float64))
            rows.append(r)
        except KeyError:  # no interest vector: the recommender answered with popular items
            continue
    scores: dict[int, dict[int, float]] = {}
    if rows:
        seen = [col.get_indexer(s) for s in split.seen(users[rows])]
        seen = [c[c >= 0] for c in seen]
        all_scores = np.stack(vecs) @ matrix.T + prior_term
        out[rows] = top_k(all_scores, k, seen, item_ids)
        for j, r in enumerate(rows):
            wanted = np.unique(np.concatenate([out[r], fallback[r]]))
            wanted = wanted[wanted >= 0]
            scores[r] = dict(zip(wanted.tolist(), all_scores[j, col.get_indexer(wanted)].tolist(),
                                 strict=True))
    return out, scores


def _overlap(a: np.ndarray, b: np.ndarray, scores: dict[int, dict[int, float]] | None = None,
             tie: float = 1e-6) -> float:
    """Mean share of each row of ``b`` (the exact top-k, valid ids) found in the same row of ``a``.

    With exact ``scores`` (row -> item -> score), an item of ``a`` that is not in ``b`` but
    scores as high as ``b``'s last item (within ``tie``) counts as found: many MovieLens items
    share one learned vector and one prior, so which of several equal items fills the last
    places is arbitrary, and the approximate index choosing another of them is not a miss.
    """
    shares = []
    for r, (x, y) in enumerate(zip(a, b, strict=True)):
        y = y[y >= 0]
        if not y.size:
            shares.append(1.0)
            continue
        found = int(np.isin(y, x).sum())
        row_scores = scores.get(r) if scores else None
        if row_scores is not None:
            cut = row_scores[int(y[-1])] - tie
            others = x[(x >= 0) & ~np.isin(x, y)]
            found += sum(1 for i in others.tolist() if row_scores.get(i, -np.inf) >= cut)
        shares.append(min(found, y.size) / y.size)
    return float(np.mean(shares))


# --------------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) \
        and math.isfinite(float(v))


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


#: Known sweep parameters: name -> (check, what a valid value is). Extend with ``space=``.
SWEEP_SPACE: dict[str, tuple[Callable[[Any], bool], str]] = {
    "alpha_view": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "alpha_favorite": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "not_interested_factor": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "popularity_weight": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "embedding": (
        lambda v: v in ("default", "minilm", "collaborative", "hybrid", "blend"),
        "one of 'default', 'minilm', 'collaborative', 'hybrid', 'blend'",
    ),
    "dim": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "text_weight": (lambda v: _is_number(v) and 0 < v < 1, "a number in (0, 1)"),
    "window": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "momentum_weight": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "seed": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
}


def validate_grid(
    grid: Mapping[str, Sequence[Any]],
    space: Mapping[str, tuple[Callable[[Any], bool], str]] | None = None,
) -> dict[str, list[Any]]:
    """Check a sweep grid before any run; return it as ``{name: list}``.

    Raises:
        ValueError: naming unknown parameters (with the known ones), values that are not lists,
            empty lists, repeated values and out-of-range values (with the valid range).
    """
    space = {**SWEEP_SPACE, **(space or {})}
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"grid must be a non-empty dict of lists, e.g. {{'alpha_view': [0.1, "
                         f"0.3]}}; got {grid!r}")
    unknown = [n for n in grid if n not in space]
    if unknown:
        raise ValueError(
            f"unknown sweep parameter(s) {unknown}; known: {sorted(space)} "
            "(pass space= to add your own)"
        )
    problems, out = [], {}
    for name, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            problems.append(f"{name}={values!r} must be a list of values, e.g. [{values!r}]")
            continue
        values = list(values)
        if not values:
            problems.append(f"{name} has an empty list; give at least one value")
            continue
        check, hint = space[name]
        bad = [v for v in values if not check(v)]
        if bad:
            problems.append(f"{name} values {bad} are out of range: each must be {hint}")
        if len({repr(v) for v in values}) != len(values):
            problems.append(f"{name} repeats values {values}; list each once")
        out[name] = values
    if problems:
        raise ValueError("invalid sweep grid: " + "; ".join(problems))
    return out


def sweep(
    factory_for_params: Callable[..., RecommenderFactory],
    split: Split,
    grid: Mapping[str, Sequence[Any]],
    k: int | Iterable[int] = DEFAULT_K,
    *,
    space: Mapping[str, tuple[Callable[[Any], bool], str]] | None = None,
    relevance: str = "positive",
    progress: bool = False,
) -> pd.DataFrame:
    """Evaluate every combination of a parameter grid (a Cartesian product).

    ``factory_for_params(**params)`` returns a recommender factory for one combination, e.g.
    ``lambda alpha_view: (lambda ds, p: Recommender.from_dataset(ds, p, progress=False,
    alpha_view=alpha_view))``. The grid is validated first (:func:`validate_grid`), so a typo
    fails before minutes of work.

    Returns:
        One row per combination: the parameter columns, then :func:`evaluate`'s row.
    """
    checked = validate_grid(grid, space)
    names = list(checked)
    combos = list(itertools.product(*(checked[n] for n in names)))
    rows = []
    for i, values in enumerate(combos):
        params = dict(zip(names, values, strict=True))
        row = evaluate(factory_for_params(**params), split, k, relevance=relevance)
        rows.append({**params, **row})
        if progress:
            print(f"[{i + 1}/{len(combos)}] {params}: " + ", ".join(
                f"{m}={row[m]:.4f}" for m in row if m.startswith(("recall@", "ndcg@"))))
    return pd.DataFrame(rows)
