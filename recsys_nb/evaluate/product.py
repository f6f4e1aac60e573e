"""Measure the product itself: a recommender built on the training data, used as users use it.

:func:`evaluate` replays the training events through the public bulk ``ingest`` and asks the
public ``recommend`` for every scored user, so the numbers are the product's numbers, HNSW
search in Chroma included. It never imports ``recommender``: anything that satisfies
:class:`Evaluable` can be measured.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from recsys_nb.data import Dataset
from recsys_nb.evaluate.baselines import check_list_length
from recsys_nb.evaluate.metrics import DEFAULT_CUTOFFS, check_cutoffs, ranking_metrics
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.splits import Split, _key, relevant_or_raise
from recsys_nb.progress import progress_bar
from recsys_nb.topn import top_n


@runtime_checkable
class Evaluable(Protocol):
    """Exactly what :func:`evaluate` needs from a recommender.

    ``recommend`` returns a frame with an ``item_id`` column, best first, the user's seen items
    already excluded; it receives ``n`` and the ``recommend=`` keyword arguments of
    :func:`evaluate`. ``model_id`` labels the row when no ``name`` is given.
    """

    model_id: str

    def ingest(self, events: pd.DataFrame) -> Any: ...

    def recommend(self, user_id: Any, n: int = 10, **kwargs: Any) -> pd.DataFrame: ...

    def close(self) -> None: ...


@runtime_checkable
class ExactEvaluable(Evaluable, Protocol):
    """What ``evaluate(..., exact=True)`` reads besides: the item vectors, each user's interest
    vector and the popularity prior (``prior_weight * item_prior()`` is added to the cosine)."""

    item_ids: np.ndarray
    prior_weight: float

    def item_vector(self, item_id: int) -> np.ndarray: ...

    def interest(self, user_id: Any) -> np.ndarray: ...

    def item_prior(self) -> np.ndarray: ...


@runtime_checkable
class MergedExactEvaluable(Evaluable, Protocol):
    """A recommender whose lists merge several searches per user (``max_interests > 1``): its
    exact list is its own, ``exact_top(user, n, exclude) -> (item ids, scores) | None``."""

    max_interests: int

    def exact_top(self, user_id: Any, n: int, exclude: Any = ()) -> Any: ...


#: ``factory(train_dataset, store_path) -> Evaluable``, e.g.
#: ``lambda ds, path: Recommender.from_dataset(ds, path, progress=False)``.
RecommenderFactory = Callable[[Dataset, Path], Evaluable]


def evaluate(
    recommender_factory: RecommenderFactory,
    split: Split,
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    *,
    recommend: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
    name: str | None = None,
    relevance: str = "positive",
    exact: bool = False,
    progress: bool = False,
    online: bool = False,
) -> EvaluationResult:
    """Measure a recommender the way users meet it: bulk ``ingest`` then ``recommend``.

    ``recommender_factory(train_dataset, path)`` returns a fresh recommender for the training
    data. The training events go in through ``rec.ingest(split.train)``; every scored user is
    then asked ``rec.recommend(user, n=max(cutoffs), **recommend)``.

    Args:
        recommend: extra ``recommend`` keyword arguments, e.g. ``{"mode": "predicted",
            "window": 10}`` to measure the momentum prediction.
        path: store folder passed to the factory; it must be empty or absent (a store with
            events would mix other users' data into the measurement). Default: a temporary
            folder, deleted afterwards.
        name: the result's label (default: the recommender's ``model_id``).
        relevance: "positive" (default) or "all" held-out events (see :meth:`Split.relevant`).
        exact: also rank by exact score with each user's interest vector
            (:class:`ExactEvaluable`), to separate the quality of the vectors from the loss of
            the approximate (HNSW) search. Adds ``exact_recall@K``, ``exact_ndcg@K`` and
            ``ann_overlap@K`` (share of the exact top-K that ``recommend`` returned; an item
            tied in exact score with the K-th counts as found). Users without an interest
            vector keep their ``recommend`` list. A recommender with several interests per user
            (:class:`MergedExactEvaluable`, ``max_interests > 1``) gives its exact merged list
            through ``exact_top`` (then ties earn no credit in ``ann_overlap``).
        progress: show a progress bar over the scored users.
        online: ingest each scored user's training events just before asking for their list,
            users in the order of their newest training event, instead of all at once first.
            A recommender that learns from every event it sees (the trending prior) then knows,
            for each user, only events that happened before that user's list was asked for:
            the protocol for new users whose first events come after a global cut-off
            (:func:`recsys_nb.evaluate.new_users.new_user_split`).

    Returns:
        An :class:`EvaluationResult`; its row adds users_skipped, seen_recommended (training
        items the recommender returned; should be 0), short_lists (users who got fewer than
        max(cutoffs) items), build_s, ingest_s, recommend_s, ms_per_user.

    Raises:
        ValueError: a cut-off larger than the catalogue, a non-empty ``path``, an empty split.
    """
    ks = check_cutoffs(cutoffs)
    n = check_list_length(max(ks), split.n_items)
    users, relevant = relevant_or_raise(split, relevance)
    kwargs = dict(recommend or {})
    if "n" in kwargs or "user_id" in kwargs:
        raise ValueError(f"recommend={kwargs!r} must not set n or user_id: evaluate sets them "
                         "(the list length is max(cutoffs))")
    tmp = None
    if path is None:
        tmp = store = Path(tempfile.mkdtemp(prefix="recsys_nb_eval_"))
    else:
        store = Path(path)
        if store.exists() and any(store.iterdir()):
            raise ValueError(
                f"path {str(store)!r} is not empty; evaluation needs a fresh store "
                "(pass an empty folder, call recsys_nb.store.reset_store on it, or path=None)"
            )
    try:
        t0 = time.perf_counter()
        rec = recommender_factory(split.train_dataset(), store)
        t1 = time.perf_counter()
        try:
            ranked = np.full((len(users), n), -1, dtype=np.int64)
            if online:

                def answer(r: int, key: Any) -> None:
                    got = rec.recommend(key, n=n, **kwargs)["item_id"].to_numpy(np.int64)[:n]
                    ranked[r, : len(got)] = got

                t2, t3 = _online(rec, split, users, answer, name, progress)
            else:
                rec.ingest(split.train)
                t2 = time.perf_counter()
                shown = progress_bar(users, name or "users", enabled=progress, total=len(users))
                for r, u in enumerate(shown):
                    got = rec.recommend(_key(u), n=n, **kwargs)["item_id"].to_numpy(np.int64)[:n]
                    ranked[r, : len(got)] = got
                t3 = time.perf_counter()
            label = name if name is not None else str(getattr(rec, "model_id", "recommender"))
            exact_ranked, exact_scores = (
                _exact_ranking(rec, users, split, n, ranked) if exact else (None, None))
        finally:
            rec.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    seen = split.seen(users)
    leaked = sum(int(np.isin(row[row >= 0], s).sum()) for row, s in zip(ranked, seen,
                                                                         strict=True))
    extra: dict[str, Any] = {
        "users_skipped": split.n_skipped(users),
        "seen_recommended": leaked,
        "short_lists": int((ranked[:, -1] < 0).sum()),
        "build_s": round(t1 - t0, 3),
        "ingest_s": round(t2 - t1, 3),
        "recommend_s": round(t3 - t2, 3),
        "ms_per_user": round(1000 * (t3 - t2) / len(users), 3),
    }
    if exact_ranked is not None:
        ideal = ranking_metrics(exact_ranked, relevant, ks)
        for kk in ks:
            extra[f"exact_recall@{kk}"] = ideal[f"recall@{kk}"]
            extra[f"exact_ndcg@{kk}"] = ideal[f"ndcg@{kk}"]
            extra[f"ann_overlap@{kk}"] = ann_overlap(ranked[:, :kk], exact_ranked[:, :kk],
                                                     exact_scores)
    return EvaluationResult.score(label, users, ranked, relevant, ks, split.n_items, **extra)


def _online(rec: Any, split: Split, users: np.ndarray, answer: Callable[[int, Any], None],
            name: str | None, progress: bool) -> tuple[float, float]:
    """``evaluate(online=True)``: per user, oldest newest-event first, ingest then
    ``answer(row, user key)``. Returns the clock after the ingests' share (t2, a sum moved to
    the start) and at the end."""
    train = split.train
    newest = train.groupby("user_id", sort=False)["timestamp"].max()
    keys = [_key(u) for u in users]
    order = np.argsort(newest.reindex(keys).fillna(-np.inf).to_numpy(), kind="stable")
    groups = dict(tuple(train.groupby("user_id", sort=False)))
    start, ingest_s = time.perf_counter(), 0.0
    shown = progress_bar(order, name or "users", enabled=progress, total=len(order))
    for r in shown:
        t = time.perf_counter()
        events = groups.get(keys[r])
        if events is not None:
            rec.ingest(events)
        ingest_s += time.perf_counter() - t
        answer(int(r), keys[r])
    return start + ingest_s, time.perf_counter()


def evaluate_variants(
    recommender_factory: RecommenderFactory,
    split: Split,
    variants: Mapping[str, Mapping[str, Any]],
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    *,
    online: bool = False,
    progress: bool = False,
) -> dict[str, EvaluationResult]:
    """:func:`evaluate` of several settings that only rank, from ONE replay of the events.

    ``variants`` maps a label to ``rec.set_params`` keywords (parameters that change what is
    searched, never the stored profiles: the cold-start strategies, ``merge``, ``diversity``,
    ``popularity_weight``); each user's list is asked once per variant, right after the same
    ingest, on top of the recommender's own values of every keyword any variant sets (so ``{}``
    is the recommender as built, whatever variant came before). The lists equal those of one
    :func:`evaluate` per variant (a test checks it), for a fraction of the cost: online, the
    replay (ingest, prior refreshes) is most of it.

    Raises:
        ValueError: no variant, or as :func:`evaluate`.
    """
    if not variants:
        raise ValueError("variants is empty; pass {label: set_params keywords, ...}")
    ks = check_cutoffs(cutoffs)
    n = check_list_length(max(ks), split.n_items)
    users, relevant = relevant_or_raise(split, "positive")
    ranked = {label: np.full((len(users), n), -1, dtype=np.int64) for label in variants}
    store = Path(tempfile.mkdtemp(prefix="recsys_nb_eval_"))
    try:
        rec = recommender_factory(split.train_dataset(), store)
        try:
            built = {k: getattr(rec, k) for params in variants.values() for k in params}

            def answer(r: int, key: Any) -> None:
                for label, params in variants.items():
                    rec.set_params(**{**built, **params})
                    got = rec.recommend(key, n=n)["item_id"].to_numpy(np.int64)[:n]
                    ranked[label][r, : len(got)] = got

            if online:
                _online(rec, split, users, answer, "variants", progress)
            else:
                rec.ingest(split.train)
                for r, u in enumerate(progress_bar(users, "variants", enabled=progress)):
                    answer(r, _key(u))
        finally:
            rec.close()
    finally:
        shutil.rmtree(store, ignore_errors=True)
    seen = split.seen(users)
    out = {}
    for label, lists in ranked.items():
        leaked = sum(int(np.isin(row[row >= 0], s).sum()) for row, s in zip(lists, seen,
                                                                           strict=True))
        out[label] = EvaluationResult.score(label, users, lists, relevant, ks, split.n_items,
                                            users_skipped=split.n_skipped(users),
                                            seen_recommended=leaked)
    return out


def _exact_ranking(
    rec: Any, users: np.ndarray, split: Split, n: int, fallback: np.ndarray
) -> tuple[np.ndarray, dict[int, dict[int, float]]]:
    """Exact top-``n`` of each user's interest vector (cosine, plus the recommender's popularity
    prior when it has one), training items excluded; and, per ranked row with a vector, the exact
    score of every item (item id -> score) to judge ties."""
    if getattr(rec, "max_interests", 1) > 1:
        return _exact_merged(rec, users, split, n, fallback)
    if not isinstance(rec, ExactEvaluable):
        raise TypeError(f"exact=True needs the ExactEvaluable interface; {type(rec).__name__} "
                        "lacks some of item_ids, item_vector, interest, prior_weight, item_prior")
    item_ids = np.asarray(rec.item_ids, dtype=np.int64)
    matrix = np.stack([rec.item_vector(int(i)) for i in item_ids]).astype(np.float64)
    prior_term = float(rec.prior_weight) * rec.item_prior()
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
        out[rows] = top_n(all_scores, n, seen, item_ids)[0]
        for j, r in enumerate(rows):
            wanted = np.unique(np.concatenate([out[r], fallback[r]]))
            wanted = wanted[wanted >= 0]
            scores[r] = dict(zip(wanted.tolist(), all_scores[j, col.get_indexer(wanted)].tolist(),
                                 strict=True))
    return out, scores


def _exact_merged(
    rec: Any, users: np.ndarray, split: Split, n: int, fallback: np.ndarray
) -> tuple[np.ndarray, dict[int, dict[int, float]]]:
    """:func:`_exact_ranking` for several interests per user: each user's exact merged list from
    ``rec.exact_top`` (a merge ranks by turns or penalized scores, not by one score per item, so
    no tie scores are returned)."""
    if not isinstance(rec, MergedExactEvaluable):
        raise TypeError(f"exact=True with max_interests > 1 needs exact_top(user, n, exclude); "
                        f"{type(rec).__name__} lacks it")
    out = fallback.copy()
    for r, (u, seen) in enumerate(zip(users, split.seen(users), strict=True)):
        got = rec.exact_top(_key(u), n, seen)
        if got is None:  # no interest: the recommender answered with popular items
            continue
        ids = np.asarray(got[0], dtype=np.int64)[:n]
        out[r] = -1
        out[r, : len(ids)] = ids
    return out, {}


def ann_overlap(a: np.ndarray, b: np.ndarray, scores: dict[int, dict[int, float]] | None = None,
                tie: float = 1e-6) -> float:
    """Mean share of each row of ``b`` (the exact top-K, valid ids) found in the same row of ``a``.

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
