"""Reading one saved file of a source into records: strict about shape, tolerant of what
Microsoft adds.

A file is what a partner saves with ``Invoke-RestMethod``, ``az rest``, Graph Explorer or the
PartnerCenter PowerShell module (``ConvertTo-Json -Depth 10``):

- one saved response page: Partner Center ``{"totalCount", "items": [...], "links",
  "attributes"}``, Graph ``{"@odata.context", "value": [...], "@odata.nextLink"}``;
- a JSON list of such pages (a script that appends each page);
- a JSON list of bare records, or one bare record (what ``ConvertTo-Json`` writes for the
  output of ``Get-PartnerAuditRecord`` and the like: one object when there is one);
- JSON Lines: one record (or page) a line.

Keys come in camelCase from REST and PascalCase from PowerShell; both are folded to camelCase,
nested keys too, and the PowerShell module's renames are undone (its model classes copy the
resource's ``Id`` into ``AuditRecordId``, ``CustomerId``, ``SubscriptionId``, ``PartnerId``:
Partner-Center-PowerShell ``src/PowerShell/Models/Auditing/PSAuditRecord.cs``,
``Customers/PSCustomer.cs``, ``Subscriptions/PSSubscription.cs``,
``Relationships/PSPartnerRelationship.cs``). Audit enum values written by PowerShell as
``CreateOrder`` (``-EnumsAsStrings``) or as the enum's number (Windows PowerShell 5.1) become
the REST spelling ``create_order`` (numbers from the .NET SDK's
``PartnerSdk.Models/Auditing/OperationType.cs``). Unknown keys and unknown enum values are kept
as they are: the mapping skips what it does not know, with its reason.

A file that is not such a source is ``BadInput`` (exit 2) naming the source, the file, where
in it and what was expected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from .._errors import BadInput
from ._common import camel, fold, snake
from ._model import DERIVED_ID, SOURCES, Record

# What each source's record must have (after folding), and how the error names it.
_REQUIRED: Mapping[str, tuple[tuple[str, ...], str]] = {
    "pc-audit": (
        ("operationType", "operationDate"),
        "an audit record with operationType, operationDate",
    ),
    "graph-gdap": (("id", "status"), "a delegatedAdminRelationship with id, status"),
    "pc-customers": (("id", "companyProfile|name"), "a customer with id, companyProfile"),
    "pc-subscriptions": (("id", "offerId"), "a subscription with id, offerId"),
    "pc-transfers": (("id", "status"), "a transfer with id, status"),
    "pc-resellers": (("id", "name"), "an indirect reseller relationship with id, name"),
}

# PowerShell's renames of a resource's ``Id`` (see the module docstring).
_ID_RENAMES: Mapping[str, str] = {
    "pc-audit": "auditRecordId",
    "pc-customers": "customerId",
    "pc-subscriptions": "subscriptionId",
    "pc-resellers": "partnerId",
}

_AUDIT_ENUMS = ("operationType", "operationStatus", "resourceType")

# The .NET SDK's OperationType numbers (Windows PowerShell 5.1 writes an enum as its number).
_OPERATION_NUMBERS: Mapping[int, str] = {
    2: "update_subscription",
    3: "upgrade_subscription",
    5: "add_customer",
    10: "remove_partner_customer_relationship",
    11: "create_order",
    12: "update_order",
    23: "update_transfer",
    24: "create_partner_relationship",
    40: "create_transfer",
    44: "remove_partner_relationship",
    48: "granular_admin_relationship_approved",
    49: "granular_admin_relationship_activated",
    50: "granular_admin_relationship_termination_requested",
    51: "granular_admin_relationship_terminated",
    52: "granular_admin_relationship_expired",
    53: "granular_admin_access_assignment_created",
    54: "granular_admin_access_assignment_updated",
    55: "granular_admin_access_assignment_deleted",
    56: "dap_admin_relationship_approved",
    57: "dap_admin_relationship_terminated",
    63: "granular_admin_access_assignment_activated",
    65: "granular_admin_relationship_cleaned_up",
    76: "dap_admin_relationship_terminated_by_microsoft",
    78: "create_new_commerce_migration",
}

_FORMS = "a saved response page, a JSON list of pages or records, or JSON Lines of records"


def _decode(raw: bytes) -> bytes:
    """UTF-8 without its BOM; Windows PowerShell's ``>`` writes UTF-16 with a BOM."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return raw
    return raw


def _is_page(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    keys = {camel(k) for k in obj}
    return ("items" in keys or "value" in keys) and not ({"id", "operationType"} <= keys)


def _page_items(obj: dict[str, Any], source: str, name: str, where: str) -> list[Any]:
    for key, value in obj.items():
        if camel(key) in ("items", "value"):
            if not isinstance(value, list):
                raise BadInput(source, f"{name}, {where}: expected {camel(key)} to be a list of records")
            return value
    return []  # unreachable: only pages come here


def _entries(source: str, name: str, raw: bytes) -> Iterator[tuple[str, Any]]:
    """Each raw record of the file with where it is."""
    data = _decode(raw)
    if not data.strip():
        raise BadInput(source, f"{name}: expected {_FORMS}, got an empty file")
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        yield from _lines(source, name, data)
        return
    if isinstance(whole, dict):
        if _is_page(whole):
            for i, item in enumerate(_page_items(whole, source, name, "page 1"), 1):
                yield f"page 1, item {i}", item
        else:
            yield "item 1", whole
    elif isinstance(whole, list):
        if whole and all(_is_page(p) for p in whole):
            for p, page in enumerate(whole, 1):
                for i, item in enumerate(_page_items(page, source, name, f"page {p}"), 1):
                    yield f"page {p}, item {i}", item
        else:
            for i, item in enumerate(whole, 1):
                yield f"item {i}", item
    else:
        raise BadInput(source, f"{name}: expected {_FORMS}, got a JSON {type(whole).__name__}")


def _lines(source: str, name: str, data: bytes) -> Iterator[tuple[str, Any]]:
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadInput(
                source, f"{name}, line {n}: expected {_FORMS}; this line is not JSON ({exc})"
            ) from None
        if _is_page(obj):
            for i, item in enumerate(_page_items(obj, source, name, f"line {n}"), 1):
                yield f"line {n}, item {i}", item
        else:
            yield f"line {n}", obj


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = ", ".join(list(obj)[:8]) + (", …" if len(obj) > 8 else "")
        return f"an object with keys {keys}" if obj else "an empty object"
    return f"a JSON {type(obj).__name__}" if obj is not None else "null"


def _record(source: str, name: str, where: str, obj: Any) -> Record:
    required, expected = _REQUIRED[source]
    data = fold(obj) if isinstance(obj, dict) else None
    if data is not None:
        renamed = _ID_RENAMES.get(source)
        if renamed and "id" not in data and renamed in data:
            data["id"] = data.pop(renamed)
        if source == "pc-audit":
            for key in _AUDIT_ENUMS:
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = snake(value)
                elif key == "operationType" and isinstance(value, int) and not isinstance(value, bool):
                    data[key] = _OPERATION_NUMBERS.get(value, str(value))
    if data is None or not all(
        any(_present(data.get(k)) for k in alternatives.split("|")) for alternatives in required
    ):
        raise BadInput(source, f"{name}, {where}: expected {expected}, got {_describe(obj)}")
    if source == "pc-audit" and not _present(data.get("id")):
        data["id"] = derived_audit_id(data)
    source_id = data["id"]
    if not isinstance(source_id, str):
        raise BadInput(source, f"{name}, {where}: expected {expected}, with id a string")
    return Record(source, source_id, data, name, where)


def derived_audit_id(data: Mapping[str, Any]) -> str:
    """An id for an audit record saved without one (the "Get a record of Partner Center
    activity" page's response example has none; later ones carry ``id``): ``derived-`` and a
    digest of the record as read, so the same record in two files (or two overlapping exports)
    gets the same id, and a record's note says it was derived."""
    digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{DERIVED_ID}{digest[:32]}"


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def read_source(source: str, name: str, raw: bytes) -> list[Record]:
    """Every record of one saved file of ``source`` (see the module docstring); bad input
    naming the file, where in it and what was expected when it is not such a file."""
    if source not in SOURCES:
        raise BadInput("source", f"{source!r} is not one of {', '.join(SOURCES)}")
    return [_record(source, name, where, obj) for where, obj in _entries(source, name, raw)]
