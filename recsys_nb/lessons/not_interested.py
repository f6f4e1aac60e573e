"""Notebook 04 (not interested = vector subtraction, step 5 of the technique): its machinery.

The notebook keeps the formulas and the small teaching code; this module holds what it would
otherwise carry in long cells:

- :func:`check_parameters`: the notebook's parameters as one :class:`Config`, every problem
  named in one ``ValueError`` at the parameters cell;
- :func:`open_service`: a service trained on the past (``temporal_split``), a sample of users,
  their training events ingested (section 1);
- the subtraction in numbers: :func:`kept_of_top`, :func:`identity_errors`,
  :func:`subtraction_curve`, :func:`safety_table` (sections 2-3.2);
- :func:`rejection_cosines`: the real rejections replayed by hand (section 3.3);
- :func:`compare_strategies` and :func:`factor_sweep`: EMA + subtraction against Qdrant's
  ``average_vector`` and friends, ranked exactly (``recsys_nb.topn.top_n``) the way the service
  ranks, scored as :class:`~recsys_nb.evaluate.EvaluationResult` on the held-out events
  (section 4); :func:`summary` words the run's findings from its numbers.

The scoring core (:class:`Catalogue`, :func:`replay_interests`, :func:`average_vectors`,
:func:`negative_sets`, :func:`neg_hit`, :func:`overlap`, :func:`score_strategies`) takes plain
arrays and frames, so it is unit-tested on small synthetic data without a store.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import vectors
from recsys_nb.data import Dataset, load_movielens
from recsys_nb.evaluate import (
    Difference,
    EvaluationResult,
    Split,
    paired_difference,
    temporal_split,
    verdict,
)
from recsys_nb.experiment import Experiment
from recsys_nb.parameters import (
    FOLDER,
    check_lists,
    check_values,
    integer,
    number,
    optional,
    raise_problems,
)
from recsys_nb.recommender import IngestReport, Recommender
from recsys_nb.replay import replay_batch
from recsys_nb.store import notebook_store, reset_store
from recsys_nb.topn import top_n

#: The four query vectors compared in section 4, in table order; the first is the service's.
STRATEGIES = ("ema+subtract", "ema_only", "average_vector", "mean_positive")
#: The service's own (approximate, HNSW) lists: the same vectors as "ema+subtract".
SERVICE_HNSW = "ema+subtract (service, HNSW)"
#: Factors of the one-user table (section 2) and of the sweep (section 4.1); FACTOR is added.
EXAMPLE_FACTORS = (0.0, 0.1, 0.3, 0.5, 1.0, 1.5, 2.0)
SWEEP_FACTORS = (0.0, 0.1, 0.3, 0.5, 1.0, 2.0)
#: The widget's slider ends here, so FACTOR must not be larger.
MAX_FACTOR = 1.5
#: The verdict's words: (ema+subtract wins, average_vector wins, neither).
VERDICT_WORDS = ("ema+subtract recalls more", "average_vector recalls more",
                 "no significant difference in recall")
NOTEBOOK = "04_not_interested"

# ---------------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class Config:
    """The notebook's parameters, checked (build it with :func:`check_parameters`).

    Attributes mirror the parameters: ``n_users`` (None = every user with held-out positives),
    ``min_events``, ``test_fraction``, ``seed``, ``user`` (None = the first sampled user),
    ``factor``, ``top_n``, ``cutoffs`` (sorted K), ``tolerance``, ``store_dir``.
    """

    n_users: int | None
    min_events: int
    test_fraction: float
    seed: int
    user: int | None
    factor: float
    top_n: int
    cutoffs: tuple[int, ...]
    tolerance: float
    store_dir: Path | None

    @property
    def k(self) -> int:
        """The largest cut-off: the K of the comparison's Recall@K, HitRate@K, neg_hit@K."""
        return max(self.cutoffs)

    @property
    def store_path(self) -> Path:
        """``store_dir``, or ``data/notebooks/04_not_interested``."""
        return notebook_store(NOTEBOOK, self.store_dir)


RULES = {
    "N_USERS": optional(integer(1)),
    "MIN_EVENTS": integer(2),
    "TEST_FRACTION": number(0, 1, open_low=True, open_high=True),
    "SEED": integer(0),
    "USER": optional(integer(0)),
    "FACTOR": number(0, MAX_FACTOR),
    "TOP_N": integer(1),
    "TOLERANCE": number(0),
    "STORE_DIR": FOLDER,
}
LIST_RULES = {"K": integer(1)}


def check_parameters(*, N_USERS: Any, MIN_EVENTS: Any, TEST_FRACTION: Any, SEED: Any,  # noqa: N803
                     USER: Any, FACTOR: Any, TOP_N: Any, K: Any, TOLERANCE: Any,
                     STORE_DIR: Any) -> Config:
    """Check every parameter of notebook 04 before any work; return them as a :class:`Config`.

    Raises:
        ValueError: ``invalid parameters of notebook 04: ...`` naming each bad parameter, its
            value and what a valid one is (e.g. ``K=50 must be a list of values, e.g. [50]``).
    """
    values = {"N_USERS": N_USERS, "MIN_EVENTS": MIN_EVENTS, "TEST_FRACTION": TEST_FRACTION,
              "SEED": SEED, "USER": USER, "FACTOR": FACTOR, "TOP_N": TOP_N,
              "TOLERANCE": TOLERANCE, "STORE_DIR": STORE_DIR}
    problems = check_values(values, RULES)
    lists, list_problems = check_lists({"K": K}, LIST_RULES)
    problems += list_problems
    raise_problems(problems, "invalid parameters of notebook 04")
    return Config(
        n_users=None if N_USERS is None else int(N_USERS), min_events=int(MIN_EVENTS),
        test_fraction=float(TEST_FRACTION), seed=int(SEED),
        user=None if USER is None else int(USER), factor=float(FACTOR), top_n=int(TOP_N),
        cutoffs=tuple(sorted(int(k) for k in lists["K"])), tolerance=float(TOLERANCE),
        store_dir=None if STORE_DIR is None else Path(STORE_DIR),
    )


# ---------------------------------------------------------------------------------------------
# the scoring core: plain arrays, no store


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Item vectors and the popularity term, ranked exactly the way the service ranks.

    Attributes:
        item_ids: (items,) ids, in the rows' order.
        matrix: (items, d) unit item vectors.
        prior_term: (items,) ``prior_weight * prior``: what ``recommend`` adds to each cosine.
    """

    item_ids: np.ndarray
    matrix: np.ndarray
    prior_term: np.ndarray

    @classmethod
    def of(cls, rec: Recommender) -> Catalogue:
        """The service's items, vectors and prior."""
        return cls(rec.item_ids, rec.item_matrix(), rec.prior_weight * rec.item_prior())

    @cached_property
    def row_of(self) -> pd.Series:
        """item id -> row of ``matrix``."""
        return pd.Series(np.arange(len(self.item_ids)), index=self.item_ids)

    def rows(self, item_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of ``matrix`` for item ids (KeyError for unknown ids)."""
        return self.row_of[np.asarray(item_ids, dtype=np.int64)].to_numpy()

    def rank(self, queries: np.ndarray, n: int,
             exclude: Sequence[Sequence[int] | np.ndarray] | None = None) -> np.ndarray:
        """Exact top-``n`` item ids per query row: ``cos(q, e) + prior_term``, best first.

        Args:
            queries: (rows, d) or (d,) query vectors (normalized here, in float64).
            exclude: per row, item ids that must not rank (e.g. the user's training items).
        """
        q = np.atleast_2d(np.asarray(queries, dtype=np.float64))
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        skip = None if exclude is None else [self.rows(list(x)) for x in exclude]
        return top_n(q @ self.matrix.T + self.prior_term, n, skip, self.item_ids)[0]


def replay_interests(events: pd.DataFrame, users: Sequence[Any], catalogue: Catalogue,
                     factor: float, alpha_view: float, alpha_favorite: float) -> np.ndarray:
    """The users' interest vectors from their events, as the service computes them.

    EMA toward views (``alpha_view``) and favorites (``alpha_favorite``), subtraction with
    ``factor`` for not-interested events (0 = ignored: the "ema_only" strategy); an overshoot
    keeps the previous vector and a rejection before any positive event is a no-op, like
    ``Recommender.ingest``.

    Returns:
        (users, d) float32, rows in ``users`` order.

    Raises:
        KeyError: a user whose events leave no vector (no view or favorite).
    """
    kinds = events["kind"].to_numpy()
    params = np.where(kinds == "not_interested", factor,
                      np.where(kinds == "favorite", alpha_favorite, alpha_view))
    out = replay_batch(
        events["user_id"].to_numpy(), catalogue.rows(events["item_id"]),
        np.where(kinds == "not_interested", "subtract", "ema"), params,
        item_matrix=catalogue.matrix, on_overshoot="skip", cold_subtract="ignore",
    ).as_dict()
    missing = [u for u in users if u not in out]
    if missing:
        raise KeyError(f"users {missing[:5]} have no interest vector: their events hold no view "
                       "or favorite")
    return np.stack([out[u] for u in users])


def average_vectors(events: pd.DataFrame, users: Sequence[Any], catalogue: Catalogue,
                    negatives: bool = True) -> np.ndarray:
    """Qdrant's ``average_vector`` query per user: ``normalize(2 avg(pos) - avg(neg))``.

    ``pos`` are the user's viewed and favorited items, ``neg`` the not-interested ones (an item
    counts as often as it occurs); without negatives, or with ``negatives=False`` (the
    "mean_positive" strategy), the query is ``normalize(avg(pos))``.

    Raises:
        ValueError: a user without positive events (nothing to average).
    """
    rows = []
    by_user = dict(tuple(events.groupby("user_id", sort=False)))
    for u in users:
        history = by_user.get(u, events.iloc[:0])
        is_neg = (history["kind"] == "not_interested").to_numpy()
        if is_neg.all():
            raise ValueError(f"user {u!r} has no positive (view or favorite) event to average")
        pos = catalogue.matrix[catalogue.rows(history["item_id"][~is_neg])]
        q = pos.astype(np.float64).mean(axis=0)
        if negatives and is_neg.any():
            neg = catalogue.matrix[catalogue.rows(history["item_id"][is_neg])]
            q = 2 * q - neg.astype(np.float64).mean(axis=0)
        rows.append(vectors.normalize(q))
    return np.stack(rows)


def negative_sets(test_events: pd.DataFrame, users: Sequence[Any],
                  seen: Sequence[np.ndarray]) -> list[set[int]]:
    """Per user, the held-out not-interested items that a list could show (training items
    removed: they are excluded from every list)."""
    neg = test_events[test_events["kind"] == "not_interested"]
    groups = {u: set(g["item_id"].astype(int)) for u, g in neg.groupby("user_id", sort=False)}
    return [groups.get(u, set()) - {int(i) for i in s} for u, s in zip(users, seen, strict=True)]


def neg_hit(ranked: np.ndarray, negatives: Sequence[set[int]]) -> float:
    """Share of the users with a held-out not-interested item whose list shows one of them
    (lower is better); 0.0 when nobody has one."""
    has = [r for r, s in enumerate(negatives) if s]
    if not has:
        return 0.0
    return float(np.mean([bool(negatives[r] & set(ranked[r].tolist())) for r in has]))


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of each row of ``b`` (length K) that is also in the same row of ``a``."""
    k = np.asarray(b).shape[1]
    return float(np.mean([len(set(x.tolist()) & set(y.tolist())) / k
                          for x, y in zip(a, b, strict=True)]))


@dataclass(frozen=True, eq=False)
class Comparison:
    """The strategies scored on the same users (section 4).

    Attributes:
        results: ``{strategy: EvaluationResult}``, in table order; their rows carry
            ``neg_hit@K`` and ``overlap_with_service`` too.
        table: one row per strategy: recall@k and hitrate@k for every cut-off, ndcg@K,
            neg_hit@K, overlap_with_service (K = the largest cut-off).
        neg_users: users with a held-out not-interested item (the base of neg_hit@K).
        seconds: time to build and score the queries.
    """

    results: dict[str, EvaluationResult]
    table: pd.DataFrame
    neg_users: int
    seconds: float = 0.0

    @property
    def k(self) -> int:
        return max(next(iter(self.results.values())).cutoffs)

    def value(self, strategy: str, metric: str) -> float:
        """One number of the table, e.g. ``value("ema_only", "recall@50")``."""
        return float(self.table.set_index("strategy").loc[strategy, metric])

    def paired(self, metric: str, a: str = "ema+subtract", b: str = "average_vector"
               ) -> Difference:
        """Per-user ``a - b`` of ``metric`` with its 95 % interval (same users on both sides)."""
        return paired_difference(self.results[a], self.results[b], metric)

    def verdict(self, tolerance: float) -> str:
        """One of :data:`VERDICT_WORDS` for Recall@K, ema+subtract vs average_vector."""
        return verdict(self.paired(f"recall@{self.k}"), tolerance, VERDICT_WORDS)

    def facts(self, tolerance: float) -> dict[str, Any]:
        """The numbers notebook 04 records (rounded as displayed)."""
        k = self.k
        names = {"ema_subtract": "ema+subtract", "ema_only": "ema_only",
                 "average_vector": "average_vector", "mean_positive": "mean_positive"}
        out: dict[str, Any] = {f"recall_{key}": round(self.value(name, f"recall@{k}"), 4)
                               for key, name in names.items()}
        if SERVICE_HNSW in self.results:
            out["recall_service_hnsw"] = round(self.value(SERVICE_HNSW, f"recall@{k}"), 4)
        recall, hitrate = self.paired(f"recall@{k}"), self.paired(f"hitrate@{k}")
        out |= {
            "hitrate_ema_subtract": round(self.value("ema+subtract", f"hitrate@{k}"), 4),
            "hitrate_average_vector": round(self.value("average_vector", f"hitrate@{k}"), 4),
            "neg_hit_ema_subtract": round(self.value("ema+subtract", f"neg_hit@{k}"), 4),
            "neg_hit_average_vector": round(self.value("average_vector", f"neg_hit@{k}"), 4),
            "overlap_average_vector": round(self.value("average_vector",
                                                       "overlap_with_service"), 4),
            "neg_users": self.neg_users,
            "recall_diff_ci": [round(x, 4) for x in (recall.mean, recall.low, recall.high)],
            "hitrate_diff_ci": [round(x, 4) for x in (hitrate.mean, hitrate.low, hitrate.high)],
            "verdict": self.verdict(tolerance),
        }
        return out


def score_strategies(
    queries: Mapping[str, np.ndarray],
    catalogue: Catalogue,
    users: np.ndarray,
    relevant: Sequence[np.ndarray],
    seen: Sequence[np.ndarray],
    negatives: Sequence[set[int]],
    cutoffs: Sequence[int],
    ranked: Mapping[str, np.ndarray] | None = None,
    reference: str = "ema+subtract",
) -> Comparison:
    """Rank each strategy's query vectors exactly and score them on the held-out items.

    Args:
        queries: ``{strategy: (users, d) query vectors}``.
        catalogue: the items, ranked as the service ranks (cosine + prior).
        users, relevant: the scored users and their held-out positive items (aligned).
        seen: per user, training items: excluded from every list.
        negatives: per user, held-out not-interested items (:func:`negative_sets`).
        cutoffs: metric cut-offs; lists are ``max(cutoffs)`` long.
        ranked: lists ranked elsewhere (e.g. the service's HNSW lists), scored alike.
        reference: the strategy whose lists ``overlap_with_service`` compares with.

    Returns:
        A :class:`Comparison`; the table keeps the order of ``queries`` then ``ranked``.
    """
    ks = tuple(sorted(cutoffs))
    k = ks[-1]
    lists = {name: catalogue.rank(q, k, seen) for name, q in queries.items()}
    lists |= {name: np.asarray(r)[:, :k] for name, r in (ranked or {}).items()}
    if reference not in lists:
        raise ValueError(f"reference={reference!r} is not among the strategies {list(lists)}")
    results, rows = {}, []
    for name, r in lists.items():
        extra = {f"neg_hit@{k}": neg_hit(r, negatives),
                 "overlap_with_service": overlap(r, lists[reference])}
        result = EvaluationResult.score(name, users, r, relevant, ks, len(catalogue.item_ids),
                                        **extra)
        results[name] = result
        rows.append({"strategy": name,
                     **{f"recall@{c}": result[f"recall@{c}"] for c in ks},
                     **{f"hitrate@{c}": result[f"hitrate@{c}"] for c in ks},
                     f"ndcg@{k}": result[f"ndcg@{k}"], **extra})
    return Comparison(results, pd.DataFrame(rows), sum(bool(s) for s in negatives))


# ---------------------------------------------------------------------------------------------
# the service of the notebook


@dataclass(eq=False)
class Service:
    """Section 1: a service trained on the past, answering a sample of users.

    Attributes:
        config: the checked parameters.
        split: the temporal split, restricted to the sampled users (every user's training
            events kept: they taught the item vectors and the prior).
        rec: the open service (the notebook closes it); its not-interested factor is
            ``config.factor``.
        users, relevant: the sampled users (sorted) and their held-out positive items.
        user: the user of sections 2 and 5 (``config.user``, or the first sampled user).
        train_events, test_events: the sampled users' events, in time order.
        ingest: what ``rec.ingest(train_events)`` reported.
        build_seconds: item vectors, prior and store (indexing included).
    """

    config: Config
    split: Split
    rec: Recommender
    users: np.ndarray
    relevant: list[np.ndarray]
    user: int
    train_events: pd.DataFrame
    test_events: pd.DataFrame
    ingest: IngestReport
    build_seconds: float

    @cached_property
    def catalogue(self) -> Catalogue:
        """The service's items, vectors and prior, for exact rankings."""
        return Catalogue.of(self.rec)

    @property
    def seen(self) -> list[np.ndarray]:
        """Per sampled user, the training items (excluded from every list)."""
        return self.split.seen(self.users)

    def replay(self, factor: float) -> np.ndarray:
        """The sampled users' interest vectors from their training events at ``factor``."""
        return replay_interests(self.train_events, list(self.users), self.catalogue, factor,
                                self.rec.alpha_view, self.rec.alpha_favorite)

    def interests(self) -> np.ndarray:
        """The service's stored interest vectors of the sampled users, (users, d)."""
        return np.stack([self.rec.interest(u) for u in self.users])

    def facts(self) -> dict[str, Any]:
        """The numbers notebook 04 records for section 1."""
        return {
            "n_users": len(self.users),
            "n_train_events": len(self.train_events),
            "n_test_events": len(self.test_events),
            "train_not_interested": int((self.train_events["kind"] == "not_interested").sum()),
            "factor": self.rec.not_interested_factor,
            "ingest_overshoots": self.ingest.overshoots,
            "build_seconds": round(self.build_seconds, 2),
            "ingest_seconds": round(self.ingest.seconds, 3),
        }


def open_service(config: Config, dataset: Dataset | None = None) -> Service:
    """Split ``dataset`` (default MovieLens) by time, learn item vectors and the popularity
    prior from the training events, open the service in ``config.store_path`` (emptied first)
    with ``not_interested_factor=config.factor``, and ingest a sample of users' training events.

    The store is opened on the same vectors and counts as ``Recommender.from_dataset`` would
    use (through :class:`~recsys_nb.experiment.Experiment`), so the prior is the same.

    Raises:
        ValueError: ``config.user`` is not among the sampled users (the fix is named).
    """
    dataset = load_movielens() if dataset is None else dataset
    split = temporal_split(dataset, test_fraction=config.test_fraction,
                           min_events=config.min_events)
    users = split.sample(config.n_users, config.seed)
    if config.user is not None and config.user not in set(users.tolist()):
        raise ValueError(
            f"USER={config.user!r} is not among the {len(users)} sampled users (users with "
            f">= MIN_EVENTS={config.min_events} events and a held-out positive event); use one "
            f"of them, e.g. {users[:5].tolist()}, or USER=None (or N_USERS=None to sample all)")
    split = split.restrict(users)
    _, relevant = split.relevant("positive")
    path = reset_store(config.store_path)
    t0 = time.perf_counter()
    experiment = Experiment(split, config.cutoffs, path=path)
    experiment.vectors()
    rec = experiment.recommender(not_interested_factor=config.factor)
    build_seconds = time.perf_counter() - t0
    try:
        train_events = split.train[split.train["user_id"].isin(users)]
        report = rec.ingest(train_events)
    except BaseException:
        rec.close()
        raise
    user = int(users[0]) if config.user is None else config.user
    return Service(config, split, rec, users, list(relevant), user, train_events, split.test,
                   report, build_seconds)


# ---------------------------------------------------------------------------------------------
# sections 2-3: the subtraction in numbers


def kept_of_top(service: Service, user: int, item: int, new_interests: np.ndarray,
                n: int) -> list[int]:
    """How many of the user's exact top-``n`` (``item`` and seen items excluded) stay in the
    top-``n`` of each new interest vector (rows), ranked as the service ranks."""
    hidden = [sorted(set(service.rec.history(user)["item_id"].astype(int)) | {int(item)})]
    cat = service.catalogue
    old = set(cat.rank(service.rec.interest(user), n, hidden)[0].tolist())
    new = cat.rank(new_interests, n, hidden * len(np.atleast_2d(new_interests)))
    return [len(set(row.tolist()) & old) for row in new]


def closed_form_errors(v: np.ndarray, e: np.ndarray, factors: np.ndarray) -> tuple[float, float]:
    """Largest gaps between ``vectors.subtract`` and the closed forms for unit ``v``, ``e``:
    ``|v - f e| = sqrt((f - c)^2 + 1 - c^2)`` and ``cos(v', e) = (c - f) / |v - f e|``."""
    f = np.asarray(factors, dtype=np.float64)
    v64, e64 = v.astype(np.float64), e.astype(np.float64)
    c = float(v @ e)
    raw = np.linalg.norm(v64 - f[:, None] * e64, axis=1)
    norm_gap = np.abs(raw - np.sqrt((f - c) ** 2 + 1 - c**2))
    after = vectors.subtract(np.tile(v, (len(f), 1)), np.tile(e, (len(f), 1)), f) @ e
    cos_gap = np.abs(after.astype(np.float64) - (c - f) / raw)
    return float(norm_gap.max()), float(cos_gap.max())


def identity_errors(service: Service, factors: Sequence[float] | np.ndarray) -> dict[str, float]:
    """:func:`closed_form_errors` on every sampled user's top recommendation, worst case."""
    gaps = []
    for u in service.users:
        item = int(service.rec.recommend(u, n=1)["item_id"].iloc[0])
        gaps.append(closed_form_errors(service.rec.interest(u), service.rec.item_vector(item),
                                       np.asarray(factors, dtype=np.float64)))
    norm, cos = np.max(gaps, axis=0)
    return {"identity_norm_max_diff": float(norm), "identity_cos_max_diff": float(cos)}


def unit_pair(cos: float, dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors ``v``, ``e`` (float64) with ``cos(v, e) = cos``."""
    e = np.zeros(dim)
    e[0] = 1.0
    v = np.zeros(dim)
    v[0], v[1] = cos, np.sqrt(max(0.0, 1.0 - cos**2))
    return v, e


def subtraction_curve(cos: float, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For unit vectors at cosine ``cos``, per factor: ``cos(subtract(v, e, f), e)`` and
    ``|v - f e|``; both NaN where ``vectors.subtract`` refuses (overshoot)."""
    v, e = unit_pair(cos)
    after, norm = [], []
    for f in factors:
        try:
            after.append(float(vectors.subtract(v, e, f) @ e))
            norm.append(float(np.linalg.norm(v - f * e)))
        except vectors.OvershootError:
            after.append(np.nan)
            norm.append(np.nan)
    return np.array(after), np.array(norm)


def safety_table(factors: Sequence[float],
                 cosines: np.ndarray | None = None) -> pd.DataFrame:
    """Per factor, the smallest ``|v - f e|`` over unit pairs with the given cosines (default
    201 from -1 to 1), next to the bound ``|1 - f|`` and the worst amplification 1 / min."""
    cosines = np.linspace(-1.0, 1.0, 201) if cosines is None else cosines
    grid = [unit_pair(c) for c in cosines]
    rows = []
    for f in factors:
        worst = min(float(np.linalg.norm(v - f * e)) for v, e in grid)
        rows.append({"factor": f, "min |v - f e|": worst, "1 - f": abs(1 - f),
                     "max amplification": np.inf if worst == 0 else 1 / worst})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Rejections:
    """Section 3.3: the cosine between the interest and each rejected item just before the
    rejection, over the sampled users' training events replayed by hand.

    Attributes:
        cosines: one per not-interested event that met an interest vector.
        factor: the service's factor (a rejection flips the sign where cosine < factor).
        replay_max_diff: largest gap between the replayed and the stored vectors.
    """

    cosines: np.ndarray
    factor: float
    replay_max_diff: float

    @property
    def flipped(self) -> float:
        """Share of the rejections whose cosine is below the factor (the sign flips)."""
        return float((self.cosines < self.factor).mean()) if len(self.cosines) else 0.0

    def __str__(self) -> str:
        return (f"{len(self.cosines)} rejections with an interest vector; median cosine "
                f"{np.median(self.cosines):.3f}; {self.flipped:.0%} have cos < factor "
                "(sign flips)")

    def facts(self) -> dict[str, Any]:
        return {
            "replay_matches_service_max_diff": self.replay_max_diff,
            "rejections_with_vector": len(self.cosines),
            "rejection_cos_median": round(float(np.median(self.cosines)), 4),
            "rejection_share_flipped": round(self.flipped, 4),
        }


def rejection_cosines(service: Service) -> Rejections:
    """Replay each sampled user's training events one by one with ``vectors.apply_event``
    (what ``ingest`` did: overshoots keep the vector, rejections before a vector are no-ops)
    and collect the cosine at every rejection that meets a vector."""
    rec, cat = service.rec, service.catalogue
    param = {"view": rec.alpha_view, "favorite": rec.alpha_favorite,
             "not_interested": rec.not_interested_factor}
    cosines, diff = [], 0.0
    for u, history in service.train_events.groupby("user_id", sort=False):
        v = None
        for e, kind in zip(cat.matrix[cat.rows(history["item_id"])], history["kind"],
                           strict=True):
            if kind == "not_interested" and v is not None:
                cosines.append(float(v @ e))
            op = "subtract" if kind == "not_interested" else "ema"
            try:
                v = vectors.apply_event(v, e, op, param[kind], cold_subtract="ignore")
            except vectors.DegenerateVectorError:
                pass  # overshoot: the service keeps the previous vector too
        if v is not None:
            diff = max(diff, float(np.abs(v - rec.interest(int(u))).max()))
    return Rejections(np.array(cosines), rec.not_interested_factor, diff)


def plot_rejection_cosines(rejections: Rejections, ax: Any = None) -> Any:
    """Histogram of :attr:`Rejections.cosines` with the factor marked. Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(rejections.cosines, bins=40)
    ax.axvline(rejections.factor, color="black", linestyle="--",
               label=f"factor {rejections.factor:g}")
    ax.set_xlabel("cos(interest, rejected item) just before the rejection")
    ax.set_ylabel("events")
    ax.legend()
    return ax


# ---------------------------------------------------------------------------------------------
# section 4: the strategies, measured


def compare_strategies(service: Service) -> Comparison:
    """EMA + subtraction (the service's vectors), EMA only (factor 0), ``average_vector`` and
    ``mean_positive``, ranked exactly like the service with each user's training items
    excluded, plus the service's own HNSW lists; scored on the held-out events."""
    t0 = time.perf_counter()
    cat, users = service.catalogue, service.users
    queries = {
        "ema+subtract": service.interests(),
        "ema_only": service.replay(0.0),
        "average_vector": average_vectors(service.train_events, list(users), cat),
        "mean_positive": average_vectors(service.train_events, list(users), cat,
                                         negatives=False),
    }
    k = service.config.k
    hnsw = np.stack([service.rec.recommend(u, n=k)["item_id"].to_numpy() for u in users])
    seen = service.seen
    result = score_strategies(queries, cat, users, service.relevant, seen,
                              negative_sets(service.test_events, list(users), seen),
                              service.config.cutoffs, ranked={SERVICE_HNSW: hnsw})
    return Comparison(result.results, result.table, result.neg_users, time.perf_counter() - t0)


@dataclass(frozen=True)
class FactorSweep:
    """Section 4.1: the comparison's metrics for a range of factors (0 = ema_only).

    Attributes:
        table: factor, recall@K, hitrate@K, neg_hit@K per factor.
        service_max_diff: largest gap between the vectors replayed at the service's factor and
            the stored ones (None when that factor was not swept).
        seconds: time taken.
    """

    table: pd.DataFrame
    service_max_diff: float | None
    seconds: float

    def facts(self, k: int) -> dict[str, Any]:
        best = self.table.loc[self.table[f"recall@{k}"].idxmax()]
        return {
            "sweep_factors": self.table["factor"].tolist(),
            "sweep_recall": [round(x, 4) for x in self.table[f"recall@{k}"]],
            "sweep_best_factor": float(best["factor"]),
            "sweep_matches_service_max_diff": self.service_max_diff,
        }


def factor_sweep(service: Service, factors: Sequence[float] = SWEEP_FACTORS) -> FactorSweep:
    """Replay the sampled users at each factor (and the service's), rank exactly, score."""
    t0 = time.perf_counter()
    k = service.config.k
    factor = service.rec.not_interested_factor
    seen = service.seen
    negatives = negative_sets(service.test_events, list(service.users), seen)
    rows, diff = [], None
    for f in sorted({*map(float, factors), factor}):
        q = service.replay(f)
        if np.isclose(f, factor):
            diff = float(np.abs(q - service.interests()).max())
        r = service.catalogue.rank(q, k, seen)
        m = EvaluationResult.score(f"factor={f:g}", service.users, r, service.relevant, (k,))
        rows.append({"factor": f, f"recall@{k}": m[f"recall@{k}"],
                     f"hitrate@{k}": m[f"hitrate@{k}"], f"neg_hit@{k}": neg_hit(r, negatives)})
    return FactorSweep(pd.DataFrame(rows), diff, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# the run's findings in words


def _trend(start: float, end: float, tolerance: float) -> str:
    if end > start + tolerance:
        return "rises"
    if end < start - tolerance:
        return "falls"
    return "stays within the tolerance"


def _strength(cosine: float) -> str:
    """Words for a typical cosine: below 0.3 weakly, below 0.6 moderately, else strongly."""
    return "weakly" if cosine < 0.3 else "moderately" if cosine < 0.6 else "strongly"


def summary(service: Service, rejections: Rejections, comparison: Comparison,
            sweep: FactorSweep) -> str:
    """What this run measured, in sentences computed from its numbers (nothing assumed)."""
    cfg, k = service.config, comparison.k
    d = comparison.paired(f"recall@{k}")
    table = sweep.table.set_index("factor")
    lo, hi = table.index.min(), table.index.max()
    recall, neg = f"recall@{k}", f"neg_hit@{k}"
    best = float(table[recall].idxmax())
    median = float(np.median(rejections.cosines))
    lines = [
        f"On {len(service.users)} users (held-out {cfg.test_fraction:.0%} of their events, "
        f"factor {cfg.factor:g}):",
        f"- rejected items were {_strength(median)} similar to the interest at the moment of "
        f"the rejection (median cosine {median:.3f}); at factor {cfg.factor:g} "
        f"{rejections.flipped:.0%} of {len(rejections.cosines)} rejections flipped the interest "
        "past orthogonal to the item.",
        f"- Recall@{k}: ema+subtract {comparison.value('ema+subtract', recall):.4f}, "
        f"average_vector {comparison.value('average_vector', recall):.4f} (difference "
        f"{d.mean:+.4f}, 95% CI {d.low:+.4f} .. {d.high:+.4f}): "
        f"{comparison.verdict(cfg.tolerance)} (tolerance {cfg.tolerance:g}).",
        f"- from factor {lo:g} to {hi:g}, neg_hit@{k} "
        f"{_trend(table.loc[lo, neg], table.loc[hi, neg], cfg.tolerance)} "
        f"({table.loc[lo, neg]:.3f} -> {table.loc[hi, neg]:.3f}) and Recall@{k} "
        f"{_trend(table.loc[lo, recall], table.loc[hi, recall], cfg.tolerance)} "
        f"({table.loc[lo, recall]:.4f} -> {table.loc[hi, recall]:.4f}); the best factor "
        f"measured is {best:g}.",
    ]
    return "\n".join(lines)
