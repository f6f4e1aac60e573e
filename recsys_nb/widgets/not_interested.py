"""Notebook 04: "not interested" buttons on a user's list, a factor slider, live updates."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_nb import vectors
from recsys_nb.snapshot import mimebundle
from recsys_nb.widgets.common import _interest_or_none, item_label
from recsys_nb.widgets.outputs import _frame_display, _message_output

if TYPE_CHECKING:
    import ipywidgets

    from recsys_nb.recommender import Recommender


def subtraction_preview(
    interest: np.ndarray | None, items: np.ndarray, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each item row: the cosine between the item and ``normalize(v - factor * e)``.

    Uses ``vectors.subtract`` itself, so the preview is exactly what a not-interested would do.

    Returns:
        ``(cosine after (n,), overshoot (n,) bool)``; NaN where there is no interest vector yet
        or the subtraction would cancel it (``overshoot`` True: the service keeps the vector).
    """
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

    A click calls ``rec.not_interested(user, item)``: the event is logged, the interest vector
    moves away (``normalize(v - factor * e)``, or stays put on overshoot) and the list is
    recomputed, so the item leaves it (it now counts as seen). The log (``output``) shows the
    cosine of the interest to each rejected item before and after.

    The slider is the service's ``not_interested_factor``: moving it applies the new factor live
    (``rec.set_params(not_interested_factor=...)``, validated; nothing is recorded until the
    next click, and every logged event keeps the factor it was applied with). Next to each
    listed item a preview says where the cosine would land if rejected at that factor (computed
    with ``vectors.subtract``, exactly what the service does). When the service's factor is
    changed elsewhere, the next refresh moves the slider to it.

    Args:
        rec: the service.
        user: whose list is shown (a user without a vector sees popular items).
        n: items listed.
        max_factor: the slider's upper end (above 1 the interest can flip past the item).

    Attributes: ``rec``, ``user``, ``n``, ``slider``, ``status`` (HTML), ``rows`` (VBox, one row
    per listed item), ``buttons`` / ``labels`` ({item_id: widget}), ``output`` (Output holding
    the rejection log), ``widget``, ``listed`` (item ids shown, best first), ``top`` (the last
    recommendations frame), ``preview`` (frame behind the labels: ``score`` as ``recommend``
    ranks, i.e. with the popularity prior; ``cos_before`` / ``cos_after`` the cosine of the
    interest to the item now / after a rejection at the slider's factor), ``rejections`` (list
    of dicts, one per click, with the factor the event recorded).
    """

    def __init__(
        self, rec: Recommender, user: int | str, n: int = 10, max_factor: float = 1.5
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
        self.rejections: list[dict[str, Any]] = []
        self.listed: list[int] = []
        self.top: pd.DataFrame | None = None
        self.preview: pd.DataFrame | None = None
        self.buttons: dict[int, ipywidgets.Button] = {}
        self.labels: dict[int, ipywidgets.HTML] = {}
        self._syncing = False  # True while the panel itself moves the slider to the service
        self.slider = widgets.FloatSlider(
            value=factor, min=0.0, max=max_factor, step=0.05, readout_format=".2f",
            description="factor:", continuous_update=False,
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

    def _sync_slider(self) -> None:
        """Move the slider to the service's factor when it was changed elsewhere (no set_params:
        the service already has it)."""
        service = float(self.rec.not_interested_factor)
        if np.isclose(service, self.factor) or not 0.0 <= service <= self.slider.max:
            return
        self._syncing = True
        try:
            self.slider.value = service
        finally:
            self._syncing = False

    def refresh(self) -> None:
        """Recompute the list (one row per item: button + label) and the preview labels.

        The rows are a fixed pool of ``n`` (button, label) pairs re-filled in place: a click
        then costs a few value updates, not ``2n`` new widget models in kernel and browser.
        """
        import ipywidgets as widgets

        self._sync_slider()
        self.top = self.rec.recommend(self.user, n=self.n)
        self.listed = [int(i) for i in self.top["item_id"]]
        while len(self.rows.children) < len(self.listed):
            k = len(self.rows.children)
            button = widgets.Button(description="not interested", button_style="warning",
                                    layout=widgets.Layout(width="130px"))
            button.on_click(lambda _b, k=k: self._on_row(k))
            self.rows.children = (*self.rows.children, widgets.HBox([button, widgets.HTML()]))
        self.buttons, self.labels = {}, {}
        for k, row in enumerate(self.rows.children):
            button, label = row.children
            shown = k < len(self.listed)
            row.layout.display = "flex" if shown else "none"
            if shown:
                button.tooltip = f"not interested in item {self.listed[k]}"
                self.buttons[self.listed[k]], self.labels[self.listed[k]] = button, label
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
        note = "" if np.isclose(f, service) else (
            f" (the slider shows {f:g}: move it to apply a factor)")
        self.status.value = (
            f"service factor <b>{service:g}</b>{note}; each event records its own. Safe range: "
            "factor &le; 0.5 can never cancel the vector."
        )

    def reject(self, item_id: int) -> dict[str, Any]:
        """Do what the item's button does; return the log entry (also appended to
        ``rejections``): factor, cosine of interest and item before/after, overshoot, message."""
        import warnings

        from recsys_nb.recommender import OvershootWarning

        item_id = int(item_id)
        before_v = _interest_or_none(self.rec, self.user)
        before = self._cosine_to(item_id)
        title = self.rec.items.loc[item_id, "title"] if item_id in self.rec.items.index else ""
        year = self.rec.items.loc[item_id, "year"] if item_id in self.rec.items.index else None
        with warnings.catch_warnings():
            # the overshoot is reported in the log below (result.overshoot), not as a warning
            warnings.simplefilter("ignore", OvershootWarning)
            result = self.rec.not_interested(self.user, item_id)
        recorded = self.rec.history(self.user, last=1)["params"].iloc[0] or {}
        after_v = _interest_or_none(self.rec, self.user)
        moved = (float(before_v @ after_v) if before_v is not None and after_v is not None
                 else float("nan"))
        entry = {
            "item_id": item_id,
            "movie": item_label(title, year),
            "factor": float(recorded.get("factor", self.rec.not_interested_factor)),
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

    def _on_row(self, k: int) -> None:
        """A click on row ``k``: the movie that row shows now (a row past the list is hidden)."""
        if k < len(self.listed):
            self._on_click(self.listed[k])

    def _on_click(self, item_id: int) -> None:
        try:
            self.reject(item_id)
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self._error(exc)

    def _on_slider(self, change: dict[str, Any]) -> None:
        """Apply the slider's factor to the service (live, validated), then redo the preview."""
        if self._syncing:
            return
        try:
            self.rec.set_params(not_interested_factor=self.factor)
            self._update_preview()
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self._error(exc)
