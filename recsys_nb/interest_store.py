"""Chroma storage of multi-interest profiles: one row per (user, interest).

The write-up's profiles table with several rows per user: row id ``<user key>#<index>``, the
interest vector as embedding, and metadata ``user`` (the user key), ``interest`` (index),
``weight``, ``count``, ``event_count`` (the user's logged events), ``last_seq`` (the newest event
the rows reflect, for crash repair), ``updated_at``, ``model_id``.

Why not the single-interest ``profiles`` collection: :class:`recsys_nb.store.ProfileStore` keys a
row by the user alone (``all_metadata``, ``get``, the repair on open read every id as a user), so
rows of another shape there would break it. Each parameter set (``k``, threshold, fade) gets its
own collection, ``interests__<model id>+k<k>-t<threshold>-f<fade>``: the rows are derived from the
event log with those parameters, so reopening a store with other parameters finds no rows and
rebuilds them from the log (the repair on open), instead of mixing two rule sets; and the single-
interest profiles of the same store stay valid for a recommender opened with ``interests=1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import client_limits
from recsys_nb.interests import Interests
from recsys_nb.store import check_matrix, open_collection, user_from_key, user_key

INTERESTS_PREFIX = "interests"


def clear_model(client: Any, model_id: str) -> int:
    """Delete the rows of every parameter set of ``model_id`` (what ``forget_users`` needs: rows
    of another parameter set left behind would outlive the event log they came from). Returns
    the rows deleted."""
    deleted = 0
    for collection in client.list_collections():
        meta = collection.metadata or {}
        if meta.get("kind") != "interests" or not str(meta.get("model_id", "")).startswith(
                f"{model_id}+k"):
            continue
        ids = client_limits.get_all(client, collection, [])["ids"]
        deleted += client_limits.write(client, collection.delete, ids)
    return deleted


def interest_id(key: str, index: int) -> str:
    """Chroma id of one interest row: ``<user key>#<index>``."""
    return f"{key}#{int(index)}"


class InterestStore:
    """The interests collection of one model and one parameter set (see the module docstring).

    Args:
        client: a Chroma client (``store.get_client()``).
        model_id: the embedding model of the item vectors.
        dim: their dimension.
        k, threshold, fade: the multi-interest parameters the rows are computed with.
    """

    def __init__(self, client: Any, model_id: str, dim: int, k: int, threshold: float,
                 fade: float) -> None:
        self.client = client
        self.model_id = model_id
        self.dim = int(dim)
        self.k = int(k)
        self.collection = open_collection(
            client, INTERESTS_PREFIX, f"{model_id}+k{k}-t{threshold:g}-f{fade:g}", self.dim,
            "interests")

    def __repr__(self) -> str:
        return f"InterestStore({self.collection.name!r}, rows={self.count()})"

    def count(self) -> int:
        """Number of stored interest rows (all users)."""
        return int(self.collection.count())

    def get_many(
        self, user_ids: Sequence[int | str]
    ) -> dict[str, tuple[Interests, dict[str, Any]]]:
        """``{user key: (interests, metadata of the user)}`` for users that have rows (read in
        chunks within the client's limits; rows are matched by id, Chroma returns its own order).
        The metadata holds event_count, last_seq, updated_at, model_id."""
        keys = list(dict.fromkeys(user_key(u) for u in user_ids))
        ids = [interest_id(key, i) for key in keys for i in range(self.k)]
        rows: dict[str, list[tuple[int, list[float], dict[str, Any]]]] = {}
        got = client_limits.get_by_ids(self.client, self.collection, ids,
                                       ["embeddings", "metadatas"])
        for emb, meta in zip(got["embeddings"], got["metadatas"], strict=True):
            rows.setdefault(meta["user"], []).append((int(meta["interest"]), emb, meta))
        found = {}
        for key, found_rows in rows.items():
            found_rows.sort(key=lambda r: r[0])
            state = Interests(
                np.asarray([r[1] for r in found_rows], dtype=np.float32).reshape(-1, self.dim),
                np.array([float(r[2]["weight"]) for r in found_rows], dtype=np.float64),
                np.array([int(r[2]["count"]) for r in found_rows], dtype=np.int64),
            )
            meta = found_rows[0][2]
            found[key] = (state, {"event_count": int(meta["event_count"]),
                                  "last_seq": int(meta["last_seq"]),
                                  "updated_at": float(meta["updated_at"]),
                                  "model_id": meta["model_id"]})
        return found

    def get(self, user_id: int | str) -> tuple[Interests, dict[str, Any]] | None:
        """One user's ``(interests, metadata)``, or None without rows."""
        return self.get_many([user_id]).get(user_key(user_id))

    def put_many(
        self,
        user_ids: Sequence[int | str],
        states: Sequence[Interests],
        event_counts: Sequence[int],
        last_seqs: Sequence[int],
        updated_at: float,
    ) -> int:
        """Write each user's rows (upsert) and delete their rows with index >= m.

        Every row of every user is validated first (shape, finite, non-zero: ``check_matrix``;
        1 <= m <= k, weights finite > 0), so bad input writes nothing. Returns the users written.
        """
        keys = [user_key(u) for u in user_ids]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate user ids in one interest write; pass each user once")
        if not (len(states) == len(keys) == len(event_counts) == len(last_seqs)):
            raise ValueError(f"{len(keys)} users, {len(states)} states, {len(event_counts)} "
                             f"counts and {len(last_seqs)} seqs: pass one of each per user")
        for key, state in zip(keys, states, strict=True):
            shape = np.shape(state.vectors)
            if len(shape) != 2 or shape[1] != self.dim:
                raise ValueError(
                    f"user {key}: interest vectors of shape {shape}, dimension {shape[-1]}, but "
                    f"the collection holds dimension {self.dim}: use the item vectors of the "
                    "model it was built with (nothing was written)")
            if not 1 <= state.m <= self.k:
                raise ValueError(f"user {key} has {state.m} interests; this store holds 1 to "
                                 f"{self.k} per user (nothing was written)")
            w = np.asarray(state.weights, dtype=np.float64)
            if w.shape != (state.m,) or not (np.isfinite(w).all() and (w > 0).all()):
                raise ValueError(f"user {key}: interest weights {w.tolist()} must be finite and "
                                 "> 0, one per interest (nothing was written)")
        if not keys:
            return 0
        matrix = np.concatenate([s.vectors for s in states])
        arr = check_matrix(matrix, len(matrix), self.dim, "interest vectors")
        ids, metas, stale = [], [], []
        for key, state, count, seq in zip(keys, states, event_counts, last_seqs, strict=True):
            for i in range(state.m):
                ids.append(interest_id(key, i))
                metas.append({"user": key, "interest": i, "weight": float(state.weights[i]),
                              "count": int(state.counts[i]), "event_count": int(count),
                              "last_seq": int(seq), "updated_at": float(updated_at),
                              "model_id": self.model_id})
            stale += [interest_id(key, i) for i in range(state.m, self.k)]
        client_limits.write(self.client, self.collection.upsert, ids, embeddings=arr,
                            metadatas=metas)
        client_limits.write(self.client, self.collection.delete, stale)
        return len(keys)

    def all_metadata(self) -> pd.DataFrame:
        """user_id, event_count, last_seq of every user with rows (one row per user), like
        :meth:`recsys_nb.store.ProfileStore.all_metadata`."""
        got = client_limits.get_all(self.client, self.collection, ["metadatas"])
        frame = pd.DataFrame({
            "key": [m["user"] for m in got["metadatas"]],
            "event_count": [int(m.get("event_count", 0)) for m in got["metadatas"]],
            "last_seq": [int(m.get("last_seq", -1)) for m in got["metadatas"]],
        })
        # a user's rows are written together; min: a partly written user counts as lagging
        per_user = frame.groupby("key", sort=False).agg(
            event_count=("event_count", "min"), last_seq=("last_seq", "min"))
        return pd.DataFrame({
            "user_id": pd.Series([user_from_key(k) for k in per_user.index], dtype=object),
            "event_count": per_user["event_count"].to_numpy(dtype=np.int64),
            "last_seq": per_user["last_seq"].to_numpy(dtype=np.int64),
        })

    def all_rows(self) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
        """Every row: (ids, float32 vectors, metadata)."""
        got = client_limits.get_all(self.client, self.collection, ["embeddings", "metadatas"])
        if not got["ids"]:
            return [], np.zeros((0, self.dim), dtype=np.float32), []
        return list(got["ids"]), np.asarray(got["embeddings"], dtype=np.float32), \
            [dict(m) for m in got["metadatas"]]

    def delete(self, user_id: int | str) -> None:
        """Remove one user's rows (no-op without any)."""
        key = user_key(user_id)
        self.collection.delete(ids=[interest_id(key, i) for i in range(self.k)])

    def delete_all(self) -> None:
        """Remove every row (before a rebuild from the event log)."""
        ids = client_limits.get_all(self.client, self.collection, [])["ids"]
        client_limits.write(self.client, self.collection.delete, ids)
