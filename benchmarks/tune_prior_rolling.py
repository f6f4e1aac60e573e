"""Choose the trending prior's settings fast, on the leak-free rolling protocol (numpy, no Chroma).

What the Recommender computes, replicated exactly but with an exact search: at each cut-off,
"blend" item vectors learned from the events before it (the package's ``embed_items``), each
scored user's interest vector replayed from their earlier events (``replay.replay_batch``, the
code ``ingest`` runs), the prior of ``recsys_nb.priors`` (``TrendingCounts`` / the all-time log
prior) counted from the same events, and the ranking ``cosine + weight * prior`` with seen items
excluded. Seconds per configuration instead of minutes, so a grid fits.

Validation (the default): every cut-off moved back by the horizon, so the choice never sees the
test windows. ``--test`` scores the same grid on the test cut-offs (to report, not to choose).
The product itself is measured by ``benchmarks/rolling_recommender.py``.

    .venv/bin/python benchmarks/tune_prior_rolling.py [--test]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd

from recsys_nb import load_movielens
from recsys_nb.embeddings import embed_items
from recsys_nb.evaluate import EvaluationResult, Split, pool, rolling_splits, validation_split
from recsys_nb.kinds import operations
from recsys_nb.priors import TrendingCounts, popularity_prior
from recsys_nb.recommender import DEFAULT_DIMS, DEFAULT_PARAMS, DEFAULT_SEED, item_counts
from recsys_nb.replay import replay_batch
from recsys_nb.store import embedding_cache_path
from recsys_nb.topn import top_n

HALF_LIVES = (500.0, 1000.0, 2000.0)
POWERS = (0.3, 0.5, 0.7)
WEIGHTS = (0.65, 1.0, 1.5, 2.0, 3.0)
PARAM = {"view": DEFAULT_PARAMS["alpha_view"], "favorite": DEFAULT_PARAMS["alpha_favorite"],
         "not_interested": DEFAULT_PARAMS["not_interested_factor"]}


def priors(split: Split, item_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Every prior of the grid at this cut-off, counted from its training events."""
    train = split.train
    out = {"all-time log": popularity_prior(item_counts(train)).reindex(item_ids)
           .fillna(0.0).to_numpy()}
    positive = train[train["kind"] != "not_interested"].sort_values("timestamp", kind="stable")
    rows = pd.Index(item_ids).get_indexer(positive["item_id"])
    for h, p in itertools.product(HALF_LIVES, POWERS):
        t = TrendingCounts(len(item_ids), h, power=p)
        t.add(rows)
        out[f"trending h={h:g} p={p:g}"] = t.values()
    return out


def measure(splits: list[Split]) -> pd.DataFrame:
    results: dict[tuple[str, float], list[EvaluationResult]] = {}
    for split in splits:
        vecs = embed_items(split.items, split.train, "blend", dim=DEFAULT_DIMS["blend"],
                           seed=DEFAULT_SEED, cache_path=embedding_cache_path(), progress=False)
        ids = np.asarray(vecs.item_ids)
        col = pd.Index(ids)
        users, relevant = split.relevant()
        ev = split.train[split.train["user_id"].isin(users)].sort_values("timestamp",
                                                                         kind="stable")
        replayed = replay_batch(
            ev["user_id"].to_numpy(), col.get_indexer(ev["item_id"]),
            operations(ev["kind"].to_numpy()), ev["kind"].map(PARAM).to_numpy(float),
            item_matrix=vecs.vectors, on_overshoot="skip", cold_subtract="ignore").as_dict()
        cosine = np.stack([replayed[u] for u in users]).astype(np.float64) @ vecs.vectors.T
        seen = [col.get_indexer(s) for s in split.seen(users)]
        for name, prior in priors(split, ids).items():
            for w in WEIGHTS:
                ranked = top_n(cosine + w * prior, 50, seen, ids)[0]
                results.setdefault((name, w), []).append(
                    EvaluationResult.score(name, users, ranked, relevant, (10, 50), len(ids)))
    rows = [{"prior": name, "weight": w, "recall@50": r["recall@50"], "ndcg@10": r["ndcg@10"]}
            for (name, w), rs in results.items() for r in [pool(rs, splits)]]
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="store_true", help="score the test cut-offs instead")
    args = parser.parse_args()
    t0 = time.perf_counter()
    splits = rolling_splits(load_movielens())
    if not args.test:
        splits = [validation_split(s) for s in splits]
    table = measure(splits)
    print(f"{'test' if args.test else 'validation'}: {len(splits)} cut-offs, "
          f"{time.perf_counter() - t0:.0f} s")
    for metric in ("recall@50", "ndcg@10"):
        print(f"\n{metric}\n" + table.pivot(index="prior", columns="weight", values=metric)
              .round(4).to_string())
    top = table.sort_values("recall@50", ascending=False, kind="stable").iloc[0]
    print(f"\nbest by recall@50: {top['prior']}, weight {top['weight']:g}: "
          f"{top['recall@50']:.4f} / ndcg@10 {top['ndcg@10']:.4f}")


if __name__ == "__main__":
    main()
