"""Shared fixtures: a real `chroma run` server, temporary data folders."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

# Property tests draw the same examples on every CI run (a red build must be reproducible);
# locally they explore new examples each run. HYPOTHESIS_PROFILE overrides the choice.
settings.register_profile("ci", derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev"))


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A `chroma run` server on 127.0.0.1 (a free port, retried if another process takes it),
    stopped by PID at the end: the same code as `make app` (recsys_nb.serve)."""
    from recsys_nb.serve import chroma_server as running_server

    with running_server(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address


@pytest.fixture
def server_env(chroma_server, monkeypatch):
    """Point recsys_nb at the test server through CHROMA_HOST / CHROMA_PORT."""
    host, port = chroma_server
    monkeypatch.setenv("CHROMA_HOST", host)
    monkeypatch.setenv("CHROMA_PORT", str(port))
    return chroma_server


@pytest.fixture(autouse=True)
def _embedded_by_default(monkeypatch, tmp_path):
    """Tests use the embedded store in a temp folder unless they ask for the server."""
    for name in ("CHROMA_HOST", "CHROMA_PORT", "CHROMA_API_KEY", "CHROMA_TENANT",
                 "CHROMA_DATABASE", "RECSYS_NB_MAX_WRITE", "RECSYS_NB_MAX_RESULTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECSYS_NB_DATA", str(tmp_path / "data"))


@pytest.fixture(scope="session")
def minilm():
    """The default MiniLM model, loaded once per test session (shared with get_minilm())."""
    from recsys_nb.embeddings import get_minilm

    return get_minilm()



_SESSION_START = time.time()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The browser tier's latency samples of this run (visible without -s and with -q), merged
    from the files its pytest-xdist workers wrote (tests/browser/conftest.py)."""
    build = Path(__file__).resolve().parents[1] / "build"
    samples: dict[str, list[float]] = {}
    for path in sorted(build.glob("browser_timings-*.json")):
        if path.stat().st_mtime >= _SESSION_START:
            for name, entry in json.loads(path.read_text(encoding="utf-8")).items():
                samples.setdefault(name, []).extend(entry["samples_ms"])
    if not samples:
        return
    terminalreporter.section("browser: user action -> widget output updated (ms)")
    for name, values in samples.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        terminalreporter.write_line(f"{name}: p50 {statistics.median(values):.0f}  [{shown}]")
    terminalreporter.write_line("(also in build/browser_timings-*.json)")
