"""One event seen through the world: its customer and the things it refers to.

``EventContext`` makes each lookup an event's rules need once. What an event's references must
satisfy (``_events.Ref``: new, known or live at its effective time) is checked here, from
the event type's definition alone, for the rule ``known-references``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from projections import CustomerState, PartnerState, SubscriptionState

from ._events import CSP_PROGRAMS, EVENT_TYPES, Event, EventType, Must, Thing
from ._world import World

T = TypeVar("T")


class _once(Generic[T]):
    """``functools.cached_property`` without its lock (Python 3.11 takes an ``RLock`` on
    each first read: 1.0 against 0.55 us, three reads an event; issue 18). An
    ``EventContext`` lives in one thread, within one judging."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> T:
        value = self.compute(instance)
        instance.__dict__[self.name] = value  # read from the instance from now on
        return value


class EventContext:
    """One event seen through the world, with each lookup made once."""

    def __init__(self, event: Event, world: World) -> None:
        self.event = event
        self.event_type = EVENT_TYPES[event.type]
        self.world = world
        self.type = event.type
        self.data = event.data
        self.at = event.effective_us
        self._partners: dict[str, PartnerState | None] = {}
        self._customers: dict[str, CustomerState | None] = {}
        self._subscriptions: dict[str, SubscriptionState | None] = {}

    def partner(self, partner_id: str) -> PartnerState | None:
        if partner_id not in self._partners:
            self._partners[partner_id] = self.world.partner(partner_id, self.at)
        return self._partners[partner_id]

    def customer(self, customer_id: str) -> CustomerState | None:
        if customer_id not in self._customers:
            self._customers[customer_id] = self.world.customer(customer_id, self.at)
        return self._customers[customer_id]

    def subscription_of(self, subscription_id: str) -> SubscriptionState | None:
        if subscription_id not in self._subscriptions:
            self._subscriptions[subscription_id] = self.world.subscription(subscription_id, self.at)
        return self._subscriptions[subscription_id]

    def is_csp_partner(self, tenant_id: str) -> bool:
        p = self.partner(tenant_id)
        return p is not None and p.program in CSP_PROGRAMS

    @property
    def subscription(self) -> SubscriptionState | None:
        """The subscription a switch or cancellation names, as of the event."""
        return self.subscription_of(self.data["subscription_id"])

    @_once
    def customer_id(self) -> str | None:
        """The customer this event belongs to (None for partner events)."""
        return _CUSTOMER_OF[self.type](self.world, self.data)

    @_once
    def customer_cloud(self) -> str | None:
        cid = self.customer_id
        c = self.customer(cid) if cid else None
        return c.cloud if c else None

    @_once
    def cloud(self) -> str | None:
        """The cloud the event is judged in (the rulebook's editions are scoped by it): its
        customer's; for a registration, the cloud it names; for a partner event, the
        partner's."""
        if "cloud" in self.data:
            return str(self.data["cloud"])
        if self.customer_id is not None:
            return self.customer_cloud
        pid = self.data.get("partner_id")
        p = self.partner(pid) if pid else None
        return p.cloud if p else None

    @_once
    def delegation_kind(self) -> str | None:
        """The kind (dap, gdap) of the delegation the event grants (its ``kind``) or names (an
        active delegation's; None where there is none)."""
        if "kind" in self.data:
            return str(self.data["kind"])
        ref = next((r for r in self.event_type.refs if r.thing == "delegation"), None)
        did = self.data.get(ref.field) if ref is not None else None
        delegation = self.world.delegation(str(did), self.at) if did is not None else None
        return delegation.kind if delegation is not None else None

    @property
    def recorder(self) -> PartnerState | None:
        """The partner whose staff records the event (``actor.tenant_id``), if it is one."""
        return self.partner(self.event.actor.tenant_id)

    def has_relationship(self, partner_id: str) -> bool:
        """A live reseller relationship of the customer with this partner (see module doc)."""
        cid = self.customer_id
        if cid is None:
            return False
        partner = self.partner(partner_id)
        providers = set(partner.provider_ids) if partner else set()
        return any(
            r.partner_id == partner_id or r.reseller_id == partner_id or r.partner_id in providers
            for r in self.world.relationships(cid, self.at, {partner_id, *providers})
        )


# An event's customer, found through what its ``customer`` field refers to: the customer
# itself, or a thing the customer owns.
_OWNERS: dict[Thing, Callable[[World, str], str | None]] = {
    "customer": lambda w, cid: cid,
    "subscription": lambda w, sid: w.owner_of_subscription(sid),
    "request": lambda w, rid: w.owner_of_request(rid),
    "delegation": lambda w, did: w.owner_of_delegation(did),
    "delegation-request": lambda w, did: w.owner_of_gdap_request(did),
}
CustomerOf = Callable[[World, Mapping[str, Any]], str | None]


def _customer_of(event_type: EventType) -> CustomerOf:
    ref = event_type.customer_ref()
    if ref is None:
        return lambda w, d: None
    field, owner = ref.field, _OWNERS[ref.thing]
    return lambda w, d: owner(w, str(d[field]))


_CUSTOMER_OF = {t.name: _customer_of(t) for t in EVENT_TYPES.values()}


def customer_of(type_name: str, data: Mapping[str, Any], world: World) -> str | None:
    """The customer an event of this type with this ``data`` belongs to (None: a partner
    event, or what it names is unknown)."""
    return _CUSTOMER_OF[type_name](world, data)


# What must hold of one id an event refers to (see ``_events.Ref``), by the thing and its
# ``must``: None, or what does not hold, at the time as the event spells it.
RefCheck = Callable[[EventContext, str], str | None]


def _partner_new(f: EventContext, pid: str) -> str | None:
    return f"partner {pid} is already registered" if f.world.partner_ever(pid) else None


def _customer_new(f: EventContext, cid: str) -> str | None:
    return f"customer {cid} is already registered" if f.world.customer_ever(cid) else None


def _id_in_use(thing: Thing) -> RefCheck:
    owner = _OWNERS[thing]
    return lambda f, key: f"{thing} id {key} is already in use" if owner(f.world, key) is not None else None


def _partner_known(f: EventContext, pid: str) -> str | None:
    if f.partner(pid) is not None:
        return None
    return f"partner {pid} is not registered at {f.event.effective_at}"


def _customer_known(f: EventContext, cid: str) -> str | None:
    if f.customer(cid) is not None:
        return None
    return f"customer {cid} is not registered at {f.event.effective_at}"


def _subscription_live(f: EventContext, sid: str) -> str | None:
    s = f.subscription_of(sid)
    if s is not None and s.status == "active":
        return None
    return f"subscription {sid} is not live at {f.event.effective_at}"


def _request_live(f: EventContext, rid: str) -> str | None:
    r = f.world.request(rid, f.at)
    if r is None or r.status != "open":
        state = "was already accepted" if r is not None else "is unknown"
        return f"request {rid} {state} at {f.event.effective_at}"
    return None


def _delegation_live(f: EventContext, did: str) -> str | None:
    if f.world.delegation(did, f.at) is None:
        state = "is not active" if f.world.owner_of_delegation(did) is not None else "is unknown"
        return f"delegation {did} {state} at {f.event.effective_at}"
    return None


def _delegation_ending(f: EventContext, did: str) -> str | None:
    if f.world.delegation(did, f.at - 1) is None:
        return f"delegation {did} is not active just before {f.event.effective_at}"
    return None


def _gdap_request_new(f: EventContext, did: str) -> str | None:
    if f.world.owner_of_gdap_request(did) is not None:
        return f"delegation request {did} already exists: a request's id is used once"
    return None


def _gdap_request_live(f: EventContext, did: str) -> str | None:
    r = f.world.gdap_request(did)
    if r is None or r.requested_at > f.at:
        return f"delegation request {did} is unknown at {f.event.effective_at}"
    return None


def _relationship_live(f: EventContext, cid: str) -> str | None:
    pid = f.data["partner_id"]
    if not any(r.partner_id == pid for r in f.world.relationships(cid, f.at, {pid})):
        return f"partner {pid} has no reseller relationship with {cid}"
    return None


_REF_CHECKS: dict[tuple[Thing, Must], RefCheck] = {
    ("partner", "new"): _partner_new,
    ("partner", "known"): _partner_known,
    ("partner", "live"): _partner_known,  # a partner, never ended, is live once registered
    ("customer", "new"): _customer_new,
    ("customer", "known"): _customer_known,
    ("subscription", "new"): _id_in_use("subscription"),
    ("subscription", "live"): _subscription_live,
    ("request", "new"): _id_in_use("request"),
    ("request", "live"): _request_live,
    ("delegation", "new"): _id_in_use("delegation"),
    ("delegation", "live"): _delegation_live,
    ("delegation", "ending"): _delegation_ending,
    ("delegation-request", "new"): _gdap_request_new,
    ("delegation-request", "live"): _gdap_request_live,
    ("relationship", "live"): _relationship_live,
}
# Per event type, its references in order: (the reference, its check).
_REFERENCES = {
    t.name: tuple((r, _REF_CHECKS[(r.thing, r.must)]) for r in t.refs) for t in EVENT_TYPES.values()
}


def unmet_reference(f: EventContext) -> str | None:
    """What the first reference of the event that does not hold says (optional fields
    absent: none), or None."""
    d = f.data
    for ref, check in _REFERENCES[f.type]:
        value = d.get(ref.field)
        if value is None or not ref.applies(d):
            continue
        for key in value if isinstance(value, list) else (value,):
            message = check(f, key)
            if message is not None:
                return message
    return None
