"""The stored bytes: the ledger encodes its events itself (orjson, batch by batch), and they
must stay exactly what eventsourcing's mapper writes and reads, so the library can read
every stored event and ledgers written before keep verifying."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger
from ledger._stream import STREAM_ID, decode, encode, recorded

# What an event's JSON can hold: strings (any unicode but lone surrogates, which JSON
# cannot carry), integers, booleans, null, lists and objects.
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_effective = st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat().replace("+00:00", "Z"))


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(1, 2**40),
    effective_at=_effective,
    data=st.dictionaries(_text, _json, max_size=6),
    event_id=_text,
)
def test_the_ledgers_encoding_is_the_library_mappers_byte_for_byte(
    mapper_ledger: Ledger, position: int, effective_at: str, data: dict[str, Any], event_id: str
) -> None:
    event = {"event_id": event_id, "type": "t", "effective_at": effective_at, "data": data}
    ledger = mapper_ledger
    theirs = ledger.app.mapper.to_stored_event(recorded(position, event))
    ours = encode(position, event)
    assert ours == theirs
    # and each side reads the other's
    assert decode(theirs.state) == event
    assert ledger.app.mapper.to_domain_event(ours).event == event  # type: ignore[attr-defined]
    assert ours.originator_id == STREAM_ID


@pytest.fixture(scope="module")
def mapper_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    with Ledger(f"sqlite:///{tmp_path_factory.mktemp('mapper') / 'mapper.db'}") as ledger:
        yield ledger
