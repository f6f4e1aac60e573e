"""``display_data`` outputs the widgets put into their ``Output`` s: tables, messages, figures.

An ``Output`` holds notebook outputs (dicts), not displayed objects, so a test or a headless run
reads exactly what a reader sees (``text/plain`` next to ``text/html`` / ``image/png``), and a
figure is one PNG drawn without pyplot (safe on any thread).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd


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


def _message_output(text: str) -> dict[str, Any]:
    """A display_data output holding one message (hints and errors shown in the Output)."""
    return {
        "output_type": "display_data",
        "data": {"text/html": f"<i>{html.escape(text)}</i>", "text/plain": text},
        "metadata": {},
    }


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


class SafeRefresh:
    """What a widget that redraws on every control change shares: ``refresh()`` (the subclass's)
    runs through :meth:`_safely`, so a failure is shown in ``output`` with ``retry_hint`` and
    kept in ``error``, never raised into the widget thread; the widget displays as a live view
    plus a static snapshot for HTML reports."""

    retry_hint = "Change a control again, or re-run the notebook."
    widget: Any
    output: Any
    error: str | None

    def refresh(self) -> None:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        from recsys_nb.snapshot import mimebundle

        return mimebundle(self.widget, **kwargs)

    def _safely(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - shown to the reader, not hidden
            self.error = f"{type(exc).__name__}: {exc}"
            self.output.outputs = (_message_output(f"{self.error}. {self.retry_hint}"),)

    def _on_change(self, _change: dict[str, Any]) -> None:
        self._safely()
