"""The read models: one frozen record per thing, as of one moment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartnerState:
    partner_id: str
    name: str
    cloud: str
    program: str
    provider_ids: tuple[str, ...]


@dataclass(frozen=True)
class CustomerState:
    customer_id: str
    name: str
    cloud: str


@dataclass(frozen=True)
class SubscriptionState:
    subscription_id: str
    customer_id: str
    offer: str
    service: str
    channel: str
    seller_id: str | None
    status: str  # "active" or "cancelled"
    partner_of_record: str | None
    billing_partner: str | None
    since: int  # effective time (us) of the event that made the current partner of record


@dataclass(frozen=True)
class RequestState:
    request_id: str
    partner_id: str
    customer_id: str
    reseller_id: str | None
    status: str  # "open" or "accepted"


@dataclass(frozen=True)
class RelationshipState:
    request_id: str
    partner_id: str
    customer_id: str
    reseller_id: str | None
    accepted_at: int


@dataclass(frozen=True)
class DelegationState:
    delegation_id: str
    customer_id: str
    partner_id: str
    kind: str
    roles: tuple[str, ...]
    granted_at: int
    expires_at: int | None


@dataclass(frozen=True)
class GdapRequestState:
    """A GDAP request as it was made; open in ``[requested_at, lapses_at)`` until granted."""

    delegation_id: str
    customer_id: str
    partner_id: str
    roles: tuple[str, ...]
    duration: str
    auto_extend: str | None
    name: str | None
    requested_at: int
    lapses_at: int
