"""Tune the Recommender's default configuration fast: its math in numpy, no Chroma.

The product measurement (``benchmarks/eval_configs.py``) builds a Chroma store per configuration
(minutes). This script replicates what the Recommender computes -- item vectors learned from the
TRAINING events only, one interest vector per user replayed with ``replay.replay_batch`` under the
Recommender's rules (cold start ``v = e``, EMA per kind, not-interested subtraction,
``cold_subtract="ignore"``, ``on_overshoot="skip"``), exact cosine top-K with the user's training
items excluded, popularity for users without a vector -- and scores it with
``recsys_nb.evaluate.ranking_metrics`` on the same temporal 80/20 split. Seconds per
configuration, so many item-vector and ranking variants can be compared.

    .venv/bin/python benchmarks/tune_default.py            # the experiment table
    .venv/bin/python benchmarks/tune_default.py --check    # replication check vs eval_configs

Numbers are exact-search numbers; Chroma's HNSW top-50 recall vs exact is ~0.99, so the product
can be marginally lower.

The ``compare`` group's PROPOSED row (sequence + SVD "blend" vectors, popularity prior 0.65, alphas
.25/.45) became the package default; through the product (``benchmarks/eval_configs.py --quick``)
it measures Recall@50 0.2815 / NDCG@10 0.1579, the same as this replica's 0.2815 / 0.1579.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import svds

from recsys_nb import replay
from recsys_nb.data import load_movielens
from recsys_nb.embeddings import svd_item_embeddings
from recsys_nb.embeddings.learned import _fill_cold_items
from recsys_nb.evaluate import (
    Split,
    ranking_metrics,
    recommend_baseline,
    temporal_split,
)
from recsys_nb.topn import top_n

KS = (10, 50)


@dataclass
class Bench:
    """Everything fixed across configurations: the split and the users to score."""

    split: Split
    users: np.ndarray
    relevant: list[np.ndarray]
    seen_cols: list[np.ndarray]
    item_ids: np.ndarray
    col: pd.Index
    pop_counts: np.ndarray  # training events per item (any kind), catalogue order


def make_bench(test_fraction: float = 0.2, min_events: int = 5, validation: bool = False) -> Bench:
    """Load MovieLens and split it the way eval_configs does.

    ``validation=True`` splits the TRAINING part of that split again (same rule): settings chosen
    on the test split can then be confirmed on data whose held-out events the tuning never saw.
    """
    ds = load_movielens()
    split = temporal_split(ds, test_fraction=test_fraction, min_events=min_events)
    if validation:
        split = temporal_split(split.train_dataset(), test_fraction=test_fraction,
                               min_events=min_events)
    users, relevant = split.relevant("positive")
    col = pd.Index(split.item_ids)
    seen_cols = [col.get_indexer(s) for s in split.seen(users)]
    counts = np.bincount(col.get_indexer(split.train["item_id"].to_numpy()),
                         minlength=len(col)).astype(np.float64)
    return Bench(split, users, relevant, seen_cols, split.item_ids, col, counts)


# --------------------------------------------------------------------------------------------
# item vectors (training events only)
# --------------------------------------------------------------------------------------------


def user_item_matrix(b: Bench, value: str = "binary", positives: bool = True) -> sparse.csr_matrix:
    """(users x catalogue) matrix of the training events (duplicates averaged)."""
    ev = b.split.train
    if positives:
        ev = ev[ev["kind"] != "not_interested"]
    cols = b.col.get_indexer(ev["item_id"].to_numpy())
    codes, _ = pd.factorize(ev["user_id"], sort=True)
    if value == "binary":
        v = np.ones(len(ev))
    elif value == "rating":
        v = ev["rating"].to_numpy(dtype=np.float64)
    elif value == "centered":  # rating minus the user's mean, + 1 floor: likes > dislikes
        r = ev["rating"].to_numpy(dtype=np.float64)
        mean = pd.Series(r).groupby(codes).transform("mean").to_numpy()
        v = np.clip(1.0 + (r - mean) / 2.0, 0.1, None)
    else:
        raise ValueError(value)
    frame = pd.DataFrame({"u": codes, "i": cols, "v": v}).groupby(["u", "i"])["v"].mean()
    return sparse.csr_matrix(
        (frame.to_numpy(), (frame.index.get_level_values(0), frame.index.get_level_values(1))),
        shape=(codes.max() + 1, len(b.item_ids)),
    )


def svd_vectors(
    b: Bench,
    dim: int = 32,
    power: float = 1.0,
    value: str = "binary",
    row_norm: bool = True,
    col_exp: float = 0.5,
    idf: float = 0.0,
    seed: int = 0,
    unit: bool = True,
) -> np.ndarray:
    """SVD item vectors with knobs: row normalisation, column norm^-col_exp, idf^idf weighting,
    ``V * S**power``. ``col_exp=0.5, row_norm=True, power=1`` is ``svd_item_embeddings``."""
    a = user_item_matrix(b, value)
    if row_norm:
        rn = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
        a = sparse.diags(1.0 / np.where(rn > 0, rn, 1.0)) @ a
    cn = np.sqrt(np.asarray(a.multiply(a).sum(axis=0)).ravel())
    w = 1.0 / np.where(cn > 0, cn, 1.0) ** col_exp
    if idf:
        df = np.asarray((a > 0).sum(axis=0)).ravel()
        w = w * np.log((a.shape[0] + 1) / (df + 1)) ** idf
    a = (a @ sparse.diags(w)).tocsr()
    rng = np.random.default_rng(seed)
    _, s, vt = svds(a, k=dim, v0=rng.standard_normal(min(a.shape)), solver="arpack")
    order = np.argsort(-s)
    s, vt = s[order], vt[order]
    vec = vt.T * s**power
    return _finish(b, vec, cn > 0, unit)


def gram_eigen_vectors(
    b: Bench, dim: int = 32, lam: float = 500.0, col_exp: float = 0.0, unit: bool = True,
    filt: str = "ease",
) -> np.ndarray:
    """Item vectors from the eigen-decomposition of the item Gram matrix ``G = X^T X`` (binary,
    positives), the matrix EASE inverts. EASE's scores are ``x_u Q f(s) Q^T`` with the spectral
    filter ``f(s) = s / (s + lam)`` (up to a per-item scale); ``e_i = Q_i sqrt(f)`` makes the dot
    product reproduce that filter at rank ``dim``. ``col_exp`` scales columns by norm^-col_exp
    first (popularity damping, as in svd_item_embeddings)."""
    x = user_item_matrix(b, "binary")
    cn = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    active = np.flatnonzero(cn > 0)
    xa = x[:, active] @ sparse.diags(1.0 / cn[active] ** col_exp)
    g = (xa.T @ xa).toarray()
    from scipy.linalg import eigh

    n = g.shape[0]
    s, q = eigh(g, subset_by_index=[n - dim, n - 1])
    s, q = s[::-1], q[:, ::-1]
    if filt == "ease":
        f = s / (s + lam)
    elif filt == "sqrt":
        f = np.sqrt(s)
    else:
        f = np.ones_like(s)
    vec = np.zeros((len(b.item_ids), dim))
    vec[active] = q * np.sqrt(f)
    return _finish(b, vec, cn > 0, unit)


def sequence_ppmi_vectors(
    b: Bench, dim: int = 64, window: int = 5, power: float = 0.5, cds: float = 0.75,
    seed: int = 0,
) -> np.ndarray:
    """Item vectors from each user's training SEQUENCE (item2vec-style, as a matrix).

    Two positive events of one user at most ``window`` steps apart (time order) co-occur;
    the shifted-PPMI matrix of those counts (context counts smoothed by ``cds``, as in
    word2vec) is eigen-decomposed and ``e_i = Q_i |s|**power``. Nearby-in-time items predict
    what comes next better than whole-history co-occurrence (the SVD), which is what an EMA
    interest vector needs."""
    from scipy.sparse.linalg import eigsh

    tr = b.split.train
    tr = tr[tr["kind"] != "not_interested"].sort_values(["user_id", "timestamp"],
                                                        kind="stable")
    cols = b.col.get_indexer(tr["item_id"].to_numpy())
    uid = tr["user_id"].to_numpy()
    n = len(b.item_ids)
    rows_i, rows_j = [], []
    for d in range(1, window + 1):  # pairs d steps apart within the same user
        same = uid[d:] == uid[:-d]
        rows_i.append(cols[:-d][same])
        rows_j.append(cols[d:][same])
    i, j = np.concatenate(rows_i), np.concatenate(rows_j)
    c = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    c = (c + c.T).tocoo()
    rs = np.asarray(c.sum(axis=1)).ravel()
    tot = rs.sum()
    pc = rs**cds / (rs**cds).sum()
    pmi = np.log(c.data / tot / ((rs[c.row] / tot) * pc[c.col]))
    keep = pmi > 0
    m = sparse.csr_matrix((pmi[keep], (c.row[keep], c.col[keep])), shape=c.shape)
    m = (m + m.T) / 2
    s, q = eigsh(m, k=dim, which="LA", v0=np.random.default_rng(seed).standard_normal(n))
    return _finish(b, q * np.abs(s) ** power, rs > 0, True)


def concat(parts: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """``[sqrt(w1) e1, sqrt(w2) e2, ...]`` of unit parts, unit rows: the cosine is exactly the
    weighted mean of the parts' cosines (how embed_items builds "hybrid")."""
    out = np.hstack([_unit(p) * np.sqrt(w) for p, w in zip(parts, weights, strict=True)])
    return _unit(out).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _finish(b: Bench, vec: np.ndarray, warm: np.ndarray, unit: bool) -> np.ndarray:
    """Sign-agnostic finish: unit rows (optional) and cold items filled as the product does."""
    vec = np.asarray(vec, dtype=np.float64).copy()
    norms = np.linalg.norm(vec, axis=1)
    warm = warm & (norms > 1e-12)
    if unit:
        vec[warm] /= norms[warm, None]
    _fill_cold_items(vec, warm, b.item_ids, b.split.items)
    if not unit:  # keep magnitudes for warm rows, give cold rows the mean warm norm
        vec[~warm] *= norms[warm].mean()
    return vec.astype(np.float32)


# --------------------------------------------------------------------------------------------
# interest vectors and ranking
# --------------------------------------------------------------------------------------------


def interest_vectors(
    b: Bench, items: np.ndarray, alpha_view: float = 0.3, alpha_favorite: float = 0.5,
    factor: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """Replay the training events like ``Recommender.ingest``; (vectors, has_vector) per user."""
    tr = b.split.train.sort_values("timestamp", kind="stable")
    kinds = tr["kind"].to_numpy()
    if factor == 0:  # a factor 0 subtraction is a no-op: drop those events (same vectors)
        keep = kinds != "not_interested"
        tr, kinds = tr[keep], kinds[keep]
    params = np.select([kinds == "view", kinds == "favorite"], [alpha_view, alpha_favorite],
                       factor).astype(np.float64)
    ops = np.where(kinds == "not_interested", "subtract", "ema")
    rows = b.col.get_indexer(tr["item_id"].to_numpy()).astype(np.int64)
    res = replay.replay_batch(
        tr["user_id"].to_numpy(), rows, ops, params, item_matrix=items,
        on_overshoot="skip", cold_subtract="ignore",
    )
    pos = pd.Index(res.keys).get_indexer(b.users)
    vec = np.zeros((len(b.users), items.shape[1]), dtype=np.float32)
    has = np.zeros(len(b.users), dtype=bool)
    ok = pos >= 0
    has[ok] = res.has_vector[pos[ok]]
    vec[has] = res.vectors[pos[has]]
    return vec, has


def prior(b: Bench, kind: str = "log") -> np.ndarray:
    """Popularity prior in [0, 1] from the training counts."""
    c = b.pop_counts
    if kind == "log":
        p = np.log1p(c)
    elif kind == "sqrt":
        p = np.sqrt(c)
    else:
        p = c
    return p / p.max()


def rank(
    b: Bench, items: np.ndarray, users_vec: np.ndarray, has: np.ndarray, *,
    beta: float = 0.0, prior_kind: str = "log", rerank: int | None = None, k: int = 50,
    dot: bool = False,
) -> np.ndarray:
    """Top-k ids per user: cosine (or dot with raw item rows) + beta * prior, seen excluded.

    ``rerank=M``: the prior only re-orders the cosine top-M (what a Chroma query of M candidates
    followed by re-ranking in Python gives); None: the prior applies to the whole catalogue."""
    e = items.astype(np.float64)
    if not dot:
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    u = users_vec.astype(np.float64)
    u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    cos = u @ e.T
    pr = prior(b, prior_kind)
    out = np.empty((len(b.users), k), dtype=np.int64)
    if rerank is None:
        scores = cos + beta * pr
        out[:] = top_n(scores, k, b.seen_cols, b.item_ids)[0]
    else:
        cand = top_n(cos, rerank, b.seen_cols)[0]  # column positions
        sc = np.take_along_axis(cos, cand, axis=1) + beta * pr[cand]
        order = np.argsort(-sc, axis=1, kind="stable")[:, :k]
        out[:] = b.item_ids[np.take_along_axis(cand, order, axis=1)]
    if (~has).any():  # users without a vector: popularity, like the Recommender
        pop = np.broadcast_to(b.pop_counts, (int((~has).sum()), len(b.item_ids)))
        out[~has] = top_n(pop, k, [c for c, h in zip(b.seen_cols, has, strict=True) if not h],
                          b.item_ids)[0]
    return out


def score(b: Bench, ranked: np.ndarray) -> dict[str, float]:
    """Recall@10/50 and NDCG@10 as in ``evaluate``."""
    m = ranking_metrics(ranked, b.relevant, KS, len(b.item_ids))
    return {"R@10": m["recall@10"], "R@50": m["recall@50"], "N@10": m["ndcg@10"],
            "cov@50": m["coverage@50"]}


def run_config(
    b: Bench, name: str, items: np.ndarray, *, alpha_view: float = 0.3,
    alpha_favorite: float = 0.5, factor: float = 0.3, **rank_kw: Any,
) -> dict[str, Any]:
    """Replay + rank + score one configuration; a table row."""
    t = time.perf_counter()
    uv, has = interest_vectors(b, items, alpha_view, alpha_favorite, factor)
    row = {"config": name, "av": alpha_view, "af": alpha_favorite, "ni": factor,
           **{k: v for k, v in rank_kw.items()}, **score(b, rank(b, items, uv, has, **rank_kw)),
           "s": round(time.perf_counter() - t, 1)}
    print("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in row.items()), file=sys.stderr, flush=True)
    return row


def check(b: Bench) -> list[dict[str, Any]]:
    """Plain SVD item vectors without a prior, the package default before "blend" (eval_configs
    measured .201/.108 at 32-d, .188/.100 at 64-d with alphas .3/.5, factor .3)."""
    rows = []
    for dim in (32, 64):
        items = svd_item_embeddings(b.split.train, b.item_ids, dim=dim, items=b.split.items)
        rows.append(run_config(b, f"product svd{dim}", items))
    return rows


def svd_grid(b: Bench) -> list[dict[str, Any]]:
    """SVD knobs without a prior: dimension x power x column damping."""
    rows = []
    for dim in (16, 32, 64):
        for power in (0.5, 1.0, 1.5):
            for ce in (0.0, 0.5):
                rows.append(run_config(b, f"svd d{dim} p{power} colexp{ce}",
                                       svd_vectors(b, dim, power, col_exp=ce)))
    for value in ("rating", "centered"):
        rows.append(run_config(b, f"svd d32 p1 {value}", svd_vectors(b, 32, 1.0, value=value)))
    rows.append(run_config(b, "svd d32 p1 idf", svd_vectors(b, 32, 1.0, idf=1.0)))
    rows.append(run_config(b, "svd d32 p1 no-rownorm", svd_vectors(b, 32, 1.0, row_norm=False)))
    return rows


def params_grid(b: Bench) -> list[dict[str, Any]]:
    """Alphas and the not-interested factor (product item vectors, svd32, no prior)."""
    items = svd_item_embeddings(b.split.train, b.item_ids, dim=32, items=b.split.items)
    rows = []
    for av, af in ((0.1, 0.2), (0.2, 0.4), (0.3, 0.3), (0.3, 0.5), (0.5, 0.7)):
        rows.append(run_config(b, "svd32", items, alpha_view=av, alpha_favorite=af))
    for ni in (0.0, 0.1):
        rows.append(run_config(b, "svd32", items, factor=ni))
    return rows


def prior_grid(b: Bench) -> list[dict[str, Any]]:
    """Popularity prior ``cos + beta * log1p(count)/max`` over SVD and EASE-spectrum vectors."""
    rows = []
    cands = {
        "svd d32 p1 colexp.5 (product)": svd_vectors(b, 32, 1.0),
        "svd d64 p1 colexp.5 (product)": svd_vectors(b, 64, 1.0),
        "svd d64 p.5 colexp.5": svd_vectors(b, 64, 0.5),
        "svd d64 p1 colexp0": svd_vectors(b, 64, 1.0, col_exp=0.0),
        "svd d128 p.5 colexp.5": svd_vectors(b, 128, 0.5),
        "gram-eigen d64 lam2000 (EASE filter)": gram_eigen_vectors(b, 64, 2000.0),
    }
    for name, items in cands.items():
        for beta in (0.3, 0.8, 1.5):
            rows.append(run_config(b, name, items, beta=beta))
    items = cands["svd d64 p.5 colexp.5"]
    rows.append(run_config(b, "svd d64 p.5 colexp.5", items, beta=0.8, prior_kind="sqrt"))
    for av, af in ((0.2, 0.4), (0.3, 0.3), (0.5, 0.7)):
        rows.append(run_config(b, "svd d64 p.5 colexp.5", items, alpha_view=av,
                               alpha_favorite=af, beta=0.8))
    return rows


def sequence_grid(b: Bench) -> list[dict[str, Any]]:
    """Sequence (windowed) PPMI vectors alone and concatenated with SVD, with the prior."""
    rows = []
    svd = svd_vectors(b, 64, 0.5)
    for window in (2, 5, 8, 20):
        seq = sequence_ppmi_vectors(b, 64, window)
        rows.append(run_config(b, f"seq-ppmi w{window} d64", seq, beta=0.8))
        for w in (0.3, 0.5, 0.7):
            both = concat([seq, svd], [w, 1 - w])
            for beta in (0.0, 0.65, 0.8):
                rows.append(run_config(b, f"seq-ppmi w{window} d64 ({w}) + svd d64 p.5",
                                       both, beta=beta))
    return rows


def best(b: Bench) -> list[dict[str, Any]]:
    """The proposed default: seeds, alphas, and the prior as a re-ranking of top-M candidates."""
    rows = []
    for seed in (0, 1, 2):
        items = concat([sequence_ppmi_vectors(b, 64, 5, seed=seed),
                        svd_vectors(b, 64, 0.5, seed=seed)], [0.5, 0.5])
        rows.append(run_config(b, f"BEST seed{seed}", items, beta=0.65))
    items = concat([sequence_ppmi_vectors(b, 64, 5), svd_vectors(b, 64, 0.5)], [0.5, 0.5])
    for m in (100, 200, 500):
        rows.append(run_config(b, "BEST rerank", items, beta=0.65, rerank=m))
    for av, af in ((0.2, 0.4), (0.3, 0.3), (0.4, 0.6)):
        rows.append(run_config(b, "BEST", items, alpha_view=av, alpha_favorite=af, beta=0.65))
    for ni in (0.0, 0.1, 0.5):
        rows.append(run_config(b, "BEST", items, factor=ni, beta=0.65))
    for av, af, ni, beta in ((0.25, 0.45, 0.0, 0.65), (0.2, 0.4, 0.0, 0.5),
                             (0.25, 0.45, 0.1, 0.65), (0.3, 0.5, 0.0, 0.8)):
        rows.append(run_config(b, "BEST", items, alpha_view=av, alpha_favorite=af, factor=ni,
                               beta=beta))
    return rows


def compare(b: Bench) -> list[dict[str, Any]]:
    """Product default vs the proposal and its ablations (run with --validation too)."""
    product = svd_item_embeddings(b.split.train, b.item_ids, dim=64, items=b.split.items)
    svd = svd_vectors(b, 64, 0.5)
    both = concat([sequence_ppmi_vectors(b, 64, 5), svd], [0.5, 0.5])
    baselines = [{"config": f"baseline {m}", **score(b, recommend_baseline(m, b.split, b.users,
                                                                           max(KS)))}
                 for m in ("popularity", "ease")]
    return baselines + [
        run_config(b, "product default (svd64 p1)", product),
        run_config(b, "product svd64 + prior", product, beta=0.65),
        run_config(b, "svd64 p.5 + prior", svd, beta=0.65),
        run_config(b, "seq+svd, no prior", both),
        run_config(b, "seq+svd + prior", both, beta=0.65),
        run_config(b, "seq+svd + prior, ni 0", both, factor=0.0, beta=0.65),
        run_config(b, "PROPOSED seq+svd + prior, a.25/.45 ni 0", both, alpha_view=0.25,
                   alpha_favorite=0.45, factor=0.0, beta=0.65),
        run_config(b, "seq+svd + prior, a.25/.45 ni .1", both, alpha_view=0.25,
                   alpha_favorite=0.45, factor=0.1, beta=0.65),
    ]


EXPERIMENTS: dict[str, Callable[[Bench], list[dict[str, Any]]]] = {
    "check": check, "svd": svd_grid, "params": params_grid, "prior": prior_grid,
    "sequence": sequence_grid, "best": best, "compare": compare,
}


def main(argv: list[str] | None = None) -> None:
    """Run the chosen experiment groups; print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("groups", nargs="*", default=["check"], help=f"of {list(EXPERIMENTS)}")
    ap.add_argument("--out", help="append rows to this CSV")
    ap.add_argument("--validation", action="store_true",
                    help="score on a temporal split of the training part (test never used)")
    args = ap.parse_args(argv)
    b = make_bench(validation=args.validation)
    print(b.split, f"{len(b.users)} users scored", file=sys.stderr)
    rows = [r for g in args.groups for r in EXPERIMENTS[g](b)]
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    if args.out:
        table.to_csv(args.out, mode="a", index=False)


if __name__ == "__main__":
    main()
