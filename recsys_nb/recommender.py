"""The service: events in, recommendations out.

``Recommender`` is the one object notebooks and user code call. It keeps

- the items of one embedding model in Chroma (``ItemStore``) and in memory (for fast updates),
- one interest vector per user in Chroma (``ProfileStore``),
- every interaction in an append-only SQLite event log (``EventLog``), the source of truth.

Every event updates the user's interest vector with the technique's math (``recsys_nb.vectors``):

- first positive event (view or favorite): cold start, ``v = e``;
- view / favorite: ``v = normalize((1 - alpha) * v + alpha * e)``, ``alpha_favorite > alpha_view``;
- not interested: ``v = normalize(v - factor * e)``. When that would cancel the vector
  (overshoot) the previous vector is kept, the event is still logged (the item stays excluded
  from recommendations) and the result says so. A not-interested before any positive event
  creates no vector: there is nothing to move away from yet.

Recommendations are a cosine top-N search in Chroma with the interest vector, seen items (viewed,
favorited or marked not interested) excluded. A user without a vector gets the most popular items.
With item counts (``from_dataset`` passes them), the search ranks by
``cosine + popularity_weight * p`` where ``p`` in [0, 1] is a popularity prior folded into the
stored item vectors (``ItemStore``), still one Chroma query: among items equally close to your
interest, the ones many people watch are the safer bet. By default ``p`` is the trending prior
(``recsys_nb.priors``: recent views and favorites count most, kept up to date as events
arrive); ``prior="popularity"`` uses all-time counts, ``log1p(count) / max log1p(count)``.

``interests=k`` (k > 1) keeps up to k interest vectors per user behind the same event API: each
event moves the nearest interest, or starts a new one when it is far from all
(:mod:`recsys_nb.interests`); the rows live in their own collection
(:mod:`recsys_nb.interest_store`, through :mod:`recsys_nb.interest_profiles`) and a
recommendation merges one search per interest. ``interests=1`` (the default) is the code path
described above, unchanged.

``cold_start`` picks how a user with only a few events is served (:mod:`recsys_nb.cold_start`):
the technique's first item (default), blended with the nearest user segment
(:mod:`recsys_nb.segments`), or the popular / trending list for the first ``cold_events`` events.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import interests as mi
from recsys_nb import replay, vectors
from recsys_nb.cold_start import COLD_START_PARAMS, ColdStart, check_cold_start, cold_query
from recsys_nb.data import Dataset
from recsys_nb.embeddings import ItemVectors, embed_items
from recsys_nb.eventlog import EventLog
from recsys_nb.interest_profiles import InterestProfiles
from recsys_nb.interest_store import clear_model
from recsys_nb.kinds import EVENT_KINDS, KINDS, operations
from recsys_nb.priors import TrendingCounts, check_prior, popularity_prior
from recsys_nb.store import (
    ItemStore,
    ProfileStore,
    StoreLock,
    default_store_path,
    embedding_cache_path,
    get_client,
    server_address,
    user_key,
)
from recsys_nb.threads import serialized
from recsys_nb.topn import top_n

#: What ``embedding="default"`` means: "blend" item vectors learned from the events (sequence +
#: SVD, ``embeddings.embed_items``). Measured in notebook 06 (`make report`): text (MiniLM)
#: vectors recall far less on MovieLens than learned ones, and blend beats plain SVD.
DEFAULT_EMBEDDING = "blend"
#: Size of the learned item vectors per embedding when ``from_dataset(dim=None)``. Collaborative
#: SVD (power 1), measured by `make report` without the prior: Recall@50 0.196 at 32-d vs 0.183 at
#: 64-d and 0.152 at 128-d (with the prior 0.258 / 0.265 / 0.259); "blend" uses 64 + 64.
DEFAULT_DIMS = {"collaborative": 32, "hybrid": 32, "blend": 64}
DEFAULT_DIM = DEFAULT_DIMS[DEFAULT_EMBEDDING]
#: Random seed of the learned item vectors and the text share of the "hybrid" embedding.
DEFAULT_SEED = 0
DEFAULT_TEXT_WEIGHT = 0.3
#: ``popularity_weight`` 2 is the trending prior's: chosen among 1 / 1.5 / 2 / 3 and the all-time
#: prior at 0.3 / 0.65 on the rolling protocol's validation cut-offs, through the product
#: (``benchmarks/rolling_recommender.py``: Recall@50 0.1351 vs 0.1335 at 1.5 and 0.0885 for the
#: all-time prior at 0.65, the previous default). With ``prior="popularity"`` pass 0.65.
DEFAULT_PARAMS = {"alpha_view": 0.25, "alpha_favorite": 0.45, "not_interested_factor": 0.1,
                  "popularity_weight": 2.0}
#: Which popularity prior the store folds in (``recsys_nb.priors``), fixed when it is built:
#: "trending" (what people watch now), the strongest single signal without a leak (notebook 06).
PRIOR_DEFAULTS = {"prior": "trending", "half_life_events": 1000.0}
#: The trending prior is stored again every this many live or ingested events, for
#: the items whose value moved by more than ``PRIOR_REFRESH_TOLERANCE``. Writing the event's item
#: at every event doubled the cost of a view (an item update in Chroma's index ~20-50 ms here);
#: in batches the ranking's prior lags the live counts by at most 50 events.
PRIOR_REFRESH_EVENTS = 50
PRIOR_REFRESH_TOLERANCE = 0.01
#: Several interests per user (``interests > 1``; 1 = one vector, the technique as written):
#: the threshold and fade are measured defaults, see :mod:`recsys_nb.interests`.
MULTI_INTEREST_PARAMS = {"interests": 1, "interest_threshold": mi.DEFAULT_THRESHOLD,
                         "interest_fade": mi.DEFAULT_FADE, "merge": mi.DEFAULT_MERGE,
                         "diversity": mi.DEFAULT_DIVERSITY}
#: The multi-interest parameters :meth:`Recommender.set_params` changes live: they only rank.
LIVE_MERGE_PARAMS = ("merge", "diversity")
#: Cold-start strategies only choose what is searched, never the stored vectors: all are live.
LIVE_COLD_START_PARAMS = tuple(COLD_START_PARAMS)


def item_counts(events: pd.DataFrame) -> pd.Series:
    """Events per item (any kind), most popular first: what ``from_dataset`` passes on."""
    return events["item_id"].value_counts(sort=True)


class OvershootWarning(UserWarning):
    """A not-interested subtraction would have cancelled the interest vector; it was skipped."""


@dataclass(frozen=True)
class UpdateResult:
    """What one recorded event did to the user's profile."""

    user_id: int | str
    item_id: int
    kind: str
    seq: int
    cold_start: bool
    overshoot: bool
    profile_changed: bool
    message: str


@dataclass(frozen=True)
class IngestReport:
    """Summary of a bulk :meth:`Recommender.ingest`."""

    events: int
    users: int
    profiles_written: int
    overshoots: int
    seconds: float


def _check_alpha(name: str, value: float) -> float:
    value = float(value)
    if not (0.0 < value <= 1.0) or not np.isfinite(value):
        raise ValueError(f"{name}={value} is outside (0, 1]; pass a value such as 0.3")
    return value


def _check_nonnegative(name: str, value: float, example: str) -> float:
    value = float(value)
    if not (value >= 0.0) or not np.isfinite(value):
        raise ValueError(f"{name}={value} must be a finite number >= 0; pass e.g. {example}")
    return value


def _default_dim(embedding: str, dataset: Dataset) -> int:
    """``DEFAULT_DIMS[embedding]``, lowered (with a warning) when the dataset is too small for it:
    learned vectors need fewer dimensions than users and items with events."""
    dim = DEFAULT_DIMS.get(embedding, DEFAULT_DIM)
    if embedding == "minilm":
        return dim
    positive = dataset.events[dataset.events["kind"] != "not_interested"]
    positive = positive[positive["item_id"].isin(dataset.items["item_id"])]
    feasible = min(positive["user_id"].nunique(), positive["item_id"].nunique()) - 1
    if 1 <= feasible < dim:
        warnings.warn(
            f"only {positive['user_id'].nunique()} users and {positive['item_id'].nunique()} "
            f"items with events: using dim={feasible} instead of {dim} for {embedding!r} item "
            "vectors (pass dim= to choose)",
            UserWarning,
            stacklevel=3,
        )
        return feasible
    return dim


@dataclass(frozen=True)
class _Replayed:
    vectors: dict[str, np.ndarray]  # final vector per user key (users left cold are absent)
    skipped: int  # events that would have cancelled a vector (kept the previous one)


class Recommender:
    """Interest-vector recommendations over a Chroma store, with an event log.

    Build one with :meth:`from_dataset`. Parameters are readable attributes; they are validated at
    construction (ValueError naming the value). Use as a context manager, or call :meth:`close`.

    Args:
        items: the dataset's items frame (item_id, title, ...).
        item_vectors: the items' embeddings (``recsys_nb.embeddings.embed_items``).
        path: folder holding the embedded Chroma store (``chroma/``) and the event log
            (``events.sqlite``).
        popularity: a Series item id -> event count (:func:`item_counts`): the cold-start answer
            (most popular first) and the popularity prior; or item ids, most popular first (the
            cold-start answer only: no prior, ``popularity_weight`` has no effect). With
            ``popularity_weight=0`` the store holds plain vectors (no prior either).
        alpha_view, alpha_favorite: EMA weights of views and favorites, in (0, 1].
        not_interested_factor: how far a not-interested pushes away, >= 0.
        popularity_weight: weight of the popularity prior in the ranking, finite >= 0 (0 = pure
            cosine).
        prior: "popularity" (all-time counts of ``popularity``, a snapshot taken when the store
            is built) or "trending" (``recsys_nb.priors``: each view or favorite weighing
            ``0.5 ** (later events / half_life_events)``, counted from ``prior_events`` in time
            order, then kept up to date: every view or favorite newer than their newest is
            counted as it arrives, also after reopening, from the event log; an item is stored
            again once its prior moved by ``PRIOR_REFRESH_TOLERANCE``, checked every
            ``PRIOR_REFRESH_EVENTS`` events, ingested ones included). Cold-start answers follow
            the prior.
        half_life_events: how many later events halve an event's weight in the trending prior.
        prior_events: the events (item_id, timestamp, kind) the trending prior starts from,
            e.g. ``dataset.events`` (``from_dataset`` passes them). Events of the log that are
            not newer than their newest one are taken as already counted, so ingesting the same
            history again (as an evaluation does) does not count it twice.
        lock_timeout: seconds to wait for another process to close an embedded store.
        hnsw: HNSW settings of a new items collection (``store.ItemStore``), e.g.
            ``{"ef_search": 64, "max_neighbors": 32}`` for a catalogue of millions
            (``make bench SCALE=1M`` measures the trade-off); single-node Chroma only.
        forget_users: start without users: the event log and this model's profiles are emptied
            first; the items collections are kept. This is how one store folder serves many
            configurations in turn (``recsys_nb.experiment``) while the ~9,000 items are indexed
            once per embedding.
        interests: up to this many interest vectors per user (an int >= 1). 1 (the default) is
            the technique as written, one vector per user. Above 1, each event updates the
            nearest interest or starts a new one (:mod:`recsys_nb.interests`), the rows live in
            their own collection (:mod:`recsys_nb.interest_store`) and :meth:`recommend` merges
            one search per interest.
        interest_threshold: cosine in [-1, 1] below which a positive event starts a new interest
            (default measured on MovieLens: ``interests.DEFAULT_THRESHOLD``).
        interest_fade: weight kept per positive event by every interest, in (0, 1].
        merge: how the per-interest lists become one: "round_robin" (shares by weight) or
            "score" (best penalized score); see :func:`recsys_nb.interests.merge`.
        diversity: in [0, 1]; 1 gives weak interests as much room as strong ones.
        cold_start: "first_item" (the technique), "segment", "popular" or "trending"
            (:mod:`recsys_nb.cold_start`); anything but "first_item" needs ``interests=1``.
        segments: the user segments "segment" blends with (:func:`recsys_nb.segments.
            fit_segments`, in this item space).
        segment_weight: the nearest centroid's share in the search at a user's first event, in
            [0, 1], fading as ``(1 - alpha_view) ** (events - 1)``.
        cold_events: "popular" / "trending" serve their list while the user has at most this
            many events.
    """

    def __init__(
        self,
        items: pd.DataFrame,
        item_vectors: ItemVectors,
        path: str | Path,
        popularity: pd.Series | Sequence[int] = (),
        *,
        alpha_view: float = DEFAULT_PARAMS["alpha_view"],
        alpha_favorite: float = DEFAULT_PARAMS["alpha_favorite"],
        not_interested_factor: float = DEFAULT_PARAMS["not_interested_factor"],
        popularity_weight: float = DEFAULT_PARAMS["popularity_weight"],
        prior: str = PRIOR_DEFAULTS["prior"],
        half_life_events: float = PRIOR_DEFAULTS["half_life_events"],
        prior_events: pd.DataFrame | None = None,
        lock_timeout: float = 0.0,
        hnsw: dict[str, Any] | None = None,
        forget_users: bool = False,
        interests: int = MULTI_INTEREST_PARAMS["interests"],
        interest_threshold: float = MULTI_INTEREST_PARAMS["interest_threshold"],
        interest_fade: float = MULTI_INTEREST_PARAMS["interest_fade"],
        merge: str = MULTI_INTEREST_PARAMS["merge"],
        diversity: float = MULTI_INTEREST_PARAMS["diversity"],
        cold_start: str = COLD_START_PARAMS["cold_start"],
        segments: Any = COLD_START_PARAMS["segments"],
        segment_weight: float = COLD_START_PARAMS["segment_weight"],
        cold_events: int = COLD_START_PARAMS["cold_events"],
    ) -> None:
        # Every public method runs under this lock (recsys_nb.threads): widget callbacks may come
        # from another thread, and an update is a read-modify-write of the stored vector.
        self._mutex = threading.RLock()
        (self.max_interests, self.interest_threshold, self.interest_fade, self.merge,
         self.diversity) = mi.check_params(interests, interest_threshold, interest_fade, merge,
                                           diversity)
        # interests > 1: the rows live in InterestProfiles; None keeps the single-vector path.
        self._multi: InterestProfiles | None = None
        self.alpha_view = _check_alpha("alpha_view", alpha_view)
        self.alpha_favorite = _check_alpha("alpha_favorite", alpha_favorite)
        self.not_interested_factor = _check_nonnegative(
            "not_interested_factor", not_interested_factor, "0.3")
        self.popularity_weight = _check_nonnegative(
            "popularity_weight", popularity_weight, "2 (0 = off)")
        self.prior, self.half_life_events = check_prior(prior, half_life_events)
        self.path = Path(path)
        self.model_id = item_vectors.model_id
        self.dim = int(item_vectors.vectors.shape[1])
        self._vectors = np.ascontiguousarray(item_vectors.vectors, dtype=np.float32)
        self._item_ids = np.asarray(item_vectors.item_ids, dtype=np.int64)
        self._row = {int(i): r for r, i in enumerate(self._item_ids)}
        self.items = items.set_index("item_id", drop=False).loc[self._item_ids]
        prior = None
        if isinstance(popularity, pd.Series):  # counts: order by count, and the prior
            counts = popularity[popularity.index.isin(self._item_ids)]
            counts = counts.sort_values(ascending=False, kind="stable")
            # Weight 0: plain vectors. The augmented store with a zero-weight query ranks the
            # same in theory, but HNSW finds it worse: top-50 overlap with the exact ranking
            # 0.82 vs 0.93 for plain "blend" vectors on MovieLens (0.99+ at weight 0.3 or more).
            if self.popularity_weight > 0:
                prior = popularity_prior(counts)
            popularity = counts.index
        self._trend: TrendingCounts | None = None
        if self.prior == "trending" and prior is not None:
            if prior_events is None:
                raise ValueError(
                    "prior='trending' needs prior_events (the events with item_id, timestamp "
                    "and kind it counts, e.g. dataset.events); pass them, or prior='popularity'")
            self._trend = TrendingCounts(len(self._item_ids), self.half_life_events)
            self._trend_seed = -np.inf
            seed = prior_events.sort_values("timestamp", kind="stable")
            self._count_trending(seed["item_id"].to_numpy(dtype=np.int64),
                                 seed["timestamp"].to_numpy(dtype=np.float64),
                                 seed["kind"].to_numpy())
            prior = pd.Series(self._trend.values(), index=self._item_ids)
            self._trend_flushed = self._trend.events
            # events up to this time are in prior_events: the log's count only when newer
            self._trend_seed = float(seed["timestamp"].max()) if len(seed) else -np.inf
        self._popular = [int(i) for i in popularity if int(i) in self._row]
        self._set_cold_start(check_cold_start(
            cold_start, segments, segment_weight, cold_events, dim=self.dim,
            trending=self._trend is not None, interests=self.max_interests))
        self._all_time = list(self._popular)
        # Without counts the prior is off: the store holds plain vectors.
        self._prior_weight = self.popularity_weight if prior is not None else 0.0
        self._prior = np.zeros(len(self._item_ids))
        if prior is not None:
            self._prior = np.array(prior.reindex(self._item_ids).fillna(0.0), dtype=np.float64)
        # Cold-start score: popularity rank scaled to (0, 1], 1.0 for the most popular item.
        self._popular_score = {
            i: 1.0 - r / len(self._popular) for r, i in enumerate(self._popular)
        }
        self._all_time_score = {
            i: 1.0 - r / len(self._all_time) for r, i in enumerate(self._all_time)}
        self._popular_ranked = False  # by the trending prior, once it is known
        self.server = server_address()
        # Embedded mode: this process owns the folder until close() (see StoreLock for why).
        self._lock = None if self.server else StoreLock(self.path / "chroma", lock_timeout)
        try:
            self.client = get_client(self.path / "chroma")
            self.item_store = ItemStore(
                self.client, self.model_id, self.dim, item_vectors.text_model, prior=prior,
                prior_key=(f"trend-{self.half_life_events:g}e" if self._trend is not None
                           else None), hnsw=hnsw,
            )
            if self.item_store.count() != len(self._item_ids):
                self.item_store.add_items(self.items.reset_index(drop=True), self._vectors)
            elif self._trend is not None:  # a trending store holds the prior of its last use
                self._prior = self.item_store.stored_prior(self._item_ids)
            self.profiles = ProfileStore(self.client, self.model_id, self.dim)
            if self.max_interests > 1:
                self._multi = InterestProfiles(
                    self.client, self.model_id, self._vectors, k=self.max_interests,
                    threshold=self.interest_threshold, fade=self.interest_fade,
                    merge=self.merge, diversity=self.diversity, cache=self.server is None)
            self.log = EventLog(self.path / "events.sqlite")
            if forget_users:
                self.log.clear()
                self.profiles.delete_all()
                clear_model(self.client, self.model_id)  # every interests=k's rows too
                if self._multi is not None:
                    self._multi.clear()
            if self._trend is not None:
                self._count_trending(*self.log.positive_after(self._trend_seed))
                # Starting without users, the store must hold exactly the data's prior: the
                # previous user of the folder may have left values within the tolerance, and
                # two configurations measured in turn would then start from different priors.
                # (1e-5, not 0: the store reads the prior back from float32 vectors)
                self._refresh_prior(tolerance=1e-5 if forget_users else PRIOR_REFRESH_TOLERANCE)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        # Profile cache: only in embedded mode, where this process is the only writer.
        self._cache: dict[str, tuple[np.ndarray, dict[str, Any]] | None] = {}
        # Seen items per user (embedded mode only, same reason): the SQLite lookup costs 1-4 ms
        # for users with 2,000 events, more than the whole search.
        self._seen_cache: dict[str, set[int]] = {}
        self._closed = False
        self.repaired = self._repair()

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        path: str | Path | None = None,
        embedding: str = "default",
        *,
        cache_path: str | Path | None = None,
        progress: bool = True,
        lock_timeout: float = 0.0,
        hnsw: dict[str, Any] | None = None,
        dim: int | None = None,
        seed: int = DEFAULT_SEED,
        text_weight: float = DEFAULT_TEXT_WEIGHT,
        **params: Any,
    ) -> Recommender:
        """Build (or reopen) the service for a dataset.

        Embeds the items (or reuses the embedding cache), stores them in Chroma and returns a
        ready service. Collaborative embeddings are learned only from ``dataset.events``, so an
        evaluation passes training events only. No profile is recorded here: :meth:`ingest` or the
        event methods do that. Reopening an existing ``path`` reuses its store and event log.

        Args:
            dataset: items and events (``recsys_nb.data.load_movielens()``).
            path: store folder; default ``data/store`` (``RECSYS_NB_DATA`` moves ``data``).
            embedding: "default" (= ``DEFAULT_EMBEDDING``), "blend", "collaborative", "minilm",
                "hybrid".
            cache_path: embedding cache file; default ``data/cache/embeddings.sqlite``.
            progress: show a progress bar while embedding.
            lock_timeout: seconds to wait when another process has the embedded store open.
            hnsw: HNSW settings of a new items collection (see the class docstring).
            dim, seed: size (default ``DEFAULT_DIMS[embedding]``) and random seed of the learned
                item vectors (collaborative, blend, the hybrid's collaborative part).
            text_weight: share of the text cosine in the "hybrid" embedding.
            **params: alpha_view, alpha_favorite, not_interested_factor, popularity_weight,
                prior, half_life_events, the multi-interest ones (``MULTI_INTEREST_PARAMS``:
                interests, interest_threshold, interest_fade, merge, diversity) and the
                cold-start ones (``COLD_START_PARAMS``).
        """
        known = {**DEFAULT_PARAMS, **PRIOR_DEFAULTS, **MULTI_INTEREST_PARAMS, **COLD_START_PARAMS}
        unknown = set(params) - set(known)
        if unknown:
            raise TypeError(f"unknown parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        name = DEFAULT_EMBEDDING if embedding == "default" else embedding
        cache = embedding_cache_path(cache_path)
        if dim is None:
            dim = _default_dim(name, dataset)
        item_vectors = embed_items(
            dataset.items, dataset.events, name, cache_path=cache, progress=progress,
            dim=dim, seed=seed, text_weight=text_weight,
        )
        popularity = item_counts(dataset.events)
        return cls(
            dataset.items,
            item_vectors,
            Path(path) if path is not None else default_store_path(),
            popularity,
            prior_events=dataset.events,
            lock_timeout=lock_timeout,
            hnsw=hnsw,
            **params,
        )

    def __repr__(self) -> str:
        where = f"server {self.server[0]}:{self.server[1]}" if self.server else str(self.path)
        return (
            f"Recommender(model={self.model_id!r}, items={len(self._item_ids)}, "
            f"alpha_view={self.alpha_view}, alpha_favorite={self.alpha_favorite}, "
            f"not_interested_factor={self.not_interested_factor}, "
            f"popularity_weight={self._prior_weight}, prior={self.prior!r}, "
            f"{self._interests_repr()}{self._cold_start_repr()}store={where})"
        )

    def _cold_start_repr(self) -> str:
        if self.cold_start == "first_item":
            return ""
        if self.cold_start == "segment":
            return f"cold_start='segment' ({self.segments.k} segments, weight " \
                   f"{self.segment_weight:g}), "
        return f"cold_start={self.cold_start!r} (first {self.cold_events} events), "

    def _set_cold_start(self, cs: ColdStart) -> None:
        self._cold = cs
        self.cold_start, self.segments = cs.strategy, cs.segments
        self.segment_weight, self.cold_events = cs.segment_weight, cs.cold_events

    def _interests_repr(self) -> str:
        if self._multi is None:
            return ""
        return (f"interests={self.max_interests}, interest_threshold={self.interest_threshold}, "
                f"interest_fade={self.interest_fade}, merge={self.merge!r}, "
                f"diversity={self.diversity}, ")

    @serialized
    def close(self) -> None:
        """Release the store: event log, Chroma client, the writer lock. Idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self.log.close()
        try:
            self.client.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> Recommender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten recommender must not keep the lock forever
        try:
            self.close()
        except Exception:
            pass

    # ---------------------------------------------------------------- items

    def _index(self, item_id: int) -> int:
        try:
            return self._row[int(item_id)]
        except (KeyError, TypeError, ValueError):
            raise KeyError(
                f"unknown item id {item_id!r}: not among the {len(self._row)} items of this "
                "recommender; use an item_id from dataset.items"
            ) from None

    def item_vector(self, item_id: int) -> np.ndarray:
        """The embedding of ``item_id`` (float32, unit length). KeyError for unknown ids."""
        return self._vectors[self._index(item_id)].copy()

    def item_matrix(self) -> np.ndarray:
        """A copy of every item's embedding, (n_items, dim) float32, rows in ``item_ids`` order."""
        return self._vectors.copy()

    def item_prior(self) -> np.ndarray:
        """Each item's popularity prior ``p`` in [0, 1] (``item_ids`` order); zeros without one."""
        return self._prior.copy()

    @property
    def prior_weight(self) -> float:
        """The popularity weight recommendations use: ``popularity_weight``, or 0 when the
        recommender was built without item counts (no prior)."""
        return self._prior_weight

    def score_items(self, query: np.ndarray) -> np.ndarray:
        """Exact ranking scores of every item for a query vector, ``item_ids`` order:
        ``cosine(query, item) + prior_weight * prior`` -- what :meth:`recommend` ranks by
        (Chroma's search is approximate; this is the exact reference, e.g. for evaluation)."""
        q = np.asarray(query, dtype=np.float64).reshape(-1)
        if q.shape != (self.dim,) or not np.isfinite(q).all() or not np.linalg.norm(q) > 0:
            raise ValueError(
                f"query must be a finite, non-zero vector of dimension {self.dim}; got shape "
                f"{np.asarray(query).shape}"
            )
        return self._vectors @ (q / np.linalg.norm(q)) + self._prior_weight * self._prior

    @serialized
    def exact_top(
        self, user_id: int | str, n: int, exclude: Sequence[int] = ()
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The exact counterpart of :meth:`recommend` with the items ``exclude``d: ``(item ids,
        scores)``, best first, or None for a user without an interest vector.

        Every interest ranks every item by :meth:`score_items`' score with numpy (no HNSW); with
        several interests the per-interest top ``n`` are merged by the same strategy as
        :meth:`recommend` (one list merged is that list). What ``evaluate(..., exact=True)``
        reads for ``interests > 1``.
        """
        self._check_open()
        try:
            state = self.interests(user_id)
        except KeyError:
            return None
        drop = np.array([self._row[int(i)] for i in exclude if int(i) in self._row],
                        dtype=np.int64)
        prior = self._prior_weight * self._prior
        if self._multi is not None:
            merged = self._multi.exact_top(state, self._item_ids, prior, int(n), drop)
            return merged.ids, merged.scores
        scores = self._vectors.astype(np.float64) @ state.vectors[0].astype(np.float64) + prior
        ids, top = top_n(scores[None, :], int(n), [drop], self._item_ids)
        keep = ids[0] >= 0
        return ids[0][keep], top[0][keep]

    @property
    def item_ids(self) -> np.ndarray:
        """All item ids, in the order of the embedding matrix."""
        return self._item_ids.copy()

    # ---------------------------------------------------------------- profiles

    def _profile(self, user_id: int | str) -> tuple[np.ndarray, dict[str, Any]] | None:
        key = user_key(user_id)
        if self.server is None and key in self._cache:
            return self._cache[key]
        got = self.profiles.get(user_id)  # fresh read: in server mode others may have written
        if self.server is None:
            self._cache[key] = got
        return got

    def _profiles_many(self, users: list) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        """Current profiles of many users, keyed by user key (users without one are absent)."""
        keys = [user_key(u) for u in users]
        if self.server is None:
            missing = [u for u, k in zip(users, keys, strict=True) if k not in self._cache]
            fetched = self.profiles.get_many(missing) if missing else {}
            for k in keys:
                if k not in self._cache:
                    self._cache[k] = fetched.get(k)
            return {k: self._cache[k] for k in keys if self._cache[k] is not None}
        return self.profiles.get_many(users)

    def _write_profiles(
        self, users: list, vecs: list[np.ndarray], counts: list[int], seqs: list[int]
    ) -> int:
        if not users:
            return 0
        matrix = np.asarray(vecs, dtype=np.float32)
        now = time.time()
        self.profiles.put_many(users, matrix, counts, seqs, now)
        if self.server is None:
            for u, v, c, s in zip(users, matrix, counts, seqs, strict=True):
                meta = {"event_count": c, "last_seq": s, "updated_at": now,
                        "model_id": self.model_id}
                self._cache[user_key(u)] = (v.copy(), meta)
        return len(users)

    @serialized
    def interest(self, user_id: int | str) -> np.ndarray | mi.Interests:
        """The stored interest vector of ``user_id``; with ``interests > 1`` all of them, as
        :class:`recsys_nb.interests.Interests` (vectors, weights, counts).

        Raises:
            KeyError: the user has no vector yet (no view or favorite recorded).
        """
        got = self._profile(user_id) if self._multi is None else self._multi.get(user_id)
        if got is None:
            raise KeyError(
                f"user {user_id!r} has no interest vector yet: record a view or favorite first "
                "(recommend() answers unknown users with popular items)"
            )
        if self._multi is not None:
            state = got[0]
            return mi.Interests(state.vectors.copy(), state.weights.copy(), state.counts.copy())
        return got[0].copy()

    @serialized
    def interests(self, user_id: int | str) -> mi.Interests:
        """Every interest of ``user_id`` with its weight and count, whatever ``interests`` is.

        With one interest per user (``interests=1``) this is the one vector, weight 1.0 and count
        the events folded into it (``event_count``, not-interested events included).

        Raises:
            KeyError: the user has no vector yet (no view or favorite recorded).
        """
        got = self.interest(user_id)
        if isinstance(got, mi.Interests):
            return got
        count = int(self._profile(user_id)[1].get("event_count", 0))
        return mi.Interests(got[None, :], np.ones(1), np.array([count], dtype=np.int64))

    @serialized
    def history(self, user_id: int | str, last: int | None = None) -> pd.DataFrame:
        """The user's events, oldest first (``last``: only the most recent N)."""
        user_key(user_id)
        return self.log.history(user_id, last=last)

    # ---------------------------------------------------------------- events

    def view(
        self, user_id: int | str, item_id: int, timestamp: float | None = None
    ) -> UpdateResult:
        """Record a view; the interest vector moves toward the item by ``alpha_view``."""
        return self._record(user_id, item_id, "view", timestamp)

    def favorite(
        self, user_id: int | str, item_id: int, timestamp: float | None = None
    ) -> UpdateResult:
        """Record a favorite; the interest vector moves toward the item by ``alpha_favorite``."""
        return self._record(user_id, item_id, "favorite", timestamp)

    def not_interested(
        self, user_id: int | str, item_id: int, timestamp: float | None = None
    ) -> UpdateResult:
        """Record "not interested"; the vector moves away: ``normalize(v - factor * e)``.

        If that would cancel the vector (overshoot), the previous vector is kept, an
        ``OvershootWarning`` is issued and the result has ``overshoot=True``. Before any positive
        event there is no vector to move: the event is logged (the item will not be recommended)
        and the profile stays empty.
        """
        return self._record(user_id, item_id, "not_interested", timestamp)

    @serialized
    def undo(self, user_id: int | str) -> pd.DataFrame:
        """Take back the user's newest event; their interest vector is recomputed without it.

        The event leaves the log (:meth:`EventLog.remove_last`) and the profile is replayed from
        the remaining history with the parameters each event recorded, so it equals the profile
        the user would have had without that action (none at all when no positive event is left).
        Returns the removed event as a one-row frame (empty when the user has no events).
        """
        self._check_open()
        key = user_key(user_id)
        removed = self.log.remove_last(user_id)
        if removed.empty:
            return removed
        self._seen_cache.pop(key, None)
        if self._trend is not None:  # the trending prior forgets it too
            self._count_trending(removed["item_id"], removed["timestamp"], removed["kind"], -1.0)
            self._refresh_prior()
        rest = self.log.history(user_id)
        if self._rebuild(rest) == 0:  # nothing positive left: no vector, as for a new user
            if self._multi is not None:
                self._multi.forget(user_id)
            else:
                self.profiles.delete(user_id)
                if self.server is None:
                    self._cache[key] = None
        return removed

    @serialized
    def set_params(self, **params: Any) -> None:
        """Change alpha_view, alpha_favorite, not_interested_factor, popularity_weight, merge,
        diversity or the cold-start parameters (``COLD_START_PARAMS``) live.

        Validated like the constructor's arguments (nothing changes when one is bad). Each event
        records the parameter it was applied with, so :meth:`rebuild_profiles` still reproduces
        every stored vector. ``popularity_weight`` only moves the query's weight of the prior the
        store already holds: a store built without a prior (``popularity_weight=0`` or no item
        counts) can only keep 0. ``merge`` and ``diversity`` only change how the per-interest
        lists are merged (:meth:`recommend`, :meth:`exact_top`, :meth:`explain`), never the stored
        interests; with one interest per user they are kept and have no effect. The number of
        interests, their threshold and fade define the stored rows: open another recommender to
        change them. A cold-start strategy only chooses what is searched for new users (e.g. new
        ``segments`` every month).
        """
        live = {*DEFAULT_PARAMS, *LIVE_MERGE_PARAMS, *LIVE_COLD_START_PARAMS}
        unknown = set(params) - live
        if unknown:
            raise TypeError(f"unknown parameter(s) {sorted(unknown)}; known: {sorted(live)}")
        cold = None
        if any(name in params for name in LIVE_COLD_START_PARAMS):
            now = {name: getattr(self, name) for name in LIVE_COLD_START_PARAMS}
            now.update({name: params.pop(name) for name in LIVE_COLD_START_PARAMS
                        if name in params})
            cold = check_cold_start(now["cold_start"], now["segments"], now["segment_weight"],
                                    now["cold_events"], dim=self.dim,
                                    trending=self._trend is not None,
                                    interests=self.max_interests)
        merging = {name: params.pop(name) for name in LIVE_MERGE_PARAMS if name in params}
        if merging:
            _, _, _, merge, diversity = mi.check_params(
                self.max_interests, self.interest_threshold, self.interest_fade,
                merging.get("merge", self.merge), merging.get("diversity", self.diversity))
        checked = {}
        for name, value in params.items():
            if name.startswith("alpha"):
                checked[name] = _check_alpha(name, value)
            else:
                checked[name] = _check_nonnegative(name, value, "0.1")
        weight = checked.get("popularity_weight")
        if weight is not None and weight > 0 and self.item_store.prior is None:
            raise ValueError(
                f"popularity_weight={weight} needs a popularity prior, and this store holds "
                "plain vectors (built with popularity_weight=0 or without item counts); reopen "
                "with Recommender.from_dataset(..., popularity_weight=2)"
            )
        for name, value in checked.items():
            setattr(self, name, value)
        if weight is not None:
            self._prior_weight = weight
        if merging:
            self.merge, self.diversity = merge, diversity
            if self._multi is not None:
                self._multi.merge, self._multi.diversity = merge, diversity
        if cold is not None:
            self._set_cold_start(cold)

    @serialized
    def explain(
        self, user_id: int | str, item_id: int | Sequence[int], n: int = 3, *,
        interest: int | None = None,
    ) -> pd.DataFrame:
        """The events of the user's history that most support recommending ``item_id``.

        The interest vector is exactly a weighted sum of the history's item vectors
        (:func:`recsys_nb.vectors.history_weights`: recent events and favorites weigh more,
        not-interested events weigh negative), so its cosine with the item splits into one term
        per event: ``contribution = weight * similarity``, and the contributions of all events
        add up to ``cosine(interest, item)``. Returns the ``n`` events with the largest
        contributions, best first (the pulls; with ``n`` >= the history, every event, pushes
        too), with columns item_id, title, year, kind, similarity (cosine of the two items),
        weight, contribution. Empty when the user has no events.

        ``item_id`` may also be a sequence of items (a whole recommendation list): the frame then
        starts with a ``recommended`` column and holds up to ``n`` rows per item, in their order.

        With several interests per user (``interests > 1``) each item is explained by the
        interest behind it, named in an ``interest`` column: the one with the best merged score
        for it, ``cosine - (1 - diversity) * (1 - weight / max weight)``
        (:func:`recsys_nb.interests.owner`; with ``merge="score"`` exactly the interest
        :meth:`recommend` names, with "round_robin" the one whose turn placed it can differ:
        pass that one, the list's ``interest`` column, as ``interest``). The user's history
        is replayed (:func:`recsys_nb.interests.replay_user`) to find the
        events that shaped that interest; the contributions come from those events only and
        add up to the cosine of that interest and the item.

        Raises:
            KeyError: an item id is not an item of this recommender.
            ValueError: ``n`` is not a positive integer; ``interest`` given with one interest
                per user, or not an index of the user's interests.
        """
        self._check_open()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n={n!r} must be a positive integer number of events")
        if interest is not None and self._multi is None:
            raise ValueError(f"interest={interest!r} needs several interests per user "
                             "(interests > 1); with one interest, leave it out")
        many = not isinstance(item_id, int | np.integer)
        targets = [int(i) for i in item_id] if many else [int(item_id)]  # type: ignore[union-attr]
        target_rows = [self._index(i) for i in targets]
        columns = ["item_id", "title", "year", "kind", "similarity", "weight", "contribution"]
        if self._multi is not None:
            columns = ["interest", *columns]
        if many:
            columns = ["recommended", *columns]
        hist = self.log.history(user_id)
        hist = hist[hist["item_id"].isin(self._row)]
        if hist.empty or not targets:
            return pd.DataFrame(columns=columns)
        rows = hist["item_id"].map(self._row).to_numpy(dtype=np.int64)
        ops, params = self._recorded_params(hist)
        if self._multi is not None:
            return self._explain_multi(hist, rows, ops, params, targets, target_rows, int(n),
                                       columns, interest)
        weights = vectors.history_weights(self._vectors[rows], ops, params)
        return self._explain_rows(hist, rows, weights, targets, target_rows, int(n))[columns]

    def _explain_multi(
        self, hist: pd.DataFrame, rows: np.ndarray, ops: np.ndarray, params: list[float],
        targets: list[int], target_rows: list[int], n: int, columns: list[str],
        interest: int | None = None,
    ) -> pd.DataFrame:
        """:meth:`explain` with several interests: each item by the interest behind it (or by
        ``interest``, when given)."""
        assert self._multi is not None
        replayed = self._multi.replay_history(rows, ops, params)
        state = replayed.state
        if state.m == 0:
            return pd.DataFrame(columns=columns)
        sims = state.vectors.astype(np.float64) @ self._vectors[target_rows].T.astype(np.float64)
        owners = mi.owner(sims, state.weights, self.diversity)
        if interest is not None:
            if isinstance(interest, bool) or not isinstance(interest, int | np.integer) or \
                    not 0 <= interest < state.m:
                raise ValueError(f"interest={interest!r} is not one of this user's "
                                 f"{state.m} interests; use 0..{state.m - 1} (interests(user))")
            owners = np.full(len(targets), int(interest))
        frames = []
        for target, target_row, i in zip(targets, target_rows, owners.tolist(), strict=True):
            mine = mi.segment(replayed, i)
            weights = np.zeros(len(rows))
            weights[mine] = vectors.history_weights(self._vectors[rows[mine]], ops[mine],
                                                    [params[k] for k in mine])
            part = self._explain_rows(hist.iloc[mine], rows[mine], weights[mine], [target],
                                      [target_row], n)
            frames.append(part.assign(interest=i))
        return pd.concat(frames, ignore_index=True)[columns]

    def _explain_rows(
        self, hist: pd.DataFrame, rows: np.ndarray, weights: np.ndarray, targets: list[int],
        target_rows: list[int], n: int,
    ) -> pd.DataFrame:
        """The ``n`` largest contributions per target (``recommended`` column first) of the
        events ``hist`` (item rows ``rows``) with their ``weights`` in the interest."""
        # One row per movie: a re-watch adds its weight to the earlier one (same similarity).
        movies, inverse = np.unique(rows, return_inverse=True)
        last = np.zeros(len(movies), dtype=np.int64)
        last[inverse] = np.arange(len(rows))  # later events overwrite: the newest kind wins
        movie_weight = np.bincount(inverse, weights=weights, minlength=len(movies))
        sims = self._vectors[movies].astype(np.float64) @ self._vectors[target_rows].T.astype(
            np.float64)  # (movies, targets)
        contributions = movie_weight[:, None] * sims
        kinds = hist["kind"].to_numpy()[last]
        picks = [np.argsort(-contributions[:, k], kind="stable")[: int(n)]
                 for k in range(len(targets))]
        take = np.concatenate(picks)
        col = np.repeat(np.arange(len(targets)), [len(p) for p in picks])
        ids = self._item_ids[movies[take]]
        meta = self.items.loc[ids]
        frame = pd.DataFrame({
            "recommended": np.asarray(targets, dtype=np.int64)[col],
            "item_id": ids,
            "title": meta["title"].to_numpy(),
            "year": meta["year"].to_numpy() if "year" in meta else None,
            "kind": kinds[take],
            "similarity": sims[take, col],
            "weight": movie_weight[take],
            "contribution": contributions[take, col],
        })
        return frame

    def _recorded_params(self, history: pd.DataFrame) -> tuple[np.ndarray, list[float]]:
        """Each logged event as the technique's operation and the parameter it was applied with
        (recorded in the log; the current one for events recorded without)."""
        kinds = history["kind"].to_numpy()
        ops = operations(kinds)
        params = [
            float(p.get(EVENT_KINDS[k].recorded_as, self._param(k)))
            for p, k in zip(history["params"], kinds, strict=True)
        ]
        return ops, params

    @serialized
    def interest_trail(self, user_id: int | str) -> tuple[pd.DataFrame, np.ndarray]:
        """The user's history and their interest vector after each of its events.

        Returns ``(history, trail)``: the events (oldest first, items of this recommender only)
        and an ``(m, dim)`` float32 array whose row k is the interest after event k (NaN rows
        before the first positive event). The last row is the stored interest vector.
        One interest per user only (ValueError with ``interests > 1``).
        """
        self._check_open()
        if self._multi is not None:
            self._single_only("interest_trail")
        hist = self.log.history(user_id)
        hist = hist[hist["item_id"].isin(self._row)].reset_index(drop=True)
        ops, params = self._recorded_params(hist)
        rows = hist["item_id"].map(self._row).to_numpy(dtype=np.int64)
        return hist, vectors.trajectory(self._vectors[rows], list(ops), params)

    def _param(self, kind: str) -> float:
        return float(getattr(self, EVENT_KINDS[kind].parameter))

    @serialized
    def _record(
        self, user_id: int | str, item_id: int, kind: str, timestamp: float | None
    ) -> UpdateResult:
        self._check_open()
        user_key(user_id)  # TypeError for bad user ids before anything is written
        row = self._index(item_id)  # KeyError for unknown items before anything is written
        if self._multi is not None:
            return self._record_multi(user_id, int(item_id), kind, timestamp, row)
        e = self._vectors[row]
        current = self._profile(user_id)
        p = self._param(kind)
        cold = current is None
        op = EVENT_KINDS[kind].operation
        params = {EVENT_KINDS[kind].recorded_as: p}
        overshoot = False
        try:
            # cold_subtract="ignore": a not-interested before any positive event moves nothing.
            new = vectors.apply_event(
                None if cold else current[0], e, op, p, cold_subtract="ignore"
            )
        except vectors.DegenerateVectorError as exc:  # OvershootError, or an EMA that cancels
            new, overshoot = None, True
            message = f"overshoot: {exc}; kept the previous vector"
        else:
            if new is None:
                message = "no interest vector yet: logged and excluded, vector unchanged"
            elif cold:
                message = f"cold start: interest = item {int(item_id)}"
            elif op == "subtract":
                message = f"moved away from item {int(item_id)} (factor {p})"
            else:
                message = f"moved toward item {int(item_id)} (alpha {p})"
        # Log first (the source of truth), then the profile with the event's seq. A crash in
        # between leaves a profile that lags the log; reopening detects and repairs it.
        seq = self._append(user_id, int(item_id), kind, timestamp, params)
        seen = self._seen_cache.get(user_key(user_id))
        if seen is not None:
            seen.add(int(item_id))
        # event_count = the user's logged events, including cold not-interested ones.
        count = self.log.count(user_id) if cold else int(current[1].get("event_count", 0)) + 1
        if new is not None:
            self._write_profiles([user_id], [new], [count], [seq])
        elif not cold:  # overshoot: same vector, but it now reflects this event too
            self._write_profiles([user_id], [current[0]], [count], [seq])
        if overshoot:
            warnings.warn(OvershootWarning(message), stacklevel=3)
        return UpdateResult(
            user_id=user_id,
            item_id=int(item_id),
            kind=kind,
            seq=int(seq),
            cold_start=cold,
            overshoot=overshoot,
            profile_changed=new is not None,
            message=message,
        )

    def _record_multi(
        self, user_id: int | str, item_id: int, kind: str, timestamp: float | None, row: int
    ) -> UpdateResult:
        """:meth:`_record` with several interests: the event updates the nearest interest or
        starts one (:func:`recsys_nb.interests.apply_event`); same order (log, then rows)."""
        assert self._multi is not None
        current = self._multi.get(user_id)
        p = self._param(kind)
        op = EVENT_KINDS[kind].operation
        cold = current is None
        before = self._multi.empty() if cold else current[0]
        # raises for a bad parameter before anything is written
        state, j, changed = self._multi.apply(before, row, op, p)
        overshoot = j is not None and not changed
        if j is None:
            message = "no interest vector yet: logged and excluded, interests unchanged"
        elif overshoot:
            step = f"factor={p:g}" if op == "subtract" else f"alpha={p:g}"
            message = (f"overshoot: the step with {step} for item {item_id} would cancel "
                       f"interest {j}; kept its vector")
        elif cold:
            message = f"cold start: interest 0 = item {item_id}"
        elif op == "ema" and state.counts[j] == 1:
            why = "new interest" if j >= before.m else "replaced stale interest"
            message = (f"{why} {j}: item {item_id} is far from the other interests "
                       f"(cosine < {self.interest_threshold:g})")
        elif op == "subtract":
            message = f"moved interest {j} away from item {item_id} (factor {p})"
        else:
            message = f"moved interest {j} toward item {item_id} (alpha {p})"
        seq = self._append(user_id, item_id, kind, timestamp, {EVENT_KINDS[kind].recorded_as: p})
        seen = self._seen_cache.get(user_key(user_id))
        if seen is not None:
            seen.add(item_id)
        count = self.log.count(user_id) if cold else int(current[1]["event_count"]) + 1
        if state.m:
            self._multi.write([user_id], [state], [count], [seq])
        if overshoot:
            warnings.warn(OvershootWarning(message), stacklevel=4)
        return UpdateResult(user_id=user_id, item_id=item_id, kind=kind, seq=int(seq),
                            cold_start=cold, overshoot=overshoot, profile_changed=changed,
                            message=message)

    def _append(self, user_id: int | str, item_id: int, kind: str, timestamp: float | None,
                params: dict[str, float]) -> int:
        """Log one event (now, without a timestamp); the trending prior counts it. Its seq."""
        when = time.time() if timestamp is None else timestamp
        seq = self.log.append(user_id, item_id, kind, timestamp=when, params=params,
                              model_id=self.model_id)
        if self._trend is not None:
            self._count_trending([item_id], [float(when)], [kind])
            self._refresh_prior(force=False)
        return seq

    # ---------------------------------------------------------------- recommendations

    @serialized
    def recommend(
        self,
        user_id: int | str,
        n: int = 10,
        exclude_seen: bool = True,
        *,
        mode: str = "current",
        **momentum: Any,
    ) -> pd.DataFrame:
        """Top-``n`` items for the user, best first.

        Columns: item_id, title, year, genres, score (cosine similarity to the query vector plus
        ``popularity_weight`` times the item's popularity prior; for cold-start answers the
        popularity rank scaled to (0, 1]), source ("interest",
        "predicted", "segment" or "popular"). Items the user viewed, favorited or marked not
        interested are never returned when ``exclude_seen``. Users without a vector (unknown or
        cold) get popular items; users with few events are served by the ``cold_start``
        strategy (:mod:`recsys_nb.cold_start`; ``mode="current"`` only).

        With several interests per user (``interests > 1``): one search per interest (the same
        query, exclusion and prior), merged by ``merge`` (:func:`recsys_nb.interests.merge`: the
        score is the one the strategy ranked by) and an ``interest`` column names the interest
        behind each item; ``mode="predicted"`` is single-interest only.

        Args:
            mode: "current" searches with the stored interest vector; "predicted" with
                :meth:`predict_interest` (``**momentum`` are its keyword arguments).
        """
        self._check_open()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n={n!r} must be a positive integer number of items")
        if mode not in ("current", "predicted"):
            raise ValueError(f"mode={mode!r} is unknown; use 'current' or 'predicted'")
        if momentum and mode != "predicted":
            raise TypeError(f"{sorted(momentum)} only apply with mode='predicted'")
        if self._multi is not None:
            if mode == "predicted":
                self._single_only("mode='predicted'")
            return self._recommend_multi(user_id, int(n), exclude_seen)
        seen = self._seen(user_id) if exclude_seen else set()
        profile = self._profile(user_id)
        if profile is None:
            return self._popular_frame(int(n), seen)
        query, source = profile[0], "interest"
        if mode == "predicted":
            query, source = self.predict_interest(user_id, **momentum), "predicted"
        elif self.cold_start != "first_item":
            events = int(profile[1].get("event_count", 1))
            planned = cold_query(self._cold, query, events, self.alpha_view)
            if planned is None:
                return self._popular_frame(int(n), seen, all_time=self.cold_start == "popular")
            query, source = planned
        result = self.item_store.query(
            query, n=int(n), exclude=seen, popularity_weight=self._prior_weight
        )
        # in place (rename would copy the frame)
        result.columns = ["score" if c == "similarity" else c for c in result.columns]
        result["source"] = source
        return result

    def _recommend_multi(self, user_id: int | str, n: int, exclude_seen: bool) -> pd.DataFrame:
        """One search per interest, merged (see :meth:`recommend`)."""
        assert self._multi is not None
        seen = self._seen(user_id) if exclude_seen else set()
        got = self._multi.get(user_id)
        if got is None:
            return self._popular_frame(n, seen)
        state = got[0]
        found = [self.item_store.query(v, n=n, exclude=seen, popularity_weight=self._prior_weight)
                 for v in state.vectors]
        merged = self._multi.merged([f["item_id"].to_numpy() for f in found],
                                    [f["similarity"].to_numpy() for f in found], state.weights, n)
        rows = pd.concat(found, ignore_index=True).drop_duplicates("item_id")
        result = rows.set_index("item_id").loc[merged.ids].reset_index()
        result = result.drop(columns="similarity")
        result["score"] = merged.scores
        result["source"] = "interest"
        result["interest"] = merged.interest
        return result

    def _single_only(self, what: str) -> None:
        """Raise for a single-interest feature asked of a multi-interest recommender."""
        raise ValueError(
            f"{what} needs one interest vector per user, and this recommender keeps up to "
            f"{self.max_interests} (interests={self.max_interests}); open it with interests=1"
        )

    def _seen(self, user_id: int | str) -> set[int]:
        """Items to exclude for ``user_id`` (do not mutate): cached in embedded mode, where this
        process is the only writer; read fresh from the log in server mode."""
        if self.server is not None:
            return self.log.seen_items(user_id)
        key = user_key(user_id)
        seen = self._seen_cache.get(key)
        if seen is None:
            seen = self._seen_cache[key] = self.log.seen_items(user_id)
        return seen

    @serialized
    def predict_interest(
        self,
        user_id: int | str,
        window: int = vectors.WRITEUP_WINDOW,
        *,
        weight: float = 1.0,
        method: str = "momentum",
        half_life: float | None = None,
        min_events: int = vectors.MIN_WINDOW_EVENTS,
    ) -> np.ndarray:
        """Where the user's interest is heading, from the last ``window`` positive events.

        Reads the newest ``window`` views/favorites from the event log (oldest first) and
        extrapolates (Step 6 of the original write-up):

        - ``"momentum"``: ``a1``, ``a2`` = means of the older and newer half,
          ``normalize(a2 + weight * (a2 - a1))``; ``weight=1`` is the write-up's, ``< 1`` is damped.
        - ``"recent"``: the mean of the window (no extrapolation; a short-memory profile).
        - ``"time_weighted"``: a mean weighted by ``0.5 ** (age / half_life)`` with age in
          events (newest = 0; ``half_life`` defaults to half the events in the window), plus
          momentum ``weight * (recent-weighted - uniform mean)``.

        The math is :func:`recsys_nb.vectors.predict_from_window`.

        Fallback: with fewer than ``min_events`` positive events in the window (new users) the
        prediction is the stored interest vector, unchanged. A prediction that cancels also
        falls back to it.

        Raises:
            KeyError: the user has no interest vector (no positive event yet).
            ValueError: window < 2, min_events < 2, weight < 0, or an unknown method; a
                recommender with several interests per user (open it with ``interests=1``).
        """
        self._check_open()
        if self._multi is not None:
            self._single_only("predict_interest")
        if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
            raise ValueError(f"window={window!r} must be an int >= 2 (the write-up uses 10)")
        if isinstance(min_events, bool) or not isinstance(min_events, int) or min_events < 2:
            raise ValueError(f"min_events={min_events!r} must be an int >= 2")
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(f"weight={weight!r} must be a finite number >= 0 (write-up: 1.0)")
        if method not in vectors.MOMENTUM_METHODS:
            raise ValueError(
                f"method={method!r} is unknown; use 'momentum', 'recent' or 'time_weighted'"
            )
        current = self.interest(user_id)
        hist = self.log.history(user_id)
        hist = hist[hist["kind"] != "not_interested"].tail(int(window))
        rows = [self._row[i] for i in hist["item_id"] if int(i) in self._row]
        if len(rows) < min_events:
            return current
        try:
            return vectors.predict_from_window(self._vectors[rows], method, weight, half_life)
        except vectors.DegenerateVectorError:
            return current

    def _popular_frame(self, n: int, seen: set[int], all_time: bool = False) -> pd.DataFrame:
        """The cold-start list: by the prior (``all_time``: by all-time counts), seen excluded."""
        self._rank_popular()
        order = self._all_time if all_time else self._popular
        ids = [i for i in order if i not in seen][:n]
        rows = self.items.loc[ids] if ids else self.items.iloc[:0]
        genres = rows["genres"] if "genres" in rows else pd.Series([[]] * len(rows))
        return pd.DataFrame(
            {
                "item_id": pd.Series(ids, dtype="int64"),
                "title": rows["title"].astype(object).to_numpy(),
                "year": pd.array(rows["year"].to_numpy() if "year" in rows else [None] * len(ids),
                                 dtype="Int64"),
                "genres": ["|".join(g) if isinstance(g, list | tuple) else str(g)
                           for g in genres],
                "score": [(self._all_time_score if all_time else self._popular_score)[i]
                          for i in ids],
                "source": "popular",
            }
        )

    def _count_trending(self, item_ids: Sequence[int] | np.ndarray,
                        timestamps: Sequence[float] | np.ndarray,
                        kinds: Sequence[str] | np.ndarray | None = None,
                        weight: float = 1.0) -> None:
        """Count views and favorites newer than the trending prior's seed (older ones are in
        it), in the order given."""
        assert self._trend is not None
        ids = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        keep = ts > self._trend_seed
        if kinds is not None:
            keep &= np.asarray(kinds) != "not_interested"
        # items outside this catalogue have no prior
        rows = [self._row[i] for i in ids[keep].tolist() if i in self._row]
        self._trend.add(np.asarray(rows, dtype=np.int64), weight)

    def _refresh_prior(self, force: bool = True,
                       tolerance: float = PRIOR_REFRESH_TOLERANCE) -> int:
        """Store again the items whose trending prior moved by more than ``tolerance`` (not
        ``force``: only every ``PRIOR_REFRESH_EVENTS`` events), and re-rank the cold-start list
        by it. Returns the number of items rewritten."""
        assert self._trend is not None
        if not force and self._trend.events - self._trend_flushed < PRIOR_REFRESH_EVENTS:
            return 0
        self._trend_flushed = self._trend.events
        live = self._trend.values()
        moved = np.flatnonzero(~(np.abs(live - self._prior) <= tolerance))
        if moved.size:
            self.item_store.refresh_prior(
                pd.Series(live[moved], index=self._item_ids[moved]), self._vectors[moved])
            self._prior[moved] = live[moved]
            self._popular_ranked = False  # ranked again when a cold-start list is asked for
        return int(moved.size)

    def _rank_popular(self) -> None:
        """Cold start follows the trending prior: highest first, ties in the all-time order."""
        if self._trend is None or self._popular_ranked:
            return
        rank = pd.Series(np.arange(len(self._all_time)), index=self._all_time)
        tie = rank.reindex(self._item_ids).fillna(len(rank)).to_numpy()
        order = np.lexsort((tie, -self._prior))
        self._popular = [int(i) for i in self._item_ids[order]]
        self._popular_score = {
            i: 1.0 - r / len(self._popular) for r, i in enumerate(self._popular)}
        self._popular_ranked = True

    # ---------------------------------------------------------------- bulk

    @serialized
    def ingest(self, events: pd.DataFrame) -> IngestReport:
        """Replay many events at once: the same profiles as calling the event methods one by one.

        ``events`` needs user_id, item_id, kind and timestamp columns. Events are applied (and
        logged) in timestamp order, whatever the order of the frame, starting from each user's
        current vector. Tie rule: events with equal timestamps keep their order in the frame (a
        stable sort), as if the event methods were called row by row in that order, so the result
        is deterministic; to break ties otherwise, sort the frame first. All events go into the
        log in one transaction and each touched profile is written once. Invalid input (unknown
        items, bad kinds, missing columns) raises before anything is written.
        """
        self._check_open()
        t0 = time.perf_counter()
        needed = ["user_id", "item_id", "kind", "timestamp"]
        missing = [c for c in needed if c not in events.columns]
        if missing:
            raise ValueError(f"events frame lacks columns {missing}; it needs {needed}")
        frame = events[needed].copy()
        bad_kind = ~frame["kind"].isin(KINDS)
        if bad_kind.any():
            raise ValueError(
                f"unknown event kind {frame.loc[bad_kind, 'kind'].iloc[0]!r}; "
                f"use one of {list(KINDS)}"
            )
        rows = frame["item_id"].map(self._row)
        if rows.isna().any():
            unknown = frame.loc[rows.isna(), "item_id"].unique()[:5].tolist()
            raise KeyError(f"unknown item id(s) {unknown} in events; nothing was recorded")
        if len(frame) == 0:
            return IngestReport(0, 0, 0, 0, time.perf_counter() - t0)
        frame["row"] = rows.astype(np.int64).to_numpy()
        frame["param"] = frame["kind"].map(
            {k: self._param(k) for k in KINDS}
        ).astype(np.float64)
        frame["key"] = [user_key(u) for u in frame["user_id"]]
        frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
        firsts = frame.drop_duplicates("key")
        users_by_key = dict(zip(firsts["key"], firsts["user_id"], strict=True))
        if self._multi is not None:
            return self._ingest_multi(frame, users_by_key, t0)
        current = self._profiles_many(list(users_by_key.values()))
        replayed = self._replay(frame, {k: v[0] for k, v in current.items()})
        last_seq, n_events, had_events = self._log_ingest(frame, users_by_key)
        users, vecs, counts, lasts = [], [], [], []
        for key, user in users_by_key.items():
            final = replayed.vectors.get(key)
            if final is None:
                continue
            if key in current:
                before = int(current[key][1].get("event_count", 0))
            else:  # a new profile; earlier cold not-interested events count too
                before = self.log.count(user) - int(n_events[key]) if had_events else 0
            users.append(user)
            vecs.append(final)
            counts.append(before + int(n_events[key]))
            lasts.append(int(last_seq[key]))
        written = self._write_profiles(users, vecs, counts, lasts)
        return IngestReport(
            events=len(frame),
            users=len(users_by_key),
            profiles_written=written,
            overshoots=replayed.skipped,
            seconds=time.perf_counter() - t0,
        )

    def _log_ingest(
        self, frame: pd.DataFrame, users_by_key: dict[str, Any]
    ) -> tuple[pd.Series, pd.Series, bool]:
        """Append an ingest frame (application order) to the log in one transaction.

        Returns per user key the last seq and the number of events, and whether the log held
        events before (then a new profile's count includes earlier cold events).
        """
        # One params dict per kind, shared by its rows: EventLog.append_many encodes each
        # distinct dict object once (100k per-row dicts cost ~0.6 s of JSON encoding).
        shared = {
            k: {EVENT_KINDS[k].recorded_as: self._param(k)}
            for k in KINDS
        }
        log_frame = frame[["user_id", "item_id", "kind", "timestamp"]].assign(
            params=[shared[k] for k in frame["kind"]]
        )
        with self.log.transaction():  # seqs are consecutive: nobody else writes meanwhile
            before_seq = self.log.last_seq()
            self.log.append_many(log_frame, model_id=self.model_id)
        for key in users_by_key:  # seen sets of these users are now stale
            self._seen_cache.pop(key, None)
        if self._trend is not None:
            self._count_trending(frame["item_id"].to_numpy(dtype=np.int64),
                                 frame["timestamp"].to_numpy(dtype=np.float64),
                                 frame["kind"].to_numpy())
            # a small ingest (a new user's first events) batches like live events: stored
            # again every PRIOR_REFRESH_EVENTS events, not at each call (~15 ms each)
            self._refresh_prior(force=len(frame) >= PRIOR_REFRESH_EVENTS)
        frame["seq"] = before_seq + 1 + np.arange(len(frame))
        groups = frame.groupby("key", sort=False)
        return groups["seq"].max(), groups.size(), before_seq > 0

    def _ingest_multi(
        self, frame: pd.DataFrame, users_by_key: dict[str, Any], t0: float
    ) -> IngestReport:
        """:meth:`ingest` with several interests: each user's events replayed from their current
        interests with :func:`recsys_nb.interests.replay_user` (the event path's function)."""
        assert self._multi is not None
        current = self._multi.get_many(list(users_by_key.values()))
        # replayed before logging: a bad parameter raises before anything is written
        replayed = self._multi.replay(frame, {k: v[0] for k, v in current.items()})
        last_seq, n_events, had_events = self._log_ingest(frame, users_by_key)
        users, states, counts, lasts = [], [], [], []
        for key, user in users_by_key.items():
            state = replayed[key].state
            if state.m == 0:
                continue
            if key in current:
                before = int(current[key][1]["event_count"])
            else:  # new rows; earlier cold not-interested events count too
                before = self.log.count(user) - int(n_events[key]) if had_events else 0
            users.append(user)
            states.append(state)
            counts.append(before + int(n_events[key]))
            lasts.append(int(last_seq[key]))
        written = self._multi.write(users, states, counts, lasts)
        return IngestReport(
            events=len(frame),
            users=len(users_by_key),
            profiles_written=written,
            overshoots=sum(r.overshoots for r in replayed.values()),
            seconds=time.perf_counter() - t0,
        )

    def _replay(self, frame: pd.DataFrame, starts: dict[str, np.ndarray]) -> _Replayed:
        """Apply each user's events (``frame`` in application order) to their start vector.

        Uses the vectorized :func:`replay.replay_batch`, which matches the one-by-one path bit
        for bit (same kernels, float32 after every step, overshoots skipped).
        """
        ops = operations(frame["kind"].to_numpy())
        result = replay.replay_batch(
            frame["key"].to_numpy(),
            frame["row"].to_numpy(),
            ops,
            frame["param"].to_numpy(),
            item_matrix=self._vectors,
            starts=starts,
            on_overshoot="skip",
            cold_subtract="ignore",
        )
        return _Replayed(result.as_dict(), int(result.skipped.sum()))

    @serialized
    def rebuild_profiles(self) -> int:
        """Recompute every profile from the event log (with the parameters each event recorded).

        Gives the same vectors as the live profiles. Returns the number of profiles written.
        """
        self._check_open()
        events = self.log.events()
        if self._multi is not None:
            self._multi.clear()
        else:
            self.profiles.delete_all()
            self._cache.clear()
        return self._rebuild(events)

    def _rebuild(self, events: pd.DataFrame) -> int:
        if events.empty:
            return 0
        frame = events.copy()
        frame["row"] = frame["item_id"].map(self._row)
        frame = frame[frame["row"].notna()].copy()  # items no longer in the catalog
        frame["row"] = frame["row"].astype(np.int64)
        frame["param"] = self._recorded_params(frame)[1]
        frame["key"] = [user_key(u) for u in frame["user_id"]]
        frame = frame.sort_values("seq", kind="stable").reset_index(drop=True)
        if self._multi is not None:
            return self._rebuild_multi(frame)
        replayed = self._replay(frame, {})
        groups = frame.groupby("key", sort=False)
        firsts = groups["user_id"].first()
        lasts = groups["seq"].max()
        counts = groups.size()
        users, vecs, cnts, seqs = [], [], [], []
        for key, v in replayed.vectors.items():
            users.append(firsts[key])
            vecs.append(v)
            cnts.append(int(counts[key]))
            seqs.append(int(lasts[key]))
        return self._write_profiles(users, vecs, cnts, seqs)

    def _rebuild_multi(self, frame: pd.DataFrame) -> int:
        """:meth:`_rebuild` with several interests: each user's logged events (``frame``, in
        seq order) replayed from no interest with the parameters they recorded."""
        assert self._multi is not None
        replayed = self._multi.replay(frame, {})
        groups = frame.groupby("key", sort=False)
        firsts, lasts, counts = groups["user_id"].first(), groups["seq"].max(), groups.size()
        keys = [key for key, r in replayed.items() if r.state.m]
        return self._multi.write([firsts[k] for k in keys], [replayed[k].state for k in keys],
                                 [int(counts[k]) for k in keys], [int(lasts[k]) for k in keys])

    def _repair(self) -> int:
        """Rebuild profiles that lag behind the event log (e.g. after a crash). Returns count.

        Compares per-user aggregates (one SQL query) with the profiles' metadata and loads the
        events of lagging users only, so opening a healthy store stays fast.
        """
        summary = self.log.user_summary()
        if summary.empty:
            return 0
        meta = (self.profiles if self._multi is None else self._multi.store).all_metadata()
        prof_last = dict(zip(meta["user_id"].map(user_key), meta["last_seq"], strict=True))
        # Users whose only events are cold not-interested have no profile by design.
        lagging = [
            user
            for user, last, positive in summary.itertuples(index=False)
            if positive and prof_last.get(user_key(user), -1) < last
        ]
        if not lagging:
            return 0
        if len(lagging) > 50:  # many users lag (a crash during ingest): one pass over the log
            events = self.log.events()
            keys = {user_key(u) for u in lagging}
            events = events[events["user_id"].map(user_key).isin(keys)]
        else:
            events = pd.concat([self.log.history(u) for u in lagging], ignore_index=True)
        return self._rebuild(events)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Recommender is closed; create a new one (from_dataset)")


@contextmanager
def open_recommender(dataset: Dataset, **kwargs: Any) -> Iterator[Recommender]:
    """``with open_recommender(ds) as rec:`` — from_dataset + close."""
    rec = Recommender.from_dataset(dataset, **kwargs)
    try:
        yield rec
    finally:
        rec.close()
