"""New users after a global cut-off: the leak-free protocol for cold start.

A cold-start strategy is judged on people the service has never seen. At a global cut-off
(:func:`~recsys_nb.evaluate.rolling.cutoff_split`) the new users are those whose very first event
comes in the horizon after it. Each is replayed with only their first ``first`` events and scored
on what they did next in the horizon. Everything a model learns (item vectors, the prior, user
segments) comes from the events before the cut-off; measured with
``evaluate(..., online=True)``, a recommender that counts live events (the trending prior) has
seen, when a user's list is asked for, only the events of new users that came before it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from recsys_nb.evaluate.splits import Split, _check_int

#: The fewest events in the horizon a new user needs: their first events plus one to find.
DEFAULT_NEW_USER_EVENTS = 6


def new_user_split(split: Split, first: int, min_events: int = DEFAULT_NEW_USER_EVENTS) -> Split:
    """The new users of a global cut-off split, replayed with their first ``first`` events.

    Args:
        split: a global cut-off split (``cutoff_split`` / ``rolling_splits``) made from a
            Dataset.
        first: how many of each new user's first events (any kind, in time order) the
            recommender sees; the rest of their events in the horizon are held out.
        min_events: only users with at least this many events in the horizon are scored, so
            the same users are scored whatever ``first`` (up to ``min_events - 1``).

    Returns:
        A split: train = every event before the cut-off plus the new users' first events; test
        = the new users' later events in the horizon; users = the new users (none may have an
        event before the cut-off).

    Raises:
        ValueError: not a global cut-off split, ``first`` < 1, ``min_events`` <= ``first``.
    """
    if split.cutoff is None or split.horizon is None or split.source is None:
        raise ValueError("new_user_split needs a global cut-off split made from a Dataset "
                         "(cutoff_split / rolling_splits), not a per-user split")
    first = _check_int("first", first, 1)
    min_events = _check_int("min_events", min_events, 1)
    if min_events <= first:
        raise ValueError(f"min_events={min_events} must exceed first={first}: a user needs "
                         "events after their first ones to be scored on")
    events = split.source.events
    ts = events["timestamp"].to_numpy(dtype=np.float64)
    window = events[(ts >= split.cutoff) & (ts < split.cutoff + split.horizon)]
    window = window.sort_values("timestamp", kind="stable")
    known = pd.Index(events.loc[ts < split.cutoff, "user_id"].unique())
    counts = window.groupby("user_id").size()
    new = counts.index.difference(known)
    users = np.sort(new[counts.reindex(new).to_numpy() >= min_events].to_numpy())
    mine = window[window["user_id"].isin(users)]
    rank = mine.groupby("user_id", sort=False).cumcount().to_numpy()
    train = pd.concat([split.train, mine[rank < first]], ignore_index=True)
    few = new.difference(pd.Index(users))
    skipped = pd.DataFrame({"user_id": few.to_numpy(),
                            "events": counts.reindex(few).to_numpy(dtype=np.int64),
                            "reason": f"fewer than {min_events} events in the horizon"})
    return dataclasses.replace(split, train=train, test=mine[rank >= first].reset_index(drop=True),
                               users=users, skipped=skipped, min_events=min_events)
