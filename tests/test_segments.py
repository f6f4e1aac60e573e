"""User segments: spherical k-means, nearest centroid, the fading blend (recsys_nb.segments)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recsys_nb.segments import blend, fit_segments, kmeans, segment_share
from recsys_nb.vectors import DegenerateVectorError


def _clusters(seed: int = 0, per: int = 30, d: int = 8, spread: float = 0.1):
    """Three tight groups around three orthogonal directions."""
    rng = np.random.default_rng(seed)
    centres = np.eye(d)[:3]
    x = np.concatenate([c + spread * rng.standard_normal((per, d)) for c in centres])
    return x, np.repeat(np.arange(3), per), centres


def test_kmeans_finds_separated_groups_deterministically():
    x, truth, centres = _clusters()
    c, labels, cohesion = kmeans(x, 3, seed=1)
    # each found cluster is exactly one true group
    assert {frozenset(np.flatnonzero(labels == s)) for s in range(3)} == {
        frozenset(np.flatnonzero(truth == t)) for t in range(3)}
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-6)
    assert (np.sort((c @ centres.T).max(axis=0)) > 0.95).all()  # centroids on the directions
    assert 0.9 < cohesion <= 1.0
    again = kmeans(x, 3, seed=1)
    np.testing.assert_array_equal(again[1], labels)


def test_fit_segments_keys_sizes_nearest_and_members():
    x, truth, centres = _clusters(per=10)
    keys = [f"u{i}" for i in range(len(x))]
    seg = fit_segments(x, 3, keys=keys, seed=0)
    assert seg.k == 3 and seg.dim == 8 and seg.sizes.sum() == 30 and (seg.sizes == 10).all()
    s = seg.nearest(centres[1])
    assert isinstance(s, int) and set(seg.members(s)) == {f"u{i}" for i in range(10, 20)}
    np.testing.assert_array_equal(seg.nearest(x), seg.labels)
    assert "k=3" in repr(seg)
    with pytest.raises(ValueError, match="segment=3 is out of range; use 0..2"):
        seg.members(3)
    with pytest.raises(ValueError, match="dimension 4 for segments of dimension 8"):
        seg.nearest(np.ones(4))
    with pytest.raises(ValueError, match="2 keys for 30 vectors"):
        fit_segments(x, 3, keys=["a", "b"])


def test_with_centroids_checks_and_renormalizes():
    x, _, _ = _clusters(per=5)
    seg = fit_segments(x, 3)
    moved = seg.with_centroids(2.0 * np.roll(seg.centroids, 1, axis=0))
    np.testing.assert_allclose(moved.centroids, np.roll(seg.centroids, 1, axis=0), atol=1e-6)
    assert moved.labels is seg.labels and moved.keys == seg.keys
    bad = seg.centroids.copy()
    bad[2] = 0.0
    with pytest.raises(DegenerateVectorError, match="centroid 2"):
        seg.with_centroids(bad)
    bad[2] = np.nan
    with pytest.raises(DegenerateVectorError, match="centroid 2 has a non-finite value"):
        seg.with_centroids(bad)
    with pytest.raises(ValueError, match="one row per segment"):
        seg.with_centroids(seg.centroids[:2])


@pytest.mark.parametrize("k, fragment", [
    (0, "k=0 must be an int >= 1"), (True, "k=True must be"), (2.5, "k=2.5 must be"),
    (4, "asked for k=4 segments of 3 users; use k <= 3"),
])
def test_kmeans_rejects_bad_k(k, fragment):
    with pytest.raises(ValueError, match=fragment):
        kmeans(np.eye(3), k)


def test_kmeans_rejects_zero_and_non_finite_rows():
    x = np.eye(4)
    x[2] = 0
    with pytest.raises(ValueError, match="row 2 is zero or not finite"):
        kmeans(x, 2)
    x[2] = [np.inf, 0, 0, 0]
    with pytest.raises(ValueError, match="row 2 is zero or not finite"):
        kmeans(x, 2)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        kmeans(np.ones(4), 1)


def test_every_cluster_keeps_members_even_with_duplicates():
    x = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]])  # 5 identical rows: k=3 must still split
    c, labels, _ = kmeans(x, 3, seed=0)
    assert set(labels.tolist()) == {0, 1, 2}
    assert np.isfinite(c).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 25), st.integers(2, 6)),
              elements=st.floats(-5, 5, allow_nan=False)),
       st.integers(1, 3), st.integers(0, 5))
def test_centroids_are_unit_and_every_row_is_labelled(x, k, seed):
    x = x[np.linalg.norm(x, axis=1) > 1e-3]
    if len(x) < k:
        return
    c, labels, cohesion = kmeans(x, k, seed=seed)
    assert np.isfinite(c).all() and np.allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-5)
    assert labels.shape == (len(x),) and set(labels.tolist()) == set(range(k))
    assert -1.0 - 1e-9 <= cohesion <= 1.0 + 1e-9


def test_segment_share_fades_like_an_ema_start():
    assert segment_share(0, 0.5, 0.25) == 0.0
    assert segment_share(1, 0.5, 0.25) == 0.5
    assert segment_share(3, 0.5, 0.25) == pytest.approx(0.5 * 0.75 ** 2)


def test_blend_mixes_and_never_returns_a_zero_vector():
    v, c = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(blend(v, c, 0.5), [2 ** -0.5, 2 ** -0.5], atol=1e-6)
    np.testing.assert_allclose(blend(v, c, 0.0), v)
    np.testing.assert_allclose(blend(v, -v, 0.5), v)  # they cancel: the interest unchanged
    assert blend(v, c, 0.3).dtype == np.float32
