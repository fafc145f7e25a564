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
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from .._events import parse_duration
from ._common import (
    PARTNER_ROLE,
    Outcome,
    Unreadable,
    actor,
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
    also_inferred: Sequence[str] = (),
) -> Proposal:
    """``subscription.purchased`` through ``csp`` by the ingesting partner (the seller), its
    reseller of record through the reseller map (Unreadable for an unknown MPN id of an
    indirect provider's sale). A subscription the partner received by a completed transfer
    (``Context.transferred_in``) was bought through the transfer's source partner: sold by it,
    with no reseller (its records, which would name one, are not ours), recorded by it; the
    MPN id names the reseller of record after the transfer (the switch's ``to_reseller_id``)."""
    inferred: list[str] = [
        "channel csp (defaulted: Partner Center sales are CSP)",
        "actor role admin-agent (defaulted)",
        *also_inferred,
    ]
    sub = norm_id(subscription_id)
    transferred = context.transferred_in.get(sub)
    seller, who = context.partner_id, partner_actor(record, context)
    if transferred is not None:
        seller, transfer_id = transferred
        inferred.append(
            f"seller_id {seller}, no reseller_id (inferred: the partner received the subscription by "
            f"transfer {transfer_id}; the purchase was the source partner's)"
        )
        who = actor(f"admin agent of {seller}", PARTNER_ROLE, seller)
        mpn_id = None
    service = service_from_offer(offer_id, billing_type, inferred)
    data: dict[str, Any] = {
        "subscription_id": sub,
        "customer_id": customer,
        "offer": (offer or offer_id or "unknown offer")[:1024],
        "service": service,
        "channel": "csp",
        "seller_id": seller,
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
        who,
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
    given: tuple[str, ...] = ()
    if customer is None and context.customer_id:
        customer = norm_id(context.customer_id)
        given = ("customer_id from --customer (the record names none)",)
    if customer is None:
        raise Unreadable(
            "names no customer (no customerId, no links.self.uri customers/{id}/subscriptions; "
            "give --customer, or add a CustomerId property to what PowerShell's "
            "Get-PartnerCustomerSubscription wrote)"
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
        also_inferred=given,
    )
    if lower(status) == "deleted":
        yield Skip(
            record.source,
            record.source_id,
            "status deleted: the cancellation's time is not in a subscription; ingest pc-audit's "
            "update_subscription for it",
        )


map_pc_subscriptions = each_record(_map)
