"""Run a notebook with papermill (non-default parameters) and read back what it recorded.

Notebook tests use the repository's ``data/`` folder (``RECSYS_NB_DATA`` unset) so the embedding
cache stays warm between runs, and pass their own store folder so they never touch the stores
that ``make run`` or an open JupyterLab kernel use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from recsys_nb.report import read_recorded

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def run_notebook(name: str, out_dir: Path, timeout: int = 600, **parameters: Any) -> dict[str, Any]:
    """Execute ``notebooks/<name>`` with ``parameters`` into ``out_dir``; return its records."""
    import papermill

    out = Path(out_dir) / name
    env_backup = os.environ.pop("RECSYS_NB_DATA", None)
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / name),
            str(out),
            parameters=parameters,
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=timeout,
        )
    finally:
        if env_backup is not None:
            os.environ["RECSYS_NB_DATA"] = env_backup
    return read_recorded(out)


def check_conventions(name: str) -> tuple[Any, list[str]]:
    """Assert the house conventions of ``notebooks/<name>`` and return (notebook, parameter names).

    Committed clean (``python -m recsys_nb.nbclean`` leaves it unchanged), an H1 "NN ..." title
    with "You will learn" in the first (markdown) cell, exactly one ``parameters`` cell holding
    only assignments of literals, each line commented.
    """
    import ast
    import json

    import nbformat

    from recsys_nb.nbclean import clean, dump

    text = (NOTEBOOKS / name).read_text(encoding="utf-8")
    assert dump(clean(json.loads(text))) == text, "run `python -m recsys_nb.nbclean` on it"
    nb = nbformat.reads(text, as_version=4)
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert nb["cells"][0]["source"].startswith(f"# {name[:2]}")
    assert "You will learn" in nb["cells"][0]["source"]
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    names = []
    for stmt in ast.parse(tagged[0]["source"]).body:
        assert isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
        ast.literal_eval(stmt.value)
        names.append(stmt.targets[0].id)
    assert all("#" in line for line in tagged[0]["source"].splitlines())
    return nb, names


def assert_ran_on_server(store: Path) -> list[str]:
    """The notebook's store lives on the Chroma server of CHROMA_HOST (its own database there),
    not in an embedded folder; returns the names of its collections on the server."""
    from recsys_nb.store import get_client

    assert os.environ.get("CHROMA_HOST"), "run with the server_env fixture"
    assert not (Path(store) / "chroma" / "chroma.sqlite3").exists(), "an embedded store was made"
    names = sorted(c.name for c in get_client(Path(store) / "chroma").list_collections())
    assert any(n.startswith("videos__") for n in names) and any(
        n.startswith("profiles__") for n in names), names
    return names
