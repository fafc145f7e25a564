"""pc-audit: Partner Center audit records as the events they record.

Source: Partner Center REST ``GET /v1/auditrecords?startDate=...&endDate=...``; "Auditing
resources" (learn.microsoft.com/partner-center/developer/auditing-resources: AuditRecord
``id``, ``partnerId``, ``customerId``, ``customerName``, ``userPrincipalName``,
``applicationId``, ``resourceType``, ``resourceOldValue``/``resourceNewValue`` (the resource's
JSON as a string), ``operationType``, ``originalCorrelationId``, ``operationDate``,
``operationStatus`` (``succeeded``, ``failed``, ``progress``, ``decline``),
``customizedData`` [{``key``, ``value``}]), with its sample response of "Get a record of
Partner Center activity" (a ``create_order``'s ``OrderId``, ``OfferId-0``,
``SubscriptionId-0``, ``SubscriptionName-0``, ``Quantity-0``, ``PartnerOnRecord-0``, one set
per line item); the .NET SDK's ``PartnerSdk.Models/Auditing/OperationType.cs`` (every
operation type, e.g. ``GranularAdminRelationshipActivated = 49``,
``DapAdminRelationshipTerminatedByMicrosoft = 76``); the PowerShell module's
``PSAuditRecord.cs`` (``AuditRecordId`` for ``id``; ``Get-PartnerAuditRecord``).

Only a succeeded operation changed anything; what each operation type becomes is in
``_OPERATIONS`` and ``docs/sources.md``. Where another source sees the same transition the
event is built by the same code (``Gdap`` of graph-gdap, ``switches`` of pc-transfers,
``purchase`` of pc-subscriptions), so its ``event_id`` and content agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ._common import (
    DAP_CUSTOMER_ROLE,
    DAP_ROLES,
    MICROSOFT,
    Outcome,
    Unreadable,
    actor,
    customer_registered,
    each_record,
    embedded,
    lower,
    norm_id,
    partner_actor,
    proposal,
    text,
    when,
)
from ._graph_gdap import Gdap
from ._model import Context, Record, Skip
from ._pc_subscriptions import purchase
from ._pc_transfers import switches

_LINE_KEY = re.compile(r"(.+)-(\d+)")

# Operations the ledger does not model, and why (docs/sources.md lists them).
_NOT_MODELLED: Mapping[str, str] = {
    "update_order": "an order change (quantities, billing) changes no partner of record or right",
    "upgrade_subscription": "an upgrade is not modelled (the new subscription shows in pc-subscriptions)",
    "create_partner_relationship": "a partner-to-partner (indirect provider/reseller) relationship: "
    "ingest pc-resellers",
    "remove_partner_relationship": "a partner-to-partner (indirect provider/reseller) relationship: "
    "ingest pc-resellers",
    "granular_admin_relationship_approved": "the approval precedes activation; the grant is recorded "
    "at granular_admin_relationship_activated",
    "granular_admin_relationship_termination_requested": "a termination not yet done changes no right; "
    "the revocation is recorded at granular_admin_relationship_terminated",
    "granular_admin_relationship_expired": "an expiry needs no event: a GDAP ends at its expires_at",
    "granular_admin_relationship_cleaned_up": "clean-up after an end changes no right",
    "granular_admin_access_assignment_created": "GDAP access assignments (security groups) are not modelled",
    "granular_admin_access_assignment_updated": "GDAP access assignments (security groups) are not modelled",
    "granular_admin_access_assignment_deleted": "GDAP access assignments (security groups) are not modelled",
    "granular_admin_access_assignment_activated": "GDAP access assignments (security groups) are not "
    "modelled",
    "create_new_commerce_migration": "a new-commerce migration is not modelled (the new subscription "
    "shows in pc-subscriptions)",
}


def line_items(data: Mapping[str, Any]) -> dict[int, dict[str, str]]:
    """A ``create_order``'s line items from ``customizedData`` (``OfferId-0``, ... by index)."""
    items: dict[int, dict[str, str]] = {}
    for pair in data.get("customizedData") or ():
        if not isinstance(pair, Mapping):
            continue
        key, value = pair.get("key"), pair.get("value")
        m = _LINE_KEY.fullmatch(key) if isinstance(key, str) else None
        if m is not None and isinstance(value, str | int) and str(value).strip():
            items.setdefault(int(m.group(2)), {})[m.group(1)] = str(value).strip()
    return dict(sorted(items.items()))


def customized(data: Mapping[str, Any], key: str) -> str | None:
    for pair in data.get("customizedData") or ():
        if isinstance(pair, Mapping) and pair.get("key") == key and isinstance(pair.get("value"), str):
            return str(pair["value"])
    return None


def _customer(record: Record) -> str:
    customer = text(record.data, "customerId")
    if customer is None:
        raise Unreadable(f"{text(record.data, 'operationType')} names no customerId")
    return norm_id(customer)


def _register(record: Record, context: Context, why: str) -> Outcome:
    return customer_registered(
        record, context, _customer(record), text(record.data, "customerName"), f"customer named by {why}"
    )


def _create_order(record: Record, context: Context) -> Iterator[Outcome]:
    items = line_items(record.data)
    with_subscription = {n: item for n, item in items.items() if "SubscriptionId" in item}
    if not with_subscription:
        yield Skip(record.source, record.source_id, "create_order lists no line item with a SubscriptionId")
        return
    customer = _customer(record)
    yield _register(record, context, "create_order")
    effective = when(record.data, "operationDate", [])
    for n, item in with_subscription.items():
        try:
            yield purchase(
                record,
                context,
                subscription_id=item["SubscriptionId"],
                customer=customer,
                offer=item.get("SubscriptionName") or item.get("OfferId"),
                offer_id=item.get("OfferId"),
                billing_type=None,
                term_end=None,
                term_duration=item.get("TermDuration"),
                effective_at=effective,
                mpn_id=item.get("PartnerOnRecord"),
                mpn_field=f"PartnerOnRecord-{n}",
            )
        except Unreadable as why:
            yield Skip(record.source, record.source_id, f"create_order line item {n}: {why}")


def _update_subscription(record: Record, context: Context) -> Iterator[Outcome]:
    new = embedded(record.data, "resourceNewValue") or {}
    old = embedded(record.data, "resourceOldValue") or {}
    status, was = lower(new.get("status") or ""), lower(old.get("status") or "")
    sub = text(new, "id") or text(old, "id")
    if status != "deleted" or was == "deleted":
        shown = f"status {was or '?'} -> {status or '?'}" if status != was else "quantity, name or renewal"
        yield Skip(
            record.source,
            record.source_id,
            f"update_subscription ({shown}) is not a cancellation; the ledger does not model it",
        )
        return
    if sub is None:
        raise Unreadable("update_subscription's resourceNewValue names no subscription id")
    inferred = [
        "actor role admin-agent (defaulted)",
        "cancellation read from resourceNewValue status deleted",
    ]
    yield proposal(
        record,
        "subscription.cancelled",
        (norm_id(sub),),
        when(record.data, "operationDate", inferred),
        partner_actor(record, context),
        {"subscription_id": norm_id(sub)},
        inferred,
    )


def _add_customer(record: Record, context: Context) -> Iterator[Outcome]:
    at = text(record.data, "operationDate")
    yield _register(record, context, f"add_customer at {at} (that time kept here)")


def _remove_relationship(record: Record, context: Context) -> Iterator[Outcome]:
    customer = _customer(record)
    yield _register(record, context, "remove_partner_customer_relationship")
    inferred = ["actor role admin-agent (defaulted)"]
    yield proposal(
        record,
        "relationship.removed",
        (context.partner_id, customer, text(record.data, "operationDate") or ""),
        when(record.data, "operationDate", inferred),
        partner_actor(record, context),
        {"partner_id": context.partner_id, "customer_id": customer},
        inferred,
    )


def _transfer(record: Record, context: Context) -> Iterator[Outcome]:
    transfer = embedded(record.data, "resourceNewValue")
    if transfer is None:
        raise Unreadable(f"{text(record.data, 'operationType')}'s resourceNewValue carries no transfer")
    at = when(record.data, "operationDate", [])
    yield from switches(
        record, context, transfer, effective_at=at, why="effective_at from operationDate (no completedTime)"
    )


def _relationship(record: Record, context: Context) -> Gdap:
    """The GDAP relationship an audit record carries in resourceNewValue (else
    resourceOldValue), its customer from the record when the JSON omits it."""
    rel = embedded(record.data, "resourceNewValue") or embedded(record.data, "resourceOldValue")
    if rel is None:
        raise Unreadable(f"{text(record.data, 'operationType')}'s resourceNewValue carries no relationship")
    if text(rel, "customer", "tenantId") is None and text(record.data, "customerId"):
        rel = {
            **rel,
            "customer": {"tenantId": _customer(record), "displayName": text(record.data, "customerName")},
        }
    return Gdap(record, context, rel)


def _gdap_activated(record: Record, context: Context) -> Iterator[Outcome]:
    gdap = _relationship(record, context)
    yield gdap.register(f"customer named by relationship {gdap.id}")
    try:
        yield gdap.requested()
    except Unreadable as why:
        yield Skip(record.source, record.source_id, f"no delegation.requested from this record: {why}")
    if gdap.rel.get("activatedDateTime") is not None:
        yield gdap.granted()
    else:
        at = when(record.data, "operationDate", [])
        yield gdap.granted(
            at, ("effective_at from operationDate (the relationship JSON has no activatedDateTime)",)
        )


def _gdap_terminated(record: Record, context: Context) -> Iterator[Outcome]:
    gdap = _relationship(record, context)
    inferred: list[str] = []
    at = when(record.data, "operationDate", inferred)
    yield gdap.revoked(at, tuple(inferred))


def _dap(kind: str) -> Callable[[Record, Context], Iterator[Outcome]]:
    """DAP: one per partner and customer (``dap:PARTNER:CUSTOMER``, defaulted: Partner Center
    gives a DAP no id of its own)."""

    def map_dap(record: Record, context: Context) -> Iterator[Outcome]:
        customer = _customer(record)
        delegation = f"dap:{context.partner_id}:{customer}"
        yield _register(record, context, kind)
        inferred = [f"delegation_id {delegation} (defaulted: a DAP has no id of its own)"]
        effective = when(record.data, "operationDate", inferred)
        if kind == "dap_admin_relationship_approved":
            inferred += [
                f"roles {', '.join(DAP_ROLES)} (defaulted: DAP made admin agents Global admins)",
                f"actor role {DAP_CUSTOMER_ROLE} of the customer tenant (defaulted)",
            ]
            yield proposal(
                record,
                "delegation.granted",
                (delegation, effective),
                effective,
                actor(f"customer admin of {customer}", DAP_CUSTOMER_ROLE, customer),
                {
                    "delegation_id": delegation,
                    "customer_id": customer,
                    "partner_id": context.partner_id,
                    "kind": "dap",
                    "roles": list(DAP_ROLES),
                },
                inferred,
            )
            return
        if kind == "dap_admin_relationship_terminated_by_microsoft":
            who = actor("Microsoft", MICROSOFT, MICROSOFT)
        else:
            who = actor(f"customer admin of {customer}", DAP_CUSTOMER_ROLE, customer)
            inferred.append(f"actor role {DAP_CUSTOMER_ROLE} of the customer tenant (defaulted)")
        yield proposal(
            record,
            "delegation.revoked",
            (delegation, effective),
            effective,
            who,
            {"delegation_id": delegation},
            inferred,
        )

    return map_dap


_OPERATIONS: Mapping[str, Callable[[Record, Context], Iterator[Outcome]]] = {
    "create_order": _create_order,
    "update_subscription": _update_subscription,
    "add_customer": _add_customer,
    "remove_partner_customer_relationship": _remove_relationship,
    "create_transfer": _transfer,
    "update_transfer": _transfer,
    "granular_admin_relationship_activated": _gdap_activated,
    "granular_admin_relationship_terminated": _gdap_terminated,
    "dap_admin_relationship_approved": _dap("dap_admin_relationship_approved"),
    "dap_admin_relationship_terminated": _dap("dap_admin_relationship_terminated"),
    "dap_admin_relationship_terminated_by_microsoft": _dap("dap_admin_relationship_terminated_by_microsoft"),
}


def _map(record: Record, context: Context) -> Iterator[Outcome]:
    operation = str(record.data.get("operationType"))
    status = record.data.get("operationStatus")
    if lower(status) != "succeeded":
        shown = status if status is not None else "absent"
        yield Skip(record.source, record.source_id, f"{operation} did not succeed (operationStatus {shown})")
        return
    if operation in _NOT_MODELLED:
        yield Skip(record.source, record.source_id, f"{operation}: {_NOT_MODELLED[operation]}")
        return
    handler = _OPERATIONS.get(operation)
    if handler is None:
        yield Skip(
            record.source,
            record.source_id,
            f"operation type {operation!r} changes no right or partner of record the ledger records",
        )
        return
    yield from handler(record, context)


map_pc_audit = each_record(_map)
