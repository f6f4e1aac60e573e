"""Notebook 08 (high-dimensional intuition): its parameters, its measurements, its tables.

The original write-up says vector math "works more intuitively in high dimensions; don't let
low-dimensional projections mislead you" and that "it's rare for vectors to perfectly cancel out,
which can happen in low-dimensional spaces". This module measures both claims, so each step of the
lesson is one call:

- :class:`HighDimConfig` checks the notebook's parameters (every problem named at once, with the
  value and the fix) before any work.
- :class:`~recsys_nb.lessons.high_dimensions_spaces.Lab` (module ``high_dimensions_spaces``)
  holds three item spaces (random Gaussian vectors, MiniLM text vectors, the package's learned
  default) at any dimension ``d``: a real space at ``d`` is its projection on its first ``d``
  principal axes, centred and renormalized; a ``d`` above the space's own dimension is a
  documented skip. Interest vectors are real MovieLens histories replayed with the package's
  math in that space.
- :func:`pair_table` (a: cosines of random pairs), :func:`update_table` (b: how often an EMA step
  or a subtraction nearly cancels the vector or flips its top-K list), :func:`neighbour_table`
  (c: what a low-dimensional picture keeps of an item's neighbours), :func:`variance_table` (d:
  PCA of the item spaces), :func:`verdict_table` (the two claims, paired bootstrap intervals) and
  :func:`summary_markdown` (prose built from the numbers of the run).

The pictures are in :mod:`recsys_nb.lessons.high_dimensions_plots`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.evaluate import CLAIM_WORDS, Difference, verdict
from recsys_nb.evaluate.bootstrap import _interval
from recsys_nb.lessons.high_dimensions_spaces import (
    FLIP_SHARE,
    MAX_DIM,
    MIN_POSITIVE,
    SPACES,
    Histories,
    Lab,
    Outcome,
    Principal,
    Update,
    Variant,
    apply_update,
    list_overlap,
    project,
    random_unit_vectors,
    sample_histories,
)
from recsys_nb.parameters import check_lists, check_values, integer, number, raise_problems
from recsys_nb.recommender import DEFAULT_PARAMS

__all__ = ["FLIP_SHARE", "MAX_DIM", "MIN_POSITIVE", "NOTEBOOK", "SPACES", "HighDimConfig",
           "Histories", "Lab", "Outcome", "Principal", "Update", "Variant", "apply_update",
           "claim_updates", "list_overlap", "neighbour_table", "pair_table",
           "paired_bootstrap_difference", "project", "random_unit_vectors", "rates_pivot",
           "sample_histories", "summary_markdown", "table_record", "update_table",
           "variance_table", "verdict_table"]

NOTEBOOK = "08_high_dimensional_intuition"
CLAIM_CANCEL = "cancellation is rare in high dimensions, common in low"
CLAIM_PROJECTION = "low-dimensional projections mislead"
SKIP = "—"

# ------------------------------------------------------------------------------------------
# Parameters

RULES = {
    "NEAR_ZERO": number(0, 1, open_low=True, open_high=True),
    "N_USERS": integer(2),
    "N_PAIRS": integer(100),
    "N_ITEMS": integer(2),
    "N_RANDOM_ITEMS": integer(100),
    "TOP_N": integer(2),
    "N_RESAMPLES": integer(100),
    "TOLERANCE": number(0),
    "SEED": integer(0),
}
LIST_RULES = {
    "DIMS": (lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool)
             and 2 <= v <= MAX_DIM,
             f"an integer in [2, {MAX_DIM}] (1-D has only the two unit vectors +1 and -1; "
             f"{MAX_DIM} is MiniLM's dimension, the largest space here)"),
    "ALPHAS": number(0, 1, open_low=True),
    "FACTORS": number(0),
}



@dataclass(frozen=True)
class HighDimConfig:
    """The checked parameters of notebook 08 (build it with :meth:`from_parameters`).

    Attributes:
        dims: dimensions measured, sorted. near_zero: a raw norm below it "nearly cancels".
        alphas, factors: EMA weights and subtraction factors measured.
        n_users: MovieLens users sampled (interest vectors). n_pairs: random pairs per space.
        n_items: items whose neighbours are compared (section c). n_random_items: the random
            catalogue's size. top_k: list length (the parameter TOP_N). n_resamples: bootstrap
            resamples.
        tolerance: the smallest difference a verdict counts. seed: every random choice.
    """

    dims: tuple[int, ...] = (2, 3, 8, 32, 128, 384)
    alphas: tuple[float, ...] = (0.25, 0.45, 0.5)
    factors: tuple[float, ...] = (0.1, 0.5, 1.0, 1.5)
    near_zero: float = 0.1
    n_users: int = 100
    n_pairs: int = 20000
    n_items: int = 300
    n_random_items: int = 9066
    top_k: int = 10
    n_resamples: int = 1000
    tolerance: float = 0.01
    seed: int = 0

    @classmethod
    def from_parameters(cls, *, DIMS: Any, ALPHAS: Any, FACTORS: Any, NEAR_ZERO: Any,  # noqa: N803
                        N_USERS: Any, N_PAIRS: Any, N_ITEMS: Any, N_RANDOM_ITEMS: Any,
                        TOP_N: Any, N_RESAMPLES: Any, TOLERANCE: Any, SEED: Any) -> HighDimConfig:
        """Check the notebook's parameters, all at once, before any work.

        Raises:
            ValueError: ``invalid parameters: NAME=value must be ...; ...`` naming every bad
                parameter, its value and what would be valid.
        """
        singles = {"NEAR_ZERO": NEAR_ZERO, "N_USERS": N_USERS, "N_PAIRS": N_PAIRS,
                   "N_ITEMS": N_ITEMS, "N_RANDOM_ITEMS": N_RANDOM_ITEMS, "TOP_N": TOP_N,
                   "N_RESAMPLES": N_RESAMPLES, "TOLERANCE": TOLERANCE, "SEED": SEED}
        problems = check_values(singles, RULES)
        lists, list_problems = check_lists({"DIMS": DIMS, "ALPHAS": ALPHAS, "FACTORS": FACTORS},
                                           LIST_RULES)
        problems += list_problems
        if "DIMS" in lists and len(lists["DIMS"]) < 2:
            problems.append(f"DIMS={lists['DIMS']!r} needs at least two dimensions to compare, "
                            "e.g. [2, 384]")
        if not problems and N_RANDOM_ITEMS <= 2 * TOP_N:
            problems.append(f"N_RANDOM_ITEMS={N_RANDOM_ITEMS!r} must exceed 2 * TOP_N="
                            f"{2 * TOP_N}: a list needs a catalogue much larger than itself")
        raise_problems(problems)
        return cls(dims=tuple(sorted(int(d) for d in lists["DIMS"])),
                   alphas=tuple(float(a) for a in lists["ALPHAS"]),
                   factors=tuple(float(f) for f in lists["FACTORS"]),
                   near_zero=float(NEAR_ZERO), n_users=int(N_USERS), n_pairs=int(N_PAIRS),
                   n_items=int(N_ITEMS), n_random_items=int(N_RANDOM_ITEMS), top_k=int(TOP_N),
                   n_resamples=int(N_RESAMPLES), tolerance=float(TOLERANCE), seed=int(SEED))

    @property
    def updates(self) -> tuple[Update, ...]:
        """Every update measured: the EMA weights, then the subtraction factors."""
        return tuple([Update("ema", a) for a in self.alphas]
                     + [Update("subtract", f) for f in self.factors])


# ------------------------------------------------------------------------------------------
# Tables (skipped rows say why; no cell is ever NaN)


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a frame; the cells a skipped row has no number for show ``SKIP``, not NaN."""
    frame = pd.DataFrame(list(rows))
    if "note" in frame.columns:
        frame["note"] = frame["note"].fillna("")
    if frame.isna().to_numpy().any():
        frame = frame.astype(object).where(frame.notna(), SKIP)
    return frame


def _vectors_text(v: Variant) -> str:
    return {"gaussian": "Gaussian, normalized", "pca": "first d principal axes, centred",
            "original": "the original vectors", "skipped": "skipped"}[v.kind]


def pair_table(lab: Lab) -> pd.DataFrame:
    """Section a: cosine of random item pairs per space and dimension (mean, std, quantiles),
    next to ``1/sqrt(d)``, the std of random Gaussian pairs."""
    rows = []
    for space in lab.spaces:
        for v in lab.variants(space):
            row = {"space": space, "dimension": v.dim, "vectors": _vectors_text(v),
                   "note": v.note}
            if v.kind != "skipped":
                c = lab.pair_cosines(v)
                q05, q50, q95 = np.quantile(c, [0.05, 0.5, 0.95])
                row.update({"mean": c.mean(), "std": c.std(), "q05": q05, "q50": q50,
                            "q95": q95, "mean |cos|": np.abs(c).mean(),
                            "1/sqrt(d)": 1 / math.sqrt(v.dim)})
            rows.append(row)
    return _frame(rows)


def update_table(lab: Lab) -> pd.DataFrame:
    """Section b, THE table: per space, dimension and update, how often it nearly cancels the
    interest vector (norm before normalizing below ``near_zero``) or flips its top-K."""
    rows = []
    for space in lab.spaces:
        for v in lab.variants(space):
            for update in lab.cfg.updates:
                row = {"space": space, "dimension": v.dim, "vectors": _vectors_text(v),
                       "update": update.label, "norm floor": update.norm_floor, "note": v.note}
                if v.kind != "skipped":
                    o = lab.outcome(v, update)
                    row.update({"users": len(o.norm), "mean cos(v, e)": o.cos.mean(),
                                "mean norm": o.norm.mean(), "min norm": o.norm.min(),
                                "cancelled": o.cancelled.mean(), "flipped": o.flipped.mean(),
                                "mean overlap": o.overlap.mean()})
                rows.append(row)
    return _frame(rows)


def rates_pivot(table: pd.DataFrame, measure: str) -> pd.DataFrame:
    """One measure of :func:`update_table` with one row per (space, dimension) and one column
    per update; skipped rows keep their ``SKIP`` cells and say why in ``note``."""
    keyed = table.assign(dimension=[f"{d} (original)" if v == "the original vectors" else str(d)
                                    for d, v in zip(table["dimension"], table["vectors"],
                                                    strict=True)])
    order = list(dict.fromkeys(keyed["update"]))
    wide = keyed.pivot_table(index=["space", "dimension"], columns="update", values=measure,
                             aggfunc="first", sort=False)[order]
    notes = keyed.groupby(["space", "dimension"], sort=False)["note"].first()
    wide["note"] = notes
    return wide.reset_index()


def neighbour_table(lab: Lab) -> pd.DataFrame:
    """Section c: how much of an item's true top-K (the original space) its top-K at
    dimension d finds, with the variance the first d axes keep; plus the 2-D picture read by
    distance."""
    rows = []
    for space in lab.real_spaces:
        principal = lab.principal[space]
        for v in lab.variants(space):
            row = {"space": space, "dimension": v.dim, "vectors": _vectors_text(v),
                   "note": v.note}
            if v.kind != "skipped":
                row.update({"neighbours kept": lab.neighbour_overlap(v).mean(),
                            "variance kept": float(principal.explained[: v.dim].sum())})
            rows.append(row)
            if v.kind == "pca" and v.dim == 2:
                rows.append({"space": space, "dimension": 2,
                             "vectors": "2-D picture, by distance",
                             "neighbours kept": lab.picture_overlap(space).mean(),
                             "variance kept": float(principal.explained[:2].sum()), "note": ""})
    return _frame(rows)


def variance_table(lab: Lab) -> pd.DataFrame:
    """Section d: each real item space's PCA: the share of the first 2 components and how many
    components hold 50 % and 90 % of the variance."""
    rows = []
    for space in lab.real_spaces:
        p = lab.principal[space]
        rows.append({"space": space, "dimension": len(p.explained),
                     "first 2 components": float(p.explained[:2].sum()),
                     "components for 50 %": p.components_for(0.5),
                     "components for 90 %": p.components_for(0.9)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# Verdicts: the two claims, paired, with bootstrap intervals


def paired_bootstrap_difference(a: np.ndarray, b: np.ndarray, name: str, n_resamples: int,
                                seed: int) -> Difference:
    """Mean of ``a - b`` (paired per user / item / pair) with a 95 % percentile bootstrap
    interval (:func:`recsys_nb.evaluate.bootstrap_means`)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"paired values need two equal 1-D arrays; got {a.shape} and {b.shape}")
    iv = _interval(a - b, n_resamples, 0.95, seed)
    return Difference(name, iv.mean, iv.low, iv.high, len(a))


def _verdict_row(claim: str, space: str, measure: str, sides: tuple[str, str],
                 values: tuple[np.ndarray, np.ndarray], words: Sequence[str],
                 cfg: HighDimConfig) -> dict[str, Any]:
    d = paired_bootstrap_difference(values[0], values[1], measure, cfg.n_resamples, cfg.seed)
    return {"claim": claim, "space": space, "measure": measure, "with": sides[0],
            "without": sides[1], "on": float(np.mean(values[0])),
            "off": float(np.mean(values[1])), "diff": d.mean, "ci_low": d.low,
            "ci_high": d.high, "n": d.n_users, "verdict": verdict(d, cfg.tolerance, words)}


def claim_updates(cfg: HighDimConfig) -> list[tuple[Update, str]]:
    """The updates claim 1 is read on, with what is counted: the package's view and
    not-interested ("disrupted": cancelled or flipped), and the measured subtraction factor and
    EMA alpha that come closest to an exact cancellation (factor 1: ``v - e`` is 0 when
    ``e = v``; alpha 0.5: ``(v + e) / 2`` is 0 when ``e = -v``), "cancelled"."""
    worst_factor = min(cfg.factors, key=lambda f: (abs(1.0 - f), f))
    worst_alpha = min(cfg.alphas, key=lambda a: (abs(1.0 - 2 * a), a))
    chosen = [(Update("ema", DEFAULT_PARAMS["alpha_view"]), "disrupted"),
              (Update("subtract", DEFAULT_PARAMS["not_interested_factor"]), "disrupted"),
              (Update("subtract", worst_factor), "cancelled"),
              (Update("ema", worst_alpha), "cancelled")]
    return list(dict.fromkeys(chosen))


def verdict_table(lab: Lab) -> pd.DataFrame:
    """Notebook 06's verdict form for the write-up's two claims, computed.

    Claim 1, per space and update of :func:`claim_updates`: the rate at the lowest dimension
    against the highest (the original vectors for a real space), paired per user; it holds when
    the low dimension is worse by more than ``tolerance`` with the interval above 0. Claim 2,
    per real space: the share of the true top-K the 2-D picture keeps (lower: misleading) and
    the mean |cosine| of random pairs in 2-D against the original space (higher: pairs look
    more alike or more opposite than they are).
    """
    cfg = lab.cfg
    rows = []
    for space in lab.spaces:
        variants = lab.measured(space)
        low, high = variants[0], variants[-1]
        sides = (f"d={low.dim}", f"d={high.key}")
        for update, what in claim_updates(cfg):
            o_low, o_high = lab.outcome(low, update), lab.outcome(high, update)
            counted = "cancelled or flipped" if what == "disrupted" else "cancelled"
            rows.append(_verdict_row(CLAIM_CANCEL, space, f"{counted}, {update.label}", sides,
                                     (getattr(o_low, what).astype(float),
                                      getattr(o_high, what).astype(float)), CLAIM_WORDS, cfg))
    reverse = (CLAIM_WORDS[1], CLAIM_WORDS[0], CLAIM_WORDS[2])  # lower supports the claim
    for space in lab.real_spaces:
        low = next(v for v in lab.measured(space) if v.kind == "pca")
        high = lab.measured(space)[-1]
        sides = (f"d={low.dim}", f"d={high.key}")
        rows.append(_verdict_row(CLAIM_PROJECTION, space, f"top-{cfg.top_k} neighbours kept",
                                 sides, (lab.neighbour_overlap(low),
                                         lab.neighbour_overlap(high)), reverse, cfg))
        rows.append(_verdict_row(CLAIM_PROJECTION, space, "mean |cosine| of random pairs",
                                 sides, (np.abs(lab.pair_cosines(low)),
                                         np.abs(lab.pair_cosines(high))), CLAIM_WORDS, cfg))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# Recorded numbers and prose


def _num(x: Any) -> Any:
    return round(float(x), 4) if isinstance(x, float | np.floating) else x


def row_key(table: pd.DataFrame) -> pd.Series:
    """``"2"``, ``"384 (original)"``, ``"2 (picture)"``: the dimension names of the recorded
    tables (one per row kind, so no two rows of a space share one)."""
    suffix = {"the original vectors": " (original)", "2-D picture, by distance": " (picture)"}
    return pd.Series([f"{d}{suffix.get(v, '')}" for d, v in
                      zip(table["dimension"], table["vectors"], strict=True)], index=table.index)


def table_record(table: pd.DataFrame, keys: Sequence[str], values: Sequence[str]) -> dict:
    """A table as nested dicts ``{key1: {key2: ... {value: number}}}`` for ``report.record``
    ("dimension" is the row's :func:`row_key`); a skipped row records its note instead."""
    if "dimension" in keys and "vectors" in table.columns:
        table = table.assign(dimension=row_key(table))
    out: dict = {}
    for _, row in table.iterrows():
        node = out
        for k in keys[:-1]:
            node = node.setdefault(str(row[k]), {})
        leaf = str(row[keys[-1]])
        if row.get("note"):
            node[leaf] = row["note"]
        else:
            node[leaf] = {v: _num(row[v]) for v in values}
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def summary_markdown(pairs: pd.DataFrame, rates: pd.DataFrame, neighbours: pd.DataFrame,
                     variance: pd.DataFrame, verdicts: pd.DataFrame, cfg: HighDimConfig) -> str:
    """The lesson's findings in words, every number taken from this run's tables."""
    lo, hi = min(cfg.dims), max(cfg.dims)
    rnd = pairs[pairs["space"] == "random"].set_index("dimension")
    lines = [f"- **Random pairs.** Between random Gaussian vectors the cosine's spread is "
             f"{rnd.loc[lo, 'std']:.3f} at d={lo} and {rnd.loc[hi, 'std']:.3f} at d={hi} "
             f"(1/sqrt(d) = {1 / math.sqrt(hi):.3f}): in high dimensions two random directions "
             "are almost orthogonal."]
    for space in variance["space"]:
        own = pairs[(pairs["space"] == space) & (pairs["vectors"] == "the original vectors")]
        low = pairs[(pairs["space"] == space) & (pairs["dimension"] == lo)
                    & (pairs["vectors"] != "skipped")]
        if len(own) and len(low):
            lines.append(f"  {space}: mean |cosine| of random pairs {low['mean |cos|'].iloc[0]:.3f}"
                         f" at d={lo} against {own['mean |cos|'].iloc[0]:.3f} in the original "
                         f"{int(own['dimension'].iloc[0])}-d vectors.")
    pic = neighbours[neighbours["vectors"] == "2-D picture, by distance"].set_index("space")
    var = variance.set_index("space")
    for space in variance["space"]:
        lines.append(f"- **{space} picture.** The first two principal axes keep "
                     f"{_pct(var.loc[space, 'first 2 components'])} of the variance; 50 % needs "
                     f"{var.loc[space, 'components for 50 %']} components, 90 % "
                     f"{var.loc[space, 'components for 90 %']}. In the 2-D picture an item's "
                     f"{cfg.top_k} closest points hold {_pct(pic.loc[space, 'neighbours kept'])} "
                     f"of its true top-{cfg.top_k}.")
    for _, r in verdicts.iterrows():
        lines.append(f"- *{r['claim']}* ({r['space']}, {r['measure']}): {r['with']} "
                     f"{r['on']:.3f} vs {r['without']} {r['off']:.3f}, difference "
                     f"{r['diff']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]: "
                     f"**{r['verdict']}**.")
    measured = rates[rates["note"] == ""]
    top = measured.loc[measured["cancelled"].astype(float).idxmax()]
    lines.append(f"- **Cancellation** (norm below {cfg.near_zero:g}) happened at most in "
                 f"{_pct(float(top['cancelled']))} of the users ({top['space']}, d="
                 f"{top['dimension']}, {top['update']}).")
    return "\n".join(lines)
