"""eventsourcing's own recorder test suites, run against the ledger's recorder subclasses.

``SQLiteLedgerRecorder`` and ``PostgresLedgerRecorder`` extend the library's application
recorders (chain table, projection tables, append-only triggers, ``ledger_transaction()``).
The library ships the contract an application recorder must honour as test cases
(``eventsourcing.tests.persistence``); these classes run them, set up as the library's own
test modules set up theirs (``tests/persistence_tests/test_sqlite.py``, ``test_postgres.py``
and ``test_noninterleaving_notification_ids.py`` in the eventsourcing repository):

- SQLite: a file database in a fresh temporary folder per test (WAL mode, as the ledger
  uses it), plus the library's in-memory variants of the same cases;
- PostgreSQL: a fresh schema per test in database ``test``, dropped afterwards; a pool of
  one connection as the library's ``SetupPostgresDatastore``, resized for the concurrent
  cases exactly as the library's own test module does; its maximal-length events table name.

Each suite also runs with text originator ids (the library's ``WithTextOriginatorID``), and
once more with every insert made through the ledger's own path: ``ledger_transaction()``,
the transaction the ``Ledger`` appends in (its lock, its insert of stored events: on
PostgreSQL a ``COPY``, not the library's pipelined insert), with a unit of work that reads
the ledger's tables in it. Whatever the ledger adds must leave the library's contract
intact on both paths.

Nothing is excluded: no case of these suites updates or deletes a stored event, so the
append-only triggers never fire there. Not run: the cases the library keeps in its own
Postgres test module rather than in these base classes (connection-retry cases that
terminate every backend of the database, lock-timeout and pool cases about the datastore,
not the recorder). ``LedgerCases`` adds two of the ledger's own: a version conflict is the
library's ``IntegrityError`` and leaves nothing behind (the ledger's second guard), and the
stored events and chain rows refuse UPDATE, DELETE and TRUNCATE whatever the table's name.

Run as the library runs them, these found two faults in ``PostgresLedgerRecorder``, since
fixed: ``create_table`` needed two pooled connections (it held an advisory lock on one and
ran the DDL on others), so with the library's default pool of one it waited out the pool
timeout; and trigger names built as ``{table}_append_only`` / ``{table}_no_truncate`` were
truncated to one name for a long table name, so the TRUNCATE trigger replaced the
UPDATE/DELETE one and the events table accepted updates.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)
from psycopg.conninfo import conninfo_to_dict

import projections
from ledger._postgres_recorder import PostgresLedgerRecorder
from ledger._sql import APPEND_ONLY_MESSAGE
from ledger._sqlite_recorder import SQLiteLedgerRecorder

from conftest import PG_DSN

# The library's Postgres tests use a maximally long (63 character) events table name.
PG_EVENTS_TABLE_NAME = "s" * 50 + "stored_events"
assert len(PG_EVENTS_TABLE_NAME) == 63


def _probe_ledger_tables(db: projections.Db) -> None:
    """A unit of work that reads the ledger's own tables inside the appending transaction."""
    db.execute("SELECT COUNT(*) AS n FROM ledger_chain")
    row = db.fetchone()
    assert row is not None and int(row["n"]) == 0


class JoinsStrayThreads:
    """The library's ``test_concurrent_no_conflicts`` tells its two reader threads to stop
    but does not join them; closing the datastore under a reader still in ``execute``
    crashes sqlite3 (a segfault). Join whatever threads a test left running, then close."""

    def setUp(self) -> None:
        self._threads_before = set(threading.enumerate())
        super().setUp()  # type: ignore[misc]

    def join_stray_threads(self) -> None:
        for thread in set(threading.enumerate()) - self._threads_before:
            if not thread.daemon:
                thread.join(timeout=10)


class WithTextOriginatorID:
    """The library's variant with ``originator_id_type = "text"``."""

    originator_id_type: Literal["uuid", "text"] = "text"

    def new_originator_id(self) -> uuid.UUID | str:
        return "test-" + str(uuid.uuid4())


class LedgerCases:
    """The ledger's own cases, in each suite's setup (store, id type, insert path)."""

    def test_conflict_is_integrity_error_and_rolls_back(self: Any) -> None:
        # A version conflict is the library's IntegrityError and leaves nothing behind
        # (through ledger_transaction too, where it surfaces from the ledger's transaction).
        recorder = self.create_recorder()
        oid = self.new_originator_id()
        first = StoredEvent(originator_id=oid, originator_version=1, topic="t", state=b"1")
        second = StoredEvent(originator_id=oid, originator_version=2, topic="t", state=b"2")
        self.assertEqual(recorder.insert_events([first]), [1])
        with self.assertRaises(IntegrityError):
            recorder.insert_events([second, first])
        self.assertEqual([e.originator_version for e in recorder.select_events(oid)], [1])
        self.assertEqual(recorder.max_notification_id(), 1)
        recorder.insert_events([second])
        self.assertEqual([e.originator_version for e in recorder.select_events(oid)], [1, 2])

    def test_stored_events_stay_append_only(self: Any) -> None:
        # The triggers the ledger adds, on whatever events table name the recorder has (the
        # library's maximal-length one on PostgreSQL): no UPDATE, DELETE or TRUNCATE.
        recorder = self.create_recorder()
        oid = self.new_originator_id()
        recorder.insert_events([StoredEvent(originator_id=oid, originator_version=1, topic="t", state=b"1")])
        postgres = isinstance(recorder, PostgresLedgerRecorder)
        chain_table = f'"{recorder.datastore.schema}".ledger_chain' if postgres else "ledger_chain"
        with recorder.datastore.transaction(commit=True) as curs:  # row triggers need a row
            curs.execute(f"INSERT INTO {chain_table} VALUES (1, 'e-1', '2020-01-01T00:00:00Z', 0, 'p', 'h')")
        for name in (recorder.events_table_name, "ledger_chain"):
            table = f'"{recorder.datastore.schema}"."{name}"' if postgres else name
            statements = [f"UPDATE {table} SET topic = 'x'", f"DELETE FROM {table}"]
            if name == "ledger_chain":
                statements[0] = f"UPDATE {table} SET hash = 'x'"
            if postgres:
                statements.append(f"TRUNCATE {table}")
            for statement in statements:
                with (
                    self.assertRaises(PersistenceError) as raised,
                    recorder.datastore.transaction(commit=True) as curs,
                ):
                    curs.execute(statement)
                self.assertIn(APPEND_ONLY_MESSAGE, str(raised.exception), statement)
        self.assertEqual([(e.topic, e.state) for e in recorder.select_events(oid)], [("t", b"1")])


# --- SQLite -------------------------------------------------------------------------------


class SQLiteRecorderSetup(JoinsStrayThreads):
    """A file database in a fresh temporary folder (closed and removed after each test)."""

    originator_id_type: Literal["uuid", "text"] = "uuid"
    in_memory: ClassVar[bool] = False
    through_ledger_transaction: ClassVar[bool] = False

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="ledger-recorder-suite-")
        self._datastores: list[SQLiteDatastore] = []
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self.join_stray_threads()
        for datastore in self._datastores:
            datastore.close()
        self._tmp.cleanup()

    def db_name(self) -> str:
        if self.in_memory:
            return "file::memory:?cache=shared"
        return f"{self._tmp.name}/ledger.db"

    def create_recorder(self) -> SQLiteLedgerRecorder:
        datastore = SQLiteDatastore(
            db_name=self.db_name(),
            pool_size=100,  # as the library's TestSQLiteApplicationRecorder
            originator_id_type=self.originator_id_type,
        )
        self._datastores.append(datastore)
        cls = _SQLiteThroughLedgerTransaction if self.through_ledger_transaction else SQLiteLedgerRecorder
        recorder = cls(datastore)
        recorder.create_table()
        return recorder


def _insert_as_the_ledger(
    recorder: SQLiteLedgerRecorder | PostgresLedgerRecorder, stored_events: Sequence[StoredEvent]
) -> Sequence[int]:
    """The library's ``insert_events``, made as the ``Ledger`` appends: in
    ``ledger_transaction()``, its lock first, its insert of stored events, a unit of work on
    the ledger's tables; the notification ids read back in the same transaction."""
    with recorder.ledger_transaction() as tx:
        tx.lock()
        tx.insert(stored_events)
        _probe_ledger_tables(tx.db)
        ids = []
        for event in stored_events:
            tx.db.execute(
                f"SELECT {'rowid' if recorder.dialect == 'sqlite' else 'notification_id'} AS id "
                f'FROM "{recorder.events_table_name}" WHERE originator_id = ? AND originator_version = ?',
                [_stored_id(event.originator_id), event.originator_version],
            )
            row = tx.db.fetchone()
            assert row is not None
            ids.append(int(row["id"]))
        return ids


def _stored_id(originator_id: object) -> object:
    """An originator id as the recorders store it (a UUID as hex on SQLite, as the library)."""
    return originator_id.hex if isinstance(originator_id, uuid.UUID) else originator_id


class _SQLiteThroughLedgerTransaction(SQLiteLedgerRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return _insert_as_the_ledger(self, stored_events)


class TestSQLiteLedgerRecorder(
    SQLiteRecorderSetup, LedgerCases, ApplicationRecorderTestCase[SQLiteLedgerRecorder]
):
    pass


class TestSQLiteLedgerRecorderWithTextOriginatorID(WithTextOriginatorID, TestSQLiteLedgerRecorder):
    pass


class TestSQLiteLedgerRecorderInMemory(TestSQLiteLedgerRecorder):
    """The library runs its SQLite concurrency cases on a shared-cache in-memory database too."""

    in_memory = True


class TestSQLiteLedgerRecorderThroughLedgerTransaction(TestSQLiteLedgerRecorder):
    through_ledger_transaction = True


class TestSQLiteLedgerNonInterleaving(SQLiteRecorderSetup, NonInterleavingNotificationIDsBaseCase):
    insert_num = 2000  # the library uses 10000 for SQLite; 2000 keeps the suite quick


class TestSQLiteLedgerNonInterleavingThroughLedgerTransaction(TestSQLiteLedgerNonInterleaving):
    through_ledger_transaction = True


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_params() -> dict[str, Any]:
    info = conninfo_to_dict(PG_DSN)
    return {
        "dbname": str(info.get("dbname", "test")),
        "host": str(info.get("host", "127.0.0.1")),
        "port": str(info.get("port", "5432")),
        "user": str(info.get("user", "postgres")),
        "password": str(info.get("password", "")),
    }


class PostgresRecorderSetup(JoinsStrayThreads):
    """A fresh schema per test, dropped afterwards (as the library's SetupPostgresDatastore,
    whose ``drop_tables()`` needs its own databases and roles)."""

    pool_size = 1
    max_overflow = 0
    max_waiting = 0
    originator_id_type: Literal["uuid", "text"] = "uuid"
    through_ledger_transaction: ClassVar[bool] = False

    def setUp(self) -> None:
        self.schema = f"suite_{uuid.uuid4().hex[:12]}"
        try:
            with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
        except psycopg.OperationalError as exc:
            pytest.fail(f"PostgreSQL at {PG_DSN} does not answer ({exc}); start it (see README)")
        super().setUp()  # type: ignore[misc]
        self.datastore = PostgresDatastore(
            **_pg_params(),
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            max_waiting=self.max_waiting,
            schema=self.schema,
            originator_id_type=self.originator_id_type,
        )

    def tearDown(self) -> None:
        self.join_stray_threads()
        self.datastore.close()
        super().tearDown()  # type: ignore[misc]
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')

    def create_recorder(self, table_name: str = PG_EVENTS_TABLE_NAME) -> PostgresLedgerRecorder:
        cls = _PostgresThroughLedgerTransaction if self.through_ledger_transaction else PostgresLedgerRecorder
        recorder = cls(self.datastore, events_table_name=table_name)
        recorder.create_table()
        return recorder


class _PostgresThroughLedgerTransaction(PostgresLedgerRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return _insert_as_the_ledger(self, stored_events)


class TestPostgresLedgerRecorder(
    PostgresRecorderSetup, LedgerCases, ApplicationRecorderTestCase[PostgresLedgerRecorder]
):
    # Pool sizes as in the library's TestPostgresApplicationRecorder.
    def test_insert_subscribe(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(2, 2)
        self.optional_test_insert_subscribe()

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(12, 12)
        super().test_concurrent_no_conflicts()

    def test_concurrent_throughput(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(10, 10)
        super().test_concurrent_throughput()


class TestPostgresLedgerRecorderWithTextOriginatorID(WithTextOriginatorID, TestPostgresLedgerRecorder):
    pass


class TestPostgresLedgerRecorderThroughLedgerTransaction(TestPostgresLedgerRecorder):
    through_ledger_transaction = True


class TestPostgresLedgerRecorderAppTableName(TestPostgresLedgerRecorder):
    """With the events table name the ledger's application really uses."""

    def create_recorder(self, table_name: str = "relationshipledger_events") -> PostgresLedgerRecorder:
        return super().create_recorder(table_name)


class TestPostgresLedgerNonInterleaving(PostgresRecorderSetup, NonInterleavingNotificationIDsBaseCase):
    insert_num = 100  # as the library's TestNonInterleavingPostgres
    pool_size = 2  # two racing writers (the library's datastore default pool is one)


class TestPostgresLedgerNonInterleavingThroughLedgerTransaction(TestPostgresLedgerNonInterleaving):
    through_ledger_transaction = True


# Imported base cases would be collected (and fail: they are abstract) under their own names.
del ApplicationRecorderTestCase, NonInterleavingNotificationIDsBaseCase
