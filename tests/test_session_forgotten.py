"""A session that began on empty tables still knows, after it evicts its cache, that what it
never wrote does not exist (issue 18): it asks the database only about what it forgot, and
stores, judges and answers exactly what a session that never evicts does (both stores)."""

from __future__ import annotations

from typing import Any

import pytest
from test_batches import contents, projection_rows

import projections._session
from bench.generate import History
from ledger import Event, Ledger, _stored, parse_event
from projections._session import Forgotten, Session


def _event(type_: str, at: str, **data: Any) -> Event:
    actor = {"id": "ops@late", "role": "sales-agent", "tenant_id": "late-c"}
    if type_ == "customer.registered":
        actor["role"] = "global-admin"
    return parse_event({"type": type_, "effective_at": at, "actor": actor, "data": data})


def _purchase(sid: str, at: str) -> Event:
    return _event(
        "subscription.purchased", at, subscription_id=sid, customer_id="late-c", offer="Azure plan",
        service="usage", channel="microsoft",
    )  # fmt: skip


# A customer with purchases in February 2016, then a history long enough to evict it from
# the cache, then two of its purchases recorded late (effective in January 2016): whether
# they are late is known from its newest effective time, forgotten by then.
EVENTS = [
    _event(
        "customer.registered", "2016-01-01T00:00:00Z", customer_id="late-c", name="late", cloud="commercial"
    ),
    *(_purchase(f"late-s{i}", f"2016-02-{i + 1:02d}T00:00:00Z") for i in range(5)),
    *(parse_event(e) for e in History(700, seed=23).events()),
    _purchase("late-early-1", "2016-01-15T00:00:00Z"),
    _purchase("late-early-2", "2016-01-20T00:00:00Z"),
]


def _import(url: str, monkeypatch: pytest.MonkeyPatch, *, evict_after: int, bits: int) -> tuple[Any, int]:
    """Import ``EVENTS`` in batches of 41; the rows stored, and how many things the
    database was asked about that it had never held (new things)."""
    monkeypatch.setattr(_stored, "CHUNK", 41)
    monkeypatch.setattr(projections._session, "EVICT_AFTER", evict_after)
    monkeypatch.setattr(projections._session, "FORGOTTEN_BITS", bits)
    reads = [0]
    take = Session._take

    def counting(self: Session, table: Any, rows: Any, keys: Any) -> None:
        keys = list(keys)
        found = {row[table.key] for row in rows}
        reads[0] += sum(key not in found for key in keys)
        take(self, table, rows, keys)

    monkeypatch.setattr(Session, "_take", counting)
    with Ledger(url) as ledger:
        ledger.import_events(iter(enumerate(EVENTS, start=1)))
        assert ledger.verify() == len(EVENTS)
        return (projection_rows(ledger), contents(ledger)), reads[0]


def test_an_evicting_import_reads_back_only_what_it_forgot(
    url: str, fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a filter that mistakes everything for forgotten (one bit: the database is
    asked about every new thing after an eviction, as before the filter): the same rows,
    and the database is not asked about new things."""
    kept, kept_reads = _import(url, monkeypatch, evict_after=150, bits=1 << 20)
    blind, blind_reads = _import(fresh_url, monkeypatch, evict_after=150, bits=1)
    assert kept == blind
    assert blind_reads > 100
    assert kept_reads < blind_reads / 20  # only the filter's rare mistakes


@pytest.mark.parametrize("bits", [64, 1 << 20])
def test_an_evicting_import_stores_what_a_never_evicting_one_does(
    url: str, fresh_url: str, monkeypatch: pytest.MonkeyPatch, bits: int
) -> None:
    """Whether the filter mistakes much (64 bits) or little for forgotten."""
    never, never_reads = _import(url, monkeypatch, evict_after=10**9, bits=bits)
    assert never_reads == 0  # nothing forgotten: the database is never asked about new things
    evicting, _ = _import(fresh_url, monkeypatch, evict_after=150, bits=bits)
    assert evicting == never


def test_the_filter_says_no_only_of_what_was_never_added() -> None:
    forgotten = Forgotten(4096)
    added = [("prj_customers", f"c-{i}") for i in range(300)]
    for item in added:
        forgotten.add(item)
    assert all(item in forgotten for item in added)
    mistaken = sum(("prj_customers", f"other-{i}") in forgotten for i in range(1000))
    assert mistaken < 300  # a filter, not a yes to everything
