"""recsys_nb.report: recorded numbers round-trip; HTML reports show widgets as snapshots."""

from __future__ import annotations

import nbformat
import pytest

from recsys_nb.report import MIME, read_recorded, write_html

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def _executed_notebook(path):
    """A notebook as papermill leaves it: a widget output (live view + snapshot) whose state
    nbclient saved in the metadata, and a recorded number."""
    nb = nbformat.v4.new_notebook()
    widget = nbformat.v4.new_output("display_data", data={
        VIEW: {"model_id": "m1", "version_major": 2, "version_minor": 0},
        "text/html": "<div class='recsys-nb-snapshot'>the list as it was</div>",
        "text/plain": "VBox(...)",
    })
    recorded = nbformat.v4.new_output("display_data", data={MIME: {"x": 1}, "text/plain": "x"})
    nb.cells = [nbformat.v4.new_code_cell("app", outputs=[widget, recorded])]
    nb.metadata["widgets"] = {STATE: {"state": {"m1": {"model_name": "VBoxModel"}},
                                      "version_major": 2, "version_minor": 0}}
    nbformat.write(nb, str(path))
    return path


def test_html_report_shows_the_snapshot_not_a_blank_widget(tmp_path):
    out = write_html(_executed_notebook(tmp_path / "nb.ipynb"), tmp_path / "reports")
    html = out.read_text(encoding="utf-8")
    assert out.name == "nb.html"
    assert "the list as it was" in html
    assert STATE not in html  # no widget manager that would fetch its code from a CDN


def test_recorded_values_round_trip(tmp_path):
    assert read_recorded(_executed_notebook(tmp_path / "nb.ipynb")) == {"x": 1}


def test_record_refuses_non_finite_numbers():
    from recsys_nb.report import record

    with pytest.raises(ValueError, match="non-finite"):
        record(bad=float("nan"))
