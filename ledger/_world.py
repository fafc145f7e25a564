"""What the rulebook may know of the world: read-only lookups as of an effective time.

The rulebook depends on this protocol only. The store hands it the projections' view
inside the appending transaction, so every rule sees the events before it, including
those earlier in the same import.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from projections import (
    CustomerState,
    DelegationState,
    PartnerState,
    RelationshipState,
    RequestState,
    SubscriptionState,
)


class World(Protocol):
    """Lookups as of effective time ``at`` (microseconds), over everything recorded so far.

    ``*_ever`` and ``owner_of_*`` answer regardless of time: whether an id was ever used,
    and to which customer it belongs.
    """

    def partner(self, partner_id: str, at: int) -> PartnerState | None: ...

    def customer(self, customer_id: str, at: int) -> CustomerState | None: ...

    def subscription(self, subscription_id: str, at: int) -> SubscriptionState | None: ...

    def request(self, request_id: str, at: int) -> RequestState | None: ...

    def delegation(self, delegation_id: str, at: int) -> DelegationState | None: ...

    def relationships(
        self, customer_id: str, at: int, partners: Collection[str] | None = None
    ) -> list[RelationshipState]:
        """The customer's live reseller relationships; with ``partners``, only those whose
        partner or reseller is one of them."""
        ...

    def partner_ever(self, partner_id: str) -> bool: ...

    def customer_ever(self, customer_id: str) -> bool: ...

    def owner_of_subscription(self, subscription_id: str) -> str | None: ...

    def owner_of_request(self, request_id: str) -> str | None: ...

    def owner_of_delegation(self, delegation_id: str) -> str | None: ...

    def newest_effective(self, customer_id: str) -> int | None:
        """The newest effective time of any event recorded for this customer."""
        ...
