"""Tuned baselines on both protocols, with bootstrap intervals and beyond-accuracy metrics.

Every baseline's parameters are chosen on a validation split carved from the training events
only (``recsys_nb.evaluate.validation_split``), by Recall@50; the choice is then scored once on
the test split(s). Two protocols:

- temporal: the per-user split of notebook 06 (``temporal_split(load_movielens())`` at the
  notebook's defaults: test_fraction 0.2, min_events 5), every evaluated user (the notebook's
  ``FULL`` run; its fast run samples 100). Other users' future leaks into training here.
- rolling: the leak-free protocol (``rolling_splits(load_movielens())``: cut-offs every 6 months,
  2000-2016), results pooled over the (cut-off, user) pairs; each cut-off's validation split is
  the same protocol 182 days earlier.

Per model: the chosen parameters, validation Recall@50 / NDCG@10, test Recall@50 / NDCG@10 with
95 % bootstrap intervals (users resampled), coverage@50, diversity@10 (mean pairwise 1 - cosine
in the package's default item space: "blend" vectors learned, like ``Recommender.from_dataset``
does, from the training events of the split, per cut-off on the rolling protocol;
``--text-vectors`` uses the MiniLM text vectors instead, which learn nothing from events),
novelty@10 (bits, against each split's own training events), and the paired bootstrap
difference of test Recall@50 against ``ease_trending``. Writes the tables to
``build/tuned_baselines.md`` too.

    .venv/bin/python benchmarks/tuned_baselines.py            # both protocols, full grids
    .venv/bin/python benchmarks/tuned_baselines.py --quick    # smaller grids
    .venv/bin/python benchmarks/tuned_baselines.py --protocol rolling
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import load_movielens
from recsys_nb.embeddings import embed_items
from recsys_nb.evaluate import (
    EvaluationResult,
    Split,
    TunedBaseline,
    bootstrap_interval,
    paired_bootstrap,
    pool,
    rolling_splits,
    temporal_split,
    tune_baseline,
    with_beyond_accuracy,
)
from recsys_nb.recommender import DEFAULT_DIMS, DEFAULT_EMBEDDING, DEFAULT_SEED
from recsys_nb.store import embedding_cache_path

REPO = Path(__file__).resolve().parents[1]
METRIC = "recall@50"
CUTOFFS = (10, 50)
REFERENCE = "ease_trending"  # the baseline to beat: every other row is compared with it

GRIDS: dict[str, dict[str, list[Any]]] = {
    "popularity": {},
    "trending": {"days": [30, 90, 180, 365]},
    "itemknn": {"neighbors": [100, None], "shrink": [0.0, 10.0, 50.0]},
    "rp3beta": {"alpha": [0.5, 1.0], "beta": [0.3, 0.6], "neighbors": [100, 300]},
    "ease": {"lam": [50, 100, 200, 500, 1000, 2000, 5000]},
    "ease_trending": {"lam": [200, 500], "days": [90, 180], "weight": [1.0, 2.0, 3.0]},
}
QUICK_GRIDS: dict[str, dict[str, list[Any]]] = {
    "popularity": {},
    "trending": {"days": [30, 90, 180, 365]},
    "itemknn": {"neighbors": [100, None], "shrink": [0.0, 20.0]},
    "rp3beta": {"alpha": [1.0], "beta": [0.3, 0.6], "neighbors": [200]},
    "ease": {"lam": [50, 200, 500, 2000, 5000]},
    "ease_trending": {"lam": [200], "days": [180], "weight": [1.0, 2.0, 3.0]},
}


def log(message: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.0f} s] {message}", file=sys.stderr, flush=True)


def item_space(split: Split, text: bool) -> np.ndarray:
    """Item vectors aligned with ``split.item_ids``: "blend" learned from the split's training
    events (``Recommender.from_dataset``'s call), or MiniLM text vectors."""
    items = split.items
    if text:
        iv = embed_items(items, None, "minilm", cache_path=embedding_cache_path(),
                         progress=False)
    else:
        ds = split.train_dataset()
        iv = embed_items(ds.items, ds.events, DEFAULT_EMBEDDING, cache_path=embedding_cache_path(),
                         progress=False, dim=DEFAULT_DIMS[DEFAULT_EMBEDDING], seed=DEFAULT_SEED)
    rows = pd.Index(iv.item_ids).get_indexer(split.item_ids)
    if (rows < 0).any():
        raise ValueError("the item space lacks some catalogue items")
    return iv.vectors[rows]


def tune_all(splits: Split | list[Split], grids: dict[str, dict[str, list[Any]]],
             t0: float) -> dict[str, TunedBaseline]:
    tuned = {}
    for name, grid in grids.items():
        tuned[name] = tune_baseline(name, splits, grid, METRIC, CUTOFFS)
        log(f"{name}: {tuned[name]!r} (grid of {len(tuned[name].validation)})", t0)
    return tuned


def beyond(tuned: dict[str, TunedBaseline], splits: list[Split],
           vectors: Callable[[Split], np.ndarray], t0: float) -> dict[str, EvaluationResult]:
    """Each model's test result with diversity@10 / novelty@10: per split (its own training
    events, its own vectors), then pooled when there are several splits. One split's vectors
    are in memory at a time."""
    parts: dict[str, list[EvaluationResult]] = {name: [] for name in tuned}
    for i, split in enumerate(splits):
        v = vectors(split)
        for name, tb in tuned.items():
            parts[name].append(with_beyond_accuracy(tb.test_parts[i], split, split.item_ids, v,
                                                    (10,)))
        if (i + 1) % 10 == 0 or i + 1 == len(splits):
            log(f"item vectors and beyond-accuracy metrics: {i + 1}/{len(splits)} splits", t0)
    if len(splits) == 1:
        return {name: p[0] for name, p in parts.items()}
    return {name: pool(p, splits, name) for name, p in parts.items()}


def fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items()) or "-"


def table(tuned: dict[str, TunedBaseline], results: dict[str, EvaluationResult]) -> pd.DataFrame:
    rows = []
    for name, tb in tuned.items():
        r = results[name]
        row = {"model": name, "chosen params": fmt_params(tb.params),
               "val recall@50": f"{tb.validation_result['recall@50']:.4f}",
               "val ndcg@10": f"{tb.validation_result['ndcg@10']:.4f}",
               "test recall@50 [95 % CI]": str(bootstrap_interval(r, "recall@50")),
               "test ndcg@10 [95 % CI]": str(bootstrap_interval(r, "ndcg@10")),
               "coverage@50": f"{r['coverage@50']:.4f}",
               "diversity@10": f"{r['diversity@10']:.4f}",
               "novelty@10": f"{r['novelty@10']:.2f}"}
        if REFERENCE in results and name != REFERENCE:
            d = paired_bootstrap(r, results[REFERENCE], "recall@50")
            row[f"recall@50 - {REFERENCE}"] = f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"
        elif REFERENCE in results:
            row[f"recall@50 - {REFERENCE}"] = "-"
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    """A pipe table (pandas' to_markdown needs the optional tabulate package)."""
    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join(lines)


def run_protocol(name: str, splits: Split | list[Split], grids: dict[str, dict[str, list[Any]]],
                 text: bool, t0: float) -> str:
    split_list: Sequence[Split] = splits if isinstance(splits, list) else [splits]
    tuned = tune_all(splits, grids, t0)
    results = beyond(tuned, list(split_list), lambda s: item_space(s, text), t0)
    first = next(iter(results.values()))
    dropped = next(iter(tuned.values())).dropped
    scored = (f"(cut-off, user) pairs over {len(split_list)} cut-offs" if len(split_list) > 1
              else "users")
    head = (f"### {name}: {len(first.users)} scored {scored}"
            f"{f', {dropped} cut-off(s) without validation users' if dropped else ''}")
    return head + "\n\n" + markdown(table(tuned, results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids")
    parser.add_argument("--protocol", choices=["temporal", "rolling", "both"], default="both")
    parser.add_argument("--text-vectors", action="store_true",
                        help="diversity in MiniLM text space (learns nothing from events)")
    parser.add_argument("--out", default=str(REPO / "build" / "tuned_baselines.md"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    grids = QUICK_GRIDS if args.quick else GRIDS
    dataset = load_movielens()
    sections = []
    if args.protocol in ("temporal", "both"):
        sections.append(run_protocol("temporal per-user split (notebook 06, all users)",
                                     temporal_split(dataset), grids, args.text_vectors, t0))
        print(sections[-1] + "\n", flush=True)
    if args.protocol in ("rolling", "both"):
        sections.append(run_protocol("rolling cut-offs (leak-free)", rolling_splits(dataset),
                                     grids, args.text_vectors, t0))
        print(sections[-1] + "\n", flush=True)
    seconds = time.perf_counter() - t0
    space = "MiniLM text vectors" if args.text_vectors else (
        f"'{DEFAULT_EMBEDDING}' vectors learned from each split's training events")
    footer = (f"Tuned by validation {METRIC} ({'quick' if args.quick else 'full'} grids); "
              f"diversity in {space}; intervals: 1000 bootstrap resamples of the users (pairs), "
              f"seed 0. Total {seconds / 60:.1f} min.")
    print(footer)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/tuned_baselines.py " + " ".join(sys.argv[1:])
    out.write_text(f"# Tuned baselines\n\n`{command.strip()}`\n\n" + "\n\n".join(sections)
                   + f"\n\n{footer}\n")


if __name__ == "__main__":
    main()
