"""Pieces of ``benchmarks/scale.py``: synthetic catalogues clustered like real embeddings,
synthetic users with seen lists, exact neighbours, recall@k, and process memory readings.

A synthetic item ``i`` is ``normalize(c + sigma * f_c * gaussian noise)`` with ``c =
centres[i % k]``: the real MovieLens item vectors are the ``k`` cluster centres, each spawning
``n / k`` items. ``f_c`` (:func:`centre_scales`) follows how far the centre's own nearest real
neighbour is (``sqrt(1 - nn cosine)``, relative to the median), so dense regions of the real space
stay dense and the NN-cosine spread resembles the real one; ``sigma`` is chosen
(:func:`calibrate_sigma`) so that the median nearest-neighbour cosine of the synthetic catalogue
equals the real catalogue's.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

import numpy as np

#: Rows generated (and normalized) at a time: the only memory beyond the output matrix is about
#: two chunks of float32 (the centres gathered for the chunk and the norms), 2 x 65,536 x d x 4 B
#: (200 MB at 384-d) whatever the catalogue's size.
CHUNK = 65_536


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, in place (float32 stays float32)."""
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def real_nn(centres: np.ndarray) -> np.ndarray:
    """Cosine of each real vector's nearest other real vector."""
    gram = centres @ centres.T
    np.fill_diagonal(gram, -np.inf)
    return gram.max(axis=1)


def centre_scales(centres: np.ndarray) -> np.ndarray:
    """Per-centre noise multiplier ``sqrt(1 - nn) / median(sqrt(1 - nn))``, clipped to
    [0.05, 3] (near-duplicate real vectors get a tight cluster, isolated ones a wide one)."""
    gap = np.sqrt(np.clip(1.0 - real_nn(centres).astype(np.float64), 1e-6, None))
    return np.clip(gap / np.median(gap), 0.05, 3.0).astype(np.float32)


def synth_items(
    centres: np.ndarray, n: int, sigma: float, seed: int, out: np.ndarray | None = None,
    chunk: int = CHUNK, scales: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` unit float32 rows, row ``i`` = normalize(c + sigma * scales[c] * N(0, I)) with
    c = i % k (``scales`` default: :func:`centre_scales`).

    Written chunk by chunk into ``out`` (allocated if None): peak memory is the matrix plus one
    chunk's temporaries, never a second full-size copy.
    """
    cen = np.ascontiguousarray(centres, dtype=np.float32)
    k, d = cen.shape
    if out is None:
        out = np.empty((n, d), dtype=np.float32)
    scales = centre_scales(cen) if scales is None else scales
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block = out[start:stop]
        which = np.arange(start, stop) % k
        rng.standard_normal(out=block, dtype=np.float32)
        block *= (np.float32(sigma) * scales[which])[:, None]
        block += cen[which]
        unit_rows(block)
    return out


def nn_cosines(queries: np.ndarray, matrix: np.ndarray, self_rows: np.ndarray | None = None,
               chunk: int = 262_144) -> np.ndarray:
    """Cosine of each query row's nearest row of ``matrix`` (unit rows), skipping the query's own
    row (``self_rows[j]`` = row index of query j in ``matrix``, or None)."""
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    for start in range(0, len(matrix), chunk):
        scores = matrix[start:start + chunk] @ queries.T  # (chunk, q)
        if self_rows is not None:
            inside = (self_rows >= start) & (self_rows < start + len(scores))
            scores[self_rows[inside] - start, np.flatnonzero(inside)] = -np.inf
        np.maximum(best, scores.max(axis=0), out=best)
    return best


def random_pair_cosines(matrix: np.ndarray, pairs: int, seed: int) -> np.ndarray:
    """Cosines of ``pairs`` random pairs of distinct rows."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(matrix), pairs)
    b = (a + rng.integers(1, len(matrix), pairs)) % len(matrix)
    return np.einsum("ij,ij->i", matrix[a], matrix[b])


def _proxy_nn(centres: np.ndarray, scales: np.ndarray, per_centre: int, sigma: float,
              neighbourhoods: np.ndarray, seed: int) -> np.ndarray:
    """NN cosine of one synthetic item of each query centre among ``per_centre`` items of each
    centre of its neighbourhood (its nearest real centres, itself first): what the full
    catalogue's NN would be, at a tiny fraction of the cost (far clusters are never nearest)."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(neighbourhoods), dtype=np.float32)
    for j, hood in enumerate(neighbourhoods):
        cen = np.repeat(centres[hood], per_centre, axis=0)
        f = np.repeat(scales[hood], per_centre)[:, None] * np.float32(sigma)
        pts = unit_rows(cen + f * rng.standard_normal(cen.shape, dtype=np.float32))
        out[j] = (pts[1:] @ pts[0]).max()  # pts[0]: an item of the query centre (hood[0])
    return out


@dataclass
class Calibration:
    sigma: float
    target_median_nn: float
    proxy_median_nn: float
    per_centre: int


def calibrate_sigma(centres: np.ndarray, n: int, seed: int = 0, queries: int = 120,
                    hood: int = 20, steps: int = 12) -> Calibration:
    """``sigma`` whose synthetic catalogue of ``n`` items has the real catalogue's median
    nearest-neighbour cosine (bisection on the noise norm ``sigma * sqrt(d)``, same random
    numbers at every step)."""
    cen = np.ascontiguousarray(centres, dtype=np.float32)
    k, d = cen.shape
    scales = centre_scales(cen)
    gram = cen @ cen.T
    np.fill_diagonal(gram, -np.inf)
    target = float(np.median(gram.max(axis=1)))
    np.fill_diagonal(gram, np.inf)  # itself first in its neighbourhood
    rng = np.random.default_rng(seed)
    qs = rng.choice(k, size=min(queries, k), replace=False)
    hoods = np.argsort(-gram[qs], axis=1)[:, :hood]
    per_centre = max(2, int(round(n / k)))
    lo, hi = np.log(0.01), np.log(4.0)  # noise norm sigma * sqrt(d)
    median = float("nan")
    for _ in range(steps):
        mid = (lo + hi) / 2
        sigma = float(np.exp(mid) / np.sqrt(d))
        median = float(np.median(_proxy_nn(cen, scales, per_centre, sigma, hoods, seed + 1)))
        if median > target:  # too tight: more noise
            lo = mid
        else:
            hi = mid
    sigma = float(np.exp((lo + hi) / 2) / np.sqrt(d))
    return Calibration(sigma, target, median, per_centre)


# ----------------------------------------------------------------------------------------------
# Users


@dataclass
class Users:
    vectors: np.ndarray          # (u, d) float32 unit interest vectors
    seen: list[np.ndarray]       # per user: seen item ids (row indices), int64
    truth: list[np.ndarray]      # per user: exact top-50 ids with the seen ones excluded
    truth_raw: np.ndarray        # (u, 50) exact top-50 ids, nothing excluded


def exact_top_k(matrix: np.ndarray, queries: np.ndarray, k: int, batch: int = 32) -> np.ndarray:
    """(q, k) row indices of the ``k`` best cosines per query, best first: float32 products in
    batches of ``batch`` queries, ranked by the package's one top-N kernel (its tie rule)."""
    from recsys_nb.topn import top_n

    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), batch):
        scores = queries[start:start + batch] @ matrix.T  # (b, n) float32
        out[start:start + batch] = top_n(scores, k)[0]
    return out


def make_users(matrix: np.ndarray, centres: np.ndarray, n_users: int, sigma: float, seed: int,
               seen_min: int = 20, seen_max: int = 500, n: int = 50) -> Users:
    """Users whose interest vector sits near a cluster (a centre plus item-like noise), each
    with a seen list of 20-500 items drawn at random from the ``2 x size`` items nearest to the
    vector (so the exclusion removes much of the true top list), and the exact answers."""
    rng = np.random.default_rng(seed)
    k = len(centres)
    which = rng.integers(0, len(matrix), n_users) % k
    noise = rng.standard_normal((n_users, centres.shape[1]), dtype=np.float32)
    noise *= (np.float32(sigma) * centre_scales(centres)[which])[:, None]
    vectors = unit_rows(centres[which].astype(np.float32) + noise)
    sizes = np.exp(rng.uniform(np.log(seen_min), np.log(seen_max), n_users)).astype(int)
    top = exact_top_k(matrix, vectors, 2 * seen_max + n)
    seen, truth = [], []
    for u, size in enumerate(sizes):
        s = np.sort(rng.choice(top[u, : 2 * size], size=size, replace=False))
        seen.append(s)
        truth.append(top[u][~np.isin(top[u], s)][:n])
    return Users(vectors, seen, truth, top[:, :n].copy())


def recall_at(answer, truth) -> float:
    """|answer ∩ truth| / |truth| (ids; order ignored)."""
    truth_set = {int(t) for t in truth}
    if not truth_set:
        return float("nan")
    return len(truth_set.intersection(int(a) for a in answer)) / len(truth_set)


# ----------------------------------------------------------------------------------------------
# Memory


def proc_status() -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS since start or the last :func:`reset_peak`) in MB, and
    ru_maxrss (peak of the whole process life, never reset) in MB."""
    out: dict[str, float] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
