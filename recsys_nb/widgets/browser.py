"""Notebook 03: pick a user -> their top-N recommendations and recent history, side by side."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from recsys_nb.snapshot import mimebundle
from recsys_nb.widgets.common import history_table, recommendations_table
from recsys_nb.widgets.outputs import _frame_display, _message_output

if TYPE_CHECKING:
    from recsys_nb.recommender import Recommender


class RecommendationBrowser:
    """Pick a user: their top-N recommendations and their recent history, side by side.

    Args:
        rec: the service.
        users: user ids offered in the dropdown (the first is shown at once).
        n: recommendations shown.
        history_last: how many of the user's most recent events are shown.

    Attributes: ``user`` (Dropdown of user ids), ``exclude_seen`` (Checkbox),
    ``recommendations`` and ``history`` (two Outputs in an HBox), ``widget`` (the whole UI),
    ``tables`` (the (recommendations, history) frames last shown, or None after an error).
    Changing either control recomputes both tables.
    """

    def __init__(
        self, rec: Recommender, users: Iterable[int | str], n: int = 10,
        history_last: int = 10,
    ) -> None:
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

    def show(self, user: int | str) -> tuple[pd.DataFrame, pd.DataFrame]:
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

