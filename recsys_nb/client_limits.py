"""Talking to Chroma within the client's limits: batched writes, paged reads, capped queries.

An embedded store takes up to ``client.get_max_batch_size()`` records per write (5,461 here) and
answers any ``n_results``. A server reports its own max batch size and may refuse a request whose
body is too large (``Payload too large``, HTTP 413). Chroma Cloud documents at most 300 results per
query and 300 records per write. So every write goes through :func:`write` (batches of the limit,
halved and retried when the server refuses a size), every "read everything" through
:func:`get_all` (pages), every read by id through :func:`get_by_ids` (chunks), and a search never
asks for more than :attr:`Limits.max_results` rows.

Lower limits for one process with ``RECSYS_NB_MAX_WRITE`` / ``RECSYS_NB_MAX_RESULTS`` (positive
integers), e.g. to rehearse a Cloud deployment against a local server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Chroma Cloud's documented quotas (late 2026): results per query, records per write.
CLOUD_MAX_RESULTS = 300
CLOUD_MAX_WRITE = 300
# Error texts of a server refusing a request's size (local server: "Payload too large";
# Chroma's own client check: "Cannot submit more than N embeddings at once"; Cloud: quotas).
_SIZE_REFUSALS = ("payload too large", "413", "at once", "batch size", "quota", "too many")


@dataclass
class Limits:
    """What one client accepts: ``max_write`` records per write, ``max_results`` rows per
    query (None: no limit), ``page`` rows per read. ``max_write`` shrinks when a server refuses
    a size."""

    max_write: int
    max_results: int | None = None
    # Rows per read. An embedded Chroma 1.5 fails to read more than ~32,700 rows in one `get`
    # ("too many SQL variables", measured by `make bench SCALE=1M`): reads are paged too.
    page: int = 5461


def _env_limit(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r} must be a positive integer (or unset it)")
    return value


def limits(client: Any) -> Limits:
    """The limits of ``client``, worked out once and kept on it: the smaller of the client's max
    batch size, Cloud's quotas (for a ``CloudClient`` made by ``get_client``) and the
    ``RECSYS_NB_MAX_*`` variables."""
    known = getattr(client, "_recsys_nb_limits", None)
    if known is not None:
        return known
    cloud = bool(getattr(client, "_recsys_nb_cloud", False))
    batch = int(client.get_max_batch_size())
    write = batch
    results: int | None = CLOUD_MAX_RESULTS if cloud else None
    if cloud:
        write = min(write, CLOUD_MAX_WRITE)
    env_write, env_results = _env_limit("RECSYS_NB_MAX_WRITE"), _env_limit("RECSYS_NB_MAX_RESULTS")
    if env_write is not None:
        write = min(write, env_write)
    if env_results is not None:
        results = env_results if results is None else min(results, env_results)
    page = min(batch, results) if results else batch
    found = Limits(max_write=max(1, write), max_results=results, page=max(1, page))
    try:
        client._recsys_nb_limits = found
    except AttributeError:  # a client type that takes no attributes: work it out each time
        pass
    return found


def _refused_size(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(sign in text for sign in _SIZE_REFUSALS)


def write(client: Any, method: Callable[..., Any], ids: Sequence[str], **columns: Any) -> int:
    """Call ``method`` (a collection's ``upsert`` / ``update`` / ``add`` / ``delete``) on
    ``ids`` and the matching ``columns`` (lists or arrays, None for absent ones) in batches of
    the client's write limit. A batch the server refuses for its size is halved and retried
    (down to one record; other errors propagate), and the smaller size is kept for later
    writes. Each batch is one request, so a refused one wrote nothing. Returns ``len(ids)``."""
    lim = limits(client)
    start = 0
    while start < len(ids):
        size = lim.max_write
        end = start + size
        chunk = {k: (None if v is None else v[start:end]) for k, v in columns.items()}
        try:
            method(ids=list(ids[start:end]), **chunk)
        except Exception as exc:
            if size <= 1 or not _refused_size(exc):
                raise
            lim.max_write = max(1, min(size, len(ids) - start) // 2)
            continue
        start = end
    return len(ids)


def _gather(out: dict[str, list], got: Any, include: list[str]) -> dict[str, list]:
    """``got`` (one ``collection.get`` answer) appended to ``out``; returns ``out``."""
    out["ids"] += got["ids"]
    for key in include:
        out[key] += list(got[key])
    return out


def get_all(client: Any, collection: Any, include: list[str]) -> dict[str, list]:
    """Every row of ``collection`` (``ids`` plus the ``include`` fields), read page by page."""
    page = limits(client).page
    out: dict[str, list] = {"ids": [], **{k: [] for k in include}}
    offset = 0
    while True:
        got = collection.get(include=include, limit=page, offset=offset)
        out = _gather(out, got, include)
        if len(got["ids"]) < page:
            return out
        offset += page


def get_by_ids(
    client: Any, collection: Any, ids: Sequence[str], include: list[str]
) -> dict[str, list]:
    """Rows of ``ids`` (unknown ids dropped, Chroma's own order), in chunks within the limits."""
    chunk = limits(client).page
    out: dict[str, list] = {"ids": [], **{k: [] for k in include}}
    for start in range(0, len(ids), chunk):
        out = _gather(out, collection.get(ids=list(ids[start : start + chunk]),
                                          include=include), include)
    return out
