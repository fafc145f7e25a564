"""What a source's reader, its mapping and the ingest engine hand each other.

The flow: ``read_source(source, name, raw)`` (``_read.py``) turns one saved file into
``Record`` values; the source's mapping (``MAPPERS[source]``, one module per source) turns
records into ``Proposal`` (an event the record implies) and ``Skip`` (a record that implies
none, with its reason); the engine (``_engine.py``) gives proposals deterministic ids,
merges the ones two sources share, registers the tenants they name, and records each event
all or nothing through the rulebook, reporting what was recorded, already on record or
skipped. Mappings are pure: they read records and the context, never the store.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SOURCES = (
    "graph-gdap",
    "pc-audit",
    "pc-customers",
    "pc-subscriptions",
    "pc-transfers",
    "pc-resellers",
)

# Every ingested event's ``event_id`` is uuid5(NAMESPACE, key) of a key naming the real-world
# transition (never the file or the source record), so that two sources describing the same
# transition propose the same id and it is recorded once: see ``event_id``.
NAMESPACE = uuid.UUID("6b7c3f0e-4a51-5b2e-9d1a-0c3e8f6a2b47")


# The prefix of a source id the reader derived from a record's content (an audit record saved
# without ``id``: ``_read.derived_audit_id``), which the record's events' notes then say.
DERIVED_ID = "derived-"


def event_id(*key: str) -> str:
    """The deterministic id of the transition ``key`` names, e.g.
    ``event_id("delegation.granted", relationship_id)`` or
    ``event_id("subscription.purchased", subscription_id)``."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(key)))


# The reseller map (MPN id -> tenant) lives in the event log itself: an indirect reseller's
# ``partner.registered`` from ``pc-resellers`` carries ``mpn_note(mpn_id)`` in its note, and
# the engine finds the map of earlier runs again in the stored notes (``MPN_IN_NOTE``).
MPN_IN_NOTE = re.compile(r"\bmpnId ([0-9A-Za-z_.-]+)")


def mpn_note(mpn_id: str) -> str:
    """The phrase a reseller's registration note carries its MPN id in: ``mpnId 4812345``."""
    return f"mpnId {mpn_id}"


@dataclass(frozen=True)
class Record:
    """One source record as read from a saved file: keys in camelCase whatever the file used
    (PascalCase from the PowerShell module is folded), values as the JSON had them."""

    source: str  # one of SOURCES
    source_id: str  # the source's own id: audit record id, relationship id, subscription id
    data: Mapping[str, Any]
    file: str  # the file's name as the operator gave it
    where: str  # where in the file: "page 2, item 5" or "line 7"


@dataclass(frozen=True)
class Proposal:
    """One event a source record implies, in the ledger's event JSON (as ``parse_event``
    takes it), with its deterministic ``event_id`` and a ``note`` naming the source record and
    every value that was not read but inferred or defaulted (the same phrases as
    ``inferred``)."""

    source: str
    source_id: str
    event: Mapping[str, Any]
    inferred: tuple[str, ...] = ()  # e.g. "effective_at from lastModifiedDateTime (inferred)"


@dataclass(frozen=True)
class Skip:
    """A source record that implies no event, and why (a failed operation, an operation the
    ledger does not model, a status that changes no right)."""

    source: str
    source_id: str
    reason: str


@dataclass(frozen=True)
class Context:
    """What a mapping may know besides its records: whose data it is (``--partner``), the
    cloud and program to register tenants first seen in, the reseller map (MPN id to
    tenant id) from ``pc-resellers`` files, this run's and earlier runs', and what the
    other sources say of transferred subscriptions."""

    partner_id: str
    cloud: str = "commercial"
    program: str = "csp-direct"
    resellers: Mapping[str, str] = field(default_factory=dict)  # MPN id -> tenant id
    # What a transfer's mapping needs of the subscription's sale and a subscription's mapping
    # of its transfer, which other sources hold (``_facts.transfer_facts``: this run's records
    # and the ledger): the partner of record before a transfer out of the ingesting partner,
    # and the source partner and transfer id of a transfer into it.
    partners_of_record: Mapping[str, str] = field(default_factory=dict)  # subscription -> tenant
    transferred_in: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # sub -> (source, transfer)
    # ``--customer``: whose subscriptions a file holds where its records name no customer (the
    # API's ``/v1/customers/{customer-id}/subscriptions`` names it in the URL, not the records).
    customer_id: str | None = None


Mapper = Callable[[Sequence[Record], Context], list[Proposal | Skip]]
