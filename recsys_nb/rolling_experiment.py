"""The Recommender measured on the leak-free rolling protocol, one call per configuration.

:func:`recsys_nb.evaluate.rolling_splits` cuts the data at global dates; at each, everything a
model learns comes from the events before the cut-off. For the Recommender that is the item
vectors (learned from those events), the popularity prior (counted from them, as of the
cut-off) and the profiles (their ingest). A :class:`RollingExperiment` keeps one
:class:`~recsys_nb.experiment.Experiment` per cut-off (its own store, item vectors and memoized
results) and pools the (cut-off, user) pairs of each configuration, so a configuration and a
baseline compare pair by pair (:func:`~recsys_nb.evaluate.paired_difference`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from recsys_nb.evaluate import (
    DEFAULT_CUTOFFS,
    DEFAULT_NEW_USER_EVENTS,
    EvaluationResult,
    Split,
    check_cutoffs,
    new_user_split,
    pool,
)
from recsys_nb.experiment import Experiment
from recsys_nb.progress import progress_bar


class RollingExperiment:
    """Configurations of the Recommender and baselines, each pooled over the cut-offs of
    ``splits`` (``rolling_splits(dataset)``), each measured once.

    Args:
        splits: global cut-off splits, oldest first.
        cutoffs: metric cut-offs K.
        progress: a progress bar over the cut-offs of each measurement.

    Raises:
        ValueError: no split, or a split without a cut-off (a per-user split: use
            :class:`~recsys_nb.experiment.Experiment`).
    """

    def __init__(self, splits: Sequence[Split], cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
                 *, progress: bool = False) -> None:
        if not splits:
            raise ValueError("no split given; pass rolling_splits(dataset)")
        if any(s.cutoff is None for s in splits):
            raise ValueError("a split has no cut-off date: RollingExperiment pools global "
                             "cut-offs (rolling_splits); use Experiment for a per-user split")
        self.splits = list(splits)
        self.cutoffs = check_cutoffs(cutoffs)
        self.progress = progress
        self.experiments = [Experiment(s, self.cutoffs) for s in self.splits]
        self.new_user_events = DEFAULT_NEW_USER_EVENTS
        self._new: dict[int, list[tuple[Experiment, Split, Split]]] = {}

    def __repr__(self) -> str:
        return (f"RollingExperiment({len(self.splits)} cut-offs, "
                f"{sum(len(s.users) for s in self.splits)} (cut-off, user) pairs)")

    def __enter__(self) -> RollingExperiment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete every cut-off's store."""
        for e in self.experiments:
            e.close()

    def _each(self, label: str) -> Iterable[Experiment]:
        return progress_bar(self.experiments, label, enabled=self.progress)

    def measure(self, label: str | None = None, *, beyond: bool = True,
                new_users: int | None = None, **kwargs: Any) -> EvaluationResult:
        """:meth:`Experiment.measure <recsys_nb.experiment.Experiment.measure>` at every cut-off
        (same keywords), pooled; with ``beyond``, each cut-off's lists also get diversity@K and
        novelty@K in that cut-off's own item space and training events
        (:meth:`Experiment.beyond_accuracy`).

        ``new_users=n`` scores the users first seen after each cut-off instead, replayed with
        their first ``n`` events, online (:func:`~recsys_nb.evaluate.new_user_split`; users
        with at least ``self.new_user_events`` events in the horizon, so n = 1, 3, 5 score the
        same people); cut-offs without such a user are left out.
        """
        if new_users is None:
            results = [e.measure(label, **kwargs) for e in self._each(label or "configuration")]
            return self._pool(results, beyond, results[0].label)
        scope = self.new_user_splits(new_users)
        results = [e.measure(label, on=s, online=True, **kwargs)
                   for e, _, s in progress_bar(scope, label or "configuration",
                                               enabled=self.progress)]
        return self._pool(results, beyond, results[0].label, scope)

    def measure_variants(self, variants: dict[str, dict[str, Any]], *, new_users: int,
                         beyond: bool = False, **fixed: Any) -> dict[str, EvaluationResult]:
        """:meth:`Experiment.measure_variants` on the new users of every cut-off (see
        :meth:`measure`), one replay per cut-off for all the variants, each pooled."""
        scope = self.new_user_splits(new_users)
        per = [e.measure_variants(variants, on=s, online=True, **fixed)
               for e, _, s in progress_bar(scope, "variants", enabled=self.progress)]
        return {label: self._pool([got[label] for got in per], beyond, label, scope)
                for label in variants}

    def new_user_splits(self, first: int) -> list[tuple[Experiment, Split, Split]]:
        """Per cut-off with new users: (its experiment, its split, :func:`new_user_split`).

        Raises:
            ValueError: no cut-off has a new user with enough events (the fix is named).
        """
        if first not in self._new:
            scope = []
            for e, s in zip(self.experiments, self.splits, strict=True):
                new = new_user_split(s, first, self.new_user_events)
                if len(new.relevant()[0]):
                    scope.append((e, s, e.on(new)))
            if not scope:
                raise ValueError(
                    f"no cut-off has a new user with {self.new_user_events} events in its "
                    f"horizon after the first {first}; use more cut-offs or a longer horizon")
            self._new[first] = scope
        return self._new[first]

    def baseline(self, name: str, *, label: str | None = None, beyond: bool = True,
                 **params: Any) -> EvaluationResult:
        """A baseline at every cut-off (it learns from that cut-off's past), pooled."""
        results = [e.baseline(name, label=label, **params) for e in self._each(name)]
        return self._pool(results, beyond, label or name)

    def _pool(self, results: list[EvaluationResult], beyond: bool, label: str,
              scope: list[tuple[Experiment, Split, Split]] | None = None) -> EvaluationResult:
        """Pool one result per cut-off (``scope``: only the cut-offs with new users)."""
        experiments = self.experiments if scope is None else [e for e, _, _ in scope]
        splits = self.splits if scope is None else [s for _, s, _ in scope]
        if beyond:
            results = [e.beyond_accuracy(r) for e, r in zip(experiments, results, strict=True)]
        return pool(results, splits, label)
