"""recsys_nb.replay: histories replayed == the one-by-one event loop, for one user and many."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_nb import replay as R
from recsys_nb import trajectories
from recsys_nb import vectors as V
from recsys_nb.vectors import DegenerateVectorError, OvershootError

SETTINGS = settings(deadline=None, max_examples=60)


@st.composite
def histories(draw, max_len: int = 20):
    """A start (or None), items, ops and params for a replay, in low dimension."""
    d = draw(st.integers(2, 6))
    m = draw(st.integers(0, max_len))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(m, d)).astype(np.float32)
    # reuse a few items so that subtracting "the same direction" (overshoot) happens sometimes
    if m > 3 and draw(st.booleans()):
        items[rng.integers(0, m, m // 2)] = items[0]
    ops = rng.choice(np.array(["ema", "subtract"]), size=m, p=[0.6, 0.4])
    alphas = rng.choice([1e-6, 0.1, 0.3, 0.5, 1.0], size=m)
    factors = rng.choice([0.0, 0.2, 0.5, 1.0, 1.5], size=m)
    params = np.where(ops == "ema", alphas, factors)
    start = None if draw(st.booleans()) else rng.normal(size=d).astype(np.float32)
    if start is not None and m and draw(st.booleans()):
        start = items[0].copy()  # start == first item: subtract factor 1 overshoots
    return start, items, ops, params


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def loop_reference(start, items, ops, params, cold_subtract="negate"):
    """The one-by-one path the Recommender takes: apply_event, skipping cancellations."""
    v = None if start is None else V.normalize(start)  # a stored profile is unit float32
    skipped = 0
    for e, op, p in zip(items, ops, params, strict=True):
        try:
            v = V.apply_event(v, e, str(op), float(p), cold_subtract=cold_subtract)
        except DegenerateVectorError:
            skipped += 1
    return v, skipped


def manual_loop(start, items, ops, params, cold_subtract="negate"):
    """The same history written with the textbook formulas in float64 (no package code)."""
    v = None if start is None else unit(start)
    for e, op, p in zip(items, ops, params, strict=True):
        e = unit(e)
        if v is None:
            if op == "ema":
                v = e
            elif p > 0 and cold_subtract == "negate":
                v = -e
            continue
        new = (1 - p) * v + p * e if op == "ema" else v - p * e
        n = np.linalg.norm(new)
        if n <= V.EPS * ((1 - p) + p if op == "ema" else 1 + p):
            continue
        v = new / n
    return v



# ---------------------------------------------------------------- replay


@SETTINGS
@given(histories(), st.sampled_from(["negate", "ignore"]))
def test_replay_equals_the_one_by_one_loop(history, cold_subtract):
    start, items, ops, params = history
    result = R.replay(start, items, ops, params, cold_subtract=cold_subtract)
    expected, skipped = loop_reference(start, items, ops, params, cold_subtract)
    assert result.skipped == skipped
    if expected is None:
        assert result.vector is None
        return
    assert result.vector.dtype == np.float32
    np.testing.assert_array_equal(result.vector, expected)
    assert abs(np.linalg.norm(result.vector.astype(np.float64)) - 1) < 1e-6
    # and the textbook float64 formulas agree to float32 tolerance
    textbook = manual_loop(start, items, ops, params, cold_subtract)
    np.testing.assert_allclose(result.vector, textbook, atol=1e-5)


def test_replay_skips_an_overshoot_and_counts_it():
    e = np.array([0.0, 1.0, 0.0])
    other = np.array([1.0, 0.0, 0.0])
    result = R.replay(None, np.stack([e, e, other]), ["ema", "subtract", "ema"], [0.3, 1.0, 0.5])
    assert result.skipped == 1
    np.testing.assert_allclose(result.vector, unit([0.5, 0.5, 0.0]), atol=1e-7)
    with pytest.raises(OvershootError) as info:
        R.replay(None, np.stack([e, e, other]), ["ema", "subtract", "ema"], [0.3, 1.0, 0.5],
                 on_overshoot="raise")
    assert info.value.row == 1


def test_replay_cold_start_subtract_first_and_empty_histories():
    e = np.array([0.0, 2.0])
    r = R.replay(None, e[None, :], ["subtract"], [0.5])
    np.testing.assert_allclose(r.vector, [0.0, -1.0])
    r = R.replay(None, e[None, :], ["subtract"], [0.0])
    assert r.vector is None and r.skipped == 0
    r = R.replay(None, np.stack([e, [1.0, 0.0]]), ["subtract", "ema"], [0.5, 0.3],
                 cold_subtract="ignore")
    np.testing.assert_allclose(r.vector, [1.0, 0.0])  # stayed cold until the first positive
    assert V.apply_event(None, e, "subtract", 0.5, cold_subtract="ignore") is None
    with pytest.raises(ValueError, match="cold_subtract='drop'"):
        R.replay(None, e[None, :], ["subtract"], [0.5], cold_subtract="drop")
    r = R.replay(np.array([3.0, 4.0]), np.empty((0, 2)), [], [])
    np.testing.assert_allclose(r.vector, [0.6, 0.8], rtol=1e-7)
    assert R.replay(None, np.empty((0, 2)), [], []).vector is None


def test_replay_validates_inputs_up_front():
    items = np.ones((3, 2))
    with pytest.raises(ValueError, match="alpha=1.5 \\(event 2\\)"):
        R.replay(None, items, ["ema", "ema", "ema"], [0.3, 0.3, 1.5])
    with pytest.raises(ValueError, match="factor=-1.0 \\(event 1\\)"):
        R.replay(None, items, ["ema", "subtract", "ema"], [0.3, -1, 0.3])
    bad = items.copy()
    bad[1] = np.nan
    with pytest.raises(DegenerateVectorError, match="items row 1 has NaN"):
        R.replay(None, bad, ["ema"] * 3, [0.3] * 3)
    with pytest.raises(ValueError, match="3 ops but 2 params"):
        R.replay(None, items, ["ema"] * 3, [0.3] * 2)
    with pytest.raises(ValueError, match="start vector has dimension 3 but each item has 2"):
        R.replay(np.ones(3), items, ["ema"] * 3, [0.3] * 3)
    with pytest.raises(ValueError, match="on_overshoot='ignore'"):
        R.replay(None, items, ["ema"] * 3, [0.3] * 3, on_overshoot="ignore")


def test_replay_op_codes_and_item_matrix_agree_with_strings():
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(10, 5)).astype(np.float32)
    rows = rng.integers(0, 10, 30)
    ops = rng.choice(["ema", "subtract"], 30)
    params = np.where(ops == "ema", 0.3, 0.4)
    a = R.replay(None, matrix[rows], ops, params)
    codes = np.where(ops == "ema", V.OP_EMA, V.OP_SUBTRACT)
    b = R.replay(None, rows, codes, params, item_matrix=matrix)
    np.testing.assert_array_equal(a.vector, b.vector)
    with pytest.raises(ValueError, match="item row 10 is outside item_matrix"):
        R.replay(None, np.array([10]), ["ema"], [0.3], item_matrix=matrix)


@st.composite
def many_users(draw):
    n_users = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    d = 4
    m = draw(st.integers(0, 40))
    keys = rng.integers(0, n_users, m)
    if draw(st.booleans()):
        keys = np.array([f"u{k}" for k in keys])
    items = rng.normal(size=(m, d)).astype(np.float32)
    if m > 2:
        items[rng.integers(0, m, m // 3)] = items[0]
    ops = rng.choice(np.array(["ema", "subtract"]), size=m, p=[0.6, 0.4])
    params = np.where(ops == "ema", rng.choice([0.2, 0.5, 1.0], m), rng.choice([0, 0.5, 1.0], m))
    starts = {}
    for k in np.unique(keys)[: draw(st.integers(0, 3))]:
        starts[k.item()] = items[0] if draw(st.booleans()) else rng.normal(size=d)
    cold = draw(st.sampled_from(["negate", "ignore"]))
    return keys, items, ops, params, starts, cold


@SETTINGS
@given(many_users())
def test_replay_batch_equals_replay_per_user(case):
    keys, items, ops, params, starts, cold = case
    batch = R.replay_batch(keys, items, ops, params, starts=starts, cold_subtract=cold)
    assert list(batch.keys) == sorted(set(keys.tolist()))
    for i, key in enumerate(batch.keys):
        sel = keys == key
        one = R.replay(starts.get(key.item()), items[sel], ops[sel], params[sel],
                       cold_subtract=cold)
        assert batch.skipped[i] == one.skipped
        if one.vector is None:
            assert not batch.has_vector[i]
            assert np.isnan(batch.vectors[i]).all()
        else:
            assert batch.has_vector[i]
            np.testing.assert_allclose(batch.vectors[i], one.vector, atol=1e-6)
    assert set(batch.as_dict()) == {k.item() for k, h in zip(batch.keys, batch.has_vector,
                                                              strict=True) if h}


def test_replay_batch_interleaving_does_not_matter():
    rng = np.random.default_rng(7)
    m = 200
    keys = rng.integers(0, 12, m)
    items = rng.normal(size=(m, 8))
    ops = rng.choice(["ema", "subtract"], m, p=[0.8, 0.2])
    params = np.where(ops == "ema", 0.3, 0.5)
    a = R.replay_batch(keys, items, ops, params)
    order = np.argsort(keys, kind="stable")  # same per-user order, users no longer interleaved
    b = R.replay_batch(keys[order], items[order], ops[order], params[order])
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.skipped, b.skipped)


def test_ema_fold_equals_sequential_updates_not_the_closed_form():
    rng = np.random.default_rng(3)
    items = rng.normal(size=(12, 6))
    alphas = rng.uniform(0.1, 0.9, 12)
    v = V.normalize(items[0])
    for e, a in zip(items[1:], alphas[1:], strict=True):
        v = V.ema_update(v, e, a)
    folded = R.ema_fold(items, alphas)
    np.testing.assert_array_equal(folded, v)
    # the unnormalized recurrence u = (1-a) u + a e points elsewhere: no closed form shortcut
    u = unit(items[0])
    for e, a in zip(items[1:], alphas[1:], strict=True):
        u = (1 - a) * u + a * unit(e)
    assert np.linalg.norm(unit(u) - folded) > 1e-3
    np.testing.assert_array_equal(R.ema_fold(items, 0.3, start=items[0]),
                                  R.replay(items[0], items, ["ema"] * 12, [0.3] * 12).vector)
    with pytest.raises(ValueError, match="at least one item"):
        R.ema_fold(np.empty((0, 6)), [])



def test_replay_batch_on_uneven_long_histories_equals_the_event_loop():
    """Histories shaped like MovieLens (a few long users, many short ones), d = 32."""
    rng = np.random.default_rng(11)
    lengths = np.minimum(rng.geometric(0.02, size=25), 400)
    keys = np.repeat(np.arange(25), lengths)
    rng.shuffle(keys)  # users interleaved in time
    m = keys.size
    matrix = rng.normal(size=(300, 32)).astype(np.float32)
    rows = rng.integers(0, 300, m)
    ops = np.where(rng.random(m) < 0.15, V.OP_SUBTRACT, V.OP_EMA)
    params = np.where(ops == V.OP_EMA, rng.choice([0.1, 0.3, 0.6], m), 1.0)
    batch = R.replay_batch(keys, rows, ops, params, item_matrix=matrix)
    for i, key in enumerate(batch.keys):
        sel = np.flatnonzero(keys == key)
        expected, skipped = loop_reference(None, matrix[rows[sel]],
                                           np.where(ops[sel] == 0, "ema", "subtract"),
                                           params[sel])
        np.testing.assert_array_equal(batch.vectors[i], expected)
        assert batch.skipped[i] == skipped



def test_interest_trajectory_is_the_replay_step_by_step():
    rng = np.random.default_rng(3)
    matrix = V.normalize(rng.standard_normal((6, 5)))
    rows = np.array([2, 0, 0, 4, 1, 5, 3])
    kinds = ["not_interested", "view", "favorite", "not_interested", "view", "view", "favorite"]
    traj = trajectories.interest_trajectory(matrix, rows, kinds, 0.3, 0.6, 0.4)
    assert traj.shape == (7, 5) and traj.dtype == np.float32
    assert np.isnan(traj[0]).all() and not np.isnan(traj[1:]).any()  # cold not-interested
    ops = ["subtract" if k == "not_interested" else "ema" for k in kinds]
    params = [{"view": 0.3, "favorite": 0.6, "not_interested": 0.4}[k] for k in kinds]
    for k in range(1, 7):
        replayed = R.replay(None, rows[:k + 1], ops[:k + 1], params[:k + 1], item_matrix=matrix,
                            cold_subtract="ignore")
        np.testing.assert_array_equal(traj[k], replayed.vector)
    start = V.normalize(rng.standard_normal(5))
    warm = trajectories.interest_trajectory(matrix, rows[:1], ["view"], 0.3, 0.6, start=start)
    np.testing.assert_allclose(warm[0], V.ema_update(start, matrix[2], 0.3), atol=1e-6)
    with pytest.raises(ValueError, match="unknown event kind 'click'"):
        trajectories.interest_trajectory(matrix, rows[:1], ["click"], 0.3, 0.6)
    with pytest.raises(ValueError, match="one kind per event"):
        trajectories.interest_trajectory(matrix, rows, kinds[:2], 0.3, 0.6)
