"""Helpers of the real-browser tier: a JupyterLab server, and driving its pages with Playwright.

The server side (``start_jupyterlab``) knows nothing of Playwright; the page side drives the
JupyterLab UI the way a person does (menus, clicks, keys) and reads what the page shows. Every
wait polls fast with a generous deadline: the CI machine has 2 cores shared with other work.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys_nb.serve import free_port, stop_process

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"
# What a failure looks like in an output: a Python traceback, an "SomeError: ..." line (how the
# widgets show exceptions caught in their callbacks), or a widget the front end could not render.
ERROR_PATTERN = re.compile(
    r"Traceback|^\s*\w*(Error|Exception)\b:|ProgrammingError|Error displaying widget",
    re.MULTILINE,
)

# User settings written before the server starts: no news / update pop-up (it covers the page and
# fetches from the internet), no autosave (a save would write outputs into the committed
# notebooks), and every cell attached to the DOM (JupyterLab's windowing detaches cells outside
# the viewport, which would hide prompts and outputs from the checks).
USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def find_chromium() -> str | None:
    """Debian's chromium (/usr/bin/chromium), else a `chromium` on PATH, else None."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def write_user_settings(settings_dir: Path) -> None:
    """Write ``USER_SETTINGS`` as JupyterLab user-settings files under ``settings_dir``."""
    for plugin, values in USER_SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        path = settings_dir / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=1), encoding="utf-8")


@dataclass
class JupyterLab:
    """A running ``jupyter lab`` server started by :func:`start_jupyterlab`."""

    proc: subprocess.Popen[bytes]
    port: int
    token: str
    log_path: Path
    work_dir: Path
    _log: Any = field(repr=False, default=None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """URL opening ``name`` in a workspace of its own (no tabs restored from other tests)."""
        workspace = re.sub(r"[^A-Za-z0-9]+", "-", Path(name).stem)
        return f"{self.base_url}/lab/workspaces/{workspace}/tree/{name}?token={self.token}"

    def api(self, method: str, path: str, timeout: float = 30) -> Any:
        """Call the REST API (``path`` like "/api/sessions"); returns the parsed JSON or None."""
        req = urllib.request.Request(f"{self.base_url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def sessions(self) -> list[dict[str, Any]]:
        """The open sessions (one per notebook with a kernel)."""
        return list(self.api("GET", "/api/sessions"))

    def delete_sessions(self, timeout: float = 60) -> int:
        """Shut every session's kernel down and wait until its process is gone.

        The kernels of the notebooks hold their embedded Chroma store's lock until they exit;
        the nbval tier runs the same notebooks later in the same pytest run.
        Returns how many sessions were deleted.
        """
        sessions = self.sessions()
        for session in sessions:
            self.api("DELETE", f"/api/sessions/{session['id']}", timeout=timeout)
        deadline = time.monotonic() + timeout
        while self.api("GET", "/api/kernels") and time.monotonic() < deadline:
            time.sleep(0.2)
        return len(sessions)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log (for failure messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30) -> None:
        """Shut the kernels down, then stop the server by its PID (SIGTERM, then SIGKILL)."""
        try:
            self.delete_sessions(timeout=timeout)
        except (OSError, urllib.error.URLError):
            pass  # the server is already gone; still reap the process below
        stop_process(self.proc, timeout)
        if self._log is not None:
            self._log.close()


def server_env(work_dir: Path, venv_bin: Path) -> dict[str, str]:
    """The server's (and so its kernels') environment.

    Jupyter's config, data, runtime, settings and workspace folders and TMPDIR go to
    ``work_dir``, so no user configuration leaks in and nothing is left behind; the venv's bin
    comes first on PATH because the python3 kernelspec starts plain ``python``. The notebooks
    use the repository's data folder and their embedded stores, as ``make run`` and nbval do.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("RECSYS_NB_DATA", "CHROMA_HOST", "CHROMA_PORT")}
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime", "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython", "TMPDIR": "tmp"}
    for var, name in dirs.items():
        (work_dir / name).mkdir(parents=True, exist_ok=True)
        env[var] = str(work_dir / name)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["ANONYMIZED_TELEMETRY"] = "False"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_until_running(lab: JupyterLab, deadline: float) -> bool:
    """True once the log says "is running at" and the REST API answers; False if the process
    exited (e.g. the port was taken between choosing and binding it) or the deadline passed."""
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            return False
        if "is running at" in lab.log_tail(200_000):
            try:
                lab.api("GET", "/api/status", timeout=5)
                return True
            except (OSError, urllib.error.URLError):
                pass
        time.sleep(0.2)
    return False


def start_jupyterlab(root_dir: Path, work_dir: Path, attempts: int = 3,
                     timeout: float = 120) -> JupyterLab:
    """Start ``jupyter lab`` on 127.0.0.1 serving ``root_dir``; retry on another port if it fails.

    Raises RuntimeError with the log's end when no attempt came up.
    """
    write_user_settings(work_dir / "settings")
    env = server_env(work_dir, Path(sys.executable).parent)
    token = secrets.token_hex(24)
    last_log = ""
    for attempt in range(attempts):
        port = free_port()
        log_path = work_dir / f"jupyterlab-{attempt}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - closed by JupyterLab.stop()
        cmd = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            "--ServerApp.allow_root=True",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",  # fail on a taken port: we retry with a new one
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root_dir}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=root_dir, stdin=subprocess.DEVNULL)
        lab = JupyterLab(proc, port, token, log_path, work_dir, log)
        if _wait_until_running(lab, time.monotonic() + timeout):
            return lab
        last_log = lab.log_tail()
        lab.stop(timeout=10)
    raise RuntimeError(f"jupyter lab did not start in {attempts} attempts; log:\n{last_log}")


# ---------------------------------------------------------------------------------------------
# The page side (Playwright's sync API; `page` is a playwright.sync_api.Page)

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# Reads the notebook's state: the kernel status text, each code cell's prompt, and the outputs
# that show a failure (an error output, a traceback on stderr, a widget that failed to render;
# plain stderr such as warnings and progress bars passes).
_STATE_JS = """
([panelSel, pattern]) => {
  const panel = document.querySelector(panelSel);
  const status = [...document.querySelectorAll('.jp-StatusBar-Widget')]
    .map(e => e.textContent.trim()).join(' || ');
  if (!panel) return {status, prompts: [], errors: []};
  const re = new RegExp(pattern, 'm');
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(e => e.textContent.trim());
  const errors = [...panel.querySelectorAll('.jp-OutputArea-output')]
    .map(e => e.innerText)
    .filter(t => re.test(t))
    .map(t => t.slice(0, 3000));
  return {status, prompts, errors: [...new Set(errors)]};
}
"""


@dataclass
class NotebookState:
    """What the page shows of a notebook: status bar text, code prompts, failure outputs."""

    status: str
    prompts: list[str]
    errors: list[str]

    @property
    def idle(self) -> bool:
        return KERNEL_IDLE in self.status

    @property
    def pending(self) -> int:
        """Code cells queued or running ("[*]")."""
        return sum(p.startswith("[*]") for p in self.prompts)

    @property
    def unexecuted(self) -> int:
        """Code cells without an execution count ("[ ]")."""
        return sum(not re.match(r"\[\d+\]", p) for p in self.prompts)


def notebook_state(page: Any) -> NotebookState:
    """Read :class:`NotebookState` from the page."""
    raw = page.evaluate(_STATE_JS, [PANEL, ERROR_PATTERN.pattern])
    return NotebookState(raw["status"], raw["prompts"], raw["errors"])


def kernel_idle(page: Any) -> bool:
    """Whether the status bar shows the kernel idle (cheap: reads the status bar only)."""
    text = page.evaluate("() => [...document.querySelectorAll('.jp-StatusBar-Widget')]"
                         ".map(e => e.textContent).join(' ')")
    return KERNEL_IDLE in text


def wait_kernel_idle(page: Any, timeout: float) -> None:
    """Wait for the status bar's "Python 3 (ipykernel) | Idle" (the toolbar's circle reports idle
    before a kernel even exists)."""
    page.locator(".jp-StatusBar-Widget", has_text=KERNEL_IDLE).first.wait_for(
        state="visible", timeout=timeout * 1000)


def open_notebook(page: Any, lab: JupyterLab, name: str, timeout: float = 120) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle and its cells are shown."""
    page.goto(lab.notebook_url(name), timeout=timeout * 1000)
    page.locator(f"{PANEL} .jp-Notebook .jp-Cell").first.wait_for(timeout=timeout * 1000)
    wait_kernel_idle(page, timeout)


def run_all(page: Any) -> None:
    """Run > Run All Cells, through the menu bar as a person does."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


def wait_all_executed(page: Any, timeout: float, poll: float = 0.5) -> NotebookState:
    """Wait until the kernel is idle and every code cell has an execution count.

    Returns early (for the caller to assert on) when a cell failed: JupyterLab then aborts the
    queued cells, which keep "[ ]". Raises TimeoutError with the last state otherwise.
    """
    deadline = time.monotonic() + timeout
    started = False
    state = notebook_state(page)
    while time.monotonic() < deadline:
        state = notebook_state(page)
        started = started or state.pending > 0 or not state.idle
        if state.idle and state.pending == 0:
            if state.unexecuted == 0 or (started and state.errors):
                return state
        time.sleep(poll)
    raise TimeoutError(f"notebook still running after {timeout:.0f} s: status {state.status!r}, "
                       f"{state.pending} cells pending, {state.unexecuted} not executed")


# Finds the widget areas (the outermost output of a cell that shows a widget) and their controls,
# in page order. Each control gets a data-bt attribute so that Playwright can address it; its
# label is its description (ipywidgets pads some with a zero-width space) or a button's text.
_DISCOVER_JS = """
(panelSel) => {
  const panel = document.querySelector(panelSel);
  const areas = [...panel.querySelectorAll('.jp-OutputArea-output')]
    .filter(a => a.querySelector('.jupyter-widgets')
                 && !a.parentElement.closest('.jp-OutputArea-output'));
  const text = e => (e ? e.textContent.replace(/[\\s\\u200b]+/g, ' ').trim() : '');
  const labelOf = e => text(e.querySelector(':scope > .widget-label'));
  const kinds = [  // [selector, kind, label]; the first match wins
    ['.widget-slider', 'slider', labelOf],
    ['.widget-dropdown, .widget-select', 'select', labelOf],
    ['.widget-toggle-buttons', 'toggle', labelOf],
    ['.widget-radio', 'radio', labelOf],
    ['.widget-checkbox', 'checkbox', text],
    ['.widget-play', 'play', () => 'play'],
    ['.widget-textarea', 'textarea', labelOf],
    ['.widget-text', 'text', labelOf],
    ['button.widget-toggle-button', 'togglebutton', text],
    ['button.widget-button', 'button', text],
  ];
  const inside = '.widget-toggle-buttons, .widget-play';  // their buttons are parts, not controls
  let n = 0;
  return areas.map((area, i) => {
    area.setAttribute('data-bt-area', String(i));
    const controls = [];
    for (const el of area.querySelectorAll(kinds.map(k => k[0]).join(', '))) {
      if (el.matches('button') && el.parentElement.closest(inside)) continue;
      const [, kind, label] = kinds.find(k => el.matches(k[0]));
      let k = kind;
      if (kind === 'text') {
        const input = el.querySelector('input');
        k = input && input.type === 'number' ? 'number' : input && input.list ? 'combobox' : kind;
      }
      const id = `c${n++}`;
      el.setAttribute('data-bt', id);
      controls.push({id, kind: k, label: label(el), visible: el.checkVisibility()});
    }
    const cells = [...panel.querySelectorAll('.jp-Cell')];
    return {area: i, cell: cells.indexOf(area.closest('.jp-Cell')), controls};
  });
}
"""

# The part of a widget area that only the kernel changes: Output widgets and HTML widgets
# (a slider's handle and readout move in the browser before the kernel has answered).
_SIGNATURE_JS = """
(area) => [...area.querySelectorAll('.widget-output, .widget-html-content')]
  .map(e => e.innerHTML).join('\\u241e')
"""

# Arms a watcher on a widget area: remembers its kernel-rendered content, then records the time
# of the next user action (pointer, key, input, change) and of the first change of that content.
_ARM_JS = """
(area) => {
  const signature = """ + _SIGNATURE_JS.strip() + """;
  if (window.__bt && window.__bt.stop) window.__bt.stop();
  const state = {base: signature(area), actionAt: null, changedAt: null};
  const onAction = () => { if (state.actionAt === null) state.actionAt = performance.now(); };
  const kinds = ['pointerdown', 'keydown', 'input', 'change'];
  for (const k of kinds) document.addEventListener(k, onAction, true);
  const observer = new MutationObserver(() => {
    if (state.changedAt === null && signature(area) !== state.base) {
      state.changedAt = performance.now();
    }
  });
  observer.observe(area, {subtree: true, childList: true, characterData: true, attributes: true});
  state.stop = () => {
    observer.disconnect();
    for (const k of kinds) document.removeEventListener(k, onAction, true);
  };
  window.__bt = state;
}
"""


@dataclass(frozen=True)
class Control:
    """One interactive widget control found on the page."""

    id: str  # the data-bt attribute value
    kind: str  # slider select toggle radio checkbox play textarea text number combobox
    #            togglebutton button
    label: str  # its description (a button's text)
    visible: bool = True

    @property
    def selector(self) -> str:
        return f'[data-bt="{self.id}"]'


@dataclass(frozen=True)
class WidgetArea:
    """A cell output showing a widget, and the controls in it."""

    index: int
    cell: int
    controls: tuple[Control, ...]

    @property
    def selector(self) -> str:
        return f'{PANEL} [data-bt-area="{self.index}"]'


def discover_widgets(page: Any) -> list[WidgetArea]:
    """Every widget area of the open notebook with its controls, in page order (re-run it after
    the kernel rebuilt a widget's children: the old elements are gone)."""
    raw = page.evaluate(_DISCOVER_JS, PANEL)
    return [WidgetArea(a["area"], a["cell"], tuple(Control(**c) for c in a["controls"]))
            for a in raw]


def area_text(page: Any, area: WidgetArea) -> str:
    """The visible text of a widget area."""
    return str(page.locator(area.selector).inner_text())


def arm_change_watch(page: Any, area: WidgetArea) -> None:
    """Start watching ``area`` for the next user action and the kernel's answer to it."""
    page.locator(area.selector).evaluate(_ARM_JS)


def wait_for_change(page: Any, timeout: float) -> float:
    """Wait until the watched area's kernel-rendered content changed; return the milliseconds
    from the user's action to that change. Raises playwright's TimeoutError after ``timeout``."""
    page.wait_for_function("() => window.__bt.changedAt !== null", timeout=timeout * 1000,
                           polling="raf")
    times = page.evaluate("() => [window.__bt.actionAt, window.__bt.changedAt]")
    page.evaluate("() => window.__bt.stop()")
    action_at, changed_at = times
    return float(changed_at - (action_at if action_at is not None else changed_at))


def wait_settled(page: Any, area: WidgetArea, timeout: float, quiet: float = 0.4) -> None:
    """Wait until the kernel is idle and ``area``'s content has not changed for ``quiet`` s, so
    the next interaction starts from the kernel's final answer to this one."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    locator = page.locator(area.selector)
    while time.monotonic() < deadline:
        sig = locator.evaluate(_SIGNATURE_JS)
        now = time.monotonic()
        if sig != last:
            last, since = sig, now
        elif now - since >= quiet and kernel_idle(page):
            return
        time.sleep(0.05)
    raise TimeoutError(f"widget area {area.index} kept changing for {timeout:.0f} s")


def error_lines(text: str) -> list[str]:
    """The lines of ``text`` that look like a failure (see ``ERROR_PATTERN``)."""
    return [line for line in text.splitlines() if ERROR_PATTERN.search(line)]


# ---------------------------------------------------------------------------------------------
# One interaction per kind of control, done as a person does it. Each calls ``arm()`` right
# before the event that should make the kernel answer (typing the first characters of a text does
# not), so the measured latency is that of the kernel's answer. Each returns what it did.


def move_slider(page: Any, control: Control, arm: Any, key: str | None = None,
                presses: int = 1) -> str:
    """Focus the slider's handle and press ``key`` (default ArrowRight) ``presses`` times; the
    other arrow when the handle already sits at that end."""
    handle = page.locator(f"{control.selector} .noUi-handle").first
    now, low, top = (handle.get_attribute(a)
                     for a in ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
    key = key or "ArrowRight"
    if None not in (now, low, top):
        if key == "ArrowRight" and float(now) >= float(top):
            key = "ArrowLeft"
        elif key == "ArrowLeft" and float(now) <= float(low):
            key = "ArrowRight"
    handle.focus()
    arm()
    for _ in range(presses):
        handle.press(key)
    return f"focus the handle, {key} x{presses}"


def select_next_option(page: Any, control: Control, arm: Any) -> str:
    """Pick the option after the selected one (wrapping around) in the dropdown's <select>."""
    select = page.locator(f"{control.selector} select")
    options = select.locator("option").all_inner_texts()
    current = int(select.evaluate("s => s.selectedIndex"))
    target = options[(current + 1) % len(options)]
    arm()
    select.select_option(label=target)
    return f"select {target!r}"


def click_checkbox(page: Any, control: Control, arm: Any) -> str:
    """Click the checkbox."""
    box = page.locator(f"{control.selector} input[type=checkbox]")
    was = box.is_checked()
    arm()
    box.click()
    return f"click ({'checked -> unchecked' if was else 'unchecked -> checked'})"


def type_text(page: Any, control: Control, arm: Any, text: str) -> str:
    """Click into the text box (or area), type ``text``, then Enter (Tab out of a text area)."""
    box = page.locator(f"{control.selector} input, {control.selector} textarea").first
    box.click()
    box.fill("")
    box.press_sequentially(text, delay=10)
    arm()
    key = "Tab" if control.kind == "textarea" else "Enter"
    box.press(key)
    return f"type {text!r}, {key}"


def pick_combobox(page: Any, control: Control, arm: Any, hint: str) -> str:
    """Type the first option of the combobox's list that contains ``hint``, then Enter (the
    value is sent when the typed text is a whole option, i.e. on the last key)."""
    box = page.locator(f"{control.selector} input")
    option = box.evaluate(
        "(el, hint) => [...el.list.options].map(o => o.value).find(v => v.includes(hint))", hint)
    if not option:
        raise AssertionError(f"no option of the {control.label!r} combobox contains {hint!r}")
    box.click()
    box.fill("")
    box.press_sequentially(option[:-1], delay=10)
    arm()
    box.press_sequentially(option[-1])
    box.press("Enter")
    return f"type {option!r}, Enter"


def pick_other_toggle(page: Any, control: Control, arm: Any) -> str:
    """Click the first button of a ToggleButtons / RadioButtons group that is not selected."""
    if control.kind == "radio":
        target = page.locator(f"{control.selector} input[type=radio]:not(:checked)").first
        name = target.evaluate("el => el.parentElement.textContent.trim()")
    else:
        target = page.locator(f"{control.selector} button:not(.mod-active)").first
        name = target.inner_text().strip()
    arm()
    target.click()
    return f"click {name!r}"


def type_number(page: Any, control: Control, arm: Any) -> str:
    """Type the number box's value plus one, then Enter."""
    box = page.locator(f"{control.selector} input")
    value = float(box.input_value() or 0) + 1
    text = f"{value:g}"
    box.fill(text)
    arm()
    box.press("Enter")
    return f"type {text}, Enter"


def click_button(page: Any, control: Control, arm: Any) -> str:
    """Click the button."""
    button = page.locator(control.selector)
    button.scroll_into_view_if_needed()
    arm()
    button.click()
    return "click"


def play_then_pause(page: Any, control: Control, arm: Any, wait_change: Any) -> str:
    """Click the Play widget's play button, wait for the kernel's first answer, click pause."""
    button = page.locator(f"{control.selector} button").first
    arm()
    button.click()
    wait_change()
    if button.locator("i.fa-pause").count():  # still playing (it stops by itself at the end)
        button.click()
    return "click play, then pause"
