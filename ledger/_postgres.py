"""The PostgreSQL backend: its ``Db``, its connections, its guards, its part of the environment.

Imported only for a PostgreSQL store (it imports psycopg). The recorder that creates the
tables and guards is ``_postgres_recorder``'s.

- ``PostgresDb``: a psycopg cursor (``dict_row``) in the ledger's schema, with the
  PostgreSQL spelling of what differs between backends (see ``_sql.Db``); names quoted by
  ``psycopg.sql.Identifier``.
- The guards: a trigger function that refuses, and on the events table and the chain two
  triggers calling it, before any UPDATE or DELETE of a row and before a TRUNCATE.
  ``check_guards`` reads the catalog to tell whether they are still the ledger's own.
- The connections: eventsourcing's pool (every connection made with the ledger's schema
  as its search path, see ``_postgres_recorder``); and for a question asked by URL alone,
  one autocommit connection (``PostgresReadStore``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from ._driver import store_error
from ._sql import APPEND_ONLY_MESSAGE, CHAIN, NODES, STREAM_ID, CannotServe, Db, ReadStore, guard_failure
from ._url import PG_CONNECT_TIMEOUT, StoreUrl, search_path_option

OPTIONS_KEY = "LEDGER_PG_OPTIONS"  # the environment's key of the URL's other libpq options


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return sql.Identifier(name).as_string(None)


def has_search_path(connection: Any, schema: str) -> bool:
    """Whether a psycopg connection was made with ``schema`` as its search path (libpq's
    ``PQoptions`` of the connection: no round trip, and not all of its parameters, which
    cost more than the query a ``por`` asks). The search path comes first in the options,
    and no option after it sets another (``_url`` refuses one in a URL)."""
    options, first = str(connection.info.options), search_path_option(schema)
    return options == first or options.startswith(first + " ")


class PostgresDb(Db):
    """Wraps a psycopg cursor (``dict_row``) inside a transaction, in the ledger's schema."""

    dialect = "postgresql"
    stream_id = STREAM_ID

    def __init__(self, cursor: Any, schema: str, *, pipelined: bool = False) -> None:
        """``schema``: the ledger's, set as the transaction's search path unless the
        connection was made with it (``search_path_option``). ``pipelined``: the connection
        is in pipeline mode (a small append: statements are sent without waiting for each
        one's answer), where ``COPY`` is not available."""
        self._c = cursor
        self._pipelined = pipelined
        self.real_schema = ident(schema)
        if not has_search_path(cursor.connection, schema):
            cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        if params:
            self._c.execute(statement.replace("?", "%s"), params)
        else:  # no placeholders to translate: the statement may hold a literal % or ?
            self._c.execute(statement)

    def fetchone(self) -> Mapping[str, Any] | None:
        row: Mapping[str, Any] | None = self._c.fetchone()
        return row

    def fetchall(self) -> list[Mapping[str, Any]]:
        return list(self._c.fetchall())

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        if rows and self._pipelined:
            self._pipelined_many(statement.replace("?", "%s"), rows)
        elif rows:
            self._c.executemany(statement.replace("?", "%s"), rows)

    def _pipelined_many(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        """``executemany`` in pipeline mode, its results all taken before the next statement
        (a nested pipeline syncs on exit): a query sent after it mid-transaction (a late
        recording's rewind reads after it flushes) then fetches its own rows, never the
        ``UPDATE``'s status."""
        with self._c.connection.pipeline():
            self._c.executemany(statement, rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Insert many rows into ``table`` with ``COPY`` (one round trip for them all), or
        in a pipeline with the statements around them."""
        if rows and self._pipelined:
            marks = ", ".join(["%s"] * len(columns))
            self._pipelined_many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        elif rows:
            with self._c.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def ident(self, name: str) -> str:
        return ident(name)

    def take_write_lock(self, events_table: str) -> None:
        # The library's own lock: appends lock the events table so.
        self.execute(f"LOCK TABLE {ident(events_table)} IN EXCLUSIVE MODE")

    def snapshot(self) -> None:
        self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def create_temp_table(self, ddl: str) -> None:
        self.execute(ddl.replace("CREATE TABLE IF NOT EXISTS ", "CREATE TEMP TABLE ", 1) + " ON COMMIT DROP")

    def create_temp_index(self, ddl: str, name: str) -> None:
        self.execute(ddl.replace(f"IF NOT EXISTS {name}", f"twin_{name}", 1))

    # drop_temp_tables: PostgreSQL drops them at commit or rollback (ON COMMIT DROP)


# --- the guards ------------------------------------------------------------------------------

# Trigger names are per table, so they need not (and must not) embed the table's name:
# "{table}_append_only" for a table name of 52 to 63 characters (the library allows 63) is
# truncated to 63, both triggers get one name, and CREATE OR REPLACE silently swaps the
# UPDATE/DELETE trigger for the TRUNCATE one, leaving the table open to updates.
TRIGGER_NAMES = ("ledger_append_only", "ledger_no_truncate")
FUNCTION = "ledger_append_only"

FUNCTION_DDL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % on % refused', '{APPEND_ONLY_MESSAGE}', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

_FUNCTION_BODY = FUNCTION_DDL.split("$$")[1]  # what pg_proc.prosrc holds

# The ledger's triggers and the function they call, as the catalog describes them, on the
# events table, ledger_chain and ledger_nodes of the ledger's schema: every row says whether the trigger
# fires (tgenabled 'O': in ordinary sessions, 'A': always; 'D' disabled, 'R' in replica
# sessions only), on which events (tgtype: 27 = BEFORE UPDATE OR DELETE FOR EACH ROW,
# 34 = BEFORE TRUNCATE FOR EACH STATEMENT), whether anything narrows it (a WHEN condition,
# an UPDATE OF column list, arguments), and which function it calls: its schema (whether
# the table's), name, language and source; and, kind 'trigger' or 'rule', every other
# trigger and every rule on those tables (none is the ledger's). Few joins: planning it
# costs a tenth of a millisecond where a join per catalog cost three times that.
_GUARDS_QUERY = """
SELECT 'trigger' AS kind, c.relname AS tbl, t.tgname AS name, t.tgenabled AS enabled, t.tgtype AS type,
    t.tgqual IS NULL AND t.tgnargs = 0 AND cardinality(t.tgattr::int2[]) = 0 AS plain,
    p.pronamespace = c.relnamespace AS own_schema, p.pronamespace::regnamespace::text AS function_schema,
    p.proname AS function, p.prosrc AS source,
    (SELECT l.lanname FROM pg_catalog.pg_language AS l WHERE l.oid = p.prolang) AS language
FROM pg_catalog.pg_trigger AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace AS n WHERE n.nspname = ?)
    AND c.relname IN (?, ?, ?) AND NOT t.tgisinternal
UNION ALL
SELECT 'rule', c.relname, r.rulename, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_catalog.pg_rewrite AS r
JOIN pg_catalog.pg_class AS c ON c.oid = r.ev_class
WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace AS n WHERE n.nspname = ?)
    AND c.relname IN (?, ?, ?)
"""
_TRIGGER_TYPES = dict(zip(TRIGGER_NAMES, (27, 34), strict=True))


def _guard_problem(row: Any, schema: str) -> str | None:
    """What is wrong with one of the ledger's triggers as the catalog describes it (None:
    nothing, it is the ledger's own)."""
    if row["enabled"] == "D":
        return "disabled"
    if row["enabled"] == "R":
        return "disabled (it fires in replica sessions only)"
    if row["type"] != _TRIGGER_TYPES[row["name"]]:
        return "altered (it fires on other events than the ledger's)"
    if not row["plain"]:
        return "altered (a condition, a column list or arguments narrow it)"
    if not row["own_schema"] or row["function"] != FUNCTION:
        return f"altered (it calls {row['function_schema']}.{row['function']}(), not the ledger's function)"
    if row["language"] != "plpgsql" or row["source"] != _FUNCTION_BODY:
        return f"altered (the function {schema}.{FUNCTION}() it calls is not the ledger's)"
    return None


def triggers(table: str) -> list[str]:
    """The DDL of the ledger's two triggers on ``table``, each enabled ``ALWAYS``: an
    ordinary trigger does not fire in a session with ``session_replication_role =
    replica`` (which a superuser may set), an ALWAYS one fires in every session."""
    row, statement = (ident(name) for name in TRIGGER_NAMES)
    return [
        f"CREATE OR REPLACE TRIGGER {row} BEFORE UPDATE OR DELETE ON {ident(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        f"CREATE OR REPLACE TRIGGER {statement} BEFORE TRUNCATE ON {ident(table)} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
        *(f"ALTER TABLE {ident(table)} ENABLE ALWAYS TRIGGER {name}" for name in (row, statement)),
    ]


def guards_ddl(events_table: str) -> list[str]:
    """Every statement that creates the ledger's guards (after its tables)."""
    return [FUNCTION_DDL, *triggers(events_table), *triggers(CHAIN), *triggers(NODES)]


def check_guards(db: Db, schema: str, events_table: str) -> None:
    """Raise ``IntegrityFailure`` naming every guard (trigger) of the ledger's on the
    events table and ledger_chain that is missing, disabled or altered (fires on other
    events, is narrowed, or calls a function other than the ledger's own, unaltered), and
    every other trigger or rule on those tables. One catalog query. The ledger creates its
    PostgreSQL guards only with its tables."""
    tables = (events_table, CHAIN, NODES)
    db.execute(_GUARDS_QUERY, [schema, *tables, schema, *tables])
    rows = db.fetchall()
    found = {(row["tbl"], row["name"]): row for row in rows if row["kind"] == "trigger"}
    # Anything else on those tables, a trigger or a rule, may skip or change an insert
    # (a BEFORE INSERT trigger returning NULL, a rule DO INSTEAD NOTHING: the append
    # would be acknowledged and not stored).
    problems = [
        f"{row['kind']} {row['name']} on {row['tbl']} "
        "is not the ledger's (another trigger or rule there may skip or change what is stored)"
        for row in rows
        if row["kind"] == "rule" or row["name"] not in TRIGGER_NAMES
    ]
    for table in tables:
        for name in TRIGGER_NAMES:
            row = found.get((table, name))
            problem = "missing" if row is None else _guard_problem(row, schema)
            if problem is not None:
                problems.append(f"trigger {name} on {table} is {problem}")
    if problems:
        raise guard_failure(problems)


def drop_triggers_statements(events_table: str) -> list[str]:
    """What an attacker with DDL rights would run first (used by the tamper tests)."""
    return [
        f"DROP TRIGGER IF EXISTS {ident(name)} ON {ident(t)}"
        for t in (events_table, CHAIN, NODES)
        for name in TRIGGER_NAMES
    ]


# --- the connections ---------------------------------------------------------------------------


def environment(where: StoreUrl, wait: int) -> dict[str, str]:
    """eventsourcing's environment for the PostgreSQL store at ``where``: the five
    parameters eventsourcing reads (``POSTGRES_DBNAME`` …); every other libpq option
    (``StoreUrl.connection_options``: the schema as search path, the writer's
    ``lock_timeout``), which ``LedgerPostgresFactory`` gives the pool; and how long the
    pool waits for a connection, at least the URL's ``connect_timeout``."""
    return {
        "PERSISTENCE_MODULE": "ledger._postgres_recorder:LedgerPostgresFactory",
        **{f"POSTGRES_{name.upper()}": value for name, value in where.pg},
        "POSTGRES_SCHEMA": where.schema,
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "4",
        "POSTGRES_LOCK_TIMEOUT": str(wait),
        OPTIONS_KEY: make_conninfo("", **where.connection_options(lock_timeout=wait)),
        "POSTGRES_CONNECT_TIMEOUT": str(max(PG_CONNECT_TIMEOUT, where.connect_timeout)),
        "APPLICATION_RECORDER_TOPIC": "ledger._postgres_recorder:PostgresLedgerRecorder",
    }


class PostgresBackend:
    """A ``Ledger``'s connections to a PostgreSQL store: eventsourcing's pool."""

    name = "postgresql"
    read_only = False
    errors: tuple[type[BaseException], ...] = (psycopg.Error, OSError)

    def __init__(self, where: StoreUrl, wait: int) -> None:
        self.env = environment(where, wait)
        self._schema = where.schema
        self._recorder: Any = None

    def attach(self, recorder: Any) -> None:
        self._recorder = recorder

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Db]:
        with self._recorder.datastore.transaction(commit=commit) as cursor:
            yield PostgresDb(cursor, self._schema)

    def read(self) -> AbstractContextManager[Db]:
        return self.transaction(commit=False)

    @contextmanager
    def single_statements(self) -> Iterator[Db]:
        """One pooled connection, each statement its own transaction: one round trip each."""
        with self._recorder.datastore.get_connection() as conn:
            if not has_search_path(conn, self._schema):  # a connection made before: a transaction
                with conn.transaction(force_rollback=True):
                    yield PostgresDb(conn.cursor(), self._schema)
                return
            yield PostgresDb(conn.cursor(), self._schema)

    def check_guards(self, db: Db, events_table: str, *, writing: bool = False) -> None:
        check_guards(db, self._schema, events_table)

    def close(self) -> None:
        pass  # the application closes the pool


class PostgresReadStore(ReadStore):
    """A question's own autocommit connection, made with the ledger's schema as its search
    path (``StoreUrl.connection_options``). A server that refuses the connection is the
    store's error at once (``StoreError``), as a ``Ledger`` would report it: a ``Ledger``
    connects with the same parameters."""

    errors = (CannotServe, psycopg.Error, OSError)

    def __init__(self, where: StoreUrl) -> None:
        super().__init__(where.url)
        self._pg_params = dict(where.pg)
        self._pg_options = where.connection_options()
        self._schema = where.schema
        self._pg: Any = None  # the psycopg connection, made on entering

    def __enter__(self) -> PostgresReadStore:
        try:
            self._pg = psycopg.connect(
                make_conninfo("", **self._pg_params, **self._pg_options),
                autocommit=True,
                row_factory=dict_row,
            )
        except psycopg.OperationalError as exc:  # the server's answer: a Ledger would get it too
            raise store_error(self.url, exc) from exc
        return self

    def close(self) -> None:
        conn, self._pg = self._pg, None
        if conn is not None:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[Db]:
        with self._pg.transaction(force_rollback=True):
            yield PostgresDb(self._pg.cursor(), self._schema)

    @contextmanager
    def single_statements(self) -> Iterator[Db]:
        yield PostgresDb(self._pg.cursor(), self._schema)
