"""Notebook 09: pick a user segment and a month: what it watched, how well it was forecast."""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_nb.trends import FORECAST_METHODS, forecast, trending_items
from recsys_nb.widgets.outputs import SafeRefresh, _frame_display, _message_output

if TYPE_CHECKING:
    from recsys_nb.lessons.segments_and_trends import CutoffTrends


class SegmentMonthPicker(SafeRefresh):
    """A segment dropdown and a month dropdown over one cut-off's monthly segment centroids.

    For the chosen (segment, month) it lists the movies the segment's members viewed or
    favorited most that month (:func:`recsys_nb.trends.trending_items`) and, when the month has
    events and earlier observed months, how close each forecast (Step 6's momentum, last month,
    a longer mean; :func:`recsys_nb.trends.forecast`) came to the month's actual centroid. A month
    without events of that segment says so instead (MovieLens has ~10 active users a month).

    Pure data, no service: a callback on the widget thread of a current JupyterLab is safe; two
    in flight take turns (``_lock``). A failure is shown in the widget, never raised.

    Args:
        trends: one cut-off's :class:`~recsys_nb.lessons.segments_and_trends.CutoffTrends`.
        titles: item id -> title.
        n: movies listed. window, mean_window: the forecasts' windows.

    Attributes: ``segment`` and ``month`` (Dropdowns), ``status`` (HTML), ``output`` (Output),
    ``widget``; ``top`` (the last list), ``cosines`` (method -> cosine, empty when not
    forecastable), ``renders``, ``error``.
    """

    retry_hint = "Pick another segment or month, or re-run the notebook."

    def __init__(self, trends: CutoffTrends, titles: pd.Series, n: int = 10, window: int = 6,
                 mean_window: int = 12) -> None:
        import ipywidgets as widgets

        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n={n!r} must be a positive integer number of movies")
        self.trends, self.titles, self.n = trends, titles, int(n)
        self.window, self.mean_window = int(window), int(mean_window)
        sm = trends.months
        busy = sm.counts.sum(axis=0) > 0
        months = [m for m, b in zip(sm.months, busy, strict=True) if b]
        if not months:
            raise ValueError("no month has events of any segment; pick another cut-off")
        self.top = pd.DataFrame()
        self.cosines: dict[str, float] = {}
        self.renders = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        start = trends.targets[0] if trends.targets and trends.targets[0] in months \
            else months[-1]
        self.segment = widgets.Dropdown(
            options=[(f"segment {s} ({int(sm.counts[s].sum())} events)", s)
                     for s in range(sm.n_segments)],
            value=int(np.argmax(sm.counts.sum(axis=1))), description="segment")
        self.month = widgets.Dropdown(options=months[::-1], value=start, description="month")
        self.status = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_width="520px"))
        self.widget = widgets.VBox([widgets.HBox([self.segment, self.month]), self.status,
                                    self.output])
        self.segment.observe(self._on_change, names="value")
        self.month.observe(self._on_change, names="value")
        self._safely()


    def refresh(self) -> None:
        """List the (segment, month)'s movies and score the forecasts of that month."""
        with self._lock:
            t, s, month = self.trends, int(self.segment.value), str(self.month.value)
            sm = t.months
            j = sm.index(month)
            top = trending_items(t.events, t.labels, sm.months, s, month, self.n, sm.n_segments)
            top = top.assign(title=self.titles.reindex(top["item_id"]).to_numpy())
            self.top = top[["title", "events"]]
            self.cosines = {}
            observed_before = int(sm.observed[s, :j].sum())
            if sm.observed[s, j] and observed_before >= 2:
                actual = sm.centroids[s, j].astype(np.float64)
                for method in FORECAST_METHODS:
                    f = forecast(sm.centroids[s, :j], sm.observed[s, :j], method, self.window,
                                 self.mean_window)
                    self.cosines[method] = float(f.vector.astype(np.float64) @ actual)
            when = "after the cut-off (a forecast target)" if month in t.targets else \
                "before the cut-off"
            if self.cosines:
                scores = ", ".join(f"{m} <b>{c:.3f}</b>" for m, c in self.cosines.items())
                line = f"cosine of each forecast to the month's centroid: {scores}"
            elif sm.observed[s, j]:
                line = (f"only {observed_before} earlier month(s) with events: too few to "
                        "forecast")
            else:
                line = "no view or favorite by this segment this month: nothing to forecast"
            self.status.value = (f"segment <b>{s}</b>, <b>{html.escape(month)}</b> ({when}): "
                                 f"{int(sm.counts[s, j])} events; {line}")
            heading = f"segment {s}, {month}: most watched"
            self.output.outputs = (_frame_display(heading, self.top) if len(self.top) else
                                   _message_output(f"{heading}: no events"),)
            self.error = None
            self.renders += 1


