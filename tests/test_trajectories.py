"""recsys_nb.trajectories: one history step by step (interest, prediction, similarities)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_nb import trajectories as T
from recsys_nb import vectors as V


def test_predicted_trajectory_window_fallback_and_validation():
    m = np.eye(4, dtype=np.float32)
    rows = np.array([0, 1, 2, 3, 0])
    kinds = ["view", "not_interested", "view", "view", "view"]
    current = V.normalize(np.ones((5, 4)))
    pred, fallback = T.predicted_trajectory(m, rows, kinds, current, window=3, min_events=3,
                                            method="recent")
    # positives so far: 1, 1, 2, 3, 4 -> a prediction from the 4th event on
    assert fallback.tolist() == [True, True, True, False, False]
    np.testing.assert_array_equal(pred[:3], current[:3])
    np.testing.assert_allclose(pred[3], V.average(m[[0, 2, 3]]), atol=1e-7)
    np.testing.assert_allclose(pred[4], V.average(m[[2, 3, 0]]), atol=1e-7)
    for bad in ({"window": 1}, {"min_events": 1}, {"weight": -1.0}, {"method": "x"}):
        with pytest.raises(ValueError):
            T.predicted_trajectory(m, rows, kinds, current, **bad)
    sims = T.next_item_similarity(current, m, [[0, 1], [], [3], [3], [0]])
    assert np.isnan(sims[1]) and sims[0] == pytest.approx(0.5)


def test_trajectory_similarities_and_relative():
    traj = np.array([[np.nan, np.nan], [1.0, 0.0], [0.6, 0.8]])
    targets = np.array([[2.0, 0.0], [0.0, 3.0]])  # normalized inside
    sims = T.trajectory_similarities(traj, targets)
    assert np.isnan(sims[0]).all()
    np.testing.assert_allclose(sims[1:], [[1.0, 0.0], [0.6, 0.8]])
    rel = T.relative_similarities(sims)
    assert np.isnan(rel[0]).all()
    np.testing.assert_allclose(rel[1:], [[0.5, -0.5], [-0.1, 0.1]])
