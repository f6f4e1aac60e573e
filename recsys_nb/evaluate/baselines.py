"""Baselines without interest vectors: popularity, item-kNN and EASE, scored like the product.

Each learns from ``split.train`` only, ranks the catalogue for each scored user with that user's
training items excluded, and is scored with the same metrics (:mod:`.metrics`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from recsys_nb.evaluate.metrics import DEFAULT_CUTOFFS, check_cutoffs
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.splits import Split, _check_int, relevant_or_raise
from recsys_nb.topn import top_n

BASELINES = ("popularity", "trending", "itemknn", "ease")
#: "trending" counts the positive events of the last this many days before the split's cut-off
DEFAULT_TRENDING_DAYS = 180.0
DEFAULT_EASE_LAMBDA = 500.0
DEFAULT_KNN_NEIGHBORS: int | None = None

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



def trending_scorer(data: Interactions, events: pd.DataFrame, as_of: float,
                    days: float = DEFAULT_TRENDING_DAYS) -> Scorer:
    """What is popular *now*: positive events per item in the ``days`` before ``as_of`` (unix
    seconds), the same list for everybody; all-time popularity only breaks ties (it adds less
    than 1, so one more recent event always wins).

    Raises:
        ValueError: ``days`` not a positive number.
    """
    if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
        raise ValueError(f"days={days!r} must be a number > 0, e.g. {DEFAULT_TRENDING_DAYS:g}")
    if "kind" in events.columns:
        events = events[events["kind"] != "not_interested"]
    ts = events["timestamp"].to_numpy(dtype=np.float64)
    recent = events[(ts >= as_of - float(days) * 86_400.0) & (ts < as_of)]
    cols = pd.Index(data.item_ids).get_indexer(recent["item_id"].to_numpy(dtype=np.int64))
    counts = np.bincount(cols[cols >= 0], minlength=len(data.item_ids)).astype(np.float64)
    all_time = np.asarray(data.matrix.sum(axis=0), dtype=np.float64).ravel()
    counts += all_time / (all_time.max(initial=0.0) + 1.0)

    def score(rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(counts, (len(rows), counts.size)).copy()

    return score


def _baseline_scorer(name: str, data: Interactions, params: Mapping[str, Any],
                     split: Split) -> Scorer:
    if name == "popularity":
        return popularity_scorer(data)
    if name == "trending":
        # as of the cut-off (a global split), else just after the last training event
        as_of = split.cutoff if split.cutoff is not None else float(
            split.train["timestamp"].max()) + 1.0
        return trending_scorer(data, split.train, as_of,
                               params.get("days", DEFAULT_TRENDING_DAYS))
    if name == "itemknn":
        return itemknn_scorer(data, params.get("neighbors", DEFAULT_KNN_NEIGHBORS))
    if name == "ease":
        return ease_scorer(data, params.get("lam", DEFAULT_EASE_LAMBDA))
    raise ValueError(f"unknown baseline {name!r}; use one of {list(BASELINES)}")


def check_list_length(n: int, n_items: int) -> int:
    """``n`` as an int in [1, catalogue size], or a ValueError naming both."""
    n = _check_int("n", n, 1)
    if n > n_items:
        raise ValueError(
            f"n={n} is larger than the catalogue ({n_items} items); use n <= {n_items}")
    return n


def recommend_baseline(
    name: str,
    split: Split,
    users: Sequence[Any] | None = None,
    n: int = max(DEFAULT_CUTOFFS),
    batch: int = 1024,
    **params: Any,
) -> np.ndarray:
    """Top-``n`` item ids per user from a baseline trained on ``split.train``, seen excluded.

    Args:
        name: "popularity", "trending" (param ``days``), "itemknn" (param ``neighbors``) or
            "ease" (param ``lam``).
        users: whom to recommend for (default: the split's evaluated users).
        batch: users scored at once (bounds memory: batch x catalogue floats).

    Returns:
        (users x n) int64 item ids, -1 where fewer than n unseen items exist.
    """
    users = split.users if users is None else np.asarray(users)
    n = check_list_length(n, split.n_items)
    data = interaction_matrix(split.train, split.item_ids)
    scorer = _baseline_scorer(name, data, params, split)
    fallback = scorer if name in ("popularity", "trending") else popularity_scorer(data)
    col = pd.Index(split.item_ids)
    seen_cols = [col.get_indexer(s) for s in split.seen(users)]
    rows = data.rows(users)
    out = np.full((len(users), n), -1, dtype=np.int64)
    for lo in range(0, len(users), batch):
        hi = min(lo + batch, len(users))
        r = rows[lo:hi]
        known = r >= 0
        scores = np.zeros((hi - lo, split.n_items))
        if known.any():
            scores[known] = scorer(r[known])
        if (~known).any():  # no training interactions: fall back to a non-personal list
            scores[~known] = fallback(r[~known])
        out[lo:hi] = top_n(scores, n, seen_cols[lo:hi], split.item_ids)[0]
    return out


def evaluate_baseline(
    name: str,
    split: Split,
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    *,
    relevance: str = "positive",
    label: str | None = None,
    **params: Any,
) -> EvaluationResult:
    """Score one baseline on the split (``params`` as :func:`recommend_baseline`'s)."""
    ks = check_cutoffs(cutoffs)
    check_list_length(max(ks), split.n_items)
    users, relevant = relevant_or_raise(split, relevance)
    t0 = time.perf_counter()
    ranked = recommend_baseline(name, split, users, max(ks), **params)
    return EvaluationResult.score(
        label or name, users, ranked, relevant, ks, split.n_items,
        users_skipped=split.n_skipped(users), seconds=round(time.perf_counter() - t0, 3))


def evaluate_baselines(
    split: Split,
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    models: Sequence[str] = BASELINES,
    *,
    relevance: str = "positive",
    ease_lambda: float = DEFAULT_EASE_LAMBDA,
    knn_neighbors: int | None = DEFAULT_KNN_NEIGHBORS,
) -> dict[str, EvaluationResult]:
    """Score several baselines on the split: name -> :class:`EvaluationResult`.

    ``pd.DataFrame([r.row for r in results.values()])`` gives the table: model, the metrics,
    users, users_skipped (too little history or nothing new held out), seconds.
    """
    unknown = [m for m in models if m not in BASELINES]
    if unknown or not models:
        raise ValueError(f"unknown baseline(s) {unknown}; use some of {list(BASELINES)}")
    params = {"popularity": {}, "trending": {}, "itemknn": {"neighbors": knn_neighbors},
              "ease": {"lam": ease_lambda}}
    return {name: evaluate_baseline(name, split, cutoffs, relevance=relevance, **params[name])
            for name in models}
