"""pc-subscriptions: Partner Center subscriptions as ``subscription.purchased``.

Source: Partner Center REST ``GET /v1/customers/{customer-id}/subscriptions``; "Subscription
resources" (learn.microsoft.com/partner-center/developer/subscription-resources:
``id``, ``offerId``, ``offerName``, ``friendlyName``, ``quantity``, ``status`` (``none``,
``active``, ``pending``, ``suspended``, ``deleted``, ``expired``, ``disabled``),
``billingType`` (``none``, ``usage``, ``license``), ``billingCycle``, ``termDuration``,
``creationDate``, ``effectiveStartDate``, ``commitmentEndDate``, ``autoRenewEnabled``,
``orderId``, ``partnerId`` (the MPN id of the reseller of record, indirect model),
``migratedFromSubscriptionId``, ``links.self.uri`` = ``customers/{customer-id}/
subscriptions/{id}``); the .NET SDK's ``Subscription.cs`` and the PowerShell module's
``PSSubscription.cs`` (``SubscriptionId`` for ``id``; ``PartnerId`` "the MPN identifier. This
only applies to indirect partner scenarios").

The subscription resource names no customer: its customer is the one in ``links.self.uri``
(or a ``customerId`` a script added). Its purchase is the same transition as an audit record's
``create_order`` line item: both are built by ``purchase``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from .._events import parse_duration
from ._common import (
    Outcome,
    Unreadable,
    customer_registered,
    each_record,
    lower,
    norm_id,
    parse_when,
    partner_actor,
    proposal,
    reseller_of,
    rfc3339,
    service_from_offer,
    text,
    when,
)
from ._model import Context, Proposal, Record, Skip

_CUSTOMER_IN_LINK = re.compile(r"customers/([^/]+)/subscriptions", re.IGNORECASE)
_NOT_BOUGHT = frozenset({"none", "pending"})


def purchase(
    record: Record,
    context: Context,
    *,
    subscription_id: str,
    customer: str,
    offer: str | None,
    offer_id: str | None,
    billing_type: str | None,
    term_end: str | None,
    term_duration: str | None,
    effective_at: str,
    mpn_id: str | None,
    mpn_field: str,
) -> Proposal:
    """``subscription.purchased`` through ``csp`` by the ingesting partner (the seller), its
    reseller of record through the reseller map (Unreadable for an unknown MPN id of an
    indirect provider's sale)."""
    inferred: list[str] = [
        "channel csp (defaulted: Partner Center sales are CSP)",
        "actor role admin-agent (defaulted)",
    ]
    sub = norm_id(subscription_id)
    service = service_from_offer(offer_id, billing_type, inferred)
    data: dict[str, Any] = {
        "subscription_id": sub,
        "customer_id": customer,
        "offer": (offer or offer_id or "unknown offer")[:1024],
        "service": service,
        "channel": "csp",
        "seller_id": context.partner_id,
    }
    if not offer and not offer_id:
        inferred.append("offer 'unknown offer' (defaulted: the record names none)")
    reseller = reseller_of(context, mpn_id, mpn_field, inferred)
    if reseller is not None:
        data["reseller_id"] = reseller
    if service == "license":
        if term_end is not None:
            data["term_end"] = term_end
        else:
            start, _ = parse_when(effective_at, "effective_at")
            length = parse_duration((term_duration or "P1Y").upper())
            end = length.after(start) if length is not None else start + timedelta(days=365)
            data["term_end"] = rfc3339(end)
            inferred.append(
                f"term_end = effective_at + {term_duration or 'P1Y'} "
                f"({'from the term duration' if term_duration else 'defaulted: the record has no term end'})"
            )
    return proposal(
        record,
        "subscription.purchased",
        (sub,),
        effective_at,
        partner_actor(record, context),
        data,
        inferred,
    )


def customer_of(data: dict[str, Any] | Any) -> str | None:
    """The subscription's customer: a ``customerId`` key, else ``links.self.uri``."""
    given = text(data, "customerId")
    if given:
        return norm_id(given)
    uri = text(data, "links", "self", "uri")
    m = _CUSTOMER_IN_LINK.search(uri) if uri else None
    return norm_id(m.group(1)) if m else None


def _map(record: Record, context: Context) -> Iterator[Outcome]:
    data = record.data
    status = text(data, "status") or ""
    if lower(status) in _NOT_BOUGHT:
        yield Skip(record.source, record.source_id, f"status {status}: not (yet) bought, nothing to record")
        return
    customer = customer_of(data)
    if customer is None:
        raise Unreadable(
            "names no customer (no customerId, no links.self.uri customers/{id}/subscriptions; "
            "PowerShell's Get-PartnerCustomerSubscription drops it: add a CustomerId property)"
        )
    yield customer_registered(
        record, context, customer, None, f"customer named by subscription {record.source_id}"
    )
    commitment = data.get("commitmentEndDate")
    term_end = None
    if commitment is not None:
        moment, _ = parse_when(commitment, "commitmentEndDate")
        term_end = rfc3339(moment)
    yield purchase(
        record,
        context,
        subscription_id=record.source_id,
        customer=customer,
        offer=text(data, "offerName") or text(data, "friendlyName"),
        offer_id=text(data, "offerId"),
        billing_type=text(data, "billingType"),
        term_end=term_end,
        term_duration=text(data, "termDuration"),
        effective_at=when(data, "creationDate", []),
        mpn_id=text(data, "partnerId"),
        mpn_field="partnerId",
    )
    if lower(status) == "deleted":
        yield Skip(
            record.source,
            record.source_id,
            "status deleted: the cancellation's time is not in a subscription; ingest pc-audit's "
            "update_subscription for it",
        )


map_pc_subscriptions = each_record(_map)
