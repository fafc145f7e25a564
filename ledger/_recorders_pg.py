"""The PostgreSQL recorder (see ``_recorders``): imported only when a PostgreSQL store is used."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.errors import DuplicateObject
from psycopg_pool import PoolTimeout

import projections

from ._recorders import _PG_TRIGGER_NAMES, APPEND_ONLY_MESSAGE, CHAIN_DDL, LedgerTransaction, guard_failure
from ._sql import PostgresDb, search_path_option
from ._url import PG_CONNECT_TIMEOUT, StoreUrl

_OPTIONS_KEY = "LEDGER_PG_OPTIONS"  # the environment's key of the URL's other libpq options
_FIRST_CONNECTION = 0.25  # seconds the pool has for its first connection before one is tried plainly

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % on % refused', '{APPEND_ONLY_MESSAGE}', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

_PG_FUNCTION_BODY = _PG_FUNCTION.split("$$")[1]  # what pg_proc.prosrc holds

# The ledger's triggers and the function they call, as the catalog describes them, on the
# events table and ledger_chain of the ledger's schema: every row says whether the trigger
# fires (tgenabled 'O': in ordinary sessions, 'A': always; 'D' disabled, 'R' in replica
# sessions only), on which events (tgtype: 27 = BEFORE UPDATE OR DELETE FOR EACH ROW,
# 34 = BEFORE TRUNCATE FOR EACH STATEMENT), whether anything narrows it (a WHEN condition,
# an UPDATE OF column list, arguments), and which function it calls: its schema (whether
# the table's), name, language and source; and, kind 'trigger' or 'rule', every other
# trigger and every rule on those tables (none is the ledger's). Few joins: planning it costs a tenth of a
# millisecond where a join per catalog cost three times that.
_PG_GUARDS_QUERY = """
SELECT 'trigger' AS kind, c.relname AS tbl, t.tgname AS name, t.tgenabled AS enabled, t.tgtype AS type,
    t.tgqual IS NULL AND t.tgnargs = 0 AND cardinality(t.tgattr::int2[]) = 0 AS plain,
    p.pronamespace = c.relnamespace AS own_schema, p.pronamespace::regnamespace::text AS function_schema,
    p.proname AS function, p.prosrc AS source,
    (SELECT l.lanname FROM pg_catalog.pg_language AS l WHERE l.oid = p.prolang) AS language
FROM pg_catalog.pg_trigger AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace AS n WHERE n.nspname = ?)
    AND c.relname IN (?, ?) AND NOT t.tgisinternal
UNION ALL
SELECT 'rule', c.relname, r.rulename, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_catalog.pg_rewrite AS r
JOIN pg_catalog.pg_class AS c ON c.oid = r.ev_class
WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace AS n WHERE n.nspname = ?)
    AND c.relname IN (?, ?)
"""
_PG_TRIGGER_TYPES = dict(zip(_PG_TRIGGER_NAMES, (27, 34), strict=True))


def _pg_guard_problem(row: Any, schema: str) -> str | None:
    """What is wrong with one of the ledger's triggers as the catalog describes it (None:
    nothing, it is the ledger's own)."""
    if row["enabled"] == "D":
        return "disabled"
    if row["enabled"] == "R":
        return "disabled (it fires in replica sessions only)"
    if row["type"] != _PG_TRIGGER_TYPES[row["name"]]:
        return "altered (it fires on other events than the ledger's)"
    if not row["plain"]:
        return "altered (a condition, a column list or arguments narrow it)"
    if not row["own_schema"] or row["function"] != "ledger_append_only":
        return f"altered (it calls {row['function_schema']}.{row['function']}(), not the ledger's function)"
    if row["language"] != "plpgsql" or row["source"] != _PG_FUNCTION_BODY:
        return f"altered (the function {schema}.ledger_append_only() it calls is not the ledger's)"
    return None


def _pg_triggers(table: str) -> list[str]:
    row, statement = _PG_TRIGGER_NAMES
    return [
        f'CREATE OR REPLACE TRIGGER "{row}" BEFORE UPDATE OR DELETE ON "{table}" '
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
        f'CREATE OR REPLACE TRIGGER "{statement}" BEFORE TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
    ]


def pg_env(where: StoreUrl, wait: int) -> dict[str, str]:
    """The eventsourcing environment's entries for what a PostgreSQL store's URL says
    beyond the five parameters eventsourcing reads (``POSTGRES_DBNAME`` …): every other
    libpq option (``StoreUrl.connection_options``: the schema as search path, the writer's
    ``lock_timeout``), which ``LedgerPostgresFactory`` gives the pool; and how long the
    pool waits for a connection, at least the URL's ``connect_timeout``."""
    return {
        _OPTIONS_KEY: make_conninfo("", **where.connection_options(lock_timeout=wait)),
        "POSTGRES_CONNECT_TIMEOUT": str(max(PG_CONNECT_TIMEOUT, where.connect_timeout)),
    }


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, whose pool makes every connection with every
    libpq option of the store's URL (``pg_env``), not only the five it reads itself: the
    one place they are passed on (``sslmode``, ``application_name``, ``connect_timeout``, …)."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        pool_kwargs = getattr(self.datastore.pool, "kwargs", None)
        if isinstance(pool_kwargs, dict):
            pool_kwargs.update(conninfo_to_dict(self.env.get(_OPTIONS_KEY) or ""))


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
        super().__init__(datastore, **kwargs)

    def create_table(self) -> None:
        # Many processes may open a fresh database at once: create under an advisory lock,
        # and skip the DDL entirely once the ledger's tables exist. All the DDL runs in one
        # transaction on the connection holding the lock, so a pool of one connection
        # suffices (the library's default) and the tables appear all together or not at all.
        # The schema too is created there if it is not there yet.
        if not self._ledger_tables_exist():
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
        self.datastore.register_type_adapters()

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        """The ledger's schema, if it is not there yet (as its tables, on first use). Only
        then: ``CREATE SCHEMA`` needs the right to create in the database even where the
        schema exists."""
        row = conn.execute(
            "SELECT to_regnamespace(%s) IS NOT NULL AS ok", [f'"{self.datastore.schema}"']
        ).fetchone()
        if not (row and row["ok"]):
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.datastore.schema))
            )

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

    def check_guards(self, db: projections.Db, *, writing: bool = False) -> None:
        """Raise ``IntegrityFailure`` naming every guard (trigger) of the ledger's on the
        events table and ledger_chain that is missing, disabled or altered (fires on other
        events, is narrowed, or calls a function other than the ledger's own, unaltered).
        One catalog query. ``writing`` makes no difference here: the ledger creates its
        PostgreSQL guards only with its tables."""
        schema = self.datastore.schema
        tables = (self.events_table_name, "ledger_chain")
        db.execute(_PG_GUARDS_QUERY, [schema, *tables, schema, *tables])
        rows = db.fetchall()
        found = {(row["tbl"], row["name"]): row for row in rows if row["kind"] == "trigger"}
        # Anything else on those tables, a trigger or a rule, may skip or change an insert
        # (a BEFORE INSERT trigger returning NULL, a rule DO INSTEAD NOTHING: the append
        # would be acknowledged and not stored).
        problems = [
            f"{row['kind']} {row['name']} on {row['tbl']} "
            "is not the ledger's (another trigger or rule there may skip or change what is stored)"
            for row in rows
            if row["kind"] == "rule" or row["name"] not in _PG_TRIGGER_NAMES
        ]
        for table in tables:
            for name in _PG_TRIGGER_NAMES:
                row = found.get((table, name))
                problem = "missing" if row is None else _pg_guard_problem(row, schema)
                if problem is not None:
                    problems.append(f"trigger {name} on {table} is {problem}")
        if problems:
            raise guard_failure(problems)

    @contextlib.contextmanager
    def ledger_transaction(self, *, small: bool = False) -> Iterator[LedgerTransaction]:
        """``small`` (a few events): in pipeline mode, so that the statements whose answers
        are not needed at once (the lock, the inserts, the projection rows) travel together
        and the transaction costs a few round trips instead of one per statement."""
        with self.datastore.transaction(commit=True) as curs:
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
        with curs.copy(
            f'COPY "{self.events_table_name}" (originator_id, originator_version, topic, state) FROM STDIN'
        ) as copy:
            for event in stored_events:
                copy.write_row((event.originator_id, event.originator_version, event.topic, event.state))
