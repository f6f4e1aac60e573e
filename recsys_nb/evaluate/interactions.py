"""The binary user x item matrix every baseline learns from, and the scorer protocol.

Baselines learn from ``split.train`` only: :func:`interaction_matrix` turns those events into a
sparse 0/1 matrix, and each baseline returns a :class:`Scorer` that scores the whole catalogue for
a batch of its rows. Expensive derived matrices (an item-item product, an eigendecomposition) are
memoized on the :class:`Interactions` object, so a parameter sweep on one training set computes
them once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from scipy import sparse

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Interactions:
    """The binary user x item matrix of training events that baselines learn from.

    Attributes:
        matrix: (train users x catalogue items) CSR float32, 1 where the user interacted.
        users: the training users (row order).
        item_ids: the catalogue (column order).
    """

    matrix: sparse.csr_matrix
    users: np.ndarray
    item_ids: np.ndarray
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    def rows(self, users: Sequence[Any]) -> np.ndarray:
        """Row positions of ``users`` (-1 for users without training events)."""
        return pd.Index(self.users).get_indexer(pd.Index(np.asarray(users)))

    @property
    def item_counts(self) -> np.ndarray:
        """Training users per item (column sums), float64."""
        return self.memo("item_counts", lambda: np.asarray(
            self.matrix.sum(axis=0), dtype=np.float64).ravel())

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """``build()`` once per ``key`` for this matrix (derived matrices shared by a sweep)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]


def interaction_matrix(
    events: pd.DataFrame, item_ids: np.ndarray, positive_only: bool = True
) -> Interactions:
    """Build :class:`Interactions` from events (``kind == "not_interested"`` dropped by default:
    a dismissal is not a signal of taste to imitate)."""
    if positive_only and "kind" in events.columns:
        events = events[events["kind"] != "not_interested"]
    item_ids = np.asarray(item_ids, dtype=np.int64)
    cols = pd.Index(item_ids).get_indexer(events["item_id"].to_numpy(dtype=np.int64))
    if (cols < 0).any():
        bad = events["item_id"].to_numpy()[cols < 0][:5].tolist()
        raise ValueError(f"events refer to items {bad} that are not in the catalogue")
    codes, users = pd.factorize(events["user_id"], sort=True)
    m = sparse.csr_matrix(
        (np.ones(len(cols), dtype=np.float32), (codes, cols)),
        shape=(len(users), len(item_ids)),
    )
    m.data[:] = 1.0  # duplicates summed by the constructor: back to binary
    return Interactions(m, np.asarray(users), item_ids)


class Scorer(Protocol):
    """Scores every catalogue item for a batch of users (higher is better)."""

    def __call__(self, rows: np.ndarray) -> np.ndarray: ...


def same_for_everybody(scores: np.ndarray) -> Scorer:
    """A :class:`Scorer` that gives every user the same ``scores`` (a non-personal list)."""

    def score(rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(scores, (len(rows), scores.size)).copy()

    return score


def check_number(name: str, value: Any, low: float, example: float, *,
                 inclusive: bool = True) -> float:
    """``value`` as a finite float >= ``low`` (> ``low`` unless ``inclusive``), or a ValueError
    naming the value and an example of a good one."""
    ok = (not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
          and np.isfinite(value) and (value >= low if inclusive else value > low))
    if not ok:
        bound = f">= {low:g}" if inclusive else f"> {low:g}"
        raise ValueError(f"{name}={value!r} must be a finite number {bound}, e.g. {example:g}")
    return float(value)
