"""Rebuilding and checking the projections: the same fold, into temporary twins of the tables.

A rebuild or a verification creates temporary tables with the projection tables' names:
they shadow the real ones (SQLite and PostgreSQL both search the temporary schema first),
so ``apply`` folds into them unchanged. Then the real tables are compared with them
(``verify``) or replaced by them in the same transaction (``rebuild``).
"""

from __future__ import annotations

from ._tables import EVENT_REFS_DDL, TABLES, Db


def _names() -> list[str]:
    return [t.sql_name for t in TABLES] + ["prj_event_refs"]


def create_twins(db: Db, dialect: str) -> None:
    """Create empty temporary twins of every projection table (and their indexes)."""
    statements: list[str] = []
    for table in TABLES:
        statements += table.ddl()
    statements += EVENT_REFS_DDL
    for statement in statements:
        if statement.startswith("CREATE TABLE IF NOT EXISTS "):
            statement = statement.replace("CREATE TABLE IF NOT EXISTS ", "CREATE TEMP TABLE ", 1)
            if dialect == "postgresql":
                statement += " ON COMMIT DROP"
        else:
            name = statement.split(" ")[5]
            prefix = "temp." if dialect == "sqlite" else ""
            statement = statement.replace(f"IF NOT EXISTS {name}", f"{prefix}twin_{name}", 1)
        db.execute(statement)


def drop_twins(db: Db, dialect: str) -> None:
    if dialect == "sqlite":  # PostgreSQL drops them at commit or rollback
        for name in _names():
            db.execute(f"DROP TABLE IF EXISTS temp.{name}")


def first_difference(db: Db, real: str) -> tuple[str, int] | None:
    """The table and earliest position at which the real tables (schema ``real``) differ
    from their twins, or None when they are the same."""
    found: list[tuple[int, str]] = []
    for name in _names():
        column = "position" if name == "prj_event_refs" else "created_pos"
        db.execute(
            f"SELECT MIN(pos) AS pos FROM ("
            f"SELECT d1.{column} AS pos FROM (SELECT * FROM {real}.{name} EXCEPT SELECT * FROM {name}) AS d1 "
            f"UNION ALL "
            f"SELECT d2.{column} AS pos FROM (SELECT * FROM {name} EXCEPT SELECT * FROM {real}.{name}) AS d2"
            f") AS diff"
        )
        row = db.fetchone()
        if row is not None and row["pos"] is not None:
            found.append((int(row["pos"]), name))
    if not found:
        return None
    position, name = min(found)
    return name, position


def replace_with_twins(db: Db, real: str) -> None:
    """Replace every real projection table's rows with its twin's."""
    for name in _names():
        db.execute(f"DELETE FROM {real}.{name}")
        db.execute(f"INSERT INTO {real}.{name} SELECT * FROM {name}")
