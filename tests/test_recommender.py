"""The Recommender service: events in, recommendations out (embedded store unless marked)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_nb import vectors
from recsys_nb.data import Dataset, load_movielens, sample_users, subset_items
from recsys_nb.embeddings import ItemVectors, embed_items
from recsys_nb.priors import TrendingCounts
from recsys_nb.recommender import (
    DEFAULT_PARAMS,
    PRIOR_DEFAULTS,
    OvershootWarning,
    Recommender,
    item_counts,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small():
    """40 real MovieLens users on their 800 most-rated items (fast to embed and store)."""
    ds = sample_users(load_movielens(), 40, seed=1, min_events=20)
    top = ds.events["item_id"].value_counts().index[:800]
    return subset_items(ds, top)


def build(ds, path, **params) -> Recommender:
    return Recommender.from_dataset(
        ds, path, embedding="collaborative", dim=16, progress=False, **params
    )


@pytest.fixture
def rec(small, tmp_path):
    r = build(small, tmp_path / "store")
    yield r
    r.close()


def popular_items(ds, n):
    return ds.events["item_id"].value_counts().index[:n].tolist()


#: Hand-chosen 3-D item vectors, so expected interests and scores are computed by hand below.
HAND_VECTORS = {
    1: [1.0, 0.0, 0.0],
    2: [0.0, 0.0, 1.0],
    3: [0.0, 1.0, 0.0],
    4: [0.8, 0.0, 0.6],
    5: [0.6, 0.8, 0.0],
    6: [0.0, 0.6, 0.8],
}


def hand_recommender(path) -> Recommender:
    """Six items with the vectors above; alphas 3/7 (view) and 4/7 (favorite) and factor 0.6 make
    every step of the technique land on round numbers. Item 6 has 3 events and item 5 one, so
    the popularity prior is p6 = log(4)/log(4) = 1, p5 = log(2)/log(4) = 0.5, 0 for the others,
    at popularity_weight 0.5."""
    ids = list(HAND_VECTORS)
    ds = Dataset(
        pd.DataFrame({"item_id": ids, "title": [f"item {i}" for i in ids],
                      "genres": ["Drama"] * len(ids)}),
        pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": [6, 6, 6, 5],
                      "timestamp": [1, 2, 3, 4], "kind": "view"}),
    )
    item_vectors = ItemVectors(
        "hand-3d", np.array(ids, dtype=np.int64),
        np.array([HAND_VECTORS[i] for i in ids], dtype=np.float32), None,
    )
    return Recommender(ds.items, item_vectors, path, item_counts(ds.events), prior="popularity",
                       alpha_view=3 / 7, alpha_favorite=4 / 7, not_interested_factor=0.6,
                       popularity_weight=0.5)


@pytest.fixture
def hand(tmp_path):
    with hand_recommender(tmp_path / "hand") as r:
        yield r


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"alpha_view": 0.0}, "alpha_view=0.0"),
        ({"alpha_view": 1.5}, "alpha_view=1.5"),
        ({"alpha_favorite": float("nan")}, "alpha_favorite=nan"),
        ({"not_interested_factor": -0.1}, "not_interested_factor=-0.1"),
    ],
)
def test_bad_parameters_raise_at_construction(small, tmp_path, params, fragment):
    with pytest.raises(ValueError, match=fragment.replace(".", r"\.")):
        build(small, tmp_path / "s", **params)
    # nothing is left locked: a valid recommender opens on the same path
    build(small, tmp_path / "s").close()


def test_unknown_parameter_is_a_type_error(small, tmp_path):
    with pytest.raises(TypeError, match="alpha_veiw"):
        build(small, tmp_path / "s", alpha_veiw=0.2)


def test_parameters_are_attributes_and_items_are_stored(small, tmp_path):
    with build(small, tmp_path / "s", alpha_view=0.2, alpha_favorite=0.6,
               not_interested_factor=0.4) as r:
        assert (r.alpha_view, r.alpha_favorite, r.not_interested_factor) == (0.2, 0.6, 0.4)
        assert r.item_store.count() == small.n_items
        v = r.item_vector(int(small.items["item_id"].iloc[0]))
        assert v.shape == (16,) and abs(np.linalg.norm(v) - 1) < 1e-5
        with pytest.raises(KeyError, match="999999999"):
            r.item_vector(999999999)


# ------------------------------------------------------------------ events


def test_cold_start_then_ema_and_favorite_moves_faster(rec, small):
    a, b, c = popular_items(small, 3)
    r1 = rec.view("alice", a)
    assert r1.cold_start and r1.profile_changed
    np.testing.assert_allclose(rec.interest("alice"), rec.item_vector(a), atol=1e-6)
    rec.view("alice", b)
    expected = vectors.ema_update(rec.item_vector(a), rec.item_vector(b), rec.alpha_view)
    np.testing.assert_allclose(rec.interest("alice"), expected, atol=1e-6)
    # the same step as a favorite lands closer to the item
    rec.view("bob", a)
    rec.favorite("bob", b)
    cos_view = float(rec.interest("alice") @ rec.item_vector(b))
    cos_fav = float(rec.interest("bob") @ rec.item_vector(b))
    assert cos_fav > cos_view
    assert list(rec.history("alice")["item_id"]) == [a, b]
    assert rec.profiles.get("alice")[1]["event_count"] == 2


def test_each_event_lands_on_the_hand_computed_interest(hand):
    """Closed form, no recsys_nb.vectors in the expectation: every step by hand."""
    steps = [
        # view item 1 (cold start): v = e1
        ("view", 1, [1.0, 0.0, 0.0]),
        # view item 2: (1 - 3/7) * [1, 0, 0] + 3/7 * [0, 0, 1] = [4/7, 0, 3/7], length 5/7
        ("view", 2, [0.8, 0.0, 0.6]),
        # favorite item 3: 3/7 * [0.8, 0, 0.6] + 4/7 * [0, 1, 0] = [2.4, 4, 1.8] / 7, length 5/7
        ("favorite", 3, [0.48, 0.8, 0.36]),
        # not interested in item 4: [0.48, 0.8, 0.36] - 0.6 * [0.8, 0, 0.6] = [0, 0.8, 0]
        ("not_interested", 4, [0.0, 1.0, 0.0]),
    ]
    for kind, item, want in steps:
        getattr(hand, kind)("ann", item)
        np.testing.assert_allclose(hand.interest("ann"), want, atol=1e-6)
        stored, meta = hand.profiles.get("ann")  # what Chroma holds, not the process's cache
        np.testing.assert_allclose(stored, want, atol=1e-6)
    assert meta["event_count"] == 4
    # score = cosine + 0.5 * prior: item 6: 0.6 + 0.5 * 1 = 1.1; item 5: 0.8 + 0.5 * 0.5 = 1.05
    top = hand.recommend("ann", n=3)
    assert top["item_id"].tolist() == [6, 5]  # items 1-4 are seen
    np.testing.assert_allclose(top["score"], [1.1, 1.05], atol=1e-6)
    hand.set_params(popularity_weight=0.0)  # pure cosine: item 5 (0.8) before item 6 (0.6)
    top = hand.recommend("ann", n=2)
    assert top["item_id"].tolist() == [5, 6]
    np.testing.assert_allclose(top["score"], [0.8, 0.6], atol=1e-6)


def test_ingest_lands_on_the_hand_computed_interest(hand):
    frame = pd.DataFrame({"user_id": "ann", "item_id": [1, 2, 3, 4],
                          "kind": ["view", "view", "favorite", "not_interested"],
                          "timestamp": [1.0, 2.0, 3.0, 4.0]})
    hand.ingest(frame.iloc[::-1])  # frame order does not matter: timestamps do
    np.testing.assert_allclose(hand.profiles.get("ann")[0], [0.0, 1.0, 0.0], atol=1e-6)
    hand.rebuild_profiles()
    np.testing.assert_allclose(hand.profiles.get("ann")[0], [0.0, 1.0, 0.0], atol=1e-6)


def test_not_interested_moves_away_and_is_excluded(rec, small):
    a, b = popular_items(small, 2)
    rec.view(7, a)
    before = rec.interest(7)
    res = rec.not_interested(7, b)
    after = rec.interest(7)
    np.testing.assert_allclose(
        after, vectors.subtract(before, rec.item_vector(b), rec.not_interested_factor), atol=1e-6
    )
    assert float(after @ rec.item_vector(b)) < float(before @ rec.item_vector(b))
    assert res.profile_changed and not res.overshoot
    top = rec.recommend(7, n=50)
    assert a not in set(top["item_id"]) and b not in set(top["item_id"])


def test_cold_not_interested_logs_without_vector(rec, small):
    a = popular_items(small, 1)[0]
    res = rec.not_interested("carol", a)
    assert res.cold_start and not res.profile_changed
    with pytest.raises(KeyError, match="carol"):
        rec.interest("carol")
    top = rec.recommend("carol", n=5)
    assert a not in set(top["item_id"]) and set(top["source"]) == {"popular"}
    # the next positive event starts the vector; the count includes the earlier event
    b = popular_items(small, 2)[1]
    rec.view("carol", b)
    np.testing.assert_allclose(rec.interest("carol"), rec.item_vector(b), atol=1e-6)
    assert rec.profiles.get("carol")[1]["event_count"] == 2


def test_overshoot_keeps_previous_vector_and_warns(small, tmp_path):
    with build(small, tmp_path / "s", not_interested_factor=1.0) as r:
        a = popular_items(small, 1)[0]
        r.view("dan", a)
        before = r.interest("dan")
        with pytest.warns(OvershootWarning, match="factor"):
            res = r.not_interested("dan", a)
        assert res.overshoot and not res.profile_changed
        after = r.interest("dan")
        assert np.isfinite(after).all() and abs(np.linalg.norm(after) - 1) < 1e-5
        np.testing.assert_array_equal(after, before)
        assert len(r.history("dan")) == 2
        assert r.profiles.get("dan")[1]["event_count"] == 2


def test_unknown_item_records_nothing(rec):
    with pytest.raises(KeyError, match="123456789"):
        rec.view("erin", 123456789)
    assert rec.log.count() == 0
    with pytest.raises(KeyError):
        rec.interest("erin")


def test_bad_user_id_records_nothing(rec, small):
    a = popular_items(small, 1)[0]
    for bad in (None, 1.5, ""):
        with pytest.raises((TypeError, ValueError)):
            rec.view(bad, a)
    assert rec.log.count() == 0


def test_int_and_str_user_ids_are_different_users(rec, small):
    a, b = popular_items(small, 2)
    rec.view(1, a)
    rec.view("1", b)
    np.testing.assert_allclose(rec.interest(1), rec.item_vector(a), atol=1e-6)
    np.testing.assert_allclose(rec.interest("1"), rec.item_vector(b), atol=1e-6)


def test_duplicate_events_are_logged_twice(rec, small):
    a, b = popular_items(small, 2)
    rec.view("f", a)
    rec.view("f", b)
    rec.view("f", b)
    assert list(rec.history("f")["item_id"]) == [a, b, b]
    assert list(rec.history("f", last=2)["item_id"]) == [b, b]


# ------------------------------------------------------------------ recommend


def test_recommend_is_cosine_top_n_without_seen_items(rec, small):
    user = small.users[0]
    hist = small.user_history(user)
    rec.ingest(small.events[small.events["user_id"] == user])
    top = rec.recommend(user, n=10)
    assert len(top) == 10 and set(top["source"]) == {"interest"}
    assert not set(top["item_id"]) & set(hist["item_id"])
    assert top["score"].is_monotonic_decreasing
    v = rec.interest(user)
    # score = cosine + popularity_weight * prior (from_dataset passes item counts)
    assert rec.prior_weight == rec.popularity_weight > 0
    prior = dict(zip(rec.item_ids, rec.item_prior(), strict=True))
    assert 0 <= min(prior.values()) and max(prior.values()) == 1.0
    want = np.array([rec.item_vector(i) @ v + rec.prior_weight * prior[i]
                     for i in top["item_id"]])
    np.testing.assert_allclose(top["score"].to_numpy(), want, atol=1e-4)
    # exact check against numpy over all unseen items (HNSW may differ slightly)
    seen = np.isin(rec.item_ids, hist["item_id"].to_numpy())
    scores = np.where(seen, -np.inf, rec.score_items(v))
    exact_ids = set(rec.item_ids[np.argsort(-scores, kind="stable")[:10]])
    assert len(exact_ids & set(top["item_id"])) >= 9
    # exclude_seen=False: test_exclude_seen_false_returns_seen_items (a case where it must matter)


def test_recommend_unknown_user_gets_popular_items(rec, small):
    top = rec.recommend("nobody", n=4)
    # popular = highest prior first (the trending one by default), ties in the all-time order
    all_time = pd.Series(np.arange(len(rec.item_ids)), index=popular_items(small, 10**6))
    order = np.lexsort((all_time.reindex(rec.item_ids).to_numpy(), -rec.item_prior()))
    assert list(top["item_id"]) == rec.item_ids[order[:4]].tolist()
    assert set(top["source"]) == {"popular"} and top["score"].between(0, 1).all()


@pytest.mark.parametrize("n", [0, -1, 2.5, True, "3"])
def test_recommend_bad_n(rec, n):
    with pytest.raises(ValueError, match="n="):
        rec.recommend("x", n=n)


def test_interest_of_unknown_user_is_a_key_error(rec):
    with pytest.raises(KeyError, match="record a view"):
        rec.interest("ghost")


def test_closed_recommender_refuses_work(small, tmp_path):
    r = build(small, tmp_path / "s")
    r.close()
    r.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        r.recommend(1)


# ------------------------------------------------------------------ bulk


def _one_by_one(r: Recommender, events: pd.DataFrame) -> None:
    ordered = events.sort_values("timestamp", kind="stable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OvershootWarning)
        for row in ordered.itertuples(index=False):
            getattr(r, row.kind)(row.user_id, row.item_id, timestamp=row.timestamp)


def _profiles(r: Recommender) -> dict:
    users, mat = r.profiles.all_vectors()
    return dict(zip(users, mat, strict=True))


def test_ingest_equals_one_by_one(small, tmp_path):
    events = small.events[small.events["user_id"].isin(small.users[:6])]
    events = events.groupby("user_id").head(40)  # the one-by-one path costs ~10 ms per event
    # a strong factor so that some not-interested events matter
    with build(small, tmp_path / "bulk", not_interested_factor=0.9) as bulk:
        report = bulk.ingest(events)
        bulk_profiles = _profiles(bulk)
        bulk_meta = bulk.profiles.all_metadata().set_index("user_id")
        bulk_log = bulk.log.events()
    with build(small, tmp_path / "single", not_interested_factor=0.9) as single:
        _one_by_one(single, events)
        single_profiles = _profiles(single)
        single_meta = single.profiles.all_metadata().set_index("user_id")
        single_log = single.log.events()
    assert report.events == len(events) and report.users == 6
    assert set(bulk_profiles) == set(single_profiles)
    for u, v in single_profiles.items():
        np.testing.assert_allclose(bulk_profiles[u], v, atol=1e-6)
    pd.testing.assert_frame_equal(bulk_meta.sort_index(), single_meta.sort_index())
    cols = ["seq", "user_id", "item_id", "kind", "timestamp"]
    pd.testing.assert_frame_equal(bulk_log[cols], single_log[cols])
    assert [p for p in bulk_log["params"]] == [p for p in single_log["params"]]


def test_ingest_continues_from_existing_profiles(small, tmp_path):
    user = small.users[3]
    events = small.user_history(user).assign(user_id=user)
    first, second = events.iloc[:10], events.iloc[10:]
    with build(small, tmp_path / "a") as a, build(small, tmp_path / "b") as b:
        a.ingest(first)
        a.ingest(second)
        b.ingest(events)
        np.testing.assert_allclose(a.interest(user), b.interest(user), atol=1e-6)
        assert a.profiles.get(user)[1]["event_count"] == len(events)


@pytest.mark.parametrize(
    "mutate, error, fragment",
    [
        (lambda f: f.drop(columns=["kind"]), ValueError, "kind"),
        (lambda f: f.assign(kind="liked"), ValueError, "liked"),
        (lambda f: f.assign(item_id=f["item_id"].where(f.index != f.index[3], 987654321)),
         KeyError, "987654321"),
    ],
)
def test_bad_ingest_records_nothing(rec, small, mutate, error, fragment):
    events = mutate(small.events.iloc[:20].copy())
    with pytest.raises(error, match=fragment):
        rec.ingest(events)
    assert rec.log.count() == 0 and rec.profiles.count() == 0


def test_rebuild_equals_live_profiles(small, tmp_path):
    events = small.events[small.events["user_id"].isin(small.users[:8])]
    events = events.groupby("user_id").head(40)
    with build(small, tmp_path / "s", not_interested_factor=0.9) as r:
        r.ingest(events.iloc[: len(events) // 2])
        _one_by_one(r, events.iloc[len(events) // 2 :])
        r.view("zoe", int(events["item_id"].iloc[0]))
        live = _profiles(r)
        written = r.rebuild_profiles()
        rebuilt = _profiles(r)
    assert written == len(live)
    assert set(live) == set(rebuilt)
    for u, v in live.items():
        np.testing.assert_allclose(rebuilt[u], v, atol=1e-6)


def test_reopen_reuses_store_and_repairs_lagging_profile(small, tmp_path):
    a, b = popular_items(small, 2)
    with build(small, tmp_path / "s") as r:
        r.view("gus", a)
        # an event that reached the log but not the profile (a crash in between)
        r.log.append("gus", b, "view", params={"alpha": r.alpha_view}, model_id=r.model_id)
    with build(small, tmp_path / "s") as r:
        assert r.repaired == 1
        expected = vectors.ema_update(r.item_vector(a), r.item_vector(b), r.alpha_view)
        np.testing.assert_allclose(r.interest("gus"), expected, atol=1e-6)
        assert len(r.history("gus")) == 2


# ------------------------------------------------------------------ concurrency

CHILD = textwrap.dedent(
    """
    import itertools, sys, time
    from recsys_nb.data import load_movielens, sample_users, subset_items
    from recsys_nb.recommender import Recommender
    path, user, n, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    offset = int(sys.argv[5])
    ds = sample_users(load_movielens(), 40, seed=1, min_events=20)
    ds = subset_items(ds, ds.events["item_id"].value_counts().index[:800])
    items = ds.events["item_id"].value_counts().index[offset : offset + n].tolist()
    if n < 0:  # forever: cycle through every item until killed
        items = itertools.cycle(ds.events["item_id"].value_counts().index[offset:].tolist())
    with Recommender.from_dataset(ds, path, embedding="collaborative", dim=16, progress=False,
                                  lock_timeout=timeout) as rec:
        print("opened", flush=True)
        for k, i in enumerate(items, start=1):
            rec.view(user, int(i))
            print(f"viewed {k}", flush=True)
        print("done", flush=True)
    """
)


def _child(path, user, n, timeout, offset=0) -> subprocess.Popen:
    """A process that opens the store at ``path`` and views ``n`` items (from ``offset``; n < 0:
    views items in a cycle until killed), printing "viewed k" after each committed event."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), user, str(n), str(timeout), str(offset)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def test_second_process_is_refused_with_a_clear_error(small, tmp_path):
    with build(small, tmp_path / "s"):
        child = _child(tmp_path / "s", "other", 3, 0)
        out, err = child.communicate(timeout=120)
    assert child.returncode != 0
    assert "StoreLockedError" in err and "CHROMA_HOST" in err and "close" in err


@pytest.mark.slow
def test_two_processes_on_one_path_lose_nothing(small, tmp_path):
    path = tmp_path / "s"
    build(small, path).close()  # items stored once
    kids = [_child(path, f"p{k}", 30, 120, offset=300 * k) for k in range(2)]
    for kid in kids:
        out, err = kid.communicate(timeout=300)
        assert kid.returncode == 0, err
        assert "done" in out
    with build(small, path) as r:
        assert r.log.count() == 60
        for k in range(2):
            hist = r.history(f"p{k}")
            assert len(hist) == 30
            v = r.interest(f"p{k}")
            # findable by vector search: the profile's own nearest profile is itself
            got = r.profiles.collection.query(query_embeddings=[v.tolist()], n_results=1)
            assert got["ids"][0] == [f"s:p{k}"]
        # every item vector is findable too (the HNSW index is intact)
        some = r.item_ids[:25]
        for i in some:
            hit = r.item_store.query(r.item_vector(int(i)), n=10)
            assert int(i) in hit["item_id"].tolist()  # (items with equal vectors may tie)


@pytest.mark.slow
def test_sigkill_during_updates_leaves_a_consistent_store(small, tmp_path):
    import sqlite3

    path = tmp_path / "s"
    build(small, path).close()
    kid = _child(path, "victim", -1, 60)  # never finishes: the kill always lands mid-stream
    assert kid.stdout.readline().strip() == "opened"
    while kid.stdout.readline().strip() != "viewed 20":  # 20 events committed, then kill
        assert kid.poll() is None, kid.stderr.read()
    kid.send_signal(signal.SIGKILL)
    kid.wait(timeout=30)
    assert kid.returncode == -signal.SIGKILL
    order = small.events["item_id"].value_counts().index.tolist()  # the child's cycle
    with sqlite3.connect(path / "events.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with build(small, path, lock_timeout=30) as r:
        hist = r.history("victim")
        n = len(hist)
        assert n >= 20
        # the log holds a prefix of what the child did: no event torn, lost or duplicated
        assert hist["item_id"].tolist() == [order[k % len(order)] for k in range(n)]
        assert hist["seq"].tolist() == list(range(1, n + 1))
        # and the profile reflects exactly that prefix (repaired on open if the kill fell
        # between the log append and the profile write)
        meta = r.profiles.get("victim")[1]
        assert (meta["last_seq"], meta["event_count"]) == (n, n)
        want = r.item_vector(order[0])
        for item in hist["item_id"].iloc[1:]:
            want = vectors.ema_update(want, r.item_vector(item), r.alpha_view)
        np.testing.assert_allclose(r.interest("victim"), want, atol=1e-5)


def test_hnsw_settings_reach_the_items_collection(small, tmp_path):
    with build(small, tmp_path / "h", hnsw={"ef_search": 33, "max_neighbors": 24}) as r:
        hnsw = r.item_store.collection.configuration_json["hnsw"]
        assert (hnsw["ef_search"], hnsw["max_neighbors"]) == (33, 24)
        assert len(r.recommend(int(small.events["user_id"].iloc[0]), n=5)) == 5


# ------------------------------------------------------------------ server mode


@pytest.mark.server
def test_server_mode_records_and_recommends(small, tmp_path, server_env):
    with build(small, tmp_path / "s") as r:
        assert r.server == (server_env[0], server_env[1])
        a, b = popular_items(small, 2)
        r.view("sam", a)
        r.favorite("sam", b)
        top = r.recommend("sam", n=5)
        assert len(top) == 5 and not {a, b} & set(top["item_id"])
        # a second recommender of the same store (no lock in server mode) sees the writes
        with build(small, tmp_path / "s") as other:
            np.testing.assert_allclose(other.interest("sam"), r.interest("sam"), atol=1e-6)


# ------------------------------------------------------------------ momentum (Step 6)


def test_predict_interest_is_the_seed_momentum(rec, small):
    items = popular_items(small, 12)
    for i in items[:6]:
        rec.view("m", i)
    rec.not_interested("m", items[6])  # negatives are not part of the trajectory
    for i in items[7:12]:
        rec.favorite("m", i)
    positives = items[:6] + items[7:12]
    window = positives[-8:]
    expected = vectors.predict_momentum(np.array([rec.item_vector(i) for i in window]))
    got = rec.predict_interest("m", window=8)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    damped = rec.predict_interest("m", window=8, weight=0.5)
    recent = rec.predict_interest("m", window=8, method="recent")
    assert float(damped @ got) < 1.0 and float(recent @ damped) > float(recent @ got) - 1e-6
    tw = rec.predict_interest("m", window=8, method="time_weighted")
    assert abs(np.linalg.norm(tw) - 1) < 1e-5
    top = rec.recommend("m", n=5, mode="predicted", window=8)
    assert set(top["source"]) == {"predicted"} and not set(top["item_id"]) & set(items)


def test_predict_interest_falls_back_for_short_histories(rec, small):
    a, b = popular_items(small, 2)
    rec.view("short", a)
    rec.view("short", b)
    np.testing.assert_array_equal(rec.predict_interest("short"), rec.interest("short"))
    with pytest.raises(KeyError):
        rec.predict_interest("nobody")
    assert set(rec.recommend("nobody", n=3, mode="predicted")["source"]) == {"popular"}


@pytest.mark.parametrize(
    "kwargs, fragment",
    [({"window": 1}, "window=1"), ({"weight": -1.0}, "weight=-1.0"),
     ({"method": "psychic"}, "psychic"), ({"min_events": 1}, "min_events=1")],
)
def test_predict_interest_bad_arguments(rec, small, kwargs, fragment):
    rec.view("p", popular_items(small, 1)[0])
    with pytest.raises(ValueError, match=fragment):
        rec.predict_interest("p", **kwargs)


def test_recommend_mode_is_validated(rec):
    with pytest.raises(ValueError, match="mode='future'"):
        rec.recommend("x", mode="future")
    with pytest.raises(TypeError, match="window"):
        rec.recommend("x", window=5)


def test_hybrid_embedding_builds_and_searches(small, tmp_path):
    with Recommender.from_dataset(small, tmp_path / "h", embedding="hybrid", dim=16,
                                  progress=False, cache_path=tmp_path / "c.sqlite") as r:
        assert r.dim == 384 + 16 and r.model_id.startswith("hybrid")
        hits = r.item_store.search("animated toys come to life", n=3)
        assert len(hits) == 3 and hits["similarity"].between(-1, 1).all()


# ---- the default configuration: blend vectors and the popularity prior -------------------------


def test_default_embedding_is_blend_with_the_trending_prior(small, tmp_path):
    with pytest.warns(UserWarning, match=r"only 40 users .*using dim=39 instead of 64"):
        r = Recommender.from_dataset(small, tmp_path / "d", progress=False)
    with r:
        assert r.model_id.startswith("blend-seq39w5-") and r.dim == 78
        assert r.popularity_weight == DEFAULT_PARAMS["popularity_weight"] == r.prior_weight
        assert r.prior == PRIOR_DEFAULTS["prior"] == "trending"
        positive = small.events[small.events["kind"] != "not_interested"].sort_values(
            "timestamp", kind="stable")
        counts = TrendingCounts(len(r.item_ids), PRIOR_DEFAULTS["half_life_events"])
        counts.add(pd.Index(r.item_ids).get_indexer(positive["item_id"]))
        np.testing.assert_allclose(r.item_prior(), counts.values(), atol=1e-6)
        assert r.item_prior().max() == pytest.approx(1.0)
        user = small.users[0]
        r.ingest(small.events[small.events["user_id"] == user])
        got = r.recommend(user, n=10)
        scores = r.score_items(r.interest(user))
        np.testing.assert_allclose(
            got["score"], scores[pd.Index(r.item_ids).get_indexer(got["item_id"])], atol=1e-4)


def test_popularity_weight_zero_is_pure_cosine_and_ids_only_means_no_prior(small, tmp_path):
    with build(small, tmp_path / "a", popularity_weight=0.0) as r:
        # weight 0: plain vectors in the store (HNSW finds a zero-weight query worse in the
        # augmented space), no prior
        assert r.item_store.prior is None and r.prior_weight == 0.0
        assert r.item_store.collection.metadata["dim"] == r.dim
        user = small.users[1]
        r.ingest(small.events[small.events["user_id"] == user])
        v = r.interest(user)
        got = r.recommend(user, n=5)
        np.testing.assert_allclose(
            got["score"], [r.item_vector(i) @ v for i in got["item_id"]], atol=1e-4)
    vecs = embed_items(small.items, small.events, "collaborative", dim=16, progress=False)
    ids_only = item_counts(small.events).index.tolist()
    with Recommender(small.items, vecs, tmp_path / "b", ids_only) as r:
        assert r.popularity_weight == DEFAULT_PARAMS["popularity_weight"]
        assert r.prior_weight == 0.0 and not r.item_prior().any()
        assert r.recommend("nobody", n=3)["item_id"].tolist() == ids_only[:3]


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_bad_popularity_weight_names_the_value(small, tmp_path, bad):
    with pytest.raises(ValueError, match=r"popularity_weight=.* must be a finite number >= 0"):
        build(small, tmp_path / "x", popularity_weight=bad)
    assert not (tmp_path / "x" / "events.sqlite").exists()  # nothing was created


def test_score_items_rejects_bad_queries(rec):
    for bad in (np.zeros(rec.dim), np.full(rec.dim, np.nan), np.ones(rec.dim + 1)):
        with pytest.raises(ValueError, match=f"finite, non-zero vector of dimension {rec.dim}"):
            rec.score_items(bad)


# ------------------------------------------------------------------ explain, undo, live params


def test_explain_decomposes_the_interest_exactly(rec, small):
    items = popular_items(small, 6)
    rec.view("ex", items[0], timestamp=1.0)
    rec.favorite("ex", items[1], timestamp=2.0)
    rec.view("ex", items[2], timestamp=3.0)
    target = int(rec.recommend("ex", n=1)["item_id"].iloc[0])
    why = rec.explain("ex", target, n=3)
    assert list(why.columns) == [
        "item_id", "title", "year", "kind", "similarity", "weight", "contribution"]
    assert set(why["item_id"]) <= set(items[:3])
    assert why["contribution"].is_monotonic_decreasing
    # closed form: v = (1-a)(...)... ; the weights rebuild the stored vector
    hist = rec.history("ex")
    e = np.stack([rec.item_vector(i) for i in hist["item_id"]]).astype(np.float64)
    w = vectors.history_weights(e, ["ema"] * 3, [0.25, 0.45, 0.25])
    np.testing.assert_allclose(w @ e, rec.interest("ex"), atol=1e-5)
    full = rec.explain("ex", target, n=10)
    cos = float(rec.interest("ex") @ rec.item_vector(target))
    assert full["contribution"].sum() == pytest.approx(cos, abs=1e-4)  # all events pull here


def test_history_weights_closed_form():
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    # cold start e1, then EMA alpha 0.5 toward e2: v = (0.5 e1 + 0.5 e2) / |..| = (e1+e2)/sqrt2
    w = vectors.history_weights(np.stack([e1, e2]), ["ema", "ema"], [0.3, 0.5])
    np.testing.assert_allclose(w, [1 / np.sqrt(2), 1 / np.sqrt(2)])
    # subtract e2 with factor 1 from (e1+e2)/sqrt2: raw = e1/sqrt2 + (1/sqrt2 - 1) e2
    w = vectors.history_weights(np.stack([e1, e2, e2]), ["ema", "ema", "subtract"], [1, .5, 1])
    raw = np.array([1 / np.sqrt(2), 1 / np.sqrt(2) - 1])
    np.testing.assert_allclose(w[0] * e1 + (w[1] + w[2]) * e2, raw / np.linalg.norm(raw))
    assert w[2] < 0
    # a not-interested first weighs nothing (cold), an overshoot changes nothing
    w = vectors.history_weights(np.stack([e2, e1, e1]), ["subtract", "ema", "subtract"],
                                [0.5, 0.3, 1.0])
    np.testing.assert_allclose(w, [0.0, 1.0, 0.0])


def test_explain_edge_cases(rec, small):
    items = popular_items(small, 3)
    assert rec.explain("nobody", items[0]).empty
    rec.view("ex", items[0], timestamp=1.0)
    with pytest.raises(KeyError, match="unknown item id -5"):
        rec.explain("ex", -5)
    with pytest.raises(ValueError, match="n=0"):
        rec.explain("ex", items[1], n=0)


def test_undo_restores_the_profile_and_the_log(rec, small):
    items = popular_items(small, 4)
    rec.view("u", items[0], timestamp=1.0)
    rec.favorite("u", items[1], timestamp=2.0)
    before = rec.interest("u")
    before_top = rec.recommend("u", n=5)["item_id"].tolist()
    rec.not_interested("u", before_top[0], timestamp=3.0)
    assert before_top[0] not in rec.recommend("u", n=5)["item_id"].tolist()
    removed = rec.undo("u")
    assert removed["kind"].tolist() == ["not_interested"]
    assert rec.history("u")["item_id"].tolist() == items[:2]
    np.testing.assert_allclose(rec.interest("u"), before, atol=1e-6)
    assert rec.recommend("u", n=5)["item_id"].tolist() == before_top  # seen cache refreshed
    rec.undo("u")
    rec.undo("u")
    with pytest.raises(KeyError, match="no interest vector"):
        rec.interest("u")
    assert rec.recommend("u", n=3)["source"].eq("popular").all()
    assert rec.undo("u").empty  # nothing left: a no-op


def test_set_params_changes_the_next_update_and_validates(rec, small):
    items = popular_items(small, 2)
    rec.view("p", items[0], timestamp=1.0)
    rec.set_params(alpha_view=0.9)
    rec.view("p", items[1], timestamp=2.0)
    expected = vectors.ema_update(rec.item_vector(items[0]), rec.item_vector(items[1]), 0.9)
    np.testing.assert_allclose(rec.interest("p"), expected, atol=1e-6)
    assert rec.history("p")["params"].iloc[-1] == {"alpha": 0.9}
    with pytest.raises(ValueError, match="alpha_favorite=2.0"):
        rec.set_params(alpha_view=0.5, alpha_favorite=2.0)
    assert rec.alpha_view == 0.9  # nothing changed by the failed call
    with pytest.raises(TypeError, match="alpha"):
        rec.set_params(alpha=0.3)
    rec.set_params(popularity_weight=0.0)
    assert rec.prior_weight == 0.0
    rec.rebuild_profiles()  # each event's recorded alpha: the same vector
    np.testing.assert_allclose(rec.interest("p"), expected, atol=1e-6)


def test_set_popularity_weight_needs_a_prior(small, tmp_path):
    r = build(small, tmp_path / "plain", popularity_weight=0.0)
    try:
        with pytest.raises(ValueError, match="plain vectors"):
            r.set_params(popularity_weight=0.5)
    finally:
        r.close()


def test_explain_a_whole_list_at_once(rec, small):
    items = popular_items(small, 4)
    for t, i in enumerate(items[:3]):
        rec.view("many", i, timestamp=float(t))
    top = rec.recommend("many", n=4)["item_id"].tolist()
    together = rec.explain("many", top, n=2)
    assert together.columns[0] == "recommended"
    for item in top:
        alone = rec.explain("many", item, n=2)
        part = together[together["recommended"] == item].drop(columns="recommended")
        pd.testing.assert_frame_equal(part.reset_index(drop=True), alone)


# ------------------------------------------------------------------ holes a mutation check found


def test_ingest_applies_events_in_time_order_whatever_the_frame_order(small, tmp_path):
    user = small.users[0]
    events = small.user_history(user).assign(user_id=user)
    events = events.drop_duplicates("timestamp").head(30)  # ties: the next test
    shuffled = events.sample(frac=1.0, random_state=0)
    with build(small, tmp_path / "a") as a, build(small, tmp_path / "b") as b:
        a.ingest(events.sort_values("timestamp"))
        b.ingest(shuffled)
        np.testing.assert_array_equal(a.interest(user), b.interest(user))
        assert b.history(user)["timestamp"].is_monotonic_increasing  # logged in time order


def test_ingest_ties_keep_the_frame_order(tmp_path):
    """The tie rule: events with equal timestamps are applied in the order of the frame (a
    stable sort), exactly as calling the event methods row by row in that order would."""
    rng = np.random.default_rng(0)
    n = 48  # > 16 rows: numpy's unstable sort reorders ties only beyond its insertion-sort size
    applied = pd.DataFrame({
        "user_id": rng.choice(["a", "b"], n),
        "item_id": rng.integers(1, 7, n),
        "kind": rng.choice(["view", "favorite", "not_interested"], n, p=[0.5, 0.3, 0.2]),
        "timestamp": np.repeat([10.0, 20.0, 30.0, 40.0], n // 4),  # 4 runs of 12 ties
    })
    # the frame lists the newest run first; inside each run the order is the one to apply
    frame = pd.concat([applied[applied["timestamp"] == ts] for ts in (40.0, 30.0, 20.0, 10.0)])
    with hand_recommender(tmp_path / "bulk") as bulk, hand_recommender(tmp_path / "one") as one:
        bulk.ingest(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OvershootWarning)
            for row in applied.itertuples(index=False):
                getattr(one, row.kind)(row.user_id, row.item_id, timestamp=row.timestamp)
        for user in ("a", "b"):
            np.testing.assert_allclose(bulk.interest(user), one.interest(user), atol=1e-6)
            want = applied.loc[applied["user_id"] == user, "item_id"].tolist()
            assert bulk.history(user)["item_id"].tolist() == want


def test_an_event_updates_the_excluded_items_at_once(rec, small):
    rec.view("s", popular_items(small, 1)[0])
    top = rec.recommend("s", n=5)["item_id"].tolist()
    rec.view("s", top[0])  # the seen set is cached: this event must reach it
    assert top[0] not in rec.recommend("s", n=5)["item_id"].tolist()
    rec.not_interested("s", top[1])
    assert top[1] not in rec.recommend("s", n=5)["item_id"].tolist()


def test_ingest_and_undo_update_the_excluded_items_at_once(hand):
    hand.view("solo", 1, timestamp=1.0)
    assert hand.recommend("solo", n=6)["item_id"].tolist()[0] == 5  # caches the seen set {1}
    hand.ingest(pd.DataFrame({"user_id": ["solo"], "item_id": [5], "kind": ["view"],
                              "timestamp": [2.0]}))
    assert 5 not in hand.recommend("solo", n=6)["item_id"].tolist()
    hand.undo("solo")  # the view of item 5 is taken back: it is unseen again
    assert hand.recommend("solo", n=1)["item_id"].tolist() == [5]


def test_exclude_seen_false_returns_seen_items(hand):
    # one view: the interest IS item 1's vector, so item 1 is its own best match (cosine 1, and
    # no other item's cosine + prior reaches 1: see the hand fixture)
    hand.view("solo", 1)
    with_seen = hand.recommend("solo", n=2, exclude_seen=False)
    assert with_seen["item_id"].tolist() == [1, 5]
    np.testing.assert_allclose(with_seen["score"], [1.0, 0.85], atol=1e-6)  # 5: 0.6 + 0.5 * 0.5
    without = hand.recommend("solo", n=2)
    assert without["item_id"].tolist() == [5, 4]  # 0.85, then 0.8 + 0
    every = hand.recommend("solo", n=6, exclude_seen=False)["item_id"].tolist()
    assert sorted(every) == [1, 2, 3, 4, 5, 6]


def test_reset_store_empties_the_folder_and_refuses_an_open_store(small, tmp_path):
    from recsys_nb.store import StoreLockedError, reset_store

    path = tmp_path / "s"
    with build(small, path) as r:
        r.view("u", popular_items(small, 1)[0])
        with pytest.raises(StoreLockedError):
            reset_store(path)  # open in this process: never deleted under a live service
    assert (path / "events.sqlite").exists()
    assert reset_store(path) == path
    assert not (path / "events.sqlite").exists()
    assert [p.name for p in (path / "chroma").iterdir()] in ([], [".writer.lock"])
    with build(small, path) as r:  # a fresh start: no events, no profiles, items re-stored
        assert r.log.count() == 0 and r.profiles.count() == 0
        assert r.item_store.count() == len(r.item_ids)


def test_explain_by_interest_needs_several_interests(rec, small):
    with pytest.raises(ValueError, match="interest=0 needs several interests"):
        rec.explain(small.users[0], popular_items(small, 1)[0], interest=0)
