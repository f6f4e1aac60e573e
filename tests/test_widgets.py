"""recsys_nb.widgets as a package: its pure helpers (labels, titles, list changes, the
subtraction preview), what it exports, and the direction of its imports.

Each widget is driven in-process against a real service in the test of its notebook
(tests/test_notebook_0N.py); the playground in tests/test_widgets_playground.py.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_nb import vectors
from recsys_nb.widgets import (
    ItemNotFoundError,
    find_item,
    item_labels,
    list_changes,
    subtraction_preview,
)

PACKAGE = Path(__file__).resolve().parents[1] / "recsys_nb"


@pytest.fixture(scope="module")
def movielens_items() -> pd.DataFrame:
    from recsys_nb.data import load_movielens

    return load_movielens().items


def test_find_item_reads_titles_as_people_type_them(movielens_items):
    items = movielens_items
    assert find_item(items, "The Matrix") == 2571
    assert find_item(items, "matrix, the (1999)") == 2571
    assert find_item(items, "Toy Story") == 1
    assert find_item(items, "12 Angry Men (1997)") == 77846
    with pytest.raises(ItemNotFoundError, match=r"12 Angry Men \(1957\).*add the year"):
        find_item(items, "12 Angry Men")
    with pytest.raises(ItemNotFoundError, match=r"close matches: \['Toy Story \(1995\)'"):
        find_item(items, "Toy Storey")
    with pytest.raises(ItemNotFoundError, match="empty"):
        find_item(items, " ")


def test_item_labels_are_unique_and_cover_every_item(movielens_items):
    labels = item_labels(movielens_items)
    assert len(labels) == len(movielens_items)
    assert sorted(labels.values()) == sorted(movielens_items["item_id"].tolist())
    assert labels["Toy Story (1995)"] == 1
    assert labels["Hamlet (2000) [item 3598]"] == 3598  # two films share title and year
    assert all(label for label in labels)


def _frame(ids: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"item_id": ids, "title": [f"Movie {i}" for i in ids],
                         "year": pd.array([2000 + i for i in ids], dtype="Int64")})


def test_list_changes_ranks_and_labels():
    changes = list_changes(_frame([1, 2, 3, 4]), _frame([3, 1, 5, 2]))
    assert changes["item_id"].tolist() == [3, 1, 5, 2, 4]  # new order first, then dropped
    assert changes["change"].tolist() == ["up 2", "down 1", "new", "down 2", "dropped"]
    assert changes["movie"].iloc[0] == "Movie 3 (2003)"
    assert changes["rank_before"].isna().tolist() == [False, False, True, False, False]
    assert changes["rank_after"].isna().tolist() == [False, False, False, False, True]
    same = list_changes(_frame([1, 2]), _frame([1, 2]))
    assert same["change"].tolist() == ["kept", "kept"]


def test_list_changes_rejects_frames_without_ids():
    with pytest.raises(ValueError, match="before lacks columns"):
        list_changes(pd.DataFrame({"title": ["x"]}), _frame([1]))


def test_subtraction_preview_matches_vectors_subtract():
    rng = np.random.default_rng(0)
    v = vectors.normalize(rng.standard_normal(16))
    items = vectors.normalize(rng.standard_normal((4, 16)))
    items[2] = v  # the overshoot case at factor 1
    after, over = subtraction_preview(v, items, 1.0)
    assert over.tolist() == [False, False, True, False] and np.isnan(after[2])
    for k in (0, 1, 3):
        assert after[k] == pytest.approx(float(vectors.subtract(v, items[k], 1.0) @ items[k]),
                                         abs=1e-6)
    none_after, none_over = subtraction_preview(None, items, 0.3)
    assert np.isnan(none_after).all() and not none_over.any()


def _recsys_imports(path: Path) -> set[str]:
    """The recsys_nb modules a source file imports (at any depth, TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recsys_nb"):
            names = [node.module] if node.module != "recsys_nb" else [
                f"recsys_nb.{a.name}" for a in node.names]
            found.update(names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("recsys_nb"))
    return found


def test_imports_point_one_way():
    """widgets -> recommender / plots / vectors; plots -> trajectories -> vectors -> topn;
    nothing below the presentation layer imports a widget."""
    # the math layer: vectors uses only the leaf module topn (the one top-N kernel); kinds (the
    # event table) and topn import nothing of ours
    assert _recsys_imports(PACKAGE / "vectors.py") == {"recsys_nb.topn"}
    assert _recsys_imports(PACKAGE / "kinds.py") == _recsys_imports(PACKAGE / "topn.py") == set()
    assert _recsys_imports(PACKAGE / "trajectories.py") == {
        "recsys_nb.kinds", "recsys_nb.vectors"}
    assert _recsys_imports(PACKAGE / "item_space.py") == {"recsys_nb.vectors"}
    assert _recsys_imports(PACKAGE / "plots.py") == {"recsys_nb.trajectories"}
    for path in PACKAGE.glob("*.py"):
        assert not any(m.startswith("recsys_nb.widgets") for m in _recsys_imports(path)), path
    assert not (PACKAGE / "app.py").exists()  # the playground lives in recsys_nb.widgets


def test_importing_widgets_stays_light():
    """``from recsys_nb.widgets import item_label`` loads neither ipywidgets nor matplotlib nor
    the service (its types are imported for type checkers only)."""
    code = ("import sys; import recsys_nb.widgets; print(sorted(m for m in ('ipywidgets', "
            "'matplotlib', 'chromadb', 'recsys_nb.recommender', 'recsys_nb.store') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_every_widget_is_one_class_and_the_factories_are_gone():
    import recsys_nb.widgets as w

    for name in ("ItemExplorer", "RecommendationBrowser", "NotInterestedPanel", "InterestReplay",
                 "MomentumScrubber", "Playground"):
        assert isinstance(getattr(w, name), type), name
        assert name in w.__all__ and name in w.__doc__
    for gone in ("item_explorer", "recommendation_browser", "not_interested_panel",
                 "interest_replay_widget", "momentum_scrubber"):
        assert not hasattr(w, gone), gone
    assert callable(w.InterestReplay.for_history) and callable(w.MomentumScrubber.for_history)
