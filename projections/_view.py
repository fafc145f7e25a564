"""Reading the projections: the state of things as of an effective time, by index lookups."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson

from ._model import (
    CustomerState,
    DelegationState,
    GdapRequestState,
    PartnerState,
    RelationshipState,
    RequestState,
    SubscriptionState,
)
from ._session import Session, as_session
from ._tables import (
    CUSTOMERS,
    DELEGATIONS,
    GDAP_REQUESTS,
    PARTNERS,
    RELATIONSHIPS,
    REQUESTS,
    SUBSCRIPTIONS,
    Db,
    Table,
)


def _one(session: Session, table: Table, key: str, at: int) -> dict[str, Any] | None:
    rows = session.current(table, {table.key: key}, at)
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
    """The world as of an effective time, over everything recorded (the write side's view).

    Over a ``Session`` it sees what the session's transaction has folded so far (the
    events before, including those earlier in the same import); over a plain ``Db`` it
    reads what is stored."""

    def __init__(self, source: Db | Session) -> None:
        self.session = as_session(source)

    def expect(
        self,
        *,
        partners: Collection[str] = (),
        customers: Collection[str] = (),
        subscriptions: Collection[str] = (),
        requests: Collection[str] = (),
        delegations: Collection[str] = (),
        relationships_of: Collection[str] = (),
        newest_of: Collection[str] = (),
        since: int | None = None,
    ) -> None:
        """Load, in a few queries, what lookups of these things will need: a batch's hint.
        A request comes with the relationship it may become; ``relationships_of`` and
        ``newest_of`` name customers (their relationships in force at ``since`` or later,
        their newest effective times). Whatever is not expected is loaded when asked."""
        keys = {
            SUBSCRIPTIONS: subscriptions,
            REQUESTS: requests,
            DELEGATIONS: delegations,
            GDAP_REQUESTS: delegations,  # a GDAP's request has its delegation's id
            RELATIONSHIPS: requests,  # an acceptance makes one, keyed by its request
            PARTNERS: partners,
            CUSTOMERS: customers,
        }
        newest = [f"customer:{c}" for c in newest_of]
        self.session.prefetch(keys, relationships_of=relationships_of, since=since, newest_of=newest)

    def partner(self, partner_id: str, at: int) -> PartnerState | None:
        r = _one(self.session, PARTNERS, partner_id, at)
        return _partner(r) if r else None

    def customer(self, customer_id: str, at: int) -> CustomerState | None:
        r = _one(self.session, CUSTOMERS, customer_id, at)
        return CustomerState(r["customer_id"], r["name"], r["cloud"]) if r else None

    def subscription(self, subscription_id: str, at: int) -> SubscriptionState | None:
        r = _one(self.session, SUBSCRIPTIONS, subscription_id, at)
        return _subscription(r) if r else None

    def request(self, request_id: str, at: int) -> RequestState | None:
        r = _one(self.session, REQUESTS, request_id, at)
        if r is None:
            return None
        return RequestState(r["request_id"], r["partner_id"], r["customer_id"], r["reseller_id"], r["status"])

    def delegation(self, delegation_id: str, at: int) -> DelegationState | None:
        r = _one(self.session, DELEGATIONS, delegation_id, at)
        return _delegation(r) if r else None

    def gdap_request(self, delegation_id: str) -> GdapRequestState | None:
        versions = self.session.versions(GDAP_REQUESTS, delegation_id)
        if not versions:
            return None
        r = versions[0]  # every version carries the request as it was made
        return GdapRequestState(
            r["delegation_id"],
            r["customer_id"],
            r["partner_id"],
            _ids(r["roles"]),
            r["duration"],
            r["auto_extend"],
            r["name"],
            r["requested_at"],
            r["lapses_at"],
        )

    def relationships(
        self, customer_id: str, at: int, partners: Collection[str] | None = None
    ) -> list[RelationshipState]:
        if partners is None:
            rows = self.session.current(RELATIONSHIPS, {"customer_id": customer_id}, at)
        else:
            fields = ("partner_id", "reseller_id")
            rows = self.session.current_naming(
                RELATIONSHIPS, "customer_id", customer_id, fields, partners, at
            )
        return [_relationship(r) for r in rows]

    def partner_ever(self, partner_id: str) -> bool:
        return bool(self.session.versions(PARTNERS, partner_id))

    def customer_ever(self, customer_id: str) -> bool:
        return bool(self.session.versions(CUSTOMERS, customer_id))

    def _owner(self, table: Table, key: str) -> str | None:
        versions = self.session.versions(table, key)
        return str(versions[0]["customer_id"]) if versions else None

    def owner_of_subscription(self, subscription_id: str) -> str | None:
        return self._owner(SUBSCRIPTIONS, subscription_id)

    def owner_of_request(self, request_id: str) -> str | None:
        return self._owner(REQUESTS, request_id)

    def owner_of_delegation(self, delegation_id: str) -> str | None:
        return self._owner(DELEGATIONS, delegation_id)

    def owner_of_gdap_request(self, delegation_id: str) -> str | None:
        return self._owner(GDAP_REQUESTS, delegation_id)

    def newest_effective(self, customer_id: str) -> int | None:
        return self.session.newest(f"customer:{customer_id}")
