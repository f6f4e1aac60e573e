"""Several interest vectors per user: the math (pure numpy, no storage).

One interest vector averages everything a user likes: someone who watches horror films and
children's films gets a vector between the two, close to neither. Multi-interest profiles keep up
to ``k`` unit vectors per user, each moved by the technique's own EMA:

- a positive event (view / favorite) first fades every interest's weight by ``fade`` (recency),
  then goes to the **nearest** interest (highest cosine; ties: the lower index), which moves by
  ``normalize((1 - alpha) * v + alpha * e)`` (:func:`recsys_nb.vectors.apply_event`, the one
  kernel) and gains weight 1 and count 1;
- unless the event is **far from all** of them (cosine to the nearest < ``threshold``): then it
  starts a new interest ``v = e`` (weight 1, count 1) while fewer than ``k`` exist, or replaces
  the weakest interest when its weight has faded below :data:`STALE_WEIGHT` (stale interests fade
  away); with ``k`` live interests it joins the nearest after all;
- "not interested" subtracts from the nearest interest, ``normalize(v - factor * e)``; a
  subtraction that would cancel it (overshoot) keeps the vector, as the single-interest service
  does; before any interest it does nothing (``cold_subtract="ignore"``);
- an EMA step that cancels (the item exactly opposite the interest) keeps the vector too.

So a user's first event makes one interest, and no vector is ever zero or NaN: every row is
either an item's normalized vector or the output of a kernel that refuses to cancel.

:func:`replay_user` replays one history with :func:`apply_event`, one event at a time: bulk ingest
and the event-by-event path share it, so they agree bit for bit by construction.

Recommendations search each interest separately and :func:`merge` the ranked lists
(:data:`MERGES`); ``diversity`` in [0, 1] says how much the weak interests get (1: as much as the
strong ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from recsys_nb import vectors

__all__ = [
    "DEFAULT_DIVERSITY",
    "DEFAULT_FADE",
    "DEFAULT_MERGE",
    "DEFAULT_THRESHOLD",
    "MERGES",
    "STALE_WEIGHT",
    "Interests",
    "Merged",
    "UserReplay",
    "apply_event",
    "check_params",
    "merge",
    "owner",
    "penalties",
    "replay_user",
]

#: Cosine below which a positive event is "far from all" interests and starts a new one. Chosen
#: from the data, not guessed: on MovieLens with the default embedding (blend, 128-d), the cosine
#: between a positive event's item and the user's single interest vector just before it
#: (85,948 events, default alphas; ``benchmarks/multi_interest.py --cosines``) has percentiles
#: 1 %: 0.11, 5 %: 0.20, 10 %: 0.25, 25 %: 0.35, 50 %: 0.47, 90 %: 0.72. 0.25 is the 10th
#: percentile: an event less like the user's taste than 9 in 10 of real events are, and about as
#: close as two random items get (random item pairs: median 0.03, 90 %: 0.20, 95 %: 0.27). A
#: higher threshold (the median) would split ordinary histories; a lower one (1 %) would almost
#: never see a second taste.
DEFAULT_THRESHOLD: float = 0.25
#: Weight kept per positive event by every interest (recency): 0.98 halves a weight in 34
#: positive events (0.98**34 = 0.50), about half the median MovieLens user's 64 positive events,
#: so an interest fed once early on has faded by the end of a typical history while one fed all
#: along keeps a weight near its recent count.
DEFAULT_FADE: float = 0.98
#: An interest whose weight is below this may be replaced by a new far event once ``k`` exist:
#: with the default fade, an interest used once and then not for 35 positive events
#: (0.98**35 = 0.49), or used ten times and then not for 149.
STALE_WEIGHT: float = 0.5
#: Weights never fall below this (float underflow would make a weight 0 after ~35,000 events at
#: 0.98, and the merges divide by weights).
MIN_WEIGHT: float = 1e-12

#: How ranked per-interest lists become one list (see :func:`merge`).
MERGES: tuple[str, ...] = ("round_robin", "score")
DEFAULT_MERGE: str = "round_robin"
#: Halfway between "share by weight" (0) and "equal shares" (1). Measured with
#: ``benchmarks/multi_interest.py --ks 1 3 --diversity 0 1`` (200 MovieLens users, k=3, recall@50
#: minus k=1's): round_robin 0: -0.014, 0.5: -0.018, 1: -0.042; score 0: -0.018, 0.5: -0.013,
#: 1: -0.040 (intervals about +-0.013). Equal shares cost the most; 0.5 is as good as 0 within the
#: noise and leaves a weak taste some room.
DEFAULT_DIVERSITY: float = 0.5


@dataclass(frozen=True, eq=False)
class Interests:
    """One user's interests: ``m <= k`` unit vectors with their weights and counts.

    Attributes:
        vectors: (m, d) float32 unit rows.
        weights: (m,) float64 > 0: positive events assigned (+1 each), faded by ``fade`` per
            positive event of the user (recency and count in one number).
        counts: (m,) int64, positive events assigned to each interest since it was created.
    """

    vectors: np.ndarray
    weights: np.ndarray
    counts: np.ndarray

    @property
    def m(self) -> int:
        """Number of interests."""
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def empty(cls, dim: int) -> Interests:
        """No interest yet (a new user)."""
        return cls(np.zeros((0, int(dim)), dtype=np.float32), np.zeros(0), np.zeros(0, np.int64))

    def __repr__(self) -> str:
        w = ", ".join(f"{x:.3g}" for x in self.weights)
        counts = self.counts.tolist()
        return f"Interests(m={self.m}, dim={self.dim}, weights=[{w}], counts={counts})"


def check_params(
    k: object, threshold: object, fade: object, merge: object = DEFAULT_MERGE,
    diversity: object = DEFAULT_DIVERSITY,
) -> tuple[int, float, float, str, float]:
    """Validate multi-interest parameters; return them as (int, float, float, str, float).

    Raises:
        ValueError: naming the bad value and a valid one.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"interests={k!r} must be an int >= 1 (1 = one interest vector per "
                         "user, e.g. 3 for several)")
    if (isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number)
            or not math.isfinite(float(threshold)) or not -1.0 <= float(threshold) <= 1.0):
        raise ValueError(f"interest_threshold={threshold!r} must be a cosine in [-1, 1]; pass "
                         f"e.g. {DEFAULT_THRESHOLD} (the default, chosen from MovieLens)")
    if (isinstance(fade, bool) or not isinstance(fade, int | float | np.number)
            or not 0.0 < float(fade) <= 1.0):
        raise ValueError(f"interest_fade={fade!r} must be in (0, 1] (1 = no fading); pass e.g. "
                         f"{DEFAULT_FADE}")
    if merge not in MERGES:
        raise ValueError(f"merge={merge!r} is unknown; use one of {list(MERGES)}")
    if (isinstance(diversity, bool) or not isinstance(diversity, int | float | np.number)
            or not 0.0 <= float(diversity) <= 1.0):
        raise ValueError(f"diversity={diversity!r} must be in [0, 1] (0 = share by weight, "
                         f"1 = equal shares); pass e.g. {DEFAULT_DIVERSITY}")
    return int(k), float(threshold), float(fade), str(merge), float(diversity)


# --------------------------------------------------------------------------------------------
# one event


def _with_row(state: Interests, j: int, v: np.ndarray, weights: np.ndarray,
              counts: np.ndarray) -> Interests:
    """``state`` with row ``j`` set (j == m appends), new weights and counts."""
    rows = state.vectors.copy() if j < state.m else np.vstack([state.vectors, v[None, :]])
    rows[j] = v
    return Interests(rows, weights, counts)


def _created(state: Interests, j: int, v: np.ndarray, weights: np.ndarray,
             counts: np.ndarray) -> Interests:
    """A new interest ``v`` at row ``j`` (appended when ``j == m``): weight 1, count 1."""
    if j == state.m:
        weights = np.append(weights, 1.0)
        counts = np.append(counts, 1).astype(np.int64)
    else:
        weights, counts = weights.copy(), counts.copy()
        weights[j], counts[j] = 1.0, 1
    return _with_row(state, j, v, weights, counts)


def apply_event(
    state: Interests,
    e: ArrayLike,
    op: str,
    param: float,
    *,
    k: int,
    threshold: float,
    fade: float,
) -> tuple[Interests, int | None, bool]:
    """One event applied to a user's interests (see the module docstring for the rules).

    Args:
        state: the interests before the event (not modified).
        e: the item's vector (d,).
        op: "ema" (view / favorite) or "subtract" (not interested).
        param: alpha (ema) or factor (subtract).
        k, threshold, fade: at most ``k`` interests; a cosine below ``threshold`` is "far";
            weights are multiplied by ``fade`` per positive event.

    Returns:
        ``(new_state, index, changed)``: ``index`` is the interest the event was assigned to (None
        for a not-interested before any interest), ``changed`` is False when no vector moved (an
        overshoot or a cancelling EMA kept it, or nothing was there to move).

    Raises:
        ValueError / DegenerateVectorError: a bad alpha or factor, a zero / NaN item vector, or an
            item of another dimension (from :func:`recsys_nb.vectors.apply_event`).
    """
    item = vectors.validate_vector(e, dim=state.dim, name="item vector", other="the interests")
    if op == "subtract":
        if state.m == 0:  # nothing to move away from yet (validates the factor)
            vectors.apply_event(None, item, op, param, cold_subtract="ignore")
            return state, None, False
        j = _nearest(state, item)
        try:
            v = vectors.apply_event(state.vectors[j], item, op, param)
        except vectors.DegenerateVectorError:  # overshoot: keep the vector, as with one interest
            return state, j, False
        return _with_row(state, j, v, state.weights, state.counts), j, True
    if op != "ema":
        raise ValueError(f"op={op!r} is unknown; use 'ema' or 'subtract'")
    if state.m == 0:  # cold start: the item is the first interest (validates alpha)
        v = vectors.apply_event(None, item, op, param)
        return _created(state, 0, v, state.weights, state.counts), 0, True
    weights = np.maximum(state.weights * fade, MIN_WEIGHT)
    j = _nearest(state, item)
    sims = state.vectors.astype(np.float64) @ _unit(item)
    if sims[j] < threshold:
        if state.m < k:
            v = vectors.apply_event(None, item, op, param)
            return _created(state, state.m, v, weights, state.counts), state.m, True
        weakest = int(np.argmin(weights))  # ties: the lower index
        if weights[weakest] < STALE_WEIGHT:
            v = vectors.apply_event(None, item, op, param)
            return _created(state, weakest, v, weights, state.counts), weakest, True
    counts = state.counts.copy()
    counts[j] += 1
    weights = weights.copy()
    weights[j] += 1.0
    try:
        v = vectors.apply_event(state.vectors[j], item, op, param)
    except vectors.DegenerateVectorError:  # the EMA cancelled: keep the vector, count the event
        return Interests(state.vectors, weights, counts), j, False
    return _with_row(state, j, v, weights, counts), j, True


def _unit(item: np.ndarray) -> np.ndarray:
    e = np.asarray(item, dtype=np.float64)
    return e / np.sqrt(e @ e)


def _nearest(state: Interests, item: np.ndarray) -> int:
    """Index of the interest with the highest cosine to the item (ties: the lower index)."""
    return int(np.argmax(state.vectors.astype(np.float64) @ _unit(item)))


class UserReplay(NamedTuple):
    """:func:`replay_user`'s result.

    Attributes:
        state: the interests after the last event.
        assignments: (m,) int64, the interest each event went to (-1: none, a not-interested
            before any interest).
        changed: (m,) bool, the event moved or created a vector.
        created: (m,) bool, the event started an interest (new or replacing a stale one).
    """

    state: Interests
    assignments: np.ndarray
    changed: np.ndarray
    created: np.ndarray

    @property
    def overshoots(self) -> int:
        """Events that were assigned but moved nothing (cancelled steps, kept vectors)."""
        return int(((self.assignments >= 0) & ~self.changed).sum())


def replay_user(
    items: ArrayLike,
    ops: ArrayLike,
    params: ArrayLike,
    *,
    k: int,
    threshold: float,
    fade: float,
    start: Interests | None = None,
) -> UserReplay:
    """One user's ordered history applied with :func:`apply_event`, one event at a time.

    Args:
        items: (m, d) the history's item vectors, oldest first.
        ops: (m,) "ema" / "subtract".
        params: (m,) alpha or factor per event.
        start: the interests before the first event (None: a new user).
    """
    matrix = np.asarray(items)
    if matrix.ndim != 2:
        raise ValueError(f"items must be a 2-D array (m, d); got shape {matrix.shape}")
    ops = np.asarray(ops).reshape(-1)
    p = np.asarray(params, dtype=np.float64).reshape(-1)
    if len(ops) != len(matrix) or len(p) != len(matrix):
        raise ValueError(f"{len(matrix)} item vectors, {len(ops)} ops and {len(p)} params: "
                         "pass one per event")
    state = Interests.empty(matrix.shape[1]) if start is None else start
    n = len(matrix)
    assigned = np.full(n, -1, dtype=np.int64)
    changed = np.zeros(n, dtype=bool)
    created = np.zeros(n, dtype=bool)
    for i in range(n):
        state, j, moved = apply_event(state, matrix[i], str(ops[i]), float(p[i]), k=k,
                                      threshold=threshold, fade=fade)
        if j is not None:
            assigned[i] = j
            created[i] = ops[i] == "ema" and moved and state.counts[j] == 1
        changed[i] = moved
    return UserReplay(state, assigned, changed, created)


def segment(replayed: UserReplay, index: int) -> np.ndarray:
    """Positions of the events that shaped interest ``index`` as it is now: those assigned to it
    from its last creation on (an index reused for a stale interest starts afresh)."""
    starts = np.flatnonzero(replayed.created & (replayed.assignments == index))
    if not starts.size:
        return np.zeros(0, dtype=np.int64)
    mine = np.flatnonzero(replayed.assignments == index)
    return mine[mine >= starts[-1]]


# --------------------------------------------------------------------------------------------
# merging per-interest lists


class Merged(NamedTuple):
    """One merged list, best first: item ids, the score each was ranked by, the interest index
    behind each."""

    ids: np.ndarray
    scores: np.ndarray
    interest: np.ndarray


def penalties(weights: ArrayLike, diversity: float) -> np.ndarray:
    """``(1 - diversity) * (1 - w_i / max w)``: what the score merge subtracts from interest i."""
    w = np.asarray(weights, dtype=np.float64)
    return (1.0 - diversity) * (1.0 - w / w.max())


def owner(scores: ArrayLike, weights: ArrayLike, diversity: float) -> np.ndarray:
    """The interest behind each item for the score merge: the highest ``score_i - penalty_i``
    (ties: the lower index). ``scores`` is (interests, items); returns (items,) int64."""
    s = np.asarray(scores, dtype=np.float64)
    return np.argmax(s - penalties(weights, diversity)[:, None], axis=0).astype(np.int64)


def merge(
    ids: list[ArrayLike],
    scores: list[ArrayLike],
    weights: ArrayLike,
    n: int,
    strategy: str = DEFAULT_MERGE,
    diversity: float = DEFAULT_DIVERSITY,
) -> Merged:
    """Merge ranked per-interest lists (best first, seen items already excluded) into one.

    - ``"round_robin"``: interest i's share of the list is ``w_i ** (1 - diversity)``
      normalized (diversity 1: equal shares; 0: proportional to the weights). Position t
      (1-based) goes to the interest with the largest deficit ``t * share_i - taken_i`` (ties:
      the lower index) among those with candidates left; it takes its best candidate not yet
      in the list. The score is the item's score in that interest's list. Shares do not depend
      on ``n``, so a shorter list is a prefix of a longer one.
    - ``"score"``: an item's merged score is ``max_i(score_i - (1 - diversity) * (1 - w_i /
      max w))`` over the lists holding it (diversity 1: plain best score; 0: a weak interest's
      items must be up to 1 better to rank); sorted by it, ties by the lower item id.

    Args:
        ids, scores: one array per interest, best first.
        weights: (m,) interest weights > 0.
        n: list length (fewer when the lists hold fewer distinct items).

    Returns:
        :class:`Merged` (ids int64, scores float64, interest int64).
    """
    if strategy not in MERGES:
        raise ValueError(f"merge={strategy!r} is unknown; use one of {list(MERGES)}")
    w = np.asarray(weights, dtype=np.float64)
    lists = [np.asarray(i, dtype=np.int64).reshape(-1) for i in ids]
    vals = [np.asarray(s, dtype=np.float64).reshape(-1) for s in scores]
    if len(lists) != len(w) or len(vals) != len(w):
        raise ValueError(f"{len(lists)} id lists and {len(vals)} score lists for {len(w)} "
                         "weights: pass one list per interest")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise ValueError(f"weights {w.tolist()} must be finite and > 0")
    if strategy == "score":
        return _merge_score(lists, vals, w, int(n), diversity)
    return _merge_round_robin(lists, vals, w, int(n), diversity)


def _merge_round_robin(lists: list[np.ndarray], vals: list[np.ndarray], w: np.ndarray, n: int,
                       diversity: float) -> Merged:
    share = w ** (1.0 - diversity)
    share = share / share.sum()
    taken_by = np.zeros(len(lists), dtype=np.int64)
    cursor = [0] * len(lists)
    taken: set[int] = set()
    out_ids, out_scores, out_owner = [], [], []
    while len(out_ids) < n:
        # each interest's next candidate not yet in the list
        for i, ranked in enumerate(lists):
            while cursor[i] < len(ranked) and int(ranked[cursor[i]]) in taken:
                cursor[i] += 1
        alive = np.array([cursor[i] < len(lists[i]) for i in range(len(lists))])
        if not alive.any():
            break
        t = len(out_ids) + 1
        deficit = np.where(alive, t * share - taken_by, -np.inf)
        i = int(np.argmax(deficit))
        item = int(lists[i][cursor[i]])
        out_ids.append(item)
        out_scores.append(float(vals[i][cursor[i]]))
        out_owner.append(i)
        taken.add(item)
        taken_by[i] += 1
        cursor[i] += 1
    return Merged(np.array(out_ids, dtype=np.int64), np.array(out_scores, dtype=np.float64),
                  np.array(out_owner, dtype=np.int64))


def _merge_score(lists: list[np.ndarray], vals: list[np.ndarray], w: np.ndarray, n: int,
                 diversity: float) -> Merged:
    pen = penalties(w, diversity)
    best: dict[int, tuple[float, int]] = {}
    for i, (ranked, s) in enumerate(zip(lists, vals, strict=True)):
        for item, score in zip(ranked.tolist(), (s - pen[i]).tolist(), strict=True):
            if item not in best or score > best[item][0]:  # ties keep the lower interest
                best[item] = (score, i)
    order = sorted(best, key=lambda item: (-best[item][0], item))[:n]
    return Merged(np.array(order, dtype=np.int64),
                  np.array([best[i][0] for i in order], dtype=np.float64),
                  np.array([best[i][1] for i in order], dtype=np.int64))
