"""On-disk caches keyed by model id: text vectors in SQLite, learned vectors as .npy."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import sqlite3
import threading
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_nb.embeddings.minilm import _progress_bar
from recsys_nb.embeddings.protocol import EmbeddingModel, validate_texts

# --------------------------------------------------------------------------------------------
# Disk cache
# --------------------------------------------------------------------------------------------


def text_key(text: str) -> bytes:
    """The cache key of a text: sha256 of its UTF-8 bytes (32 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Embeddings on disk: an SQLite file keyed by (model id, sha256 of the text) -> float32 blob.

    One row per (model, text); writes are batched into one transaction. A stored row whose blob
    does not hold exactly ``dim`` finite float32 values (another model's dimension, a torn write,
    manual edits) is never returned: it counts as a miss, is reported in a warning, and gets
    overwritten by the fresh vector. Use it as a context manager or call :meth:`close`.

    Any thread may use it: one connection (``check_same_thread=False``) behind a lock, because a
    free-text search from a widget callback can run on another thread than the one that opened it.
    """

    _CHUNK = 900  # keys per SELECT (below SQLite's bound-parameter limit everywhere)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._mutex = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model_id TEXT NOT NULL, "
                "text_sha256 BLOB NOT NULL, "
                "vector BLOB NOT NULL, PRIMARY KEY (model_id, text_sha256)) WITHOUT ROWID"
            )
            self._conn.commit()
        except sqlite3.DatabaseError as exc:
            raise sqlite3.DatabaseError(
                f"{self.path} is not a usable embedding cache ({exc}); "
                "delete the file to rebuild it"
            ) from exc

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the SQLite connection (idempotent)."""
        with self._mutex:
            self._conn.close()

    def __len__(self) -> int:
        with self._mutex:
            return int(self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def count(self, model_id: str) -> int:
        """Number of stored vectors for ``model_id``."""
        sql = "SELECT COUNT(*) FROM embeddings WHERE model_id = ?"
        with self._mutex:
            return int(self._conn.execute(sql, (model_id,)).fetchone()[0])

    def get(self, model_id: str, texts: Sequence[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """Look ``texts`` up: ``(vectors (n, dim) float32, found (n,) bool)``; misses are 0."""
        texts = validate_texts(texts)
        keys = [text_key(t) for t in texts]
        return self.get_by_keys(model_id, keys, dim)

    def get_by_keys(
        self, model_id: str, keys: Sequence[bytes], dim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`get`, with precomputed :func:`text_key` keys."""
        vectors = np.zeros((len(keys), dim), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        positions: dict[bytes, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            positions[key].append(i)
        unique = list(positions)
        bad = 0
        for start in range(0, len(unique), self._CHUNK):
            chunk = unique[start : start + self._CHUNK]
            marks = ",".join("?" * len(chunk))
            with self._mutex:
                rows = self._conn.execute(
                    "SELECT text_sha256, vector FROM embeddings WHERE model_id = ? "
                    f"AND text_sha256 IN ({marks})",
                    (model_id, *chunk),
                ).fetchall()
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32) if len(blob) == 4 * dim else None
                if vec is None or not np.all(np.isfinite(vec)):
                    bad += 1
                    continue
                for i in positions[bytes(key)]:
                    vectors[i] = vec
                    found[i] = True
        if bad:
            warnings.warn(
                f"{bad} cached vector(s) for model {model_id!r} in {self.path} are not {dim} "
                "finite "
                "float32 values; they are treated as missing and will be recomputed",
                RuntimeWarning,
                stacklevel=2,
            )
        return vectors, found

    def put(self, model_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` for ``texts[i]`` in one transaction (replacing older rows)."""
        self.put_by_keys(model_id, [text_key(t) for t in validate_texts(texts)], vectors)

    def put_by_keys(self, model_id: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Like :meth:`put`, with precomputed :func:`text_key` keys."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(
                f"vectors has shape {vectors.shape} for {len(keys)} texts; pass one row per text"
            )
        if not np.all(np.isfinite(vectors)):
            raise ValueError("vectors contain NaN or inf; refusing to cache them")
        rows = [
            (model_id, key, np.ascontiguousarray(v).tobytes())
            for key, v in zip(keys, vectors, strict=True)
        ]
        with self._mutex, self._conn:  # one transaction
            self._conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_sha256, vector) "
                "VALUES (?, ?, ?)",
                rows,
            )


class CachedEmbedder:
    """An :class:`EmbeddingModel` that remembers every vector in an :class:`EmbeddingCache`.

    Same ``id`` and ``dim`` as the wrapped model. A call looks all texts up, embeds only the misses
    (deduplicated) in ONE call of the model, and writes them in one transaction, so re-running a
    notebook never re-embeds. ``computed`` counts the texts the model actually embedded.

    Args:
        model: the model to wrap.
        cache: an :class:`EmbeddingCache` or the path of its SQLite file (e.g.
            ``data/cache/embeddings.sqlite``).
        progress: show a tqdm bar when more than ``progress_min`` texts miss. Models that accept
            a ``progress=`` keyword (like :class:`MiniLM`) draw it per batch within their one
            call; other models are then called in chunks of 1024 texts so the bar can move.
    """

    def __init__(
        self,
        model: EmbeddingModel,
        cache: EmbeddingCache | str | os.PathLike[str],
        *,
        progress: bool = True,
        progress_min: int = 300,
    ) -> None:
        self.model = model
        self.id: str = model.id
        self.dim: int = int(model.dim)
        self.cache = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache(cache)
        self.progress = progress
        self.progress_min = progress_min
        self.computed = 0
        try:
            params = inspect.signature(model.__call__).parameters.values()
            self._model_takes_progress = any(
                p.name == "progress" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params
            )
        except (TypeError, ValueError):
            self._model_takes_progress = False

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.model!r}, cache={str(self.cache.path)!r})"

    def close(self) -> None:
        """Close the cache file."""
        self.cache.close()

    def __call__(self, texts: Sequence[str], *, progress: bool | None = None) -> np.ndarray:
        """Embed ``texts`` (cached): ``(n, dim)`` float32, unit rows, input order."""
        texts = validate_texts(texts)
        keys = [text_key(t) for t in texts]
        vectors, found = self.cache.get_by_keys(self.id, keys, self.dim)
        if found.all():
            return vectors
        first: dict[bytes, int] = {}
        for i in np.flatnonzero(~found):
            first.setdefault(keys[i], int(i))
        miss_idx = list(first.values())
        miss_texts = [texts[i] for i in miss_idx]
        wanted = self.progress if progress is None else progress
        show = wanted and len(miss_texts) > self.progress_min
        if show and self._model_takes_progress:
            new = self.model(miss_texts, progress=True)  # type: ignore[call-arg]
        elif show:
            with contextlib.closing(
                _progress_bar(len(miss_texts), f"embedding ({self.id})")
            ) as bar:
                parts = []
                for start in range(0, len(miss_texts), 1024):
                    parts.append(self.model(miss_texts[start : start + 1024]))
                    bar.update(len(parts[-1]))
                new = np.vstack(parts)
        else:
            new = self.model(miss_texts)
        new = np.asarray(new, dtype=np.float32)
        if new.shape != (len(miss_texts), self.dim):
            raise ValueError(
                f"model {self.id!r} returned shape {new.shape} for {len(miss_texts)} texts; "
                f"expected ({len(miss_texts)}, {self.dim})"
            )
        self.cache.put_by_keys(self.id, [keys[i] for i in miss_idx], new)
        self.computed += len(miss_texts)
        row_of = {keys[i]: r for r, i in enumerate(miss_idx)}
        for i in np.flatnonzero(~found):
            vectors[i] = new[row_of[keys[i]]]
        return vectors



def learned_cached(
    cache_path: str | os.PathLike[str] | None,
    model_id: str,
    items: pd.DataFrame,
    compute: Callable[[], np.ndarray],
) -> np.ndarray:
    """Learned item vectors from disk when this model and catalogue were computed before.

    The model id already fingerprints the events and the settings; the file name adds a
    fingerprint of the item ids and genres (cold items get genre centroids), so a cached matrix
    is only reused for exactly the same inputs. Stored as ``<cache dir>/learned/<key>.npy`` next
    to the text-embedding cache, written atomically; a file of the wrong shape or with
    non-finite values is recomputed. ``cache_path=None`` always computes.
    """
    if cache_path is None:
        return np.asarray(compute(), dtype=np.float32)
    genres = items["genres"].map(str) if "genres" in items.columns else pd.Series([], dtype=str)
    digest = hashlib.sha256(model_id.encode())
    digest.update(items["item_id"].to_numpy(dtype=np.int64).tobytes())
    digest.update("\x1f".join(genres).encode())
    path = Path(cache_path).parent / "learned" / f"{digest.hexdigest()[:24]}.npy"
    if path.exists():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape[0] == len(items) and np.isfinite(cached).all():
                return cached.astype(np.float32, copy=False)
        except (OSError, ValueError):
            pass  # unreadable: recompute and overwrite
    vectors = np.asarray(compute(), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, vectors, allow_pickle=False)
    os.replace(tmp, path)
    return vectors

