"""recsys_nb.interest_store: one Chroma row per (user, interest), validated before any write."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_nb.interest_store import InterestStore, clear_model
from recsys_nb.interests import Interests
from recsys_nb.store import ProfileStore, get_client


@pytest.fixture
def store(tmp_path):
    client = get_client(tmp_path / "chroma")
    return InterestStore(client, "model-a", 3, k=3, threshold=0.25, fade=0.98)


def state(*rows, weights=None) -> Interests:
    vecs = np.array(rows, dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    w = np.array(weights if weights is not None else [1.0] * len(rows))
    return Interests(vecs, w, np.arange(1, len(rows) + 1, dtype=np.int64))


def test_rows_round_trip_exactly(store):
    two = state([1, 0, 0], [0, 1, 1], weights=[0.98**37 + 1 / 3, 2.5])
    assert store.put_many(["ann", 7], [two, state([0, 0, 1])], [5, 1], [9, 10], 1.0) == 2
    assert store.count() == 3
    got, meta = store.get("ann")
    np.testing.assert_array_equal(got.vectors, two.vectors)
    assert got.weights.tolist() == two.weights.tolist()  # float64 metadata, bit for bit
    assert got.counts.tolist() == [1, 2]
    assert meta == {"event_count": 5, "last_seq": 9, "updated_at": 1.0, "model_id": "model-a"}
    assert store.get("7") is None and store.get(7)[0].m == 1  # int and str users differ
    ids = store.all_rows()[0]
    assert sorted(ids) == ["i:7#0", "s:ann#0", "s:ann#1"]
    meta = store.all_metadata().set_index("user_id")
    assert meta.loc["ann", "last_seq"] == 9 and meta.loc[7, "event_count"] == 1


def test_fewer_interests_delete_the_extra_rows(store):
    store.put_many(["u"], [state([1, 0, 0], [0, 1, 0], [0, 0, 1])], [3], [3], 1.0)
    store.put_many(["u"], [state([1, 1, 0])], [4], [4], 2.0)
    assert store.count() == 1 and store.get("u")[0].m == 1
    store.delete("u")
    assert store.count() == 0


@pytest.mark.parametrize(
    "bad, fragment",
    [(Interests(np.array([[1, 0, 0], [np.nan, 0, 0]], np.float32), np.ones(2),
                np.ones(2, np.int64)), "NaN"),
     (Interests(np.array([[1, 0, 0], [0, 0, 0]], np.float32), np.ones(2), np.ones(2, np.int64)),
      "zero vector"),
     (Interests(np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], np.ones(4), np.ones(4, np.int64)),
      "1 to 3"),
     (Interests(np.zeros((0, 3), np.float32), np.ones(0), np.ones(0, np.int64)), "1 to 3"),
     (Interests(np.eye(3, dtype=np.float32)[:2], np.array([1.0, 0.0]), np.ones(2, np.int64)),
      "> 0"),
     (Interests(np.ones((1, 4), np.float32), np.ones(1), np.ones(1, np.int64)), "dimension 4")],
)
def test_bad_rows_write_nothing(store, bad, fragment):
    store.put_many(["kept"], [state([1, 0, 0])], [1], [1], 1.0)
    with pytest.raises(ValueError, match=fragment):
        store.put_many(["new", "other"], [state([0, 1, 0]), bad], [1, 1], [2, 3], 2.0)
    assert store.all_rows()[0] == ["s:kept#0"]


def test_own_collection_per_parameter_set_next_to_the_profiles(tmp_path):
    client = get_client(tmp_path / "chroma")
    profiles = ProfileStore(client, "model-a", 3)
    a = InterestStore(client, "model-a", 3, k=3, threshold=0.25, fade=0.98)
    b = InterestStore(client, "model-a", 3, k=2, threshold=0.25, fade=0.98)
    a.put_many(["u"], [state([1, 0, 0], [0, 1, 0])], [2], [2], 1.0)
    assert b.count() == 0 and profiles.count() == 0
    assert len({a.collection.name, b.collection.name, profiles.collection.name}) == 3
    profiles.put_many(["u"], np.array([[1, 0, 0]], np.float32), [1], [1], 1.0)
    assert profiles.all_metadata()["user_id"].tolist() == ["u"]  # its code reads its own rows
    a.delete_all()
    assert a.count() == 0 and profiles.count() == 1


def test_clear_model_empties_every_parameter_set_of_that_model_only(tmp_path):
    client = get_client(tmp_path / "chroma")
    a = InterestStore(client, "model-a", 3, k=3, threshold=0.25, fade=0.98)
    b = InterestStore(client, "model-a", 3, k=2, threshold=0.5, fade=0.9)
    other = InterestStore(client, "model-b", 3, k=3, threshold=0.25, fade=0.98)
    for s in (a, b, other):
        s.put_many(["u", "v"], [state([1, 0, 0]), state([0, 1, 0])], [1, 1], [1, 2], 1.0)
    assert clear_model(client, "model-a") == 4
    assert (a.count(), b.count(), other.count()) == (0, 0, 2)
