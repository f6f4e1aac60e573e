"""Tune a baseline on validation splits, then score the chosen parameters once on the test splits.

:func:`tune_baseline` scores every point of a grid on :func:`~recsys_nb.evaluate.validation_split`
of each test split (pooled over rolling cut-offs with :func:`~recsys_nb.evaluate.pool`), picks the
best by one metric (ties: the first point in grid order), and only then scores that point on the
test splits. The test numbers are therefore those of a model tuned without seeing the test window.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.evaluate.baselines import BASELINE_PARAMS, BASELINES, evaluate_baseline_grid
from recsys_nb.evaluate.metrics import DEFAULT_CUTOFFS, check_cutoffs
from recsys_nb.evaluate.results import EvaluationResult
from recsys_nb.evaluate.rolling import pool
from recsys_nb.evaluate.splits import Split
from recsys_nb.evaluate.validation import NoValidationUsers, validation_split


@dataclass(frozen=True, eq=False)
class TunedBaseline:
    """A baseline tuned on validation splits and measured once on the test splits.

    Attributes:
        name: the baseline.
        params: the chosen grid point (every parameter, defaults filled in).
        metric: what chose it (e.g. "recall@50").
        validation: one row per grid point, in grid order: its parameters and metrics.
        validation_result: the chosen point on the validation split(s).
        test_result: the chosen point on the test split(s).
        dropped: test cut-offs whose validation split scored nobody (left out of validation).
        test_parts: the test result of each split before pooling (one per test split), for
            per-cut-off additions such as :func:`~recsys_nb.evaluate.pooled_beyond_accuracy`.
    """

    name: str
    params: dict[str, Any]
    metric: str
    validation: pd.DataFrame
    validation_result: EvaluationResult
    test_result: EvaluationResult
    dropped: int = 0
    test_parts: tuple[EvaluationResult, ...] = ()

    def __repr__(self) -> str:
        return (f"TunedBaseline({self.name!r}, {self.params}, validation {self.metric}="
                f"{self.validation_result[self.metric]:.4f}, test {self.metric}="
                f"{self.test_result[self.metric]:.4f})")


def grid_points(name: str, grid: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    """Every combination of ``grid`` (parameter -> values; product in the grid's order), each
    completed with the baseline's defaults. An empty grid is the defaults alone.

    Raises:
        ValueError: an unknown baseline or parameter name, a value list that is empty or not a
            list (all named, with the known parameters).
    """
    if name not in BASELINE_PARAMS:
        raise ValueError(f"unknown baseline {name!r}; use one of {list(BASELINES)}")
    grid = dict(grid or {})
    known = BASELINE_PARAMS[name]
    problems = []
    unknown = sorted(set(grid) - set(known))
    if unknown:
        problems.append(f"unknown parameter(s) {unknown} (known for {name!r}: "
                        f"{sorted(known) or 'none'})")
    for param, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence):
            problems.append(f"{param}={values!r} must be a list of values, e.g. [{values!r}]")
        elif not values:
            problems.append(f"{param}=[] is empty; give at least one value (default "
                            f"{known.get(param)!r})")
    if problems:
        raise ValueError(f"invalid grid for {name!r}: " + "; ".join(problems))
    return [{**known, **dict(zip(grid, combo, strict=True))}
            for combo in itertools.product(*grid.values())]


def check_metric(metric: str, cutoffs: Sequence[int]) -> str:
    """``metric`` if it is a per-user metric at these cut-offs, else a ValueError naming both."""
    known = [f"{m}@{k}" for m in ("recall", "ndcg", "hitrate") for k in cutoffs] + ["mrr"]
    if metric not in known:
        raise ValueError(f"metric={metric!r} is not measured at cutoffs={tuple(cutoffs)}; use "
                         f"one of {known}")
    return metric


def tune_baseline(
    name: str,
    splits: Split | Sequence[Split],
    grid: Mapping[str, Sequence[Any]] | None = None,
    metric: str = "recall@50",
    cutoffs: int | Sequence[int] = DEFAULT_CUTOFFS,
) -> TunedBaseline:
    """Choose ``name``'s parameters on validation splits, then score them on ``splits``.

    Args:
        splits: one split, or the rolling cut-offs (results pooled over them).
        grid: parameter -> candidate values, e.g. ``{"lam": [50, 500, 5000]}``.
        metric: the per-user metric the choice maximizes (first grid point wins ties).

    Raises:
        ValueError: a bad grid or metric (before any work), no splits, or no validation split
            that scores anybody (:class:`~recsys_nb.evaluate.validation.NoValidationUsers`).
    """
    ks = check_cutoffs(cutoffs)
    metric = check_metric(metric, ks)
    points = grid_points(name, grid)
    rolling = not isinstance(splits, Split)
    tests = list(splits) if rolling else [splits]
    if not tests:
        raise ValueError("splits is empty; pass a Split or the list of rolling_splits(...)")
    if rolling:
        valid = []
        for s in tests:
            try:
                valid.append(validation_split(s))
            except NoValidationUsers:
                continue  # an early cut-off with nobody to validate on: the others decide
        if not valid:
            validation_split(tests[0])  # raises, naming the fix
    else:
        valid = [validation_split(tests[0])]

    def combine(results: list[EvaluationResult], on: list[Split]) -> EvaluationResult:
        return pool(results, on, name) if rolling else results[0]

    per_point: list[list[EvaluationResult]] = [[] for _ in points]
    for s in valid:  # one split at a time: its memoized matrices are freed before the next
        for i, r in enumerate(evaluate_baseline_grid(name, s, points, ks, label=name)):
            per_point[i].append(r)
    scored = [combine(rs, valid) for rs in per_point]
    columns = [c for c in scored[0].per_user.columns] + [f"coverage@{k}" for k in ks]
    table = pd.DataFrame([{**p, **{c: r[c] for c in columns}}
                          for p, r in zip(points, scored, strict=True)])
    best = int(np.argmax([r[metric] for r in scored]))  # argmax: the first of equal maxima
    parts = tuple(evaluate_baseline_grid(name, s, [points[best]], ks, label=name)[0]
                  for s in tests)
    return TunedBaseline(name, points[best], metric, table, scored[best],
                         combine(list(parts), tests), dropped=len(tests) - len(valid),
                         test_parts=parts)
