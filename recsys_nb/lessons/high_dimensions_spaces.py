"""Notebook 08's item spaces at any dimension, and what one update does to an interest vector.

The measuring core of :mod:`recsys_nb.lessons.high_dimensions` (the notebook's tables and
verdicts live there):

- :func:`project`: a real space at dimension ``d`` is its projection on its first ``d``
  principal axes (:func:`recsys_nb.plots.pca_axes`), centred, renormalized;
  :func:`random_unit_vectors` gives the random space (Gaussian, normalized).
- :func:`sample_histories`: real MovieLens histories with the package's default weights; the
  interest vectors are those histories replayed with :func:`recsys_nb.replay.replay_batch`.
- :class:`Update` / :func:`apply_update`: an EMA step toward an item of the user's history, or a
  subtraction of an item of the user's own top-K, with the norm before normalizing and the top-K
  before and after (:class:`Outcome`).
- :class:`Lab`: all of it per space and dimension, built lazily, cached, thread-safe (the
  widget asks from its own thread).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys_nb import vectors
from recsys_nb.data import Dataset
from recsys_nb.item_space import random_pair_similarities
from recsys_nb.kinds import EVENT_KINDS, operations
from recsys_nb.plots import pca_axes
from recsys_nb.recommender import DEFAULT_PARAMS
from recsys_nb.replay import replay_batch
from recsys_nb.topn import top_n

if TYPE_CHECKING:
    from recsys_nb.lessons.high_dimensions import HighDimConfig

#: The largest dimension measured: MiniLM's (the largest space of the lesson).
MAX_DIM = 384
#: The three spaces, in table order.
SPACES = ("random", "minilm", "learned")
#: A list "flips" when fewer than this share of its items stay after the update.
FLIP_SHARE = 0.5
#: A user needs this many positive events to be sampled (a history to replay and pick from).
MIN_POSITIVE = 5
#: Raw norms at or below this are an exact cancellation: no direction, no list after the update.
EXACT_ZERO = 1e-5


@dataclass(frozen=True)
class Update:
    """One update of an interest vector ``v`` by an item ``e`` (both unit vectors).

    ``operation`` "ema": ``normalize((1 - weight) v + weight e)`` with ``e`` a random item of the
    user's history (a view or favorite acts on something the user watched); "subtract":
    ``normalize(v - weight e)`` with ``e`` one of ``v``'s own top-K (a "not interested" is
    clicked on a recommended item, so ``e`` is near ``v``).
    """

    operation: str
    weight: float

    @property
    def label(self) -> str:
        """"EMA alpha=0.25 (view)", "subtract factor=1", ... (the package's defaults named)."""
        if self.operation == "ema":
            names = [k for k in ("view", "favorite")
                     if DEFAULT_PARAMS[EVENT_KINDS[k].parameter] == self.weight]
            base = f"EMA alpha={self.weight:g}"
        else:
            names = ["not interested"] if self.weight == DEFAULT_PARAMS[
                "not_interested_factor"] else []
            base = f"subtract factor={self.weight:g}"
        return base + (f" ({', '.join(names)})" if names else "")

    def raw(self, v: np.ndarray, e: np.ndarray) -> np.ndarray:
        """The combination before normalizing, row by row (float64)."""
        v, e = np.asarray(v, np.float64), np.asarray(e, np.float64)
        if self.operation == "ema":
            return (1.0 - self.weight) * v + self.weight * e
        return v - self.weight * e

    def apply(self, v: np.ndarray, e: np.ndarray) -> np.ndarray:
        """The package's own update (:func:`recsys_nb.vectors.ema_update` / ``subtract``)."""
        if self.operation == "ema":
            return vectors.ema_update(v, e, self.weight)
        return vectors.subtract(v, e, self.weight)

    @property
    def norm_floor(self) -> float:
        """The smallest norm before normalizing in ANY dimension, for unit ``v`` and ``e``:
        ``|v - f e| >= |1 - f|`` and ``|(1 - a) v + a e| >= |1 - 2a|`` (``e = v`` resp.
        ``e = -v``). An update whose floor is above the near-zero threshold can never
        nearly cancel, whatever the dimension."""
        return abs(1.0 - self.weight) if self.operation == "subtract" else \
            abs(1.0 - 2.0 * self.weight)




def random_unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """``n`` Gaussian vectors of dimension ``dim``, normalized: uniform on the sphere."""
    rng = np.random.default_rng(seed)
    return vectors.normalize(rng.standard_normal((int(n), int(dim))))


@dataclass(frozen=True)
class Principal:
    """Every principal axis of a set of vectors (``pca_axes(x, n_components=d)``)."""

    mean: np.ndarray
    axes: np.ndarray
    explained: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> Principal:
        """The full spectrum of ``x`` (one SVD; any ``d`` is a slice of it)."""
        mean, axes, explained = pca_axes(x, n_components=np.asarray(x).shape[1])
        return cls(mean, axes, explained)

    def coordinates(self, x: np.ndarray, d: int) -> np.ndarray:
        """``x`` on the first ``d`` axes, centred (what a PCA picture plots), float64."""
        return (np.asarray(x, np.float64) - self.mean) @ self.axes[:d].T

    def components_for(self, share: float) -> int:
        """How many components hold ``share`` of the variance."""
        cum = np.cumsum(self.explained)
        return int(min(np.searchsorted(cum, share - 1e-12) + 1, len(cum)))


def project(x: np.ndarray, d: int, principal: Principal | None = None) -> np.ndarray:
    """The vectors at dimension ``d``: their first ``d`` principal coordinates, renormalized.

    Raises:
        ValueError: ``d`` outside [1, the vectors' dimension] (from ``pca_axes``).
        DegenerateVectorError: a vector exactly at the mean (no direction left).
    """
    x = np.asarray(x)
    if principal is None:
        mean, axes, _ = pca_axes(x, n_components=d)
        principal = Principal(mean, axes, np.zeros(d))
    if not 1 <= d <= len(principal.mean):
        raise ValueError(f"d={d} must be in [1, {len(principal.mean)}] (the vectors' dimension)")
    return vectors.normalize(principal.coordinates(x, d))


@dataclass(frozen=True)
class Variant:
    """One row of every table: a space at one dimension, or why it is skipped."""

    space: str
    dim: int
    kind: str  # "gaussian", "pca" (projected, centred), "original" or "skipped"
    note: str = ""

    @property
    def key(self) -> str:
        """"2", "384 (original)": the row's name in the recorded numbers."""
        return f"{self.dim} (original)" if self.kind == "original" else str(self.dim)


@dataclass(frozen=True)
class Histories:
    """The sampled users' events as arrays, with the items each update acts on.

    Attributes: ``users`` (u,), ``groups`` / ``rows`` / ``ops`` / ``params`` (m,) in time
    order (catalogue rows; the package's default weights), ``seen`` (per user, the rows of
    their history: never recommended), ``view_rows`` (u,) a random positive item of each
    history, ``top_rank`` (u,) which of the top-K the "not interested" is clicked on.
    """

    users: np.ndarray
    groups: np.ndarray
    rows: np.ndarray
    ops: np.ndarray
    params: np.ndarray
    seen: list[np.ndarray]
    view_rows: np.ndarray
    top_rank: np.ndarray

    def mapped(self, new_rows: np.ndarray) -> Histories:
        """The same histories on another catalogue: item row ``r`` becomes ``new_rows[r]``."""
        return Histories(self.users, self.groups, new_rows[self.rows], self.ops, self.params,
                         [np.unique(new_rows[s]) for s in self.seen], new_rows[self.view_rows],
                         self.top_rank)


def sample_histories(dataset: Dataset, n_users: int, top_k: int, seed: int) -> Histories:
    """``n_users`` MovieLens users with ``MIN_POSITIVE``+ positive events, their histories
    weighted by the package's defaults (``DEFAULT_PARAMS``), and the items their updates use.

    Raises:
        ValueError: more users asked for than have enough events (both numbers named).
    """
    events = dataset.events[dataset.events["item_id"].isin(dataset.items["item_id"])]
    positive = events[events["kind"] != "not_interested"]
    counts = positive.groupby("user_id").size()
    eligible = np.sort(counts.index[counts >= MIN_POSITIVE].to_numpy())
    if n_users > len(eligible):
        raise ValueError(f"N_USERS={n_users} but only {len(eligible)} users have "
                         f"{MIN_POSITIVE}+ positive events; pass N_USERS <= {len(eligible)}")
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(eligible, size=n_users, replace=False))
    own = events[events["user_id"].isin(users)].sort_values(["user_id", "timestamp"],
                                                            kind="stable")
    kinds = own["kind"].to_numpy()
    params = np.array([DEFAULT_PARAMS[EVENT_KINDS[k].parameter] for k in kinds])
    rows = dataset.rows(own["item_id"])
    groups = own["user_id"].to_numpy()
    seen, view_rows = [], np.empty(len(users), np.int64)
    for i, u in enumerate(users):
        mine = groups == u
        seen.append(np.unique(rows[mine]))
        pos = rows[mine & (kinds != "not_interested")]
        view_rows[i] = pos[rng.integers(len(pos))]
    return Histories(users, groups, rows, operations(kinds), params, seen, view_rows,
                     rng.integers(0, top_k, len(users)))


@dataclass
class Outcome:
    """One update applied to every sampled user's interest in one space at one dimension.

    Per user (arrays of length u): ``cos`` between ``v`` and the item, ``norm`` of the
    combination before normalizing, ``overlap`` (share of the top-K kept), ``before`` / ``after``
    (the top-K rows; ``after`` is -1 where the vector cancelled exactly), ``item`` (the row
    acted on). ``cancelled`` / ``flipped`` are the lesson's two failure counts.
    """

    update: Update
    near_zero: float
    cos: np.ndarray
    norm: np.ndarray
    overlap: np.ndarray
    before: np.ndarray
    after: np.ndarray
    item: np.ndarray

    @property
    def cancelled(self) -> np.ndarray:
        """Norm before normalizing below ``near_zero``: the update nearly erased the vector."""
        return self.norm < self.near_zero

    @property
    def flipped(self) -> np.ndarray:
        """Fewer than half of the top-K stayed."""
        return self.overlap < FLIP_SHARE

    @property
    def disrupted(self) -> np.ndarray:
        """Cancelled or flipped."""
        return self.cancelled | self.flipped


def top_lists(interests: np.ndarray, matrix: np.ndarray, seen: list[np.ndarray],
              top_k: int) -> np.ndarray:
    """Each interest's top-K rows of ``matrix`` by cosine, its ``seen`` rows excluded."""
    scores = np.asarray(interests, np.float64) @ np.asarray(matrix, np.float64).T
    return top_n(scores, top_k, exclude=seen)[0]


def list_overlap(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per row, the share of ``before``'s items that are also in ``after`` (-1 never matches)."""
    same = (before[:, :, None] == after[:, None, :]) & (after[:, None, :] >= 0)
    return same.any(axis=2).sum(axis=1) / before.shape[1]


def apply_update(update: Update, interests: np.ndarray, matrix: np.ndarray, hist: Histories,
                 top_k: int, near_zero: float, before: np.ndarray | None = None) -> Outcome:
    """Apply ``update`` to every user's interest vector and compare the top-K before and after.

    The item is a random item of the user's history for an EMA step, the ``top_rank``-th item
    of the user's own top-K for a subtraction. Lists exclude the user's history (the service
    never recommends a seen item). An exact cancellation (norm <= ``EXACT_ZERO``) has no
    direction: it keeps nothing of its list. ``before``: the users' top-K, if known.
    """
    if before is None:
        before = top_lists(interests, matrix, hist.seen, top_k)
    item = hist.view_rows if update.operation == "ema" else \
        before[np.arange(len(before)), hist.top_rank]
    e = matrix[item]
    norm = np.linalg.norm(update.raw(interests, e), axis=1)
    after = np.full_like(before, -1)
    ok = norm > EXACT_ZERO
    if ok.any():
        moved = update.apply(interests[ok], e[ok])
        after[ok] = top_lists(moved, matrix, [s for s, k in zip(hist.seen, ok, strict=True)
                                              if k], top_k)
    cos = np.einsum("ij,ij->i", interests.astype(np.float64), e.astype(np.float64))
    return Outcome(update, near_zero, cos, norm, list_overlap(before, after), before, after, item)


class Lab:
    """The three spaces at every dimension, built lazily and cached (thread-safe: the widget
    asks from its own thread).

    Args:
        cfg: the checked parameters.
        spaces: ``{"minilm": (n, 384), "learned": (n, D)}`` unit item vectors in catalogue order
            (``dataset.items``); the random space is generated (``n_random_items`` x dim).
        hist: the sampled users' histories (:func:`sample_histories`).
    """

    def __init__(self, cfg: HighDimConfig, spaces: Mapping[str, np.ndarray],
                 hist: Histories) -> None:
        self.cfg = cfg
        unknown = set(spaces) - set(SPACES[1:])
        if unknown or not spaces:
            raise ValueError(f"spaces {sorted(unknown)} unknown (or none given); pass item "
                             f"vectors for some of {list(SPACES[1:])}")
        self.originals = {name: np.asarray(x, np.float32) for name, x in spaces.items()}
        self.principal = {name: Principal.of(x) for name, x in self.originals.items()}
        self.hist = hist
        rng = np.random.default_rng(cfg.seed + 1)
        n_real = len(next(iter(self.originals.values())))
        random_rows = rng.choice(cfg.n_random_items, size=n_real,
                                 replace=n_real > cfg.n_random_items)
        self._hist = {"random": hist.mapped(random_rows)}
        self._cache: dict[tuple, Any] = {}
        self._lock = threading.RLock()

    @property
    def real_spaces(self) -> tuple[str, ...]:
        """The item spaces given (in ``SPACES`` order)."""
        return tuple(s for s in SPACES if s in self.originals)

    @property
    def spaces(self) -> tuple[str, ...]:
        """"random" and the item spaces given."""
        return ("random", *self.real_spaces)

    def native_dim(self, space: str) -> int:
        """The space's own dimension (the random space: the largest measured)."""
        return max(self.cfg.dims) if space == "random" else self.originals[space].shape[1]

    def variants(self, space: str) -> list[Variant]:
        """The rows of ``space`` in every table: each of ``dims`` (or a skip saying why), then
        the original vectors for a real space."""
        if space == "random":
            return [Variant(space, d, "gaussian") for d in self.cfg.dims]
        native = self.native_dim(space)
        rows = [Variant(space, d, "pca") if d <= native else
                Variant(space, d, "skipped", f"skipped: the {space} vectors have {native} "
                        f"dimensions, so there is no {d}-th principal axis")
                for d in self.cfg.dims]
        return [*rows, Variant(space, native, "original")]

    def measured(self, space: str) -> list[Variant]:
        """The variants of ``space`` that are not skipped."""
        return [v for v in self.variants(space) if v.kind != "skipped"]

    def _cached(self, key: tuple, make: Any) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]

    def matrix(self, v: Variant) -> np.ndarray:
        """The item vectors of a variant, (n, d) unit rows."""
        if v.kind == "skipped":
            raise ValueError(v.note)
        if v.kind == "gaussian":
            return self._cached(("m", v.space, v.dim), lambda: random_unit_vectors(
                self.cfg.n_random_items, v.dim, self.cfg.seed + v.dim))
        if v.kind == "original":
            return self.originals[v.space]
        return self._cached(("m", v.space, v.dim), lambda: project(
            self.originals[v.space], v.dim, self.principal[v.space]))

    def histories(self, space: str) -> Histories:
        """The sampled histories on ``space``'s catalogue."""
        return self._hist.get(space, self.hist)

    def interests(self, v: Variant) -> np.ndarray:
        """Every sampled user's interest vector in the variant's space: the history replayed
        with the package's math and defaults (as ``Recommender.ingest`` does)."""
        def make() -> np.ndarray:
            h = self.histories(v.space)
            out = replay_batch(h.groups, h.rows, h.ops, h.params, item_matrix=self.matrix(v),
                               on_overshoot="skip", cold_subtract="ignore")
            if not out.has_vector.all():
                raise ValueError("a sampled user has no interest vector; sample users with "
                                 f"{MIN_POSITIVE}+ positive events")
            return out.vectors
        return self._cached(("v", v.space, v.dim, v.kind), make)

    def outcome(self, v: Variant, update: Update) -> Outcome:
        """``update`` applied to every sampled user in variant ``v`` (cached)."""
        return self._cached(("o", v.space, v.dim, v.kind, update), lambda: apply_update(
            update, self.interests(v), self.matrix(v), self.histories(v.space), self.cfg.top_k,
            self.cfg.near_zero, self.before(v)))

    def before(self, v: Variant) -> np.ndarray:
        """Every sampled user's top-K in variant ``v``, before any update (cached)."""
        return self._cached(("b", v.space, v.dim, v.kind), lambda: top_lists(
            self.interests(v), self.matrix(v), self.histories(v.space).seen, self.cfg.top_k))

    def pair_cosines(self, v: Variant) -> np.ndarray:
        """Cosines of ``n_pairs`` random item pairs (the same pairs in every variant of a
        space: same seed, same catalogue size)."""
        return self._cached(("p", v.space, v.dim, v.kind), lambda: random_pair_similarities(
            self.matrix(v), self.cfg.n_pairs, self.cfg.seed))

    def sample_items(self, space: str) -> np.ndarray:
        """The items whose neighbours section c compares (the same in every variant)."""
        n = len(self.originals[space])
        rng = np.random.default_rng(self.cfg.seed + 2)
        return np.sort(rng.choice(n, size=min(self.cfg.n_items, n), replace=False))

    def neighbours(self, space: str, x: np.ndarray, euclidean: bool = False) -> np.ndarray:
        """Top-K of the sampled items among rows of ``x`` (itself excluded), by cosine, or by
        distance in the plotted coordinates when ``euclidean``."""
        items = self.sample_items(space)
        x = np.asarray(x, np.float64)
        scores = x[items] @ x.T
        if euclidean:  # -|a - b|^2 up to a per-row constant: the closest points of the picture
            scores = 2 * scores - (x * x).sum(axis=1)[None, :]
        ids, _ = top_n(scores, self.cfg.top_k, exclude=[[i] for i in items])
        return ids

    def neighbour_overlap(self, v: Variant) -> np.ndarray:
        """Per sampled item, the share of its true top-K (original space) found at ``v``."""
        truth = self._cached(("n", v.space), lambda: self.neighbours(
            v.space, self.originals[v.space]))
        return self._cached(("no", v.space, v.dim, v.kind), lambda: list_overlap(
            truth, self.neighbours(v.space, self.matrix(v))))

    def picture_overlap(self, space: str) -> np.ndarray:
        """Per sampled item, the share of its true top-K among its closest points in the 2-D
        PCA picture (plotted coordinates, not renormalized: what the eye reads)."""
        truth = self.neighbours(space, self.originals[space])
        coords = self.principal[space].coordinates(self.originals[space], 2)
        return self._cached(("pic", space), lambda: list_overlap(
            truth, self.neighbours(space, coords, euclidean=True)))

