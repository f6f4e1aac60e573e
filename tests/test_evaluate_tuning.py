"""recsys_nb.evaluate validation splits and tuning: the validation split is carved from training
events only, and tuning picks on validation, then reports on test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_nb.data import Dataset
from recsys_nb.evaluate import (
    NoValidationUsers,
    cutoff_split,
    grid_points,
    temporal_split,
    tune_baseline,
    validation_split,
)

DAY = 86_400.0
T0 = pd.Timestamp("2010-01-01").timestamp()
HORIZON = 30  # days


def items_frame(n: int = 10) -> pd.DataFrame:
    return pd.DataFrame({"item_id": range(1, n + 1), "title": [f"m{i}" for i in range(1, n + 1)]})


def trend_dataset() -> tuple[Dataset, float]:
    """A catalogue where what trends just before a cut-off is what users watch after it.

    Ten background users watched items 1-3 long ago (all-time hits). Scored users 1-3 have three
    early events (items 8-10). Five users watch items 4-5 in the 10 days before the validation
    cut-off (test cut-off - 30 days), and users 1-3 watch 4-5 in the validation window; five
    users watch 6-7 in the 10 days before the test cut-off and users 1-3 watch 6-7 after it.
    """
    test_cut = T0 + 200 * DAY
    val_cut = test_cut - HORIZON * DAY
    rows = [(100 + u, i, T0 + u * 3600) for u in range(10) for i in (1, 2, 3)]
    rows += [(u, i, T0 + DAY + u * 3600 + i) for u in (1, 2, 3) for i in (8, 9, 10)]
    rows += [(200 + u, i, val_cut - (5 - u) * DAY) for u in range(5) for i in (4, 5)]
    rows += [(u, i, val_cut + u * DAY + i) for u in (1, 2, 3) for i in (4, 5)]
    rows += [(300 + u, i, test_cut - (5 - u) * DAY) for u in range(5) for i in (6, 7)]
    rows += [(u, i, test_cut + u * DAY + i) for u in (1, 2, 3) for i in (6, 7)]
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(kind="view")
    return Dataset(items_frame(), events), test_cut


# --------------------------------------------------------------------------------------------
# validation_split
# --------------------------------------------------------------------------------------------


def test_validation_of_a_cutoff_split_moves_the_cutoff_back_by_the_horizon():
    ds, test_cut = trend_dataset()
    split = cutoff_split(ds, test_cut, HORIZON, min_history=3)
    val = validation_split(split)
    assert val.cutoff == test_cut - HORIZON * DAY and val.horizon == split.horizon
    assert val.min_events == split.min_events and list(val.item_ids) == list(split.item_ids)
    assert val.train["timestamp"].max() < val.cutoff <= val.test["timestamp"].min()
    assert val.test["timestamp"].max() < test_cut  # nothing from the test window
    assert val.users.tolist() == [1, 2, 3]
    assert sorted(val.test["item_id"].unique()) == [4, 5]


@settings(max_examples=30)
@given(rows=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 10), st.integers(0, 400)),
                     min_size=20, max_size=120),
       cut_day=st.integers(150, 350), horizon=st.integers(5, 90), min_history=st.integers(1, 3))
def test_a_carved_cutoff_split_never_sees_the_test_window(rows, cut_day, horizon, min_history):
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "day"])
    events = events.assign(timestamp=T0 + events.pop("day") * DAY, kind="view")
    split = cutoff_split(Dataset(items_frame(), events), T0 + cut_day * DAY, horizon, min_history)
    try:
        val = validation_split(split)
    except NoValidationUsers as e:
        assert "scores nobody" in str(e)
        return
    assert len(val.users)  # the property below is about a split that scores somebody
    for part in (val.train, val.test):
        assert (part["timestamp"] < split.cutoff).all()
        # every validation event is a training event of the test split
        merged = part.merge(split.train, how="left", indicator=True)
        assert (merged["_merge"] == "both").all()


@settings(max_examples=30)
@given(rows=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 30), st.integers(0, 50)),
                     min_size=15, max_size=100),
       fraction=st.sampled_from([0.2, 0.3, 0.5]))
def test_a_carved_temporal_split_is_the_same_protocol_on_training_events(rows, fraction):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(kind="view")
    try:
        split = temporal_split(frame, test_fraction=fraction, min_events=3)
        val = validation_split(split)
    except ValueError:
        return  # too few events for one of the splits (the message is tested elsewhere)
    assert val.test_fraction == split.test_fraction and val.min_events == split.min_events
    assert list(val.item_ids) == list(split.item_ids)  # the catalogue, not the items with events
    carved = pd.concat([val.train, val.test]).sort_values(["user_id", "timestamp", "item_id"])
    train = split.train.sort_values(["user_id", "timestamp", "item_id"])
    # validation train + validation test are exactly the training events: no held-out event
    pd.testing.assert_frame_equal(carved.reset_index(drop=True), train.reset_index(drop=True))
    again = temporal_split(split.train, test_fraction=fraction, min_events=3)
    assert again.test.equals(val.test)


def test_leave_last_is_kept_and_an_empty_validation_names_the_fix():
    rows = [(u, 10 * u + i, i) for u in (1, 2) for i in range(6)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(kind="view")
    split = temporal_split(frame, leave_last=2, min_events=3)
    val = validation_split(split)
    assert val.leave_last == 2 and val.test.groupby("user_id").size().tolist() == [2, 2]
    tight = temporal_split(frame, leave_last=2, min_events=6)  # 4 training events left
    with pytest.raises(NoValidationUsers, match="lower min_events"):
        validation_split(tight)
    ds, test_cut = trend_dataset()
    early = cutoff_split(ds, T0 + 2 * DAY, 1, min_history=3)  # validation before any history
    with pytest.raises(NoValidationUsers, match="scores nobody.*later cut-off"):
        validation_split(early)


# --------------------------------------------------------------------------------------------
# tune_baseline
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [[1000, 20], [20, 1000]])
def test_tuning_picks_the_best_validation_point_and_reports_test(days):
    ds, test_cut = trend_dataset()
    split = cutoff_split(ds, test_cut, HORIZON, min_history=3)
    tuned = tune_baseline("trending", split, {"days": days}, metric="recall@2", cutoffs=(2,))
    # validation: 20 days sees items 4-5 trending (recall 1); 1000 days ranks the old hits 1-2
    table = tuned.validation.set_index("days")
    assert table.loc[20, "recall@2"] == 1.0 and table.loc[1000, "recall@2"] == 0.0
    assert tuned.validation["days"].tolist() == days  # one row per point, grid order
    assert tuned.params == {"days": 20} and tuned.validation_result["recall@2"] == 1.0
    # then scored once on the test split: items 6-7 trend before the test cut-off
    assert tuned.test_result["recall@2"] == 1.0
    assert tuned.test_result.users.tolist() == [1, 2, 3]
    assert set(np.concatenate(tuned.test_result.relevant)) == {6, 7}


def test_ties_go_to_the_first_grid_point_and_lists_are_pooled():
    ds, test_cut = trend_dataset()
    split = cutoff_split(ds, test_cut, HORIZON, min_history=3)
    tuned = tune_baseline("trending", [split], {"days": [25, 20]}, metric="recall@2",
                          cutoffs=(2,))
    assert tuned.validation["recall@2"].tolist() == [1.0, 1.0] and tuned.params["days"] == 25
    assert tuned.test_result.row["cutoffs_pooled"] == 1 and tuned.dropped == 0
    assert [p.users.tolist() for p in tuned.test_parts] == [[1, 2, 3]]
    assert tuned.test_result.users[0].endswith("/1")  # pooled keys "<cut-off date>/<user>"


def test_a_cutoff_without_validation_users_is_dropped_from_validation_only():
    ds, test_cut = trend_dataset()
    val_cut = test_cut - HORIZON * DAY
    # the earlier cut-off's own validation window has nobody with history: dropped there,
    # still scored on test
    splits = [cutoff_split(ds, val_cut, HORIZON, 3), cutoff_split(ds, test_cut, HORIZON, 3)]
    tuned = tune_baseline("trending", splits, {"days": [1000, 20]}, metric="recall@2",
                          cutoffs=(2,))
    assert tuned.dropped == 1 and tuned.validation_result.row["cutoffs_pooled"] == 1
    assert tuned.params == {"days": 20} and len(tuned.test_result.users) == 6
    assert tuned.test_result["recall@2"] == 1.0
    with pytest.raises(NoValidationUsers, match="scores nobody"):
        tune_baseline("trending", splits[:1], {"days": [20]}, cutoffs=(2,), metric="recall@2")


@pytest.mark.parametrize(("name", "grid", "match"), [
    ("ease", {"lambda": [1]}, r"unknown parameter\(s\) \['lambda'\] \(known for 'ease': \['lam'\]"),
    ("ease", {"lam": []}, r"lam=\[\] is empty"),
    ("itemknn", {"shrink": 5}, r"shrink=5 must be a list"),
    ("svd", {}, "unknown baseline 'svd'"),
])
def test_bad_grids_are_named(name, grid, match):
    with pytest.raises(ValueError, match=match):
        grid_points(name, grid)


def test_bad_metric_and_empty_splits_are_rejected_before_work():
    ds, test_cut = trend_dataset()
    split = cutoff_split(ds, test_cut, HORIZON, min_history=3)
    with pytest.raises(ValueError, match=r"metric='recall@20' is not measured.*'recall@2'"):
        tune_baseline("trending", split, {"days": [20]}, metric="recall@20", cutoffs=(2,))
    with pytest.raises(ValueError, match="splits is empty"):
        tune_baseline("trending", [], {"days": [20]})
    assert grid_points("rp3beta", {"beta": [0.0, 0.5]}) == [
        {"alpha": 1.0, "beta": 0.0, "neighbors": 200}, {"alpha": 1.0, "beta": 0.5,
                                                        "neighbors": 200}]
    assert grid_points("popularity", None) == [{}]
