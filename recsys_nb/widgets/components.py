"""The playground's parts (notebook 07), each with one job, all on the public ``Recommender`` API:

- :class:`MovieCard` — one movie, a one-line reason, action buttons;
- :class:`MovieList` — a fixed number of cards re-filled in place (no widget churn per click);
- :class:`SearchBox` — find movies by title, or by meaning (free text) when a text search is given;
- :class:`UserPicker` — continue a user, start a fresh one, or clone a real MovieLens user;
- :class:`ParameterSliders` — alpha_view, alpha_favorite, not_interested_factor,
  popularity_weight, for ``Recommender.set_params``;
- :class:`InterestPicture` — the user's interest moving, in a 2-D PCA map of the items.

Components call the callbacks they are given as they are; their owner (the
:class:`~recsys_nb.widgets.playground.Playground`) wraps each one so that a failure becomes a
message in the app. What a component does on its own (a search) shows its failures itself.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_nb.plots import pca_axes
from recsys_nb.widgets.common import item_label, title_matches
from recsys_nb.widgets.outputs import _figure_output

if TYPE_CHECKING:
    from recsys_nb.recommender import Recommender


#: Button label -> Recommender event method.
ACTIONS = {"watch": "view", "favorite": "favorite", "not interested": "not_interested"}
_BUTTON_STYLE = {"watch": "info", "favorite": "success", "not interested": "warning"}
_KIND_WORD = {"view": "watched", "favorite": "loved", "not_interested": "rejected"}

#: A search by meaning: ``search(query, n) -> items rows + similarity`` (see ``text_search``).
TextSearch = Callable[[str, int], pd.DataFrame]


def _widgets() -> Any:
    import ipywidgets

    return ipywidgets


class MovieCard:
    """One movie: "Title (year) · genres · score", a one-line reason, and action buttons.

    ``on_action(item_id, action)`` is called with the card's current movie when a button is
    clicked (actions are keys of :data:`ACTIONS`).
    """

    def __init__(self, actions: Sequence[str], on_action: Callable[[int, str], None]) -> None:
        w = _widgets()
        self.item_id: int | None = None
        self.label = w.HTML()
        self.reason = w.HTML()
        self.buttons = {
            a: w.Button(description=a, button_style=_BUTTON_STYLE.get(a, ""),
                        layout=w.Layout(width="120px"))
            for a in actions
        }
        for action, button in self.buttons.items():
            button.on_click(lambda _b, action=action: self._clicked(action, on_action))
        self.widget = w.HBox(
            [w.HBox(list(self.buttons.values())), w.VBox([self.label, self.reason])],
            layout=w.Layout(border_bottom="1px solid #eee", padding="2px 0"),
        )

    def _clicked(self, action: str, on_action: Callable[[int, str], None]) -> None:
        if self.item_id is not None:
            on_action(self.item_id, action)

    def show(self, item_id: int, title: str, detail: str = "", reason: str = "") -> None:
        """Fill the card with a movie."""
        self.item_id = int(item_id)
        extra = f" &middot; <span style='color:#555'>{html.escape(detail)}</span>" if detail else ""
        self.label.value = f"<b>{html.escape(title)}</b>{extra}"
        self.reason.value = (f"<span style='color:#777;font-size:90%'>{html.escape(reason)}"
                             "</span>") if reason else ""
        self.widget.layout.display = "flex"

    def hide(self) -> None:
        """Empty the card (fewer movies than cards)."""
        self.item_id = None
        self.widget.layout.display = "none"


class MovieList:
    """``size`` :class:`MovieCard` s showing a frame of movies, re-filled in place."""

    def __init__(
        self, size: int, actions: Sequence[str], on_action: Callable[[int, str], None]
    ) -> None:
        w = _widgets()
        self.cards = [MovieCard(actions, on_action) for _ in range(int(size))]
        self.heading = w.HTML()
        self.widget = w.VBox([self.heading, *(c.widget for c in self.cards)])
        self.item_ids: list[int] = []

    def show(self, heading: str, frame: pd.DataFrame, reasons: dict[int, str] | None = None,
             score: str | None = "score") -> None:
        """Show the rows of ``frame`` (item_id, title, year, genres[, score]) best first."""
        reasons = reasons or {}
        self.heading.value = f"<b>{html.escape(heading)}</b>"
        self.item_ids = [int(i) for i in frame["item_id"]][: len(self.cards)]
        for k, card in enumerate(self.cards):
            if k >= len(self.item_ids):
                card.hide()
                continue
            row = frame.iloc[k]
            genres = row.get("genres", "")
            genres = " | ".join(genres) if isinstance(genres, list | tuple) else str(genres or "")
            detail = genres.replace("|", ", ")
            if score and score in frame.columns:
                detail += f" · {score} {float(row[score]):.3f}"
            card.show(self.item_ids[k], f"{k + 1}. {item_label(row['title'], row.get('year'))}",
                      detail, reasons.get(self.item_ids[k], ""))


class SearchBox:
    """Find a movie to start from: type a title (or a description, when ``search`` is given) and
    press Enter; results come as cards with watch / favorite buttons.

    Title matches come first ("star wars" finds all of them); when no title matches and a text
    search is available, the query is searched by meaning ("space opera with robots").
    An empty query or a query without any match says so ("no matches"), nothing raises; a
    failing search by meaning is a message in ``status``, not a traceback.
    """

    def __init__(self, items: pd.DataFrame, on_action: Callable[[int, str], None],
                 search: TextSearch | None = None, n: int = 5) -> None:
        w = _widgets()
        self.items = items
        self.semantic = search
        self.n = int(n)
        hint = "title or description" if search else "title"
        self.text = w.Text(placeholder=f"search a movie by {hint}, then Enter",
                           description="search:", continuous_update=False,
                           layout=w.Layout(width="420px"))
        self.status = w.HTML()
        self.results = MovieList(self.n, ["watch", "favorite"], on_action)
        self.widget = w.VBox([w.HBox([self.text, self.status]), self.results.widget])
        self.text.observe(self._on_text, names="value")
        self.results.show("", items.iloc[:0])

    def _on_text(self, change: dict[str, Any]) -> None:
        """The Enter key: search; a failure is shown in ``status`` (callbacks cannot raise)."""
        try:
            self.run(change["new"])
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            text = html.escape(f"{type(exc).__name__}: {exc}")
            self.status.value = f"<span style='color:#b00020'>search failed: {text}</span>"
            self.results.show("", self.items.iloc[:0])

    def find(self, query: str) -> tuple[pd.DataFrame, str]:
        """``(rows, how)`` for a query: how = "title", "meaning" or "" (no matches)."""
        query = (query or "").strip()
        if not query:
            return self.items.iloc[:0], ""
        hits = title_matches(self.items, query, self.n)
        if len(hits):
            return hits, "title"
        if self.semantic is not None:
            return self.semantic(query, self.n), "meaning"
        return hits, ""

    def run(self, query: str) -> pd.DataFrame:
        """Search and show the results (the Enter key does this)."""
        hits, how = self.find(query)
        if not how:
            self.status.value = ("<i>type a title, then Enter</i>" if not (query or "").strip()
                                 else f"<i>no matches for {html.escape(query)!s}</i>")
        else:
            self.status.value = f"<i>{len(hits)} by {how}</i>"
        self.results.show("", hits, score="similarity" if how == "meaning" else None)
        return hits


class UserPicker:
    """Whose recommendations: type a user id and press Enter (continue that user), start a fresh
    user, or clone a real MovieLens user (their history becomes a new user's).

    ``on_clone`` gets the dropdown's value: a MovieLens user id, or None when there is no choice.
    """

    def __init__(self, clone_choices: Sequence[int], on_pick: Callable[[str], None],
                 on_new: Callable[[], None], on_clone: Callable[[int | None], None]) -> None:
        w = _widgets()
        self.text = w.Text(description="user:", continuous_update=False,
                           placeholder="a user id, then Enter", layout=w.Layout(width="260px"))
        self.new = w.Button(description="new user", icon="", layout=w.Layout(width="100px"))
        self.clones = w.Dropdown(options=[(f"MovieLens user {u}", int(u)) for u in clone_choices],
                                 description="clone:", layout=w.Layout(width="260px"))
        self.clone = w.Button(description="clone", layout=w.Layout(width="80px"))
        self.text.observe(lambda change: on_pick(change["new"]), names="value")
        self.new.on_click(lambda _b: on_new())
        self.clone.on_click(lambda _b: on_clone(self.clones.value))
        self.widget = w.HBox([self.text, self.new, self.clones, self.clone])


class ParameterSliders:
    """The technique's four knobs as sliders, starting at the service's values.

    ``on_change(name, value)`` gets each moved slider's value; the owner applies it to the live
    service (the Playground calls ``Recommender.set_params``, which validates it)."""

    LIMITS = {"alpha_view": (0.05, 1.0), "alpha_favorite": (0.05, 1.0),
              "not_interested_factor": (0.0, 1.5), "popularity_weight": (0.0, 4.0)}

    def __init__(self, rec: Recommender, on_change: Callable[[str, float], None]) -> None:
        w = _widgets()
        self.rec = rec
        self.sliders = {}
        for name, (low, high) in self.LIMITS.items():
            value = rec.prior_weight if name == "popularity_weight" else getattr(rec, name)
            self.sliders[name] = w.FloatSlider(
                value=float(value), min=low, max=high, step=0.05, description=name,
                continuous_update=False, readout_format=".2f",
                style={"description_width": "150px"}, layout=w.Layout(width="420px"),
            )
            self.sliders[name].observe(
                lambda change, name=name: on_change(name, float(change["new"])), names="value")
        if rec.item_store.prior is None:  # plain vectors: no prior to weigh
            self.sliders["popularity_weight"].disabled = True
        self.widget = w.VBox(list(self.sliders.values()))

    def reset(self) -> None:
        """Back to the package defaults (each slider's change goes through ``on_change``)."""
        from recsys_nb.recommender import DEFAULT_PARAMS

        for name, slider in self.sliders.items():
            if not slider.disabled:
                slider.value = DEFAULT_PARAMS[name]


class InterestPicture:
    """The user's interest moving: items in 2-D (PCA of the item vectors, grey), the interest
    after each event (the trail), the events' movies and the current recommendations.

    A 2-D picture of a 128-d space keeps only the variance shares printed on its axes: read it
    as "which way the interest moves", not as distances. One figure is drawn once and only its
    points move on each update (a click costs one PNG, not a new figure).
    """

    _STYLES = {"view": ("o", "#1f77b4"), "favorite": ("*", "#e6a100"),
               "not_interested": ("x", "#d62728")}

    def __init__(self, rec: Recommender, background: int = 1500, seed: int = 0) -> None:
        from matplotlib.figure import Figure  # no pyplot: safe from any thread

        w = _widgets()
        matrix = rec.item_matrix()
        self.mean, self.axes, self.explained = pca_axes(matrix)
        self.rec = rec
        rng = np.random.default_rng(seed)
        sample = rng.choice(len(matrix), size=min(background, len(matrix)), replace=False)
        self.fig = Figure(figsize=(6.2, 4.4), dpi=72)
        self.fig.subplots_adjust(left=0.11, right=0.98, top=0.93, bottom=0.11)
        ax = self.ax = self.fig.subplots()
        self.background = self.project(matrix[sample])
        ax.scatter(*self.background.T, s=3, color="#d0d0d0", label="movies")
        empty = np.zeros((0, 2))
        self.points = {
            kind: ax.scatter(*empty.T, marker=m, s=60, color=c, label=_KIND_WORD[kind])
            for kind, (m, c) in self._STYLES.items()
        }
        self.points["recommended"] = ax.scatter(*empty.T, marker="^", s=40, color="#2ca02c",
                                                label="recommended")
        (self.trail,) = ax.plot([], [], "-", color="black", lw=1.2, alpha=0.7)
        self.now = ax.scatter(*empty.T, s=140, facecolor="none", edgecolor="black", lw=2,
                              label="interest now")
        ax.set_xlabel(f"PC1 ({self.explained[0]:.0%} of variance)")
        ax.set_ylabel(f"PC2 ({self.explained[1]:.0%})")
        ax.set_xticks([])  # PCA coordinates have no unit worth reading; ticks cost a third of
        ax.set_yticks([])  # the drawing time of every click
        ax.set_title("interest trail in a 2-D map of the items", fontsize=10)
        ax.legend(fontsize=7, loc="best")
        self.output = w.Output(layout=w.Layout(width="460px"))
        self.widget = self.output

    def project(self, x: np.ndarray) -> np.ndarray:
        """2-D coordinates of vectors of the item space."""
        return (np.atleast_2d(np.asarray(x, dtype=np.float64)) - self.mean) @ self.axes.T

    def _items_xy(self, item_ids: Sequence[int]) -> np.ndarray:
        if not len(item_ids):
            return np.zeros((0, 2))
        return self.project(np.stack([self.rec.item_vector(int(i)) for i in item_ids]))

    def update(self, history: pd.DataFrame, trail: np.ndarray, recommended: Sequence[int]) -> Any:
        """Move the points to this history, trail and list; returns the Figure."""
        for kind in self._STYLES:
            self.points[kind].set_offsets(
                self._items_xy(history.loc[history["kind"] == kind, "item_id"].tolist()))
        self.points["recommended"].set_offsets(self._items_xy(recommended))
        steps = trail[~np.isnan(trail).any(axis=1)] if len(trail) else np.zeros((0, 2))
        xy = self.project(steps) if len(steps) else np.zeros((0, 2))
        self.trail.set_data(xy[:, 0], xy[:, 1])
        self.now.set_offsets(xy[-1:])
        # Zoom to where the user is (their movies, trail and list), keeping some context.
        shown = np.vstack([xy, *(p.get_offsets() for p in self.points.values())])
        if len(shown):
            low, high = shown.min(axis=0), shown.max(axis=0)
            pad = np.maximum(0.6 * (high - low), 0.15 * np.ptp(self.background, axis=0))
            self.ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
            self.ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        else:
            self.ax.autoscale()
        return self.fig

    def render(self, history: pd.DataFrame, trail: np.ndarray, recommended: Sequence[int]) -> None:
        """Redraw the picture into the widget's output."""
        fig = self.update(history, trail, recommended)
        self.output.outputs = (_figure_output(fig, f"interest trail: {len(history)} events"),)
