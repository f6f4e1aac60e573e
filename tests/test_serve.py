"""recsys_nb.serve (``make app`` and the tests' Chroma server): ports, retries, stopping by PID,
the Voila command line and environment. Starting real servers is left to the server tests (the
``chroma_server`` fixture runs this module's ``chroma_server``)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_nb import serve


def test_free_port_can_be_bound_on_localhost():
    port = serve.free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_stop_process_terminates_then_kills():
    polite = subprocess.Popen(["sleep", "60"])
    serve.stop_process(polite)
    assert polite.returncode == -signal.SIGTERM
    # a process that ignores SIGTERM is killed after the timeout
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; echo ready; exec sleep 60"],
                                stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout.readline().strip() == "ready"  # the trap is set
    serve.stop_process(stubborn, timeout=0.5)
    assert stubborn.returncode == -signal.SIGKILL
    stubborn.stdout.close()
    serve.stop_process(stubborn)  # already ended: nothing to do, no error


@pytest.fixture
def fake_start(monkeypatch):
    """``_start_chroma`` that fails on the ports listed in ``taken`` (as when another process
    took the port between the pick and the bind) and otherwise starts a stand-in process."""
    calls: list[int] = []
    taken: set[int] = set()
    started: list[subprocess.Popen] = []

    def start(path: Path, port: int, log_path: Path, max_payload_bytes=None) -> subprocess.Popen:
        calls.append(port)
        if port in taken:
            raise RuntimeError(f"http://127.0.0.1:{port}/api/v2/heartbeat did not come up")
        started.append(subprocess.Popen(["sleep", "60"]))
        return started[-1]

    monkeypatch.setattr(serve, "_start_chroma", start)
    yield calls, taken, started
    for proc in started:
        serve.stop_process(proc)


def test_chroma_server_retries_on_a_port_taken_after_the_pick(fake_start, monkeypatch, tmp_path):
    calls, taken, started = fake_start
    picks = iter([41001, 41002])
    monkeypatch.setattr(serve, "free_port", lambda: next(picks))
    taken.add(41001)
    with serve.chroma_server(tmp_path / "srv") as address:
        assert address == ("127.0.0.1", 41002)
        assert started[0].poll() is None
    assert calls == [41001, 41002]
    assert started[0].returncode == -signal.SIGTERM  # stopped by PID on exit


def test_chroma_server_gives_up_after_its_attempts(fake_start, monkeypatch, tmp_path):
    calls, taken, _ = fake_start
    picks = iter([41011, 41012, 41013])
    monkeypatch.setattr(serve, "free_port", lambda: next(picks))
    taken.update({41011, 41012, 41013})
    with pytest.raises(RuntimeError, match="41013"), serve.chroma_server(tmp_path / "srv"):
        pass
    assert calls == [41011, 41012, 41013]


def test_chroma_server_does_not_retry_a_port_the_caller_chose(fake_start, tmp_path):
    calls, taken, _ = fake_start
    taken.add(41021)
    with pytest.raises(RuntimeError, match="41021"), serve.chroma_server(tmp_path / "srv",
                                                                         port=41021):
        pass
    assert calls == [41021]


def test_voila_command_serves_the_playground_on_localhost_offline():
    cmd = serve.voila_command(8899)
    assert Path(cmd[0]).name == "voila" and Path(cmd[0]).exists()
    assert cmd[1] == str(serve.NOTEBOOK) and serve.NOTEBOOK.exists()
    assert {"--no-browser", "--port=8899", "--Voila.ip=127.0.0.1", "--template=offline",
            "--strip_sources=True"} <= set(cmd)


def test_voila_env_points_kernels_at_the_server_and_the_offline_template(monkeypatch, tmp_path):
    monkeypatch.setenv("JUPYTER_PATH", "/elsewhere")
    env = serve.voila_env("127.0.0.1", 9123)
    assert (env["CHROMA_HOST"], env["CHROMA_PORT"]) == ("127.0.0.1", "9123")
    assert env["JUPYTER_PATH"].split(":") == [str(serve.TEMPLATES), "/elsewhere"]
    assert env["RECSYS_NB_DATA"] == str(tmp_path / "data")  # the conftest's data folder
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    template = serve.TEMPLATES / "voila" / "templates" / "offline"
    assert (template / "index.html.j2").exists()
    # the template drops the only outside request of Voila's own (Font Awesome from a CDN)
    assert 'data-offline-dropped="https://cdn.jsdelivr.net/' in (
        template / "index.html.j2").read_text()
