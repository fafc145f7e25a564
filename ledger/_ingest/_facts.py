"""What one source's mapping needs to know that only other sources say: of a transferred
subscription, who was its partner of record before the transfer, and whether the ingesting
partner received it by a transfer.

Why: a transfer (pc-transfers, or an audit record's ``create_transfer``/``update_transfer``)
names the billing partners it moved the subscription between, not the reseller of record it
moved it from (an indirect provider's sale: the reseller is the partner of record,
domain.md "Partner of record"); that is in the sale (pc-audit's ``create_order``
``PartnerOnRecord``, pc-subscriptions' ``partnerId``) or in the ledger once the sale is on
record. And a subscription the partner received by a transfer is listed by pc-subscriptions
like one it sold (same id, the first purchase's ``creationDate``): only the transfer says the
purchase was the source partner's. So the engine gathers both from this run's records (and
the partners of record from the ledger) into ``Context`` before any mapping runs, the way it
gathers the reseller map; mappings stay pure.

Limit: a subscription list ingested in a run without its transfer-in is read as
the partner's own sale (nothing in it says otherwise), and the ledger cannot correct a
recorded purchase: ingest the transfers in one run with the subscriptions
(``ingest_sources``; from the command line ``ledger ingest pc-subscriptions FILE pc-transfers FILE``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from projections import to_us

from .._errors import NotFound
from .._read import por
from .._store import Ledger
from ._common import Unreadable, embedded, lower, norm_id, parse_when, reseller_of, text
from ._model import Context, Record
from ._pc_audit import line_items


def completed_transfers(transfer: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str, str | None]]:
    """(subscription, source, target, transfer id, completion time or None) of each line item
    of a completed transfer (nothing for one not completed or lacking its tenants)."""
    transfer_id = text(transfer, "id")
    source, target = text(transfer, "sourcePartnerTenantId"), text(transfer, "targetPartnerTenantId")
    if transfer_id is None or source is None or target is None:
        return
    if lower(text(transfer, "status") or "") != "completed":
        return
    completed = text(transfer, "completedTime") or text(transfer, "lastModifiedTime")
    for item in transfer.get("lineItems") or ():
        sub = text(item, "subscriptionId") if isinstance(item, Mapping) else None
        if sub is not None and lower(text(item, "status") or "") != "failed":
            yield norm_id(sub), norm_id(source), norm_id(target), transfer_id, completed


def _transfers(read: Sequence[tuple[str, Sequence[Record]]]) -> Iterator[Mapping[str, Any]]:
    for source, records in read:
        for record in records:
            if source == "pc-transfers":
                yield record.data
            elif source == "pc-audit" and _succeeded(record, ("create_transfer", "update_transfer")):
                transfer = embedded(record.data, "resourceNewValue")
                if transfer is not None:
                    yield transfer


def _succeeded(record: Record, operations: tuple[str, ...]) -> bool:
    data = record.data
    return str(data.get("operationType")) in operations and lower(data.get("operationStatus")) == "succeeded"


def _sold(read: Sequence[tuple[str, Sequence[Record]]], context: Context) -> dict[str, str]:
    """Subscription -> partner of record of the ingesting partner's sales in this run's
    records: the reseller their MPN id names, else the partner itself (a direct sale)."""
    out: dict[str, str] = {}
    for source, records in read:
        for record in records:
            sales: list[tuple[str | None, str | None]] = []
            if source == "pc-audit" and _succeeded(record, ("create_order",)):
                items = line_items(record.data).values()
                sales = [(i.get("SubscriptionId"), i.get("PartnerOnRecord")) for i in items]
            elif source == "pc-subscriptions":
                sales = [(record.source_id, text(record.data, "partnerId"))]
            for sub, mpn in sales:
                if sub is None:
                    continue
                try:
                    reseller = reseller_of(context, mpn, "partnerId", [])
                except Unreadable:
                    continue
                out.setdefault(norm_id(sub), reseller or context.partner_id)
    return out


def transfer_facts(ledger: Ledger, read: Sequence[tuple[str, Sequence[Record]]], context: Context) -> Context:
    """``context`` with ``partners_of_record`` (each subscription a transfer of this run moves
    out of the ingesting partner: its reseller of record from this run's sale, else the
    ledger's partner of record just before the transfer) and ``transferred_in`` (each
    subscription a transfer of this run moved into the ingesting partner: its source
    partner and the transfer)."""
    partner = context.partner_id
    sold = _sold(read, context)
    pors: dict[str, str] = {}
    transferred_in: dict[str, tuple[str, str]] = {}
    for transfer in _transfers(read):
        for sub, source, target, transfer_id, completed in completed_transfers(transfer):
            if target == partner and source != partner:
                held = transferred_in.get(sub)
                if held is None or transfer_id < held[1]:  # the order of files changes nothing
                    transferred_in[sub] = (source, transfer_id)
            if source != partner or sub in pors:
                continue
            if sub in sold:
                pors[sub] = sold[sub]
                continue
            stored = _stored_por(ledger, sub, completed)
            if stored is not None:
                pors[sub] = stored
    return replace(
        context,
        partners_of_record={**pors, **context.partners_of_record},
        transferred_in={**transferred_in, **context.transferred_in},
    )


def _stored_por(ledger: Ledger, sub: str, completed: str | None) -> str | None:
    """The ledger's partner of record of ``sub`` just before ``completed`` (None if none)."""
    if completed is None:
        return None
    try:
        moment, _ = parse_when(completed, "completedTime")
    except Unreadable:
        return None
    try:
        found = por(ledger, sub, as_of=to_us(moment) - 1)
    except NotFound:
        return None
    value = found.get("partner_of_record")
    return value if isinstance(value, str) else None
