"""Listing and looking up: every customer, partner or subscription on record as of a time,
and the names one event's sentence needs.

Like the other queries (``_queries``), each reads the temporal tables as believed after
position ``known`` at effective time ``as_of``, so ``--as-of`` and ``--known-at`` mean here
what they mean for ``por``: a customer registered after ``as_of`` (or recorded after the
``--known-at`` time) is not listed. Lists are sorted by id, by code point on every store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ._queries import BITEMPORAL, _por, cancellations, versions
from ._tables import CUSTOMERS, DELEGATIONS, PARTNERS, REQUESTS, SUBSCRIPTIONS, Db, Table
from ._time import format_us

# A thing's versions as believed after a position that had begun by an effective time.
_BEGUN = "created_pos <= ? AND (superseded_pos IS NULL OR superseded_pos > ?) AND valid_from <= ?"


def _counts(db: Db, table: Table, condition: str, as_of: int, known: int) -> dict[str, int]:
    """How many things of ``table`` each customer has, valid at ``as_of`` (and meeting
    ``condition``): one grouped statement for every customer."""
    db.execute(
        f"SELECT customer_id, COUNT(*) AS n FROM {table.sql_name} WHERE {condition}{BITEMPORAL} "
        "GROUP BY customer_id",
        [known, known, as_of, as_of],
    )
    return {str(r["customer_id"]): int(r["n"]) for r in db.fetchall()}


def customers(db: Db, as_of: int, known: int) -> list[dict[str, Any]]:
    """``ledger customers``: each customer registered by ``as_of``, with when (its registration's
    effective time) and how many subscriptions were live (active, not cancelled) and
    delegations active (granted, not revoked, not expired) as of then."""
    db.execute(
        f"SELECT customer_id, name, cloud, valid_from, valid_to FROM {CUSTOMERS.sql_name} WHERE {_BEGUN}",
        [known, known, as_of],
    )
    registered: dict[str, int] = {}
    current: dict[str, Mapping[str, Any]] = {}
    for row in db.fetchall():
        key = str(row["customer_id"])
        registered[key] = min(registered.get(key, row["valid_from"]), row["valid_from"])
        if row["valid_to"] is None or row["valid_to"] > as_of:
            current[key] = row
    live = _counts(db, SUBSCRIPTIONS, "status = 'active' AND ", as_of, known)
    active = _counts(db, DELEGATIONS, "", as_of, known)
    return [
        {
            "customer_id": key,
            "name": current[key]["name"],
            "cloud": current[key]["cloud"],
            "registered_at": format_us(registered[key]),
            "live_subscriptions": live.get(key, 0),
            "active_delegations": active.get(key, 0),
        }
        for key in sorted(current)
    ]


def partners(db: Db, as_of: int, known: int) -> list[dict[str, Any]]:
    """``ledger partners``: each partner registered by ``as_of``, with its program as of then
    (a ``partner.program-changed`` after it has not happened yet)."""
    return [
        {
            "partner_id": r["partner_id"],
            "name": r["name"],
            "cloud": r["cloud"],
            "program": r["program"],
            "provider_ids": orjson.loads(r["provider_ids"]) if r["provider_ids"] else [],
        }
        for r in versions(db, PARTNERS, {}, as_of, known, "partner_id")
    ]


def subscriptions(db: Db, as_of: int, known: int, customer_id: str | None = None) -> list[dict[str, Any]]:
    """``ledger subscriptions``: each subscription bought by ``as_of`` (of one customer, or of
    all), cancelled ones too (status ``cancelled``), each the object ``por`` answers with."""
    where = {} if customer_id is None else {"customer_id": customer_id}
    cancelled_at = cancellations(db, where, as_of, known)
    return [
        _por(r, as_of, cancelled_at.get(r["subscription_id"]))
        for r in versions(db, SUBSCRIPTIONS, where, as_of, known, "subscription_id")
    ]


class EventNames:
    """What one event's sentence looks up (``ledger.narration.Directory``), read from the
    projections as the event left them: believed after its own position, the newest version
    of each thing begun by its effective time. So a cancellation still finds its
    subscription's last partner of record, a revocation its delegation's partner, and the
    sentence is the same whenever it is asked."""

    def __init__(self, db: Db, event: Mapping[str, Any], effective_us: int) -> None:
        self.db = db
        self.at = effective_us
        self.known = int(event["position"])
        self.data: Mapping[str, Any] = event["data"]

    def _newest(self, table: Table, key: str) -> Mapping[str, Any] | None:
        self.db.execute(
            f"SELECT * FROM {table.sql_name} WHERE {table.key} = ? AND {_BEGUN} "
            "ORDER BY valid_from DESC LIMIT 1",
            [key, self.known, self.known, self.at],
        )
        return self.db.fetchone()

    @property
    def customer(self) -> str:
        """The name of the customer the event concerns: the one its data names, or the
        owner of the subscription, invitation or delegation it names."""
        customer_id = self.data.get("customer_id")
        for table in (SUBSCRIPTIONS, REQUESTS, DELEGATIONS):
            if customer_id is None and table.key in self.data:
                owner = self._newest(table, self.data[table.key])
                customer_id = owner["customer_id"] if owner else None
        found = None if customer_id is None else self._newest(CUSTOMERS, customer_id)
        if found is not None:
            return str(found["name"])
        return "the customer" if customer_id is None else str(customer_id)

    def partner(self, partner_id: str) -> str:
        found = self._newest(PARTNERS, partner_id)
        return str(found["name"]) if found else partner_id

    def subscription(self, subscription_id: str) -> tuple[str, str | None] | None:
        found = self._newest(SUBSCRIPTIONS, subscription_id)
        return (str(found["offer"]), found["partner_of_record"]) if found else None

    def inviter(self, request_id: str) -> str | None:
        found = self._newest(REQUESTS, request_id)
        return str(found["partner_id"]) if found else None

    def delegation(self, delegation_id: str) -> tuple[str, str] | None:
        found = self._newest(DELEGATIONS, delegation_id)
        return (str(found["partner_id"]), str(found["kind"])) if found else None
