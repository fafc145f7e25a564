"""A part of test_adversarial.py, which runs it.

Attacks on the database's own guards (issue 12, "Hardening", items 12.1 and 12.2).

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

12.2, disarmed guards go unnoticed: on SQLite a guard dropped and re-created with a harmless
body, narrowed, or on another table; on PostgreSQL a guard disabled (``DISABLE TRIGGER``,
``ENABLE REPLICA TRIGGER``), dropped, re-created on other events, narrowed (``WHEN``,
``UPDATE OF``) or calling another function, and the guards' function replaced with a
harmless body. For each: ``ledger record`` is refused (exit 4, naming the guard, its table
and what is wrong) and stores nothing; ``ledger verify`` exits 4 naming it, and names the
changed position first where the log was changed too. A SQLite guard that is merely missing
is re-created (on open, and before an append by a ledger opened before it went missing).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.conninfo import conninfo_to_dict

from ledger import IntegrityFailure, Ledger
from ledger._chain import chain_hash
from ledger._postgres import PostgresDb
from ledger._postgres_recorder import PostgresLedgerRecorder
from ledger._sql import APPEND_ONLY_MESSAGE
from ledger._sqlite import SqliteDb
from ledger._sqlite_recorder import SQLiteLedgerRecorder
from ledger._stream import state_bytes

import clitools
import rawdb
from builders import customer, partner, purchase

EVENTS = [partner("fabrikam"), customer("contoso"), purchase("sub-1", "contoso")]
NEW_EVENT = orjson.dumps(partner("northwind").to_json()).decode()


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


def _refused_and_named(url: str, head: str, *names: str) -> None:
    """``record`` refuses to append (exit 4, nothing stored) and ``verify`` exits 4, each
    naming every one of ``names``."""
    code, answer = _command(url, "record", "--event", NEW_EVENT)
    assert code == 4, answer
    assert answer["error"]["code"] == "integrity"
    for name in names:
        assert name in answer["error"]["message"], answer
    _unchanged(url, head)
    code, answer = _command(url, "verify")
    assert code == 4, answer
    assert answer["error"]["code"] == "integrity" and "position" not in answer["error"]
    for name in names:
        assert name in answer["error"]["message"], answer


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


# --- 12.2: disarmed guards, SQLite ----------------------------------------------------------

# The ledger's triggers in a SQLite store: (name, table).
_SQLITE_GUARDS = [
    (f"{table}_no_{op}", table)
    for table in ("stored_events", "ledger_chain", "ledger_nodes")
    for op in ("update", "delete", "replace")
]


def _op(name: str) -> str:
    return {"update": "UPDATE", "delete": "DELETE", "replace": "INSERT"}[name.rsplit("_", 1)[1]]


@pytest.mark.parametrize(("name", "table"), _SQLITE_GUARDS)
def test_sqlite_a_guard_recreated_with_a_harmless_body_is_caught(
    tmp_path: Path, name: str, table: str
) -> None:
    """12.2: dropped and re-created under its own name with a body that refuses nothing: the
    ledger's re-creation on open (IF NOT EXISTS) leaves it so; append and verify refuse."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    head = _seed(url)
    rawdb.execute(url, f"DROP TRIGGER {name}")
    rawdb.execute(url, f"CREATE TRIGGER {name} BEFORE {_op(name)} ON {table} BEGIN SELECT 1; END")
    _refused_and_named(url, head, f"{name} on {table}", "altered")


@pytest.mark.parametrize(
    "recreated",
    [
        # narrowed to one column: updates of any other pass
        "CREATE TRIGGER stored_events_no_update BEFORE UPDATE OF topic ON stored_events "
        "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on stored_events refused'); END",
        # the same text, on another table
        "CREATE TRIGGER stored_events_no_update BEFORE UPDATE ON prj_event_refs "
        "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on stored_events refused'); END",
        # a condition that never holds
        "CREATE TRIGGER stored_events_no_update BEFORE UPDATE ON stored_events WHEN 0 "
        "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on stored_events refused'); END",
    ],
    ids=["narrowed", "other-table", "condition"],
)
def test_sqlite_a_guard_narrowed_or_moved_is_caught(tmp_path: Path, recreated: str) -> None:
    """12.2: the guard's name kept, its definition changed so that it no longer guards."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    head = _seed(url)
    rawdb.execute(url, "DROP TRIGGER stored_events_no_update")
    rawdb.execute(url, recreated)
    _refused_and_named(url, head, "stored_events_no_update on stored_events", "altered")


@pytest.mark.parametrize(("name", "table"), _SQLITE_GUARDS)
def test_sqlite_a_guard_recreated_under_its_name_in_other_letter_case_is_caught(
    tmp_path: Path, name: str, table: str
) -> None:
    """12.2, a form the issue did not name: SQLite's names are case-blind, so a guard dropped
    and re-created as ``STORED_EVENTS_NO_UPDATE`` with a harmless body holds the ledger's
    name: the re-creation on open (IF NOT EXISTS) finds it there and creates nothing, and
    the check must not take it for a missing guard."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    head = _seed(url)
    rawdb.execute(url, f"DROP TRIGGER {name}")
    rawdb.execute(url, f"CREATE TRIGGER {name.upper()} BEFORE {_op(name)} ON {table} BEGIN SELECT 1; END")
    _refused_and_named(url, head, f"{name} on {table}", "altered")


def _triggers(url: str) -> dict[str, str]:
    return dict(rawdb.execute(url, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))


def _fresh(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    Ledger(url).close()
    return url


def test_sqlite_a_dropped_guard_is_recreated_before_an_append(tmp_path: Path) -> None:
    """12.2: a SQLite guard that is missing (dropped after the ledger opened the store) is
    re-created by the next append, under its write lock, exactly as the ledger defines it;
    verify does not fail for it (the next opening of the store re-creates it too)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger:
        ledger.record_many(list(enumerate(EVENTS, start=1)))
        rawdb.drop_triggers(url)  # opens the store (re-creating them), then drops them all
        assert rawdb.execute(url, "SELECT name FROM sqlite_master WHERE type = 'trigger'") == []
        assert ledger.verify() == len(EVENTS)
        ledger.record(partner("northwind"))
        assert _triggers(url) == _triggers(_fresh(tmp_path)) and len(_triggers(url)) == len(_SQLITE_GUARDS)
        with pytest.raises(Exception, match=APPEND_ONLY_MESSAGE):
            rawdb.execute(url, "DELETE FROM ledger_chain")


def test_sqlite_a_disarmed_guard_and_a_changed_row_name_both(tmp_path: Path) -> None:
    """12.2: where the guard was disarmed to change the log, verify names the changed
    position first (exit 4, with the position), and the guard too."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _seed(url)
    rawdb.execute(url, "DROP TRIGGER ledger_chain_no_update")
    rawdb.execute(
        url, "CREATE TRIGGER ledger_chain_no_update BEFORE UPDATE ON ledger_chain BEGIN SELECT 1; END"
    )
    rawdb.execute(url, "UPDATE ledger_chain SET recorded_at = '2001-01-01T00:00:00Z' WHERE position = 2")
    code, answer = _command(url, "verify")
    assert code == 4 and answer["error"]["position"] == 2, answer
    assert "ledger_chain_no_update on ledger_chain is altered" in answer["error"]["message"]


# --- 12.2: disarmed guards, PostgreSQL ------------------------------------------------------

_HARMLESS_FUNCTION = (
    "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RETURN COALESCE(NEW, OLD); END $$"
)
_PG_DISARMS: dict[str, tuple[list[str], str, str]] = {  # statements, guard, what is wrong
    "DISABLE TRIGGER ledger_append_only": (
        ["ALTER TABLE {table} DISABLE TRIGGER ledger_append_only"],
        "ledger_append_only",
        "disabled",
    ),
    "DISABLE TRIGGER ledger_no_truncate": (
        ["ALTER TABLE {table} DISABLE TRIGGER ledger_no_truncate"],
        "ledger_no_truncate",
        "disabled",
    ),
    "DISABLE TRIGGER ALL": (["ALTER TABLE {table} DISABLE TRIGGER ALL"], "ledger_append_only", "disabled"),
    "ENABLE REPLICA TRIGGER": (
        ["ALTER TABLE {table} ENABLE REPLICA TRIGGER ledger_append_only"],
        "ledger_append_only",
        "replica sessions only",
    ),
    "DROP TRIGGER": (["DROP TRIGGER ledger_append_only ON {table}"], "ledger_append_only", "missing"),
    "re-created on another event": (
        [
            "CREATE OR REPLACE TRIGGER ledger_append_only BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        ],
        "ledger_append_only",
        "fires on other events",
    ),
    "re-created with a condition": (
        [
            "CREATE OR REPLACE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW WHEN (pg_backend_pid() < 0) EXECUTE FUNCTION ledger_append_only()"
        ],
        "ledger_append_only",
        "narrow it",
    ),
    "re-created for one column": (
        [
            "CREATE OR REPLACE TRIGGER ledger_append_only BEFORE UPDATE OF {column} OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        ],
        "ledger_append_only",
        "narrow it",
    ),
    "re-created calling another function": (
        [
            _HARMLESS_FUNCTION.format(function="harmless"),
            "CREATE OR REPLACE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION harmless()",
        ],
        "ledger_append_only",
        ".harmless(), not the ledger's function",
    ),
}


@pytest.mark.parametrize("which", ["events", "chain", "nodes"])
@pytest.mark.parametrize("disarm", list(_PG_DISARMS))
def test_postgres_a_disarmed_guard_is_caught(pg_url: str, disarm: str, which: str) -> None:
    """12.2 on PostgreSQL: a disabled, dropped or re-created trigger stays so (the ledger
    creates its PostgreSQL guards only with its tables); append and verify refuse."""
    head = _seed(pg_url)
    events = rawdb.events_table(pg_url)
    table, column = {"events": (events, "state"), "chain": ("ledger_chain", "hash")}.get(
        which, ("ledger_nodes", "hash")
    )
    statements, guard, what = _PG_DISARMS[disarm]
    for statement in statements:
        rawdb.execute(pg_url, statement.format(table=table, column=column))
    _refused_and_named(pg_url, head, f"{guard} on {table}", what)


def test_postgres_the_guards_function_replaced_with_a_harmless_body_is_caught(pg_url: str) -> None:
    """12.2: CREATE OR REPLACE FUNCTION keeps every trigger in place, enabled, calling it."""
    head = _seed(pg_url)
    events = rawdb.events_table(pg_url)
    rawdb.execute(pg_url, _HARMLESS_FUNCTION.format(function="ledger_append_only"))
    rawdb.execute(pg_url, "UPDATE ledger_chain SET hash = hash")  # the guard lets it through now
    _refused_and_named(
        pg_url,
        head,
        *(
            f"{name} on {table}"
            for table in (events, "ledger_chain", "ledger_nodes")
            for name in ("ledger_append_only", "ledger_no_truncate")
        ),
        "ledger_append_only() it calls is not the ledger's",
    )


def test_postgres_a_disarmed_guard_and_a_changed_row_name_both(pg_url: str) -> None:
    """12.2: verify names the changed position first, and the disarmed guard."""
    _seed(pg_url)
    rawdb.execute(pg_url, "ALTER TABLE ledger_chain DISABLE TRIGGER ledger_append_only")
    rawdb.execute(pg_url, "UPDATE ledger_chain SET recorded_at = '2001-01-01T00:00:00Z' WHERE position = 2")
    code, answer = _command(pg_url, "verify")
    assert code == 4 and answer["error"]["position"] == 2, answer
    assert "ledger_append_only on ledger_chain is disabled" in answer["error"]["message"]


# --- the library's view of both ---------------------------------------------------------------


def test_the_library_refuses_to_append_and_verify_names_the_guard(url: str) -> None:
    """12.2 through ``Ledger``: ``record`` raises ``IntegrityFailure`` and stores nothing;
    ``verify_guards`` and ``verify`` raise naming the guard; ``verify_chain`` (a pure chain
    check) still passes."""
    head = _seed(url)
    if url.startswith("sqlite"):
        rawdb.execute(url, "DROP TRIGGER ledger_chain_no_delete")
        rawdb.execute(
            url, "CREATE TRIGGER ledger_chain_no_delete BEFORE DELETE ON ledger_chain BEGIN SELECT 1; END"
        )
        named = "ledger_chain_no_delete on ledger_chain is altered"
    else:
        rawdb.execute(url, "ALTER TABLE ledger_chain DISABLE TRIGGER ledger_append_only")
        named = "ledger_append_only on ledger_chain is disabled"
    with Ledger(url) as ledger:
        with pytest.raises(IntegrityFailure, match=named):
            ledger.record(partner("northwind"))
        assert ledger.head() == len(EVENTS) and ledger.head_hash() == head
        for check in (ledger.verify_guards, ledger.verify):
            with pytest.raises(IntegrityFailure, match=named) as failure:
                check()
            assert failure.value.position is None
        assert ledger.verify_chain() == len(EVENTS)


LONGEST_NAME = "s" * 50 + "stored_events"  # the library's maximal-length (63) table name


def test_the_guards_check_passes_on_fresh_recorders_whatever_the_events_table_name(
    pg_url: str, tmp_path: Path
) -> None:
    """12.2: ``check_guards`` finds the ledger's own guards as the recorders create them:
    on SQLite, and on PostgreSQL also with the longest events table name the library
    allows (the recorder suites' name), where it still tells one disabled guard."""
    info = conninfo_to_dict(pg_url.split("?")[0])
    datastore = PostgresDatastore(
        dbname=str(info["dbname"]),
        host=str(info["host"]),
        port=str(info["port"]),
        user=str(info["user"]),
        password=str(info.get("password", "")),
        schema=pg_url.split("schema=")[1],
    )
    try:
        recorder = PostgresLedgerRecorder(datastore, events_table_name=LONGEST_NAME)
        recorder.create_table()
        with datastore.transaction(commit=False) as curs:
            recorder.check_guards(PostgresDb(curs, datastore.schema))
            curs.execute(f'ALTER TABLE "{LONGEST_NAME}" DISABLE TRIGGER ledger_no_truncate')
            with pytest.raises(IntegrityFailure, match=f"ledger_no_truncate on {LONGEST_NAME} is disabled"):
                recorder.check_guards(PostgresDb(curs, datastore.schema))
    finally:
        datastore.close()
    sqlite = SQLiteDatastore(db_name=str(tmp_path / "suite.db"))
    try:
        sqlite_recorder = SQLiteLedgerRecorder(sqlite)
        sqlite_recorder.create_table()
        with sqlite.transaction(commit=False) as cursor:
            sqlite_recorder.check_guards(SqliteDb(cursor))
    finally:
        sqlite.close()


# --- 12.2, forms the issue did not name: a trigger or rule of someone else's ----------------

# Each adds something to the events table or ledger_chain that makes an append store nothing
# while the ledger's own guards stay as they are: (statements, the name said).
_SQLITE_INTRUDERS = {
    "trigger RAISE(IGNORE) before insert": (
        ["CREATE TRIGGER a_skip BEFORE INSERT ON {table} BEGIN SELECT RAISE(IGNORE); END"],
        "trigger a_skip on {table}",
    ),
}
_PG_INTRUDERS = {
    "trigger returning NULL before insert": (
        [
            _HARMLESS_FUNCTION.format(function="skip").replace("COALESCE(NEW, OLD)", "NULL"),
            "CREATE TRIGGER a_skip BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION skip()",
        ],
        "trigger a_skip on {table}",
    ),
    "rule DO INSTEAD NOTHING on insert": (
        ["CREATE RULE swallow AS ON INSERT TO {table} DO INSTEAD NOTHING"],
        "rule swallow on {table}",
    ),
}


def _intruded(url: str, which: str, statements: list[str], named: str) -> None:
    """Every guard of the ledger's intact, and beside them a trigger (or, on PostgreSQL, a
    rule) that skips each insert: ``record`` said "Recorded … at position 31" (exit 0) and
    stored nothing, or only the chain row, or only the projections."""
    head = _seed(url)
    table = rawdb.events_table(url) if which == "events" else f"ledger_{which}"
    for statement in statements:
        rawdb.execute(url, statement.format(table=table))
    _refused_and_named(url, head, named.format(table=table), "not the ledger's")


@pytest.mark.parametrize("which", ["events", "chain", "nodes"])
@pytest.mark.parametrize("intruder", list(_SQLITE_INTRUDERS))
def test_sqlite_another_trigger_on_the_logs_tables_is_caught(
    tmp_path: Path, intruder: str, which: str
) -> None:
    """12.2: another's trigger on the events table or ledger_chain is refused as a disarmed
    guard is (append and verify exit 4 naming it)."""
    _intruded(f"sqlite:///{tmp_path / 'ledger.db'}", which, *_SQLITE_INTRUDERS[intruder])


@pytest.mark.parametrize("which", ["events", "chain", "nodes"])
@pytest.mark.parametrize("intruder", list(_PG_INTRUDERS))
def test_postgres_another_trigger_or_rule_on_the_logs_tables_is_caught(
    pg_url: str, intruder: str, which: str
) -> None:
    """12.2: another's trigger or rule on the events table or ledger_chain is refused as a
    disarmed guard is (append and verify exit 4 naming it)."""
    _intruded(pg_url, which, *_PG_INTRUDERS[intruder])


@pytest.mark.parametrize("which", ["events", "chain", "nodes"])
def test_postgres_a_replica_session_cannot_change_the_log(pg_url: str, which: str) -> None:
    """12.2 on PostgreSQL: a session with ``session_replication_role = replica`` (a
    superuser's, or one with the right to set it) skips ordinary triggers; the ledger's
    guards fire in every session (``ENABLE ALWAYS``), so its UPDATE, DELETE and TRUNCATE
    are refused there too, and nothing changes."""
    head = _seed(pg_url)
    table = rawdb.events_table(pg_url) if which == "events" else f"ledger_{which}"
    schema = parse_qs(urlsplit(pg_url).query)["schema"][0]
    column = "state" if which == "events" else "hash"
    for statement in (
        f'UPDATE "{table}" SET {column} = {column}',
        f'DELETE FROM "{table}"',
        f'TRUNCATE "{table}" CASCADE',
    ):
        with psycopg.connect(pg_url.split("?")[0]) as pg:
            pg.execute(f'SET search_path TO "{schema}"')
            pg.execute("SET session_replication_role = replica")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                pg.execute(statement)
    _unchanged(pg_url, head)
