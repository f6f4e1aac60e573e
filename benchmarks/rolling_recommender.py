"""The Recommender on both protocols, through its public API: choose on validation, confirm on test.

1. Validation: the rolling cut-offs moved back by their horizon (``validation_split``: nothing
   from a test window). Each candidate configuration (the popularity prior and its weight) is
   measured with ``RollingExperiment`` -- item vectors, prior and profiles learned from the
   events before each cut-off, Chroma's search included -- and the best Recall@50 is chosen.
2. Test: the chosen configuration, the previous default and the baselines on the test cut-offs,
   with paired differences against the best baseline.
3. The per-user temporal split of notebook 06: the same configurations and baselines.

    .venv/bin/python benchmarks/rolling_recommender.py

Writes the tables to build/rolling_recommender.md too.
"""

from __future__ import annotations

import time

import pandas as pd
from tables import MarkdownLog

from recsys_nb import load_movielens
from recsys_nb.evaluate import (
    EvaluationResult,
    paired_difference,
    rolling_splits,
    temporal_split,
    validation_split,
)
from recsys_nb.experiment import Experiment
from recsys_nb.rolling_experiment import RollingExperiment

CANDIDATES = {
    "all-time prior, weight 0.65 (the previous default)": {"prior": "popularity",
                                                      "popularity_weight": 0.65},
    "all-time prior, weight 0.3": {"prior": "popularity", "popularity_weight": 0.3},
    **{f"trending prior, weight {w:g}": {"prior": "trending", "popularity_weight": w}
       for w in (1.0, 1.5, 2.0, 3.0)},
}
BASELINES = ("popularity", "trending", "itemknn", "ease", "ease_trending")
CUTOFFS = (10, 50)


def row(r: EvaluationResult, against: EvaluationResult | None = None) -> dict:
    out = {"model": r.label, "recall@50": r["recall@50"], "ndcg@10": r["ndcg@10"],
           "coverage@50": r["coverage@50"]}
    if against is not None and against is not r:
        for m in ("recall@50", "ndcg@10"):
            d = paired_difference(r, against, m)
            out[f"{m} vs {against.label}"] = f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"
    return out


def main() -> None:
    t0 = time.perf_counter()
    dataset = load_movielens()
    tests = rolling_splits(dataset)
    log = MarkdownLog("rolling_recommender")
    show = log.show

    with RollingExperiment([validation_split(s) for s in tests], CUTOFFS) as val:
        chosen = {name: val.measure(name, **params) for name, params in CANDIDATES.items()}
    best = max(chosen, key=lambda n: chosen[n]["recall@50"])
    show(f"Validation: {len(tests)} cut-offs moved back by the horizon "
         f"({time.perf_counter() - t0:.0f} s); chosen: {best}",
         pd.DataFrame([row(r) for r in chosen.values()]))

    keep = dict.fromkeys([best, next(iter(CANDIDATES))])

    def compare(experiment: Experiment | RollingExperiment, title: str) -> None:
        """The kept configurations and every baseline, paired against the strongest baseline."""
        base = {b: experiment.baseline(b) for b in BASELINES}
        top = max(base.values(), key=lambda r: r["recall@50"])
        runs = [experiment.measure(name, **CANDIDATES[name]) for name in keep]
        show(f"{title}, {len(runs[0].users)} scored ({time.perf_counter() - t0:.0f} s)",
             pd.DataFrame([row(r, top) for r in [*runs, *base.values()]]))

    with RollingExperiment(tests, CUTOFFS) as test:
        compare(test, f"Test: rolling protocol, {len(tests)} cut-offs, (cut-off, user) pairs")
    with Experiment(temporal_split(dataset), CUTOFFS) as exp:
        compare(exp, "Per-user temporal split (notebook 06), users")
    log.write()


if __name__ == "__main__":
    main()
