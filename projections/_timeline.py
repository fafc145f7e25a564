"""A customer's relationship history as intervals: the auditor report's timeline.

``timeline`` reads the temporal tables as believed after position ``known`` (what the ledger
had recorded by ``--known-at``) and keeps what had begun by effective time ``as_of``: for each
subscription the periods of its partner of record, for each reseller relationship its
invitation, acceptance and end, for each delegation its grant and end (revoked, or a GDAP
expired). An end after ``as_of`` had not happened yet as of then, so it is ``None`` (still
going); a GDAP's ``expires_at`` is known from its grant and kept apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import orjson

from ._queries import customer_state
from ._tables import DELEGATIONS, GDAP_REQUESTS, PARTNERS, RELATIONSHIPS, REQUESTS, SUBSCRIPTIONS, Db, Table

BELIEVED = "created_pos <= ? AND (superseded_pos IS NULL OR superseded_pos > ?) AND valid_from <= ?"


@dataclass(frozen=True)
class PorPeriod:
    """One partner of record of a subscription over ``[start, end)`` (``end`` None: still, as of
    then). A subscription bought through a channel other than ``csp`` has one period with
    ``partner_of_record`` None."""

    start: int
    end: int | None
    partner_of_record: str | None
    billing_partner: str | None


@dataclass(frozen=True)
class SubscriptionLine:
    subscription_id: str
    offer: str
    service: str  # "license" or "usage"
    channel: str
    seller_id: str | None
    migrated_from: str | None
    term_end: int | None
    purchased_at: int
    cancelled_at: int | None
    periods: tuple[PorPeriod, ...]  # in time order; a new one starts at each switch


@dataclass(frozen=True)
class RelationshipLine:
    """A reseller relationship from its invitation (``requested_at``) on; ``accepted_at`` None:
    the invitation was still open; ``ended_at``: the relationship was removed."""

    request_id: str
    partner_id: str
    reseller_id: str | None
    requested_at: int
    accepted_at: int | None
    ended_at: int | None


@dataclass(frozen=True)
class DelegationLine:
    delegation_id: str
    partner_id: str
    kind: str  # "dap" or "gdap"
    roles: tuple[str, ...]
    granted_at: int
    expires_at: int | None
    ended_at: int | None
    end: str | None  # "revoked", "expired", or None (still active as of then)


@dataclass(frozen=True)
class GdapRequestLine:
    """A GDAP request from ``requested_at`` until its approval or lapse (``ended_at``, with
    ``end`` "approved" or "lapsed"; both None: still pending as of then)."""

    delegation_id: str
    partner_id: str
    name: str | None
    roles: tuple[str, ...]
    requested_at: int
    lapses_at: int
    ended_at: int | None
    end: str | None


@dataclass(frozen=True)
class ProgramChange:
    """A partner's move from one program to another, effective ``at``."""

    at: int
    before: str
    after: str


@dataclass(frozen=True)
class PartnerInfo:
    """A partner as of then: its name, program and indirect providers, and every change of
    its program by then (the report's findings look for one under a live subscription)."""

    partner_id: str
    name: str
    program: str
    provider_ids: tuple[str, ...] = ()
    changes: tuple[ProgramChange, ...] = ()


@dataclass(frozen=True)
class Timeline:
    customer_id: str
    name: str
    cloud: str
    as_of: int
    known: int  # the newest position the timeline rests on (past the head: every position)
    first_event_at: int  # effective time of the customer's first event
    subscriptions: tuple[SubscriptionLine, ...]  # by purchase time, then id
    relationships: tuple[RelationshipLine, ...]  # by invitation time, then request id
    delegations: tuple[DelegationLine, ...]  # by grant time, then delegation id
    partners: Mapping[str, PartnerInfo]  # every partner named above, as of then
    gdap_requests: tuple[GdapRequestLine, ...] = ()  # by request time, then delegation id

    def partner_ids(self) -> list[str]:
        """Every partner the timeline names, in order of first appearance."""
        seen: dict[str, None] = {}
        for s in self.subscriptions:
            for p in s.periods:
                seen.update(dict.fromkeys(x for x in (p.partner_of_record, p.billing_partner) if x))
            if s.seller_id:
                seen[s.seller_id] = None
        for r in self.relationships:
            seen.update(dict.fromkeys(x for x in (r.partner_id, r.reseller_id) if x))
        for d in self.delegations:
            seen[d.partner_id] = None
        for g in self.gdap_requests:
            seen[g.partner_id] = None
        return list(seen)


def _believed(
    db: Db, table: Table, where: Mapping[str, object], as_of: int, known: int
) -> list[dict[str, Any]]:
    """Every version of the matching things believed after ``known`` that began by ``as_of``."""
    cond = "".join(f"{k} = ? AND " for k in where)
    db.execute(
        f"SELECT * FROM {table.sql_name} WHERE {cond}{BELIEVED} ORDER BY {table.key}, valid_from",
        [*where.values(), known, known, as_of],
    )
    return [dict(r) for r in db.fetchall()]


def _by_key(rows: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return out


def _end(valid_to: int | None, as_of: int) -> int | None:
    return valid_to if valid_to is not None and valid_to <= as_of else None


def _subscription(versions: list[dict[str, Any]], as_of: int) -> SubscriptionLine:
    first = versions[0]
    cancelled_at = next((v["valid_from"] for v in versions if v["status"] == "cancelled"), None)
    periods: list[PorPeriod] = []
    for v in versions:
        if v["status"] != "active":
            break
        end = _end(v["valid_to"], as_of)
        last = periods[-1] if periods else None
        if last is not None and (last.partner_of_record, last.billing_partner) == (
            v["partner_of_record"],
            v["billing_partner"],
        ):
            periods[-1] = PorPeriod(last.start, end, last.partner_of_record, last.billing_partner)
        else:
            periods.append(PorPeriod(v["valid_from"], end, v["partner_of_record"], v["billing_partner"]))
    return SubscriptionLine(
        subscription_id=first["subscription_id"],
        offer=first["offer"],
        service=first["service"],
        channel=first["channel"],
        seller_id=first["seller_id"],
        migrated_from=first["migrated_from"],
        term_end=first["term_end"],
        purchased_at=first["valid_from"],
        cancelled_at=cancelled_at,
        periods=tuple(periods),
    )


def _relationships(db: Db, customer_id: str, as_of: int, known: int) -> list[RelationshipLine]:
    where = {"customer_id": customer_id}
    accepted = _by_key(_believed(db, RELATIONSHIPS, where, as_of, known), "request_id")
    out = []
    for request_id, versions in _by_key(_believed(db, REQUESTS, where, as_of, known), "request_id").items():
        first = versions[0]
        rel = accepted.get(request_id)
        out.append(
            RelationshipLine(
                request_id=request_id,
                partner_id=first["partner_id"],
                reseller_id=first["reseller_id"],
                requested_at=first["valid_from"],
                accepted_at=rel[0]["accepted_at"] if rel else None,
                ended_at=_end(rel[-1]["valid_to"], as_of) if rel else None,
            )
        )
    return sorted(out, key=lambda r: (r.requested_at, r.request_id))


def _delegations(db: Db, customer_id: str, as_of: int, known: int) -> list[DelegationLine]:
    out = []
    rows = _believed(db, DELEGATIONS, {"customer_id": customer_id}, as_of, known)
    for delegation_id, versions in _by_key(rows, "delegation_id").items():
        first, last = versions[0], versions[-1]  # an extension is a later version: its expiry counts
        ended = _end(last["valid_to"], as_of)
        end = None if ended is None else ("expired" if ended == last["expires_at"] else "revoked")
        out.append(
            DelegationLine(
                delegation_id=delegation_id,
                partner_id=first["partner_id"],
                kind=first["kind"],
                roles=tuple(orjson.loads(first["roles"])),
                granted_at=first["granted_at"],
                expires_at=last["expires_at"],
                ended_at=ended,
                end=end,
            )
        )
    return sorted(out, key=lambda d: (d.granted_at, d.delegation_id))


def _gdap_requests(db: Db, customer_id: str, as_of: int, known: int) -> list[GdapRequestLine]:
    out = []
    rows = _believed(db, GDAP_REQUESTS, {"customer_id": customer_id}, as_of, known)
    for delegation_id, versions in _by_key(rows, "delegation_id").items():
        first = versions[0]
        ended = _end(versions[-1]["valid_to"], as_of)
        end = None if ended is None else ("lapsed" if ended == first["lapses_at"] else "approved")
        out.append(
            GdapRequestLine(
                delegation_id=delegation_id,
                partner_id=first["partner_id"],
                name=first["name"],
                roles=tuple(orjson.loads(first["roles"])),
                requested_at=first["requested_at"],
                lapses_at=first["lapses_at"],
                ended_at=ended,
                end=end,
            )
        )
    return sorted(out, key=lambda g: (g.requested_at, g.delegation_id))


def _partners(db: Db, ids: Iterable[str], as_of: int, known: int) -> dict[str, PartnerInfo]:
    out = {}
    for partner_id in ids:
        versions = _believed(db, PARTNERS, {"partner_id": partner_id}, as_of, known)
        if versions:
            v = versions[-1]
            changes = tuple(
                ProgramChange(new["valid_from"], old["program"], new["program"])
                for old, new in pairwise(versions)
                if old["program"] != new["program"]
            )
            providers = tuple(orjson.loads(v["provider_ids"] or "[]"))
            out[partner_id] = PartnerInfo(partner_id, v["name"], v["program"], providers, changes)
        else:  # named by an event but not (yet) registered as known then: the id is all there is
            out[partner_id] = PartnerInfo(partner_id, partner_id, "unknown")
    return out


def timeline(db: Db, customer_id: str, as_of: int, known: int) -> Timeline | None:
    """The customer's timeline as of effective time ``as_of``, as believed after position
    ``known``; None where the customer was not registered then."""
    found = customer_state(db, customer_id, as_of, known)
    if found is None:
        return None
    db.execute(
        "SELECT MIN(effective_us) AS first FROM prj_event_refs WHERE ref = ? AND position <= ? "
        "AND effective_us <= ?",
        [f"customer:{customer_id}", known, as_of],
    )
    row = db.fetchone()
    first_event_at = int(row["first"]) if row and row["first"] is not None else int(found["valid_from"])
    subscriptions = sorted(
        (
            _subscription(versions, as_of)
            for versions in _by_key(
                _believed(db, SUBSCRIPTIONS, {"customer_id": customer_id}, as_of, known), "subscription_id"
            ).values()
        ),
        key=lambda s: (s.purchased_at, s.subscription_id),
    )
    shell = Timeline(
        customer_id=found["customer_id"],
        name=found["name"],
        cloud=found["cloud"],
        as_of=as_of,
        known=known,
        first_event_at=first_event_at,
        subscriptions=tuple(subscriptions),
        relationships=tuple(_relationships(db, customer_id, as_of, known)),
        delegations=tuple(_delegations(db, customer_id, as_of, known)),
        partners={},
        gdap_requests=tuple(_gdap_requests(db, customer_id, as_of, known)),
    )
    return replace(shell, partners=_partners(db, shell.partner_ids(), as_of, known))
