"""recsys_nb.snapshot: the static HTML picture of a widget tree that HTML reports show."""

from __future__ import annotations

import base64

import ipywidgets as w

from recsys_nb.snapshot import mimebundle, snapshot_html


def test_boxes_and_controls_become_blocks_and_their_values():
    ui = w.VBox([
        w.HTML("<b>Top picks</b>"),
        w.HBox([w.Button(description="Go <now>"), w.IntSlider(value=5, description="N")]),
        w.Label("a<b"),
        w.Dropdown(options=[("One", 1), ("Two", 2)], value=2, description="Pick"),
        w.Text(description="Search"),  # empty value: just the description
        w.Text(),  # nothing to show
    ])
    html = snapshot_html(ui)
    assert html.startswith("<div style='display:flex;flex-direction:column;gap:6px'>")
    assert "<div style='display:flex;flex-direction:row;gap:6px'><span style=" in html
    assert "<div><b>Top picks</b></div>" in html  # HTML widgets keep their markup
    assert ">Go &lt;now&gt;</span>" in html  # everything else is escaped
    assert "<span><b>N</b> 5</span>" in html
    assert "<span>a&lt;b</span>" in html
    assert "<span><b>Pick</b> Two</span>" in html  # a dropdown shows its label, not its value
    assert "<span>Search</span>" in html
    assert html.endswith("<span>Search</span></div>")  # the empty Text adds nothing


def test_hidden_widgets_stay_out():
    shown, hidden = w.Label("shown"), w.Label("hidden")
    hidden.layout.display = "none"
    box = w.HBox([shown, hidden])
    assert "hidden" not in snapshot_html(box) and "shown" in snapshot_html(box)
    box.layout.display = "none"
    assert snapshot_html(box) == ""


def test_output_widgets_show_their_captured_outputs_richest_first():
    png = b"\x89PNG fake"
    out = w.Output()
    out.outputs = (
        {"output_type": "stream", "name": "stdout", "text": "hi <x>"},
        {"output_type": "display_data", "metadata": {},
         "data": {"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"}},
        {"output_type": "display_data", "metadata": {},
         "data": {"text/html": "<table></table>", "text/plain": "frame"}},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad n", "traceback": []},
    )
    assert snapshot_html(out) == (
        "<pre>hi &lt;x&gt;</pre>"
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'
        "<table></table>"
        "<pre>ValueError: bad n</pre>"
    )


def test_image_widgets_are_inlined():
    png = b"\x89PNG"
    image = w.Image(value=png, format="png")
    encoded = base64.b64encode(png).decode()
    assert snapshot_html(image) == f'<img src="data:image/png;base64,{encoded}"/>'


def test_mimebundle_keeps_the_live_view_and_adds_the_snapshot():
    label = w.Label("hello")
    bundle = mimebundle(label)
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == label.model_id
    assert bundle["text/html"].startswith("<div class='recsys-nb-snapshot'><i>Static snapshot")
    assert bundle["text/html"].endswith("<span>hello</span></div>")
