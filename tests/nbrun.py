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
