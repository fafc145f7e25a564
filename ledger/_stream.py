"""The ledger's one aggregate.

Every rule of the rulebook may span customers, partners and subscriptions (a purchase is
judged by the customer's program as a partner, a delegation by the customer's accepted
invitations), so the consistency boundary is the whole ledger: one event stream whose
versions are the gap-free positions. Appends are serialised by the store's write lock
(see ``_append``); a second writer of the same version would still be refused by the
stream's version constraint.

The stream is never replayed into an object: appends need only its head position, and
the read side is the projections. So the stored events are encoded and decoded directly
(``encode``/``decode``, with orjson), to exactly the bytes eventsourcing's mapper writes
and reads for ``LedgerStream.Recorded`` (``recorded``): the library can still read every
stored event, and a test holds the two encodings equal.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from projections import canonical_time

from ._sql import STREAM_ID


class LedgerStream(Aggregate):
    """The ledger (never instantiated: see the module doc)."""

    class Recorded(Aggregate.Event):
        """One customer or partner event, in its contract JSON form."""

        event: dict[str, Any]


def recorded(position: int, event: dict[str, Any]) -> LedgerStream.Recorded:
    """The stored form of one event. Its library timestamp is the event's ``effective_at``:
    everything in the stored bytes then follows from what the hash covers, so ``verify``
    can demand the exact bytes (a timestamp of its own would be an unhashed field that an
    attacker could rewrite unseen)."""
    # The metaclass makes ``event`` a dataclass field; mypy's dataclass plugin does not see it.
    return LedgerStream.Recorded(  # type: ignore[call-arg]
        originator_id=STREAM_ID,
        originator_version=position,
        timestamp=canonical_time(str(event["effective_at"])),
        event=event,
    )


TOPIC = "ledger._stream:LedgerStream.Recorded"


def state_bytes(event: dict[str, Any]) -> bytes:
    """The stored state of one event: the library's JSON of ``recorded(…, event)``."""
    timestamp = canonical_time(str(event["effective_at"])).isoformat()
    return orjson.dumps({"timestamp": {"_type_": "datetime_iso", "_data_": timestamp}, "event": event})


def encode(position: int, event: dict[str, Any]) -> StoredEvent:
    """The stored event at ``position`` (as the library's mapper would make it)."""
    return StoredEvent(
        originator_id=STREAM_ID, originator_version=position, topic=TOPIC, state=state_bytes(event)
    )


def decode(state: bytes) -> dict[str, Any]:
    """The event (contract JSON form) in stored state bytes; ``ValueError`` if they are not one."""
    obj = orjson.loads(state)
    event = obj.get("event") if isinstance(obj, dict) else None
    if not isinstance(event, dict):
        raise ValueError("no event in the stored state")
    return event
