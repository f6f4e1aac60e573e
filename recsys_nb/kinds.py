"""The one table of event kinds: what each does to an interest vector, with which parameter.

| kind | operation (the technique) | Recommender parameter | in the log |
|---|---|---|---|
| view | ``normalize((1 - a) v + a e)`` (EMA, slow) | ``alpha_view`` | ``{"alpha": a}`` |
| favorite | the same EMA, faster | ``alpha_favorite`` | ``{"alpha": a}`` |
| not_interested | ``normalize(v - f e)`` | ``not_interested_factor`` | ``{"factor": f}`` |

Views and favorites are *positive* events (signs of taste: they count as relevant in evaluation
and train the learned item vectors); a not-interested is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EventKind:
    """One kind of event and what it does."""

    name: str
    operation: str  # "ema" or "subtract" (recsys_nb.vectors.apply_event)
    parameter: str  # the Recommender attribute holding its weight
    recorded_as: str  # the key of that weight in the event log's params
    positive: bool


EVENT_KINDS: dict[str, EventKind] = {
    k.name: k
    for k in (
        EventKind("view", "ema", "alpha_view", "alpha", True),
        EventKind("favorite", "ema", "alpha_favorite", "alpha", True),
        EventKind("not_interested", "subtract", "not_interested_factor", "factor", False),
    )
}
KINDS: tuple[str, ...] = tuple(EVENT_KINDS)


def operations(kinds: Sequence[str] | np.ndarray) -> np.ndarray:
    """The operation ("ema" / "subtract") of each event kind, as an array.

    Raises:
        ValueError: an unknown kind (named, with the known ones).
    """
    kinds = np.asarray(kinds, dtype=object)
    unknown = sorted({str(k) for k in kinds} - set(KINDS))
    if unknown:
        raise ValueError(f"unknown event kind(s) {unknown}; use one of {list(KINDS)}")
    return np.where(kinds == "not_interested", "subtract", "ema")
