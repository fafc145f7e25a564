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

from collections.abc import Iterator, Mapping
from typing import Any

from ._common import (
    Outcome,
    Unreadable,
    customer_registered,
    each_record,
    lower,
    norm_id,
    partner_actor,
    partner_registered,
    proposal,
    reseller_of,
    text,
    when,
)
from ._model import Context, Record, Skip


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
            "from_partner_id": source,
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


def _map(record: Record, context: Context) -> Iterator[Outcome]:
    yield from switches(record, context, record.data)


map_pc_transfers = each_record(_map)
