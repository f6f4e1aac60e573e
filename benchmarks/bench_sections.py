"""The five measurements behind ``make bench``; ``bench.py`` runs each in its own process.

Each ``section_*`` function takes the parsed ``bench.py`` arguments and returns a JSON-ready dict
of raw figures (latency samples in ms, rates, seconds); ``bench_table`` turns them into ratios.
Every store lives in a temporary folder built for the section (MovieLens, the default embedding
of ``Recommender.from_dataset``, all 100,004 events ingested), so one section's writes never
shape another's figures; only the embedding cache under ``data/cache`` is shared and reused.
The measuring code is the detailed scripts' (``bench_embeddings``, ``bench_ingest``,
``bench_recommend``): these functions only choose what to compare.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from bench_embeddings import NaiveOnnx, movielens_texts, throughput
from bench_ingest import fresh, one_by_one, sample_events
from bench_recommend import (
    N,
    exact_top_n,
    interleaved_times,
    open_ingested,
    pick_users,
    query_inputs,
    raw_top_n,
)

if TYPE_CHECKING:
    import pandas as pd

    from recsys_nb.recommender import Recommender

EMBEDDING = "default"  # what Recommender.from_dataset uses when not told otherwise


def flat(times: dict[int, list[float]]) -> list[float]:
    """All users' samples of one method, as one list (the table takes percentiles over them)."""
    return [ms for samples in times.values() for ms in samples]


def section_embeddings(args: argparse.Namespace) -> dict[str, Any]:
    """Row 1: texts/s of ``MiniLM()`` vs the naive onnxruntime loop on the first ``--texts``
    MovieLens texts; ``--rounds`` alternating rounds (naive, ours, naive, ...), best kept."""
    from recsys_nb.embeddings import MiniLM

    texts = movielens_texts()[: args.texts]
    models = {"naive_per_s": NaiveOnnx(), "ours_per_s": MiniLM()}
    best = dict.fromkeys(models, 0.0)
    for _ in range(args.rounds):
        for key, model in models.items():
            best[key] = max(best[key], throughput(model, texts, repeats=1))
    return {"texts": len(texts), **best}


Methods = dict[str, Callable[[int], object]]


def view_method(rec: Recommender, users: list[int], rng: np.random.Generator) -> Methods:
    """``rec.view(user, item)``: event log append + persisted profile, each call with another
    item the user has not seen."""
    all_items = {int(i) for i in rec.item_ids}
    unseen = {
        u: iter(rng.permutation(sorted(all_items - rec.log.seen_items(u))).tolist())
        for u in users
    }
    return {"view": lambda u: rec.view(u, next(unseen[u]))}


def bare_upsert_method(rec: Recommender, rng: np.random.Generator) -> Methods:
    """A bare Chroma ``upsert`` of one vector (id = the user): the floor under any persisted
    profile update. The collection sits in the same client and holds a copy of the 671 profile
    vectors (same size and dimension as the profiles collection), without metadata."""
    bare = rec.client.get_or_create_collection(
        "bench_bare_upsert", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    profiles = rec.profiles.collection.get(include=["embeddings"])
    bare.add(ids=profiles["ids"], embeddings=profiles["embeddings"])
    vectors = rng.normal(size=(256, rec.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cycle = _cycle(vectors)  # a new vector each call, prepared before timing
    return {"upsert": lambda u: bare.upsert(ids=[str(u)], embeddings=next(cycle)[None, :])}


def _cycle(vectors: np.ndarray) -> Iterator[np.ndarray]:
    while True:
        yield from vectors


def recommend_methods(rec: Recommender, users: list[int], baselines: bool = True) -> Methods:
    """``rec.recommend(user, n=10)`` (seen excluded, everything a caller waits for); with
    ``baselines`` also raw Chroma top-10 without exclusion and exact numpy top-10 with
    exclusion, whose inputs are prepared beforehand (they time the search only)."""
    methods: Methods = {"recommend": lambda u: rec.recommend(u, n=N)}
    if baselines:
        inputs = query_inputs(rec, users)
        col = rec.item_store.collection
        methods["raw"] = lambda u: raw_top_n(col, inputs[u]["q"])
        methods["numpy"] = lambda u: exact_top_n(
            rec, inputs[u]["vector"], inputs[u]["seen_rows"]
        )
    return methods


def sampled(methods: Methods, users: list[int], repeats: int, seed: int) -> dict[str, Any]:
    """``{"<method>_ms": [every call's ms]}``, calls interleaved (``interleaved_times``)."""
    times = interleaved_times(methods, users, repeats, np.random.default_rng(seed))
    return {f"{name}_ms": flat(times[name]) for name in methods}


def _ingested(root: Path) -> tuple[Recommender, pd.DataFrame]:
    """A fresh store under ``root`` with all MovieLens events ingested, and those events."""
    from recsys_nb.data import load_movielens

    dataset = load_movielens()
    rec, _ = open_ingested(dataset, EMBEDDING, root, fresh=True)
    return rec, dataset.events


def section_event(args: argparse.Namespace) -> dict[str, Any]:
    """Row 2, embedded store."""
    with tempfile.TemporaryDirectory(prefix="bench_event_") as tmp:
        rec, events = _ingested(Path(tmp))
        try:
            users, rng = pick_users(events, args.users), np.random.default_rng(args.seed)
            methods = {**view_method(rec, users, rng), **bare_upsert_method(rec, rng)}
            return sampled(methods, users, args.event_repeats, args.seed)
        finally:
            rec.close()


def section_recommend(args: argparse.Namespace) -> dict[str, Any]:
    """Row 3, embedded store."""
    with tempfile.TemporaryDirectory(prefix="bench_recommend_") as tmp:
        rec, events = _ingested(Path(tmp))
        try:
            users = pick_users(events, args.users)
            return sampled(recommend_methods(rec, users), users, args.repeats, args.seed)
        finally:
            rec.close()


def section_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Row 4: wall clock of ``rec.ingest(all events)`` on a fresh store vs the single-event
    methods over ``--sample`` events (whole histories of random users, timestamp order) on
    another fresh store, extrapolated linearly by the table."""
    from recsys_nb.data import load_movielens

    dataset = load_movielens()
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        rec = fresh(dataset, EMBEDDING, Path(tmp), "bulk")
        start = time.perf_counter()
        rec.ingest(dataset.events)
        bulk_s = time.perf_counter() - start
        rec.close()
        sample = sample_events(dataset.events, args.sample, args.seed)
        rec = fresh(dataset, EMBEDDING, Path(tmp), "one-by-one")
        try:
            sample_s = one_by_one(rec, sample)
        finally:
            rec.close()
    return {"events": dataset.n_events, "bulk_s": bulk_s, "sample_events": len(sample),
            "sample_s": sample_s}


def section_server(args: argparse.Namespace) -> dict[str, Any]:
    """Row 5: rows 2 and 3's measurements with recsys_nb pointed at a ``chroma run`` server on
    127.0.0.1 (``CHROMA_HOST`` / ``CHROMA_PORT``; the event log stays a local SQLite file).
    The server is this process's child, so its peak RSS is read once it has stopped."""
    from recsys_nb.serve import chroma_server

    with tempfile.TemporaryDirectory(prefix="bench_server_") as tmp:
        with chroma_server(Path(tmp) / "server") as (host, port):
            os.environ["CHROMA_HOST"], os.environ["CHROMA_PORT"] = host, str(port)
            rec, events = _ingested(Path(tmp))
            try:
                users, rng = pick_users(events, args.users), np.random.default_rng(args.seed)
                # Only what row 5 compares: its baselines are rows 2 and 3's embedded figures.
                result = {
                    **sampled(view_method(rec, users, rng), users, args.event_repeats, args.seed),
                    **sampled(recommend_methods(rec, users, baselines=False), users,
                              args.repeats, args.seed),
                }
            finally:
                rec.close()
    result["server_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "embeddings": section_embeddings,
    "event": section_event,
    "recommend": section_recommend,
    "ingest": section_ingest,
    "server": section_server,
}
