"""Each event type in plain language: the sentence an auditor reads for one event, and the
names of the purchase channels.

``SENTENCES`` holds one sentence function per event type, keyed by its name; ``sentence``
looks an event's up and refuses a type it has none for (a new event type is told, not shown
as its bare name). A sentence names partners and, where the event names only an id, what
earlier events made (a subscription's offer, an invitation's partner, a delegation's kind):
it asks a ``Directory`` (the report builds one from the customer's timeline). Nothing here
loads the store, the event types or the rulebook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

# Each purchase channel's name for people, keyed by its id (the event types' ``CHANNELS``).
CHANNEL_NAMES = {
    "csp": "CSP",
    "microsoft": "Microsoft direct",
    "advisor": "Advisor",
    "open": "Open licensing",
    "ea": "Enterprise Agreement",
    "third-party": "third party",
    "syndication": "Syndication",
    "21vianet": "21Vianet",
}


# Well-known Entra (Azure AD) built-in roles a GDAP names, by role template id and by the
# ledger's lower-case spelling; other roles are shown as recorded.
ROLE_NAMES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "global-administrator": "Global Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "helpdesk-administrator": "Helpdesk Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "user-administrator": "User Administrator",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
    "global-reader": "Global Reader",
    "f023fd81-a637-4b56-95fd-791ac0226033": "Service Support Administrator",
    "service-support-administrator": "Service Support Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "exchange-administrator": "Exchange Administrator",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
    "sharepoint-administrator": "SharePoint Administrator",
    "4d6ac14f-3453-41d0-bef9-a3e0c569773a": "License Administrator",
    "license-administrator": "License Administrator",
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
    "directory-readers": "Directory Readers",
}


def role_name(role: str) -> str:
    """A role as people read it: a well-known Entra role by its name, any other as recorded."""
    return ROLE_NAMES.get(role.lower(), role)


def roles_text(roles: Sequence[str]) -> str:
    """Roles as people read them, in their order."""
    return ", ".join(role_name(r) for r in roles)


class Directory(Protocol):
    """Where a sentence looks up what the event names only by id."""

    @property
    def customer(self) -> str:
        """The customer's name (the customer whose history is told)."""
        ...

    def partner(self, partner_id: str) -> str:
        """A partner's name (its id where the partner is not known)."""
        ...

    def subscription(self, subscription_id: str) -> tuple[str, str | None] | None:
        """A known subscription's offer and its last partner of record."""
        ...

    def inviter(self, request_id: str) -> str | None:
        """The partner id of a known invitation."""
        ...

    def delegation(self, delegation_id: str) -> tuple[str, str] | None:
        """A known delegation's partner id and kind (dap, gdap)."""
        ...


Data = Mapping[str, Any]
Sentence = Callable[[Data, Directory], str]


def channel_name(channel: str) -> str:
    """A purchase channel's name for people."""
    return CHANNEL_NAMES[channel]


def _providers(d: Data, names: Directory) -> str:
    providers = d.get("provider_ids")
    return f", reselling through {', '.join(names.partner(p) for p in providers)}" if providers else ""


def _partner_registered(d: Data, names: Directory) -> str:
    return (
        f"{d['name']} ({d['partner_id']}) was registered as a {d['program']} partner in the "
        f"{d['cloud']} cloud{_providers(d, names)}."
    )


def _partner_program_changed(d: Data, names: Directory) -> str:
    return f"{names.partner(d['partner_id'])} changed its program to {d['program']}{_providers(d, names)}."


def _customer_registered(d: Data, names: Directory) -> str:
    return f"{d['name']} ({d['customer_id']}) was registered as a customer in the {d['cloud']} cloud."


def _sold_through_csp(d: Data, names: Directory, what: str) -> str:
    p = names.partner
    text = f"{p(d['seller_id'])} sold {names.customer} {what} through CSP"
    if d.get("reseller_id"):
        return text + f", with {p(d['reseller_id'])} as reseller and partner of record"
    return text + f"; {p(d['seller_id'])} is partner of record"


def _bought_elsewhere(d: Data, names: Directory, what: str) -> str:
    seller = f" from {names.partner(d['seller_id'])}" if d.get("seller_id") else ""
    return (
        f"{names.customer} bought {what} through {channel_name(d['channel'])}{seller}; "
        "it has no CSP partner of record"
    )


def _subscription_purchased(d: Data, names: Directory) -> str:
    service = "licence-based" if d["service"] == "license" else "usage-based"
    term = f", term ends {d['term_end'][:10]}" if d.get("term_end") else ""
    what = f"{d['offer']} ({d['subscription_id']}, {service}{term})"
    csp = d["channel"] == "csp"
    text = _sold_through_csp(d, names, what) if csp else _bought_elsewhere(d, names, what)
    if d.get("migrated_from"):
        text += f". It migrates {d['migrated_from']} into CSP"
    return text + "."


def _subscription_switched(d: Data, names: Directory) -> str:
    p = names.partner
    to = p(d["to_partner_id"])
    if d.get("to_reseller_id"):
        to = f"{p(d['to_reseller_id'])} (via {to})"
    return f"{d['subscription_id']} was switched from {p(d['from_partner_id'])} to {to}."


def _subscription_cancelled(d: Data, names: Directory) -> str:
    known = names.subscription(d["subscription_id"])
    offer = f"{known[0]} ({d['subscription_id']})" if known else d["subscription_id"]
    last = known[1] if known else None
    tail = f"; its last partner of record, {names.partner(last)}, stays on record" if last else ""
    return f"{offer} was cancelled{tail}."


def _relationship_requested(d: Data, names: Directory) -> str:
    p = names.partner
    behalf = f" on behalf of its reseller {p(d['reseller_id'])}" if d.get("reseller_id") else ""
    return (
        f"{p(d['partner_id'])} invited {names.customer} into a reseller relationship{behalf} "
        f"(invitation {d['request_id']})."
    )


def _relationship_accepted(d: Data, names: Directory) -> str:
    inviter = names.inviter(d["request_id"])
    who = f"{names.partner(inviter)}'s invitation" if inviter else "the invitation"
    return f"{names.customer} accepted {who} ({d['request_id']}): the reseller relationship begins."


def _relationship_removed(d: Data, names: Directory) -> str:
    partner = names.partner(d["partner_id"])
    return f"The reseller relationship between {partner} and {names.customer} was removed."


def _delegation_granted(d: Data, names: Directory) -> str:
    until = f", until {d['expires_at'][:10]}" if d.get("expires_at") else ""
    return (
        f"{names.customer} granted {names.partner(d['partner_id'])} {d['kind'].upper()} delegated admin "
        f"rights ({roles_text(d['roles'])}){until} ({d['delegation_id']})."
    )


def _delegation_requested(d: Data, names: Directory) -> str:
    named = f" \u201c{d['name']}\u201d" if d.get("name") else ""
    extend = ", auto-extended by 180 days at each expiry" if d.get("auto_extend") else ""
    return (
        f"{names.partner(d['partner_id'])} asked {names.customer} for GDAP{named} "
        f"({roles_text(d['roles'])}) for {d['duration']} from approval{extend} ({d['delegation_id']})."
    )


def _delegation_extended(d: Data, names: Directory) -> str:
    known = names.delegation(d["delegation_id"])
    whose = f"{names.partner(known[0])}'s GDAP" if known else "the GDAP"
    return (
        f"Microsoft auto-extended {whose} with {names.customer} by 180 days, until "
        f"{d['expires_at'][:10]} ({d['delegation_id']})."
    )


def _delegation_revoked(d: Data, names: Directory) -> str:
    known = names.delegation(d["delegation_id"])
    whose = f"{names.partner(known[0])}'s {known[1].upper()}" if known else "the delegated admin rights"
    return f"{names.customer} revoked {whose} ({d['delegation_id']})."


def _delegation_ended_by(d: Data, names: Directory, role: str) -> str:
    """A revocation as who ended it: the customer, the partner or Microsoft (a DAP)."""
    if role == "microsoft":
        known = names.delegation(d["delegation_id"])
        whose = f"{names.partner(known[0])}'s {known[1].upper()}" if known else "the delegated admin rights"
        return f"Microsoft removed {whose} of {names.customer} ({d['delegation_id']})."
    if role in ("global-admin", "admin-agent"):  # the partner's staff end it
        known = names.delegation(d["delegation_id"])
        if known:
            partner, kind = names.partner(known[0]), known[1].upper()
            return f"{partner} ended its {kind} with {names.customer} ({d['delegation_id']})."
        return f"The partner ended its delegated admin rights with {names.customer} ({d['delegation_id']})."
    return _delegation_revoked(d, names)


# The sentences that depend on who recorded the event (its ``actor.role``), by type name.
RECORDER_SENTENCES: dict[str, Callable[[Data, Directory, str], str]] = {
    "delegation.revoked": _delegation_ended_by,
}

SENTENCES: dict[str, Sentence] = {
    "partner.registered": _partner_registered,
    "partner.program-changed": _partner_program_changed,
    "customer.registered": _customer_registered,
    "subscription.purchased": _subscription_purchased,
    "subscription.switched": _subscription_switched,
    "subscription.cancelled": _subscription_cancelled,
    "relationship.requested": _relationship_requested,
    "relationship.accepted": _relationship_accepted,
    "relationship.removed": _relationship_removed,
    "delegation.requested": _delegation_requested,
    "delegation.granted": _delegation_granted,
    "delegation.extended": _delegation_extended,
    "delegation.revoked": _delegation_revoked,
}


def sentence(event: Mapping[str, Any], names: Directory) -> str:
    """One event (the contract's JSON) in plain language. Raises ``LookupError`` for an
    event type with no sentence."""
    told = SENTENCES.get(event["type"])
    if told is None:
        raise LookupError(f"no sentence tells an event of type {event['type']!r}")
    by_recorder = RECORDER_SENTENCES.get(event["type"])
    if by_recorder is not None and "actor" in event:
        return by_recorder(event["data"], names, event["actor"]["role"])
    return told(event["data"], names)
