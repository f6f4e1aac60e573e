"""recsys_nb.evaluate baselines beyond the basics: RP3beta against its dense formula, item-kNN
shrinkage, EASE's eigen-sweep against the direct inverse, EASE + trending prior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_nb import evaluate as ev
from recsys_nb.evaluate import Split, temporal_split

DAY = 86_400


def matrix_data(x: np.ndarray) -> ev.Interactions:
    """Interactions whose training matrix is exactly ``x`` (users 0.., items 0..)."""
    users, items = np.nonzero(x)
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": 0, "kind": "view"})
    data = ev.interaction_matrix(frame, np.arange(x.shape[1]))
    assert data.matrix.shape == x.shape  # every user has a training row
    return data


def random_binary(seed: int, users: int, items: int, p: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.random((users, items)) < p).astype(np.float64)
    x[np.arange(users), rng.integers(0, items - 1, users)] = 1  # nobody without a training row
    x[:, items - 1] = 0  # one item nobody touched
    return x


def dense_rp3beta(x: np.ndarray, alpha: float, beta: float, neighbors: int | None) -> np.ndarray:
    """RP3beta written out densely, straight from the definition."""
    p_ui = x / x.sum(axis=1, keepdims=True)
    n_i = x.sum(axis=0)
    p_iu = x.T / np.where(n_i > 0, n_i, 1)[:, None]
    w = (p_iu @ p_ui) ** alpha
    w = w / np.where(n_i > 0, n_i, 1)[None, :] ** beta
    np.fill_diagonal(w, 0)
    if neighbors is not None:
        for i in range(len(w)):
            w[i, np.argsort(-w[i], kind="stable")[neighbors:]] = 0
    return x @ w


# --------------------------------------------------------------------------------------------
# RP3beta
# --------------------------------------------------------------------------------------------


def test_rp3beta_hand_example():
    # two users: u0 {0, 1}, u1 {1, 2}. Item 1 is on both; with alpha = 1, beta = 0:
    # W[0, 2] = P(0 -> u0) P(u0 -> 2) + ... = 0 (no shared user); W[0, 1] = 1 * 1/2;
    # W[2, 1] = 1/2; W[1, 0] = 1/2 * 1/2, W[1, 2] = 1/2 * 1/2.
    x = np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float64)
    scores = ev.rp3beta_scorer(matrix_data(x), alpha=1.0, beta=0.0, neighbors=None)(np.arange(2))
    np.testing.assert_allclose(scores, [[0.25, 0.5, 0.25], [0.25, 0.5, 0.25]])
    # beta = 1 divides column j by the item's popularity (1, 2, 1): item 1 drops to 0.25
    scores = ev.rp3beta_scorer(matrix_data(x), alpha=1.0, beta=1.0, neighbors=None)(np.arange(2))
    np.testing.assert_allclose(scores, [[0.25, 0.25, 0.25], [0.25, 0.25, 0.25]])


@pytest.mark.parametrize(("alpha", "beta", "neighbors"),
                         [(1.0, 0.5, None), (0.6, 0.0, None), (1.3, 0.8, 3), (0.5, 0.3, 1)])
def test_rp3beta_matches_the_dense_formula(alpha, beta, neighbors):
    x = random_binary(2, 25, 9)
    got = ev.rp3beta_scorer(matrix_data(x), alpha, beta, neighbors)(np.arange(25))
    np.testing.assert_allclose(got, dense_rp3beta(x, alpha, beta, neighbors), rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"alpha": 0}, "alpha=0 must be a finite number > 0"),
    ({"beta": -0.1}, "beta=-0.1 must be a finite number >= 0"),
    ({"neighbors": 0}, "neighbors=0 must be an integer >= 1"),
])
def test_rp3beta_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ev.rp3beta_scorer(matrix_data(random_binary(0, 5, 4)), **kwargs)


# --------------------------------------------------------------------------------------------
# item-kNN shrinkage
# --------------------------------------------------------------------------------------------


def test_itemknn_shrink_zero_is_cosine_and_shrink_follows_the_formula():
    x = random_binary(3, 30, 12)
    data = matrix_data(x)
    rows = np.arange(30)
    co = x.T @ x
    n = np.diag(co)
    d = np.sqrt(np.outer(n, n))
    for shrink in (0.0, 5.0):
        sim = co / np.where(d + shrink > 0, d + shrink, 1)
        np.fill_diagonal(sim, 0)
        np.testing.assert_allclose(ev.itemknn_scorer(data, shrink=shrink)(rows), x @ sim,
                                   rtol=1e-5, atol=1e-6)
    # shrink = 0 is the call without it, number for number
    np.testing.assert_array_equal(ev.itemknn_scorer(data, 4, shrink=0.0)(rows),
                                  ev.itemknn_scorer(data, 4)(rows))
    with pytest.raises(ValueError, match="shrink=-1"):
        ev.itemknn_scorer(data, shrink=-1)


def test_shrink_lowers_rare_co_occurrences_more():
    # items 0 and 1 always together but rare (1 user); items 2 and 3 together for 10 users:
    # both pairs have cosine 1, shrinkage keeps the well-supported pair near 1
    x = np.zeros((11, 4))
    x[0, [0, 1]] = 1
    x[1:, [2, 3]] = 1
    data = matrix_data(x)
    plain = ev.itemknn_scorer(data)(np.arange(11))
    shrunk = ev.itemknn_scorer(data, shrink=2.0)(np.arange(11))
    assert plain[0, 1] == pytest.approx(1.0) and plain[1, 3] == pytest.approx(1.0)
    assert shrunk[0, 1] == pytest.approx(1 / 3) and shrunk[1, 3] == pytest.approx(10 / 12)


# --------------------------------------------------------------------------------------------
# EASE: active columns, one eigendecomposition for every lambda
# --------------------------------------------------------------------------------------------


def direct_ease(x: np.ndarray, lam: float) -> np.ndarray:
    """EASE over the FULL catalogue with a direct inverse (Steck 2019, as written)."""
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0)
    return x @ b


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), users=st.integers(2, 30), items=st.integers(3, 30),
       lam=st.floats(0.1, 1000))
def test_ease_on_active_columns_equals_the_full_computation(seed, users, items, lam):
    # more items than users and the reverse: both factorizations, inactive items included
    x = random_binary(seed, users, items)
    got = ev.ease_scorer(matrix_data(x), lam)(np.arange(users))
    want = direct_ease(x, lam)
    np.testing.assert_allclose(got, want, atol=1e-8 * max(1.0, np.abs(want).max()))
    assert (got[:, items - 1] == 0).all()  # nobody touched it: exactly 0


def test_one_eigendecomposition_serves_every_lambda():
    x = random_binary(5, 20, 40)  # fewer users than items: the users x users route
    data = matrix_data(x)
    factor = ev.ease_factor(data)
    assert factor.q.shape[1] <= 20 and len(factor.active) == 39
    for lam in (0.5, 10.0, 500.0, 5000.0):
        np.testing.assert_allclose(factor.scorer(lam)(np.arange(20)), direct_ease(x, lam),
                                   atol=1e-8)
        # ease_scorer reuses the memoized factor of the same data
        np.testing.assert_array_equal(ev.ease_scorer(data, lam)(np.arange(20)),
                                      factor.scorer(lam)(np.arange(20)))
    assert data.memo("ease", lambda: None) is not None


# --------------------------------------------------------------------------------------------
# EASE + trending prior
# --------------------------------------------------------------------------------------------


def trending_split() -> Split:
    """Users 0-5 watch items 1-3 early; in the last 30 days users 3-5 watch item 4."""
    t0 = 1_000_000_000
    rows = [(u, i, t0 + (10 * u + i) * DAY) for u in range(6) for i in (1, 2, 3)]
    rows += [(u, 4, t0 + 100 * DAY + u * DAY) for u in (3, 4, 5)]
    rows += [(u, 5, t0 + 200 * DAY) for u in range(6)]  # the held-out event of every user
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(kind="view")
    return temporal_split(frame, leave_last=1, min_events=3)


def test_trending_prior_counts_what_trending_counts():
    split = trending_split()
    as_of = float(split.train["timestamp"].max()) + 1
    counts = ev.recent_counts(split.item_ids, split.train, as_of, days=30)
    assert counts.tolist() == [0, 0, 0, 3, 0]  # items 1..5: only item 4 is recent
    prior = ev.trending_prior(split.item_ids, split.train, as_of, days=30)
    assert prior.tolist() == [0, 0, 0, 1, 0]
    data = ev.interaction_matrix(split.train, split.item_ids)
    trend = ev.trending_scorer(data, split.train, as_of, days=30)(np.array([0]))[0]
    assert trend[3] - counts[3] < 1 and np.argmax(trend) == 3  # all-time counts only tie-break


def test_ease_trending_is_scaled_ease_plus_weighted_prior():
    x = random_binary(7, 15, 12, p=0.25)
    data = matrix_data(x)
    prior = np.random.default_rng(0).random(12)
    rows = np.arange(15)
    ease = ev.ease_scorer(data, 2.0)(rows)
    got = ev.ease_trending_scorer(data, prior, lam=2.0, weight=2.5)(rows)
    seen = x > 0
    for r in rows:
        cand = ease[r, ~seen[r]]
        scaled = (ease[r] - cand.min()) / (cand.max() - cand.min())
        np.testing.assert_allclose(got[r], scaled + 2.5 * prior)
        ease_part = (got[r] - 2.5 * prior)[~seen[r]]
        assert ease_part.min() == pytest.approx(0) and ease_part.max() == pytest.approx(1)
    # a user with a single candidate (user 3 saw items 1-4; item 5 is left) gets the prior alone
    split = trending_split()
    data = ev.interaction_matrix(split.train, split.item_ids)
    alone = ev.ease_trending_scorer(data, np.arange(5) / 4, lam=2.0)(data.rows([3]))
    assert alone[0, 4] == 1.0 and np.isfinite(alone).all()
    # the baseline ranks the recent item first for users who have not seen it
    ranked = ev.recommend_baseline("ease_trending", split, users=[0, 1], n=1, lam=2.0,
                                   days=30.0, weight=3.0)
    assert ranked.tolist() == [[4], [4]]
    with pytest.raises(ValueError, match="weight=-1"):
        ev.ease_trending_scorer(data, np.zeros(5), weight=-1)
    with pytest.raises(ValueError, match="one value per catalogue item"):
        ev.ease_trending_scorer(data, np.zeros(2))


def test_baseline_parameters_are_checked_by_name():
    split = trending_split()
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['lambda'\].*\['lam'\]"):
        ev.evaluate_baseline("ease", split, 2, **{"lambda": 3})
    with pytest.raises(ValueError, match="unknown baseline 'svd'"):
        ev.recommend_baseline("svd", split, n=2)
    assert set(ev.BASELINES) == set(ev.BASELINE_PARAMS) >= {"rp3beta", "ease_trending"}
