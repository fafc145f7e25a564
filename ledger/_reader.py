"""Queries on a SQLite store through one persistent, read-only connection of their own.

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
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from urllib.parse import quote

import projections

from ._sql import SqliteDb


def reader_for(db_name: str, lock_timeout: float) -> SqliteReader | None:
    """A reader for eventsourcing's ``SQLITE_DBNAME``, or None where the pool must serve."""
    if not db_name or ":memory:" in db_name or "mode=memory" in db_name or db_name.startswith("file:"):
        return None
    return SqliteReader(os.path.abspath(db_name), lock_timeout)


class SqliteReader:
    """The lazily opened read-only connection of one ``Ledger`` on one SQLite file."""

    def __init__(self, path: str, lock_timeout: float) -> None:
        self._uri = f"file:{quote(path)}?mode=ro"
        self._timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        self._cursor: sqlite3.Cursor | None = None  # for single statements, kept: no cursor each
        self._owner = 0

    def _open(self) -> None:
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
