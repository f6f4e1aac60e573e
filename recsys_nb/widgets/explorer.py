"""Notebook 01: find movies by title, explore their neighbours and free-text search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from recsys_nb.snapshot import mimebundle
from recsys_nb.widgets.common import ItemNotFoundError, find_item, item_labels
from recsys_nb.widgets.outputs import _message_output, _table_output

if TYPE_CHECKING:
    from recsys_nb.store import ItemStore


class ItemExplorer:
    """Pick a movie to see its nearest neighbours, or type a query to search by meaning.

    Args:
        store: the :class:`~recsys_nb.store.ItemStore` holding ``items`` (with a text model, for
            search).
        items: the items frame (item_id, title, year) whose labels fill the picker.
        n: rows shown at first (the ``Top N`` slider, 1..``max_n``).
        initial: a title (as :func:`~recsys_nb.widgets.common.find_item` reads it) to show at
            once, or None.

    Raises:
        ValueError: ``n`` outside [1, max_n]. ItemNotFoundError: ``initial`` names no item.

    Attributes: ``picker`` (Combobox of "Title (year)" labels), ``query`` (Text; fires on
    Enter), ``n`` (IntSlider: rows shown), ``output`` (Output holding the table), ``widget``
    (the whole UI), ``table`` (the last result frame, or None), ``heading`` (what the table
    shows). The last action wins; moving ``n`` repeats it.
    """

    def __init__(
        self,
        store: ItemStore,
        items: pd.DataFrame,
        n: int = 5,
        initial: str | None = None,
        *,
        max_n: int = 25,
    ) -> None:
        import ipywidgets as widgets

        if not 1 <= n <= max_n:
            raise ValueError(f"n={n} must be within [1, {max_n}]; pass e.g. n=5")
        initial_id = None if initial is None else find_item(items, initial)
        self.store = store
        self.labels = item_labels(items)
        self.table: pd.DataFrame | None = None
        self.heading = ""
        self._last: tuple[str, str] | None = None
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
        if initial_id is not None:
            self.picker.value = next(lab for lab, i in self.labels.items() if i == initial_id)

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

