"""Attacks on the database's own guards (issue 12, "Hardening", item 12.1).

The guards are the triggers that make the log append-only in the database itself: no
UPDATE, DELETE (PostgreSQL: TRUNCATE) of a stored event or chain row, whoever connects.

12.1, SQLite conflict clauses bypass the guards: ``INSERT OR REPLACE``, ``REPLACE INTO``,
an upsert (``ON CONFLICT DO UPDATE``/``DO NOTHING``) or ``OR IGNORE`` over a stored row of
the events table or ``ledger_chain``, on each of their unique keys (events: the rowid, which
is the library's notification id, and (originator_id, originator_version); chain: the
rowid, position, event_id), with ``PRAGMA recursive_triggers`` off or on: the database
refuses each and nothing changes; a whole log rewritten and re-hashed that way is refused at
its first statement. PostgreSQL refuses ``INSERT … ON CONFLICT DO UPDATE`` and ``MERGE`` on
both tables (its UPDATE/DELETE triggers fire).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import Ledger
from ledger._chain import chain_hash
from ledger._recorders import APPEND_ONLY_MESSAGE
from ledger._stream import state_bytes

import clitools
import rawdb
from builders import customer, partner, purchase

EVENTS = [partner("fabrikam"), customer("contoso"), purchase("sub-1", "contoso")]


def _seed(url: str) -> str:
    """Record ``EVENTS``; return the head hash."""
    with Ledger(url) as ledger:
        ledger.record_many(list(enumerate(EVENTS, start=1)))
        assert ledger.verify() == len(EVENTS)
        return ledger.head_hash()


def _command(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    done = clitools.run("--db", url, *args, "--json")
    assert b"Traceback" not in done.stderr, done.stderr
    return done.returncode, orjson.loads(done.stdout)


def _unchanged(url: str, head: str) -> None:
    """Nothing was stored: the log is the seeded one."""
    with Ledger(url) as ledger:
        assert ledger.head() == len(EVENTS) and ledger.head_hash() == head


# --- 12.1: conflict clauses -----------------------------------------------------------------

# The stored row at position 2, changed (events: its state; chain: its hash).
_EVENT_2 = (
    "SELECT originator_id, originator_version, topic, X'7b7d' FROM stored_events WHERE originator_version = 2"
)
_CHAIN_2 = (
    "SELECT position, event_id, recorded_at, recorded_us, prev_hash, 'x' FROM ledger_chain WHERE position = 2"
)
_CHAIN_COLUMNS = "rowid, position, event_id, recorded_at, recorded_us, prev_hash, hash"
_SQLITE_OVERWRITES = {
    "events: INSERT OR REPLACE on (originator_id, originator_version)": (
        f"INSERT OR REPLACE INTO stored_events {_EVENT_2}"
    ),
    "events: REPLACE INTO": f"REPLACE INTO stored_events {_EVENT_2}",
    "events: INSERT OR REPLACE on the rowid (notification id)": (
        "INSERT OR REPLACE INTO stored_events (rowid, originator_id, originator_version, topic, state) "
        "SELECT rowid, originator_id, 1000, topic, state FROM stored_events WHERE originator_version = 2"
    ),
    "events: upsert DO UPDATE": (
        f"INSERT INTO stored_events {_EVENT_2} ON CONFLICT DO UPDATE SET state = excluded.state"
    ),
    "events: upsert DO NOTHING": f"INSERT INTO stored_events {_EVENT_2} ON CONFLICT DO NOTHING",
    "events: INSERT OR IGNORE": f"INSERT OR IGNORE INTO stored_events {_EVENT_2}",
    "chain: INSERT OR REPLACE on position": f"INSERT OR REPLACE INTO ledger_chain {_CHAIN_2}",
    "chain: REPLACE INTO": f"REPLACE INTO ledger_chain {_CHAIN_2}",
    "chain: INSERT OR REPLACE on event_id": (
        "INSERT OR REPLACE INTO ledger_chain SELECT 1000, event_id, recorded_at, recorded_us, prev_hash, "
        "hash FROM ledger_chain WHERE position = 2"
    ),
    "chain: INSERT OR REPLACE on the rowid": (
        f"INSERT OR REPLACE INTO ledger_chain ({_CHAIN_COLUMNS}) SELECT rowid, 1000, 'forged', recorded_at, "
        "recorded_us, prev_hash, hash FROM ledger_chain WHERE position = 2"
    ),
    "chain: upsert DO UPDATE": (
        f"INSERT INTO ledger_chain {_CHAIN_2} ON CONFLICT DO UPDATE SET hash = excluded.hash"
    ),
    "chain: upsert DO NOTHING": f"INSERT INTO ledger_chain {_CHAIN_2} ON CONFLICT DO NOTHING",
}


def _dump(conn: sqlite3.Connection) -> list[Any]:
    return [
        conn.execute("SELECT rowid, * FROM stored_events ORDER BY rowid").fetchall(),
        conn.execute("SELECT rowid, * FROM ledger_chain ORDER BY rowid").fetchall(),
    ]


@pytest.mark.parametrize("recursive_triggers", ["OFF", "ON"])
@pytest.mark.parametrize("attack", list(_SQLITE_OVERWRITES))
def test_sqlite_refuses_every_insert_over_a_stored_row(
    tmp_path: Path, attack: str, recursive_triggers: str
) -> None:
    """12.1: REPLACE deletes the conflicting row without firing DELETE triggers (unless the
    attacker's own connection turns ``recursive_triggers`` on): the database itself must
    refuse an insert over a stored row, in every spelling, on every unique key."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    head = _seed(url)
    conn = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    try:
        conn.execute(f"PRAGMA recursive_triggers = {recursive_triggers}")
        before = _dump(conn)
        with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY_MESSAGE):
            conn.execute(_SQLITE_OVERWRITES[attack])
        assert _dump(conn) == before
    finally:
        conn.close()
    _unchanged(url, head)
    assert _command(url, "verify") == (0, {"verified": len(EVENTS), "head": head})


def test_sqlite_refuses_a_whole_log_rewritten_and_rehashed_with_replace(tmp_path: Path) -> None:
    """12.1: the attack in full: every event from position 2 re-encoded with a forged note
    and its chain recomputed, written back with ``INSERT OR REPLACE`` (every trigger in
    place), then the projections rebuilt; the log would verify. Refused at the first row."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    head = _seed(url)
    with Ledger(url) as ledger:
        stored = list(ledger.stored())
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        prev_hash = stored[0]["hash"]
        with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY_MESSAGE):
            conn.execute("BEGIN")
            for row in stored[1:]:
                event = {
                    k: v for k, v in row.items() if k not in ("position", "recorded_at", "prev_hash", "hash")
                }
                event["note"] = "forged"
                digest = chain_hash(event, row["position"], row["recorded_at"], prev_hash)
                conn.execute(
                    "INSERT OR REPLACE INTO stored_events (originator_id, originator_version, topic, state) "
                    "SELECT originator_id, originator_version, topic, ? FROM stored_events "
                    "WHERE originator_version = ?",
                    (state_bytes(event), row["position"]),
                )
                conn.execute(
                    "INSERT OR REPLACE INTO ledger_chain SELECT position, event_id, recorded_at, "
                    "recorded_us, ?, ? FROM ledger_chain WHERE position = ?",
                    (prev_hash, digest, row["position"]),
                )
                prev_hash = digest
            conn.execute("COMMIT")
    finally:
        conn.close()
    assert _command(url, "rebuild")[0] == 0
    assert _command(url, "verify") == (0, {"verified": len(EVENTS), "head": head})
    with Ledger(url) as ledger:
        assert [e.get("note") for e in ledger.stored()] == [None] * len(EVENTS)


_PG_OVERWRITES = {
    "events: ON CONFLICT DO UPDATE": (
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT originator_id, originator_version, topic, '\\x7b7d'::bytea FROM {events} "
        "WHERE originator_version = 2 "
        "ON CONFLICT (originator_id, originator_version) DO UPDATE SET state = EXCLUDED.state"
    ),
    "chain: ON CONFLICT (position) DO UPDATE": (
        "INSERT INTO ledger_chain SELECT position, event_id, recorded_at, recorded_us, prev_hash, 'x' "
        "FROM ledger_chain WHERE position = 2 ON CONFLICT (position) DO UPDATE SET hash = EXCLUDED.hash"
    ),
    "chain: ON CONFLICT (event_id) DO UPDATE": (
        "INSERT INTO ledger_chain SELECT 1000, event_id, recorded_at, recorded_us, prev_hash, hash "
        "FROM ledger_chain WHERE position = 2 "
        "ON CONFLICT (event_id) DO UPDATE SET position = EXCLUDED.position"
    ),
    "events: MERGE … UPDATE": (
        "MERGE INTO {events} AS e USING (SELECT 2 AS v) AS s ON e.originator_version = s.v "
        "WHEN MATCHED THEN UPDATE SET state = '\\x7b7d'::bytea"
    ),
    "chain: MERGE … DELETE": (
        "MERGE INTO ledger_chain AS c USING (SELECT 2 AS p) AS s ON c.position = s.p WHEN MATCHED THEN DELETE"
    ),
}


@pytest.mark.parametrize("attack", list(_PG_OVERWRITES))
def test_postgres_refuses_upserts_and_merge_over_a_stored_row(pg_url: str, attack: str) -> None:
    """12.1 on PostgreSQL (refused before the fix too; kept so it stays so): an upsert's
    DO UPDATE and MERGE fire the UPDATE/DELETE guards."""
    head = _seed(pg_url)
    with pytest.raises(Exception, match=APPEND_ONLY_MESSAGE):
        rawdb.execute(pg_url, _PG_OVERWRITES[attack].format(events=rawdb.events_table(pg_url)))
    _unchanged(pg_url, head)
    assert _command(pg_url, "verify") == (0, {"verified": len(EVENTS), "head": head})
