"""ipywidgets UIs for the notebooks.

Each builder takes the data and stores it works on as arguments and returns a small object that
exposes its widgets and its ``Output``, so a test (or a curious reader) can drive it without a
browser: set ``picker.value``, call ``button.click()``, then read ``output.outputs``. The objects
display themselves in a notebook like the widget they wrap.
"""

from __future__ import annotations

import difflib
import html
import re
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.snapshot import mimebundle

# --------------------------------------------------------------------------------------------
# Notebook 01: find items by title, explore neighbours and free-text search.

_ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "el", "das", "der", "die")
_TITLE_WITH_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


class ItemNotFoundError(LookupError):
    """A title matched no item, or several items that only the year can tell apart."""


def _title_key(title: str) -> str:
    """Comparable form of a title: lower case, MovieLens' trailing article moved to the front.

    MovieLens writes "Matrix, The"; people type "The Matrix". Both become "the matrix".
    """
    text = " ".join(str(title).lower().split())
    for article in _ARTICLES:
        suffix = f", {article}"
        if text.endswith(suffix):
            sep = "" if article.endswith("'") else " "
            return f"{article}{sep}{text[: -len(suffix)]}"
    return text


def item_label(title: Any, year: Any) -> str:
    """How an item is shown to people: "Toy Story (1995)"; a missing title or year is left out."""
    name = "" if title is None or pd.isna(title) else str(title)
    if year is None or pd.isna(year):
        return name
    return f"{name} ({int(year)})" if name else f"({int(year)})"


def item_labels(items: pd.DataFrame) -> dict[str, int]:
    """A unique label per item (``item_label``), mapped to its item id, in the frame's order.

    Titles repeat in MovieLens (remakes, missing titles), so a label that is not unique gets the
    item id appended: "12 Angry Men (1957)" stays, two untitled items become "item 143410", ...
    """
    base = [item_label(t, y) for t, y in zip(items["title"], items["year"], strict=True)]
    counts: dict[str, int] = {}
    for label in base:
        counts[label] = counts.get(label, 0) + 1
    labels: dict[str, int] = {}
    for label, item_id in zip(base, items["item_id"], strict=True):
        unique = label if label and counts[label] == 1 else f"{label} [item {int(item_id)}]".strip()
        labels[unique] = int(item_id)
    return labels


def find_item(items: pd.DataFrame, title: str) -> int:
    """The item id of a title typed the way people write it.

    Accepts "Toy Story", "toy story (1995)", "The Matrix" (MovieLens: "Matrix, The"). A year in
    parentheses picks between remakes.

    Raises:
        ItemNotFoundError: no item has that title (the message lists close matches), or several do
            (the message lists them with their years: add the year).
    """
    if not isinstance(title, str) or not title.strip():
        raise ItemNotFoundError(f"title {title!r} is empty; pass a movie title like 'Toy Story'")
    match = _TITLE_WITH_YEAR.match(title.strip())
    wanted, year = (match["title"], int(match["year"])) if match else (title, None)
    keys = items["title"].map(lambda t: "" if pd.isna(t) else _title_key(t))
    hits = items[keys == _title_key(wanted)]
    if year is not None:
        hits = hits[hits["year"] == year]
    if len(hits) == 1:
        return int(hits["item_id"].iloc[0])
    if len(hits) > 1:
        options = [item_label(t, y) for t, y in zip(hits["title"], hits["year"], strict=True)]
        raise ItemNotFoundError(
            f"title {title!r} matches {len(hits)} items: {options}; add the year, e.g. "
            f"{options[0]!r}"
        )
    labels = [item_label(t, y) for t, y in zip(items["title"], items["year"], strict=True)]
    close = difflib.get_close_matches(title, [lab for lab in labels if lab], n=5, cutoff=0.6)
    hint = f"close matches: {close}" if close else "no close match either"
    raise ItemNotFoundError(
        f"no item titled {title!r} among {len(items)} items ({hint}); MovieLens writes leading "
        "articles at the end ('Matrix, The'), both spellings work. With a sampled catalogue "
        "(N_ITEMS), the movie may simply not be in the sample"
    )


def _table_output(heading: str, table: pd.DataFrame) -> dict[str, Any]:
    """A display_data output (HTML + plain text) for a result table under a heading."""
    shown = table.copy()
    shown.insert(0, "rank", range(1, len(shown) + 1))
    if "similarity" in shown.columns:
        shown["similarity"] = shown["similarity"].round(3)
    shown = shown.drop(columns=[c for c in ("item_id",) if c in shown.columns])
    return {
        "output_type": "display_data",
        "data": {
            "text/html": f"<b>{html.escape(heading)}</b>" + shown.to_html(index=False),
            "text/plain": f"{heading}\n{shown.to_string(index=False)}",
        },
        "metadata": {},
    }


def _message_output(text: str) -> dict[str, Any]:
    """A display_data output holding one message (hints and errors shown in the Output)."""
    return {
        "output_type": "display_data",
        "data": {"text/html": f"<i>{html.escape(text)}</i>", "text/plain": text},
        "metadata": {},
    }


class ItemExplorer:
    """Pick a movie to see its nearest neighbours, or type a query to search by meaning.

    Built by :func:`item_explorer`. Attributes: ``picker`` (Combobox of "Title (year)" labels),
    ``query`` (Text; fires on Enter), ``n`` (IntSlider: rows shown), ``output`` (Output holding
    the table), ``widget`` (the whole UI), ``table`` (the last result frame, or None),
    ``heading`` (what the table shows). The last action wins; moving ``n`` repeats it.
    """

    def __init__(self, store: Any, items: pd.DataFrame, n: int = 5, max_n: int = 25) -> None:
        import ipywidgets as widgets

        if not 1 <= n <= max_n:
            raise ValueError(f"n={n} must be within [1, {max_n}]; pass e.g. n=5")
        self.store = store
        self.labels = item_labels(items)
        self.table: pd.DataFrame | None = None
        self.heading = ""
        self._last: tuple[str, Any] | None = None
        self.picker = widgets.Combobox(
            options=list(self.labels),
            placeholder="type a movie title, pick one",
            description="Movie:",
            ensure_option=True,
            layout=widgets.Layout(width="420px"),
        )
        self.query = widgets.Text(
            placeholder="e.g. space adventure with robots (Enter)",
            description="Search:",
            continuous_update=False,
            layout=widgets.Layout(width="420px"),
        )
        self.n = widgets.IntSlider(value=n, min=1, max=max_n, description="Top N:")
        self.output = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.picker, self.n]), self.query, self.output])
        self.picker.observe(self._on_pick, names="value")
        self.query.observe(self._on_query, names="value")
        self.n.observe(self._on_n, names="value")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return mimebundle(self.widget, **kwargs)  # live view + static snapshot for reports

    def show_similar(self, label: str) -> pd.DataFrame:
        """Show (and return) the neighbours of the item with this picker label."""
        if label not in self.labels:
            raise ItemNotFoundError(
                f"{label!r} is not one of the picker's labels; pick one from the list"
            )
        table = self.store.similar_items(self.labels[label], n=self.n.value)
        self._last = ("similar", label)
        self._show(f"Most similar to {label}", table)
        return table

    def show_search(self, text: str) -> pd.DataFrame:
        """Show (and return) the items closest in meaning to a free-text query."""
        if not text.strip():
            raise ValueError("the query is empty; type a few words such as 'space adventure'")
        table = self.store.search(text, n=self.n.value)
        self._last = ("search", text)
        self._show(f"Search: {text!r}", table)
        return table

    def _show(self, heading: str, table: pd.DataFrame) -> None:
        self.table, self.heading = table, heading
        self.output.outputs = (_table_output(heading, table),)

    def _guarded(self, action: str, value: str) -> None:
        """Run an action from a widget event; show failures in the Output (a browser user never
        sees exceptions raised inside callbacks)."""
        try:
            if action == "similar":
                self.show_similar(value)
            else:
                self.show_search(value)
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self.table, self.heading = None, f"error: {exc}"
            self.output.outputs = (
                _message_output(
                    f"{type(exc).__name__}: {str(exc).rstrip('.')}. If the notebook's last cell "
                    "closed the store, re-run the cells that open it to keep exploring."
                ),
            )

    def _on_pick(self, change: dict[str, Any]) -> None:
        if change["new"] in self.labels:  # partial text while typing is not an item yet
            self._guarded("similar", change["new"])

    def _on_query(self, change: dict[str, Any]) -> None:
        if str(change["new"]).strip():
            self._guarded("search", str(change["new"]))

    def _on_n(self, change: dict[str, Any]) -> None:
        if self._last is not None:
            self._guarded(*self._last)


def item_explorer(
    store: Any, items: pd.DataFrame, n: int = 5, initial: str | None = None
) -> ItemExplorer:
    """Build the neighbour / search explorer over an :class:`~recsys_nb.store.ItemStore`.

    Args:
        store: the ItemStore holding ``items`` (with a text model, for search).
        items: the items frame (item_id, title, year) whose labels fill the picker.
        n: rows shown at first.
        initial: a title (as :func:`find_item` reads it) to show at once, or None.
    """
    explorer = ItemExplorer(store, items, n=n)
    if initial is not None:
        item_id = find_item(items, initial)
        label = next(lab for lab, i in explorer.labels.items() if i == item_id)
        explorer.picker.value = label
    return explorer


# --------------------------------------------------------------------------------------------
# Notebook 03: pick a user -> their top-N recommendations and recent history, side by side.


def _frame_display(heading: str, frame: pd.DataFrame, digits: int = 3) -> dict[str, Any]:
    """A display_data output (HTML + plain text) of a whole frame under a heading, no index.

    Unlike ``_table_output`` it keeps every column as given (the caller chose them) and only
    rounds floats, so the plain-text form is what a test or a headless run reads.
    """
    shown = frame.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].round(digits)
    return {
        "output_type": "display_data",
        "data": {
            "text/html": f"<b>{html.escape(heading)}</b>"
            + shown.to_html(index=False, na_rep="", escape=True),
            "text/plain": f"{heading}\n{shown.to_string(index=False, na_rep='')}",
        },
        "metadata": {},
    }


def _genres_text(genres: Any) -> str:
    """Genres as "A, B" whether they come as a list (items frame) or "A|B" (store metadata)."""
    if isinstance(genres, str):
        return ", ".join(g for g in genres.split("|") if g)
    if genres is None or (not isinstance(genres, list | tuple | np.ndarray) and pd.isna(genres)):
        return ""
    return ", ".join(str(g) for g in genres)


def _interest_or_none(rec: Any, user: Any) -> np.ndarray | None:
    """The user's interest vector, or None when they have none yet (cold start)."""
    try:
        return rec.interest(user)
    except KeyError:
        return None


def recommendations_table(
    rec: Any, user: Any, n: int = 10, exclude_seen: bool = True
) -> pd.DataFrame:
    """``rec.recommend(user, n)`` as people read it: rank, movie, genres, score, seen, source.

    ``seen`` says whether the user already has an event on the item (only possible with
    ``exclude_seen=False``); ``item_id`` is kept so callers can act on a row.
    """
    top = rec.recommend(user, n=n, exclude_seen=exclude_seen)
    seen = set(rec.history(user)["item_id"].astype(int))
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(top) + 1),
            "item_id": top["item_id"].astype(int).to_numpy(),
            "movie": [item_label(t, y) for t, y in zip(top["title"], top["year"], strict=True)],
            "genres": [_genres_text(g) for g in top["genres"]],
            "score": top["score"].astype(float).to_numpy(),
            "seen": [int(i) in seen for i in top["item_id"]],
            "source": top["source"].to_numpy(),
        }
    )


def history_table(rec: Any, user: Any, last: int = 10) -> pd.DataFrame:
    """The user's ``last`` events, newest first: date, kind, movie and ``similarity``, the cosine
    of the item to the user's current interest vector (empty when the user has none).

    Reading it next to the recommendations shows where they come from: the interest vector is a
    moving average of these items, so recent positive items score high, rejected ones low.
    """
    hist = rec.history(user, last=last).iloc[::-1]
    v = _interest_or_none(rec, user)
    ids = hist["item_id"].astype(int).to_numpy()
    items = rec.items.reindex(ids)
    if v is None:
        sims = np.full(len(ids), np.nan)
    else:
        sims = np.array([float(rec.item_vector(i) @ v) for i in ids], dtype=np.float64)
    when = pd.to_datetime(hist["timestamp"].astype(float), unit="s", utc=True)
    return pd.DataFrame(
        {
            "date": when.dt.strftime("%Y-%m-%d").to_numpy(),
            "kind": hist["kind"].to_numpy(),
            "item_id": ids,
            "movie": [item_label(t, y) for t, y in zip(items["title"], items["year"], strict=True)],
            "similarity": sims,
        }
    )


class RecommendationBrowser:
    """Pick a user: their top-N recommendations and their recent history, side by side.

    Built by :func:`recommendation_browser`. Attributes: ``user`` (Dropdown of user ids),
    ``exclude_seen`` (Checkbox), ``recommendations`` and ``history`` (two Outputs in an HBox),
    ``widget`` (the whole UI), ``tables`` (the (recommendations, history) frames last shown, or
    None after an error). Changing either control recomputes both tables.
    """

    def __init__(self, rec: Any, users: Any, n: int = 10, history_last: int = 10) -> None:
        import ipywidgets as widgets

        users = [u.item() if hasattr(u, "item") else u for u in users]
        if not users:
            raise ValueError("users is empty; pass the ids of users with events (sample.users)")
        if n < 1 or history_last < 1:
            raise ValueError(f"n={n} and history_last={history_last} must both be >= 1")
        self.rec = rec
        self.n = int(n)
        self.history_last = int(history_last)
        self.tables: tuple[pd.DataFrame, pd.DataFrame] | None = None
        options = [(f"user {u} ({len(rec.history(u))} events)", u) for u in users]
        self.user = widgets.Dropdown(options=options, description="User:",
                                     layout=widgets.Layout(width="300px"))
        self.exclude_seen = widgets.Checkbox(value=True, description="exclude seen items")
        self.recommendations = widgets.Output(layout=widgets.Layout(width="58%"))
        self.history = widgets.Output(layout=widgets.Layout(width="42%"))
        self.widget = widgets.VBox([
            widgets.HBox([self.user, self.exclude_seen]),
            widgets.HBox([self.recommendations, self.history]),
        ])
        self.user.observe(self._on_change, names="value")
        self.exclude_seen.observe(self._on_change, names="value")
        self._guarded()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return mimebundle(self.widget, **kwargs)  # live view + static snapshot for reports

    def show(self, user: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Show (and return) the recommendations and recent history of ``user``."""
        recs = recommendations_table(self.rec, user, self.n, self.exclude_seen.value)
        hist = history_table(self.rec, user, self.history_last)
        source = recs["source"].iloc[0] if len(recs) else "none"
        what = "seen items excluded" if self.exclude_seen.value else "seen items INCLUDED"
        self.tables = (recs, hist)
        self.recommendations.outputs = (
            _frame_display(f"Top {self.n} for user {user} ({source}; {what})",
                           recs.drop(columns=["item_id"])),
        )
        self.history.outputs = (
            _frame_display(f"Last {len(hist)} events of user {user}, newest first",
                           hist.drop(columns=["item_id"])),
        )
        return recs, hist

    def _guarded(self) -> None:
        """Show the selected user; failures go to the Outputs (callbacks cannot raise visibly)."""
        try:
            self.show(self.user.value)
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self.tables = None
            msg = _message_output(
                f"{type(exc).__name__}: {exc}. If the notebook's last cell closed the service, "
                "re-run the notebook to keep exploring."
            )
            self.recommendations.outputs = (msg,)
            self.history.outputs = ()

    def _on_change(self, change: dict[str, Any]) -> None:
        self._guarded()


def recommendation_browser(
    rec: Any, users: Any, n: int = 10, history_last: int = 10
) -> RecommendationBrowser:
    """Build the user -> (top-N, recent history) browser over a Recommender.

    Args:
        rec: the service (``recsys_nb.recommender.Recommender``).
        users: user ids offered in the dropdown (the first is shown at once).
        n: recommendations shown.
        history_last: how many of the user's most recent events are shown.
    """
    return RecommendationBrowser(rec, users, n=n, history_last=history_last)


# --------------------------------------------------------------------------------------------
# Notebook 04: "not interested" buttons on the current list, a factor slider, live updates.


def subtraction_preview(
    interest: np.ndarray | None, items: np.ndarray, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each item row: the cosine between the item and ``normalize(v - factor * e)``.

    Uses ``vectors.subtract`` itself, so the preview is exactly what a not-interested would do.

    Returns:
        ``(cosine after (n,), overshoot (n,) bool)``; NaN where there is no interest vector yet
        or the subtraction would cancel it (``overshoot`` True: the service keeps the vector).
    """
    from recsys_nb import vectors

    rows = np.atleast_2d(np.asarray(items, dtype=np.float64))
    after = np.full(len(rows), np.nan)
    overshoot = np.zeros(len(rows), dtype=bool)
    if interest is None:
        return after, overshoot
    for k, e in enumerate(rows):
        try:
            new = vectors.subtract(interest, e, factor)
        except vectors.OvershootError:
            overshoot[k] = True
            continue
        after[k] = float(vectors.cosine_similarity(new, e))
    return after, overshoot


class NotInterestedPanel:
    """A user's current top-N with a "not interested" button per item, and a factor slider.

    Built by :func:`not_interested_panel`. A click calls ``rec.not_interested(user, item)``: the
    event is logged, the interest vector moves away (``normalize(v - factor * e)``, or stays put
    on overshoot) and the list is recomputed, so the item leaves it (it now counts as seen). The
    log (``output``) shows the cosine of the interest to each rejected item before and after.

    The factor is a constructor parameter of the Recommender (and every logged event records the
    factor it used), so moving the slider does not silently change the live service. It
    previews, for each listed item, where the cosine would land at the slider's factor (computed
    with ``vectors.subtract``), and the next click applies it by reopening the service through
    ``reopen(factor)``: same store, same event log, new ``not_interested_factor``. Without
    ``reopen`` the slider is disabled at the service's factor.

    Attributes: ``rec`` (the current service), ``user``, ``n``, ``slider``, ``status`` (HTML),
    ``rows`` (VBox, one row per listed item), ``buttons`` / ``labels`` ({item_id: widget}),
    ``output`` (Output holding the rejection log), ``widget``, ``listed`` (item ids shown, best
    first), ``top`` (the last recommendations frame), ``preview`` (frame behind the labels:
    ``score`` as ``recommend`` ranks, i.e. with the popularity prior; ``cos_before`` /
    ``cos_after`` the cosine of the interest to the item now / after a rejection at the slider's
    factor), ``rejections`` (list of dicts, one per click).
    """

    def __init__(
        self,
        rec: Any,
        user: Any,
        n: int = 10,
        reopen: Any = None,
        max_factor: float = 1.5,
    ) -> None:
        import ipywidgets as widgets

        if n < 1:
            raise ValueError(f"n={n} must be >= 1 (items listed)")
        factor = float(rec.not_interested_factor)
        if not 0.0 <= factor <= max_factor:
            raise ValueError(f"the service's factor {factor} is outside the slider [0, "
                             f"{max_factor}]; pass a larger max_factor")
        self.rec = rec
        self.user = user.item() if hasattr(user, "item") else user
        self.n = int(n)
        self.reopen = reopen
        self.rejections: list[dict[str, Any]] = []
        self.listed: list[int] = []
        self.top: pd.DataFrame | None = None
        self.preview: pd.DataFrame | None = None
        self.buttons: dict[int, Any] = {}
        self.labels: dict[int, Any] = {}
        self.slider = widgets.FloatSlider(
            value=factor, min=0.0, max=max_factor, step=0.05, readout_format=".2f",
            description="factor:", disabled=reopen is None, continuous_update=False,
        )
        self.status = widgets.HTML()
        self.rows = widgets.VBox()
        self.output = widgets.Output()
        self.widget = widgets.VBox([
            widgets.HBox([self.slider, self.status]), self.rows, self.output
        ])
        self.slider.observe(self._on_slider, names="value")
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - e.g. a closed service: shown, not raised
            self._error(exc)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return mimebundle(self.widget, **kwargs)  # live view + static snapshot for reports

    @property
    def factor(self) -> float:
        """The slider's factor (rounded: slider steps are binary fractions)."""
        return round(float(self.slider.value), 6)

    def _cosine_to(self, item_id: int) -> float:
        v = _interest_or_none(self.rec, self.user)
        return float("nan") if v is None else float(self.rec.item_vector(item_id) @ v)

    def refresh(self) -> None:
        """Recompute the list (one row per item: button + label) and the preview labels."""
        import ipywidgets as widgets

        self.top = self.rec.recommend(self.user, n=self.n)
        self.listed = [int(i) for i in self.top["item_id"]]
        for old in [*self.buttons.values(), *self.labels.values(), *self.rows.children]:
            old.close()  # release the previous rows' widget models (kernel and front end)
        self.buttons, self.labels, rows = {}, {}, []
        for item_id in self.listed:
            button = widgets.Button(description="not interested", button_style="warning",
                                    tooltip=f"not interested in item {item_id}",
                                    layout=widgets.Layout(width="130px"))
            button.on_click(lambda _b, item=item_id: self._on_click(item))
            label = widgets.HTML()
            self.buttons[item_id], self.labels[item_id] = button, label
            rows.append(widgets.HBox([button, label]))
        self.rows.children = tuple(rows)
        self._update_preview()

    def _update_preview(self) -> None:
        """Labels and status for the slider's factor (no event is recorded)."""
        top = self.top if self.top is not None else pd.DataFrame(columns=["item_id"])
        f = self.factor
        v = _interest_or_none(self.rec, self.user)
        matrix = (np.stack([self.rec.item_vector(i) for i in self.listed])
                  if self.listed else np.zeros((0, self.rec.dim)))
        after, overshoot = subtraction_preview(v, matrix, f) if len(matrix) else (
            np.zeros(0), np.zeros(0, dtype=bool))
        before = (matrix.astype(np.float64) @ v if v is not None and len(matrix)
                  else np.full(len(self.listed), np.nan))
        self.preview = pd.DataFrame({
            "item_id": self.listed,
            "movie": [item_label(t, y) for t, y in zip(top["title"], top["year"], strict=True)],
            "score": top["score"].astype(float).to_numpy() if len(top) else [],
            "cos_before": before,
            "cos_after": after,
            "overshoot": overshoot,
        })
        for rank, row in enumerate(self.preview.itertuples(index=False), start=1):
            if v is None:
                what = "no interest vector yet: a rejection only hides the item"
            elif row.overshoot:
                what = f"at factor {f:g}: overshoot, the service would keep the vector"
            else:
                what = (f"if rejected at factor {f:g}: cos {row.cos_before:.3f} "
                        f"&rarr; {row.cos_after:.3f}")
            self.labels[row.item_id].value = (
                f"{rank}. <b>{html.escape(row.movie)}</b> &middot; score {row.score:.3f} "
                f"&middot; <span style='color:#666'>{what}</span>"
            )
        service = float(self.rec.not_interested_factor)
        note = ""
        if self.reopen is None:
            note = " (fixed: built without reopen)"
        elif not np.isclose(f, service):
            note = f"; the next click reopens the service with factor {f:g}"
        self.status.value = (
            f"service factor <b>{service:g}</b>, slider {f:g}{note}. Safe range: factor &le; 0.5 "
            "can never cancel the vector."
        )

    def _switch_factor(self, factor: float) -> None:
        """Reopen the service with ``factor`` (closing the current one first: one writer)."""
        old = float(self.rec.not_interested_factor)
        self.rec.close()
        try:
            self.rec = self.reopen(factor)
        except Exception:
            self.rec = self.reopen(old)
            raise

    def reject(self, item_id: int) -> dict[str, Any]:
        """Do what the item's button does; return the log entry (also appended to
        ``rejections``): factor, cosine of interest and item before/after, overshoot, message."""
        import warnings

        from recsys_nb.recommender import OvershootWarning

        item_id = int(item_id)
        if self.reopen is not None and not np.isclose(self.factor,
                                                      self.rec.not_interested_factor):
            self._switch_factor(self.factor)
        before_v = _interest_or_none(self.rec, self.user)
        before = self._cosine_to(item_id)
        title = self.rec.items.loc[item_id, "title"] if item_id in self.rec.items.index else ""
        year = self.rec.items.loc[item_id, "year"] if item_id in self.rec.items.index else None
        with warnings.catch_warnings():
            # the overshoot is reported in the log below (result.overshoot), not as a warning
            warnings.simplefilter("ignore", OvershootWarning)
            result = self.rec.not_interested(self.user, item_id)
        after_v = _interest_or_none(self.rec, self.user)
        moved = (float(before_v @ after_v) if before_v is not None and after_v is not None
                 else float("nan"))
        entry = {
            "item_id": item_id,
            "movie": item_label(title, year),
            "factor": float(self.rec.not_interested_factor),
            "cos_before": before,
            "cos_after": self._cosine_to(item_id),
            "cos_old_new_interest": moved,
            "overshoot": bool(result.overshoot),
            "message": result.message,
        }
        self.rejections.append(entry)
        self.refresh()
        self.output.outputs = (
            _frame_display("Not interested so far (cosine of the interest to the item)",
                           pd.DataFrame(self.rejections).drop(columns=["item_id"])),
        )
        return entry

    def _error(self, exc: Exception) -> None:
        self.output.outputs = (
            _message_output(
                f"{type(exc).__name__}: {exc}. If the notebook's last cell closed the service, "
                "re-run the notebook to keep exploring."
            ),
        )

    def _on_click(self, item_id: int) -> None:
        try:
            self.reject(item_id)
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self._error(exc)

    def _on_slider(self, change: dict[str, Any]) -> None:
        try:
            self._update_preview()
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self._error(exc)

    def close(self) -> None:
        """Close the current service (the panel may have reopened it with another factor)."""
        self.rec.close()


def not_interested_panel(
    rec: Any, user: Any, n: int = 10, reopen: Any = None, max_factor: float = 1.5
) -> NotInterestedPanel:
    """Build the "not interested" panel for one user.

    Args:
        rec: the service (``recsys_nb.recommender.Recommender``).
        user: whose list is shown (a user without a vector sees popular items).
        n: items listed.
        reopen: ``factor -> Recommender`` opening the same store with another
            ``not_interested_factor``; enables the slider. None: the slider is fixed.
        max_factor: the slider's upper end (above 1 the interest can flip past the item).
    """
    return NotInterestedPanel(rec, user, n=n, reopen=reopen, max_factor=max_factor)


# --------------------------------------------------------------------------------------------
# Notebooks 00 and 02: how a list changed; replay a user's history with your own alphas.


def list_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Compare two recommendation lists (frames with item_id, title, year; best first).

    Returns one row per movie in either list: ``movie``, ``rank_before``, ``rank_after`` (<NA>
    when absent) and ``change`` ("kept", "up 2", "down 1", "new", "dropped"), the movies of
    ``after`` first in their new order, then the dropped ones. This is what "the list changed"
    means in numbers.
    """
    for name, frame in (("before", before), ("after", after)):
        missing = [c for c in ("item_id", "title", "year") if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}; pass frames from rec.recommend()")
    rank_b = {int(i): r for r, i in enumerate(before["item_id"], start=1)}
    rank_a = {int(i): r for r, i in enumerate(after["item_id"], start=1)}
    order = list(rank_a) + [i for i in rank_b if i not in rank_a]
    labels = {
        int(i): item_label(t, y)
        for frame in (before, after)
        for i, t, y in zip(frame["item_id"], frame["title"], frame["year"], strict=True)
    }
    rows = []
    for i in order:
        rb, ra = rank_b.get(i), rank_a.get(i)
        if rb is None:
            change = "new"
        elif ra is None:
            change = "dropped"
        elif ra == rb:
            change = "kept"
        else:
            change = f"up {rb - ra}" if ra < rb else f"down {ra - rb}"
        rows.append({"item_id": i, "movie": labels[i], "rank_before": rb, "rank_after": ra,
                     "change": change})
    out = pd.DataFrame(rows, columns=["item_id", "movie", "rank_before", "rank_after", "change"])
    for col in ("rank_before", "rank_after"):
        out[col] = out[col].astype("Int64")
    return out


def _figure_output(fig: Any, text: str) -> dict[str, Any]:
    """A display_data output holding a matplotlib Figure as PNG (works without a browser)."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                 "text/plain": text},
        "metadata": {},
    }


class _ReplayView:
    """What the history widgets share (:class:`InterestReplay`, :class:`MomentumScrubber`): a
    ``widget`` they display as, an ``output`` showing the figure, and controls whose callbacks
    either recompute the curves (``_recompute``, then ``render``) or only redraw (``render``).

    Callbacks cannot raise into the front end, so a failure is shown in ``output`` and kept in
    ``error`` (None after a successful draw)."""

    widget: Any
    output: Any
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


def _item_rows(rec: Any, frame: pd.DataFrame, name: str) -> np.ndarray:
    """Row of each of ``frame``'s items in ``rec.item_ids`` order (KeyError for unknown items)."""
    item_ids = rec.item_ids
    ids = frame["item_id"].astype(int).to_numpy()
    unknown = sorted(set(ids.tolist()) - set(item_ids.tolist()))
    if unknown:
        raise KeyError(f"{name} has item ids {unknown[:5]} that the recommender does not know")
    return pd.Series(np.arange(len(item_ids)), index=item_ids).loc[ids].to_numpy()


def _event_labels(rec: Any, history: pd.DataFrame) -> list[str]:
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

    Built by :func:`interest_replay_widget`. The plot shows the cosine of the interest vector with
    each genre centroid after every event (solid up to the current event), and bars of those
    cosines at the current event. Attributes:

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
        self.figure: Any = None
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

    def _recompute(self) -> None:
        self.replay()

    def replay(self) -> np.ndarray:
        """Recompute the trajectory with the sliders' alphas; returns the similarities (m, g)."""
        from recsys_nb.vectors import interest_trajectory, trajectory_similarities

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

        from recsys_nb.plots import plot_genre_similarity
        from recsys_nb.vectors import relative_similarities

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


def interest_replay_widget(
    rec: Any,
    history: pd.DataFrame,
    genres: list[str] | None = None,
    n_genres: int = 6,
    title: str = "",
    relative: bool = True,
) -> InterestReplay:
    """Build the replay widget for one user's history over a Recommender's item vectors.

    The item vectors are copied out of ``rec`` once, so the widget keeps working after
    ``rec.close()``; it never writes to the store (moving a slider is a what-if, not an event).

    Args:
        rec: the service; gives item vectors, genres, titles and the default alphas / factor.
        history: the user's events (item_id, kind; timestamp optional), oldest first, e.g.
            ``dataset.user_history(user)`` or ``rec.history(user)``.
        genres: genres to compare with (default: the ``n_genres`` most frequent in the history).
        n_genres: how many genres when ``genres`` is None.
        title: shown above the curves.
        relative: start with the "relative to the genre mean" view (a checkbox switches it).
    """
    from recsys_nb.plots import top_genres
    from recsys_nb.vectors import genre_centroids

    _check_history_columns({"history": history}, "pass dataset.user_history(user)")
    item_ids = rec.item_ids
    matrix = np.stack([rec.item_vector(i) for i in item_ids])
    rows = _item_rows(rec, history, "history")
    item_genres = [g if isinstance(g, list | tuple | np.ndarray) else []
                   for g in rec.items.loc[item_ids, "genres"]]
    if genres is None:
        genres = top_genres([item_genres[r] for r in rows], n_genres)
    centroids = genre_centroids(item_genres, matrix, genres)
    return InterestReplay(
        matrix, rows, history["kind"].astype(str).tolist(), _event_labels(rec, history),
        list(genres), centroids,
        rec.alpha_view, rec.alpha_favorite, rec.not_interested_factor, title=title,
        relative=relative,
    )


# --------------------------------------------------------------------------------------------
# Notebook 05: scrub through a user's history, current vs predicted (momentum) interest.


def _side_by_side(tables: dict[str, pd.DataFrame], digits: int = 3) -> dict[str, Any]:
    """A display_data output with several frames next to each other (HTML) / one after another
    (plain text, what tests and headless runs read)."""
    html_parts, text_parts = [], []
    for heading, frame in tables.items():
        shown = frame.copy()
        for col in shown.columns:
            if pd.api.types.is_float_dtype(shown[col]):
                shown[col] = shown[col].round(digits)
        html_parts.append(
            f"<div style='margin-right:1.5em'><b>{html.escape(heading)}</b>"
            + shown.to_html(index=False, na_rep="", escape=True) + "</div>"
        )
        text_parts.append(f"{heading}\n{shown.to_string(index=False, na_rep='')}")
    return {
        "output_type": "display_data",
        "data": {"text/html": "<div style='display:flex;align-items:flex-start'>"
                 + "".join(html_parts) + "</div>",
                 "text/plain": "\n\n".join(text_parts)},
        "metadata": {},
    }


class MomentumScrubber(_ReplayView):
    """Walk through one user's history: the current interest against the predicted one.

    Built by :func:`momentum_scrubber`. After event ``k`` (the ``step`` slider) it shows

    - a plot over all events of the mean cosine of the current interest (the EMA the service
      stores) and of the predicted interest (``predict_interest``'s math with the chosen
      ``method`` / ``window`` / ``weight``) with the next ``next_k`` items the user actually
      watched (positive events after ``k``, then the held-out ``future`` ones);
    - the two top-``n`` lists side by side (an exact search over all items by the service's
      score, ``cosine + prior_weight * prior``, the items of events ``1..k`` excluded), each item
      flagged when it is among those next items.

    Attributes: ``step`` (IntSlider), ``play`` (Play, linked to ``step``), ``method`` (Dropdown),
    ``window`` (IntSlider), ``weight`` (FloatSlider), ``status`` (HTML), ``output`` (Output: the
    figure), ``lists`` (Output: the two lists), ``widget`` (the whole UI); ``trajectory`` and
    ``predicted`` (m, d), ``fallback`` (m,) bool (the prediction is the current vector: too few
    positive events in the window, or it cancelled), ``next_cos`` ({"current", "predicted"}:
    (m,)), ``current_list`` / ``predicted_list`` (frames of the step shown), ``figure``,
    ``renders``, ``error`` (the last failure shown in the Output, or None); ``prior`` (items,)
    and ``prior_weight``: the popularity prior the lists add (zeros / 0: pure cosine).
    """

    def __init__(
        self,
        item_matrix: np.ndarray,
        items: pd.DataFrame,
        rows: np.ndarray,
        kinds: list[str],
        event_labels: list[str],
        future_rows: np.ndarray,
        alpha_view: float,
        alpha_favorite: float,
        not_interested_factor: float,
        *,
        n: int = 10,
        next_k: int = 20,
        window: int = 10,
        method: str = "momentum",
        weight: float = 1.0,
        half_life: float | None = None,
        min_events: int = 4,
        title: str = "",
        prior: np.ndarray | None = None,
        prior_weight: float = 0.0,
    ) -> None:
        import ipywidgets as widgets

        from recsys_nb.vectors import MOMENTUM_METHODS, interest_trajectory

        m = len(rows)
        if m == 0:
            raise ValueError("the history is empty; pass a user with events")
        for name, value in (("n", n), ("next_k", next_k)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        self.item_matrix = np.asarray(item_matrix, dtype=np.float32)
        self.prior = (np.zeros(len(self.item_matrix)) if prior is None
                      else np.asarray(prior, dtype=np.float64))
        if self.prior.shape != (len(self.item_matrix),):
            raise ValueError(f"prior has shape {self.prior.shape}; pass one value per item "
                             f"({len(self.item_matrix)}), e.g. rec.item_prior()")
        self.prior_weight = float(prior_weight)
        self.items = items  # one row per matrix row, indexed by item_id: title, year
        self.rows = np.asarray(rows, dtype=np.int64)
        self.kinds, self.event_labels = list(kinds), list(event_labels)
        self.n, self.next_k, self.half_life, self.min_events = int(n), int(next_k), half_life, \
            int(min_events)
        self.title = title
        self.figure: Any = None
        self.renders = 0
        self.error: str | None = None
        self.current_list = pd.DataFrame()
        self.predicted_list = pd.DataFrame()
        # what the user watched next after each event: later positive events, then the future
        positive_at = [k for k, kind in enumerate(self.kinds) if kind != "not_interested"]
        sequence = [int(self.rows[k]) for k in positive_at] + [int(r) for r in future_rows]
        index = np.asarray(positive_at + [m] * len(future_rows))
        first_after = np.searchsorted(index, np.arange(m), side="right")
        self.targets = [sequence[s:s + self.next_k] for s in first_after]
        self.trajectory = interest_trajectory(self.item_matrix, self.rows, self.kinds,
                                              alpha_view, alpha_favorite, not_interested_factor)
        self.step = widgets.IntSlider(value=m, min=1, max=m, description="event",
                                      continuous_update=False,
                                      layout=widgets.Layout(width="520px"))
        self.play = widgets.Play(value=m, min=1, max=m, interval=400, description="play")
        self._link = widgets.link((self.play, "value"), (self.step, "value"))
        if method not in MOMENTUM_METHODS:
            raise ValueError(f"method={method!r} is unknown; use one of {list(MOMENTUM_METHODS)}")
        self.method = widgets.Dropdown(options=list(MOMENTUM_METHODS), value=method,
                                       description="method")
        self.window = widgets.IntSlider(value=int(window), min=2, max=max(40, int(window)),
                                        description="window", continuous_update=False)
        self.weight = widgets.FloatSlider(value=float(weight), min=0.0, max=max(2.0, weight),
                                          step=0.1, description="weight",
                                          continuous_update=False, readout_format=".1f")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.lists = widgets.Output()
        self.widget = widgets.VBox([
            widgets.HBox([self.method, self.window, self.weight]),
            widgets.HBox([self.play, self.step]),
            self.status,
            self.output,
            self.lists,
        ])
        self.predicted = self.trajectory.copy()
        self.fallback = np.ones(m, dtype=bool)
        self.next_cos: dict[str, np.ndarray] = {}
        self._guarded(recompute=True)
        for control in (self.method, self.window, self.weight):
            control.observe(self._on_recompute, names="value")
        self.step.observe(self._on_redraw, names="value")

    def _recompute(self) -> None:
        self.predict()

    def predict(self) -> None:
        """Recompute the predicted interest after every event with the controls' settings."""
        from recsys_nb.vectors import next_item_similarity, predicted_trajectory

        self.predicted, self.fallback = predicted_trajectory(
            self.item_matrix, self.rows, self.kinds, self.trajectory, int(self.window.value),
            weight=float(self.weight.value), method=self.method.value,
            half_life=self.half_life, min_events=self.min_events,
        )
        self.next_cos = {
            "current": next_item_similarity(self.trajectory, self.item_matrix, self.targets),
            "predicted": next_item_similarity(self.predicted, self.item_matrix, self.targets),
        }

    def summary(self) -> dict[str, float]:
        """Over the events where a prediction differs from the current vector and next items
        exist: how often the predicted interest is closer to the next items, and the means."""
        cur, pred = self.next_cos["current"], self.next_cos["predicted"]
        ok = ~self.fallback & ~np.isnan(cur) & ~np.isnan(pred)
        if not ok.any():
            return {"events": 0, "predicted_closer": float("nan"),
                    "current_mean": float("nan"), "predicted_mean": float("nan")}
        return {"events": int(ok.sum()), "predicted_closer": float((pred[ok] > cur[ok]).mean()),
                "current_mean": float(cur[ok].mean()), "predicted_mean": float(pred[ok].mean())}

    def top_list(self, vector: np.ndarray, step: int) -> pd.DataFrame:
        """Top-``n`` items for ``vector`` with the items of events ``1..step`` excluded, ranked
        as the service ranks: ``cosine + prior_weight * prior`` (exact, over all items)."""
        if np.isnan(vector).any():
            return pd.DataFrame(columns=["rank", "movie", "score", "next"])
        q = np.asarray(vector, dtype=np.float64)
        scores = self.item_matrix @ (q / np.linalg.norm(q)) + self.prior_weight * self.prior
        scores[self.rows[:step]] = -np.inf
        idx = np.argsort(-scores, kind="stable")[:self.n]
        idx = idx[np.isfinite(scores[idx])]
        scores = scores[idx]
        upcoming = set(self.targets[step - 1])
        meta = self.items.iloc[idx]
        return pd.DataFrame({
            "rank": np.arange(1, len(idx) + 1),
            "item_id": meta.index.to_numpy(),
            "movie": [item_label(t, y) for t, y in zip(meta["title"], meta["year"], strict=True)],
            "score": scores,
            "next": ["yes" if int(r) in upcoming else "" for r in idx],
        })

    def render(self) -> None:
        """Draw the curves, the status line and the two lists for the current step."""
        from matplotlib.figure import Figure

        from recsys_nb.plots import plot_next_item_similarity

        k = int(self.step.value)
        label = (f"predicted ({self.method.value}, window {self.window.value}, "
                 f"weight {self.weight.value:g})")
        fig = Figure(figsize=(11, 3.4), dpi=80, layout="constrained")
        ax = fig.subplots()
        plot_next_item_similarity(
            {"current interest (EMA)": self.next_cos["current"],
             label: self.next_cos["predicted"]}, step=k, ax=ax,
            title=self.title or None,
            ylabel=f"mean cosine to the next {self.next_k} items")
        self.figure = fig
        cur, pred = self.trajectory[k - 1], self.predicted[k - 1]
        self.current_list = self.top_list(cur, k)
        self.predicted_list = self.top_list(pred, k)
        c_next, p_next = self.next_cos["current"][k - 1], self.next_cos["predicted"][k - 1]
        hits_c = int((self.current_list["next"] == "yes").sum()) if len(self.current_list) else 0
        hits_p = int((self.predicted_list["next"] == "yes").sum()) \
            if len(self.predicted_list) else 0
        n_next = len(self.targets[k - 1])
        if np.isnan(cur).any():
            state = "no interest vector yet"
        elif self.fallback[k - 1]:
            state = (f"<b>fallback</b>: fewer than {self.min_events} positive events in the "
                     "window (or the prediction cancelled), so predicted = current")
        else:
            state = f"cos(current, predicted) = {float(cur @ pred):.3f}"
        fmt = "{:.3f}".format
        self.status.value = (
            f"event {k}/{len(self.rows)}: {html.escape(self.event_labels[k - 1])}<br>{state}; "
            f"mean cosine to the next {n_next} items: current "
            f"{fmt(c_next) if np.isfinite(c_next) else '-'}, predicted "
            f"{fmt(p_next) if np.isfinite(p_next) else '-'}; of these next items in the top "
            f"{self.n}: current {hits_c}, predicted {hits_p}"
        )
        text = (f"event {k}: {self.event_labels[k - 1]}; next-item cosine current {c_next:.3f}, "
                f"predicted {p_next:.3f}")
        self.output.outputs = (_figure_output(fig, text),)
        shown = {f"current interest: top {self.n}": self.current_list.drop(columns="item_id",
                                                                           errors="ignore"),
                 f"{label}: top {self.n}": self.predicted_list.drop(columns="item_id",
                                                                    errors="ignore")}
        self.lists.outputs = (_side_by_side(shown),)
        self.renders += 1


def momentum_scrubber(
    rec: Any,
    history: pd.DataFrame,
    future: pd.DataFrame | None = None,
    *,
    n: int = 10,
    next_k: int = 20,
    window: int = 10,
    method: str = "momentum",
    weight: float = 1.0,
    half_life: float | None = None,
    min_events: int = 4,
    title: str = "",
) -> MomentumScrubber:
    """Build the current-vs-predicted scrubber for one user's history over a Recommender's items.

    The item vectors, the popularity prior and the service's alphas / factor are copied out of
    ``rec`` once, so the widget keeps working after ``rec.close()``; it never writes to the
    store. At the last event
    of a history equal to the user's log, ``trajectory[-1]`` is ``rec.interest(user)`` and
    ``predicted[-1]`` is ``rec.predict_interest(user, window, ...)``.

    Args:
        rec: the service (item vectors, titles, alphas, not-interested factor).
        history: the user's events (item_id, kind; timestamp optional), oldest first, e.g.
            ``rec.history(user)``.
        future: events after the history (e.g. the user's held-out test events); their positive
            items count as "watched next" for the last events. None: none.
        n: length of the two lists; next_k: how many next items the cosines average over.
        window, method, weight, half_life, min_events: the prediction's settings (the first three
            are controls), as in ``Recommender.predict_interest``.
        title: shown above the curves.
    """
    frames = {"history": history, **({"future": future} if future is not None else {})}
    _check_history_columns(frames, "pass rec.history(user) or a dataset's events of one user")
    item_ids = rec.item_ids
    matrix = np.stack([rec.item_vector(i) for i in item_ids])
    rows = _item_rows(rec, history, "history")
    future_rows = np.empty(0, dtype=np.int64)
    if future is not None:
        positive = future[future["kind"] != "not_interested"]
        future_rows = _item_rows(rec, positive, "future")
    return MomentumScrubber(
        matrix, rec.items.loc[item_ids, ["title", "year"]], rows,
        history["kind"].astype(str).tolist(), _event_labels(rec, history), future_rows,
        rec.alpha_view,
        rec.alpha_favorite, rec.not_interested_factor, n=n, next_k=next_k, window=window,
        method=method, weight=weight, half_life=half_life, min_events=min_events, title=title,
        prior=rec.item_prior(), prior_weight=rec.prior_weight,
    )
