"""Notebook 10 (several interests per user): its parameters, its pictures, its user, its tables.

One interest vector averages everything a user likes; a user with two tastes gets a vector
between them. ``Recommender(..., interests=k)`` keeps up to ``k`` vectors per user
(:mod:`recsys_nb.interests`) and merges one search per interest. The notebook explains the idea
and measures it; this module holds the machinery, so each step of the lesson is one call:

- :class:`MultiInterestConfig` checks the notebook's parameters (every problem named at once,
  with the value and the fix) before any work, and :meth:`MultiInterestConfig.check_data` the
  ones that need the data (genres, K against the catalogue).
- Section 1, the idea: :func:`toy_clusters`, :func:`toy_table`, :func:`toy_interests` (two
  clusters of 2-D points, their mean near neither, and what ``k = 2`` makes of them);
  :func:`genre_picture` (the same with two real genres' item vectors).
- Section 2, a real user with two tastes: :func:`taste_pairs` ranks the users by a rule computed
  from their histories (two genre groups, far apart, each with enough events),
  :func:`pick_user` takes the first (or ``USER``); :func:`open_service` opens the service on the
  experiment's store; :func:`list_frame`, :func:`side_by_side`, :func:`interest_table`,
  :func:`explain_each` show what one and several interests recommend, and why.
- Section 3, the measurements: :func:`measure_grid` (k x merge on an
  :class:`~recsys_nb.experiment.Experiment` or a
  :class:`~recsys_nb.rolling_experiment.RollingExperiment`, the same call) and
  :func:`interest_counts` are what ``benchmarks/multi_interest.py`` runs too (the notebook
  counts with :func:`interest_share`, one ingest instead of one per k);
  :func:`grid_table` adds the paired differences to ``k = 1`` and the verdicts
  (:func:`recsys_nb.evaluate.verdict_table`), :func:`grid_record` and :func:`summary_lines` say
  what the run showed, in words computed from those verdicts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from recsys_nb import interests as mi
from recsys_nb import vectors
from recsys_nb.data import Dataset, parse_genres
from recsys_nb.embeddings import ItemVectors
from recsys_nb.evaluate import (
    CLAIM_WORDS,
    EvaluationResult,
    Split,
    rolling_splits,
    verdict_table,
)
from recsys_nb.experiment import Experiment
from recsys_nb.item_space import genre_centroids
from recsys_nb.parameters import (
    FOLDER,
    CutoffMetrics,
    Rule,
    check_lists,
    check_values,
    choice,
    date,
    date_order,
    integer,
    number,
    optional,
    raise_problems,
)
from recsys_nb.plots import top_genres
from recsys_nb.recommender import IngestReport, Recommender
from recsys_nb.rolling_experiment import RollingExperiment
from recsys_nb.store import notebook_store
from recsys_nb.widgets import item_label

NOTEBOOK = "10_multiple_interests"
#: The claim every configuration with k > 1 is judged on, and its verdict words
#: (``recsys_nb.evaluate.CLAIM_WORDS``): (it wins, it loses, neither).
CLAIM = "several interests beat one"
WORDS = CLAIM_WORDS
#: The two protocols of section 3, in table order.
PROTOCOLS = ("temporal", "rolling")

# ------------------------------------------------------------------------------------------
# Parameters


#: the rule of every single-valued parameter of the notebook
RULES: dict[str, Rule] = {
    "N_USERS": (optional(integer(1))[0],
                "None (every user) or an integer >= 1 (a random sample of that size)"),
    "MIN_EVENTS": integer(2),
    "TEST_FRACTION": number(0, 1, open_low=True, open_high=True),
    "DIVERSITY": number(0, 1),
    "ROLLING_START": date("2014-01-01"),
    "ROLLING_END": date("2016-07-01"),
    "ROLLING_MONTHS": integer(1),
    "MIN_TASTE_EVENTS": integer(2),
    "USER": optional(integer(1)),
    "INTERESTS": integer(2),
    "TOP_N": integer(1),
    "TOLERANCE": number(0),
    "SEED": integer(0),
    "STORE_DIR": FOLDER,
}
#: the rule of each value of the list parameters
LIST_RULES: dict[str, Rule] = {
    "K": integer(1),
    "KS": integer(1),
    "MERGES": choice(mi.MERGES),
    "GENRES": (lambda v: isinstance(v, str) and bool(v.strip()), "a genre name"),
}


@dataclass(frozen=True)
class MultiInterestConfig(CutoffMetrics):
    """The checked parameters of notebook 10 (build it with :meth:`from_parameters`).

    Attributes:
        n_users: users scored on the temporal split (a random sample seeded by ``seed``); None =
            every user with held-out items.
        min_events, test_fraction: the temporal split; ``min_events`` is also the events a user
            needs before a rolling cut-off.
        cutoffs: metric cut-offs K, sorted; ``recall`` is ``recall@max(K)``, ``ndcg`` is
            ``ndcg@min(K)``, ``coverage`` is ``coverage@max(K)``.
        ks: interests per user measured, sorted, 1 (the reference) always first.
        merges: merge strategies measured for every k > 1.
        diversity: the ``diversity`` of every measured configuration, and the widget's start.
        rolling_start, rolling_end, rolling_months: the rolling cut-offs.
        genres: the two genres of section 1 (and the taste column of section 2).
        min_taste_events: events each of the two genre groups of the section-2 user needs.
        user: the user of sections 2 and 4 (None: the first by :func:`taste_pairs`' rule).
        interests: k of the section-2 service and the widget.
        top_n: length of the lists shown. tolerance: smallest difference a verdict counts.
        seed, store_dir: the sample's seed; the store folder.
    """

    n_users: int | None = 100
    min_events: int = 5
    test_fraction: float = 0.2
    cutoffs: tuple[int, ...] = (10, 50)
    ks: tuple[int, ...] = (1, 2, 3, 5)
    merges: tuple[str, ...] = mi.MERGES
    diversity: float = mi.DEFAULT_DIVERSITY
    rolling_start: str = "2014-01-01"
    rolling_end: str = "2016-07-01"
    rolling_months: int = 24
    genres: tuple[str, str] = ("Horror", "Children")
    min_taste_events: int = 10
    user: int | None = None
    interests: int = 2
    top_n: int = 10
    tolerance: float = 0.005
    seed: int = 0
    store_dir: str | None = None

    @classmethod
    def from_parameters(
        cls, *, N_USERS: Any, MIN_EVENTS: Any, TEST_FRACTION: Any, K: Any, KS: Any, MERGES: Any,
        DIVERSITY: Any, ROLLING_START: Any, ROLLING_END: Any, ROLLING_MONTHS: Any, GENRES: Any,
        MIN_TASTE_EVENTS: Any, USER: Any, INTERESTS: Any, TOP_N: Any, TOLERANCE: Any, SEED: Any,
        STORE_DIR: Any,
    ) -> MultiInterestConfig:
        """Check the notebook's parameters, all at once, before any work.

        Raises:
            ValueError: ``invalid parameters: NAME=value must be ...; ...`` naming every bad
                parameter, its value and what would be valid.
        """
        singles = {"N_USERS": N_USERS, "MIN_EVENTS": MIN_EVENTS, "TEST_FRACTION": TEST_FRACTION,
                   "DIVERSITY": DIVERSITY, "ROLLING_START": ROLLING_START,
                   "ROLLING_END": ROLLING_END, "ROLLING_MONTHS": ROLLING_MONTHS,
                   "MIN_TASTE_EVENTS": MIN_TASTE_EVENTS, "USER": USER, "INTERESTS": INTERESTS,
                   "TOP_N": TOP_N, "TOLERANCE": TOLERANCE, "SEED": SEED, "STORE_DIR": STORE_DIR}
        problems = check_values(singles, RULES)
        lists, list_problems = check_lists(
            {"K": K, "KS": KS, "MERGES": MERGES, "GENRES": GENRES}, LIST_RULES)
        problems += list_problems
        if "GENRES" in lists and len(lists["GENRES"]) != 2:
            problems.append(f"GENRES={lists['GENRES']!r} must name exactly two genres, e.g. "
                            "['Horror', 'Children']")
        problems += date_order("ROLLING_START", ROLLING_START, "ROLLING_END", ROLLING_END)
        raise_problems(problems)
        return cls(
            n_users=None if N_USERS is None else int(N_USERS),
            min_events=int(MIN_EVENTS),
            test_fraction=float(TEST_FRACTION),
            cutoffs=tuple(sorted(int(k) for k in lists["K"])),
            ks=tuple(sorted({1, *(int(k) for k in lists["KS"])})),
            merges=tuple(lists["MERGES"]),
            diversity=float(DIVERSITY),
            rolling_start=str(ROLLING_START),
            rolling_end=str(ROLLING_END),
            rolling_months=int(ROLLING_MONTHS),
            genres=(str(lists["GENRES"][0]), str(lists["GENRES"][1])),
            min_taste_events=int(MIN_TASTE_EVENTS),
            user=None if USER is None else int(USER),
            interests=int(INTERESTS),
            top_n=int(TOP_N),
            tolerance=float(TOLERANCE),
            seed=int(SEED),
            store_dir=None if STORE_DIR is None else str(STORE_DIR),
        )

    @property
    def coverage(self) -> str:
        """The catalogue coverage of the lists: ``coverage@max(K)`` (no per-user value, so no
        paired difference)."""
        return f"coverage@{max(self.cutoffs)}"

    @property
    def metrics(self) -> tuple[str, str, str]:
        return (self.recall, self.ndcg, self.coverage)

    @property
    def store_path(self) -> Path:
        """The store folder: ``store_dir``, or ``data/notebooks/10_multiple_interests``."""
        return notebook_store(NOTEBOOK, self.store_dir)

    def check_data(self, dataset: Dataset) -> None:
        """The checks that need the data: both GENRES are genres of the items, K within the
        catalogue (the same ``invalid parameters`` error).

        Raises:
            ValueError: ``invalid parameters: ...`` naming each problem and the valid values.
        """
        known = sorted({g for gs in dataset.items["genres"] for g in gs})
        problems = []
        unknown = [g for g in self.genres if g not in known]
        if unknown:
            problems.append(f"GENRES values {unknown} are not genres of the items; use two of "
                            f"{known}")
        if self.genres[0] == self.genres[1]:
            problems.append(f"GENRES={list(self.genres)} names one genre twice; pick two")
        if max(self.cutoffs) > len(dataset.items):
            problems.append(f"K={list(self.cutoffs)} exceeds the catalogue "
                            f"({len(dataset.items)} items); lower K")
        raise_problems(problems)

    def rolling(self, dataset: Dataset) -> list[Split]:
        """The rolling cut-off splits of section 3 (``rolling_splits`` with this config's dates,
        ``min_history = min_events``)."""
        return rolling_splits(dataset, self.rolling_start, self.rolling_end,
                              self.rolling_months, min_history=self.min_events)


# ------------------------------------------------------------------------------------------
# Section 1: the idea, in 2-D and with two real genres


def on_circle(degrees: Any) -> np.ndarray:
    """Unit 2-D vectors at the given angles (degrees): items of a toy catalogue."""
    rad = np.radians(np.asarray(degrees, dtype=np.float64))
    return np.stack([np.cos(rad), np.sin(rad)], axis=-1)


def toy_clusters(rng: np.random.Generator, n: int = 12, centres: Sequence[float] = (15.0, 135.0),
                 spread: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Two tastes in 2-D: ``n`` unit vectors around each of two angles (degrees, with
    ``spread`` degrees of normal noise)."""
    a = on_circle(centres[0] + rng.normal(0.0, spread, n))
    b = on_circle(centres[1] + rng.normal(0.0, spread, n))
    return a, b


def toy_table(a: np.ndarray, b: np.ndarray) -> pd.DataFrame:
    """How close three vectors are to the two clusters: each cluster's centre (the normalized
    mean of its points) and the mean of all points (what one interest vector averaging both
    tastes points at). Columns: cosine to each centre, to the nearest member and the median
    member of each cluster."""
    centre_a, centre_b = vectors.average(a), vectors.average(b)
    mean = vectors.average(np.vstack([a, b]))
    rows = []
    for name, v in [("centre of A", centre_a), ("centre of B", centre_b),
                    ("mean of all (one interest)", mean)]:
        rows.append({"vector": name, "cos centre A": float(v @ centre_a),
                     "cos centre B": float(v @ centre_b),
                     "cos nearest of A": float((a @ v).max()),
                     "cos nearest of B": float((b @ v).max()),
                     "median cos A": float(np.median(a @ v)),
                     "median cos B": float(np.median(b @ v))})
    return pd.DataFrame(rows)


def toy_interests(a: np.ndarray, b: np.ndarray, k: int = 2, alpha: float = 0.25,
                  threshold: float = mi.DEFAULT_THRESHOLD,
                  fade: float = mi.DEFAULT_FADE) -> tuple[mi.Interests, np.ndarray]:
    """The technique with ``k`` interests on the toy: the points of both clusters alternating
    (a, b, a, b, ...; every event a view with ``alpha``) replayed with
    :func:`recsys_nb.interests.replay_user`, the Recommender's own function. Returns the
    interests and the one-interest EMA of the same events (``k = 1``) for comparison."""
    order = np.empty((len(a) + len(b), 2))
    order[0::2], order[1::2] = a, b
    ops, params = ["ema"] * len(order), [alpha] * len(order)
    several = mi.replay_user(order, ops, params, k=k, threshold=threshold, fade=fade).state
    one = mi.replay_user(order, ops, params, k=1, threshold=threshold, fade=fade).state
    return several, one.vectors[0].astype(np.float64)


class GenrePicture(NamedTuple):
    """Section 1 with real item vectors (see :func:`genre_picture`)."""

    table: pd.DataFrame
    top: pd.DataFrame
    facts: dict[str, Any]


def genre_picture(item_vectors: ItemVectors, items: pd.DataFrame, genres: Sequence[str],
                  n: int = 20) -> GenrePicture:
    """Two genres' items in the item space: each genre's centroid (``genre_centroids``) and the
    mean of the two centroids (one interest for a user who likes both equally).

    Members are the items of one genre and not the other. For each of the three vectors the
    table gives its cosine to both centroids, the median cosine to the members of each genre,
    and how many of its ``n`` nearest items (cosine, the exact search) belong to each genre or
    to neither; ``top`` lists the mean's ``n`` nearest items.
    """
    first, second = genres
    matrix = np.asarray(item_vectors.vectors, dtype=np.float64)
    meta = items.set_index("item_id").loc[np.asarray(item_vectors.item_ids)]
    item_genres = list(meta["genres"])
    in_first = np.array([first in g and second not in g for g in item_genres])
    in_second = np.array([second in g and first not in g for g in item_genres])
    cents = genre_centroids(item_genres, matrix, [first, second]).astype(np.float64)
    mean = vectors.average(cents)
    rows = []
    for name, v in [(f"centroid {first}", cents[0]), (f"centroid {second}", cents[1]),
                    ("mean of the two (one interest)", mean)]:
        sims = matrix @ v
        top = np.argsort(-sims, kind="stable")[:n]
        rows.append({"vector": name, f"cos centroid {first}": float(v @ cents[0]),
                     f"cos centroid {second}": float(v @ cents[1]),
                     f"median cos {first} items": float(np.median(sims[in_first])),
                     f"median cos {second} items": float(np.median(sims[in_second])),
                     f"top {n}: {first}": int(in_first[top].sum()),
                     f"top {n}: {second}": int(in_second[top].sum()),
                     f"top {n}: neither": int(n - in_first[top].sum() - in_second[top].sum())})
    table = pd.DataFrame(rows)
    sims = matrix @ mean
    top = np.argsort(-sims, kind="stable")[:n]
    nearest = pd.DataFrame({
        "movie": [item_label(t, y) for t, y in zip(meta["title"].iloc[top], meta["year"].iloc[top],
                                                   strict=True)],
        "genres": [", ".join(g) for g in meta["genres"].iloc[top]],
        "cos to the mean": sims[top],
    })
    mean_row = rows[2]
    facts = {
        "genres": [first, second],
        "n_items": [int(in_first.sum()), int(in_second.sum())],
        "cos_centroids": float(cents[0] @ cents[1]),
        "cos_mean_to_centroids": [float(mean @ cents[0]), float(mean @ cents[1])],
        "median_cos_own_centroid": [rows[0][f"median cos {first} items"],
                                    rows[1][f"median cos {second} items"]],
        "median_cos_mean": [mean_row[f"median cos {first} items"],
                            mean_row[f"median cos {second} items"]],
        "mean_top": [mean_row[f"top {n}: {first}"], mean_row[f"top {n}: {second}"],
                     mean_row[f"top {n}: neither"]],
        "top_n": n,
    }
    return GenrePicture(table, nearest, facts)


def genre_sentences(facts: Mapping[str, Any]) -> list[str]:
    """What :func:`genre_picture` showed, in words computed from its numbers."""
    first, second = facts["genres"]
    own, mean = facts["median_cos_own_centroid"], facts["median_cos_mean"]
    top, n = facts["mean_top"], facts["top_n"]
    lines = []
    for g, o, m in zip((first, second), own, mean, strict=True):
        lines.append(f"{g} items: median cosine {o:.3f} to their own centroid, {m:.3f} to the "
                     f"mean of the two ({'farther' if m < o else 'not farther'})")
    side = (first if top[0] > top[1] else second if top[1] > top[0] else None)
    crowd = (f"mostly {side}" if side and max(top[:2]) > n / 2 else "mixed")
    lines.append(f"the mean's {n} nearest items: {top[0]} {first}, {top[1]} {second}, {top[2]} "
                 f"neither ({crowd})")
    return lines


# ------------------------------------------------------------------------------------------
# Section 2: a real user with two tastes


def _genre_matrix(item_genres: Sequence[Sequence[str]], names: Sequence[str]) -> np.ndarray:
    index = {g: j for j, g in enumerate(names)}
    out = np.zeros((len(item_genres), len(names)), dtype=bool)
    for r, gs in enumerate(item_genres):
        for g in gs:
            if g in index:
                out[r, index[g]] = True
    return out


def taste_pairs(split: Split, item_vectors: ItemVectors, min_each: int = 10,
                threshold: float = mi.DEFAULT_THRESHOLD,
                users: Sequence[Any] | None = None) -> pd.DataFrame:
    """Users ranked by how clearly their training history has two tastes.

    For every user (default: the split's users with held-out items) and every pair of genres
    (a, b), the user's positive training events on items of a and not b form one group, those of
    b and not a the other. A pair counts when both groups have ``min_each`` events or more. It
    is **far** when the cosine between the groups' mean item vectors is below ``threshold``
    (``interest_threshold``: the cosine under which the service starts a new interest, so two
    tastes it should tell apart), and its **balance** is the smaller group's share of all the
    user's positive events (both tastes are a real part of the history). Each user keeps their
    best pair (far first, then the larger balance); users are ranked the same way.

    Returns:
        One row per user with a counting pair, best first: user_id, genre_a, genre_b (the
        larger group first), n_a, n_b, n_events, balance, cos, far.
    """
    ids = np.asarray(item_vectors.item_ids, dtype=np.int64)
    row = pd.Series(np.arange(len(ids)), index=ids)
    matrix = np.asarray(item_vectors.vectors, dtype=np.float64)
    items = split.items.set_index("item_id")["genres"].reindex(ids)
    names = sorted({g for gs in items.dropna() for g in gs})
    genre = _genre_matrix([gs if isinstance(gs, list) else [] for gs in items], names)
    pool = split.relevant()[0] if users is None else np.asarray(users)
    train = split.train[(split.train["kind"] != "not_interested")
                        & split.train["user_id"].isin(pool) & split.train["item_id"].isin(ids)]
    out = []
    upper = np.triu(np.ones((len(names), len(names)), dtype=bool), 1)
    for user, events in train.groupby("user_id", sort=True):
        r = row[events["item_id"].to_numpy()].to_numpy()
        g = genre[r].astype(np.float64)
        only = g[:, :, None] * (1.0 - g[:, None, :])  # only[e, a, b]: event e in a and not b
        counts = only.sum(axis=0)
        ok = (np.minimum(counts, counts.T) >= min_each) & upper
        if not ok.any():
            continue
        sums = np.einsum("eab,ed->abd", only, matrix[r])
        a, b = np.nonzero(ok)
        va, vb = sums[a, b], sums[b, a]
        cos = np.einsum("pd,pd->p", va, vb) / (np.linalg.norm(va, axis=1)
                                               * np.linalg.norm(vb, axis=1))
        balance = np.minimum(counts[a, b], counts[b, a]) / len(r)
        best = int(np.lexsort((-balance, ~(cos < threshold)))[0])
        first, second = (a[best], b[best]) if counts[a[best], b[best]] >= \
            counts[b[best], a[best]] else (b[best], a[best])
        out.append({"user_id": int(user), "genre_a": names[first], "genre_b": names[second],
                    "n_a": int(counts[first, second]), "n_b": int(counts[second, first]),
                    "n_events": len(r), "balance": float(balance[best]),
                    "cos": float(cos[best]), "far": bool(cos[best] < threshold)})
    columns = ["user_id", "genre_a", "genre_b", "n_a", "n_b", "n_events", "balance", "cos",
               "far"]
    table = pd.DataFrame(out, columns=columns)
    return table.sort_values(["far", "balance", "user_id"], ascending=[False, False, True],
                             kind="stable").reset_index(drop=True)


def pick_user(config: MultiInterestConfig, split: Split, pairs: pd.DataFrame) -> dict[str, Any]:
    """The user of sections 2 and 4 and their two tastes: ``config.user`` or the first of
    :func:`taste_pairs`, as the row of that table (a dict).

    Raises:
        ValueError: no user has two genre groups of ``min_taste_events``; a ``USER`` without
            held-out items or without such a pair (valid ids named).
    """
    if config.user is None:
        if pairs.empty:
            raise ValueError(f"no user has two genre groups of MIN_TASTE_EVENTS="
                             f"{config.min_taste_events} events or more; lower it")
        return pairs.iloc[0].to_dict()
    candidates = split.relevant()[0]
    if config.user not in set(candidates.tolist()):
        raise ValueError(f"USER={config.user!r} has no held-out events to compare with; use one "
                         f"of the evaluated users, e.g. {candidates[:5].tolist()}, or None")
    found = pairs[pairs["user_id"] == config.user]
    if found.empty:
        raise ValueError(f"USER={config.user!r} has no two genre groups of MIN_TASTE_EVENTS="
                         f"{config.min_taste_events} events; use one of "
                         f"{pairs['user_id'].head(5).tolist()}, lower MIN_TASTE_EVENTS, or None")
    return found.iloc[0].to_dict()


_SERVICES: list[Recommender] = []


def open_service(exp: Experiment, user: int, interests: int = 1,
                 **params: Any) -> tuple[Recommender, IngestReport]:
    """A service on the experiment's store (its items, the package defaults, ``interests``
    per user) that ingests ``user``'s training events: what ``Recommender.from_dataset(train,
    interests=...)`` builds, without indexing the items again.

    The experiment's measurements open the same store: close the service first. A service this
    function opened before in this process (an earlier cell or run) is closed first, so
    re-running the notebook does not find its own store locked.
    """
    close_services()
    rec = exp.recommender(interests=interests, **params)
    _SERVICES.append(rec)
    train = exp.split.train
    return rec, rec.ingest(train[train["user_id"] == user])


def close_services() -> None:
    """Close every service :func:`open_service` opened (idempotent)."""
    while _SERVICES:
        _SERVICES.pop().close()


def held_out(split: Split, user: int) -> set[int]:
    """The user's held-out items to find (positive test events, training items removed)."""
    users, relevant = split.relevant("positive")
    found = [r for u, r in zip(users, relevant, strict=True) if int(u) == int(user)]
    return {int(i) for i in found[0]} if found else set()


def taste_of(genres: Any, tastes: Sequence[str]) -> str:
    """Which of the user's two tastes an item's genres (a list, or "A|B" as the store keeps
    them) belong to: one genre, "both" or ""."""
    listed = parse_genres(genres)
    mine = [t for t in tastes if t in listed]
    return "both" if len(mine) == 2 else (mine[0] if mine else "")


def list_frame(top: pd.DataFrame, tastes: Sequence[str], held: set[int]) -> pd.DataFrame:
    """A ``recommend`` frame as people read it: movie, genres, the user's taste it belongs to
    (:func:`taste_of`), score, the interest behind it (with several interests) and "held out"
    (the user watched it later)."""
    out = pd.DataFrame({
        "movie": [item_label(t, y) for t, y in zip(top["title"], top["year"], strict=True)],
        "genres": [", ".join(parse_genres(g)) for g in top["genres"]],
        "taste": [taste_of(g, tastes) for g in top["genres"]],
        "score": top["score"].to_numpy(dtype=np.float64),
    })
    if "interest" in top.columns:
        out["interest"] = top["interest"].to_numpy()
    out["held out"] = ["yes" if int(i) in held else "" for i in top["item_id"]]
    return out


def side_by_side(one: pd.DataFrame, several: pd.DataFrame, tastes: Sequence[str],
                 held: set[int], k: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The one-interest list next to the ``k``-interest list (each :func:`list_frame`), and
    what differs: shared items, items of each taste, held-out items found, the interests used.
    """
    a, b = list_frame(one, tastes, held), list_frame(several, tastes, held)
    frame = pd.concat({"one interest (k=1)": a, f"several interests (k={k})": b}, axis=1)

    def tally(f: pd.DataFrame) -> dict[str, int]:
        return {t: int((f["taste"] == t).sum()) for t in (*tastes, "both", "")}

    stats = {
        "shared": len(set(one["item_id"]) & set(several["item_id"])),
        "tastes_one": tally(a),
        "tastes_several": tally(b),
        "hits_one": int((a["held out"] == "yes").sum()),
        "hits_several": int((b["held out"] == "yes").sum()),
        "interests_used": sorted(int(i) for i in set(several["interest"])),
        "per_interest": {int(i): int(c) for i, c in
                         several["interest"].value_counts().sort_index().items()},
    }
    return frame, stats


def interest_table(rec: Recommender, user: int, tastes: Sequence[str],
                   n_genres: int = 3) -> pd.DataFrame:
    """Each of the user's interests (``rec.interests(user)``): weight and its share, events
    assigned since it was created, its cosine to the mean item vector of each of the user's two
    taste groups (positive events on items of one taste and not the other) and the closer of
    the two, and the top genres of the history items nearest to it (every positive event's item
    goes to the interest with the highest cosine)."""
    state = rec.interests(user)
    history = rec.history(user)
    history = history[history["kind"] != "not_interested"]
    ids = history["item_id"].astype(int).to_numpy()
    matrix = np.stack([rec.item_vector(i) for i in ids]).astype(np.float64)
    nearest = np.argmax(matrix @ state.vectors.T.astype(np.float64), axis=1)
    genres = [parse_genres(rec.items.loc[i, "genres"]) for i in ids]
    groups = {t: [r for r, g in enumerate(genres) if taste_of(g, tastes) == t] for t in tastes}
    rows = []
    for i in range(state.m):
        mine = [genres[r] for r in np.flatnonzero(nearest == i)]
        row: dict[str, Any] = {"interest": i, "weight": float(state.weights[i]),
                               "weight share": float(state.weights[i] / state.weights.sum()),
                               "events assigned": int(state.counts[i])}
        cosines = {t: (float(vectors.average(matrix[members]) @ state.vectors[i])
                       if members else float("nan")) for t, members in groups.items()}
        for t, c in cosines.items():
            row[f"cos {t} events"] = c
        known = {t: c for t, c in cosines.items() if c == c}
        row["closer taste"] = max(known, key=known.get) if known else ""
        row["nearest history items"] = len(mine)
        row["their top genres"] = ", ".join(top_genres(mine, n_genres)) if any(mine) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def interest_labels(table: pd.DataFrame) -> dict[int, str]:
    """A short name per interest from :func:`interest_table`: its closer taste and cosine."""
    out = {}
    for r in table.to_dict("records"):
        taste = r["closer taste"]
        out[int(r["interest"])] = f"{taste} ({r[f'cos {taste} events']:.2f})" if taste else ""
    return out


def explain_each(rec: Recommender, user: int, top: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """``rec.explain`` of the first item of the list from each interest: the ``n`` events of
    the interest whose search placed it (the list's ``interest`` column) that most support it."""
    firsts = top.drop_duplicates("interest")
    frames = [rec.explain(user, int(item), n=n, interest=int(i)).assign(
        recommended=item_label(title, year))
        for item, i, title, year in zip(firsts["item_id"], firsts["interest"], firsts["title"],
                                        firsts["year"], strict=True)]
    why = pd.concat(frames, ignore_index=True)
    why["movie"] = [item_label(t, y) for t, y in zip(why["title"], why["year"], strict=True)]
    return why[["recommended", "interest", "movie", "kind", "similarity", "weight",
                "contribution"]]


# ------------------------------------------------------------------------------------------
# Section 3: k x merge on both protocols (shared with benchmarks/multi_interest.py)

Measurable = Experiment | RollingExperiment


class Grid(NamedTuple):
    """:func:`measure_grid`'s results: k = 1 and every (k, merge, diversity) with k > 1, and the
    seconds each measurement took (by label; about 0 for one measured before: memoized)."""

    one: EvaluationResult
    runs: list[tuple[int, str, float, EvaluationResult]]
    seconds: dict[str, float]


def label(k: int, merge: str | None = None, diversity: float | None = None) -> str:
    """The name of a configuration in tables and records: "k=1", "k=3, score" (the diversity
    is added when it is not the package default)."""
    if k == 1:
        return "k=1"
    text = f"k={k}, {merge}"
    if diversity is not None and diversity != mi.DEFAULT_DIVERSITY:
        text += f", diversity={diversity:g}"
    return text


def measure_grid(exp: Measurable, ks: Sequence[int], merges: Sequence[str],
                 diversities: Sequence[float] = (mi.DEFAULT_DIVERSITY,),
                 threshold: float = mi.DEFAULT_THRESHOLD, **fixed: Any) -> Grid:
    """k = 1 (one interest, the technique as written) and every (k > 1, merge, diversity) on
    the experiment's users, each through ``exp.measure`` (bulk ``ingest`` and ``recommend`` of
    the product, seen items excluded; memoized). ``exp`` is an
    :class:`~recsys_nb.experiment.Experiment` (one split) or a
    :class:`~recsys_nb.rolling_experiment.RollingExperiment` (every cut-off, pooled): the same
    call. ``fixed``: other ``measure`` keywords every configuration shares (e.g. ``embedding``,
    ``dim``)."""
    seconds: dict[str, float] = {}

    def timed(name: str, **params: Any) -> EvaluationResult:
        t0 = time.perf_counter()
        result = exp.measure(name, **fixed, **params)
        seconds[name] = round(time.perf_counter() - t0, 2)
        return result

    one = timed(label(1), interests=1)
    runs = []
    for k in sorted(set(ks)):
        if k == 1:
            continue
        for merge in merges:
            for diversity in diversities:
                runs.append((k, merge, float(diversity), timed(
                    label(k, merge, diversity), interests=k, merge=merge,
                    diversity=float(diversity), interest_threshold=threshold)))
    return Grid(one, runs, seconds)


def _counts(exp: Experiment, k: int, threshold: float, fixed: Mapping[str, Any]) -> list[int]:
    """Interests per scored user after ingesting the scored users' training events with
    ``interests=k`` (0 for a user with only not-interested events)."""
    users = exp.split.relevant()[0]
    train = exp.split.train
    with exp.recommender(interests=k, interest_threshold=threshold, **fixed) as rec:
        rec.ingest(train[train["user_id"].isin(users)])
        out = []
        for u in users:
            try:
                out.append(rec.interests(u.item() if hasattr(u, "item") else u).m)
            except KeyError:  # only not-interested events: no interest
                out.append(0)
    return out


def interest_counts(exp: Measurable, ks: Sequence[int], threshold: float = mi.DEFAULT_THRESHOLD,
                    **fixed: Any) -> dict[int, tuple[float, float]]:
    """For each k > 1: (share of the scored users, or (cut-off, user) pairs, with more than one
    interest; mean interests per user), after the same bulk ingest as the measurement
    (``fixed``: the same ``embedding`` / ``dim`` / parameters as :func:`measure_grid`'s). One
    ingest per k: see :func:`interest_share` for the share alone, in one ingest."""
    parts = exp.experiments if isinstance(exp, RollingExperiment) else [exp]
    out = {}
    for k in sorted(set(ks)):
        if k == 1:
            continue
        m = [c for e in parts for c in _counts(e, k, threshold, fixed)]
        out[k] = (sum(x > 1 for x in m) / len(m), sum(m) / len(m))
    return out


def interest_share(exp: Measurable, threshold: float = mi.DEFAULT_THRESHOLD,
                   **fixed: Any) -> float:
    """The share of the scored users (or pairs) with more than one interest, for **every**
    k > 1, from one ingest with ``interests=2``.

    It does not depend on k: until a user's first event far from their only interest, the
    replay is the same for every k > 1 (k only matters once k interests exist), and that event
    starts a second interest whatever k is; interests are replaced, never removed. So the share
    needs one ingest, where :func:`interest_counts` (the mean number of interests too) needs one
    per k.
    """
    return interest_counts(exp, [2], threshold, **fixed)[2][0]


def grid_table(grid: Grid, counts: Mapping[int, tuple[float, float]] | float,
               metrics: Sequence[str] = ("recall@50", "ndcg@10", "coverage@50"),
               paired: Sequence[str] | None = None,
               tolerance: float = 0.005) -> pd.DataFrame:
    """One row per configuration: k, merge, diversity, users (or pairs) scored, share of them
    with more than one interest and mean interests (``counts``: :func:`interest_counts`, or the
    share alone, :func:`interest_share`: then no mean), the ``metrics`` and, for k > 1 and each
    ``paired`` metric (default: the first two), the paired difference to k = 1 (mean, 95 %
    interval) and the verdict on :data:`CLAIM` ("holds" / "does not hold" / "no measurable
    effect", :func:`recsys_nb.evaluate.verdict_table` with ``tolerance``); seconds measured."""
    paired = list(metrics[:2] if paired is None else paired)
    one = grid.one
    rows = [{"configuration": label(1), "k": 1, "merge": None, "diversity": None,
             "users": len(one.users), "share >1 interest": 0.0, "mean interests": 1.0,
             **{m: float(one[m]) for m in metrics},
             "seconds": grid.seconds.get(label(1), math.nan)}]
    for k, merge, diversity, result in grid.runs:
        share, mean = ((float(counts), math.nan) if isinstance(counts, int | float) else
                       counts.get(k, (math.nan, math.nan)))
        rows.append({"configuration": label(k, merge, diversity), "k": k, "merge": merge,
                     "diversity": diversity, "users": len(result.users),
                     "share >1 interest": share, "mean interests": mean,
                     **{m: float(result[m]) for m in metrics},
                     "seconds": grid.seconds.get(label(k, merge, diversity), math.nan)})
    table = pd.DataFrame(rows)
    claims = {label(k, merge, d): (r, one) for k, merge, d, r in grid.runs}
    for metric in paired:
        v = verdict_table(claims, metric, tolerance, WORDS) if claims else pd.DataFrame(
            columns=["claim", "diff", "ci_low", "ci_high", "verdict"])
        by = v.set_index("claim") if len(v) else v
        for col, src in (("delta", "diff"), ("low", "ci_low"), ("high", "ci_high"),
                         ("verdict", "verdict")):
            table[f"{col} {metric}"] = [None if c not in claims else by.loc[c, src]
                                        for c in table["configuration"]]
    return table


def shown(table: pd.DataFrame, metrics: Sequence[str], paired: Sequence[str]) -> pd.DataFrame:
    """The grid table as people read it: values rounded, each paired difference as
    ``+0.0123 [-0.0040, +0.0290]``, "-" for k = 1."""
    out = table[["configuration", "users"]].copy()
    out["share >1 interest"] = [f"{v:.0%}" if v == v else "-" for v in table["share >1 interest"]]
    if table.loc[table["k"] > 1, "mean interests"].notna().any():
        out["mean interests"] = table["mean interests"].round(2)
    for m in metrics:
        out[m] = table[m].round(4)
    for m in paired:
        out[f"Δ {m} vs k=1 [95%]"] = [
            "-" if d is None or d != d else f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            for d, lo, hi in zip(table[f"delta {m}"], table[f"low {m}"], table[f"high {m}"],
                                 strict=True)]
        out[f"verdict {m}"] = table[f"verdict {m}"].fillna("-")
    out["seconds"] = table["seconds"].round(1)
    return out


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub markdown table (no extra dependency); floats as they are (:func:`shown`
    rounded them)."""
    def cell(v: object) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def grid_record(table: pd.DataFrame, metrics: Sequence[str],
                paired: Sequence[str]) -> dict[str, Any]:
    """The numbers the notebook records about one protocol's table (the tests read them):
    per configuration its k, merge, users, interest share, metrics and, for k > 1, each paired
    metric's ``[delta, low, high]`` and verdict; the verdict counts per paired metric and the
    best configuration by the first paired metric."""
    rows = {}
    for r in table.to_dict("records"):
        merge = r["merge"] if isinstance(r["merge"], str) else None
        row = {"k": int(r["k"]), "merge": merge, "users": int(r["users"]),
               "share_multi": round(float(r["share >1 interest"]), 4),
               **{m: round(float(r[m]), 4) for m in metrics}}
        if r["mean interests"] == r["mean interests"]:  # not NaN: counted per k
            row["mean_interests"] = round(float(r["mean interests"]), 4)
        for m in paired:
            if r["k"] > 1:
                row[f"delta {m}"] = [round(float(r[f"{c} {m}"]), 5) for c in
                                     ("delta", "low", "high")]
                row[f"verdict {m}"] = r[f"verdict {m}"]
        rows[r["configuration"]] = row
    several = table[table["k"] > 1]
    out: dict[str, Any] = {"rows": rows}
    for m in paired:
        counts = several[f"verdict {m}"].value_counts()
        out[f"verdict_counts {m}"] = {w: int(counts.get(w, 0)) for w in WORDS}
    first = paired[0]
    best = table.sort_values(first, ascending=False, kind="stable").iloc[0]
    out["best"] = best["configuration"]
    out["best_beats_one"] = bool(best["k"] > 1 and best[first] > table.iloc[0][first])
    return out


def summary_lines(recorded: Mapping[str, Mapping[str, Any]], config: MultiInterestConfig
                  ) -> list[str]:
    """What the measurements showed, per protocol, in words computed from the recorded tables
    (never typed in): per paired metric how many configurations the claim holds / does not
    hold / shows no measurable effect for, which ones it holds for, the best configuration,
    and the conclusion."""
    lines = []
    paired = (config.recall, config.ndcg)
    for protocol, rec in recorded.items():
        rows = rec["rows"]
        one = rows[label(1)]
        several = {name: r for name, r in rows.items() if r["k"] > 1}
        lines.append(f"{protocol}: k=1 {config.recall} {one[config.recall]:.4f}, "
                     f"{config.ndcg} {one[config.ndcg]:.4f}, {config.coverage} "
                     f"{one[config.coverage]:.4f} ({one['users']} "
                     f"{'users' if protocol == 'temporal' else '(cut-off, user) pairs'})")
        for m in paired:
            c = rec[f"verdict_counts {m}"]
            holds = [name for name, r in several.items() if r[f"verdict {m}"] == WORDS[0]]
            lines.append(f"  {m}: '{CLAIM}' {WORDS[0]} for {c[WORDS[0]]}, {WORDS[1]} for "
                         f"{c[WORDS[1]]}, {WORDS[2]} for {c[WORDS[2]]} of {len(several)} "
                         "configurations" + (f" ({', '.join(holds)})" if holds else ""))
        if several:
            shares = [r["share_multi"] for r in several.values()]
            spread = (f"{min(shares):.0%} for every k > 1" if min(shares) == max(shares) else
                      f"{min(shares):.0%} to {max(shares):.0%} across k > 1")
            lines.append(f"  users with more than one interest: {spread}")
        best = rec["best"]
        lines.append(f"  best {config.recall}: {best}"
                     + ("" if best == label(1) else
                        f" ({rows[best][f'delta {config.recall}'][0]:+.4f} vs k=1, "
                        f"{rows[best][f'verdict {config.recall}']})"))
    wins = [(p, name) for p, rec in recorded.items() for name, r in rec["rows"].items()
            if r["k"] > 1 and r.get(f"verdict {config.recall}") == WORDS[0]]
    both = set(recorded) == set(PROTOCOLS) and all(
        any(p == q for q, _ in wins) for p in PROTOCOLS)
    if both:
        lines.append(f"=> several interests beat one on {config.recall} measurably on both "
                     "protocols: worth turning on (interests=k)")
    elif wins:
        lines.append(f"=> several interests beat one on {config.recall} measurably only on "
                     f"{', '.join(sorted({p for p, _ in wins}))}: not a robust gain; the package "
                     "keeps interests=1 as the default")
    else:
        lines.append(f"=> no configuration with several interests beat one on {config.recall} "
                     "measurably on these users: the package keeps interests=1 as the default; "
                     "several interests are a diversity knob, not an accuracy gain here")
    return lines
