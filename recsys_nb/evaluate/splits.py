"""The temporal per-user split: each user's past trains, their most recent events test."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.data import Dataset

#: Which held-out events count as relevant: "positive" (default: views and favorites; a film the
#: user then rated "not interested" is no success to recommend) or "all" (any interaction).
#: On MovieLens the two differ by < 0.01 Recall@50 (popularity 0.139 vs 0.134).
RELEVANCE = ("all", "positive")

@dataclass(frozen=True, eq=False)
class Split:
    """A train/test split by time: per user (:func:`temporal_split`) or at one global cut-off
    (:func:`recsys_nb.evaluate.rolling.rolling_splits`).

    Attributes:
        train: training events, sorted by timestamp (stable). Includes the events of skipped
            users: they teach the models (popularity, embeddings) but are never scored.
        test: held-out events of the evaluated users, sorted by timestamp (stable).
        users: the evaluated user ids (sorted).
        skipped: one row per user left out of the evaluation: user_id, events, reason.
        item_ids: the catalogue (every item a model may recommend), sorted.
        items: the catalogue frame when the split was made from a ``Dataset``, else None.
        test_fraction, leave_last, min_events: the settings that made the split.
        cutoff, horizon: for a global cut-off split, the cut-off (unix seconds: every training
            event is earlier, for every user) and the test window's length in seconds.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    users: np.ndarray
    skipped: pd.DataFrame
    item_ids: np.ndarray
    items: pd.DataFrame | None = None
    test_fraction: float | None = None
    leave_last: int | None = None
    min_events: int = 5
    source: Dataset | None = field(default=None, repr=False)
    cutoff: float | None = None
    horizon: float | None = None

    def __repr__(self) -> str:
        how = f"leave_last={self.leave_last}" if self.leave_last else (
            f"test_fraction={self.test_fraction}")
        if self.cutoff is not None:
            day = pd.Timestamp(self.cutoff, unit="s").date()
            how = f"cutoff={day}, horizon={(self.horizon or 0) / 86400:g} days"
        return (
            f"Split({how}, min_events={self.min_events}: {len(self.users):,} users, "
            f"{len(self.train):,} train / {len(self.test):,} test events, "
            f"{len(self.skipped):,} users skipped, {len(self.item_ids):,} items)"
        )

    @property
    def n_items(self) -> int:
        """Catalogue size."""
        return len(self.item_ids)

    def train_dataset(self) -> Dataset:
        """The source dataset with the training events only (what a model may learn from).

        Raises:
            ValueError: the split was made from an events frame, not a ``Dataset``.
        """
        return self._train_dataset

    @cached_property
    def _train_dataset(self) -> Dataset:
        if self.source is None:
            raise ValueError(
                "this split was made from an events frame; pass the Dataset to temporal_split "
                "(e.g. temporal_split(load_movielens())) so models can see the items"
            )
        return Dataset(self.source.items, self.train, self.source.text_template,
                       self.source.kind_rule)

    def seen(self, users: Sequence[Any] | None = None) -> list[np.ndarray]:
        """Each user's training items (any kind): what recommendations must exclude."""
        users = self.users if users is None else users
        groups = _groups(self.train)
        empty = np.empty(0, dtype=np.int64)
        return [np.unique(groups.get(_key(u), empty)) for u in users]

    def relevant(self, relevance: str = "positive") -> tuple[np.ndarray, list[np.ndarray]]:
        """The held-out items to find, per evaluated user, training items removed.

        An item already in the user's training events can never be recommended (seen items are
        excluded), so re-watches are not counted. Users left with nothing to find are dropped.

        Args:
            relevance: "positive" held-out events (not-interested ones dropped) or "all".

        Returns:
            (users, relevant item arrays), aligned.
        """
        if relevance not in RELEVANCE:
            raise ValueError(f"relevance={relevance!r} is unknown; use one of {list(RELEVANCE)}")
        test = self.test
        if relevance == "positive" and "kind" in test.columns:
            test = test[test["kind"] != "not_interested"]
        groups = _groups(test)
        seen = self.seen()
        users, rel = [], []
        for u, s in zip(self.users, seen, strict=True):
            items = groups.get(_key(u))
            if items is None:
                continue
            items = np.setdiff1d(items, s)
            if items.size:
                users.append(u)
                rel.append(items)
        return np.asarray(users, dtype=self.users.dtype), rel


    def n_skipped(self, users: Sequence[Any]) -> int:
        """Users with events but no score: too little history, or nothing new held out."""
        return len(self.skipped) + len(self.users) - len(users)

    def restrict(self, users: Sequence[Any], train_users: Sequence[Any] | None = None) -> Split:
        """The same split scored on ``users`` only.

        Args:
            users: the users to evaluate (each must be an evaluated user of this split).
            train_users: whose training events stay (None: everybody's, so models still learn
                from all users' past; pass ``users`` to train on the scored users alone).

        Raises:
            ValueError: a user this split does not evaluate (a few named).
        """
        users = np.asarray(users, dtype=self.users.dtype)
        unknown = np.setdiff1d(users, self.users)
        if unknown.size:
            raise ValueError(
                f"user(s) {unknown[:5].tolist()} (of {unknown.size}) are not evaluated by this "
                f"split; use ids from split.users, e.g. {self.users[:5].tolist()}"
            )

        def keep(frame: pd.DataFrame, who: np.ndarray) -> pd.DataFrame:
            return frame[frame["user_id"].isin(who)].reset_index(drop=True)

        train = self.train if train_users is None else keep(self.train, np.asarray(train_users))
        return dataclasses.replace(self, users=np.sort(users), test=keep(self.test, users),
                                   train=train)

    def sample(self, n_users: int | None, seed: int = 0,
               relevance: str = "positive") -> np.ndarray:
        """A random sample of users who have something to find (see :meth:`relevant`).

        Args:
            n_users: how many; None means all of them (so does a number >= their count).
            seed: random seed; the same seed gives the same sample.

        Returns:
            Sorted user ids.

        Raises:
            ValueError: ``n_users`` not None and not an integer >= 1.
        """
        candidates, _ = self.relevant(relevance)
        if n_users is None:
            return candidates
        n_users = _check_int("n_users", n_users, 1)
        if n_users >= len(candidates):
            return candidates
        return np.sort(np.random.default_rng(seed).choice(candidates, n_users, replace=False))


def _key(u: Any) -> Any:
    return u.item() if hasattr(u, "item") else u


def _groups(events: pd.DataFrame) -> dict[Any, np.ndarray]:
    """user -> that user's item ids (as int64), in frame order."""
    items = events["item_id"].to_numpy(dtype=np.int64)
    return {
        _key(k): items[idx] for k, idx in events.groupby("user_id", sort=False).indices.items()
    }


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name}={value!r} must be an integer >= {low}")
    return int(value)


def temporal_split(
    events: Dataset | pd.DataFrame,
    test_fraction: float = 0.2,
    leave_last: int | None = None,
    min_events: int = 5,
) -> Split:
    """Hold out each user's most recent events: a per-user split by time, without leakage.

    Each user's events are ordered by timestamp; equal timestamps keep the order of the input
    (a stable sort), so the split is reproducible. The last ``n_test`` events go to test, the rest
    to train, hence every test event is later than, or at the same time as, all of the user's
    training events.

    - ``test_fraction`` f: ``n_test = round(f * n)`` (halves round up), at least 1 and at most
      ``n - 1``, so every evaluated user keeps some history and has something to find.
    - ``leave_last`` k (replaces ``test_fraction`` when given): ``n_test = k``.

    Users with fewer than ``min_events`` events (or fewer than ``k + 1`` with ``leave_last``) are
    not evaluated; ``Split.skipped`` lists them with the reason, and their events stay in
    training (they inform popularity and collaborative embeddings, never the scores).

    Args:
        events: a ``Dataset`` (its items become the catalogue) or an events frame with user_id,
            item_id and timestamp columns (the catalogue is then the items with events).
        test_fraction: share of each user's events held out, in (0, 1).
        leave_last: hold out exactly this many events per user instead.
        min_events: minimum events a user needs to be evaluated, >= 2.

    Raises:
        ValueError: a fraction outside (0, 1), k < 1, min_events < 2, missing columns, no events,
            or no user with enough history (the numbers and the fix are named).
    """
    source = events if isinstance(events, Dataset) else None
    frame = events.events if source is not None else events
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"events must be a Dataset or a DataFrame, got {type(events).__name__}")
    missing = [c for c in ("user_id", "item_id", "timestamp") if c not in frame.columns]
    if missing:
        raise ValueError(f"events lacks column(s) {missing}; it needs user_id, item_id, timestamp")
    min_events = _check_int("min_events", min_events, 2)
    if leave_last is not None:
        leave_last = _check_int("leave_last", leave_last, 1)
        fraction = None
    else:
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, float | int):
            raise ValueError(f"test_fraction={test_fraction!r} must be a number in (0, 1)")
        fraction = float(test_fraction)
        if not (0.0 < fraction < 1.0):
            raise ValueError(
                f"test_fraction={test_fraction!r} must be strictly between 0 and 1, e.g. 0.2 "
                "(or use leave_last=k)"
            )
    if len(frame) == 0:
        raise ValueError("events is empty: there is nothing to split")

    user_codes, user_values = pd.factorize(frame["user_id"], sort=True)
    ts = frame["timestamp"].to_numpy()
    order = np.lexsort((np.arange(len(frame)), ts, user_codes))  # user, time, input position
    codes_sorted = user_codes[order]
    counts = np.bincount(user_codes, minlength=len(user_values))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(frame)) - starts[codes_sorted]  # 0-based position in the user's history

    need = max(min_events, leave_last + 1) if leave_last else min_events
    if leave_last:
        n_test = np.full(len(counts), leave_last)
    else:
        n_test = np.floor(fraction * counts + 0.5).astype(np.int64)
        n_test = np.clip(n_test, 1, np.maximum(counts - 1, 1))
    eligible = counts >= need
    is_test = eligible[codes_sorted] & (rank >= (counts - n_test)[codes_sorted])
    if not eligible.any():
        raise ValueError(
            f"no user has the {need} events the split needs (min_events={min_events}"
            f"{f', leave_last={leave_last}' if leave_last else ''}); the most active user has "
            f"{int(counts.max())}: lower min_events or leave_last"
        )

    def sorted_rows(mask: np.ndarray) -> pd.DataFrame:
        rows = order[mask]
        part = frame.iloc[rows]
        # back to time order across users; input position breaks ties (stable)
        by_time = np.lexsort((rows, part["timestamp"].to_numpy()))
        return part.iloc[by_time].reset_index(drop=True)

    train, test = sorted_rows(~is_test), sorted_rows(is_test)
    users = np.asarray(user_values[eligible])
    skipped = pd.DataFrame(
        {
            "user_id": np.asarray(user_values[~eligible]),
            "events": counts[~eligible].astype(np.int64),
            "reason": f"fewer than {need} events",
        }
    )
    if source is not None:
        item_ids = np.sort(source.items["item_id"].to_numpy(dtype=np.int64))
        items = source.items
    else:
        item_ids = np.unique(frame["item_id"].to_numpy(dtype=np.int64))
        items = None
    return Split(
        train=train,
        test=test,
        users=users,
        skipped=skipped,
        item_ids=item_ids,
        items=items,
        test_fraction=fraction,
        leave_last=leave_last,
        min_events=min_events,
        source=source,
    )




def relevant_or_raise(split: Split, relevance: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """:meth:`Split.relevant`, or a ValueError with the fix when nobody has anything to find."""
    users, relevant = split.relevant(relevance)
    if not len(users):
        raise ValueError(
            "no evaluated user has a held-out item that is not already in their training events; "
            "the split is empty for evaluation (use more events, a larger test_fraction or "
            f"relevance='all'; relevance was {relevance!r})"
        )
    return users, relevant
