"""Which Chroma the package talks to: embedded, a server, or Chroma Cloud.

- nothing set: an embedded ``PersistentClient`` in the store's ``chroma/`` folder (one process);
- ``CHROMA_HOST`` (``CHROMA_PORT``, default 8000): a Chroma server, ``chroma run`` or a
  distributed deployment. Each store folder gets its OWN database on the server (named from the
  folder, see :func:`store_database`), so two notebooks' stores never share profiles, and
  ``reset_store`` empties just that one. ``CHROMA_DATABASE`` names the database instead (the way
  to share one store between machines), ``CHROMA_TENANT`` the tenant;
- ``CHROMA_API_KEY`` without ``CHROMA_HOST``: Chroma Cloud (``chromadb.CloudClient``, which reads
  ``CHROMA_API_KEY`` / ``CHROMA_TENANT`` / ``CHROMA_DATABASE``), with Cloud's limits
  (:mod:`recsys_nb.client_limits`).

A server that does not answer is an error naming host and port within ~3 s, never a hang.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

CLOUD_HOST = "api.trychroma.com"
# Seconds to wait for a server's heartbeat before saying it cannot be reached.
CONNECT_TIMEOUT = 3.0
OUR_KINDS = ("items", "profiles", "interests")


def server_address() -> tuple[str, int] | None:
    """``(host, port)`` of the remote Chroma (server or Cloud), or None for the embedded store."""
    host = os.environ.get("CHROMA_HOST", "").strip()
    if not host:
        return (CLOUD_HOST, 443) if os.environ.get("CHROMA_API_KEY", "").strip() else None
    port_text = os.environ.get("CHROMA_PORT", "8000").strip()
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f"CHROMA_PORT={port_text!r} is not a port number; set it to e.g. 8000 or unset it"
        ) from None
    return host, port


def store_database(path: str | Path) -> str:
    """The server database of a store: ``CHROMA_DATABASE`` if set, else
    ``recsys_nb-<folder name>-<10 hex of its absolute path>`` (the store folder is ``path``, or
    its parent when ``path`` is the store's ``chroma/`` folder)."""
    named = os.environ.get("CHROMA_DATABASE", "").strip()
    if named:
        return named
    folder = Path(path).expanduser().resolve()
    if folder.name == "chroma":
        folder = folder.parent
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name).strip("-_")[:40] or "store"
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
    return f"recsys_nb-{slug}-{digest}"


def _unreachable(host: str, port: int, why: object) -> ConnectionError:
    return ConnectionError(
        f"cannot reach the Chroma server at {host}:{port} (CHROMA_HOST/CHROMA_PORT): {why}. "
        f"Start one with `chroma run --path data/chroma-server --port {port}` "
        "or unset CHROMA_HOST to use the embedded store."
    )


def _check_heartbeat(host: str, port: int) -> None:
    """Raise ConnectionError naming host:port unless the server answers within CONNECT_TIMEOUT
    (Chroma's own HTTP client waits forever on a server that accepts but does not answer)."""
    import httpx

    try:
        httpx.get(f"http://{host}:{port}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT)
    except httpx.HTTPError as exc:
        raise _unreachable(host, port, f"{type(exc).__name__}: {exc or 'no answer'}") from exc


def _server_client(host: str, port: int, database: str, settings: Any) -> Any:
    """An HttpClient on ``database`` of the server, creating the database when missing."""
    import chromadb
    from chromadb.config import Settings

    tenant = os.environ.get("CHROMA_TENANT", "").strip() or chromadb.DEFAULT_TENANT
    admin = chromadb.AdminClient(Settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host=host,
        chroma_server_http_port=port, anonymized_telemetry=False,
    ))
    try:
        admin.get_database(database, tenant=tenant)
    except Exception:  # NotFoundError: create it (another process may do so at the same time)
        try:
            admin.create_database(database, tenant=tenant)
        except Exception:
            admin.get_database(database, tenant=tenant)  # it exists now, or the real error
    return chromadb.HttpClient(host=host, port=port, settings=settings, tenant=tenant,
                               database=database)


def connect(store_path: str | Path) -> Any:
    """Open the Chroma client of the store whose ``chroma/`` folder is ``store_path`` (see the
    module docstring for which client). Embedded: the vectors live there. Server: it names the
    store's database. Cloud: unused. Telemetry is off: the package runs offline."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    address = server_address()
    if address is not None and not os.environ.get("CHROMA_HOST", "").strip():
        client = chromadb.CloudClient(settings=settings)
        client._recsys_nb_cloud = True  # client_limits: Cloud's quotas apply
        return client
    if address is not None:
        host, port = address
        _check_heartbeat(host, port)
        try:
            return _server_client(host, port, store_database(store_path), settings)
        except Exception as exc:  # refused, DNS, ...: say which server and what to do
            raise _unreachable(host, port, exc) from exc
    Path(store_path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(store_path), settings=settings)


def drop_collections(client: Any) -> list[str]:
    """Delete recsys_nb's collections (items, profiles, interests) reachable by ``client``; the
    server-side half of ``reset_store``. Returns their names."""
    dropped = []
    for collection in client.list_collections():
        meta = collection.metadata or {}
        if meta.get("kind") in OUR_KINDS and "model_id" in meta:
            client.delete_collection(collection.name)
            dropped.append(collection.name)
    return dropped
