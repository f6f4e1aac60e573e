"""matplotlib figures for the notebooks, the PCA behind the 2-D pictures, and the labels they use.

Functions take arrays or frames and an optional ``ax`` and return the Axes (or Figure), so a
notebook can lay several out side by side and a test can inspect what was drawn. The numbers they
draw are computed in :mod:`recsys_nb.vectors` (trajectories, predictions, similarities, genre
centroids): this module only draws them (imports point one way: plots -> vectors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recsys_nb.trajectories import relative_similarities

# --------------------------------------------------------------------------------------------
# Notebook 01: the embedding space in 2-D, and how similar neighbours are.



def _unit_circle_axes(ax: Any, title: str | None) -> Any:
    """Square axes around the unit circle, with the origin's cross, a legend and the title."""
    ax.set_aspect("equal")
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.axhline(0, color="0.9", lw=0.8)
    ax.axvline(0, color="0.9", lw=0.8)
    ax.legend(fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    return ax

def pca_axes(vectors: np.ndarray, n_components: int = 2
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``n_components`` principal axes of the rows (numpy SVD, no scikit-learn).

    The signs of principal axes are arbitrary; each axis is flipped so its largest loading is
    positive, which makes the picture the same on every run.

    Returns:
        ``(mean (d,), axes (n_components, d), explained (n_components,))``: project any vector
        ``x`` of the same space with ``(x - mean) @ axes.T`` (a user's interest, say);
        ``explained`` is the share of the total variance each axis keeps. A small share is the
        honest caption of any 2-D picture of a 384-d space.

    Raises:
        ValueError: fewer than 3 rows or 2 columns, NaN / infinite values, ``n_components``
            outside [1, d] (the message names the dimension).
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 2:
        raise ValueError(f"pca_2d needs an (n >= 3, d >= 2) matrix; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("pca_2d got NaN or infinite values; check the embeddings")
    n = int(n_components)
    if not 1 <= n <= x.shape[1]:
        raise ValueError(f"n_components={n_components!r} must be in [1, {x.shape[1]}] (the "
                         "vectors' dimension)")
    mean = x.mean(axis=0)
    centred = x - mean
    # SVD of the small d x d scatter matrix, not of the n x d data: same axes (its singular values
    # are the squared ones of the data), 15-50x faster for 9k x 384 on 2 cores.
    _, variances, axes = np.linalg.svd(centred.T @ centred)
    axes = axes[:n]
    flip = np.sign(axes[np.arange(n), np.abs(axes).argmax(axis=1)])
    axes = axes * flip[:, None]
    total = float(variances.sum())
    explained = variances[:n] / total if total > 0 else np.zeros(n)
    return mean, axes, explained


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows onto their first two principal components (:func:`pca_axes`).

    Returns:
        ``(coords (n, 2) float64, explained (2,))``.
    """
    mean, axes, explained = pca_axes(vectors)
    return (np.asarray(vectors, dtype=np.float64) - mean) @ axes.T, explained


def main_genre_labels(
    genres: Sequence[Sequence[str]], priority: Sequence[str], other: str = "other"
) -> np.ndarray:
    """One colour label per item: the first genre of ``priority`` that the item has, else ``other``.

    MovieLens lists genres alphabetically, so "the first genre" would make most films "Action" or
    "Adventure". A priority list from specific to generic (Animation before Comedy) says instead
    what kind of film it mainly is.
    """
    if not priority:
        raise ValueError("priority is empty; pass genres to colour by, e.g. ['Animation', 'Drama']")
    out = []
    for item_genres in genres:
        have = set(item_genres)
        out.append(next((g for g in priority if g in have), other))
    return np.asarray(out, dtype=object)


def plot_embedding_map(
    coords: np.ndarray,
    labels: Sequence[str],
    explained: Sequence[float] | None = None,
    ax: Any = None,
    order: Sequence[str] | None = None,
    highlight: dict[str, int] | None = None,
    other: str = "other",
) -> Any:
    """Scatter a 2-D projection coloured by label (e.g. main genre); returns the Axes.

    Args:
        coords: (n, 2) from :func:`pca_2d`.
        labels: one label per row; ``other`` is drawn first, in light grey, underneath.
        explained: variance shares of the two axes, written on the axis labels.
        order: label order of the legend (default: by frequency).
        highlight: {text: row} points to annotate, e.g. the showcased movies.
    """
    import matplotlib.pyplot as plt

    xy = np.asarray(coords, dtype=np.float64)
    lab = np.asarray(labels, dtype=object)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(lab) != len(xy):
        raise ValueError(f"coords {xy.shape} and {len(lab)} labels must be (n, 2) and n")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 6))
    names = list(order) if order is not None else list(
        dict.fromkeys(sorted(set(lab) - {other}, key=lambda g: -int((lab == g).sum())))
    )
    if (lab == other).any():
        mask = lab == other
        ax.scatter(*xy[mask].T, s=4, c="#d0d0d0", label=f"{other} ({int(mask.sum())})")
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    colour = {name: cmap(k % cmap.N) for k, name in enumerate(names)}
    # Biggest groups first, so small specific ones (Animation, Western) stay visible on top.
    for name in sorted(names, key=lambda g: -int((lab == g).sum())):
        mask = lab == name
        if mask.any():
            ax.scatter(*xy[mask].T, s=6, color=colour[name], alpha=0.7,
                       label=f"{name} ({int(mask.sum())})")
    for text, row in (highlight or {}).items():
        ax.scatter(*xy[row], s=60, facecolors="none", edgecolors="black", linewidths=1.2)
        ax.annotate(text, xy[row], xytext=(5, 5), textcoords="offset points", fontsize=9)
    if explained is not None:
        ax.set_xlabel(f"PC 1 ({100 * explained[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * explained[1]:.1f}% of variance)")
    handles, texts = ax.get_legend_handles_labels()
    rank = {name: k for k, name in enumerate([other, *names])}
    pairs = sorted(zip(handles, texts, strict=True),
                   key=lambda p: rank.get(p[1].rsplit(" (", 1)[0], len(rank)))
    ax.legend([h for h, _ in pairs], [t for _, t in pairs], markerscale=3, fontsize=8, loc="best")
    return ax


def plot_similarity_histograms(
    random_sims: np.ndarray, neighbour_sims: np.ndarray, ax: Any = None, bins: int = 60
) -> Any:
    """Overlaid histograms: cosine of random pairs vs of each item's nearest neighbour."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    edges = np.linspace(
        min(float(np.min(random_sims)), float(np.min(neighbour_sims))), 1.0, bins + 1
    )
    ax.hist(random_sims, bins=edges, density=True, alpha=0.6,
            label=f"random pairs (mean {np.mean(random_sims):.2f})")
    ax.hist(neighbour_sims, bins=edges, density=True, alpha=0.6,
            label=f"nearest neighbour (mean {np.mean(neighbour_sims):.2f})")
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.legend()
    return ax


# --------------------------------------------------------------------------------------------
# Notebook 03: what recommendation scores look like.


def plot_score_distribution(
    all_scores: np.ndarray,
    seen_scores: np.ndarray,
    top_scores: np.ndarray,
    ax: Any = None,
    bins: int = 60,
) -> Any:
    """One user's cosine to every item (histogram), their seen items on top, the top-N cut-off.

    Args:
        all_scores: cosine of the interest vector to every catalogue item.
        seen_scores: the same for the items the user has events on.
        top_scores: the scores of the recommended (unseen) top-N; a line marks the lowest.
    """
    import matplotlib.pyplot as plt

    all_scores = np.asarray(all_scores, dtype=np.float64)
    if all_scores.size == 0 or len(top_scores) == 0:
        raise ValueError("need the scores of the catalogue and of at least one recommendation")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    edges = np.linspace(float(all_scores.min()), float(all_scores.max()), bins + 1)
    ax.hist(all_scores, bins=edges, alpha=0.6, label=f"all {all_scores.size:,} items")
    if len(seen_scores):
        ax.hist(seen_scores, bins=edges, alpha=0.8, label=f"seen ({len(seen_scores)})")
    cut = float(np.min(top_scores))
    ax.axvline(cut, color="black", linestyle="--", linewidth=1,
               label=f"top-{len(top_scores)} cut-off ({cut:.2f})")
    ax.set_yscale("log")
    ax.set_xlabel("cosine similarity to the interest vector")
    ax.set_ylabel("items (log scale)")
    ax.legend(fontsize=8)
    return ax


def plot_scores_by_rank(scores: np.ndarray, ax: Any = None) -> Any:
    """Score at each rank across users: median line and 10-90 % band of a (users x N) matrix."""
    import matplotlib.pyplot as plt

    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.size == 0:
        raise ValueError(f"scores must be a non-empty (users x N) matrix; got shape {s.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ranks = np.arange(1, s.shape[1] + 1)
    lo, mid, hi = np.nanpercentile(s, [10, 50, 90], axis=0)
    ax.fill_between(ranks, lo, hi, alpha=0.3, label="10-90 % of users")
    ax.plot(ranks, mid, marker="o", label="median")
    ax.set_xlabel("rank")
    ax.set_ylabel("score (cosine)")
    ax.set_title(f"{s.shape[0]} users")
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------------------------
# Notebook 04: vector subtraction and strategies for negative feedback.


def plot_subtraction_curves(
    factors: np.ndarray,
    cos_after: dict[str, np.ndarray],
    norms: dict[str, np.ndarray],
    axes: Any = None,
) -> Any:
    """Left: cosine(new interest, item) vs factor; right: |v - factor*e| before normalizing.

    One curve per starting cosine (the dict keys label them); NaN points (an overshoot the
    function refused) are left as gaps. Returns the two Axes.
    """
    import matplotlib.pyplot as plt

    f = np.asarray(factors, dtype=np.float64)
    if set(cos_after) != set(norms):
        raise ValueError("cos_after and norms must have the same curves (keys)")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4))
    left, right = axes
    for label in cos_after:
        left.plot(f, cos_after[label], label=label)
        right.plot(f, norms[label], label=label)
    left.axhline(0, color="grey", linewidth=0.8)
    left.set_xlabel("factor")
    left.set_ylabel("cos(normalize(v - factor*e), e)")
    left.set_title("similarity to the rejected item afterwards")
    right.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    right.set_xlabel("factor")
    right.set_ylabel("|v - factor*e|")
    right.set_title("length before normalizing (0 = cancelled)")
    right.set_ylim(bottom=0)
    left.legend(fontsize=8, title="cos(v, e) before")
    return axes


def plot_factor_sweep(
    sweep: Any, metrics: Sequence[str], x: str = "factor", ax: Any = None, mark: float | None = None
) -> Any:
    """Metrics (columns of ``sweep``) against ``x``; ``mark`` draws a vertical line there."""
    import matplotlib.pyplot as plt

    missing = [c for c in [x, *metrics] if c not in sweep.columns]
    if missing:
        raise ValueError(f"sweep lacks columns {missing}; it has {list(sweep.columns)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for m in metrics:
        ax.plot(sweep[x], sweep[m], marker="o", label=m)
    if mark is not None:
        ax.axvline(mark, color="grey", linestyle=":", linewidth=1, label=f"{x} = {mark:g}")
    ax.set_xlabel(x)
    ax.legend(fontsize=8)
    return ax


def plot_strategy_bars(
    table: Any, metrics: Sequence[str], label: str = "strategy", ax: Any = None
) -> Any:
    """Grouped bars: one group per metric, one bar per row of ``table`` (named by ``label``)."""
    import matplotlib.pyplot as plt

    missing = [c for c in [label, *metrics] if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}; it has {list(table.columns)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    n = len(table)
    width = 0.8 / max(n, 1)
    x = np.arange(len(metrics))
    for k, (_, row) in enumerate(table.iterrows()):
        ax.bar(x + (k - (n - 1) / 2) * width, [row[m] for m in metrics], width,
               label=str(row[label]))
    ax.set_xticks(x, list(metrics))
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------------------------
# Notebook 02: interest vectors over time (cold start, EMA, alpha, replay of a real user).


def top_genres(
    genre_lists: Sequence[Sequence[str]], n: int, skip: Sequence[str] = ("(no genres listed)",)
) -> list[str]:
    """The ``n`` most frequent genres in ``genre_lists`` (one list per event or item).

    Ties are broken alphabetically so the choice is the same on every run.
    """
    if n < 1:
        raise ValueError(f"n={n} must be >= 1 (how many genres to keep)")
    counts: dict[str, int] = {}
    for genres in genre_lists:
        for g in genres:
            if g not in skip:
                counts[g] = counts.get(g, 0) + 1
    if not counts:
        raise ValueError("no genres found: the items of this history carry no genre labels")
    return sorted(counts, key=lambda g: (-counts[g], g))[:n]


def plot_drift(
    curves: dict[float, np.ndarray], ax: Any = None, ylabel: str = "cosine(v_t, v_0)",
    title: str | None = None,
) -> Any:
    """One line per alpha: a quantity (e.g. cosine to the start vector) against the step."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    cmap = plt.get_cmap("viridis")
    for k, (alpha, values) in enumerate(sorted(curves.items())):
        steps = np.arange(len(values))
        color = cmap(k / max(1, len(curves) - 1))
        ax.plot(steps, values, marker=".", color=color, label=f"alpha = {alpha:g}")
    ax.set_xlabel("step (items watched after the first)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_genre_similarity(
    similarities: np.ndarray,
    genres: Sequence[str],
    step: int | None = None,
    ax: Any = None,
    title: str | None = None,
    relative: bool = False,
) -> Any:
    """Cosine of the interest vector with each genre centroid, against the event number.

    With ``step`` the curves are solid up to that event and faint after it, and a vertical line
    marks it: the picture the replay widget shows while it plays. ``relative=True`` subtracts, at
    every event, the mean over the genres shown (:func:`relative_similarities`): genre centroids
    share most of their direction, so the absolute curves move together and the gaps between
    them are what tells the genres apart.
    """
    import matplotlib.pyplot as plt

    sims = np.asarray(similarities, dtype=np.float64)
    if sims.ndim != 2 or sims.shape[1] != len(genres):
        raise ValueError(f"similarities {sims.shape} must be (events, {len(genres)} genres)")
    if relative:
        sims = relative_similarities(sims)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(1, len(sims) + 1)
    cmap = plt.get_cmap("tab10")
    cut = len(sims) if step is None else int(np.clip(step, 1, len(sims)))
    for j, genre in enumerate(genres):
        color = cmap(j % cmap.N)
        ax.plot(x[:cut], sims[:cut, j], color=color, lw=1.4, label=genre)
        if cut < len(sims):
            ax.plot(x[cut - 1:], sims[cut - 1:, j], color=color, lw=1.0, alpha=0.2)
    if step is not None:
        ax.axvline(cut, color="black", lw=0.8, ls="--")
    ax.set_xlim(1, max(2, len(sims)))
    ax.set_xlabel("event number (oldest first)")
    ax.set_ylabel("cosine - mean over genres" if relative else "cosine(interest, genre centroid)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncol=min(3, len(genres)))
    return ax


# --------------------------------------------------------------------------------------------
# Notebook 06: evaluation report — comparison bars, sweeps and ablations with baseline lines.


def _check_columns_present(table: Any, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; it has {list(table.columns)}")


def _baseline_lines(
    ax: Any, baselines: Any, spans: Sequence[tuple[float, float]] | None = None
) -> None:
    """Dashed horizontal lines, one per baseline; ``baselines`` maps name -> value (or a list of
    values, one per span, when ``spans`` gives each metric group's x range)."""
    import matplotlib.pyplot as plt

    if not baselines:
        return
    styles = ["--", ":", "-.", (0, (5, 1))]
    greys = plt.get_cmap("Greys")
    for j, (name, value) in enumerate(baselines.items()):
        color = greys(0.55 + 0.4 * j / max(1, len(baselines) - 1))
        style = styles[j % len(styles)]
        if spans is None:
            ax.axhline(float(value), color=color, linestyle=style, linewidth=1.3, label=name)
            continue
        values = list(np.atleast_1d(value))
        if len(values) != len(spans):
            raise ValueError(f"baseline {name!r} has {len(values)} values for {len(spans)} groups")
        for k, ((lo, hi), v) in enumerate(zip(spans, values, strict=True)):
            ax.hlines(float(v), lo, hi, color=color, linestyle=style, linewidth=1.3,
                      label=name if k == 0 else None)


def plot_metric_bars(
    table: Any,
    metrics: Sequence[str],
    label: str = "model",
    baselines: Any = None,
    ax: Any = None,
) -> Any:
    """Grouped bars (one group per metric, one bar per row) with baseline lines across each group.

    Args:
        table: one row per configuration (e.g. per embedding), with ``label`` and ``metrics``.
        baselines: ``{name: baseline row}`` where each row (dict or Series) holds the same
            metrics; drawn as dashed lines over each metric's group, so a bar below a line is a
            configuration that loses to that baseline.
    """
    import matplotlib.pyplot as plt

    _check_columns_present(table, [label, *metrics], "table")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    n = len(table)
    width = 0.8 / max(n, 1)
    x = np.arange(len(metrics))
    for k, (_, row) in enumerate(table.iterrows()):
        bars = ax.bar(x + (k - (n - 1) / 2) * width, [row[m] for m in metrics], width,
                      label=str(row[label]))
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    spans = [(xi - 0.42, xi + 0.42) for xi in x]
    _baseline_lines(ax, {name: [float(row[m]) for m in metrics]
                         for name, row in (baselines or {}).items()}, spans)
    ax.set_xticks(x, list(metrics))
    ax.set_ylabel("mean over evaluated users")
    ax.legend(fontsize=8)
    return ax


def plot_sweep(
    sweep: Any,
    x: str,
    metric: str,
    baselines: Any = None,
    mark: float | None = None,
    ax: Any = None,
    logx: bool = False,
    legend: bool = True,
) -> Any:
    """One metric against one swept parameter, with horizontal baseline lines.

    Args:
        sweep: one row per value of ``x`` (sorted here), with a ``metric`` column.
        baselines: ``{name: value}``: drawn as dashed horizontal lines (e.g. popularity, EASE,
            or the configuration without the technique).
        mark: the default value of ``x``, drawn as a dotted vertical line.
        legend: draw the legend (off for all but one panel of a grid of sweeps).
    """
    import matplotlib.pyplot as plt

    _check_columns_present(sweep, [x, metric], "sweep")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    rows = sweep.sort_values(x)
    ax.plot(rows[x], rows[metric], marker="o", color="tab:blue", label=metric)
    _baseline_lines(ax, baselines)
    if mark is not None:
        ax.axvline(float(mark), color="tab:blue", linestyle=":", linewidth=1,
                   label=f"default {x} = {mark:g}")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7)
    return ax


def plot_ablation(
    table: Any, on: str = "on", off: str = "off", label: str = "technique", ax: Any = None
) -> Any:
    """Horizontal paired bars: each technique with (``on``) and without it (``off``).

    The text at the end of each pair is the difference on - off, so the sign of every technique's
    effect reads at a glance.
    """
    import matplotlib.pyplot as plt

    _check_columns_present(table, [label, on, off], "table")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.6 * len(table) + 1.5))
    y = np.arange(len(table))
    on_v = table[on].to_numpy(dtype=np.float64)
    off_v = table[off].to_numpy(dtype=np.float64)
    ax.barh(y - 0.2, on_v, 0.4, label="with the technique", color="tab:blue")
    ax.barh(y + 0.2, off_v, 0.4, label="without it", color="tab:gray")
    for yi, a, b in zip(y, on_v, off_v, strict=True):
        ax.text(max(a, b), yi, f"  {a - b:+.3f}", va="center", fontsize=8)
    ax.set_yticks(y, [str(v) for v in table[label]])
    ax.invert_yaxis()
    ax.set_xlim(0, max(1e-9, float(np.nanmax([on_v.max(initial=0), off_v.max(initial=0)]))) * 1.25)
    ax.legend(fontsize=8, loc="lower right")
    return ax


# --------------------------------------------------------------------------------------------
# Notebook 05: temporal momentum, predicted interest against the current one.

# The window math (predict_from_window, MOMENTUM_METHODS) lives in recsys_nb.vectors, where
# Recommender.predict_interest uses it too; predicted_trajectory and next_item_similarity in
# recsys_nb.trajectories.


def plot_momentum_2d(
    history: np.ndarray,
    current: np.ndarray | None = None,
    predicted: np.ndarray | None = None,
    a1: np.ndarray | None = None,
    a2: np.ndarray | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """A toy 2-D picture of momentum: the history's items (numbered, oldest light), the two half
    means ``a1``/``a2`` (inside the circle: means of unit vectors are shorter), the current (EMA)
    interest and the prediction ``normalize(a2 + w (a2 - a1))`` on the unit circle."""
    import matplotlib.pyplot as plt

    pts = np.asarray(history, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"history must be (n, 2) points for a 2-D picture, got {pts.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.85", linewidth=1)
    shade = plt.get_cmap("Greys")(np.linspace(0.35, 0.9, len(pts)))
    ax.scatter(pts[:, 0], pts[:, 1], c=shade, s=30, zorder=3, label="items watched (old -> new)")
    for k, (x, y) in enumerate(pts):
        ax.annotate(str(k + 1), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    arrows = [(a1, "tab:orange", "a1 (older half)"), (a2, "tab:red", "a2 (newer half)"),
              (current, "tab:blue", "current interest (EMA)"),
              (predicted, "tab:green", "predicted: a2 + w(a2 - a1)")]
    for vec, color, label in arrows:
        if vec is None:
            continue
        v = np.asarray(vec, dtype=np.float64)
        ax.annotate("", xy=(v[0], v[1]), xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": color, "lw": 2})
        ax.plot([], [], color=color, lw=2, label=label)
    if a1 is not None and a2 is not None:
        ax.annotate("", xy=tuple(np.asarray(a2, dtype=np.float64)),
                    xytext=tuple(np.asarray(a1, dtype=np.float64)),
                    arrowprops={"arrowstyle": "->", "color": "0.4", "lw": 1, "ls": "--"})
    return _unit_circle_axes(ax, title)


def plot_next_item_similarity(
    curves: dict[str, np.ndarray],
    step: int | None = None,
    ax: Any = None,
    title: str | None = None,
    ylabel: str = "mean cosine to the next items",
) -> Any:
    """One line per vector (e.g. current vs predicted interest) against the event number (1-based),
    with a dotted vertical line at ``step``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    colors = {"current": "tab:blue", "predicted": "tab:green"}
    for label, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        color = next((c for key, c in colors.items() if label.startswith(key)), None)
        ax.plot(np.arange(1, len(values) + 1), values, lw=1.2, color=color, label=label)
    if step is not None:
        ax.axvline(step, color="black", linestyle=":", linewidth=1)
    ax.set_xlabel("event")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_metric_by_window(
    table: Any,
    metric: str,
    variant: str = "variant",
    window: str = "window",
    reference: float | None = None,
    reference_label: str = "current interest (no momentum)",
    baselines: Any = None,
    ax: Any = None,
) -> Any:
    """A metric against the momentum window, one line per variant, and a horizontal line for the
    recommender without momentum (``reference``) and any ``baselines`` ({name: value})."""
    import matplotlib.pyplot as plt

    _check_columns_present(table, [variant, window, metric], "table")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    markers = ["o", "s", "^", "D", "v", "P"]
    for k, (name, rows) in enumerate(table.groupby(variant, sort=False)):
        rows = rows.sort_values(window)
        ax.plot(rows[window], rows[metric], marker=markers[k % len(markers)], label=str(name))
    if reference is not None:
        ax.axhline(float(reference), color="black", linewidth=1.6, label=reference_label)
    _baseline_lines(ax, baselines)
    ax.set_xticks(sorted(table[window].unique()))
    ax.set_xlabel(window)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


# --------------------------------------------------------------------------------------------
# Notebook 10: several interests per user.


def plot_two_tastes_2d(
    a: np.ndarray,
    b: np.ndarray,
    mean: np.ndarray | None = None,
    interests: np.ndarray | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """A toy 2-D picture of two tastes: the items of each (points on the unit circle), the mean
    of all of them (one interest vector averaging both) and, if given, the rows of ``interests``
    (several interest vectors), all drawn as arrows from the origin."""
    import matplotlib.pyplot as plt

    pa, pb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    for name, pts in (("a", pa), ("b", pb)):
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"{name} must be (n, 2) points for a 2-D picture, got {pts.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.85", linewidth=1)
    ax.scatter(pa[:, 0], pa[:, 1], s=28, color="tab:orange", zorder=3, label="taste A items")
    ax.scatter(pb[:, 0], pb[:, 1], s=28, color="tab:purple", zorder=3, label="taste B items")
    arrows = [] if mean is None else [(mean, "black", "mean of all: one interest", 2.2)]
    if interests is not None:
        arrows += [(v, "tab:green", "several interests (k=2)" if j == 0 else None, 1.6)
                   for j, v in enumerate(np.atleast_2d(np.asarray(interests, dtype=np.float64)))]
    for vec, color, label, lw in arrows:
        v = np.asarray(vec, dtype=np.float64)
        ax.annotate("", xy=(v[0], v[1]), xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": color, "lw": lw})
        if label:
            ax.plot([], [], color=color, lw=lw, label=label)
    return _unit_circle_axes(ax, title)


def plot_metric_by_k(
    table: Any,
    metric: str,
    k: str = "k",
    merge: str = "merge",
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """A metric against the number of interests ``k``, one line per merge strategy. The k = 1
    row (one interest: no merge, ``merge`` empty) starts every line and is also drawn as a
    horizontal line, so a point below it is a configuration that lost to one interest."""
    import matplotlib.pyplot as plt

    _check_columns_present(table, [k, merge, metric], "table")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.6))
    single = table[table[k] == 1]
    several = table[table[k] > 1]
    markers = ["o", "s", "^", "D"]
    for j, (name, rows) in enumerate(several.groupby(merge, sort=False)):
        rows = _stacked(single, rows, k)
        ax.plot(rows[k], rows[metric], marker=markers[j % len(markers)], label=str(name))
    if len(single):
        ax.axhline(float(single[metric].iloc[0]), color="black", lw=1.2,
                   label="one interest (k=1)")
    ax.set_xticks(sorted(table[k].unique()))
    ax.set_xlabel("interests per user (k)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _stacked(first: Any, rows: Any, by: str) -> Any:
    """``first`` and ``rows`` stacked, sorted by ``by``: one line of :func:`plot_metric_by_k`."""
    import pandas as pd

    return pd.concat([first, rows]).sort_values(by, kind="stable")


def plot_items_per_interest(
    counts: Sequence[int],
    weights: Sequence[float],
    labels: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """How a merged list shares its places: one horizontal bar per interest (the items it
    placed), annotated with the interest's share of the weights. Draws on ``ax`` without
    pyplot (safe on a widget's thread); without ``ax`` a pyplot figure is made."""
    c = np.asarray(counts, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if c.shape != w.shape or c.ndim != 1 or not len(c):
        raise ValueError(f"counts {c.shape} and weights {w.shape} must be one value per "
                         "interest")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4.5, 0.5 + 0.45 * len(c)))
    names = list(labels) if labels is not None else [f"interest {i}" for i in range(len(c))]
    y = np.arange(len(c))
    bars = ax.barh(y, c, color="tab:green")
    share = w / w.sum() if w.sum() > 0 else np.zeros_like(w)
    ax.bar_label(bars, labels=[f"{n} item{'' if n == 1 else 's'} (weight {s:.0%})"
                               for n, s in zip(c, share, strict=True)], fontsize=7, padding=2)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, max(int(c.max()), 1) * 1.9)
    ax.set_xlabel("items in the list", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return ax
