"""eventsourcing's application recorders, extended by what the ledger keeps beside its events.

One subclass per backend (the library's pattern). Each adds, in the same database:
- the ``ledger_chain`` table (position, event id, ``recorded_at``, ``prev_hash``, ``hash``);
- the projection tables;
- triggers that refuse any UPDATE, DELETE (and, in PostgreSQL, TRUNCATE) of a stored
  event or chain row, so the log is append-only in the database itself; in SQLite also any
  INSERT over a stored row (``INSERT OR REPLACE``, ``REPLACE INTO``, upserts), which would
  delete it without firing the DELETE triggers.

These triggers are the ledger's guards: ``check_guards(db)`` on each recorder tells whether
the database's are still the ledger's own (present, enabled, not altered), before every
append and at the start of ``verify``.

``ledger_transaction()`` is the ledger's unit of work: one transaction in which the store
inserts stored events (``tx.insert``, the library's own insert, batch by batch), and writes
the chain and projection rows through ``tx.db``; all of it commits or rolls back together.
Used as the library's, the recorders behave exactly as its own: they pass its recorder test
suites, used plainly and through ``ledger_transaction()``.

On a SQLite file not yet in WAL mode (a new store), the recorder switches it to WAL itself
before the library's datastore connects (``switch_to_wal``): the datastore's own switch fails
at once with "database is locked" when another process is switching the same file, where
this one waits for the lock like any other write.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
)

import projections

from ._errors import IntegrityFailure
from ._sql import SqliteDb
from ._url import wal_file


@dataclass(frozen=True)
class LedgerTransaction:
    """One open write transaction of the ledger's: its cursor, the library's insert of
    stored events, and how to take the write lock before reading anything."""

    db: projections.Db
    insert: Callable[[Sequence[StoredEvent]], None]
    lock: Callable[[], None]


CHAIN_DDL = [
    "CREATE TABLE IF NOT EXISTS ledger_chain ("
    "position BIGINT PRIMARY KEY, "
    "event_id TEXT NOT NULL UNIQUE, "
    "recorded_at TEXT NOT NULL, "
    "recorded_us BIGINT NOT NULL, "
    "prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_chain_recorded ON ledger_chain (recorded_us)",
]

APPEND_ONLY_MESSAGE = "the ledger is append-only"

# A large import, rebuild or verification on SQLite touches index pages all over tables of
# millions of rows: a 64 MiB page cache (the default is 2 MiB) keeps them from being read
# back and written again page by page (measured: a third less system time on 300,000).
BULK_CACHE = "PRAGMA cache_size = -65536"
BULK_TEMP_CACHE = "PRAGMA temp.cache_size = -65536"


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {op} on {table} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _sqlite_no_replace(table: str, keys: Sequence[Sequence[str]]) -> str:
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


def _sqlite_guards(events_table: str) -> list[tuple[str, str, str]]:
    """The ledger's triggers in a SQLite store: (name, table, DDL) of each. The unique keys
    are the library's (its events table's primary key, and the rowid that is its
    notification id) and those of ``CHAIN_DDL`` (with the rowid every SQLite table has)."""
    guards: list[tuple[str, str, str]] = []
    for table, keys in (
        (events_table, [("rowid",), ("originator_id", "originator_version")]),
        ("ledger_chain", [("rowid",), ("position",), ("event_id",)]),
    ):
        update, delete = _sqlite_triggers(table)
        guards += [
            (f"{table}_no_update", table, update),
            (f"{table}_no_delete", table, delete),
            (f"{table}_no_replace", table, _sqlite_no_replace(table, keys)),
        ]
    return guards


def guard_failure(problems: Sequence[str]) -> IntegrityFailure:
    """The failure that names each guard that is not the ledger's own, and what is wrong."""
    return IntegrityFailure("the log's append-only guards are not the ledger's own: " + "; ".join(problems))


SQLITE_BUSY = 5  # sqlite3's result code (the low byte of an extended one) for "database is locked"


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


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    dialect = "sqlite"

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        pool = datastore.pool
        if not (pool.is_sqlite_memory_mode or pool.is_journal_mode_wal or wal_file(pool.db_name)):
            # Before the datastore's first connection: it would switch to WAL without waiting.
            switch_to_wal(pool.db_name, pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT)

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        db = SqliteDb(c)
        for statement in [
            *CHAIN_DDL,
            *projections.schema_statements(),
            *(ddl for _, _, ddl in _sqlite_guards(self.events_table_name)),
        ]:
            db.execute(statement)

    def check_guards(self, db: projections.Db, *, writing: bool = False) -> None:
        """Raise ``IntegrityFailure`` naming every guard (trigger) of the ledger's that is
        there but not its own: its definition (``sqlite_master.sql``, the whole trigger)
        differs from the ledger's DDL. One catalog query.

        A missing one is re-created when ``writing`` (in an append's transaction, under the
        write lock), as every opening of the store re-creates it; otherwise it is no failure
        (SQLite has no way to disable a trigger but to drop it, and the next opening of the
        store brings it back)."""
        db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        # SQLite's names are case-blind: ``STORED_EVENTS_NO_UPDATE`` is the guard's name too
        # (and makes its re-creation, IF NOT EXISTS, a no-op), so names are compared so.
        found = {row["name"].lower(): row for row in db.fetchall()}
        guards = _sqlite_guards(self.events_table_name)
        # Another trigger on the log's tables may skip or change an insert (RAISE(IGNORE)
        # before it: the append would be acknowledged and not stored).
        tables = {table.lower() for _, table, _ in guards}
        ours = {name.lower() for name, _, _ in guards}
        problems = [
            f"trigger {row['name']} on {row['tbl_name']} is not the ledger's (another trigger "
            "there may skip or change what is stored)"
            for key, row in found.items()
            if row["tbl_name"].lower() in tables and key not in ours
        ]
        for name, table, ddl in guards:
            row = found.get(name.lower())
            if row is None:
                if writing:
                    db.execute(ddl)
            elif row["tbl_name"] != table or row["sql"] != ddl.replace(" IF NOT EXISTS", "", 1):
                problems.append(f"trigger {name} on {table} is altered (its definition is not the ledger's)")
        if problems:
            raise guard_failure(problems)

    @contextmanager
    def ledger_transaction(self, *, small: bool = False) -> Iterator[LedgerTransaction]:
        with self.datastore.transaction(commit=True) as c:
            db = SqliteDb(c)
            if not small:
                db.execute(BULK_CACHE)
            yield LedgerTransaction(
                db,
                lambda events: self._insert_rows(c, events),
                # Any write takes SQLite's one writer lock until commit.
                lambda: db.execute(f"DELETE FROM {self.events_table_name} WHERE 1 = 0"),
            )

    def _insert_rows(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> None:
        """The library's insert of stored events (same statement and values), in one call."""
        c.executemany(
            self.insert_events_statement,
            [(_hex(s.originator_id), s.originator_version, s.topic, s.state) for s in stored_events],
        )


def _hex(originator_id: object) -> object:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


# PostgreSQL trigger names are per table, so they need not (and must not) embed the table's
# name: "{table}_append_only" for a table name of 52 to 63 characters (the library allows 63)
# is truncated to 63, both triggers get one name, and CREATE OR REPLACE silently swaps the
# UPDATE/DELETE trigger for the TRUNCATE one, leaving the table open to updates.
_PG_TRIGGER_NAMES = ("ledger_append_only", "ledger_no_truncate")


def drop_triggers_statements(dialect: str, events_table: str) -> list[str]:
    """What an attacker with DDL rights would run first (used by the tamper tests)."""
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {t}_no_{op}"
            for t in (events_table, "ledger_chain")
            for op in ("update", "delete", "replace")
        ]
    return [
        f'DROP TRIGGER IF EXISTS "{name}" ON "{t}"'
        for t in (events_table, "ledger_chain")
        for name in _PG_TRIGGER_NAMES
    ]


def __getattr__(name: str) -> Any:
    # The PostgreSQL recorder lives apart so that SQLite users never import psycopg.
    if name == "PostgresLedgerRecorder":
        from ._recorders_pg import PostgresLedgerRecorder

        return PostgresLedgerRecorder
    raise AttributeError(name)


__all__ = [
    "BULK_CACHE",
    "BULK_TEMP_CACHE",
    "SQLiteLedgerRecorder",
    "drop_triggers_statements",
    "guard_failure",
]
