"""A reference model of the ledger: the rulebook and the read side in plain, naive Python.

Written from ``spec/domain.md``, ``spec/contract.md`` and the interpretations listed in the
docstring of ``ledger/_rules.py``, and sharing no code with ``ledger/`` or ``projections/``.
It is meant to be obviously right rather than fast: it keeps the accepted events in a list
and answers every question (how to judge the next event, who is partner of record as of T,
as known after position P) by folding the events from scratch, in effective-time order.

Events are the contract's JSON objects, with times already in the canonical spelling
(``2019-03-01T09:00:00Z``); the state machine builds them that way.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

Event = dict[str, Any]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000
DAY = 86_400 * SECOND
GDAP_LAPSE = 90 * DAY  # a GDAP request not approved within 90 days lapses
AUTO_EXTEND = 180 * DAY
GLOBAL_ADMIN = {"global-administrator", "62e90394-69f5-4237-9190-012177145e10"}
DAP_RETIRED = (datetime(2023, 10, 9, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
# The editions' boundaries (spec/domain.md "Rulebook editions").
LICENCE_TRANSFERS = (datetime(2020, 3, 20, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
RESELLERS_INVITE = (datetime(2021, 1, 27, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
GERMANY_CLOSED = (datetime(2021, 10, 29, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)

CSP = {"csp-direct", "csp-indirect-provider", "csp-indirect-reseller"}
INVITERS = {"csp-direct", "csp-indirect-provider"}  # may invite; may be a switch's billing partner

RULE_ORDER = (
    "eligible-role",
    "known-references",
    "time-order",
    "same-cloud",
    "csp-cannot-resell-to-csp",
    "multi-partner-changes-nothing",
    "license-switch-needs-term-end",
    "azure-switch-between-csp-partners",
    "azure-from-other-channel-migrates",
    "delegation-needs-invitation",
    "indirect-reseller-cannot-invite",
    "syndication-is-exclusive",
    "gdap-duration",
    "dap-retired",
    "gdap-auto-extend",
    "cloud-closed",
)

_ADMIN = {"global-admin", "user-management-admin"}
_AGENT = {"global-admin", "admin-agent", "sales-agent"}
_CUSTOMER = {"customer-global-admin"}
_GDAP_ADMIN = "customer-delegated-admin-relationship-admin"
ROLES_FOR = {
    "partner.registered": _ADMIN,
    "partner.program-changed": _ADMIN,
    "customer.registered": _ADMIN,
    "subscription.purchased": _AGENT,
    "subscription.switched": _AGENT,
    "subscription.cancelled": _AGENT,
    "relationship.requested": _AGENT,
    "relationship.removed": _AGENT,
    "relationship.accepted": _CUSTOMER,
    "delegation.granted": _CUSTOMER,  # and, for a gdap, _GDAP_ADMIN
    "delegation.revoked": _CUSTOMER | {_GDAP_ADMIN, "global-admin", "admin-agent"},  # and microsoft: a dap
    "delegation.requested": {"global-admin", "admin-agent"},
    "delegation.extended": {"microsoft"},
}


def after(at: int, duration: str) -> int:
    """``at`` + an ISO 8601 duration of years, months and days, in calendar terms: the
    months first (a day the month has not is its last), then the days."""
    m = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?", duration)
    assert m is not None, duration
    years, months, days = (int(g or 0) for g in m.groups())
    start = EPOCH + timedelta(microseconds=at)
    month = start.month - 1 + 12 * years + months
    year, month = start.year + month // 12, month % 12 + 1
    moved = start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))
    return (moved + timedelta(days=days) - EPOCH) // timedelta(microseconds=1)


def us(text: str) -> int:
    """Microseconds since the epoch of a canonical UTC time."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - EPOCH) // timedelta(microseconds=1)


def text(micros: int) -> str:
    """The canonical spelling of a time: UTC, ``Z``, a six-digit fraction only if needed."""
    moment = EPOCH + timedelta(microseconds=micros)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the world as of one moment --------------------------------------------------------


@dataclass
class Partner:
    id: str
    name: str
    cloud: str
    program: str
    providers: tuple[str, ...]


@dataclass
class Sub:
    id: str
    customer: str
    offer: str
    service: str
    channel: str
    seller: str | None
    reseller: str | None
    term_end: str | None
    migrated_from: str | None
    status: str
    por: str | None
    billing: str | None
    since: int
    cancelled_at: int | None = None


@dataclass
class Request:
    id: str
    partner: str
    customer: str
    reseller: str | None
    status: str


@dataclass
class Relationship:
    request_id: str
    partner: str
    customer: str
    reseller: str | None
    accepted_at: int


@dataclass
class Delegation:
    id: str
    customer: str
    partner: str
    kind: str
    roles: list[str]
    granted_at: int
    expires_at: int | None


@dataclass
class GdapRequest:
    id: str
    customer: str
    partner: str
    roles: list[str]
    duration: str
    auto_extend: str | None
    name: str | None
    requested_at: int
    approved: bool = False

    @property
    def lapses_at(self) -> int:
        return self.requested_at + GDAP_LAPSE


@dataclass
class World:
    """Everything as it stands at one effective time."""

    partners: dict[str, Partner] = field(default_factory=dict)
    customers: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, cloud)
    subs: dict[str, Sub] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)
    relationships: dict[str, Relationship] = field(default_factory=dict)  # by request id
    delegations: dict[str, Delegation] = field(default_factory=dict)
    gdap_requests: dict[str, GdapRequest] = field(default_factory=dict)  # every one, pending or not

    def is_csp(self, tenant: str) -> bool:
        p = self.partners.get(tenant)
        return p is not None and p.program in CSP

    def program(self, partner: str) -> str | None:
        p = self.partners.get(partner)
        return p.program if p else None

    def related(self, customer: str, partner: str) -> bool:
        """An accepted, live reseller relationship of the customer with this partner: owned by
        it, naming it as reseller, or owned by one of its indirect providers."""
        p = self.partners.get(partner)
        providers = set(p.providers) if p else set()
        return any(
            r.customer == customer
            and (r.partner == partner or r.reseller == partner or r.partner in providers)
            for r in self.relationships.values()
        )


def fold(events: Iterable[tuple[int, Event]], at: int) -> World:
    """The world at effective time ``at`` after the given (position, event) pairs."""
    w = World()
    relevant = [(us(e["effective_at"]), pos, e) for pos, e in events if us(e["effective_at"]) <= at]
    for when, _, e in sorted(relevant, key=lambda item: (item[0], item[1])):
        d, t = e["data"], e["type"]
        if t == "partner.registered":
            w.partners[d["partner_id"]] = Partner(
                d["partner_id"], d["name"], d["cloud"], d["program"], tuple(d.get("provider_ids", ()))
            )
        elif t == "partner.program-changed":
            old = w.partners[d["partner_id"]]
            w.partners[d["partner_id"]] = replace(
                old, program=d["program"], providers=tuple(d.get("provider_ids", ()))
            )
        elif t == "customer.registered":
            w.customers[d["customer_id"]] = (d["name"], d["cloud"])
        elif t == "subscription.purchased":
            csp = d["channel"] == "csp"
            w.subs[d["subscription_id"]] = Sub(
                id=d["subscription_id"],
                customer=d["customer_id"],
                offer=d["offer"],
                service=d["service"],
                channel=d["channel"],
                seller=d.get("seller_id"),
                reseller=d.get("reseller_id"),
                term_end=d.get("term_end"),
                migrated_from=d.get("migrated_from"),
                status="active",
                por=(d.get("reseller_id") or d.get("seller_id")) if csp else None,
                billing=d.get("seller_id") if csp else None,
                since=when,
            )
        elif t == "subscription.switched":
            s = w.subs[d["subscription_id"]]
            s.por = d.get("to_reseller_id") or d["to_partner_id"]
            s.billing = d["to_partner_id"]
            s.since = when
        elif t == "subscription.cancelled":
            cancelled = w.subs[d["subscription_id"]]
            cancelled.status, cancelled.cancelled_at = "cancelled", when
        elif t == "relationship.requested":
            w.requests[d["request_id"]] = Request(
                d["request_id"], d["partner_id"], d["customer_id"], d.get("reseller_id"), "open"
            )
        elif t == "relationship.accepted":
            r = w.requests[d["request_id"]]
            r.status = "accepted"
            w.relationships[r.id] = Relationship(r.id, r.partner, r.customer, r.reseller, when)
        elif t == "relationship.removed":
            for rid, rel in list(w.relationships.items()):
                if rel.partner == d["partner_id"] and rel.customer == d["customer_id"]:
                    del w.relationships[rid]
        elif t == "delegation.granted":
            w.delegations[d["delegation_id"]] = Delegation(
                d["delegation_id"],
                d["customer_id"],
                d["partner_id"],
                d["kind"],
                list(d["roles"]),
                when,
                us(d["expires_at"]) if "expires_at" in d else None,
            )
            if d["kind"] == "gdap":
                w.gdap_requests[d["delegation_id"]].approved = True
        elif t == "delegation.revoked":
            del w.delegations[d["delegation_id"]]
        elif t == "delegation.requested":
            w.gdap_requests[d["delegation_id"]] = GdapRequest(
                d["delegation_id"],
                d["customer_id"],
                d["partner_id"],
                list(d["roles"]),
                d["duration"],
                d.get("auto_extend"),
                d.get("name"),
                when,
            )
        elif t == "delegation.extended":
            w.delegations[d["delegation_id"]].expires_at = us(d["expires_at"])
        else:  # pragma: no cover - the machine makes only the contract's types
            raise AssertionError(t)
    # A GDAP delegation drops out at its expires_at.
    w.delegations = {k: v for k, v in w.delegations.items() if v.expires_at is None or at < v.expires_at}
    return w


# --- the model ---------------------------------------------------------------------------


@dataclass
class Recorded:
    position: int
    event: Event
    customer: str | None  # the customer the event belongs to (time-order, history)
    refs: frozenset[str]  # customer:ID, subscription:ID, partner:ID (history filters)


class Model:
    """The accepted events, and the rulebook and the queries over them."""

    def __init__(self) -> None:
        self.log: list[Recorded] = []
        self._worlds: dict[tuple[int, int], World] = {}  # (at, known) -> world; never mutated

    # -- bookkeeping

    def pairs(self, known: int | None = None) -> list[tuple[int, Event]]:
        return [(r.position, r.event) for r in self.log if known is None or r.position <= known]

    def world(self, at: int, known: int | None = None) -> World:
        """The world at effective time ``at`` as known after position ``known`` (all when
        None). Callers must not change it: it is cached until the next recorded event."""
        key = (at, None if known is None else min(known, len(self.log)))
        if key not in self._worlds:
            self._worlds[key] = fold(self.pairs(key[1]), at)
        return self._worlds[key]

    def ever(self, type_: str, key: str) -> dict[str, Event]:
        """Every id ever introduced by an accepted event of ``type_``, with that event."""
        return {r.event["data"][key]: r.event for r in self.log if r.event["type"] == type_}

    def owner(self, e: Event) -> str | None:
        """The customer an event belongs to: the one it names, or the owner of the
        subscription, request or delegation it names. Partner events belong to none."""
        d = e["data"]
        if "customer_id" in d:
            return str(d["customer_id"])
        for type_, key in (
            ("subscription.purchased", "subscription_id"),
            ("relationship.requested", "request_id"),
            ("delegation.granted", "delegation_id"),
        ):
            if key in d:
                first = self.ever(type_, key).get(d[key])
                return str(first["data"]["customer_id"]) if first else None
        return None

    def newest(self, customer: str) -> int | None:
        times = [us(r.event["effective_at"]) for r in self.log if r.customer == customer]
        return max(times) if times else None

    # -- the rulebook

    def judge(self, e: Event) -> str | None:
        """The id of the first rule (in the domain's order, generic rules first) that rejects
        ``e``, or None when every rule in force accepts it. A late event (effective before
        events of its customer on record) that passes is still rejected as ``time-order``
        when it would invalidate one of those later events (``invalidated``)."""
        rule = self.judge_alone(e)
        if rule is None and self.invalidated(e) is not None:
            return "time-order"
        return rule

    def invalidated(self, e: Event) -> Recorded | None:
        """The first of the customer's later events (effective after ``e``, in effective-time
        order, ties by position) that the rulebook refuses once ``e`` is on record: each is
        judged by a model of the amended history before it (every event on record but it
        and the customer's events after it, and ``e``)."""
        cid = self.owner(e)
        if cid is None:
            return None
        at = us(e["effective_at"])
        later = sorted(
            (r for r in self.log if r.customer == cid and us(r.event["effective_at"]) > at),
            key=lambda r: (us(r.event["effective_at"]), r.position),
        )
        for i, r in enumerate(later):
            not_yet = {x.position for x in later[i:]}
            amended = Model()
            amended.log = [x for x in self.log if x.position not in not_yet]
            amended.log.append(Recorded(len(self.log) + 1, e, cid, frozenset()))
            if amended.judge_alone(r.event) is not None:
                return r
        return None

    def judge_alone(self, e: Event) -> str | None:
        """The first rule that rejects ``e`` judged against the world as recorded."""
        at = us(e["effective_at"])
        w = self.world(at)
        checks: dict[str, Callable[[Event, World, int], bool]] = {
            "eligible-role": self._eligible_role,
            "known-references": self._known_references,
            "same-cloud": self._same_cloud,
            "csp-cannot-resell-to-csp": self._csp_resells_to_csp,
            "license-switch-needs-term-end": self._license_switch,
            "azure-switch-between-csp-partners": self._azure_switch,
            "azure-from-other-channel-migrates": self._azure_migrates,
            "delegation-needs-invitation": self._uninvited_delegation,
            "indirect-reseller-cannot-invite": self._bad_inviter,
            "syndication-is-exclusive": self._syndication_moves,
            "gdap-duration": self._bad_duration,
            "dap-retired": self._retired_dap,
            "gdap-auto-extend": self._bad_extension,
            "cloud-closed": self._closed_cloud,
        }
        for rule in RULE_ORDER:
            # multi-partner-changes-nothing judges effects, not events; time-order: ``judge``
            check = checks.get(rule)
            if check is not None and check(e, w, at):
                return rule
        return None

    def _eligible_role(self, e: Event, w: World, at: int) -> bool:
        role, d, t = e["actor"]["role"], e["data"], e["type"]
        allowed = set(ROLES_FOR[t])
        if t == "delegation.granted" and d["kind"] == "gdap":
            allowed.add(_GDAP_ADMIN)
        if t == "delegation.revoked":
            revoked = w.delegations.get(d["delegation_id"])
            if revoked is None or revoked.kind == "dap":  # unknown: known-references speaks
                allowed.add("microsoft")
        return role not in allowed or (role == "microsoft" and e["actor"]["tenant_id"] != "microsoft")

    def cloud(self, e: Event, w: World) -> str | None:
        """The cloud an event is judged in: its customer's (a registration's own)."""
        if e["type"] == "customer.registered":
            return str(e["data"]["cloud"])
        cid = self.owner(e)
        return w.customers[cid][1] if cid in w.customers else None

    def _known_references(self, e: Event, w: World, at: int) -> bool:
        d, t = e["data"], e["type"]

        def no_partner(*ids: str | None) -> bool:
            return any(i is not None and i not in w.partners for i in ids)

        def no_customer(cid: str) -> bool:
            return cid not in w.customers

        if t == "partner.registered":
            return d["partner_id"] in self.ever(t, "partner_id") or no_partner(*d.get("provider_ids", ()))
        if t == "partner.program-changed":
            return no_partner(d["partner_id"], *d.get("provider_ids", ()))
        if t == "customer.registered":
            return d["customer_id"] in self.ever(t, "customer_id")
        if t == "subscription.purchased":
            old = w.subs.get(d.get("migrated_from", ""))
            return (
                d["subscription_id"] in self.ever(t, "subscription_id")
                or no_customer(d["customer_id"])
                or no_partner(d.get("seller_id"), d.get("reseller_id"))
                or ("migrated_from" in d and (old is None or old.status != "active"))
            )
        if t == "relationship.requested":
            return (
                d["request_id"] in self.ever(t, "request_id")
                or no_partner(d["partner_id"], d.get("reseller_id"))
                or no_customer(d["customer_id"])
            )
        if t == "relationship.accepted":
            r = w.requests.get(d["request_id"])
            return r is None or r.status != "open"
        if t == "relationship.removed":
            return (
                no_partner(d["partner_id"])
                or no_customer(d["customer_id"])
                or not any(
                    r.partner == d["partner_id"] and r.customer == d["customer_id"]
                    for r in w.relationships.values()
                )
            )
        if t == "delegation.granted":
            asked = self.ever("delegation.requested", "delegation_id").get(d["delegation_id"])
            return (
                d["delegation_id"] in self.ever(t, "delegation_id")
                or (d["kind"] == "gdap" and (asked is None or us(asked["effective_at"]) > at))
                or no_customer(d["customer_id"])
                or no_partner(d["partner_id"])
            )
        if t == "delegation.requested":
            return (
                d["delegation_id"] in self.ever(t, "delegation_id")
                or d["delegation_id"] in self.ever("delegation.granted", "delegation_id")
                or no_customer(d["customer_id"])
                or no_partner(d["partner_id"])
            )
        if t == "delegation.extended":  # effective at its expiry: active the instant before
            return d["delegation_id"] not in self.world(at - 1).delegations
        if t == "delegation.revoked":
            return d["delegation_id"] not in w.delegations
        if t in ("subscription.switched", "subscription.cancelled"):
            s = w.subs.get(d["subscription_id"])
            return (
                s is None
                or s.status != "active"
                or no_partner(d.get("from_partner_id"), d.get("to_partner_id"), d.get("to_reseller_id"))
            )
        raise AssertionError(t)

    def _same_cloud(self, e: Event, w: World, at: int) -> bool:
        d, t = e["data"], e["type"]
        cid = self.owner(e)
        cloud = w.customers[cid][1] if cid in w.customers else None
        partners: list[str | None] = []
        if t == "subscription.purchased":
            if d["channel"] == "21vianet" and cloud != "china":
                return True
            if d["channel"] == "csp":
                partners = [d.get("seller_id"), d.get("reseller_id")]
        elif t == "relationship.requested":
            partners = [d["partner_id"], d.get("reseller_id")]
        elif t in ("delegation.granted", "delegation.requested"):
            partners = [d["partner_id"]]
        elif t == "subscription.switched":
            partners = [d["to_partner_id"], d.get("to_reseller_id")]
        return any(p is not None and w.partners[p].cloud != cloud for p in partners)

    def _csp_resells_to_csp(self, e: Event, w: World, at: int) -> bool:
        d, t = e["data"], e["type"]
        if t == "subscription.purchased":
            return d["channel"] == "csp" and w.is_csp(d["customer_id"])
        if t == "relationship.requested":
            return w.is_csp(d["partner_id"]) and w.is_csp(d["customer_id"])
        return False

    def _license_switch(self, e: Event, w: World, at: int) -> bool:
        if e["type"] != "subscription.switched":
            return False
        s = w.subs[e["data"]["subscription_id"]]
        if s.service != "license":
            return False
        transferable = at >= LICENCE_TRANSFERS and self.cloud(e, w) != "china"
        return not (transferable and s.channel == "csp")

    def _azure_switch(self, e: Event, w: World, at: int) -> bool:
        if e["type"] != "subscription.switched":
            return False
        d = e["data"]
        s = w.subs[d["subscription_id"]]
        if s.channel != "csp":
            return False
        if d["from_partner_id"] != s.por:
            return True
        to = d["to_partner_id"]
        if w.program(to) not in INVITERS:
            return True
        reseller = d.get("to_reseller_id")
        if reseller is not None and not self._reseller_of(w, reseller, to):
            return True
        new_por = reseller or to
        return new_por == s.por or not w.related(s.customer, new_por)

    @staticmethod
    def _reseller_of(w: World, reseller: str, provider: str) -> bool:
        r = w.partners.get(reseller)
        return (
            w.program(provider) == "csp-indirect-provider"
            and r is not None
            and r.program == "csp-indirect-reseller"
            and provider in r.providers
        )

    def _azure_migrates(self, e: Event, w: World, at: int) -> bool:
        d, t = e["data"], e["type"]
        if t == "subscription.switched":
            s = w.subs[d["subscription_id"]]
            return s.service == "usage" and s.channel not in ("csp", "syndication")
        if t == "subscription.purchased" and "migrated_from" in d:
            if d["channel"] != "csp" or d["service"] != "usage":
                return True
            old = w.subs[d["migrated_from"]]
            if old.channel == "syndication":
                return False  # syndication-is-exclusive speaks for it
            return old.customer != d["customer_id"] or old.service != "usage" or old.channel == "csp"
        return False

    def _uninvited_delegation(self, e: Event, w: World, at: int) -> bool:
        """DAP: an accepted reseller relationship. GDAP: its own request, from the same
        partner to the same customer, not lapsed, for the same roles."""
        d = e["data"]
        if e["type"] != "delegation.granted":
            return False
        if d["kind"] == "dap":
            return not w.related(d["customer_id"], d["partner_id"])
        r = w.gdap_requests[d["delegation_id"]]
        return (
            (r.partner, r.customer) != (d["partner_id"], d["customer_id"])
            or at >= r.lapses_at
            or set(r.roles) != set(d["roles"])
        )

    def _bad_inviter(self, e: Event, w: World, at: int) -> bool:
        if e["type"] != "relationship.requested":
            return False
        d = e["data"]
        if w.program(d["partner_id"]) not in INVITERS:
            return True
        if "reseller_id" in d and not self._reseller_of(w, d["reseller_id"], d["partner_id"]):
            return True
        recorder = e["actor"]["tenant_id"]
        if w.program(recorder) != "csp-indirect-reseller":
            return False
        # An indirect reseller's own staff: never in china or before 2021-01-27; then only
        # for one of its providers (checked above), naming itself as the reseller.
        if at < RESELLERS_INVITE or self.cloud(e, w) == "china":
            return True
        return d.get("reseller_id") != recorder

    def _syndication_moves(self, e: Event, w: World, at: int) -> bool:
        d, t = e["data"], e["type"]
        if t == "subscription.switched":
            return w.subs[d["subscription_id"]].channel == "syndication"
        if t == "subscription.purchased" and "migrated_from" in d:
            return w.subs[d["migrated_from"]].channel == "syndication"
        return False

    def _bad_duration(self, e: Event, w: World, at: int) -> bool:
        if e["type"] != "delegation.granted":
            return False
        d = e["data"]
        if d["kind"] == "dap":
            return "expires_at" in d
        return us(d["expires_at"]) != after(at, w.gdap_requests[d["delegation_id"]].duration)

    def _retired_dap(self, e: Event, w: World, at: int) -> bool:
        return e["type"] == "delegation.granted" and e["data"]["kind"] == "dap" and at >= DAP_RETIRED

    def _closed_cloud(self, e: Event, w: World, at: int) -> bool:
        closed = {
            "customer.registered",
            "subscription.purchased",
            "relationship.requested",
            "delegation.requested",
            "delegation.granted",
        }
        return e["type"] in closed and at >= GERMANY_CLOSED and self.cloud(e, w) == "germany"

    def _bad_extension(self, e: Event, w: World, at: int) -> bool:
        d, t = e["data"], e["type"]
        if t == "delegation.requested":
            return "auto_extend" in d and any(r.lower() in GLOBAL_ADMIN for r in d["roles"])
        if t != "delegation.extended":
            return False
        g = self.world(at - 1).delegations[d["delegation_id"]]
        r = w.gdap_requests.get(g.id)
        return (
            g.kind != "gdap"
            or any(role.lower() in GLOBAL_ADMIN for role in g.roles)
            or r is None
            or r.auto_extend != "P180D"
            or at != g.expires_at
            or us(d["expires_at"]) != at + AUTO_EXTEND
        )

    # -- recording

    def record(self, e: Event) -> Recorded:
        """Append an accepted event (after ``judge`` said None)."""
        rec = Recorded(len(self.log) + 1, e, self.owner(e), self._refs(e))
        self.log.append(rec)
        self._worlds = {k: v for k, v in self._worlds.items() if k[1] is not None and k[1] < rec.position}
        return rec

    def _refs(self, e: Event) -> frozenset[str]:
        """What an event concerns: its customer, the subscriptions it names, the partners it
        names and those of the subscription, invitation or delegation it names (as they were
        at the event's effective time)."""
        d, at = e["data"], us(e["effective_at"])
        out: set[str] = set()
        cid = self.owner(e)
        if cid is not None:
            out.add(f"customer:{cid}")
        for key in ("subscription_id", "migrated_from"):
            if key in d:
                out.add(f"subscription:{d[key]}")
        partners = [d.get(k) for k in _PARTNER_KEYS] + list(d.get("provider_ids", ()))
        if "customer_id" not in d and not e["type"].startswith("partner."):
            w = self.world(at)
            if "subscription_id" in d and d["subscription_id"] in w.subs:
                s = w.subs[d["subscription_id"]]
                partners += [s.seller, s.reseller, s.por, s.billing]
            if "request_id" in d and d["request_id"] in w.requests:
                r = w.requests[d["request_id"]]
                partners += [r.partner, r.reseller]
            granted = self.ever("delegation.granted", "delegation_id").get(d.get("delegation_id", ""))
            if granted is not None:  # an extension comes at its expiry: the delegation as granted
                partners.append(granted["data"]["partner_id"])
        out |= {f"partner:{p}" for p in partners if p}
        return frozenset(out)

    # -- the queries (contract shapes)

    def por(self, sid: str, at: int, known: int | None = None) -> dict[str, Any] | None:
        s = self.world(at, known).subs.get(sid)
        return None if s is None else _por(s, at)

    def delegations(self, cid: str, at: int, known: int | None = None) -> list[dict[str, Any]] | None:
        w = self.world(at, known)
        return None if cid not in w.customers else _delegations(w, cid)

    def customer(self, cid: str, at: int, known: int | None = None) -> dict[str, Any] | None:
        w = self.world(at, known)
        if cid not in w.customers:
            return None
        name, cloud = w.customers[cid]
        subs = sorted((s for s in w.subs.values() if s.customer == cid), key=lambda s: (s.since, s.id))
        rels = sorted(
            (r for r in w.relationships.values() if r.customer == cid),
            key=lambda r: (r.accepted_at, r.request_id),
        )
        return {
            "customer_id": cid,
            "name": name,
            "cloud": cloud,
            "as_of": text(at),
            "subscriptions": [_por(s, at) for s in subs],
            "relationships": [
                {
                    "partner_id": r.partner,
                    "request_id": r.request_id,
                    "reseller_id": r.reseller,
                    "accepted_at": text(r.accepted_at),
                }
                for r in rels
            ],
            "delegations": _delegations(w, cid),
            "requests": [
                {
                    "delegation_id": r.id,
                    "partner_id": r.partner,
                    "name": r.name,
                    "roles": r.roles,
                    "duration": r.duration,
                    "auto_extend": r.auto_extend,
                    "requested_at": text(r.requested_at),
                    "lapses_at": text(r.lapses_at),
                }
                for r in sorted(w.gdap_requests.values(), key=lambda r: (r.requested_at, r.id))
                if r.customer == cid and not r.approved and at < r.lapses_at
            ],
        }

    def history(
        self,
        refs: list[str],
        since: int | None = None,
        until: int | None = None,
        known: int | None = None,
    ) -> list[int] | None:
        """Positions of the events that concern every one of ``refs``, effective within
        [since, until], recorded by position ``known``; None when a ref names nothing at all."""
        if any(not any(ref in r.refs for r in self.log) for ref in refs):
            return None
        return [
            r.position
            for r in self.log
            if (known is None or r.position <= known)
            and all(ref in r.refs for ref in refs)
            and (since is None or us(r.event["effective_at"]) >= since)
            and (until is None or us(r.event["effective_at"]) <= until)
        ]


_PARTNER_KEYS = (
    "partner_id",
    "seller_id",
    "reseller_id",
    "from_partner_id",
    "to_partner_id",
    "to_reseller_id",
)


def _por(s: Sub, at: int) -> dict[str, Any]:
    return {
        "subscription_id": s.id,
        "customer_id": s.customer,
        "channel": s.channel,
        "service": s.service,
        "status": s.status,
        "partner_of_record": s.por,
        "billing_partner": s.billing,
        "since": text(s.since),
        "as_of": text(at),
        "offer": s.offer,
        "seller_id": s.seller,
        "term_end": s.term_end,
        "term_ended": None if s.term_end is None else us(s.term_end) <= at,
        "migrated_from": s.migrated_from,
        "cancelled_at": None if s.cancelled_at is None else text(s.cancelled_at),
    }


def _delegations(w: World, cid: str) -> list[dict[str, Any]]:
    found = sorted(
        (d for d in w.delegations.values() if d.customer == cid), key=lambda d: (d.granted_at, d.id)
    )
    return [
        {
            "delegation_id": d.id,
            "partner_id": d.partner,
            "kind": d.kind,
            "roles": d.roles,
            "granted_at": text(d.granted_at),
            "expires_at": None if d.expires_at is None else text(d.expires_at),
            "auto_extend": w.gdap_requests[d.id].auto_extend if d.kind == "gdap" else None,
        }
        for d in found
    ]
