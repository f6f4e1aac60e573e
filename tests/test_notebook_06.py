"""Notebook 06 (evaluation and tuning report): its conventions, a papermill run with non-default
parameters (recorded metrics in range, the default beats popularity, the from_dataset path ranks
exactly as the experiment's constructor path, the popularity prior and the embeddings measured
with and without it, every verdict consistent with its own numbers), invalid parameters failing
at the parameters check naming them (the details are unit tests of recsys_nb.lessons.tuning),
and the plotting helpers it uses."""

from __future__ import annotations

import math
import numbers

import matplotlib
import pandas as pd
import pytest
from nbrun import check_conventions, run_notebook
from papermill.exceptions import PapermillExecutionError

from recsys_nb.plots import plot_ablation, plot_metric_bars, plot_sweep
from recsys_nb.recommender import DEFAULT_DIMS, DEFAULT_EMBEDDING, DEFAULT_PARAMS
from recsys_nb.report import read_recorded

matplotlib.use("Agg")

NOTEBOOK = "06_evaluation_and_tuning.ipynb"
VERDICTS = {"holds", "does not hold", "no measurable effect", "not measured"}
METRIC_WORDS = ("recall", "ndcg", "hitrate", "coverage", "mrr")


def test_notebook_follows_the_conventions():
    """Committed without outputs; one `parameters` cell of commented literals."""
    _, names = check_conventions(NOTEBOOK)
    assert names == ["FULL", "N_USERS", "MIN_EVENTS", "TEST_FRACTION", "K", "EMBEDDINGS", "DIMS",
                     "ALPHA_VIEW_GRID", "ALPHA_FAVORITE_GRID", "FACTOR_GRID",
                     "POPULARITY_WEIGHT_GRID", "WINDOW_GRID", "COLD_START_EVENTS", "BASELINES",
                     "ROLLING_MONTHS", "TOLERANCE", "SEED", "STORE_DIR"]


def _metric_values(recorded: dict) -> list[tuple[str, float]]:
    """Every recorded number (or list of numbers) whose name says it is a ranking metric."""
    found = []
    for name, value in recorded.items():
        if not any(w in name for w in METRIC_WORDS):
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, numbers.Real) and not isinstance(v, bool):
                found.append((name, float(v)))
    return found


@pytest.mark.notebook
def test_report_with_other_parameters_records_consistent_numbers(tmp_path):
    """80 other users, K = 5/50, only collaborative vectors (besides the default) and popularity,
    small grids."""
    n_users, tolerance = 80, 0.01
    rec = run_notebook(
        NOTEBOOK, tmp_path, N_USERS=n_users, SEED=3, K=[5, 50], EMBEDDINGS=["collaborative"],
        BASELINES=["popularity"], ALPHA_VIEW_GRID=[0.2, 0.5], ALPHA_FAVORITE_GRID=[0.3],
        FACTOR_GRID=[0.0], POPULARITY_WEIGHT_GRID=[0.0, 1.0], WINDOW_GRID=[6, 30],
        COLD_START_EVENTS=[2], TOLERANCE=tolerance, ROLLING_MONTHS=120,
        STORE_DIR=str(tmp_path / "store"),
    )
    # the split
    assert rec["n_users"] == n_users
    assert rec["leakage_violations"] == 0 and rec["relevant_in_training"] == 0
    assert rec["n_train_events"] + rec["n_test_events"] == 100_004
    # every metric recorded is a mean of per-user values in [0, 1]; the K asked for were used
    metrics = _metric_values(rec)
    assert len(metrics) > 20
    for name, value in metrics:
        assert 0.0 <= value <= 1.0, (name, value)
    assert "default_recall@5" in rec and "default_recall@10" not in rec
    # the package default, read from the code, measured through from_dataset and beating popularity
    assert rec["default_embedding"] == DEFAULT_EMBEDDING
    assert rec["default_params"] == DEFAULT_PARAMS
    # from_dataset (its own store and HNSW graph) vs the experiment's constructor path: the same
    # item vectors and interest vectors, so the same exact ranking; HNSW lists nearly the same
    assert rec["default_matches_constructor_path"] is True
    assert rec["default_vs_constructor_list_overlap"] > 0.95
    assert rec["default_vs_constructor_diff"] == pytest.approx(
        abs(rec["default_recall@50"] - rec["constructor_recall@50"]), abs=1.5e-4)  # 3 roundings
    assert rec["default_vs_constructor_diff"] < 0.02
    if DEFAULT_EMBEDDING == "blend":  # 64 sequence + 64 SVD dimensions in one stored vector
        assert rec["default_dim"] == 2 * DEFAULT_DIMS["blend"]
    assert rec["n_users_split"] == 671 and rec["n_users_skipped"] == 0
    assert rec["n_train_events_scored"] < rec["n_train_events"]
    # the HNSW search finds most of the exact cosine top-50 (exact=True in evaluate)
    assert 0.8 < rec["default_ann_overlap@50"] <= 1.0
    assert rec["default_recall@50"] <= rec["default_exact_recall@50"] + 0.02
    assert rec["default_recall@50"] > rec["popularity_recall@50"]
    assert rec["best_baseline"] == "popularity"
    # sweeps: the grids given plus the default value, one number each
    assert rec["sweep_alpha_view_values"] == sorted({0.2, 0.5, DEFAULT_PARAMS["alpha_view"]})
    assert rec["sweep_not_interested_factor_values"] == sorted(
        {0.0, DEFAULT_PARAMS["not_interested_factor"]})
    weights = rec["sweep_popularity_weight_values"]
    assert weights == sorted({0.0, 1.0, DEFAULT_PARAMS["popularity_weight"]})
    assert 10 in rec["sweep_window_values"] and {6, 30} <= set(rec["sweep_window_values"])
    for param in ("alpha_view", "alpha_favorite", "not_interested_factor", "popularity_weight",
                  "window"):
        values, recalls = rec[f"sweep_{param}_values"], rec[f"sweep_{param}_recall@50"]
        assert len(values) == len(recalls)
        assert recalls[values.index(rec[f"best_{param}"])] == max(recalls)
        if param in DEFAULT_PARAMS:  # the default's row is the default configuration itself
            assert recalls[values.index(DEFAULT_PARAMS[param])] == rec["constructor_recall@50"]
    assert rec["best_config_recall"] >= rec["default_recall@50"]
    # the popularity prior: one number per weight; it narrows the lists (coverage falls)
    for m in ("ndcg@5", "coverage@50"):
        assert len(rec[f"sweep_popularity_weight_{m}"]) == len(weights)
    coverage = rec["sweep_popularity_weight_coverage@50"]
    default_weight = weights.index(DEFAULT_PARAMS["popularity_weight"])
    assert coverage[weights.index(0.0)] > coverage[default_weight]
    # embeddings: those in EMBEDDINGS (here the collaborative vectors at the package's size),
    # each with and without the prior, with the exact ranking next to Chroma's
    svd = f"collaborative{DEFAULT_DIMS['collaborative']}"
    blend = f"blend{DEFAULT_DIMS['blend']}"
    assert rec["embeddings_measured"] == [svd]
    assert f"embedding_{blend}_recall@50" not in rec  # blend was not in EMBEDDINGS
    for prefix in (f"embedding_{svd}", f"embedding_{svd}_noprior"):
        assert 0.5 < rec[f"{prefix}_ann_overlap@50"] <= 1.0
        assert rec[f"{prefix}_recall@50"] <= rec[f"{prefix}_exact_recall@50"] + 0.03
    assert rec[f"embedding_{svd}_noprior_recall@50"] > 0.0
    assert rec["cold_start_events"] == [2]
    # verdicts: one row per claim, each consistent with its numbers and the tolerance
    rows = rec["verdicts"]
    assert rec["n_claims"] == len(rows) == 16
    assert len({r["claim"] for r in rows}) == len(rows)
    assert {r["verdict"] for r in rows} <= VERDICTS
    assert rec["metric"] == "recall@50" and rec["tolerance"] == tolerance
    not_measured = [r for r in rows if r["verdict"] == "not measured"]
    assert len(not_measured) == 2  # both MiniLM claims: minilm was not in EMBEDDINGS
    assert all("minilm" in r["note"] for r in not_measured)
    assert all(r["on"] is None and r["diff"] is None for r in not_measured)
    for r in rows:
        if r["verdict"] == "not measured":
            continue
        # same users on both sides: the mean difference is the difference of the means
        assert r["diff"] == pytest.approx(r["on"] - r["off"], abs=2e-4)
        assert r["ci_low"] <= r["diff"] <= r["ci_high"]
        near_edge = (abs(abs(r["diff"]) - tolerance) < 2e-4 or abs(r["ci_low"]) < 2e-4
                     or abs(r["ci_high"]) < 2e-4)
        if not near_edge:  # recorded values are rounded to 4 decimals
            expected = ("holds" if r["diff"] > tolerance and r["ci_low"] > 0 else
                        "does not hold" if r["diff"] < -tolerance and r["ci_high"] < 0 else
                        "no measurable effect")
            assert r["verdict"] == expected, r
    by_claim = {r["claim"]: r for r in rows}
    beats_pop = by_claim["the package default configuration beats popularity"]
    assert beats_pop["on"] == rec["default_recall@50"]
    assert beats_pop["off"] == rec["popularity_recall@50"]
    by_key = {r["key"]: r for r in rows}
    assert len(by_key) == len(rows)
    for r in rows:
        assert rec[f"verdict_{r['key']}"] == r["verdict"]
    assert by_key["writeup_text"]["verdict"] == "not measured"  # the write-up's claim, renamed
    prior = by_key["popularity_prior"]  # the default with and without the prior
    assert prior["on"] == rec["constructor_recall@50"]
    assert prior["off"] == rec["sweep_popularity_weight_recall@50"][weights.index(0.0)]
    blend_svd = by_key["blend_vs_svd"]  # both with the prior
    assert blend_svd["on"] == rec["constructor_recall@50"]
    assert blend_svd["off"] == rec[f"embedding_{svd}_recall@50"]
    blend_svd_alone = by_key["blend_vs_svd_no_prior"]
    assert blend_svd_alone["on"] == prior["off"]
    assert blend_svd_alone["off"] == rec[f"embedding_{svd}_noprior_recall@50"]
    assert by_key["default_vs_best_baseline"]["off"] == rec["popularity_recall@50"]
    # the two protocols: the leak measured, every model on both, the claims each settles
    assert 0.3 < rec["later_training_share"] < 0.6
    assert rec["rolling_cutoffs"] == 2  # 2000-01, 2010-01
    table = {row["model"]: row for row in rec["protocol_table"]}
    assert list(table)[0] == "popularity" and len(table) == 3
    assert table["popularity"]["per-user recall@50"] == rec["popularity_recall@50"]
    default_row = next(r for m, r in table.items() if m.endswith("(the default)"))
    assert default_row["per-user recall@50"] == rec["constructor_recall@50"]
    for row in table.values():
        assert 1 <= row["rolling rank"] <= 3 and 0 < row["coverage@50"] <= 1
        assert 0 <= row["diversity@5"] <= 2 and row["novelty@5"] > 0
    leak_free = by_key["default_vs_best_baseline_rolling"]
    assert leak_free["on"] == default_row["rolling recall@50"]
    assert leak_free["off"] == table["popularity"]["rolling recall@50"]
    trending = next(r for m, r in table.items() if "trending" in m)
    assert by_key["trending_vs_all_time_rolling"]["on"] == trending["rolling recall@50"]
    counted = sum(rec[f"verdicts_{v.replace(' ', '_')}"] for v in VERDICTS)
    assert counted == len(rows)
    assert rec["n_configurations_total"] >= rec["n_configurations"] > 10
    # the store folder is emptied at the end, and its lock released
    assert [p.name for p in (tmp_path / "store" / "chroma").iterdir()] == [".writer.lock"]


@pytest.mark.notebook
def test_invalid_parameters_fail_before_any_work_naming_them(tmp_path):
    """The notebook stops at its parameters check (tuning.TuningConfig, unit-tested in
    test_lessons_tuning.py) with every problem named: nothing recorded, no store built."""
    store = tmp_path / "store"
    with pytest.raises(PapermillExecutionError) as info:
        run_notebook(NOTEBOOK, tmp_path, EMBEDDINGS=["nope"], ALPHA_VIEW_GRID=[],
                     POPULARITY_WEIGHT_GRID=[-1, 0.5], WINDOW_GRID=[1], BASELINES=["ease"],
                     TOLERANCE=-1, N_USERS=0, STORE_DIR=str(store))
    message = str(info.value)
    assert info.value.ename == "ValueError" and "invalid parameters" in message
    for expected in ("EMBEDDINGS values ['nope']", "'collaborative'",
                     "ALPHA_VIEW_GRID has an empty", "POPULARITY_WEIGHT_GRID values [-1]",
                     "WINDOW_GRID values [1]", "N_USERS=0 must be None or an integer >= 1",
                     "BASELINES=['ease'] must include 'popularity'", "TOLERANCE=-1"):
        assert expected in message, expected
    assert read_recorded(tmp_path / NOTEBOOK) == {}  # stopped before the split was made
    assert not store.exists()  # nothing was built or reset


def test_plots_for_notebook_06():
    table = pd.DataFrame({"model": ["a", "b"], "recall@50": [0.2, 0.1], "ndcg@10": [0.1, 0.05]})
    base = {"popularity": {"recall@50": 0.15, "ndcg@10": 0.07}}
    ax = plot_metric_bars(table, ["recall@50", "ndcg@10"], baselines=base)
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0.2, 0.1, 0.1, 0.05]
    lines = [c for c in ax.collections if c.get_label() == "popularity"]
    assert len(lines) == 1
    levels = sorted(float(seg[0][1]) for c in ax.collections for seg in c.get_segments())
    assert levels == [0.07, 0.15]  # one line per metric group, at the baseline's value
    with pytest.raises(ValueError, match="lacks columns"):
        plot_metric_bars(table, ["mrr"])

    sweep = pd.DataFrame({"alpha": [0.5, 0.1, 0.3], "recall@50": [0.2, 0.1, 0.3]})
    ax = plot_sweep(sweep, "alpha", "recall@50", baselines={"popularity": 0.12}, mark=0.3)
    curve = ax.get_lines()[0]
    assert list(curve.get_xdata()) == [0.1, 0.3, 0.5]  # sorted by the swept value
    assert list(curve.get_ydata()) == [0.1, 0.3, 0.2]
    horizontal = [ln for ln in ax.get_lines() if ln.get_label() == "popularity"]
    assert list(horizontal[0].get_ydata()) == [0.12, 0.12]
    assert ax.get_legend() is not None
    assert plot_sweep(sweep, "alpha", "recall@50", legend=False).get_legend() is None

    ablation = pd.DataFrame({"technique": ["ema", "momentum"], "on": [0.2, 0.1],
                             "off": [0.15, 0.2]})
    ax = plot_ablation(ablation)
    assert [p.get_width() for p in ax.patches] == [0.2, 0.1, 0.15, 0.2]
    assert [t.get_text().strip() for t in ax.texts] == ["+0.050", "-0.100"]
    assert not math.isnan(ax.get_xlim()[1])
