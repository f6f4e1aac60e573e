"""Notebook 07: the playground, the whole technique as one small app (``make app`` serves it).

Built from :mod:`recsys_nb.widgets.components`; every action is an event in the store, so
reopening continues. Callbacks may run on another thread than the one that built the app
(JupyterLab, ipykernel 7): the service is thread-safe, and every callback turns a failure into a
readable message in the app instead of a traceback.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_nb import vectors
from recsys_nb.snapshot import mimebundle
from recsys_nb.widgets.common import item_label
from recsys_nb.widgets.components import (
    _KIND_WORD,
    ACTIONS,
    InterestPicture,
    MovieList,
    ParameterSliders,
    SearchBox,
    TextSearch,
    UserPicker,
    _widgets,
)

if TYPE_CHECKING:
    from recsys_nb.data import Dataset
    from recsys_nb.recommender import Recommender


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


def text_search(dataset: Dataset, cache_path: str | Path | None = None) -> TextSearch:
    """Search by meaning: all-MiniLM-L6-v2 text vectors of the items (cached on disk after the
    first run) and an exact cosine top-n. Returns ``search(query, n) -> items rows + similarity``.
    """
    from recsys_nb.embeddings import embed_items
    from recsys_nb.store import embedding_cache_path

    cache = embedding_cache_path(cache_path)
    text = embed_items(dataset.items, None, "minilm", cache_path=cache, progress=False)
    rows = dataset.items.set_index("item_id", drop=False).loc[text.item_ids]

    def search(query: str, n: int) -> pd.DataFrame:
        q = np.asarray(text.text_model([query]))[0]  # type: ignore[misc]
        idx, scores = vectors.cosine_top_n(q, text.vectors, n, assume_unit=True)
        return rows.iloc[idx].assign(similarity=scores).reset_index(drop=True)

    return search


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
        """The store's most recently active user (one aggregate query), or a fresh guest."""
        summary = self.rec.log.user_summary()
        if summary.empty:
            return f"guest-{secrets.token_hex(3)}"
        return summary["user_id"].iloc[int(summary["last_seq"].to_numpy().argmax())]

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

    def switch_to(self, user: int | str) -> None:
        """Show ``user`` (known or brand new) and put their id in the picker."""
        self.user = user
        if self.picker.text.value != str(user):
            self.picker.text.value = str(user)  # fires pick(), which refreshes
        else:
            self.refresh()

    def new_user(self) -> None:
        """Start a fresh user (cold: popular movies until the first watch)."""
        self.switch_to(f"guest-{secrets.token_hex(3)}")

    def clone(self, movielens_user: int | None) -> None:
        """A new user ``ml-<id>`` with the MovieLens user's history (kept when cloned before)."""
        if movielens_user is None:
            raise ValueError("no MovieLens user to clone: pick one in the clone menu")
        clone_id = f"ml-{int(movielens_user)}"
        if self.rec.log.count(clone_id) == 0:
            events = self.dataset.events[self.dataset.events["user_id"] == movielens_user]
            if events.empty:
                raise LookupError(f"MovieLens user {movielens_user} has no events to clone")
            self.rec.ingest(events.assign(user_id=clone_id))
        self.switch_to(clone_id)

    def act(self, item_id: int, action: str) -> None:
        """Record one action on a movie (a button of a card) and refresh everything."""
        method = getattr(self.rec, ACTIONS[action])
        result = method(self.user, int(item_id))
        self.actions.append({"user": self.user, "item_id": int(item_id), "action": action,
                             "message": result.message})
        self.refresh(note=f"{action}: {self.label(item_id)} ({result.message})")

    def undo(self) -> None:
        """Take back the user's newest event."""
        removed = self.rec.undo(self.user)
        note = "nothing to undo" if removed.empty else (
            f"undid {removed['kind'].iloc[0]} of {self.label(int(removed['item_id'].iloc[0]))}")
        self.refresh(note=note)

    def reset(self) -> None:
        """A fresh user and the default parameters (earlier users stay in the store)."""
        self.sliders.reset()
        self.new_user()

    def _param_changed(self, name: str, value: float) -> None:
        self.rec.set_params(**{name: value})
        self.refresh(note=f"{name} = {value:.2f}")

    def label(self, item_id: int) -> str:
        """How a movie is named in the app: "Title (year)"."""
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
            f"<li>{html.escape(_KIND_WORD.get(k, k))} {html.escape(self.label(i))}</li>"
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
    from recsys_nb.store import data_dir, notebook_store, server_address

    return data_dir() / "app" if server_address() else notebook_store("07_playground")


def open_playground(dataset: Dataset, path: str | Path | None = None, **kwargs: Any) -> Any:
    """Build the service on ``path`` and the app; a store held by another process (another
    kernel, another app visitor on an embedded store) gives a message widget with the fix
    instead of an exception, so the page still says what to do.

    ``kwargs`` go to :class:`Playground` (``user``, ``n``, ``search``, ...). Returns the
    :class:`Playground` (its ``rec`` is the service) or an ``ipywidgets.HTML`` message.
    """
    from recsys_nb.recommender import Recommender
    from recsys_nb.store import StoreLockedError

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
