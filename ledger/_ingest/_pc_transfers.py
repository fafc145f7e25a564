"""pc-transfers: Partner Center transfers (partner-to-partner subscription transfers) as
``subscription.switched``.

Source: Partner Center REST ``GET /v1/customers/{customer-id}/transfers``; "Transfer entity
resources" (learn.microsoft.com/partner-center/developer/transfer-entity-resources):
TransferEntity ``id``, ``createdTime``, ``lastModifiedTime``, ``completedTime``,
``customerTenantId``, ``customerName``, ``sourcePartnerTenantId``, ``sourcePartnerName``,
``targetPartnerTenantId``, ``targetPartnerName``, ``status`` (``Active``, ``Completed``, ...),
``transferType`` (3 Azure, 5 new commerce), ``lineItems`` [{``subscriptionId``, ``quantity``,
``partnerIdOnRecord``, ``status``, ...}].

A completed transfer switches each line item's subscription from the source partner to the
target partner (domain.md: the partner of record changes). A transfer not completed changes
nothing. The same transfer in an audit record (``create_transfer``/``update_transfer``, the
transfer as ``resourceNewValue``) yields the same events (``switches``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ._common import (
    DAP_CUSTOMER_ROLE,
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
    partner_registered,
    proposal,
    reseller_of,
    rfc3339,
    text,
    when,
)
from ._model import Context, Record, Skip, event_id

_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def switches(
    record: Record, context: Context, transfer: Mapping[str, Any], **fallback: str
) -> Iterator[Outcome]:
    """The events of one transfer: for a completed one, its tenants' registrations and one
    ``subscription.switched`` per line item; otherwise a skip naming its status.
    ``fallback``: ``effective_at`` (and its note) when the transfer has no completion time."""
    transfer_id = text(transfer, "id")
    status = text(transfer, "status") or ""
    if transfer_id is None:
        raise Unreadable("the transfer has no id")
    if lower(status) != "completed":
        yield Skip(
            record.source,
            record.source_id,
            f"transfer {transfer_id} status {status or 'absent'}: not completed, changes nothing yet",
        )
        return
    customer = text(transfer, "customerTenantId")
    source, target = text(transfer, "sourcePartnerTenantId"), text(transfer, "targetPartnerTenantId")
    if customer is None or source is None or target is None:
        raise Unreadable(
            f"transfer {transfer_id} lacks customerTenantId, sourcePartnerTenantId or targetPartnerTenantId"
        )
    customer, source, target = norm_id(customer), norm_id(source), norm_id(target)
    yield customer_registered(
        record, context, customer, text(transfer, "customerName"), f"customer named by transfer {transfer_id}"
    )
    for tenant, name_field in ((source, "sourcePartnerName"), (target, "targetPartnerName")):
        if tenant != context.partner_id:
            yield partner_registered(
                record,
                context,
                tenant,
                text(transfer, name_field),
                "csp-direct",
                (f"partner named by transfer {transfer_id}", "program csp-direct (defaulted)"),
            )
    inferred: list[str] = []
    if transfer.get("completedTime") is not None:
        effective = when(transfer, "completedTime", inferred)
    elif transfer.get("lastModifiedTime") is not None:
        effective = when(transfer, "lastModifiedTime", inferred)
        inferred.append("effective_at from lastModifiedTime (inferred: no completedTime)")
    elif "effective_at" in fallback:
        effective = fallback["effective_at"]
        inferred.append(fallback["why"])
    else:
        raise Unreadable(f"transfer {transfer_id} has no completedTime")
    if target != context.partner_id:
        yield from _target_relationship(record, context, transfer, customer, target, effective)
    items = [i for i in transfer.get("lineItems") or () if isinstance(i, Mapping)]
    if not items:
        yield Skip(record.source, record.source_id, f"transfer {transfer_id} lists no line item")
    for n, item in enumerate(items, 1):
        sub = text(item, "subscriptionId")
        if sub is None:
            yield Skip(
                record.source, record.source_id, f"transfer {transfer_id} line item {n} has no subscriptionId"
            )
            continue
        if lower(text(item, "status") or "") == "failed":
            yield Skip(record.source, record.source_id, f"transfer {transfer_id} line item {n} failed")
            continue
        notes = [*inferred, "actor role admin-agent (defaulted)"]
        try:
            reseller = reseller_of(context, text(item, "partnerIdOnRecord"), "partnerIdOnRecord", notes)
        except Unreadable as why:
            yield Skip(record.source, record.source_id, f"transfer {transfer_id} line item {n}: {why}")
            continue
        data: dict[str, Any] = {
            "subscription_id": norm_id(sub),
            "from_partner_id": _partner_of_record(context, norm_id(sub), source, notes),
            "to_partner_id": target,
        }
        if reseller is not None:
            data["to_reseller_id"] = reseller
        yield proposal(
            record,
            "subscription.switched",
            (transfer_id, norm_id(sub)),
            effective,
            partner_actor(record, context),
            data,
            notes,
        )


def _partner_of_record(context: Context, sub: str, source: str, notes: list[str]) -> str:
    """The switch's ``from_partner_id``: the subscription's partner of record before the
    transfer. A transfer names the billing partner it moves the subscription from; in the
    indirect model the partner of record is the reseller (domain.md), which the ingesting
    partner's sale shows (``Context.partners_of_record``). A transfer from another partner:
    that partner (its purchase is proposed through it, without a reseller: see
    pc-subscriptions)."""
    if source != context.partner_id:
        return source
    known = context.partners_of_record.get(sub)
    if known is None:
        notes.append(
            "from_partner_id the source partner (defaulted: no sale of this run or the ledger "
            "names the subscription's reseller of record)"
        )
        return source
    if known != source:
        notes.append(f"from_partner_id {known}: the reseller of record of the partner's sale (inferred)")
    return known


def _target_relationship(
    record: Record, context: Context, transfer: Mapping[str, Any], customer: str, target: str, completed: str
) -> Iterator[Outcome]:
    """The target partner's accepted reseller relationship with the customer, which a
    completed transfer to it implies (a partner receives a subscription only with one,
    domain.md ``azure-switch-between-csp-partners``) and only the target's records show:
    requested and accepted at the transfer's ``createdTime`` (or its completion), one per
    transfer (``reseller:TARGET:transfer:ID``), so every source of the transfer
    proposes the same ids and two transfers never contend for one relationship's time."""
    inferred: list[str] = []
    at = completed
    transfer_id = text(transfer, "id") or ""
    created = transfer.get("createdTime")
    if created is not None:
        try:
            moment, _ = parse_when(created, "createdTime")
            done, _ = parse_when(completed, "effective_at")
            at = rfc3339(min(moment, done))
        except Unreadable:
            pass
    request_id = f"reseller:{target}:transfer:{transfer_id}"
    if not _ID.fullmatch(request_id):  # the ledger's ids: 1 to 128 of A-Z a-z 0-9 . _ : -
        request_id = f"reseller:{target}:transfer:{event_id('transfer', transfer_id)}"
    inferred += [
        f"effective_at {at} = the transfer's createdTime (inferred: a completed transfer implies the "
        "target's accepted reseller relationship with the customer)",
        f"request_id {request_id} (defaulted: the relationship is the target's; only its records show it)",
    ]
    yield proposal(
        record,
        "relationship.requested",
        (request_id,),
        at,
        actor(f"admin agent of {target}", PARTNER_ROLE, target),
        {"request_id": request_id, "partner_id": target, "customer_id": customer},
        [*inferred, "actor role admin-agent of the target partner (defaulted)"],
    )
    yield proposal(
        record,
        "relationship.accepted",
        (request_id,),
        at,
        actor(f"customer admin of {customer}", DAP_CUSTOMER_ROLE, customer),
        {"request_id": request_id},
        [*inferred, f"actor role {DAP_CUSTOMER_ROLE} of the customer tenant (defaulted)"],
    )


def _map(record: Record, context: Context) -> Iterator[Outcome]:
    yield from switches(record, context, record.data)


map_pc_transfers = each_record(_map)
