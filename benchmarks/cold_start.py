"""Cold-start strategies on new users, leak-free: choose on validation, confirm on test.

New users are those first seen in the horizon after a global cut-off; each is replayed with
their first 1, 3 or 5 events (online: the recommender has seen only earlier events when their
list is asked for) and scored on what they did next (``recsys_nb.evaluate.new_user_split``).
Item vectors, the trending prior and the user segments are learned before each cut-off.

1. Validation (the cut-offs moved back by their horizon): the segment strategy's number of
   segments and weight, at 1 and 3 events; the best mean Recall@50 is chosen.
2. Test: first item (the technique), segment (chosen), popular and trending at 1 / 3 / 5 events,
   each paired against first item.

    .venv/bin/python benchmarks/cold_start.py [--months 6]

Writes the tables to build/cold_start.md too.
"""

from __future__ import annotations

import argparse
import itertools
import time

import pandas as pd
from tables import MarkdownLog

from recsys_nb import load_movielens
from recsys_nb.evaluate import EvaluationResult, paired_difference, rolling_splits, validation_split
from recsys_nb.rolling_experiment import RollingExperiment

KS = (4, 8, 16)
WEIGHTS = (0.25, 0.5, 0.75, 1.0)
EVENTS = (1, 3, 5)
CUTOFFS = (10, 50)


def strategies(k: int, weight: float) -> dict[str, dict]:
    return {"first item": {},
            f"segment (k={k}, weight {weight:g})": {"cold_start": "segment", "segments": k,
                                                    "segment_weight": weight},
            "popular": {"cold_start": "popular"},
            "trending": {"cold_start": "trending"}}


def row(r: EvaluationResult, against: EvaluationResult) -> dict:
    out = {"strategy": r.label, "recall@50": r["recall@50"], "ndcg@10": r["ndcg@10"],
           "coverage@50": r["coverage@50"], "pairs": len(r.users)}
    if r is not against:
        for m in ("recall@50", "ndcg@10"):
            d = paired_difference(r, against, m)
            out[f"{m} vs first item"] = f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=6, help="months between cut-offs")
    args = parser.parse_args()
    t0 = time.perf_counter()
    dataset = load_movielens()
    tests = rolling_splits(dataset, months=args.months, horizon_days=args.months * 30.5)
    log = MarkdownLog("cold_start")
    show = log.show

    with RollingExperiment([validation_split(s) for s in tests], CUTOFFS) as val:
        grid = []
        for k, w in itertools.product(KS, WEIGHTS):
            got = [val.measure(f"k={k}, w={w}", new_users=n, beyond=False, cold_start="segment",
                               segments=k, segment_weight=w) for n in (1, 3)]
            grid.append({"k": k, "weight": w, **{f"recall@50 at {n}": r["recall@50"]
                                                  for n, r in zip((1, 3), got, strict=True)},
                         "mean": sum(r["recall@50"] for r in got) / 2})
        first = [val.measure("first item", new_users=n, beyond=False)["recall@50"]
                 for n in (1, 3)]
    table = pd.DataFrame(grid)
    best = table.loc[table["mean"].idxmax()]
    show(f"Validation: {len(tests)} cut-offs moved back by the horizon, first item "
         f"{first[0]:.4f} / {first[1]:.4f} at 1 / 3 events ({time.perf_counter() - t0:.0f} s); "
         f"chosen k={int(best['k'])}, weight {best['weight']:g}", table)

    with RollingExperiment(tests, CUTOFFS) as rx:
        for n in EVENTS:
            runs = {name: rx.measure(name, new_users=n, **params) for name, params in
                    strategies(int(best["k"]), float(best["weight"])).items()}
            base = runs["first item"]
            show(f"Test, first {n} event(s): {len(base.users)} (cut-off, new user) pairs "
                 f"({time.perf_counter() - t0:.0f} s)",
                 pd.DataFrame([row(r, base) for r in runs.values()]))
    out = log.write()
    print(f"written to {out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
