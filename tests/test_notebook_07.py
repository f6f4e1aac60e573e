"""Notebook 07 (the playground): conventions, and a papermill run at other parameters whose
recorded tour numbers say that every action changed the list, undo took the last one back, and
the explanation adds up."""

from __future__ import annotations

import pytest
from nbrun import check_conventions, run_notebook

NOTEBOOK = "07_playground.ipynb"


def test_conventions():
    _, names = check_conventions(NOTEBOOK)
    assert names == ["USER", "TOP_N", "SEARCH_BY_MEANING", "CLONE_CHOICES", "STORE_DIR"]


@pytest.mark.notebook
def test_playground_tour_at_other_parameters(tmp_path):
    rec = run_notebook(NOTEBOOK, tmp_path, TOP_N=5, SEARCH_BY_MEANING=False, CLONE_CHOICES=3,
                       USER="reader", STORE_DIR=str(tmp_path / "store"))
    assert rec["tour_actions"] == 5
    assert rec["tour_lists_changed"] == 5  # every click changed the list
    assert rec["tour_events"] == 4  # five clicks, one undone
    assert rec["undo_moved_interest"] is True
    assert abs(rec["explain_sum_minus_cosine"]) < 1e-4  # the decomposition is exact
    assert rec["click_ms_p50"] > 0
