"""Multi-interest math (recsys_nb.interests): assignment, new / stale interests, merges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recsys_nb import vectors
from recsys_nb.interests import (
    DEFAULT_FADE,
    DEFAULT_THRESHOLD,
    MERGES,
    STALE_WEIGHT,
    Interests,
    apply_event,
    check_params,
    merge,
    owner,
    replay_user,
    segment,
)

X, Y, Z = np.eye(3, dtype=np.float32)
#: 45 degrees between X and Y: cosine 0.707 with both
XY = np.array([1.0, 1.0, 0.0], dtype=np.float32) / np.sqrt(2)


def step(state, e, op="ema", param=0.5, *, k=3, threshold=0.5, fade=1.0):
    return apply_event(state, e, op, param, k=k, threshold=threshold, fade=fade)


def empty() -> Interests:
    return Interests.empty(3)


def test_first_event_is_one_interest_equal_to_the_item():
    state, j, changed = step(empty(), np.array([3.0, 0.0, 4.0]))
    assert (state.m, j, changed) == (1, 0, True)
    np.testing.assert_allclose(state.vectors[0], [0.6, 0.0, 0.8], atol=1e-7)
    assert state.weights.tolist() == [1.0] and state.counts.tolist() == [1]


def test_a_near_event_moves_the_nearest_interest_by_the_writeup_ema():
    state, _, _ = step(empty(), X)
    state, j, changed = step(state, XY, param=0.25)  # cosine 0.707 >= threshold 0.5
    assert (state.m, j, changed) == (1, 0, True)
    np.testing.assert_array_equal(state.vectors[0], vectors.ema_update(X, XY, 0.25))
    assert state.counts.tolist() == [2] and state.weights.tolist() == [2.0]


def test_a_far_event_starts_a_new_interest_and_later_events_go_to_the_nearest():
    state, _, _ = step(empty(), X)
    state, j, _ = step(state, Z)  # cosine 0 < 0.5: a second taste
    assert (state.m, j) == (2, 1)
    np.testing.assert_array_equal(state.vectors[1], Z)
    near_z = np.array([0.0, 0.2, 1.0], dtype=np.float32)
    before = state.vectors.copy()
    state, j, _ = step(state, near_z)
    assert j == 1  # nearest is Z
    np.testing.assert_array_equal(state.vectors[0], before[0])  # the other interest stays
    np.testing.assert_array_equal(state.vectors[1], vectors.ema_update(Z, near_z, 0.5))


def test_threshold_decides_new_interest_or_not():
    state, _, _ = step(empty(), X)
    joined, j, _ = step(state, XY, threshold=0.7)  # 0.707 >= 0.7: joins interest 0
    assert (joined.m, j) == (1, 0)
    split, j, _ = step(state, XY, threshold=0.71)  # 0.707 < 0.71: a new interest
    assert (split.m, j) == (2, 1)


def test_k_caps_the_interests_and_a_far_event_joins_the_nearest_when_none_is_stale():
    state = empty()
    for e in (X, Y, Z):
        state, _, _ = step(state, e, k=2)
    assert state.m == 2
    # Z is orthogonal to both; weights 1 (no fade) are not stale: joins the nearest (ties: 0)
    np.testing.assert_array_equal(state.vectors[0], vectors.ema_update(X, Z, 0.5))
    np.testing.assert_array_equal(state.vectors[1], Y)


def test_a_stale_interest_is_replaced_by_a_far_event():
    state, _, _ = step(empty(), X, fade=0.5)
    state, _, _ = step(state, Y, fade=0.5)  # weights: X 0.5, Y 1
    state, _, _ = step(state, Y, fade=0.5)  # X 0.25 (< STALE_WEIGHT), Y 1.5
    assert state.weights[0] < STALE_WEIGHT
    state, j, changed = step(state, Z, k=2, fade=0.5)
    assert (state.m, j, changed) == (2, 0, True)
    np.testing.assert_array_equal(state.vectors[0], Z)
    assert state.weights.tolist() == [1.0, 0.75] and state.counts.tolist() == [1, 2]


def test_weights_fade_per_positive_event_only():
    state, _, _ = step(empty(), X, fade=0.9)
    state, _, _ = step(state, Z, fade=0.9)
    np.testing.assert_allclose(state.weights, [0.9, 1.0])
    state, _, _ = step(state, X, fade=0.9)
    np.testing.assert_allclose(state.weights, [0.81 + 1.0, 0.9])
    after, j, _ = step(state, Z, "subtract", 0.3, fade=0.9)  # not interested: no fade
    np.testing.assert_array_equal(after.weights, state.weights)
    assert j == 1 and after.counts.tolist() == state.counts.tolist()


def test_not_interested_subtracts_from_the_nearest_interest():
    state, _, _ = step(empty(), X)
    state, _, _ = step(state, Z)
    away = np.array([0.1, 0.0, 1.0], dtype=np.float32)
    after, j, changed = step(state, away, "subtract", 0.4)
    assert (j, changed) == (1, True)
    np.testing.assert_array_equal(after.vectors[1], vectors.subtract(Z, away, 0.4))
    np.testing.assert_array_equal(after.vectors[0], X)


def test_not_interested_before_any_interest_does_nothing_and_overshoot_keeps():
    state, j, changed = step(empty(), X, "subtract", 0.5)
    assert (state.m, j, changed) == (0, None, False)
    state, _, _ = step(state, X)
    kept, j, changed = step(state, X, "subtract", 1.0)  # X - 1 * X cancels
    assert (j, changed) == (0, False)
    np.testing.assert_array_equal(kept.vectors, state.vectors)


def test_an_ema_that_cancels_keeps_the_vector_but_counts():
    state, _, _ = step(empty(), X)
    kept, j, changed = step(state, -X, threshold=-1.0)  # cos -1 >= -1: joins; alpha .5 cancels
    assert (j, changed) == (0, False)
    np.testing.assert_array_equal(kept.vectors, state.vectors)
    assert kept.counts.tolist() == [2]


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="alpha"):
        step(empty(), X, param=1.5)
    with pytest.raises(ValueError, match="factor"):
        step(empty(), X, "subtract", -1.0)
    with pytest.raises(ValueError, match="dimension"):
        step(empty(), np.ones(4))
    for args, fragment in [((0, 0.2, 0.9), "interests=0"), ((-2, 0.2, 0.9), "interests=-2"),
                           ((2.0, 0.2, 0.9), "interests=2.0"), ((2, 1.5, 0.9), "1.5"),
                           ((2, float("nan"), 0.9), "nan"), ((2, 0.2, 0.0), "interest_fade=0.0"),
                           ((2, 0.2, 0.9, "best"), "round_robin"),
                           ((2, 0.2, 0.9, "score", 1.2), "diversity=1.2")]:
        with pytest.raises(ValueError, match=fragment):
            check_params(*args)
    assert check_params(3, DEFAULT_THRESHOLD, DEFAULT_FADE) == (3, 0.25, 0.98, "round_robin", 0.5)


def test_replay_user_is_apply_event_one_at_a_time_and_records_the_assignments():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(30, 3)).astype(np.float32)
    ops = rng.choice(["ema", "subtract"], 30, p=[0.8, 0.2])
    params = rng.uniform(0.1, 0.6, 30)
    got = replay_user(items, ops, params, k=3, threshold=0.3, fade=0.9)
    state = empty()
    for i in range(30):
        state, j, changed = apply_event(state, items[i], ops[i], params[i], k=3, threshold=0.3,
                                        fade=0.9)
        assert got.assignments[i] == (-1 if j is None else j) and got.changed[i] == changed
    np.testing.assert_array_equal(got.state.vectors, state.vectors)
    np.testing.assert_array_equal(got.state.weights, state.weights)
    # splitting the history in two (ingest continuing from stored interests) changes nothing
    half = replay_user(items[:12], ops[:12], params[:12], k=3, threshold=0.3, fade=0.9)
    rest = replay_user(items[12:], ops[12:], params[12:], k=3, threshold=0.3, fade=0.9,
                       start=half.state)
    np.testing.assert_array_equal(rest.state.vectors, state.vectors)
    np.testing.assert_array_equal(rest.state.weights, state.weights)


def test_segment_is_the_events_since_the_interest_was_created():
    items = np.stack([X, Z, X, Y, Y, Y, Z]).astype(np.float32)
    got = replay_user(items, ["ema"] * 7, [0.5] * 7, k=2, threshold=0.5, fade=0.5)
    # X (0), Z (1), X -> 0, Y: far, k reached, Z faded to 0.25 -> replaces 1, Y, Y -> 1, Z far
    assert got.assignments.tolist()[:6] == [0, 1, 0, 1, 1, 1]
    assert segment(got, 1).tolist()[:3] == [3, 4, 5]
    assert 1 not in segment(got, 1).tolist()


# ------------------------------------------------------------------ merges


def test_round_robin_equal_weights_alternate_and_skip_taken_items():
    got = merge([[1, 2, 3], [2, 4, 5]], [[0.9, 0.8, 0.7], [0.95, 0.6, 0.5]], [1.0, 1.0], 5,
                "round_robin", 0.0)
    assert got.ids.tolist() == [1, 2, 3, 4, 5] and got.interest.tolist() == [0, 1, 0, 1, 1]
    # item 2 was taken by interest 1 (its turn); interest 0 skipped it for 3
    np.testing.assert_allclose(got.scores, [0.9, 0.95, 0.7, 0.6, 0.5])


def test_round_robin_diversity_zero_shares_by_weight_and_one_equally():
    a = [10, 11, 12, 13, 14, 15, 16, 17]
    b = [20, 21, 22, 23, 24, 25, 26, 27]
    s = [np.linspace(1, 0.5, 8)] * 2
    by_weight = merge([a, b], s, [3.0, 1.0], 8, "round_robin", 0.0)
    assert np.bincount(by_weight.interest).tolist() == [6, 2]
    assert by_weight.interest.tolist() == [0, 0, 1, 0, 0, 0, 1, 0]
    equal = merge([a, b], s, [3.0, 1.0], 8, "round_robin", 1.0)
    assert equal.interest.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    # a shorter list is a prefix of a longer one
    assert merge([a, b], s, [3.0, 1.0], 3, "round_robin", 0.0).ids.tolist() == \
        by_weight.ids[:3].tolist()


def test_score_merge_penalizes_weak_interests_unless_diversity_is_one():
    ids = [[1, 2], [3, 4]]
    scores = [[0.5, 0.4], [0.9, 0.8]]
    plain = merge(ids, scores, [4.0, 1.0], 4, "score", 1.0)
    assert plain.ids.tolist() == [3, 4, 1, 2] and plain.interest.tolist() == [1, 1, 0, 0]
    # diversity 0: interest 1 loses 1 - 1/4 = 0.75 -> 0.15, 0.05
    strict = merge(ids, scores, [4.0, 1.0], 4, "score", 0.0)
    assert strict.ids.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(strict.scores, [0.5, 0.4, 0.15, 0.05])
    # an item in both lists takes its best penalized score; ties rank by the lower id
    both = merge([[7, 5], [5, 7]], [[0.5, 0.5], [0.5, 0.5]], [1.0, 1.0], 2, "score", 0.0)
    assert both.ids.tolist() == [5, 7] and both.interest.tolist() == [0, 0]
    assert owner([[0.5, 0.1], [0.9, 0.2]], [4.0, 1.0], 0.0).tolist() == [0, 0]


def test_merge_validates():
    with pytest.raises(ValueError, match="mix"):
        merge([[1]], [[1.0]], [1.0], 1, "mix")
    with pytest.raises(ValueError, match="one list per interest"):
        merge([[1], [2]], [[1.0]], [1.0], 1)
    assert set(MERGES) == {"round_robin", "score"}


# ------------------------------------------------------------------ properties

unit_items = arrays(np.float32, st.tuples(st.integers(1, 25), st.just(4)),
                    elements=st.floats(-1, 1, width=32))


@given(items=unit_items, k=st.integers(1, 4), threshold=st.floats(-1, 1),
       fade=st.floats(0.01, 1.0), seed=st.integers(0, 1000))
def test_never_a_zero_or_nan_row_at_most_k_and_positive_weights(items, k, threshold, fade, seed):
    rng = np.random.default_rng(seed)
    norms = np.linalg.norm(items.astype(np.float64), axis=1)
    items = items[norms > 1e-3]  # the item vectors of a catalogue are never zero
    ops = rng.choice(["ema", "subtract"], len(items))
    params = rng.uniform(0.05, 1.0, len(items))
    got = replay_user(items, ops, params, k=k, threshold=threshold, fade=fade)
    state = got.state
    assert state.m <= k
    assert np.isfinite(state.vectors).all()
    np.testing.assert_allclose(np.linalg.norm(state.vectors, axis=1), 1.0, atol=1e-5)
    assert (state.weights > 0).all() and np.isfinite(state.weights).all()
    assert (state.counts >= 1).all()
    positives = ops == "ema"
    if positives.any():
        assert state.m >= 1
        assert (got.assignments[positives] >= 0).all()


@given(st.lists(st.integers(1, 40), min_size=1, max_size=15, unique=True),
       st.lists(st.integers(1, 40), min_size=1, max_size=15, unique=True),
       st.floats(0.01, 10), st.floats(0.01, 10), st.floats(0, 1),
       st.sampled_from(MERGES), st.integers(1, 30))
def test_merge_returns_distinct_items_from_the_lists(a, b, wa, wb, diversity, strategy, n):
    sa = np.sort(np.random.default_rng(len(a)).random(len(a)))[::-1]
    sb = np.sort(np.random.default_rng(len(b)).random(len(b)))[::-1]
    got = merge([a, b], [sa, sb], [wa, wb], n, strategy, diversity)
    assert len(set(got.ids.tolist())) == len(got.ids) == min(n, len(set(a) | set(b)))
    for item, i in zip(got.ids.tolist(), got.interest.tolist(), strict=True):
        assert item in (a, b)[i]
