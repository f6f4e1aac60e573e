"""Notebook 05 (temporal momentum): its parameters, its toy, its service and its measurements.

Step 6 of the technique searches with a *predicted* interest,
``normalize(a2 + w (a2 - a1))`` over the user's last ``window`` positive events
(``Recommender.predict_interest``; the math is ``vectors.predict_from_window``). The notebook
explains it and measures it; this module holds the machinery so that each step of the lesson is
one call:

- :class:`MomentumConfig` checks the report's parameters (every problem named at once, with the
  value and the fix) and says which configurations to measure: the current interest, and each
  variant of the prediction at each window, as ``recommend`` keywords.
- :func:`toy_estimates` / :func:`toy_noise_errors`: the 2-D picture of section 1.
- :func:`scored_users`, :func:`open_service`: the users of the run and the service that answers
  them, on the store of a :class:`recsys_nb.experiment.Experiment` (items indexed once).
- :func:`window_table`, :func:`two_lists`, :func:`closeness`, :func:`scrubber_check`: one user's
  window and lists, every sampled user's vectors against their held-out items, the widget checked
  against the service.
- :meth:`MomentumConfig.configurations` gives each configuration's ``recommend`` keywords for
  ``Experiment.measure`` (``evaluate`` with ``recommend={"mode": "predicted", ...}``);
  :func:`verdicts` compares each with the current interest on the same users
  (``paired_difference`` / ``verdict_table``), and :func:`summary_lines` says what the run
  showed, in words computed from those verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import trajectories, vectors
from recsys_nb.evaluate import EvaluationResult, Split, verdict_table
from recsys_nb.experiment import Experiment
from recsys_nb.parameters import (
    FOLDER,
    CutoffMetrics,
    Rule,
    check_lists,
    check_values,
    choice,
    integer,
    number,
    optional,
    raise_problems,
)
from recsys_nb.recommender import IngestReport, Recommender
from recsys_nb.store import notebook_store
from recsys_nb.vectors import MIN_WINDOW_EVENTS, WRITEUP_WINDOW  # noqa: F401 - read by notebook 05
from recsys_nb.widgets import MomentumScrubber, item_label

#: verdict words of this lesson: (the prediction wins, it loses, neither)
WORDS = ("helps", "hurts", "no measurable effect")

#: the variants of the prediction, as ``predict_interest`` / ``recommend(mode="predicted")``
#: keywords (the damped weight is a parameter, see :meth:`MomentumConfig.specs`)
VARIANTS = ("momentum", "damped", "recent", "time_weighted")

#: the rule of every single-valued parameter of the notebook
RULES: dict[str, Rule] = {
    "N_USERS": (optional(integer(1))[0],
                "None (every user) or an integer >= 1 (a random sample of that size)"),
    "MIN_EVENTS": integer(2),
    "TEST_FRACTION": number(0, 1, open_low=True, open_high=True),
    "DAMPED_WEIGHT": number(0, 1, open_high=True),
    "TOLERANCE": number(0),
    "USER": optional(integer(1)),
    "TOP_N": integer(1),
    "NEXT_K": integer(1),
    "SEED": integer(0),
    "STORE_DIR": FOLDER,
}
#: the rule of each value of the list parameters
LIST_RULES: dict[str, Rule] = {
    "K": integer(1),
    "WINDOWS": integer(2),
    "VARIANTS": choice(VARIANTS),
}


@dataclass(frozen=True)
class MomentumConfig(CutoffMetrics):
    """The checked parameters of notebook 05 (build it with :meth:`from_parameters`).

    Attributes:
        n_users: users scored (a random sample seeded by ``seed``); None = every user with
            held-out items.
        min_events, test_fraction: the temporal split.
        cutoffs: metric cut-offs K, sorted; ``recall`` is ``recall@max(K)``, ``ndcg`` is
            ``ndcg@min(K)``.
        windows: momentum windows measured, sorted; variants: the variants measured.
        damped_weight: weight of the "damped" variant (the write-up's momentum has 1.0).
        tolerance: smallest difference a verdict counts as an effect.
        user: the user of sections 2-3 (None: a sampled user with a mid-sized history).
        top_n: length of the lists shown; next_k: the widget's "next items".
        seed: seed of the user sample and the toy examples; store_dir: the store folder.
    """

    n_users: int | None = 100
    min_events: int = 5
    test_fraction: float = 0.2
    cutoffs: tuple[int, ...] = (10, 50)
    windows: tuple[int, ...] = (6, 10, 20)
    variants: tuple[str, ...] = VARIANTS
    damped_weight: float = 0.5
    tolerance: float = 0.005
    user: int | None = None
    top_n: int = 10
    next_k: int = 20
    seed: int = 0
    store_dir: str | None = None

    @classmethod
    def from_parameters(
        cls, *, N_USERS: Any, MIN_EVENTS: Any, TEST_FRACTION: Any, K: Any, WINDOWS: Any,
        VARIANTS: Any, DAMPED_WEIGHT: Any, TOLERANCE: Any, USER: Any, TOP_N: Any,
        NEXT_K: Any, SEED: Any, STORE_DIR: Any,
    ) -> MomentumConfig:
        """Check the notebook's parameters, all at once, before any work.

        Raises:
            ValueError: ``invalid parameters: NAME=value must be ...; ...`` naming every bad
                parameter, its value and what would be valid.
        """
        singles = {"N_USERS": N_USERS, "MIN_EVENTS": MIN_EVENTS, "TEST_FRACTION": TEST_FRACTION,
                   "DAMPED_WEIGHT": DAMPED_WEIGHT, "TOLERANCE": TOLERANCE, "USER": USER,
                   "TOP_N": TOP_N, "NEXT_K": NEXT_K, "SEED": SEED, "STORE_DIR": STORE_DIR}
        problems = check_values(singles, RULES)
        lists, list_problems = check_lists({"K": K, "WINDOWS": WINDOWS, "VARIANTS": VARIANTS},
                                           LIST_RULES)
        raise_problems(problems + list_problems)
        return cls(
            n_users=None if N_USERS is None else int(N_USERS),
            min_events=int(MIN_EVENTS),
            test_fraction=float(TEST_FRACTION),
            cutoffs=tuple(sorted(int(k) for k in lists["K"])),
            windows=tuple(sorted(int(w) for w in lists["WINDOWS"])),
            variants=tuple(lists["VARIANTS"]),
            damped_weight=float(DAMPED_WEIGHT),
            tolerance=float(TOLERANCE),
            user=None if USER is None else int(USER),
            top_n=int(TOP_N),
            next_k=int(NEXT_K),
            seed=int(SEED),
            store_dir=None if STORE_DIR is None else str(STORE_DIR),
        )

    @property
    def store_path(self) -> Path:
        """The store folder: ``store_dir``, or ``data/notebooks/05_temporal_momentum``."""
        return notebook_store("05_temporal_momentum", self.store_dir)

    def specs(self) -> dict[str, dict[str, Any]]:
        """Each measured variant as ``predict_interest`` keywords (method, weight)."""
        every = {
            "momentum": {"method": "momentum", "weight": 1.0},
            "damped": {"method": "momentum", "weight": self.damped_weight},
            "recent": {"method": "recent"},
            "time_weighted": {"method": "time_weighted"},
        }
        return {name: every[name] for name in self.variants}

    def configurations(self) -> dict[str, dict[str, Any]]:
        """Label -> ``recommend`` keywords of every configuration measured: "current" (the
        stored interest, no keywords), then "<variant>, window <w>" for each variant and window."""
        out: dict[str, dict[str, Any]] = {"current": {}}
        for name, spec in self.specs().items():
            for w in self.windows:
                out[label(name, w)] = {"mode": "predicted", "window": w, **spec}
        return out


def label(variant: str, window: int) -> str:
    """The name of a predicted configuration in tables and records."""
    return f"{variant}, window {window}"


# ------------------------------------------------------------------------------------------
# Section 1: the toy in two dimensions


def on_circle(degrees: Any) -> np.ndarray:
    """Unit 2-D vectors at the given angles (degrees): items of a toy catalogue."""
    rad = np.radians(np.asarray(degrees, dtype=np.float64))
    return np.stack([np.cos(rad), np.sin(rad)], axis=-1)


def angle(v: np.ndarray) -> float:
    """The angle of a 2-D vector, in degrees."""
    return float(np.degrees(np.arctan2(v[1], v[0])))


def toy_estimates(points: np.ndarray, weight: float = 1.0,
                  alpha: float = 0.3) -> dict[str, np.ndarray]:
    """What the technique computes from a 2-D history (oldest first): the half means ``a1``,
    ``a2``, the momentum ``predicted`` (``vectors.predict_momentum``) and the ``current`` EMA
    interest with ``alpha`` (``trajectories.interest_trajectory``, every event a view)."""
    pts = np.asarray(points, dtype=np.float64)
    half = len(pts) // 2
    ema = trajectories.interest_trajectory(pts, np.arange(len(pts)), ["view"] * len(pts), alpha,
                                      alpha)[-1]
    return {"a1": pts[:half].mean(axis=0), "a2": pts[half:].mean(axis=0),
            "predicted": vectors.predict_momentum(pts, weight=weight), "current": ema}


def two_tastes(rng: np.random.Generator, n: int = 10) -> np.ndarray:
    """A toy user with two tastes: each item a comedy (0 deg) or a thriller (90 deg) with
    probability 1/2, plus 5 deg of noise."""
    return on_circle(np.where(rng.random(n) < 0.5, 0.0, 90.0) + rng.normal(0, 5, n))


def toy_noise_errors(rng: np.random.Generator, draws: int = 2000) -> pd.DataFrame:
    """Mean angle error (degrees) of four estimates against the true interest (45 deg) of
    ``draws`` random two-taste users (:func:`two_tastes`)."""
    errors: dict[str, list[float]] = {
        "current interest (EMA 0.3)": [], "recent mean (a2 and a1 together)": [],
        "damped momentum (weight 0.5)": [], "momentum (weight 1)": []}
    for _ in range(draws):
        pts = two_tastes(rng)
        est = toy_estimates(pts)
        for name, v in zip(errors, [est["current"], vectors.average(pts),
                                    vectors.predict_momentum(pts, weight=0.5), est["predicted"]],
                           strict=True):
            errors[name].append(abs(angle(v) - 45))
    return pd.DataFrame({"estimate": list(errors),
                         "mean angle error (degrees)": [np.mean(v) for v in errors.values()]})


# ------------------------------------------------------------------------------------------
# Section 2: the users, the service, one user's window and lists


def scored_users(split: Split, config: MomentumConfig) -> tuple[np.ndarray, int]:
    """The users to score (``split.sample(n_users, seed)``) and the user of sections 2-3.

    The example user is ``config.user``, or the median-sized history among the sampled users
    with 40-400 training events (any sampled user when none has).

    Raises:
        ValueError: K larger than the catalogue; a ``user`` with nothing held out to compare
            with (a few valid ids named).
    """
    if max(config.cutoffs) > split.n_items:
        raise ValueError(f"K={list(config.cutoffs)} exceeds the catalogue ({split.n_items} "
                         "items); lower K")
    candidates, _ = split.relevant("positive")
    users = split.sample(config.n_users, config.seed)
    counts = split.train.groupby("user_id").size()
    if config.user is None:
        pool = [u for u in users if 40 <= counts[u] <= 400] or list(users)
        return users, int(sorted(pool, key=lambda u: counts[u])[len(pool) // 2])
    if config.user not in set(candidates.tolist()):
        raise ValueError(f"USER={config.user!r} has no held-out events to compare with; use one "
                         f"of the evaluated users, e.g. {candidates[:5].tolist()}, or None")
    return users, config.user


def held_out(split: Split, users: Sequence[Any]) -> dict[int, np.ndarray]:
    """Each user's held-out items to find (positive test events, training items removed)."""
    candidates, relevant = split.relevant("positive")
    wanted = {int(u) for u in users}
    return {int(u): r for u, r in zip(candidates, relevant, strict=True) if int(u) in wanted}


_SERVICES: list[Recommender] = []


def open_service(exp: Experiment, users: Sequence[Any],
                 user: int) -> tuple[Recommender, IngestReport]:
    """The service of sections 2-3: a Recommender on the experiment's store (its items, the
    package defaults) that ingests the training events of ``users`` and ``user``.

    Close it before :func:`measure`, which opens the same store for every configuration. A
    service this function opened before in this process (an earlier run of the cell) is closed
    first, so re-running the notebook does not find its own store locked.
    """
    while _SERVICES:
        _SERVICES.pop().close()
    rec = exp.recommender()
    _SERVICES.append(rec)
    who = sorted({int(u) for u in users} | {int(user)})
    train = exp.split.train
    return rec, rec.ingest(train[train["user_id"].isin(who)])


def window_table(rec: Recommender, user: int, window: int, current: np.ndarray,
                 predicted: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The user's last ``window`` positive events, split into the older (a1) and newer (a2)
    half, with each item's cosine to ``current`` and ``predicted``; and their item vectors
    (oldest first), to redo the prediction by hand."""
    events = rec.history(user)
    events = events[events["kind"] != "not_interested"].tail(window)
    ids = events["item_id"].astype(int).to_numpy()
    matrix = np.stack([rec.item_vector(i) for i in ids])
    half = len(ids) // 2
    table = pd.DataFrame({
        "half": ["older (a1)"] * half + ["newer (a2)"] * (len(ids) - half),
        "kind": events["kind"].to_numpy(),
        "movie": [item_label(rec.items.loc[i, "title"], rec.items.loc[i, "year"]) for i in ids],
        "genres": [", ".join(rec.items.loc[i, "genres"]) for i in ids],
        "cos current": matrix @ current,
        "cos predicted": matrix @ predicted,
    })
    return table, matrix


def two_lists(rec: Recommender, user: int, n: int, held: Sequence[int],
              window: int = WRITEUP_WINDOW) -> tuple[pd.DataFrame, dict[str, int]]:
    """``rec.recommend(user, n)`` next to ``rec.recommend(user, n, mode="predicted",
    window=window)``, "held out" marking the items the user watched later.

    Returns:
        (the two lists side by side; {"shared": items in both, "hits_current",
        "hits_predicted": held-out items in each list})
    """
    held = {int(i) for i in held}
    lists, ids = {}, {}
    for name, kwargs in [("current", {}), ("predicted", {"mode": "predicted", "window": window})]:
        top = rec.recommend(user, n=n, **kwargs)
        ids[name] = [int(i) for i in top["item_id"]]
        lists[name] = pd.DataFrame({
            "movie": [item_label(t, y) for t, y in zip(top["title"], top["year"], strict=True)],
            "score": top["score"].to_numpy(),
            "held out": ["yes" if i in held else "" for i in ids[name]],
        })
    stats = {"shared": len(set(ids["current"]) & set(ids["predicted"])),
             **{f"hits_{k}": sum(i in held for i in v) for k, v in ids.items()}}
    return pd.concat(lists, axis=1), stats


def closeness(rec: Recommender, held: Mapping[int, np.ndarray], specs: Mapping[str, Mapping],
              window: int = WRITEUP_WINDOW) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For every user of ``held`` and variant (at ``window``): how far the prediction moves
    (``cos(current, predicted)``) and whether it is closer to the held-out items than the
    current interest (the mean cosine of each vector with them). Exact math, no search.

    Returns:
        (one row per user: "current", each variant's mean cosine, "move <variant>";
        one row per vector: its mean cosine to the held-out items, the share of users for whom
        it is closer than the current interest, the median cos(current, predicted))
    """
    rows = []
    for u, items in held.items():
        cur = rec.interest(u)
        target = np.stack([rec.item_vector(i) for i in items])
        row = {"user_id": u, "current": float((target @ cur).mean())}
        for name, spec in specs.items():
            p = rec.predict_interest(u, window=window, **spec)
            row[name] = float((target @ p).mean())
            row[f"move {name}"] = float(cur @ p)
        rows.append(row)
    per_user = pd.DataFrame(rows)
    summary = pd.DataFrame([
        {"vector": name,
         "mean cos to held-out items": per_user[name].mean(),
         "share of users closer than current": np.nan if name == "current" else
         (per_user[name] > per_user["current"]).mean(),
         "median cos(current, predicted)": 1.0 if name == "current" else
         per_user[f"move {name}"].median()}
        for name in ["current", *specs]])
    return per_user, summary


def scrubber_check(scrubber: MomentumScrubber, rec: Recommender, user: int,
                   window: int) -> dict[str, float]:
    """At the last event the widget's vectors must be the service's own: the largest absolute
    difference of the current and of the predicted interest."""
    return {
        "current": float(np.abs(scrubber.trajectory[-1] - rec.interest(user)).max()),
        "predicted": float(np.abs(scrubber.predicted[-1]
                                  - rec.predict_interest(user, window=window)).max()),
    }


# ------------------------------------------------------------------------------------------
# Section 4: the measured effect


def results_table(results: Mapping[str, EvaluationResult],
                  config: MomentumConfig) -> pd.DataFrame:
    """One row per configuration: variant, window, recall@K and ndcg@K, mrr, seconds."""
    metrics = [f"{m}@{k}" for m in ("recall", "ndcg") for k in config.cutoffs]
    windows = {name: kw.get("window") for name, kw in config.configurations().items()}
    table = pd.DataFrame([{"variant": name.split(",")[0], "window": windows[name],
                           **{m: r[m] for m in [*metrics, "mrr", "seconds"]}}
                          for name, r in results.items()])
    return table.astype({"window": "Int64"})


def verdicts(results: Mapping[str, EvaluationResult], config: MomentumConfig) -> pd.DataFrame:
    """Each predicted configuration against the current interest, paired per user, for
    ``config.recall`` and ``config.ndcg``: the mean difference, its 95 % interval and the
    verdict ("helps" / "hurts" / "no measurable effect", :data:`WORDS`, with
    ``config.tolerance``). Sorted by recall, best first (stable)."""
    current = results["current"]
    claims = {name: (r, current) for name, r in results.items() if name != "current"}
    windows = {name: kw.get("window") for name, kw in config.configurations().items()}
    table = pd.DataFrame({"configuration": list(claims),
                          "variant": [name.split(",")[0] for name in claims],
                          "window": [windows[name] for name in claims]})
    for metric in (config.recall, config.ndcg):
        v = verdict_table(claims, metric, config.tolerance, WORDS)
        table[metric] = v["on"].to_numpy()
        table[f"delta {metric}"] = v["diff"].to_numpy()
        table[f"low {metric}"] = v["ci_low"].to_numpy()
        table[f"high {metric}"] = v["ci_high"].to_numpy()
        table[f"verdict {metric}"] = v["verdict"].to_numpy()
    return table.sort_values(config.recall, ascending=False, kind="stable").reset_index(drop=True)


def shown(table: pd.DataFrame, config: MomentumConfig) -> pd.DataFrame:
    """The verdicts as read by people: values rounded, intervals as ``[low, high]``."""
    out = {"configuration": table["configuration"]}
    for metric in (config.recall, config.ndcg):
        out[metric] = table[metric].round(4)
        out[f"delta {metric}"] = table[f"delta {metric}"].round(4)
        out[f"{metric} 95% interval"] = [f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in zip(
            table[f"low {metric}"], table[f"high {metric}"], strict=True)]
        out[f"verdict {metric}"] = table[f"verdict {metric}"]
    return pd.DataFrame(out)


def _windows_by_verdict(table: pd.DataFrame, metric: str,
                        config: MomentumConfig) -> dict[str, dict[str, list[int]]]:
    """variant (in ``config.variants`` order) -> verdict -> the windows with that verdict."""
    out: dict[str, dict[str, list[int]]] = {name: {} for name in config.variants}
    for variant, window, word in zip(table["variant"], table["window"],
                                     table[f"verdict {metric}"], strict=True):
        out[variant].setdefault(word, []).append(int(window))
    return {v: {w: sorted(ws) for w, ws in d.items()} for v, d in out.items() if d}


def verdict_record(table: pd.DataFrame, results: Mapping[str, EvaluationResult],
                   config: MomentumConfig) -> dict[str, Any]:
    """The numbers the notebook records about the measurements (the tests read them)."""
    recall, ndcg = config.recall, config.ndcg
    current = results["current"]

    def interval(row: Mapping[str, Any], metric: str) -> list[float]:
        return [round(float(row[f"{k} {metric}"]), 5) for k in ("delta", "low", "high")]

    rows = table.to_dict("records")
    best = rows[0]
    best_ndcg = max(rows, key=lambda r: r[ndcg])  # first of the maxima, in recall order
    writeup = [r for r in rows if r["configuration"] == label("momentum", WRITEUP_WINDOW)]
    out: dict[str, Any] = {
        "results": {name: {m: round(float(r[m]), 4) for m in (recall, ndcg)}
                    for name, r in results.items()},
        "current_recall": round(float(current[recall]), 4),
        "current_ndcg": round(float(current[ndcg]), 4),
        "verdicts": {r["configuration"]: r[f"verdict {recall}"] for r in rows},
        "verdicts_ndcg": {r["configuration"]: r[f"verdict {ndcg}"] for r in rows},
        "deltas": {r["configuration"]: interval(r, recall) for r in rows},
        "deltas_ndcg": {r["configuration"]: interval(r, ndcg) for r in rows},
        "verdict_windows": _windows_by_verdict(table, recall, config),
        "verdict_windows_ndcg": _windows_by_verdict(table, ndcg, config),
        "best_variant": best["configuration"],
        "best_recall": round(float(best[recall]), 4),
        "best_ndcg": round(float(best[ndcg]), 4),
        "best_delta_recall": round(float(best[f"delta {recall}"]), 4),
        "best_delta_ndcg": round(float(best[f"delta {ndcg}"]), 4),
        "best_beats_current": bool(best[f"delta {recall}"] > 0),
        "best_ndcg_variant": best_ndcg["configuration"],
        "best_ndcg_delta": round(float(best_ndcg[f"delta {ndcg}"]), 4),
        "writeup_delta_recall": round(float(writeup[0][f"delta {recall}"]), 4)
        if writeup else None,
        "writeup_verdict": writeup[0][f"verdict {recall}"] if writeup else None,
        "writeup_verdict_ndcg": writeup[0][f"verdict {ndcg}"] if writeup else None,
    }
    for suffix, metric in (("", recall), ("_ndcg", ndcg)):
        counts = table[f"verdict {metric}"].value_counts()
        out[f"n_helps{suffix}"] = int(counts.get(WORDS[0], 0))
        out[f"n_hurts{suffix}"] = int(counts.get(WORDS[1], 0))
        out[f"n_no_effect{suffix}"] = int(counts.get(WORDS[2], 0))
    return out


def _windows(ws: Sequence[int]) -> str:
    return ("window " if len(ws) == 1 else "windows ") + ", ".join(str(w) for w in ws)


def summary_lines(recorded: Mapping[str, Any], config: MomentumConfig) -> list[str]:
    """What the run showed, in words computed from the recorded verdicts (never typed in): per
    metric the count of configurations that help, hurt or show no measurable effect and at
    which windows, the write-up's own momentum, the best configuration, and the conclusion."""
    lines = []
    total = len(recorded["verdicts"])
    for suffix, metric in (("", config.recall), ("_ndcg", config.ndcg)):
        lines.append(f"{metric}: of {total} predicted configurations, "
                     f"{recorded['n_helps' + suffix]} help, {recorded['n_hurts' + suffix]} hurt, "
                     f"{recorded['n_no_effect' + suffix]} show no measurable effect")
        for variant, by_verdict in recorded["verdict_windows" + suffix].items():
            parts = [f"{word} at {_windows(by_verdict[word])}" for word in WORDS
                     if word in by_verdict]
            lines.append(f"  {variant:<14} " + "; ".join(parts))
    if recorded["writeup_verdict"] is not None:
        d = recorded["deltas"][label("momentum", WRITEUP_WINDOW)]
        lines.append(f"the write-up's momentum (window {WRITEUP_WINDOW}, weight 1): "
                     f"{d[0]:+.4f} {config.recall} [{d[1]:+.4f}, {d[2]:+.4f}] -> "
                     f"{recorded['writeup_verdict']} ({config.ndcg}: "
                     f"{recorded['writeup_verdict_ndcg']})")
    else:
        lines.append(f"the write-up's momentum (window {WRITEUP_WINDOW}) was not measured: "
                     f"add {WRITEUP_WINDOW} to WINDOWS and 'momentum' to VARIANTS")
    best = recorded["best_variant"]
    lines.append(f"best {config.recall}: {best} ({recorded['best_delta_recall']:+.4f} vs current, "
                 f"{recorded['verdicts'][best]}; picked on these held-out events, so optimistic)")
    helped = [name for name, v in recorded["verdicts"].items() if v == WORDS[0]]
    if helped:
        lines.append(f"=> the prediction helped {config.recall} measurably in "
                     f"{len(helped)} configuration(s): {', '.join(helped)}")
    else:
        lines.append(f"=> no predicted configuration helped {config.recall} measurably on "
                     "these users: keep the current interest (mode='current', the package "
                     "default)")
    return lines
