"""Baselines without interest vectors, scored like the product: popularity, trending, item-kNN,
RP3beta, EASE and EASE plus a trending prior.

Each learns from ``split.train`` only, ranks the catalogue for each scored user with that user's
training items excluded, and is scored with the same metrics (:mod:`.metrics`). The scorers live
in :mod:`.popular`, :mod:`.neighbors` and :mod:`.ease`; this module names them, checks their
parameters and ranks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.evaluate.ease import DEFAULT_EASE_LAMBDA, ease_scorer, ease_trending_scorer
from recsys_nb.evaluate.interactions import Interactions, Scorer, interaction_matrix
from recsys_nb.evaluate.metrics import DEFAULT_CUTOFFS, check_cutoffs
from recsys_nb.evaluate.neighbors import (
    DEFAULT_KNN_NEIGHBORS,
    DEFAULT_RP3_ALPHA,
    DEFAULT_RP3_BETA,
    DEFAULT_RP3_NEIGHBORS,
    itemknn_scorer,
    rp3beta_scorer,
)
from recsys_nb.evaluate.popular import (
    DEFAULT_TRENDING_DAYS,
    as_of,
    popularity_scorer,
    trending_prior,
    trending_scorer,
)
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.splits import Split, _check_int, relevant_or_raise
from recsys_nb.topn import top_n

#: Each baseline's parameters and their defaults.
BASELINE_PARAMS: dict[str, dict[str, Any]] = {
    "popularity": {},
    "trending": {"days": DEFAULT_TRENDING_DAYS},
    "itemknn": {"neighbors": DEFAULT_KNN_NEIGHBORS, "shrink": 0.0},
    "ease": {"lam": DEFAULT_EASE_LAMBDA},
    "rp3beta": {"alpha": DEFAULT_RP3_ALPHA, "beta": DEFAULT_RP3_BETA,
                "neighbors": DEFAULT_RP3_NEIGHBORS},
    # the baseline to beat on the leak-free rolling protocol
    "ease_trending": {"lam": DEFAULT_EASE_LAMBDA, "days": DEFAULT_TRENDING_DAYS, "weight": 1.0},
}
BASELINES = tuple(BASELINE_PARAMS)


def baseline_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the baseline's defaults, or a ValueError naming the unknown baseline or
    parameter(s) and the known ones."""
    if name not in BASELINE_PARAMS:
        raise ValueError(f"unknown baseline {name!r}; use one of {list(BASELINES)}")
    known = BASELINE_PARAMS[name]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for baseline {name!r}; its parameters "
                         f"are {sorted(known) or 'none'}")
    return {**known, **params}


def baseline_scorer(name: str, data: Interactions, split: Split, **params: Any) -> Scorer:
    """The scorer of baseline ``name`` learned from ``data`` (the split's training matrix);
    ``split`` gives the as-of time of the trending counts."""
    p = baseline_params(name, params)
    if name == "popularity":
        return popularity_scorer(data)
    if name == "trending":
        return trending_scorer(data, split.train, as_of(split), p["days"])
    if name == "itemknn":
        return itemknn_scorer(data, p["neighbors"], p["shrink"])
    if name == "rp3beta":
        return rp3beta_scorer(data, p["alpha"], p["beta"], p["neighbors"])
    if name == "ease":
        return ease_scorer(data, p["lam"])
    prior = trending_prior(split.item_ids, split.train, as_of(split), p["days"])
    return ease_trending_scorer(data, prior, p["lam"], p["weight"])


def check_list_length(n: int, n_items: int) -> int:
    """``n`` as an int in [1, catalogue size], or a ValueError naming both."""
    n = _check_int("n", n, 1)
    if n > n_items:
        raise ValueError(
            f"n={n} is larger than the catalogue ({n_items} items); use n <= {n_items}")
    return n


def rank_users(split: Split, data: Interactions, scorer: Scorer, fallback: Scorer,
               users: Sequence[Any], n: int, batch: int = 1024) -> np.ndarray:
    """Top-``n`` item ids per user from ``scorer`` (``fallback`` for users without training
    interactions), each user's training items excluded; -1 pads short lists."""
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


#: Baselines that give everybody the same list: they are their own fallback.
NON_PERSONAL = ("popularity", "trending")


def _fallback(name: str, scorer: Scorer, data: Interactions) -> Scorer:
    """Whom users without training interactions get: the non-personal list itself, else
    popularity."""
    return scorer if name in NON_PERSONAL else popularity_scorer(data)


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
        name: one of :data:`BASELINES`; ``params`` as in :data:`BASELINE_PARAMS` (e.g.
            ``lam`` for "ease", ``neighbors`` and ``shrink`` for "itemknn").
        users: whom to recommend for (default: the split's evaluated users).
        batch: users scored at once (bounds memory: batch x catalogue floats).

    Returns:
        (users x n) int64 item ids, -1 where fewer than n unseen items exist.
    """
    users = split.users if users is None else np.asarray(users)
    n = check_list_length(n, split.n_items)
    data = interaction_matrix(split.train, split.item_ids)
    scorer = baseline_scorer(name, data, split, **params)
    return rank_users(split, data, scorer, _fallback(name, scorer, data), users, n, batch)


def evaluate_baseline_grid(
    name: str,
    split: Split,
    points: Sequence[Mapping[str, Any]],
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    *,
    relevance: str = "positive",
    label: str | None = None,
) -> list[EvaluationResult]:
    """Score one baseline at several parameter points on the split, one result per point.

    The training matrix is built once, so the points share its memoized work (one EASE
    eigendecomposition for every ``lam``, one RP3beta walk for every ``alpha``/``beta``).
    """
    ks = check_cutoffs(cutoffs)
    check_list_length(max(ks), split.n_items)
    for p in points:
        baseline_params(name, p)  # every point checked before any work
    users, relevant = relevant_or_raise(split, relevance)
    data = interaction_matrix(split.train, split.item_ids)
    out = []
    for p in points:
        t0 = time.perf_counter()
        scorer = baseline_scorer(name, data, split, **p)
        ranked = rank_users(split, data, scorer, _fallback(name, scorer, data), users, max(ks))
        out.append(EvaluationResult.score(
            label or name, users, ranked, relevant, ks, split.n_items,
            users_skipped=split.n_skipped(users), seconds=round(time.perf_counter() - t0, 3)))
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
    return evaluate_baseline_grid(name, split, [params], cutoffs, relevance=relevance,
                                  label=label)[0]


def evaluate_baselines(
    split: Split,
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    models: Sequence[str] = BASELINES,
    *,
    relevance: str = "positive",
    ease_lambda: float = DEFAULT_EASE_LAMBDA,
    knn_neighbors: int | None = DEFAULT_KNN_NEIGHBORS,
) -> dict[str, EvaluationResult]:
    """Score several baselines on the split at their defaults: name -> :class:`EvaluationResult`.

    ``pd.DataFrame([r.row for r in results.values()])`` gives the table: model, the metrics,
    users, users_skipped (too little history or nothing new held out), seconds. To choose
    parameters on a validation split instead, see :func:`~recsys_nb.evaluate.tune_baseline`.
    """
    unknown = [m for m in models if m not in BASELINES]
    if unknown or not models:
        raise ValueError(f"unknown baseline(s) {unknown}; use some of {list(BASELINES)}")
    params: dict[str, dict[str, Any]] = {
        "itemknn": {"neighbors": knn_neighbors}, "ease": {"lam": ease_lambda},
        "ease_trending": {"lam": ease_lambda}}
    return {name: evaluate_baseline(name, split, cutoffs, relevance=relevance,
                                    **params.get(name, {}))
            for name in models}
