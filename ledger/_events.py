"""Every event type of the contract, defined once; ``Event``, one in its normal form.

Each ``EventType`` is the one definition of its type: its ``data`` fields, the roles that
may record it, whose customer's event it is and what it refers to. The parser, the
``ledger record TYPE`` options, the rulebook (``_rules``) and the batch lookups
(``_world.prefetch``) are all derived from it. Two tables beside it are keyed by the
type's name: the fold (``projections/_fold.py``'s ``FOLDS``) and the narration (the
plain-language sentence of each type); ``tests/test_events.py`` holds every type to every
part. The parser (``_parse``) reads an event's JSON by these definitions; a parsed
``Event`` is normalised (times in canonical UTC, absent optionals left out), so two
spellings of the same event compare equal and hash the same.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from projections import to_us

from ._errors import BadInput
from ._time import parse_time

CLOUDS = ("commercial", "us-gov", "germany", "china")
PROGRAMS = (
    "csp-direct",
    "csp-indirect-provider",
    "csp-indirect-reseller",
    "advisor",
    "syndication",
    "none",
)
CSP_PROGRAMS = frozenset({"csp-direct", "csp-indirect-provider", "csp-indirect-reseller"})
CHANNELS = ("microsoft", "advisor", "open", "ea", "third-party", "syndication", "21vianet", "csp")
SERVICES = ("license", "usage")
KINDS = ("dap", "gdap")
# Every role of the spec (spec/domain.md "Roles"): a valid ``actor.role``; whether it may
# record a type is the rule ``eligible-role``'s call.
ROLES = (
    "global-admin",
    "user-management-admin",
    "admin-agent",
    "sales-agent",
    "helpdesk-agent",
    "billing-admin",
    "account-admin",
    "mpn-admin",
    "referrals-admin",
    "incentive-admin",
    "customer-global-admin",
    "customer-delegated-admin-relationship-admin",
    "microsoft",
)
MICROSOFT = "microsoft"  # the role (and tenant) of Microsoft acting itself
# Channels whose sale names the selling partner (contract: ``seller_id`` required).
CHANNELS_WITH_SELLER = frozenset({"csp", "advisor", "syndication", "third-party"})

# Who may record what (spec/domain.md's table of eligible roles).
PARTNER_ADMINS = frozenset({"global-admin", "user-management-admin"})
PARTNER_AGENTS = frozenset({"global-admin", "admin-agent", "sales-agent"})
CUSTOMER_ADMINS = frozenset({"customer-global-admin"})
GDAP_ADMINS = frozenset({"customer-delegated-admin-relationship-admin"})  # the Entra role for GDAP
PARTNER_DELEGATION_ADMINS = frozenset({"global-admin", "admin-agent"})  # a partner ends a delegation


class Roles(frozenset[str]):
    """The roles that may record an event type: every one that may record some event of it
    (the set itself), and ``of_kind``: those that may where the delegation the event grants
    or names is of one kind (``dap``, ``gdap``). ``base`` may record any event of the type;
    ``by_kind`` adds roles for one kind only."""

    base: frozenset[str]
    by_kind: Mapping[str, frozenset[str]]

    def __new__(cls, base: Iterable[str], by_kind: Mapping[str, Iterable[str]] | None = None) -> Roles:
        kinds = {kind: frozenset(roles) for kind, roles in (by_kind or {}).items()}
        self = super().__new__(cls, frozenset(base).union(*kinds.values()))
        self.base = frozenset(base)
        self.by_kind = kinds
        return self

    def of_kind(self, kind: str | None) -> frozenset[str]:
        """The roles that may record an event about a delegation of ``kind`` (None: not known,
        or no delegation: every role of the set)."""
        if kind is None or not self.by_kind:
            return frozenset(self)
        return self.base | self.by_kind.get(kind, frozenset())


GDAP_REQUESTERS = frozenset({"global-admin", "admin-agent"})
# A GDAP request's auto-extension (Graph ``autoExtendDuration``: ``PT0S`` none, or 180 days).
AUTO_EXTEND = ("P180D",)

Kind = Literal["id", "text", "time", "choice", "ids", "texts"]
Thing = Literal[
    "partner", "customer", "subscription", "request", "delegation", "relationship", "delegation-request"
]
Must = Literal["new", "known", "live", "ending"]
THINGS: tuple[Thing, ...] = (
    "partner",
    "customer",
    "subscription",
    "request",
    "delegation",
    "relationship",
    "delegation-request",
)


@dataclass(frozen=True)
class Field:
    """One field of an event's ``data``."""

    name: str
    kind: Kind
    help: str
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ref:
    """One thing an event refers to, by the id (or ids) in one of its ``data`` fields, and
    what must hold of it at the event's effective time (the rule ``known-references``):

    - ``new``: the event creates it; its id was never used before;
    - ``known``: it exists (a partner or customer is registered);
    - ``live``: the event changes or ends it, or builds on it, so it must be in force: an
      active subscription, an open request, an active delegation (a partner or customer,
      never ended, is live once registered); a ``delegation-request`` (a GDAP request,
      named by the delegation id it shares with its grant) was made at or before the event;
    - ``ending``: the event continues it where it has just ended: it was in force just
      before the event's effective time (a GDAP extended at its expiry).

    ``when`` (field, value): the reference holds only for events whose field has that value
    (a grant refers to its request only when it is a ``gdap``).

    A ``relationship`` is named by its customer (``field``) and the event's ``partner_id``.
    What the fold writes is always among an event's ``new`` and ``live`` references."""

    field: str
    thing: Thing
    must: Must = "known"
    when: tuple[str, str] | None = None

    def applies(self, data: Mapping[str, Any]) -> bool:
        """Whether the reference holds for an event with this ``data``."""
        return self.when is None or data.get(self.when[0]) == self.when[1]


@dataclass(frozen=True, eq=False)  # one object per type: compared and hashed by identity
class EventType:
    """One event type: its name, what it means, its ``data`` fields, the roles that may
    record it, the field that leads to its customer (``None``: a partner event, no
    customer's; a ``customer`` reference names the customer, any other the thing the
    customer owns) and what it refers to, in the order ``known-references`` checks them."""

    name: str
    help: str
    fields: tuple[Field, ...]
    roles: frozenset[str]  # a ``Roles`` where they depend on the delegation's kind
    refs: tuple[Ref, ...]
    customer: str | None = None
    # Checks across fields of the same event (no store needed): bad input when broken.
    cross_checks: tuple[Callable[[dict[str, Any]], None], ...] = field(default=())

    def roles_for(self, kind: str | None) -> frozenset[str]:
        """The roles that may record an event of this type about a delegation of ``kind``
        (None: no delegation, or not known)."""
        return self.roles.of_kind(kind) if isinstance(self.roles, Roles) else self.roles

    @property
    def roles_only_for(self) -> Mapping[str, frozenset[str]]:
        """The roles that may record an event of this type about a delegation of one kind only,
        by kind (empty where the roles do not depend on it)."""
        return self.roles.by_kind if isinstance(self.roles, Roles) else {}

    def customer_ref(self) -> Ref | None:
        """The reference that leads to the event's customer."""
        return next((r for r in self.refs if r.field == self.customer), None)


def _seller_for_channel(data: dict[str, Any]) -> None:
    if data["channel"] in CHANNELS_WITH_SELLER and "seller_id" not in data:
        raise BadInput("data.seller_id", f"is required for a purchase through {data['channel']}")
    if "reseller_id" in data and data["channel"] != "csp":
        raise BadInput("data.reseller_id", "is only for a purchase through csp")


def _term_end_for_license(data: dict[str, Any]) -> None:
    if data["service"] == "license" and "term_end" not in data:
        raise BadInput("data.term_end", "is required for a license subscription")


def _expiry_for_gdap(data: dict[str, Any]) -> None:
    if data["kind"] == "gdap" and "expires_at" not in data:
        raise BadInput("data.expires_at", "is required for a gdap delegation")


_DURATION = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)
GDAP_MAX_MONTHS = 24  # P2Y
GDAP_MAX_DAYS = 730  # P730D, the longest duration counted in days (Graph's examples)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration in calendar terms: months (years are 12), days (weeks are 7), seconds."""

    months: int
    days: int
    seconds: int

    def after(self, start: datetime) -> datetime:
        """``start`` + this duration, in calendar terms: months first (a day past the end of
        the month is its last day: 2024-02-29 + P1Y is 2025-02-28), then days, then time;
        two years from 2023-06-01 are 731 days (across 29 February 2024)."""
        month0 = start.month - 1 + self.months
        year, month = start.year + month0 // 12, month0 % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day) + timedelta(
            days=self.days, seconds=self.seconds
        )


def parse_duration(text: str) -> Duration | None:
    """An ISO 8601 duration (``P2Y``, ``P730D``, ``P1Y6M``, ``P90DT12H``), or None."""
    m = _DURATION.fullmatch(text)
    if m is None or text in ("P", "PT") or text.endswith("T"):
        return None
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return Duration(12 * y + mo, 7 * w + d, 3600 * h + 60 * mi + s)


def gdap_duration_in_range(d: Duration) -> bool:
    """From ``P1D`` to ``P2Y`` inclusive, whatever the start: at least a day; at most 24
    months (then nothing more), or 730 days counted in days (a month counted as 31 days
    where months and days are mixed)."""
    at_least_a_day = d.months > 0 or d.days > 0 or d.seconds >= 86_400
    if d.months >= GDAP_MAX_MONTHS:
        return d.months == GDAP_MAX_MONTHS and d.days == 0 and d.seconds == 0
    return at_least_a_day and 31 * d.months * 86_400 + d.days * 86_400 + d.seconds <= GDAP_MAX_DAYS * 86_400


def _gdap_duration(data: dict[str, Any]) -> None:
    parsed = parse_duration(data["duration"])
    if parsed is None:
        raise BadInput("data.duration", f"{data['duration']} is not an ISO 8601 duration (e.g. P730D, P2Y)")
    if not gdap_duration_in_range(parsed):
        raise BadInput("data.duration", f"{data['duration']} is not between P1D and P2Y")


def _providers_for_resellers(data: dict[str, Any]) -> None:
    if "provider_ids" in data and data["program"] != "csp-indirect-reseller":
        raise BadInput("data.provider_ids", "is only for a partner in csp-indirect-reseller")


def _f(name: str, kind: Kind, help: str, *, required: bool = True, choices: tuple[str, ...] = ()) -> Field:
    return Field(name, kind, help, required, choices)


_PROVIDERS = _f("provider_ids", "ids", "indirect providers of an indirect reseller", required=False)

PARTNER_REGISTERED = EventType(
    "partner.registered",
    "A partner tenant joins the ledger, in one program and one cloud.",
    (
        _f("partner_id", "id", "the partner's tenant id"),
        _f("name", "text", "the partner's name"),
        _f("cloud", "choice", "the partner's cloud", choices=CLOUDS),
        _f("program", "choice", "the partner's program", choices=PROGRAMS),
        _PROVIDERS,
    ),
    Roles(PARTNER_ADMINS),
    (Ref("partner_id", "partner", "new"), Ref("provider_ids", "partner")),
    cross_checks=(_providers_for_resellers,),
)
PARTNER_PROGRAM_CHANGED = EventType(
    "partner.program-changed",
    "A partner moves to another program.",
    (
        _f("partner_id", "id", "the partner's tenant id"),
        _f("program", "choice", "the new program", choices=PROGRAMS),
        _PROVIDERS,
    ),
    Roles(PARTNER_ADMINS),
    (Ref("partner_id", "partner", "live"), Ref("provider_ids", "partner")),
    cross_checks=(_providers_for_resellers,),
)
CUSTOMER_REGISTERED = EventType(
    "customer.registered",
    "A customer tenant joins the ledger, in one cloud.",
    (
        _f("customer_id", "id", "the customer's tenant id"),
        _f("name", "text", "the customer's name"),
        _f("cloud", "choice", "the customer's cloud", choices=CLOUDS),
    ),
    Roles(PARTNER_ADMINS),
    (Ref("customer_id", "customer", "new"),),
    customer="customer_id",
)
SUBSCRIPTION_PURCHASED = EventType(
    "subscription.purchased",
    "A customer buys a subscription through a channel.",
    (
        _f("subscription_id", "id", "the new subscription's id"),
        _f("customer_id", "id", "the buying customer"),
        _f("offer", "text", "the offer bought, e.g. 'Office 365 E3'"),
        _f("service", "choice", "license (seat-based) or usage (Azure)", choices=SERVICES),
        _f("channel", "choice", "the purchase channel", choices=CHANNELS),
        _f(
            "seller_id",
            "id",
            "the selling partner (csp, advisor, syndication, third-party)",
            required=False,
        ),
        _f("reseller_id", "id", "csp sale by an indirect provider: the reseller of record", required=False),
        _f("term_end", "time", "end of the term (required for license)", required=False),
        _f("migrated_from", "id", "the subscription this one replaces (Azure migration)", required=False),
    ),
    Roles(PARTNER_AGENTS),
    (
        Ref("subscription_id", "subscription", "new"),
        Ref("customer_id", "customer"),
        Ref("seller_id", "partner"),
        Ref("reseller_id", "partner"),
        Ref("migrated_from", "subscription", "live"),
    ),
    customer="customer_id",
    cross_checks=(_seller_for_channel, _term_end_for_license),
)
SUBSCRIPTION_SWITCHED = EventType(
    "subscription.switched",
    "An Azure (usage) subscription moves to another CSP partner.",
    (
        _f("subscription_id", "id", "the switched subscription"),
        _f("from_partner_id", "id", "its current partner of record"),
        _f("to_partner_id", "id", "the new (billing) CSP partner"),
        _f("to_reseller_id", "id", "the new indirect reseller of record", required=False),
    ),
    Roles(PARTNER_AGENTS),
    (
        Ref("subscription_id", "subscription", "live"),
        Ref("from_partner_id", "partner"),
        Ref("to_partner_id", "partner"),
        Ref("to_reseller_id", "partner"),
    ),
    customer="subscription_id",
)
SUBSCRIPTION_CANCELLED = EventType(
    "subscription.cancelled",
    "A subscription is cancelled; its last partner of record stays on record.",
    (_f("subscription_id", "id", "the cancelled subscription"),),
    Roles(PARTNER_AGENTS),
    (Ref("subscription_id", "subscription", "live"),),
    customer="subscription_id",
)
RELATIONSHIP_REQUESTED = EventType(
    "relationship.requested",
    "A partner invites a customer into a reseller relationship.",
    (
        _f("request_id", "id", "the invitation's id"),
        _f("partner_id", "id", "the inviting partner (direct-bill or indirect provider)"),
        _f("customer_id", "id", "the invited customer"),
        _f("reseller_id", "id", "the indirect reseller invited on behalf of", required=False),
    ),
    Roles(PARTNER_AGENTS),
    (
        Ref("request_id", "request", "new"),
        Ref("partner_id", "partner"),
        Ref("customer_id", "customer"),
        Ref("reseller_id", "partner"),
    ),
    customer="customer_id",
)
RELATIONSHIP_ACCEPTED = EventType(
    "relationship.accepted",
    "The customer accepts an invitation.",
    (_f("request_id", "id", "the accepted invitation"),),
    Roles(CUSTOMER_ADMINS),
    (Ref("request_id", "request", "live"),),
    customer="request_id",
)
RELATIONSHIP_REMOVED = EventType(
    "relationship.removed",
    "A reseller relationship ends.",
    (
        _f("partner_id", "id", "the partner that owns the relationship"),
        _f("customer_id", "id", "the customer"),
    ),
    Roles(PARTNER_AGENTS),
    (
        Ref("partner_id", "partner"),
        Ref("customer_id", "customer"),
        Ref("customer_id", "relationship", "live"),
    ),
    customer="customer_id",
)
DELEGATION_GRANTED = EventType(
    "delegation.granted",
    "A customer grants a partner delegated admin privileges (DAP or GDAP).",
    (
        _f("delegation_id", "id", "the delegation's id"),
        _f("customer_id", "id", "the granting customer"),
        _f("partner_id", "id", "the partner receiving the privileges"),
        _f("kind", "choice", "dap or gdap", choices=KINDS),
        _f("roles", "texts", "the roles granted (at least one)"),
        _f("expires_at", "time", "when a gdap delegation ends (required for gdap)", required=False),
    ),
    Roles(CUSTOMER_ADMINS, {"gdap": GDAP_ADMINS}),  # the Entra role approves a GDAP only
    (
        Ref("delegation_id", "delegation", "new"),
        Ref("delegation_id", "delegation-request", "live", when=("kind", "gdap")),
        Ref("customer_id", "customer"),
        Ref("partner_id", "partner"),
    ),
    customer="customer_id",
    cross_checks=(_expiry_for_gdap,),
)
DELEGATION_REQUESTED = EventType(
    "delegation.requested",
    "A partner asks a customer for granular delegated admin privileges (a GDAP request).",
    (
        _f("delegation_id", "id", "the delegation's id (its grant names it again)"),
        _f("customer_id", "id", "the customer asked"),
        _f("partner_id", "id", "the partner asking"),
        _f("roles", "texts", "the roles asked for (at least one)"),
        _f("duration", "text", "ISO 8601 duration from activation, P1D to P2Y (e.g. P730D, P2Y)"),
        _f(
            "auto_extend",
            "choice",
            "auto-extension by 180 days (absent: none)",
            required=False,
            choices=AUTO_EXTEND,
        ),
        _f("name", "text", "the request's display name", required=False),
    ),
    GDAP_REQUESTERS,
    (
        Ref("delegation_id", "delegation-request", "new"),
        Ref("delegation_id", "delegation", "new"),
        Ref("customer_id", "customer"),
        Ref("partner_id", "partner"),
    ),
    customer="customer_id",
    cross_checks=(_gdap_duration,),
)
DELEGATION_EXTENDED = EventType(
    "delegation.extended",
    "Microsoft auto-extends a GDAP at its expiry by 180 days.",
    (
        _f("delegation_id", "id", "the extended delegation"),
        _f("expires_at", "time", "the new end: the old end + 180 days"),
    ),
    frozenset({MICROSOFT}),
    (Ref("delegation_id", "delegation", "ending"),),
    customer="delegation_id",
)
DELEGATION_REVOKED = EventType(
    "delegation.revoked",
    "Delegated admin privileges are revoked.",
    (_f("delegation_id", "id", "the revoked delegation"),),
    # The customer ends it, or the partner; Microsoft removes a DAP (never a GDAP).
    Roles(CUSTOMER_ADMINS | GDAP_ADMINS | PARTNER_DELEGATION_ADMINS, {"dap": {MICROSOFT}}),
    (Ref("delegation_id", "delegation", "live"),),
    customer="delegation_id",
)

EVENT_TYPES: Mapping[str, EventType] = {
    t.name: t
    for t in (
        PARTNER_REGISTERED,
        PARTNER_PROGRAM_CHANGED,
        CUSTOMER_REGISTERED,
        SUBSCRIPTION_PURCHASED,
        RELATIONSHIP_REQUESTED,
        RELATIONSHIP_ACCEPTED,
        RELATIONSHIP_REMOVED,
        DELEGATION_REQUESTED,
        DELEGATION_GRANTED,
        DELEGATION_EXTENDED,
        DELEGATION_REVOKED,
        SUBSCRIPTION_SWITCHED,
        SUBSCRIPTION_CANCELLED,
    )
}


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    tenant_id: str


@dataclass(frozen=True)
class Event:
    """One event in its normalised form."""

    event_id: str
    type: str
    effective_at: str
    actor: Actor
    data: Mapping[str, Any]
    note: str | None = None

    @cached_property
    def effective_us(self) -> int:
        return to_us(parse_time(self.effective_at, "effective_at"))

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON object, keys in a fixed order, absent optionals left out."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "type": self.type,
            "effective_at": self.effective_at,
            "actor": {"id": self.actor.id, "role": self.actor.role, "tenant_id": self.actor.tenant_id},
            "data": dict(self.data),
        }
        if self.note is not None:
            out["note"] = self.note
        return out
