"""Direct access to a ledger's database, bypassing the ledger: what an attacker or a DBA has."""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from ledger import Ledger, _postgres, _sqlite


def execute(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement (``?`` placeholders) in its own transaction; return the rows."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        conn = sqlite3.connect(parts.path[1:])
        try:
            with conn:
                rows = conn.execute(statement, params).fetchall()
            return rows
        finally:
            conn.close()
    schema = parse_qs(parts.query)["schema"][0]
    dsn = url.split("?")[0]
    with psycopg.connect(dsn) as pg:
        pg.execute(f'SET search_path TO "{schema}"')
        cur = pg.execute(statement.replace("?", "%s"), params or None)
        return cur.fetchall() if cur.description else []


def events_table(url: str) -> str:
    with Ledger(url) as ledger:
        return ledger.events_table


def drop_triggers(url: str) -> None:
    backend = _sqlite if url.startswith("sqlite") else _postgres
    for statement in backend.drop_triggers_statements(events_table(url)):
        execute(url, statement)


def replace_tree(url: str, leaves: list[bytes]) -> None:
    """Replace the Merkle tree's nodes by the tree over ``leaves`` (each event's chain bytes),
    as an attacker who rewrote the log would, its guards dropped first (``drop_triggers``)."""
    from ledger._merkle import CompactRange, hash_leaf

    nodes = CompactRange().extend(hash_leaf(leaf) for leaf in leaves)
    execute(url, "DELETE FROM ledger_nodes")
    for node in nodes:
        execute(
            url,
            "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)",
            (node.level, node.index, node.hash.hex()),
        )
