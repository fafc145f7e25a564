"""The read side: incremental state equals a rebuild, as-of equals the fold up to then,
known-at forgets later recordings, verify catches altered projection rows, restore round-trips."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ledger import Event, IntegrityFailure, Ledger, NotFound, read
from ledger._time import parse_time
from projections._time import to_us

import rawdb
from builders import accept, cancel, customer, gdap_request, grant, partner, purchase, request, revoke, switch

# One customer's history with strictly increasing effective times (one event per day).
HISTORY: list[Event] = [
    partner("fabrikam", at="2018-01-01T00:00:00Z"),
    partner("northwind", at="2018-01-02T00:00:00Z"),
    partner("adatum", program="csp-indirect-provider", at="2018-01-03T00:00:00Z"),
    partner("litware", program="csp-indirect-reseller", providers=["adatum"], at="2018-01-04T00:00:00Z"),
    customer("contoso", at="2019-01-01T00:00:00Z"),
    request("r-fab", "fabrikam", "contoso", at="2019-01-02T00:00:00Z"),
    accept("r-fab", "contoso", at="2019-01-03T00:00:00Z"),
    purchase("azure-1", "contoso", at="2019-01-04T00:00:00Z"),
    purchase(
        "o365-1", "contoso", at="2019-01-05T00:00:00Z", service="license", term_end="2020-01-05T00:00:00Z"
    ),
    grant("d-fab", "contoso", "fabrikam", at="2019-01-06T00:00:00Z"),
    request("r-nw", "northwind", "contoso", at="2019-01-07T00:00:00Z"),
    accept("r-nw", "contoso", at="2019-01-08T00:00:00Z"),
    gdap_request(
        "g-nw", "contoso", "northwind", at="2019-01-08T12:00:00Z", duration="P3D", roles=["Global Reader"]
    ),
    grant(
        "g-nw",
        "contoso",
        "northwind",
        at="2019-01-09T00:00:00Z",
        kind="gdap",
        expires="2019-01-12T00:00:00Z",
        roles=["Global Reader"],
    ),
    switch("azure-1", "fabrikam", "northwind", at="2019-01-10T00:00:00Z"),
    request("r-adt", "adatum", "contoso", at="2019-01-11T00:00:00Z", reseller="litware"),
    accept("r-adt", "contoso", at="2019-01-12T00:00:00Z"),  # g-nw expires this instant
    revoke("d-fab", "contoso", at="2019-01-13T00:00:00Z"),
    cancel("o365-1", at="2019-01-14T00:00:00Z"),
    purchase(
        "o365-2",
        "contoso",
        at="2019-01-14T00:00:00Z",
        service="license",
        seller="adatum",
        reseller="litware",
        term_end="2020-01-14T00:00:00Z",
    ),
]
SUBSCRIPTIONS = ("azure-1", "o365-1", "o365-2")


def _us(text: str) -> int:
    return to_us(parse_time(text, "t"))


def _state(ledger: Ledger, as_of: int | None = None, known_at: int | None = None) -> dict[str, Any]:
    """Everything the queries say about the test customer, less the echo of the asked time."""

    def answer(query: Any, *args: Any) -> Any:
        try:
            found = query(ledger, *args, as_of, known_at)
        except NotFound:
            return None
        found.pop("as_of", None)
        for sub in found.get("subscriptions", []):
            sub.pop("as_of")
        return found

    return {
        "customer": answer(read.customer, "contoso"),
        "delegations": answer(read.delegations, "contoso"),
        **{sub: answer(read.por, sub) for sub in SUBSCRIPTIONS},
    }


@pytest.fixture
def full(ledger: Ledger) -> Ledger:
    ledger.record_many([(i, e) for i, e in enumerate(HISTORY, start=1)])
    return ledger


def test_incremental_state_equals_a_rebuild(full: Ledger) -> None:
    before = [_state(full, _us(e.effective_at)) for e in HISTORY] + [_state(full)]
    assert full.verify() == len(HISTORY)
    assert full.rebuild() == len(HISTORY)
    after = [_state(full, _us(e.effective_at)) for e in HISTORY] + [_state(full)]
    assert after == before
    assert full.verify() == len(HISTORY)


def test_as_of_each_event_equals_the_fold_of_the_events_up_to_it(full: Ledger, fresh_url: str) -> None:
    with Ledger(fresh_url) as prefix:
        for k, event in enumerate(HISTORY, start=1):
            prefix.record(event)
            at = _us(event.effective_at)
            if k < len(HISTORY) and HISTORY[k].effective_at == event.effective_at:
                continue  # the next event shares this instant: compare after both
            assert _state(full, at) == _state(prefix, at), f"as of event {k} ({event.type})"


def test_known_at_excludes_later_recordings(ledger: Ledger) -> None:
    ledger.record_many([(i, e) for i, e in enumerate(HISTORY[:10], start=1)])
    then = _state(ledger)
    time.sleep(0.01)
    known_at = to_us(parse_time(next(iter(ledger.stored(10, 10)))["recorded_at"], "t"))
    time.sleep(0.01)
    ledger.record_many([(i, e) for i, e in enumerate(HISTORY[10:], start=11)])
    assert _state(ledger) != then
    assert _state(ledger, known_at=known_at) == then
    events = list(read.history(ledger, customer="contoso", known_at=known_at))
    assert [e["position"] for e in events] == list(range(5, 11))


def test_gdap_drops_out_at_expiry_without_an_event(full: Ledger) -> None:
    def partners(at: str) -> list[str]:
        return [d["partner_id"] for d in read.delegations(full, "contoso", _us(at))["delegations"]]

    assert partners("2019-01-11T23:59:59Z") == ["fabrikam", "northwind"]
    assert partners("2019-01-12T00:00:00Z") == ["fabrikam"]
    assert partners("2019-01-13T00:00:00Z") == []


def test_partner_of_record_over_time(full: Ledger) -> None:
    def por(sub: str, at: str) -> tuple[str | None, str | None, str]:
        p = read.por(full, sub, _us(at))
        return p["partner_of_record"], p["billing_partner"], p["status"]

    assert por("azure-1", "2019-01-09T00:00:00Z") == ("fabrikam", "fabrikam", "active")
    assert por("azure-1", "2019-01-10T00:00:00Z") == ("northwind", "northwind", "active")
    assert por("o365-1", "2019-01-14T00:00:00Z") == ("fabrikam", "fabrikam", "cancelled")
    assert por("o365-2", "2019-01-14T00:00:00Z") == ("litware", "adatum", "active")
    with pytest.raises(NotFound):
        read.por(full, "azure-1", _us("2019-01-03T00:00:00Z"))  # before its purchase
    with pytest.raises(NotFound):
        read.por(full, "unknown", None)


def test_delegations_and_relationships_never_change_a_partner_of_record(full: Ledger) -> None:
    multi_partner = {
        "delegation.granted",
        "delegation.revoked",
        "relationship.requested",
        "relationship.accepted",
        "relationship.removed",
    }
    for k, event in enumerate(HISTORY[1:], start=1):
        if event.type not in multi_partner:
            continue
        before = _us(HISTORY[k - 1].effective_at)
        at = _us(event.effective_at)
        if before == at:
            continue
        for sub in SUBSCRIPTIONS:
            try:
                was = read.por(full, sub, at - 1)
            except NotFound:
                continue
            now = read.por(full, sub, at)
            assert {**was, "as_of": None} == {**now, "as_of": None}, (event.type, sub)


def test_history_filters(full: Ledger) -> None:
    def positions(**filters: Any) -> list[int]:
        return [e["position"] for e in read.history(full, **filters)]

    assert positions(subscription="azure-1") == [8, 15]
    assert positions(partner="litware") == [4, 16, 17, 20]
    assert positions(customer="contoso", partner="northwind") == [11, 12, 13, 14, 15]
    assert positions(
        customer="contoso", since=_us("2019-01-12T00:00:00Z"), until=_us("2019-01-13T00:00:00Z")
    ) == [17, 18]
    assert positions(customer="contoso", as_of=_us("2019-01-02T00:00:00Z")) == [5, 6]
    with pytest.raises(NotFound):
        positions(customer="nobody")


@pytest.mark.parametrize(
    ("statement", "first_touched"),
    [
        (
            "UPDATE prj_subscriptions SET partner_of_record = 'mallory' WHERE subscription_id = 'azure-1'",
            "SELECT MIN(created_pos) FROM prj_subscriptions WHERE subscription_id = 'azure-1'",
        ),
        (
            "DELETE FROM prj_delegations WHERE delegation_id = 'g-nw'",
            "SELECT MIN(created_pos) FROM prj_delegations WHERE delegation_id = 'g-nw'",
        ),
        (
            "UPDATE prj_relationships SET valid_to = 0 WHERE request_id = 'r-fab'",
            "SELECT MIN(created_pos) FROM prj_relationships WHERE request_id = 'r-fab'",
        ),
        (
            "INSERT INTO prj_event_refs (ref, position, effective_us) VALUES ('customer:contoso', 99, 0)",
            "SELECT 99",
        ),
    ],
)
def test_verify_catches_an_altered_projection_row(
    full: Ledger, url: str, statement: str, first_touched: str
) -> None:
    """Verify names the earliest position of a row that was altered, added or removed."""
    [(expected,)] = rawdb.execute(url, first_touched)
    rawdb.execute(url, statement)
    with pytest.raises(IntegrityFailure) as exc:
        full.verify()
    assert "projection" in exc.value.message and exc.value.position == expected
    full.rebuild()
    assert full.verify() == len(HISTORY)


def test_restore_round_trips_an_export_byte_for_byte(full: Ledger, fresh_url: str) -> None:
    exported = list(full.stored())
    with Ledger(fresh_url) as restored:
        restored.restore(enumerate(exported, start=1))
        assert list(restored.stored()) == exported
        assert restored.verify() == len(HISTORY)
        assert _state(restored) == _state(full)


def test_restore_refuses_a_file_whose_chain_does_not_verify(full: Ledger, fresh_url: str) -> None:
    exported = list(full.stored())
    exported[5]["data"] = {**exported[5]["data"], "partner_id": "northwind"}
    with Ledger(fresh_url) as restored:
        with pytest.raises(IntegrityFailure) as exc:
            restored.restore(enumerate(exported, start=1))
        assert exc.value.line == 6
        assert restored.head() == 0


def test_restore_needs_an_empty_ledger(full: Ledger) -> None:
    with pytest.raises(Exception, match="empty ledger"):
        full.restore(enumerate(list(full.stored()), start=1))
