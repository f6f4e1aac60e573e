"""recsys_nb.evaluate.beyond: intra-list diversity and novelty, per user and pooled."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recsys_nb.evaluate import (
    EvaluationResult,
    Split,
    bootstrap_interval,
    diversity_per_user,
    intra_list_diversity,
    novelty,
    novelty_per_user,
    paired_difference,
    pool,
    pooled_beyond_accuracy,
    with_beyond_accuracy,
)

ITEMS = np.array([10, 20, 30, 40])
#: items 10 and 20 point the same way; 30 and 40 are orthogonal to them and to each other;
#: the angle between 10 and (10 + 30) is 45 degrees
VECTORS = np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 1.0, 0], [0, 0, 3.0]])


def test_identical_items_are_not_diverse_and_orthogonal_ones_fully():
    ranked = np.array([[10, 20], [10, 30], [30, 40], [10, 30]])
    div = diversity_per_user(ranked, ITEMS, VECTORS, 2)
    np.testing.assert_allclose(div, [0.0, 1.0, 1.0, 1.0], atol=1e-12)
    # three items: pairs (10, 20) cos 1, (10, 30) 0, (20, 30) 0 -> mean 1 - 1/3
    three = diversity_per_user(np.array([[10, 20, 30]]), ITEMS, VECTORS, 3)
    assert three[0] == pytest.approx(2 / 3)
    assert intra_list_diversity(ranked, ITEMS, VECTORS, 2) == pytest.approx(0.75)


def test_padding_and_short_lists():
    # -1 padding is skipped; a list of one item has no pairs: 0
    ranked = np.array([[10, 30, -1], [40, -1, -1]])
    np.testing.assert_allclose(diversity_per_user(ranked, ITEMS, VECTORS, 3), [1.0, 0.0])
    # the cut-off bounds the list: top-1 has no pairs
    np.testing.assert_allclose(diversity_per_user(ranked, ITEMS, VECTORS, 1), [0.0, 0.0])


def training_events() -> pd.DataFrame:
    """Four users; item 10 seen by all four, item 20 by one (a dismissal counts), 30 by two."""
    rows = [(u, 10, "view") for u in range(4)] + [(0, 20, "not_interested"),
                                                   (1, 30, "view"), (2, 30, "favorite")]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "kind"]).assign(timestamp=0)


def test_novelty_is_self_information_and_never_seen_items_are_the_most_novel():
    train = training_events()
    per_item = novelty_per_user(np.array([[10], [20], [30], [40]]), train, ITEMS, 1)
    # p = 4/4, 1/4, 2/4 and (never seen) 1/(4 + 1)
    np.testing.assert_allclose(per_item, [0.0, 2.0, 1.0, math.log2(5)])
    assert per_item[3] > per_item[1] > per_item[0]  # unseen > rare > popular
    both = novelty_per_user(np.array([[10, 20, -1]]), train, ITEMS, 3)
    assert both[0] == pytest.approx(1.0)  # mean of 0 and 2 bits, padding skipped
    assert novelty(np.array([[10], [20]]), train, ITEMS, 1) == pytest.approx(1.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"ranked items \[99\] are not in item_ids"):
        diversity_per_user(np.array([[10, 99]]), ITEMS, VECTORS, 2)
    with pytest.raises(ValueError, match=r"items \[30\] have a zero or non-finite vector"):
        diversity_per_user(np.array([[10, 30]]), ITEMS, VECTORS * [[1], [1], [0], [1]], 2)
    with pytest.raises(ValueError, match=r"item_vectors has shape \(3, 3\) for 4 item_ids"):
        diversity_per_user(np.array([[10, 20]]), ITEMS, VECTORS[:3], 2)
    with pytest.raises(ValueError, match="cut-off 3 is larger than the ranked lists"):
        novelty_per_user(np.array([[10, 20]]), training_events(), ITEMS, 3)


def split_with(train: pd.DataFrame, cutoff: float) -> Split:
    return Split(train=train, test=train.iloc[:0], users=np.array([0, 1]),
                 skipped=pd.DataFrame(), item_ids=ITEMS, cutoff=cutoff, horizon=1.0)


def result(ranked: list[list[int]], label: str = "m") -> EvaluationResult:
    return EvaluationResult.score(label, np.array([0, 1]), np.array(ranked),
                                  [np.array([10]), np.array([40])], (1, 2), len(ITEMS))


def test_with_beyond_accuracy_adds_per_user_values_that_compare_and_bootstrap():
    split = split_with(training_events(), 0.0)
    a = with_beyond_accuracy(result([[10, 20], [10, 30]], "a"), split, ITEMS, VECTORS, (1, 2))
    b = with_beyond_accuracy(result([[20, 40], [30, 40]], "b"), split, ITEMS, VECTORS, (1, 2))
    assert a.per_user["diversity@2"].tolist() == pytest.approx([0.0, 1.0])
    assert a["diversity@2"] == pytest.approx(0.5) and a["novelty@1"] == 0.0
    assert a["recall@1"] == 0.5 and "coverage@2" in a.row  # the accuracy row is kept
    d = paired_difference(b, a, "novelty@2")
    assert d.mean == pytest.approx(((2 + math.log2(5)) / 2 + (1 + math.log2(5)) / 2) / 2 - 0.75)
    iv = bootstrap_interval(a, "diversity@2", n_resamples=200)
    assert iv.low <= 0.5 <= iv.high
    assert a.renamed("c").per_user["novelty@2"].equals(a.per_user["novelty@2"])


def test_pooled_novelty_uses_each_cutoffs_own_training_events():
    early = training_events()[lambda f: f["item_id"] == 10]  # only item 10 known yet
    late = training_events()
    splits = [split_with(early, 1e9), split_with(late, 2e9)]
    results = [result([[20, 30], [20, 10]]), result([[20, 30], [20, 10]])]
    pooled = pooled_beyond_accuracy(results, splits, ITEMS, VECTORS, (2,))
    # early: 20 and 30 never seen (4 users: log2 5 bits each), 10 seen by all (0 bits);
    # late: 20 -> 2 bits, 30 -> 1 bit
    want = [math.log2(5), math.log2(5) / 2, 1.5, 1.0]
    assert pooled.per_user["novelty@2"].tolist() == pytest.approx(want)
    assert pooled["novelty@2"] == pytest.approx(np.mean(want))
    assert pooled.users.tolist() == ["2001-09-09/0", "2001-09-09/1", "2033-05-18/0",
                                     "2033-05-18/1"]
    # pooling without the per-cut-off values carries none; mixing the two is refused
    assert pool(results, splits).extra is None
    mixed = [with_beyond_accuracy(results[0], splits[0], ITEMS, VECTORS, (2,)),
             with_beyond_accuracy(results[1], splits[1], ITEMS, VECTORS, (1,))]
    with pytest.raises(ValueError, match="different per-user columns"):
        pool(mixed, splits)
