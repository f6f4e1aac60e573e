"""Keep committed notebooks clean: no outputs, no execution counts, no noisy metadata.

``python -m recsys_nb.nbclean NB...`` strips in place; ``--check`` only reports (exit 1 if dirty).
``make run`` produces executed copies under ``build/``; sources stay output-free.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Cell metadata worth keeping (tags carry the papermill `parameters` marker).
KEEP_CELL_META = {"tags"}
KEEP_NB_META = {"kernelspec", "language_info"}


def clean(nb: dict) -> dict:
    """Return the notebook with outputs, execution counts and volatile metadata removed."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_NB_META}
    lang = nb["metadata"].get("language_info")
    if isinstance(lang, dict):
        nb["metadata"]["language_info"] = {"name": lang.get("name", "python")}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        cell["metadata"] = {k: v for k, v in meta.items() if k in KEEP_CELL_META}
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def dump(nb: dict) -> str:
    """Serialise like Jupyter does (indent 1, trailing newline) so diffs stay small."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"]
    dirty = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        cleaned = dump(clean(json.loads(text)))
        if cleaned != text:
            dirty.append(path)
            if not check:
                path.write_text(cleaned, encoding="utf-8")
    if check and dirty:
        names = ", ".join(str(p) for p in dirty)
        print(f"notebooks with outputs or noisy metadata: {names}; run `make clean-notebooks`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
