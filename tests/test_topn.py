"""recsys_nb.topn: the one top-N kernel (exact, ties by column, -1 padding)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recsys_nb.topn import top_n


def test_excludes_breaks_ties_by_column_and_pads():
    scores = np.array([[0.5, 0.9, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0]])
    ids, best = top_n(scores, 3, exclude=[np.array([1]), np.array([0, 1, 2])],
                      ids=np.array([10, 11, 12, 13]))
    assert ids.tolist() == [[10, 12, 13], [13, -1, -1]]
    assert best[1].tolist() == [1.0, -np.inf, -np.inf]
    assert top_n(scores, 4)[0].tolist()[1] == [0, 1, 2, 3]
    # longer than the catalogue: padded, not an error
    assert top_n(scores, 6)[0].tolist()[0] == [1, 0, 2, 3, -1, -1]


def test_a_tie_at_the_cut_goes_to_the_lower_column():
    # argpartition alone may keep column 3 instead of 1: the kernel must not
    scores = np.array([[0.0, 0.5, 0.9, 0.5, 0.5, 0.5]])
    assert top_n(scores, 2)[0].tolist() == [[2, 1]]


def test_nan_and_inf_never_rank():
    ids, _ = top_n(np.array([[np.nan, 1.0, -np.inf, np.inf]]), 4)
    assert ids.tolist() == [[1, -1, -1, -1]]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_n_names_the_value(bad):
    with pytest.raises(ValueError, match=f"n={bad!r} must be an integer >= 1"):
        top_n(np.zeros((1, 3)), bad)


def test_bad_shapes():
    with pytest.raises(ValueError, match="must be a \\(rows x columns\\) matrix"):
        top_n(np.zeros(3), 1)
    with pytest.raises(ValueError, match="1 exclude entries for 2 score rows"):
        top_n(np.zeros((2, 3)), 1, exclude=[None])


@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 12)),
               elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, -np.inf])),
    st.integers(1, 14),
)
def test_matches_a_full_sort(scores, n):
    ids, best = top_n(scores, n)
    for r, row in enumerate(scores):
        order = sorted((c for c in range(len(row)) if np.isfinite(row[c])),
                       key=lambda c: (-row[c], c))[:n]
        assert ids[r].tolist() == order + [-1] * (n - len(order))
        assert np.array_equal(best[r][: len(order)], row[order])
