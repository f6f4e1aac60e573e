"""Baselines on the leak-free rolling protocol (recsys_nb.evaluate.rolling), side by side.

Cut-offs every 6 months from 2000-01 to 2016-07; at each, every model learns from the events
before it and is scored on what users with >= 5 earlier events watched in the next 182 days.
Prints Recall@50 / NDCG@10 pooled over the (cut-off, user) pairs, and each model's paired
difference against all-time popularity.

    .venv/bin/python benchmarks/rolling_baselines.py [--ease]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from recsys_nb import load_movielens
from recsys_nb.evaluate import (
    evaluate_baseline,
    evaluate_rolling,
    paired_difference,
    rolling_splits,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ease", action="store_true",
                        help="add EASE (slow: one inverse per cut-off)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    splits = rolling_splits(load_movielens())
    models = ["popularity", "trending", "itemknn"] + (["ease"] if args.ease else [])
    results = {m: evaluate_rolling(splits, lambda s, m=m: evaluate_baseline(m, s, (10, 50)), m)
               for m in models}
    rows = []
    for name, r in results.items():
        d = paired_difference(r, results["popularity"], "recall@50")
        rows.append({"model": name, "recall@50": r["recall@50"], "ndcg@10": r["ndcg@10"],
                     "coverage@50": r["coverage@50"], "vs popularity": f"{d.mean:+.4f} "
                     f"[{d.low:+.4f}, {d.high:+.4f}]"})
    print(f"{len(splits)} cut-offs, {len(results['popularity'].users)} (cut-off, user) pairs, "
          f"{time.perf_counter() - t0:.0f} s")
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
