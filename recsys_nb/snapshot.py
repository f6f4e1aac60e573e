"""A static HTML picture of a live ipywidgets UI, for reports that keep no widget state.

Papermill and nbconvert (``make run``) save a widget's output as a reference to a model that
only lives in the kernel, so the HTML report shows a blank hole where the widget was. Each
widget of recsys_nb therefore displays a MIME bundle with two entries: the live widget view
(what JupyterLab and Voila render) and ``text/html`` from :func:`snapshot_html` (what nbconvert
falls back to when the widget state is missing): the tables, figures, labels and control values
the widget showed when the cell ran.
"""

from __future__ import annotations

import base64
import html
from typing import Any


def _output_html(output: dict[str, Any]) -> str:
    """One captured output of an ``Output`` widget as HTML (richest format first)."""
    data = output.get("data", {})
    if "image/png" in data:
        png = data["image/png"]
        if isinstance(png, bytes):
            png = base64.b64encode(png).decode("ascii")
        return f'<img src="data:image/png;base64,{png}"/>'
    if "text/html" in data:
        return str(data["text/html"])
    text = data.get("text/plain") or output.get("text") or ""
    if output.get("output_type") == "error":
        text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    return f"<pre>{html.escape(str(text))}</pre>" if text else ""


def _control_html(widget: Any) -> str:
    """A control (slider, dropdown, text box, button, ...) as its description and value."""
    description = getattr(widget, "description", "") or ""
    if type(widget).__name__ == "Button":
        style = "border:1px solid #999;padding:1px 6px"
        return f"<span style='{style}'>{html.escape(description)}</span>"
    value = getattr(widget, "value", None)
    if value is None or value == "":
        return f"<span>{html.escape(description)}</span>" if description else ""
    label = getattr(widget, "label", None)  # dropdowns: the label of the chosen option
    shown = label if isinstance(label, str) and label else value
    return f"<span><b>{html.escape(description)}</b> {html.escape(str(shown))}</span>"


def snapshot_html(widget: Any) -> str:
    """Static HTML of a widget tree as it is now: boxes become blocks, ``HTML`` widgets their
    markup, ``Output`` widgets their captured outputs, controls their description and value."""
    kind = type(widget).__name__
    layout = getattr(widget, "layout", None)
    if getattr(layout, "display", None) == "none":  # hidden in the live view: hidden here too
        return ""
    if hasattr(widget, "children"):  # boxes: rows side by side, everything else stacked
        direction = "row" if kind in ("HBox", "GridBox") else "column"
        inner = "".join(snapshot_html(child) for child in widget.children)
        return f"<div style='display:flex;flex-direction:{direction};gap:6px'>{inner}</div>"
    if kind == "Output":
        return "".join(_output_html(o) for o in widget.outputs)
    if kind in ("HTML", "HTMLMath"):
        return f"<div>{widget.value}</div>"
    if kind == "Label":
        return f"<span>{html.escape(str(widget.value))}</span>"
    if kind == "Image":
        png = base64.b64encode(bytes(widget.value)).decode("ascii")
        return f'<img src="data:image/{widget.format};base64,{png}"/>'
    return _control_html(widget)


def mimebundle(widget: Any, **kwargs: Any) -> dict[str, Any]:
    """The live view of ``widget`` plus its :func:`snapshot_html` (see the module docstring)."""
    bundle = dict(widget._repr_mimebundle_(**kwargs) or {})
    bundle["text/html"] = (
        "<div class='recsys-nb-snapshot'><i>Static snapshot of an interactive widget (open the "
        "notebook in JupyterLab to use it).</i>" + snapshot_html(widget) + "</div>"
    )
    return bundle
