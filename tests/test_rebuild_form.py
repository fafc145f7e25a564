"""A rebuild leaves the projection tables as a fresh store has them (every index back), and a
store made before the refs table's present form (a rowid table keyed by (ref, position),
with an index on (ref, effective_us)) still answers, rebuilds and verifies the same."""

from __future__ import annotations

from typing import Any

import pytest
from test_projections import HISTORY, SUBSCRIPTIONS, _state, _us

from ledger import Ledger, read

import rawdb


def _indexes(url: str) -> set[tuple[str, str]]:
    """Each index on a projection table (its table and name), as the database lists them."""
    if url.startswith("sqlite"):
        rows = rawdb.execute(url, "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = rawdb.execute(
            url, "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
    return {(str(t), str(n)) for t, n in rows if str(t).startswith("prj_")}


def _refs(url: str) -> list[tuple[Any, ...]]:
    return sorted(rawdb.execute(url, "SELECT ref, position, effective_us FROM prj_event_refs"))


@pytest.fixture
def full(ledger: Ledger) -> Ledger:
    ledger.record_many([(i, e) for i, e in enumerate(HISTORY, start=1)])
    return ledger


def test_a_rebuild_leaves_every_index_and_row_a_fresh_store_has(full: Ledger, url: str) -> None:
    indexes, refs = _indexes(url), _refs(url)
    assert any(name.endswith("_current") for _, name in indexes)  # the listing is of real indexes
    assert full.rebuild() == len(HISTORY)
    assert _indexes(url) == indexes
    assert _refs(url) == refs
    assert full.verify() == len(HISTORY)


def test_a_failed_rebuild_leaves_the_projections_and_indexes_as_they_were(full: Ledger, url: str) -> None:
    """The rebuild empties and re-indexes inside its transaction: a failure rolls it all back."""
    indexes, refs, before = _indexes(url), _refs(url), _state(full)

    def fail(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        full.rebuild(progress=fail)
    assert _indexes(url) == indexes
    assert _refs(url) == refs
    assert _state(full) == before
    assert full.verify() == len(HISTORY)


def _histories(ledger: Ledger, last: int) -> list[list[Any]]:
    """The customer's, each subscription's and a partner's history, in whole and since a time
    (each reads the refs table: by ref and position, and by effective time)."""
    asked: list[dict[str, Any]] = [
        {"customer": "contoso"},
        {"customer": "contoso", "since": _us("2019-01-08T00:00:00Z")},
        {"partner": "northwind", "until": _us("2019-01-10T00:00:00Z")},
        *({"subscription": s} for s in SUBSCRIPTIONS),
        {"customer": "contoso", "as_of": last},
    ]
    return [[e["position"] for e in read.history(ledger, **a)] for a in asked]


def _to_the_earlier_form(url: str) -> None:
    """The refs table as the version before this one made it, with the same rows."""
    rows = _refs(url)
    rawdb.execute(url, "DROP TABLE prj_event_refs")
    rawdb.execute(
        url,
        "CREATE TABLE prj_event_refs (ref TEXT NOT NULL, position BIGINT NOT NULL, "
        "effective_us BIGINT NOT NULL, PRIMARY KEY (ref, position))",
    )
    rawdb.execute(url, "CREATE INDEX prj_event_refs_effective ON prj_event_refs (ref, effective_us)")
    for row in rows:
        rawdb.execute(url, "INSERT INTO prj_event_refs (ref, position, effective_us) VALUES (?, ?, ?)", row)


def test_a_store_made_before_answers_rebuilds_and_verifies_the_same(full: Ledger, url: str) -> None:
    times = [_us(e.effective_at) for e in HISTORY]
    before = [_state(full, t) for t in times] + [_state(full)]
    histories = _histories(full, times[-1])
    assert histories[0]  # the customer's history is not empty
    refs = _refs(url)
    _to_the_earlier_form(url)
    with Ledger(url) as reopened:
        assert [_state(reopened, t) for t in times] + [_state(reopened)] == before
        assert _histories(reopened, times[-1]) == histories
        assert reopened.verify() == len(HISTORY)
        assert reopened.rebuild() == len(HISTORY)
        assert _refs(url) == refs
        assert ("prj_event_refs", "prj_event_refs_effective") in _indexes(url)
        assert [_state(reopened, t) for t in times] + [_state(reopened)] == before
        assert reopened.verify() == len(HISTORY)
