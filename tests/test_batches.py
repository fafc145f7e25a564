"""Appends, rebuilds and verifications work batch by batch through a session that caches
the projections and forgets them when the cache grows: neither the batch size nor the
forgetting may change what is stored, judged or answered (both stores)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import projections._session
from bench.generate import History
from ledger import BadInput, Event, Ledger, _stored, parse_event
from projections import TABLES

from builders import customer, partner, purchase


def projection_rows(ledger: Ledger) -> dict[str, list[tuple[tuple[str, Any], ...]]]:
    out: dict[str, list[tuple[tuple[str, Any], ...]]] = {}
    with ledger.read() as db:
        for name in [t.sql_name for t in TABLES] + ["prj_event_refs"]:
            db.execute(f"SELECT * FROM {name}")
            out[name] = sorted((tuple(sorted(r.items())) for r in db.fetchall()), key=repr)
    return out


def contents(ledger: Ledger) -> list[dict[str, Any]]:
    """The stored events less what depends on when they were recorded."""
    return [
        {k: v for k, v in e.items() if k not in ("recorded_at", "prev_hash", "hash")} for e in ledger.stored()
    ]


def small_batches(monkeypatch: pytest.MonkeyPatch, evict_after: int) -> list[int]:
    """Batches of 37 events, and a cache forgotten once it holds ``evict_after`` versions.

    Returns, for each time the cache was forgotten, how many versions it kept."""
    monkeypatch.setattr(_stored, "CHUNK", 37)
    monkeypatch.setattr(projections._session, "EVICT_AFTER", evict_after)
    kept: list[int] = []
    evict = projections._session.Session._evict

    def counting(self: projections._session.Session) -> None:
        evict(self)
        kept.append(self._cached)

    monkeypatch.setattr(projections._session.Session, "_evict", counting)
    return kept


# 5: the cache is forgotten whole after nearly every batch; 400: forgotten in part, keeping
# what the last batches asked about.
@pytest.mark.parametrize("evict_after", [5, 400])
def test_small_batches_and_a_forgetful_cache_store_the_same(
    url: str, fresh_url: str, monkeypatch: pytest.MonkeyPatch, evict_after: int
) -> None:
    events = [parse_event(e) for e in History(900, seed=11).events()]
    with Ledger(url) as whole:  # a few single records, then one batch
        for event in events[:60]:
            whole.record(event)
        whole.record_many(list(enumerate(events[60:], start=61)))
        expected = projection_rows(whole)
        expected_contents = contents(whole)

    kept = small_batches(monkeypatch, evict_after)
    with Ledger(fresh_url) as streamed:
        summary = streamed.import_events(iter(enumerate(events, start=1)))
        assert (summary.imported, summary.duplicates) == (len(events), 0)
        assert (summary.first_position, summary.last_position) == (1, len(events))
        assert projection_rows(streamed) == expected
        assert contents(streamed) == expected_contents
        # A verification and a rebuild in small batches agree with what was stored.
        assert streamed.verify() == len(events)
        assert streamed.rebuild() == len(events)
        assert projection_rows(streamed) == expected
        # Importing it again, in batches, stores nothing and counts every event.
        again = streamed.import_events(iter(enumerate(events, start=1)))
        assert (again.imported, again.duplicates) == (0, len(events))
    # The cache was forgotten, in the way the case is about.
    assert kept
    assert max(kept) == 0 if evict_after == 5 else any(kept)


def _lines(events: list[Event], broken_at: int | None = None) -> Iterator[tuple[int, Event]]:
    for line, event in enumerate(events, start=1):
        if line == broken_at:
            raise BadInput("effective_at", "is not a time", line=line)
        yield line, event


def _world() -> list[Event]:
    return [partner("fabrikam"), customer("contoso")] + [
        purchase(f"sub-{i}", "contoso", at=f"2019-03-{i + 1:02d}T00:00:00Z") for i in range(20)
    ]


def test_a_repeated_event_id_with_other_content_is_found_across_batches(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stored, "CHUNK", 3)
    events = _world()
    other = parse_event({**events[3].to_json(), "note": "not the same"})
    with pytest.raises(BadInput) as exc:
        ledger.import_events(_lines([*events, other]))
    assert exc.value.field == "event_id"
    assert exc.value.line == len(events) + 1
    assert "appears earlier in this input (line 4)" in exc.value.message
    assert ledger.head() == 0


def test_the_same_event_twice_in_a_streamed_input_is_stored_once(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stored, "CHUNK", 3)
    events = _world()
    summary = ledger.import_events(_lines([*events, events[3], events[0]]))
    assert (summary.imported, summary.duplicates) == (len(events), 2)
    assert ledger.head() == len(events)
    assert ledger.verify() == len(events)


def test_bad_input_late_in_a_stream_stores_nothing_of_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stored, "CHUNK", 3)
    ledger.record(partner("northwind"))
    before = list(ledger.stored())
    with pytest.raises(BadInput) as exc:
        ledger.import_events(_lines(_world(), broken_at=17))
    assert exc.value.line == 17
    assert list(ledger.stored()) == before
    assert ledger.verify() == 1
