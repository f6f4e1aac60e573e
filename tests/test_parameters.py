"""recsys_nb.parameters: rules, single values, lists, one error naming every problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys_nb.parameters import (
    BOOL,
    FOLDER,
    check_lists,
    check_values,
    choice,
    integer,
    number,
    optional,
    raise_problems,
)


@pytest.mark.parametrize(
    ("rule", "good", "bad", "what"),
    [
        (integer(1), [1, 7, np.int64(3)], [0, 1.0, True, "2", None], "an integer >= 1"),
        (number(0, 1, open_low=True), [0.5, 1, 1e-9], [0, 1.01, float("nan"), True],
         "a number in (0, 1]"),
        (number(0), [0, 3.5], [-1e-9, float("inf")], "a number >= 0"),
        (choice(["a", "b"]), ["a"], ["c", None], "one of ['a', 'b']"),
        (optional(integer(1)), [None, 4], [0], "None or an integer >= 1"),
        (BOOL, [True, False], [0, 1, "True"], "True or False"),
        (FOLDER, [None, "store", Path("x")], ["", "  ", 5], "None or a folder path"),
    ],
)
def test_rules(rule, good, bad, what):
    check, hint = rule
    assert hint == what
    assert all(check(v) for v in good)
    assert not any(check(v) for v in bad)


def test_check_values_names_each_problem():
    problems = check_values({"N_USERS": 0, "SEED": 3},
                            {"N_USERS": integer(1), "SEED": integer(0)})
    assert problems == ["N_USERS=0 must be an integer >= 1"]


def test_check_lists():
    lists, problems = check_lists(
        {"K": [10, 50], "W": 5, "E": [], "A": [0.1, 0.1, 2.0]},
        {"K": integer(1), "W": integer(2), "E": integer(1), "A": number(0, 1)})
    assert lists == {"K": [10, 50], "A": [0.1, 0.1, 2.0]}
    assert problems == [
        "W=5 must be a list of values, e.g. [5]",
        "E has an empty list; give at least one value",
        "A values [2.0] are out of range: each must be a number in [0, 1]",
        "A repeats values [0.1, 0.1, 2.0]; list each once",
    ]


def test_raise_problems():
    raise_problems([])
    with pytest.raises(ValueError, match="^invalid parameters: a; b$"):
        raise_problems(["a", "b"])


def test_notebook_store(tmp_path, monkeypatch):
    from recsys_nb.store import notebook_store

    monkeypatch.setenv("RECSYS_NB_DATA", str(tmp_path))
    assert notebook_store("05_x") == tmp_path / "notebooks" / "05_x"
    assert notebook_store("05_x", str(tmp_path / "mine")) == tmp_path / "mine"
