"""The service from other threads: widget callbacks in JupyterLab (ipykernel 7) run on a thread
other than the one that built the Recommender, and two callbacks can overlap."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.eventlog import EventLog
from recsys_nb.recommender import Recommender


@pytest.fixture(scope="module")
def small():
    ds = sample_users(load_movielens(), 30, seed=2, min_events=20)
    return subset_items(ds, ds.events["item_id"].value_counts().index[:600])


def build(ds, path) -> Recommender:
    return Recommender.from_dataset(ds, path, embedding="collaborative", dim=16, progress=False)


def _session(rec: Recommender, user: str, items: list[int]) -> dict:
    """What a reader does in the widgets: view, favorite, reject, ask, read the history."""
    rec.view(user, items[0], timestamp=1.0)
    rec.view(user, items[1], timestamp=2.0)
    rec.favorite(user, items[2], timestamp=3.0)
    top = rec.recommend(user, n=5)
    rec.not_interested(user, int(top["item_id"].iloc[0]), timestamp=4.0)
    return {
        "interest": rec.interest(user),
        "top": rec.recommend(user, n=10)["item_id"].tolist(),
        "history": rec.history(user)[["item_id", "kind"]].to_dict("records"),
    }


def test_a_second_thread_behaves_exactly_like_the_main_thread(small, tmp_path):
    items = small.events["item_id"].value_counts().index[:3].tolist()
    main_rec = build(small, tmp_path / "main")
    try:
        expected = _session(main_rec, "reader", items)
    finally:
        main_rec.close()
    rec = build(small, tmp_path / "threaded")  # built here, used only from another thread
    try:
        with ThreadPoolExecutor(1) as pool:
            got = pool.submit(_session, rec, "reader", items).result()
    finally:
        rec.close()
    np.testing.assert_array_equal(got["interest"], expected["interest"])
    assert got["top"] == expected["top"]
    assert got["history"] == expected["history"]


def test_concurrent_calls_from_two_threads_lose_no_event(small, tmp_path):
    items = small.events["item_id"].value_counts().index[:40].tolist()
    rec = build(small, tmp_path / "s")
    barrier = threading.Barrier(2)

    def clicks(user: str) -> None:
        barrier.wait()  # both threads start together, so their calls interleave
        for i, item in enumerate(items):
            (rec.favorite if i % 5 == 0 else rec.view)(user, item, timestamp=float(i))
            rec.recommend(user, n=3)
            rec.recommend("shared", n=3)
            rec.view("shared", item, timestamp=float(i))

    try:
        threads = [threading.Thread(target=clicks, args=(u,)) for u in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert rec.log.count() == 4 * len(items)
        assert rec.log.count("shared") == 2 * len(items)
        live = {u: rec.interest(u) for u in ("a", "b", "shared")}
        # No lost update: replaying the log gives the vectors the threads left behind.
        rec.rebuild_profiles()
        for user, vec in live.items():
            np.testing.assert_allclose(rec.interest(user), vec, atol=1e-6)
    finally:
        rec.close()


def test_event_log_transactions_do_not_interleave_across_threads(tmp_path):
    log = EventLog(tmp_path / "events.sqlite")
    started = threading.Event()
    release = threading.Event()

    def slow_batch() -> None:
        with log.transaction():
            log.append("t", 1, "view", timestamp=1.0)
            started.set()
            release.wait(5)
            raise RuntimeError("batch failed")  # rolls back its own append only

    worker = threading.Thread(target=lambda: pytest.raises(RuntimeError, slow_batch))
    worker.start()
    started.wait(5)
    appender = threading.Thread(target=log.append, args=("u", 2, "view"), kwargs={"timestamp": 2.0})
    appender.start()  # waits for the other thread's transaction instead of joining it
    release.set()
    worker.join(10)
    appender.join(10)
    assert log.events()["user_id"].tolist() == ["u"]
    log.close()
