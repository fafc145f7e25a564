"""The rulebook: the rules of ``spec/domain.md``, each one named unit with its editions, in one place.

Every rule is a ``Rule`` with its stable id, the event types it judges and its editions
(``Edition``): what each says, its source, the period of ``effective_at`` and the clouds in
which it is in force, and a check that returns ``None`` (accepted) or a sentence saying
what is wrong. ``check`` judges one event against the world as the ledger knows it
(``World``, a narrow read-only interface), by the editions in force at the event's
effective time in its customer's cloud that judge its type, and raises ``RuleViolation``
naming the first rule that rejects it and the edition (``rule (edition E): …``). An
edition never changes how an event before it is judged. The generic rules read the
event type's definition (``_events``): its eligible roles, its customer, what it refers
to; no rule spells a type's name.

Order: the generic rules come first (eligible-role, known-references, same-cloud), so where
a generic and a specific rule both reject, the generic one is named; then the specific rules
in the order of the domain's table. ``time-order`` keeps its place in the listing but has no
check here: ``_late`` judges it once the event itself has passed every rule (late recordings).

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
- ``time-order`` (late recordings, ``_late``): an event effective before events already
  recorded for its customer is accepted when each of those later events, judged again in
  effective-time order with it in place, still passes; else it is refused, naming the
  first later event it would invalidate and the rule that event would break.
- Partner events belong to no customer (``time-order``), so a back-dated change of a
  partner's program is accepted even where it changes how earlier events would be judged
  now; each event stays judged by what the ledger knew when it was recorded
  (``--known-at`` shows both views).
- ``multi-partner-changes-nothing`` is structural: it is checked on the effects of each
  delegation event, which may touch nothing but the delegation projections (delegations
  and GDAP requests).

The editions after the seeds (spec/domain.md "Rulebook editions"), decided here where it is
silent:
- A rule scoped "china always, other clouds before D" has two editions of one name (``seeds``):
  one in force in china always, one elsewhere before D; then the new edition elsewhere from D.
- ``indirect-reseller-cannot-invite``: an invitation is created by the tenant that records it
  (``actor.tenant_id``). In the seeds' edition an indirect reseller's own staff create none,
  not even one naming its provider as ``partner_id``. From 2021-01-27 outside china they may,
  for a relationship with one of their providers: ``partner_id`` that provider (which owns the
  relationship), ``reseller_id`` the reseller itself. A recorder that is no registered partner
  (the customer, an operator) is not judged by who it is; the partner named still is.
- ``license-switch-needs-term-end`` (2020-03-20, every cloud but china): a licence bought
  through ``csp`` is switched by the checks of ``azure-switch-between-csp-partners`` (which
  judges every csp subscription; in the seeds' edition a licence never reaches it), its
  ``term_end`` unchanged; a licence from any other channel still waits for its term end.
- ``cloud-closed``: judges registrations of customers, purchases, invitations, grants (and a
  GDAP request, where the ledger has ``delegation.requested``) effective on or after
  2021-10-29 in germany; a partner's registration or program, an acceptance, a switch, a
  cancellation, a removal or a revocation ends or changes what existed and is still recorded.
  It is the last rule: where another specific rule also rejects, that one is named.
- ``eligible-role`` (edition "roles vocabulary", always): every role of the spec is a valid
  ``actor.role`` (``_events.ROLES``); a type's ``roles`` may depend on the delegation's kind
  (``_events.Roles``): a grant of a GDAP also by the customer's delegated admin relationship
  admin (the Entra role that approves GDAP), of a DAP by its Global admin only; a revocation by
  the customer's two admin roles or the partner's global admin or admin agent, and of a DAP
  also by Microsoft. Microsoft never revokes a GDAP: that refusal is ``eligible-role``'s,
  naming the kind. Role ``microsoft`` is Microsoft acting itself, so its ``tenant_id`` is
  ``microsoft`` (otherwise ``eligible-role``).
- ``dap-retired`` is unchanged (from 2023-10-09, no new DAP). Microsoft's own removal of a DAP
  (audit operation ``dap_admin_relationship_terminated_by_microsoft``) is a
  ``delegation.revoked`` recorded by role ``microsoft``; it is accepted in any period (the spec
  dates no start for it, and ending a right never harms a later event).

The GDAP lifecycle (edition "GDAP lifecycle", in force always, in every cloud; Graph's
``delegatedAdminRelationship``):
- A GDAP request (``delegation.requested``) and its grant share the delegation id; the
  request is referred to by the grant (``known-references``: "delegation request d-9 is
  unknown"), and an id is used by one request only, never by another delegation.
- ``duration`` is bad input unless it is an ISO 8601 duration from P1D to P2Y whatever the
  start: at least a day; at most 24 months (years and months, nothing added), or 730 days
  where days are counted (Graph's ``P730D``); mixed months and days count a month as 31
  days. The grant's ``expires_at`` is its activation (``effective_at``) + the duration in
  calendar terms, exactly (months first, clamped to the month's last day, then days): P2Y
  from 2023-06-01 is 731 days.
- A request is open from its ``effective_at`` until its grant, and lapses 90 days after it
  was made (at that instant it is no longer open). Partner Center offers no way to take a
  sent request back but letting it lapse, so the ledger records none: "not revoked" holds
  of every request not granted (``delegation.revoked`` names an active delegation).
- "The same roles": the same set of roles (order and repetition do not matter).
- ``delegation.extended`` is Microsoft's (role ``microsoft``); it is effective at the
  delegation's current ``expires_at``, where its row has just ended, so it refers to a
  delegation active just before (``known-references``, must ``ending``). A request may not
  ask for auto-extension together with Global Administrator (Graph refuses
  ``autoExtendDuration`` for it): ``gdap-auto-extend`` also judges the request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from projections import DAY_US, canonical_to_us, format_us, to_us

from ._errors import RuleViolation
from ._events import (
    CLOUDS,
    DELEGATION_EXTENDED,
    DELEGATION_GRANTED,
    DELEGATION_REQUESTED,
    DELEGATION_REVOKED,
    EVENT_TYPES,
    MICROSOFT,
    RELATIONSHIP_REQUESTED,
    SUBSCRIPTION_PURCHASED,
    SUBSCRIPTION_SWITCHED,
    Event,
    EventType,
    gdap_duration_in_range,
    parse_duration,
)
from ._facts import EventContext, unmet_reference
from ._world import World

LATE_RECORDINGS = "late recordings"  # time-order's edition, judged by ``_late``
DAP_RETIRED_ON = date(2023, 10, 9)
LICENSE_TRANSFERS_FROM = date(2020, 3, 20)  # licence transfers between CSP partners
RESELLERS_INVITE_FROM = date(2021, 1, 27)  # an indirect reseller creates its own invitation
GERMANY_CLOSED_ON = date(2021, 10, 29)  # Microsoft Cloud Deutschland closed
NOT_CHINA = frozenset(c for c in CLOUDS if c != "china")
# What a closed cloud no longer takes: a customer, a purchase, an invitation, a delegation
# (and a GDAP request, where the ledger has that type).
CLOSED_TYPES = (
    "customer.registered",
    "subscription.purchased",
    "relationship.requested",
    "delegation.requested",
    "delegation.granted",
)
GDAP_LIFECYCLE = "GDAP lifecycle"  # the edition of the GDAP rules (spec/domain.md, "Rulebook editions")
AUTO_EXTEND_US = 180 * DAY_US
# Global Administrator, by its name in the ledger and by its Entra role template id.
GLOBAL_ADMINISTRATOR = frozenset({"global-administrator", "62e90394-69f5-4237-9190-012177145e10"})


Check = Callable[[EventContext], str | None]
EffectsCheck = Callable[[Event, frozenset[str]], str | None]


@dataclass(frozen=True)
class Edition:
    """One edition of a rule: what it says and checks, where it comes from, and where it is
    in force: events effective in ``[since, until)`` (None: unbounded) in a customer's cloud
    among ``clouds`` (None: every cloud). ``check`` judges an event against the world,
    ``check_effects`` what its fold wrote; an edition may have either, both or (a rule
    that is not in force in that period) neither."""

    name: str
    says: str
    source: str
    check: Check | None = None
    check_effects: EffectsCheck | None = None
    since: date | None = None
    until: date | None = None
    clouds: frozenset[str] | None = None

    def in_force(self, at_us: int, cloud: str | None) -> bool:
        """In force for an event effective at ``at_us`` in ``cloud`` (None: not known)."""
        if self.since is not None and at_us < _day_us(self.since):
            return False
        if self.until is not None and at_us >= _day_us(self.until):
            return False
        return self.clouds is None or cloud in self.clouds

    @property
    def period(self) -> str:
        """When it is in force, as people read it."""
        if self.since is None and self.until is None:
            return "always"
        if self.until is None:
            return f"from {self.since}"
        if self.since is None:
            return f"before {self.until}"
        return f"from {self.since} until {self.until}"


@dataclass(frozen=True)
class Rule:
    """One rule: its stable id, a one-line summary, its editions (never in force at the
    same time and place), and ``judges``: the event types it is about (None: every type)."""

    id: str
    summary: str
    editions: tuple[Edition, ...]
    judges: tuple[EventType, ...] | None = None


def _day_us(day: date) -> int:
    return to_us(datetime(day.year, day.month, day.day, tzinfo=UTC))


SEEDS = "seeds"  # the edition of the seeds' rulebook (2018-2020), spec/domain.md's first table


def _seeds(
    rule_id: str,
    summary: str,
    says: str,
    source: str,
    check: Check | None = None,
    *,
    judges: tuple[EventType, ...] | None = None,
    check_effects: EffectsCheck | None = None,
) -> Rule:
    """A rule with one edition, the seeds', in force always and everywhere."""
    return Rule(rule_id, summary, (Edition(SEEDS, says, source, check, check_effects),), judges)


Says = tuple[str, str, str, Check]  # an edition's name, what it says, its source, its check


def _outside_china_from(day: date, seeds: tuple[str, str, Check], then: Says) -> tuple[Edition, ...]:
    """A seeds rule that changed on ``day`` in every cloud but china: the seeds' edition in
    china always and elsewhere before ``day`` (two editions of one name), then ``then``."""
    says, source, check = seeds
    name, new_says, new_source, new_check = then
    return (
        Edition(SEEDS, says, source, check, clouds=frozenset({"china"})),
        Edition(SEEDS, says, source, check, until=day, clouds=NOT_CHINA),
        Edition(name, new_says, new_source, new_check, since=day, clouds=NOT_CHINA),
    )


def _per_type(checks: Mapping[EventType, Check]) -> tuple[Check, tuple[EventType, ...]]:
    """One check made of one check per event type it judges, and those types."""
    by_name = {t.name: check for t, check in checks.items()}
    return (lambda f: by_name[f.type](f)), tuple(checks)


# --- generic rules -------------------------------------------------------------------


def _eligible_role(f: EventContext) -> str | None:
    actor = f.event.actor
    kind = f.delegation_kind if f.event_type.roles_for("dap") != f.event_type.roles_for("gdap") else None
    allowed = f.event_type.roles_for(kind)
    if actor.role not in allowed:
        of = f" of a {kind}" if kind is not None and actor.role in f.event_type.roles else ""
        return f"role {actor.role} may not record {f.type}{of} (eligible: {', '.join(sorted(allowed))})"
    if actor.role == MICROSOFT and actor.tenant_id != MICROSOFT:
        return f"role microsoft is Microsoft acting itself: its tenant_id is microsoft, not {actor.tenant_id}"
    return None


def _partners_in_cloud(*fields: str) -> Check:
    """The partners in these fields (those given) are in the customer's cloud."""

    def check(f: EventContext) -> str | None:
        cloud = f.customer_cloud
        for pid in (f.data.get(field) for field in fields):
            p = f.partner(pid) if pid else None
            if p is not None and p.cloud != cloud:
                return f"partner {pid} is in cloud {p.cloud}, customer {f.customer_id} in {cloud}"
        return None

    return check


_csp_seller_in_cloud = _partners_in_cloud("seller_id", "reseller_id")


def _purchase_in_cloud(f: EventContext) -> str | None:
    d, cloud = f.data, f.customer_cloud
    if d["channel"] == "21vianet" and cloud != "china":
        return f"a 21vianet purchase exists only in cloud china, not {cloud}"
    return _csp_seller_in_cloud(f) if d["channel"] == "csp" else None


# --- specific rules ------------------------------------------------------------------


def _csp_sells_to_csp(f: EventContext) -> str | None:
    d = f.data
    if d["channel"] == "csp" and f.is_csp_partner(d["customer_id"]):
        return f"customer {d['customer_id']} is itself a CSP partner: CSP partners cannot resell to it"
    return None


def _csp_invites_csp(f: EventContext) -> str | None:
    d = f.data
    if f.is_csp_partner(d["partner_id"]) and f.is_csp_partner(d["customer_id"]):
        return (
            f"CSP partner {d['partner_id']} cannot invite {d['customer_id']}, "
            "itself a CSP partner, into a reseller relationship"
        )
    return None


def _multi_partner_changes_nothing(event: Event, touched: frozenset[str]) -> str | None:
    changed = touched - {"delegations", "gdap_requests", "event_refs"}
    if changed:
        return f"{event.type} would change {', '.join(sorted(changed))}"
    return None


def _license_switch_needs_term_end(f: EventContext) -> str | None:
    s = f.subscription
    if s is not None and s.service == "license":
        return (
            f"license subscription {s.subscription_id} cannot be switched: wait for its term end "
            "or cancel it, then buy anew through the new partner"
        )
    return None


def _license_transfer_needs_csp(f: EventContext) -> str | None:
    s = f.subscription
    if s is not None and s.service == "license" and s.channel != "csp":
        return (
            f"license subscription {s.subscription_id} was bought through {s.channel}, not csp: it cannot "
            "be switched; wait for its term end or cancel it, then buy anew through the new partner"
        )
    return None


def _azure_switch_between_csp_partners(f: EventContext) -> str | None:
    s, d = f.subscription, f.data
    if s is None or s.channel != "csp":
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


def _azure_from_other_channel_switched(f: EventContext) -> str | None:
    s = f.subscription
    if s is not None and s.service == "usage" and s.channel not in ("csp", "syndication"):
        return (
            f"usage subscription {s.subscription_id} bought through {s.channel} is never switched "
            "into CSP: buy a new csp subscription with migrated_from, then cancel the old one"
        )
    return None


def _migration_from_other_channel(f: EventContext) -> str | None:
    d = f.data
    if "migrated_from" not in d:
        return None
    if d["channel"] != "csp" or d["service"] != "usage":
        return "a migration buys a new usage subscription through csp"
    old = f.subscription_of(d["migrated_from"])
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


def _delegation_needs_invitation(f: EventContext) -> str | None:
    """DAP: an accepted reseller relationship. GDAP: its own open request."""
    d = f.data
    if d["kind"] == "gdap":
        return _gdap_needs_request(f)
    if not f.has_relationship(d["partner_id"]):
        return (
            f"customer {d['customer_id']} has not accepted an invitation of "
            f"{d['partner_id']} (or of one of its indirect providers)"
        )
    return None


def _gdap_needs_request(f: EventContext) -> str | None:
    d = f.data
    r = f.world.gdap_request(d["delegation_id"])
    if r is None:
        return None  # known-references speaks for it
    did = d["delegation_id"]
    if r.partner_id != d["partner_id"] or r.customer_id != d["customer_id"]:
        return (
            f"delegation request {did} is from {r.partner_id} to {r.customer_id}, "
            "not from this grant's partner to its customer"
        )
    if f.at >= r.lapses_at:
        return f"delegation request {did} lapsed at {format_us(r.lapses_at)}, 90 days after it was made"
    if set(r.roles) != set(d["roles"]):
        return f"the grant's roles are not those of delegation request {did} ({', '.join(r.roles)})"
    return None


def _inviter_and_reseller(f: EventContext) -> str | None:
    """The partner named creates invitations, and the reseller named works under it."""
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


def _indirect_reseller_cannot_invite(f: EventContext) -> str | None:
    wrong = _inviter_and_reseller(f)
    if wrong is not None:
        return wrong
    recorder = f.recorder
    if recorder is not None and recorder.program == "csp-indirect-reseller":
        return (
            f"{recorder.partner_id} is an indirect reseller: its own staff cannot create an invitation, "
            f"its provider {f.data['partner_id']} does"
        )
    return None


def _indirect_reseller_invites_for_its_provider(f: EventContext) -> str | None:
    wrong = _inviter_and_reseller(f)
    if wrong is not None:
        return wrong
    recorder = f.recorder
    if (
        recorder is not None
        and recorder.program == "csp-indirect-reseller"
        and f.data.get("reseller_id") != recorder.partner_id
    ):
        return (
            f"an invitation created by indirect reseller {recorder.partner_id} names it as "
            "reseller_id, for a relationship with one of its providers"
        )
    return None


def _cloud_closed(f: EventContext) -> str | None:
    return (
        f"Microsoft Cloud Deutschland closed on {GERMANY_CLOSED_ON}: no {f.type} in cloud germany "
        "from then on (what existed before stays on record)"
    )


def _syndication_switched(f: EventContext) -> str | None:
    s = f.subscription
    if s is not None and s.channel == "syndication":
        return f"{s.subscription_id} was bought through a syndication partner and stays with it"
    return None


def _syndication_migrated(f: EventContext) -> str | None:
    old = f.subscription_of(f.data["migrated_from"]) if "migrated_from" in f.data else None
    if old is not None and old.channel == "syndication":
        return f"{old.subscription_id} was bought through a syndication partner and is never migrated"
    return None


def _gdap_duration(f: EventContext) -> str | None:
    d = f.data
    if d["kind"] == "dap":
        return "a dap delegation has no expires_at" if "expires_at" in d else None
    r = f.world.gdap_request(d["delegation_id"])
    if r is None:
        return None  # known-references speaks for it
    duration = parse_duration(r.duration)
    if duration is None or not gdap_duration_in_range(duration):
        return f"duration {r.duration} of delegation request {r.delegation_id} is not between P1D and P2Y"
    expected = to_us(duration.after(datetime.fromtimestamp(0, UTC) + timedelta(microseconds=f.at)))
    if canonical_to_us(d["expires_at"]) != expected:
        return (
            f"expires_at {d['expires_at']} is not the activation ({f.event.effective_at}) + the "
            f"request's duration {r.duration}: {format_us(expected)}"
        )
    return None


def is_global_admin(roles: tuple[str, ...] | list[str]) -> bool:
    """Whether the roles include Global Administrator (by name or role template id); the
    report's findings ask it too."""
    return any(role.lower() in GLOBAL_ADMINISTRATOR for role in roles)


def _gdap_auto_extend_request(f: EventContext) -> str | None:
    if "auto_extend" in f.data and is_global_admin(f.data["roles"]):
        return "a request with Global Administrator cannot ask for auto-extension"
    return None


def _gdap_auto_extend(f: EventContext) -> str | None:
    did, d = f.data["delegation_id"], f.data
    g = f.world.delegation(did, f.at - 1)
    if g is None:
        return None  # known-references speaks for it
    if g.kind != "gdap" or g.expires_at is None:
        return f"delegation {did} is a {g.kind}: only a GDAP is extended"
    if is_global_admin(g.roles):
        return f"delegation {did} includes Global Administrator: it is never auto-extended"
    r = f.world.gdap_request(did)
    if r is None or r.auto_extend != "P180D":
        return f"the request of delegation {did} did not ask for auto-extension (auto_extend P180D)"
    if f.at != g.expires_at:
        return f"an extension is effective at the delegation's expiry, {format_us(g.expires_at)}"
    if canonical_to_us(d["expires_at"]) != f.at + AUTO_EXTEND_US:
        return f"expires_at {d['expires_at']} is not 180 days after {f.event.effective_at}"
    return None


def _dap_retired(f: EventContext) -> str | None:
    if f.data["kind"] == "dap":
        return "DAP is no longer offered from 2023-10-09: grant GDAP instead"
    return None


def _types(*names: str) -> tuple[EventType, ...]:
    """The event types of these names that the ledger has."""
    return tuple(EVENT_TYPES[name] for name in names if name in EVENT_TYPES)


_PURCHASED, _SWITCHED, _REQUESTED, _GRANTED = (
    SUBSCRIPTION_PURCHASED,
    SUBSCRIPTION_SWITCHED,
    RELATIONSHIP_REQUESTED,
    DELEGATION_GRANTED,
)
_same_cloud, _SAME_CLOUD_TYPES = _per_type(
    {
        _PURCHASED: _purchase_in_cloud,
        _REQUESTED: _partners_in_cloud("partner_id", "reseller_id"),
        _GRANTED: _partners_in_cloud("partner_id"),
        DELEGATION_REQUESTED: _partners_in_cloud("partner_id"),
        _SWITCHED: _partners_in_cloud("to_partner_id", "to_reseller_id"),
    }
)
_csp_to_csp, _CSP_TO_CSP_TYPES = _per_type({_PURCHASED: _csp_sells_to_csp, _REQUESTED: _csp_invites_csp})
_migrates, _MIGRATES_TYPES = _per_type(
    {_SWITCHED: _azure_from_other_channel_switched, _PURCHASED: _migration_from_other_channel}
)
_auto_extend, _AUTO_EXTEND_TYPES = _per_type(
    {DELEGATION_REQUESTED: _gdap_auto_extend_request, DELEGATION_EXTENDED: _gdap_auto_extend}
)
_syndication, _SYNDICATION_TYPES = _per_type(
    {_SWITCHED: _syndication_switched, _PURCHASED: _syndication_migrated}
)

RULEBOOK: tuple[Rule, ...] = (
    Rule(
        "eligible-role",
        "Each event type has a set of roles allowed to record it.",
        (
            Edition(
                "roles vocabulary",
                "Every Partner Center and customer role of the spec is a valid actor.role; each event type "
                "has the roles that may record it (a delegation's may depend on its kind: the customer's "
                "delegated admin relationship admin approves a GDAP, Microsoft removes a DAP); any other "
                "role is rejected. Role microsoft acts for tenant microsoft.",
                "Partner Center roles; 001, 003 (Geeignete Rollen / Lämpliga roller)",
                _eligible_role,
            ),
        ),
    ),
    _seeds(
        "known-references",
        "An event refers only to things that exist at its effective time.",
        "An event may refer only to things that exist at its effective time: registered tenants, live "
        "subscriptions, open requests (accepted once), active delegations (revoked once).",
        "integrity",
        unmet_reference,
    ),
    # Judged by ``_late`` (late recordings), not here: an event effective before its
    # customer's later events is refused when one of them would then break a rule.
    Rule(
        "time-order",
        "A late event is accepted when its customer's later events all still pass.",
        (
            Edition(
                LATE_RECORDINGS,
                "An event may be effective before events already recorded for its customer; it is "
                "accepted when each of them, judged again in effective-time order (ties by position) "
                "with it in place, still passes, and rejected otherwise, naming the first later event "
                "it would invalidate (position, event id) and the rule that event would break.",
                "integrity",
            ),
        ),
        judges=tuple(t for t in EVENT_TYPES.values() if t.customer is not None),
    ),
    _seeds(
        "same-cloud",
        "Partner and customer are in the same cloud.",
        "Partner and customer must be in the same cloud for any purchase through csp, relationship, "
        "delegation or switch; 21vianet purchases exist only in china.",
        "Gilt für / Applies to lines; 002",
        _same_cloud,
        judges=_SAME_CLOUD_TYPES,
    ),
    _seeds(
        "csp-cannot-resell-to-csp",
        "A CSP partner cannot resell to another CSP partner.",
        "A csp purchase whose customer is itself a CSP partner is rejected, and so is a reseller "
        "relationship request from a CSP partner to a customer that is a CSP partner.",
        "all seeds (Wichtig / Important box)",
        _csp_to_csp,
        judges=_CSP_TO_CSP_TYPES,
    ),
    _seeds(
        "multi-partner-changes-nothing",
        "Delegations never change a subscription or its partner of record.",
        "Granting or revoking delegated admin privileges never changes a subscription, its terms, its "
        "status, account ownership or its partner of record.",
        "004",
        judges=(DELEGATION_REQUESTED, DELEGATION_GRANTED, DELEGATION_EXTENDED, DELEGATION_REVOKED),
        check_effects=_multi_partner_changes_nothing,
    ),
    Rule(
        "license-switch-needs-term-end",
        "A license subscription waits for its term end (csp licences transfer from 2020-03-20).",
        _outside_china_from(
            LICENSE_TRANSFERS_FROM,
            seeds=(
                "A license subscription cannot be switched to another CSP partner; the customer waits for "
                "the term end or cancels first, then buys anew through the new partner.",
                "000, 001, 003",
                _license_switch_needs_term_end,
            ),
            then=(
                "2020-03-20",
                "A license subscription bought through csp may be switched (a partner-to-partner transfer) "
                "by the same checks as Azure (azure-switch-between-csp-partners); term_end is unchanged. A "
                "license bought through any other channel still cannot be switched: it waits for its term "
                "end.",
                "Partner Center announcements 2020-03 (transfers of licence and Azure subscriptions between "
                "partners); transfers API, transferType 5",
                _license_transfer_needs_csp,
            ),
        ),
        judges=(_SWITCHED,),
    ),
    _seeds(
        "azure-switch-between-csp-partners",
        "A csp usage subscription is switched from its PoR to a related CSP partner.",
        "A usage subscription bought through csp is switched only from its current partner of record to "
        "a CSP partner with an accepted reseller relationship with the customer.",
        "000, 001, 003",
        _azure_switch_between_csp_partners,
        judges=(_SWITCHED,),
    ),
    _seeds(
        "azure-from-other-channel-migrates",
        "Azure from another channel is migrated (new csp subscription), never switched.",
        "A usage subscription bought through any channel but csp and syndication is never switched into "
        "CSP: a new csp usage subscription names it in migrated_from, then it is cancelled.",
        "000, 001, 003",
        _migrates,
        judges=_MIGRATES_TYPES,
    ),
    Rule(
        "delegation-needs-invitation",
        "DAP follows an accepted invitation; GDAP its own open request.",
        (
            Edition(
                GDAP_LIFECYCLE,
                "DAP: the customer has accepted the partner's invitation (or one of its indirect "
                "providers'). GDAP: its own request (delegation.requested, same id) from the same partner, "
                "still open (not granted, at most 90 days old) and with the same roles; no reseller "
                "relationship is needed.",
                "002, 004; GDAP docs and FAQ (requests expire after 90 days)",
                _delegation_needs_invitation,
            ),
        ),
        judges=(_GRANTED,),
    ),
    Rule(
        "indirect-reseller-cannot-invite",
        "Who creates an invitation (indirect resellers their own from 2021-01-27, outside china).",
        _outside_china_from(
            RESELLERS_INVITE_FROM,
            seeds=(
                "An indirect reseller cannot create its own CSP invitation; only a direct-bill partner or "
                "an indirect provider creates one (its own staff record it), and may name the reseller it "
                "invites on behalf of.",
                "002",
                _indirect_reseller_cannot_invite,
            ),
            then=(
                "2021-01-27",
                "An indirect reseller may itself create the invitation for a relationship with one of its "
                "providers: partner_id that provider, reseller_id the reseller, recorded by the reseller's "
                "own staff. The provider still owns the relationship. Otherwise as the seeds.",
                "Partner Center indirect reseller tasks (2021-01-27)",
                _indirect_reseller_invites_for_its_provider,
            ),
        ),
        judges=(_REQUESTED,),
    ),
    _seeds(
        "syndication-is-exclusive",
        "Syndication subscriptions are never switched or migrated.",
        "A subscription bought through a syndication partner is never switched or migrated to another "
        "partner.",
        "000, 001, 003",
        _syndication,
        judges=_SYNDICATION_TYPES,
    ),
    Rule(
        "gdap-duration",
        "GDAP lasts its request's duration (P1D-P2Y) from activation; DAP has no expiry.",
        (
            Edition(
                GDAP_LIFECYCLE,
                "A GDAP's duration is an ISO 8601 duration from P1D to P2Y inclusive, counted in calendar "
                "terms from its activation (two years may be 731 days across a 29 February): expires_at = "
                "activation + duration, exactly. A dap delegation has no expires_at.",
                "Graph delegatedAdminRelationship.duration",
                _gdap_duration,
            ),
        ),
        judges=(_GRANTED,),
    ),
    Rule(
        "dap-retired",
        "No DAP grants from 2023-10-09.",
        (
            Edition(
                "2023-10-09",
                "DAP is no longer offered with reseller relationships: a dap grant is rejected (GDAP only). "
                "Microsoft itself may remove a DAP: delegation.revoked recorded by role microsoft, tenant "
                "microsoft (eligible-role: never a GDAP).",
                "Partner Center GDAP FAQ; audit operation dap_admin_relationship_terminated_by_microsoft",
                _dap_retired,
                since=DAP_RETIRED_ON,
            ),
        ),
        judges=(_GRANTED,),
    ),
    Rule(
        "gdap-auto-extend",
        "A GDAP is auto-extended by 180 days at its expiry, if its request asked, never with Global Admin.",
        (
            Edition(
                GDAP_LIFECYCLE,
                "delegation.extended applies only to an active GDAP whose request allowed auto-extension "
                "(auto_extend P180D), effective at its current expires_at, moving it by exactly 180 days; "
                "never when its roles include Global Administrator (global-administrator or role id "
                "62e90394-69f5-4237-9190-012177145e10), which a request may not ask to auto-extend.",
                "Graph autoExtendDuration; expiring GDAP relationships and auto-extend",
                _auto_extend,
            ),
        ),
        judges=_AUTO_EXTEND_TYPES,
    ),
    Rule(
        "cloud-closed",
        "Nothing new in a closed cloud (germany from 2021-10-29).",
        (
            Edition(
                "2021-10-29",
                "No customer registration, purchase, relationship request or delegation effective on or "
                "after the closure of Microsoft Cloud Deutschland. What existed before stays on record.",
                "Azure Germany closure notice",
                _cloud_closed,
                since=GERMANY_CLOSED_ON,
                clouds=frozenset({"germany"}),
            ),
        ),
        judges=_types(*CLOSED_TYPES),
    ),
)

RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULEBOOK)


def rules_json() -> dict[str, Any]:
    """Every rule with its editions, in the rulebook's order, as ``ledger rules --json``
    prints it: ``since`` and ``until`` are days (null: unbounded), ``clouds`` the clouds in
    which the edition is in force (every cloud listed where it is not scoped)."""
    return {
        "rules": [
            {
                "id": rule.id,
                "summary": rule.summary,
                "editions": [
                    {
                        "name": e.name,
                        "since": e.since.isoformat() if e.since else None,
                        "until": e.until.isoformat() if e.until else None,
                        "clouds": [c for c in CLOUDS if e.clouds is None or c in e.clouds],
                        "says": e.says,
                        "source": e.source,
                    }
                    for e in rule.editions
                ],
            }
            for rule in RULEBOOK
        ]
    }


# --- judging -------------------------------------------------------------------------

_NEVER = 2**63
# One edition as judging runs it: the rule's id, the edition's name, its check, the period
# it is in force (microseconds) and its clouds (None: every cloud).
Judge = tuple[str, str, Callable[..., str | None], int, int, frozenset[str] | None]


@dataclass(frozen=True)
class _Dispatch:
    """The rulebook by event type: each type's editions in the rulebook's order."""

    book: tuple[Rule, ...]
    checks: Mapping[str, tuple[Judge, ...]]
    effects: Mapping[str, tuple[Judge, ...]]


def _judges(book: tuple[Rule, ...], event_type: EventType, effects: bool) -> tuple[Judge, ...]:
    out: list[Judge] = []
    for rule in book:
        if rule.judges is not None and event_type not in rule.judges:
            continue
        for edition in rule.editions:
            judge = edition.check_effects if effects else edition.check
            if judge is not None:
                since = _day_us(edition.since) if edition.since else -_NEVER
                until = _day_us(edition.until) if edition.until else _NEVER
                out.append((rule.id, edition.name, judge, since, until, edition.clouds))
    return tuple(out)


def _dispatch_of(book: tuple[Rule, ...]) -> _Dispatch:
    types = EVENT_TYPES.values()
    return _Dispatch(
        book,
        {t.name: _judges(book, t, effects=False) for t in types},
        {t.name: _judges(book, t, effects=True) for t in types},
    )


_dispatch = [_dispatch_of(RULEBOOK)]


def _rules_now() -> _Dispatch:
    """The dispatch of ``RULEBOOK`` as it is now (built again if it was replaced)."""
    if _dispatch[0].book is not RULEBOOK:
        _dispatch[0] = _dispatch_of(RULEBOOK)
    return _dispatch[0]


def check(event: Event, world: World) -> None:
    """Raise ``RuleViolation`` naming the first rule (and its edition) in force for
    ``event``, at its effective time in its customer's cloud, that rejects it."""
    facts = EventContext(event, world)
    at = facts.at
    for rule_id, edition, judge, since, until, clouds in _rules_now().checks[event.type]:
        if since <= at < until and (clouds is None or facts.cloud in clouds):
            message = judge(facts)
            if message is not None:
                raise RuleViolation(rule_id, message, edition=edition)


def check_effects(event: Event, touched: frozenset[str], world: World | None = None) -> None:
    """Raise ``RuleViolation`` if applying ``event`` touched what its type must not."""
    at = event.effective_us
    facts: EventContext | None = None
    for rule_id, edition, judge, since, until, clouds in _rules_now().effects[event.type]:
        if since <= at < until:
            if clouds is not None:
                if world is None:
                    raise ValueError("an edition scoped by cloud needs the world to judge effects")
                facts = facts or EventContext(event, world)
                if facts.cloud not in clouds:
                    continue
            message = judge(event, touched)
            if message is not None:
                raise RuleViolation(rule_id, message, edition=edition)
