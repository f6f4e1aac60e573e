"""How fast ``Recommender.ingest`` turns all MovieLens events into profiles, vs one event at a time.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--sample 2000] [--embeddings collaborative]``

For each embedding (default: collaborative 64-d, the default model, and MiniLM 384-d):

1. bulk: a fresh store, then ``rec.ingest(all 100,004 events)`` -> all 671 profiles. The time is
   what ``ingest`` reports and includes validation, the vectorized replay, the event-log writes
   (SQLite) and the Chroma profile upserts (target: <= 2 s on 2 cores). Reopening the store
   afterwards (the crash-repair check reads the whole log) is timed too.
2. where the time goes: thin wall-clock timers around the stages of that same run (profile
   reads, replay, event-log append, Chroma upsert; the rest is pandas prep and commit) and of the
   reopen (embedding, client, ``_repair``); then a ``cProfile`` of the same ingest on another
   fresh store, top functions by own time (the profiler inflates the total).
3. one by one: a sample (whole histories of random users, ``--sample`` events, timestamp order)
   through ``rec.view`` / ``rec.favorite`` / ``rec.not_interested`` on a fresh store, extrapolated
   linearly to 100,004 events (clearly labelled), against ``rec.ingest`` of the same sample on
   another fresh store; then the two stores' profiles are compared (max abs difference), as are
   their event logs.

Stores live in a temporary folder (``--store`` to keep them). Timings vary with machine load
(printed): compare the rows of one run. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from recsys_nb.data import Dataset
    from recsys_nb.recommender import Recommender


class StageTimer:
    """Wraps a few functions with wall-clock timers while active (``with StageTimer(...)``).

    Cheaper and more faithful than a profiler for stage shares: only the wrapped calls pay a
    ``perf_counter`` pair. Targets are ``(owner, attribute name, stage label)``; owners that lack
    the attribute (internals change) are skipped.
    """

    def __init__(self, targets: list[tuple[object, str, str]]) -> None:
        self.targets = [(o, n, label) for o, n, label in targets if hasattr(o, n)]
        self.seconds: dict[str, float] = {label: 0.0 for _, _, label in self.targets}
        self._saved: list[tuple[object, str, object]] = []

    def __enter__(self) -> StageTimer:
        for owner, name, label in self.targets:
            original = getattr(owner, name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._timed(original, label))
        return self

    def _timed(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        return wrapper

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)


def ingest_targets() -> list[tuple[object, str, str]]:
    """The stages of ``Recommender.ingest`` worth timing (disjoint: none calls another)."""
    from recsys_nb import replay
    from recsys_nb.eventlog import EventLog
    from recsys_nb.recommender import Recommender
    from recsys_nb.store import ProfileStore

    return [
        (Recommender, "_profiles_many", "profile reads (Chroma get)"),
        (replay, "replay_batch", "replay (replay.replay_batch)"),
        (EventLog, "append_many", "event log append_many (validate+insert)"),
        (EventLog, "last_seq", "event log last_seq"),
        (ProfileStore, "put_many", "profile upsert (Chroma)"),
    ]


def reopen_targets() -> list[tuple[object, str, str]]:
    """The stages of reopening a store with ``from_dataset`` (disjoint)."""
    import recsys_nb.recommender as recommender_module
    from recsys_nb.recommender import Recommender

    return [
        (recommender_module, "embed_items", "embed_items (embedding cache / SVD)"),
        (recommender_module, "get_client", "Chroma client open"),
        (Recommender, "_repair", "_repair (read log, compare profiles)"),
    ]


def print_stages(title: str, total: float, seconds: dict[str, float], rest: str) -> None:
    """One line per stage with its share of ``total``; the remainder is labelled ``rest``."""
    remainder = total - sum(seconds.values())
    print(f"{title} (total {total:.2f} s):")
    for label, secs in [*sorted(seconds.items(), key=lambda kv: -kv[1]), (rest, remainder)]:
        print(f"  {label:44s} {secs:6.2f} s {100 * secs / total:5.1f} %")


def top_functions(profiler: cProfile.Profile, k: int) -> list[str]:
    """The ``k`` functions with the most own time (tottime) in a cProfile run, formatted."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][2])[:k]
    lines = []
    for (filename, line, func), (_, calls, own, cumulative, _) in ranked:
        where = func if filename == "~" else f"{Path(filename).name}:{line}({func})"
        lines.append(f"  {own:6.2f} s own {cumulative:6.2f} s cum {calls:8,d} calls  {where}")
    return lines


def sample_events(events: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """Whole histories of random users until ``size`` events, in timestamp order (stable)."""
    rng = np.random.default_rng(seed)
    users = rng.permutation(events["user_id"].unique())
    counts = events.groupby("user_id").size()
    chosen, total = [], 0
    for u in users:
        if total >= size:
            break
        if counts[u] > size - total and chosen:  # keep the sample close to the asked size
            continue
        chosen.append(u)
        total += int(counts[u])
    picked = events[events["user_id"].isin(chosen)]
    return picked.sort_values("timestamp", kind="stable").reset_index(drop=True)


def fresh(dataset: Dataset, embedding: str, root: Path, name: str) -> Recommender:
    """A Recommender on a new, empty store folder ``root / name`` (emptied if it exists)."""
    from recsys_nb.recommender import Recommender
    from recsys_nb.store import reset_store

    if (root / name).exists():
        reset_store(root / name)
    return Recommender.from_dataset(
        dataset, path=root / name, embedding=embedding, progress=False
    )


def one_by_one(rec: Recommender, events: pd.DataFrame) -> float:
    """Record ``events`` in order through the single-event methods; returns seconds."""
    methods = {"view": rec.view, "favorite": rec.favorite, "not_interested": rec.not_interested}
    start = time.perf_counter()
    for user, item, kind, ts in events[["user_id", "item_id", "kind", "timestamp"]].itertuples(
        index=False
    ):
        methods[kind](int(user), int(item), timestamp=float(ts))
    return time.perf_counter() - start


def compare_profiles(
    a: Recommender, b: Recommender, users: list[int]
) -> tuple[float, int, int]:
    """Max abs difference of the interest vectors, users compared, users without a vector on
    one side only (must be 0)."""
    worst, compared, mismatched = 0.0, 0, 0
    for u in users:
        try:
            va = a.interest(u)
        except KeyError:
            va = None
        try:
            vb = b.interest(u)
        except KeyError:
            vb = None
        if va is None or vb is None:
            mismatched += int((va is None) != (vb is None))
            continue
        worst = max(worst, float(np.max(np.abs(va.astype(np.float64) - vb))))
        compared += 1
    return worst, compared, mismatched


def same_logs(a: Recommender, b: Recommender, users: list[int]) -> bool:
    """The two event logs hold the same (item, kind, timestamp) sequence for every user."""
    cols = ["item_id", "kind", "timestamp"]
    return all(
        a.history(u)[cols].reset_index(drop=True).equals(b.history(u)[cols].reset_index(drop=True))
        for u in users
    )


def bench_embedding(
    dataset: Dataset, embedding: str, root: Path, args: argparse.Namespace
) -> None:
    """All measurements for one embedding; prints one block."""
    from recsys_nb.recommender import Recommender

    n_all = dataset.n_events
    load0 = os.getloadavg()[0]
    # 1. bulk, unprofiled
    rec = fresh(dataset, embedding, root, f"{embedding}-bulk")
    model = f"{rec.model_id} ({rec.dim}-d)"
    with StageTimer(ingest_targets()) as ingest_timer:
        wall = time.perf_counter()
        report = rec.ingest(dataset.events)
        wall = time.perf_counter() - wall
    profiles = rec.profiles.count()
    rec.close()
    with StageTimer(reopen_targets()) as reopen_timer:
        reopen = time.perf_counter()
        rec = Recommender.from_dataset(
            dataset, path=root / f"{embedding}-bulk", embedding=embedding, progress=False
        )
        reopen = time.perf_counter() - reopen
    repaired = rec.repaired
    rec.close()
    load1 = os.getloadavg()[0]

    # 2. cProfile of the same ingest on another fresh store: which functions own the time
    rec = fresh(dataset, embedding, root, f"{embedding}-profiled")
    profiler = cProfile.Profile()
    profiler.enable()
    profiled = time.perf_counter()
    rec.ingest(dataset.events)
    profiled = time.perf_counter() - profiled
    profiler.disable()
    rec.close()

    # 3. one-by-one vs bulk on a sample
    sample = sample_events(dataset.events, args.sample, args.seed)
    users = sorted(int(u) for u in sample["user_id"].unique())
    single = fresh(dataset, embedding, root, f"{embedding}-single")
    single_s = one_by_one(single, sample)
    bulk = fresh(dataset, embedding, root, f"{embedding}-sample-bulk")
    bulk_sample_s = bulk.ingest(sample).seconds
    worst, compared, mismatched = compare_profiles(single, bulk, users)
    logs_equal = same_logs(single, bulk, users)
    single.close()
    bulk.close()
    load2 = os.getloadavg()[0]

    per_event = single_s / len(sample)
    print()
    print(f"== embedding {model}: {n_all:,} events, {dataset.n_users} users ==")
    print(f"load average (2 cores): {load0:.2f} at start, {load1:.2f} after bulk, "
          f"{load2:.2f} at end")
    print(f"{'path':58s} {'events':>8s} {'seconds':>9s} {'events/s':>9s} {'x bulk':>8s}")
    bulk_rate = report.events / report.seconds
    rows = [
        ("bulk rec.ingest, all events (IngestReport.seconds)", report.events, report.seconds),
        ("  same, wall clock around the call", report.events, wall),
        ("bulk rec.ingest, the sample", len(sample), bulk_sample_s),
        ("one by one rec.view/favorite/not_interested, the sample", len(sample), single_s),
        (f"one by one, EXTRAPOLATED to {n_all:,} events", n_all, per_event * n_all),
    ]
    for label, n, secs in rows:
        rate = n / secs
        print(f"{label:58s} {n:8,d} {secs:9.2f} {rate:9,.0f} {bulk_rate / rate:8.1f}")
    print(
        f"profiles after bulk ingest: {profiles} (report: {report.profiles_written} written, "
        f"{report.users} users, {report.overshoots} overshoots skipped); reopening the store "
        f"(incl. crash-repair check): {reopen:.2f} s, {repaired} profiles repaired"
    )
    print(
        f"one-by-one vs bulk on the sample ({len(sample):,} events, {len(users)} users): "
        f"max abs diff of interest vectors {worst:.2e} over {compared} users, "
        f"{mismatched} users with a vector on one side only, event logs equal: {logs_equal}"
    )
    print_stages("where bulk ingest time goes (thin timers, unprofiled run)", wall,
                 ingest_timer.seconds, "everything else (pandas prep, commit, ...)")
    print_stages("where reopening the store goes", reopen, reopen_timer.seconds,
                 "everything else (items frame, ItemStore)")
    print(f"top functions by own time, cProfile of another bulk ingest ({profiled:.2f} s with "
          "profiler overhead):")
    print("\n".join(top_functions(profiler, args.top)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=2000, help="events for the one-by-one path")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled users")
    parser.add_argument(
        "--embeddings", default="collaborative,minilm", help="comma-separated embedding names"
    )
    parser.add_argument("--store", default=None, help="keep the stores in this folder")
    parser.add_argument("--top", type=int, default=10, help="cProfile lines to print")
    args = parser.parse_args(argv)

    from recsys_nb.data import load_movielens

    warnings.filterwarnings("ignore", category=UserWarning)  # overshoot warnings
    dataset = load_movielens()
    print(
        f"MovieLens: {dataset.n_items:,} items, {dataset.n_events:,} events, "
        f"{dataset.n_users} users | {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        root = Path(args.store) if args.store else Path(tmp)
        for embedding in args.embeddings.split(","):
            bench_embedding(dataset, embedding.strip(), root, args)


if __name__ == "__main__":
    main()
