"""Rebuilding and checking the projections: the same fold, into temporary twins of the tables.

A rebuild or a verification creates temporary tables with the projection tables' names:
they shadow the real ones (SQLite and PostgreSQL both search the temporary schema first),
so ``apply`` folds into them unchanged. Then the real tables are compared with them
(``verify``) or replaced by them in the same transaction (``rebuild``).
"""

from __future__ import annotations

from ._tables import EVENT_REFS, EVENT_REFS_COLUMNS, EVENT_REFS_DDL, EVENT_REFS_KEY, TABLES, Db

# The secondary indexes the fold alone (a rebuild) searches: a relationship's end finds
# the customer's relationships, and a late recording (``Session.rewind``) the customer's
# things of every table.
_SEARCHED_BY_THE_FOLD = {f"{t.sql_name}_customer_id" for t in TABLES if "customer_id" in t.indexed}


def _names() -> list[str]:
    return [name for name, _, _, _ in _compared()]


def create_twins(db: Db) -> None:
    """Create empty temporary twins of every projection table, with their primary keys
    and the indexes the fold searches. The twins are only compared with the real tables
    or copied into them, so their other indexes would be built for nothing."""
    statements: list[str] = []
    for table in TABLES:
        statements += table.ddl()
    statements += EVENT_REFS_DDL
    for statement in statements:
        if statement.startswith("CREATE TABLE IF NOT EXISTS "):
            db.create_temp_table(statement)
        else:
            name = statement.split(" ")[5]
            if name in _SEARCHED_BY_THE_FOLD:
                db.create_temp_index(statement, name)


def drop_twins(db: Db) -> None:
    """Drop the twins (where the transaction's end does not)."""
    db.drop_temp_tables(_names())


def _compared() -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    """Each projection table: its name, primary key, every column, and its position column."""
    out = [(t.sql_name, t.primary_key, t.all_columns, "created_pos") for t in TABLES]
    return [*out, (EVENT_REFS, EVENT_REFS_KEY, EVENT_REFS_COLUMNS, "position")]


def first_difference(db: Db) -> tuple[str, int] | None:
    """The table and earliest position at which the real tables differ from their twins,
    or None when they are the same.

    Rows are paired by primary key (one pass over each table, the twin's key index for
    the pairing): a row on one side only, or a pair that differs in any column, is a
    difference at its position."""
    found: list[tuple[int, str]] = []
    real = db.real_schema
    for name, key, columns, at in _compared():
        pairs = " AND ".join(f"r.{k} = t.{k}" for k in key)
        differs = " OR ".join(f"r.{c} IS DISTINCT FROM t.{c}" for c in columns)
        db.execute(
            f"SELECT MIN(COALESCE(r.{at}, t.{at})) AS pos "
            f"FROM {real}.{name} AS r FULL JOIN {name} AS t ON {pairs} WHERE {differs}"
        )
        row = db.fetchone()
        if row is not None and row["pos"] is not None:
            found.append((int(row["pos"]), name))
    if not found:
        return None
    position, name = min(found)
    return name, position


def replace_with_twins(db: Db) -> None:
    """Replace every real projection table's rows with its twin's, in key order (each
    index then grows at its end, rather than everywhere at once)."""
    real = db.real_schema
    for name, key, _, _ in _compared():
        db.execute(f"DELETE FROM {real}.{name}")
        db.execute(f"INSERT INTO {real}.{name} SELECT * FROM {name} ORDER BY {', '.join(key)}")
