"""Queries through the ledger's own read connection (SQLite) answer as a read transaction
does, see every commit the moment it is made, by this process or another, and report a
broken store as the contract's store error."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

import projections
from ledger import Ledger, NotFound, StoreError, read
from ledger._time import parse_time
from projections._time import format_us, to_us

from builders import accept, customer, partner, purchase, request, switch
from clitools import run

HISTORY = [
    partner("fabrikam", at="2018-01-01T00:00:00Z"),
    partner("northwind", at="2018-01-02T00:00:00Z"),
    customer("contoso", at="2019-01-01T00:00:00Z"),
    request("r-fab", "fabrikam", "contoso", at="2019-01-02T00:00:00Z"),
    accept("r-fab", "contoso", at="2019-01-03T00:00:00Z"),
    request("r-nw", "northwind", "contoso", at="2019-01-03T00:00:00Z"),
    accept("r-nw", "contoso", at="2019-01-03T12:00:00Z"),
    purchase("azure-1", "contoso", at="2019-01-04T00:00:00.25Z"),
    purchase(
        "o365-1", "contoso", at="2019-01-05T00:00:00Z", service="license", term_end="2020-01-05T00:00:00Z"
    ),
    switch("azure-1", "fabrikam", "northwind", at="2019-01-10T00:00:00Z"),
]


def _us(text: str) -> int:
    return to_us(parse_time(text, "t"))


def _in_a_transaction(ledger: Ledger, sub: str, at: int, known_at: int | None) -> dict[str, Any] | None:
    """``por`` asked inside one read transaction (``Ledger.read``), the way every other
    question is."""
    with ledger.read() as db:
        return projections.partner_of_record(db, sub, at, read.known_position(db, known_at))


def _on_its_own(ledger: Ledger, sub: str, at: int, known_at: int | None) -> dict[str, Any] | None:
    try:
        return read.por(ledger, sub, at, known_at)
    except NotFound:
        return None


def test_por_answers_as_a_read_transaction_does(ledger: Ledger) -> None:
    receipts = [ledger.record(event) for event in HISTORY]
    known = [None, *(_us(r.recorded_at) for r in receipts)]
    times = sorted({_us(e.effective_at) + d for e in HISTORY for d in (-1, 0, 1)})
    compared = 0
    for sub in ("azure-1", "o365-1", "unknown"):
        for at in times:
            for known_at in known:
                expected = _in_a_transaction(ledger, sub, at, known_at)
                assert _on_its_own(ledger, sub, at, known_at) == expected, (sub, at, known_at)
                if expected is not None:
                    assert expected["as_of"] == format_us(at)
                    compared += 1
    assert compared > 20
    switched = read.por(ledger, "azure-1", _us("2019-01-10T00:00:00Z"))
    assert (switched["partner_of_record"], switched["since"]) == ("northwind", "2019-01-10T00:00:00Z")
    bought = read.por(ledger, "azure-1", _us("2019-01-04T00:00:00.25Z"))
    assert (bought["partner_of_record"], bought["since"]) == ("fabrikam", "2019-01-04T00:00:00.250000Z")


def test_por_inside_a_read_transaction_and_from_another_thread(ledger: Ledger) -> None:
    for event in HISTORY:
        ledger.record(event)
    alone = read.por(ledger, "azure-1")
    with ledger.read():
        inside = read.por(ledger, "azure-1")
        customer_view = read.customer(ledger, "contoso")  # a read nested in a read
    answers: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: answers.append(read.por(ledger, "azure-1")))
    worker.start()
    worker.join()
    assert {**inside, "as_of": None} == {**alone, "as_of": None} == {**answers[0], "as_of": None}
    por_of = {s["subscription_id"]: s["partner_of_record"] for s in customer_view["subscriptions"]}
    assert por_of == {"azure-1": "northwind", "o365-1": "fabrikam"}


def test_a_query_sees_what_this_ledger_has_just_recorded(ledger: Ledger) -> None:
    for event in HISTORY[:7]:
        ledger.record(event)
    with pytest.raises(NotFound):
        read.por(ledger, "azure-1")
    assert read.customer(ledger, "contoso")["subscriptions"] == []
    ledger.record(HISTORY[7])
    assert read.por(ledger, "azure-1")["partner_of_record"] == "fabrikam"
    assert [s["subscription_id"] for s in read.customer(ledger, "contoso")["subscriptions"]] == ["azure-1"]
    ledger.record(HISTORY[9])
    assert read.por(ledger, "azure-1")["partner_of_record"] == "northwind"
    assert ledger.head() == 9


def test_a_query_sees_what_another_process_recorded_once_it_commits(ledger: Ledger, url: str) -> None:
    for event in HISTORY[:7]:
        ledger.record(event)
    with pytest.raises(NotFound):
        read.por(ledger, "azure-1")  # the read connection is open, and has answered, before
    assert ledger.head() == 7
    for event in HISTORY[7:]:
        done = run("--db", url, "record", "--event", orjson.dumps(event.to_json()).decode())
        assert done.returncode == 0, done.stderr
    answer = read.por(ledger, "azure-1")
    assert (answer["partner_of_record"], answer["since"]) == ("northwind", "2019-01-10T00:00:00Z")
    assert len(read.customer(ledger, "contoso")["subscriptions"]) == 2
    assert [e["position"] for e in read.history(ledger, subscription="azure-1")] == [8, 10]
    assert ledger.head() == 10


def test_a_store_file_that_is_no_longer_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(f"sqlite:///{path}") as ledger:
        for event in HISTORY:
            ledger.record(event)
        assert read.por(ledger, "azure-1")["partner_of_record"] == "northwind"
    with Ledger(f"sqlite:///{path}") as ledger:
        with path.open("r+b") as handle:  # what a disk error or a stray write leaves behind
            handle.write(b"this is no SQLite database" * 4096)
        for ask in (
            lambda: read.por(ledger, "azure-1"),
            lambda: read.por(ledger, "azure-1", None, _us("2030-01-01T00:00:00Z")),
            lambda: read.customer(ledger, "contoso"),
        ):
            with pytest.raises(StoreError, match="cannot use the store"):
                ask()
