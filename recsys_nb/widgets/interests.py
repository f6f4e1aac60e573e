"""Notebook 10: the diversity / accuracy knob of a user with several interests."""

from __future__ import annotations

import html
import threading
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_nb.interests import MERGES
from recsys_nb.plots import plot_items_per_interest
from recsys_nb.widgets.common import _genres_text, item_label
from recsys_nb.widgets.outputs import SafeRefresh, _figure_output, _frame_display

if TYPE_CHECKING:
    from recsys_nb.recommender import Recommender


class InterestMixer(SafeRefresh):
    """One user's recommendations from several interests, with the two knobs of the merge.

    ``diversity`` (a slider, 0..1) and ``merge`` (a dropdown, "round_robin" / "score") are
    applied to the service live (``rec.set_params(merge=..., diversity=...)``, validated; they
    only rank, the stored interests never move), then the list is asked again
    (``rec.recommend(user, n)``): the table shows it with the ``interest`` behind each item, the
    bar chart how many places each interest got next to its share of the weights. Diversity 0
    shares the list by weight (a weak taste gets little room); 1 gives every interest as much
    room as the strongest.

    Every callback goes through the service's public, serialized methods and draws its figure
    without pyplot, so it works from the widget thread of a current JupyterLab; two callbacks in
    flight at once take turns (``_lock``). A failure is shown in the widget, never raised.

    Args:
        rec: a service with several interests per user (``interests > 1``).
        user: whose list is shown (must have interests).
        n: items listed.
        labels: a name per interest index for the bars and the table (e.g. its top genres).
        held: items to mark "held out" (what the user watched later), optional.

    Attributes: ``rec``, ``user``, ``n``, ``diversity`` (FloatSlider), ``merge`` (Dropdown),
    ``status`` (HTML), ``output`` (Output: the list), ``bars`` (Output: the figure), ``widget``;
    ``top`` (the last ``recommend`` frame), ``table`` (the frame shown), ``counts`` (items per
    interest), ``weights`` (the interests' weights), ``renders``, ``error`` (the last failure
    shown, or None).
    """

    retry_hint = "If the notebook closed the service, re-run the notebook to keep exploring."

    def __init__(self, rec: Recommender, user: int | str, n: int = 10,
                 labels: Mapping[int, str] | None = None,
                 held: Collection[int] = ()) -> None:
        import ipywidgets as widgets

        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n={n!r} must be a positive integer number of items")
        if getattr(rec, "max_interests", 1) < 2:
            raise ValueError("InterestMixer needs a service with several interests per user; "
                             "open it with interests=2 or more (Recommender(..., interests=2))")
        self.rec = rec
        self.user = user.item() if hasattr(user, "item") else user
        rec.interests(self.user)  # KeyError now, naming the fix, for a user without interests
        self.n = int(n)
        self.labels = dict(labels or {})
        self.held = {int(i) for i in held}
        self.top: pd.DataFrame | None = None
        self.table: pd.DataFrame | None = None
        self.counts = np.zeros(0, dtype=np.int64)
        self.weights = np.zeros(0)
        self.renders = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self.diversity = widgets.FloatSlider(
            value=float(rec.diversity), min=0.0, max=1.0, step=0.05, readout_format=".2f",
            description="diversity", continuous_update=False)
        self.merge = widgets.Dropdown(options=list(MERGES), value=rec.merge,
                                      description="merge")
        self.status = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_width="520px"))
        self.bars = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.diversity, self.merge]), self.status,
                                    widgets.HBox([self.output, self.bars])])
        self.diversity.observe(self._on_change, names="value")
        self.merge.observe(self._on_change, names="value")
        self._safely()


    @property
    def diversity_value(self) -> float:
        """The slider's diversity (rounded: slider steps are binary fractions)."""
        return round(float(self.diversity.value), 6)

    def _name(self, i: int) -> str:
        extra = self.labels.get(int(i))
        return f"interest {int(i)}" + (f": {extra}" if extra else "")

    def refresh(self) -> None:
        """Apply the controls to the service, ask for the list again and redraw."""
        from matplotlib.figure import Figure  # no pyplot: safe from any thread

        with self._lock:
            merge, diversity = str(self.merge.value), self.diversity_value
            self.rec.set_params(merge=merge, diversity=diversity)
            top = self.rec.recommend(self.user, n=self.n)
            state = self.rec.interests(self.user)
            interest = top["interest"].to_numpy(dtype=np.int64) if "interest" in top.columns \
                else np.zeros(len(top), dtype=np.int64)
            self.top, self.weights = top, state.weights.copy()
            self.counts = np.bincount(interest, minlength=state.m)[: state.m]
            table = pd.DataFrame({
                "movie": [item_label(t, y) for t, y in zip(top["title"], top["year"],
                                                           strict=True)],
                "genres": [_genres_text(g) for g in top["genres"]],
                "interest": interest,
                "score": top["score"].to_numpy(dtype=np.float64),
            })
            if self.held:
                table["held out"] = ["yes" if int(i) in self.held else "" for i in
                                     top["item_id"]]
            self.table = table
            heading = (f"user {self.user}: top {self.n} with merge={merge}, "
                       f"diversity={diversity:g}")
            self.output.outputs = (_frame_display(heading, table),)
            fig = Figure(figsize=(4.6, 0.9 + 0.45 * state.m), dpi=80, layout="constrained")
            plot_items_per_interest(self.counts, self.weights,
                                    [self._name(i) for i in range(state.m)], ax=fig.subplots())
            text = "items per interest: " + ", ".join(
                f"{self._name(i)} {int(c)}" for i, c in enumerate(self.counts))
            self.bars.outputs = (_figure_output(fig, text),)
            shares = self.weights / self.weights.sum()
            self.status.value = (
                f"service: merge=<b>{html.escape(merge)}</b>, diversity=<b>{diversity:g}</b>; "
                f"{state.m} interests, weight shares "
                + ", ".join(f"{s:.0%}" for s in shares) + "; places in the list "
                + ", ".join(str(int(c)) for c in self.counts)
                + (f"; held-out items found {int((table['held out'] == 'yes').sum())}"
                   if self.held else ""))
            self.error = None
            self.renders += 1


