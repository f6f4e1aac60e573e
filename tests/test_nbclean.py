"""recsys_nb.nbclean: committed notebooks carry no outputs, counts or volatile metadata."""

from __future__ import annotations

import json

from recsys_nb.nbclean import clean, dump, main

DIRTY = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
        "papermill": {"duration": 3.2},
    },
    "cells": [
        {"id": "a", "cell_type": "markdown", "metadata": {"tags": ["x"], "collapsed": True},
         "source": "# 00 Title"},
        {"id": "b", "cell_type": "code", "execution_count": 7,
         "metadata": {"tags": ["parameters"], "execution": {"iopub.status.busy": "2026"}},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}],
         "source": "N = 3"},
    ],
}


def test_clean_strips_outputs_counts_and_volatile_metadata():
    nb = clean(DIRTY)
    assert nb["metadata"] == {"kernelspec": DIRTY["metadata"]["kernelspec"],
                              "language_info": {"name": "python"}}
    markdown, code = nb["cells"]
    assert markdown == {"id": "a", "cell_type": "markdown", "metadata": {"tags": ["x"]},
                        "source": "# 00 Title"}
    assert code == {"id": "b", "cell_type": "code", "execution_count": None,
                    "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "N = 3"}
    assert DIRTY["cells"][1]["outputs"]  # the input is not modified
    assert clean(nb) == nb  # idempotent


def test_dump_is_jupyters_layout():
    text = dump({"cells": [], "metadata": {"title": "é"}})
    assert text == '{\n "cells": [],\n "metadata": {\n  "title": "é"\n }\n}\n'


def test_main_cleans_in_place_and_check_reports_without_writing(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(DIRTY), encoding="utf-8")
    assert main(["--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert str(path) in out and "make clean-notebooks" in out
    assert json.loads(path.read_text(encoding="utf-8")) == DIRTY  # --check writes nothing
    assert main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == dump(clean(DIRTY))
    assert main(["--check", str(path)]) == 0
