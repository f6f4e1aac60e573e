"""The playground: the whole technique as one small app (notebook 07; ``make app`` serves it).

Built from small components with one job each, all on the public ``Recommender`` API:

- :class:`MovieCard` — one movie, a one-line reason, action buttons;
- :class:`MovieList` — a fixed number of cards re-filled in place (no widget churn per click);
- :class:`SearchBox` — find movies by title, or by meaning (free text) when a text search is given;
- :class:`UserPicker` — continue a user, start a fresh one, or clone a real MovieLens user;
- :class:`ParameterSliders` — alpha_view, alpha_favorite, not_interested_factor,
  popularity_weight, applied live with ``Recommender.set_params``;
- :class:`InterestPicture` — the user's interest moving, in a 2-D PCA map of the items;
- :class:`Playground` — the app: every action is an event in the store, so reopening continues.

Callbacks may run on another thread than the one that built the app (JupyterLab, ipykernel 7):
the service is thread-safe, and every callback turns a failure into a readable message in the
app instead of a traceback.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb import vectors
from recsys_nb.data import Dataset
from recsys_nb.plots import pca_axes
from recsys_nb.recommender import DEFAULT_PARAMS, Recommender
from recsys_nb.snapshot import mimebundle
from recsys_nb.store import StoreLockedError
from recsys_nb.widgets import _title_key, item_label

#: Button label -> Recommender event method.
ACTIONS = {"watch": "view", "favorite": "favorite", "not interested": "not_interested"}
_BUTTON_STYLE = {"watch": "info", "favorite": "success", "not interested": "warning"}
_KIND_WORD = {"view": "watched", "favorite": "loved", "not_interested": "rejected"}

TextSearch = Callable[[str, int], pd.DataFrame]


def reason_text(explanation: pd.DataFrame) -> str:
    """A one-line reason from :meth:`Recommender.explain` rows: "because you watched X (0.62)
    and loved Y (0.55)" with each movie's cosine to the recommended one (pulls only)."""
    if "contribution" in explanation:
        explanation = explanation[explanation["contribution"] > 0]
    if explanation.empty:
        return "popular with everyone (no interest vector yet)"
    parts = [
        f"{_KIND_WORD.get(k, k)} {item_label(t, y)} ({s:.2f})"
        for t, y, k, s in zip(explanation["title"], explanation["year"], explanation["kind"],
                              explanation["similarity"], strict=True)
    ]
    return "because you " + " and ".join(parts)


def title_matches(items: pd.DataFrame, query: str, n: int) -> pd.DataFrame:
    """Items whose title contains ``query`` (case-insensitive, "Matrix, The" = "The Matrix"),
    exact titles first, then the shortest titles."""
    key = _title_key(query)
    if not key:
        return items.iloc[:0]
    keys = items["title"].map(lambda t: "" if pd.isna(t) else _title_key(t))
    hits = items[keys.str.contains(key, regex=False)]
    order = np.lexsort((keys[hits.index].str.len().to_numpy(),
                        (keys[hits.index] != key).to_numpy()))
    return hits.iloc[order[:n]]


def text_search(dataset: Dataset, cache_path: str | Path | None = None) -> TextSearch:
    """Search by meaning: all-MiniLM-L6-v2 text vectors of the items (cached on disk after the
    first run) and an exact cosine top-n. Returns ``search(query, n) -> items rows + similarity``.
    """
    from recsys_nb.embeddings import embed_items
    from recsys_nb.store import data_dir

    cache = Path(cache_path) if cache_path else data_dir() / "cache" / "embeddings.sqlite"
    text = embed_items(dataset.items, None, "minilm", cache_path=cache, progress=False)
    rows = dataset.items.set_index("item_id", drop=False).loc[text.item_ids]

    def search(query: str, n: int) -> pd.DataFrame:
        q = np.asarray(text.text_model([query]))[0]  # type: ignore[misc]
        idx, scores = vectors.cosine_top_n(q, text.vectors, n, assume_unit=True)
        return rows.iloc[idx].assign(similarity=scores).reset_index(drop=True)

    return search


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
    An empty query or a query without any match says so ("no matches"), nothing raises.
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
        self.text.observe(lambda change: self.run(change["new"]), names="value")
        self.results.show("", items.iloc[:0])

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
    user, or clone a real MovieLens user (their history becomes a new user's)."""

    def __init__(self, clone_choices: Sequence[int], on_pick: Callable[[str], None],
                 on_new: Callable[[], None], on_clone: Callable[[int], None]) -> None:
        w = _widgets()
        self.text = w.Text(description="user:", continuous_update=False,
                           placeholder="a user id, then Enter", layout=w.Layout(width="260px"))
        self.new = w.Button(description="new user", icon="", layout=w.Layout(width="100px"))
        self.clones = w.Dropdown(options=[(f"MovieLens user {u}", int(u)) for u in clone_choices],
                                 description="clone:", layout=w.Layout(width="260px"))
        self.clone = w.Button(description="clone", layout=w.Layout(width="80px"))
        self.text.observe(lambda change: on_pick(change["new"]), names="value")
        self.new.on_click(lambda _b: on_new())
        self.clone.on_click(lambda _b: on_clone(int(self.clones.value)))
        self.widget = w.HBox([self.text, self.new, self.clones, self.clone])


class ParameterSliders:
    """The technique's four knobs, applied to the live service (``Recommender.set_params``);
    ``on_change(name, value)`` runs after a change was applied."""

    LIMITS = {"alpha_view": (0.05, 1.0), "alpha_favorite": (0.05, 1.0),
              "not_interested_factor": (0.0, 1.5), "popularity_weight": (0.0, 1.5)}

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
        """Back to the package defaults (each slider's change applies it to the service)."""
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
        from recsys_nb.widgets import _figure_output

        fig = self.update(history, trail, recommended)
        self.output.outputs = (_figure_output(fig, f"interest trail: {len(history)} events"),)


class Playground:
    """The app: a user, their recommendations with reasons and actions, search, sliders, the
    current / predicted toggle, the interest picture, undo and reset.

    Every click is one event in the service's store (event log + profile), so closing the app
    and opening it again on the same store continues where the user left off.

    Args:
        rec: the service (its store holds the playground's users).
        dataset: the data ``rec`` was built from: its users can be cloned.
        user: who to start with; None continues the store's most recently active user (or
            starts a fresh one when the store is empty).
        n: recommendations shown.
        search: a text search (:func:`text_search`) for free-text queries; None: titles only.
        clone_choices: how many MovieLens users the clone menu offers.
    """

    def __init__(self, rec: Recommender, dataset: Dataset, user: int | str | None = None,
                 n: int = 8, search: TextSearch | None = None, clone_choices: int = 25,
                 seed: int = 0) -> None:
        w = _widgets()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n={n!r} must be a positive int (recommendations shown), e.g. 8")
        self.rec = rec
        self.dataset = dataset
        self.n = n
        counts = dataset.events.groupby("user_id").size()
        eligible = np.sort(counts.index[counts >= 20].to_numpy())
        rng = np.random.default_rng(seed)
        picks = rng.choice(eligible, size=min(clone_choices, len(eligible)), replace=False)
        self.message = w.HTML()
        self.status = w.HTML()
        self.picker = UserPicker(sorted(int(u) for u in picks), self._guard(self.pick),
                                 self._guard(self.new_user), self._guard(self.clone))
        self.sliders = ParameterSliders(rec, self._guard(self._param_changed))
        self.mode = w.ToggleButtons(options=["current", "predicted"], value="current",
                                    description="interest:",
                                    tooltips=["the stored interest vector",
                                              "momentum of the last 10 events (Step 6)"])
        self.mode.observe(self._guard(lambda change: self.refresh()), names="value")
        self.undo_button = w.Button(description="undo", icon="", button_style="")
        self.reset_button = w.Button(description="reset", icon="", button_style="danger")
        self.undo_button.on_click(self._guard(lambda _b: self.undo()))
        self.reset_button.on_click(self._guard(lambda _b: self.reset()))
        self.recommendations = MovieList(n, list(ACTIONS), self._guard(self.act))
        self.search = SearchBox(dataset.items, self._guard(self.act), search)
        self.picture = InterestPicture(rec)
        self.history = w.HTML()
        self.actions: list[dict[str, Any]] = []  # what this app did, newest last
        left = w.VBox([self.recommendations.widget, self.search.widget])
        right = w.VBox([self.picture.widget, self.history])
        self.widget = w.VBox([
            self.picker.widget,
            w.HBox([self.mode, self.undo_button, self.reset_button, self.status]),
            self.message,
            w.HBox([left, right]),
            w.HTML("<b>parameters</b> (applied to the next event; each event records its own)"),
            self.sliders.widget,
        ])
        self.user: int | str = self._start_user() if user is None else user
        self.picker.text.value = str(self.user)  # fires pick(): shows the user

    # ------------------------------------------------------------------ plumbing

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return mimebundle(self.widget, **kwargs)  # live view + static snapshot for reports

    def _guard(self, handler: Callable[..., Any]) -> Callable[..., None]:
        """Wrap a callback: a failure becomes a readable message in the app, never a traceback."""

        def guarded(*args: Any) -> None:
            try:
                handler(*args)
                self.message.value = ""
            except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
                text = html.escape(self.explain_error(exc), quote=False)
                self.message.value = f"<div style='color:#b00020'>{text}</div>"

        return guarded

    @staticmethod
    def explain_error(exc: Exception) -> str:
        """The message a reader sees for a failed action, with what to do about it."""
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, RuntimeError) and "closed" in str(exc):
            text += " -- re-run the notebook (or reload the app page) to open it again."
        return text

    def _start_user(self) -> int | str:
        users = self.rec.log.users()
        if not users:
            return f"guest-{secrets.token_hex(3)}"
        newest = max(users, key=self.rec.log.last_seq)
        return newest

    # ------------------------------------------------------------------ actions

    def pick(self, text: str) -> None:
        """Continue the user typed into the picker (ids that look like ints are tried both ways);
        an id with no events is a clear message, not a new user by accident."""
        text = (text or "").strip()
        if not text:
            raise ValueError("type a user id, or press 'new user'")
        candidates: list[int | str] = [int(text)] if text.lstrip("-").isdigit() else []
        candidates.append(text)
        for candidate in candidates:
            if candidate == self.user or self.rec.log.count(candidate) > 0:
                self.user = candidate
                self.refresh()
                return
        raise LookupError(
            f"no user {text!r} in this store yet; press 'new user' to start one, or clone a "
            "MovieLens user"
        )

    def new_user(self) -> None:
        """Start a fresh user (cold: popular movies until the first watch)."""
        self.user = f"guest-{secrets.token_hex(3)}"
        self.picker.text.value = self.user  # fires pick(), which refreshes

    def clone(self, movielens_user: int) -> None:
        """A new user ``ml-<id>`` with the MovieLens user's history (kept when cloned before)."""
        clone_id = f"ml-{int(movielens_user)}"
        if self.rec.log.count(clone_id) == 0:
            events = self.dataset.events[self.dataset.events["user_id"] == movielens_user]
            if events.empty:
                raise LookupError(f"MovieLens user {movielens_user} has no events to clone")
            self.rec.ingest(events.assign(user_id=clone_id))
        self.user = clone_id
        self.picker.text.value = clone_id

    def act(self, item_id: int, action: str) -> None:
        """Record one action on a movie (a button of a card) and refresh everything."""
        method = getattr(self.rec, ACTIONS[action])
        result = method(self.user, int(item_id))
        self.actions.append({"user": self.user, "item_id": int(item_id), "action": action,
                             "message": result.message})
        self.refresh(note=f"{action}: {self._label(item_id)} ({result.message})")

    def undo(self) -> None:
        """Take back the user's newest event."""
        removed = self.rec.undo(self.user)
        note = "nothing to undo" if removed.empty else (
            f"undid {removed['kind'].iloc[0]} of {self._label(int(removed['item_id'].iloc[0]))}")
        self.refresh(note=note)

    def reset(self) -> None:
        """A fresh user and the default parameters (earlier users stay in the store)."""
        self.sliders.reset()
        self.new_user()

    def _param_changed(self, name: str, value: float) -> None:
        self.rec.set_params(**{name: value})
        self.refresh(note=f"{name} = {value:.2f}")

    def _label(self, item_id: int) -> str:
        row = self.rec.items.loc[int(item_id)]
        return item_label(row["title"], row.get("year"))

    # ------------------------------------------------------------------ view

    def refresh(self, note: str = "") -> None:
        """Recompute the list, the reasons, the history and the picture for the current user."""
        mode = self.mode.value
        try:
            top = self.rec.recommend(self.user, n=self.n, mode=mode)
        except KeyError:  # predicted needs an interest vector: fall back to the stored one
            top = self.rec.recommend(self.user, n=self.n)
        ids = [int(i) for i in top["item_id"]]
        why = self.rec.explain(self.user, ids, n=2) if top["source"].ne("popular").all() else None
        reasons = {}
        for item in ids:
            rows = why[why["recommended"] == item] if why is not None else pd.DataFrame()
            reasons[item] = reason_text(rows)
        source = top["source"].iloc[0] if len(top) else "popular"
        self.recommendations.show(f"Recommended for {self.user} ({source})", top, reasons)
        history, trail = self.rec.interest_trail(self.user)
        self.picture.render(history, trail, ids)
        last = history.tail(6).iloc[::-1]
        lines = "".join(
            f"<li>{html.escape(_KIND_WORD.get(k, k))} {html.escape(self._label(i))}</li>"
            for k, i in zip(last["kind"], last["item_id"], strict=True)
        )
        self.history.value = (f"<b>last events</b> ({len(history)} in all)<ul>{lines}</ul>"
                              if len(history) else "<i>no events yet: watch a movie</i>")
        self.status.value = f"<b>{html.escape(str(self.user))}</b>: {len(history)} events" + (
            f" &middot; {html.escape(note)}" if note else "")
        self.top = top


def playground_store() -> Path:
    """Where the playground keeps its users: ``data/app`` when served with a Chroma server
    (``make app``: the server's data and the event log), else ``data/notebooks/07_playground``
    (an embedded store: one kernel at a time)."""
    from recsys_nb.store import data_dir, server_address

    return data_dir() / "app" if server_address() else data_dir() / "notebooks" / "07_playground"


def open_playground(dataset: Dataset, path: str | Path | None = None, **kwargs: Any) -> Any:
    """Build the service on ``path`` and the app; a store held by another process (another
    kernel, another app visitor on an embedded store) gives a message widget with the fix
    instead of an exception, so the page still says what to do.

    ``kwargs`` go to :class:`Playground` (``user``, ``n``, ``search``, ...). Returns the
    :class:`Playground` (its ``rec`` is the service) or an ``ipywidgets.HTML`` message.
    """
    w = _widgets()
    try:
        rec = Recommender.from_dataset(dataset, path or playground_store(), progress=False)
    except StoreLockedError as exc:
        return w.HTML(
            "<div style='color:#b00020'><b>The playground's store is in use.</b> "
            f"{html.escape(str(exc))}<br>Fix: close the other notebook or app tab (its kernel "
            "holds the embedded store), or serve the app with a Chroma server: <code>make app"
            "</code> does that, so any number of visitors can play at once.</div>"
        )
    try:
        return Playground(rec, dataset, **kwargs)
    except BaseException:
        rec.close()
        raise
