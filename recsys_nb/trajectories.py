"""One history step by step: the interest (and its momentum prediction) after every event.

What the notebooks' figures and widgets draw (``recsys_nb.plots`` only draws it): the same rules
as the service, a loop of :func:`recsys_nb.vectors.apply_event` steps through
:func:`recsys_nb.vectors.trajectory`, so the last row of a trajectory equals the stored vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys_nb.kinds import EVENT_KINDS, KINDS, operations
from recsys_nb.vectors import (
    MIN_WINDOW_EVENTS,
    MOMENTUM_METHODS,
    WRITEUP_WINDOW,
    DegenerateVectorError,
    normalize,
    predict_from_window,
    trajectory,
)


def interest_trajectory(
    item_matrix: np.ndarray,
    rows: Sequence[int] | np.ndarray,
    kinds: Sequence[str],
    alpha_view: float,
    alpha_favorite: float,
    not_interested_factor: float = 0.3,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """The interest vector after every event of one ordered history: ``(m, d)`` float32.

    The same rules as :class:`recsys_nb.recommender.Recommender` and ``replay.replay`` (it is a
    loop of ``vectors.apply_event``, so its last row equals ``replay.replay(...).vector`` bit for
    bit): views and favorites are EMA steps with ``alpha_view`` / ``alpha_favorite`` (the first
    one is the cold start, ``v = e``), not-interested subtracts ``factor * e``; a not-interested
    before any positive event moves nothing, and a step that would cancel the vector keeps the
    previous one. Rows before the first vector exists are NaN.

    Args:
        item_matrix: (n_items, d) item vectors; ``rows`` index it.
        rows: the row of each event's item, oldest first.
        kinds: "view" / "favorite" / "not_interested" per event.
        alpha_view, alpha_favorite: EMA weights in (0, 1].
        not_interested_factor: subtraction factor, >= 0.
        start: the interest vector before the first event (None: cold start).
    """
    matrix = np.asarray(item_matrix)
    rows = np.asarray(rows, dtype=np.int64)
    if len(kinds) != len(rows):
        raise ValueError(f"{len(kinds)} kinds for {len(rows)} events; pass one kind per event")
    weights = {"alpha_view": alpha_view, "alpha_favorite": alpha_favorite,
               "not_interested_factor": not_interested_factor}
    for k, kind in enumerate(kinds):
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r} at event {k}; use one of {list(KINDS)}")
    ops = list(operations(list(kinds)))
    values = [weights[EVENT_KINDS[kind].parameter] for kind in kinds]
    if start is None:
        return trajectory(matrix[rows], ops, values)
    # A start vector is one more (cold-start) event in front: replace v by it, then go on.
    first = np.vstack([normalize(start)[None, :], matrix[rows]])
    return trajectory(first, ["ema", *ops], [1.0, *values])[1:]


def trajectory_similarities(trajectory: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Cosine of every step's interest vector with each target: ``(m, len(targets))``.

    Both are unit vectors, so this is a matrix product; steps without a vector stay NaN.
    """
    traj = np.asarray(trajectory, dtype=np.float64)
    tgt = np.asarray(targets, dtype=np.float64)
    tgt = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    return traj @ tgt.T


def relative_similarities(similarities: np.ndarray) -> np.ndarray:
    """Each row minus its mean over the columns (NaN rows stay NaN).

    ``cos(v, c_g) - mean_j cos(v, c_j) = v . (c_g - mean_j c_j)``: the similarity to what is
    distinctive about genre g among the genres shown, without what they all share.
    """
    sims = np.asarray(similarities, dtype=np.float64)
    out = np.full_like(sims, np.nan)
    ok = ~np.isnan(sims).any(axis=1)
    out[ok] = sims[ok] - sims[ok].mean(axis=1, keepdims=True)
    return out


def predicted_trajectory(
    item_matrix: np.ndarray,
    rows: Sequence[int] | np.ndarray,
    kinds: Sequence[str],
    current: np.ndarray,
    window: int = WRITEUP_WINDOW,
    *,
    weight: float = 1.0,
    method: str = "momentum",
    half_life: float | None = None,
    min_events: int = MIN_WINDOW_EVENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """The predicted interest after every event of one history, as the service would answer.

    After event ``k`` the window is the last ``window`` positive events (views, favorites) among
    events ``0..k``; with fewer than ``min_events`` of them, or a prediction that cancels, the
    answer is the current interest ``current[k]`` (the documented fallback of
    ``Recommender.predict_interest``). Its last row equals ``rec.predict_interest(user, ...)``
    for a user whose log holds exactly this history.

    Args:
        item_matrix: (n_items, d) item vectors; ``rows`` index it.
        rows, kinds: each event's item row and kind, oldest first.
        current: (m, d) the interest after every event (``interest_trajectory``; NaN rows before
            the first positive event stay NaN here too).
        window, weight, method, half_life, min_events: as in ``predict_interest``.

    Returns:
        ``(predicted (m, d) float32, fallback (m,) bool)``; ``fallback[k]`` says the prediction
        is the current vector.
    """
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise ValueError(f"window={window!r} must be an int >= 2 (the write-up uses 10)")
    if isinstance(min_events, bool) or not isinstance(min_events, int | np.integer) \
            or min_events < 2:
        raise ValueError(f"min_events={min_events!r} must be an int >= 2")
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"weight={weight!r} must be a finite number >= 0 (the write-up uses 1.0)")
    if method not in MOMENTUM_METHODS:
        raise ValueError(f"method={method!r} is unknown; use one of {list(MOMENTUM_METHODS)}")
    matrix = np.asarray(item_matrix)
    rows = np.asarray(rows, dtype=np.int64)
    current = np.asarray(current, dtype=np.float32)
    if len(kinds) != len(rows) or current.shape[0] != len(rows):
        raise ValueError(f"{len(rows)} rows, {len(kinds)} kinds and {current.shape[0]} current "
                         "vectors: pass one of each per event")
    out = current.copy()
    fallback = np.ones(len(rows), dtype=bool)
    positive: list[int] = []
    for k, (row, kind) in enumerate(zip(rows, kinds, strict=True)):
        if kind != "not_interested":
            positive.append(int(row))
        last = positive[-int(window):]
        if len(last) < min_events or np.isnan(current[k]).any():
            continue
        try:
            out[k] = predict_from_window(matrix[last], method, weight, half_life)
            fallback[k] = False
        except DegenerateVectorError:
            pass
    return out, fallback


def next_item_similarity(
    steps: np.ndarray,
    item_matrix: np.ndarray,
    targets: Sequence[Sequence[int]],
) -> np.ndarray:
    """Mean cosine of each step's vector with the items the user watched next: ``(m,)``.

    Args:
        steps: (m, d) unit vectors, one per step (NaN rows give NaN).
        item_matrix: (n_items, d) unit item vectors.
        targets: per step, the rows of the items watched next (empty -> NaN).
    """
    steps = np.asarray(steps, dtype=np.float64)
    matrix = np.asarray(item_matrix, dtype=np.float64)
    if len(targets) != steps.shape[0]:
        raise ValueError(f"{len(targets)} target lists for {steps.shape[0]} steps")
    out = np.full(steps.shape[0], np.nan)
    for k, rows in enumerate(targets):
        if len(rows) and not np.isnan(steps[k]).any():
            out[k] = float((matrix[np.asarray(rows, dtype=np.int64)] @ steps[k]).mean())
    return out
