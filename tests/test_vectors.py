"""recsys_nb.vectors: the technique's math, its edge cases, and batch == one-by-one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recsys_nb import vectors as V
from recsys_nb.vectors import DegenerateVectorError, OvershootError

SETTINGS = settings(deadline=None, max_examples=60)

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def vector_pairs(draw, max_dim: int = 12):
    """Two vectors of one dimension, each with a usable direction (norm >= 1e-2)."""
    d = draw(st.integers(1, max_dim))
    a = draw(hnp.arrays(np.float32, d, elements=finite))
    b = draw(hnp.arrays(np.float32, d, elements=finite))
    assume(np.linalg.norm(a) > 1e-2 and np.linalg.norm(b) > 1e-2)
    return a, b


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------- normalize / validate


def test_normalize_vector_and_batch_are_unit_float32():
    v = V.normalize([3.0, 4.0])
    assert v.dtype == np.float32
    np.testing.assert_allclose(v, [0.6, 0.8], rtol=1e-7)
    batch = V.normalize(np.array([[3.0, 4.0], [0.0, -2.0]]))
    np.testing.assert_allclose(batch, [[0.6, 0.8], [0.0, -1.0]], rtol=1e-7)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros(4), "norm 0"),
        (np.array([1.0, np.nan, 0.0]), "non-finite value \\(nan\\) at position 1"),
        (np.array([np.inf, 1.0]), "non-finite"),
        (np.full(3, 1e-9), "norm 1.73e-09 \\(<= EPS=1e-06\\)"),
    ],
)
def test_normalize_rejects_degenerate_vectors(bad, match):
    with pytest.raises(DegenerateVectorError, match=match):
        V.normalize(bad)


def test_normalize_batch_names_the_bad_row():
    batch = np.ones((4, 3))
    batch[2] = 0.0
    with pytest.raises(DegenerateVectorError, match="row 2 has norm 0"):
        V.normalize(batch)
    batch[2] = np.nan
    batch[3] = np.nan
    with pytest.raises(DegenerateVectorError, match="row 2 has NaN.*2 bad rows"):
        V.normalize(batch)


def test_normalize_rejects_3d():
    with pytest.raises(ValueError, match="got shape \\(2, 2, 2\\)"):
        V.normalize(np.ones((2, 2, 2)))


def test_degenerate_error_is_a_value_error():
    assert issubclass(DegenerateVectorError, ValueError)
    assert issubclass(OvershootError, DegenerateVectorError)


def test_validate_vector_names_both_dimensions():
    with pytest.raises(ValueError) as info:
        V.validate_vector(
            np.ones(64), dim=384, name="item vector", other="the interest vector"
        )
    msg = str(info.value)
    assert "item vector has dimension 64 but the interest vector has 384" in msg
    assert "same embedding model" in msg
    with pytest.raises(ValueError, match="1-D"):
        V.validate_vector(np.ones((2, 3)))
    out = V.validate_vector([1, 2, 3])
    assert out.dtype.kind == "f"


def test_ema_update_dimension_mismatch_names_both():
    expected = "item vector has dimension 64 but the interest vector has 384"
    with pytest.raises(ValueError, match=expected):
        V.ema_update(np.ones(384), np.ones(64), 0.3)


# ---------------------------------------------------------------- EMA


@SETTINGS
@given(vector_pairs(), st.floats(1e-6, 1.0))
def test_ema_update_is_unit_finite_and_matches_the_formula(pair, alpha):
    v, e = pair
    assume(np.dot(unit(v), unit(e)) > -0.999)  # avoid the (tested separately) cancellation
    out = V.ema_update(v, e, alpha)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert abs(np.linalg.norm(out.astype(np.float64)) - 1) < 1e-6
    expected = unit((1 - alpha) * unit(v) + alpha * unit(e))
    np.testing.assert_allclose(out, expected, atol=2e-6)


@SETTINGS
@given(vector_pairs())
def test_alpha_one_returns_the_normalized_item(pair):
    v, e = pair
    np.testing.assert_allclose(V.ema_update(v, e, 1.0), unit(e), atol=1e-7)


@SETTINGS
@given(vector_pairs())
def test_tiny_alpha_barely_moves_the_interest(pair):
    v, e = pair
    out = V.ema_update(v, e, 1e-6)
    # the move is at most ~2 * alpha (plus float32 rounding of the output)
    assert np.linalg.norm(out - unit(v)) <= 2e-6 + 1e-6


def test_ema_update_moves_towards_the_item():
    v, e = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    out = V.ema_update(v, e, 0.3)
    np.testing.assert_allclose(out, unit([0.7, 0.3]), rtol=1e-7)
    assert np.dot(out, e) > np.dot(v, e)


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5, float("nan"), float("inf")])
def test_bad_alpha_message_names_the_value(alpha):
    with pytest.raises(ValueError, match=f"alpha={alpha!r}.*outside \\(0, 1\\].*0.3"):
        V.ema_update(np.ones(3), np.ones(3), alpha)


def test_ema_cancellation_is_a_degenerate_vector_error():
    v = np.array([1.0, 2.0, 3.0])
    with pytest.raises(DegenerateVectorError, match="alpha=0.5 cancelled") as info:
        V.ema_update(v, -v, 0.5)
    assert not isinstance(info.value, OvershootError)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.integers(1, 9), st.booleans())
def test_ema_update_of_rows_equals_the_loop(seed, n, d, per_row_alpha):
    rng = np.random.default_rng(seed)
    vs = rng.normal(size=(n, d)).astype(np.float32)
    es = rng.normal(size=(n, d))
    alpha = rng.uniform(0.01, 1.0, n) if per_row_alpha else 0.25
    out = V.ema_update(vs, es, alpha)
    alphas = np.broadcast_to(alpha, (n,))
    loop = np.stack([V.ema_update(v, e, a) for v, e, a in zip(vs, es, alphas, strict=True)])
    np.testing.assert_array_equal(out, loop)


def test_ema_update_of_rows_errors_name_rows():
    vs = np.ones((3, 2))
    es = np.ones((3, 2))
    es[1] = -1.0
    with pytest.raises(DegenerateVectorError, match="row 1"):
        V.ema_update(vs, es, 0.5)
    with pytest.raises(ValueError, match="3 interest vectors but 2 item vectors"):
        V.ema_update(vs, es[:2], 0.5)
    with pytest.raises(ValueError, match="alpha=2.0"):
        V.ema_update(vs, np.ones((3, 2)), [0.1, 2.0, 0.3])


# ---------------------------------------------------------------- subtraction


@SETTINGS
@given(vector_pairs())
def test_factor_zero_is_a_no_op(pair):
    v, e = pair
    np.testing.assert_allclose(V.subtract(v, e, 0.0), V.normalize(v), atol=1e-7)


@SETTINGS
@given(vector_pairs(), st.floats(0.01, 0.5))
def test_subtract_moves_away_from_the_item(pair, factor):
    v, e = pair
    out = V.subtract(v, e, factor)
    assert abs(np.linalg.norm(out.astype(np.float64)) - 1) < 1e-6
    np.testing.assert_allclose(out, unit(unit(v) - factor * unit(e)), atol=2e-6)
    assert np.dot(out, unit(e)) <= np.dot(unit(v), unit(e)) + 1e-6


def test_overshoot_raises_with_attributes_and_the_fix():
    v = np.array([0.2, -0.5, 0.8])
    with pytest.raises(OvershootError) as info:
        V.subtract(v, v, 1.0)
    err = info.value
    assert err.factor == 1.0
    assert err.norm < 1e-6
    assert err.cosine == pytest.approx(1.0)
    assert err.row is None
    assert "smaller factor" in str(err) and "factor=1" in str(err)
    # a smaller factor never cancels a unit vector: |v - f e| >= 1 - f
    np.testing.assert_allclose(V.subtract(v, v, 0.5), unit(v), atol=1e-7)
    # a factor above 1 flips the vector (allowed, it is not a cancellation)
    np.testing.assert_allclose(V.subtract(v, v, 2.0), -unit(v), atol=1e-7)


@pytest.mark.parametrize("factor", [-0.5, float("nan"), float("inf")])
def test_bad_factor_message_names_the_value(factor):
    with pytest.raises(ValueError, match=f"factor={factor!r}.*>= 0"):
        V.subtract(np.ones(3), np.ones(3), factor)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.integers(1, 9))
def test_subtract_of_rows_equals_the_loop(seed, n, d):
    rng = np.random.default_rng(seed)
    vs = rng.normal(size=(n, d)).astype(np.float32)
    es = rng.normal(size=(n, d))
    f = rng.uniform(0.0, 0.9, n)
    out = V.subtract(vs, es, f)
    loop = np.stack([V.subtract(v, e, x) for v, e, x in zip(vs, es, f, strict=True)])
    np.testing.assert_array_equal(out, loop)


def test_subtract_of_rows_overshoot_names_the_row():
    vs = np.eye(3)
    es = np.eye(3)
    es[0] = [0.0, 0.0, 1.0]  # row 0 is fine, rows 1 and 2 cancel
    with pytest.raises(OvershootError) as info:
        V.subtract(vs, es, 1.0)
    assert info.value.row == 1
    assert "(row 1)" in str(info.value)


# ---------------------------------------------------------------- events


def test_apply_event_cold_start_rules():
    e = np.array([3.0, 4.0])
    np.testing.assert_allclose(V.apply_event(None, e, "ema", 0.3), [0.6, 0.8], rtol=1e-7)
    np.testing.assert_allclose(V.apply_event(None, e, "subtract", 0.5), [-0.6, -0.8], rtol=1e-7)
    assert V.apply_event(None, e, "subtract", 0.0) is None
    np.testing.assert_array_equal(V.apply_event([1.0, 0.0], e, "ema", 0.3),
                                  V.ema_update([1.0, 0.0], e, 0.3))
    with pytest.raises(ValueError, match="unknown op 'like'"):
        V.apply_event(None, e, "like", 0.3)


# ---------------------------------------------------------------- average and momentum


def test_average_is_the_normalized_mean_of_normalized_rows():
    vs = np.array([[2.0, 0.0], [0.0, 5.0]])
    np.testing.assert_allclose(V.average(vs), unit([1.0, 1.0]), rtol=1e-7)
    np.testing.assert_allclose(V.average(vs, weights=[3, 1]), unit([3.0, 1.0]), rtol=1e-7)
    np.testing.assert_allclose(V.average(vs, weights=[1, 0]), [1.0, 0.0], rtol=1e-7)


@pytest.mark.parametrize(
    ("vectors", "weights", "error", "match"),
    [
        (np.empty((0, 3)), None, ValueError, "no vectors"),
        (np.ones(3), None, ValueError, "2-D"),
        (np.ones((2, 3)), [1.0], ValueError, "1 weights for 2 vectors"),
        (np.ones((2, 3)), [1.0, -1.0], ValueError, "weight -1.0 at row 1"),
        (np.ones((2, 3)), [0.0, 0.0], ValueError, "all weights are zero"),
        (np.array([[1.0, 2.0], [-1.0, -2.0]]), None, DegenerateVectorError, "cancel"),
    ],
)
def test_average_errors(vectors, weights, error, match):
    with pytest.raises(error, match=match):
        V.average(vectors, weights)


def test_predict_momentum_extrapolates_the_drift():
    x, y = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    history = np.stack([x, x, y, y])
    np.testing.assert_allclose(V.predict_momentum(history), unit(2 * y - x), rtol=1e-6)
    np.testing.assert_allclose(V.predict_momentum(history, weight=0.0), y, atol=1e-7)
    # split=1: a1 = mean(x) = x, a2 = mean(x, y, y)
    a2 = (x + 2 * y) / 3
    np.testing.assert_allclose(
        V.predict_momentum(history, split=1, weight=0.25),
        unit(a2 + 0.25 * (a2 - x)), atol=1e-7)


def test_predict_momentum_errors():
    x, y = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="at least 2 items.*got 1"):
        V.predict_momentum(x[None, :])
    with pytest.raises(ValueError, match="split=3 is outside \\[1, 2\\]"):
        V.predict_momentum(np.stack([x, y, x]), split=3)
    with pytest.raises(ValueError, match="weight=-1"):
        V.predict_momentum(np.stack([x, y]), weight=-1)
    # a1 = x, a2 = mean(x, x, y, -y) = x / 2  ->  a2 + (a2 - a1) = 0
    with pytest.raises(DegenerateVectorError, match="momentum prediction cancelled"):
        V.predict_momentum(np.stack([x, x, x, y, -y]), split=1)


# ---------------------------------------------------------------- similarity and search


def test_cosine_similarity_shapes_and_values():
    a = np.array([1.0, 0.0])
    b = np.array([[1.0, 1.0], [0.0, -3.0]])
    assert V.cosine_similarity(a, [2.0, 0.0]) == pytest.approx(1.0)
    np.testing.assert_allclose(V.cosine_similarity(b, a), [np.sqrt(0.5), 0.0], atol=1e-12)
    np.testing.assert_allclose(V.cosine_similarity(a, b), [np.sqrt(0.5), 0.0], atol=1e-12)
    assert V.cosine_similarity(b, b).shape == (2, 2)
    with pytest.raises(ValueError, match="dimension 3 but a has 2"):
        V.cosine_similarity(a, np.ones(3))
    with pytest.raises(DegenerateVectorError):
        V.cosine_similarity(a, np.zeros(2))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(1, 70))
def test_cosine_top_n_matches_a_full_sort(seed, n_rows, n):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n_rows, 5)).astype(np.float32) * rng.uniform(0.5, 3, (n_rows, 1))
    query = rng.normal(size=5)
    exclude = rng.choice(n_rows, size=n_rows // 3, replace=False)
    idx, scores = V.cosine_top_n(query, matrix, n, exclude=exclude)
    sims = V.cosine_similarity(matrix, query)
    allowed = np.setdiff1d(np.arange(n_rows), exclude)
    expected = allowed[np.argsort(-sims[allowed], kind="stable")][:n]
    assert len(idx) == min(n, len(allowed))
    assert not set(idx.tolist()) & set(exclude.tolist())
    np.testing.assert_allclose(scores, np.sort(sims[allowed])[::-1][:n], atol=1e-6)
    np.testing.assert_allclose(sims[idx], sims[expected], atol=1e-6)  # equal up to ties
    assert np.all(np.diff(scores) <= 1e-7)


def test_cosine_top_n_of_many_queries_pads_and_agrees_with_single_queries():
    rng = np.random.default_rng(5)
    matrix = V.normalize(rng.normal(size=(20, 6)))
    queries = rng.normal(size=(3, 6))
    excl = [np.arange(17), None, np.zeros(20, dtype=bool)]
    idx, scores = V.cosine_top_n(queries, matrix, 5, exclude=excl, assume_unit=True)
    assert idx.shape == scores.shape == (3, 5)
    np.testing.assert_array_equal(idx[0, 3:], [-1, -1])  # only rows 17, 18, 19 were left
    assert np.isneginf(scores[0, 3:]).all()
    for q in range(3):
        single_idx, single_scores = V.cosine_top_n(queries[q], matrix, 5, exclude=excl[q])
        np.testing.assert_array_equal(idx[q][idx[q] >= 0], single_idx)
        np.testing.assert_allclose(scores[q][idx[q] >= 0], single_scores, rtol=1e-6)


def test_cosine_top_n_errors():
    matrix = np.ones((4, 3))
    with pytest.raises(ValueError, match="query has dimension 2 but each matrix row has 3"):
        V.cosine_top_n(np.ones(2), matrix, 2)
    with pytest.raises(ValueError, match="n=0"):
        V.cosine_top_n(np.ones(3), matrix, 0)
    with pytest.raises(ValueError, match="exclude index 4 is outside"):
        V.cosine_top_n(np.ones(3), matrix, 2, exclude=[4])
    matrix[2] = 0
    with pytest.raises(DegenerateVectorError, match="matrix row 2"):
        V.cosine_top_n(np.ones(3), matrix, 2)


def test_predict_from_window_matches_the_formulas():
    rng = np.random.default_rng(0)
    items = V.normalize(rng.standard_normal((8, 5)))
    a1, a2 = items[:4].astype(np.float64).mean(0), items[4:].astype(np.float64).mean(0)
    for w in (0.0, 0.5, 1.0):
        p = a2 + w * (a2 - a1)
        np.testing.assert_allclose(V.predict_from_window(items, "momentum", w),
                                   p / np.linalg.norm(p), atol=1e-6)
    mean = items.astype(np.float64).mean(0)
    np.testing.assert_allclose(V.predict_from_window(items, "recent"),
                               mean / np.linalg.norm(mean), atol=1e-6)
    weights = 0.5 ** (np.arange(7, -1, -1) / 4)
    r = weights @ items / weights.sum()
    r /= np.linalg.norm(r)
    u = mean / np.linalg.norm(mean)
    p = r + (r - u)
    np.testing.assert_allclose(V.predict_from_window(items, "time_weighted"),
                               p / np.linalg.norm(p), atol=1e-6)
    with pytest.raises(ValueError, match="half_life"):
        V.predict_from_window(items, "time_weighted", half_life=0)
    with pytest.raises(V.DegenerateVectorError):
        V.predict_from_window(np.array([[1.0, 0.0], [-1.0, 0.0]]), "recent")
