"""EASE (Steck 2019) through one eigendecomposition, and EASE plus a trending prior.

EASE's item weights are ``B = -P / diag(P)`` (zero diagonal) with ``P = (G + lam I)^-1`` and
``G = X^T X``. Two facts make a lambda sweep over many rolling cut-offs cheap and exact:

- only the *active* columns (items with a training interaction) matter: an inactive item has an
  all-zero row and column in ``G``, so it scores exactly 0 in the full formula too;
- with ``G = Q diag(s) Q^T`` (``s`` > 0 the nonzero eigenvalues), ``(G + lam I)^-1 =
  Q diag(1 / (s + lam)) Q^T + (I - Q Q^T) / lam`` for every ``lam``. ``G`` has rank at most the
  number of training users, so when users are fewer than items ``Q`` comes from the small
  users x users matrix ``X X^T`` (``Q = X^T U / sqrt(s)``) and ``P`` is never formed:
  ``x_u P = x_u / lam - ((x_u Q) * c) Q^T`` with ``c = s / (lam (s + lam))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from recsys_nb.evaluate.interactions import Interactions, Scorer, check_number

DEFAULT_EASE_LAMBDA = 500.0
#: eigenvalues below this share of the largest count as 0 (binary Grams: the smallest nonzero
#: eigenvalue is far above it; float noise on a true 0 is ~1e-13 of the largest)
_RANK_TOLERANCE = 1e-10


@dataclass(frozen=True, eq=False)
class EaseFactor:
    """The eigendecomposition of the Gram matrix of the active columns: every lambda's EASE.

    Attributes:
        active: catalogue positions of the items with training events.
        x: (users x active) training matrix, float64 CSR.
        q: (active x rank) orthonormal eigenvectors of ``G`` with nonzero eigenvalues.
        s: (rank,) those eigenvalues.
        n_items: catalogue size.
    """

    active: np.ndarray
    x: sparse.csr_matrix
    q: np.ndarray
    s: np.ndarray
    n_items: int

    def p_diagonal(self, lam: float) -> np.ndarray:
        """``diag((G + lam I)^-1)`` over the active items."""
        c = self.s / (lam * (self.s + lam))
        return 1.0 / lam - (self.q**2) @ c

    def scorer(self, lam: float = DEFAULT_EASE_LAMBDA) -> Scorer:
        """EASE scores ``x_u B`` for one ``lam`` (the same numbers as the closed form)."""
        lam = _check_lambda(lam)
        c = self.s / (lam * (self.s + lam))
        diag = self.p_diagonal(lam)

        def score(rows: np.ndarray) -> np.ndarray:
            xu = self.x[rows]
            xp = xu.toarray() / lam - ((xu @ self.q) * c) @ self.q.T
            out = np.zeros((len(rows), self.n_items))
            # B = -P / diag(P) with B_jj = 0: x_u B = -x_u P / diag(P) + x_u
            out[:, self.active] = -xp / diag + xu.toarray()
            return out

        return score


def ease_factor(data: Interactions) -> EaseFactor:
    """Eigendecompose the active Gram matrix once (from ``X X^T`` when users are fewer)."""
    active = np.flatnonzero(data.item_counts > 0)
    x = data.matrix[:, active].astype(np.float64).tocsr()
    if x.shape[0] < x.shape[1]:
        s, u = np.linalg.eigh((x @ x.T).toarray())
        keep = s > _RANK_TOLERANCE * s.max(initial=0.0)
        s, u = s[keep], u[:, keep]
        q = np.asarray(x.T @ u) / np.sqrt(s)
    else:
        s, q = np.linalg.eigh((x.T @ x).toarray())
        keep = s > _RANK_TOLERANCE * s.max(initial=0.0)
        s, q = s[keep], q[:, keep]
    return EaseFactor(active, x, q, s, data.matrix.shape[1])


def _check_lambda(lam: float) -> float:
    lam = float(lam)
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam={lam} must be a positive finite number, e.g. {DEFAULT_EASE_LAMBDA}")
    return lam


def ease_scorer(data: Interactions, lam: float = DEFAULT_EASE_LAMBDA) -> Scorer:
    """EASE: item-item weights ``B`` in closed form, score = ``x_u B`` (see the module docstring;
    the factorization is memoized on ``data``, so other lambdas reuse it).

    Raises:
        ValueError: lam not a positive finite number.
    """
    lam = _check_lambda(lam)
    return data.memo("ease", lambda: ease_factor(data)).scorer(lam)


def ease_trending_scorer(data: Interactions, prior: np.ndarray,
                         lam: float = DEFAULT_EASE_LAMBDA, weight: float = 1.0) -> Scorer:
    """EASE plus a trending prior: per user, the EASE scores of the items the user has not
    interacted with are min-max scaled to [0, 1] (all 0 when they are all equal), then
    ``weight * prior`` is added.

    Scaling over the candidates (not the user's own items, which are excluded anyway and often
    score highest) makes the two terms comparable for every user; ``prior`` is in [0, 1]
    (:func:`~recsys_nb.evaluate.popular.trending_prior`). Measured on MovieLens: weight 1-3.

    Raises:
        ValueError: lam not positive, weight negative, ``prior`` not one value per item.
    """
    weight = check_number("weight", weight, 0.0, 1.0)
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (data.matrix.shape[1],):
        raise ValueError(f"prior has shape {prior.shape}; pass one value per catalogue item "
                         f"({data.matrix.shape[1]})")
    ease = ease_scorer(data, lam)

    def score(rows: np.ndarray) -> np.ndarray:
        s = ease(rows)
        seen = data.matrix[rows].toarray() > 0
        lo = np.where(seen, np.inf, s).min(axis=1, keepdims=True)
        hi = np.where(seen, -np.inf, s).max(axis=1, keepdims=True)
        flat = ~(hi > lo)  # one candidate, all equal, or nothing left to recommend
        span = np.where(flat, 1.0, hi - lo)
        scaled = np.where(flat, 0.0, (s - np.where(flat, 0.0, lo)) / span)
        return scaled + weight * prior

    return score
