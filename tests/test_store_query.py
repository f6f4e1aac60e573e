"""ItemStore.query with seen-item exclusion: correct under heavy exclusion, close to exact, cheap.

The store holds 2,000 items, more than Chroma keeps in its brute-force buffer, so the searches go
through the HNSW index like the 9k-item MovieLens store does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys_nb.store import ItemStore, get_client

DIM = 16
N_ITEMS = 2000
FIRST_ID = 1000


def make_items(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` items with ids FIRST_ID.., titles naming the id, and clustered unit vectors.

    Clustered (not uniform) vectors make a query's neighbours similar to each other, like
    a user's seen movies crowding the top of their interest vector's ranking.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, DIM))
    vecs = centres[rng.integers(0, 20, size=n)] + 0.35 * rng.normal(size=(n, DIM))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    ids = np.arange(FIRST_ID, FIRST_ID + n, dtype=np.int64)
    items = pd.DataFrame(
        {
            "item_id": ids,
            "title": [f"Movie {i}" for i in ids],
            "year": pd.array([1950 + int(i) % 60 for i in ids], dtype="Int64"),
            "genres": [["Drama", "Comedy", "Horror"][: 1 + int(i) % 3] for i in ids],
            "text": [f"Movie {i}" for i in ids],
        }
    )
    return items, vecs


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[ItemStore, pd.DataFrame, np.ndarray]:
    """One 2,000-item store shared by this module's tests (queries never write)."""
    items, vecs = make_items(N_ITEMS, seed=3)
    client = get_client(tmp_path_factory.mktemp("query-store") / "chroma")
    s = ItemStore(client, "query-test-model", DIM)
    s.add_items(items, vecs)
    return s, items, vecs


def exact_top(
    vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, n: int, exclude: set[int] = frozenset()
) -> list[int]:
    """numpy exact cosine top-n ids, excluded ids skipped (the ground truth)."""
    scores = vecs @ (q / np.linalg.norm(q))
    order = np.argsort(-scores, kind="stable")
    return [int(ids[r]) for r in order if int(ids[r]) not in exclude][:n]


def unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


class CountingCollection:
    """Wraps a Chroma collection and counts the calls the store makes (query vs get)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int | None]] = []

    def query(self, **kwargs: Any) -> Any:
        self.calls.append(("query", kwargs.get("n_results")))
        return self.inner.query(**kwargs)

    def get(self, **kwargs: Any) -> Any:
        self.calls.append(("get", None))
        return self.inner.get(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ShortCollection(CountingCollection):
    """A collection whose searches return at most ``cap`` rows, like an HNSW graph whose
    reachable region around the query is small (seen with real Chroma on MovieLens
    collaborative vectors: 164 rows for any n_results above that)."""

    def __init__(self, inner: Any, cap: int) -> None:
        super().__init__(inner)
        self.cap = cap

    def query(self, **kwargs: Any) -> Any:
        res = super().query(**kwargs)
        return {k: [v[0][: self.cap]] if v is not None else None for k, v in res.items()}


def wrapped(s: ItemStore, collection: Any) -> ItemStore:
    """A copy of store ``s`` that talks to ``collection`` and starts with empty caches."""
    other = ItemStore.__new__(ItemStore)
    other.__dict__.update(s.__dict__, collection=collection)
    other.__dict__.pop("_meta_cache", None)
    other.__dict__.pop("_vector_cache", None)
    return other


def check_frame(frame: pd.DataFrame, vecs: np.ndarray, q: np.ndarray) -> None:
    """Columns, order, scores equal to the exact cosine, and metadata aligned with the ids."""
    assert list(frame.columns) == ["item_id", "title", "year", "genres", "similarity"]
    sims = frame["similarity"].to_numpy()
    assert np.all(np.diff(sims) <= 1e-6), "results must be best first"
    rows = frame["item_id"].to_numpy() - FIRST_ID
    np.testing.assert_allclose(sims, vecs[rows] @ (q / np.linalg.norm(q)), atol=1e-5)
    assert frame["title"].tolist() == [f"Movie {i}" for i in frame["item_id"]]
    assert frame["year"].tolist() == [1950 + int(i) % 60 for i in frame["item_id"]]


def test_excluding_the_whole_neighbourhood_still_returns_n_unexcluded(big):
    """The worst case for over-fetching: the 600 nearest items are all excluded."""
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    rng = np.random.default_rng(11)
    q = unit(rng)
    excluded = set(exact_top(vecs, ids, q, 600))
    got = s.query(q, n=10, exclude=excluded)
    assert len(got) == 10
    assert not set(got["item_id"]) & excluded
    truth = exact_top(vecs, ids, q, 10, excluded)
    assert len(set(got["item_id"]) & set(truth)) / 10 >= 0.9
    check_frame(got, vecs, q)


def test_random_heavy_exclusion_never_leaks_and_matches_exact(big):
    """1,500 of 2,000 items excluded at random, over many queries: no leak, recall >= 0.95."""
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    rng = np.random.default_rng(5)
    recalls = []
    for _ in range(15):
        q = unit(rng)
        excluded = {int(i) for i in rng.choice(ids, size=1500, replace=False)}
        got = s.query(q, n=10, exclude=excluded)
        assert len(got) == 10
        assert not set(got["item_id"]) & excluded
        truth = exact_top(vecs, ids, q, 10, excluded)
        recalls.append(len(set(got["item_id"]) & set(truth)) / 10)
    assert np.mean(recalls) >= 0.95, recalls


def test_agrees_with_numpy_exact_top_n(big):
    """Mixed exclusion sizes (0 to 300 of the nearest), n from 1 to 50: mean recall >= 0.95."""
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    rng = np.random.default_rng(7)
    recalls = []
    for k, (n, n_excl) in enumerate([(1, 0), (10, 0), (10, 5), (10, 40), (25, 120), (50, 300)] * 4):
        q = unit(rng) if k % 2 else vecs[rng.integers(N_ITEMS)]
        nearest = exact_top(vecs, ids, q, 2 * n_excl)
        excluded = set(nearest[::2])  # every other neighbour: interleaved with the answers
        got = s.query(q, n=n, exclude=excluded)
        assert len(got) == n
        assert not set(got["item_id"]) & excluded
        truth = exact_top(vecs, ids, q, n, excluded)
        recalls.append(len(set(got["item_id"]) & set(truth)) / n)
        check_frame(got, vecs, q)
    assert np.mean(recalls) >= 0.95, recalls


def test_exclude_all_but_three_returns_exactly_those_three(big):
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    rng = np.random.default_rng(13)
    q = unit(rng)
    remaining = [int(i) for i in rng.choice(ids, size=3, replace=False)]
    excluded = set(ids.tolist()) - set(remaining)
    got = s.query(q, n=10, exclude=excluded)
    assert len(got) == 3
    assert got["item_id"].tolist() == exact_top(vecs, ids, q, 3, excluded)
    check_frame(got, vecs, q)


def test_n_larger_than_what_remains(big):
    """n above the unexcluded count returns every remaining item; above the catalog, all."""
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    rng = np.random.default_rng(17)
    q = unit(rng)
    excluded = set(ids[: N_ITEMS - 40].tolist())
    got = s.query(q, n=100, exclude=excluded)
    assert len(got) == 40
    assert set(got["item_id"]) == set(ids[N_ITEMS - 40 :].tolist())
    check_frame(got, vecs, q)
    everything = s.query(q, n=N_ITEMS + 500)
    assert len(everything) == N_ITEMS
    assert everything["item_id"].is_unique
    everything_but_one = s.query(q, n=N_ITEMS + 500, exclude=[int(ids[0])])
    assert len(everything_but_one) == N_ITEMS - 1
    assert int(ids[0]) not in set(everything_but_one["item_id"])


def test_excluding_everything_returns_an_empty_frame(big):
    s, items, _ = big
    got = s.query(np.ones(DIM, dtype=np.float32), n=5, exclude=items["item_id"].tolist())
    assert got.empty
    assert list(got.columns) == ["item_id", "title", "year", "genres", "similarity"]


def test_exclusion_ids_of_any_int_kind_and_unknown_ids(big):
    """numpy ints, sets, generators and ids not in the store all work the same."""
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    q = vecs[0]
    top = exact_top(vecs, ids, q, 12)
    want = s.query(q, n=5, exclude=set(top[:5]))["item_id"].tolist()
    assert s.query(q, n=5, exclude=np.array(top[:5]))["item_id"].tolist() == want
    assert s.query(q, n=5, exclude=(i for i in top[:5]))["item_id"].tolist() == want
    assert s.query(q, n=5, exclude=[*top[:5], 10**9, -3])["item_id"].tolist() == want


@pytest.mark.parametrize("bad_n", [0, -1, True, 2.5, "10"])
def test_bad_n_is_a_valueerror_naming_it(big, bad_n):
    s, _, vecs = big
    with pytest.raises(ValueError, match="n="):
        s.query(vecs[0], n=bad_n)


def test_bad_exclude_is_a_typeerror(big):
    s, _, vecs = big
    with pytest.raises(TypeError, match="exclude"):
        s.query(vecs[0], n=3, exclude="12")
    with pytest.raises(TypeError, match="integer item ids"):
        s.query(vecs[0], n=3, exclude=["twelve"])


def test_light_exclusion_costs_one_search_and_one_metadata_read(big):
    """The fast path: one ids+distances search (bounded over-fetch), metadata for n ids only,
    and no metadata read at all once those items' metadata is cached."""
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    counting = CountingCollection(s.collection)
    light = wrapped(s, counting)  # starts with a cold metadata cache
    q = vecs[10]
    seen = set(exact_top(vecs, ids, q, 8))  # the user's own items sit at the top
    first = light.query(q, n=10, exclude=seen)
    assert len(first) == 10
    assert [c[0] for c in counting.calls] == ["query", "get"]
    assert counting.calls[0][1] <= 10 + 64
    counting.calls.clear()
    again = light.query(q, n=10, exclude=seen)
    assert counting.calls == [("query", counting.calls[0][1])], "metadata came from the cache"
    pd.testing.assert_frame_equal(again, first)
    counting.calls.clear()
    light.query(q, n=10)  # no exclusion: fetches exactly n
    assert counting.calls[0] == ("query", 10)
    counting.calls.clear()
    light.query(q, n=10, exclude=set(exact_top(vecs, ids, q, 500)))
    searches = [c[1] for c in counting.calls if c[0] == "query"]
    assert len(searches) >= 2 and searches == sorted(searches), "grows only when needed"
    assert searches[-1] <= 10 + 500


def test_cached_metadata_matches_what_chroma_stores(big):
    """Rows served from the metadata cache carry exactly the stored metadata of their ids."""
    s, items, _ = big
    rng = np.random.default_rng(23)
    q = unit(rng)
    exclude = set(rng.choice(items["item_id"].to_numpy(), size=100, replace=False).tolist())
    first = s.query(q, n=20, exclude=exclude)
    warm = s.query(q, n=20, exclude=exclude)  # second call: all metadata from the cache
    pd.testing.assert_frame_equal(warm, first)
    got = s.collection.get(ids=[str(i) for i in warm["item_id"]], include=["metadatas"])
    stored = {int(k): m for k, m in zip(got["ids"], got["metadatas"], strict=True)}
    for row in warm.itertuples(index=False):
        meta = stored[row.item_id]
        assert (row.title, row.year, row.genres) == (meta["title"], meta["year"], meta["genres"])


def test_exact_fallback_when_hnsw_returns_too_few_rows(big):
    """Searches capped at 30 rows while the 100 nearest items are excluded: the answer comes
    from the exact fallback and equals numpy's exact top-n; the stored vectors are read once."""
    s, items, vecs = big
    ids = items["item_id"].to_numpy()
    short = ShortCollection(s.collection, cap=30)
    store = wrapped(s, short)
    rng = np.random.default_rng(29)
    for _ in range(3):
        q = unit(rng)
        excluded = set(exact_top(vecs, ids, q, 100))
        got = store.query(q, n=10, exclude=excluded)
        assert got["item_id"].tolist() == exact_top(vecs, ids, q, 10, excluded)
        check_frame(got, vecs, q)
    reads = [c for c in short.calls if c[0] == "get"]
    assert len(reads) == 1 + 3, "one read of all vectors, then one metadata read per query"
    # Few items left: still exactly what remains, best first.
    q = unit(rng)
    remaining = [int(i) for i in rng.choice(ids, size=3, replace=False)]
    got = store.query(q, n=10, exclude=set(ids.tolist()) - set(remaining))
    assert got["item_id"].tolist() == exact_top(vecs, ids, q, 3, set(ids.tolist()) - set(remaining))


def test_exact_fallback_rereads_vectors_when_items_are_added(tmp_path):
    items, vecs = make_items(300, seed=31)
    s = ItemStore(get_client(tmp_path / "chroma"), "fallback-model", DIM)
    s.add_items(items.iloc[:250], vecs[:250])
    short = ShortCollection(s.collection, cap=5)
    store = wrapped(s, short)
    q = vecs[0]
    ids = items["item_id"].to_numpy()
    got = store.query(q, n=8, exclude=[int(ids[0])])
    assert got["item_id"].tolist() == exact_top(vecs[:250], ids[:250], q, 8, {int(ids[0])})
    s.add_items(items.iloc[250:], vecs[250:])  # 50 more items, some of them closer to q
    got = store.query(q, n=8, exclude=[int(ids[0])])
    assert got["item_id"].tolist() == exact_top(vecs, ids, q, 8, {int(ids[0])})
    assert len(store.__dict__["_vector_cache"][0]) == 300
