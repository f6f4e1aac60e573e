"""Offline evaluation: splits, ranking metrics, baselines, the product measured, comparisons.

The question every notebook claim must answer is "does it recommend what the user watched
next?". This package answers it the same way for every model:

1. :func:`temporal_split` (:mod:`.splits`) keeps each user's earliest events for training and
   holds out the most recent ones; nothing from a user's future reaches their training.
2. :mod:`.metrics`: Recall@K, NDCG@K, HitRate@K, MRR and coverage of top-N lists.
3. :func:`evaluate` (:mod:`.product`) measures the product through its public API (bulk
   ``ingest``, then ``recommend`` for every scored user); :func:`evaluate_baseline`
   (:mod:`.baselines`) scores popularity, trending, item-kNN (with shrinkage), RP3beta, EASE and
   EASE + a trending prior on the same split (scorers in :mod:`.popular`, :mod:`.neighbors`,
   :mod:`.ease`). Both return an :class:`EvaluationResult`: the metrics row, per-user metrics,
   the ranked lists. :mod:`.rolling` adds the leak-free protocol: global cut-offs, every model
   learning from the events before each (``rolling_splits``, ``evaluate_rolling``, ``pool``);
   :mod:`.new_users` its cold-start form (``new_user_split``: users first seen after a cut-off,
   replayed with their first events, measured with ``evaluate(..., online=True)``).
4. :func:`tune_baseline` (:mod:`.tuning`) chooses a baseline's parameters on
   :func:`validation_split` (:mod:`.validation`: carved from training events only) and scores
   the choice once on the test split(s).
5. :func:`paired_difference` and :func:`verdict` (:mod:`.compare`) say whether one result beats
   another on the same users beyond the noise; :func:`bootstrap_interval` and
   :func:`paired_bootstrap` (:mod:`.bootstrap`) resample users instead of assuming normality.
6. :func:`with_beyond_accuracy` (:mod:`.beyond`) adds intra-list diversity and novelty per user
   (coverage is in every row already).
7. :func:`sweep` (:mod:`.sweep`) runs :func:`evaluate` over a validated grid; for memoized runs
   sharing one item store see :mod:`recsys_nb.experiment`.

Vocabulary: ``n`` is a list's length (as in ``recommend(user, n=10)``); ``cutoffs`` are the K of
"Recall@K". This package never imports ``recommender``: the recommender is passed in.
"""

from recsys_nb.evaluate.baselines import (
    BASELINE_PARAMS,
    BASELINES,
    baseline_scorer,
    evaluate_baseline,
    evaluate_baseline_grid,
    evaluate_baselines,
    recommend_baseline,
)
from recsys_nb.evaluate.beyond import (
    diversity_per_user,
    intra_list_diversity,
    novelty,
    novelty_per_user,
    pooled_beyond_accuracy,
    with_beyond_accuracy,
)
from recsys_nb.evaluate.bootstrap import (
    Interval,
    bootstrap_interval,
    bootstrap_means,
    paired_bootstrap,
)
from recsys_nb.evaluate.compare import (
    CLAIM_WORDS,
    NOT_MEASURED,
    Difference,
    paired_difference,
    paired_values,
    per_user_values,
    verdict,
    verdict_table,
)
from recsys_nb.evaluate.ease import (
    DEFAULT_EASE_LAMBDA,
    EaseFactor,
    ease_factor,
    ease_scorer,
    ease_trending_scorer,
)
from recsys_nb.evaluate.interactions import Interactions, Scorer, interaction_matrix
from recsys_nb.evaluate.metrics import (
    DEFAULT_CUTOFFS,
    check_cutoffs,
    coverage,
    hit_matrix,
    per_user_metrics,
    ranking_metrics,
)
from recsys_nb.evaluate.neighbors import DEFAULT_KNN_NEIGHBORS, itemknn_scorer, rp3beta_scorer
from recsys_nb.evaluate.new_users import DEFAULT_NEW_USER_EVENTS, new_user_split
from recsys_nb.evaluate.popular import (
    DEFAULT_TRENDING_DAYS,
    popularity_scorer,
    recent_counts,
    trending_prior,
    trending_scorer,
)
from recsys_nb.evaluate.product import (
    Evaluable,
    ExactEvaluable,
    MergedExactEvaluable,
    RecommenderFactory,
    ann_overlap,
    evaluate,
    evaluate_variants,
)
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.rolling import (
    cutoff_dates,
    cutoff_split,
    evaluate_rolling,
    later_training_share,
    pool,
    rolling_splits,
)
from recsys_nb.evaluate.splits import RELEVANCE, Split, temporal_split
from recsys_nb.evaluate.sweep import SWEEP_SPACE, sweep, validate_grid
from recsys_nb.evaluate.tuning import TunedBaseline, grid_points, tune_baseline
from recsys_nb.evaluate.validation import NoValidationUsers, validation_split

__all__ = [
    "evaluate_variants",
    "DEFAULT_NEW_USER_EVENTS",
    "new_user_split",
    "BASELINES", "CLAIM_WORDS", "DEFAULT_CUTOFFS", "DEFAULT_EASE_LAMBDA", "DEFAULT_KNN_NEIGHBORS",
    "DEFAULT_TRENDING_DAYS", "cutoff_dates", "cutoff_split", "evaluate_rolling",
    "later_training_share", "pool",
    "rolling_splits", "trending_scorer", "BASELINE_PARAMS", "baseline_scorer", "EaseFactor",
    "ease_factor", "ease_trending_scorer", "evaluate_baseline_grid", "NoValidationUsers",
    "TunedBaseline", "grid_points", "tune_baseline", "validation_split", "rp3beta_scorer",
    "recent_counts", "trending_prior", "Interval", "bootstrap_interval", "bootstrap_means",
    "paired_bootstrap", "paired_values", "per_user_values", "diversity_per_user",
    "intra_list_diversity", "novelty", "novelty_per_user", "pooled_beyond_accuracy",
    "with_beyond_accuracy",
    "NOT_MEASURED", "RELEVANCE", "SWEEP_SPACE", "Difference", "Evaluable", "EvaluationResult",
    "ExactEvaluable", "Interactions", "MergedExactEvaluable", "RecommenderFactory", "Scorer",
    "Split", "ann_overlap",
    "check_cutoffs", "coverage", "ease_scorer", "evaluate", "evaluate_baseline",
    "evaluate_baselines", "hit_matrix", "interaction_matrix", "itemknn_scorer",
    "paired_difference", "per_user_metrics", "popularity_scorer", "ranking_metrics",
    "recommend_baseline", "sweep", "temporal_split", "validate_grid", "verdict", "verdict_table",
]
