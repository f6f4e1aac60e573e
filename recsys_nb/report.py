"""Record a notebook's key numbers so tests and reports can read them back.

``record(recall_at_50=0.27, n_items=9066)`` displays the values as a small table AND as a JSON
output with its own MIME type. Papermill and nbval keep outputs in the executed notebook, so
``read_recorded("build/notebooks/01_items_and_embeddings.ipynb")`` returns the same dict.
(We do not depend on the unmaintained scrapbook for this.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

MIME = "application/vnd.recsys-nb.record+json"


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, NaN refused (a table must not hide one)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to record a non-finite number ({value}); fix the computation")
    return value


def record(**values: Any) -> None:
    """Display ``values`` in the notebook and record them machine-readably.

    Returns None, so a ``record(...)`` as a cell's last line does not display the values twice.
    """
    from IPython.display import display

    data = _plain(values)
    lines = [f"{k:<32} {v}" for k, v in data.items()]
    display({MIME: data, "text/plain": "recorded:\n" + "\n".join(lines)}, raw=True)


def read_recorded(notebook: str | Path) -> dict[str, Any]:
    """All values recorded by an executed notebook (later records win on equal names)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if MIME in data:
                found.update(data[MIME])
    return found


#: The lab template without its CDN scripts: require.js, MathJax, mermaid and the widget manager
#: would each be fetched from cdnjs / unpkg, and a report page makes no request beyond 127.0.0.1.
#: Math in markdown stays readable as plain TeX (``$x^2$``); mermaid diagrams as their source.
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


def write_html(notebook: str | Path, out_dir: str | Path) -> Path:
    """The HTML report of an executed notebook, offline, every widget shown as its static snapshot.

    nbclient (papermill) saves the widgets' state in the notebook's metadata; nbconvert then
    renders each widget with a widget manager loaded from a public CDN, which shows nothing
    offline. Without that state nbconvert falls back to the ``text/html`` snapshot that every
    recsys_nb widget displays next to its live view (``recsys_nb.snapshot``). The page links no
    outside script or stylesheet (see ``_OFFLINE_TEMPLATE``): CSS is inlined, figures are
    embedded, math is left as TeX. Returns the path.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"recsys_nb_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="recsys_nb_offline.html.j2",
    )
    body, _ = exporter.from_notebook_node(nb)
    out = Path(out_dir) / (Path(notebook).stem + ".html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out


if __name__ == "__main__":  # python -m recsys_nb.report NOTEBOOK OUT_DIR (used by make run)
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: python -m recsys_nb.report EXECUTED_NOTEBOOK OUT_DIR")
    print(write_html(sys.argv[1], sys.argv[2]))
