"""Item vectors learned from events: truncated SVD, sequence PPMI, and their blend."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from recsys_nb.embeddings.protocol import _unit_rows

# --------------------------------------------------------------------------------------------
# Collaborative item embeddings (truncated SVD of the user x item matrix)
# --------------------------------------------------------------------------------------------

SVD_WEIGHTINGS = ("binary", "rating")


def _interactions(events: pd.DataFrame) -> pd.DataFrame:
    """Positive interactions: every event except ``kind == "not_interested"``."""
    missing = {"user_id", "item_id"} - set(events.columns)
    if missing:
        raise ValueError(f"events lacks column(s) {sorted(missing)}; it needs user_id and item_id")
    if "kind" in events.columns:
        events = events[events["kind"] != "not_interested"]
    return events


def collaborative_model_id(
    events: pd.DataFrame,
    dim: int = 64,
    seed: int = 0,
    *,
    weighting: str = "binary",
    power: float = 1.0,
) -> str:
    """A stable id for SVD item vectors: ``"svd64-<8 hex>"``.

    The hex is a fingerprint of the (user, item, rating, kind) rows (row order does not matter) and
    of ``seed``/``weighting``/``power``, so new events or other settings give a new id, and
    caches/collections built from other vectors are never mixed up.
    """
    digest = _events_fingerprint(events, ("user_id", "item_id", "rating", "kind"),
                                 f"{dim}|{seed}|{weighting}|{power:g}")
    return f"svd{dim}-{digest}"


def _events_fingerprint(events: pd.DataFrame, columns: tuple[str, ...], settings: str) -> str:
    """8 hex digits of sha256 over the rows of ``columns`` (those present; row order does not
    matter) and ``settings``: the part of a model id that changes when the events do."""
    cols = [c for c in columns if c in events.columns]
    row_hashes = np.sort(pd.util.hash_pandas_object(events[cols], index=False).to_numpy())
    h = hashlib.sha256(row_hashes.tobytes())
    h.update(f"|{','.join(cols)}|{settings}".encode())
    return h.hexdigest()[:8]


def svd_item_embeddings(
    events: pd.DataFrame,
    item_ids: Sequence[int],
    dim: int = 64,
    seed: int = 0,
    items: pd.DataFrame | None = None,
    *,
    weighting: str = "binary",
    power: float = 1.0,
) -> np.ndarray:
    """Collaborative item vectors: truncated SVD of the user x item interaction matrix.

    The matrix ``A`` has one row per user and one column per item in ``item_ids``:

    - ``weighting="binary"`` (default): 1 where the user interacted with the item (any rating,
      view or favorite; ``kind == "not_interested"`` is dropped). Implicit feedback: that you
      watched a film says more about your taste than the stars you gave it, and it works for events
      without ratings. ``"rating"`` uses the (mean) rating instead.
    - each user row is scaled to unit length (heavy raters do not dominate the factors), then
      each item column is divided by the square root of its norm (damps popularity without
      erasing it).

    ``A ~ U S V^T`` (``scipy.sparse.linalg.svds``, ARPACK, start vector from ``seed``); item vectors
    are the rows of ``V * S**power``, L2-normalized. Measured on MovieLens (temporal 80/20 split per
    user, EMA interest vectors with alpha 0.3, Recall@50): ``power`` 0 / 0.5 / 1 / 1.5 gave 0.19 /
    0.22 / 0.24 / 0.24, binary 0.243 vs rating 0.246 with these normalisations, without the
    normalisations 0.23. Hence binary (works without ratings), ``power=1``.

    Items without events get the normalized mean vector of the items with events that share one
    of their genres (if ``items`` with ``item_id``/``genres`` is given), else the normalized mean of
    all item vectors: a neutral, finite vector (never NaN) near what similar items look like.

    Args:
        events: ``user_id``, ``item_id`` (and ``rating`` for ``weighting="rating"``, ``kind``).
        item_ids: the items to return, in this order (events on other items are ignored).
        dim: vector size; must be < min(number of users, number of items with events).
        seed: seeds the ARPACK start vector; the same inputs and seed give the same vectors.

    Returns:
        ``(len(item_ids), dim)`` float32, unit rows, row ``i`` for ``item_ids[i]``.
    """
    from scipy import sparse
    from scipy.sparse.linalg import svds

    if weighting not in SVD_WEIGHTINGS:
        raise ValueError(f"weighting={weighting!r} is unknown; use one of {list(SVD_WEIGHTINGS)}")
    if dim < 1:
        raise ValueError(f"dim={dim} must be a positive integer, e.g. 64")
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if len(np.unique(item_ids)) != len(item_ids):
        raise ValueError("item_ids contains duplicates; pass each item once")
    ev = _interactions(events)
    col_of = pd.Index(item_ids)
    cols = col_of.get_indexer(ev["item_id"].to_numpy())
    ev = ev[cols >= 0]
    cols = cols[cols >= 0]
    if weighting == "rating":
        if "rating" not in ev.columns:
            raise ValueError("weighting='rating' needs a rating column in events; use 'binary'")
        values = ev["rating"].to_numpy(dtype=np.float64)
    else:
        values = np.ones(len(ev))
    try:  # sorted users: the result does not depend on the row order of events
        user_codes, users = pd.factorize(ev["user_id"], sort=True)
    except TypeError:  # mixed id types (int and str) do not sort; compare them as text
        user_codes, users = pd.factorize(ev["user_id"].astype(str), sort=True)
    n_users, n_items_with_events = len(users), len(np.unique(cols))
    if dim >= min(n_users, n_items_with_events):
        raise ValueError(
            f"dim={dim} must be smaller than both the number of users ({n_users}) and of items "
            f"with events ({n_items_with_events}); pass "
            f"dim <= {min(n_users, n_items_with_events) - 1} "
            "or use more events"
        )
    frame = pd.DataFrame({"u": user_codes, "i": cols, "v": values})
    agg = frame.groupby(["u", "i"], sort=True)["v"].mean()  # duplicates: one cell each
    a = sparse.csr_matrix(
        (agg.to_numpy(), (agg.index.get_level_values(0), agg.index.get_level_values(1))),
        shape=(n_users, len(item_ids)),
    )
    row_norm = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
    a = sparse.diags(1.0 / np.where(row_norm > 0, row_norm, 1.0)) @ a
    col_norm = np.sqrt(np.asarray(a.multiply(a).sum(axis=0)).ravel())
    a = (a @ sparse.diags(1.0 / np.sqrt(np.where(col_norm > 0, col_norm, 1.0)))).tocsr()

    rng = np.random.default_rng(seed)
    _, s, vt = svds(a, k=dim, v0=rng.standard_normal(min(a.shape)), solver="arpack")
    order = np.argsort(-s)
    s, vt = s[order], vt[order]
    # Fix each factor's sign (SVD leaves it arbitrary): largest-magnitude entry positive.
    signs = np.sign(vt[np.arange(dim), np.abs(vt).argmax(axis=1)])
    vt *= np.where(signs == 0, 1.0, signs)[:, None]
    vectors = vt.T * s**power
    norms = np.linalg.norm(vectors, axis=1)
    warm = (col_norm > 0) & (norms > 1e-12)
    vectors[warm] /= norms[warm, None]
    _fill_cold_items(vectors, warm, item_ids, items)
    return vectors.astype(np.float32)


def sequence_model_id(
    events: pd.DataFrame, dim: int = 64, seed: int = 0, *, window: int = 5, power: float = 0.5,
    cds: float = 0.75,
) -> str:
    """A stable id for :func:`sequence_item_embeddings`: ``"seq64w5-<8 hex>"`` (events + settings).

    Unlike :func:`collaborative_model_id`, the fingerprint includes the timestamps: the sequence
    vectors depend on the order of each user's events.
    """
    digest = _events_fingerprint(events, ("user_id", "item_id", "kind", "timestamp"),
                                 f"{dim}|{seed}|{window}|{power:g}|{cds:g}")
    return f"seq{dim}w{window}-{digest}"


def sequence_item_embeddings(
    events: pd.DataFrame,
    item_ids: Sequence[int],
    dim: int = 64,
    seed: int = 0,
    items: pd.DataFrame | None = None,
    *,
    window: int = 5,
    power: float = 0.5,
    cds: float = 0.75,
) -> np.ndarray:
    """Item vectors from what users watch NEXT to each other: item2vec as a matrix factorization.

    Each user's positive events (``kind != "not_interested"``) are put in time order; two items
    at most ``window`` events apart in one user's sequence co-occur. The co-occurrence counts
    ``C`` become a positive pointwise-mutual-information matrix
    ``max(0, log(C_ij * total / (c_i * P(j))))`` with context counts smoothed by ``cds``
    (``P(j) ~ c_j ** cds``, as word2vec does; rare items get less inflated PMI), whose top ``dim``
    eigenvectors ``Q`` (largest eigenvalues ``s``, ``scipy.sparse.linalg.eigsh``) give
    ``e_i = Q_i * s ** power``, L2-normalized. This is the matrix that skip-gram with negative
    sampling factorizes implicitly (Levy & Goldberg 2014), solved exactly and deterministically.

    Why: an interest vector is an exponential moving average of RECENT items, so what it should
    retrieve is what users watch soon after those items. Whole-history co-occurrence (the SVD of
    :func:`svd_item_embeddings`) blurs that with everything a user ever rated. Measured on the
    MovieLens temporal 80/20 split (``benchmarks/tune_default.py sequence``, popularity prior
    0.8): window 2 / 5 / 8 / 20 gave Recall@50 0.255 / 0.263 / 0.262 / 0.254 alone, and blended
    with the SVD vectors (see ``embed_items(..., "blend")``) up to 0.28.

    Items without co-occurrences get a vector as in :func:`svd_item_embeddings` (genre centroid,
    else the global centroid).

    Args:
        events: ``user_id``, ``item_id``, ``timestamp`` (``kind`` optional).
        item_ids: the items to return, in this order (events on other items are ignored).
        dim: vector size; must be smaller than the number of items that co-occur.
        seed: seeds the ARPACK start vector; same inputs and seed give the same vectors.
        window: how many events apart two items may be and still co-occur, >= 1.
        power: eigenvalue weighting (0 = eigenvectors only, 1 = full spectrum).
        cds: context-distribution smoothing exponent in (0, 1].

    Returns:
        ``(len(item_ids), dim)`` float32, unit rows, row ``i`` for ``item_ids[i]``.
    """
    from scipy import sparse
    from scipy.sparse.linalg import eigsh

    if isinstance(dim, bool) or int(dim) != dim or dim < 1:
        raise ValueError(f"dim={dim!r} must be a positive integer, e.g. 64")
    if isinstance(window, bool) or int(window) != window or window < 1:
        raise ValueError(f"window={window!r} must be a positive integer, e.g. 5")
    if not (np.isfinite(power) and power >= 0):
        raise ValueError(f"power={power!r} must be a finite number >= 0, e.g. 0.5")
    if not (np.isfinite(cds) and 0 < cds <= 1):
        raise ValueError(f"cds={cds!r} must be in (0, 1], e.g. 0.75")
    if "timestamp" not in events.columns:
        raise ValueError("events lacks a timestamp column; sequence vectors need the event order")
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if len(np.unique(item_ids)) != len(item_ids):
        raise ValueError("item_ids contains duplicates; pass each item once")
    ev = _interactions(events)
    cols = pd.Index(item_ids).get_indexer(ev["item_id"].to_numpy())
    ev = ev.assign(_col=cols)[cols >= 0]
    try:  # group each user's events together, in time order (stable: ties keep input order)
        ev = ev.sort_values(["user_id", "timestamp"], kind="stable")
    except TypeError:  # mixed id types (int and str) do not sort; compare them as text
        ev = ev.assign(_u=ev["user_id"].astype(str)).sort_values(["_u", "timestamp"],
                                                                 kind="stable")
    cols = ev["_col"].to_numpy()
    users = pd.factorize(ev["user_id"])[0]
    n = len(item_ids)
    pairs_i, pairs_j = [], []
    for d in range(1, int(window) + 1):  # pairs d steps apart within the same user
        same = users[d:] == users[:-d]
        pairs_i.append(cols[:-d][same])
        pairs_j.append(cols[d:][same])
    i, j = np.concatenate(pairs_i), np.concatenate(pairs_j)
    keep = i != j  # an item next to itself (a re-watch) says nothing about neighbours
    i, j = i[keep], j[keep]
    co = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    co = (co + co.T).tocoo()  # symmetric: order within the window does not matter
    counts = np.asarray(co.sum(axis=1)).ravel()
    n_active = int((counts > 0).sum())
    if dim >= n_active:
        raise ValueError(
            f"dim={dim} must be smaller than the number of items that co-occur within "
            f"{window} events of one user ({n_active}); pass dim <= {max(n_active - 1, 0)} "
            "or use more events"
        )
    total = counts.sum()
    context = counts**cds / (counts**cds).sum()
    pmi = np.log(co.data / total / ((counts[co.row] / total) * context[co.col]))
    positive = pmi > 0
    m = sparse.csr_matrix((pmi[positive], (co.row[positive], co.col[positive])), shape=co.shape)
    m = (m + m.T) / 2  # cds makes PMI slightly asymmetric; eigsh needs a symmetric matrix
    rng = np.random.default_rng(seed)
    s, q = eigsh(m, k=int(dim), which="LA", v0=rng.standard_normal(n))
    order = np.argsort(-s)
    s, q = s[order], q[:, order]
    # Fix each eigenvector's sign (arbitrary): largest-magnitude entry positive.
    signs = np.sign(q[np.abs(q).argmax(axis=0), np.arange(q.shape[1])])
    q *= np.where(signs == 0, 1.0, signs)[None, :]
    vectors = q * np.abs(s) ** power
    norms = np.linalg.norm(vectors, axis=1)
    warm = (counts > 0) & (norms > 1e-12)
    vectors[warm] /= norms[warm, None]
    _fill_cold_items(vectors, warm, item_ids, items)
    return vectors.astype(np.float32)


def _fill_cold_items(
    vectors: np.ndarray, warm: np.ndarray, item_ids: np.ndarray, items: pd.DataFrame | None
) -> None:
    """Give items without events a vector in place (genre centroid, else global centroid)."""
    if warm.all():
        return
    if not warm.any():
        raise ValueError(
            "no item in item_ids has events; nothing to learn collaborative vectors from"
        )

    def unit(v: np.ndarray) -> np.ndarray | None:
        n = np.linalg.norm(v)
        return v / n if n > 1e-12 else None

    global_mean = unit(vectors[warm].mean(axis=0))
    if global_mean is None:  # warm vectors cancel out exactly: pick a fixed, documented direction
        global_mean = np.full(vectors.shape[1], 1.0 / np.sqrt(vectors.shape[1]))
    genre_mean: dict[str, np.ndarray] = {}
    genres_of: dict[int, list[str]] = {}
    if items is not None and {"item_id", "genres"} <= set(items.columns):
        for item_id, genres in zip(items["item_id"].to_numpy(), items["genres"], strict=True):
            if isinstance(genres, str):
                genres = genres.split("|")
            genres_of[int(item_id)] = [g for g in (genres if genres is not None else []) if g]
        sums: dict[str, np.ndarray] = {}
        for i in np.flatnonzero(warm):
            for g in genres_of.get(int(item_ids[i]), []):
                sums[g] = sums.get(g, 0.0) + vectors[i]
        genre_mean = {g: v for g, v in sums.items()}
    for i in np.flatnonzero(~warm):
        parts = [genre_mean[g] for g in genres_of.get(int(item_ids[i]), []) if g in genre_mean]
        vec = unit(np.sum(parts, axis=0)) if parts else None
        vectors[i] = vec if vec is not None else global_mean


# --------------------------------------------------------------------------------------------
# The blend of sequence and SVD vectors
# --------------------------------------------------------------------------------------------

#: Share of the sequence part in the "blend" item vectors (the rest is SVD with power 0.5).
BLEND_SEQUENCE_WEIGHT = 0.5


def blend_model_id(events: pd.DataFrame, dim: int = 64, seed: int = 0) -> str:
    """The id of the "blend" space: both parts' ids, so either's inputs changing changes it."""
    return (f"blend-{sequence_model_id(events, dim, seed)}"
            f"+{collaborative_model_id(events, dim, seed, power=0.5)}")


def blend_item_embeddings(
    events: pd.DataFrame,
    item_ids: Sequence[int],
    dim: int = 64,
    seed: int = 0,
    items: pd.DataFrame | None = None,
) -> np.ndarray:
    """``[sqrt(w) * sequence, sqrt(1 - w) * svd]`` (``w`` = :data:`BLEND_SEQUENCE_WEIGHT`, SVD with
    ``power=0.5``), unit rows: its cosine is the weighted mean of the two parts' cosines."""
    seq = sequence_item_embeddings(events, item_ids, dim=dim, seed=seed, items=items)
    svd = svd_item_embeddings(events, item_ids, dim=dim, seed=seed, items=items, power=0.5)
    w = BLEND_SEQUENCE_WEIGHT
    return _unit_rows(np.hstack([np.sqrt(w) * seq, np.sqrt(1.0 - w) * svd]))
