"""Item-item neighbourhood baselines: item-kNN (cosine with shrinkage) and RP3beta.

Both learn an item x item weight matrix ``W`` from the training matrix ``X`` and score a user as
``x_u W``: every item the user interacted with votes for its neighbours. The unpruned matrices
are memoized on the :class:`~recsys_nb.evaluate.interactions.Interactions`, so a sweep over
``neighbors`` / ``shrink`` / ``alpha`` / ``beta`` multiplies the sparse matrices once.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from recsys_nb.evaluate.interactions import Interactions, Scorer, check_number
from recsys_nb.evaluate.splits import _check_int

DEFAULT_KNN_NEIGHBORS: int | None = None
DEFAULT_RP3_ALPHA = 1.0
DEFAULT_RP3_BETA = 0.5
DEFAULT_RP3_NEIGHBORS = 200


def _cosine(data: Interactions) -> sparse.csr_matrix:
    """Cosine between the item columns of the binary matrix, diagonal removed (float32)."""
    x = data.matrix
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    xn = (x @ sparse.diags(1.0 / np.where(norms > 0, norms, 1.0))).tocsc().astype(np.float32)
    return _drop_diagonal((xn.T @ xn).tocsr())


def _drop_diagonal(m: sparse.csr_matrix) -> sparse.csr_matrix:
    """``m`` without its diagonal entries (in place; cheaper than ``setdiag``, which inserts
    entries for the items without one)."""
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    m.data[rows == m.indices] = 0
    m.eliminate_zeros()
    return m


def itemknn_scorer(data: Interactions, neighbors: int | None = DEFAULT_KNN_NEIGHBORS,
                   shrink: float = 0.0) -> Scorer:
    """Item-kNN: score = sum of similarities between an item and the user's items.

    ``sim(i, j) = co-count(i, j) / (sqrt(n_i * n_j) + shrink)``, ``n_i`` the item's training
    users: the cosine of the binary item columns when ``shrink`` is 0, and with ``shrink`` > 0 a
    similarity resting on few shared users is pulled towards 0 (a pair seen together once is weak
    evidence, however rare both items are). ``neighbors`` keeps only each item's strongest
    similarities (None keeps all).

    Raises:
        ValueError: ``neighbors`` not an integer >= 1 (or None), ``shrink`` negative.
    """
    shrink = check_number("shrink", shrink, 0.0, 10.0)
    sim = data.memo("cosine", lambda: _cosine(data))
    if shrink > 0:
        # cosine * d / (d + shrink) with d = sqrt(n_i n_j) == co-count / (d + shrink)
        d = data.memo("cosine_norms", lambda: _norm_products(data, sim))
        sim = _with_data(sim, sim.data * (d / (d + np.float32(shrink))))
    if neighbors is not None:
        neighbors = _check_int("neighbors", neighbors, 1)
    # score(u, j) = sum_i x[u, i] * sim[i, j]: the similarity is symmetric before pruning;
    # after pruning row i keeps item i's neighbours, so users "vote" through their items' lists.
    return _vote(data.matrix, sim, neighbors)


def _norm_products(data: Interactions, sim: sparse.csr_matrix) -> np.ndarray:
    """``sqrt(n_i * n_j)`` for every stored entry (i, j) of ``sim``, float32."""
    counts = data.item_counts
    rows = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
    return np.sqrt(counts[rows] * counts[sim.indices]).astype(np.float32)


def _two_step_walk(data: Interactions) -> sparse.csr_matrix:
    """``P_iu @ P_ui``: the probability of walking item -> user -> item, diagonal removed."""
    x = data.matrix.astype(np.float64)
    users = np.asarray(x.sum(axis=1)).ravel()
    items = data.item_counts
    p_ui = sparse.diags(1.0 / np.where(users > 0, users, 1.0)) @ x
    p_iu = sparse.diags(1.0 / np.where(items > 0, items, 1.0)) @ x.T.tocsr()
    return _drop_diagonal((p_iu @ p_ui).tocsr())


def rp3beta_scorer(data: Interactions, alpha: float = DEFAULT_RP3_ALPHA,
                   beta: float = DEFAULT_RP3_BETA,
                   neighbors: int | None = DEFAULT_RP3_NEIGHBORS) -> Scorer:
    """RP3beta (Paudel et al. 2017): a random walk item -> user -> item, popularity discounted.

    ``W = (P_iu @ P_ui) ** alpha`` (elementwise; ``P_ui`` the user -> item and ``P_iu`` the
    item -> user row-normalized matrices), each column ``j`` divided by ``popularity_j ** beta``
    (``beta`` > 0 lifts the long tail), diagonal zeroed, the ``neighbors`` largest weights of each
    row kept (None keeps all); score = ``x_u W``.

    Raises:
        ValueError: ``alpha`` not > 0, ``beta`` negative, ``neighbors`` not an integer >= 1.
    """
    alpha = check_number("alpha", alpha, 0.0, DEFAULT_RP3_ALPHA, inclusive=False)
    beta = check_number("beta", beta, 0.0, DEFAULT_RP3_BETA)
    if neighbors is not None:
        neighbors = _check_int("neighbors", neighbors, 1)
    walk = data.memo("rp3_walk", lambda: _two_step_walk(data))
    weights = walk.data**alpha if alpha != 1.0 else walk.data.copy()
    counts = data.item_counts
    weights /= np.where(counts > 0, counts, 1.0)[walk.indices] ** beta
    w = _with_data(walk, weights)
    return _vote(data.matrix, w, neighbors, relative=True)


def _with_data(m: sparse.csr_matrix, data: np.ndarray) -> sparse.csr_matrix:
    """``m``'s sparsity pattern (shared, not copied) with new values."""
    return sparse.csr_matrix((data, m.indices, m.indptr), shape=m.shape)


def _vote(x: sparse.csr_matrix, w: sparse.csr_matrix, neighbors: int | None,
          relative: bool = False) -> Scorer:
    """Score ``x_u W`` with each row of ``W`` cut to its ``neighbors`` largest entries.

    Only the rows of the items the scored users interacted with are cut (the others get
    multiplied by 0): the same numbers as cutting all of ``W``, and on a rolling cut-off with a
    few dozen scored users a fraction of the work.
    """

    def score(rows: np.ndarray) -> np.ndarray:
        xr = x[rows]
        if neighbors is None:
            return np.asarray((xr @ w).todense(), dtype=np.float64)
        used = np.unique(xr.indices)
        cut = keep_top_per_row(w[used], neighbors, relative)
        return np.asarray((xr[:, used] @ cut).todense(), dtype=np.float64)

    return score


def keep_top_per_row(m: sparse.csr_matrix, n: int, relative: bool = False) -> sparse.csr_matrix:
    """Keep the ``n`` largest entries of each row of a CSR matrix (a copy).

    Values equal to 6 decimals count as ties (float rounding must not decide) and the lower
    column wins, so the result does not depend on the storage order. ``relative`` compares
    values divided by the row's largest one, to 9 decimals: for weights far below 1 (RP3beta's
    walk probabilities are ~1e-6), where 6 absolute decimals would tie almost everything.
    """
    m = m.tocsr(copy=True)
    for r in np.flatnonzero(np.diff(m.indptr) > n):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        vals = m.data[lo:hi]
        key = np.round(vals / np.abs(vals).max(), 9) if relative else np.round(vals, 6)
        # the n-th largest key by partition (linear, no full sort), then ties with it by column
        kth = np.partition(key, key.size - n)[key.size - n]
        keep = key > kth
        tied = np.flatnonzero(key == kth)
        need = n - int(keep.sum())
        keep[tied[np.argsort(m.indices[lo:hi][tied], kind="stable")[:need]]] = True
        vals[~keep] = 0.0
    m.eliminate_zeros()
    return m
