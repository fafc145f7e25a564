"""eventsourcing's application recorders, extended by what the ledger keeps beside its events.

One subclass per backend (the library's pattern). Each adds, in the same database:
- the ``ledger_chain`` table (position, event id, ``recorded_at``, ``prev_hash``, ``hash``);
- the projection tables;
- triggers that refuse any UPDATE, DELETE (and, in PostgreSQL, TRUNCATE) of a stored
  event or chain row, so the log is append-only in the database itself.

``insert_events(stored_events, ledger_work=fn)`` runs ``fn(db)`` inside the transaction that
inserts the events, after them: the rulebook, the chain and the projections commit or roll
back together with the events. Without ``ledger_work`` the recorders behave exactly as the
library's (they pass its recorder test suites).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.errors import DuplicateObject

import projections

from ._sql import PostgresDb, SqliteDb

Work = Callable[[projections.Db], None]

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


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {op} on {table} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        db = SqliteDb(c)
        for statement in [
            *CHAIN_DDL,
            *projections.schema_statements(),
            *_sqlite_triggers(self.events_table_name),
            *_sqlite_triggers("ledger_chain"),
        ]:
            db.execute(statement)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        work: Work | None = kwargs.get("ledger_work")
        if work is not None:
            work(SqliteDb(c))
        return ids


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % on % refused', '{APPEND_ONLY_MESSAGE}', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


# PostgreSQL trigger names are per table, so they need not (and must not) embed the table's
# name: "{table}_append_only" for a table name of 52 to 63 characters (the library allows 63)
# is truncated to 63, both triggers get one name, and CREATE OR REPLACE silently swaps the
# UPDATE/DELETE trigger for the TRUNCATE one, leaving the table open to updates.
_PG_TRIGGER_NAMES = ("ledger_append_only", "ledger_no_truncate")


def _pg_triggers(table: str) -> list[str]:
    row, statement = _PG_TRIGGER_NAMES
    return [
        f'CREATE OR REPLACE TRIGGER "{row}" BEFORE UPDATE OR DELETE ON "{table}" '
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
        f'CREATE OR REPLACE TRIGGER "{statement}" BEFORE TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
    ]


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    def create_table(self) -> None:
        # Many processes may open a fresh database at once: create under an advisory lock,
        # and skip the DDL entirely once the ledger's tables exist. All the DDL runs in one
        # transaction on the connection holding the lock, so a pool of one connection
        # suffices (the library's default) and the tables appear all together or not at all.
        if not self._ledger_tables_exist():
            with self.datastore.get_connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('relationship-ledger-ddl'))")
                if not self._ledger_tables_exist(conn):
                    # As the library's create_table: composite types first, each allowed to
                    # exist already (here in a savepoint), then tables, indexes, functions.
                    for statement in self.sql_create_statements:
                        if "CREATE TYPE" in statement.as_string():
                            with contextlib.suppress(DuplicateObject), conn.transaction():
                                conn.execute(statement, prepare=False)
                    with conn.cursor() as curs:
                        self._create_table(curs)
        self.datastore.register_type_adapters()

    def _ledger_tables_exist(self, conn: psycopg.Connection[Any] | None = None) -> bool:
        if conn is None:
            with self.datastore.get_connection() as own:
                return self._ledger_tables_exist(own)
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS ok",
            [f'"{self.datastore.schema}".ledger_chain'],
        ).fetchone()
        return bool(row and row["ok"])

    def _create_table(self, curs: psycopg.Cursor[Any]) -> None:
        super()._create_table(curs)
        db = PostgresDb(curs, self.datastore.schema)
        for statement in [
            *CHAIN_DDL,
            *projections.schema_statements(),
            _PG_FUNCTION,
            *_pg_triggers(self.events_table_name),
            *_pg_triggers("ledger_chain"),
        ]:
            db.execute(statement)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        work: Work | None = kwargs.get("ledger_work")
        if work is None:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        with self.datastore.transaction(commit=True) as curs:
            # Takes the library's EXCLUSIVE table lock first, so appends are serialised
            # and the rulebook below reads everything committed before this one.
            self._insert_stored_events(curs, stored_events)
            ids = self._fetch_ids_after_insert_events(curs, stored_events)
            work(PostgresDb(curs, self.datastore.schema))
        return ids


def drop_triggers_statements(dialect: str, events_table: str) -> list[str]:
    """What an attacker with DDL rights would run first (used by the tamper tests)."""
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {t}_no_{op}"
            for t in (events_table, "ledger_chain")
            for op in ("update", "delete")
        ]
    return [
        f'DROP TRIGGER IF EXISTS "{name}" ON "{t}"'
        for t in (events_table, "ledger_chain")
        for name in _PG_TRIGGER_NAMES
    ]


__all__ = [
    "PostgresLedgerRecorder",
    "SQLiteLedgerRecorder",
    "drop_triggers_statements",
]
