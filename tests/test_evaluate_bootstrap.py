"""recsys_nb.evaluate.bootstrap: percentile intervals over users, paired differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_nb.evaluate import (
    EvaluationResult,
    bootstrap_interval,
    bootstrap_means,
    paired_bootstrap,
    paired_difference,
)


def result_from_hits(hits: np.ndarray, label: str = "m") -> EvaluationResult:
    """One user per entry: a hit at rank 1 (recall@1 = 1) or a miss (0)."""
    hits = np.asarray(hits, dtype=bool)
    ranked = np.ones((len(hits), 1), dtype=np.int64)
    relevant = [np.array([1 if h else 2]) for h in hits]
    return EvaluationResult.score(label, np.arange(len(hits)), ranked, relevant, (1,))


def test_hand_example_two_users():
    # values {0, 1}: resample means are 0, 0.5, 1 with chances 1/4, 1/2, 1/4, so the 95 %
    # interval spans [0, 1] around the mean 0.5
    iv = bootstrap_interval(result_from_hits([0, 1]), "recall@1", n_resamples=4000)
    assert (iv.mean, iv.low, iv.high) == (0.5, 0.0, 1.0)
    iv = bootstrap_interval(result_from_hits([1, 1, 1]), "recall@1")
    assert (iv.mean, iv.low, iv.high) == (1.0, 1.0, 1.0) and str(iv) == "1.0000 [1.0000, 1.0000]"


@settings(max_examples=30)
@given(hits=st.lists(st.booleans(), min_size=1, max_size=200), seed=st.integers(0, 1000))
def test_the_interval_contains_the_mean(hits, seed):
    iv = bootstrap_interval(result_from_hits(np.array(hits)), "recall@1", n_resamples=300,
                            seed=seed)
    assert iv.low <= iv.mean <= iv.high
    assert iv.mean == pytest.approx(np.mean(hits))


def test_more_users_give_a_narrower_interval_and_seeds_are_reproducible():
    rng = np.random.default_rng(0)
    few = result_from_hits(rng.random(50) < 0.3)
    many = result_from_hits(rng.random(2000) < 0.3)
    a, b = bootstrap_interval(few, "recall@1"), bootstrap_interval(many, "recall@1")
    assert (b.high - b.low) < (a.high - a.low) / 4  # ~ 1 / sqrt(40) as wide
    assert bootstrap_interval(few, "recall@1", seed=3) == bootstrap_interval(few, "recall@1",
                                                                            seed=3)
    assert bootstrap_interval(few, "recall@1", seed=3) != bootstrap_interval(few, "recall@1",
                                                                            seed=4)
    assert bootstrap_interval(few, "recall@1", level=0.5).high < a.high  # a lower level narrows


def test_paired_bootstrap_resamples_the_differences():
    rng = np.random.default_rng(1)
    base = rng.random(400) < 0.4
    better = base | (rng.random(400) < 0.2)  # never worse, sometimes better
    a, b = result_from_hits(better, "a"), result_from_hits(base, "b")
    d = paired_bootstrap(a, b, "recall@1")
    normal = paired_difference(a, b, "recall@1")
    assert d.mean == normal.mean and d.n_users == 400 and d.metric == "recall@1"
    assert 0 < d.low < d.mean < d.high  # all differences are >= 0 and some are 1
    assert d.low == pytest.approx(normal.low, abs=0.01)
    assert d.high == pytest.approx(normal.high, abs=0.01)
    same = paired_bootstrap(a, a, "recall@1")
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)


def test_bad_inputs_are_named():
    r = result_from_hits([0, 1, 1])
    with pytest.raises(ValueError, match="level=1.5 must be a number strictly between 0 and 1"):
        bootstrap_interval(r, "recall@1", level=1.5)
    with pytest.raises(ValueError, match="n_resamples=0 must be an integer >= 1"):
        bootstrap_interval(r, "recall@1", n_resamples=0)
    with pytest.raises(ValueError, match=r"metric 'recall@5' is not measured for 'm'.*recall@1"):
        bootstrap_interval(r, "recall@5")
    with pytest.raises(ValueError, match="scored different users"):
        paired_bootstrap(r, result_from_hits([0, 1]), "recall@1")
    with pytest.raises(ValueError, match=r"values has shape \(0,\)"):
        bootstrap_means(np.array([]))
