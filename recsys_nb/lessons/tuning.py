"""Notebook 06's machinery: the evaluation report's parameters and its measurements.

The report measures every claim of the technique on one protocol, the temporal per-user split
(:func:`recsys_nb.evaluate.temporal_split`): each scored user's most recent events are held out.
This module holds what the notebook would otherwise carry in long cells:

- :class:`TuningConfig`: the report's parameters (the notebook's names, ``FULL``, ``N_USERS``,
  the grids...) checked in one go, with the fast and full presets; every problem is named in one
  ``ValueError("invalid parameters: ...")`` before any work.
- functions that take an :class:`~recsys_nb.experiment.Experiment` (one split, memoized
  configurations) and the config, and return :class:`~recsys_nb.evaluate.EvaluationResult` objects
  and tables: baselines, the default through ``from_dataset``, embeddings with and without the
  popularity prior, sweeps, the ablation, cold start, the claims and their verdicts, the summary.

A second protocol (e.g. rolling leak-free cut-offs) plugs in by building its own splits and
Experiment and calling the same measuring functions.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.data import Dataset
from recsys_nb.embeddings import EMBEDDING_NAMES
from recsys_nb.evaluate import (
    BASELINES,
    SWEEP_SPACE,
    EvaluationResult,
    Split,
    evaluate,
    temporal_split,
    verdict_table,
)
from recsys_nb.experiment import Experiment
from recsys_nb.parameters import (
    BOOL,
    FOLDER,
    Rule,
    check_lists,
    check_values,
    choice,
    integer,
    number,
    optional,
    raise_problems,
)
from recsys_nb.recommender import (
    DEFAULT_DIMS,
    DEFAULT_EMBEDDING,
    DEFAULT_PARAMS,
    DEFAULT_TEXT_WEIGHT,
    Recommender,
)
from recsys_nb.store import StoreLock, notebook_store, reset_store
from recsys_nb.vectors import WRITEUP_WINDOW

# ------------------------------------------------------------------------------ parameters

#: The grids of the fast run (the notebook's defaults) and of the full report (``FULL=True``).
FAST = {"EMBEDDINGS": ["blend", "collaborative", "minilm"],
        "DIMS": [DEFAULT_DIMS["collaborative"]],
        "ALPHA_VIEW_GRID": [0.1, 0.3, 0.6], "ALPHA_FAVORITE_GRID": [0.3],
        "FACTOR_GRID": [0.0, 1.0], "POPULARITY_WEIGHT_GRID": [0.0, 0.3], "WINDOW_GRID": [20],
        "COLD_START_EVENTS": [1, 5], "BASELINES": ["popularity", "trending", "itemknn"]}
FULL_RUN = {"EMBEDDINGS": ["blend", "collaborative", "minilm", "hybrid"], "DIMS": [32, 64, 128],
            "ALPHA_VIEW_GRID": [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0],
            "ALPHA_FAVORITE_GRID": [0.1, 0.3, 0.5, 0.7, 1.0],
            "FACTOR_GRID": [0.0, 0.1, 0.3, 0.5, 1.0, 2.0],
            "POPULARITY_WEIGHT_GRID": [0.0, 0.3, 0.65, 1.0, 1.5, 2.0, 3.0],
            "WINDOW_GRID": [4, 6, 10, 20, 40], "COLD_START_EVENTS": [1, 2, 3, 5, 10],
            "BASELINES": ["popularity", "trending", "itemknn", "rp3beta", "ease",
                          "ease_trending"]}

#: The notebook's parameters and their defaults (a grid left at None takes the preset's).
DEFAULTS: dict[str, Any] = {
    "FULL": False, "N_USERS": 100, "MIN_EVENTS": 5, "TEST_FRACTION": 0.2, "K": [10, 50],
    **dict.fromkeys(FAST), "ROLLING_MONTHS": None, "TOLERANCE": 0.005, "SEED": 0,
    "STORE_DIR": None}
#: Months between two cut-offs of the leak-free protocol, fast run / full report.
ROLLING_MONTHS = {"fast": 96, "full": 6}

#: Single values: name -> rule.
VALUE_RULES: dict[str, Rule] = {
    "FULL": BOOL,
    "N_USERS": optional(integer(1)),
    "MIN_EVENTS": integer(2),
    "TEST_FRACTION": number(0, 1, open_low=True, open_high=True),
    "ROLLING_MONTHS": optional(integer(1)),
    "TOLERANCE": (number(0)[0], "a number >= 0, e.g. 0.005"),
    "SEED": integer(0),
    "STORE_DIR": FOLDER,
}
#: Lists: name -> the rule every value must pass.
LIST_RULES: dict[str, Rule] = {
    "K": integer(1),
    "EMBEDDINGS": choice(EMBEDDING_NAMES),
    "DIMS": SWEEP_SPACE["dim"],
    "ALPHA_VIEW_GRID": SWEEP_SPACE["alpha_view"],
    "ALPHA_FAVORITE_GRID": SWEEP_SPACE["alpha_favorite"],
    "FACTOR_GRID": SWEEP_SPACE["not_interested_factor"],
    "POPULARITY_WEIGHT_GRID": SWEEP_SPACE["popularity_weight"],
    "WINDOW_GRID": SWEEP_SPACE["window"],
    "COLD_START_EVENTS": integer(1),
    "BASELINES": choice(BASELINES),
}
#: Each sweep: the recommender parameter (or momentum keyword) -> the notebook's grid.
SWEEPS = {"alpha_view": "ALPHA_VIEW_GRID", "alpha_favorite": "ALPHA_FAVORITE_GRID",
          "not_interested_factor": "FACTOR_GRID", "popularity_weight": "POPULARITY_WEIGHT_GRID",
          "window": "WINDOW_GRID"}
#: The momentum window of the original write-up: ``predict_interest``'s default.
#: Each sweep's default value, marked in the plots and always added to the grid.
SWEEP_DEFAULTS = {**DEFAULT_PARAMS, "window": WRITEUP_WINDOW}


@dataclass(frozen=True)
class TuningConfig:
    """The report's parameters, checked (build it with :meth:`from_parameters`).

    Attributes:
        full: the full report (all users, the full grids).
        n_users: users scored (a random sample seeded by ``seed``); None: all of them.
        cutoffs: metric cut-offs K, ascending; the verdicts compare recall at the largest.
        grids: each sweep's values, the package default included.
        (the others are the notebook's parameters of the same name)
    """

    full: bool
    n_users: int | None
    min_events: int
    test_fraction: float
    cutoffs: tuple[int, ...]
    embeddings: tuple[str, ...]
    dims: tuple[int, ...]
    grids: dict[str, list] = field(repr=False)
    cold_start_events: tuple[int, ...]
    baselines: tuple[str, ...]
    tolerance: float
    seed: int
    store_dir: str | None = None
    rolling_months: int = ROLLING_MONTHS["fast"]

    @classmethod
    def from_parameters(cls, **parameters: Any) -> TuningConfig:
        """Check the notebook's parameters (``FULL=..., N_USERS=..., K=...``; omitted ones take
        :data:`DEFAULTS`), fill each grid left at None from the fast or full preset.

        Raises:
            ValueError: ``"invalid parameters: ..."`` naming every problem at once: the
                parameter, its value and what a valid value is.
        """
        unknown = [name for name in parameters if name not in DEFAULTS]
        p = {**DEFAULTS, **{k: v for k, v in parameters.items() if k in DEFAULTS}}
        problems = [f"unknown parameter(s) {unknown}; known: {list(DEFAULTS)}"] if unknown else []
        problems += check_values({n: p[n] for n in VALUE_RULES}, VALUE_RULES)
        preset = FULL_RUN if p["FULL"] is True else FAST
        given = {n: preset[n] if p.get(n) is None and n in preset else p[n] for n in LIST_RULES}
        lists, list_problems = check_lists(given, LIST_RULES)
        problems += list_problems
        if "BASELINES" in lists and "popularity" not in lists["BASELINES"]:
            problems.append(f"BASELINES={lists['BASELINES']} must include 'popularity': the "
                            "verdicts compare with it (it costs < 1 s)")
        raise_problems(problems)
        grids = {param: sorted(set(lists[name]) | {SWEEP_DEFAULTS[param]})
                 for param, name in SWEEPS.items()}
        return cls(full=p["FULL"], n_users=None if p["FULL"] else p["N_USERS"],
                   min_events=p["MIN_EVENTS"], test_fraction=p["TEST_FRACTION"],
                   cutoffs=tuple(sorted(lists["K"])), embeddings=tuple(lists["EMBEDDINGS"]),
                   dims=tuple(lists["DIMS"]), grids=grids,
                   cold_start_events=tuple(sorted(lists["COLD_START_EVENTS"])),
                   baselines=tuple(lists["BASELINES"]), tolerance=float(p["TOLERANCE"]),
                   seed=p["SEED"],
                   store_dir=None if p["STORE_DIR"] is None else str(p["STORE_DIR"]),
                   rolling_months=p["ROLLING_MONTHS"] or ROLLING_MONTHS[
                       "full" if p["FULL"] is True else "fast"])

    @property
    def kmax(self) -> int:
        return max(self.cutoffs)

    @property
    def kmin(self) -> int:
        return min(self.cutoffs)

    @property
    def metric(self) -> str:
        """What the verdicts compare: recall at the largest cut-off."""
        return f"recall@{self.kmax}"

    def store_path(self) -> Path:
        return notebook_store("06_evaluation_and_tuning", self.store_dir)

    def check_split(self, split: Split) -> None:
        """The checks that need the data: K within the catalogue, SVD sizes below the number of
        training users (same ``invalid parameters`` error)."""
        n_train_users = split.train["user_id"].nunique()
        too_big = [d for d in self.dims if d >= n_train_users]
        problems = [f"K={list(self.cutoffs)} exceeds the catalogue ({split.n_items} items)"] \
            if self.kmax > split.n_items else []
        if too_big:
            problems.append(f"DIMS {too_big} must be < the {n_train_users} training users")
        raise_problems(problems)

    def describe(self) -> str:
        """What this run measures, in a few lines (the notebook prints it)."""
        d = DEFAULT_DIMS[DEFAULT_EMBEDDING]
        size = f"{d} sequence + {d} SVD = {2 * d}-d" if DEFAULT_EMBEDDING == "blend" else f"{d}-d"
        who = "all users" if self.n_users is None else (
            f"a random sample of {self.n_users} users (SEED {self.seed})")
        lines = [f"run: {'FULL' if self.full else 'fast'}; {who}; K={list(self.cutoffs)}; "
                 f"embeddings {list(self.embeddings)} (SVD sizes {list(self.dims)}); "
                 f"baselines {list(self.baselines)}",
                 f"package default: embedding={DEFAULT_EMBEDDING!r} ({size} item vectors), "
                 f"{DEFAULT_PARAMS}",
                 *(f"  sweep {name}: {values}" for name, values in self.grids.items()),
                 f"  cold start with {list(self.cold_start_events)} event(s); tolerance "
                 f"{self.tolerance:g} on {self.metric}",
                 f"  leak-free protocol: a global cut-off every {self.rolling_months} months"]
        return "\n".join(lines)


# ------------------------------------------------------------------------------ the split

_RUN_LOCKS: dict[Path, StoreLock] = {}


def temporal_protocol(config: TuningConfig, dataset: Dataset) -> tuple[Split, Split]:
    """The temporal per-user split and the scored users: ``(split, scored)``, where ``scored``
    is the split restricted to the sample (everybody's training events kept: they teach the
    item vectors, the prior and the baselines). Raises the parameter errors that need data."""
    split = temporal_split(dataset, test_fraction=config.test_fraction,
                           min_events=config.min_events)
    config.check_split(split)
    return split, split.restrict(split.sample(config.n_users, config.seed))


def split_facts(split: Split, scored: Split) -> dict[str, Any]:
    """The sizes a reader checks the split by (named as the notebook records them)."""
    users, relevant = scored.relevant()
    seen = scored.seen(users)
    return {
        "n_users_split": len(split.users),  # users with enough history to be evaluated
        "n_users_skipped": len(split.skipped),  # too little history
        "n_users": len(users),  # scored here
        "n_train_events": len(split.train),  # all users
        "n_test_events": len(split.test),  # all users
        "n_train_events_scored": int(split.train["user_id"].isin(users).sum()),
        "n_items": split.n_items,
        "median_relevant_per_user": float(np.median([len(r) for r in relevant])),
        "relevant_in_training": sum(int(np.isin(r, s).sum())
                                    for r, s in zip(relevant, seen, strict=True)),
    }


def open_experiment(config: TuningConfig, scored: Split, progress: bool = False) -> Experiment:
    """An :class:`Experiment` on the scored users in the report's store folder, emptied first
    and locked for the run (a second run on the same folder fails; a re-run in the same kernel
    takes the lock over). :func:`close_experiment` empties and unlocks it."""
    folder = config.store_path().resolve()
    if folder in _RUN_LOCKS:
        _RUN_LOCKS.pop(folder).release()
    _RUN_LOCKS[folder] = StoreLock(folder)  # lock file folder/.writer.lock: one run per folder
    reset_store(folder)
    return Experiment(scored, config.cutoffs, path=folder, progress=progress)


def close_experiment(exp: Experiment) -> None:
    """Empty the experiment's store folder and release the run's lock."""
    exp.close()
    reset_store(exp.path)
    lock = _RUN_LOCKS.pop(Path(exp.path).resolve(), None)
    if lock is not None:
        lock.release()


# ------------------------------------------------------------------------------ measurements

def measure_baselines(exp: Experiment, config: TuningConfig) -> dict[str, EvaluationResult]:
    """The baselines of ``config`` on the experiment's users: name -> result."""
    return {name: exp.baseline(name) for name in config.baselines}


def best_of(results: Mapping[Any, EvaluationResult], metric: str) -> Any:
    """The key of the result with the highest ``metric``."""
    return max(results, key=lambda k: results[k][metric])


def measure_from_dataset(exp: Experiment, label: str) -> EvaluationResult:
    """The package default exactly as a user builds it: ``Recommender.from_dataset`` on the
    training events of ALL users (its item vectors and prior learn from everybody's past, as in
    the experiment), ingesting the scored users' events; with the exact ranking as well."""
    train = exp.train

    def factory(_scored_train: Dataset, path: Path) -> Recommender:
        return Recommender.from_dataset(train, path, progress=False)

    users = exp.split.users
    t0 = time.perf_counter()
    result = evaluate(factory, exp.split.restrict(users, train_users=users), exp.cutoffs,
                      name=label, exact=True)
    result.row["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def list_overlap(a: EvaluationResult, b: EvaluationResult) -> float:
    """Mean share of each user's list in ``a`` that ``b``'s list for that user also holds."""
    return float(np.mean([np.isin(x[x >= 0], y).mean() for x, y in zip(a.ranked, b.ranked,
                                                                       strict=True)]))


def embedding_specs(config: TuningConfig) -> list[tuple[str, int | None]]:
    """(embedding, size) measured: each SVD size of DIMS, the package's size for the others."""
    return [(name, d) for name in config.embeddings
            for d in (config.dims if name == "collaborative" else [Experiment.dim_for(name)])]


def embedding_label(name: str, dim: int | None) -> str:
    """A readable name: the stored vector's parts and sizes."""
    return {"collaborative": f"collaborative-{dim} (SVD)",
            "blend": f"blend-{dim}+{dim} (sequence + SVD, {2 * (dim or 0)}-d)",
            "hybrid": f"hybrid (text {DEFAULT_TEXT_WEIGHT:g} + collaborative-{dim})",
            }.get(name, "minilm (text)")


def embedding_key(name: str, dim: int | None) -> str:
    """Short name for recorded numbers, e.g. blend64, collaborative32, minilm."""
    return name if dim is None else f"{name}{dim}"


def measure_embeddings(exp: Experiment, config: TuningConfig
                       ) -> dict[tuple[str, int | None, bool], EvaluationResult]:
    """Every embedding of ``config`` with the default prior and without it (pure cosine), the
    exact ranking included: ``(name, dim, prior on?) -> result``."""
    runs = {}
    weight = DEFAULT_PARAMS["popularity_weight"]
    for name, dim in embedding_specs(config):
        for prior in (True, False):
            is_default = prior and name == DEFAULT_EMBEDDING and dim == Experiment.dim_for(name)
            label = (f"{embedding_label(name, dim)}, "
                     + (f"prior {weight:g}" if prior else "no prior")
                     + (" = the default" if is_default else ""))
            runs[(name, dim, prior)] = exp.measure(label, embedding=name, dim=dim, exact=True,
                                                   popularity_weight=weight if prior else 0.0)
    return runs


def embedding_table(exp: Experiment, runs: Mapping[tuple, EvaluationResult]) -> pd.DataFrame:
    """One row per run: its metrics, the stored vector size and the seconds spent embedding."""
    return pd.DataFrame([
        {**r.row, "embedding": embedding_label(name, dim), "prior": prior,
         "stored_dim": exp.vectors(name, dim).vectors.shape[1],
         "embed_s": round(exp.build_seconds(name, dim), 1)}
        for (name, dim, prior), r in runs.items()])


def prior_effect(runs: Mapping[tuple, EvaluationResult], config: TuningConfig) -> pd.DataFrame:
    """Per embedding: recall, NDCG and coverage with the prior and without it."""
    metrics = (config.metric, f"ndcg@{config.kmin}", f"coverage@{config.kmax}")
    return pd.DataFrame([
        {"embedding": embedding_label(name, dim),
         **{f"{m} {side}": runs[(name, dim, prior)][m] for m in metrics
            for side, prior in (("no prior", False), ("prior", True))}}
        for name, dim in dict.fromkeys((n, d) for n, d, _ in runs)])


def run_sweeps(exp: Experiment, config: TuningConfig) -> dict[str, pd.DataFrame]:
    """One parameter at a time around the default: param -> table of value and metrics."""
    columns = [*(f"{m}@{k}" for m in ("recall", "ndcg") for k in config.cutoffs), "mrr",
               f"coverage@{config.kmax}"]
    return {param: exp.sweep(param, values)[[param, *columns]]
            for param, values in config.grids.items()}


def configurations(exp: Experiment, *extra: EvaluationResult) -> pd.DataFrame:
    """Every recommender configuration measured so far (baselines left out), and ``extra``."""
    table = pd.concat([exp.table(), pd.DataFrame([r.row for r in extra])], ignore_index=True)
    return table[table["ingest_s"].notna()].reset_index(drop=True)


# ------------------------------------------------------------------------------ ablation

def ablation_runs(exp: Experiment, config: TuningConfig
                  ) -> dict[str, tuple[EvaluationResult | None, EvaluationResult]]:
    """Each technique with and without it, everything else at the package default. A side is
    None when the grids hold no value to switch the technique on with."""
    av = DEFAULT_PARAMS["alpha_view"]

    def first(values: list, above: float) -> Any:
        return next((v for v in values if v > above), None)

    fav, factor, weight = (DEFAULT_PARAMS[p] if DEFAULT_PARAMS[p] > low else
                           first(config.grids[p], low) for p, low in
                           (("alpha_favorite", av), ("not_interested_factor", 0),
                            ("popularity_weight", 0)))
    m = exp.measure
    plain_mean = {"mode": "predicted", "method": "recent", "window": 10**9, "min_events": 2}
    return {
        "EMA vs plain mean": (
            m("EMA, one alpha, no subtraction", alpha_favorite=av, not_interested_factor=0.0),
            m("plain mean of the history", recommend=plain_mean)),
        "favorites faster": (
            None if fav is None else m(f"alpha_favorite={fav:g}", alpha_favorite=fav),
            m(f"alpha_favorite={av:g}", alpha_favorite=av)),
        "not-interested subtraction": (
            None if factor is None else m(f"not_interested_factor={factor:g}",
                                          not_interested_factor=factor),
            m("not_interested_factor=0", not_interested_factor=0.0)),
        "popularity prior": (
            None if weight is None else m(f"popularity_weight={weight:g}",
                                          popularity_weight=weight),
            m("popularity_weight=0", popularity_weight=0.0)),
        f"momentum (window {WRITEUP_WINDOW})": (
            m(f"momentum window={WRITEUP_WINDOW}",
              recommend={"mode": "predicted", "window": WRITEUP_WINDOW}),
            m(f"default: {DEFAULT_EMBEDDING}")),
    }


def first_events_split(split: Split, n: int) -> Split:
    """``split`` with each scored user's training cut to their first ``n`` events (a new
    user); the other users' training events and every held-out event stay."""
    train = split.train
    rank = train.groupby("user_id", sort=False).cumcount()
    keep = ~train["user_id"].isin(split.users) | (rank < n)
    return dataclasses.replace(split, train=train[keep].reset_index(drop=True))


def measure_cold_start(exp: Experiment, config: TuningConfig
                       ) -> dict[int, tuple[EvaluationResult, EvaluationResult]]:
    """Per number of events kept: (interest vectors, popularity) on that cold-start split."""
    out = {}
    for n in config.cold_start_events:
        cold = exp.on(first_events_split(exp.split, n))
        out[n] = (exp.measure(f"interest vector, first {n} event(s)", on=cold),
                  exp.baseline("popularity", on=cold, label=f"popularity, first {n}"))
    return out


def cold_start_table(cold: Mapping[int, tuple], config: TuningConfig) -> pd.DataFrame:
    m, ndcg = config.metric, f"ndcg@{config.kmin}"
    return pd.DataFrame([{"events kept": n, f"interest {m}": a[m], f"popularity {m}": b[m],
                          f"interest {ndcg}": a[ndcg], f"popularity {ndcg}": b[ndcg],
                          "users": len(a.users)} for n, (a, b) in cold.items()])


def ablation_table(pairs: Mapping[str, tuple], metric: str) -> pd.DataFrame:
    """technique, with, without, on, off: the measured pairs (a missing side left out)."""
    return pd.DataFrame([{"technique": t, "with": a.label, "without": b.label, "on": a[metric],
                          "off": b[metric]} for t, (a, b) in pairs.items() if a is not None])


# ------------------------------------------------------------------------------ verdicts

def claims(exp: Experiment, config: TuningConfig, *, baselines: Mapping[str, EvaluationResult],
           default: EvaluationResult, embeddings: Mapping[tuple, EvaluationResult],
           ablation: Mapping[str, tuple], cold: Mapping[int, tuple]) -> list[tuple]:
    """The claims, each ``(key, claim, its side, the other side, why a side may be missing)``.

    The MiniLM claims use the vectors alone (no prior), as the original write-up described
    them; "blend beats SVD" is asked with the prior on both sides and without it on both; the
    SVD side is the strongest size measured in that setting (the hardest opponent)."""
    def strongest(name: str, prior: bool) -> EvaluationResult | None:
        found = {k: r for k, r in embeddings.items() if k[0] == name and k[2] == prior}
        return found[best_of(found, config.metric)] if found else None

    text, svd_alone, svd_prior = (embeddings.get(("minilm", None, False)),
                                  strongest("collaborative", False),
                                  strongest("collaborative", True))
    blend = "blend" in config.embeddings or DEFAULT_EMBEDDING == "blend"
    d, w = DEFAULT_DIMS["blend"], DEFAULT_PARAMS["popularity_weight"]
    blend_prior = exp.measure(f"blend-{d}+{d}, prior {w:g}", embedding="blend",
                              popularity_weight=w) if blend else None
    blend_alone = exp.measure(f"blend-{d}+{d}, no prior", embedding="blend",
                              popularity_weight=0.0) if blend else None
    no_svd = "collaborative not in EMBEDDINGS" if "collaborative" not in config.embeddings else ""
    n = config.cold_start_events[0]
    best = best_of(baselines, config.metric)
    return [
        ("writeup_text", "the technique as written: interest vectors over MiniLM text "
         "embeddings beat popularity", text, baselines["popularity"], "minilm not in EMBEDDINGS"),
        ("learned_vs_text", "learned (collaborative) item embeddings beat text (MiniLM) "
         "embeddings (pure cosine)", svd_alone, text, "needs collaborative and minilm in "
         "EMBEDDINGS"),
        ("ema", "EMA (recent events weigh more) beats the plain mean of the history",
         *ablation["EMA vs plain mean"], ""),
        ("favorites", "favorites should move interest faster than views",
         *ablation["favorites faster"], "no alpha_favorite above alpha_view measured"),
        ("subtraction", "subtracting not-interested items helps",
         *ablation["not-interested subtraction"], "no positive not_interested_factor measured"),
        ("momentum", f"momentum over the last {WRITEUP_WINDOW} events beats the current "
         "interest", *ablation[f"momentum (window {WRITEUP_WINDOW})"], ""),
        ("cold_start", f"cold start: the first {n} event(s) already beat popular items",
         *cold[n], ""),
        ("popularity_prior", "the popularity prior helps (the default with and without it)",
         *ablation["popularity prior"], "no positive popularity_weight measured"),
        ("blend_vs_svd", "blend (sequence + SVD) vectors beat plain SVD vectors, both with the "
         "prior", blend_prior, svd_prior, no_svd),
        ("blend_vs_svd_no_prior", "blend (sequence + SVD) vectors beat plain SVD vectors "
         "without the prior (pure cosine)", blend_alone, svd_alone, no_svd),
        ("default_vs_popularity", "the package default configuration beats popularity",
         default, baselines["popularity"], ""),
        ("default_vs_best_baseline", f"the package default beats the strongest baseline "
         f"measured ({best})", default, baselines[best], ""),
    ]


def verdicts(claim_list: list[tuple], config: TuningConfig) -> pd.DataFrame:
    """:func:`recsys_nb.evaluate.verdict_table` of the claims, with their keys first."""
    table = verdict_table({c[1]: (c[2], c[3]) for c in claim_list}, config.metric,
                          config.tolerance, missing={c[1]: c[4] for c in claim_list})
    table.insert(0, "key", [c[0] for c in claim_list])
    return table


def verdict_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The verdict rows as plain dicts, numbers rounded to 4 decimals, None where unmeasured."""
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
            for row in rows]


def verdict_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per claim, written from its row: the verdict and the numbers behind it."""
    out = []
    for row in verdict_records(table):
        if row["diff"] is None:
            out.append(f"[{row['verdict']}] {row['claim']} ({row['note']})")
        else:
            out.append(f"[{row['verdict']}] {row['claim']}: {row['on']:.4f} ({row['with']}) vs "
                       f"{row['off']:.4f} ({row['without']}), difference {row['diff']:+.4f} "
                       f"(95 % interval {row['ci_low']:+.4f} to {row['ci_high']:+.4f})")
    return out


def summary_lines(config: TuningConfig, *, leaks: int, baselines: Mapping[str, EvaluationResult],
                  default: EvaluationResult, dim: int, no_prior: EvaluationResult | None,
                  best: pd.Series, verdict_rows: pd.DataFrame) -> list[str]:
    """The report's summary, every number and every verdict read from this run's results
    (``dim``: the size of the default's stored item vectors)."""
    m, ndcg, cov = config.metric, f"ndcg@{config.kmin}", f"coverage@{config.kmax}"
    top = best_of(baselines, m)
    pop = baselines["popularity"]

    def figures(r: EvaluationResult) -> str:
        return f"{m} {r[m]:.4f}, {ndcg} {r[ndcg]:.4f}, {cov} {r[cov]:.4f}"

    lines = [
        f"{len(default.users)} users ("
        f"{'all users' if config.n_users is None else 'a random sample'}),"
        f" temporal split {1 - config.test_fraction:.0%}/{config.test_fraction:.0%}, "
        f"{'no leakage' if leaks == 0 else 'LEAKAGE'} ({leaks} violations)",
        f"popularity {m} {pop[m]:.4f}; strongest baseline {top} {baselines[top][m]:.4f}",
        f"package default ({DEFAULT_EMBEDDING} {dim}-d item vectors, {DEFAULT_PARAMS}): "
        f"{figures(default)}",
    ]
    if no_prior is not None:
        lines.append(f"  the same without the popularity prior: {figures(no_prior)}")
    is_default = np.isclose(best[m], default[m])
    lines.append(f"best configuration measured: {best['model']} ({m} {best[m]:.4f}): "
                 + ("the default's own score" if is_default else
                    f"{best[m] - default[m]:+.4f} over the default, chosen on these test events"))
    return lines + verdict_sentences(verdict_rows)


def plot_sweeps(sweeps: Mapping[str, pd.DataFrame], baselines: Mapping[str, EvaluationResult],
                current: EvaluationResult, config: TuningConfig, title: str = "") -> Any:
    """Each sweep (columns) on recall and NDCG (rows), with the baselines as horizontal lines;
    the momentum window also shows the current interest (no momentum)."""
    import matplotlib.pyplot as plt

    from recsys_nb.plots import plot_sweep

    fig, axes = plt.subplots(2, len(sweeps), figsize=(4 * len(sweeps) + 1, 7.5), sharey="row",
                             squeeze=False)
    for row_axes, metric in zip(axes, [config.metric, f"ndcg@{config.kmin}"], strict=True):
        lines = {name: r[metric] for name, r in baselines.items()}
        for ax, (param, table) in zip(row_axes, sweeps.items(), strict=True):
            extra = {"current interest (no momentum)": current[metric]} if param == "window" \
                else {}
            plot_sweep(table, param, metric, baselines={**lines, **extra},
                       mark=SWEEP_DEFAULTS.get(param), ax=ax,
                       legend=metric == config.metric and param in ("alpha_view", "window"))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_cold_start(table: pd.DataFrame, full_history: EvaluationResult,
                    config: TuningConfig) -> Any:
    """Recall of interest vectors and of popularity against the events kept per new user."""
    import matplotlib.pyplot as plt

    m = config.metric
    _, ax = plt.subplots(figsize=(6, 3.5))
    x = table["events kept"]
    ax.plot(x, table[f"interest {m}"], marker="o", label="interest vector")
    ax.plot(x, table[f"popularity {m}"], marker="s", linestyle="--", color="grey",
            label="popularity")
    ax.axhline(full_history[m], color="tab:blue", linestyle=":", label="full training history")
    ax.set(xticks=list(x), xlabel="training events kept per scored user", ylabel=m,
           title="Cold start: new users")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    return ax
