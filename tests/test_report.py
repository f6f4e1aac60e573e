"""recsys_nb.report: recorded numbers round-trip; HTML reports show widgets as snapshots."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

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


class _Resources(HTMLParser):
    """Every URL the page would fetch by itself: <script src>, <link href>, <img src>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def _outside(url: str) -> bool:
    """True for a URL that leaves this machine (http(s) or protocol-relative, not 127.0.0.1)."""
    parts = urlsplit(url)
    remote = parts.scheme in {"http", "https"} or url.startswith("//")
    return remote and parts.hostname not in {"127.0.0.1"}


def test_html_report_requests_nothing_beyond_localhost(tmp_path):
    nb = nbformat.read(str(_executed_notebook(tmp_path / "nb.ipynb")), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("EMA: $v = (1 - \\alpha) v + \\alpha e$"))
    nb.cells.append(nbformat.v4.new_markdown_cell("```mermaid\ngraph LR; a-->b\n```"))
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    html = write_html(tmp_path / "nb.ipynb", tmp_path / "reports").read_text(encoding="utf-8")

    parser = _Resources()
    parser.feed(html)
    assert [u for u in parser.urls if _outside(u)] == []
    # Nor fetched from inside a script or a stylesheet (MathJax, require.js, mermaid all did).
    assert not re.findall(r"""(?:import\(|url\(|@import)\s*["']?(?:https?:)?//""", html)
    assert "cdnjs" not in html and "unpkg" not in html
    # The math stays readable as TeX.
    assert "$v = (1 - \\alpha) v + \\alpha e$" in html
    # The helpers flag what the stock exporter emitted.
    assert _outside("https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js")
    assert _outside("//unpkg.com/x.js") and not _outside("http://127.0.0.1:8866/static/x.js")


def test_recorded_values_round_trip(tmp_path):
    assert read_recorded(_executed_notebook(tmp_path / "nb.ipynb")) == {"x": 1}


def test_record_refuses_non_finite_numbers():
    from recsys_nb.report import record

    with pytest.raises(ValueError, match="non-finite"):
        record(bad=float("nan"))
