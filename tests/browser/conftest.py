"""Fixtures of the real-browser tier: one JupyterLab server and one headless Chromium per session.

Without Chromium the tier is skipped with a hint (developers may also deselect it with
``-m "not browser"``); on CI (``CI=true``) a missing browser fails it instead, so a broken
install never passes as a green run.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .jupyter import CHROMIUM_ARGS, JupyterLab, find_chromium, start_jupyterlab

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
SCREENSHOTS = BUILD / "screenshots"
# one file per pytest-xdist worker (make test runs two): the controller's summary merges them
TIMINGS_JSON = BUILD / f"browser_timings-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json"
MISSING = "install chromium: apt-get install -y chromium (Debian) — or run `make test-fast`"


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    """Fail on CI, skip elsewhere."""
    if _on_ci():
        pytest.fail(f"the browser tier cannot run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the Chromium binary (Debian's; Playwright's own browser download is not used)."""
    path = find_chromium()
    if path is None:
        _unavailable(MISSING)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("install playwright: .venv/bin/pip install -e '.[test]' (no `playwright "
                      "install`: the tier drives Debian's chromium)")
    return str(path)


#: The parameter set each notebook runs with in the browser: small, and different from nbval's
#: (the defaults) and from each papermill test's, so no notebook executes twice with the same
#: parameters. Each keeps every widget of the notebook on the page.
BROWSER_PARAMETERS: dict[str, dict[str, Any]] = {
    "00_quickstart": {"TOP_N": 8},
    "01_items_and_embeddings": {"N_ITEMS": 3000, "TOP_N": 4},
    "02_interest_vectors": {"N_STEPS": 15, "ALPHAS": [0.1, 0.5]},
    "03_recommendations": {"N_USERS": 15},
    "04_not_interested": {"N_USERS": 30, "K": [10, 30]},
    "05_temporal_momentum": {"N_USERS": 30, "WINDOWS": [10], "VARIANTS": ["momentum", "recent"]},
    "06_evaluation_and_tuning": {
        "N_USERS": 30, "EMBEDDINGS": ["blend", "minilm"], "ALPHA_VIEW_GRID": [0.3],
        "FACTOR_GRID": [0.0], "POPULARITY_WEIGHT_GRID": [0.0], "COLD_START_EVENTS": [1],
        "BASELINES": ["popularity"], "ROLLING_MONTHS": 200},
    "07_playground": {"CLONE_CHOICES": 10},
    "08_high_dimensional_intuition": {"N_USERS": 30, "N_PAIRS": 2000, "N_ITEMS": 60,
                                      "N_RESAMPLES": 200},
    "09_segments_and_trends": {"ROLLING_START": "2016-01-01", "ROLLING_END": "2016-01-01",
                               "ROLLING_MONTHS": 6, "FIRST_EVENTS": [1],
                               "STRATEGIES": ["first_item", "segment"], "SEGMENT_KS": [4]},
    "10_multiple_interests": {"N_USERS": 20, "KS": [1, 2], "MERGES": ["score"],
                              "ROLLING_START": "2016-01-01", "TOP_N": 8},
}


def prepare_notebooks(source: Path, target: Path, stores: Path) -> Path:
    """Copy every notebook into ``target`` with its BROWSER_PARAMETERS injected after the
    ``parameters`` cell (papermill's prepare-only mode: nothing is executed), each with its own
    store folder under ``stores`` (nbval, maybe running at the same time in another pytest-xdist
    worker, holds the default one)."""
    import papermill

    for path in sorted(source.glob("[0-9][0-9]_*.ipynb")):
        parameters = {**BROWSER_PARAMETERS.get(path.stem, {}),
                      "STORE_DIR": str(stores / path.stem)}
        papermill.execute_notebook(str(path), str(target / path.name), parameters=parameters,
                                   prepare_only=True, kernel_name="python3",
                                   progress_bar=False, log_output=False)
    return target


@pytest.fixture(scope="session")
def jupyterlab(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterLab]:
    """A JupyterLab server on 127.0.0.1 serving copies of notebooks/ with BROWSER_PARAMETERS
    injected (papermill, not executed), stopped by PID at the end."""
    folder = prepare_notebooks(REPO / "notebooks", tmp_path_factory.mktemp("notebooks"),
                               tmp_path_factory.mktemp("stores"))
    lab = start_jupyterlab(folder, tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    """Headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS,
                                      headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page; a tall viewport so widgets and their outputs fit."""
    context = browser.new_context(viewport={"width": 1400, "height": 1500})
    context.set_default_timeout(60_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """build/screenshots/, created."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def timings(request: pytest.FixtureRequest) -> Iterator[dict[str, list[float]]]:
    """Latency samples in ms (name -> samples), written to build/browser_timings.json at the end
    and printed in the terminal summary."""
    samples: dict[str, list[float]] = {}
    yield samples
    BUILD.mkdir(exist_ok=True)
    summary = {name: {"p50_ms": round(statistics.median(v), 1), "samples_ms": v}
               for name, v in samples.items() if v}
    TIMINGS_JSON.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
