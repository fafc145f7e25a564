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
  delegation event, which may touch nothing but the delegation projection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from projections import DAY_US, canonical_to_us, to_us

from ._errors import RuleViolation
from ._events import (
    DELEGATION_GRANTED,
    DELEGATION_REVOKED,
    EVENT_TYPES,
    RELATIONSHIP_REQUESTED,
    SUBSCRIPTION_PURCHASED,
    SUBSCRIPTION_SWITCHED,
    Event,
    EventType,
)
from ._facts import EventContext, unmet_reference
from ._world import World

GDAP_MAX_US = 730 * DAY_US
LATE_RECORDINGS = "late recordings"  # time-order's edition, judged by ``_late``
DAP_RETIRED_ON = date(2023, 10, 9)


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


def _per_type(checks: Mapping[EventType, Check]) -> tuple[Check, tuple[EventType, ...]]:
    """One check made of one check per event type it judges, and those types."""
    by_name = {t.name: check for t, check in checks.items()}
    return (lambda f: by_name[f.type](f)), tuple(checks)


# --- generic rules -------------------------------------------------------------------


def _eligible_role(f: EventContext) -> str | None:
    allowed = f.event_type.roles
    role = f.event.actor.role
    if role not in allowed:
        return f"role {role} may not record {f.type} (eligible: {', '.join(sorted(allowed))})"
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
    changed = touched - {"delegations", "event_refs"}
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
    if not f.has_relationship(f.data["partner_id"]):
        return (
            f"customer {f.data['customer_id']} has not accepted an invitation of "
            f"{f.data['partner_id']} (or of one of its indirect providers)"
        )
    return None


def _indirect_reseller_cannot_invite(f: EventContext) -> str | None:
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
    expires = canonical_to_us(d["expires_at"])
    if expires <= f.at:
        return f"expires_at {d['expires_at']} is not after the grant ({f.event.effective_at})"
    if expires - f.at > GDAP_MAX_US:
        return f"expires_at {d['expires_at']} is more than 730 days after the grant"
    return None


def _dap_retired(f: EventContext) -> str | None:
    if f.data["kind"] == "dap":
        return "DAP is no longer offered from 2023-10-09: grant GDAP instead"
    return None


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
        _SWITCHED: _partners_in_cloud("to_partner_id", "to_reseller_id"),
    }
)
_csp_to_csp, _CSP_TO_CSP_TYPES = _per_type({_PURCHASED: _csp_sells_to_csp, _REQUESTED: _csp_invites_csp})
_migrates, _MIGRATES_TYPES = _per_type(
    {_SWITCHED: _azure_from_other_channel_switched, _PURCHASED: _migration_from_other_channel}
)
_syndication, _SYNDICATION_TYPES = _per_type(
    {_SWITCHED: _syndication_switched, _PURCHASED: _syndication_migrated}
)

RULEBOOK: tuple[Rule, ...] = (
    _seeds(
        "eligible-role",
        "Each event type has a set of roles allowed to record it.",
        "Each event type has a set of roles allowed to record it; any other actor role is rejected.",
        "001, 003 (Geeignete Rollen / Lämpliga roller)",
        _eligible_role,
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
        judges=(DELEGATION_GRANTED, DELEGATION_REVOKED),
        check_effects=_multi_partner_changes_nothing,
    ),
    _seeds(
        "license-switch-needs-term-end",
        "A license subscription is never switched.",
        "A license subscription cannot be switched to another CSP partner; the customer waits for the "
        "term end or cancels first, then buys anew through the new partner.",
        "000, 001, 003",
        _license_switch_needs_term_end,
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
    _seeds(
        "delegation-needs-invitation",
        "Delegated admin privileges follow an accepted invitation.",
        "A customer grants delegated admin privileges to a partner only after accepting that partner's "
        "invitation, or, for an indirect reseller, an invitation of one of its indirect providers.",
        "002, 004",
        _delegation_needs_invitation,
        judges=(_GRANTED,),
    ),
    _seeds(
        "indirect-reseller-cannot-invite",
        "Only direct-bill partners and indirect providers invite.",
        "An indirect reseller cannot create its own CSP invitation; only a direct-bill partner or an "
        "indirect provider creates one, and may name the reseller it invites on behalf of.",
        "002",
        _indirect_reseller_cannot_invite,
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
    _seeds(
        "gdap-duration",
        "GDAP expires within 730 days; DAP has no expiry.",
        "A gdap delegation has an expires_at at most 730 days after it is granted; a dap delegation has "
        "none.",
        "Partner Center GDAP docs",
        _gdap_duration,
        judges=(_GRANTED,),
    ),
    Rule(
        "dap-retired",
        "No DAP grants from 2023-10-09.",
        (
            Edition(
                "2023-10-09",
                "DAP is no longer offered with reseller relationships: a dap grant is rejected (GDAP only).",
                "Partner Center GDAP FAQ",
                _dap_retired,
                since=DAP_RETIRED_ON,
            ),
        ),
        judges=(_GRANTED,),
    ),
)

RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULEBOOK)


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
