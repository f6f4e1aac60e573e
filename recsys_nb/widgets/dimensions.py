"""Notebook 08: how often "not interested" nearly cancels an interest vector, by dimension."""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_nb.widgets.outputs import SafeRefresh, _figure_output, _frame_display

if TYPE_CHECKING:
    from recsys_nb.lessons.high_dimensions_spaces import Lab, Outcome


class CancellationExplorer(SafeRefresh):
    """A dimension slider and a factor slider over one space of the notebook-08 lab.

    Each move applies ``v = normalize(v - factor * e)`` to every sampled user's interest vector
    at that dimension, ``e`` one of the user's own top-K (a "not interested" click on a
    recommendation), and shows: how many users' vectors nearly cancelled (norm before
    normalizing below the lab's ``near_zero``) and how many lists flipped (fewer than half of
    the top-K kept), a histogram of the norms, and one example: the user whose vector came
    closest to cancelling, with the items that left and joined the list.

    The work is pure numpy on the lab's cached arrays (the lab takes a lock), and the figure is
    drawn without pyplot, so a callback on the widget thread of a current JupyterLab is safe; two
    callbacks in flight take turns (``_lock``). A failure is shown in the widget, never raised.

    Args:
        lab: the lesson's :class:`~recsys_nb.lessons.high_dimensions_spaces.Lab`.
        space: "random", "minilm" or "learned".
        titles: a name per catalogue row (the real spaces' movies); the random space's items
            are named by row.
        factor: the factor slider's start (the package's ``not_interested_factor`` by default).

    Attributes: ``dimension`` (SelectionSlider), ``factor`` (FloatSlider), ``status`` (HTML),
    ``output`` (Output: the example), ``figure`` (Output: the norms), ``widget``; ``outcome``
    (the last :class:`~recsys_nb.lessons.high_dimensions_spaces.Outcome`), ``example`` (its
    frame), ``cancelled_rate``, ``flipped_rate``, ``renders``, ``error`` (the last failure
    shown, or None).
    """

    retry_hint = "Move a slider again, or re-run the notebook."

    def __init__(self, lab: Lab, space: str = "minilm", titles: Sequence[str] | None = None,
                 factor: float = 0.1) -> None:
        import ipywidgets as widgets

        names = ("random", *lab.originals)
        if space not in names:
            raise ValueError(f"space={space!r} is not in the lab; use one of {list(names)}")
        if isinstance(factor, bool) or not isinstance(factor, int | float) or \
                not 0.0 <= factor <= 2.0:
            raise ValueError(f"factor={factor!r} must be a number in [0, 2] (the slider's range)")
        self.lab, self.space = lab, space
        self.titles = None if titles is None or space == "random" else list(titles)
        self.variants = lab.measured(space)
        self.outcome: Outcome | None = None
        self.example: pd.DataFrame | None = None
        self.cancelled_rate = self.flipped_rate = 0.0
        self.renders = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self.dimension = widgets.SelectionSlider(
            options=[(v.key, i) for i, v in enumerate(self.variants)], value=0,
            description="dimension", continuous_update=False)
        self.factor = widgets.FloatSlider(value=float(factor), min=0.0, max=2.0, step=0.05,
                                          readout_format=".2f", description="factor",
                                          continuous_update=False)
        self.status = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_width="520px"))
        self.figure = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.dimension, self.factor]), self.status,
                                    widgets.HBox([self.output, self.figure])])
        self.dimension.observe(self._on_change, names="value")
        self.factor.observe(self._on_change, names="value")
        self._safely()


    @property
    def factor_value(self) -> float:
        """The slider's factor (rounded: slider steps are binary fractions)."""
        return round(float(self.factor.value), 6)

    def _name(self, row: int) -> str:
        if row < 0:
            return "(nothing: the vector cancelled)"
        return self.titles[row] if self.titles is not None else f"random item {row}"

    def refresh(self) -> None:
        """Apply the subtraction at the sliders' dimension and factor; redraw."""
        from matplotlib.figure import Figure  # no pyplot: safe from any thread

        from recsys_nb.lessons.high_dimensions_spaces import Update

        with self._lock:
            variant = self.variants[int(self.dimension.value)]
            factor = self.factor_value
            o = self.lab.outcome(variant, Update("subtract", factor))
            cancelled, flipped = o.cancelled, o.flipped
            i = int(np.argmin(o.norm))  # the user closest to cancelling
            user = self.lab.histories(self.space).users[i]
            kept = set(o.before[i]) & set(o.after[i])
            dropped = [self._name(r) for r in o.before[i] if r not in kept]
            added = [self._name(r) for r in o.after[i] if r not in kept and r >= 0]
            self.example = pd.DataFrame({
                "what": ["user", "item rejected (from the user's top list)", "cos(v, e)",
                         "norm of v - factor*e before normalizing", "top list kept",
                         "left the list", "joined the list"],
                "value": [str(user), self._name(int(o.item[i])), f"{o.cos[i]:.4f}",
                          f"{o.norm[i]:.4f}", f"{o.overlap[i]:.0%}",
                          "; ".join(dropped) or "-", "; ".join(added) or "-"]})
            self.output.outputs = (_frame_display(
                f"{self.space}, d={variant.key}, factor={factor:g}: the user closest to "
                "cancelling", self.example),)
            fig = Figure(figsize=(4.2, 2.6), dpi=80, layout="constrained")
            ax = fig.subplots()
            ax.hist(o.norm, bins=30, range=(0.0, max(1.0 + factor, 1e-3)), color="tab:blue")
            ax.axvline(self.lab.cfg.near_zero, color="tab:red", ls="--")
            ax.set_xlabel("norm before normalizing")
            ax.set_ylabel("users")
            text = (f"norms: min {o.norm.min():.3f}, median {np.median(o.norm):.3f}; "
                    f"{int(cancelled.sum())} below {self.lab.cfg.near_zero:g}")
            self.figure.outputs = (_figure_output(fig, text),)
            self.outcome = o
            self.cancelled_rate, self.flipped_rate = float(cancelled.mean()), float(flipped.mean())
            self.status.value = (
                f"{html.escape(self.space)} at d=<b>{html.escape(variant.key)}</b>, factor="
                f"<b>{factor:g}</b>: nearly cancelled (norm &lt; {self.lab.cfg.near_zero:g}) "
                f"<b>{self.cancelled_rate:.0%}</b> of {len(o.norm)} users, list flipped "
                f"<b>{self.flipped_rate:.0%}</b>; floor |1 - factor| = {abs(1 - factor):.2f}")
            self.error = None
            self.renders += 1


