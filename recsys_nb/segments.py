"""User segments: groups of users whose interest vectors point the same way.

The original write-up suggests bootstrapping a new user "from global trends / user segments" and
experimenting with clustering. A segment here is a cluster of interest vectors found by spherical
k-means (cosine k-means: unit rows, centroids renormalized after each mean), in numpy. Its centroid
is a unit vector of the item space, so it can be searched with like any interest vector.

:func:`fit_segments` clusters users; :meth:`Segments.nearest` assigns any vector (a new user's
first item, say) to its closest centroid; :func:`blend` mixes a centroid into an interest vector,
and :func:`segment_share` says how much, fading as a user's own events accumulate. The cold-start
strategy of ``Recommender(cold_start="segment")`` is these three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys_nb.vectors import STORE_DTYPE, validate_vector

#: k-means restarts (the best cohesion wins) and iterations per restart.
N_INIT = 4
MAX_ITER = 60


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity (it keys memoized results)
class Segments:
    """``k`` user segments of one item space.

    Attributes:
        centroids: (k, d) float32 unit rows.
        sizes: (k,) members per segment.
        labels: (n,) the segment of each fitted row, in the order of ``keys``.
        keys: the user ids of the fitted rows.
        cohesion: mean cosine of the fitted rows to their own centroid (1 = identical).
    """

    centroids: np.ndarray
    sizes: np.ndarray
    labels: np.ndarray
    keys: tuple[Any, ...]
    cohesion: float

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    def __repr__(self) -> str:
        return (f"Segments(k={self.k}, dim={self.dim}, sizes={self.sizes.tolist()}, "
                f"cohesion={self.cohesion:.3f})")

    def nearest(self, vectors: np.ndarray) -> np.ndarray | int:
        """The closest centroid (by cosine) of one vector (an int) or of each row (an array)."""
        x = np.asarray(vectors, dtype=np.float64)
        if x.shape[-1] != self.dim:
            raise ValueError(f"vectors of dimension {x.shape[-1]} for segments of dimension "
                             f"{self.dim}; fit the segments in the same item space")
        best = (x @ self.centroids.T.astype(np.float64)).argmax(axis=-1)
        return int(best) if x.ndim == 1 else best.astype(np.int64)

    def members(self, segment: int) -> list[Any]:
        """The user ids fitted into ``segment``."""
        if not 0 <= int(segment) < self.k:
            raise ValueError(f"segment={segment!r} is out of range; use 0..{self.k - 1}")
        return [key for key, s in zip(self.keys, self.labels, strict=True) if s == segment]

    def with_centroids(self, centroids: np.ndarray) -> Segments:
        """The same segments with other centroids (e.g. a forecast of next month's), checked:
        one finite, non-zero row per segment, renormalized."""
        c = np.asarray(centroids, dtype=np.float64)
        if c.shape != self.centroids.shape:
            raise ValueError(f"centroids of shape {c.shape} for {self.k} segments of dimension "
                             f"{self.dim}; pass one row per segment")
        rows = [validate_vector(r, self.dim, name=f"centroid {s}") for s, r in enumerate(c)]
        unit = np.stack([r / np.linalg.norm(r) for r in rows]).astype(STORE_DTYPE)
        return Segments(unit, self.sizes, self.labels, self.keys, self.cohesion)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if bad.size:
        raise ValueError(f"row {int(bad[0])} is zero or not finite; drop users without an "
                         "interest vector before clustering")
    return x / norms[:, None]


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on cosine distance: spread-out starting centroids."""
    centres = [x[rng.integers(len(x))]]
    dist = 1.0 - x @ centres[0]
    for _ in range(1, k):
        weights = np.clip(dist, 0.0, None)
        total = weights.sum()
        i = rng.choice(len(x), p=weights / total) if total > 0 else rng.integers(len(x))
        centres.append(x[i])
        dist = np.minimum(dist, 1.0 - x @ x[i])
    return np.stack(centres)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0, n_init: int = N_INIT,
           max_iter: int = MAX_ITER) -> tuple[np.ndarray, np.ndarray, float]:
    """Spherical k-means: ``(centroids (k, d) unit, labels (n,), cohesion)``.

    Deterministic for a seed. A cluster that empties is re-seeded with the row farthest from its
    centroid, so every centroid has members.

    Raises:
        ValueError: k < 1, more clusters than rows, a zero / non-finite row, not a 2-D matrix.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"vectors must be an (n, d) matrix; got shape {x.shape}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k={k!r} must be an int >= 1 (the number of segments)")
    if k > len(x):
        raise ValueError(f"asked for k={k} segments of {len(x)} users; use k <= {len(x)} "
                         "or cluster more users")
    x = _unit_rows(x)
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(max(1, int(n_init))):
        centres = _plus_plus(x, int(k), rng)
        labels = np.full(len(x), -1)
        for _ in range(int(max_iter)):
            sims = x @ centres.T
            new = sims.argmax(axis=1)
            for c in range(k):  # an empty cluster takes the worst-served row
                if not (new == c).any():
                    worst = int(sims[np.arange(len(x)), new].argmin())
                    new[worst] = c
                    sims[worst, c] = np.inf
            if np.array_equal(new, labels):
                break
            labels = new
            sums = np.zeros_like(centres)
            np.add.at(sums, labels, x)
            norms = np.linalg.norm(sums, axis=1)
            # a cluster of exactly opposite rows keeps its old centroid rather than a zero one
            centres = np.where(norms[:, None] > 1e-12, sums / np.maximum(norms, 1e-12)[:, None],
                               centres)
        cohesion = float((x * centres[labels]).sum(axis=1).mean())
        if best is None or cohesion > best[2]:
            best = (centres, labels, cohesion)
    assert best is not None
    return best[0].astype(STORE_DTYPE), best[1].astype(np.int64), best[2]


def fit_segments(vectors: np.ndarray, k: int, keys: Sequence[Any] | None = None,
                 seed: int = 0) -> Segments:
    """Cluster interest vectors (one row per user, ``keys`` their ids) into ``k`` segments."""
    centroids, labels, cohesion = kmeans(vectors, k, seed=seed)
    ids = tuple(range(len(labels))) if keys is None else tuple(keys)
    if len(ids) != len(labels):
        raise ValueError(f"{len(ids)} keys for {len(labels)} vectors; pass one id per row")
    return Segments(centroids, np.bincount(labels, minlength=k), labels, ids, cohesion)


def segment_share(events: int, weight: float, alpha: float) -> float:
    """How much of a segment's centroid a user with ``events`` events is served: ``weight`` at
    the first event, then ``weight * (1 - alpha) ** (events - 1)``: what an EMA with ``alpha``
    would keep of a starting vector, so the segment fades as the user's own events arrive."""
    if events < 1:
        return 0.0
    return float(weight) * (1.0 - float(alpha)) ** (int(events) - 1)


def blend(interest: np.ndarray, centroid: np.ndarray, share: float) -> np.ndarray:
    """``normalize((1 - share) * interest + share * centroid)``; the interest unchanged when the
    two cancel (a user exactly opposite their segment), so no zero vector is ever searched."""
    v = np.asarray(interest, dtype=np.float64)
    mixed = (1.0 - share) * v + share * np.asarray(centroid, dtype=np.float64)
    norm = float(np.linalg.norm(mixed))
    if not np.isfinite(norm) or norm < 1e-6:
        return np.asarray(interest, dtype=STORE_DTYPE)
    return (mixed / norm).astype(STORE_DTYPE)
