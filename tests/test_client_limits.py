"""The store within a client's limits, against a real `chroma run` server whose request size is
lowered (it refuses large writes with "Payload too large") and a result limit lowered through
RECSYS_NB_MAX_RESULTS: every request stays within the limits and the answers stay exact."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from chromadb.api.models.Collection import Collection

from recsys_nb import client_limits
from recsys_nb.client_limits import Limits, limits
from recsys_nb.store import ItemStore, get_client

DIM = 16
MAX_RESULTS = 12


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    """A server that accepts request bodies up to 20 kB (about 60 items with metadata)."""
    from recsys_nb.serve import chroma_server

    with chroma_server(tmp_path_factory.mktemp("limited"), max_payload_bytes=20_000) as address:
        yield address


@pytest.fixture
def limited_env(limited_server, monkeypatch):
    host, port = limited_server
    monkeypatch.setenv("CHROMA_HOST", host)
    monkeypatch.setenv("CHROMA_PORT", str(port))
    monkeypatch.setenv("RECSYS_NB_MAX_RESULTS", str(MAX_RESULTS))


@pytest.fixture
def requests(monkeypatch):
    """Every request the collections make: (method, rows asked, refused?). A spy that forwards to
    the real method, so the server answers for real."""
    seen: dict[str, list[tuple[int, bool]]] = defaultdict(list)

    def spy(name, rows_of):
        real = getattr(Collection, name)

        def call(self, *args, **kwargs):
            rows = rows_of(kwargs)
            try:
                out = real(self, *args, **kwargs)
            except Exception:
                seen[name].append((rows, True))
                raise
            seen[name].append((rows, False))
            return out

        monkeypatch.setattr(Collection, name, call)

    spy("query", lambda kw: int(kw.get("n_results", 10)))
    for write in ("upsert", "update", "add", "delete"):
        spy(write, lambda kw: len(kw.get("ids") or []))
    spy("get", lambda kw: int(kw["limit"]) if kw.get("limit") else len(kw.get("ids") or []))
    return seen


def clustered_items(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    centres = rng.normal(size=(8, DIM))
    vecs = centres[rng.integers(0, 8, n)] + 0.3 * rng.normal(size=(n, DIM))
    items = pd.DataFrame({
        "item_id": np.arange(1000, 1000 + n), "title": [f"Film number {i}" for i in range(n)],
        "year": rng.integers(1950, 2020, n), "genres": [["Drama", "Comedy"]] * n,
    })
    return items, vecs.astype(np.float32)


@pytest.mark.server
def test_writes_shrink_to_what_the_server_accepts_and_queries_stay_under_the_limit(
        limited_env, requests, tmp_path):
    rng = np.random.default_rng(7)
    items, vecs = clustered_items(400, rng)
    client = get_client(tmp_path / "chroma")
    store = ItemStore(client, "limited", DIM)
    assert store.add_items(items, vecs) == 400 and store.count() == 400
    refused = [rows for rows, failed in requests["upsert"] if failed]
    assert refused, "the lowered payload limit never refused a batch: the test proves nothing"
    assert limits(client).max_write < min(refused) <= client.get_max_batch_size()
    # a query whose 30 nearest items are excluded: over-fetching would need 40 rows > 12
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    query = unit[0] + unit[1]
    order = np.argsort(-(unit @ (query / np.linalg.norm(query))))
    excluded = items["item_id"].to_numpy()[order[:30]]
    got = store.query(query, n=10, exclude=excluded)
    assert got["item_id"].tolist() == items["item_id"].to_numpy()[order[30:40]].tolist()
    assert max(rows for rows, _ in requests["query"]) <= MAX_RESULTS
    assert all(rows <= MAX_RESULTS for rows, _ in requests["get"] if rows)
    np.testing.assert_allclose(store.get_vectors(items["item_id"][:300]), vecs[:300], atol=1e-6)
    with pytest.raises(ValueError, match="n=13 is more than .* 12"):
        store.query(query, n=13)


@pytest.mark.server
def test_a_recommender_runs_within_the_limits(limited_env, requests, tmp_path):
    """Ingest, profiles, recommend with heavy exclusion, reset: all through the limited server."""
    from recsys_nb.data import load_movielens, sample_users, subset_items
    from recsys_nb.recommender import Recommender
    from recsys_nb.store import reset_store

    ds = sample_users(load_movielens(), 30, seed=3, min_events=40)
    ds = subset_items(ds, ds.events["item_id"].value_counts().index[:300])
    path = tmp_path / "store"
    with Recommender.from_dataset(ds, path, embedding="collaborative", dim=16,
                                  progress=False) as rec:
        rec.ingest(ds.events)
        heavy = ds.events["user_id"].value_counts().index[0]
        seen = set(ds.events.loc[ds.events["user_id"] == heavy, "item_id"])
        top = rec.recommend(heavy, n=10)
        assert len(top) == 10 and not seen & set(top["item_id"])
    assert max(rows for rows, _ in requests["query"]) <= MAX_RESULTS
    assert all(rows <= MAX_RESULTS for rows, _ in requests["get"] if rows)
    reset_store(path)
    assert not get_client(path / "chroma").list_collections()


def test_write_halves_a_refused_batch_and_passes_other_errors_on():
    """Unit test of the error path: a stand-in method refusing more than 3 rows by size."""
    class Client:
        _recsys_nb_limits = Limits(max_write=10)

    calls = []

    def upsert(ids, embeddings):
        calls.append(len(ids))
        if len(ids) > 3:
            raise Exception("Payload too large (trace ID: 0)")  # what a chroma server says

    assert client_limits.write(Client(), upsert, [str(i) for i in range(11)],
                               embeddings=np.zeros((11, 2))) == 11
    assert calls == [10, 5, 2, 2, 2, 2, 2, 1] and Client._recsys_nb_limits.max_write == 2

    def broken(ids):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        client_limits.write(Client(), broken, ["1"])


def test_limits_from_environment_are_checked(monkeypatch):
    class Client:
        def get_max_batch_size(self):
            return 5461

    monkeypatch.setenv("RECSYS_NB_MAX_WRITE", "100")
    monkeypatch.setenv("RECSYS_NB_MAX_RESULTS", "50")
    assert limits(Client()) == Limits(max_write=100, max_results=50, page=50)
    monkeypatch.setenv("RECSYS_NB_MAX_RESULTS", "many")
    with pytest.raises(ValueError, match="RECSYS_NB_MAX_RESULTS='many' must be a positive"):
        limits(Client())


def test_reads_of_everything_come_in_pages(tmp_path):
    """An embedded Chroma fails to `get` more than ~32,700 rows at once: every read is paged."""
    client = get_client(tmp_path / "chroma")
    client._recsys_nb_limits = Limits(max_write=100, page=7)
    items, vecs = clustered_items(30, np.random.default_rng(2))
    store = ItemStore(client, "paged", DIM)
    store.add_items(items, vecs)
    got = client_limits.get_all(client, store.collection, ["metadatas"])
    assert sorted(int(i) for i in got["ids"]) == items["item_id"].tolist()
    assert len(got["metadatas"]) == 30
    ids, rows = store._all_vectors()
    assert len(ids) == 30 and rows.shape == (30, DIM)
