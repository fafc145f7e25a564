"""Rebuilding and checking the projections: the same fold, into emptied tables or temporary twins.

A verification creates temporary tables with the projection tables' names: they shadow
the real ones (SQLite and PostgreSQL both search the temporary schema first), so ``apply``
folds into them unchanged, and the real tables are compared with them.

A rebuild on SQLite folds into the real tables themselves, emptied in its transaction,
with only the indexes the fold searches; the others are built once after the last row
(``empty_for_rebuild``, ``reindex``). Each row is written once, not into a twin and then
copied, and an index built from sorted rows is cheaper than one kept up row by row. A
reader (WAL) sees the old rows and indexes until the rebuild commits. On PostgreSQL,
dropping an index would lock its table against readers for the whole rebuild, so there a
rebuild folds into twins and copies them in (``replace_with_twins``), readers unblocked.
"""

from __future__ import annotations

from ._tables import EVENT_REFS, EVENT_REFS_COLUMNS, EVENT_REFS_KEY, TABLES, Db, event_refs_ddl

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
    statements += event_refs_ddl(db.dialect)
    for statement in statements:
        if statement.startswith("CREATE TABLE IF NOT EXISTS "):
            db.create_temp_table(statement)
        else:
            name = statement.split(" ")[5]
            if name in _SEARCHED_BY_THE_FOLD:
                db.create_temp_index(statement, name)


def _folds_into_real_tables(db: Db) -> bool:
    """Whether a rebuild on ``db`` folds into the real tables (see the module's docstring)."""
    return db.dialect == "sqlite"


def _unsearched_indexes() -> list[tuple[str, str]]:
    """Each projection index the fold does not search: its name and its DDL."""
    out: list[tuple[str, str]] = []
    for table in TABLES:
        for statement in table.ddl():
            if statement.startswith("CREATE INDEX IF NOT EXISTS "):
                name = statement.split(" ")[5]
                if name not in _SEARCHED_BY_THE_FOLD:
                    out.append((name, statement))
    return out


def empty_for_rebuild(db: Db) -> bool:
    """Make ready for a rebuild's fold: on SQLite, empty the real projection tables and drop
    the indexes the fold does not search (``reindex`` builds them again), and answer True;
    elsewhere create the twins (``create_twins``) and answer False. All inside the
    rebuild's transaction: a failure rolls every part of it back."""
    if not _folds_into_real_tables(db):
        create_twins(db)
        return False
    for name, _ in _unsearched_indexes():
        db.execute(f"DROP INDEX IF EXISTS {db.real_schema}.{name}")
    for name in _names():
        db.execute(f"DELETE FROM {db.real_schema}.{name}")
    return True


def reindex(db: Db) -> None:
    """After a rebuild's fold into the real tables: build the indexes it dropped again
    (a store made before the refs table's present form keeps its index on it throughout)."""
    for _, statement in _unsearched_indexes():
        db.execute(statement)


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
