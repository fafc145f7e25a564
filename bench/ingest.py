"""The ingest figure (issue 15 item 6): ``ledger ingest pc-audit`` of N generated audit
records beside ``ledger import`` of the very events it recorded, as the ledger's JSON, in
the same run: their ratio is the adapter's own cost (reading the pages, mapping, merging,
looking up what is on record, batching), the recording being the same.

The records are Partner Center audit records in the documented shape (``create_order`` with
one line item, as "Get a record of Partner Center activity" shows them; one in twenty a
failed operation, which the mapping skips), saved as the PartnerCenter REST API returns
them: pages of 500 (``totalCount``, ``items``), here a JSON list of pages in one file.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import orjson

PARTNER = "3b33e682-00c3-41ee-9dd2-a548adf56438"
PAGE = 500
CHAIN_FIELDS = ("position", "recorded_at", "hash", "prev_hash")


def audit_pages(records: int, seed: int = 15) -> list[dict[str, Any]]:
    """``records`` audit records for ``records // 20`` customers, in pages of ``PAGE``."""
    rng = random.Random(seed)
    customers = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(max(1, records // 20))]
    items = []
    for n in range(records):
        customer = rng.choice(customers)
        ticks = 638_133_120_000_000_000 + n * 600_000_000  # ten minutes apart, from 2023-03-01
        at = f"2023-{3 + n // 40_000 % 9:02d}-{1 + n // 1440 % 27:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00Z"
        subscription = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        items.append(
            {
                "id": f"{PARTNER}_{customer}_createorder_{ticks}",
                "partnerId": PARTNER,
                "customerId": customer,
                "customerName": f"Customer {customer[:8]}",
                "userPrincipalName": "admin@fabrikam.onmicrosoft.com",
                "applicationId": "Partner Center Web",
                "resourceType": "order",
                "resourceNewValue": orjson.dumps(
                    {"Id": str(uuid.uuid4()), "BillingCycle": "monthly"}
                ).decode(),
                "resourceOldValue": None,
                "operationType": "create_order",
                "originalCorrelationId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "operationDate": at,
                "operationStatus": "failed" if n % 20 == 19 else "succeeded",
                "customizedData": [
                    {"key": "OrderId", "value": str(uuid.UUID(int=rng.getrandbits(128), version=4))},
                    {"key": "OfferId-0", "value": "DZH318Z0BPS6:0001"},
                    {"key": "SubscriptionId-0", "value": subscription},
                    {"key": "SubscriptionName-0", "value": "Azure plan"},
                    {"key": "Quantity-0", "value": "1"},
                    {"key": "PartnerOnRecord-0", "value": None},
                ],
                "attributes": {"objectType": "AuditRecord"},
            }
        )
    return [
        {
            "totalCount": len(items[i : i + PAGE]),
            "items": items[i : i + PAGE],
            "attributes": {"objectType": "Collection"},
        }
        for i in range(0, len(items), PAGE)
    ]


def write_pages(path: Path, records: int) -> None:
    path.write_bytes(orjson.dumps(audit_pages(records)))


def as_import(export: bytes) -> bytes:
    """An export's events as ``import`` takes them: the chain's fields dropped."""
    out = []
    for line in export.splitlines():
        event = orjson.loads(line)
        for name in CHAIN_FIELDS:
            event.pop(name, None)
        out.append(orjson.dumps(event))
    return b"\n".join(out) + b"\n"
