"""Popularity priors: the all-time log prior and the trending (event-clock) counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_nb.priors import (
    TRENDING_POWER,
    TrendingCounts,
    check_prior,
    log_scaled,
    popularity_prior,
)


def direct_counts(rows, n_items, half_life):
    """sum over events of 0.5 ** (later events / half_life): the definition."""
    later = np.arange(len(rows) - 1, -1, -1)
    return np.bincount(rows, weights=0.5 ** (later / half_life), minlength=n_items)


def test_popularity_prior_is_log_scaled_counts():
    prior = popularity_prior(pd.Series([3, 1, 0], index=[7, 8, 9]))
    assert prior.index.tolist() == [7, 8, 9]
    np.testing.assert_allclose(prior.to_numpy(), [1.0, np.log(2) / np.log(4), 0.0])
    assert log_scaled(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_counts_follow_the_definition():
    rows = np.array([0, 1, 0, 2, 0, 1])
    t = TrendingCounts(3, half_life_events=2)
    t.add(rows)
    np.testing.assert_allclose(t.counts, direct_counts(rows, 3, 2))
    assert t.events == 6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=40), st.integers(0, 40),
       st.floats(0.5, 50))
def test_adding_in_pieces_equals_adding_at_once(rows, cut, half_life):
    rows = np.array(rows)
    cut = min(cut, len(rows))
    whole, pieces = TrendingCounts(5, half_life), TrendingCounts(5, half_life)
    whole.add(rows)
    pieces.add(rows[:cut])
    pieces.add(rows[cut:])
    np.testing.assert_allclose(pieces.counts, whole.counts, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(whole.counts, direct_counts(rows, 5, half_life), rtol=1e-9)
    values = whole.values()
    assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1


def test_an_event_moves_only_its_own_items_prior():
    t = TrendingCounts(4, half_life_events=10)
    t.add(np.array([0, 0, 0, 1, 2]))
    before = t.values()
    t.add(np.array([2]))
    after = t.values()
    assert after[2] > before[2]
    np.testing.assert_array_equal(after[[0, 1, 3]], before[[0, 1, 3]])  # scale-free: no drift


def test_values_are_a_power_of_the_count_ratio_and_the_reference_moves_on_doubling():
    t = TrendingCounts(3, half_life_events=1e9)  # no decay: plain counts
    t.add(np.array([0, 0, 0, 0, 1]))
    np.testing.assert_allclose(t.values(), [1.0, 0.25 ** TRENDING_POWER, 0.0])
    t.add(np.array([1, 1, 1]))  # item 1 reaches the top: 4 events each
    np.testing.assert_allclose(t.values()[:2], [1.0, 1.0])
    t.add(np.array([1] * 8))  # 12 > 2 x 4: the reference moves to 12
    np.testing.assert_allclose(t.values()[:2], [(4 / 12) ** TRENDING_POWER, 1.0])


def test_undo_takes_back_the_newest_event():
    t = TrendingCounts(3, half_life_events=5)
    t.add(np.array([0, 1]))
    before = t.counts.copy()
    t.add(np.array([2]))
    t.add(np.array([2]), weight=-1.0)
    np.testing.assert_allclose(t.counts, before * 0.5 ** (1 / 5), atol=1e-12)


def test_long_streams_stay_finite():
    t = TrendingCounts(2, half_life_events=1)
    for _ in range(3):
        t.add(np.zeros(600, dtype=np.int64))  # 1,800 half-lives: 2 ** 1800 would overflow
    assert np.isfinite(t.amplified).all() and np.isfinite(t.counts).all()
    assert t.values()[0] == 1.0
    np.testing.assert_allclose(t.counts[0], 2.0, rtol=1e-6)  # sum of 0.5 ** k


@pytest.mark.parametrize("args, fragment", [
    (("hot", 1000), "prior='hot'"),
    (("trending", 0), "half_life_events=0"),
    (("trending", float("nan")), "half_life_events=nan"),
    (("trending", True), "half_life_events=True"),
])
def test_bad_prior_settings_are_named(args, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        check_prior(*args)
