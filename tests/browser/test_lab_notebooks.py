"""Every notebook in JupyterLab in a real Chromium: Run All without errors, then every widget
control used once as a person uses it, each answered by the kernel within RESPONSE_S.

Only a browser shows some failures: in JupyterLab 4.6 / ipykernel 7 widget callbacks run on
another thread than the kernel's main thread, which nbclient-driven tests never do (notebook
04's "not interested" buttons failed there with an sqlite3.ProgrammingError). Screenshots go to
build/screenshots/, latencies to build/browser_timings.json and the terminal summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .jupyter import (
    ERROR_PATTERN,
    Control,
    JupyterLab,
    WidgetArea,
    area_text,
    arm_change_watch,
    click_button,
    click_checkbox,
    discover_widgets,
    error_lines,
    move_slider,
    notebook_state,
    open_notebook,
    pick_combobox,
    pick_other_toggle,
    play_then_pause,
    run_all,
    select_next_option,
    type_number,
    type_text,
    wait_all_executed,
    wait_for_change,
    wait_settled,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUN_ALL_S = {"06_evaluation_and_tuning": 900.0}  # the evaluation report; others get DEFAULT
DEFAULT_RUN_ALL_S = 300.0
RESPONSE_S = 2.0  # a widget's output must change this soon after the user's action
SETTLE_S = 60.0  # ... and stop changing (kernel idle) within this
NOT_INTERESTED = "not interested"
LIST_UPDATED = "04_not_interested: 'not interested' click -> list updated"


@dataclass(frozen=True)
class Step:
    """One interaction with the first visible control of this kind and label in the page (after
    the control labelled ``after``, if given)."""

    kind: str
    label: str
    # slider: the key; text: what is typed (or a function of the page giving it); combobox: part
    # of an option
    arg: str | Callable[[Any], str] | None = None
    repeat: int = 1
    after: str | None = None
    expect_change: bool = True  # False: a control with no callback (read by another control)


def cloned_user(page: Any) -> str:
    """Notebook 07: the id the playground gives a clone of the MovieLens user selected in its
    "clone:" menu ("MovieLens user 12" -> "ml-12")."""
    _, control = locate(page, Step("select", "clone:"))
    chosen = page.locator(f"{control.selector} select").evaluate(
        "s => s.options[s.selectedIndex].text")
    found = re.search(r"(\d+)\s*$", str(chosen))
    assert found, f"the clone menu shows {chosen!r}, not 'MovieLens user <id>'"
    return f"ml-{found.group(1)}"


# Every control of every notebook's widgets (recsys_nb/widgets/), in the order they are used.
# The test fails when the page shows a control that is not listed here (or misses one), so a new
# widget cannot go untested. Notebooks not listed (a new one) get one step per control found.
WIDGETS: dict[str, list[Step]] = {
    "00_quickstart": [],
    "01_items_and_embeddings": [  # ItemExplorer
        Step("combobox", "Movie:", "Matrix"),
        Step("text", "Search:", "space opera with aliens"),
        Step("slider", "Top N:"),
    ],
    "02_interest_vectors": [  # InterestReplay
        Step("slider", "alpha (view)"),
        Step("slider", "alpha (favorite)"),
        Step("checkbox", "relative to the genre mean"),
        Step("play", "play"),  # before "event": play restarts from event 1 only at the last one
        Step("slider", "event"),
    ],
    "03_recommendations": [  # RecommendationBrowser
        Step("select", "User:"),
        Step("checkbox", "exclude seen items"),
    ],
    "04_not_interested": [  # NotInterestedPanel: the clicks that failed on the widget thread
        Step("button", NOT_INTERESTED, repeat=3),
        Step("slider", "factor:", "ArrowRight"),  # 0.1 -> 0.15: set live on the service
        Step("button", NOT_INTERESTED),
    ],
    "05_temporal_momentum": [  # MomentumScrubber
        Step("select", "method"),
        Step("slider", "window"),
        Step("slider", "weight"),
        Step("play", "play"),
        Step("slider", "event"),
    ],
    "06_evaluation_and_tuning": [],
    "07_playground": [  # Playground (recsys_nb/widgets/playground.py)
        Step("select", "clone:", expect_change=False),  # read by the "clone" button
        Step("button", "clone"),
        Step("button", "new user"),
        Step("text", "user:", cloned_user),  # back to the clone
        Step("button", "watch"),
        Step("button", "favorite"),
        Step("button", NOT_INTERESTED, repeat=3),
        Step("toggle", "interest:"),
        Step("button", "undo"),
        Step("slider", "alpha_view"),
        Step("slider", "alpha_favorite"),
        Step("slider", "not_interested_factor"),
        Step("slider", "popularity_weight"),
        Step("text", "search:", "star wars"),
        Step("button", "watch", after="search:"),  # a search result's buttons
        Step("button", "favorite", after="search:"),
        Step("button", "reset"),
    ],
    "08_high_dimensional_intuition": [  # CancellationExplorer: the rates at another dimension
        Step("slider", "dimension"),  # and factor, computed on the widget thread
        Step("slider", "factor"),
    ],
    "09_segments_and_trends": [  # SegmentMonthPicker: another segment's and month's movies
        Step("select", "segment"),  # and forecasts, on the widget thread
        Step("select", "month"),
    ],
    "10_multiple_interests": [  # InterestMixer: set live on the service (set_params), the list
        Step("slider", "diversity"),  # asked again from the widget thread
        Step("select", "merge"),
        Step("slider", "diversity", "ArrowLeft"),
    ],
}


def is_outside(url: str) -> bool:
    """Whether the browser fetching ``url`` leaves this machine."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in (
        "127.0.0.1", "localhost")


def slug(text: str) -> str:
    """File-name form of a widget label."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "widget"


def steps_for(stem: str, areas: list[WidgetArea]) -> list[Step]:
    """The listed steps of a known notebook; for a new one, one step per control found."""
    if stem in WIDGETS:
        return WIDGETS[stem]
    seen: dict[tuple[str, str], Step] = {}
    for control in (c for area in areas for c in area.controls):
        arg = {"text": "space adventure", "combobox": ""}.get(control.kind)
        seen.setdefault((control.kind, control.label), Step(control.kind, control.label, arg))
    return list(seen.values())


def locate(page: Any, step: Step) -> tuple[WidgetArea, Control]:
    """The first visible control matching ``step`` (found anew: the kernel may have rebuilt
    it)."""
    for area in discover_widgets(page):
        passed = step.after is None
        for control in area.controls:
            passed = passed or control.label == step.after
            if passed and control.visible and (control.kind, control.label) == (step.kind,
                                                                                step.label):
                return area, control
    where = f" after {step.after!r}" if step.after else ""
    raise AssertionError(f"no visible {step.kind} {step.label!r}{where} on the page")


def interact(page: Any, area: WidgetArea, control: Control, step: Step) -> tuple[str, float]:
    """Do ``step`` on ``control``; return (what was done, ms from the action to the first change
    of the area's kernel-rendered content). Fails if that takes longer than RESPONSE_S."""
    latency: list[float] = []

    def arm() -> None:
        arm_change_watch(page, area)

    def changed() -> None:
        try:
            latency.append(wait_for_change(page, RESPONSE_S))
        except Exception as exc:  # playwright's TimeoutError
            raise AssertionError(
                f"{control.kind} {control.label!r}: the widget's output did not change within "
                f"{RESPONSE_S} s; it shows:\n{area_text(page, area)[-1500:]}") from exc

    arg = step.arg(page) if callable(step.arg) else step.arg
    actions: dict[str, Callable[[], str]] = {
        "slider": lambda: move_slider(page, control, arm, key=arg),
        "select": lambda: select_next_option(page, control, arm),
        "toggle": lambda: pick_other_toggle(page, control, arm),
        "radio": lambda: pick_other_toggle(page, control, arm),
        "checkbox": lambda: click_checkbox(page, control, arm),
        "text": lambda: type_text(page, control, arm, arg or ""),
        "textarea": lambda: type_text(page, control, arm, arg or ""),
        "number": lambda: type_number(page, control, arm),
        "combobox": lambda: pick_combobox(page, control, arm, arg or ""),
        "button": lambda: click_button(page, control, arm),
        "togglebutton": lambda: click_button(page, control, arm),
        "play": lambda: play_then_pause(page, control, arm, changed),
    }
    did = actions[control.kind]()
    if not step.expect_change:
        return did, float("nan")
    if not latency:
        changed()
    return did, latency[0]


# Notebook 04: the list is updated when every row has its label again, the rejected movie is
# gone from the rows and listed in the rejection log; records the time of the first such frame.
# Returns "updated", or "error" as soon as the area shows a failure (no waiting for a list that
# will not come), else false (keep polling).
_LIST_UPDATED_JS = """
([areaSel, title, pattern]) => {
  const area = document.querySelector(areaSel);
  if (new RegExp(pattern, 'm').test(area.innerText)) return 'error';
  const rows = [...area.querySelectorAll('.widget-hbox')]
    .filter(r => r.querySelector('button.widget-button'))
    .map(r => r.innerText.trim());
  const log = [...area.querySelectorAll('.widget-output')].map(e => e.innerText).join('\\n');
  const done = rows.length > 0 && rows.every(t => /^not interested\\s*\\d+\\./.test(t)
                                                && !t.includes(title))
               && log.includes(title);
  if (!done) return false;
  if (window.__bt.doneAt === undefined) window.__bt.doneAt = performance.now();
  return 'updated';
}
"""


def top_listed_title(page: Any, area: WidgetArea) -> str:
    """The movie ("Title (year)") of the first row of the not-interested list."""
    first = page.locator(f"{area.selector} .widget-hbox:has(button.widget-button) b").first
    return str(first.inner_text()).strip()


def wait_list_updated(page: Any, area: WidgetArea, title: str) -> float:
    """Wait until the list shows the kernel's answer to rejecting ``title``; return the ms from
    the click to the first frame showing it. Fails with the error text if the area shows one."""
    outcome = page.wait_for_function(
        _LIST_UPDATED_JS, arg=[area.selector, title, ERROR_PATTERN.pattern], polling="raf",
        timeout=SETTLE_S * 1000).json_value()
    if outcome == "error":
        raise AssertionError(f"'not interested' on {title!r} shows an error: "
                             f"{error_lines(area_text(page, area))}")
    return float(page.evaluate("() => window.__bt.doneAt - window.__bt.actionAt"))


def exercise(page: Any, stem: str, step: Step, index: int, shots: Path,
             timings: dict[str, list[float]]) -> None:
    """Do ``step`` once and check the widget's answer: changed in time, no error shown."""
    area, control = locate(page, step)
    rejected = top_listed_title(page, area) if stem == "04_not_interested" and \
        step.label == NOT_INTERESTED else None
    did, latency = interact(page, area, control, step)
    if rejected is not None:
        list_ms = wait_list_updated(page, area, rejected)
        timings.setdefault(LIST_UPDATED, []).append(round(list_ms, 1))
    wait_settled(page, area, SETTLE_S)
    suffix = f"-{index + 1}" if step.repeat > 1 else ""
    after = f"-after-{slug(step.after)}" if step.after else ""
    page.locator(area.selector).screenshot(
        path=shots / f"{stem}-{step.kind}-{slug(step.label)}{after}{suffix}.png")
    if step.expect_change:
        name = f"{stem}: {step.kind} {step.label!r}" + (f" after {step.after!r}"
                                                        if step.after else "")
        timings.setdefault(name, []).append(round(latency, 1))
    shown = area_text(page, area)
    errors = error_lines(shown)
    assert not errors, f"{step.kind} {step.label!r} ({did}) shows an error: {errors}"
    if rejected is not None:
        rows = page.locator(f"{area.selector} .widget-hbox:has(button.widget-button)")
        assert rejected not in "\n".join(rows.all_inner_texts()), (
            f"{rejected!r} is still listed after its 'not interested' click")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_every_widget_responds(
    name: str, jupyterlab: JupyterLab, page: Any, screenshots: Path,
    timings: dict[str, list[float]],
) -> None:
    """Open the notebook, Run All, no error output; then use every widget control once."""
    stem = Path(name).stem
    jupyterlab.delete_sessions()  # a kernel left over would hold the notebook's store lock
    outside: list[str] = []  # the notebooks work offline: the page must not fetch from outside
    page.on("request", lambda r: outside.append(r.url) if is_outside(r.url) else None)
    try:
        open_notebook(page, jupyterlab, name)
        run_all(page)
        state = wait_all_executed(page, RUN_ALL_S.get(stem, DEFAULT_RUN_ALL_S))
        page.screenshot(path=screenshots / f"{stem}.png", full_page=True)
        assert not state.errors, f"{name}: error output after Run All:\n" + "\n".join(state.errors)
        assert state.unexecuted == 0, f"{name}: {state.unexecuted} cells were not executed"

        areas = discover_widgets(page)
        steps = steps_for(stem, areas)
        found = {(c.kind, c.label) for area in areas for c in area.controls}
        assert found == {(s.kind, s.label) for s in steps}, (
            f"{name}: the page shows controls {sorted(found)}; update WIDGETS in this file")
        for step in steps:
            for index in range(step.repeat):
                exercise(page, stem, step, index, screenshots, timings)
        if stem == "04_not_interested":  # the slider set the service's factor live
            assert "service factor 0.15" in area_text(page, locate(page, steps[-1])[0])
        if stem == "10_multiple_interests":  # 0.5 -> 0.55 -> back to 0.5, merge changed
            shown = area_text(page, locate(page, steps[-1])[0])
            assert "merge=score, diversity=0.5" in shown, shown[-800:]

        final = notebook_state(page)
        assert not final.errors, f"{name}: error output after the widgets:\n" + "\n".join(
            final.errors)
        assert not outside, f"{name}: the page requested outside URLs: {sorted(set(outside))}"
    except BaseException:
        page.screenshot(path=screenshots / f"{stem}-FAILED.png", full_page=True)
        raise
    finally:
        jupyterlab.delete_sessions()  # release the store lock for nbval, which runs it later
