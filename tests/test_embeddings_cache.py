"""recsys_nb.embeddings.cache: the SQLite text-vector cache and the learned-vector files."""

from __future__ import annotations

import hashlib
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest
from minilm_reference import REF_TEXTS

from recsys_nb.embeddings import (
    CachedEmbedder,
    EmbeddingCache,
    EmbeddingModel,
)
from recsys_nb.embeddings.cache import learned_cached, text_key
from recsys_nb.embeddings.protocol import _unit_rows

# ---- cache ----------------------------------------------------------------------------------


class CountingModel:
    """Wraps a model and records every batch it is asked to embed."""

    def __init__(self, model):
        self.model, self.id, self.dim = model, model.id, model.dim
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return self.model(texts)


class HashModel:
    """A tiny deterministic fake model (8-d) for cache mechanics."""

    id, dim = "hash-8", 8

    def __init__(self):
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, texts, **kwargs):
        self.calls.append((list(texts), kwargs))
        raw = np.array(
            [np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], np.uint8) for t in texts],
            dtype=np.float32,
        ).reshape(len(texts), 8)
        return _unit_rows(raw + 1.0)


def test_cache_second_call_computes_nothing(minilm, tmp_path):
    counting = CountingModel(minilm)
    cached = CachedEmbedder(counting, tmp_path / "cache" / "emb.sqlite")
    texts = REF_TEXTS[:6] + REF_TEXTS[:2]  # duplicates are embedded once
    first = cached(texts)
    assert counting.calls == [REF_TEXTS[:6]] and cached.computed == 6
    second = cached(texts)
    assert len(counting.calls) == 1 and cached.computed == 6
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, minilm(texts), atol=1e-6)
    assert cached.id == minilm.id and cached.dim == 384 and isinstance(cached, EmbeddingModel)
    cached(REF_TEXTS[:8])  # only the two new texts, in one call
    assert counting.calls[-1] == REF_TEXTS[6:8]
    assert cached([]).shape == (0, 384)
    cached.close()


def test_cache_survives_reopening(tmp_path):
    path = tmp_path / "emb.sqlite"
    model = HashModel()
    with EmbeddingCache(path) as cache:
        vectors = CachedEmbedder(model, cache)(["x", "y", "z"])
    reopened = CachedEmbedder(model, path)
    np.testing.assert_array_equal(reopened(["z", "x"]), vectors[[2, 0]])
    assert len(model.calls) == 1 and reopened.computed == 0
    assert reopened.cache.count("hash-8") == 3 and reopened.cache.count("other") == 0
    reopened.close()


def test_cache_keys_by_model_id(tmp_path):
    path = tmp_path / "emb.sqlite"
    a, b = HashModel(), HashModel()
    b.id = "hash-8-other"
    CachedEmbedder(a, path)(["x"])
    CachedEmbedder(b, path)(["x"])
    assert len(a.calls) == 1 and len(b.calls) == 1


def test_corrupt_or_wrong_dim_rows_are_never_returned(tmp_path):
    path = tmp_path / "emb.sqlite"
    model = HashModel()
    good = CachedEmbedder(model, path)(["x", "y"])
    with sqlite3.connect(path) as conn:  # a 4-d vector where 8-d belong, and a torn blob
        conn.execute(
            "UPDATE embeddings SET vector = ? WHERE text_sha256 = ?",
            (np.ones(4, np.float32).tobytes(), text_key("x")),
        )
        conn.execute(
            "UPDATE embeddings SET vector = ? WHERE text_sha256 = ?",
            (b"\x00\x01\x02", text_key("y")),
        )
    cached = CachedEmbedder(model, path)
    with pytest.warns(RuntimeWarning, match="2 cached vector"):
        again = cached(["x", "y"])
    np.testing.assert_array_equal(again, good)
    assert cached.computed == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: no warning, nothing recomputed
        cached(["x", "y"])
    assert cached.computed == 2


def test_cached_embedder_asks_for_a_progress_bar_on_long_runs(tmp_path):
    model = HashModel()
    cached = CachedEmbedder(model, tmp_path / "emb.sqlite", progress_min=2)
    cached(["a", "b"])
    cached(["c", "d", "e"])
    cached(["f", "g", "h"], progress=False)
    assert [kw for _, kw in model.calls] == [{}, {"progress": True}, {}]

    class NoProgressKeyword:  # the cache draws the bar itself, still one call for 3 misses
        id, dim = "plain-8", 8
        calls: list[list[str]] = []

        def __call__(self, texts):
            self.calls.append(list(texts))
            return HashModel()(texts)

    plain = NoProgressKeyword()
    out = CachedEmbedder(plain, tmp_path / "emb.sqlite", progress_min=2)(["a", "b", "c"])
    assert plain.calls == [["a", "b", "c"]] and out.shape == (3, 8)


def test_learned_vectors_are_cached_on_disk_by_model_and_catalogue(tmp_path):

    items = pd.DataFrame({"item_id": [1, 2, 3], "genres": [["A"], ["B"], []]})
    calls = []

    def compute():
        calls.append(1)
        return np.eye(3, dtype=np.float32)

    cache = tmp_path / "cache" / "embeddings.sqlite"
    first = learned_cached(cache, "svd-x", items, compute)
    again = learned_cached(cache, "svd-x", items, compute)
    np.testing.assert_array_equal(first, again)
    assert len(calls) == 1  # the second call read the file
    learned_cached(cache, "svd-y", items, compute)  # another model id: computed
    learned_cached(cache, "svd-x", items.assign(genres=[["A"], ["A"], []]), compute)
    assert len(calls) == 3
    for f in (tmp_path / "cache" / "learned").glob("*.npy"):
        f.write_bytes(b"garbage")  # a broken file is recomputed, not trusted
    learned_cached(cache, "svd-x", items, compute)
    assert len(calls) == 4
    learned_cached(None, "svd-x", items, compute)  # no cache: always computed
    assert len(calls) == 5
