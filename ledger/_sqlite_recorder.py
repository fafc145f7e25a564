"""eventsourcing's SQLite application recorder, extended by what the ledger keeps beside its events.

It adds, in the same database, the chain table, the projection tables and the guards of
``_sqlite`` (triggers that keep the log append-only in the database itself); and
``ledger_transaction()``, the ledger's unit of work: one transaction in which the store
inserts stored events (``tx.insert``, the library's own insert, batch by batch) and writes
the chain and projection rows through ``tx.db``; all of it commits or rolls back together.
Used as the library's, the recorder behaves exactly as its own: it passes the library's
recorder test suites, used plainly and through ``ledger_transaction()``.

On a SQLite file not yet in WAL mode (a new store), the recorder switches it to WAL itself
before the library's datastore connects (``_sqlite.switch_to_wal``): the datastore's own
switch fails at once with "database is locked" when another process is switching the same
file, where this one waits for the lock like any other write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
)

import projections

from ._sql import CHAIN_DDL, NODES_DDL, Db, LedgerTransaction
from ._sqlite import BULK_CACHE, SqliteDb, check_guards, guards, switch_to_wal, wal_file


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    dialect = "sqlite"

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self._held: SQLiteCursor | None = None  # ``held_transaction``'s, while it is open
        pool = datastore.pool
        if not (pool.is_sqlite_memory_mode or pool.is_journal_mode_wal or wal_file(pool.db_name)):
            # Before the datastore's first connection: it would switch to WAL without waiting.
            switch_to_wal(pool.db_name, pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT)

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        db = SqliteDb(c)
        for statement in [
            *CHAIN_DDL,
            *NODES_DDL,
            *projections.schema_statements(),
            *(ddl for _, _, ddl in guards(self.events_table_name)),
        ]:
            db.execute(statement)

    def check_guards(self, db: Db, *, writing: bool = False) -> None:
        """``_sqlite.check_guards`` on this recorder's tables."""
        check_guards(db, self.events_table_name, writing=writing)

    @contextmanager
    def held_transaction(self, *, commit: bool) -> Iterator[None]:
        """One transaction around every ``ledger_transaction`` opened inside it, each then a
        savepoint of it (undone alone when it fails); committed at the end, or rolled back
        where ``commit`` is False (a dry run: everything done inside is seen by what follows
        it inside, and by nothing else)."""
        if self._held is not None:
            raise RuntimeError("a held transaction is open already")
        with self.datastore.transaction(commit=commit) as c:
            self._held = c
            try:
                yield
            finally:
                self._held = None

    @contextmanager
    def ledger_transaction(self, *, small: bool = False) -> Iterator[LedgerTransaction]:
        held = self._held
        if held is not None:
            with _savepoint(held):
                yield self._transaction(held, small)
            return
        with self.datastore.transaction(commit=True) as c:
            yield self._transaction(c, small)

    def _transaction(self, c: SQLiteCursor, small: bool) -> LedgerTransaction:
        db = SqliteDb(c)
        if not small:
            db.execute(BULK_CACHE)
        return LedgerTransaction(
            db,
            lambda events: self._insert_rows(c, events),
            lambda: db.take_write_lock(self.events_table_name),
        )

    def _insert_rows(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> None:
        """The library's insert of stored events (same statement and values), in one call."""
        c.executemany(
            self.insert_events_statement,
            [(_hex(s.originator_id), s.originator_version, s.topic, s.state) for s in stored_events],
        )


@contextmanager
def _savepoint(c: SQLiteCursor) -> Iterator[None]:
    """A savepoint on ``c``: released when the block ends, rolled back to when it raises."""
    c.execute("SAVEPOINT ledger_append")
    try:
        yield
    except BaseException:
        c.execute("ROLLBACK TO ledger_append")
        c.execute("RELEASE ledger_append")
        raise
    c.execute("RELEASE ledger_append")


def _hex(originator_id: object) -> object:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id
