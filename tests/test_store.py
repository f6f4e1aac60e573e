"""Items store: embedded and server mode, alignment, exclusion, model mismatch, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb import store
from recsys_nb.store import ItemStore, StoreMismatchError, get_client

DIM = 16


def make_items(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    items = pd.DataFrame(
        {
            "item_id": np.arange(100, 100 + n, dtype=np.int64),
            "title": [f"Movie {i}" for i in range(n)],
            "year": pd.array([1990 + i % 20 if i % 7 else None for i in range(n)], dtype="Int64"),
            "genres": [["Drama", "Comedy"][: 1 + i % 2] for i in range(n)],
            "text": [f"Movie {i}: Drama" for i in range(n)],
        }
    )
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return items, vecs


@pytest.fixture
def filled(tmp_path):
    rng = np.random.default_rng(0)
    items, vecs = make_items(300, rng)
    client = get_client(tmp_path / "chroma")
    s = ItemStore(client, "test-model", DIM)
    s.add_items(items, vecs)
    return s, items, vecs


def exact_top(vecs: np.ndarray, q: np.ndarray, n: int) -> np.ndarray:
    return np.argsort(-(vecs @ q), kind="stable")[:n]


def test_default_path_is_under_data_dir(tmp_path):
    assert store.default_store_path() == tmp_path / "data" / "store"
    client = get_client()  # the same folder as Recommender.from_dataset(path=None) uses
    assert (tmp_path / "data" / "store" / "chroma").is_dir()
    assert client.heartbeat() > 0


def test_add_and_get_vectors_realigns_by_id(filled):
    s, items, vecs = filled
    assert s.count() == 300
    asked = [150, 100, 399, 150]
    got = s.get_vectors(asked)
    np.testing.assert_allclose(got, vecs[[50, 0, 299, 50]], atol=1e-6)


def test_unknown_item_id_is_a_keyerror_naming_it(filled):
    s, _, _ = filled
    with pytest.raises(KeyError, match="99999"):
        s.get_vectors([100, 99999])


def test_similar_items_match_exact_cosine_and_exclude_self(filled):
    s, items, vecs = filled
    res = s.similar_items(100, n=10)
    assert list(res.columns) == ["item_id", "title", "year", "genres", "similarity"]
    assert 100 not in set(res["item_id"])
    expected = items["item_id"].to_numpy()[exact_top(vecs, vecs[0], 11)[1:]]
    assert len(set(res["item_id"]) & set(expected)) >= 9  # HNSW is approximate
    assert res["similarity"].is_monotonic_decreasing
    np.testing.assert_allclose(
        res["similarity"].iloc[0], float(vecs[0] @ vecs[res["item_id"].iloc[0] - 100]), atol=1e-4
    )


def test_query_excludes_and_returns_n(filled):
    s, items, vecs = filled
    first = s.query(vecs[5], n=20)
    excluded = first["item_id"].head(10).tolist()
    second = s.query(vecs[5], n=10, exclude=excluded)
    assert len(second) == 10
    assert not set(second["item_id"]) & set(excluded)
    assert second["item_id"].tolist() == first["item_id"].iloc[10:20].tolist()


def test_query_n_larger_than_catalog_returns_all(filled):
    s, _, vecs = filled
    assert len(s.query(vecs[0], n=10_000)) == 300


def test_metadata_roundtrip(filled):
    s, items, _ = filled
    res = s.query(s.get_vectors([106])[0], n=1)
    assert res["item_id"].iloc[0] == 106
    assert res["title"].iloc[0] == "Movie 6"
    assert res["genres"].iloc[0] == "Drama"
    first_no_year = s.query(s.get_vectors([107])[0], n=1)
    assert pd.isna(first_no_year["year"].iloc[0])  # i=7 had no year


def test_model_mismatch_names_both(filled, tmp_path):
    s, _, _ = filled
    client = s.client
    other = ItemStore(client, "other-model", DIM)  # a different model gets its own collection
    assert other.count() == 0
    # The same collection name opened with another dimension is refused, naming both.
    with pytest.raises(StoreMismatchError, match=r"test-model.*dim 16.*dim 32"):
        ItemStore(client, "test-model", 32)


def test_wrong_dimension_vectors_write_nothing(filled):
    s, items, _ = filled
    new_items = items.assign(item_id=items["item_id"] + 1000).head(5)
    with pytest.raises(StoreMismatchError, match="dimension 8 but the collection holds dim"):
        s.add_items(new_items, np.ones((5, 8), dtype=np.float32))
    assert s.count() == 300
    with pytest.raises(StoreMismatchError, match="dimension 384 .* same model"):  # a query, too
        s.query(np.ones(384, dtype=np.float32))


def test_nan_or_zero_rows_write_nothing(filled):
    s, items, vecs = filled
    new_items = items.assign(item_id=items["item_id"] + 1000).head(5)
    bad = vecs[:5].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="row 3 has NaN"):
        s.add_items(new_items, bad)
    bad = vecs[:5].copy()
    bad[4] = 0
    with pytest.raises(ValueError, match="row 4 is a zero vector"):
        s.add_items(new_items, bad)
    assert s.count() == 300


def test_search_needs_text_model(filled):
    s, _, _ = filled
    with pytest.raises(ValueError, match="no text model"):
        s.search("space opera")
    with pytest.raises(TypeError):
        s.search(42)  # type: ignore[arg-type]


def test_text_model_must_match_collection_model(tmp_path):
    class Model:
        id = "a"
        dim = DIM

    with pytest.raises(StoreMismatchError, match="'a'.*'b'"):
        ItemStore(get_client(tmp_path / "c"), "b", DIM, text_model=Model())


def test_large_batches_are_split(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    items, vecs = make_items(130, rng)
    client = get_client(tmp_path / "chroma")
    monkeypatch.setattr(client, "get_max_batch_size", lambda: 50)
    s = ItemStore(client, "m", DIM)
    assert s.add_items(items, vecs) == 130
    assert s.count() == 130


def test_hnsw_settings_reach_a_new_collection_and_bad_ones_name_the_key(tmp_path):
    client = get_client(tmp_path / "chroma")
    s = ItemStore(client, "tuned", DIM, hnsw={"ef_search": 40, "max_neighbors": 24})
    hnsw = s.collection.configuration_json["hnsw"]
    assert (hnsw["ef_search"], hnsw["max_neighbors"], hnsw["space"]) == (40, 24, "cosine")
    with pytest.raises(ValueError, match="'M' is not one of"):
        ItemStore(client, "other", DIM, hnsw={"M": 32})
    with pytest.raises(ValueError, match="ef_search=0 must be a positive"):
        ItemStore(client, "other", DIM, hnsw={"ef_search": 0})


def test_reopen_in_new_client_keeps_items(filled, tmp_path):
    s, _, vecs = filled
    again = ItemStore(get_client(tmp_path / "chroma"), "test-model", DIM)
    assert again.count() == 300
    np.testing.assert_allclose(again.get_vectors([100])[0], vecs[0], atol=1e-6)


def test_bad_port_env_is_explained(monkeypatch):
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", "eighty")
    with pytest.raises(ValueError, match="CHROMA_PORT='eighty'"):
        get_client()


@pytest.mark.server
def test_server_mode_same_behaviour(server_env):
    client = get_client()
    assert type(client).__name__ != "PersistentClient"
    rng = np.random.default_rng(2)
    items, vecs = make_items(200, rng)
    s = ItemStore(client, "server-model", DIM)
    assert s.add_items(items, vecs) == 200
    assert s.count() == 200
    res = s.similar_items(110, n=5)
    assert len(res) == 5 and 110 not in set(res["item_id"])
    np.testing.assert_allclose(s.get_vectors([199, 100]), vecs[[99, 0]], atol=1e-6)
    with pytest.raises(StoreMismatchError):
        ItemStore(client, "server-model", DIM + 1)


def test_unreachable_server_is_explained(monkeypatch):
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", "1")
    with pytest.raises(ConnectionError, match="127.0.0.1:1"):
        get_client()


# ---- popularity prior folded into the stored vectors -------------------------------------------


@pytest.fixture
def with_prior(tmp_path):
    rng = np.random.default_rng(3)
    items, vecs = make_items(300, rng)
    counts = rng.integers(0, 500, size=300)
    prior = pd.Series(np.log1p(counts) / np.log1p(counts).max(), index=items["item_id"])
    s = ItemStore(get_client(tmp_path / "chroma"), "test-model", DIM, prior=prior)
    s.add_items(items, vecs)
    return s, items, vecs, prior.to_numpy()


def test_prior_store_ranks_by_cosine_plus_weighted_prior_exactly(with_prior):
    s, items, vecs, p = with_prior
    ids = items["item_id"].to_numpy()
    rng = np.random.default_rng(4)
    for beta in (0.0, 0.65, 2.0):
        overlaps = []
        for _ in range(10):
            q = rng.normal(size=DIM).astype(np.float32)
            q /= np.linalg.norm(q)
            want = vecs @ q + beta * p
            got = s.query(q, n=10, popularity_weight=beta)
            # the score is the cosine plus the weighted prior, not Chroma's raw cosine
            np.testing.assert_allclose(
                got["similarity"].to_numpy(), want[got["item_id"].to_numpy() - 100], atol=1e-5)
            top = ids[np.argsort(-want, kind="stable")[:10]]
            overlaps.append(len(set(top) & set(got["item_id"])) / 10)
        assert np.mean(overlaps) >= 0.95, (beta, overlaps)
    # a large weight makes it a popularity ranking
    got = s.query(vecs[0], n=5, popularity_weight=1000.0)
    assert got["item_id"].tolist() == ids[np.argsort(-(vecs @ vecs[0] + 1000 * p))[:5]].tolist()


def test_prior_store_keeps_plain_vectors_and_pure_cosine_neighbours(with_prior):
    s, items, vecs, _ = with_prior
    np.testing.assert_allclose(s.get_vectors([100, 250]), vecs[[0, 150]], atol=1e-6)
    res = s.similar_items(100, n=10)
    want = np.argsort(-(vecs @ vecs[0]))[1:11] + 100
    assert len(set(res["item_id"]) & set(want)) >= 9
    np.testing.assert_allclose(res["similarity"], vecs[res["item_id"] - 100] @ vecs[0], atol=1e-5)
    assert s.collection.metadata["dim"] == DIM + 2
    assert s.collection.metadata["model_id"].startswith("test-model+pop-")


def test_prior_store_is_keyed_by_the_prior(with_prior, tmp_path):
    s, items, vecs, p = with_prior
    client = s.client
    same = ItemStore(client, "test-model", DIM, prior=pd.Series(p, index=items["item_id"]))
    assert same.collection.name == s.collection.name and same.count() == 300
    other = ItemStore(client, "test-model", DIM, prior=pd.Series(p[::-1], index=items["item_id"]))
    assert other.collection.name != s.collection.name and other.count() == 0
    plain = ItemStore(client, "test-model", DIM)
    assert plain.collection.name not in (s.collection.name, other.collection.name)


def test_prior_and_weight_errors_name_the_value(with_prior, tmp_path):
    s, items, vecs, p = with_prior
    client = get_client(tmp_path / "other")
    bad = pd.Series([0.5, 1.5], index=[1, 2])
    with pytest.raises(ValueError, match=r"prior of item 2 is 1.5; every value must be in \[0, 1"):
        ItemStore(client, "m", DIM, prior=bad)
    with pytest.raises(ValueError, match="prior of item 1 is nan"):
        ItemStore(client, "m", DIM, prior=pd.Series([np.nan], index=[1]))
    with pytest.raises(TypeError, match="prior must be a pandas Series"):
        ItemStore(client, "m", DIM, prior=[0.1, 0.2])
    for weight in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="popularity_weight=.* must be a finite number >= 0"):
            s.query(vecs[0], n=3, popularity_weight=weight)
    plain = ItemStore(client, "m", DIM)
    plain.add_items(items, vecs)
    with pytest.raises(ValueError, match="needs a store built with a popularity prior"):
        plain.query(vecs[0], n=3, popularity_weight=0.5)
    assert len(plain.query(vecs[0], n=3, popularity_weight=0)) == 3


# ---- reset_store: what a notebook calls to start from scratch -----------------------------------

HOLDER = """
import sys
from recsys_nb.store import StoreLock
lock = StoreLock(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()  # hold the lock until the test closes our stdin
"""


def _filled_store_folder(folder):
    """A store folder as a Recommender leaves it: Chroma data, an event log, plus a user file."""
    from recsys_nb.eventlog import EventLog

    items, vecs = make_items(20, np.random.default_rng(5))
    client = get_client(folder / "chroma")
    ItemStore(client, "reset-model", DIM).add_items(items, vecs)
    client.close()
    with EventLog(folder / "events.sqlite") as log:
        log.append(1, 100, "view")
    (folder / "events.sqlite-wal").write_bytes(b"stale")  # as a crash may leave them
    (folder / "notes.txt").write_text("mine")
    return items, vecs


def test_reset_store_deletes_the_chroma_data_and_the_event_log_only(tmp_path):
    from recsys_nb.eventlog import EventLog
    from recsys_nb.store import reset_store

    folder = tmp_path / "s"
    _filled_store_folder(folder)
    assert len(list((folder / "chroma").iterdir())) > 1
    assert reset_store(folder) == folder
    # deleted: everything Chroma wrote and the log with its WAL; kept: the folder, the lock file
    # (another process may be waiting on it) and files that are not the store's
    assert [p.name for p in (folder / "chroma").iterdir()] == [".writer.lock"]
    assert sorted(p.name for p in folder.iterdir()) == ["chroma", "notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"
    client = get_client(folder / "chroma")
    assert client.list_collections() == []
    client.close()
    with EventLog(folder / "events.sqlite") as log:
        assert log.count() == 0
    assert reset_store(tmp_path / "never-created") == tmp_path / "never-created"  # no error


def test_reset_store_refuses_a_store_another_process_holds(tmp_path):
    import subprocess
    import sys

    from recsys_nb.store import StoreLockedError, reset_store

    folder = tmp_path / "s"
    _filled_store_folder(folder)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder / "chroma")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = sorted(p.name for p in (folder / "chroma").iterdir())
        assert "chroma.sqlite3" in before
        with pytest.raises(StoreLockedError) as err:
            reset_store(folder)  # refuses at once: it never waits, never deletes
        message = str(err.value)
        assert f"open in process {holder.pid}" in message and "rec.close()" in message
        assert sorted(p.name for p in (folder / "chroma").iterdir()) == before
        assert (folder / "events.sqlite").exists()
    finally:
        holder.communicate("\n", timeout=60)
    reset_store(folder)  # the holder exited: the lock is free again
    assert not (folder / "events.sqlite").exists()


@pytest.mark.server
@pytest.mark.server
def test_reset_store_in_server_mode_empties_that_stores_collections_only(server_env, tmp_path):
    """With CHROMA_HOST set each store folder has its own database on the server: reset_store
    empties its collections (and its event log) and leaves another store's alone."""
    from recsys_nb.store import reset_store

    items, vecs = make_items(20, np.random.default_rng(6))
    mine, other = tmp_path / "mine", tmp_path / "other"
    for folder in (mine, other):
        ItemStore(get_client(folder / "chroma"), "m", DIM).add_items(items, vecs)
    mine.mkdir(exist_ok=True)
    (mine / "events.sqlite").write_bytes(b"")
    reset_store(mine)
    assert ItemStore(get_client(mine / "chroma"), "m", DIM).count() == 0
    assert not (mine / "events.sqlite").exists()
    assert ItemStore(get_client(other / "chroma"), "m", DIM).count() == 20
