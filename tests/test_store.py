"""The store: positions, the chain, idempotency, all-or-nothing batches, append-only tables."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from ledger import GENESIS, BadInput, IntegrityFailure, Ledger, NotFound, RuleViolation, parse_event
from ledger._chain import canonical
from ledger._time import parse_time

import rawdb
from builders import customer, partner, purchase, raw


def _seed(ledger: Ledger) -> None:
    for event in (
        partner("fabrikam"),
        customer("contoso"),
        purchase("sub-1", "contoso"),
        purchase("sub-2", "contoso"),
    ):
        ledger.record(event)


def test_positions_are_gap_free_from_one(ledger: Ledger) -> None:
    receipts = [
        ledger.record(e) for e in (partner("fabrikam"), customer("contoso"), purchase("sub-1", "contoso"))
    ]
    assert [r.position for r in receipts] == [1, 2, 3]
    assert [e["position"] for e in ledger.stored()] == [1, 2, 3]
    assert ledger.verify_chain() == 3


def test_a_rejected_event_takes_no_position(ledger: Ledger) -> None:
    ledger.record(partner("fabrikam"))
    with pytest.raises(RuleViolation):
        ledger.record(purchase("sub-1", "nobody"))
    assert ledger.record(customer("contoso")).position == 2


def test_chain_links_each_event_to_the_one_before(ledger: Ledger) -> None:
    _seed(ledger)
    events = list(ledger.stored())
    assert events[0]["prev_hash"] == GENESIS
    for before, after in itertools.pairwise(events):
        assert after["prev_hash"] == before["hash"]
    for event in events:
        body = {k: v for k, v in event.items() if k != "hash"}
        assert event["hash"] == hashlib.sha256(canonical(body)).hexdigest()
        assert len(event["hash"]) == 64 and event["hash"] == event["hash"].lower()


def test_recorded_at_never_goes_backwards(ledger: Ledger) -> None:
    _seed(ledger)
    times = [parse_time(e["recorded_at"], "recorded_at") for e in ledger.stored()]
    assert times == sorted(times)


def test_same_event_id_same_content_is_a_no_op(ledger: Ledger) -> None:
    ledger.record(partner("fabrikam"))
    event = customer("contoso")
    first = ledger.record(event)
    again = ledger.record(parse_event(event.to_json()))
    assert again.duplicate and again.position == first.position and again.hash == first.hash
    assert ledger.head() == 2


def test_same_event_id_other_content_is_bad_input(ledger: Ledger) -> None:
    first = ledger.record(partner("fabrikam"))
    other = raw(
        "partner.registered",
        "2019-01-01T00:00:00Z",
        "global-admin",
        "fabrikam",
        partner_id="fabrikam",
        name="Other name",
        cloud="commercial",
        program="csp-direct",
    )
    other["event_id"] = first.event_id
    with pytest.raises(BadInput) as exc:
        ledger.record(parse_event(other))
    assert exc.value.field == "event_id" and "position 1" in exc.value.message
    assert ledger.head() == 1


def test_an_equivalent_spelling_of_a_stored_event_is_the_same_event(ledger: Ledger) -> None:
    stored = ledger.record(partner("fabrikam"))
    respelled = parse_event(
        raw(
            "partner.registered",
            "2019-01-01T01:00:00+01:00",
            "global-admin",
            "fabrikam",
            partner_id="fabrikam",
            name="Fabrikam",
            cloud="commercial",
            program="csp-direct",
        )
        | {"event_id": stored.event_id.upper()}
    )
    assert ledger.record(respelled).duplicate


def test_a_batch_is_all_or_nothing(ledger: Ledger) -> None:
    ledger.record(partner("fabrikam"))
    batch = [(1, customer("contoso")), (2, purchase("sub-1", "contoso")), (3, purchase("sub-1", "contoso"))]
    with pytest.raises(RuleViolation) as exc:
        ledger.record_many(batch)
    assert exc.value.rule == "known-references" and exc.value.line == 3
    assert ledger.head() == 1
    assert [e["type"] for e in ledger.stored()] == ["partner.registered"]


def test_a_batch_sees_its_own_earlier_events_and_skips_what_is_stored(ledger: Ledger) -> None:
    first = ledger.record(partner("fabrikam"))
    again = parse_event(next(ledger.stored()))
    receipts = ledger.record_many([(1, again), (2, customer("contoso")), (3, purchase("sub-1", "contoso"))])
    assert [r.duplicate for r in receipts] == [True, False, False]
    assert receipts[0].position == first.position
    assert [r.position for r in receipts[1:]] == [2, 3]


def test_stored_events_refuse_update_and_delete_in_the_database(url: str) -> None:
    with Ledger(url) as ledger:
        _seed(ledger)
        table = ledger.events_table
    for statement in (
        f"UPDATE {table} SET topic = 'x'",
        f"DELETE FROM {table}",
        "UPDATE ledger_chain SET hash = 'x'",
        "DELETE FROM ledger_chain WHERE position = 1",
    ):
        with pytest.raises(Exception, match="append-only"):
            rawdb.execute(url, statement)
    with Ledger(url) as ledger:
        assert ledger.verify_chain() == 4


def test_postgres_refuses_truncate(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        _seed(ledger)
        table = ledger.events_table
    for name in (table, "ledger_chain"):
        with pytest.raises(Exception, match="append-only"):
            rawdb.execute(pg_url, f"TRUNCATE {name}")


@pytest.mark.parametrize(
    ("statement", "position"),
    [
        # a byte of an event's stored content (the customer id inside the purchase)
        (
            "UPDATE {events} SET state = CAST(REPLACE(CAST(state AS TEXT), 'sub-2', 'sub-9') AS {blob}) "
            "WHERE originator_version = 4",
            4,
        ),
        ("UPDATE ledger_chain SET recorded_at = '2030-01-01T00:00:00Z' WHERE position = 2", 2),
        ("UPDATE ledger_chain SET prev_hash = hash WHERE position = 3", 3),
        ("UPDATE ledger_chain SET hash = '" + "0" * 64 + "' WHERE position = 2", 2),
        ("UPDATE ledger_chain SET event_id = 'forged' WHERE position = 1", 1),
        ("DELETE FROM ledger_chain WHERE position = 3", 3),
        ("DELETE FROM {events} WHERE originator_version = 2", 2),
    ],
)
def test_verify_detects_tampering(url: str, statement: str, position: int) -> None:
    with Ledger(url) as ledger:
        _seed(ledger)
        table = ledger.events_table
        assert ledger.verify_chain() == 4
    rawdb.drop_triggers(url)
    blob = "BLOB" if url.startswith("sqlite") else "BYTEA"
    if not url.startswith("sqlite"):
        statement = (
            statement.replace("CAST(state AS TEXT)", "convert_from(state, 'UTF8')")
            .replace("CAST(REPLACE", "convert_to(REPLACE")
            .replace(" AS {blob})", ", 'UTF8')")
        )
    rawdb.execute(url, statement.format(events=table, blob=blob))
    with Ledger(url) as ledger, pytest.raises(IntegrityFailure) as exc:
        ledger.verify_chain()
    assert exc.value.position is not None and exc.value.position <= position


def test_two_ledgers_in_one_database_keep_to_their_own_schemas(pg_url: str) -> None:
    """Each ledger reads and writes its own schema only (the schema is every pooled
    connection's search path)."""
    import psycopg

    from ledger import _read

    dsn, name = pg_url.split("?")[0], "ledger_b"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        with Ledger(pg_url) as first, Ledger(f"{dsn}?schema={name}") as second:
            first.record(partner("fabrikam"))
            second.record(partner("northwind"))
            second.record(customer("contoso"))
            second.record(purchase("sub-1", "contoso", seller="northwind"))
            assert [e["data"]["partner_id"] for e in first.stored()] == ["fabrikam"]
            assert first.head() == 1 and second.head() == 3
            assert first.verify() == 1 and second.verify() == 3
            assert _read.por(second, "sub-1")["partner_of_record"] == "northwind"
            with pytest.raises(NotFound):
                _read.por(first, "sub-1")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.mark.parametrize("schema", ["LedgerB", "ledger-b", "a" * 64])
def test_a_schema_the_store_cannot_use_is_bad_input(schema: str) -> None:
    with pytest.raises(BadInput) as exc:
        Ledger(f"postgresql://postgres@127.0.0.1:5432/test?schema={schema}")
    assert exc.value.field == "db"
