"""recsys_nb.plots: each figure draws what it is given (counted on small synthetic input), the PCA
behind the 2-D pictures in closed form, and bad input raises naming the problem."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from recsys_nb import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_pca_axes_closed_form():
    # variance 8 along (0.6, 0.8, 0), 2 along (-0.8, 0.6, 0), none along z: shares 0.8 and 0.2
    x = np.array([[1.2, 1.6, 0], [-1.2, -1.6, 0], [-0.8, 0.6, 0], [0.8, -0.6, 0]]) + 5.0
    mean, axes, explained = plots.pca_axes(x)
    np.testing.assert_allclose(mean, [5, 5, 5])
    # the sign rule: each axis flipped so its largest loading is positive (LAPACK returns
    # -(0.6, 0.8, 0) and (-0.8, 0.6, 0) here)
    np.testing.assert_allclose(axes, [[0.6, 0.8, 0], [0.8, -0.6, 0]], atol=1e-12)
    np.testing.assert_allclose(explained, [0.8, 0.2])
    coords, shares = plots.pca_2d(x)
    np.testing.assert_allclose(coords, [[2, 0], [-2, 0], [0, -1], [0, 1]], atol=1e-12)
    np.testing.assert_allclose(shares, [0.8, 0.2])
    _, all_axes, all_shares = plots.pca_axes(x, n_components=3)
    np.testing.assert_allclose(all_axes[:2], axes, atol=1e-12)
    np.testing.assert_allclose(all_shares, [0.8, 0.2, 0.0], atol=1e-12)
    for bad in (0, 4):
        with pytest.raises(ValueError, match=rf"n_components={bad} must be in \[1, 3\]"):
            plots.pca_axes(x, n_components=bad)


@pytest.mark.parametrize("bad, fragment", [
    (np.ones((2, 3)), r"shape \(2, 3\)"),
    (np.ones(5), r"shape \(5,\)"),
    (np.array([[0, 1.0], [1, np.nan], [2, 2]]), "NaN"),
])
def test_pca_rejects_bad_matrices(bad, fragment):
    with pytest.raises(ValueError, match=fragment):
        plots.pca_2d(bad)


def test_main_genre_labels_follow_the_priority():
    labels = plots.main_genre_labels(
        [["Comedy", "Animation"], ["Drama"], ["Western"], []], ["Animation", "Comedy", "Drama"])
    assert labels.tolist() == ["Animation", "Drama", "other", "other"]
    with pytest.raises(ValueError, match="priority is empty"):
        plots.main_genre_labels([["Drama"]], [])


def test_embedding_map_draws_one_scatter_per_label_and_other_first():
    coords = np.arange(12, dtype=float).reshape(6, 2)
    labels = ["b", "a", "a", "other", "a", "other"]
    ax = plots.plot_embedding_map(coords, labels, explained=[0.25, 0.125], highlight={"X": 1})
    # scatters: other, a, b, plus the highlight ring
    assert len(ax.collections) == 4
    assert legend_texts(ax) == ["other (2)", "a (3)", "b (1)"]
    assert ax.get_xlabel() == "PC 1 (25.0% of variance)"
    assert ax.get_ylabel() == "PC 2 (12.5% of variance)"
    assert [t.get_text() for t in ax.texts] == ["X"]
    with pytest.raises(ValueError, match="labels must be"):
        plots.plot_embedding_map(coords, labels[:-1])


def test_similarity_histograms_share_their_bins():
    ax = plots.plot_similarity_histograms(np.array([0.0, 0.5]), np.array([0.5, 1.0]), bins=10)
    assert len(ax.patches) == 20  # two histograms of 10 bars
    assert legend_texts(ax) == ["random pairs (mean 0.25)", "nearest neighbour (mean 0.75)"]


def test_score_distribution_marks_the_top_n_cut_off():
    ax = plots.plot_score_distribution(np.linspace(0, 1, 50), np.array([0.9]),
                                       np.array([0.8, 0.6, 0.7]), bins=5)
    assert len(ax.patches) == 10  # catalogue + seen histograms
    assert legend_texts(ax) == ["all 50 items", "seen (1)", "top-3 cut-off (0.60)"]
    assert ax.lines[0].get_xdata()[0] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="at least one recommendation"):
        plots.plot_score_distribution(np.linspace(0, 1, 5), [], [])


def test_scores_by_rank_plots_the_median_per_rank():
    scores = np.array([[0.9, 0.5], [0.7, 0.3], [0.8, 0.4]])
    ax = plots.plot_scores_by_rank(scores)
    (median,) = ax.lines
    np.testing.assert_allclose(median.get_xdata(), [1, 2])
    np.testing.assert_allclose(median.get_ydata(), [0.8, 0.4])
    assert ax.get_title() == "3 users"
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        plots.plot_scores_by_rank(np.ones(3))


def test_subtraction_curves_one_line_per_start_on_each_panel():
    f = np.array([0.0, 0.5, 1.0])
    cos = {"cos 0.9": np.array([0.9, 0.5, np.nan]), "cos 0.1": np.array([0.1, -0.2, -0.4])}
    norms = {"cos 0.9": np.array([1.0, 0.6, 0.1]), "cos 0.1": np.array([1.0, 1.1, 1.3])}
    left, right = plots.plot_subtraction_curves(f, cos, norms)
    assert [ln.get_label() for ln in left.lines[:2]] == ["cos 0.9", "cos 0.1"]
    assert len(left.lines) == 3 and len(right.lines) == 3  # + the zero line / the 0.5 marker
    np.testing.assert_allclose(right.lines[1].get_ydata(), [1.0, 1.1, 1.3])
    with pytest.raises(ValueError, match="same curves"):
        plots.plot_subtraction_curves(f, cos, {"cos 0.9": norms["cos 0.9"]})


def test_factor_sweep_one_line_per_metric_and_the_mark():
    sweep = pd.DataFrame({"factor": [0.0, 0.5], "recall": [0.2, 0.3], "ndcg": [0.1, 0.2]})
    ax = plots.plot_factor_sweep(sweep, ["recall", "ndcg"], mark=0.5)
    assert legend_texts(ax) == ["recall", "ndcg", "factor = 0.5"]
    with pytest.raises(ValueError, match=r"lacks columns \['mrr'\]"):
        plots.plot_factor_sweep(sweep, ["mrr"])


def test_strategy_bars_one_bar_per_row_and_metric():
    table = pd.DataFrame({"strategy": ["a", "b", "c"], "recall": [0.1, 0.2, 0.3],
                          "ndcg": [0.3, 0.2, 0.1]})
    ax = plots.plot_strategy_bars(table, ["recall", "ndcg"])
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["recall", "ndcg"]
    assert legend_texts(ax) == ["a", "b", "c"]
    assert sorted(p.get_height() for p in ax.patches) == pytest.approx(
        [0.1, 0.1, 0.2, 0.2, 0.3, 0.3])
    with pytest.raises(ValueError, match=r"lacks columns \['strategy'\]"):
        plots.plot_strategy_bars(table.drop(columns="strategy"), ["recall"])


def test_top_genres_counts_skips_and_breaks_ties_alphabetically():
    lists = [["Drama", "Comedy"], ["Comedy", "(no genres listed)"], ["Action", "Drama"], ["Zoo"]]
    assert plots.top_genres(lists, 3) == ["Comedy", "Drama", "Action"]
    assert plots.top_genres(lists, 10) == ["Comedy", "Drama", "Action", "Zoo"]
    with pytest.raises(ValueError, match="n=0"):
        plots.top_genres(lists, 0)
    with pytest.raises(ValueError, match="no genres found"):
        plots.top_genres([["(no genres listed)"], []], 2)


def test_drift_one_line_per_alpha_in_order():
    ax = plots.plot_drift({0.5: np.array([1.0, 0.5]), 0.1: np.array([1.0, 0.9, 0.8])},
                          title="t")
    assert legend_texts(ax) == ["alpha = 0.1", "alpha = 0.5"]
    assert [len(ln.get_xdata()) for ln in ax.lines] == [3, 2]
    assert ax.get_title() == "t"


def test_genre_similarity_solid_until_the_step_then_faint():
    sims = np.array([[0.1, 0.3], [0.2, 0.2], [0.4, 0.0], [0.5, 0.1]])
    ax = plots.plot_genre_similarity(sims, ["Drama", "Comedy"], step=2)
    # per genre a solid line up to event 2 and a faint one after; plus the step marker
    assert len(ax.lines) == 5
    assert [len(ln.get_xdata()) for ln in ax.lines[:4]] == [2, 3, 2, 3]
    assert legend_texts(ax) == ["Drama", "Comedy"]
    rel = plots.plot_genre_similarity(sims, ["Drama", "Comedy"], relative=True)
    assert rel.get_ylabel() == "cosine - mean over genres"
    np.testing.assert_allclose(rel.lines[0].get_ydata(), [-0.1, 0.0, 0.2, 0.2])
    with pytest.raises(ValueError, match="must be \\(events, 3 genres\\)"):
        plots.plot_genre_similarity(sims, ["a", "b", "c"])


def test_metric_bars_with_baseline_lines_over_each_group():
    table = pd.DataFrame({"model": ["blend", "minilm"], "R@50": [0.28, 0.05],
                          "NDCG@10": [0.14, 0.02]})
    base = {"popularity": {"R@50": 0.145, "NDCG@10": 0.07}}
    ax = plots.plot_metric_bars(table, ["R@50", "NDCG@10"], baselines=base)
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.texts] == ["0.280", "0.140", "0.050", "0.020"]
    assert legend_texts(ax) == ["popularity", "blend", "minilm"]
    (lines,) = [c for c in ax.collections if c.get_label() == "popularity"]
    np.testing.assert_allclose([seg[0][1] for seg in lines.get_segments()], [0.145])
    with pytest.raises(ValueError, match=r"table lacks columns \['model'\]"):
        plots.plot_metric_bars(table.drop(columns="model"), ["R@50"])


def test_sweep_sorts_x_and_draws_baselines_and_the_default():
    sweep = pd.DataFrame({"alpha": [0.5, 0.1, 0.3], "recall": [0.3, 0.1, 0.2]})
    ax = plots.plot_sweep(sweep, "alpha", "recall", baselines={"EASE": 0.25, "pop": 0.15},
                          mark=0.3, logx=True)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.1, 0.3, 0.5])
    assert legend_texts(ax) == ["recall", "EASE", "pop", "default alpha = 0.3"]
    assert ax.get_xscale() == "log"
    assert plots.plot_sweep(sweep, "alpha", "recall", legend=False).get_legend() is None
    with pytest.raises(ValueError, match=r"sweep lacks columns \['ndcg'\]"):
        plots.plot_sweep(sweep, "alpha", "ndcg")


def test_ablation_writes_the_signed_difference_of_each_pair():
    table = pd.DataFrame({"technique": ["momentum", "prior"], "on": [0.2, 0.3],
                          "off": [0.25, 0.1]})
    ax = plots.plot_ablation(table)
    assert len(ax.patches) == 4
    assert [t.get_text().strip() for t in ax.texts] == ["-0.050", "+0.200"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["momentum", "prior"]
    with pytest.raises(ValueError, match=r"lacks columns \['off'\]"):
        plots.plot_ablation(table.drop(columns="off"))


def test_momentum_2d_numbers_the_history_and_draws_given_arrows():
    history = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    ax = plots.plot_momentum_2d(history, current=[0.6, 0.8], predicted=[0.0, 1.0],
                                a1=[0.9, 0.3], a2=[0.4, 0.8], title="w = 1")
    labels = [t.get_text() for t in ax.texts]
    assert labels[:3] == ["1", "2", "3"] and labels.count("") == 5  # 4 arrows + a1 -> a2
    assert legend_texts(ax) == ["items watched (old -> new)", "a1 (older half)",
                                "a2 (newer half)", "current interest (EMA)",
                                "predicted: a2 + w(a2 - a1)"]
    plain = plots.plot_momentum_2d(history)
    assert [t.get_text() for t in plain.texts] == ["1", "2", "3"]
    with pytest.raises(ValueError, match=r"\(n, 2\) points"):
        plots.plot_momentum_2d(np.ones((3, 3)))


def test_next_item_similarity_one_line_per_curve_coloured_by_name():
    ax = plots.plot_next_item_similarity(
        {"current": np.array([0.1, 0.2]), "predicted (w=1)": np.array([0.3, 0.1, 0.2])}, step=2)
    assert [ln.get_label() for ln in ax.lines[:2]] == ["current", "predicted (w=1)"]
    assert [to_hex(ln.get_color()) for ln in ax.lines[:2]] == [
        to_hex("tab:blue"), to_hex("tab:green")]
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [1, 2, 3])
    assert len(ax.lines) == 3  # + the step marker


def test_metric_by_window_one_line_per_variant_and_the_reference():
    table = pd.DataFrame({"variant": ["m", "m", "r", "r"], "window": [10, 4, 4, 10],
                          "recall": [0.2, 0.1, 0.15, 0.25]})
    ax = plots.plot_metric_by_window(table, "recall", reference=0.18, baselines={"pop": 0.1})
    assert legend_texts(ax) == ["m", "r", "current interest (no momentum)", "pop"]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [4, 10])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.1, 0.2])
    assert [t for t in ax.get_xticks()] == [4, 10]
    with pytest.raises(ValueError, match=r"table lacks columns \['window'\]"):
        plots.plot_metric_by_window(table.drop(columns="window"), "recall")
