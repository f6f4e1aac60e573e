"""recsys_nb.evaluate.compare and results: paired differences, verdicts, Split.restrict/sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb.evaluate import (
    Difference,
    EvaluationResult,
    paired_difference,
    temporal_split,
    verdict,
    verdict_table,
)


def result(label, hits, users=None):
    """One list of 2 items per user; user r finds its relevant item 7 when hits[r]."""
    users = np.arange(len(hits)) if users is None else np.asarray(users)
    ranked = np.array([[7, 8] if h else [8, 9] for h in hits])
    return EvaluationResult.score(label, users, ranked, [np.array([7])] * len(hits), (2,))


def test_paired_difference_by_hand():
    a = result("a", [1, 1, 1, 0])
    b = result("b", [0, 1, 0, 0])
    d = paired_difference(a, b, "recall@2")
    diffs = np.array([1.0, 0.0, 1.0, 0.0])
    half = 1.96 * diffs.std(ddof=1) / 2
    assert d == Difference("recall@2", 0.5, pytest.approx(0.5 - half), pytest.approx(0.5 + half), 4)
    assert a["recall@2"] == 0.75 and a.per_user["recall@2"].tolist() == [1, 1, 1, 0]


def test_paired_difference_refuses_other_users_and_unknown_metrics():
    with pytest.raises(ValueError, match="scored different users"):
        paired_difference(result("a", [1, 0]), result("b", [1, 0], users=[5, 6]), "recall@2")
    with pytest.raises(ValueError, match="metric 'recall@50' is not measured for 'a'"):
        paired_difference(result("a", [1, 0]), result("b", [1, 0]), "recall@50")


@pytest.mark.parametrize(
    ("mean", "low", "high", "expected"),
    [
        (0.02, 0.01, 0.03, "holds"),
        (0.02, -0.01, 0.05, "no measurable effect"),  # within the noise
        (0.004, 0.001, 0.007, "no measurable effect"),  # within the tolerance
        (-0.02, -0.03, -0.01, "does not hold"),
        (-0.02, -0.05, 0.01, "no measurable effect"),
    ],
)
def test_verdict(mean, low, high, expected):
    assert verdict(Difference("m", mean, low, high, 10), 0.005) == expected


def test_verdict_custom_words_and_bad_tolerance():
    d = Difference("m", -0.1, -0.2, -0.05, 10)
    assert verdict(d, 0.0, ("helps", "hurts", "no measurable effect")) == "hurts"
    for bad in (-0.1, float("nan"), True):
        with pytest.raises(ValueError, match="tolerance="):
            verdict(d, bad)


def test_one_user_has_an_infinite_interval():
    d = paired_difference(result("a", [1]), result("b", [0]), "recall@2")
    assert d.mean == 1.0 and d.low == -np.inf
    assert verdict(d, 0.0) == "no measurable effect"


def test_verdict_table_marks_what_was_not_measured():
    a, b = result("a", [1, 1, 1, 1, 1, 0]), result("b", [0, 0, 0, 0, 0, 0])
    table = verdict_table({"a beats b": (a, b), "c beats b": (None, b)}, "recall@2", 0.005,
                          missing={"c beats b": "c not in the grid"})
    assert table["verdict"].tolist() == ["holds", "not measured"]
    assert table.loc[1, "note"] == "c not in the grid"
    assert table.loc[0, "diff"] == pytest.approx(5 / 6) and table.loc[0, "with"] == "a"


def test_renamed_keeps_the_data():
    r = result("a", [1, 0]).renamed("z")
    assert r.label == "z" and r["model"] == "z" and r.ranked.shape == (2, 2)


def _split():
    rows = [(u, i, t) for u in range(1, 7) for t, i in enumerate(range(u, u + 6))]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return temporal_split(frame, leave_last=1, min_events=3)


def test_restrict_scores_some_users_and_keeps_or_drops_training():
    split = _split()
    only = split.restrict([2, 4])
    assert only.users.tolist() == [2, 4] and set(only.test["user_id"]) == {2, 4}
    assert len(only.train) == len(split.train)  # everybody's past still teaches
    alone = split.restrict([2, 4], train_users=[2, 4])
    assert set(alone.train["user_id"]) == {2, 4}
    with pytest.raises(ValueError, match=r"user\(s\) \[99\] .* not evaluated by this split"):
        split.restrict([2, 99])


def test_sample_is_reproducible_and_none_means_all():
    split = _split()
    assert split.sample(None).tolist() == [1, 2, 3, 4, 5, 6]
    assert split.sample(100).tolist() == [1, 2, 3, 4, 5, 6]
    assert split.sample(3, seed=4).tolist() == split.sample(3, seed=4).tolist()
    assert len(split.sample(3)) == 3
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_users="):
            split.sample(bad)
