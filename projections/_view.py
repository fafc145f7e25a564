"""Reading the projections: the state of things as of an effective time, by index lookups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ._model import (
    CustomerState,
    DelegationState,
    PartnerState,
    RelationshipState,
    RequestState,
    SubscriptionState,
)
from ._tables import (
    CUSTOMERS,
    DELEGATIONS,
    PARTNERS,
    RELATIONSHIPS,
    REQUESTS,
    SUBSCRIPTIONS,
    Db,
    Table,
    current,
)


def _one(db: Db, table: Table, key: str, at: int) -> dict[str, Any] | None:
    rows = current(db, table, {table.key: key}, at)
    return rows[0] if rows else None


def _ids(text: str | None) -> tuple[str, ...]:
    return tuple(orjson.loads(text)) if text else ()


def _partner(r: Mapping[str, Any]) -> PartnerState:
    return PartnerState(r["partner_id"], r["name"], r["cloud"], r["program"], _ids(r["provider_ids"]))


def _subscription(r: Mapping[str, Any]) -> SubscriptionState:
    return SubscriptionState(
        r["subscription_id"],
        r["customer_id"],
        r["offer"],
        r["service"],
        r["channel"],
        r["seller_id"],
        r["status"],
        r["partner_of_record"],
        r["billing_partner"],
        r["since"],
    )


def _relationship(r: Mapping[str, Any]) -> RelationshipState:
    return RelationshipState(
        r["request_id"], r["partner_id"], r["customer_id"], r["reseller_id"], r["accepted_at"]
    )


def _delegation(r: Mapping[str, Any]) -> DelegationState:
    return DelegationState(
        r["delegation_id"],
        r["customer_id"],
        r["partner_id"],
        r["kind"],
        _ids(r["roles"]),
        r["granted_at"],
        r["expires_at"],
    )


class StateView:
    """The world as of an effective time, over everything recorded (the rulebook's view)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def partner(self, partner_id: str, at: int) -> PartnerState | None:
        r = _one(self.db, PARTNERS, partner_id, at)
        return _partner(r) if r else None

    def customer(self, customer_id: str, at: int) -> CustomerState | None:
        r = _one(self.db, CUSTOMERS, customer_id, at)
        return CustomerState(r["customer_id"], r["name"], r["cloud"]) if r else None

    def subscription(self, subscription_id: str, at: int) -> SubscriptionState | None:
        r = _one(self.db, SUBSCRIPTIONS, subscription_id, at)
        return _subscription(r) if r else None

    def request(self, request_id: str, at: int) -> RequestState | None:
        r = _one(self.db, REQUESTS, request_id, at)
        if r is None:
            return None
        return RequestState(r["request_id"], r["partner_id"], r["customer_id"], r["reseller_id"], r["status"])

    def delegation(self, delegation_id: str, at: int) -> DelegationState | None:
        r = _one(self.db, DELEGATIONS, delegation_id, at)
        return _delegation(r) if r else None

    def relationships(self, customer_id: str, at: int) -> list[RelationshipState]:
        return [_relationship(r) for r in current(self.db, RELATIONSHIPS, {"customer_id": customer_id}, at)]

    def _exists(self, table: Table, key: str) -> dict[str, Any] | None:
        self.db.execute(f"SELECT * FROM {table.sql_name} WHERE {table.key} = ? LIMIT 1", [key])
        row = self.db.fetchone()
        return dict(row) if row else None

    def partner_ever(self, partner_id: str) -> bool:
        return self._exists(PARTNERS, partner_id) is not None

    def customer_ever(self, customer_id: str) -> bool:
        return self._exists(CUSTOMERS, customer_id) is not None

    def _owner(self, table: Table, key: str) -> str | None:
        row = self._exists(table, key)
        return str(row["customer_id"]) if row else None

    def owner_of_subscription(self, subscription_id: str) -> str | None:
        return self._owner(SUBSCRIPTIONS, subscription_id)

    def owner_of_request(self, request_id: str) -> str | None:
        return self._owner(REQUESTS, request_id)

    def owner_of_delegation(self, delegation_id: str) -> str | None:
        return self._owner(DELEGATIONS, delegation_id)

    def newest_effective(self, customer_id: str) -> int | None:
        self.db.execute(
            "SELECT MAX(effective_us) AS newest FROM prj_event_refs WHERE ref = ?",
            [f"customer:{customer_id}"],
        )
        row = self.db.fetchone()
        return int(row["newest"]) if row and row["newest"] is not None else None
