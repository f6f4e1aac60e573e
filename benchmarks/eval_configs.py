"""Measure baselines and Recommender configurations on the full bundled MovieLens.

Temporal per-user 80/20 split (``recsys_nb.evaluate.temporal_split``), seen (training) items
excluded, metrics averaged over all evaluated users. The Recommender is measured through its
public API (``from_dataset`` / the constructor, bulk ``ingest``, ``recommend``), so the numbers
are the product's.

    .venv/bin/python benchmarks/eval_configs.py                 # everything (~10 min, 2 cores)
    .venv/bin/python benchmarks/eval_configs.py --quick         # baselines w/o EASE + 2 configs
    .venv/bin/python benchmarks/eval_configs.py --ablation      # the default, one part changed
    .venv/bin/python benchmarks/eval_configs.py --out eval.csv  # also write the table

Prints one row per model: recall/ndcg/hitrate@10/@50, mrr, coverage, and the time spent building
the store, ingesting and recommending (ms per user).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_nb.data import Dataset, load_movielens
from recsys_nb.embeddings import ItemVectors, embed_items
from recsys_nb.evaluate import BASELINES, Split, evaluate, evaluate_baselines, temporal_split
from recsys_nb.recommender import DEFAULT_PARAMS, Recommender, item_counts
from recsys_nb.store import StoreMismatchError, data_dir

COLUMNS = ["model", "embedding", "dim", "alpha_view", "alpha_favorite",
           "not_interested_factor", "popularity_weight", "recall@10", "recall@50", "ndcg@10",
           "ndcg@50", "hitrate@10", "hitrate@50", "mrr", "coverage@50", "users", "build_s",
           "ingest_s", "recommend_s", "ms_per_user", "seconds", "note"]


def factory(embedding: str, dim: int | None = None, drop_text_model: bool = False,
            **params: Any):
    """A ``(train_dataset, path) -> Recommender`` factory for one configuration.

    ``dim=None`` goes through ``Recommender.from_dataset`` (the product path); an explicit
    ``dim`` embeds with ``embed_items(..., dim=dim)`` and uses the public constructor, because
    ``from_dataset`` does not take a dimension. ``drop_text_model`` builds the same item vectors
    without their text-query model (free-text search off; recommendations are unaffected): the
    workaround when the store refuses a hybrid space's query model (StoreMismatchError).
    """
    cache = data_dir() / "cache" / "embeddings.sqlite"

    def make(ds: Dataset, path: Path) -> Recommender:
        if dim is None and not drop_text_model:
            return Recommender.from_dataset(ds, path, embedding=embedding, cache_path=cache,
                                            progress=False, **params)
        vecs = embed_items(ds.items, ds.events, embedding, cache_path=cache,
                           dim=dim if dim else 64, progress=False)
        if drop_text_model:
            vecs = ItemVectors(vecs.model_id, vecs.item_ids, vecs.vectors, None)
        return Recommender(ds.items, vecs, path, item_counts(ds.events), **params)

    return make


def measure(split: Split, relevance: str, embedding: str, dim: int | None,
            **params: Any) -> dict[str, Any]:
    """One configuration's metrics row; a failing configuration becomes a row with its error."""
    t = time.perf_counter()
    label = f"recommender/{embedding}"
    note = ""
    try:
        try:
            row = evaluate(factory(embedding, dim, **params), split, relevance=relevance,
                           name=label).row
        except StoreMismatchError as exc:
            note = f"text model dropped ({exc.__class__.__name__} via from_dataset)"
            print(f"{label}: {exc}; retrying without the text-query model", file=sys.stderr)
            row = evaluate(factory(embedding, dim, drop_text_model=True, **params), split,
                           relevance=relevance, name=label).row
    except Exception as exc:  # a benchmark reports every configuration, failed ones too
        row, note = {"model": label}, f"ERROR {exc.__class__.__name__}: {exc}"
    row.update(embedding=embedding, dim=dim if dim else "default", **params,
               seconds=round(time.perf_counter() - t, 1), note=note)
    return row


ABLATION: list[dict[str, Any]] = [  # through from_dataset: the default, one part changed
    {"embedding": "default"},
    {"embedding": "default", "popularity_weight": 0.0},
    {"embedding": "default", "not_interested_factor": 0.0},
    {"embedding": "default", "alpha_view": 0.3, "alpha_favorite": 0.5,
     "not_interested_factor": 0.3},
    {"embedding": "collaborative"},
    {"embedding": "minilm"},
    {"embedding": "minilm", "popularity_weight": 0.0},
]


def configs(quick: bool, ablation: bool = False) -> list[dict[str, Any]]:
    """The Recommender configurations to measure."""
    if ablation:
        return [{"alpha_view": DEFAULT_PARAMS["alpha_view"], **c} for c in ABLATION]
    av = DEFAULT_PARAMS["alpha_view"]
    if quick:  # the package default (from_dataset) and plain SVD vectors without the prior
        return [{"embedding": "default", "alpha_view": av},
                {"embedding": "collaborative", "alpha_view": av, "popularity_weight": 0.0}]
    out: list[dict[str, Any]] = [
        {"embedding": "default", "alpha_view": av},
        {"embedding": "blend", "alpha_view": av, "popularity_weight": 0.0},
        {"embedding": "collaborative", "alpha_view": av},
        {"embedding": "collaborative", "alpha_view": av, "popularity_weight": 0.0},
    ]
    for alpha in (0.1, 0.3, 0.5):
        out.append({"embedding": "minilm", "alpha_view": alpha})
        for dim in (32, 64, 128):
            out.append({"embedding": "collaborative", "dim": dim, "alpha_view": alpha})
        out.append({"embedding": "hybrid", "alpha_view": alpha})
    return out


def run(split: Split, quick: bool, relevance: str, ablation: bool = False) -> pd.DataFrame:
    """Baselines, then every Recommender configuration; one tidy table."""
    models = [m for m in BASELINES if not (quick and m == "ease")]
    t0 = time.perf_counter()
    base = pd.DataFrame([r.row for r in evaluate_baselines(split, models=models,
                                                           relevance=relevance).values()])
    print(f"baselines in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows = []
    for cfg in configs(quick, ablation):
        cfg = dict(cfg)
        row = measure(split, relevance, cfg.pop("embedding"), cfg.pop("dim", None), **cfg)
        rows.append(row)
        print(f"{row['model']} dim={row['dim']} alpha_view={cfg['alpha_view']}: "
              f"recall@50={row.get('recall@50', float('nan')):.4f} "
              f"ndcg@10={row.get('ndcg@10', float('nan')):.4f} ({row['seconds']} s, "
              f"{row.get('ms_per_user')} ms/user) {row['note']}", file=sys.stderr)
    table = pd.concat([base, pd.DataFrame(rows)], ignore_index=True)
    table = table[[c for c in COLUMNS if c in table.columns]]
    # baselines have no embedding / store timings (and failed configurations no metrics):
    # show "-" rather than NaN
    filler = [c for c in table.columns if c != "model" and table[c].isna().any()]
    return table.astype({c: object for c in filler}).fillna({c: "-" for c in filler})


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print (and optionally save) the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="baselines w/o EASE + 2 configs")
    ap.add_argument("--ablation", action="store_true",
                    help="the default with one part changed at a time (prior, factor, ...)")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--min-events", type=int, default=5)
    ap.add_argument("--relevance", default="positive", choices=["positive", "all"])
    ap.add_argument("--out", type=Path, help="write the table as CSV")
    args = ap.parse_args(argv)
    ds = load_movielens()
    split = temporal_split(ds, test_fraction=args.test_fraction, min_events=args.min_events)
    print(split, file=sys.stderr)
    table = run(split, args.quick, args.relevance, args.ablation)
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
