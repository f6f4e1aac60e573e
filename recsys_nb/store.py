"""ChromaDB storage for item embeddings: one client factory, one items collection per model.

Where the vectors live:

- embedded ``chromadb.PersistentClient`` under ``data/chroma`` by default (``path=`` overrides;
  so does the ``RECSYS_NB_DATA`` environment variable for the whole ``data`` folder);
- a Chroma server (``chroma run --path DIR --port 8000``, or any deployment) when the
  ``CHROMA_HOST`` environment variable is set (``CHROMA_PORT`` defaults to 8000), one database
  per store; Chroma Cloud when ``CHROMA_API_KEY`` is set (:mod:`recsys_nb.clients`). Use a server
  whenever more than one process writes: two processes writing one PersistentClient path corrupt
  its index silently (see NOTES in the README).

Each embedding model gets its own items collection (``videos__<model id>``) in cosine space, because
vectors of different models (and dimensions) must never be compared. The collection records the
model id and dimension in its metadata, and opening it with another model is an error naming both.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import client_limits
from recsys_nb.clients import connect, drop_collections, server_address
from recsys_nb.topn import top_n

ITEMS_PREFIX = "videos"
# ef_construction 100 (Chroma's default): building the 9k x 384 index took 12.0 s vs 18.1 s with
# 200, for recall@50 vs exact 0.991 vs 0.995 (200 noisy queries, busy 2-core machine).
# ef_search 200 keeps queries accurate; they stay ~2 ms.
DEFAULT_HNSW = {"space": "cosine", "ef_search": 200, "ef_construction": 100}
# What a caller may tune (Chroma's HNSW settings); the space stays cosine.
HNSW_KEYS = ("ef_search", "ef_construction", "max_neighbors", "batch_size", "sync_threshold",
             "num_threads", "resize_factor")


class StoreMismatchError(ValueError):
    """A collection was opened with a model (or dimension) other than the one it was built with."""


def data_dir() -> Path:
    """The folder for stores and caches: ``$RECSYS_NB_DATA``, else the repository's ``data/``.

    Outside a source checkout (a wheel install) it falls back to ``~/.cache/recsys_nb``.
    """
    env = os.environ.get("RECSYS_NB_DATA")
    if env:
        return Path(env).expanduser()
    repo_data = Path(__file__).resolve().parents[1] / "data"
    if (repo_data.parent / "pyproject.toml").exists():
        return repo_data
    return Path.home() / ".cache" / "recsys_nb"


def default_store_path() -> Path:
    """The store folder used unless told otherwise: ``data_dir() / "store"`` (``chroma/`` for
    the vectors and ``events.sqlite`` for the event log inside; ``Recommender.from_dataset``'s
    and ``get_client``'s one default)."""
    return data_dir() / "store"


def embedding_cache_path(cache_path: str | os.PathLike[str] | None = None) -> Path:
    """The embedding cache file: ``cache_path``, or ``data_dir() / "cache" / "embeddings.sqlite"``
    (learned vectors go next to it, in ``cache/learned/``)."""
    return Path(cache_path) if cache_path else data_dir() / "cache" / "embeddings.sqlite"


def notebook_store(notebook: str, store_dir: str | os.PathLike[str] | None = None) -> Path:
    """A notebook's store folder: ``store_dir`` (its STORE_DIR parameter) or
    ``data_dir() / "notebooks" / notebook``."""
    return Path(store_dir) if store_dir else data_dir() / "notebooks" / notebook


def get_client(path: str | Path | None = None) -> Any:
    """Open the Chroma client: embedded, a server (``CHROMA_HOST``) or Chroma Cloud
    (``CHROMA_API_KEY``); see :mod:`recsys_nb.clients`.

    Args:
        path: the store's ``chroma/`` folder (embedded: where the vectors live; server: names
            the store's database). Default ``default_store_path() / "chroma"``.

    Returns:
        A ``chromadb`` client (``ClientAPI``). Telemetry is off: the package runs offline.
    """
    return connect(Path(path) if path is not None else default_store_path() / "chroma")


def collection_name(prefix: str, model_id: str) -> str:
    """A valid Chroma collection name for a model: ``<prefix>__<model id with safe characters>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-._")
    name = f"{prefix}__{slug}"
    if not slug or len(name) > 512:
        raise ValueError(f"model id {model_id!r} cannot make a collection name; use [A-Za-z0-9._-]")
    return name


def hnsw_config(hnsw: dict[str, Any] | None = None) -> dict[str, Any]:
    """``DEFAULT_HNSW`` updated with ``hnsw`` (keys from ``HNSW_KEYS``, positive numbers)."""
    config = dict(DEFAULT_HNSW)
    for key, value in (hnsw or {}).items():
        if key not in HNSW_KEYS:
            raise ValueError(f"hnsw setting {key!r} is not one of {', '.join(HNSW_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) or value <= 0:
            raise ValueError(f"hnsw {key}={value!r} must be a positive number")
        config[key] = value
    return config


def open_collection(
    client: Any, prefix: str, model_id: str, dim: int, kind: str,
    hnsw: dict[str, Any] | None = None,
) -> Any:
    """Get or create the cosine collection for ``model_id``, refusing one built by another model.

    ``hnsw`` overrides settings of :data:`DEFAULT_HNSW` for a NEW collection (an existing one
    keeps the settings it was built with). ``collection.modify(configuration={"hnsw":
    {"ef_search": ...}})`` changes ``ef_search`` later, but an index already loaded in a process
    keeps searching with the old value until the client is reopened (measured by
    ``make bench SCALE=1M``). A search asks for ``n`` plus an over-fetch rows and HNSW searches
    with ``max(ef_search, rows asked)``, so ef_search below ~100 changes nothing here.

    Raises:
        StoreMismatchError: the existing collection records another model id or dimension.
    """
    if int(dim) < 1:
        raise ValueError(f"dim={dim} must be a positive vector dimension")
    name = collection_name(prefix, model_id)
    collection = client.get_or_create_collection(
        name,
        metadata={"model_id": model_id, "dim": int(dim), "kind": kind},
        configuration={"hnsw": hnsw_config(hnsw)},
        embedding_function=None,  # we always pass vectors; Chroma's default would go online
    )
    meta = collection.metadata or {}
    if meta.get("model_id") != model_id or int(meta.get("dim", -1)) != int(dim):
        raise StoreMismatchError(
            f"collection {name!r} holds vectors of model {meta.get('model_id')!r} "
            f"(dim {meta.get('dim')}) but was opened for model {model_id!r} (dim {dim}); "
            "use the same embedding model, or another store path"
        )
    return collection


def check_matrix(vectors: np.ndarray, n_rows: int, dim: int, what: str) -> np.ndarray:
    """Validate a batch of vectors before anything is written: shape, finite, non-zero rows.

    Returns the batch as float32. Raises ValueError naming the bad row or both dimensions.
    """
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (n, {dim}); got shape {arr.shape}")
    if arr.shape[1] != dim:  # vectors of another model: the model-mismatch error
        raise StoreMismatchError(
            f"{what} have dimension {arr.shape[1]} but the collection holds dimension {dim}: "
            "embed with the same model the collection was built with"
        )
    if arr.shape[0] != n_rows:
        raise ValueError(f"{arr.shape[0]} {what} for {n_rows} ids: pass one vector per id")
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{what} row {bad} has NaN or infinite values; nothing was written")
    norms = np.linalg.norm(arr, axis=1)
    if (norms < 1e-6).any():
        bad = int(np.flatnonzero(norms < 1e-6)[0])
        raise ValueError(f"{what} row {bad} is a zero vector; nothing was written")
    return arr


def _item_metadata(items: pd.DataFrame) -> list[dict[str, Any]]:
    """Chroma metadata per item row: scalars only, missing values left out (Chroma drops None).

    Column-wise (no ``iterrows``): a million items take seconds, not minutes."""
    ids = items["item_id"].to_numpy(dtype=np.int64)
    titles = items["title"].astype(str).tolist() if "title" in items else [""] * len(items)
    metas: list[dict[str, Any]] = [
        {"item_id": int(i), "title": t} for i, t in zip(ids, titles, strict=True)
    ]
    if "year" in items:
        for meta, year in zip(metas, items["year"].tolist(), strict=True):
            if year is not None and not pd.isna(year):
                meta["year"] = int(year)
    if "genres" in items:
        for meta, genres in zip(metas, items["genres"].tolist(), strict=True):
            if isinstance(genres, list | tuple | np.ndarray) and len(genres):
                meta["genres"] = "|".join(str(g) for g in genres)
    return metas


def prior_id(prior: pd.Series) -> str:
    """``"pop-<8 hex>"``: fingerprint of a popularity prior (item id -> value), order-free."""
    frame = pd.DataFrame({"item_id": prior.index.to_numpy(dtype=np.int64),
                          "p": prior.to_numpy(dtype=np.float64)})
    hashes = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return f"pop-{hashlib.sha256(hashes.tobytes()).hexdigest()[:8]}"


class ItemStore:
    """The items collection of one embedding model: add, look up, find neighbours, search by text.

    With a popularity ``prior`` (item id -> ``p`` in [0, 1]), each item is stored as the unit
    vector ``x = [e, p, sqrt(1 - p**2)] / sqrt(2)`` (``dim + 2`` numbers) and a query ``v`` with
    weight ``beta`` is sent as ``q = [v, beta, 0]``. Then
    ``cos(q, x) = (v . e + beta * p) / (sqrt(2) * sqrt(1 + beta**2))``: Chroma's own cosine
    ranking IS the ranking by ``cosine(v, e) + beta * p`` over the whole catalogue, so the
    prior needs no re-ranking of a truncated candidate list (re-ranking Chroma's top 500 lost
    0.05 Recall@50 on MovieLens, ``benchmarks/tune_default.py best``). Vectors going in and out
    (:meth:`add_items`, :meth:`get_vectors`, :meth:`query`) are the plain ``dim``-d ones; the
    collection is keyed ``<model_id>+pop-<fingerprint of the prior>``.

    Args:
        client: a Chroma client (``get_client()``).
        model_id: id of the embedding model whose vectors this collection holds.
        dim: vector dimension of that model.
        text_model: optional callable ``texts -> (n, dim)`` used by :meth:`search`; it must have the
            same ``id`` as ``model_id`` (or ``"<model_id>/..."``, a query model of that space)
            when it has one.
        prior: optional popularity prior, a Series item id -> value in [0, 1] (items missing
            from it get 0); see above.
        prior_key: names the collection of a prior that changes over time (e.g.
            ``"trend-90d"``), kept up to date with :meth:`refresh_prior`; default: the
            fingerprint of ``prior`` (a snapshot gets its own collection).
        hnsw: HNSW settings of a new collection over :data:`DEFAULT_HNSW` (e.g. ``{"ef_search":
            64, "max_neighbors": 32}``; see ``make bench SCALE=1M`` for measured trade-offs).
    """

    def __init__(
        self,
        client: Any,
        model_id: str,
        dim: int,
        text_model: Callable[[Sequence[str]], np.ndarray] | None = None,
        prior: pd.Series | None = None,
        prior_key: str | None = None,
        hnsw: dict[str, Any] | None = None,
    ) -> None:
        text_id = getattr(text_model, "id", model_id) if text_model is not None else model_id
        # "<model_id>/text-query" is a query-side model of that space (the hybrid's text part).
        if text_id != model_id and not text_id.startswith(f"{model_id}/"):
            raise StoreMismatchError(
                f"text model {text_id!r} cannot query items embedded by {model_id!r}; "
                "pass the model that embedded the items"
            )
        self.client = client
        self.model_id = model_id
        self.dim = int(dim)
        self.text_model = text_model
        self.prior = None if prior is None else _check_prior(prior)
        if self.prior is None:
            self.collection = open_collection(
                client, ITEMS_PREFIX, model_id, self.dim, "items", hnsw
            )
        else:
            key = prior_key if prior_key is not None else prior_id(self.prior)
            self.collection = open_collection(
                client, ITEMS_PREFIX, f"{model_id}+{key}", self.dim + 2, "items", hnsw
            )
        self._stored_dim = self.dim if self.prior is None else self.dim + 2

    def __repr__(self) -> str:
        return f"ItemStore({self.collection.name!r}, model={self.model_id!r}, items={self.count()})"

    def count(self) -> int:
        """Number of items stored."""
        return int(self.collection.count())

    def add_items(self, items: pd.DataFrame, vectors: np.ndarray) -> int:
        """Upsert items with their vectors (ids = item ids, documents = text, metadata = title...).

        Everything is validated before the first write, so bad input writes nothing. Writes go in
        batches of the client's maximum batch size. Returns the number of items written.
        """
        missing = [c for c in ("item_id", "title") if c not in items.columns]
        if missing:
            raise ValueError(f"items frame lacks columns {missing}; it needs item_id and title")
        if items["item_id"].duplicated().any():
            dup = items.loc[items["item_id"].duplicated(), "item_id"].head(3).tolist()
            raise ValueError(f"duplicate item ids {dup}: each item must appear once")
        arr = check_matrix(vectors, len(items), self.dim, "item vectors")
        if self.prior is not None:
            arr = self._augment_items(arr, items["item_id"].to_numpy(dtype=np.int64))
        ids = [str(int(i)) for i in items["item_id"]]
        docs = [str(t) for t in items["text"]] if "text" in items.columns else None
        metas = _item_metadata(items)
        return client_limits.write(
            self.client, self.collection.upsert, ids, embeddings=arr, metadatas=metas,
            documents=docs,
        )

    def get_vectors(self, item_ids: Sequence[int]) -> np.ndarray:
        """Vectors of ``item_ids`` as float32 (n, dim), in the order asked.

        Chroma returns rows in insertion order and drops unknown ids; this re-aligns by id and
        raises KeyError naming the unknown ones.
        """
        wanted = [str(int(i)) for i in item_ids]
        if not wanted:
            return np.zeros((0, self.dim), dtype=np.float32)
        got = client_limits.get_by_ids(
            self.client, self.collection, list(dict.fromkeys(wanted)), ["embeddings"]
        )
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        unknown = [i for i in wanted if i not in by_id]
        if unknown:
            raise KeyError(
                f"unknown item id(s) {unknown[:5]} (of {len(unknown)}) in collection "
                f"{self.collection.name!r}; use ids from the dataset's items"
            )
        rows = np.asarray([by_id[i] for i in wanted], dtype=np.float32)
        if self.prior is not None:  # the item's own vector: the first dim numbers, times sqrt 2
            rows = rows[:, : self.dim] * np.float32(np.sqrt(2.0))
        return rows

    def stored_prior(self, item_ids: Sequence[int]) -> np.ndarray:
        """The prior each of ``item_ids`` is stored with (NaN for items not stored)."""
        if self.prior is None:
            raise ValueError("this store holds plain vectors: it has no prior")
        got = client_limits.get_by_ids(
            self.client, self.collection, [str(int(i)) for i in item_ids], ["embeddings"]
        )
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        rows = [by_id.get(str(int(i))) for i in item_ids]
        # the stored row is [e, p, sqrt(1 - p**2)] / sqrt(2): p is its (dim+1)-th number
        return np.array([np.nan if r is None else float(r[self.dim]) * np.sqrt(2.0)
                         for r in rows])

    def refresh_prior(self, prior: pd.Series, vectors: np.ndarray) -> int:
        """Store items again with a new prior value: ``prior`` (item id -> [0, 1]) names the
        items to rewrite, ``vectors`` their plain vectors (same order). Other items keep theirs.
        Validated before the first write. Returns the number of items written."""
        if self.prior is None:
            raise ValueError("this store holds plain vectors: build it with a prior to refresh")
        new = _check_prior(prior)
        arr = check_matrix(vectors, len(new), self.dim, "item vectors")
        merged = self.prior.copy()
        merged.loc[new.index] = new.to_numpy()
        self.prior = merged
        rows = self._augment_items(arr, new.index.to_numpy(dtype=np.int64))
        ids = [str(int(i)) for i in new.index]
        client_limits.write(self.client, self.collection.update, ids, embeddings=rows)
        self.__dict__.pop("_vector_cache", None)  # the exact fallback must see the new rows
        return len(ids)

    def _augment_items(self, vectors: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """``[e, p, sqrt(1 - p**2)] / sqrt(2)`` per row (``e`` normalized): unit rows."""
        e = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        p = self.prior.reindex(item_ids).fillna(0.0).to_numpy(dtype=np.float64)
        out = np.hstack([e, p[:, None], np.sqrt(1.0 - p**2)[:, None]]) / np.sqrt(2.0)
        return out.astype(np.float32)

    def _query_vector(self, vec: np.ndarray, weight: float) -> tuple[np.ndarray, float]:
        """(what Chroma is asked with, factor turning Chroma's cosine into the score)."""
        if self.prior is None:
            return vec, 1.0
        unit = vec[0].astype(np.float64) / np.linalg.norm(vec[0])
        q = np.concatenate([unit, [weight, 0.0]])[None, :].astype(np.float32)
        return q, float(np.sqrt(2.0) * np.sqrt(1.0 + weight**2))

    def query(
        self,
        vector: np.ndarray,
        n: int = 10,
        exclude: Sequence[int] = (),
        popularity_weight: float = 0.0,
    ) -> pd.DataFrame:
        """Cosine top-``n`` items for a query vector, skipping ``exclude``; best first.

        ``similarity`` is the cosine of ``vector`` and the item's vector, plus
        ``popularity_weight * p`` when the store has a popularity prior (``p`` in [0, 1], see
        the class docstring); ``popularity_weight`` must be 0 for a store without one.

        Returns exactly ``n`` rows when at least ``n`` items are not excluded (fewer otherwise),
        never an excluded id. How exclusion stays fast (measured, 9k items x 384-d, see
        ``benchmarks/bench_recommend.py``):

        - a Chroma ``$nin`` filter costs ~20 ms whatever the list's size, and over-fetching
          ``n + len(exclude)`` rows with their metadata ~10-200 ms for users with 2,000 seen
          items, mostly in loading that metadata;
        - so the search asks for ids and distances only, over-fetching a bounded number of rows
          (searches up to ``ef_search`` rows cost about the same as ``n``), and asks again for 4x
          as many only when too few survive (up to ``n + len(exclude)``, which always suffices).
          It never asks for more rows than the client answers (Chroma Cloud: 300, see
          :mod:`recsys_nb.client_limits`); past that, one ``$nin``-filtered search;
          On MovieLens (671 users) the 10th unseen item of a user's interest vector ranks at
          most 26th with MiniLM vectors; with collaborative ones median 19th, 95th percentile
          64th, 453rd for the heaviest user (2,391 seen items);
        - if HNSW returns fewer rows than asked while the collection holds more (parts of its
          graph can be unreachable from some queries), the answer comes from an exact numpy
          search over the stored vectors instead;
        - metadata (title, year, genres) is read for the ``n`` kept ids only, and kept in an
          in-memory cache per store: items' metadata does not change once stored.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n={n!r} must be a positive integer number of items")
        cap = client_limits.limits(self.client).max_results
        if cap is not None and n > cap:
            raise ValueError(
                f"n={n} is more than the {cap} results this Chroma client answers per query "
                "(Chroma Cloud's limit, or RECSYS_NB_MAX_RESULTS): ask for at most that many"
            )
        vec = check_matrix(np.asarray(vector).reshape(1, -1), 1, self.dim, "query vector")
        weight = _check_weight(popularity_weight, self.prior is not None)
        q, scale = self._query_vector(vec, weight)
        kept = self._top_unexcluded(q, int(n), _exclusion_set(exclude))
        ids = [i for i, _ in kept]
        return _query_frame(ids, self._metadata(ids), [s * scale for _, s in kept])

    def _top_unexcluded(
        self, vec: np.ndarray, n: int, excluded: set[int]
    ) -> list[tuple[int, float]]:
        """``[(item id, cosine)]``: the top ``n`` ids not in ``excluded``, by adaptive over-fetch.

        Stops when ``n`` survive, or after fetching ``n + len(excluded)`` rows (at most
        ``len(excluded)`` of them can be excluded, so enough survive whenever enough items
        remain). When Chroma returns fewer rows than asked although the collection holds more,
        the HNSW graph could not reach them from this query (seen on MovieLens with
        collaborative vectors, whose many identical vectors leave regions of the graph
        unreachable: a ``$nin`` or ``ids=`` filter returned no row at all there), so the answer
        comes from an exact search instead (:meth:`_exact_top`).
        """
        ceiling = n + len(excluded)
        cap = client_limits.limits(self.client).max_results or ceiling
        fetch = min(ceiling, n + max(n, _OVERFETCH), cap)
        while True:
            res = self.collection.query(
                query_embeddings=vec, n_results=fetch, include=["distances"]
            )
            ids, dists = res["ids"][0], res["distances"][0]
            kept = [
                (item, 1.0 - d)
                for item, d in zip(map(int, ids), dists, strict=True)
                if item not in excluded
            ]
            if len(kept) >= n:
                return kept[:n]
            if len(ids) < fetch:  # the collection is exhausted, or HNSW fell short
                return kept if len(ids) >= self.count() else self._exact_top(vec, n, excluded)
            if fetch >= ceiling:  # unreachable: fetch rows held at most len(excluded) excluded
                return kept
            if fetch >= cap:  # the client answers no more rows: let Chroma filter instead
                return self._filtered_top(vec, n, excluded)
            fetch = min(ceiling, fetch * 4, cap)

    def _filtered_top(
        self, vec: np.ndarray, n: int, excluded: set[int]
    ) -> list[tuple[int, float]]:
        """Top ``n`` through a ``$nin`` filter on the item id (~20 ms on 9k items, so only when
        over-fetching would exceed the client's result limit, e.g. Chroma Cloud's 300)."""
        res = self.collection.query(
            query_embeddings=vec, n_results=n, include=["distances"],
            where={"item_id": {"$nin": sorted(int(i) for i in excluded)}},
        )
        return [(int(i), 1.0 - d) for i, d in zip(res["ids"][0], res["distances"][0],
                                                  strict=True)]

    def _exact_top(
        self, vec: np.ndarray, n: int, excluded: set[int]
    ) -> list[tuple[int, float]]:
        """Exact cosine top ``n`` over every stored vector, ``excluded`` skipped (numpy).

        The stored vectors are read once (~0.15 s for 9k items) and kept; the copy is re-read
        when the collection's size changes.
        """
        ids, unit_rows = self._all_vectors()
        scores = unit_rows @ (vec[0] / np.linalg.norm(vec[0]))
        drop = None
        if excluded:
            wanted = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
            drop = [np.flatnonzero(np.isin(ids, wanted))]
        best, top = top_n(scores[None, :], n, drop, ids)
        return [(int(i), float(s)) for i, s in zip(best[0], top[0], strict=True) if i >= 0]

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(item ids int64, unit-length float32 rows) of the whole collection, cached."""
        total = self.count()
        cached = self.__dict__.get("_vector_cache")
        if cached is None or len(cached[0]) != total:
            got = client_limits.get_all(self.client, self.collection, ["embeddings"])
            rows = np.asarray(got["embeddings"], dtype=np.float32).reshape(-1, self._stored_dim)
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            cached = (np.array([int(i) for i in got["ids"]], dtype=np.int64), rows)
            self.__dict__["_vector_cache"] = cached
        return cached

    def _metadata(self, item_ids: list[int]) -> list[dict[str, Any]]:
        """Metadata of ``item_ids`` in the order asked, from the cache or one ``get`` for misses.

        (Chroma's ``get`` returns rows in its own order, so rows are matched by id.)
        """
        cache: dict[int, dict[str, Any]] = self.__dict__.setdefault("_meta_cache", {})
        missing = [i for i in item_ids if i not in cache]
        if missing:
            got = client_limits.get_by_ids(
                self.client, self.collection, [str(i) for i in missing], ["metadatas"]
            )
            for key, meta in zip(got["ids"], got["metadatas"], strict=True):
                cache[int(key)] = dict(meta or {})
        return [cache.get(i, {}) for i in item_ids]

    def similar_items(self, item_id: int, n: int = 10) -> pd.DataFrame:
        """The ``n`` items most similar to ``item_id`` (itself excluded), with cosine similarity
        (no popularity prior: item-to-item neighbours)."""
        vector = self.get_vectors([item_id])[0]
        return self.query(vector, n=n, exclude=[item_id])

    def search(self, text: str, n: int = 10) -> pd.DataFrame:
        """Free-text search: embed ``text`` with the store's text model and return the top ``n``."""
        if not isinstance(text, str):
            raise TypeError(f"search text must be a str, got {type(text).__name__}")
        if self.text_model is None:
            raise ValueError(
                f"items of model {self.model_id!r} have no text model (e.g. collaborative "
                "embeddings): search by text needs a text embedding such as MiniLM"
            )
        vector = np.asarray(self.text_model([text]))[0]
        return self.query(vector, n=n)


def _check_prior(prior: pd.Series) -> pd.Series:
    """A popularity prior as float64 indexed by int item id; values must be finite, in [0, 1]."""
    if not isinstance(prior, pd.Series):
        raise TypeError(f"prior must be a pandas Series item_id -> [0, 1], got {type(prior)}")
    values = prior.to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(values) & (values >= 0.0) & (values <= 1.0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"prior of item {prior.index[k]} is {values[k]}; every value must be in [0, 1] "
            "(e.g. log1p(count) / max log1p(count), see recsys_nb.priors)"
        )
    if prior.index.duplicated().any():
        raise ValueError("prior lists an item twice; pass one value per item id")
    return pd.Series(values, index=prior.index.astype(np.int64))


def _check_weight(weight: float, has_prior: bool) -> float:
    """A finite popularity weight >= 0; > 0 only when the store was built with a prior."""
    if isinstance(weight, bool) or not isinstance(weight, int | float | np.number):
        raise TypeError(f"popularity_weight={weight!r} must be a number >= 0, e.g. 2")
    weight = float(weight)
    if not (np.isfinite(weight) and weight >= 0.0):
        raise ValueError(f"popularity_weight={weight!r} must be a finite number >= 0, e.g. 2")
    if weight > 0 and not has_prior:
        raise ValueError(
            f"popularity_weight={weight} needs a store built with a popularity prior "
            "(ItemStore(..., prior=...)); pass popularity_weight=0 for this one"
        )
    return weight


#: Extra rows the first search of :meth:`ItemStore.query` over-fetches when excluding (searches up
#: to ``ef_search`` = 200 rows cost about the same as 10 rows; more are fetched only if needed).
_OVERFETCH = 64


def _exclusion_set(exclude: Sequence[int] | set[int]) -> set[int]:
    """Excluded item ids as a set of Python ints (accepts any iterable of int-like ids)."""
    if isinstance(exclude, str | bytes):
        raise TypeError(f"exclude={exclude!r} must be a collection of item ids, not a string")
    try:
        return set(map(int, exclude))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"exclude must hold integer item ids; got {exclude!r:.80} ({exc})"
        ) from None


def _query_frame(ids: list[int], metas: list[dict], scores: list[float]) -> pd.DataFrame:
    """:meth:`ItemStore.query`'s result: item_id, title, year (Int64), genres, similarity.

    Built from typed arrays, ~0.3 ms instead of the 0.6-1 ms pandas takes to infer each column:
    it matters inside a 3 ms recommendation budget.
    """
    n = len(ids)
    years = np.zeros(n, dtype=np.int64)
    missing_year = np.ones(n, dtype=bool)
    for k, meta in enumerate(metas):
        year = meta.get("year")
        if year is not None:
            years[k], missing_year[k] = int(year), False
    return pd.DataFrame(
        {
            "item_id": np.array(ids, dtype=np.int64),
            "title": pd.Series([m.get("title", "") for m in metas], dtype=object),
            "year": pd.arrays.IntegerArray(years, missing_year),
            "genres": pd.Series([m.get("genres", "") for m in metas], dtype=object),
            "similarity": np.array(scores, dtype=np.float64),
        }
    )


# --------------------------------------------------------------------------------------------
# Profiles: one interest vector per user, per embedding model.

PROFILES_PREFIX = "profiles"


def user_key(user_id: int | str) -> str:
    """Chroma id of a user: ``i:<int>`` or ``s:<str>``, so user 1 and user "1" stay different."""
    if isinstance(user_id, bool) or not isinstance(user_id, int | str | np.integer):
        raise TypeError(
            f"user id {user_id!r} is a {type(user_id).__name__}; use an int or a str"
        )
    if isinstance(user_id, str):
        if not user_id:
            raise ValueError("user id is an empty string; use a non-empty id")
        return f"s:{user_id}"
    return f"i:{int(user_id)}"


def user_from_key(key: str) -> int | str:
    """Inverse of :func:`user_key`."""
    kind, _, value = key.partition(":")
    return int(value) if kind == "i" else value


class ProfileStore:
    """The ``profiles`` collection of one model: id = user, embedding = interest vector.

    Metadata per profile: ``event_count`` (events folded into the vector), ``last_seq`` (sequence
    number in the event log of the last event it reflects: lets a reopened store detect and repair
    a profile that lags behind the log after a crash), ``updated_at`` (unix s), ``model_id``.
    """

    def __init__(self, client: Any, model_id: str, dim: int) -> None:
        self.client = client
        self.model_id = model_id
        self.dim = int(dim)
        self.collection = open_collection(client, PROFILES_PREFIX, model_id, self.dim, "profiles")

    def __repr__(self) -> str:
        return f"ProfileStore({self.collection.name!r}, profiles={self.count()})"

    def count(self) -> int:
        """Number of stored profiles."""
        return int(self.collection.count())

    def get(self, user_id: int | str) -> tuple[np.ndarray, dict[str, Any]] | None:
        """``(vector float32, metadata)`` of one user, or None when the user has no profile."""
        got = self.collection.get(ids=[user_key(user_id)], include=["embeddings", "metadatas"])
        if not got["ids"]:
            return None
        return np.asarray(got["embeddings"][0], dtype=np.float32), dict(got["metadatas"][0])

    def get_many(
        self, user_ids: Sequence[int | str]
    ) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        """``{user_key: (vector, metadata)}`` for the users that have a profile (one request per
        max-batch-size chunk; Chroma returns rows in its own order, so they are keyed by id)."""
        keys = list(dict.fromkeys(user_key(u) for u in user_ids))
        found: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
        got = client_limits.get_by_ids(
            self.client, self.collection, keys, ["embeddings", "metadatas"]
        )
        for k, emb, meta in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True):
            found[k] = (np.asarray(emb, dtype=np.float32), dict(meta))
        return found

    def put_many(
        self,
        user_ids: Sequence[int | str],
        vectors: np.ndarray,
        event_counts: Sequence[int],
        last_seqs: Sequence[int],
        updated_at: float,
    ) -> int:
        """Upsert many profiles; all rows are validated before the first write."""
        keys = [user_key(u) for u in user_ids]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate user ids in one profile write; pass each user once")
        arr = check_matrix(vectors, len(keys), self.dim, "interest vectors")
        metas = [
            {
                "event_count": int(c),
                "last_seq": int(s),
                "updated_at": float(updated_at),
                "model_id": self.model_id,
            }
            for c, s in zip(event_counts, last_seqs, strict=True)
        ]
        return client_limits.write(
            self.client, self.collection.upsert, keys, embeddings=arr, metadatas=metas
        )

    def all_metadata(self) -> pd.DataFrame:
        """user_id, event_count, last_seq of every profile (no vectors)."""
        got = client_limits.get_all(self.client, self.collection, ["metadatas"])
        return pd.DataFrame(
            {
                "user_id": [user_from_key(k) for k in got["ids"]],
                "event_count": [int(m.get("event_count", 0)) for m in got["metadatas"]],
                "last_seq": [int(m.get("last_seq", -1)) for m in got["metadatas"]],
            }
        )

    def all_vectors(self) -> tuple[list[int | str], np.ndarray]:
        """Every profile: (user ids, float32 matrix)."""
        got = client_limits.get_all(self.client, self.collection, ["embeddings"])
        if not got["ids"]:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        return [user_from_key(k) for k in got["ids"]], np.asarray(
            got["embeddings"], dtype=np.float32
        )

    def delete(self, user_id: int | str) -> None:
        """Remove one user's profile (no-op when there is none)."""
        self.collection.delete(ids=[user_key(user_id)])

    def delete_all(self) -> None:
        """Remove every profile (used before a rebuild from the event log)."""
        ids = client_limits.get_all(self.client, self.collection, [])["ids"]
        client_limits.write(self.client, self.collection.delete, ids)


# --------------------------------------------------------------------------------------------
# One writer per embedded store path.


class StoreLockedError(RuntimeError):
    """Another process has this embedded store open."""


class StoreLock:
    """An exclusive, process-wide lock on an embedded store folder (``fcntl.flock``).

    Two processes writing one Chroma PersistentClient path corrupt its vector index silently, and
    a client kept open does not see another process's writes. So an embedded store is owned by one
    process at a time. The OS releases the lock when the owner exits, even on SIGKILL.

    Args:
        path: the store folder; the lock file is ``path / ".writer.lock"``.
        timeout: seconds to wait for the other owner to close (0 = fail at once).
    """

    def __init__(self, path: str | Path, timeout: float = 0.0) -> None:
        import fcntl
        import time

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path / ".writer.lock", "a+")  # noqa: SIM115 - held until release
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.file.seek(0)
                    owner = self.file.read().strip() or "another process"
                    self.file.close()
                    raise StoreLockedError(
                        f"the store at {self.path} is open in {owner}. Two processes writing one "
                        "embedded Chroma store corrupt it, so only one may open it: close the "
                        "other notebook's recommender (`rec.close()`) or restart its kernel, pass "
                        "another path, or run a Chroma server (`chroma run --path DIR`) and set "
                        "CHROMA_HOST to share one store between processes"
                    ) from None
                time.sleep(0.05)
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"process {os.getpid()}")
        self.file.flush()

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if not self.file.closed:
            import fcntl

            self.file.seek(0)
            self.file.truncate()
            fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
            self.file.close()


def reset_store(path: str | Path) -> Path:
    """Empty a store so a run starts from scratch: its Chroma collections and its event log.

    Embedded: the ``chroma/`` folder's files, after taking the writer lock (a store that another
    process has open is never deleted; ``StoreLockedError`` says which process). Server or
    Cloud: the store's collections there (its own database, see :mod:`recsys_nb.clients`). The
    notebooks call this on their own folder so that running them twice gives the same numbers.
    Returns the folder.
    """
    import shutil

    folder = Path(path)
    if server_address() is not None:
        drop_collections(get_client(folder / "chroma"))
    else:
        lock = StoreLock(folder / "chroma")
        try:
            for child in (folder / "chroma").iterdir():
                if child.name == ".writer.lock":
                    continue
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        finally:
            lock.release()
    for name in ("events.sqlite", "events.sqlite-wal", "events.sqlite-shm"):
        (folder / name).unlink(missing_ok=True)
    return folder
