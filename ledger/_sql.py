"""A cursor with one SQL spelling for both stores: ``?`` placeholders, rows as mappings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class SqliteDb:
    """Wraps eventsourcing's SQLite cursor (rows are ``sqlite3.Row``)."""

    dialect = "sqlite"

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


def search_path_option(schema: str) -> str:
    """The connection option that makes ``schema`` a connection's search path (the ledger
    checks schema names: lower-case letters, digits and _ need no quoting)."""
    return f"-c search_path={schema}"


def has_search_path(connection: Any, schema: str) -> bool:
    """Whether a psycopg connection was made with ``schema`` as its search path (libpq's
    ``PQoptions`` of the connection: no round trip, and not all of its parameters, which
    cost more than the query a ``por`` asks). The search path comes first in the options,
    and no option after it sets another (``_url`` refuses one in a URL)."""
    options, first = str(connection.info.options), search_path_option(schema)
    return options == first or options.startswith(first + " ")


class PostgresDb:
    """Wraps a psycopg cursor (``dict_row``) inside a transaction, in the ledger's schema."""

    dialect = "postgresql"

    def __init__(self, cursor: Any, schema: str, *, pipelined: bool = False) -> None:
        """``schema``: the ledger's, set as the transaction's search path unless the
        connection was made with it (``search_path_option``). ``pipelined``: the connection
        is in pipeline mode (a small append: statements are sent without waiting for each
        one's answer), where ``COPY`` is not available."""
        self._c = cursor
        self._pipelined = pipelined
        if not has_search_path(cursor.connection, schema):
            from psycopg import sql  # only PostgreSQL stores load psycopg

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
        if rows:
            self._c.executemany(statement.replace("?", "%s"), rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Insert many rows into ``table`` with ``COPY`` (one round trip for them all), or
        in a pipeline with the statements around them."""
        if rows and self._pipelined:
            marks = ", ".join(["%s"] * len(columns))
            self._c.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        elif rows:
            with self._c.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
