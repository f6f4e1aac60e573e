"""Several interests per user against one: accuracy, diversity, paired differences.

The protocol of notebook 06 (``recsys_nb.lessons.tuning``): MovieLens, the temporal per-user
80/20 split (``temporal_protocol``), a random sample of scored users, the package default
(blend item vectors + popularity prior) measured through ``recsys_nb.experiment.Experiment``
(bulk ``ingest``, ``recommend``, seen items excluded). Each multi-interest configuration
(``interests`` = k, each merge strategy, ``diversity`` at its default) is compared with k = 1 on
the same users: the paired per-user difference with its 95 % interval
(``recsys_nb.evaluate.paired_difference``).

    .venv/bin/python benchmarks/multi_interest.py               # 200 users (~3 min, 2 cores)
    .venv/bin/python benchmarks/multi_interest.py --users 0     # every evaluated user
    .venv/bin/python benchmarks/multi_interest.py --ks 1 3 --merges score --diversity 0 1
    .venv/bin/python benchmarks/multi_interest.py --ks 1 3 --threshold 0.11
    .venv/bin/python benchmarks/multi_interest.py --cosines     # what chose interest_threshold
    .venv/bin/python benchmarks/multi_interest.py --rolling     # leak-free: 34 global cut-offs

Prints a markdown table (how many users got several interests, recall@50, ndcg@10,
coverage@50, the differences to k = 1 with their verdicts, seconds per measurement) and the
runtime. The measuring is notebook 10's (``recsys_nb.lessons.multiple_interests``:
``measure_grid``, ``interest_counts``, ``grid_table``): the benchmark and the notebook call the
same functions.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from recsys_nb import vectors
from recsys_nb.data import load_movielens
from recsys_nb.evaluate import rolling_splits
from recsys_nb.experiment import Experiment
from recsys_nb.interests import DEFAULT_DIVERSITY, DEFAULT_THRESHOLD, MERGES
from recsys_nb.kinds import EVENT_KINDS, operations
from recsys_nb.lessons import multiple_interests as mx
from recsys_nb.lessons.tuning import TuningConfig, temporal_protocol
from recsys_nb.recommender import DEFAULT_PARAMS, Recommender
from recsys_nb.rolling_experiment import RollingExperiment

METRICS = ("recall@50", "ndcg@10", "coverage@50")
PAIRED = ("recall@50", "ndcg@10")
TOLERANCE = 0.005


def event_cosines() -> None:
    """Print the percentiles behind ``interests.DEFAULT_THRESHOLD``: the cosine between each
    positive event's item and the user's single interest vector just before it (all MovieLens
    events, the default embedding and alphas), and between random item pairs."""
    ds = load_movielens()
    with tempfile.TemporaryDirectory(prefix="multi_interest_") as folder, \
            Recommender.from_dataset(ds, folder, progress=False) as rec:
        matrix = rec.item_matrix().astype(np.float64)
        row = {int(i): r for r, i in enumerate(rec.item_ids)}
    events = ds.events[ds.events["item_id"].isin(row)].sort_values("timestamp", kind="stable")
    cosines = []
    for _, history in events.groupby("user_id", sort=False):
        rows = history["item_id"].map(row).to_numpy()
        kinds = history["kind"].to_numpy()
        ops = operations(kinds)
        params = [DEFAULT_PARAMS[EVENT_KINDS[k].parameter] for k in kinds]
        trail = vectors.trajectory(matrix[rows], list(ops), params).astype(np.float64)
        for k in range(1, len(rows)):
            if ops[k] == "ema" and not np.isnan(trail[k - 1, 0]):
                cosines.append(float(trail[k - 1] @ matrix[rows[k]]))
    levels = [1, 5, 10, 25, 50, 90]
    found = np.percentile(cosines, levels)
    print(f"{len(cosines)} positive events, cosine to the interest before them:",
          ", ".join(f"{p} %: {v:.2f}" for p, v in zip(levels, found, strict=True)))
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(matrix), (2, 20000))
    pairs = np.percentile(np.einsum("ij,ij->i", matrix[a], matrix[b]), [50, 90, 95])
    print("random item pairs: 50 %: {:.2f}, 90 %: {:.2f}, 95 %: {:.2f}".format(*pairs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200,
                        help="scored users, a random sample (0 = all evaluated users)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 5])
    parser.add_argument("--merges", nargs="+", default=list(MERGES), choices=MERGES)
    parser.add_argument("--diversity", type=float, nargs="+", default=[DEFAULT_DIVERSITY])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="interest_threshold of every k > 1 configuration")
    parser.add_argument("--rolling", action="store_true",
                        help="the leak-free protocol instead: every (cut-off, user) pair of "
                        "rolling_splits (every 6 months, 2000-2016)")
    parser.add_argument("--cosines", action="store_true",
                        help="only print the event-to-interest cosines behind the threshold")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.cosines:
        event_cosines()
        print(f"\nruntime {time.perf_counter() - t0:.0f} s")
        return
    if args.rolling:
        protocol = "rolling global cut-offs (every 6 months, 2000-2016), (cut-off, user) pairs"
        experiment = RollingExperiment(rolling_splits(load_movielens()), (10, 50))
    else:
        config = TuningConfig.from_parameters(N_USERS=args.users or None, SEED=args.seed)
        _, scored = temporal_protocol(config, load_movielens())
        protocol = (f"temporal per-user split (test fraction {config.test_fraction}), users "
                    f"(seed {args.seed})")
        experiment = Experiment(scored, (10, 50))
    with experiment as exp:
        grid = mx.measure_grid(exp, args.ks, args.merges, args.diversity, args.threshold)
        counts = mx.interest_counts(exp, args.ks, args.threshold)
    table = mx.grid_table(grid, counts, METRICS, PAIRED, TOLERANCE)
    print(f"MovieLens, {protocol}: {len(grid.one.users)} scored, default embedding and prior; "
          f"interest_threshold={args.threshold:g}; Δ = paired mean difference [95 % interval], "
          f"verdict on '{mx.CLAIM}' (tolerance {TOLERANCE})\n")
    print(mx.markdown(mx.shown(table, METRICS, PAIRED)))
    print(f"\nruntime {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
