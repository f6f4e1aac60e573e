"""Notebook 09's lesson module: parameter checks, PCA spectrum, strategies, claims, plots."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from recsys_nb.evaluate import NOT_MEASURED, EvaluationResult
from recsys_nb.lessons import segments_and_trends as st
from recsys_nb.segments import fit_segments

matplotlib.use("Agg")

GOOD = {"ROLLING_START": "2015-07-01", "ROLLING_END": "2016-01-01", "ROLLING_MONTHS": 6,
        "N_SEGMENTS": 8, "SEGMENT_KS": [2, 4], "SEGMENT_WEIGHT": None, "FIRST_EVENTS": [5, 1, 3],
        "STRATEGIES": ["trending", "first_item", "segment"], "WINDOW": 6, "MEAN_WINDOW": 12,
        "MIN_HISTORY": 2, "K": [50, 10], "TOP_N": 10, "TOLERANCE": 0.005, "SEED": 0,
        "STORE_DIR": None}


def test_parameters_are_normalized():
    cfg = st.SegmentsConfig.from_parameters(**GOOD)
    assert cfg.first_events == (1, 3, 5) and cfg.new_user_events == 6
    assert cfg.strategies == ("first_item", "trending", "segment")  # first item first
    assert cfg.segment_ks == (2, 4, 8)  # N_SEGMENTS is always compared
    assert cfg.cutoffs == (10, 50) and cfg.recall == "recall@50" and cfg.ndcg == "ndcg@10"
    assert cfg.segment_weight == 0.5 and cfg.horizon_days == 183.0
    assert st.strategy_params("first_item", cfg) == {}
    assert st.strategy_params("segment", cfg) == {"cold_start": "segment", "segments": 8,
                                                  "segment_weight": 0.5}
    assert st.strategy_params("popular", cfg) == {"cold_start": "popular", "cold_events": 5}


def test_every_bad_parameter_is_named_at_once():
    bad = {**GOOD, "ROLLING_START": "2017-01-01", "N_SEGMENTS": 1, "FIRST_EVENTS": [1, 30],
           "STRATEGIES": [], "K": [0], "MEAN_WINDOW": "12", "SEGMENT_WEIGHT": -0.1}
    with pytest.raises(ValueError) as err:
        st.SegmentsConfig.from_parameters(**bad)
    text = str(err.value)
    assert text.startswith("invalid parameters: ")
    for fragment in ("N_SEGMENTS=1 must be an integer >= 2", "MEAN_WINDOW='12' must be",
                     "SEGMENT_WEIGHT=-0.1 must be None or a number in [0, 1]",
                     "STRATEGIES has an empty list", "K values [0] are out of range",
                     "ROLLING_START='2017-01-01' is after ROLLING_END",
                     "FIRST_EVENTS=[1, 30] goes past 20 events"):
        assert fragment in text, fragment


def test_spectrum_counts_the_directions_used():
    rng = np.random.default_rng(0)
    flat = np.zeros((200, 6))
    flat[:, 0] = 3 * rng.standard_normal(200)  # almost everything along one axis
    flat[:, 1] = rng.standard_normal(200)
    flat[:, 2:] = 0.01 * rng.standard_normal((200, 4))
    table = st.spectrum(rng.standard_normal((300, 6)), flat).set_index("space")
    users = table.loc["users' interests"]
    assert users["components for 50 %"] == 1 and users["components for 90 %"] == 2
    assert users["first 2 components"] > 0.99
    assert table.loc["items", "components for 90 %"] >= 5  # isotropic noise needs them all


def _result(label: str, hits: list[bool]) -> EvaluationResult:
    """Users u0..un: each finds its one relevant item at rank 1 or not at all."""
    users = np.array([f"u{i}" for i in range(len(hits))])
    ranked = np.array([[1, 2] if h else [2, 3] for h in hits])
    return EvaluationResult.score(label, users, ranked, [np.array([1])] * len(hits), (1, 2), 10)


def test_claims_pair_the_strategies_and_mark_what_was_not_measured():
    cfg = st.SegmentsConfig(first_events=(1,), cutoffs=(1, 2), tolerance=0.0,
                            strategies=("first_item", "segment"))
    n = 40
    first = _result("first item", [True] * n)
    segment = _result("segment", [i % 2 == 0 for i in range(n)])
    served = {name: _result(name, [i % 3 == 0 for i in range(n)]) for name in st.SERVED_FROM}
    forecasts = pd.DataFrame({"cos_momentum": np.full(n, 0.5), "cos_last": np.full(n, 0.7),
                              "cos_mean": np.full(n, 0.7) + np.linspace(0, 0.2, n)})
    table = st.claims(cfg, {1: {"first_item": first, "segment": segment}}, forecasts, served)
    rows = table.set_index("claim")
    seg = rows.loc["1 event(s): a segment start beats the first item alone"]
    assert seg["verdict"] == "does not hold" and seg["on"] == 0.5 and seg["off"] == 1.0
    popular = rows.loc["1 event(s): the first item beats popular items"]
    assert popular["verdict"] == NOT_MEASURED and "STRATEGIES" in popular["note"]
    momentum = rows.loc["Step 6's momentum forecasts next month's segment centroid better "
                        "than last month's"]
    assert momentum["verdict"] == "does not hold" and momentum["diff"] == pytest.approx(-0.2)
    assert rows.filter(like="12-month mean", axis=0)["verdict"].item() == "holds"
    assert len(table) == 3 + 2 + 2
    records = st.verdict_records(table)
    assert records[1]["on"] is None  # unmeasured: None, never NaN
    assert any("does not hold" in s for s in st.verdict_sentences(table))


def test_plots_for_notebook_09():
    rng = np.random.default_rng(1)
    users = rng.standard_normal((60, 5))
    seg = fit_segments(users, 3)
    ax = st.plot_segments_2d(users, seg)
    assert len(ax.get_legend().get_texts()) == 3 and "PC 1" in ax.get_xlabel()
    table = pd.DataFrame({"first events": [1, 3, 1, 3], "strategy": ["a", "a", "b", "b"],
                          "recall@50": [0.1, 0.2, 0.15, 0.1]})
    ax = st.plot_cold_start(table, "recall@50")
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert list(ax.get_lines()[1].get_ydata()) == [0.15, 0.1]
