"""The rulebook: the 14 rules of ``spec/domain.md``, each one named unit, in one place.

Every rule is a ``Rule`` with its stable id, the period it is in force and a check that
returns ``None`` (accepted) or a sentence saying what is wrong. ``check`` judges one event
against the world as the ledger knows it, by the rules in force at the event's effective
time, and raises ``RuleViolation`` naming the first rule that rejects it.

Order: the generic rules come first (eligible-role, known-references, time-order,
same-cloud), so where a generic and a specific rule both reject, the generic one is named;
then the specific rules in the order of the domain's table.

Interpretations the domain page leaves open, decided here:
- ``indirect-reseller-cannot-invite``: only a ``csp-direct`` partner or a
  ``csp-indirect-provider`` creates an invitation; a ``reseller_id`` must be an indirect
  reseller working under that provider.
- "an accepted reseller relationship with the customer" (switches, delegations) is a live
  relationship owned by the partner, or naming it as reseller, or, for an indirect
  reseller, owned by one of its indirect providers.
- ``azure-switch-between-csp-partners``: the new billing partner (``to_partner_id``) is a
  ``csp-direct`` partner or a ``csp-indirect-provider``; an indirect reseller becomes partner
  of record only as ``to_reseller_id`` under one of its providers.
- Partner events belong to no customer (``time-order``), so a back-dated
  ``partner.program-changed`` is accepted even where it changes how earlier events would be
  judged now; each event stays judged by what the ledger knew when it was recorded
  (``--known-at`` shows both views).
- ``multi-partner-changes-nothing`` is structural: it is checked on the effects of each
  delegation event, which may touch nothing but the delegation projection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from projections import CustomerState, PartnerState, SubscriptionState
from projections._time import DAY_US, canonical_to_us, format_us, to_us

from ._errors import RuleViolation
from ._events import CSP_PROGRAMS, Event
from ._world import World

GDAP_MAX_US = 730 * DAY_US
DAP_RETIRED_ON = datetime(2023, 10, 9, tzinfo=UTC)

ELIGIBLE_ROLES: dict[str, frozenset[str]] = {}
for _types, _roles in (
    (
        ("partner.registered", "partner.program-changed", "customer.registered"),
        {"global-admin", "user-management-admin"},
    ),
    (
        ("subscription.purchased", "subscription.switched", "subscription.cancelled"),
        {"global-admin", "admin-agent", "sales-agent"},
    ),
    (("relationship.requested", "relationship.removed"), {"global-admin", "admin-agent", "sales-agent"}),
    (
        ("relationship.accepted", "delegation.granted", "delegation.revoked"),
        {"customer-global-admin"},
    ),
):
    for _t in _types:
        ELIGIBLE_ROLES[_t] = frozenset(_roles)


class Facts:
    """One event seen through the world, with each lookup made once."""

    def __init__(self, event: Event, world: World) -> None:
        self.event = event
        self.world = world
        self.type = event.type
        self.data = event.data
        self.at = event.effective_us
        self._partners: dict[str, PartnerState | None] = {}
        self._customers: dict[str, CustomerState | None] = {}

    def partner(self, partner_id: str) -> PartnerState | None:
        if partner_id not in self._partners:
            self._partners[partner_id] = self.world.partner(partner_id, self.at)
        return self._partners[partner_id]

    def customer(self, customer_id: str) -> CustomerState | None:
        if customer_id not in self._customers:
            self._customers[customer_id] = self.world.customer(customer_id, self.at)
        return self._customers[customer_id]

    def is_csp_partner(self, tenant_id: str) -> bool:
        p = self.partner(tenant_id)
        return p is not None and p.program in CSP_PROGRAMS

    @cached_property
    def subscription(self) -> SubscriptionState | None:
        """The subscription a switch or cancellation names, as of the event."""
        if "subscription_id" not in self.data or self.type == "subscription.purchased":
            return None
        return self.world.subscription(self.data["subscription_id"], self.at)

    @cached_property
    def customer_id(self) -> str | None:
        """The customer this event belongs to (None for partner events)."""
        d, w = self.data, self.world
        if "customer_id" in d:
            return str(d["customer_id"])
        if self.type in ("subscription.switched", "subscription.cancelled"):
            return w.owner_of_subscription(d["subscription_id"])
        if self.type == "relationship.accepted":
            return w.owner_of_request(d["request_id"])
        if self.type == "delegation.revoked":
            return w.owner_of_delegation(d["delegation_id"])
        return None

    @cached_property
    def customer_cloud(self) -> str | None:
        cid = self.customer_id
        c = self.customer(cid) if cid else None
        return c.cloud if c else None

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


Check = Callable[[Facts], str | None]
EffectsCheck = Callable[[Event, frozenset[str]], str | None]


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    check: Check | None = None
    check_effects: EffectsCheck | None = None
    in_force_from: datetime | None = None
    in_force_until: datetime | None = None

    def in_force(self, at_us: int) -> bool:
        if self.in_force_from is not None and at_us < to_us(self.in_force_from):
            return False
        return not (self.in_force_until is not None and at_us >= to_us(self.in_force_until))


# --- generic rules -------------------------------------------------------------------


def _eligible_role(f: Facts) -> str | None:
    allowed = ELIGIBLE_ROLES[f.type]
    role = f.event.actor.role
    if role not in allowed:
        return f"role {role} may not record {f.type} (eligible: {', '.join(sorted(allowed))})"
    return None


def _known_references(f: Facts) -> str | None:
    d, w, at = f.data, f.world, f.at
    when = f.event.effective_at  # ``at`` as the ledger spells a time (format_us(at))
    missing: list[str] = []

    def need_partner(pid: str | None) -> None:
        if pid is not None and f.partner(pid) is None:
            missing.append(f"partner {pid} is not registered at {when}")

    def need_customer(cid: str) -> None:
        if f.customer(cid) is None:
            missing.append(f"customer {cid} is not registered at {when}")

    t = f.type
    if t == "partner.registered":
        if w.partner_ever(d["partner_id"]):
            return f"partner {d['partner_id']} is already registered"
        for p in d.get("provider_ids", ()):
            need_partner(p)
    elif t == "partner.program-changed":
        need_partner(d["partner_id"])
        for p in d.get("provider_ids", ()):
            need_partner(p)
    elif t == "customer.registered":
        if w.customer_ever(d["customer_id"]):
            return f"customer {d['customer_id']} is already registered"
    elif t == "subscription.purchased":
        if w.owner_of_subscription(d["subscription_id"]) is not None:
            return f"subscription id {d['subscription_id']} is already in use"
        need_customer(d["customer_id"])
        need_partner(d.get("seller_id"))
        need_partner(d.get("reseller_id"))
        if "migrated_from" in d:
            old = w.subscription(d["migrated_from"], at)
            if old is None or old.status != "active":
                missing.append(f"subscription {d['migrated_from']} is not live at {when}")
    elif t == "relationship.requested":
        if w.owner_of_request(d["request_id"]) is not None:
            return f"request id {d['request_id']} is already in use"
        need_partner(d["partner_id"])
        need_customer(d["customer_id"])
        need_partner(d.get("reseller_id"))
    elif t == "relationship.accepted":
        r = w.request(d["request_id"], at)
        if r is None or r.status != "open":
            state = "was already accepted" if r is not None else "is unknown"
            return f"request {d['request_id']} {state} at {when}"
    elif t == "relationship.removed":
        need_partner(d["partner_id"])
        need_customer(d["customer_id"])
        if not missing and not any(
            r.partner_id == d["partner_id"] for r in w.relationships(d["customer_id"], at, {d["partner_id"]})
        ):
            return f"partner {d['partner_id']} has no reseller relationship with {d['customer_id']}"
    elif t == "delegation.granted":
        if w.owner_of_delegation(d["delegation_id"]) is not None:
            return f"delegation id {d['delegation_id']} is already in use"
        need_customer(d["customer_id"])
        need_partner(d["partner_id"])
    elif t == "delegation.revoked":
        if w.delegation(d["delegation_id"], at) is None:
            return f"delegation {d['delegation_id']} is not active at {when}"
    elif t in ("subscription.switched", "subscription.cancelled"):
        s = f.subscription
        if s is None or s.status != "active":
            return f"subscription {d['subscription_id']} is not live at {when}"
        need_partner(d.get("from_partner_id"))
        need_partner(d.get("to_partner_id"))
        need_partner(d.get("to_reseller_id"))
    return missing[0] if missing else None


def _time_order(f: Facts) -> str | None:
    cid = f.customer_id
    if cid is None:
        return None
    newest = f.world.newest_effective(cid)
    if newest is not None and f.at < newest:
        return (
            f"effective_at {f.event.effective_at} is older than {format_us(newest)}, "
            f"the newest effective time on file for customer {cid}"
        )
    return None


def _same_cloud(f: Facts) -> str | None:
    d, cloud = f.data, f.customer_cloud
    partners: Iterable[str | None] = ()
    if f.type == "subscription.purchased":
        if d["channel"] == "21vianet" and cloud != "china":
            return f"a 21vianet purchase exists only in cloud china, not {cloud}"
        if d["channel"] == "csp":
            partners = (d.get("seller_id"), d.get("reseller_id"))
    elif f.type == "relationship.requested":
        partners = (d["partner_id"], d.get("reseller_id"))
    elif f.type == "delegation.granted":
        partners = (d["partner_id"],)
    elif f.type == "subscription.switched":
        partners = (d["to_partner_id"], d.get("to_reseller_id"))
    for pid in partners:
        p = f.partner(pid) if pid else None
        if p is not None and p.cloud != cloud:
            return f"partner {pid} is in cloud {p.cloud}, customer {f.customer_id} in {cloud}"
    return None


# --- specific rules ------------------------------------------------------------------


def _csp_cannot_resell_to_csp(f: Facts) -> str | None:
    d = f.data
    if f.type == "subscription.purchased" and d["channel"] == "csp" and f.is_csp_partner(d["customer_id"]):
        return f"customer {d['customer_id']} is itself a CSP partner: CSP partners cannot resell to it"
    if (
        f.type == "relationship.requested"
        and f.is_csp_partner(d["partner_id"])
        and f.is_csp_partner(d["customer_id"])
    ):
        return (
            f"CSP partner {d['partner_id']} cannot invite {d['customer_id']}, "
            "itself a CSP partner, into a reseller relationship"
        )
    return None


def _multi_partner_changes_nothing(event: Event, touched: frozenset[str]) -> str | None:
    if event.type.startswith("delegation."):
        changed = touched - {"delegations", "event_refs"}
        if changed:
            return f"{event.type} would change {', '.join(sorted(changed))}"
    return None


def _license_switch_needs_term_end(f: Facts) -> str | None:
    s = f.subscription
    if f.type == "subscription.switched" and s is not None and s.service == "license":
        return (
            f"license subscription {s.subscription_id} cannot be switched: wait for its term end "
            "or cancel it, then buy anew through the new partner"
        )
    return None


def _azure_switch_between_csp_partners(f: Facts) -> str | None:
    s, d = f.subscription, f.data
    if f.type != "subscription.switched" or s is None or s.channel != "csp":
        return None
    if d["from_partner_id"] != s.partner_of_record:
        return (
            f"{d['from_partner_id']} is not the partner of record of {s.subscription_id} "
            f"({s.partner_of_record} is)"
        )
    to = f.partner(d["to_partner_id"])
    if to is None or to.program not in ("csp-direct", "csp-indirect-provider"):
        program = to.program if to else "unknown"
        return f"{d['to_partner_id']} ({program}) is not a direct-bill CSP partner or indirect provider"
    if "to_reseller_id" in d:
        reseller = f.partner(d["to_reseller_id"])
        if (
            to.program != "csp-indirect-provider"
            or reseller is None
            or reseller.program != "csp-indirect-reseller"
            or to.partner_id not in reseller.provider_ids
        ):
            return f"{d['to_reseller_id']} is not an indirect reseller of provider {to.partner_id}"
    new_por = d.get("to_reseller_id", d["to_partner_id"])
    if new_por == s.partner_of_record:
        return f"{new_por} is already the partner of record of {s.subscription_id}"
    if not f.has_relationship(new_por):
        return f"{new_por} has no accepted reseller relationship with {f.customer_id}"
    return None


def _azure_from_other_channel_migrates(f: Facts) -> str | None:
    s, d = f.subscription if f.type == "subscription.switched" else None, f.data
    if s is not None and s.service == "usage" and s.channel not in ("csp", "syndication"):
        return (
            f"usage subscription {s.subscription_id} bought through {s.channel} is never switched "
            "into CSP: buy a new csp subscription with migrated_from, then cancel the old one"
        )
    if f.type == "subscription.purchased" and "migrated_from" in d:
        if d["channel"] != "csp" or d["service"] != "usage":
            return "a migration buys a new usage subscription through csp"
        old = f.world.subscription(d["migrated_from"], f.at)
        if old is None or old.channel == "syndication":
            return None  # known-references / syndication-is-exclusive speak for these
        if old.customer_id != d["customer_id"]:
            return f"{old.subscription_id} belongs to {old.customer_id}, not {d['customer_id']}"
        if old.service != "usage" or old.channel == "csp":
            return (
                f"{old.subscription_id} ({old.service} through {old.channel}) is not an Azure "
                "subscription from another channel"
            )
    return None


def _delegation_needs_invitation(f: Facts) -> str | None:
    if f.type == "delegation.granted" and not f.has_relationship(f.data["partner_id"]):
        return (
            f"customer {f.data['customer_id']} has not accepted an invitation of "
            f"{f.data['partner_id']} (or of one of its indirect providers)"
        )
    return None


def _indirect_reseller_cannot_invite(f: Facts) -> str | None:
    if f.type != "relationship.requested":
        return None
    d = f.data
    partner = f.partner(d["partner_id"])
    program = partner.program if partner else "unknown"
    if program not in ("csp-direct", "csp-indirect-provider"):
        return (
            f"{d['partner_id']} ({program}) cannot create an invitation: only a direct-bill "
            "partner or an indirect provider can"
        )
    if "reseller_id" in d:
        reseller = f.partner(d["reseller_id"])
        if (
            program != "csp-indirect-provider"
            or reseller is None
            or reseller.program != "csp-indirect-reseller"
            or d["partner_id"] not in reseller.provider_ids
        ):
            return f"{d['reseller_id']} is not an indirect reseller of provider {d['partner_id']}"
    return None


def _syndication_is_exclusive(f: Facts) -> str | None:
    if f.type == "subscription.switched":
        s = f.subscription
        if s is not None and s.channel == "syndication":
            return f"{s.subscription_id} was bought through a syndication partner and stays with it"
    if f.type == "subscription.purchased" and "migrated_from" in f.data:
        old = f.world.subscription(f.data["migrated_from"], f.at)
        if old is not None and old.channel == "syndication":
            return f"{old.subscription_id} was bought through a syndication partner and is never migrated"
    return None


def _gdap_duration(f: Facts) -> str | None:
    if f.type != "delegation.granted":
        return None
    d = f.data
    if d["kind"] == "dap":
        return "a dap delegation has no expires_at" if "expires_at" in d else None
    expires = canonical_to_us(d["expires_at"])
    if expires <= f.at:
        return f"expires_at {d['expires_at']} is not after the grant ({f.event.effective_at})"
    if expires - f.at > GDAP_MAX_US:
        return f"expires_at {d['expires_at']} is more than 730 days after the grant"
    return None


def _dap_retired(f: Facts) -> str | None:
    if f.type == "delegation.granted" and f.data["kind"] == "dap":
        return "DAP is no longer offered from 2023-10-09: grant GDAP instead"
    return None


RULEBOOK: tuple[Rule, ...] = (
    Rule("eligible-role", "Each event type has a set of roles allowed to record it.", _eligible_role),
    Rule(
        "known-references",
        "An event refers only to things that exist at its effective time.",
        _known_references,
    ),
    Rule("time-order", "A customer's events are recorded in non-decreasing effective_at order.", _time_order),
    Rule("same-cloud", "Partner and customer are in the same cloud.", _same_cloud),
    Rule(
        "csp-cannot-resell-to-csp",
        "A CSP partner cannot resell to another CSP partner.",
        _csp_cannot_resell_to_csp,
    ),
    Rule(
        "multi-partner-changes-nothing",
        "Delegations never change a subscription or its partner of record.",
        check_effects=_multi_partner_changes_nothing,
    ),
    Rule(
        "license-switch-needs-term-end",
        "A license subscription is never switched.",
        _license_switch_needs_term_end,
    ),
    Rule(
        "azure-switch-between-csp-partners",
        "A csp usage subscription is switched from its PoR to a related CSP partner.",
        _azure_switch_between_csp_partners,
    ),
    Rule(
        "azure-from-other-channel-migrates",
        "Azure from another channel is migrated (new csp subscription), never switched.",
        _azure_from_other_channel_migrates,
    ),
    Rule(
        "delegation-needs-invitation",
        "Delegated admin privileges follow an accepted invitation.",
        _delegation_needs_invitation,
    ),
    Rule(
        "indirect-reseller-cannot-invite",
        "Only direct-bill partners and indirect providers invite.",
        _indirect_reseller_cannot_invite,
    ),
    Rule(
        "syndication-is-exclusive",
        "Syndication subscriptions are never switched or migrated.",
        _syndication_is_exclusive,
    ),
    Rule("gdap-duration", "GDAP expires within 730 days; DAP has no expiry.", _gdap_duration),
    Rule("dap-retired", "No DAP grants from 2023-10-09.", _dap_retired, in_force_from=DAP_RETIRED_ON),
)

RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULEBOOK)


def check(event: Event, world: World) -> None:
    """Raise ``RuleViolation`` naming the first rule in force that rejects ``event``."""
    facts = Facts(event, world)
    for rule in RULEBOOK:
        if rule.check is not None and rule.in_force(facts.at):
            message = rule.check(facts)
            if message is not None:
                raise RuleViolation(rule.id, message)


def check_effects(event: Event, touched: frozenset[str]) -> None:
    """Raise ``RuleViolation`` if applying ``event`` touched what its type must not."""
    for rule in RULEBOOK:
        if rule.check_effects is not None and rule.in_force(event.effective_us):
            message = rule.check_effects(event, touched)
            if message is not None:
                raise RuleViolation(rule.id, message)
