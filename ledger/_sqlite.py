"""The SQLite backend: its ``Db``, its connections, its guards, its part of the environment.

- ``SqliteDb``: eventsourcing's cursor (or the ledger's own) with the SQLite spelling of
  what differs between backends (see ``_sql.Db``).
- The guards: triggers that refuse any UPDATE or DELETE of a stored event, chain row or tree node,
  and any INSERT over a stored row (``INSERT OR REPLACE``, ``REPLACE INTO``, upserts), which
  would delete it without firing the DELETE triggers. ``check_guards`` tells whether the
  database's are still the ledger's own. The recorder (``_sqlite_recorder``) creates them.
- The connections: eventsourcing's pool for writes, and for queries one more connection
  of the ``Ledger``'s own, opened on first use, read-only (``mode=ro``: it can never change
  the store), in autocommit mode (``SqliteReader``). eventsourcing's datastore wraps every
  use of its pooled connections in a transaction (``BEGIN`` … ``ROLLBACK``), which costs
  many times what an index lookup does:

  - a question answered by one statement (``ledger por``) runs it on its own, with no
    explicit transaction (``single_statements``): one statement is its own consistent snapshot.
    A question of two statements whose second only narrows by the first's answer stays
    consistent too: the data is append-only and bitemporal, so what was believed after a
    known position (``--known-at``) never changes once recorded;
  - a question of several statements (a customer, history, the report) runs them in one
    read transaction (``BEGIN`` … ``ROLLBACK``) on that connection (``read``).

  Outside a transaction every statement sees whatever was committed before it began, by
  any connection of any process (WAL mode), including the ``Ledger``'s own appends. The
  connection belongs to the thread that opened it; any other thread, a read nested in a
  read transaction already open on it, and stores it cannot serve (a ``file:`` URI given
  as the path) take eventsourcing's pooled connections as before.
- ``SqliteReadStore``: a question asked by URL alone, on one connection of its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import quote

from ._errors import StoreError
from ._files import create_private_database
from ._sql import APPEND_ONLY_MESSAGE, CHAIN, NODES, STREAM_ID, CannotServe, Db, ReadStore, guard_failure
from ._url import SQLITE_LOCK_TIMEOUT, StoreUrl

# A large import, rebuild or verification on SQLite touches index pages all over tables of
# millions of rows: a 64 MiB page cache (the default is 2 MiB) keeps them from being read
# back and written again page by page (measured: a third less system time on 300,000).
BULK_CACHE = "PRAGMA cache_size = -65536"
BULK_TEMP_CACHE = "PRAGMA temp.cache_size = -65536"

SQLITE_BUSY = 5  # sqlite3's result code (the low byte of an extended one) for "database is locked"


class SqliteDb(Db):
    """Wraps a sqlite3 cursor (rows are ``sqlite3.Row``)."""

    dialect = "sqlite"
    stream_id = STREAM_ID.hex
    real_schema = "main"

    def __init__(self, cursor: Any) -> None:
        self._c = cursor

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        self._c.execute(statement, params)

    def fetchone(self) -> Mapping[str, Any] | None:
        row = self._c.fetchone()
        return None if row is None else dict(row)

    def fetchall(self) -> list[Mapping[str, Any]]:
        return [dict(r) for r in self._c.fetchall()]

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        self._c.executemany(statement, rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Insert many rows into ``table`` (one ``executemany``)."""
        marks = ", ".join("?" * len(columns))
        self._c.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def row(self, statement: str, params: Sequence[object]) -> Sequence[Any] | None:
        self._c.execute(statement, params)  # eventsourcing's cursor answers None
        found: Sequence[Any] | None = self._c.fetchone()  # a sqlite3.Row: by index or by name
        return found

    def ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def take_write_lock(self, events_table: str) -> None:
        # Any write takes SQLite's one writer lock until commit.
        self.execute(f"DELETE FROM {self.ident(events_table)} WHERE 1 = 0")

    def bulk(self) -> None:
        self.execute(BULK_CACHE)
        self.execute(BULK_TEMP_CACHE)

    def create_temp_table(self, ddl: str) -> None:
        self.execute(ddl.replace("CREATE TABLE IF NOT EXISTS ", "CREATE TEMP TABLE ", 1))

    def create_temp_index(self, ddl: str, name: str) -> None:
        self.execute(ddl.replace(f"IF NOT EXISTS {name}", f"temp.twin_{name}", 1))

    def drop_temp_tables(self, names: Iterable[str]) -> None:
        for name in names:
            self.execute(f"DROP TABLE IF EXISTS temp.{name}")


class _TupleRows(SqliteDb):
    """A plain sqlite3 cursor's rows, tuples (the quickest for ``row``: ``ledger por``),
    mapped by column name where asked for (``fetchone``, ``fetchall``)."""

    def fetchone(self) -> Mapping[str, Any] | None:
        row = self._c.fetchone()
        return None if row is None else dict(zip(self._names(), row, strict=True))

    def fetchall(self) -> list[Mapping[str, Any]]:
        names = self._names()
        return [dict(zip(names, row, strict=True)) for row in self._c.fetchall()]

    def row(self, statement: str, params: Sequence[object]) -> Sequence[Any] | None:
        found: Sequence[Any] | None = self._c.execute(statement, params).fetchone()
        return found

    def _names(self) -> list[str]:
        return [column[0] for column in self._c.description]


# --- the guards ------------------------------------------------------------------------------


def _triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {op} on {table} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _no_replace(table: str, keys: Sequence[Sequence[str]]) -> str:
    """A trigger refusing an INSERT that conflicts with a stored row on any of ``keys`` (the
    table's unique keys, the rowid among them). Such an insert fails anyway, unless it asks
    SQLite to resolve the conflict by deleting the stored row (``INSERT OR REPLACE``,
    ``REPLACE INTO``), which fires no DELETE trigger while ``recursive_triggers`` is off (a
    setting of the connection, the attacker's). A BEFORE INSERT trigger fires before any
    conflict is resolved, in every spelling; upserts and ``OR IGNORE`` are refused too."""
    found = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE {' AND '.join(f'{k} = NEW.{k}' for k in key)})" for key in keys
    )
    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} WHEN {found} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: INSERT over a stored row of {table} "
        "refused'); END"
    )


def guards(events_table: str) -> list[tuple[str, str, str]]:
    """The ledger's triggers in a SQLite store: (name, table, DDL) of each. The unique keys
    are the library's (its events table's primary key, and the rowid that is its
    notification id) and those of ``CHAIN_DDL`` (with the rowid every SQLite table has)."""
    found: list[tuple[str, str, str]] = []
    for table, keys in (
        (events_table, [("rowid",), ("originator_id", "originator_version")]),
        (CHAIN, [("rowid",), ("position",), ("event_id",)]),
        (NODES, [("rowid",), ("level", "idx")]),
    ):
        update, delete = _triggers(table)
        found += [
            (f"{table}_no_update", table, update),
            (f"{table}_no_delete", table, delete),
            (f"{table}_no_replace", table, _no_replace(table, keys)),
        ]
    return found


def check_guards(db: Db, events_table: str, *, writing: bool = False) -> None:
    """Raise ``IntegrityFailure`` naming every guard (trigger) of the ledger's that is
    there but not its own: its definition (``sqlite_master.sql``, the whole trigger)
    differs from the ledger's DDL; and every other trigger on the log's tables. One catalog
    query.

    A missing one is re-created when ``writing`` (in an append's transaction, under the
    write lock), as every opening of the store re-creates it; otherwise it is no failure
    (SQLite has no way to disable a trigger but to drop it, and the next opening of the
    store brings it back)."""
    db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    # SQLite's names are case-blind: ``STORED_EVENTS_NO_UPDATE`` is the guard's name too
    # (and makes its re-creation, IF NOT EXISTS, a no-op), so names are compared so.
    found = {row["name"].lower(): row for row in db.fetchall()}
    ours = guards(events_table)
    # Another trigger on the log's tables may skip or change an insert (RAISE(IGNORE)
    # before it: the append would be acknowledged and not stored).
    tables = {table.lower() for _, table, _ in ours}
    names = {name.lower() for name, _, _ in ours}
    problems = [
        f"trigger {row['name']} on {row['tbl_name']} is not the ledger's (another trigger "
        "there may skip or change what is stored)"
        for key, row in found.items()
        if row["tbl_name"].lower() in tables and key not in names
    ]
    for name, table, ddl in ours:
        row = found.get(name.lower())
        if row is None:
            if writing:
                db.execute(ddl)
        elif row["tbl_name"] != table or row["sql"] != ddl.replace(" IF NOT EXISTS", "", 1):
            problems.append(f"trigger {name} on {table} is altered (its definition is not the ledger's)")
    if problems:
        raise guard_failure(problems)


def drop_triggers_statements(events_table: str) -> list[str]:
    """What an attacker with DDL rights would run first (used by the tamper tests)."""
    return [
        f"DROP TRIGGER IF EXISTS {t}_no_{op}"
        for t in (events_table, CHAIN, NODES)
        for op in ("update", "delete", "replace")
    ]


# --- the file ----------------------------------------------------------------------------------


def wal_file(path: str) -> bool:
    """Whether ``path`` is a plain path (not a ``file:`` URI, not ``:memory:``) to a SQLite
    file in WAL mode, read from its header (read and write versions 2:
    https://sqlite.org/fileformat.html). Once in WAL mode a file stays so."""
    if path.startswith("file:") or path == ":memory:":
        return False
    try:
        with open(path, "rb") as file:
            header = file.read(20)
    except OSError:
        return False
    return header[:16] == b"SQLite format 3\x00" and header[18:20] == b"\x02\x02"


def switch_to_wal(db_name: str, lock_timeout: float) -> None:
    """Put a SQLite file in WAL (write-ahead log) mode, as eventsourcing's datastore does on
    its first connection, but waiting for the write lock as any other write does: up to
    ``lock_timeout`` seconds.

    The switch reads the file's header, then takes the write lock to rewrite it. While
    another connection holds that lock (another process switching the same fresh file),
    SQLite refuses to turn the read into a write at once, "database is locked", without
    calling the busy handler: its deadlock avoidance. So on that refusal this waits for the
    lock (``BEGIN IMMEDIATE`` waits, through the busy handler), lets it go and tries again,
    by which time the other has usually switched the file already. Once the file is in WAL
    mode, the datastore finds it so and does not switch it again."""
    deadline = time.monotonic() + lock_timeout
    try:
        conn = sqlite3.connect(db_name, uri=True, isolation_level=None, timeout=lock_timeout)
    except (sqlite3.Error, TypeError):
        return  # the datastore's own connection reports it, as it would have
    try:
        while True:
            try:
                (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            # Wait for the writer, up to what is left of the busy timeout.
            conn.execute(f"PRAGMA busy_timeout = {int(max(deadline - time.monotonic(), 0) * 1000)}")
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
    finally:
        conn.close()


def sqlite_read_only(path: str) -> str | None:
    """How to open the SQLite file at ``path`` where this process may read it but not write
    it (an auditor's copy: a read-only mount, a file or folder without write permission):
    the ``mode`` of its URI; None where it may be written, or is not there (a ``Ledger``
    creates it, or says why it cannot).

    A ledger's file is in WAL mode, which SQLite reads through a ``-shm`` file beside it,
    made on first use (https://www.sqlite.org/wal.html, "Read-Only Databases"). A file with
    no write-ahead log beside it is opened ``immutable``: no ``-shm``, no locks, SQLite
    trusts that nothing changes the file while it is read (nothing may write a read-only
    copy). A file with its log (events not yet folded into the file) is read through its
    ``-shm``; where that is missing and cannot be made, the log cannot be read, and this says
    so rather than answer without the log's events."""
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        return None
    folder = os.path.dirname(os.path.abspath(path))
    folder_writable = os.access(folder, os.W_OK | os.X_OK)
    if os.access(path, os.W_OK) and (
        folder_writable or all(os.access(path + end, os.W_OK) for end in ("-wal", "-shm"))
    ):
        return None
    log = path + "-wal"
    if not os.path.isfile(log) or os.path.getsize(log) == 0:
        return "ro&immutable=1"
    if not os.path.exists(path + "-shm") and not folder_writable:
        raise StoreError(
            f"cannot read the read-only store {path}: its write-ahead log {log} holds events "
            f"not yet in the file, which SQLite reads only through {path}-shm, missing here "
            "and not to be made in a folder that cannot be written: copy the three files "
            "together, or give the folder write permission"
        )
    return "ro"


# --- the connections ---------------------------------------------------------------------------


class SqliteReader:
    """The lazily opened read-only connection of one ``Ledger`` on one SQLite file.

    ``mode`` ``rw`` (a ``SqliteReadStore``'s, the only connection to the file in its
    process): the file must exist, as with ``ro``, but the connection may be the last one
    to close, which folds the write-ahead log back into the file and removes it, as
    eventsourcing's connection does; a read-only one cannot, and leaves the log files
    behind. Only queries are ever run on it. A file this process may not write is opened
    as ``sqlite_read_only`` says."""

    def __init__(self, path: str, lock_timeout: float, mode: str = "ro") -> None:
        self._uri = f"file:{quote(path)}?mode={mode}"
        self._timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        self._single: SqliteDb | None = None  # for single statements, kept: no cursor each
        self._owner = 0

    def _open(self) -> None:
        conn = sqlite3.connect(
            self._uri, uri=True, isolation_level=None, check_same_thread=False, timeout=self._timeout
        )
        single = _TupleRows(conn.cursor())
        self._conn, self._single, self._owner = conn, single, threading.get_ident()

    def connection(self) -> sqlite3.Connection | None:
        """The connection, opened on first use; None on a thread other than its owner's."""
        if self._conn is None:
            self._open()
        return self._conn if self._owner == threading.get_ident() else None

    def single(self) -> SqliteDb | None:
        """The connection's kept cursor for single statements, as ``connection``."""
        if self._single is None:
            self._open()
        return self._single if self._owner == threading.get_ident() else None

    @contextmanager
    def read(self, fallback: Callable[[], AbstractContextManager[Db]]) -> Iterator[Db]:
        """One read transaction on this connection; ``fallback`` (the pool's) where the
        connection is not free."""
        conn = self.connection()
        if conn is None or conn.in_transaction:
            with fallback() as db:
                yield db
            return
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row
        cursor.execute("BEGIN")
        try:
            yield SqliteDb(cursor)
        finally:
            if conn.in_transaction:
                conn.rollback()
            cursor.close()

    def close(self) -> None:
        conn, self._conn, self._single = self._conn, None, None
        if conn is not None:
            conn.close()


def reader_for(db_name: str, lock_timeout: float) -> SqliteReader | None:
    """A reader for eventsourcing's ``SQLITE_DBNAME``, or None where the pool must serve."""
    if not db_name or ":memory:" in db_name or "mode=memory" in db_name or db_name.startswith("file:"):
        return None
    return SqliteReader(os.path.abspath(db_name), lock_timeout)


def environment(where: StoreUrl, wait: int) -> dict[str, str]:
    """eventsourcing's environment for the SQLite file at ``where``."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": where.sqlite_path,
        "SQLITE_LOCK_TIMEOUT": str(wait),
        "APPLICATION_RECORDER_TOPIC": "ledger._sqlite_recorder:SQLiteLedgerRecorder",
    }


def _open_read_only(env: dict[str, str]) -> bool:
    """Whether the store is a SQLite file this process may read but not write (an auditor's
    copy), opened read-only then: ``SQLITE_DBNAME`` becomes its read-only URI (see
    ``sqlite_read_only``), eventsourcing creates no table (which would write), and reads
    take eventsourcing's pooled connections (``reader_for`` serves no URI)."""
    path = env.get("SQLITE_DBNAME", "")
    mode = sqlite_read_only(path) if path else None
    if mode is None:
        return False
    env["SQLITE_DBNAME"] = f"file:{quote(os.path.abspath(path))}?mode={mode}"
    env["CREATE_TABLE"] = "false"
    return True


class SqliteBackend:
    """A ``Ledger``'s connections to a SQLite file (see the module)."""

    name = "sqlite"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)

    def __init__(self, where: StoreUrl, wait: int) -> None:
        self.env = environment(where, wait)
        self.read_only = _open_read_only(self.env)
        if not self.read_only:
            create_private_database(self.env["SQLITE_DBNAME"])  # owner-only, before SQLite makes it
        self._reader = reader_for(self.env["SQLITE_DBNAME"], float(wait))
        self._recorder: Any = None

    def attach(self, recorder: Any) -> None:
        self._recorder = recorder

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Db]:
        with self._recorder.datastore.transaction(commit=commit) as cursor:
            yield SqliteDb(cursor)

    def _pooled(self) -> AbstractContextManager[Db]:
        return self.transaction(commit=False)

    def read(self) -> AbstractContextManager[Db]:
        if self._reader is None:
            return self._pooled()
        return self._reader.read(self._pooled)

    def single_statements(self) -> AbstractContextManager[Db]:
        """On the kept cursor (a ``Db`` is its own context), else the pool's transaction."""
        single = None if self._reader is None else self._reader.single()
        return self._pooled() if single is None else single

    def check_guards(self, db: Db, events_table: str, *, writing: bool = False) -> None:
        check_guards(db, events_table, writing=writing)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


class SqliteReadStore(ReadStore):
    """A question's own connection to a ledger's SQLite file (``SqliteReader``, mode ``rw``)."""

    errors = (CannotServe, sqlite3.Error, OSError)

    def __init__(self, url: str, path: str) -> None:
        super().__init__(url)
        self._reader = SqliteReader(path, SQLITE_LOCK_TIMEOUT, sqlite_read_only(path) or "rw")

    def close(self) -> None:
        self._reader.close()

    def read(self) -> AbstractContextManager[Db]:
        return self._reader.read(_unserved)

    def single_statements(self) -> AbstractContextManager[Db]:
        single = self._reader.single()
        return _unserved() if single is None else single


def _unserved() -> AbstractContextManager[Db]:
    raise CannotServe("the connection is busy")
