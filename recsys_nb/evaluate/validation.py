"""A validation split carved from a split's training events only: where parameters are chosen.

Choosing parameters on the test split and reporting the test score overstates what a tuned model
would achieve. :func:`validation_split` applies a split's own protocol one step earlier, on its
training events, so the test window is never looked at:

- a global cut-off split (``split.cutoff`` set): the same cut-off protocol on ``split.train``
  with the cut-off moved back by the split's horizon (same horizon, same ``min_history``);
- a per-user temporal split: :func:`~recsys_nb.evaluate.temporal_split` of the training events
  with the split's own ``test_fraction`` / ``leave_last`` / ``min_events``.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from recsys_nb.evaluate.rolling import DAY, cutoff_split
from recsys_nb.evaluate.splits import Split, temporal_split


class NoValidationUsers(ValueError):
    """The carved validation split scores nobody (a ValueError with the fix in its message)."""


def validation_split(split: Split) -> Split:
    """The split's protocol applied to its training events (see the module docstring).

    Raises:
        NoValidationUsers: the validation split scores nobody (no user with enough history and
            something new in the validation window); the message names the fix.
        ValueError: a global cut-off split made without a ``Dataset``.
    """
    if split.cutoff is not None:
        if split.horizon is None:
            raise ValueError(f"{split!r} has a cut-off but no horizon; make it with cutoff_split")
        cutoff = split.cutoff - split.horizon
        carved = cutoff_split(split.train_dataset(), cutoff, split.horizon / DAY,
                              split.min_events)
        fix = ("use a later cut-off, a longer horizon_days or a lower min_history, or drop "
               "this cut-off")
    else:
        carved = _temporal_on_train(split)
        fix = "lower min_events, or use a larger test_fraction / leave_last on more events"
    if not len(carved.relevant()[0]):
        where = (f"cut-off {pd.Timestamp(carved.cutoff, unit='s').date()}"
                 if carved.cutoff is not None else "the training events")
        raise NoValidationUsers(
            f"the validation split carved from {split!r} ({where}) scores nobody: no user has "
            f"min_events={split.min_events} events before it and a new item to find; {fix}")
    return carved


def _temporal_on_train(split: Split) -> Split:
    """``temporal_split`` of the training events with the split's settings, same catalogue."""
    events = split.train_dataset() if split.source is not None else split.train
    fraction = split.test_fraction if split.test_fraction is not None else 0.2
    try:
        carved = temporal_split(events, test_fraction=fraction, leave_last=split.leave_last,
                                min_events=split.min_events)
    except ValueError as e:  # e.g. nobody keeps min_events training events
        raise NoValidationUsers(f"cannot carve a validation split from {split!r}: {e}") from e
    # a frame-made split keeps the catalogue of the split, not only the items with events
    return dataclasses.replace(carved, item_ids=split.item_ids, items=split.items)
