"""The Recommender's multi-interest profiles: parameters, stored rows, replays (``interests > 1``).

:class:`InterestProfiles` is what a ``Recommender(..., interests=k)`` with ``k > 1`` holds instead
of using its single-vector ``ProfileStore``: the parameters (validated), the
:class:`~recsys_nb.interest_store.InterestStore` rows with a cache (embedded mode only, where
this process is the only writer), and the replay of event frames with
:func:`recsys_nb.interests.replay_user`, the same function the event-by-event path applies one
event at a time, so bulk ingest, rebuilds and live events give the same rows bit for bit.
The Recommender keeps the event log, the seen items and the searches; this class owns the rows.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import interests as mi
from recsys_nb.interest_store import InterestStore
from recsys_nb.kinds import operations
from recsys_nb.store import user_key
from recsys_nb.topn import top_n


class InterestProfiles:
    """Up to ``k`` interest vectors per user, stored one row per interest.

    Args:
        client, model_id: the Chroma client and the item model.
        item_matrix: (items, d) float32 unit item vectors (rows are the ``row`` of event frames).
        k, threshold, fade, merge, diversity: see :mod:`recsys_nb.interests` (validated by
            :func:`recsys_nb.interests.check_params`).
        cache: keep rows in memory (embedded mode).
    """

    def __init__(self, client: Any, model_id: str, item_matrix: np.ndarray, *, k: int,
                 threshold: float, fade: float, merge: str, diversity: float,
                 cache: bool) -> None:
        self.k, self.threshold, self.fade, self.merge, self.diversity = mi.check_params(
            k, threshold, fade, merge, diversity)
        self._items = item_matrix
        self.dim = int(item_matrix.shape[1])
        self.store = InterestStore(client, model_id, self.dim, self.k, self.threshold,
                                   self.fade)
        self._use_cache = cache
        self._cache: dict[str, tuple[mi.Interests, dict[str, Any]] | None] = {}

    # ---------------------------------------------------------------- rows

    def get(self, user_id: int | str) -> tuple[mi.Interests, dict[str, Any]] | None:
        """``(interests, metadata)`` of one user, or None without any."""
        return self.get_many([user_id]).get(user_key(user_id))

    def get_many(self, users: list) -> dict[str, tuple[mi.Interests, dict[str, Any]]]:
        """Current rows of many users, by user key (users without rows are absent)."""
        keys = [user_key(u) for u in users]
        if not self._use_cache:
            return self.store.get_many(users)
        missing = [u for u, k in zip(users, keys, strict=True) if k not in self._cache]
        fetched = self.store.get_many(missing) if missing else {}
        for k in keys:
            if k not in self._cache:
                self._cache[k] = fetched.get(k)
        return {k: self._cache[k] for k in keys if self._cache[k] is not None}

    def write(self, users: list, states: list[mi.Interests], counts: list[int],
              seqs: list[int]) -> int:
        """Store the users' rows (validated before any write); returns the users written."""
        if not users:
            return 0
        now = time.time()
        self.store.put_many(users, states, counts, seqs, now)
        if self._use_cache:
            for u, s, c, q in zip(users, states, counts, seqs, strict=True):
                self._cache[user_key(u)] = (s, {"event_count": int(c), "last_seq": int(q),
                                                "updated_at": now,
                                                "model_id": self.store.model_id})
        return len(users)

    def forget(self, user_id: int | str) -> None:
        """Delete one user's rows."""
        self.store.delete(user_id)
        if self._use_cache:
            self._cache[user_key(user_id)] = None

    def clear(self) -> None:
        """Delete every user's rows."""
        self.store.delete_all()
        self._cache.clear()

    # ---------------------------------------------------------------- the math

    def empty(self) -> mi.Interests:
        return mi.Interests.empty(self.dim)

    def apply(self, state: mi.Interests, row: int, op: str, param: float
              ) -> tuple[mi.Interests, int | None, bool]:
        """One event (item row ``row``) applied with :func:`recsys_nb.interests.apply_event`."""
        return mi.apply_event(state, self._items[row], op, param, k=self.k,
                              threshold=self.threshold, fade=self.fade)

    def replay_history(self, rows: np.ndarray, ops: np.ndarray, params: Any,
                       start: mi.Interests | None = None) -> mi.UserReplay:
        """One user's events (item rows, operations, params, oldest first)."""
        return mi.replay_user(self._items[rows], ops, params, k=self.k,
                              threshold=self.threshold, fade=self.fade, start=start)

    def replay(self, frame: pd.DataFrame, starts: dict[str, mi.Interests]
               ) -> dict[str, mi.UserReplay]:
        """Each user's events of ``frame`` (columns key, row, kind, param; application order)
        replayed from ``starts`` (users absent from it start with no interest)."""
        ops = operations(frame["kind"].to_numpy())
        rows = frame["row"].to_numpy(dtype=np.int64)
        params = frame["param"].to_numpy(dtype=np.float64)
        out = {}
        for key, idx in frame.groupby("key", sort=False).indices.items():
            out[key] = self.replay_history(rows[idx], ops[idx], params[idx], starts.get(key))
        return out

    def merged(self, ids: list[np.ndarray], scores: list[np.ndarray], weights: np.ndarray,
               n: int) -> mi.Merged:
        """Per-interest ranked lists merged with this recommender's strategy and diversity."""
        return mi.merge(ids, scores, weights, n, self.merge, self.diversity)

    def exact_top(self, state: mi.Interests, item_ids: np.ndarray, extra: np.ndarray, n: int,
                  exclude: np.ndarray) -> mi.Merged:
        """The exact counterpart of the searches: every item scored with every interest
        (``cosine + extra``, extra = the popularity term), ``exclude`` (column positions)
        skipped, the per-interest top ``n`` merged like a recommendation."""
        scores = state.vectors.astype(np.float64) @ self._items.T.astype(np.float64) + extra
        best, top = top_n(scores, n, [exclude] * state.m, item_ids)
        keep = [b >= 0 for b in best]
        return self.merged([b[k] for b, k in zip(best, keep, strict=True)],
                           [t[k] for t, k in zip(top, keep, strict=True)], state.weights, n)
