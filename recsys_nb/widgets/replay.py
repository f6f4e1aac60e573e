"""Notebook 02: replay a user's history event by event with alphas of your choice; and what the
history widgets (this one and notebook 05's :class:`~recsys_nb.widgets.momentum.MomentumScrubber`)
share."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_nb.item_space import genre_centroids
from recsys_nb.plots import plot_genre_similarity, top_genres
from recsys_nb.snapshot import mimebundle
from recsys_nb.trajectories import (
    interest_trajectory,
    relative_similarities,
    trajectory_similarities,
)
from recsys_nb.widgets.common import _genres_text, item_label
from recsys_nb.widgets.outputs import _figure_output, _message_output

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

    from recsys_nb.recommender import Recommender


class _ReplayView:
    """What the history widgets share (:class:`InterestReplay`, :class:`MomentumScrubber`): a
    ``widget`` they display as, an ``output`` showing the figure, and controls whose callbacks
    either recompute the curves (``_recompute``, then ``render``) or only redraw (``render``).

    Callbacks cannot raise into the front end, so a failure is shown in ``output`` and kept in
    ``error`` (None after a successful draw)."""

    widget: ipywidgets.VBox
    output: ipywidgets.Output
    error: str | None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return mimebundle(self.widget, **kwargs)  # live view + static snapshot for reports

    def _recompute(self) -> None:
        raise NotImplementedError

    def render(self) -> None:
        raise NotImplementedError

    def _guarded(self, recompute: bool) -> None:
        """Recompute and/or redraw; failures are shown in the Output (callbacks cannot raise)."""
        try:
            if recompute:
                self._recompute()
            self.render()
            self.error = None
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self.error = f"{type(exc).__name__}: {exc}"
            self.output.outputs = (_message_output(self.error),)

    def _on_recompute(self, change: dict[str, Any]) -> None:
        self._guarded(recompute=True)

    def _on_redraw(self, change: dict[str, Any]) -> None:
        self._guarded(recompute=False)


def _check_history_columns(frames: dict[str, pd.DataFrame], hint: str) -> None:
    """ValueError naming the frame that lacks item_id / kind, and ``hint`` (what to pass)."""
    for name, frame in frames.items():
        missing = [c for c in ("item_id", "kind") if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}; {hint}")


def _item_rows(rec: Recommender, frame: pd.DataFrame, name: str) -> np.ndarray:
    """Row of each of ``frame``'s items in ``rec.item_ids`` order (KeyError for unknown items)."""
    item_ids = rec.item_ids
    ids = frame["item_id"].astype(int).to_numpy()
    unknown = sorted(set(ids.tolist()) - set(item_ids.tolist()))
    if unknown:
        raise KeyError(f"{name} has item ids {unknown[:5]} that the recommender does not know")
    return pd.Series(np.arange(len(item_ids)), index=item_ids).loc[ids].to_numpy()


def _event_labels(rec: Recommender, history: pd.DataFrame) -> list[str]:
    """One line per event: "[date ]kind Title (year) [genres]" (the date when timestamped)."""
    ids = history["item_id"].astype(int).to_numpy()
    meta = rec.items.loc[ids]
    when = (pd.to_datetime(history["timestamp"].astype(float), unit="s", utc=True)
            .dt.strftime("%Y-%m-%d ").tolist() if "timestamp" in history.columns
            else [""] * len(ids))
    return [
        f"{d}{k} {item_label(t, y)} [{_genres_text(g)}]"
        for d, k, t, y, g in zip(when, history["kind"], meta["title"], meta["year"],
                                 meta["genres"], strict=True)
    ]


class InterestReplay(_ReplayView):
    """Replay one user's history event by event, with alphas of your choice.

    Build it for a user with :meth:`for_history` (the constructor takes the prepared arrays).
    The plot shows the cosine of the interest vector with each genre centroid after every event
    (solid up to the current event), and bars of those cosines at the current event. Attributes:

    - ``alpha_view``, ``alpha_favorite`` (FloatSliders): the EMA weights; moving one replays the
      whole history again (``vectors.apply_event``, the Recommender's rules).
    - ``step`` (IntSlider, 1..number of events) and ``play`` (Play, linked to ``step``): the
      event shown.
    - ``relative`` (Checkbox): plot each cosine minus the mean over the genres (genre centroids
      share most of their direction, so the gaps tell the genres apart); redraw only.
    - ``status`` (HTML): the current event and the closest genre; ``output`` (Output): the figure.
    - ``widget``: the whole UI. ``genres``, ``centroids`` (g, d): what the curves compare against.
    - ``trajectory`` (m, d) and ``similarities`` (m, g): the current replay; ``figure``: the last
      matplotlib Figure drawn; ``renders``: how many times it was drawn; ``error``: the last
      failure shown in the Output, or None.
    """

    def __init__(
        self,
        item_matrix: np.ndarray,
        rows: np.ndarray,
        kinds: list[str],
        event_labels: list[str],
        genres: list[str],
        centroids: np.ndarray,
        alpha_view: float,
        alpha_favorite: float,
        not_interested_factor: float,
        title: str = "",
        relative: bool = True,
    ) -> None:
        import ipywidgets as widgets

        if len(rows) == 0:
            raise ValueError("the history is empty; pass a user with events")
        self.item_matrix = item_matrix
        self.rows, self.kinds, self.event_labels = rows, kinds, event_labels
        self.genres, self.centroids = genres, centroids
        self.not_interested_factor = float(not_interested_factor)
        self.title = title
        self.figure: Figure | None = None
        self.renders = 0
        self.error: str | None = None
        m = len(rows)
        slider = {"min": 0.01, "max": 1.0, "step": 0.01, "continuous_update": False,
                  "readout_format": ".2f", "style": {"description_width": "initial"}}
        self.alpha_view = widgets.FloatSlider(value=alpha_view, description="alpha (view)",
                                              **slider)
        self.alpha_favorite = widgets.FloatSlider(value=alpha_favorite,
                                                  description="alpha (favorite)", **slider)
        self.step = widgets.IntSlider(value=m, min=1, max=m, description="event",
                                      layout=widgets.Layout(width="520px"))
        self.play = widgets.Play(value=m, min=1, max=m, interval=300, description="play")
        self._link = widgets.link((self.play, "value"), (self.step, "value"))
        self.relative = widgets.Checkbox(value=relative, description="relative to the genre mean")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.widget = widgets.VBox([
            widgets.HBox([self.alpha_view, self.alpha_favorite, self.relative]),
            widgets.HBox([self.play, self.step]),
            self.status,
            self.output,
        ])
        self.trajectory = np.empty((0, item_matrix.shape[1]), dtype=np.float32)
        self.similarities = np.empty((0, len(genres)))
        self._guarded(recompute=True)
        self.alpha_view.observe(self._on_recompute, names="value")
        self.alpha_favorite.observe(self._on_recompute, names="value")
        self.step.observe(self._on_redraw, names="value")
        self.relative.observe(self._on_redraw, names="value")

    @classmethod
    def for_history(
        cls,
        rec: Recommender,
        history: pd.DataFrame,
        genres: list[str] | None = None,
        n_genres: int = 6,
        title: str = "",
        relative: bool = True,
    ) -> InterestReplay:
        """The replay widget for one user's history over a Recommender's item vectors.

        The item vectors are copied out of ``rec`` once, so the widget keeps working after
        ``rec.close()``; it never writes to the store (moving a slider is a what-if, not an
        event).

        Args:
            rec: the service; gives item vectors, genres, titles and the default alphas / factor.
            history: the user's events (item_id, kind; timestamp optional), oldest first, e.g.
                ``dataset.user_history(user)`` or ``rec.history(user)``.
            genres: genres to compare with (default: the ``n_genres`` most frequent in the
                history).
            n_genres: how many genres when ``genres`` is None.
            title: shown above the curves.
            relative: start with the "relative to the genre mean" view (a checkbox switches it).

        Raises:
            ValueError: ``history`` lacks item_id / kind, or is empty. KeyError: it holds items
                the recommender does not know.
        """
        _check_history_columns({"history": history}, "pass dataset.user_history(user)")
        item_ids = rec.item_ids
        matrix = rec.item_matrix()
        rows = _item_rows(rec, history, "history")
        item_genres = [g if isinstance(g, list | tuple | np.ndarray) else []
                       for g in rec.items.loc[item_ids, "genres"]]
        if genres is None:
            genres = top_genres([item_genres[r] for r in rows], n_genres)
        centroids = genre_centroids(item_genres, matrix, genres)
        return cls(
            matrix, rows, history["kind"].astype(str).tolist(), _event_labels(rec, history),
            list(genres), centroids,
            rec.alpha_view, rec.alpha_favorite, rec.not_interested_factor, title=title,
            relative=relative,
        )

    def _recompute(self) -> None:
        self.replay()

    def replay(self) -> np.ndarray:
        """Recompute the trajectory with the sliders' alphas; returns the similarities (m, g)."""
        self.trajectory = interest_trajectory(
            self.item_matrix, self.rows, self.kinds, self.alpha_view.value,
            self.alpha_favorite.value, self.not_interested_factor,
        )
        self.similarities = trajectory_similarities(self.trajectory, self.centroids)
        return self.similarities

    def top_genre(self, step: int | None = None) -> str | None:
        """The genre whose centroid is closest to the interest after event ``step`` (1-based;
        default: the slider's), or None before the user has a vector."""
        k = (self.step.value if step is None else int(step)) - 1
        row = self.similarities[k]
        return None if np.isnan(row).all() else self.genres[int(np.nanargmax(row))]

    def render(self) -> None:
        """Draw the figure and the status line for the current event."""
        from matplotlib.figure import Figure

        k = self.step.value
        relative = bool(self.relative.value)
        shown = relative_similarities(self.similarities) if relative else self.similarities
        sims = self.similarities[k - 1]
        top = self.top_genre(k)
        fig = Figure(figsize=(11, 3.8), dpi=80, layout="constrained")
        ax_line, ax_bar = fig.subplots(1, 2, width_ratios=[3, 1])
        plot_genre_similarity(self.similarities, self.genres, step=k, ax=ax_line,
                              title=self.title or None, relative=relative)
        colors = ["#1f77b4" if g == top else "#c7c7c7" for g in self.genres]
        ax_bar.barh(self.genres[::-1], np.nan_to_num(shown[k - 1][::-1]), color=colors[::-1])
        if relative:
            reach = max(0.05, float(np.nanmax(np.abs(shown), initial=0.0)))
            ax_bar.set_xlim(-reach, reach)
        else:
            ax_bar.set_xlim(min(0.0, float(np.nanmin(shown, initial=0.0))), 1.0)
        ax_bar.axvline(0.0, color="black", lw=0.6)
        ax_bar.set_title(f"after event {k}", fontsize=10)
        ax_bar.set_xlabel("cosine - genre mean" if relative else "cosine")
        self.figure = fig
        closest = "no interest vector yet" if top is None else (
            f"closest genre: <b>{html.escape(top)}</b> (cosine {np.nanmax(sims):.3f})")
        self.status.value = (
            f"event {k}/{len(self.rows)}: {html.escape(self.event_labels[k - 1])} &rarr; {closest}"
        )
        text = f"event {k}: {self.event_labels[k - 1]}; closest genre {top}"
        self.output.outputs = (_figure_output(fig, text),)
        self.renders += 1

