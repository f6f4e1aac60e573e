"""The math of interest vectors: pure numpy functions over a vector or an (n, d) array.

Every vector this package stores is unit length, so cosine similarity is a dot product. The
functions here are the technique's formulas, with the edge cases made explicit:

- ``normalize``: ``v / |v|`` (rows of a batch too); a zero or non-finite vector is an error.
- ``ema_update``: ``normalize((1 - alpha) * v + alpha * e)``, the exponential moving average
  (one vector, or (n, d) rows at once).
- ``subtract``: ``normalize(v - factor * e)``, "not interested"; cancelling -> ``OvershootError``.
- ``average``: normalized (weighted) mean, a centroid (e.g. for cold start).
- ``predict_momentum``: ``normalize(a2 + weight * (a2 - a1))``, extrapolate the recent trend.
- ``apply_event``: one event, with the cold-start rule. Whole histories (one user's, or many
  users' at once) are replayed by :mod:`recsys_nb.replay`, with these same kernels.
- ``cosine_similarity`` / ``cosine_top_n``: exact cosine search (one query or (q, d) queries), the
  baseline for Chroma's HNSW.

What the notebooks draw from these formulas lives beside them: one history step by step in
:mod:`recsys_nb.trajectories`, summaries of an item space in :mod:`recsys_nb.item_space`.

Conventions (the same in every function, so the one-by-one path and the batch path agree):

- Inputs are checked (1-D / 2-D, finite, non-zero, matching dimensions) and **normalized first**,
  so ``alpha`` and ``factor`` weigh directions, not whatever lengths the embeddings happen to have.
- Arithmetic is done in float64; results are returned as **float32**, the storage type (Chroma keeps
  float32, and unit vectors need no more than float32's ~7 significant digits). Sequences of steps
  (``recsys_nb.replay``) round to float32 after every step, like storing the vector after each
  event.
- A result whose norm before normalization is at most ``EPS`` times the size of its inputs has
  cancelled: its direction would be float rounding noise, so it is an error
  (:class:`DegenerateVectorError`, or :class:`OvershootError` for a subtraction), never a vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from recsys_nb.topn import top_n

__all__ = [
    "EPS",
    "OP_EMA",
    "OP_SUBTRACT",
    "ColdSubtract",
    "DegenerateVectorError",
    "OvershootError",
    "apply_event",
    "average",
    "cosine_similarity",
    "cosine_top_n",
    "ema_update",
    "normalize",
    "predict_momentum",
    "subtract",
    "validate_vector",
]

#: "Near zero", relative to inputs of unit norm. A unit float32 vector carries rounding noise of
#: norm <= ~6e-8 (2**-24 per component), so a result of norm 1e-6 still has a direction known to
#: about 6 %; anything shorter is treated as cancelled. ``normalize`` applies it as an absolute
#: threshold (vectors here are embeddings of norm ~1); combinations such as ``v - factor * e``
#: apply it relative to the sum of their coefficients (``1 + factor``).
EPS: float = 1e-6

#: Operation codes for ``recsys_nb.replay`` (strings "ema" / "subtract" work too).
OP_EMA: int = 0
OP_SUBTRACT: int = 1
_OP_NAMES = {"ema": OP_EMA, "subtract": OP_SUBTRACT}

STORE_DTYPE = np.float32


class DegenerateVectorError(ValueError):
    """A zero, near-zero or non-finite vector: it has no direction and must never be stored."""


class OvershootError(DegenerateVectorError):
    """``v - factor * e`` cancelled to (nearly) zero: the subtraction erased the whole interest.

    With unit vectors, ``|v - f*e|**2 = (f - cos)**2 + 1 - cos**2``: this only happens when the item
    points the same way as the interest (``cos`` ~ 1) and ``factor`` ~ 1. Any ``factor <= 0.5`` is
    safe, since ``|v - f*e| >= 1 - f``. Callers (the Recommender) catch this and keep the previous
    vector, or retry with a smaller factor.

    Attributes:
        norm: length of ``v - factor * e`` before normalization (inputs normalized first).
        factor: the factor that was used.
        cosine: cosine similarity between the interest and the item.
        row: for batches / replays, the index of the offending row or event, else None.
    """

    def __init__(self, norm: float, factor: float, cosine: float, row: int | None = None) -> None:
        self.norm = float(norm)
        self.factor = float(factor)
        self.cosine = float(cosine)
        self.row = row
        where = "" if row is None else f" (row {row})"
        super().__init__(
            f"subtracting the item with factor={self.factor:g} cancels the interest vector{where}: "
            f"|v - factor*e| = {self.norm:.3g} (cosine(v, e) = {self.cosine:.6f}), so no direction "
            "is left. Use a smaller factor (any factor <= 0.5 can never cancel a unit vector), "
            "or keep the previous interest vector and skip this event."
        )


# --------------------------------------------------------------------------------------------
# validation and normalization
# --------------------------------------------------------------------------------------------


def _as_float(v: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype.kind not in "fiub":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            msg = f"{name} must be numeric; got an array of dtype {arr.dtype}"
            raise ValueError(msg) from None
    elif arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _check_dim(got: int, dim: int | None, name: str, other: str | None) -> None:
    if dim is not None and got != int(dim):
        against = f"{other} has {dim}" if other else f"{dim} was expected"
        raise ValueError(
            f"{name} has dimension {got} but {against}: both must come from the same "
            "embedding model"
        )


def validate_vector(
    v: ArrayLike, dim: int | None = None, name: str = "vector", other: str | None = None
) -> np.ndarray:
    """Check one vector: 1-D, finite, non-zero and (optionally) of dimension ``dim``.

    Args:
        v: the vector.
        dim: required dimension, or None for any.
        name: how to call ``v`` in error messages ("item vector").
        other: how to call the thing that fixes ``dim`` ("the interest vector").

    Returns:
        ``v`` as a floating numpy array (not normalized, not copied if already floating).

    Raises:
        ValueError: not 1-D, or wrong dimension (the message names both dimensions).
        DegenerateVectorError: NaN / inf values, or norm <= ``EPS``.
    """
    arr = _as_float(v, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (d,); got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (dimension 0)")
    _check_dim(arr.shape[0], dim, name, other)
    finite = np.isfinite(arr)
    if not finite.all():
        pos = int(np.flatnonzero(~finite)[0])
        raise DegenerateVectorError(
            f"{name} has a non-finite value ({arr[pos]}) at position {pos}; a NaN or inf vector "
            "has no direction: check the embedding that produced it"
        )
    norm = float(np.sqrt(np.dot(arr.astype(np.float64), arr.astype(np.float64))))
    if norm <= EPS:
        raise DegenerateVectorError(
            f"{name} has norm {norm:.3g} (<= EPS={EPS:g}): a zero vector has no direction "
            "and cannot be normalized or stored"
        )
    return arr


def _rownorm(x64: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of a 2-D float64 array.

    THE norm kernel: the single, batch and replay paths all use it, and its value for a row does
    not depend on how many other rows are in the batch, so they agree bit for bit.
    """
    return np.sqrt(np.einsum("ij,ij->i", x64, x64))


def _checked_norms(
    x: ArrayLike, name: str, row_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(x as float64, row norms)``; raise naming the first zero / non-finite row."""
    x64 = np.asarray(x, dtype=np.float64)
    norms = _rownorm(x64)
    ok = (norms > EPS) & (norms < np.inf)  # NaN fails both comparisons
    if not ok.all():
        bad = np.flatnonzero(~ok)
        i = int(bad[0])
        label = int(row_ids[i]) if row_ids is not None else i
        if not np.isfinite(x64[i]).all():
            why = "has NaN or infinite values"
        else:
            why = f"has norm {norms[i]:.3g} (<= EPS={EPS:g}), a zero vector"
        more = f" ({bad.size} bad rows in total)" if bad.size > 1 else ""
        raise DegenerateVectorError(
            f"{name} row {label} {why}: it has no direction and cannot be normalized or stored"
            + more
        )
    return x64, norms


def _unit_rows64(x: ArrayLike, name: str, row_ids: np.ndarray | None = None) -> np.ndarray:
    """Rows of a 2-D array as float64 unit vectors; raise naming the first bad row."""
    x64, norms = _checked_norms(x, name, row_ids)
    return x64 / norms[:, None]


def normalize(v: ArrayLike) -> np.ndarray:
    """Scale a vector (1-D) or every row of a batch (2-D) to unit length.

    Computed in float64, returned as float32 (the storage type).

    Raises:
        DegenerateVectorError: a zero (norm <= ``EPS``) or non-finite vector / row, naming the row.
        ValueError: not 1-D or 2-D.
    """
    arr = _as_float(v, "vector")
    if arr.ndim == 1:
        validate_vector(arr)
        return _unit_rows64(arr[None, :], "vector")[0].astype(STORE_DTYPE)
    if arr.ndim == 2:
        if arr.shape[1] == 0:
            raise ValueError(f"cannot normalize rows of dimension 0 (shape {arr.shape})")
        return _unit_rows64(arr, "batch").astype(STORE_DTYPE)
    raise ValueError(f"normalize takes a vector (d,) or a batch (n, d); got shape {arr.shape}")


def _validate_batch(
    x: ArrayLike, name: str, dim: int | None = None, other: str | None = None
) -> np.ndarray:
    """A 2-D floating array (n, d) with, optionally, d == dim (the error names both)."""
    arr = _as_float(x, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, d); got shape {arr.shape}")
    _check_dim(arr.shape[1], dim, name, other)
    return arr


# --------------------------------------------------------------------------------------------
# the combination kernel: new = normalize(p * v/|v| + q * e/|e|)
# --------------------------------------------------------------------------------------------


def _combine(
    v: np.ndarray, nv: np.ndarray, e: np.ndarray, ne: np.ndarray, p: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise ``p * v/|v| + q * e/|e|`` for float64 rows ``v``, ``e`` with norms ``nv``, ``ne``.

    Returns ``(raw, raw norms, ok)``; the unit result is ``raw / norms`` where ``ok``. ``ok`` is
    False where the raw norm is <= EPS * (|p| + |q|): the combination cancelled. The norms are
    folded into the coefficients so each step costs few passes over the data.
    """
    raw = (p / nv)[:, None] * v
    raw += (q / ne)[:, None] * e  # in place: same values, one temporary less
    norms = _rownorm(raw)
    ok = norms > EPS * (np.abs(p) + np.abs(q))
    return raw, norms, ok


def _check_alpha(alpha: np.ndarray, where: np.ndarray | None = None) -> None:
    bad = ~((alpha > 0) & (alpha <= 1))  # NaN fails both comparisons
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        pos = "" if where is None else f" (event {int(where[i])})"
        raise ValueError(
            f"alpha={float(alpha[i])!r}{pos} is outside (0, 1]; alpha is the weight of the new "
            "item, pass a value like 0.3 (1 replaces the interest by the item)"
        )


def _check_factor(factor: np.ndarray, where: np.ndarray | None = None) -> None:
    bad = ~((factor >= 0) & np.isfinite(factor))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        pos = "" if where is None else f" (event {int(where[i])})"
        raise ValueError(
            f"factor={float(factor[i])!r}{pos} must be a finite number >= 0; pass a value like "
            "0.5 (0 leaves the interest unchanged, larger moves it further from the item)"
        )


def _per_row(x: float | ArrayLike, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a number or an array of shape ({n},); got {arr.shape}")
    return arr


def _pair(interest: ArrayLike, item: ArrayLike):
    """Validate one interest / item pair: ``(v, |v|, e, |e|)`` as (1, d) float64 rows."""
    v = validate_vector(interest, name="interest vector")
    e = validate_vector(item, dim=v.shape[0], name="item vector", other="the interest vector")
    v64, nv = _checked_norms(v[None, :], "interest vector")
    e64, ne = _checked_norms(e[None, :], "item vector")
    return v64, nv, e64, ne


def _pair_batch(interests: ArrayLike, items: ArrayLike):
    v = _validate_batch(interests, "interest vectors")
    e = _validate_batch(items, "item vectors", v.shape[1], "the interest vector batch")
    if e.shape[0] != v.shape[0]:
        raise ValueError(
            f"{v.shape[0]} interest vectors but {e.shape[0]} item vectors: pass one item per row"
        )
    v64, nv = _checked_norms(v, "interest vectors")
    e64, ne = _checked_norms(e, "item vectors")
    return v64, nv, e64, ne


def _ema_cancel_error(norm: float, alpha: float, row: int | None) -> DegenerateVectorError:
    where = "" if row is None else f" (row {row})"
    return DegenerateVectorError(
        f"the EMA update with alpha={alpha:g} cancelled the interest vector{where}: "
        f"|(1-alpha)*v + alpha*e| = {norm:.3g}, the item points opposite to the interest. "
        "Use another alpha, or keep the previous vector and skip this event"
    )


def _cosine(v: np.ndarray, nv: float, e: np.ndarray, ne: float) -> float:
    return float(v @ e) / (float(nv) * float(ne))


# --------------------------------------------------------------------------------------------
# EMA and subtraction
# --------------------------------------------------------------------------------------------


def ema_update(
    interest: ArrayLike, item: ArrayLike, alpha: float | ArrayLike
) -> np.ndarray:
    """Move the interest towards an item: ``normalize((1 - alpha) * v + alpha * e)``.

    Both inputs are normalized first, so ``alpha`` is the weight of the item's direction.

    Args:
        interest: current interest vector (d,), or (n, d) interests updated row by row.
        item: the item's embedding (d,), or (n, d): one item per interest row.
        alpha: in (0, 1]; 1 replaces the interest by the item, small values move it slightly.
            With (n, d) inputs, a number or one alpha per row (n,).

    Returns:
        The new unit interest vector(s), float32, the shape of ``interest``. Rows are equal to
        updating each row on its own.

    Raises:
        ValueError: alpha outside (0, 1], shapes differ (message names both dimensions).
        DegenerateVectorError: NaN / zero inputs, or the result cancelled (the item points exactly
            opposite to the interest and alpha = 0.5); for rows, the first such row is named.
    """
    if np.ndim(interest) == 2:
        v, nv, e, ne = _pair_batch(interest, item)
        a = _per_row(alpha, v.shape[0], "alpha")
        _check_alpha(a)
        raw, norms, ok = _combine(v, nv, e, ne, 1.0 - a, a)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise _ema_cancel_error(norms[i], float(a[i]), i)
        return (raw / norms[:, None]).astype(STORE_DTYPE)
    a = np.array([alpha], dtype=np.float64)
    _check_alpha(a)
    v, nv, e, ne = _pair(interest, item)
    raw, norms, ok = _combine(v, nv, e, ne, 1.0 - a, a)
    if not ok[0]:
        raise _ema_cancel_error(norms[0], float(a[0]), None)
    return (raw[0] / norms[0]).astype(STORE_DTYPE)


def subtract(interest: ArrayLike, item: ArrayLike, factor: float | ArrayLike) -> np.ndarray:
    """Move the interest away from an item ("not interested"): ``normalize(v - factor * e)``.

    Both inputs are normalized first. ``factor=0`` returns ``normalize(interest)``. Takes one
    vector (d,) or (n, d) rows (one item per row; ``factor`` a number or (n,)), like
    :func:`ema_update`.

    Raises:
        ValueError: factor negative or not finite; shapes differ.
        OvershootError: the result cancelled (item ~ interest and factor ~ 1); see its docstring.
            For rows, the first row that cancels (``row``).
        DegenerateVectorError: NaN / zero inputs.
    """
    if np.ndim(interest) == 2:
        v, nv, e, ne = _pair_batch(interest, item)
        f = _per_row(factor, v.shape[0], "factor")
        _check_factor(f)
        raw, norms, ok = _combine(v, nv, e, ne, np.ones(v.shape[0]), -f)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise OvershootError(norms[i], float(f[i]), _cosine(v[i], nv[i], e[i], ne[i]), row=i)
        return (raw / norms[:, None]).astype(STORE_DTYPE)
    f = np.array([factor], dtype=np.float64)
    _check_factor(f)
    v, nv, e, ne = _pair(interest, item)
    raw, norms, ok = _combine(v, nv, e, ne, np.ones(1), -f)
    if not ok[0]:
        raise OvershootError(norms[0], float(f[0]), _cosine(v[0], nv[0], e[0], ne[0]))
    return (raw[0] / norms[0]).astype(STORE_DTYPE)


ColdSubtract = Literal["negate", "ignore"]


def apply_event(
    interest: ArrayLike | None,
    item: ArrayLike,
    op: str | int,
    param: float,
    *,
    cold_subtract: ColdSubtract = "negate",
) -> np.ndarray | None:
    """One step of a history, including the cold-start rule; ``replay.replay`` is a loop of this.

    - ``interest`` is None (cold start): ``"ema"`` -> ``normalize(item)`` (alpha ignored, but
      validated). ``"subtract"`` with ``cold_subtract="negate"`` (default) and factor > 0 ->
      ``normalize(-item)``: a user whose first event is "not interested" starts pointing away
      from that item. With ``cold_subtract="ignore"``, or factor 0 (subtraction switched off),
      it is a no-op and returns None: the user stays cold until a positive event.
    - otherwise ``ema_update(interest, item, param)`` or ``subtract(interest, item, param)``.

    Raises whatever those raise (OvershootError / DegenerateVectorError on cancellation).
    """
    code = _OP_NAMES.get(op) if isinstance(op, str) else op
    if code not in (OP_EMA, OP_SUBTRACT):
        code = _op_codes(np.array([op]))[0]  # raises, naming the unknown op
    if interest is None:
        if code == OP_EMA:
            _check_alpha(np.array([param], dtype=np.float64))
            return normalize(validate_vector(item, name="item vector"))
        _check_factor(np.array([param], dtype=np.float64))
        e = validate_vector(item, name="item vector")
        _check_cold_subtract(cold_subtract)
        if float(param) == 0.0 or cold_subtract == "ignore":
            return None
        return normalize(-np.asarray(e, dtype=np.float64))
    if code == OP_EMA:
        return ema_update(interest, item, param)
    return subtract(interest, item, param)


# --------------------------------------------------------------------------------------------
# event op codes (the replay engine is recsys_nb.replay)
# --------------------------------------------------------------------------------------------


def _op_codes(ops: Sequence[str] | ArrayLike) -> np.ndarray:
    arr = np.asarray(ops)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int8)
    if arr.dtype.kind in "iu":
        bad = ~np.isin(arr, (OP_EMA, OP_SUBTRACT))
        codes = np.where(bad, -1, arr).astype(np.int8)
    elif arr.dtype.kind in "UOT":
        text = arr.astype(str)
        codes = np.full(text.shape, -1, dtype=np.int8)
        for name, code in _OP_NAMES.items():
            codes[text == name] = code
        bad = codes < 0
    else:
        raise ValueError(
            f"ops must be strings 'ema' / 'subtract' or codes {OP_EMA} / {OP_SUBTRACT}; "
            f"got dtype {arr.dtype}"
        )
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(-1))[0])
        raise ValueError(
            f"unknown op {arr.reshape(-1)[i].item()!r} at event {i}; use 'ema' / 'subtract' "
            f"(or codes {OP_EMA} / {OP_SUBTRACT})"
        )
    return codes.reshape(-1)


def _check_cold_subtract(rule: str) -> None:
    if rule not in ("negate", "ignore"):
        raise ValueError(f"cold_subtract={rule!r}; use 'negate' or 'ignore'")



# --------------------------------------------------------------------------------------------
# centroids and momentum
# --------------------------------------------------------------------------------------------


def trajectory(items: ArrayLike, ops: Sequence[str], params: ArrayLike) -> np.ndarray:
    """The interest vector after every event of one ordered history: ``(m, d)`` float32.

    A loop of :func:`apply_event` (``cold_subtract="ignore"``): the first positive event is the
    cold start, a not-interested before it moves nothing, and a step that would cancel the
    vector keeps the previous one, as the Recommender does. Rows before the first vector are NaN.

    Args:
        items: the history's item vectors, (m, d), oldest first.
        ops: "ema" or "subtract" per event.
        params: alpha (ema) or factor (subtract) per event.
    """
    matrix = _validate_batch(items, "items")
    p = np.asarray(params, dtype=np.float64).reshape(-1)
    if len(ops) != len(matrix) or len(p) != len(matrix):
        raise ValueError(
            f"{len(matrix)} item vectors, {len(ops)} ops and {len(p)} params: pass one per event"
        )
    out = np.full(matrix.shape, np.nan, dtype=STORE_DTYPE)
    v = None
    for k in range(len(matrix)):
        try:
            new = apply_event(v, matrix[k], ops[k], float(p[k]), cold_subtract="ignore")
        except DegenerateVectorError:  # would cancel: the service keeps the previous vector
            new = v
        if new is not None:
            v = out[k] = new
    return out


def history_weights(
    items: ArrayLike, ops: Sequence[str], params: ArrayLike
) -> np.ndarray:
    """How much each event of a history weighs in the interest vector it produced.

    Every step of the technique is linear before its normalization (``(1 - alpha) * v + alpha * e``,
    ``v - factor * e``), so the final interest is exactly ``sum_i w_i * e_i`` over the history's
    (unit) item vectors. That makes an explanation exact: ``v . x = sum_i w_i * (e_i . x)``, so the
    events with the largest ``w_i * cos(e_i, x)`` are the ones that put item ``x`` on the list.
    The rules are :func:`apply_event`'s with ``cold_subtract="ignore"``: a not-interested before
    any positive event, and a step that would cancel the vector, change nothing (weight 0).

    Args:
        items: the history's item vectors, (m, d), oldest first.
        ops: "ema" or "subtract" per event.
        params: alpha (ema) or factor (subtract) per event.

    Returns:
        (m,) float64 weights: positive for the pull of views / favorites (recent ones weigh more),
        negative for not-interested pushes, 0 for events that had no effect.
    """
    unit = _unit_rows64(_validate_batch(items, "items"), "items")
    m = unit.shape[0]
    codes = _op_codes(ops)
    p = np.asarray(params, dtype=np.float64).reshape(-1)
    if codes.shape[0] != m or p.shape[0] != m:
        raise ValueError(
            f"{m} item vectors, {codes.shape[0]} ops and {p.shape[0]} params: pass one per event"
        )
    weights = np.zeros(m)
    v: np.ndarray | None = None
    for i in range(m):
        if v is None:
            if codes[i] == OP_EMA:
                _check_alpha(p[i : i + 1])
                weights[i], v = 1.0, unit[i].copy()
            continue
        keep, push = (1.0 - p[i], p[i]) if codes[i] == OP_EMA else (1.0, -p[i])
        raw = keep * v + push * unit[i]
        norm = float(np.sqrt(raw @ raw))
        if norm <= EPS:  # the service keeps the previous vector (overshoot)
            continue
        weights *= keep / norm
        weights[i] += push / norm
        v = raw / norm
    return weights


def average(vectors: ArrayLike, weights: ArrayLike | None = None) -> np.ndarray:
    """Normalized (weighted) mean of the rows, each row normalized first: a centroid direction.

    Raises:
        ValueError: empty input, not 2-D, weights of another length, negative or all-zero weights.
        DegenerateVectorError: a bad row, or the rows cancel (mean ~ 0).
    """
    arr = _validate_batch(vectors, "vectors")
    n = arr.shape[0]
    if n == 0:
        raise ValueError("average of no vectors is undefined; pass at least one row")
    unit = _unit_rows64(arr, "vectors")
    if weights is None:
        w = np.full(n, 1.0 / n)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape[0] != n:
            raise ValueError(f"{w.shape[0]} weights for {n} vectors: pass one weight per row")
        bad = ~((w >= 0) & np.isfinite(w))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"weight {float(w[i])!r} at row {i} must be a finite number >= 0")
        total = w.sum()
        if total <= 0:
            raise ValueError("all weights are zero; give at least one row a positive weight")
        w = w / total
    mean = w @ unit
    norm = float(np.sqrt(mean @ mean))
    if norm <= EPS:
        raise DegenerateVectorError(
            f"the vectors cancel: their mean has norm {norm:.3g} (<= EPS={EPS:g}), so it has no "
            "direction; average fewer or other vectors"
        )
    return (mean / norm).astype(STORE_DTYPE)


def predict_momentum(
    history: ArrayLike, split: int | None = None, weight: float = 1.0
) -> np.ndarray:
    """Extrapolate the drift of a history: ``normalize(a2 + weight * (a2 - a1))``.

    ``a1`` is the mean of the (normalized) older part ``history[:split]``, ``a2`` of the newer part
    ``history[split:]`` (oldest first). The write-up uses ``split = n // 2`` and ``weight = 1``.

    Args:
        history: (n, d) item embeddings, oldest first, n >= 2.
        split: where the "recent" part starts, in [1, n - 1]; None -> ``n // 2``.
        weight: how far to extrapolate, >= 0 (0 returns the recent mean).

    Raises:
        ValueError: fewer than 2 items (the caller decides the fallback), split out of range,
            bad weight.
        DegenerateVectorError: the extrapolation cancelled.
    """
    arr = _validate_batch(history, "history")
    n = arr.shape[0]
    if n < 2:
        raise ValueError(
            f"momentum needs at least 2 items in the history, got {n}; fall back to the "
            "interest vector (or the item itself) for such users"
        )
    s = n // 2 if split is None else int(split)
    if not 1 <= s <= n - 1:
        raise ValueError(f"split={split} is outside [1, {n - 1}] for a history of {n} items")
    w = float(weight)
    if not (np.isfinite(w) and w >= 0):
        raise ValueError(f"weight={weight!r} must be a finite number >= 0; the write-up uses 1.0")
    unit = _unit_rows64(arr, "history")
    a1 = unit[:s].mean(axis=0)
    a2 = unit[s:].mean(axis=0)
    p = (1.0 + w) * a2 - w * a1
    norm = float(np.sqrt(p @ p))
    if norm <= EPS * (1.0 + 2.0 * w):
        raise DegenerateVectorError(
            f"the momentum prediction cancelled: |a2 + {w:g}*(a2 - a1)| = {norm:.3g}; use a "
            "smaller weight or fall back to the recent mean"
        )
    return (p / norm).astype(STORE_DTYPE)


#: How :func:`predict_from_window` (and ``Recommender.predict_interest``) extrapolate a window.
MOMENTUM_METHODS = ("momentum", "recent", "time_weighted")
#: The momentum window of the original write-up (its last N events), and the fewest positive
#: events a window needs before a prediction replaces the current interest: the defaults of
#: ``Recommender.predict_interest``, ``trajectories.predicted_trajectory`` and the scrubber.
WRITEUP_WINDOW: int = 10
MIN_WINDOW_EVENTS: int = 4


def predict_from_window(
    window: ArrayLike,
    method: str = "momentum",
    weight: float = 1.0,
    half_life: float | None = None,
) -> np.ndarray:
    """The predicted interest from the last positive items of a history (oldest first).

    The math of ``Recommender.predict_interest`` once the window is read from the event log
    (without its fallbacks; the caller decides them):

    - ``"momentum"``: ``normalize(a2 + weight * (a2 - a1))``, ``a1``/``a2`` the means of the
      older/newer half (:func:`predict_momentum`; ``weight=1`` is the write-up's, ``< 1`` damped);
    - ``"recent"``: the mean of the window (no extrapolation);
    - ``"time_weighted"``: ``r`` = mean weighted by ``0.5 ** (age / half_life)`` (age in events,
      newest 0; ``half_life`` defaults to half the window's length), ``u`` = the plain mean,
      ``normalize(r + weight * (r - u))``.

    Raises:
        ValueError: an unknown method, ``half_life <= 0``, fewer than 2 rows, a bad weight.
        DegenerateVectorError: the prediction cancels (callers fall back to the current vector).
    """
    if method not in MOMENTUM_METHODS:
        raise ValueError(f"method={method!r} is unknown; use one of {list(MOMENTUM_METHODS)}")
    items = np.asarray(window)
    if method == "momentum":
        return predict_momentum(items, weight=weight)
    if method == "recent":
        return average(items)
    n = items.shape[0]
    hl = float(half_life) if half_life is not None else n / 2
    if not hl > 0:
        raise ValueError(f"half_life={half_life!r} must be > 0, e.g. half the window")
    w = float(weight)
    if not (np.isfinite(w) and w >= 0):
        raise ValueError(f"weight={weight!r} must be a finite number >= 0; the write-up uses 1.0")
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    recent = average(items, weights=0.5 ** (age / hl)).astype(np.float64)
    uniform = average(items).astype(np.float64)
    return normalize(recent + w * (recent - uniform))


# --------------------------------------------------------------------------------------------
# similarity and exact search
# --------------------------------------------------------------------------------------------


def cosine_similarity(a: ArrayLike, b: ArrayLike) -> float | np.ndarray:
    """Cosine similarity: (d,)·(d,) -> float; (n, d)·(d,) -> (n,); (n, d)·(m, d) -> (n, m).

    Raises:
        ValueError: dimensions differ (naming both). DegenerateVectorError: zero / NaN rows.
    """
    a_arr, b_arr = _as_float(a, "a"), _as_float(b, "b")
    if a_arr.ndim not in (1, 2) or b_arr.ndim not in (1, 2):
        raise ValueError(
            f"cosine_similarity takes 1-D or 2-D arrays; got {a_arr.shape}, {b_arr.shape}"
        )
    _check_dim(b_arr.shape[-1], a_arr.shape[-1], "b", "a")
    ua = _unit_rows64(np.atleast_2d(a_arr), "a")
    ub = _unit_rows64(np.atleast_2d(b_arr), "b")
    sims = ua @ ub.T
    if a_arr.ndim == 1 and b_arr.ndim == 1:
        return float(sims[0, 0])
    if b_arr.ndim == 1:
        return sims[:, 0]
    if a_arr.ndim == 1:
        return sims[0]
    return sims


def _exclude_mask(exclude: ArrayLike | None, n_rows: int) -> np.ndarray | None:
    if exclude is None:
        return None
    arr = np.asarray(exclude)
    if arr.dtype == bool:
        if arr.shape != (n_rows,):
            raise ValueError(f"a boolean exclude mask must have shape ({n_rows},); got {arr.shape}")
        return arr
    idx = arr.reshape(-1)
    if idx.size == 0:
        return None
    if idx.dtype.kind not in "iu":
        raise ValueError(f"exclude must hold integer row indices; got dtype {idx.dtype}")
    bad = (idx < 0) | (idx >= n_rows)
    if bad.any():
        raise ValueError(f"exclude index {idx[bad][0]} is outside the matrix rows 0..{n_rows - 1}")
    mask = np.zeros(n_rows, dtype=bool)
    mask[idx] = True
    return mask


def _check_n(n: int) -> int:
    n = int(n)
    if n < 1:
        raise ValueError(f"n={n} must be >= 1 (how many neighbours to return)")
    return n


def cosine_top_n(
    query: ArrayLike,
    matrix: ArrayLike,
    n: int,
    exclude: ArrayLike | Sequence[ArrayLike | None] | None = None,
    *,
    assume_unit: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-n rows of ``matrix`` by cosine similarity to ``query`` (the numpy baseline).

    One query (d,) or many (q, d) in one matrix product.

    Args:
        query: (d,) vector, or (q, d) queries.
        matrix: (N, d) candidates (e.g. all item embeddings). A float32 matrix is searched in
            float32 (scores exact to ~1e-7, twice as fast as float64).
        n: how many to return per query.
        exclude: rows never to return, e.g. seen items: for one query, row indices or a boolean
            mask of length N; for (q, d) queries, None or one such entry (or None) per query.
        assume_unit: skip computing (and checking) the row norms because the rows are already
            unit length (e.g. ``normalize(matrix)`` done once): saves a pass over the matrix.

    Returns:
        ``(indices int64, scores float64)``, best first. One query: (k,) each, ``k <= n`` (fewer
        when fewer rows are left after ``exclude``). (q, d) queries: (q, n) each; where a query
        has fewer than n rows left, the tail is padded with index -1 and score -inf.
    """
    if np.ndim(query) == 2:
        return _top_n_rows(query, matrix, n, exclude, assume_unit)
    mat = _validate_batch(matrix, "matrix")
    q = validate_vector(query, dim=mat.shape[1], name="query", other="each matrix row")
    idx, scores = _top_n_rows(
        q[None, :], mat, n, None if exclude is None else [exclude], assume_unit
    )
    keep = idx[0] >= 0
    return idx[0][keep], scores[0][keep]


def _top_n_rows(
    queries: ArrayLike,
    matrix: ArrayLike,
    n: int,
    exclude: Sequence[ArrayLike | None] | None,
    assume_unit: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of (q, d) queries, ranked by the package's one kernel (``topn.top_n``)."""
    n = _check_n(n)
    mat = _validate_batch(matrix, "matrix")
    qs = _validate_batch(queries, "queries", mat.shape[1], "each matrix row")
    n_rows = mat.shape[0]
    work = mat.dtype if mat.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    mat = mat.astype(work, copy=False)
    scores = _unit_rows64(qs, "queries").astype(work) @ mat.T
    if not assume_unit:
        norms = np.sqrt(np.einsum("ij,ij->i", mat, mat))
        ok = (norms > EPS) & (norms < np.inf)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise DegenerateVectorError(
                f"matrix row {i} is a zero or non-finite vector (norm {norms[i]:.3g}); "
                "cosine similarity to it is undefined: fix or drop that row"
            )
        scores /= norms[None, :]
    if exclude is not None:
        if len(exclude) != qs.shape[0]:
            raise ValueError(f"{len(exclude)} exclude entries for {qs.shape[0]} queries")
        masks = [_exclude_mask(ex, n_rows) for ex in exclude]
        exclude = [None if m is None else np.flatnonzero(m) for m in masks]
    return top_n(scores, n, exclude)
