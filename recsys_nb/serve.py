"""``make app``: serve the playground (notebook 07) with Voila, for any number of visitors.

Voila runs the notebook in a new kernel for every page load. On an embedded Chroma store the
second visitor would find the store locked (one writer per folder), so this command first starts
a ``chroma run`` server on 127.0.0.1 and points every kernel at it (``CHROMA_HOST`` /
``CHROMA_PORT``); the event log (SQLite, several writers allowed) sits beside it. Both servers
run on 127.0.0.1 only, are stopped by PID when this command ends (Ctrl-C), and the page makes no
request beyond 127.0.0.1 (Voila's template is replaced by an offline one).

    python -m recsys_nb.serve [--port 8866] [--store data/app]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recsys_nb.store import data_dir

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "07_playground.ipynb"
TEMPLATES = Path(__file__).resolve().parent / "share" / "jupyter"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tool(name: str) -> str:
    """The command installed next to this Python (the venv's), else from PATH."""
    local = Path(sys.executable).with_name(name)
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"`{name}` is not installed; run `make env` (pip install -e .)")
    return found


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM (servers shut their kernels down on it), then SIGKILL if it has not ended within
    ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"{url} did not come up; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _start_chroma(
    path: Path, port: int, log_path: Path, max_payload_bytes: int | None = None
) -> subprocess.Popen:
    """Start ``chroma run`` and wait for its heartbeat (RuntimeError with its log if it fails).

    ``max_payload_bytes`` lowers the largest request body the server accepts (through a config
    file: ``chroma run`` has no flag for it), so it refuses large writes with "Payload too
    large" like a deployment with tighter limits."""
    log = open(log_path, "ab")  # noqa: SIM115 - the child writes to it; closed by the caller
    if max_payload_bytes is None:
        args = ["--path", str(path / "chroma"), "--host", "127.0.0.1", "--port", str(port)]
    else:
        config = path / "chroma-config.yaml"
        config.write_text(
            f'port: {port}\nlisten_address: "127.0.0.1"\npersist_path: "{path / "chroma"}"\n'
            f"max_payload_size_bytes: {int(max_payload_bytes)}\n", encoding="utf-8")
        args = [str(config)]
    proc = subprocess.Popen(
        [_tool("chroma"), "run", *args],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    log.close()  # the child has its own descriptor
    _wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, log_path, 60)
    return proc


@contextmanager
def chroma_server(
    path: Path, port: int | None = None, attempts: int = 3,
    max_payload_bytes: int | None = None,
) -> Iterator[tuple[str, int]]:
    """Run ``chroma run --path path`` on 127.0.0.1; yield (host, port); stop it by PID.

    Without a fixed ``port`` a free one is picked; another process can take it between the pick
    and the server's bind, so a failed start is retried on a new port (``attempts`` times).
    ``max_payload_bytes``: see :func:`_start_chroma`.
    """
    path.mkdir(parents=True, exist_ok=True)
    log_path = path / "server.log"
    for attempt in range(1, attempts + 1):
        chosen = port or free_port()
        try:
            proc = _start_chroma(path, chosen, log_path, max_payload_bytes)
            break
        except RuntimeError:
            if port is not None or attempt == attempts:
                raise
    try:
        yield "127.0.0.1", chosen
    finally:
        stop_process(proc)


def voila_command(port: int, notebook: Path = NOTEBOOK) -> list[str]:
    """The Voila command line: 127.0.0.1 only, code hidden, the offline template."""
    return [
        _tool("voila"), str(notebook), "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", "--template=offline", "--strip_sources=True",
        f"--Voila.root_dir={notebook.parent}",
    ]


def voila_env(host: str, port: int) -> dict[str, str]:
    """Environment of the Voila process: its kernels use the Chroma server, find the offline
    template (JUPYTER_PATH) and keep the repository's data folder."""
    env = dict(os.environ)
    env.update(
        CHROMA_HOST=host, CHROMA_PORT=str(port), ANONYMIZED_TELEMETRY="False",
        JUPYTER_PATH=os.pathsep.join(p for p in (str(TEMPLATES), env.get("JUPYTER_PATH")) if p),
        RECSYS_NB_DATA=str(data_dir()),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8866, help="Voila's port (default 8866)")
    parser.add_argument("--store", type=Path, default=None,
                        help="folder of the app's Chroma server data (default data/app)")
    args = parser.parse_args(argv)
    store = args.store or data_dir() / "app"
    with chroma_server(store) as (host, chroma_port):
        proc = subprocess.Popen(voila_command(args.port), env=voila_env(host, chroma_port))
        print(f"\nPlayground: http://127.0.0.1:{args.port}/   (Chroma server on {host}:"
              f"{chroma_port}; Ctrl-C stops both)\n", flush=True)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop_process(proc)


if __name__ == "__main__":
    sys.exit(main())
