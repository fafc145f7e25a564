"""The fold: one stored event into the projection tables.

``apply`` is the only code that writes projection rows, through a ``Session`` (the unit of
work of one transaction, see ``_session``). The store calls it inside the transaction that
appends the event (live updates, a batch of one or an import of millions), and a rebuild
or a verification calls it for every stored event from position 1: the same code for all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ._session import Session, change, current, insert
from ._tables import (
    CUSTOMERS,
    DELEGATIONS,
    GDAP_REQUESTS,
    PARTNER_FIELDS,
    PARTNERS,
    RELATIONSHIPS,
    REQUESTS,
    SUBSCRIPTIONS,
)
from ._time import DAY_US, canonical_to_us

Event = Mapping[str, Any]
Fold = Callable[[Session, Mapping[str, Any], int, int], set[str]]


def _json_list(items: list[str] | None) -> str | None:
    return orjson.dumps(items).decode() if items is not None else None


def _partner_registered(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    insert(session, PARTNERS, {**d, "provider_ids": _json_list(d.get("provider_ids", []))}, at, None, pos)
    return {"partners"}


def _partner_program_changed(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    updates = {"program": d["program"], "provider_ids": _json_list(d.get("provider_ids", []))}
    change(session, PARTNERS, {"partner_id": d["partner_id"]}, at, pos, updates)
    return {"partners"}


def _customer_registered(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    insert(session, CUSTOMERS, d, at, None, pos)
    return {"customers"}


def _subscription_purchased(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    csp = d["channel"] == "csp"
    row = {
        **d,
        "term_end": canonical_to_us(d["term_end"]) if "term_end" in d else None,
        "status": "active",
        "partner_of_record": d.get("reseller_id", d.get("seller_id")) if csp else None,
        "billing_partner": d.get("seller_id") if csp else None,
        "since": at,
    }
    insert(session, SUBSCRIPTIONS, row, at, None, pos)
    return {"subscriptions"}


def _subscription_switched(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    updates = {
        "partner_of_record": d.get("to_reseller_id", d["to_partner_id"]),
        "billing_partner": d["to_partner_id"],
        "since": at,
    }
    change(session, SUBSCRIPTIONS, {"subscription_id": d["subscription_id"]}, at, pos, updates)
    return {"subscriptions"}


def _subscription_cancelled(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    change(
        session, SUBSCRIPTIONS, {"subscription_id": d["subscription_id"]}, at, pos, {"status": "cancelled"}
    )
    return {"subscriptions"}


def _relationship_requested(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    insert(session, REQUESTS, {**d, "status": "open"}, at, None, pos)
    return {"requests"}


def _relationship_accepted(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    for req in change(session, REQUESTS, {"request_id": d["request_id"]}, at, pos, {"status": "accepted"}):
        insert(session, RELATIONSHIPS, {**req, "accepted_at": at}, at, None, pos)
    return {"requests", "relationships"}


def _relationship_removed(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    where = {"partner_id": d["partner_id"], "customer_id": d["customer_id"]}
    change(session, RELATIONSHIPS, where, at, pos, None)
    return {"relationships"}


# A GDAP request not approved within 90 days lapses (Partner Center: "requests expire after 90 days").
GDAP_REQUEST_LAPSES_US = 90 * DAY_US


def _delegation_requested(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    lapses = at + GDAP_REQUEST_LAPSES_US
    row = {**d, "roles": _json_list(d["roles"]), "requested_at": at, "lapses_at": lapses}
    insert(session, GDAP_REQUESTS, row, at, lapses, pos)
    return {"gdap_requests"}


def _delegation_granted(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    expires = canonical_to_us(d["expires_at"]) if "expires_at" in d else None
    row = {**d, "roles": _json_list(d["roles"]), "granted_at": at, "expires_at": expires}
    insert(session, DELEGATIONS, row, at, expires, pos)
    if d["kind"] != "gdap":
        return {"delegations"}
    change(session, GDAP_REQUESTS, {"delegation_id": d["delegation_id"]}, at, pos, None)  # approved
    return {"delegations", "gdap_requests"}


def _delegation_extended(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    """Effective at the delegation's expiry, where its row has just ended: it continues as a
    new version until the new ``expires_at``."""
    expires = canonical_to_us(d["expires_at"])
    for row in current(session, DELEGATIONS, {"delegation_id": d["delegation_id"]}, at - 1):
        insert(session, DELEGATIONS, {**row, "expires_at": expires}, at, expires, pos)
    return {"delegations"}


def _delegation_revoked(session: Session, d: Mapping[str, Any], at: int, pos: int) -> set[str]:
    change(session, DELEGATIONS, {"delegation_id": d["delegation_id"]}, at, pos, None)
    return {"delegations"}


FOLDS: dict[str, Fold] = {
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

# A subscription's partners also include its partner of record and billing partner (both
# change with a switch).
_THING_PARTNERS = (*PARTNER_FIELDS, "partner_of_record", "billing_partner")


def refs(session: Session, event: Event, at: int) -> list[str]:
    """What one event concerns: ``customer:ID``, ``subscription:ID``, ``partner:ID``.

    An event that names a subscription, request or delegation also concerns that thing's
    customer and partners (an acceptance concerns the inviting partner, a cancellation the
    partner of record), so ``history --partner`` finds it."""
    d = event["data"]
    named: dict[str, Any] = dict(d)
    if "customer_id" not in d:
        for table, key in (
            (SUBSCRIPTIONS, "subscription_id"),
            (REQUESTS, "request_id"),
            (DELEGATIONS, "delegation_id"),
        ):
            if key in d:
                # The thing as it is at the event's effective time: a cancellation after a
                # switch concerns the partner of record then, not only the original seller.
                rows = current(session, table, {key: d[key]}, at)
                if not rows:  # else its newest version
                    rows = sorted(
                        session.versions(table, d[key]), key=lambda r: (r["created_pos"], r["valid_from"])
                    )[-1:]
                row = rows[0] if rows else {}
                # Only the thing's customer and partners: not, say, the subscription that a
                # migrated one replaced (its history is not the new subscription's).
                thing = {k: v for k, v in row.items() if k == "customer_id" or k in _THING_PARTNERS}
                named = {**thing, **d}
                break
    out = {f"customer:{named['customer_id']}"} if named.get("customer_id") else set()
    out |= {f"subscription:{named[k]}" for k in ("subscription_id", "migrated_from") if named.get(k)}
    out |= {f"partner:{named[k]}" for k in _THING_PARTNERS if named.get(k)}
    out |= {f"partner:{p}" for p in d.get("provider_ids", ())}
    return sorted(out)


def apply(session: Session, event: Event, position: int) -> frozenset[str]:
    """Fold one stored event (its contract JSON form) into the projections.

    Returns the short names of the tables it wrote: what its fold says it wrote, and
    whatever it wrote through the session besides."""
    at = canonical_to_us(event["effective_at"])
    for ref in refs(session, event, at):
        session.add_ref(ref, position, at)
    session.written = set()
    touched = FOLDS[event["type"]](session, event["data"], at, position)
    return frozenset(touched | session.written | {"event_refs"})


__all__ = ["FOLDS", "apply", "refs"]
