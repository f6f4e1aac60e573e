"""Notebook 08's figures: random-pair cosines by dimension, update failure rates by dimension,
explained-variance curves, neighbours kept by dimension.

Each function draws on a given ``ax`` (or a new pyplot one) from the lesson's tables
(:mod:`recsys_nb.lessons.high_dimensions`), and returns the axes; none computes anything the
tables do not hold.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from recsys_nb.lessons.high_dimensions_spaces import SPACES

_COLOURS = {"random": "tab:gray", "minilm": "tab:blue", "learned": "tab:orange"}


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def _measured(table: pd.DataFrame, space: str) -> pd.DataFrame:
    """The rows of ``space`` at d = 2, 3, ... (no skipped rows, no original vectors)."""
    rows = table[(table["space"] == space) & table["vectors"].isin(
        ["Gaussian, normalized", "first d principal axes, centred"])]
    return rows.sort_values("dimension")


def plot_pair_cosines(pairs: pd.DataFrame, ax=None):
    """Mean and 5-95 % band of random-pair cosines against the dimension (log scale), per
    space, with ``±1.645 / sqrt(d)`` (the Gaussian 90 % band) dashed."""
    ax = _axes(ax)
    for space in SPACES:
        rows = _measured(pairs, space)
        if rows.empty:
            continue
        d = rows["dimension"].to_numpy(float)
        ax.plot(d, rows["mean"].astype(float), marker="o", color=_COLOURS[space], label=space)
        ax.fill_between(d, rows["q05"].astype(float), rows["q95"].astype(float),
                        color=_COLOURS[space], alpha=0.15)
    d = np.unique(pairs["dimension"].to_numpy(float))
    ax.plot(d, 1.645 / np.sqrt(d), "k--", lw=1, label="±1.645/sqrt(d)")
    ax.plot(d, -1.645 / np.sqrt(d), "k--", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("dimension d")
    ax.set_ylabel("cosine of a random pair")
    ax.set_title("random pairs: mean and 5-95 % band")
    ax.legend(fontsize=8)
    return ax


def plot_rates_by_dimension(rates: pd.DataFrame, update: str, measure: str, ax=None):
    """One measure ("cancelled" / "flipped") of one update against the dimension, per space;
    the original vectors of a real space as a horizontal dotted line."""
    ax = _axes(ax)
    if update not in set(rates["update"]):
        raise ValueError(f"update {update!r} is not in the table; use one of "
                         f"{sorted(set(rates['update']))}")
    sub = rates[rates["update"] == update]
    for space in SPACES:
        rows = _measured(sub, space)
        if not rows.empty:
            ax.plot(rows["dimension"].astype(float), rows[measure].astype(float), marker="o",
                    color=_COLOURS[space], label=space)
        orig = sub[(sub["space"] == space) & (sub["vectors"] == "the original vectors")]
        if len(orig):
            ax.axhline(float(orig[measure].iloc[0]), color=_COLOURS[space], ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("dimension d")
    ax.set_ylabel(f"share {measure}")
    ax.set_title(f"{update}: {measure}", fontsize=9)
    ax.legend(fontsize=7)
    return ax


def plot_explained_variance(explained: Mapping[str, np.ndarray], ax=None):
    """Cumulative explained variance of each space's principal components, 50 / 90 % marked."""
    ax = _axes(ax)
    for space, shares in explained.items():
        cum = np.cumsum(shares)
        ax.plot(np.arange(1, len(cum) + 1), cum, color=_COLOURS.get(space), label=space)
    for level in (0.5, 0.9):
        ax.axhline(level, color="k", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("principal components")
    ax.set_ylabel("share of the variance")
    ax.set_title("PCA of the item spaces")
    ax.legend(fontsize=8)
    return ax


def plot_neighbours_kept(neighbours: pd.DataFrame, ax=None):
    """Share of an item's true top-K found at dimension d, per real space."""
    ax = _axes(ax)
    for space in SPACES[1:]:
        rows = _measured(neighbours, space)
        if not rows.empty:
            ax.plot(rows["dimension"].astype(float), rows["neighbours kept"].astype(float),
                    marker="o", color=_COLOURS[space], label=space)
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.03)
    ax.set_xlabel("dimension d (first d principal axes)")
    ax.set_ylabel("share of the true top-K kept")
    ax.set_title("what a projection keeps of the neighbours")
    ax.legend(fontsize=8)
    return ax
