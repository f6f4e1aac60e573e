"""EventLog: typed user ids, ordering, validation, all-or-nothing writes, several processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_nb.eventlog import COLUMNS, KINDS, SCHEMA_VERSION, EventLog, EventLogSchemaError


@pytest.fixture
def log(tmp_path):
    with EventLog(tmp_path / "logs" / "events.sqlite") as opened:
        yield opened


def _frame(n: int, users=None, start: int = 0) -> pd.DataFrame:
    """n valid events: item ids start..start+n-1, timestamps increasing, kinds cycling."""
    return pd.DataFrame(
        {
            "user_id": users if users is not None else np.arange(n) % 3 + 1,
            "item_id": np.arange(start, start + n),
            "kind": [KINDS[i % 3] for i in range(n)],
            "timestamp": 1_000_000.0 + np.arange(n),
        }
    )


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


# -- opening ------------------------------------------------------------------------------------


def test_open_creates_parents_wal_and_schema_version(tmp_path):
    path = tmp_path / "a" / "b" / "events.sqlite"
    with EventLog(path) as log:
        assert log.path == path.resolve()
        assert log.count() == 0 and log.users() == [] and log.last_seq() == 0
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
        indexed = [r[2] for r in conn.execute("PRAGMA index_info(events_user_seq)")]
    assert columns == [
        "seq", "user_id", "user_id_type", "item_id", "kind", "timestamp", "params", "model_id"
    ]  # fmt: skip
    assert indexed == ["user_id", "user_id_type", "seq"]


def test_reopen_keeps_events_and_seq_continues(tmp_path):
    path = tmp_path / "events.sqlite"
    with EventLog(path) as log:
        assert [log.append(7, i, "view", timestamp=i) for i in range(3)] == [1, 2, 3]
    with EventLog(str(path)) as log:
        assert log.count() == 3
        assert log.append(7, 99, "favorite") == 4
        assert log.history(7).item_id.tolist() == [0, 1, 2, 99]


def test_refuses_newer_schema_foreign_table_and_non_sqlite(tmp_path):
    newer = tmp_path / "newer.sqlite"
    EventLog(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(EventLogSchemaError, match=r"schema version 99.*reads version 1"):
        EventLog(newer)

    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE events (x)")
    with pytest.raises(EventLogSchemaError, match="not written by recsys_nb"):
        EventLog(foreign)

    text = tmp_path / "notes.txt"
    text.write_text("this is not a database, just some text that is long enough" * 20)
    with pytest.raises(EventLogSchemaError, match="notes.txt is not a readable SQLite"):
        EventLog(text)


def test_bad_options_name_the_value(tmp_path):
    with pytest.raises(ValueError, match="synchronous='OFF'.*'NORMAL' or 'FULL'"):
        EventLog(tmp_path / "x.sqlite", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="busy_timeout=-1"):
        EventLog(tmp_path / "x.sqlite", busy_timeout=-1)


def test_full_synchronous_and_memory_logs_work(tmp_path):
    with EventLog(tmp_path / "full.sqlite", synchronous="FULL") as log:
        log.append(1, 2, "view")
        assert log._db().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with EventLog(":memory:") as mem:
        mem.append("a", 1, "view")
        assert mem.count() == 1
        assert repr(mem) == "EventLog(':memory:', events=1)"


def test_close_repr_and_use_after_close(tmp_path):
    log = EventLog(tmp_path / "e.sqlite")
    log.append(1, 1, "view")
    assert repr(log) == f"EventLog({str(log.path)!r}, events=1)"
    log.close()
    log.close()  # idempotent
    assert repr(log) == f"EventLog({str(log.path)!r}, closed)"
    with pytest.raises(RuntimeError, match="is closed; open it again"):
        log.count()


def test_forked_child_must_open_its_own_log(tmp_path):
    log = EventLog(tmp_path / "e.sqlite")
    pid = os.fork()
    if pid == 0:  # child: using the parent's connection must be refused, not corrupt the file
        try:
            log.count()
        except RuntimeError as exc:
            os._exit(0 if "open a new EventLog(path) in each process" in str(exc) else 2)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log.append(1, 1, "view")  # the parent's connection still works
    assert log.count() == 1
    log.close()


# -- user ids, ordering, reading ------------------------------------------------------------------


def test_int_and_str_user_ids_round_trip_as_different_users(log):
    log.append(1, 10, "view", timestamp=100)
    log.append("1", 20, "favorite", timestamp=101)
    log.append(np.int64(1), 11, "not_interested", timestamp=102)
    log.append(np.str_("alice"), 30, "view", timestamp=103)

    assert log.users() == [1, "1", "alice"]
    assert [type(u) for u in log.users()] == [int, str, str]
    assert log.count(1) == 2 and log.count("1") == 1 and log.count("alice") == 1
    assert log.count() == 4 and log.count(2) == 0
    assert log.seen_items(1) == {10, 11}
    assert log.seen_items("1") == {20}

    ints = log.history(1)
    assert ints.user_id.dtype == np.int64 and ints.user_id.tolist() == [1, 1]
    strs = log.history("1")
    assert strs.user_id.tolist() == ["1"] and isinstance(strs.user_id.iloc[0], str)

    everything = log.events()
    assert everything.user_id.tolist() == [1, "1", 1, "alice"]
    assert [type(u) for u in everything.user_id] == [int, str, int, str]


def test_history_is_in_append_order_and_last_n_keeps_oldest_first(log):
    seqs = [log.append(5, item, "view", timestamp=1000 + item) for item in (3, 1, 4, 1, 5, 9)]
    log.append(6, 2, "favorite")  # another user in between must not leak in
    seqs.append(log.append(5, 2, "favorite", timestamp=2000))

    full = log.history(5)
    assert list(full.columns) == list(COLUMNS)
    assert full.seq.tolist() == seqs
    assert full.item_id.tolist() == [3, 1, 4, 1, 5, 9, 2]
    assert full.kind.tolist() == ["view"] * 6 + ["favorite"]
    assert full.timestamp.tolist() == [1003.0, 1001.0, 1004.0, 1001.0, 1005.0, 1009.0, 2000.0]

    last3 = log.history(5, last=3)
    assert last3.item_id.tolist() == [5, 9, 2]
    assert last3.seq.tolist() == seqs[-3:]
    assert log.history(5, last=np.int64(1)).item_id.tolist() == [2]
    assert log.history(5, last=100).item_id.tolist() == full.item_id.tolist()
    assert log.seen_items(5) == {1, 2, 3, 4, 5, 9}
    assert log.last_seq(5) == seqs[-1] == 8 and log.last_seq(6) == 7
    assert log.last_seq() == seqs[-1] and log.last_seq("nobody") == 0


def test_last_seq_per_user(log):
    a = log.append("a", 1, "view")
    b = log.append("b", 1, "view")
    a2 = log.append("a", 2, "view")
    assert (log.last_seq("a"), log.last_seq("b"), log.last_seq()) == (a2, b, a2)
    assert a < b < a2


@pytest.mark.parametrize("last", [0, -1, 2.5, True, "3"])
def test_history_rejects_bad_last(log, last):
    log.append(1, 1, "view")
    with pytest.raises(ValueError, match=f"last={last!r} must be a positive int"):
        log.history(1, last=last)


def test_unknown_user_gives_empty_frame_with_columns(log):
    log.append(1, 1, "view")
    for frame in (log.history("ghost"), log.history(2, last=5), log.events(model_id="none")):
        assert list(frame.columns) == list(COLUMNS)
        assert len(frame) == 0
    assert log.seen_items("ghost") == set()


def test_params_and_model_id_round_trip(log):
    log.append(1, 1, "view", params={"alpha": np.float32(0.25), "steps": np.int64(3)})
    log.append(1, 2, "not_interested", params={"factor": 0.5, "overshoot": "skipped"}, model_id="m")
    log.append(2, 3, "favorite", params={"nested": {"a": [1, 2]}}, model_id="svd64")
    frame = log.history(1)
    assert frame.params.tolist() == [
        {"alpha": 0.25, "steps": 3},
        {"factor": 0.5, "overshoot": "skipped"},
    ]
    assert type(frame.params.iloc[0]["steps"]) is int
    assert frame.model_id.tolist() == [None, "m"]
    assert log.events(model_id="svd64").item_id.tolist() == [3]
    assert log.events(model_id="m").params.tolist() == [{"factor": 0.5, "overshoot": "skipped"}]
    # each row gets its own dict: mutating one does not change another
    again = log.events()
    again.params.iloc[0]["alpha"] = 9
    assert log.events().params.iloc[0]["alpha"] == 0.25


def test_default_timestamp_is_now(log):
    before = time.time()
    log.append(1, 1, "view")
    after = time.time()
    assert before <= log.history(1).timestamp.iloc[0] <= after


def test_events_after_seq_catches_up(log):
    log.append_many(_frame(10))
    mark = log.last_seq()
    log.append_many(_frame(4, start=100))
    newer = log.events(after_seq=mark)
    assert newer.item_id.tolist() == [100, 101, 102, 103]
    assert newer.seq.tolist() == list(range(mark + 1, mark + 5))
    assert len(log.events(after_seq=0)) == 14


def test_second_connection_sees_committed_events(tmp_path):
    path = tmp_path / "shared.sqlite"
    with EventLog(path) as writer, EventLog(path) as reader:
        assert reader.count() == 0
        writer.append("u", 1, "view")
        assert reader.count() == 1  # no stale snapshot between calls
        with writer.transaction():
            writer.append("u", 2, "view")
            assert writer.count() == 2 and reader.count() == 1  # uncommitted: invisible
        assert reader.seen_items("u") == {1, 2}


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"kind": "like"}, ValueError, r"kind='like' is not an event kind; use one of 'view', "),
        ({"kind": None}, ValueError, r"kind=None is not an event kind"),
        ({"user_id": 1.0}, TypeError, r"user_id=1\.0 has type float; user ids must be int or str"),
        ({"user_id": True}, TypeError, r"user_id=True has type bool"),
        ({"user_id": None}, TypeError, r"user_id=None has type NoneType"),
        ({"user_id": ""}, ValueError, r'user_id="" is empty'),
        ({"user_id": 2**70}, ValueError, r"user_id=1180591620717411303424 does not fit"),
        ({"item_id": "5"}, TypeError, r"item_id='5' has type str; item ids must be integers"),
        ({"item_id": 3.0}, TypeError, r"item_id=3\.0 has type float"),
        ({"item_id": False}, TypeError, r"item_id=False has type bool"),
        ({"item_id": 2**64}, ValueError, r"item_id=18446744073709551616 does not fit in 64"),
        ({"timestamp": float("nan")}, ValueError, r"timestamp=nan is not a finite number"),
        ({"timestamp": float("inf")}, ValueError, r"timestamp=inf is not a finite number"),
        ({"timestamp": "2020-01-01"}, TypeError, r"timestamp='2020-01-01' has type str"),
        ({"params": [1]}, TypeError, r"params=\[1\] has type list; pass a dict"),
        ({"params": {"a": float("nan")}}, ValueError, r"params=\{'a': nan\} cannot be stored"),
        ({"params": {"f": print}}, ValueError, r"cannot be stored as JSON"),
        ({"model_id": 3}, TypeError, r"model_id=3 has type int"),
    ],
)
def test_append_validation_names_the_value_and_writes_nothing(log, kwargs, error, pattern):
    args = {"user_id": 1, "item_id": 1, "kind": "view", "timestamp": 1.0} | kwargs
    with pytest.raises(error, match=pattern):
        log.append(**args)
    assert log.count() == 0


def test_append_converts_numpy_ints(log):
    seq = log.append(np.int32(4), np.uint16(7), "view", timestamp=np.int64(5))
    assert seq == 1
    row = log.history(4).iloc[0]
    assert (row.item_id, row.timestamp) == (7, 5.0)
    assert log.seen_items(4) == {7} and type(next(iter(log.seen_items(4)))) is int


# -- append_many ----------------------------------------------------------------------------------


def test_append_many_round_trip_in_frame_order(log):
    frame = _frame(9)
    assert log.append_many(frame, params={"alpha": 0.3}, model_id="minilm") == 9
    out = log.events()
    assert out.seq.tolist() == list(range(1, 10))
    assert out.user_id.tolist() == frame.user_id.tolist()
    assert out.item_id.tolist() == frame.item_id.tolist()
    assert out.kind.tolist() == frame.kind.tolist()
    assert out.timestamp.tolist() == frame.timestamp.tolist()
    assert out.params.tolist() == [{"alpha": 0.3}] * 9
    assert out.model_id.tolist() == ["minilm"] * 9
    assert log.history(2).item_id.tolist() == [1, 4, 7]


@pytest.mark.parametrize("variable_limit", [None, 20, 7])
def test_append_many_keeps_order_across_statement_chunks(log, variable_limit):
    """Rows go in 256-row statements (fewer on SQLite builds with a low parameter limit)."""
    if variable_limit is not None:
        log._db().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit)
    n = 256 * 3 + 17 if variable_limit is None else 45
    items = np.random.default_rng(0).permutation(n)
    frame = _frame(n).assign(item_id=items)
    assert log.append_many(frame) == n
    out = log.events()
    assert out.item_id.tolist() == items.tolist()
    assert out.seq.tolist() == list(range(1, n + 1))
    assert out.timestamp.tolist() == frame.timestamp.tolist()


def test_append_many_mixed_and_string_columns(log):
    mixed = _frame(4, users=pd.Series([1, "1", np.int64(2), "bob"], dtype=object))
    mixed["params"] = [{"alpha": 0.1}, None, np.nan, {"factor": 0.5}]
    mixed["model_id"] = ["a", None, np.nan, "b"]
    assert log.append_many(mixed) == 4
    strings = _frame(2, users=pd.Series(["x", "y"], dtype="string"), start=50)
    strings["kind"] = pd.Categorical(["favorite", "view"])
    strings["timestamp"] = pd.array([5, 6], dtype="Int64")
    assert log.append_many(strings) == 2
    out = log.events()
    assert out.user_id.tolist() == [1, "1", 2, "bob", "x", "y"]
    assert out.params.tolist() == [{"alpha": 0.1}, {}, {}, {"factor": 0.5}, {}, {}]
    assert out.model_id.tolist() == ["a", None, None, "b", None, None]
    assert out.kind.tolist()[-2:] == ["favorite", "view"]
    assert out.timestamp.tolist()[-2:] == [5.0, 6.0]
    assert log.users() == [1, "1", 2, "bob", "x", "y"]


def test_append_many_empty_frame_writes_nothing(log):
    assert log.append_many(_frame(0)) == 0
    assert log.count() == 0


def test_append_many_column_errors(log):
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['kind'\]"):
        log.append_many(_frame(3).drop(columns="kind"))
    framed = _frame(2).assign(params=[{}, {}])
    with pytest.raises(ValueError, match="params given both as a column and as params="):
        log.append_many(framed, params={"alpha": 0.3})
    with pytest.raises(TypeError, match="pass a pandas DataFrame"):
        log.append_many([{"user_id": 1}])  # type: ignore[arg-type]
    assert log.count() == 0


BAD_ROWS = [
    ("kind", "like", ValueError, "kind='like' is not an event kind"),
    ("user_id", 2.5, TypeError, "user_id=2.5 has type float"),
    ("user_id", None, TypeError, "user_id=None has type NoneType"),
    ("item_id", "x", TypeError, "item_id='x' has type str"),
    ("timestamp", float("nan"), ValueError, "timestamp=nan is missing"),
    ("timestamp", float("inf"), ValueError, "timestamp=inf is not a finite number"),
    ("params", {"a": float("inf")}, ValueError, "params={'a': inf} cannot be stored"),
    ("model_id", 7, TypeError, "model_id=7 has type int"),
]


@pytest.mark.parametrize(("column", "value", "error", "message"), BAD_ROWS)
def test_append_many_is_all_or_nothing_and_names_first_bad_row(log, column, value, error, message):
    log.append("before", 1, "view")
    frame = _frame(200)
    frame.index = [f"r{i}" for i in range(200)]
    if column == "params":
        frame["params"] = [{"alpha": 0.3}] * 200
    if column == "model_id":
        frame["model_id"] = "m"
    values = frame[column].astype(object).tolist()
    values[137] = values[150] = value  # only the first is reported
    frame[column] = pd.Series(values, index=frame.index, dtype=object)
    with pytest.raises(error) as caught:
        log.append_many(frame)
    text = str(caught.value)
    assert f"row 137 (index label 'r137'), column '{column}'" in text
    assert message in text and text.endswith("nothing was written")
    assert log.count() == 1 and log.users() == ["before"]


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("user_id", [1.0, 2.0, 3.0], "row 0 (index label 0), column 'user_id': user_id=1.0"),
        ("user_id", [True, False, True], "row 0 (index label 0), column 'user_id': user_id=True"),
        ("user_id", pd.array([1, None, 3], dtype="Int64"), "row 1 (index label 1)"),
        ("user_id", pd.array(["a", None, "c"], dtype="string"), "row 1 (index label 1)"),
        ("item_id", [1.0, 2.0, 3.0], "column 'item_id': item_id=1.0 has type float"),
        ("item_id", np.array([1, 2, 2**64 - 1], dtype=np.uint64), "row 2 (index label 2)"),
        ("timestamp", [1.0, -np.inf, 2.0], "row 1 (index label 1), column 'timestamp'"),
        ("timestamp", pd.array([1, None, 2], dtype="Int64"), "row 1 (index label 1)"),
        ("timestamp", pd.to_datetime(["2020-01-01"] * 3), "has type Timestamp; pass unix"),
        ("kind", pd.Categorical(["view", "views", "view"]), "kind='views' is not an event"),
    ],
)
def test_append_many_typed_columns_fail_fast(log, column, values, message):
    frame = _frame(3)
    frame[column] = values
    with pytest.raises(
        (TypeError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        log.append_many(frame)
    assert log.count() == 0


# -- transactions ---------------------------------------------------------------------------------


def test_transaction_rolls_back_everything_when_the_body_raises(log):
    log.append("keep", 1, "view")
    with pytest.raises(RuntimeError, match="profile update failed"):
        with log.transaction() as tx:
            assert tx is log
            log.append("u", 1, "view")
            log.append_many(_frame(50))
            assert log.count() == 52  # the body reads its own uncommitted appends
            assert log.history("u").item_id.tolist() == [1]
            raise RuntimeError("profile update failed")
    assert log.count() == 1 and log.users() == ["keep"]
    assert log.last_seq() == 1
    assert not log._db().in_transaction


def test_transaction_commits_and_rolls_back_on_keyboard_interrupt(log):
    with log.transaction():
        log.append(1, 1, "view")
        log.append(1, 2, "favorite")
    assert log.history(1).item_id.tolist() == [1, 2]
    with pytest.raises(KeyboardInterrupt), log.transaction():
        log.append(1, 3, "view")
        raise KeyboardInterrupt
    assert log.history(1).item_id.tolist() == [1, 2]


def test_nested_transaction_is_a_savepoint(log):
    with log.transaction():
        log.append(1, 1, "view")
        with pytest.raises(ValueError, match="inner"), log.transaction():
            log.append(1, 2, "view")
            raise ValueError("inner")
        with log.transaction():
            log.append(1, 3, "view")
        # append_many inside a transaction joins it (as a savepoint); a bad frame adds nothing
        with pytest.raises(ValueError, match="kind='oops'"):
            log.append_many(_frame(2).assign(kind=["view", "oops"]))
    assert log.history(1).item_id.tolist() == [1, 3]


# -- several processes ----------------------------------------------------------------------------

APPENDER = """
import sys, time
from pathlib import Path
from recsys_nb.eventlog import EventLog
path, user, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
with EventLog(path) as log:  # both processes create the (new) file at the same moment
    for i in range(500):
        log.append(user, i, "view", timestamp=float(i), params={"i": i})
"""


def test_two_processes_appending_concurrently_lose_nothing(tmp_path):
    path, go = tmp_path / "new" / "events.sqlite", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(path), user, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for user in ("a", "b")
    ]
    time.sleep(0.3)  # let both interpreters reach the start line
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [err for _, err in outputs] == ["", ""]
    with EventLog(path) as log:
        assert log.count() == 1000
        assert sorted(log.users()) == ["a", "b"]
        everything = log.events()
        assert everything.seq.tolist() == list(range(1, 1001))
        for user in ("a", "b"):
            history = log.history(user)
            assert history.item_id.tolist() == list(range(500))
            assert [p["i"] for p in history.params] == list(range(500))
    assert _integrity(path) == "ok"


KILLED = """
import sys, time
import numpy as np, pandas as pd
from recsys_nb.eventlog import EventLog
path, batch, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "hold"
frame = pd.DataFrame({
    "user_id": np.arange(batch) % 7,
    "item_id": np.arange(batch),
    "kind": "view",
    "timestamp": np.arange(batch, dtype=float),
})
log = EventLog(path)
k = 0
while True:
    print(f"start {k}", flush=True)
    if hold and k == 2:  # stop half-way through a transaction, with its rows written
        with log.transaction():
            log.append_many(frame, params={"batch": k})
            print("holding", flush=True)
            time.sleep(600)
    log.append_many(frame, params={"batch": k})
    k += 1
"""


def _run_until_killed(path: Path, batch: int, hold: bool) -> tuple[list[str], float]:
    """Start the batch-appending child, SIGKILL it mid-transaction, return its lines."""
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(path), str(batch), "hold" if hold else "loop"],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    stamps: list[float] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            stamps.append(time.monotonic())
            if hold and lines[-1] == "holding":
                with EventLog(path) as other:  # the half-done batch is not visible to others
                    assert other.count() == 2 * batch
                break
            if not hold and lines[-1] == "start 3":
                # 3 batches committed; kill half-way through the 4th (at its measured pace)
                time.sleep((stamps[-1] - stamps[-2]) / 2)
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return lines, stamps[-1] - stamps[-2]


def test_sigkill_inside_an_open_transaction_keeps_none_of_it(tmp_path):
    path = tmp_path / "killed.sqlite"
    lines, _ = _run_until_killed(path, batch=5_000, hold=True)
    assert lines[-2:] == ["start 2", "holding"]
    assert _integrity(path) == "ok"
    with EventLog(path) as log:
        assert log.count() == 2 * 5_000
        assert sorted({p["batch"] for p in log.events().params}) == [0, 1]
        log.append(1, 1, "view")  # the log is usable after the crash
        assert log.count() == 2 * 5_000 + 1


def test_sigkill_during_append_many_keeps_all_or_none_of_the_batch(tmp_path):
    path = tmp_path / "killed.sqlite"
    batch = 20_000
    lines, _ = _run_until_killed(path, batch=batch, hold=False)
    assert lines[-1] == "start 3"
    assert _integrity(path) == "ok"
    with EventLog(path) as log:
        n = log.count()
        assert n % batch == 0 and n >= 3 * batch, n
        per_batch = log.events().params.map(lambda p: p["batch"]).value_counts()
        assert per_batch.to_dict() == dict.fromkeys(range(n // batch), batch)
        assert log.events().seq.tolist() == list(range(1, n + 1))


def test_per_user_queries_use_the_user_index(log):
    log.append_many(_frame(300))
    conn = log._db()
    queries = [
        "SELECT DISTINCT item_id FROM events WHERE user_id = ? AND user_id_type = ?",  # seen_items
        "SELECT seq FROM events WHERE user_id = ? AND user_id_type = ? ORDER BY seq DESC LIMIT 5",
        "SELECT COUNT(*) FROM events WHERE user_id = ? AND user_id_type = ?",
    ]
    for sql in queries:
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("1", "int")))
        assert (
            "USING INDEX events_user_seq" in plan or "USING COVERING INDEX events_user_seq" in plan
        )
        assert "SCAN events" not in plan, plan


def test_user_summary_is_last_seq_and_positivity_per_user(log):
    log.append(1, 10, "view")
    log.append("1", 11, "not_interested")
    log.append(1, 12, "not_interested")
    log.append("bob", 13, "favorite")
    summary = log.user_summary().set_index("user_id")
    assert summary.loc[1, "last_seq"] == 3 and bool(summary.loc[1, "has_positive"])
    assert summary.loc["1", "last_seq"] == 2 and not bool(summary.loc["1", "has_positive"])
    assert summary.loc["bob", "last_seq"] == 4
    assert len(summary) == 3
