"""eventsourcing's PostgreSQL application recorder and factory, extended by what the ledger
keeps beside its events (as ``_sqlite_recorder``: the chain table, the projection tables, the
guards of ``_postgres``, ``ledger_transaction()``). Imported only for a PostgreSQL store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.errors import DuplicateObject
from psycopg_pool import PoolTimeout

import projections

from ._postgres import OPTIONS_KEY, PostgresDb, check_guards, guards_ddl, ident, triggers
from ._sql import CHAIN, CHAIN_DDL, NODES, NODES_DDL, Db, LedgerTransaction
from ._url import search_path_option

_FIRST_CONNECTION = 0.25  # seconds the pool has for its first connection before one is tried plainly


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, whose pool makes every connection with every
    libpq option of the store's URL (``_postgres.environment``), not only the five it reads itself: the
    one place they are passed on (``sslmode``, ``application_name``, ``connect_timeout``, …)."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        pool_kwargs = getattr(self.datastore.pool, "kwargs", None)
        if isinstance(pool_kwargs, dict):
            pool_kwargs.update(conninfo_to_dict(self.env.get(OPTIONS_KEY) or ""))


def _connect_or_say_why(datastore: PostgresDatastore) -> None:
    """The pool's first connection, or the server's reason why there is none.

    The pool connects in the background and retries, so a server that refuses (no such
    database or role, a wrong port, no TLS where ``sslmode`` demands it) would show only
    as the pool's timeout, "couldn't get a connection", seconds later. So the pool has a
    moment for its first connection (a healthy server gives one in a few ms); without
    one by then, one plain connection with the same parameters fails at once with what
    the server answered (raised; the pool is closed), or succeeds (a slow server) and
    the pool is then waited for as ever."""
    pool = datastore.pool
    pool.open()
    try:
        pool.putconn(pool.getconn(timeout=_FIRST_CONNECTION))
        return
    except PoolTimeout:
        pass
    given = pool.kwargs if isinstance(pool.kwargs, dict) else {}
    try:
        psycopg.connect(**{key: value for key, value in given.items() if key != "row_factory"}).close()
    except psycopg.Error:
        pool.close(timeout=0)
        raise


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    dialect = "postgresql"

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        # The ledger's SQL names its tables plainly: its schema is the search path. Each
        # connection the pool makes from now on is made with it (``search_path_option``,
        # first in the options ``LedgerPostgresFactory`` has given the pool, else here),
        # so a transaction on one costs no round trip to set it; on any other (one made
        # before), ``PostgresDb`` sets it in the transaction.
        pool_kwargs = getattr(datastore.pool, "kwargs", None)
        if isinstance(pool_kwargs, dict):
            pool_kwargs.setdefault("options", search_path_option(datastore.schema))
        _connect_or_say_why(datastore)  # before the library's first connection (its type adapters)
        self._held: psycopg.Connection[Any] | None = None  # ``held_transaction``'s, while open
        super().__init__(datastore, **kwargs)

    def create_table(self) -> None:
        # Many processes may open a fresh database at once: create under an advisory lock,
        # and skip the DDL entirely once the ledger's tables exist. All the DDL runs in one
        # transaction on the connection holding the lock, so a pool of one connection
        # suffices (the library's default) and the tables appear all together or not at all.
        # The schema too is created there if it is not there yet.
        # The node table is the newest (issue 17): where it exists, everything does.
        if not self._ledger_tables_exist(table=NODES):
            with self.datastore.get_connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('relationship-ledger-ddl'))")
                if not self._ledger_tables_exist(conn):
                    self._create_schema(conn)
                    # As the library's create_table: composite types first, each allowed to
                    # exist already (here in a savepoint), then tables, indexes, functions.
                    for statement in self.sql_create_statements:
                        if "CREATE TYPE" in statement.as_string():
                            with contextlib.suppress(DuplicateObject), conn.transaction():
                                conn.execute(statement, prepare=False)
                    with conn.cursor() as curs:
                        self._create_table(curs)
                elif not self._ledger_tables_exist(conn, table=NODES):
                    # A store made before the Merkle tree: its node table and that table's
                    # guards only (the tree is built when first needed, see ``_tree``); the
                    # other guards stay as they are found.
                    with conn.cursor() as curs:
                        db = PostgresDb(curs, self.datastore.schema)
                        for ddl in [*NODES_DDL, *triggers(NODES)]:
                            db.execute(ddl)
        self.datastore.register_type_adapters()

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        """The ledger's schema, if it is not there yet (as its tables, on first use). Only
        then: ``CREATE SCHEMA`` needs the right to create in the database even where the
        schema exists."""
        row = conn.execute(
            "SELECT to_regnamespace(%s) IS NOT NULL AS ok", [ident(self.datastore.schema)]
        ).fetchone()
        if not (row and row["ok"]):
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.datastore.schema))
            )

    def _ledger_tables_exist(self, conn: psycopg.Connection[Any] | None = None, table: str = CHAIN) -> bool:
        if conn is None:
            with self.datastore.get_connection() as own:
                return self._ledger_tables_exist(own, table)
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS ok",
            [f"{ident(self.datastore.schema)}.{table}"],
        ).fetchone()
        return bool(row and row["ok"])

    def _create_table(self, curs: psycopg.Cursor[Any]) -> None:
        super()._create_table(curs)
        db = PostgresDb(curs, self.datastore.schema)
        for statement in [
            *CHAIN_DDL,
            *NODES_DDL,
            *projections.schema_statements(),
            *guards_ddl(self.events_table_name),
        ]:
            db.execute(statement)

    def check_guards(self, db: Db, *, writing: bool = False) -> None:
        """``_postgres.check_guards`` on this recorder's tables (``writing`` makes no
        difference: the ledger creates its PostgreSQL guards only with its tables)."""
        check_guards(db, self.datastore.schema, self.events_table_name)

    @contextlib.contextmanager
    def held_transaction(self, *, commit: bool) -> Iterator[None]:
        """One transaction around every ``ledger_transaction`` opened inside it, each then a
        savepoint of it (psycopg's nested transaction: undone alone when it fails);
        committed at the end, or rolled back where ``commit`` is False (a dry run)."""
        if self._held is not None:
            raise RuntimeError("a held transaction is open already")
        with self.datastore.get_connection() as conn, conn.transaction(force_rollback=not commit):
            self._held = conn
            try:
                yield
            finally:
                self._held = None

    @contextlib.contextmanager
    def ledger_transaction(self, *, small: bool = False) -> Iterator[LedgerTransaction]:
        """``small`` (a few events): in pipeline mode, so that the statements whose answers
        are not needed at once (the lock, the inserts, the projection rows) travel together
        and the transaction costs a few round trips instead of one per statement. Inside a
        ``held_transaction``: a savepoint of it."""
        held = self._held
        with contextlib.ExitStack() as stack:
            if held is not None:
                stack.enter_context(held.transaction())
                curs = stack.enter_context(held.cursor())
            else:
                curs = stack.enter_context(self.datastore.transaction(commit=True))
            if not small:
                yield LedgerTransaction(
                    PostgresDb(curs, self.datastore.schema),
                    lambda events: self._copy_stored_events(curs, events),
                    lambda: self._lock_table(curs),
                )
                return
            with curs.connection.pipeline():
                yield LedgerTransaction(
                    PostgresDb(curs, self.datastore.schema, pipelined=True),
                    lambda events: self._insert_stored_events(curs, events),
                    lambda: self._lock_table(curs),
                )

    def _copy_stored_events(self, curs: psycopg.Cursor[Any], stored_events: Sequence[StoredEvent]) -> None:
        """The library's insert of stored events (its EXCLUSIVE table lock first, so appends
        are serialised, and its notification), with the rows sent by ``COPY``: the same
        rows, with one round trip for a batch of thousands."""
        self._lock_table(curs)
        self._notify_channel(curs)
        columns = "originator_id, originator_version, topic, state"
        with curs.copy(f"COPY {ident(self.events_table_name)} ({columns}) FROM STDIN") as copy:
            for event in stored_events:
                copy.write_row((event.originator_id, event.originator_version, event.topic, event.state))
