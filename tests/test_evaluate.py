"""recsys_nb.evaluate: the temporal split, metrics against hand-computed cases, baselines on tiny
synthetic data, evaluate() through the real Recommender, and sweep-grid validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_nb import evaluate as ev
from recsys_nb.data import Dataset, load_movielens, sample_users, subset_items
from recsys_nb.evaluate import (
    Split,
    evaluate,
    evaluate_baselines,
    per_user_metrics,
    ranking_metrics,
    sweep,
    temporal_split,
    validate_grid,
)


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """(user, item, timestamp[, kind]) tuples -> an events frame."""
    cols = ["user_id", "item_id", "timestamp", "kind"][: len(rows[0])]
    frame = pd.DataFrame(rows, columns=cols)
    if "kind" not in frame:
        frame["kind"] = "view"
    return frame


# --------------------------------------------------------------------------------------------
# temporal split
# --------------------------------------------------------------------------------------------


def test_split_holds_out_the_latest_events_per_user_and_documents_skips():
    rows = [(1, 100 + i, 1000 - 10 * i) for i in range(10)]  # given newest first
    rows += [(2, 200 + i, 50 + i) for i in range(3)]  # too little history
    rows += [(3, 300 + i, 7) for i in range(5)]  # all at the same second: input order decides
    split = temporal_split(events_frame(rows), test_fraction=0.2, min_events=5)

    assert list(split.users) == [1, 3]
    assert split.skipped.to_dict("records") == [
        {"user_id": 2, "events": 3, "reason": "fewer than 5 events"}
    ]
    test1 = split.test[split.test.user_id == 1]
    # 10 events * 0.2 = 2 held out: the two most recent (timestamps 1000 and 990)
    assert sorted(test1.timestamp) == [990, 1000] and sorted(test1.item_id) == [100, 101]
    # 5 * 0.2 = 1: with equal timestamps the last one in input order is the latest
    assert split.test[split.test.user_id == 3].item_id.tolist() == [304]
    # skipped users' events stay in training (they inform popularity, never the scores)
    assert sorted(split.train[split.train.user_id == 2].item_id) == [200, 201, 202]
    assert len(split.train) + len(split.test) == len(rows)
    assert split.train.timestamp.is_monotonic_increasing
    assert split.test.timestamp.is_monotonic_increasing
    assert list(split.item_ids) == sorted({r[1] for r in rows})


def test_split_test_size_rounds_and_keeps_history():
    # n_test = round(0.2 n), at least 1, at most n - 1; halves round up
    counts = {1: 5, 2: 7, 3: 8, 4: 13, 5: 2}
    rows = [(u, 1000 * u + i, i) for u, n in counts.items() for i in range(n)]
    split = temporal_split(events_frame(rows), test_fraction=0.2, min_events=2)
    sizes = split.test.groupby("user_id").size().to_dict()
    assert sizes == {1: 1, 2: 1, 3: 2, 4: 3, 5: 1}
    split = temporal_split(events_frame(rows), test_fraction=0.9, min_events=2)
    sizes = split.test.groupby("user_id").size().to_dict()
    assert sizes == {u: n - 1 for u, n in counts.items()}  # one training event is always left


def test_leave_last_k():
    rows = [(u, 10 * u + i, i) for u in (1, 2, 3) for i in range(2 + u)]  # 3, 4, 5 events
    split = temporal_split(events_frame(rows), leave_last=3, min_events=2)
    assert list(split.users) == [2, 3]  # user 1 would have no training event left
    assert split.skipped.reason.tolist() == ["fewer than 4 events"]
    assert split.test.groupby("user_id").size().tolist() == [3, 3]
    assert split.leave_last == 3 and split.test_fraction is None


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 30), st.integers(0, 5)),
        min_size=1,
        max_size=80,
    ),
    st.floats(0.05, 0.95),
)
def test_split_never_leaks_the_future(rows, fraction):
    frame = events_frame(rows)
    counts = frame.groupby("user_id").size()
    if counts.max() < 2:
        with pytest.raises(ValueError, match="no user has"):
            temporal_split(frame, fraction, min_events=2)
        return
    split = temporal_split(frame, fraction, min_events=2)
    # a partition of the events
    assert len(split.train) + len(split.test) == len(frame)
    assert set(split.test.user_id) == set(split.users)
    for u in split.users:
        tr = split.train[split.train.user_id == u]
        te = split.test[split.test.user_id == u]
        assert len(tr) >= 1 and len(te) >= 1
        assert te.timestamp.min() >= tr.timestamp.max()  # no leakage
        # ties: the stable order puts later input rows in test
        both = frame.reset_index()[frame.user_id.to_numpy() == u]
        order = both.sort_values("timestamp", kind="stable")
        assert te.item_id.tolist() == order.item_id.tolist()[len(tr):]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"test_fraction": 0.0}, "strictly between 0 and 1"),
        ({"test_fraction": 1.0}, "strictly between 0 and 1"),
        ({"test_fraction": -0.2}, "strictly between 0 and 1"),
        ({"test_fraction": float("nan")}, "strictly between 0 and 1"),
        ({"test_fraction": "0.2"}, "must be a number"),
        ({"test_fraction": True}, "must be a number"),
        ({"leave_last": 0}, "leave_last=0"),
        ({"min_events": 1}, "min_events=1"),
        ({"min_events": 50}, "no user has the 50 events.*most active user has 10"),
        ({"leave_last": 12}, "no user has the 13 events"),
    ],
)
def test_split_rejects_bad_settings(kwargs, match):
    rows = [(1, i, i) for i in range(10)]
    with pytest.raises(ValueError, match=match):
        temporal_split(events_frame(rows), **kwargs)


def test_split_rejects_empty_and_malformed_events():
    with pytest.raises(ValueError, match="empty"):
        temporal_split(events_frame([(1, 1, 1)]).iloc[:0])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['timestamp'\]"):
        temporal_split(pd.DataFrame({"user_id": [1], "item_id": [1]}))
    with pytest.raises(TypeError, match="Dataset or a DataFrame"):
        temporal_split([(1, 1, 1)])


def test_relevant_excludes_rewatches_and_dismissals():
    rows = [
        (1, 10, 1, "view"), (1, 11, 2, "view"), (1, 12, 3, "view"),
        (1, 10, 4, "favorite"), (1, 13, 5, "not_interested"),  # rewatch + dismissal held out
        (2, 20, 1, "view"), (2, 21, 2, "view"), (2, 22, 3, "view"),
        (2, 23, 4, "favorite"), (2, 24, 5, "view"),
    ]
    split = temporal_split(events_frame(rows), leave_last=2, min_events=2)
    users, rel = split.relevant("positive")
    assert list(users) == [2] and [r.tolist() for r in rel] == [[23, 24]]  # user 1: nothing new
    users, rel = split.relevant("all")
    assert list(users) == [1, 2] and [r.tolist() for r in rel] == [[13], [23, 24]]
    assert [s.tolist() for s in split.seen()] == [[10, 11, 12], [20, 21, 22]]
    with pytest.raises(ValueError, match="relevance='nice' is unknown"):
        split.relevant("nice")


def test_split_of_a_dataset_gives_a_training_dataset():
    items = pd.DataFrame({"item_id": range(1, 9), "title": [f"Film {i}" for i in range(1, 9)]})
    rows = [(u, 1 + (u + i) % 8, 10 * i + u) for u in (1, 2) for i in range(6)]
    frame = events_frame(rows).assign(rating=4.0).drop(columns="kind")
    ds = Dataset(items, frame)
    split = temporal_split(ds, test_fraction=0.5)
    train = split.train_dataset()
    assert isinstance(train, Dataset) and train.n_events == len(split.train) == 6
    assert train.n_items == 8 and list(split.item_ids) == list(range(1, 9))
    with pytest.raises(ValueError, match="pass the Dataset"):
        temporal_split(frame, 0.5).train_dataset()


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


def test_metrics_match_hand_computation():
    ranked = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 1, -1, -1]])
    relevant = [np.array([2, 9]), np.array([8]), np.array([9, 1, 3])]
    table = per_user_metrics(ranked, relevant, cutoffs=(2, 4))
    l3, l5 = 1 / math.log2(3), 1 / math.log2(5)
    expected = {
        # user 0: one hit at rank 2 of 2 relevant
        "recall@2": [1 / 2, 0.0, 2 / 3],
        "recall@4": [1 / 2, 1.0, 2 / 3],
        "ndcg@2": [l3 / (1 + l3), 0.0, 1.0],
        "ndcg@4": [l3 / (1 + l3), l5, (1 + l3) / (1 + l3 + 0.5)],
        "hitrate@2": [1.0, 0.0, 1.0],
        "hitrate@4": [1.0, 1.0, 1.0],
        "mrr": [1 / 2, 1 / 4, 1.0],
    }
    assert list(table.columns) == list(expected)
    for col, values in expected.items():
        np.testing.assert_allclose(table[col], values, err_msg=col)
    summary = ranking_metrics(ranked, relevant, cutoffs=(2, 4), n_items=20)
    assert summary["recall@4"] == pytest.approx((0.5 + 1 + 2 / 3) / 3)
    # coverage: distinct real items (padding -1 not counted) / catalogue
    assert summary["coverage@2"] == pytest.approx(5 / 20)  # 1 2 5 6 9
    assert summary["coverage@4"] == pytest.approx(9 / 20)  # 1..9


def test_perfect_ranking_scores_one():
    relevant = [np.array([3, 1]), np.array([7])]
    ranked = np.array([[1, 3, 5], [7, 2, 4]])
    m = ranking_metrics(ranked, relevant, cutoffs=(1, 3))
    assert m["ndcg@3"] == pytest.approx(1.0) and m["recall@3"] == 1.0 and m["mrr"] == 1.0
    assert m["recall@1"] == pytest.approx((0.5 + 1) / 2)  # user 0 can only find one of two
    assert m["ndcg@1"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "match"),
    [
        ([[1, 2]], [[1]], (3,), "cut-off 3 is larger than the ranked lists"),
        ([[1, 2]], [[]], (1,), "relevant set 0 is empty"),
        ([[1, 1]], [[1]], (1,), "repeats an item"),
        ([[1, 2]], [[1], [2]], (1,), "1 rows but there are 2"),
        ([[1.0, 2.0]], [[1]], (1,), "integer item ids"),
        ([1, 2], [[1]], (1,), "matrix"),
        ([[1, -3]], [[1]], (1,), "negative ids"),
        ([[1, 2]], [[1]], (0,), "cutoff=0"),
        ([[1, 2]], [[1]], (), "cutoffs is empty"),
    ],
)
def test_metrics_reject_bad_input(ranked, relevant, k, match):
    with pytest.raises(ValueError, match=match):
        ranking_metrics(np.array(ranked), [np.array(r, dtype=np.int64) for r in relevant], k)


def test_metrics_need_users():
    with pytest.raises(ValueError, match="no users"):
        ranking_metrics(np.zeros((0, 5), dtype=np.int64), [], (5,))


# --------------------------------------------------------------------------------------------
# baselines on tiny synthetic data
# --------------------------------------------------------------------------------------------


def tiny_split() -> Split:
    """Five users over items 1..6 (item 6 never seen in training). User 5 is evaluated."""
    rows = [
        (1, 1, 1), (1, 2, 2), (1, 3, 3),
        (2, 1, 1), (2, 2, 2),
        (3, 1, 1), (3, 4, 2),
        (4, 2, 1), (4, 5, 2, "not_interested"),
        (5, 1, 1), (5, 3, 2), (5, 2, 3),  # the last event is held out
    ]
    rows = [r if len(r) == 4 else (*r, "view") for r in rows]
    split = temporal_split(events_frame(rows), leave_last=1, min_events=3)
    items = np.arange(1, 7)
    return Split(split.train, split.test, split.users, split.skipped, items)


def test_popularity_baseline():
    split = tiny_split()
    assert list(split.users) == [1, 5]
    # training interactions (not-interested dropped): item 1 x4, 2 x3, 3 x1, 4 x1, 5 x0, 6 x0
    ranked = ev.recommend_baseline("popularity", split, users=[5, 1], n=5)
    # seen items skipped (user 5: 1 and 3; user 1: 1 and 2), ties by catalogue order, and only
    # four unseen items exist, so the fifth place is padding
    assert ranked.tolist() == [[2, 4, 5, 6, -1], [3, 4, 5, 6, -1]]


def test_itemknn_matches_brute_force_cosine():
    rng = np.random.default_rng(0)
    x = (rng.random((30, 12)) < 0.3).astype(np.float32)
    x[np.arange(30), rng.integers(0, 11, 30)] = 1  # every user has a training row
    x[:, 11] = 0  # an item nobody touched
    users, items = np.nonzero(x)
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": 0, "kind": "view"})
    data = ev.interaction_matrix(frame, np.arange(12))
    norms = np.linalg.norm(x, axis=0)
    sim = (x.T @ x) / np.outer(np.where(norms > 0, norms, 1), np.where(norms > 0, norms, 1))
    np.fill_diagonal(sim, 0)
    rows = np.arange(30)
    np.testing.assert_allclose(ev.itemknn_scorer(data)(rows), x @ sim, rtol=1e-5, atol=1e-6)
    # pruning to 2 neighbours keeps each item's 2 most similar items (ties: lower column)
    pruned = sim.copy()
    for i in range(12):
        pruned[i, np.lexsort((np.arange(12), -np.round(pruned[i], 6)))[2:]] = 0
    np.testing.assert_allclose(ev.itemknn_scorer(data, neighbors=2)(rows), x @ pruned,
                               rtol=1e-5, atol=1e-6)


def test_itemknn_hand_example():
    split = tiny_split()
    # user 5 trained on items 1 and 3. Item columns (users): 1 {1,2,3,5}, 2 {1,2,4}, 3 {5},
    # 4 {3}. cos(1,2) = 2/sqrt(4*3) = 0.58, cos(1,4) = 1/sqrt(4) = 0.5, item 3 shares no user
    # with 2 or 4; items 5 and 6 score 0.
    ranked = ev.recommend_baseline("itemknn", split, users=[5], n=2)
    assert ranked.tolist() == [[2, 4]]


def test_ease_matches_closed_form_and_validates_lambda():
    rng = np.random.default_rng(1)
    x = (rng.random((40, 10)) < 0.35).astype(np.float64)
    x[:, 3] = 0  # inactive item: must score 0 as in the full formula
    users, items = np.nonzero(x)
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": 0, "kind": "view"})
    data = ev.interaction_matrix(frame, np.arange(10))
    lam = 5.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(10))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0)
    np.testing.assert_allclose(ev.ease_scorer(data, lam)(np.arange(40)), x @ b, atol=1e-9)
    for bad in (0, -1, float("inf")):
        with pytest.raises(ValueError, match="positive finite"):
            ev.ease_scorer(data, bad)


def test_evaluate_baselines_table_has_no_nan():
    split = tiny_split()
    results = evaluate_baselines(split, (1, 2), ease_lambda=1.0)
    table = pd.DataFrame([r.row for r in results.values()])
    assert table.model.tolist() == list(ev.BASELINES)
    assert not table.isna().any().any()
    assert {"recall@1", "recall@2", "ndcg@2", "hitrate@1", "mrr", "coverage@2"} <= set(table)
    # user 5's held-out item 2 is first for item-kNN and popularity among unseen items
    assert table.set_index("model").loc["itemknn", "recall@1"] == 1.0
    with pytest.raises(ValueError, match="unknown baseline"):
        evaluate_baselines(split, 2, models=["svd"])
    with pytest.raises(ValueError, match="n=7 is larger than the catalogue"):
        evaluate_baselines(split, 7)


# --------------------------------------------------------------------------------------------
# evaluate() through the real Recommender, on a MovieLens sample
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_movielens() -> Dataset:
    """80 MovieLens users and only the items they touched (a small, fast catalogue)."""
    ds = sample_users(load_movielens(), 80, seed=3, min_events=20)
    return subset_items(ds, np.unique(ds.events["item_id"]))


def collaborative(**params):
    from recsys_nb.recommender import Recommender

    def make(ds, path):
        return Recommender.from_dataset(ds, path, embedding="collaborative", progress=False,
                                        **params)

    return make


def test_evaluate_through_the_recommender(small_movielens, tmp_path):
    split = temporal_split(small_movielens, test_fraction=0.2, min_events=5)
    result = evaluate(collaborative(), split, (10, 50), path=tmp_path / "store", exact=True)
    row = result.row
    assert row["users"] == len(split.relevant()[0]) > 70
    assert row["seen_recommended"] == 0 and row["short_lists"] == 0
    values = [v for key, v in row.items() if "@" in key or key == "mrr"]
    assert all(0.0 <= v <= 1.0 for v in values) and not any(math.isnan(v) for v in values)
    assert row["recall@50"] >= row["recall@10"]
    # far better than chance (50 random unseen items of ~3k find ~1.5% of the held-out items)
    assert row["recall@50"] > 5 * 50 / split.n_items
    # Chroma's approximate search returns nearly the exact cosine top-K of the interest vectors
    assert 0.8 <= row["ann_overlap@50"] <= 1.0 and 0.8 <= row["ann_overlap@10"] <= 1.0
    assert abs(row["exact_recall@50"] - row["recall@50"]) < 0.05
    # the data behind the row: the ranked lists and per-user metrics it averages
    users, relevant = split.relevant()
    assert np.array_equal(result.users, users) and result.ranked.shape == (len(users), 50)
    assert result.per_user["recall@50"].mean() == pytest.approx(row["recall@50"])
    assert result.per_user.index.tolist() == users.tolist()
    # the store is reused by nobody: a second evaluation into the same folder is refused
    with pytest.raises(ValueError, match="not empty"):
        evaluate(collaborative(), split, path=tmp_path / "store")


def test_evaluate_passes_recommend_keywords(small_movielens):
    """recommend= reaches every recommend call: the momentum prediction needs no adapter."""
    split = temporal_split(small_movielens, test_fraction=0.2, min_events=5)
    split = split.restrict(split.sample(15, seed=1))
    current = evaluate(collaborative(), split, (10,))
    predicted = evaluate(collaborative(), split, (10,),
                         recommend={"mode": "predicted", "window": 4})
    assert np.array_equal(current.users, predicted.users)
    assert not np.array_equal(current.ranked, predicted.ranked)  # another query vector
    with pytest.raises(ValueError, match="must not set n or user_id"):
        evaluate(collaborative(), split, (10,), recommend={"n": 5})
    with pytest.raises((TypeError, ValueError), match="mood"):
        evaluate(collaborative(), split, (10,), recommend={"mood": "predicted"})


def test_baselines_on_a_movielens_sample(small_movielens):
    split = temporal_split(small_movielens, test_fraction=0.2)
    table = pd.DataFrame([r.row for r in evaluate_baselines(split).values()]).set_index("model")
    assert not table.isna().any().any() and (table["users"] == 80).all()
    # learned baselines beat popularity on real data (the sample is fixed by its seed)
    assert table.loc["ease", "recall@50"] > table.loc["popularity", "recall@50"] + 0.03
    assert table.loc["itemknn", "recall@50"] > table.loc["popularity", "recall@50"] + 0.03
    # popularity shows everybody nearly the same list: the lowest coverage
    assert table["coverage@50"].idxmin() in ("popularity", "trending")


def test_evaluate_rejects_k_above_catalogue_before_building():
    split = tiny_split()
    built = []
    with pytest.raises(ValueError, match="n=50 is larger than the catalogue \\(6 items\\)"):
        evaluate(lambda ds, path: built.append(1), split, (5, 50))
    assert not built


def test_evaluate_rejects_an_empty_evaluation():
    rows = [(1, 1, 1), (1, 2, 2), (1, 1, 3)]  # the held-out event is a rewatch
    split = temporal_split(events_frame(rows), leave_last=1, min_events=2)
    with pytest.raises(ValueError, match="split is empty for evaluation"):
        evaluate(lambda ds, path: None, split, 1)


# --------------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"alpha_veiw": [0.3]}, r"unknown sweep parameter\(s\) \['alpha_veiw'\]"),
        ({"alpha_view": []}, "alpha_view has an empty list"),
        ({"alpha_view": 0.3}, r"alpha_view=0.3 must be a list of values, e.g. \[0.3\]"),
        ({"embedding": "minilm"}, "embedding='minilm' must be a list"),
        ({"alpha_view": [0.3, 1.5, 0]}, r"alpha_view values \[1.5, 0\] are out of range"),
        ({"not_interested_factor": [-0.1]}, "not_interested_factor values .* >= 0"),
        ({"dim": [64, 0, 32.5]}, r"dim values \[0, 32.5\]"),
        ({"embedding": ["minilm", "bert"]}, r"embedding values \['bert'\]"),
        ({"alpha_view": [0.3, 0.3]}, "repeats values"),
        ({}, "non-empty dict"),
    ],
)
def test_validate_grid_names_the_problem(grid, match):
    with pytest.raises(ValueError, match=match):
        validate_grid(grid)


def test_validate_grid_collects_every_problem_and_accepts_custom_space():
    with pytest.raises(ValueError, match="alpha_view.*empty.*dim values"):
        validate_grid({"alpha_view": [], "dim": [0]})
    space = {"boost": (lambda v: 0 <= v <= 2, "a number in [0, 2]")}
    assert validate_grid({"boost": (0, 1.5), "alpha_view": [0.5]}, space) == {
        "boost": [0, 1.5], "alpha_view": [0.5]}


def test_sweep_runs_every_combination(small_movielens):
    split = temporal_split(small_movielens, test_fraction=0.2)
    with pytest.raises(ValueError, match="unknown sweep parameter"):
        sweep(collaborative, split, {"alpah_view": [0.1]})
    table = sweep(lambda **p: collaborative(**p), split,
                  {"alpha_view": [0.1, 0.9], "alpha_favorite": [0.5]}, (10,))
    assert table[["alpha_view", "alpha_favorite"]].values.tolist() == [[0.1, 0.5], [0.9, 0.5]]
    assert not table.isna().any().any()
    # alpha changes the profiles, hence the recommendations
    assert table["recall@10"].nunique() == 2 or table["mrr"].nunique() == 2


def test_ann_overlap_counts_an_equally_scored_item_as_found():
    from recsys_nb.evaluate import ann_overlap as _overlap

    exact = np.array([[1, 2, 3]])
    approx = np.array([[1, 2, 9]])  # 9 is not in the exact top 3 ...
    assert _overlap(approx, exact) == pytest.approx(2 / 3)
    tied = {0: {1: 0.9, 2: 0.8, 3: 0.5, 9: 0.5}}  # ... but scores exactly like item 3
    assert _overlap(approx, exact, tied) == 1.0
    lower = {0: {1: 0.9, 2: 0.8, 3: 0.5, 9: 0.4}}  # a worse item is a miss
    assert _overlap(approx, exact, lower) == pytest.approx(2 / 3)
