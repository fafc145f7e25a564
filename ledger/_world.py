"""What the rulebook may know of the world: read-only lookups as of an effective time.

The rulebook depends on this protocol only. The store hands it the projections' view
inside the appending transaction, so every rule sees the events before it, including
those earlier in the same import. ``prefetch`` tells the world, from the event types'
definitions, what a batch will look up, so that a batch of thousands costs a few queries.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, Protocol

from projections import (
    CustomerState,
    DelegationState,
    GdapRequestState,
    PartnerState,
    RelationshipState,
    RequestState,
    SubscriptionState,
    canonical_to_us,
)

from ._events import EVENT_TYPES, THINGS, Event, Thing


class World(Protocol):
    """Lookups as of effective time ``at`` (microseconds), over everything recorded so far.

    ``*_ever`` and ``owner_of_*`` answer regardless of time: whether an id was ever used,
    and to which customer it belongs.
    """

    def partner(self, partner_id: str, at: int) -> PartnerState | None: ...

    def customer(self, customer_id: str, at: int) -> CustomerState | None: ...

    def subscription(self, subscription_id: str, at: int) -> SubscriptionState | None: ...

    def request(self, request_id: str, at: int) -> RequestState | None: ...

    def delegation(self, delegation_id: str, at: int) -> DelegationState | None: ...

    def gdap_request(self, delegation_id: str) -> GdapRequestState | None:
        """A GDAP request as it was made, whatever the time (None: never made); its
        ``requested_at`` and ``lapses_at`` say when it is open."""
        ...

    def relationships(
        self, customer_id: str, at: int, partners: Collection[str] | None = None
    ) -> list[RelationshipState]:
        """The customer's live reseller relationships; with ``partners``, only those whose
        partner or reseller is one of them."""
        ...

    def partner_ever(self, partner_id: str) -> bool: ...

    def customer_ever(self, customer_id: str) -> bool: ...

    def owner_of_subscription(self, subscription_id: str) -> str | None: ...

    def owner_of_request(self, request_id: str) -> str | None: ...

    def owner_of_delegation(self, delegation_id: str) -> str | None: ...

    def owner_of_gdap_request(self, delegation_id: str) -> str | None: ...

    def newest_effective(self, customer_id: str) -> int | None:
        """The newest effective time of any event recorded for this customer."""
        ...

    def expect(
        self,
        *,
        partners: Collection[str] = (),
        customers: Collection[str] = (),
        subscriptions: Collection[str] = (),
        requests: Collection[str] = (),
        delegations: Collection[str] = (),
        relationships_of: Collection[str] = (),
        newest_of: Collection[str] = (),
        since: int | None = None,
    ) -> None:
        """A hint: lookups of these things are coming (``delegations`` with their GDAP
        requests, named by the same ids; ``relationships_of`` and
        ``newest_of`` name customers, ``since`` the earliest time asked about). Loads them
        in a few queries; what was not expected still answers."""
        ...


# Per event type: (field, thing) of every reference, and of the ones its fold writes.
_REFERS = {t.name: tuple((r.field, r.thing) for r in t.refs) for t in EVENT_TYPES.values()}
_WRITES = {
    t.name: tuple((r.field, r.thing) for r in t.refs if r.must != "known") for t in EVENT_TYPES.values()
}


def _named(
    batch: Iterable[tuple[str, Mapping[str, Any], int]], refs: Mapping[str, tuple[tuple[str, Thing], ...]]
) -> tuple[dict[Thing, set[str]], int | None]:
    """The ids of each thing a batch of ``(type, data, effective_us)`` names through
    ``refs``, and its earliest effective time."""
    ids: dict[Thing, set[str]] = {thing: set() for thing in THINGS}
    earliest: int | None = None
    for type_name, data, at in batch:
        if earliest is None or at < earliest:
            earliest = at
        for field, thing in refs[type_name]:
            value = data.get(field)
            if isinstance(value, list):
                ids[thing].update(value)
            elif value is not None:
                ids[thing].add(value)
    return ids, earliest


def _things_and_customers(world: World, ids: dict[Thing, set[str]]) -> set[str]:
    """Load the subscriptions, requests and delegations (and GDAP requests) in ``ids``; the
    customers they name or belong to."""
    world.expect(
        subscriptions=ids["subscription"],
        requests=ids["request"],
        delegations=ids["delegation"] | ids["delegation-request"],
    )
    customers = ids["customer"] | ids["relationship"]
    for owner, keys in (
        (world.owner_of_subscription, ids["subscription"]),
        (world.owner_of_request, ids["request"]),
        (world.owner_of_delegation, ids["delegation"]),
        (world.owner_of_gdap_request, ids["delegation-request"]),
    ):
        customers.update(c for c in map(owner, keys) if c is not None)
    return customers


def prefetch(world: World, events: Iterable[Event]) -> None:
    """Load what judging and folding ``events`` will look up: every thing they refer to;
    then their customers (named, or owning what they name), each also as a partner (a
    customer tenant may be one), with its relationships and its newest effective time."""
    ids, since = _named(((e.type, e.data, e.effective_us) for e in events), _REFERS)
    customers = _things_and_customers(world, ids)
    world.expect(
        partners=ids["partner"] | customers,
        customers=customers,
        relationships_of=customers,
        newest_of=customers,
        since=since,
    )


def prefetch_fold(world: World, events: Iterable[Mapping[str, Any]]) -> None:
    """Load what folding ``events`` (stored, in their JSON form) alone reads: the things
    they create, change or end, and their customers' newest effective times (whether an
    event is late, ``_late``; a rebuild checks no rule)."""
    batch = ((e["type"], e["data"], canonical_to_us(e["effective_at"])) for e in events)
    ids, since = _named(batch, _WRITES)
    customers = _things_and_customers(world, ids)
    world.expect(
        partners=ids["partner"],
        customers=ids["customer"],
        relationships_of=ids["relationship"],
        newest_of=customers,
        since=since,
    )
