"""Notebook 09 (segments and trends): a papermill run with non-default parameters checked for
consistency and against an independent measurement; a bad parameter failing at the check cell;
the SegmentMonthPicker widget driven in-process, from another thread too. (The lesson module's
config, tables and claims are tested in test_lessons_segments_and_trends.py; segments, trends
and the cold-start strategies in test_segments.py, test_trends.py and
test_recommender_cold_start.py.)"""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from nbrun import NOTEBOOKS, check_conventions, run_notebook

from recsys_nb.data import load_movielens, subset_items
from recsys_nb.evaluate import CLAIM_WORDS, NOT_MEASURED, cutoff_split
from recsys_nb.lessons import segments_and_trends as st
from recsys_nb.report import read_recorded
from recsys_nb.rolling_experiment import RollingExperiment
from recsys_nb.trends import FORECAST_METHODS
from recsys_nb.widgets import SegmentMonthPicker

NOTEBOOK = "09_segments_and_trends.ipynb"


def test_notebook_follows_the_conventions():
    _, names = check_conventions(NOTEBOOK)
    assert {"ROLLING_START", "N_SEGMENTS", "FIRST_EVENTS", "STRATEGIES", "WINDOW",
            "MEAN_WINDOW", "K", "SEED", "STORE_DIR"} <= set(names)


@pytest.mark.notebook
def test_notebook_run_with_other_parameters_records_consistent_numbers(tmp_path):
    """One cut-off, 4 segments at full weight, 1 and 2 first events, three strategies, K 5/20:
    every table checked for shape and range, verdicts against their intervals, and the
    first-item row against an independent measurement."""
    params = {"ROLLING_START": "2016-01-01", "ROLLING_END": "2016-01-01", "ROLLING_MONTHS": 6,
              "N_SEGMENTS": 4, "SEGMENT_KS": [3],
              "SEGMENT_WEIGHT": 1.0, "FIRST_EVENTS": [1, 2],
              "STRATEGIES": ["segment"], "WINDOW": 3, "MEAN_WINDOW": 6,
              "K": [5, 20], "TOP_N": 6, "TOLERANCE": 0.01, "SEED": 3,
              "STORE_DIR": str(tmp_path / "store")}
    rec = run_notebook(NOTEBOOK, tmp_path, **params)

    assert rec["cutoffs"] == ["2016-01-01"] and rec["n_segments"] == 4
    assert rec["strategies"] == ["first_item", "segment"]  # first item always first
    assert rec["first_events"] == [1, 2] and rec["segment_weight"] == 1.0

    # section 1: PCA and segments
    items, users = rec["spectrum"]
    assert items["space"] == "items" and users["vectors"] == rec["n_users_segmented"]
    for row in (items, users):
        assert 0 < row["first 2 components"] < 1
        assert row["components for 50 %"] <= row["components for 80 %"] <= \
            row["components for 90 %"] <= row["dim"]
    ks = [r["k"] for r in rec["k_table"]]
    assert ks == [3, 4]  # SEGMENT_KS plus N_SEGMENTS
    assert rec["k_table"][0]["cohesion"] < rec["k_table"][1]["cohesion"] <= 1
    assert sum(rec["segment_sizes"]) == rec["n_users_segmented"] and len(rec["segment_sizes"]) == 4
    assert rec["segment_cohesion"] == rec["k_table"][1]["cohesion"]
    assert [p["segment"] for p in rec["segment_profiles"]] == [0, 1, 2, 3]

    # section 2: cold start, the same pairs for every strategy at a number of events
    cold = pd.DataFrame(rec["cold_start"])
    assert cold["first events"].tolist() == [1, 1, 2, 2]
    assert cold["strategy"].tolist() == ["first item", "segment"] * 2
    assert cold["pairs"].nunique() == 1 and cold["pairs"].iloc[0] > 5
    assert cold[["recall@20", "ndcg@5"]].apply(lambda c: c.between(0, 1)).all().all()

    # section 3: forecasts and serving from them
    methods = [r["method"] for r in rec["forecasts"]]
    assert methods == list(FORECAST_METHODS) and rec["n_forecasts"] > 0
    for r in rec["forecasts"]:
        assert -1 <= r["low"] <= r["mean"] <= r["high"] <= 1
    served = pd.DataFrame(rec["served"])
    assert served["served from"].tolist() == list(st.SERVED_FROM)
    assert served["pairs"].nunique() == 1

    # section 4: the widget rendered
    assert rec["widget_error"] is None and 0 < rec["widget_rows"] <= 6

    # section 5: verdicts follow their intervals; claims without a side are not measured
    verdicts = pd.DataFrame(rec["verdicts"])
    for r in verdicts.itertuples():
        if r.verdict == NOT_MEASURED:
            assert ("popular" in r.claim or "trending" in r.claim) and r.note
            continue
        assert r.ci_low <= r.diff <= r.ci_high
        assert r.diff == pytest.approx(r.on - r.off, abs=2e-4)
        if r.verdict == CLAIM_WORDS[0]:
            assert r.ci_low > 0
        elif r.verdict == CLAIM_WORDS[1]:
            assert r.ci_high < 0
    # the popular and trending claims x 2 event counts
    assert (verdicts["verdict"] == NOT_MEASURED).sum() == 4

    # the first-item row, measured again independently: the same split, a new experiment
    ds = load_movielens()
    split = cutoff_split(ds, pd.Timestamp("2016-01-01").timestamp(), 6 * 30.5)
    with RollingExperiment([split], (5, 20)) as rx:
        rx.new_user_events = 3
        again = rx.measure("first item", new_users=1, beyond=False)
    row = cold[(cold["first events"] == 1) & (cold["strategy"] == "first item")].iloc[0]
    assert again["recall@20"] == pytest.approx(row["recall@20"], abs=1e-4)
    assert len(again.users) == row["pairs"]


@pytest.mark.notebook
def test_bad_parameters_fail_at_the_check_cell(tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = tmp_path / NOTEBOOK
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(NOTEBOOKS / NOTEBOOK), str(out), cwd=str(NOTEBOOKS), kernel_name="python3",
            progress_bar=False, parameters={"N_SEGMENTS": 1, "STRATEGIES": ["demographic"],
                                            "FIRST_EVENTS": [0], "SEGMENT_WEIGHT": 2.0})
    assert err.value.ename == "ValueError"
    assert "invalid parameters: " in err.value.evalue
    assert "N_SEGMENTS=1 must be an integer >= 2" in err.value.evalue
    assert "STRATEGIES values ['demographic'] are out of range" in err.value.evalue
    assert "FIRST_EVENTS values [0] are out of range" in err.value.evalue
    assert "SEGMENT_WEIGHT=2.0 must be None or a number in [0, 1]" in err.value.evalue
    assert read_recorded(out) == {}


# ---------------------------------------------------------------------------------------------
# The widget, in-process, on one real cut-off


@pytest.fixture(scope="module")
def trends():
    cfg = st.SegmentsConfig(rolling_start="2016-01-01", rolling_end="2016-01-01",
                            n_segments=4, first_events=(1,))
    full = load_movielens()  # its 1,500 most-rated movies: a quicker item space
    ds = subset_items(full, full.events["item_id"].value_counts().index[:1500])
    with st.open_rolling(cfg, ds) as rx:
        got = st.monthly_trends(rx, cfg)[-1]
    return got, ds.items.set_index("item_id")["title"]


def test_the_picker_lists_a_segments_month_and_scores_its_forecasts(trends):
    t, titles = trends
    w = SegmentMonthPicker(t, titles, n=5)
    assert w.error is None and w.renders == 1 and len(w.top) <= 5
    sm = t.months
    s, month = w.segment.value, w.month.value
    assert w.top["events"].is_monotonic_decreasing
    assert w.top["events"].sum() <= sm.counts[s, sm.index(month)]
    # the busiest observed month with history: every forecast scored, cosines in [-1, 1]
    j = max((j for j in range(len(sm.months)) if sm.observed[s, j] and sm.observed[s, :j].sum()
             >= 2), key=lambda j: sm.counts[s, j])
    w.month.value = sm.months[j]
    assert w.renders == 2 and set(w.cosines) == set(FORECAST_METHODS)
    assert all(-1 <= c <= 1 for c in w.cosines.values())
    assert "cosine of each forecast" in w.status.value
    # a segment's month without events: said, not an error
    empty = [(s2, m) for s2 in range(sm.n_segments) for m in w.month.options
             if not sm.observed[s2, sm.index(m)]]
    if empty:
        w.segment.value, w.month.value = empty[0]
        assert w.error is None and w.cosines == {} and "no view or favorite" in w.status.value
    with pytest.raises(ValueError, match="n=0"):
        SegmentMonthPicker(t, titles, n=0)


def test_the_picker_works_from_other_threads(trends):
    t, titles = trends
    w = SegmentMonthPicker(t, titles, n=4)
    errors: list[BaseException] = []

    def move(segment: int, month: str) -> None:
        try:
            w.segment.value = segment
            w.month.value = month
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    months = list(w.month.options)
    threads = [threading.Thread(target=move, args=(0, months[0])),
               threading.Thread(target=move, args=(1, months[-1]))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors and w.error is None
    w.refresh()  # whatever order they ran in, the output is the final choice's
    final = w.top.copy()
    w.refresh()
    pd.testing.assert_frame_equal(w.top, final)
