"""Append-only event log (SQLite): the source of truth of what each user did.

Interest vectors in Chroma are a *derived* view: they can always be rebuilt by replaying this
log, and temporal analysis reads "the last N items" of a user from it. One table::

    events(seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- global order, never reused
           user_id TEXT, user_id_type TEXT ('int' | 'str'),
           item_id INTEGER, kind TEXT ('view' | 'favorite' | 'not_interested'),
           timestamp REAL (unix seconds), params TEXT (JSON), model_id TEXT)

Design decisions (why, not just what):

- **User ids keep their type.** ``1`` and ``"1"`` are different users (MovieLens ids are ints, a
  web app's are strings). The id is stored as text plus its type and comes back as it went in.
- **Crash safety comes from SQLite transactions.** Every write is one transaction; a process
  killed with SIGKILL in the middle of ``append_many`` leaves all or none of that batch.
- **WAL journal, ``synchronous=NORMAL`` by default.** In WAL mode NORMAL never corrupts the file
  and loses nothing when a *process* dies (committed pages are already in the OS); only an
  operating-system crash or power cut can drop the last few commits, and the log stays
  consistent. FULL adds an fsync per commit (``EventLog(path, synchronous="FULL")``) for
  deployments where that matters more than append latency.
- **Several processes may write** (two notebook kernels, a server and a batch job). Each process
  opens its own ``EventLog``; writers take the write lock up front (``BEGIN IMMEDIATE``) and wait
  up to ``busy_timeout`` seconds for each other instead of failing; readers never block in WAL
  mode and always see the latest committed events. A log opened before ``fork()`` refuses to be
  used in the child (open a new one there).
- **Any thread of the process.** One connection (``check_same_thread=False``) guarded by a
  re-entrant lock: every call, and every :meth:`EventLog.transaction` block as a whole, runs under
  it. Widget callbacks in a current JupyterLab (ipykernel 7) run on another thread than the one
  that opened the log, and two threads appending at once must not interleave inside a
  transaction; the lock serializes them, so nothing is lost and the all-or-nothing rule holds.
- **One index, (user_id, user_id_type, seq)**: history, "last N", count and seen items of a user
  are index searches (the type column is in the key because ``1`` and ``"1"`` differ).
- **History order is append order (seq)**, not the timestamp column: bulk ingests should pass
  frames sorted by time, as MovieLens replays do.
- **Schema versioned** with ``PRAGMA user_version`` so later versions can migrate old files and
  refuse files from newer versions instead of misreading them.
"""

from __future__ import annotations

import json
import math
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys_nb.kinds import KINDS
from recsys_nb.threads import serialized

SCHEMA_VERSION = 1
COLUMNS: tuple[str, ...] = (
    "seq",
    "user_id",
    "item_id",
    "kind",
    "timestamp",
    "params",
    "model_id",
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_SCHEMA = f"""
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      TEXT    NOT NULL,
    user_id_type TEXT    NOT NULL CHECK (user_id_type IN ('int', 'str')),
    item_id      INTEGER NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in KINDS)})),
    timestamp    REAL    NOT NULL,
    params       TEXT    NOT NULL DEFAULT '{{}}',
    model_id     TEXT
);
CREATE INDEX events_user_seq ON events (user_id, user_id_type, seq);
"""
_INSERT_HEAD = (
    "INSERT INTO events (user_id, user_id_type, item_id, kind, timestamp, params, model_id) VALUES "
)
_ROW = "(?, ?, ?, ?, ?, ?, ?)"
_INSERT = _INSERT_HEAD + _ROW
_ROWS_PER_STATEMENT = 256  # multi-row VALUES: ~30% faster than one statement per row
# Int user ids come back as SQLite integers (-> Python int), str ones as text: no Python loop.
_SELECT = (
    "SELECT seq, CASE user_id_type WHEN 'int' THEN CAST(user_id AS INTEGER) ELSE user_id END "
    "AS user_value, item_id, kind, timestamp, params, model_id FROM events"
)


class EventLogSchemaError(RuntimeError):
    """The file is not an event log this version of recsys_nb can read."""


# ---------------------------------------------------------------------------------------------
# Validation of single values: each returns the value to store or raises naming value and fix.


def _check_user_id(user_id: Any) -> tuple[str, str]:
    """``(text, type)`` for a user id: ints (incl. numpy ints) and non-empty strings only.

    Floats, bools and None are refused: ``1.0`` or ``True`` as a user id is nearly always a
    pandas NaN-upcast or a bug, and silently mapping it to ``1`` would merge two users.
    """
    if isinstance(user_id, bool | np.bool_):
        raise TypeError(
            f"user_id={user_id!r} has type {type(user_id).__name__}; user ids must be int or "
            'str (e.g. 42 or "alice")'
        )
    if isinstance(user_id, int | np.integer):
        value = int(user_id)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"user_id={value} does not fit in 64 bits; int user ids must be int64")
        return str(value), "int"
    if isinstance(user_id, str):
        if not user_id:
            raise ValueError('user_id="" is empty; pass a non-empty str or an int user id')
        return str(user_id), "str"
    raise TypeError(
        f"user_id={user_id!r} has type {type(user_id).__name__}; user ids must be int or str "
        '(e.g. 42 or "alice"); note that 1 and "1" are different users'
    )


def _check_item_id(item_id: Any) -> int:
    """The item id as a Python int within SQLite's 64-bit range (numpy ints accepted)."""
    if isinstance(item_id, bool | np.bool_):
        raise TypeError(f"item_id={item_id!r} has type bool; item ids must be integers, e.g. 1193")
    try:
        value = operator.index(item_id)
    except TypeError:
        raise TypeError(
            f"item_id={item_id!r} has type {type(item_id).__name__}; item ids must be integers "
            "(int or numpy integer), e.g. 1193; convert with int(...) or .astype('int64')"
        ) from None
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"item_id={value} does not fit in 64 bits; item ids must be int64")
    return value


def _check_kind(kind: Any) -> str:
    """The event kind, one of :data:`KINDS`."""
    if not isinstance(kind, str) or kind not in KINDS:
        allowed = ", ".join(repr(k) for k in KINDS)
        raise ValueError(f"kind={kind!r} is not an event kind; use one of {allowed}")
    return str(kind)


def _check_timestamp(timestamp: Any) -> float:
    """Unix seconds as a finite float; ``None`` means now."""
    if timestamp is None:
        return time.time()
    if isinstance(timestamp, bool | np.bool_) or not isinstance(
        timestamp, int | float | np.integer | np.floating
    ):
        raise TypeError(
            f"timestamp={timestamp!r} has type {type(timestamp).__name__}; pass unix seconds as "
            "a number (e.g. time.time(), or pd.Timestamp(...).timestamp())"
        )
    value = float(timestamp)
    if not math.isfinite(value):
        raise ValueError(
            f"timestamp={timestamp!r} is not a finite number; pass unix seconds like time.time()"
        )
    return value


def _json_default(value: Any) -> Any:
    """Let numpy scalars and arrays inside ``params`` serialize as plain JSON numbers/lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{value!r} of type {type(value).__name__} is not JSON-serializable")


def _params_json(params: Any) -> str:
    """``params`` (a mapping or None) as compact, key-sorted JSON text."""
    if params is None:
        return "{}"
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params={params!r} has type {type(params).__name__}; pass a dict of the parameters "
            'used, e.g. {"alpha": 0.3}'
        )
    try:
        return json.dumps(
            dict(params),
            sort_keys=True,
            separators=(",", ":"),
            allow_nan=False,
            default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"params={params!r} cannot be stored as JSON ({exc}); use finite numbers, strings, "
            "bools, None, lists and dicts"
        ) from None


def _check_model_id(model_id: Any) -> str | None:
    """The model id (str) or None."""
    if model_id is None:
        return None
    if not isinstance(model_id, str):
        raise TypeError(
            f"model_id={model_id!r} has type {type(model_id).__name__}; pass the embedding "
            'model id as a str (e.g. "minilm-int8") or None'
        )
    return str(model_id)


def _is_missing(value: Any) -> bool:
    """True for None and float/pandas NA markers (used for the optional frame columns)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


# ---------------------------------------------------------------------------------------------
# Validation of whole columns (append_many): fast paths for typed columns, a loop otherwise.


class _RowError(Exception):
    """Carries the position of the first bad row and the error it raised."""

    def __init__(self, position: int, error: Exception) -> None:
        super().__init__(position, error)
        self.position = position
        self.error = error


def _loop(values: Sequence[Any], check: Any) -> list[Any]:
    """Apply a scalar checker to every value; the first failure becomes a :class:`_RowError`."""
    out = []
    for position, value in enumerate(values):
        try:
            out.append(check(value))
        except (TypeError, ValueError) as exc:
            raise _RowError(position, exc) from None
    return out


def _first_bad(mask: np.ndarray, values: pd.Series, check: Any) -> None:
    """Raise for the first True in ``mask`` with the scalar checker's own message."""
    bad = np.flatnonzero(mask)
    if bad.size:
        position = int(bad[0])
        value = values.iloc[position]
        try:
            check(value)
        except (TypeError, ValueError) as exc:
            raise _RowError(position, exc) from None
        raise _RowError(position, ValueError(f"invalid value {value!r}"))  # pragma: no cover


def _user_column(col: pd.Series) -> tuple[list[str], list[str]]:
    """Texts and types of a user_id column."""
    n = len(col)
    if pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        _first_bad(col.isna().to_numpy(), col, _check_user_id)
        return [str(v) for v in col.to_numpy(dtype=np.int64, copy=False).tolist()], ["int"] * n
    if isinstance(col.dtype, pd.StringDtype):
        _first_bad(
            (col.isna() | (col == "")).to_numpy(dtype=bool, na_value=True), col, _check_user_id
        )
        return col.tolist(), ["str"] * n
    checked = _loop(col.tolist(), _check_user_id)
    return [c[0] for c in checked], [c[1] for c in checked]


def _item_column(col: pd.Series) -> list[int]:
    """A validated item_id column as Python ints."""
    if pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        _first_bad(col.isna().to_numpy(), col, _check_item_id)
        if col.dtype == np.uint64 or str(col.dtype) == "UInt64":
            _first_bad((col > _INT64_MAX).to_numpy(dtype=bool), col, _check_item_id)
        return col.to_numpy(dtype=np.int64).tolist()
    return _loop(col.tolist(), _check_item_id)


def _timestamp_column(col: pd.Series) -> list[float]:
    """A validated timestamp column as Python floats (finite unix seconds)."""
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        _first_bad(~np.isfinite(values), col, _check_timestamp)
        return values.tolist()
    return _loop(col.tolist(), _timestamp_required)


def _timestamp_required(value: Any) -> float:
    """Like :func:`_check_timestamp`, but a missing value in a frame is an error, not "now"."""
    if _is_missing(value):
        raise ValueError(
            f"timestamp={value!r} is missing; every row needs unix seconds (fill it, e.g. "
            "with time.time())"
        )
    return _check_timestamp(value)


def _kind_column(col: pd.Series) -> list[str]:
    """A validated kind column as Python strs."""
    ok = col.isin(KINDS).to_numpy(dtype=bool)
    _first_bad(~ok, col, _check_kind)
    return [str(k) for k in col.tolist()]


def _params_column(col: pd.Series) -> list[str]:
    """JSON texts for a params column (dicts; None/NaN mean no parameters)."""
    cache: dict[int, str] = {}  # the same dict object repeated down a column is encoded once

    def encode(value: Any) -> str:
        if _is_missing(value):
            return "{}"
        key = id(value)
        if key not in cache:
            cache[key] = _params_json(value)
        return cache[key]

    return _loop(col.tolist(), encode)


def _model_column(col: pd.Series) -> list[str | None]:
    """Validated model ids (str or None; NaN means None)."""
    return _loop(col.tolist(), lambda v: None if _is_missing(v) else _check_model_id(v))


# ---------------------------------------------------------------------------------------------


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows of ``_SELECT`` as the public frame (columns :data:`COLUMNS`), seq order kept.

    ``user_id`` is int64 when every id is an int, else object holding ints and strs as stored.
    """
    if rows:
        seq, users, item, kind, ts, params, model = (list(c) for c in zip(*rows, strict=True))
    else:
        seq, users, item, kind, ts, params, model = ([] for _ in range(7))
    if users and all(type(u) is int for u in users):
        user_col: Any = np.array(users, dtype=np.int64)
    else:
        user_col = pd.Series(users, dtype=object)
    return pd.DataFrame(
        {
            "seq": np.array(seq, dtype=np.int64),
            "user_id": user_col,
            "item_id": np.array(item, dtype=np.int64),
            "kind": pd.Series(kind, dtype=str),
            "timestamp": np.array(ts, dtype=np.float64),
            "params": pd.Series([{} if p == "{}" else json.loads(p) for p in params], dtype=object),
            "model_id": pd.Series(model, dtype=object),
        },
        columns=list(COLUMNS),
    )


def _insert_columns(conn: sqlite3.Connection, columns: list[list[Any]]) -> None:
    """Insert rows given as columns, in order, with multi-row ``INSERT ... VALUES`` statements.

    ``executemany`` of a 256-row statement binds the same values as a 1-row one but steps the
    SQLite VM (and updates the AUTOINCREMENT counter) 256x less often. The chunk respects the
    host parameter limit of the SQLite library Python was built with (999 on old builds).
    """
    n = len(columns[0])
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(columns)
    per = max(1, min(_ROWS_PER_STATEMENT, limit))
    full = n - n % per

    def flat(start: int, stop: int) -> list[Any]:
        return list(chain.from_iterable(zip(*(c[start:stop] for c in columns), strict=True)))

    if full:
        sql = _INSERT_HEAD + ", ".join([_ROW] * per)
        conn.executemany(sql, (flat(i, i + per) for i in range(0, full, per)))
    if full < n:
        conn.execute(_INSERT_HEAD + ", ".join([_ROW] * (n - full)), flat(full, n))


class EventLog:
    """An append-only log of view / favorite / not_interested events in one SQLite file.

    Args:
        path: the SQLite file; created with its parent folders if missing. ``":memory:"`` gives a
            private in-memory log (handy in tests; nothing is shared or kept).
        synchronous: ``"NORMAL"`` (default: safe against process crashes, fast) or ``"FULL"``
            (also fsyncs every commit, so an OS crash or power cut loses nothing committed).
        busy_timeout: seconds a writer waits for another process's transaction before failing.

    Use it as a context manager (``with EventLog(path) as log: ...``) or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        busy_timeout: float = 30.0,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(
                f"synchronous={synchronous!r} is not supported; use 'NORMAL' or 'FULL'"
            )
        if not busy_timeout >= 0:
            raise ValueError(f"busy_timeout={busy_timeout!r} must be >= 0 seconds, e.g. 30")
        self._memory = str(path) == ":memory:"
        self.path = Path(path) if not self._memory else Path(":memory:")
        if not self._memory:
            self.path = self.path.expanduser().resolve()
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._depth = 0
        # One connection for every thread, used under this lock only (see "Any thread").
        self._mutex = threading.RLock()
        # isolation_level=None: the sqlite3 module never opens transactions behind our back;
        # every write below is either one autocommitted statement or an explicit BEGIN IMMEDIATE.
        conn = sqlite3.connect(
            ":memory:" if self._memory else str(self.path),
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._setup(conn, synchronous)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise TimeoutError(
                    f"{self.path}: another process held the write lock for more than "
                    f"busy_timeout={busy_timeout} s while this log was being created; retry, or "
                    "pass a larger busy_timeout"
                ) from exc
            raise EventLogSchemaError(
                f"{self.path} is not a readable SQLite event log ({exc}); pass another path"
            ) from exc
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    def _setup(self, conn: sqlite3.Connection, synchronous: str) -> None:
        """Switch to WAL and create or check the schema, atomically w.r.t. other processes."""
        if not self._memory:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # pragma: no cover - e.g. a filesystem without mmap
                raise EventLogSchemaError(f"{self.path}: could not enable WAL (got {mode!r})")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # the common case: no write lock needed, so opening never waits for writers
        conn.execute("BEGIN IMMEDIATE")  # two processes creating the same new file take turns
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                if "events" in tables:
                    raise EventLogSchemaError(
                        f"{self.path} has an 'events' table but no event-log schema version; it "
                        "was not written by recsys_nb.EventLog: pass another path"
                    )
                for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise EventLogSchemaError(
                    f"{self.path} has event-log schema version {version}, but this recsys_nb "
                    f"reads version {SCHEMA_VERSION}: upgrade recsys_nb or use another path"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- connection management -----------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """The open connection; refuses use after close() or in a forked child process."""
        if self._conn is None:
            raise RuntimeError(f"EventLog({str(self.path)!r}) is closed; open it again")
        if os.getpid() != self._pid:
            raise RuntimeError(
                f"EventLog({str(self.path)!r}) was opened in process {self._pid} and used in "
                f"process {os.getpid()} (after fork); open a new EventLog(path) in each process"
            )
        return self._conn

    @serialized
    def close(self) -> None:
        """Close the connection (idempotent). An open transaction is rolled back."""
        if self._conn is not None:
            if os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._conn is None:
            return f"EventLog({str(self.path)!r}, closed)"
        try:
            n = self.count()
        except (sqlite3.Error, RuntimeError):  # pragma: no cover - repr must never raise
            return f"EventLog({str(self.path)!r})"
        return f"EventLog({str(self.path)!r}, events={n})"

    @contextmanager
    def transaction(self) -> Iterator[EventLog]:
        """Group appends (and the caller's own work) into one all-or-nothing transaction.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a concurrent writer waits rather
        than failing half-way. If the body raises, every append made inside is rolled back, so
        the Recommender can write the event, update the profile, and lose both or neither::

            with log.transaction():
                log.append(user, item, "view", params={"alpha": 0.3})
                profiles.upsert(...)      # raises -> the event above is not kept

        Reads inside see the uncommitted appends. Nested calls use savepoints: an inner block
        that raises undoes only its own appends. The block holds the log's lock: another thread's
        append waits for the COMMIT instead of slipping into this transaction.
        """
        with self._mutex:
            yield from self._transaction()

    def _transaction(self) -> Iterator[EventLog]:
        conn = self._db()
        if conn.in_transaction:
            name = f"eventlog_sp{self._depth}"
            self._depth += 1
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            else:
                conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- writing -------------------------------------------------------------------------------

    @serialized
    def append(
        self,
        user_id: int | str,
        item_id: int,
        kind: str,
        timestamp: float | None = None,
        params: Mapping[str, Any] | None = None,
        model_id: str | None = None,
    ) -> int:
        """Record one event and return its ``seq`` (global, increasing, never reused).

        Args:
            user_id: int or str; ``1`` and ``"1"`` are different users.
            item_id: int (numpy ints accepted).
            kind: ``"view"``, ``"favorite"`` or ``"not_interested"``.
            timestamp: unix seconds; default now.
            params: the parameters the update used, e.g. ``{"alpha": 0.3}`` (stored as JSON).
            model_id: the embedding model the profile update used, if any.
        """
        row = (
            *_check_user_id(user_id),
            _check_item_id(item_id),
            _check_kind(kind),
            _check_timestamp(timestamp),
            _params_json(params),
            _check_model_id(model_id),
        )
        cursor = self._db().execute(_INSERT, row)  # autocommits unless inside transaction()
        return int(cursor.lastrowid or 0)

    @serialized
    def append_many(
        self,
        frame: pd.DataFrame,
        *,
        params: Mapping[str, Any] | None = None,
        model_id: str | None = None,
    ) -> int:
        """Append every row of ``frame`` in ONE transaction; return the number of rows written.

        ``frame`` needs columns user_id, item_id, kind, timestamp, and may have params (dicts)
        and model_id. When those columns are absent, the ``params`` / ``model_id`` keywords apply
        to every row (e.g. a bulk ingest done with one alpha). Rows keep the frame's order.

        All rows are validated before anything is written; the error names the first bad row
        (position and index label) and its value, and nothing is written.
        """
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame has type {type(frame).__name__}; pass a pandas DataFrame")
        required = ("user_id", "item_id", "kind", "timestamp")
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ValueError(
                f"append_many: frame lacks column(s) {missing}; it has {list(frame.columns)} "
                f"and needs {list(required)} (optional: 'params', 'model_id')"
            )
        for name, keyword in (("params", params), ("model_id", model_id)):
            if name in frame.columns and keyword is not None:
                raise ValueError(
                    f"append_many: {name} given both as a column and as {name}={keyword!r}; "
                    "pass one of them"
                )
        n = len(frame)
        if n == 0:
            return 0
        column = "user_id"
        try:
            users, types = _user_column(frame["user_id"])
            column = "item_id"
            items = _item_column(frame["item_id"])
            column = "kind"
            kinds = _kind_column(frame["kind"])
            column = "timestamp"
            stamps = _timestamp_column(frame["timestamp"])
            column = "params"
            if "params" in frame.columns:
                texts = _params_column(frame["params"])
            else:
                texts = [_params_json(params)] * n
            column = "model_id"
            if "model_id" in frame.columns:
                models = _model_column(frame["model_id"])
            else:
                models = [_check_model_id(model_id)] * n
        except _RowError as bad:
            label = frame.index[bad.position]
            raise type(bad.error)(
                f"append_many: row {bad.position} (index label {label!r}), column {column!r}: "
                f"{bad.error}; nothing was written"
            ) from None
        with self.transaction():
            _insert_columns(self._db(), [users, types, items, kinds, stamps, texts, models])
        return n

    @serialized
    def clear(self) -> int:
        """Delete every event (one transaction). Returns how many were deleted."""
        with self.transaction():
            return int(self._db().execute("DELETE FROM events").rowcount)

    def remove_last(self, user_id: int | str) -> pd.DataFrame:
        """Take back the user's newest event (an "undo"); return it as a one-row frame.

        The one exception to append-only, and only for the newest event of one user, so no later
        event of that user was derived from it: the log then reads as if the action never
        happened (its ``seq`` is not reused). Empty frame when the user has no events.
        """
        text, kind = _check_user_id(user_id)
        with self.transaction():
            last = self.history(user_id, last=1)
            if not last.empty:
                self._db().execute(
                    "DELETE FROM events WHERE seq = ? AND user_id = ? AND user_id_type = ?",
                    (int(last["seq"].iloc[0]), text, kind),
                )
        return last

    # -- reading -------------------------------------------------------------------------------

    @serialized
    def history(self, user_id: int | str, last: int | None = None) -> pd.DataFrame:
        """A user's events, oldest first; ``last=N`` keeps only the N most recent (still oldest
        first). An unknown user gives an empty frame with the same columns."""
        text, kind = _check_user_id(user_id)
        where = " WHERE user_id = ? AND user_id_type = ?"
        if last is None:
            rows = self._db().execute(_SELECT + where + " ORDER BY seq", (text, kind)).fetchall()
        else:
            if isinstance(last, bool) or not isinstance(last, int | np.integer) or last < 1:
                raise ValueError(f"last={last!r} must be a positive int (e.g. 20) or None for all")
            sql = f"SELECT * FROM ({_SELECT}{where} ORDER BY seq DESC LIMIT ?) ORDER BY seq"
            rows = self._db().execute(sql, (text, kind, int(last))).fetchall()
        return _frame(rows)

    @serialized
    def events(self, model_id: str | None = None, *, after_seq: int = 0) -> pd.DataFrame:
        """All events in seq order (for rebuilding profiles), optionally only those recorded
        with ``model_id`` and/or with ``seq > after_seq`` (to catch up from a known point)."""
        sql, args = _SELECT + " WHERE seq > ?", [int(after_seq)]
        if model_id is not None:
            sql += " AND model_id = ?"
            args.append(_check_model_id(model_id))
        return _frame(self._db().execute(sql + " ORDER BY seq", args).fetchall())

    @serialized
    def positive_after(self, timestamp: float) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, timestamps) of the views and favorites later than ``timestamp``: what a
        trending prior built from older data has not counted yet."""
        sql = ("SELECT item_id, timestamp FROM events WHERE timestamp > ? "
               "AND kind != 'not_interested' ORDER BY seq")
        rows = self._db().execute(sql, (float(timestamp),)).fetchall()
        return (np.array([r[0] for r in rows], dtype=np.int64),
                np.array([r[1] for r in rows], dtype=np.float64))

    @serialized
    def users(self) -> list[int | str]:
        """Every user id in the log, in order of first appearance, with its original type."""
        sql = (
            "SELECT CASE user_id_type WHEN 'int' THEN CAST(user_id AS INTEGER) ELSE user_id END "
            "FROM events GROUP BY user_id, user_id_type ORDER BY MIN(seq)"
        )
        return [r[0] for r in self._db().execute(sql)]

    @serialized
    def count(self, user_id: int | str | None = None) -> int:
        """Number of events, of one user or of everyone."""
        if user_id is None:
            return int(self._db().execute("SELECT COUNT(*) FROM events").fetchone()[0])
        sql = "SELECT COUNT(*) FROM events WHERE user_id = ? AND user_id_type = ?"
        return int(self._db().execute(sql, _check_user_id(user_id)).fetchone()[0])

    @serialized
    def last_seq(self, user_id: int | str | None = None) -> int:
        """The newest seq (of one user, or overall); 0 when there is none. A profile that
        records the last_seq it has seen is stale exactly when this is larger."""
        if user_id is None:
            row = self._db().execute("SELECT MAX(seq) FROM events").fetchone()
        else:
            sql = "SELECT MAX(seq) FROM events WHERE user_id = ? AND user_id_type = ?"
            row = self._db().execute(sql, _check_user_id(user_id)).fetchone()
        return int(row[0] or 0)

    @serialized
    def user_summary(self) -> pd.DataFrame:
        """One row per user: user_id (original type), last_seq, has_positive (any view or
        favorite). One aggregate query: what a crash-repair check needs, without loading and
        JSON-decoding every event (~0.1 s instead of ~1.2 s for 100k events)."""
        sql = (
            "SELECT user_id, user_id_type, MAX(seq), MAX(kind != 'not_interested') "
            "FROM events GROUP BY user_id, user_id_type"
        )
        rows = self._db().execute(sql).fetchall()
        return pd.DataFrame(
            {
                "user_id": pd.Series(
                    [int(u) if t == "int" else u for u, t, _, _ in rows], dtype=object
                ),
                "last_seq": np.array([r[2] for r in rows], dtype=np.int64),
                "has_positive": np.array([bool(r[3]) for r in rows], dtype=bool),
            }
        )

    @serialized
    def seen_items(self, user_id: int | str) -> set[int]:
        """Items the user viewed, favorited or marked not interested (to exclude from
        recommendations). One query on the (user_id, user_id_type, seq) index."""
        sql = "SELECT DISTINCT item_id FROM events WHERE user_id = ? AND user_id_type = ?"
        return {r[0] for r in self._db().execute(sql, _check_user_id(user_id))}
