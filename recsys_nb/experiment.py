"""Experiments as one call: many configurations of the Recommender measured on one split.

A report measures dozens of configurations (embeddings, parameters, momentum windows) on the
same users. Done naively, each would embed the catalogue and index ~9,000 item vectors in Chroma
again. An :class:`Experiment` does each expensive step once:

- item vectors: once per (embedding, dim) — and across runs, through the embeddings' on-disk
  caches (MiniLM texts, learned vectors keyed by model id);
- the items collection: once per (model, prior) in one store folder; every configuration opens
  that folder with ``Recommender(..., forget_users=True)`` (no users, no events, the items kept);
- each measurement: once per configuration (memoized; asking again returns the same result).

Item vectors and the popularity prior learn from every user's training events; the recommender
ingests the scored users' training events only (what it needs to answer them), as a service
that knows its own users would.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.cold_start import COLD_START_PARAMS
from recsys_nb.embeddings import ItemVectors, embed_items
from recsys_nb.evaluate import (
    DEFAULT_CUTOFFS,
    EvaluationResult,
    Split,
    check_cutoffs,
    evaluate,
    evaluate_baseline,
    evaluate_variants,
    with_beyond_accuracy,
)
from recsys_nb.progress import progress_bar
from recsys_nb.recommender import (
    DEFAULT_DIMS,
    DEFAULT_EMBEDDING,
    DEFAULT_PARAMS,
    DEFAULT_SEED,
    DEFAULT_TEXT_WEIGHT,
    MULTI_INTEREST_PARAMS,
    PRIOR_DEFAULTS,
    Recommender,
    item_counts,
)
from recsys_nb.segments import Segments, fit_segments
from recsys_nb.store import embedding_cache_path, server_address

#: every recommender parameter a configuration may set, with the package's defaults
BUILD_DEFAULTS = {**DEFAULT_PARAMS, **PRIOR_DEFAULTS, **MULTI_INTEREST_PARAMS, **COLD_START_PARAMS}
#: ``recommend`` keywords a sweep may vary (the rest are recommender parameters)
RECOMMEND_KEYS = ("mode", "window", "method", "min_events", "momentum_weight")


def _embedding_name(embedding: str) -> str:
    """"default" means the package's default embedding."""
    return DEFAULT_EMBEDDING if embedding == "default" else embedding


class Experiment:
    """Measure configurations of the Recommender on ``split``, each once.

    Args:
        split: the evaluation split (``temporal_split``), already restricted to the users to
            score if you sample (``split.restrict(split.sample(100))``).
        cutoffs: metric cut-offs K.
        path: the store folder shared by all configurations (default: a temporary folder,
            deleted by :meth:`close`). A kept folder makes the next run skip the indexing.
        cache_path: embedding cache (default ``data/cache/embeddings.sqlite``).
        progress: show a progress bar over the users of each measurement.
    """

    def __init__(
        self,
        split: Split,
        cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
        *,
        path: str | Path | None = None,
        cache_path: str | Path | None = None,
        progress: bool = False,
    ) -> None:
        self.split = split
        self.cutoffs = check_cutoffs(cutoffs)
        self.train = split.train_dataset()
        # the items without their text: Chroma would build a full-text index no recommendation
        # reads (~40 % of the indexing time)
        self._items = self.train.items.drop(columns=["text"])
        self.popularity = item_counts(self.train.events)
        self._tmp = path is None
        self.path = Path(tempfile.mkdtemp(prefix="recsys_nb_exp_")) if path is None else Path(path)
        self.cache_path = embedding_cache_path(cache_path)
        self.progress = progress
        self._vectors: dict[tuple[str, int | None], tuple[ItemVectors, float]] = {}
        self._indexed: set[tuple] = set()
        self._results: dict[tuple, EvaluationResult] = {}
        self._segments: dict[tuple, Segments] = {}
        self._interests: dict[tuple, tuple[list[Any], np.ndarray]] = {}
        self._splits: list[Split] = [split]  # keeps every split alive: their id() keys results

    def __repr__(self) -> str:
        return (f"Experiment({len(self.split.users)} users, cutoffs {self.cutoffs}, "
                f"{len(self._results)} results, store {str(self.path)!r})")

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the store folder if the experiment created it."""
        if self._tmp:
            shutil.rmtree(self.path, ignore_errors=True)

    # ---------------------------------------------------------------- item vectors

    @staticmethod
    def dim_for(embedding: str, dim: int | None = None) -> int | None:
        """The vector size a configuration uses: ``dim``, or the package's for that embedding;
        None for MiniLM, whose size is the model's."""
        name = _embedding_name(embedding)
        if name == "minilm":
            return None
        return DEFAULT_DIMS[name] if dim is None else int(dim)

    def vectors(self, embedding: str = "default", dim: int | None = None) -> ItemVectors:
        """The item vectors of one embedding space, learned from the training events, once."""
        name = _embedding_name(embedding)
        key = (name, self.dim_for(name, dim))
        if key not in self._vectors:
            t0 = time.perf_counter()
            vecs = embed_items(self.train.items, self.train.events, name,
                               cache_path=self.cache_path, dim=key[1] or DEFAULT_DIMS["blend"],
                               seed=DEFAULT_SEED, text_weight=DEFAULT_TEXT_WEIGHT,
                               progress=False)
            self._vectors[key] = (vecs, time.perf_counter() - t0)
        return self._vectors[key][0]

    def build_seconds(self, embedding: str = "default", dim: int | None = None) -> float:
        """Seconds spent embedding (cache reads included) one space."""
        self.vectors(embedding, dim)
        name = _embedding_name(embedding)
        return self._vectors[(name, self.dim_for(name, dim))][1]

    def recommender(self, embedding: str = "default", dim: int | None = None, *,
                    path: Path | None = None, **params: Any) -> Recommender:
        """A Recommender on the shared store (or ``path``), with no users yet (close it)."""
        vecs = self.vectors(embedding, dim)
        params = {**BUILD_DEFAULTS, **params}
        return Recommender(self._items, vecs, self.path if path is None else path,
                           self.popularity, prior_events=self.train.events, forget_users=True,
                           **params)

    @contextmanager
    def _scratch(self, embedding: str, dim: int | None, params: Mapping[str, Any]
                 ) -> Iterator[Path | None]:
        """A copy of the shared store for one online measurement (embedded mode; None = the
        shared store itself, on a server). Online, the trending prior counts the scored users'
        events and stores itself again in Chroma; on a copy, the next configuration still
        starts from the data's own prior without rewriting thousands of items (~7 s)."""
        if server_address() is not None:
            yield None
            return
        # the items indexed once in the shared store (the copy then starts with them)
        key = (embedding, self.dim_for(embedding, dim), params["prior"],
               params["half_life_events"], params["popularity_weight"] > 0)
        if key not in self._indexed:
            self.recommender(embedding, dim, **params).close()
            self._indexed.add(key)
        scratch = Path(tempfile.mkdtemp(prefix="recsys_nb_online_"))
        try:
            shutil.copytree(self.path / "chroma", scratch / "chroma")
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def segments(self, k: int, embedding: str = "default", dim: int | None = None,
                 seed: int = 0) -> Segments:
        """``k`` user segments of the training users (:func:`recsys_nb.segments.fit_segments`
        of their interest vectors after ingesting every training event with the package's
        default parameters), once per (k, space, seed).

        Raises:
            ValueError: more segments than training users with an interest vector.
        """
        name = _embedding_name(embedding)
        space = (name, self.dim_for(name, dim))
        key = (int(k), *space, int(seed))
        if key not in self._segments:
            users, rows = self.interest_vectors(name, dim)
            self._segments[key] = fit_segments(rows, int(k), keys=users, seed=seed)
        return self._segments[key]

    def interest_vectors(self, embedding: str = "default", dim: int | None = None
                         ) -> tuple[list[Any], np.ndarray]:
        """Every training user's interest vector after ingesting all training events with the
        package's default parameters: ``(user ids, (n, d) matrix)``, once per space. Users
        with only not-interested events have none and are left out."""
        name = _embedding_name(embedding)
        space = (name, self.dim_for(name, dim))
        if space not in self._interests:
            rec = self.recommender(name, dim)
            users, rows = [], []
            try:
                rec.ingest(self.train.events)
                for u in self.train.events["user_id"].unique():
                    key = u.item() if hasattr(u, "item") else u
                    try:
                        rows.append(rec.interest(key))
                    except KeyError:  # only not-interested events: no vector to cluster
                        continue
                    users.append(key)
            finally:
                rec.close()
            self._interests[space] = (users, np.stack(rows) if rows else
                                      np.empty((0, rec.dim), dtype=np.float32))
        return self._interests[space]

    # ---------------------------------------------------------------- measurements

    def on(self, split: Split) -> Split:
        """Register another split of the same data (e.g. cold-start histories) to measure on."""
        if all(s is not split for s in self._splits):
            self._splits.append(split)
        return split

    def measure(
        self,
        label: str | None = None,
        *,
        embedding: str = "default",
        dim: int | None = None,
        recommend: Mapping[str, Any] | None = None,
        exact: bool = False,
        on: Split | None = None,
        online: bool = False,
        **params: Any,
    ) -> EvaluationResult:
        """Evaluate one configuration (package defaults changed by ``params``), once.

        Args:
            label: the result's name in tables (default: a description of the configuration).
            embedding, dim: the item space ("default", "blend", "collaborative", "minilm",
                "hybrid") and its size (default: the package's for that embedding).
            recommend: ``recommend`` keywords, e.g. ``{"mode": "predicted", "window": 10}``.
            exact: also rank exactly with numpy (``exact_recall@K``, ``ann_overlap@K``).
            on: another split registered with :meth:`on` (default: the experiment's).
            online: ingest each user just before their list (``evaluate(online=True)``), the
                protocol of :func:`recsys_nb.evaluate.new_user_split`.
            **params: alpha_view, alpha_favorite, not_interested_factor, popularity_weight,
                prior, half_life_events and the multi-interest parameters
                (``MULTI_INTEREST_PARAMS``: interests, interest_threshold, interest_fade, merge,
                diversity) and the cold-start ones (``COLD_START_PARAMS``; ``segments=k``, an
                int, means :meth:`segments` ``(k)`` of this experiment's training users).

        Returns:
            The memoized :class:`EvaluationResult` when this configuration was measured before
            (measured again only to add the exact ranking), relabelled if ``label`` differs.
        """
        unknown = set(params) - set(BUILD_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown parameter(s) {sorted(unknown)}; known: "
                            f"{sorted(BUILD_DEFAULTS)} (recommend keywords go in recommend=)")
        split = self.split if on is None else self.on(on)
        name = _embedding_name(embedding)
        asked = dict(params)  # the label shows segments=k, not the fitted object
        params = self._fitted(params, name, dim)
        full = {**BUILD_DEFAULTS, **params}
        rec_kwargs = dict(recommend or {})
        key = self._key(name, dim, full, rec_kwargs, split, online)
        label = label or self.describe(name, dim, asked, rec_kwargs)
        cached = self._results.get(key)
        if cached is not None and (not exact or f"exact_recall@{max(self.cutoffs)}" in cached.row):
            return cached if cached.label == label else cached.renamed(label)
        scored = split.restrict(split.users, train_users=split.users)

        t0 = time.perf_counter()
        with self._scratch(name, dim, full) if online else nullcontext() as where:

            def factory(_train: Any, _path: Path) -> Recommender:
                return self.recommender(name, dim, path=where, **full)

            result = evaluate(factory, scored, self.cutoffs, recommend=rec_kwargs, name=label,
                              exact=exact, progress=self.progress, online=online)
        result.row["seconds"] = round(time.perf_counter() - t0, 2)
        if result.row["seen_recommended"]:
            raise AssertionError(f"{label}: the recommender returned training (seen) items")
        self._results[key] = result
        return result

    def _fitted(self, params: Mapping[str, Any], name: str, dim: int | None) -> dict[str, Any]:
        """``params`` with ``segments=k`` (an int) replaced by :meth:`segments` ``(k)``."""
        k = params.get("segments")
        if isinstance(k, int) and not isinstance(k, bool):
            return {**params, "segments": self.segments(k, name, dim)}
        return dict(params)

    def _key(self, name: str, dim: int | None, full: Mapping[str, Any],
             rec_kwargs: Mapping[str, Any], split: Split, online: bool) -> tuple:
        return (name, self.dim_for(name, dim), tuple(sorted(full.items())),
                tuple(sorted(rec_kwargs.items())), id(split), bool(online))

    def measure_variants(self, variants: Mapping[str, Mapping[str, Any]], *,
                         on: Split | None = None, online: bool = False,
                         embedding: str = "default", dim: int | None = None,
                         **fixed: Any) -> dict[str, EvaluationResult]:
        """Several settings that only rank (``Recommender.set_params`` keywords: the cold-start
        ones, merge, diversity, popularity_weight) from one replay
        (:func:`recsys_nb.evaluate.evaluate_variants`), each memoized as :meth:`measure` with
        ``fixed`` and its keywords would be (the lists are the same), labelled by its key."""
        unknown = {k for v in variants.values() for k in v} | set(fixed)
        unknown -= set(BUILD_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown parameter(s) {sorted(unknown)}; known: "
                            f"{sorted(BUILD_DEFAULTS)}")
        split = self.split if on is None else self.on(on)
        name = _embedding_name(embedding)
        base = {**BUILD_DEFAULTS, **self._fitted(fixed, name, dim)}
        resolved = {label: self._fitted(v, name, dim) for label, v in variants.items()}
        keys = {label: self._key(name, dim, {**base, **v}, {}, split, online)
                for label, v in resolved.items()}
        missing = {label: v for label, v in resolved.items() if keys[label] not in self._results}
        if missing:
            scored = split.restrict(split.users, train_users=split.users)
            with self._scratch(name, dim, base) if online else nullcontext() as where:

                def factory(_train: Any, _path: Path) -> Recommender:
                    return self.recommender(name, dim, path=where, **base)

                got = evaluate_variants(factory, scored, missing, self.cutoffs, online=online,
                                        progress=self.progress)
            for label, result in got.items():
                if result.row["seen_recommended"]:
                    raise AssertionError(f"{label}: the recommender returned seen items")
                self._results[keys[label]] = result
        out = {}
        for label in variants:
            r = self._results[keys[label]]
            out[label] = r if r.label == label else r.renamed(label)
        return out

    def baseline(self, name: str, *, on: Split | None = None, label: str | None = None,
                 **params: Any) -> EvaluationResult:
        """A baseline (one of ``recsys_nb.evaluate.BASELINES``) on the same users, once; it
        learns from every user's training events."""
        split = self.split if on is None else self.on(on)
        key = ("baseline", name, tuple(sorted(params.items())), id(split))
        if key not in self._results:
            self._results[key] = evaluate_baseline(name, split, self.cutoffs, label=label,
                                                   **params)
        result = self._results[key]
        return result if label is None or result.label == label else result.renamed(label)

    def sweep(self, param: str, values: Sequence[Any], **fixed: Any) -> pd.DataFrame:
        """One parameter at a time, the others at ``fixed`` / the defaults: a table of
        ``param`` against every metric. Momentum keywords (``window``, ...) go to
        ``recommend(mode="predicted")``."""
        rows = []
        for value in progress_bar(values, param, enabled=self.progress):
            if param in RECOMMEND_KEYS:
                r = self.measure(f"{param}={value}",
                                 recommend={"mode": "predicted", param: value}, **fixed)
            else:
                r = self.measure(f"{param}={value:g}" if isinstance(value, float) else
                                 f"{param}={value}", **{**fixed, param: value})
            rows.append({param: value, **{m: v for m, v in r.row.items() if "@" in m or
                                          m == "mrr"}})
        return pd.DataFrame(rows)

    def beyond_accuracy(self, result: EvaluationResult, cutoffs: Iterable[int] | None = None,
                        embedding: str = "default") -> EvaluationResult:
        """``result`` with diversity@K (in the item space of ``embedding``) and novelty@K (against
        the training events) per user and as row means; K = the smallest cut-off by default."""
        vecs = self.vectors(embedding)
        return with_beyond_accuracy(result, self.split, vecs.item_ids, vecs.vectors,
                                    tuple(cutoffs) if cutoffs else (min(self.cutoffs),))

    def table(self) -> pd.DataFrame:
        """Every result measured so far, one row each, in the order measured."""
        return pd.DataFrame([r.row for r in self._results.values()])

    @staticmethod
    def describe(embedding: str, dim: int | None, params: Mapping[str, Any],
                 recommend: Mapping[str, Any]) -> str:
        """A readable name for a configuration, e.g. ``blend-64, alpha_view=0.1``."""
        size = Experiment.dim_for(embedding, dim)
        parts = [embedding if size is None else f"{embedding}-{size}"]
        parts += [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                  for k, v in sorted(params.items())]
        parts += [f"{k}={v}" for k, v in sorted(recommend.items())]
        return ", ".join(parts)
