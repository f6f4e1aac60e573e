"""The playground served by Voila the way `make app` serves it (a `chroma run` server + Voila on
127.0.0.1), clicked in a real Chromium: the user journey, two visitors at once, offline.

The app's store lives in a temporary data folder whose ``cache`` is the repository's (so the item
vectors are not recomputed); the servers are stopped by PID at the end.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from recsys_nb.data import load_movielens
from recsys_nb.eventlog import EventLog
from recsys_nb.serve import chroma_server, free_port, stop_process, voila_command, voila_env
from recsys_nb.widgets import item_label

from .jupyter import ERROR_PATTERN

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
LOADED = "tour_events"  # the notebook's last output: the kernel has run every cell
ACTION_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def voila_app(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``make app`` in a temp data folder: yields {"url", "data"}; both servers stopped by PID."""
    work = tmp_path_factory.mktemp("voila")
    data = work / "data"
    data.mkdir()
    (REPO / "data" / "cache").mkdir(parents=True, exist_ok=True)
    (data / "cache").symlink_to(REPO / "data" / "cache")  # warm item-vector caches
    with chroma_server(data / "app") as (host, chroma_port):
        port = free_port()
        env = voila_env(host, chroma_port)
        env.update(RECSYS_NB_DATA=str(data), TMPDIR=str(work),
                   JUPYTER_RUNTIME_DIR=str(work / "runtime"))
        log_path = work / "voila.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(voila_command(port), env=env, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=REPO)
            try:
                deadline = time.monotonic() + 120
                while "is running at" not in log_path.read_text(errors="replace"):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"voila did not start:\n{log_path.read_text()[-3000:]}")
                    time.sleep(0.2)
                yield {"url": f"http://127.0.0.1:{port}/", "data": data, "log": log_path}
            finally:
                stop_process(proc)


def _open_app(page: Any, url: str, requests: list[str]) -> None:
    """Load the app page and wait until its kernel has run the whole notebook."""
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url, timeout=180_000)
    page.get_by_text(LOADED).first.wait_for(timeout=240_000)
    page.get_by_role("button", name="new user").wait_for(timeout=60_000)


def _status(page: Any) -> str:
    """The app's status line ("<user>: N events · last action")."""
    return str(page.locator(".widget-html", has_text=" events").first.inner_text())


def _first_card(page: Any) -> str:
    """Text of the first recommendation card (its movie)."""
    return str(page.locator(".widget-html", has_text="1. ").first.inner_text())


def _picture(page: Any) -> str:
    """The src of the interest picture (a PNG data URL that changes when the figure changes)."""
    return str(page.locator(".jp-OutputArea-output img").first.get_attribute("src"))


def _assert_no_error(page: Any) -> None:
    text = page.locator("body").inner_text()
    found = [line for line in text.splitlines() if ERROR_PATTERN.search(line)]
    assert not found, found


def _act(page: Any, do: Any, timings: list[float]) -> tuple[str, str]:
    """Do one user action; wait until the list or the status changed; time it."""
    before = (_first_card(page), _status(page), _picture(page))
    t0 = time.perf_counter()
    do()
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
    while True:
        now = (_first_card(page), _status(page), _picture(page))
        if now[1] != before[1] and now[2] != before[2]:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no update after the action: {before} -> {now}")
        time.sleep(0.02)
    timings.append(1000 * (time.perf_counter() - t0))
    _assert_no_error(page)
    return before[0], now[0]


def test_user_journey_in_voila(voila_app, browser, screenshots, timings):
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    requests: list[str] = []
    try:
        _open_app(page, voila_app["url"], requests)
        _assert_no_error(page)
        samples = timings.setdefault("voila playground: click -> list and picture updated", [])
        shown = _status(page).split(":")[0].strip()  # the user the app opened with
        page.get_by_role("button", name="new user").click()
        page.wait_for_function(
            "shown => [...document.querySelectorAll('.widget-html')].some(e => "
            "/guest-\\w+<\\/b>: 0 events/.test(e.innerHTML) && !e.innerText.startsWith(shown))",
            arg=shown, timeout=ACTION_TIMEOUT_MS)
        user = _status(page).split(":")[0].strip()
        assert user != shown and user.startswith("guest-")
        changes = []
        for name in ["watch", "watch", "watch", "favorite", "not interested"]:
            button = page.locator("button:visible", has_text=name).first
            changes.append(_act(page, button.click, samples))
        # every action changed the first recommendation or at least the list below it
        assert all(before != after for before, after in changes[:1]), changes
        page.screenshot(path=str(screenshots / "voila-07-journey.png"), full_page=True)
        slider = page.locator(".widget-slider", has_text="popularity_weight").locator(
            ".noUi-handle, .slider-container .ui-slider-handle, input[type=range]").first

        def move() -> None:
            slider.focus()
            for _ in range(30):  # 1.5 lower: enough to reorder the list under the prior
                page.keyboard.press("ArrowLeft")

        _act(page, move, samples)
        # each key press is one change: wait for the last one before the next action
        page.wait_for_function(
            "() => [...document.querySelectorAll('.widget-html')].some("
            "e => /popularity_weight = 0.50/.test(e.innerText))", timeout=ACTION_TIMEOUT_MS)
        page.wait_for_timeout(300)
        _act(page, page.get_by_role("button", name="undo").click, samples)
        assert "undid not_interested" in _status(page)
        page.screenshot(path=str(screenshots / "voila-07-after-undo.png"), full_page=True)
        # the event log holds each remaining click exactly once (the undone one is gone)
        with EventLog(voila_app["data"] / "app" / "events.sqlite") as log:
            kinds = log.history(user)["kind"].tolist()
            log_users = log.users()
        assert kinds == ["view", "view", "view", "favorite"], (user, log_users)
        # a double click is two clicks: two events, and the list never shows a seen movie
        page.locator("button:visible", has_text="watch").first.dblclick()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.widget-html')].some("
            "e => /: 6 events/.test(e.innerText))", timeout=ACTION_TIMEOUT_MS)
        page.wait_for_timeout(500)
        with EventLog(voila_app["data"] / "app" / "events.sqlite") as log:
            history = log.history(user)
        assert history["kind"].tolist() == ["view"] * 3 + ["favorite"] + ["view"] * 2
        items = load_movielens().items.set_index("item_id")
        seen = {item_label(items.loc[i, "title"], items.loc[i, "year"])
                for i in history["item_id"]}
        cards = page.locator(".widget-html b").all_inner_texts()  # "3. Title (year)" per card
        listed = {c.split(". ", 1)[1] for c in cards if ". " in c}
        assert len(listed) >= 5 and seen.isdisjoint(listed), (seen, listed)
        _assert_no_error(page)
        assert statistics.median(samples) > 0
    finally:
        context.close()
    outside = {urlparse(u).hostname for u in requests
               if urlparse(u).scheme in ("http", "https", "ws", "wss")} - {"127.0.0.1"}
    assert not outside, f"the page made requests beyond 127.0.0.1: {sorted(outside)}"


def test_two_visitors_at_once(voila_app, browser, screenshots):
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1200}) for _ in range(2)]
    try:
        pages = [c.new_page() for c in contexts]
        for p in pages:  # both load before either is used: two kernels on one store
            p.goto(voila_app["url"], timeout=180_000)
        for i, p in enumerate(pages):
            p.get_by_text(LOADED).first.wait_for(timeout=240_000)
            assert "in use" not in p.locator("body").inner_text()
            _act(p, p.locator("button:visible", has_text="watch").first.click, [])
            p.screenshot(path=str(screenshots / f"voila-07-visitor-{i + 1}.png"), full_page=True)
    finally:
        for c in contexts:
            c.close()
