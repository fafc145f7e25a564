"""Queries on a store through connections of their own, beside eventsourcing's.

eventsourcing's datastore hands out pooled connections and wraps every use in a transaction
(``BEGIN`` … ``ROLLBACK``), which costs many times what an index lookup does. A ``Ledger`` on
a SQLite file therefore keeps one more connection, opened on first use, read-only
(``mode=ro``: it can never change the store), in autocommit mode:

- a question answered by one statement (``ledger por``) runs it on its own, with no explicit
  transaction: one statement is its own consistent snapshot. A question of two statements
  whose second only narrows by the first's answer stays consistent too: the data is
  append-only and bitemporal, so what was believed after a known position (``--known-at``)
  never changes once recorded;
- a question of several statements (a customer, history, the report) runs them in one
  read transaction (``BEGIN`` … ``ROLLBACK``) on that connection (``Ledger.read``).

Outside a transaction every statement sees whatever was committed before it began, by any
connection of any process (WAL mode), including the ``Ledger``'s own appends.

The connection belongs to the thread that opened it; any other thread, a read nested in a
read transaction already open on it, and stores it cannot serve (an in-memory database, a
``file:`` URI given as the path) take eventsourcing's pooled connections as before.

A question asked of a store by its URL alone (the ``ledger`` command's ``por``,
``delegations`` and ``customer``) needs no ``Ledger`` at all: a ``ReadStore`` opens one
connection of its own to a store that is there already, with none of what a ``Ledger``
sets up to write (eventsourcing's application, recorder and connection pool, the tables'
DDL) nor the imports that costs, which are most of a short process's time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import projections

from ._errors import LedgerError, StoreError
from ._sql import PostgresDb, SqliteDb
from ._url import SQLITE_LOCK_TIMEOUT, store_error, store_url, wal_file

if TYPE_CHECKING:
    import sqlite3


def reader_for(db_name: str, lock_timeout: float) -> SqliteReader | None:
    """A reader for eventsourcing's ``SQLITE_DBNAME``, or None where the pool must serve."""
    if not db_name or ":memory:" in db_name or "mode=memory" in db_name or db_name.startswith("file:"):
        return None
    return SqliteReader(os.path.abspath(db_name), lock_timeout)


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


class SqliteReader:
    """The lazily opened read-only connection of one ``Ledger`` on one SQLite file.

    ``mode`` ``rw`` (a ``ReadStore``'s, the only connection to the file in its process):
    the file must exist, as with ``ro``, but the connection may be the last one to close,
    which folds the write-ahead log back into the file and removes it, as eventsourcing's
    connection does; a read-only one cannot, and leaves the log files behind. Only
    queries are ever run on it. A file this process may not write is opened as
    ``sqlite_read_only`` says."""

    def __init__(self, path: str, lock_timeout: float, mode: str = "ro") -> None:
        self._uri = f"file:{quote(path)}?mode={mode}"
        self._timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        self._cursor: sqlite3.Cursor | None = None  # for single statements, kept: no cursor each
        self._owner = 0

    def _open(self) -> None:
        import sqlite3

        conn = sqlite3.connect(
            self._uri, uri=True, isolation_level=None, check_same_thread=False, timeout=self._timeout
        )
        self._conn, self._cursor, self._owner = conn, conn.cursor(), threading.get_ident()

    def connection(self) -> sqlite3.Connection | None:
        """The connection, opened on first use; None on a thread other than its owner's."""
        if self._conn is None:
            self._open()
        return self._conn if self._owner == threading.get_ident() else None

    def cursor(self) -> sqlite3.Cursor | None:
        """The connection's cursor for single statements (rows as tuples), as ``connection``."""
        if self._cursor is None:
            self._open()
        return self._cursor if self._owner == threading.get_ident() else None

    @contextmanager
    def read(
        self,
        errors: AbstractContextManager[None],
        fallback: Callable[[], AbstractContextManager[projections.Db]],
    ) -> Iterator[projections.Db]:
        """One read transaction (``Ledger.read``) on this connection, within ``errors`` (the
        store's error mapping); ``fallback`` (the pool's) where the connection is not free."""
        import sqlite3

        with errors:
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
        conn, self._conn, self._cursor = self._conn, None, None
        if conn is not None:
            conn.close()


# --- questions by URL -----------------------------------------------------------------------


class Unserved(Exception):
    """A ``ReadStore`` cannot answer here: a ``Ledger`` answers instead."""


class ReadStore:
    """One store opened to answer questions alone, by URL: on SQLite one connection to the
    file (``SqliteReader``, mode ``rw``), on PostgreSQL one autocommit connection made with
    the ledger's schema as its search path. ``read`` and ``statements`` as a ``Ledger``'s.

    It serves only a store that is there already (a SQLite file in WAL mode, as every
    ledger's is): ``read_store`` gives None for anything else, and any error of the driver
    on the way (``errors``: a table missing, a server that cannot be reached) is for the
    caller to ask a ``Ledger`` instead, which creates the store's tables, or reports the
    error, exactly as it always has. Use it as a context manager: entering connects; a
    server that refuses the connection is the store's error at once (``StoreError``), as a
    ``Ledger`` would report it: a ``Ledger`` connects with the same parameters."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_path: str = "",
        pg: dict[str, str] | None = None,
        schema: str = "",
        options: dict[str, str] | None = None,
    ) -> None:
        """``sqlite_path``: a SQLite file's; or ``pg``: the connection parameters of a
        PostgreSQL store, whose tables are in ``schema``, and every other libpq option
        its connections are made with (``StoreUrl.connection_options``)."""
        self.url = url
        self.dialect = "sqlite" if sqlite_path else "postgresql"
        self._reader = (
            SqliteReader(sqlite_path, SQLITE_LOCK_TIMEOUT, sqlite_read_only(sqlite_path) or "rw")
            if sqlite_path
            else None
        )
        self._pg_params = pg or {}
        self._pg_options = options or {}
        self._schema = schema
        self._pg: Any = None  # the psycopg connection, made on entering

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """What the driver raises where the store is not as this expects (and ``Unserved``)."""
        if self.dialect == "sqlite":
            import sqlite3

            return (Unserved, sqlite3.Error, OSError)
        import psycopg

        return (Unserved, psycopg.Error, OSError)

    def __enter__(self) -> ReadStore:
        if self.dialect == "postgresql":
            import psycopg  # only PostgreSQL stores load psycopg
            from psycopg.conninfo import make_conninfo
            from psycopg.rows import dict_row

            try:
                self._pg = psycopg.connect(
                    make_conninfo("", **self._pg_params, **self._pg_options),
                    autocommit=True,
                    row_factory=dict_row,
                )
            except psycopg.OperationalError as exc:  # the server's answer: a Ledger would get it too
                raise store_error(self.url, exc) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        conn, self._pg = self._pg, None
        if conn is not None:
            conn.close()

    def read(self) -> AbstractContextManager[projections.Db]:
        """One read transaction, as ``Ledger.read``."""
        if self._reader is not None:
            return self._reader.read(nullcontext(), _unserved)
        return self._pg_read()

    @contextmanager
    def _pg_read(self) -> Iterator[projections.Db]:
        with self._pg.transaction(force_rollback=True):
            yield PostgresDb(self._pg.cursor(), self._schema)

    @contextmanager
    def statements(self) -> Iterator[projections.Db]:
        """Statements each on its own, with no transaction around them, as ``Ledger.statements``."""
        if self._reader is not None:
            with self.read() as db:
                yield db
            return
        yield PostgresDb(self._pg.cursor(), self._schema)


def _unserved() -> AbstractContextManager[projections.Db]:
    raise Unserved("the connection is busy")


def read_store(url: str | None) -> ReadStore | None:
    """A ``ReadStore`` for ``url`` (None: ``LEDGER_DB`` or the default), as a ``Ledger``
    would open it (``_url.store_url``), or None where a ``Ledger`` must: a URL that is bad
    input, an in-memory database, a SQLite file that is not there or not a ledger's (not in
    WAL mode)."""
    try:
        where = store_url(url)
    except (LedgerError, ValueError):  # a Ledger says what is wrong with it
        return None
    if where.dialect == "postgresql":
        return ReadStore(
            where.url, pg=dict(where.pg), schema=where.schema, options=where.connection_options()
        )
    if not wal_file(where.sqlite_path):  # not there yet, in memory, a URI: a Ledger's
        return None
    return ReadStore(where.url, sqlite_path=os.path.abspath(where.sqlite_path))
