"""Tamper evidence, byte by byte: whatever an attacker with write access to the database
changes, ``verify`` names a position at or before it.

The attacker drops the append-only triggers first. On a small SQLite ledger every byte of
every stored event (its ``state`` and its other columns) and every character of every chain
row is flipped in turn, each time checked through the library (``verify_chain``), and a
sample through the ``ledger verify`` command (exit 4). Deleting, swapping and truncating rows
are caught too; truncation, which leaves a shorter log that verifies on its own, is caught by
``verify --digest`` with the head hash an earlier ``verify`` printed.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import GENESIS, BadInput, IntegrityFailure, Ledger
from ledger._sqlite import drop_triggers_statements

import clitools
from builders import accept, customer, grant, partner, purchase, request

EVENTS = [
    partner("fabrikam"),
    customer("contoso"),
    request("r-1", "fabrikam", "contoso"),
    accept("r-1", "contoso"),
    purchase("sub-1", "contoso"),
    grant("d-1", "contoso", "fabrikam", at="2019-05-01T00:00:00Z"),
]
CHAIN_TEXT = ("event_id", "recorded_at", "prev_hash", "hash")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ledger file, recorded once for the module, triggers dropped (the attacker's
    first step; they come back whenever a ``Ledger`` opens the file)."""
    path = tmp_path_factory.mktemp("tamper") / "pristine.db"
    with Ledger(f"sqlite:///{path}") as ledger:
        ledger.record_many(list(enumerate(EVENTS, start=1)))
        assert ledger.verify() == len(EVENTS)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


class Attacker:
    """A raw connection to a copy of the ledger file (triggers dropped) beside an open
    ``Ledger`` on it: each change is committed, verified, and undone."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.ledger = Ledger(self.url)  # opened first: it recreates the triggers it finds missing
        self.table = self.ledger.events_table
        self.conn = sqlite3.connect(path, isolation_level=None)
        for statement in drop_triggers_statements(self.table):
            self.conn.execute(statement)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()

    def set(self, table: str, column: str, value: object, key: str, key_value: object) -> None:
        self.conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (value, key_value))

    def caught_at(self) -> int:
        """The position ``verify_chain`` names (it must fail)."""
        with pytest.raises(IntegrityFailure) as failure:
            self.ledger.verify_chain()
        assert failure.value.position is not None, failure.value.message
        return failure.value.position

    def close(self) -> None:
        self.conn.close()
        self.ledger.close()


@pytest.fixture
def attacker(pristine: Path, tmp_path: Path) -> Iterator[Attacker]:
    copy = tmp_path / "ledger.db"
    shutil.copy(pristine, copy)
    opened = Attacker(copy)
    try:
        yield opened
    finally:
        opened.close()


def flipped(data: bytes, index: int, mask: int) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def test_every_flipped_byte_of_every_stored_event_is_caught_at_its_position(attacker: Attacker) -> None:
    rows = attacker.rows(
        f"SELECT originator_version, state FROM {attacker.table} ORDER BY originator_version"
    )
    assert [r[0] for r in rows] == list(range(1, len(EVENTS) + 1))
    for position, state in rows:
        for index in range(len(state)):
            for mask in (0x01, 0x20, 0x80):
                attacker.set(
                    attacker.table, "state", flipped(state, index, mask), "originator_version", position
                )
                assert attacker.caught_at() <= position, (position, index, mask)
        attacker.set(attacker.table, "state", state, "originator_version", position)
    assert attacker.ledger.verify_chain() == len(EVENTS)


def test_every_flipped_character_of_the_other_event_columns_is_caught(attacker: Attacker) -> None:
    rows = attacker.rows(f"SELECT originator_version, originator_id, topic FROM {attacker.table}")
    for position, originator_id, topic in rows:
        for column, value in (("originator_id", originator_id), ("topic", topic)):
            for index in range(len(value)):
                changed = value[:index] + chr(ord(value[index]) ^ 0x01) + value[index + 1 :]
                attacker.set(attacker.table, column, changed, "originator_version", position)
                assert attacker.caught_at() <= position, (column, position, index)
            attacker.set(attacker.table, column, value, "originator_version", position)
        for other in (position + 1000, -position):
            attacker.set(attacker.table, "originator_version", other, "originator_version", position)
            assert attacker.caught_at() <= position
            attacker.set(attacker.table, "originator_version", position, "originator_version", other)
    assert attacker.ledger.verify_chain() == len(EVENTS)


def test_every_flipped_character_of_every_chain_row_is_caught_at_its_position(attacker: Attacker) -> None:
    rows = attacker.rows(f"SELECT position, {', '.join(CHAIN_TEXT)}, recorded_us FROM ledger_chain")
    assert len(rows) == len(EVENTS)
    for position, *texts, recorded_us in rows:
        for column, value in zip(CHAIN_TEXT, texts, strict=True):
            for index in range(len(value)):
                for mask in (0x01, 0x20):
                    changed = value[:index] + chr(ord(value[index]) ^ mask) + value[index + 1 :]
                    attacker.set("ledger_chain", column, changed, "position", position)
                    assert attacker.caught_at() <= position, (column, position, index, mask)
            attacker.set("ledger_chain", column, value, "position", position)
        # recorded_us is not hashed (recorded_at is): it must still agree with recorded_at,
        # or --known-at answers could be moved unseen.
        for other in (recorded_us ^ 1, recorded_us + 1_000_000, recorded_us - 86_400_000_000, 0):
            attacker.set("ledger_chain", "recorded_us", other, "position", position)
            assert attacker.caught_at() <= position, ("recorded_us", position, other)
        attacker.set("ledger_chain", "recorded_us", recorded_us, "position", position)
        for other in (position + 1000, -position):
            attacker.set("ledger_chain", "position", other, "position", position)
            assert attacker.caught_at() <= position, ("position", position, other)
            attacker.set("ledger_chain", "position", position, "position", other)
    assert attacker.ledger.verify_chain() == len(EVENTS)


@pytest.mark.parametrize("position", range(1, len(EVENTS) + 1))
@pytest.mark.parametrize("tables", [("events",), ("chain",), ("events", "chain")])
def test_a_deleted_row_is_caught(attacker: Attacker, position: int, tables: tuple[str, ...]) -> None:
    if "events" in tables:
        attacker.conn.execute(f"DELETE FROM {attacker.table} WHERE originator_version = ?", (position,))
    if "chain" in tables:
        attacker.conn.execute("DELETE FROM ledger_chain WHERE position = ?", (position,))
    if position == len(EVENTS) and tables == ("events", "chain"):
        # The tail, whole: a shorter log that verifies; the projections still know better.
        assert attacker.ledger.verify_chain() == len(EVENTS) - 1
        with pytest.raises(IntegrityFailure) as failure:
            attacker.ledger.verify()
        assert failure.value.position == position
    else:
        assert attacker.caught_at() <= position


@pytest.mark.parametrize(("first", "second"), [(1, 2), (2, 3), (3, 6), (5, 6)])
@pytest.mark.parametrize("what", ["state", "chain row", "event and chain row"])
def test_two_swapped_rows_are_caught(attacker: Attacker, first: int, second: int, what: str) -> None:
    def swap() -> None:  # its own inverse
        if what in ("state", "event and chain row"):
            a, b = (
                attacker.rows(f"SELECT state FROM {attacker.table} WHERE originator_version = {p}")[0][0]
                for p in (first, second)
            )
            attacker.set(attacker.table, "state", b, "originator_version", first)
            attacker.set(attacker.table, "state", a, "originator_version", second)
        if what in ("chain row", "event and chain row"):
            attacker.conn.execute("UPDATE ledger_chain SET position = -1 WHERE position = ?", (first,))
            attacker.conn.execute("UPDATE ledger_chain SET position = ? WHERE position = ?", (first, second))
            attacker.conn.execute("UPDATE ledger_chain SET position = ? WHERE position = -1", (second,))

    swap()
    assert attacker.caught_at() <= first
    swap()
    assert attacker.ledger.verify_chain() == len(EVENTS)


def _truncate(attacker: Attacker, keep: int) -> None:
    attacker.conn.execute(f"DELETE FROM {attacker.table} WHERE originator_version > ?", (keep,))
    attacker.conn.execute("DELETE FROM ledger_chain WHERE position > ?", (keep,))
    # and the Merkle tree's nodes over what was cut (each completed by leaf (idx + 1) << level)
    attacker.conn.execute("DELETE FROM ledger_nodes WHERE ((idx + 1) << level) > ?", (keep,))


def test_a_truncated_tail_is_caught_by_the_digest_taken_before(attacker: Attacker) -> None:
    digest = attacker.ledger.head_hash()
    assert attacker.ledger.verify(digest=digest) == len(EVENTS)
    assert attacker.ledger.extends(digest) == len(EVENTS)
    assert attacker.ledger.extends(GENESIS) == 0  # every log extends the empty one
    _truncate(attacker, 4)
    attacker.ledger.rebuild()  # the attacker tidies the projections too
    assert attacker.ledger.verify() == 4  # on its own, the shorter log verifies
    with pytest.raises(IntegrityFailure) as failure:
        attacker.ledger.verify(digest=digest)
    assert "no longer contains the head" in failure.value.message and "truncated" in failure.value.message
    # An older digest, of a head still in the log, is fine.
    older = next(attacker.ledger.stored(3, 3))["hash"]
    assert attacker.ledger.verify(digest=older.upper()) == 4


def test_a_rewritten_log_that_verifies_is_caught_by_the_digest(tmp_path: Path) -> None:
    """A log rebuilt from scratch with a different history verifies on its own; the digest of
    the original log is not in it."""
    original, forged = f"sqlite:///{tmp_path / 'original.db'}", f"sqlite:///{tmp_path / 'forged.db'}"
    with Ledger(original) as ledger:
        ledger.record_many(list(enumerate(EVENTS, start=1)))
        digest = ledger.head_hash()
    with Ledger(forged) as ledger:
        ledger.record_many(list(enumerate(EVENTS[:4], start=1)))
        ledger.record(purchase("sub-1", "contoso", seller="fabrikam", service="license"))
        assert ledger.verify() == 5
        with pytest.raises(IntegrityFailure):
            ledger.verify(digest=digest)


@pytest.mark.parametrize("digest", ["", "abc", "g" * 64, "0" * 63, "0" * 65, " " + "0" * 64])
def test_a_malformed_digest_is_bad_input(attacker: Attacker, digest: str) -> None:
    with pytest.raises(BadInput) as exc:
        attacker.ledger.extends(digest)
    assert exc.value.field == "digest"


# --- the same through the command ----------------------------------------------------------


def _verify(url: str, *args: str) -> tuple[int, Any]:
    done = clitools.run("--db", url, "verify", *args, "--json")
    assert b"Traceback" not in done.stderr
    return done.returncode, orjson.loads(done.stdout)


def test_the_command_names_the_tampered_position_and_exits_4(attacker: Attacker) -> None:
    code, clean = _verify(attacker.url)
    assert code == 0 and clean == {"verified": len(EVENTS), "head": attacker.ledger.head_hash()}
    digest = clean["head"]
    code, extended = _verify(attacker.url, "--digest", digest)
    assert code == 0 and extended["extends"] == digest

    state = attacker.rows(f"SELECT state FROM {attacker.table} WHERE originator_version = 3")[0][0]
    hour = state.index(b'"_data_":"') + len(b'"_data_":"') + 12  # the library timestamp's hour
    chain_hash = attacker.rows("SELECT hash FROM ledger_chain WHERE position = 5")[0][0]
    recorded_us = attacker.rows("SELECT recorded_us FROM ledger_chain WHERE position = 2")[0][0]
    cases: list[tuple[str, str, object, str, int]] = [  # table, column, value, key, position
        (attacker.table, "state", flipped(state, hour, 0x01), "originator_version", 3),
        (attacker.table, "state", flipped(state, len(state) - 20, 0x01), "originator_version", 3),
        ("ledger_chain", "hash", chain_hash[:-1] + ("1" if chain_hash[-1] == "0" else "0"), "position", 5),
        ("ledger_chain", "recorded_us", recorded_us + 1, "position", 2),
    ]
    for table, column, value, key, position in cases:
        original = attacker.rows(f"SELECT {column} FROM {table} WHERE {key} = {position}")[0][0]
        # The command opens the file and restores the triggers: drop them again each time.
        for statement in drop_triggers_statements(attacker.table):
            attacker.conn.execute(statement)
        attacker.set(table, column, value, key, position)
        code, error = _verify(attacker.url)
        assert code == 4, error
        assert error["error"]["code"] == "integrity"
        assert error["error"]["position"] <= position, (column, error)
        for statement in drop_triggers_statements(attacker.table):
            attacker.conn.execute(statement)
        attacker.set(table, column, original, key, position)

    for statement in drop_triggers_statements(attacker.table):
        attacker.conn.execute(statement)
    _truncate(attacker, 4)
    attacker.ledger.rebuild()
    code, shorter = _verify(attacker.url)
    assert code == 0 and shorter["verified"] == 4
    code, error = _verify(attacker.url, "--digest", digest)
    assert code == 4 and error["error"]["code"] == "integrity"
    assert "no longer contains the head" in error["error"]["message"]
    code, error = _verify(attacker.url, "--digest", "not-a-digest")
    assert code == 2 and error["error"]["code"] == "bad-input" and "digest" in error["error"]["message"]


def test_the_command_without_json_says_it_in_one_sentence(attacker: Attacker) -> None:
    digest = attacker.ledger.head_hash()
    done = clitools.run("--db", attacker.url, "verify", "--digest", digest)
    assert done.returncode == 0 and f"extends the log whose head was {digest}" in done.stdout.decode()
    done = clitools.run("--db", attacker.url, "verify", "--digest", "f" * 64)
    assert done.returncode == 4 and b"Traceback" not in done.stderr
    assert "no longer contains the head" in done.stderr.decode()
