"""pc-customers: Partner Center customers as their registration and reseller relationship.

Source: Partner Center REST ``GET /v1/customers``; "Customer resources"
(learn.microsoft.com/partner-center/developer/customer-resources: ``id`` (the customer's
tenant), ``companyProfile`` {``tenantId``, ``domain``, ``companyName``},
``relationshipToPartner`` (``none``, ``reseller``, ``advisor``, ``syndication``,
``microsoftSupport``), ``allowDelegatedAccess``, ``associatedPartnerId`` (an indirect
provider's reseller of the customer)); the PowerShell module's ``PSCustomer.cs``
(``CustomerId`` for ``id``; ``Name`` and ``Domain`` flattened from the company profile).

A customer of the list is registered; a ``reseller`` relationship is the ledger's accepted
reseller relationship (``relationship.requested`` and ``relationship.accepted``), which a
switch and a DAP need (domain.md). The resource carries no date: both are effective at
``REGISTERED_AT`` (defaulted, noted), like every ingested registration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._common import (
    DAP_CUSTOMER_ROLE,
    REGISTERED_AT,
    Outcome,
    actor,
    customer_registered,
    each_record,
    lower,
    norm_id,
    partner_actor,
    proposal,
    text,
)
from ._model import Context, Record, Skip


def _map(record: Record, context: Context) -> Iterator[Outcome]:
    data = record.data
    customer = norm_id(text(data, "companyProfile", "tenantId") or record.source_id)
    name = text(data, "companyProfile", "companyName") or text(data, "name")
    yield customer_registered(record, context, customer, name, "customer listed by Partner Center")
    relation = text(data, "relationshipToPartner") or "none"
    if lower(relation) != "reseller":
        yield Skip(
            record.source,
            record.source_id,
            f"relationshipToPartner {relation}: not a reseller relationship, none recorded",
        )
        return
    request_id = f"reseller:{context.partner_id}:{customer}"
    inferred = [
        f"effective_at {REGISTERED_AT} (defaulted: the customer resource carries no date)",
        f"request_id {request_id} (defaulted: Partner Center gives the relationship no id)",
        "relationship read from relationshipToPartner reseller",
    ]
    requested: dict[str, Any] = {
        "request_id": request_id,
        "partner_id": context.partner_id,
        "customer_id": customer,
    }
    associated = text(data, "associatedPartnerId")
    if associated is not None:
        reseller = context.resellers.get(associated) or (
            associated if associated in context.resellers.values() else None
        )
        if reseller is not None:
            requested["reseller_id"] = reseller
            inferred.append(f"reseller_id from associatedPartnerId {associated}")
        else:
            inferred.append(f"associatedPartnerId {associated} not in the reseller map: no reseller_id")
    yield proposal(
        record,
        "relationship.requested",
        (request_id,),
        REGISTERED_AT,
        partner_actor(record, context),
        requested,
        [*inferred, "actor role admin-agent (defaulted)"],
    )
    yield proposal(
        record,
        "relationship.accepted",
        (request_id,),
        REGISTERED_AT,
        actor(f"customer admin of {customer}", DAP_CUSTOMER_ROLE, customer),
        {"request_id": request_id},
        [*inferred, f"actor role {DAP_CUSTOMER_ROLE} of the customer tenant (defaulted)"],
    )


map_pc_customers = each_record(_map)
