"""recsys_nb.kinds: the one table of event kinds, used by the log, the data and the service."""

from __future__ import annotations

import pytest

from recsys_nb import data, eventlog, recommender
from recsys_nb.kinds import EVENT_KINDS, KINDS, operations
from recsys_nb.recommender import DEFAULT_PARAMS


def test_one_table_everywhere():
    assert KINDS == ("view", "favorite", "not_interested")
    assert data.KINDS is KINDS and eventlog.KINDS is KINDS and recommender.KINDS is KINDS
    # every kind's weight is a Recommender parameter
    assert {k.parameter for k in EVENT_KINDS.values()} <= set(DEFAULT_PARAMS)


def test_operations():
    assert operations(["view", "not_interested", "favorite"]).tolist() == [
        "ema", "subtract", "ema"]
    with pytest.raises(ValueError, match=r"unknown event kind\(s\) \['like'\]"):
        operations(["view", "like"])
