"""Notebook 06, section 8: every model measured on both protocols, side by side.

The per-user temporal split holds out each user's latest events but trains on everybody else's,
later ones included (:func:`~recsys_nb.evaluate.later_training_share`): item vectors, the
popularity prior and the baselines learn from the future of the events they predict. The rolling
protocol (:func:`~recsys_nb.evaluate.rolling_splits`) cuts the data at global dates instead, so
nothing any model learns is later than what it predicts. This module measures the same models on
both (the per-user side in the report's :class:`~recsys_nb.experiment.Experiment`, the leak-free
side in a :class:`~recsys_nb.rolling_experiment.RollingExperiment`), tabulates them, and states
the claims only the leak-free protocol can settle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from recsys_nb.data import Dataset
from recsys_nb.evaluate import EvaluationResult, rolling_splits
from recsys_nb.experiment import Experiment
from recsys_nb.recommender import DEFAULT_PARAMS, PRIOR_DEFAULTS
from recsys_nb.rolling_experiment import RollingExperiment

#: The two popularity priors compared (``recsys_nb.priors``), at the weights measured for each.
PRIOR_CONFIGS = {
    "all-time prior": {"prior": "popularity", "popularity_weight": 0.65},
    "trending prior": {"prior": "trending", "popularity_weight": 2.0},
}
#: The pair a cell of the table is about: (per-user split, rolling cut-offs).
Pair = tuple[EvaluationResult, EvaluationResult]


def default_prior() -> str:
    """Which entry of :data:`PRIOR_CONFIGS` the package default is (by its prior)."""
    return f"{PRIOR_DEFAULTS['prior'].replace('popularity', 'all-time')} prior"


def open_rolling(dataset: Dataset, months: int, cutoffs: Sequence[int], *,
                 start: str = "2000-01-01", progress: bool = False) -> RollingExperiment:
    """The leak-free protocol: a global cut-off every ``months`` months from ``start`` to
    mid-2016."""
    return RollingExperiment(rolling_splits(dataset, start=start, months=months), cutoffs,
                             progress=progress)


def measure_protocols(exp: Experiment, rolling: RollingExperiment,
                      baselines: Sequence[str]) -> dict[str, Pair]:
    """Each baseline, and the Recommender with each prior (one of them is the package default),
    on both protocols: label -> (per-user result, rolling result), with diversity and novelty."""
    pairs: dict[str, Pair] = {}
    for name in baselines:
        pairs[name] = (exp.beyond_accuracy(exp.baseline(name)), rolling.baseline(name))
    for label, params in PRIOR_CONFIGS.items():
        is_default = params["popularity_weight"] == DEFAULT_PARAMS["popularity_weight"] and \
            params["prior"] == PRIOR_DEFAULTS["prior"]
        name = f"recommender, {label}" + (" (the default)" if is_default else "")
        pairs[name] = (exp.beyond_accuracy(exp.measure(name, **params)),
                       rolling.measure(name, **params))
    return pairs


def protocol_table(pairs: Mapping[str, Pair], kmin: int, kmax: int) -> pd.DataFrame:
    """One row per model: recall@kmax and ndcg@kmin on each protocol, each protocol's rank by
    recall, and the leak-free lists' coverage, diversity and novelty."""
    rows = []
    for name, (per_user, rolling) in pairs.items():
        rows.append({
            "model": name,
            f"per-user recall@{kmax}": per_user[f"recall@{kmax}"],
            f"per-user ndcg@{kmin}": per_user[f"ndcg@{kmin}"],
            f"rolling recall@{kmax}": rolling[f"recall@{kmax}"],
            f"rolling ndcg@{kmin}": rolling[f"ndcg@{kmin}"],
            f"coverage@{kmax}": rolling[f"coverage@{kmax}"],
            f"diversity@{kmin}": rolling[f"diversity@{kmin}"],
            f"novelty@{kmin}": rolling[f"novelty@{kmin}"],
        })
    table = pd.DataFrame(rows)
    for side in ("per-user", "rolling"):
        table[f"{side} rank"] = table[f"{side} recall@{kmax}"].rank(
            ascending=False, method="min").astype(int)
    return table


def protocol_claims(pairs: Mapping[str, Pair], baselines: Sequence[str]) -> list[tuple]:
    """Claims in the form of :func:`recsys_nb.lessons.tuning.claims`: ``(key, claim, its side,
    the other side, why a side may be missing)``, on the protocol each names."""
    trending = next(v for k, v in pairs.items() if "trending prior" in k)
    all_time = next(v for k, v in pairs.items() if "all-time prior" in k)
    default = next(v for k, v in pairs.items() if k.endswith("(the default)"))
    metric = next(m for m in default[1].row if m.startswith("recall@") and
                  int(m.split("@")[1]) == max(default[1].cutoffs))
    best_rolling = max(baselines, key=lambda b: pairs[b][1][metric])
    best_per_user = max(baselines, key=lambda b: pairs[b][0][metric])
    return [
        ("trending_vs_all_time_rolling", "leak-free: a trending prior beats the all-time prior",
         trending[1], all_time[1], ""),
        ("trending_vs_all_time_per_user", "per-user split: a trending prior beats the all-time "
         "prior", trending[0], all_time[0], ""),
        ("default_vs_best_baseline_rolling", "leak-free: the package default beats the "
         f"strongest baseline ({best_rolling})", default[1], pairs[best_rolling][1], ""),
        ("default_vs_best_baseline_per_user", "per-user split: the package default beats the "
         f"strongest baseline ({best_per_user})", default[0], pairs[best_per_user][0], ""),
    ]
