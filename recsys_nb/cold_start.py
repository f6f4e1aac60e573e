"""Cold-start strategies: how a user with only a few events is served.

The technique starts a user's interest at their first item (``v = e``) and moves it with every
event; until the user has done a few things that vector is one movie wide. The original write-up
suggests bootstrapping "from user demographics or global trends" and "user segments". A strategy
only changes what is *searched* for a user with few events; the stored interest vector is always
the technique's, so nothing is lost when the strategy changes:

- ``"first_item"``: search with the interest vector itself (the technique as written);
- ``"segment"``: search with the interest blended with the nearest user segment's centroid
  (:mod:`recsys_nb.segments`): ``segment_weight`` of the centroid at the first event, fading as
  an EMA would (``segment_weight * (1 - alpha_view) ** (events - 1)``), off below 1 %;
- ``"popular"`` / ``"trending"``: serve the most-watched items of all time / the trending prior's
  list (:mod:`recsys_nb.priors`) while the user has at most ``cold_events`` events.

Users without any interest vector get the prior's list whatever the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_nb.segments import Segments, blend, segment_share

COLD_STARTS = ("first_item", "segment", "popular", "trending")
#: ``segment_weight`` 0.5 (with 4 segments) was the best of 0.25 / 0.5 / 0.75 / 1 x k 4 / 8 / 16
#: on the validation cut-offs of ``benchmarks/cold_start.py`` (new users' Recall@50 at 1 and 3
#: events 0.1474 / 0.1496 vs 0.1451 / 0.1478 for the first item alone); on the test cut-offs it
#: did not beat the first item beyond the noise, so "first_item" stays the default.
#: ``cold_events`` 5: the largest number of first events the notebook measures.
COLD_START_PARAMS = {"cold_start": "first_item", "segments": None, "segment_weight": 0.5,
                     "cold_events": 5}
#: Below this share the centroid no longer changes the search: the user's own vector is used.
MIN_SHARE = 0.01


@dataclass(frozen=True)
class ColdStart:
    """A checked cold-start configuration (see the module docstring)."""

    strategy: str
    segments: Segments | None
    segment_weight: float
    cold_events: int


def check_cold_start(strategy: str, segments: Segments | None, segment_weight: float,
                     cold_events: int, *, dim: int, trending: bool, interests: int) -> ColdStart:
    """Validate a strategy for a recommender of item dimension ``dim`` (``trending``: it keeps
    the trending prior; ``interests``: its interests per user). Raises ValueError naming the
    value and the fix."""
    if strategy not in COLD_STARTS:
        raise ValueError(f"cold_start={strategy!r} is unknown; use one of {list(COLD_STARTS)}")
    w = segment_weight
    if isinstance(w, bool) or not isinstance(w, int | float) or not 0.0 <= float(w) <= 1.0:
        raise ValueError(f"segment_weight={w!r} must be a number in [0, 1] (the centroid's "
                         "share at the first event), e.g. 0.5")
    if isinstance(cold_events, bool) or not isinstance(cold_events, int | np.integer) \
            or cold_events < 1:
        raise ValueError(f"cold_events={cold_events!r} must be an int >= 1 (how many events a "
                         "user is served the popular / trending list for), e.g. 5")
    if segments is not None and not isinstance(segments, Segments):
        raise ValueError(f"segments={type(segments).__name__} must be a "
                         "recsys_nb.segments.Segments (fit_segments(...)) or None")
    if strategy == "segment":
        if segments is None:
            raise ValueError("cold_start='segment' needs segments=fit_segments(interest "
                             "vectors, k) of this item space; pass them, or another cold_start")
        if segments.dim != dim:
            raise ValueError(f"segments of dimension {segments.dim} for item vectors of "
                             f"dimension {dim}; fit the segments in this recommender's space")
    if strategy == "trending" and not trending:
        raise ValueError("cold_start='trending' serves the trending prior's list, and this "
                         "recommender has none; open it with prior='trending' and item counts "
                         "(from_dataset does), or use cold_start='popular'")
    if strategy != "first_item" and interests > 1:
        raise ValueError(f"cold_start={strategy!r} works with one interest per user; open "
                         f"the recommender with interests=1 (got {interests})")
    return ColdStart(strategy, segments, float(w), int(cold_events))


def cold_query(cs: ColdStart, interest: np.ndarray, events: int, alpha_view: float
               ) -> tuple[np.ndarray, str] | None:
    """What to search for a user with ``events`` logged events: ``(query, source)``, or None
    when the strategy serves the popular / trending list instead."""
    if cs.strategy in ("popular", "trending"):
        return None if events <= cs.cold_events else (interest, "interest")
    if cs.strategy == "segment":
        assert cs.segments is not None
        share = segment_share(events, cs.segment_weight, alpha_view)
        if share >= MIN_SHARE:
            centroid = cs.segments.centroids[cs.segments.nearest(interest)]
            return blend(interest, centroid, share), "segment"
    return interest, "interest"
