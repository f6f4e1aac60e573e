"""What an evaluation returns: the metrics row AND the data behind it.

A notebook that wants per-user numbers, the ranked lists or a paired comparison reads them from
the :class:`EvaluationResult`; it never re-runs or re-implements the evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.evaluate.metrics import check_cutoffs, per_user_metrics, ranking_metrics


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """One model measured on one split.

    Attributes:
        label: the model's name in tables.
        users: the scored users (aligned with ``ranked`` and ``relevant``).
        ranked: (users x max cut-off) item ids, best first, -1 where a list was short.
        relevant: per user, the held-out items to find.
        cutoffs: the metric cut-offs K.
        row: the metrics row: model, recall@K, ndcg@K, hitrate@K, mrr, coverage@K, users, and
            whatever the evaluation adds (timings, exact-search figures). ``result["recall@50"]``
            reads it; ``pd.DataFrame([r.row for r in results])`` stacks rows.
        extra: per-user values beyond the ranking metrics (e.g. diversity@10, novelty@10; see
            :meth:`with_per_user`), one row per user in ``users`` order, or None.
    """

    label: str
    users: np.ndarray
    ranked: np.ndarray
    relevant: Sequence[np.ndarray]
    cutoffs: tuple[int, ...]
    row: dict[str, Any]
    extra: pd.DataFrame | None = None

    @classmethod
    def score(
        cls,
        label: str,
        users: np.ndarray,
        ranked: np.ndarray,
        relevant: Sequence[np.ndarray],
        cutoffs: Sequence[int],
        n_items: int | None = None,
        **extra: Any,
    ) -> EvaluationResult:
        """Score ``ranked`` against ``relevant`` and keep everything (``extra`` joins the row)."""
        ks = check_cutoffs(cutoffs, np.asarray(ranked).shape[1])
        row: dict[str, Any] = {"model": label, **ranking_metrics(ranked, relevant, ks, n_items),
                               "users": len(users), **extra}
        return cls(label, np.asarray(users), np.asarray(ranked), list(relevant), ks, row)

    def __getitem__(self, metric: str) -> Any:
        return self.row[metric]

    def __repr__(self) -> str:
        shown = ", ".join(f"{m}={self.row[m]:.4f}" for m in self.row
                          if m.startswith(("recall@", "ndcg@")))
        return f"EvaluationResult({self.label!r}, {len(self.users)} users, {shown})"

    @cached_property
    def per_user(self) -> pd.DataFrame:
        """recall@K, ndcg@K, hitrate@K and mrr of each user, then the :attr:`extra` columns
        (index: user id)."""
        table = per_user_metrics(self.ranked, self.relevant, self.cutoffs)
        if self.extra is not None:
            table = pd.concat([table, self.extra.reset_index(drop=True)], axis=1)
        table.index = pd.Index(self.users, name="user_id")
        return table

    def renamed(self, label: str) -> EvaluationResult:
        """The same measurement under another label."""
        return EvaluationResult(label, self.users, self.ranked, self.relevant, self.cutoffs,
                                {**self.row, "model": label}, self.extra)

    def with_row(self, **extra: Any) -> EvaluationResult:
        """The same measurement with ``extra`` entries added to (or replacing) the row."""
        return EvaluationResult(self.label, self.users, self.ranked, self.relevant, self.cutoffs,
                                {**self.row, **extra}, self.extra)

    def with_per_user(self, columns: Mapping[str, Sequence[float]]) -> EvaluationResult:
        """A new result whose per-user table gains ``columns`` (one value per scored user, in
        ``users`` order) and whose row gains their means, so bootstrap intervals and paired
        comparisons work on them like on recall.

        Raises:
            ValueError: a column whose length is not the number of users, or non-finite values.
        """
        values = {name: np.asarray(v, dtype=np.float64) for name, v in columns.items()}
        for name, v in values.items():
            if v.shape != (len(self.users),):
                raise ValueError(f"per-user column {name!r} has shape {v.shape} for "
                                 f"{len(self.users)} users; pass one value per user, in "
                                 "result.users order")
        new = pd.DataFrame(values)
        if not np.isfinite(new.to_numpy()).all():
            bad = [c for c in new.columns if not np.isfinite(new[c]).all()]
            raise ValueError(f"per-user column(s) {bad} hold NaN or infinite values")
        extra = new if self.extra is None else pd.concat(
            [self.extra.drop(columns=[c for c in new.columns if c in self.extra.columns]), new],
            axis=1)
        means = {c: float(new[c].mean()) for c in new.columns}
        return EvaluationResult(self.label, self.users, self.ranked, self.relevant, self.cutoffs,
                                {**self.row, **means}, extra)
