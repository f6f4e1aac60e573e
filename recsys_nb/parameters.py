"""Checking parameters before any work: one rule per kind of value, every problem named.

Notebook reports (papermill) and sweeps take many parameters; a typo must fail at once, naming
the parameter, the value and what would be valid, not after minutes of work or as a table of
NaN. A :data:`Rule` is ``(check, what a valid value is)``; :func:`check_values` applies rules to
single values and :func:`check_lists` to lists of values (grids), collecting every problem into
one ``ValueError("invalid parameters: ...")``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

Rule = tuple[Callable[[Any], bool], str]


def is_number(v: Any) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) \
        and math.isfinite(float(v))


def is_int(v: Any) -> bool:
    """An integer (not a bool)."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def integer(low: int) -> Rule:
    return (lambda v: is_int(v) and v >= low, f"an integer >= {low}")


def number(low: float, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False) -> Rule:
    """A finite number in [low, high] (``open_*`` excludes that end)."""
    def check(v: Any) -> bool:
        if not is_number(v):
            return False
        ok_low = v > low if open_low else v >= low
        ok_high = high is None or (v < high if open_high else v <= high)
        return ok_low and ok_high
    if high is None:
        what = f"a number {'>' if open_low else '>='} {low:g}"
    else:
        what = f"a number in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    return (check, what)


def choice(options: Sequence[Any]) -> Rule:
    return (lambda v: v in options, f"one of {list(options)}")


def optional(rule: Rule) -> Rule:
    return (lambda v: v is None or rule[0](v), f"None or {rule[1]}")


BOOL: Rule = (lambda v: isinstance(v, bool), "True or False")


def is_date(v: Any) -> bool:
    """A date string pandas reads, e.g. "2008-01-01"."""
    if not isinstance(v, str):
        return False
    try:
        pd.Timestamp(v)
    except (ValueError, TypeError):
        return False
    return True


def date(example: str) -> Rule:
    return (is_date, f'a date such as "{example}"')


def date_order(start_name: str, start: Any, end_name: str, end: Any) -> list[str]:
    """The problem when two valid dates come in the wrong order (none otherwise)."""
    if is_date(start) and is_date(end) and pd.Timestamp(start) > pd.Timestamp(end):
        return [f"{start_name}={start!r} is after {end_name}={end!r}; the first cut-off must "
                "come first"]
    return []
#: A report's STORE_DIR: None (the notebook's own folder, ``store.notebook_store``) or a path.
FOLDER: Rule = (lambda v: v is None or (isinstance(v, str | os.PathLike) and bool(str(v).strip())),
                "None or a folder path")


def check_values(values: Mapping[str, Any], rules: Mapping[str, Rule]) -> list[str]:
    """Problems of single values (``NAME=value must be ...``), in the order of ``values``."""
    problems = []
    for name, value in values.items():
        check, hint = rules[name]
        if not check(value):
            problems.append(f"{name}={value!r} must be {hint}")
    return problems


def check_lists(values: Mapping[str, Any], rules: Mapping[str, Rule]) -> tuple[dict[str, list],
                                                                                list[str]]:
    """Check lists of values (grids): each a non-empty list, no repeats, every value valid.

    Returns:
        (the lists that passed, as ``{name: list}``; the problems found).
    """
    problems, out = [], {}
    for name, values_ in values.items():
        if isinstance(values_, str | bytes) or not isinstance(values_, Sequence | np.ndarray):
            problems.append(f"{name}={values_!r} must be a list of values, e.g. [{values_!r}]")
            continue
        values_ = list(values_)
        if not values_:
            problems.append(f"{name} has an empty list; give at least one value")
            continue
        check, hint = rules[name]
        bad = [v for v in values_ if not check(v)]
        if bad:
            problems.append(f"{name} values {bad} are out of range: each must be {hint}")
        if len({repr(v) for v in values_}) != len(values_):
            problems.append(f"{name} repeats values {values_}; list each once")
        out[name] = values_
    return out, problems


def raise_problems(problems: Sequence[str], what: str = "invalid parameters") -> None:
    """One ValueError listing every problem (nothing when there is none)."""
    if problems:
        raise ValueError(f"{what}: " + "; ".join(problems))


class CutoffMetrics:
    """The metric names a lesson config derives from its ``cutoffs`` (the notebook's K): the
    verdicts rank by ``recall@max(K)`` and report ``ndcg@min(K)``."""

    cutoffs: tuple[int, ...]

    @property
    def recall(self) -> str:
        """The recall metric the verdicts rank by: ``recall@max(K)``."""
        return f"recall@{max(self.cutoffs)}"

    @property
    def ndcg(self) -> str:
        """The ranking-quality metric: ``ndcg@min(K)``."""
        return f"ndcg@{min(self.cutoffs)}"
